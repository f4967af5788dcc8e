"""Attachments: what clients may upload in the portal (no programs or scripts, by name, declared
type, first bytes or inside a zip), email attachments kept as evidence whatever they are, and
every download path served only to those allowed, always as a download (never shown inline).
"""

from __future__ import annotations

import io
import uuid
import zipfile
from email.message import EmailMessage
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as HttpClient

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.intake.channels.email import ingest_email
from firstcall.tickets.actions import Actor, add_message
from firstcall.tickets.models import Attachment, Channel, MessageKind, Ticket
from tests.portal.conftest import browser_signed_in_as, make_client_admin, request_from
from tests.portal.test_portal_access import attach

pytestmark = pytest.mark.django_db

# A minimal Windows program: 'MZ', and at offset 0x3C the offset of the 'PE' header.
WINDOWS_PROGRAM = b"MZ" + b"\x00" * 0x3A + (0x40).to_bytes(4, "little") + b"PE\x00\x00" + b"\x00" * 64
REFUSAL = "We do not accept programs or scripts in the portal"


def zipped(**files: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def reply_with(browser: HttpClient, ticket: Ticket, upload: SimpleUploadedFile) -> Any:
    return browser.post(
        f"/portal/tickets/{ticket.number}/reply/",
        {"body": "Here is the file.", "token": str(uuid.uuid4()), "attachments": [upload]},
    )


@pytest.mark.parametrize(
    ("name", "content_type", "content", "reason"),
    [
        ("setup.exe", "application/octet-stream", b"anything", "setup.exe is a program or script"),
        ("invoice.pdf.exe", "application/pdf", b"%PDF", "invoice.pdf.exe is a program or script (disguised"),
        ("fix.ps1", "text/plain", b"Remove-Item C:\\", "fix.ps1 is a program or script"),
        ("tool.bin", "application/x-msdownload", b"data", "tool.bin is a program or script"),
        ("invoice.pdf", "application/pdf", WINDOWS_PROGRAM, "invoice.pdf is a Windows program"),
        ("notes.txt", "text/plain", b"#!/bin/sh\nrm -rf /\n", "notes.txt is a script"),
        ("photo.jpg", "image/jpeg", b"\x7fELF\x02\x01\x01", "photo.jpg is a Linux program"),
        (
            "logs.zip",
            "application/zip",
            zipped(**{"logs.txt": b"ok", "payload.exe": b"x"}),
            "logs.zip holds payload.exe",
        ),
    ],
)
def test_programs_and_scripts_are_refused_in_the_portal_with_the_reason(
    dana: Contact, name: str, content_type: str, content: bytes, reason: str
) -> None:
    ticket = request_from(dana, "Printer jam")

    response = reply_with(browser_signed_in_as(dana), ticket, SimpleUploadedFile(name, content, content_type))

    assert response.status_code == 400
    page = response.content.decode()
    assert reason in page and REFUSAL in page
    assert not Attachment.objects.exists()
    assert ticket.messages.filter(kind=MessageKind.INBOUND).count() == 1


@pytest.mark.parametrize(
    ("name", "content_type", "content"),
    [
        ("error.png", "image/png", b"\x89PNG\r\n\x1a\nfake"),
        ("scan.pdf", "application/pdf", b"%PDF-1.7 ..."),
        ("memo.txt", "text/plain", b"MZ Corp asked about the invoice."),  # 'MZ' alone is no program
        ("logs.zip", "application/zip", zipped(**{"event.log": b"disk full", "config.json": b"{}"})),
        ("budget.xlsm", "application/vnd.ms-excel.sheet.macroEnabled.12", b"PK\x03\x04"),
    ],
)
def test_ordinary_files_are_kept(dana: Contact, name: str, content_type: str, content: bytes) -> None:
    ticket = request_from(dana, "Printer jam")

    response = reply_with(browser_signed_in_as(dana), ticket, SimpleUploadedFile(name, content, content_type))

    assert response.status_code == 302, response.content.decode()[-500:]
    stored = Attachment.objects.get()
    assert stored.filename == name and stored.file.read() == content


def test_email_attachments_are_kept_as_evidence_and_only_ever_downloaded(
    dana: Contact, bob: User, settings: Any
) -> None:
    """Mail is evidence (a forwarded phishing attempt): whatever it carries is kept, and served
    to staff only as a download they must choose to open."""
    message = EmailMessage()
    message["From"] = "Dana Reyes <dana@brightsmile.example>"
    message["To"] = "support@msp.example"
    message["Subject"] = "Is this invoice real?"
    message["Message-ID"] = "<evidence-1@brightsmile.example>"
    message.set_content("It came with a program.")
    message.add_attachment(
        WINDOWS_PROGRAM, maintype="application", subtype="octet-stream", filename="invoice.exe"
    )
    message.add_attachment(
        b"<script>alert(1)</script>", maintype="text", subtype="html", filename="login.html"
    )
    outcome = ingest_email(message.as_bytes(), rcpt_tos=["support@msp.example"])
    assert outcome.ticket_id is not None, outcome.reason
    kept = {a.filename: a for a in Attachment.objects.all()}
    assert set(kept) == {"invoice.exe", "login.html"}
    # Stored under the data folder, by content hash, outside any URL the site serves.
    assert str(kept["invoice.exe"].file.path).startswith(str(settings.MEDIA_ROOT))
    assert HttpClient().get(f"{settings.MEDIA_URL}{kept['invoice.exe'].file.name}").status_code in (302, 404)

    staff = HttpClient()
    staff.force_login(bob)
    for attachment in kept.values():
        response = staff.get(f"/attachments/{attachment.pk}/")
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment;")
        assert response["Content-Type"] == "application/octet-stream"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_console_downloads_are_for_signed_in_staff_only(dana: Contact, bob: User) -> None:
    ticket = request_from(dana, "Printer jam")
    attachment = attach(ticket.messages.get(kind=MessageKind.INBOUND), "error.txt", b"E42")

    signed_out = HttpClient().get(f"/attachments/{attachment.pk}/")
    assert signed_out.status_code == 302 and signed_out["Location"].startswith("/login/")
    # A client signed in to the portal is no staff member.
    as_client = browser_signed_in_as(dana).get(f"/attachments/{attachment.pk}/")
    assert as_client.status_code == 302 and as_client["Location"].startswith("/login/")
    staff = HttpClient()
    staff.force_login(bob)
    assert staff.get(f"/attachments/{attachment.pk}/").getvalue() == b"E42"


def test_portal_downloads_are_for_contacts_who_see_the_ticket_and_public_messages_only(
    dana: Contact, carl: Contact, priya: Contact, bob: User
) -> None:
    ticket = request_from(dana, "Printer jam")
    public = attach(ticket.messages.get(kind=MessageKind.INBOUND), "error.txt", b"E42")
    note = add_message(
        ticket, kind=MessageKind.NOTE, channel=Channel.CONSOLE, body_text="x", actor=Actor(user=bob)
    )
    internal = attach(note, "admin-password.txt", b"secret")

    def status(browser: HttpClient, attachment: Attachment) -> int:
        return browser.get(f"/portal/files/{attachment.pk}/").status_code

    as_dana, as_carl, as_priya = (browser_signed_in_as(c) for c in (dana, carl, priya))
    assert status(as_dana, public) == 200  # the requester
    assert status(as_carl, public) == 404  # same client, not on the ticket
    assert status(as_priya, public) == 404  # another client
    assert status(as_dana, internal) == 404  # an internal note's file
    make_client_admin(carl)
    assert status(as_carl, public) == 200  # the client's admin sees every ticket of it
    assert status(as_carl, internal) == 404  # ... but never staff notes
    signed_out = HttpClient().get(f"/portal/files/{public.pk}/")
    assert signed_out.status_code == 302 and signed_out["Location"].startswith("/portal/sign-in/")
    response = as_dana.get(f"/portal/files/{public.pk}/")
    assert response["Content-Disposition"] == 'attachment; filename="error.txt"'
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Cache-Control"] == "private, no-store"
