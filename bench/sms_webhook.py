"""SMS webhook throughput and acknowledgment latency with ``firstcall serve`` running for real
on SQLite: 8 concurrent clients post signed Twilio-format inbound texts (each from its own number,
so each opens a ticket) for at most 30 seconds, with the Twilio provider configured (its API a
local stand-in). Reports requests/second and the p99 from the webhook request to the
acknowledgment handed to the provider: by default the acknowledgment is the webhook's answer
(TwiML <Message>, checked to name the ticket), so that moment is the answer's arrival; with
``BENCH_SMS_ACK_IN_RESPONSE=0`` (FIRSTCALL_SMS_ACK_IN_RESPONSE off) the worker sends it through
the API and the moment is its arrival at the stand-in (matched by the To number).

The figures of record are for SQLite. For comparison, ``BENCH_POSTGRES_URL=postgres://user@host:5432
BENCH_REDIS_URL=redis://host:6379/0 python -m bench sms`` runs the same load on a fresh PostgreSQL
database (created and dropped by the benchmark) with the task queue on Redis, and
``BENCH_SMS_RATE=60 python -m bench sms`` paces the clients to 60 requests/second in total, to
see the latency when the server is not saturated."""

from __future__ import annotations

import http.client
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

from bench.common import cpu_seconds, free_port, fresh_environment, fresh_postgres, percentile, serving
from tests.twilio_standin import TwilioStandIn, twilio_signature

CLIENTS = 8
SECONDS = 30
MAX_REQUESTS = 20_000  # bounded by count as well as by time
TARGET_RPS = 200
TARGET_P99_SECONDS = 1.0
ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-auth-token"
OUR_NUMBER = "+15550100000"
PATH = "/hooks/twilio/sms/"


def sender_number(n: int) -> str:
    return f"+1555{n:07d}"


def request_params(n: int) -> dict[str, str]:
    return {
        "MessageSid": f"SM{n:032x}",
        "AccountSid": ACCOUNT_SID,
        "From": sender_number(n),
        "To": OUR_NUMBER,
        "Body": f"Nobody can print at the front desk since 8:05 (#{n})",
        "NumMedia": "0",
        "NumSegments": "1",
    }


def main() -> tuple[float, float]:
    postgres_server = os.environ.get("BENCH_POSTGRES_URL", "")
    database: dict[str, str] = {}
    drop_database: Callable[[], None] = lambda: None  # noqa: E731
    if postgres_server:
        database["DATABASE_URL"], drop_database = fresh_postgres(postgres_server, "bench_sms")
        if os.environ.get("BENCH_REDIS_URL"):
            database["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
            database["FIRSTCALL_HUEY_NAME"] = f"bench-sms-{os.getpid()}"
    backend = "PostgreSQL" + (" + Redis" if "REDIS_URL" in database else "") if database else "SQLite"
    standin = TwilioStandIn(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN).start()
    web_port = free_port()
    public_url = f"http://127.0.0.1:{web_port}"
    env = fresh_environment(
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_API_BASE_URL=standin.base_url,
        FIRSTCALL_SMS_PROVIDER="twilio",
        FIRSTCALL_SMS_FROM=OUR_NUMBER,
        FIRSTCALL_PUBLIC_URL=public_url,
        FIRSTCALL_SMS_ACK_IN_RESPONSE=os.environ.get("BENCH_SMS_ACK_IN_RESPONSE", "1"),
        LOG_LEVEL="WARNING",
        **database,
    )
    url = public_url + PATH
    sent_at: dict[str, float] = {}
    # Requests answered with their acknowledgment (TwiML): when the answer arrived.
    answered_at: dict[str, float] = {}
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(MAX_REQUESTS))
    try:
        with serving(env, web_port) as served:
            # Sign every request before the clock starts: signing is the client's cost, not ours.
            bodies = {}
            for n in range(MAX_REQUESTS):
                params = request_params(n)
                bodies[n] = (urlencode(params), twilio_signature(AUTH_TOKEN, url, params))
            rate = float(os.environ.get("BENCH_SMS_RATE", "0"))  # 0: as fast as the server answers
            has_proc = Path("/proc").exists()
            cpu_before = cpu_seconds(served.process.pid) if has_proc else {}
            start = time.monotonic()
            deadline = start + SECONDS

            def client() -> None:
                connection = http.client.HTTPConnection("127.0.0.1", web_port, timeout=30)
                while time.monotonic() < deadline:
                    with lock:
                        n = next(counter, None)
                    if n is None:
                        return
                    body, signature = bodies[n]
                    if rate and (delay := start + n / rate - time.monotonic()) > 0:
                        time.sleep(delay)  # request n leaves at start + n / rate
                    began = time.monotonic()
                    connection.request(
                        "POST",
                        PATH,
                        body,
                        {
                            "Content-Type": "application/x-www-form-urlencoded",
                            "X-Twilio-Signature": signature,
                        },
                    )
                    response = connection.getresponse()
                    answer = response.read()
                    arrived = time.monotonic()
                    with lock:
                        statuses[response.status] = statuses.get(response.status, 0) + 1
                        if response.status == 200:
                            sent_at[sender_number(n)] = began
                            if b"<Message" in answer and b"we have your request, ticket T-" in answer:
                                answered_at[sender_number(n)] = arrived
                connection.close()

            threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            sending_took = time.monotonic() - start
            cpu_while_sending = cpu_seconds(served.process.pid) if has_proc else {}
            # The worker may still be sending: wait until every acknowledgment arrived or none comes.
            last_count, quiet_since = -1, time.monotonic()
            while time.monotonic() - quiet_since < 10:
                count = len(standin.sent)
                if count >= len(sent_at) - len(answered_at):
                    break
                if count != last_count:
                    last_count, quiet_since = count, time.monotonic()
                time.sleep(0.2)
            cpu = cpu_seconds(served.process.pid) if has_proc else {}
            bench_cpu = time.process_time()
            log_path = served.log_path
    finally:
        standin.stop()
        drop_database()

    through_api = len(standin.sent)
    arrived_at = {text.params["To"]: text.received_at for text in standin.sent}
    arrived_at.update(answered_at)
    latencies = [arrived_at[number] - began for number, began in sent_at.items() if number in arrived_at]
    requests = sum(statuses.values())
    rps = requests / sending_took
    if not latencies:
        raise RuntimeError(f"no acknowledgment arrived; see {log_path}")
    missing = len(sent_at) - len(latencies)
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    paced = f", paced to {rate:.0f}/s" if rate else ""
    print(
        f"SMS webhook, firstcall serve on {backend}, {CLIENTS} clients{paced}, "
        f"{requests} signed requests in {sending_took:.1f} s:"
    )
    print(f"  {rps:.0f} requests/s; HTTP statuses {dict(sorted(statuses.items()))}")
    print(
        f"  acknowledgments: {len(answered_at)} in the webhook's answer (TwiML), "
        f"{through_api} through the API (the stand-in)"
    )
    print(
        f"  webhook → acknowledgment handed to the provider: p50 {p50 * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )
    if missing:
        print(f"  {missing} acknowledgments did not arrive")
    if cpu:
        used = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in sorted(cpu.items()))
        print(
            f"  CPU time used: {used}; this benchmark (clients + Twilio stand-in) {bench_cpu:.0f} s; "
            f"{os.cpu_count()} CPUs"
        )
    if cpu_while_sending:
        # The web processes' CPU per request while the clients sent: steadier from run to run
        # than requests/s, which moves with whatever else the machine runs.
        web_cpu = cpu_while_sending.get("web", 0.0) - cpu_before.get("web", 0.0)
        print(f"  web processes' CPU per request: {web_cpu / max(requests, 1) * 1000:.2f} ms")
    print(f"  (firstcall serve's output: {log_path})")
    rps_verdict = "meets" if rps >= TARGET_RPS and statuses.keys() == {200} else "MISSES"
    p99_verdict = "meets" if p99 <= TARGET_P99_SECONDS and not missing else "MISSES"
    if rate:
        print(f"  => {rps:.0f} requests/s (paced: the throughput target is measured unpaced)")
    else:
        print(f"  => {rps:.0f} requests/s ({rps_verdict} the target of ≥ {TARGET_RPS})")
    print(f"  => p99 {p99:.2f} s ({p99_verdict} the target of ≤ {TARGET_P99_SECONDS:.0f} s)")
    return rps, p99


if __name__ == "__main__":
    main()
