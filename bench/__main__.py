"""Benchmarks: ``python -m bench`` runs them all and prints the figures.

- import: ``firstcall import-eml`` on a generated corpus of 2,000 messages, on SQLite
  (target ≥ 500 messages/second).
- ack latency: ``firstcall serve`` running for real; mail sent to its SMTP listener at
  20 messages/second for 30 seconds; time from the listener's "250 OK" to the acknowledgment
  arriving at a local SMTP sink (target p99 ≤ 2 s).
- sms: ``firstcall serve`` running for real; 8 clients post signed Twilio-format SMS webhooks for
  30 seconds (target ≥ 200 requests/second) and the time from a webhook request to its SMS
  acknowledgment reaching a local stand-in for Twilio's API (target p99 ≤ 1 s).

Each run uses a fresh data folder. ``python -m bench import``, ``ack`` or ``sms`` runs one.
"""

from __future__ import annotations

import sys

from bench import ack_latency, import_eml, sms_webhook


def main(argv: list[str]) -> int:
    which = argv[0] if argv else "all"
    if which not in {"all", "import", "ack", "sms"}:
        print(f"usage: python -m bench [all|import|ack|sms]; unknown {which!r}", file=sys.stderr)
        return 2
    if which in {"all", "import"}:
        import_eml.main()
    if which in {"all", "ack"}:
        ack_latency.main()
    if which in {"all", "sms"}:
        sms_webhook.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
