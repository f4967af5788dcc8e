"""A client uploads the suspicious email in the portal: the same verification as forwarding it
to verify@ — one P2 verification ticket for their client, analysed, with the number we will call;
a double submit opens one; a file that is not an email is refused with a clear message."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from firstcall.clients.models import Contact
from firstcall.security.models import EmailVerification
from firstcall.tickets.models import Ticket
from tests.portal.conftest import browser_signed_in_as
from tests.security.corpus import authentication_results, suspicious_email
from tests.security.test_verification import BANK_CHANGE

pytestmark = pytest.mark.django_db


def the_email() -> bytes:
    return suspicious_email(
        sender="Accounts Receivable <accounts@vendorr.example>",
        subject="Updated bank details",
        text=BANK_CHANGE,
        auth=authentication_results(domain="vendorr.example"),
    )


def upload(browser: Any, content: bytes, token: str, note: str = "") -> Any:
    return browser.post(
        "/portal/verify/",
        {
            "original": SimpleUploadedFile("bank.eml", content, content_type="message/rfc822"),
            "note": note,
            "token": token,
        },
    )


def test_an_uploaded_email_opens_one_verification_with_the_number_we_call(
    dana: Contact, vince: Contact, outbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    as_dana = browser_signed_in_as(dana)
    page = as_dana.get("/portal/verify/").content.decode()
    assert "Is this email real?" in page and "on a number we already have" in page
    token = str(uuid.uuid4())
    with django_capture_on_commit_callbacks(execute=True):
        first = upload(as_dana, the_email(), token, note="Our vendor never changes banks.")
        again = upload(as_dana, the_email(), token)
    ticket = Ticket.objects.get()
    assert first.status_code == again.status_code == 302
    assert first["Location"] == f"/portal/tickets/{ticket.number}/"
    assert ticket.subject == "Phishing check: Updated bank details"
    assert (ticket.requester, ticket.client_id) == (dana, dana.client_id)
    verification = EmailVerification.objects.get(ticket=ticket)
    assert verification.verdict == "likely_fraud" and verification.original_how == "attachment"
    assert (verification.callback_contact, verification.callback_number) == (vince, "+13125550199")
    assert any("we will call Vince Albright on +13125550199" in mail.body for mail in outbox)
    # The client's note is on the request, as they wrote it.
    assert ticket.messages.filter(body_text__contains="Our vendor never changes banks.").exists()


def test_a_file_that_is_not_an_email_is_refused(dana: Contact) -> None:
    as_dana = browser_signed_in_as(dana)
    response = upload(as_dana, b"%PDF-1.7 not an email at all", str(uuid.uuid4()))
    assert response.status_code == 400
    assert "This file is not an email message" in response.content.decode()
    assert not Ticket.objects.exists()
