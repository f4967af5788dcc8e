"""``firstcall poll_mailboxes``: poll the IMAP mailboxes (the worker does it every minute too)."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from firstcall.intake.mailboxes import PollReport, due_mailbox_ids, poll_mailbox
from firstcall.intake.models import Mailbox


class Command(BaseCommand):
    help = (
        "Import new mail from the IMAP mailboxes configured in the admin. With --once, poll every "
        "enabled mailbox now and exit; without it, keep polling each when it is due until stopped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="poll every enabled mailbox once, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            mailbox_ids = list(
                Mailbox.objects.filter(enabled=True).order_by("pk").values_list("pk", flat=True)
            )
            if not mailbox_ids:
                self.stdout.write("No enabled mailbox: add one in the admin (Intake › Mailboxes).")
            for mailbox_id in mailbox_ids:
                self._show(mailbox_id, poll_mailbox(mailbox_id, due_only=False))
            return
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        self.stdout.write("Polling mailboxes when due; Ctrl-C stops.")
        self.stdout.flush()
        while not stop.is_set():
            for mailbox_id in due_mailbox_ids():
                if stop.is_set():
                    break
                report = poll_mailbox(mailbox_id)
                if report is not None:
                    self._show(mailbox_id, report)
            stop.wait(5)
        self.stdout.write("Stopped.")

    def _show(self, mailbox_id: int, report: PollReport | None) -> None:
        name = Mailbox.objects.filter(pk=mailbox_id).values_list("name", flat=True).first() or mailbox_id
        if report is None:
            self.stdout.write(f"{name}: being polled by another worker, skipped")
        elif report.errors:
            self.stdout.write(self.style.WARNING(f"{name}: {report}"))
        else:
            self.stdout.write(f"{name}: {report}")
        self.stdout.flush()
