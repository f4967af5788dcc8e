"""Console: a technician logs a call taken on the phone (through the intake pipeline)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from firstcall.accounts.models import User
from firstcall.clients.models import Client, Contact, PhoneNumber
from firstcall.escalation.models import Escalation
from firstcall.intake.calls import FIRST_CONTACT_RESOLUTION
from firstcall.intake.models import CallOutcome, CallRecord, CallSource, InboundMessage
from firstcall.notify.models import Delivery
from firstcall.sla.models import ClockKind, SlaClock
from firstcall.tickets.models import AuditEvent, Channel, MessageKind, Status, Ticket

TOKEN = uuid.UUID("5f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b")


@pytest.fixture(autouse=True)
def _sms(settings: Any) -> None:
    settings.FIRSTCALL_SMS_PROVIDER = "console"


def form_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "token": str(TOKEN),
        "number": "+1 (312) 555-0111",
        "caller_name": "",
        "subject": "Outlook keeps asking for the password",
        "description": "Dana says Outlook prompts for her password every few minutes since this morning.",
    }
    data.update(overrides)
    return data


def test_the_form_page_needs_sign_in(anonymous: HttpClient) -> None:
    response = anonymous.get(reverse("console:log_call"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("console:login"))


def test_the_form_page_has_the_lookup_and_a_fresh_token(
    as_bob: HttpClient, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(2):  # session, user
        response = as_bob.get(reverse("console:log_call"))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'hx-get="/calls/lookup/"' in html
    assert 'name="number"' in html and 'type="tel"' in html
    assert 'aria-current="page">Log a call</a>' in html
    token = response.context["form"].initial["token"]
    assert f'value="{token}"' in html


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+1 312 555 0111", "Dana Reyes</strong> — Bright Smile Dental"),
        ("+1 312.555.0100", "Bright Smile Dental main line"),
        ("+14155550199", "Unknown number"),
        ("", "Type the caller"),
        ("312 555 0111", "Add the country code"),
    ],
)
def test_lookup_fragment_names_who_the_number_belongs_to(
    as_bob: HttpClient, dana: Contact, django_assert_num_queries: Any, number: str, expected: str
) -> None:
    with django_assert_num_queries(3 if number else 2):  # session, user, one phone lookup
        response = as_bob.get(reverse("console:call_lookup"), {"number": number}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert expected in response.content.decode()
    assert "<html" not in response.content.decode()


def test_saving_a_call_opens_a_phone_ticket_for_the_caller(
    as_bob: HttpClient, bob: User, dana: Contact, dental: Client, run_on_commit: Any
) -> None:
    bob.phone = "+13125550142"
    bob.save()

    with run_on_commit(execute=True):
        response = as_bob.post(reverse("console:log_call"), form_data(is_emergency="on"))

    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("console:ticket_detail", kwargs={"number": ticket.number})
    assert (ticket.channel, ticket.requester, ticket.client, ticket.status) == (
        Channel.PHONE,
        dana,
        dental,
        Status.NEW,
    )
    assert ticket.subject == "Outlook keeps asking for the password"
    assert ticket.is_emergency is True
    message = ticket.messages.get(kind=MessageKind.INBOUND)
    assert message.body_text.startswith("Dana says Outlook prompts")
    assert message.rfc_message_id == f"logged-call:{TOKEN}"
    assert ticket.messages.filter(kind=MessageKind.EVENT, body_text__contains="logged by Bob").exists()
    inbound = InboundMessage.objects.get()
    assert (inbound.channel, inbound.external_id) == (Channel.PHONE, f"logged-call:{TOKEN}")
    assert inbound.metadata["taken_by"] == "bob"

    call = CallRecord.objects.get()
    assert (call.source, call.call_id, call.outcome) == (CallSource.CONSOLE, str(TOKEN), CallOutcome.ANSWERED)
    assert (call.answered_by, call.answered_by_number, call.caller) == (bob, "+13125550142", "+13125550111")
    assert (call.contact, call.client, call.ticket) == (dana, dental, ticket)
    # Bob talked to Dana: the ticket is his, that was its first response (the clock stopped,
    # met), and its escalation (a VIP's emergency: P1) stops, acknowledged by him.
    assert ticket.assignee == bob and ticket.first_response_at == call.ended_at
    assert SlaClock.objects.get(ticket=ticket, kind=ClockKind.FIRST_RESPONSE).met is True
    assert Escalation.objects.get(ticket=ticket).acknowledged_by == bob
    # The caller gets the ticket number by text.
    assert Delivery.objects.get().channel == "sms"
    page = as_bob.get(response["Location"])
    assert page.status_code == 200
    assert "Dana says Outlook prompts" in page.content.decode()


def test_resolved_on_first_contact_resolves_with_the_audit_reason(
    as_bob: HttpClient, bob: User, dana: Contact
) -> None:
    response = as_bob.post(reverse("console:log_call"), form_data(resolved_on_first_contact="on"))

    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.status == Status.RESOLVED and ticket.resolved_at is not None
    event = AuditEvent.objects.get(ticket=ticket, action="status_changed")
    assert (event.before, event.after, event.reason, event.actor_user) == (
        "new",
        "resolved",
        FIRST_CONTACT_RESOLUTION,
        bob,
    )
    assert FIRST_CONTACT_RESOLUTION == "first-contact resolution"
    # Fixed while on the line: no "we received your request" text afterwards.
    assert not Delivery.objects.exists()
    assert ticket.messages.filter(body_text__contains="resolved on first contact").exists()


def test_a_double_submit_logs_the_call_once(as_bob: HttpClient, dana: Contact) -> None:
    first = as_bob.post(reverse("console:log_call"), form_data(resolved_on_first_contact="on"))
    second = as_bob.post(reverse("console:log_call"), form_data(resolved_on_first_contact="on"))

    assert first["Location"] == second["Location"]
    assert (Ticket.objects.count(), CallRecord.objects.count(), InboundMessage.objects.count()) == (1, 1, 1)
    assert AuditEvent.objects.filter(action="status_changed").count() == 1


def test_unknown_caller_becomes_an_unverified_contact(as_bob: HttpClient, db: None) -> None:
    as_bob.post(
        reverse("console:log_call"),
        form_data(number="+44 20 7946 0958", caller_name="Sam Porter", subject=""),
    )

    ticket = Ticket.objects.get()
    assert ticket.subject == "Phone call from +442079460958"
    assert ticket.unverified_requester is True
    assert ticket.requester.name == "Sam Porter"
    assert PhoneNumber.objects.filter(contact=ticket.requester, number="+442079460958").exists()


def test_invalid_form_says_what_is_missing(as_bob: HttpClient, db: None) -> None:
    response = as_bob.post(reverse("console:log_call"), form_data(number="call me", description=""))

    assert response.status_code == 400
    html = response.content.decode()
    assert "A phone number needs digits" in html
    assert "Write down what the caller needs before saving." in html
    without_country = as_bob.post(reverse("console:log_call"), form_data(number="312 555 0111"))
    assert without_country.status_code == 400
    assert "Include the country code" in without_country.content.decode()
    assert not Ticket.objects.exists() and not InboundMessage.objects.exists()
