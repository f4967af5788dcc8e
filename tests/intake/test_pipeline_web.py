from __future__ import annotations

import json

import pytest

from firstcall.intake.models import InboundStatus
from firstcall.intake.pipeline import ingest
from firstcall.tickets.models import Channel, MessageKind, Ticket

pytestmark = pytest.mark.django_db


def web_payload(**fields: object) -> bytes:
    base = {
        "email": "dana@brightsmile.example",
        "subject": "X-ray PC won't boot",
        "description": "Patients waiting.",
    }
    base.update(fields)
    return json.dumps(base).encode()


def test_web_request_opens_ticket_and_acknowledges(dana, outbox, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        outcome = ingest(Channel.WEB, "form-1", web_payload(is_emergency=True))
    assert outcome.created_ticket and outcome.status == InboundStatus.PROCESSED
    ticket = Ticket.objects.get(pk=outcome.ticket_id)
    assert ticket.requester == dana and ticket.client == dana.client
    assert ticket.is_emergency and ticket.priority == "P1"
    # A P1 starts escalation at once: with no staff to page here, staff-only notes say so.
    kinds = list(ticket.messages.exclude(kind=MessageKind.NOTE).values_list("kind", flat=True))
    assert kinds == [MessageKind.INBOUND, MessageKind.AUTO_REPLY]
    assert "Nobody could be paged" in ticket.messages.filter(kind=MessageKind.NOTE).last().body_text
    assert len(outbox) == 1
    assert ticket.number in outbox[0].subject
    assert "15 minutes" in outbox[0].body
    assert outbox[0].extra_headers["Auto-Submitted"] == "auto-replied"


def test_same_submission_twice_makes_one_ticket(dana, outbox, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = ingest(Channel.WEB, "form-2", web_payload())
        second = ingest(Channel.WEB, "form-2", web_payload())
    assert second.duplicate and second.ticket_id == first.ticket_id
    assert Ticket.objects.count() == 1
    assert len(outbox) == 1
