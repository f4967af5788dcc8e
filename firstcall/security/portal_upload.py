"""A client uploads a suspicious email (.eml) in the portal: it becomes the same verification
request as forwarding it to verify@ — a message from the signed-in contact to the verify address
with the original attached (message/rfc822), through the email channel and the one intake
pipeline. Unique by the form's token: a double submit opens one verification."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import SMTP
from email.policy import default as default_policy
from email.utils import formataddr, formatdate

from django.conf import settings

from firstcall.clients.models import Contact
from firstcall.intake.channels.email import ingest_email
from firstcall.intake.pipeline import IntakeOutcome
from firstcall.security.intake import verify_addresses


class NotAnEmail(ValueError):
    """The uploaded file is not an email message (the reason says why)."""


def check_uploaded_email(content: bytes) -> str:
    """The uploaded original's subject; NotAnEmail when the file is not an email (no From or
    Subject header among the first lines, or empty)."""
    if not content.strip():
        raise NotAnEmail("The file is empty.")
    headers = BytesHeaderParser(policy=default_policy).parsebytes(content[: 64 * 1024])
    if not headers.get("From") and not headers.get("Subject"):
        raise NotAnEmail(
            "This file is not an email message: save the suspicious email as a file (.eml; in Outlook "
            '"Save as", in Gmail "Download message") and upload that.'
        )
    return str(headers.get("Subject", "")).strip()


def verify_uploaded_email(
    contact: Contact, *, token: uuid.UUID, original: bytes, note: str = ""
) -> IntakeOutcome:
    """Ask for a verification of ``original`` (the raw suspicious email) as ``contact``."""
    subject = check_uploaded_email(original)
    verify_address = sorted(verify_addresses())[0]
    head = EmailMessage(policy=SMTP)
    head["From"] = formataddr((contact.name, contact.email))
    head["To"] = verify_address
    head["Subject"] = f"Fwd: {subject}" if subject else "Fwd: suspicious email"
    head["Date"] = formatdate(localtime=False)
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "firstcall.localhost"
    head["Message-ID"] = f"<portal-verify-{token}@{domain}>"
    head["MIME-Version"] = "1.0"
    boundary = f"=_firstcall_{token.hex}"
    head["Content-Type"] = f'multipart/mixed; boundary="{boundary}"'
    # The headers alone (the generator would write a multipart body of its own after them).
    header_bytes = b"".join(SMTP.fold_binary(name, value) for name, value in head.items()) + b"\r\n"
    text = (note.strip() + "\n\n" if note.strip() else "") + "Uploaded in the client portal."
    # The original goes in byte for byte (message/rfc822, not re-encoded), so its DKIM
    # signature can still be checked.
    raw = b"".join(
        [
            header_bytes,
            f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n".encode(),
            text.encode(),
            f"\r\n--{boundary}\r\nContent-Type: message/rfc822\r\n"
            'Content-Disposition: attachment; filename="suspicious.eml"\r\n\r\n'.encode(),
            original,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    return ingest_email(raw, mail_from=contact.email, rcpt_tos=[verify_address], source="portal upload")
