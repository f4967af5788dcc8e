"""Acknowledging a page — from the console, by texting "ACK <number>", or by replying to the page
email — stops that escalation; a later missed deadline starts it again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.escalation.engine import (
    acknowledge,
    acknowledge_by_email,
    acknowledge_by_text,
    escalate_now,
    sweep,
)
from firstcall.escalation.models import Escalation
from firstcall.tickets.models import AuditEvent, MessageKind, Ticket
from tests.escalation.conftest import at_minute, paged

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]


def later_pages(ticket: Ticket, capture: Capture, *minutes: int) -> list[str]:
    before = len(paged(ticket))
    for minute in minutes:
        with at_minute(minute, capture):
            sweep()
    return [user for user, _ in paged(ticket)[before:]]


def test_acknowledging_in_the_console_stops_the_escalation_until_the_next_breach(
    escalating: Ticket, staff: dict[str, User], django_capture_on_commit_callbacks: Capture
) -> None:
    with at_minute(17, django_capture_on_commit_callbacks):
        assert acknowledge(escalating, staff["erin"], via="console") is True
        assert acknowledge(escalating, staff["erin"], via="console") is False  # nothing left
    escalation = Escalation.objects.get()
    assert escalation.acknowledged_by == staff["erin"] and escalation.stopped_at is not None
    assert escalation.stop_reason == "acknowledged by erin (console)"
    assert AuditEvent.objects.filter(action="escalation_acknowledged", actor_user=staff["erin"]).exists()
    public = list(escalating.messages.filter(kind=MessageKind.EVENT).values_list("body_text", flat=True))
    assert public[-1] == "Acknowledged by Erin at 09:17."
    # Neither the manager (30) nor the owner (60) is paged.
    assert later_pages(escalating, django_capture_on_commit_callbacks, 30, 60) == []

    # A later breach starts the escalation again, from the assignee.
    with at_minute(90, django_capture_on_commit_callbacks):
        again = escalate_now(escalating, reason="resolution target missed")
    assert again is not None and again != escalation and again.reason == "resolution target missed"
    assert later_pages(escalating, django_capture_on_commit_callbacks, 90) == ["bob", "bob"]
    assert later_pages(escalating, django_capture_on_commit_callbacks, 104, 105) == ["erin", "erin"]


def test_acknowledging_by_text(
    escalating: Ticket, staff: dict[str, User], dana: Contact, django_capture_on_commit_callbacks: Capture
) -> None:
    number = escalating.number
    with at_minute(16, django_capture_on_commit_callbacks):
        assert acknowledge_by_text("+13125550111", "ACK") is None  # dana is a client, not staff
        assert acknowledge_by_text("+15550100003", "On my way") is None  # not an acknowledgment
        assert (
            acknowledge_by_text("+15550100003", "ack 999999") == "No ticket T-999999: nothing acknowledged."
        )
        # erin's number is on file as +15550100003; Twilio sends E.164.
        assert (
            acknowledge_by_text("+15550100003", f"ack {number}.")
            == f"Acknowledged {number}: escalation stopped."
        )
        assert acknowledge_by_text("+15550100003", f"ACK {number}") == (
            f"{number} is not escalating (already acknowledged or stopped)."
        )
    escalation = Escalation.objects.get()
    assert escalation.acknowledged_by == staff["erin"] and escalation.stop_reason.endswith("(sms)")
    assert later_pages(escalating, django_capture_on_commit_callbacks, 30, 60) == []


def test_ack_alone_acknowledges_the_senders_latest_page(
    escalating: Ticket, staff: dict[str, User], django_capture_on_commit_callbacks: Capture
) -> None:
    with at_minute(16, django_capture_on_commit_callbacks):
        # bob's number was typed in as "+1 (555) 010-0002".
        assert (
            acknowledge_by_text("+15550100002", " Ack ")
            == f"Acknowledged {escalating.number}: escalation stopped."
        )
        assert acknowledge_by_text("+15550100002", "ACK") == (
            "Nothing to acknowledge: none of your pages is still escalating."
        )
    assert Escalation.objects.get().acknowledged_by == staff["bob"]
    # mia was never paged.
    assert acknowledge_by_text("+15550100009", "ACK") is None


def test_acknowledging_by_replying_to_the_page_email(
    escalating: Ticket, staff: dict[str, User], django_capture_on_commit_callbacks: Capture
) -> None:
    page_email = next(m for m in mail.outbox if m.to == ["erin@msp.example"])
    assert page_email.subject == f"[{escalating.number}] PAGE P1: Server down, nobody can work"
    assert f'text "ACK {escalating.number}" to +15550100000' in page_email.body
    message_id = page_email.extra_headers["Message-ID"]
    assert page_email.extra_headers["Auto-Submitted"] == "auto-generated"  # not a reply (RFC 3834)

    with at_minute(18, django_capture_on_commit_callbacks):
        # Someone who is not staff cannot acknowledge, even replying to the page.
        assert acknowledge_by_email("dana@brightsmile.example", "Re: page", [message_id]) is False
        assert acknowledge_by_email("Erin <ERIN@msp.example>", "Re: page", [message_id]) is True
    escalation = Escalation.objects.get()
    assert escalation.acknowledged_by == staff["erin"] and escalation.stop_reason.endswith("(email)")
    assert later_pages(escalating, django_capture_on_commit_callbacks, 30, 60) == []


def test_acknowledging_by_email_with_the_ticket_number_in_the_subject(
    escalating: Ticket, staff: dict[str, User], django_capture_on_commit_callbacks: Capture
) -> None:
    with at_minute(18, django_capture_on_commit_callbacks):
        assert acknowledge_by_email("bob@msp.example", "Re: something else", []) is False
        assert (
            acknowledge_by_email("bob@msp.example", f"Re: [{escalating.number}] PAGE P1: Server down", [])
            is True
        )
    assert Escalation.objects.get().acknowledged_by == staff["bob"]


def test_acknowledge_checks_how_and_who(escalating: Ticket, staff: dict[str, User]) -> None:
    with pytest.raises(ValueError, match="via must be one of"):
        acknowledge(escalating, staff["erin"], via="pigeon")
    User.objects.filter(username="erin").update(is_active=False)
    staff["erin"].refresh_from_db()
    assert acknowledge(escalating, staff["erin"], via="console") is False
    assert Escalation.objects.get().is_active
