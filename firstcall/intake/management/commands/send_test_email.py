"""``firstcall send-test-email``: email the running SMTP listener, as a client would."""

from __future__ import annotations

import smtplib
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from firstcall.cli import connect_host
from firstcall.intake.addresses import support_address

DEFAULT_SENDER = "Dana Reyes <dana@brightsmile.example>"
DEFAULT_SUBJECT = "Front desk printer is offline"
DEFAULT_BODY = (
    "Hi,\n\nThe printer at the front desk says 'offline' and nobody can print invoices.\n"
    "We tried turning it off and on again.\n\nThanks,\nDana\n"
)


def default_recipient() -> str:
    address = support_address()
    if address is None:
        raise CommandError("FIRSTCALL_ACCEPTED_ADDRESSES is empty: the listener accepts no address.")
    return address


class Command(BaseCommand):
    help = "Send a sample support request to the SMTP listener (no mail tools needed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--to", help="recipient (default: the first accepted address)")
        parser.add_argument("--from", dest="sender", default=DEFAULT_SENDER, help="sender, 'Name <address>'")
        parser.add_argument("--subject", default=DEFAULT_SUBJECT)
        parser.add_argument("--body", default=DEFAULT_BODY)
        parser.add_argument("--host", default=connect_host(settings.FIRSTCALL_SMTP_HOST))
        parser.add_argument("--port", type=int, default=settings.FIRSTCALL_SMTP_PORT)

    def handle(self, *args: Any, **options: Any) -> None:
        to = options["to"] or default_recipient()
        sender_address = parseaddr(options["sender"])[1]
        if "@" not in sender_address:
            raise CommandError(f"--from {options['sender']!r} has no email address.")
        message = EmailMessage()
        message["From"] = options["sender"]
        message["To"] = to
        message["Subject"] = options["subject"]
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=sender_address.rpartition("@")[2])
        message.set_content(options["body"])
        host, port = options["host"], options["port"]
        try:
            with smtplib.SMTP(host, port, timeout=30) as smtp:
                smtp.ehlo()
                code, reply = smtp.mail(sender_address)
                if code != 250:
                    raise CommandError(f"The listener refused the sender: {code} {reply.decode()}")
                code, reply = smtp.rcpt(to)
                if code not in (250, 251):
                    raise CommandError(f"The listener refused {to}: {code} {reply.decode()}")
                code, reply = smtp.data(message.as_bytes(policy=policy.SMTP))
        except ConnectionRefusedError:
            raise CommandError(
                f"Nothing is listening for SMTP on {host}:{port}. Start `firstcall serve` "
                "(or `firstcall smtp`) first, or pass --host/--port."
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            raise CommandError(f"Could not send to {host}:{port}: {error}") from None
        if code != 250:
            raise CommandError(f"The listener did not take the message: {code} {reply.decode()}")
        self.stdout.write(f"Sent {message['Message-ID']} from {sender_address} to {to} via {host}:{port}.")
        self.stdout.write(f"The listener answered: {code} {reply.decode()}")
        if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend"):
            where = f"written as a file to {settings.EMAIL_FILE_PATH} (set EMAIL_HOST to send real mail)"
        else:
            where = f"sent through {settings.EMAIL_HOST or 'the configured backend'}"
        self.stdout.write(f"The worker acknowledges it to {sender_address} within seconds ({where}).")
        self.stdout.write("Reload the console to see the new ticket.")
