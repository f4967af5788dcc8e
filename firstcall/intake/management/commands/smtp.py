"""``firstcall smtp``: run the inbound SMTP listener until SIGINT or SIGTERM."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from firstcall.intake.addresses import accepted_addresses_text
from firstcall.intake.channels.smtp_listener import SmtpListener, run_smtp_listener


class Command(BaseCommand):
    help = "Receive email for the accepted addresses over SMTP and turn it into tickets."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host", default=settings.FIRSTCALL_SMTP_HOST, help="address to listen on (FIRSTCALL_SMTP_HOST)"
        )
        parser.add_argument(
            "--port", type=int, default=settings.FIRSTCALL_SMTP_PORT, help="port (FIRSTCALL_SMTP_PORT)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        def ready(listener: SmtpListener) -> None:
            self.stdout.write(
                f"SMTP listener on {listener.host}:{listener.port}, "
                f"accepting mail for {accepted_addresses_text()}"
            )
            self.stdout.flush()

        try:
            run_smtp_listener(options["host"], options["port"], on_ready=ready)
        except OSError as error:
            raise CommandError(str(error)) from None
        self.stdout.write("SMTP listener stopped.")
