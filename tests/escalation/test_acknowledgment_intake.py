"""Acknowledgments arriving through intake: a staff "ACK" text to our number and a staff reply to
the page email stop the escalation, are kept (raw, as not-a-ticket-entry) and never open a
ticket or make the staff member a client contact. The same words from a client are a message."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core import mail

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.escalation.models import Escalation
from firstcall.intake.channels.email import ingest_email
from firstcall.intake.channels.sms import receive_sms
from firstcall.intake.models import InboundMessage, InboundStatus
from firstcall.tickets.models import MessageKind, Ticket
from tests.escalation.conftest import at_minute

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]
OUR_NUMBER = "+15550100000"


def text(sender: str, body: str, sid: str) -> bytes:
    return urlencode({"MessageSid": sid, "From": sender, "To": OUR_NUMBER, "Body": body}).encode()


def test_an_ack_text_from_staff_stops_the_escalation_and_opens_nothing(
    escalating: Ticket, staff: dict[str, User], django_capture_on_commit_callbacks: Capture
) -> None:
    tickets, contacts = Ticket.objects.count(), Contact.objects.count()
    with at_minute(16, django_capture_on_commit_callbacks):
        result = receive_sms(text("+15550100003", f"ACK {escalating.number}", "SM" + "e" * 32))
    assert result.reply == f"Acknowledged {escalating.number}: escalation stopped."
    assert Escalation.objects.get().acknowledged_by == staff["erin"]
    assert (Ticket.objects.count(), Contact.objects.count()) == (tickets, contacts)
    kept = InboundMessage.objects.get(pk=result.outcome.inbound_id)
    assert kept.status == InboundStatus.REJECTED
    assert (
        kept.reason == f"page acknowledgment by staff: Acknowledged {escalating.number}: escalation stopped."
    )

    # Twilio delivers the same text again: kept once, nothing acknowledged twice.
    with at_minute(17, django_capture_on_commit_callbacks):
        again = receive_sms(text("+15550100003", f"ACK {escalating.number}", "SM" + "e" * 32))
    assert again.outcome.duplicate and again.reply == ""
    assert InboundMessage.objects.filter(channel="sms").count() == 1


def test_ack_from_a_client_is_an_ordinary_text(
    escalating: Ticket, dana: Contact, django_capture_on_commit_callbacks: Capture
) -> None:
    with at_minute(16, django_capture_on_commit_callbacks):
        result = receive_sms(text("+13125550111", "ACK", "SM" + "f" * 32))
    assert result.outcome.status == InboundStatus.PROCESSED and result.reply == ""
    # Dana's own open ticket from the last hours: the text threads onto it.
    assert result.outcome.ticket_id == escalating.pk
    assert escalating.messages.filter(kind=MessageKind.INBOUND, body_text="ACK").exists()
    assert Escalation.objects.get().acknowledged_at is None


def test_a_staff_reply_to_the_page_email_acknowledges_without_a_ticket_entry(
    escalating: Ticket, staff: dict[str, User], django_capture_on_commit_callbacks: Capture
) -> None:
    page = next(m for m in mail.outbox if m.to == ["erin@msp.example"])
    reply = EmailMessage()
    reply["From"] = "Erin <erin@msp.example>"
    reply["To"] = "support@msp.example"
    reply["Subject"] = f"Re: {page.subject}"
    reply["Message-ID"] = "<erin-ack@msp.example>"
    reply["In-Reply-To"] = page.extra_headers["Message-ID"]
    reply.set_content("On it.")
    contacts = Contact.objects.count()
    with at_minute(18, django_capture_on_commit_callbacks):
        outcome = ingest_email(
            reply.as_bytes(), mail_from="erin@msp.example", rcpt_tos=["support@msp.example"]
        )
    assert outcome.status == InboundStatus.REJECTED and outcome.ticket_id is None
    assert outcome.reason == "page acknowledgment by staff: erin@msp.example acknowledged the page by email"
    assert Escalation.objects.get().acknowledged_by == staff["erin"]
    assert Contact.objects.count() == contacts
    assert not escalating.messages.filter(kind=MessageKind.INBOUND, body_text__contains="On it").exists()
