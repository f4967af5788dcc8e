"""Benchmarks: ``python -m bench`` runs them all and prints the figures.

- import: ``firstcall import-eml`` on a generated corpus of 2,000 messages, on SQLite
  (target ≥ 500 messages/second).
- ack latency: ``firstcall serve`` running for real; mail sent to its SMTP listener at
  20 messages/second for 30 seconds; time from the listener's "250 OK" to the acknowledgment
  arriving at a local SMTP sink (target p99 ≤ 2 s).
- sms: ``firstcall serve`` running for real; 8 clients post signed Twilio-format SMS webhooks for
  30 seconds (target ≥ 200 requests/second) and the time from a webhook request to its SMS
  acknowledgment reaching a local stand-in for Twilio's API (target p99 ≤ 1 s).
- triage: the triage engine on 5,000 generated tickets (target ≤ 5 ms per ticket), and the whole
  step on SQLite for information.
- sweeps: on PostgreSQL with 100,000 open tickets (BENCH_TICKETS), the SLA, escalation, triage
  review and outbox sweeps with nothing due (target ≤ 50 ms, through an index), triage per ticket
  against the database, and 1,000 escalation deadlines paged by the real worker, at one instant
  and spread over one minute (target p99 ≤ 5 s from each deadline to the provider); about 12
  minutes. Needs a PostgreSQL server
  (BENCH_POSTGRES_URL) and Redis (BENCH_REDIS_URL); ``python -m bench`` skips it without one.
- pages: on PostgreSQL with 100,000 tickets (10,000 open), the staff console's queue and ticket
  page, server time p50/p95 (targets p95 ≤ 150 ms and ≤ 100 ms) and SQL queries per page.

Each run uses a fresh data folder (and sweeps a fresh PostgreSQL database).
``python -m bench import``, ``ack``, ``sms``, ``triage``, ``sweeps`` or ``pages`` runs one.
"""

from __future__ import annotations

import os
import subprocess
import sys

from bench import ack_latency, console_pages, import_eml, sla_escalation, sms_webhook, triage

CHOICES = ("all", "import", "ack", "sms", "triage", "sweeps", "pages")


def main(argv: list[str]) -> int:
    which = argv[0] if argv else "all"
    if which not in CHOICES:
        print(f"usage: python -m bench [{'|'.join(CHOICES)}]; unknown {which!r}", file=sys.stderr)
        return 2
    if which in {"all", "import"}:
        import_eml.main()
    if which in {"all", "ack"}:
        ack_latency.main()
    if which in {"all", "sms"}:
        sms_webhook.main()
    if which in {"all", "triage"}:
        triage.main()
    if which == "sweeps":
        sla_escalation.main()
    if which == "pages":
        console_pages.main()
    if which == "all":
        server = os.environ.get("BENCH_POSTGRES_URL", sla_escalation.DEFAULT_POSTGRES_URL)
        if not sla_escalation.postgres_reachable(server):
            print(f"sweeps, pages: skipped, no PostgreSQL server at {server} (set BENCH_POSTGRES_URL)")
            return 0
        # Its own process: triage above has set Django up on SQLite in this one.
        subprocess.run([sys.executable, "-m", "bench", "sweeps"], check=False)
        subprocess.run([sys.executable, "-m", "bench", "pages"], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
