"""Time from the SMTP listener's "250 OK" to the acknowledgment arriving at a local sink, with
``firstcall serve`` running for real (web, worker, listener) on SQLite, at 20 messages/second
for 30 seconds."""

from __future__ import annotations

import re
import smtplib
import threading
import time
from email.message import EmailMessage
from email.utils import make_msgid

from bench.common import fresh_environment, percentile, serving
from tests.mailsink import MailSink

RATE_PER_SECOND = 20
SECONDS = 30
TARGET_P99_SECONDS = 2.0


def request(n: int) -> tuple[str, bytes]:
    msg = EmailMessage()
    message_id = make_msgid(idstring=f"ack{n}", domain="bench.example")
    msg["From"] = f"Dana Reyes <dana.reyes+{n % 7}@brightsmile.example>"
    msg["To"] = "support@msp.example"
    msg["Subject"] = f"Cannot open the practice software (#{n})"
    msg["Message-ID"] = message_id
    msg.set_content("Nobody at the front desk can open patient records since 8:05.")
    return message_id.strip("<>"), msg.as_bytes()


def main() -> tuple[float, float]:
    sink = MailSink().start()
    env = fresh_environment(
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(sink.port),
        # Acknowledge every message: this benchmark is about latency, not loop protection.
        FIRSTCALL_ACK_RATE_LIMIT_PER_HOUR="100000",
        LOG_LEVEL="WARNING",
    )
    sent_at: dict[str, float] = {}
    arrived_at: dict[str, float] = {}
    try:
        with serving(env) as served:

            def watch() -> None:
                seen = 0
                while len(arrived_at) < RATE_PER_SECOND * SECONDS:
                    try:
                        messages = sink.wait_for_count(seen + 1, timeout=SECONDS + 30)
                    except TimeoutError:
                        return
                    now = time.monotonic()
                    for message in messages[seen:]:
                        replied_to = re.sub(r"[<>\s]", "", message.email["In-Reply-To"] or "")
                        arrived_at.setdefault(replied_to, now)
                    seen = len(messages)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            total = RATE_PER_SECOND * SECONDS
            start = time.monotonic()
            with smtplib.SMTP("127.0.0.1", served.smtp_port, timeout=30) as smtp:
                for n in range(total):
                    # Keep the pace: message n leaves at start + n / rate.
                    delay = start + n / RATE_PER_SECOND - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    message_id, raw = request(n)
                    smtp.sendmail(f"dana.reyes+{n % 7}@brightsmile.example", ["support@msp.example"], raw)
                    sent_at[message_id] = time.monotonic()  # sendmail returns on the 250 reply
            sending_took = time.monotonic() - start
            watcher.join(timeout=60)
            log_path = served.log_path
    finally:
        sink.stop()

    latencies = [arrived_at[mid] - sent for mid, sent in sent_at.items() if mid in arrived_at]
    if not latencies:
        raise RuntimeError(f"no acknowledgment arrived; see {log_path}")
    missing = len(sent_at) - len(latencies)
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    print(
        f"acknowledgment latency, firstcall serve on SQLite, {len(sent_at)} emails in {sending_took:.1f} s:"
    )
    print(f"  p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
    if missing:
        print(f"  {missing} acknowledgments did not arrive")
    verdict = "meets" if p99 <= TARGET_P99_SECONDS and not missing else "MISSES"
    print(f"  (firstcall serve's output: {log_path})")
    print(f"  => p99 {p99:.2f} s ({verdict} the target of ≤ {TARGET_P99_SECONDS:.0f} s)")
    return p50, p99


if __name__ == "__main__":
    main()
