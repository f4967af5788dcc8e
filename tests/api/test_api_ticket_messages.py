"""POST /api/tickets/{number}/messages: messages from the requester (through intake) and notes."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from firstcall.clients.models import Contact
from firstcall.intake.models import InboundMessage, InboundStatus
from firstcall.tickets.actions import Actor, add_participant, transition
from firstcall.tickets.models import AuditEvent, Channel, Message, MessageKind, Status, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(make_ticket, dana) -> Ticket:
    return make_ticket(dana, "Scanner offline")


def test_message_threads_onto_the_ticket_as_the_requester(rmm, ticket, dana, outbox, run_on_commit) -> None:
    with run_on_commit(execute=True):
        response = rmm.post(
            f"/api/tickets/{ticket.number}/messages", {"body": "Still offline after a restart."}
        )

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["ticket"] == ticket.number
    assert data["kind"] == "inbound" and data["direction"] == "in" and data["channel"] == "api"
    assert data["author"] == {"name": "Dana Reyes", "email": "dana@brightsmile.example", "username": None}
    assert data["body_text"] == "Still offline after a restart."
    message = Message.objects.get(pk=data["id"])
    assert message.ticket_id == ticket.pk and message.inbound is not None
    assert Ticket.objects.count() == 1
    assert outbox == []  # a message on an existing ticket is not acknowledged again


def test_message_reopens_a_resolved_ticket(rmm, ticket, bob) -> None:
    transition(ticket, Status.RESOLVED, actor=Actor(user=bob))
    response = rmm.post(f"/api/tickets/{ticket.number}/messages", {"body": "It broke again."})
    assert response.status_code == 201
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN and ticket.resolved_at is None


def test_colleague_of_the_same_client_may_post(rmm, ticket, carl) -> None:
    response = rmm.post(
        f"/api/tickets/{ticket.number}/messages",
        {"body": "I can confirm, the scanner is down.", "from_email": "Carl@BrightSmile.example"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["author"]["email"] == "carl@brightsmile.example"
    assert list(ticket.participants.all()) == [carl]


def test_participant_from_another_domain_may_post(rmm, ticket) -> None:
    vendor = Contact.objects.create(name="Vic Vendor", email="vic@scanners.example")
    add_participant(ticket, vendor, actor=Actor.system("test"))
    response = rmm.post(
        f"/api/tickets/{ticket.number}/messages",
        {"body": "Firmware fix attached.", "from_email": vendor.email},
    )
    assert response.status_code == 201, response.content
    assert response.json()["ticket"] == ticket.number


def test_outsider_cannot_post_and_leaves_nothing_behind(rmm, ticket, priya) -> None:
    contacts_before = Contact.objects.count()
    response = rmm.post(
        f"/api/tickets/{ticket.number}/messages", {"body": "Hello?", "from_email": "priya@haleporter.example"}
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": f"priya@haleporter.example is not the requester, a participant or a contact of the "
        f"client of {ticket.number}, so it cannot post on it."
    }
    assert Ticket.objects.count() == 1
    # Kept (nothing inbound is ever lost), as rejected with the reason.
    kept = InboundMessage.objects.get()
    assert (kept.status, kept.reason) == (InboundStatus.REJECTED, response.json()["detail"])
    assert Contact.objects.count() == contacts_before
    unknown = rmm.post(
        f"/api/tickets/{ticket.number}/messages", {"body": "Hi", "from_email": "new@stranger.example"}
    )
    assert unknown.status_code == 422
    assert Contact.objects.count() == contacts_before


def test_requester_without_email_needs_from_email(rmm, make_ticket, dental) -> None:
    caller = Contact.objects.create(client=dental, name="Phone-only Pat")
    ticket = make_ticket(caller, "Called about the VPN", channel=Channel.PHONE)
    response = rmm.post(f"/api/tickets/{ticket.number}/messages", {"body": "Any news?"})
    assert response.status_code == 422
    assert response.json()["detail"] == (
        f"The requester of {ticket.number} has no email address: give from_email."
    )


def test_same_key_replays_the_message(rmm, ticket) -> None:
    path = f"/api/tickets/{ticket.number}/messages"
    first = rmm.post(path, {"body": "Update: it's the cable."}, **{"Idempotency-Key": "update-1"})
    again = rmm.post(path, {"body": "Update: it's the cable."}, **{"Idempotency-Key": "update-1"})
    assert first.status_code == 201 and again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert ticket.messages.filter(kind=MessageKind.INBOUND).count() == 1
    other = rmm.post(path, {"body": "Something else"}, **{"Idempotency-Key": "update-1"})
    assert other.status_code == 422
    assert "already used for a different request" in other.json()["detail"]


def test_note_is_internal_by_the_api_user(rmm, api, ticket, bob, outbox, run_on_commit) -> None:
    with run_on_commit(execute=True):
        response = rmm.post(
            f"/api/tickets/{ticket.number}/messages", {"kind": "note", "body": "RMM: disk 97% full."}
        )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["kind"] == "note" and data["direction"] == "internal"
    assert data["author"] == {"name": "Bob", "email": None, "username": "bob"}
    assert outbox == []
    assert not InboundMessage.objects.exists()
    assert AuditEvent.objects.filter(ticket=ticket, action="api_note_added", actor_user=bob).count() == 1

    public = api.get(f"/api/tickets/{ticket.number}").json()["messages"]
    assert data["id"] not in [message["id"] for message in public]
    with_notes = api.get(f"/api/tickets/{ticket.number}", {"include_notes": "true"}).json()["messages"]
    assert data["id"] in [message["id"] for message in with_notes]


def test_note_does_not_reopen_or_count_as_first_response(rmm, ticket, bob) -> None:
    transition(ticket, Status.RESOLVED, actor=Actor(user=bob))
    response = rmm.post(f"/api/tickets/{ticket.number}/messages", {"kind": "note", "body": "Closing remark."})
    assert response.status_code == 201
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED and ticket.first_response_at is None


def test_note_with_the_same_key_is_added_once(rmm, ticket) -> None:
    path = f"/api/tickets/{ticket.number}/messages"
    note = {"kind": "note", "body": "Backup job failed."}
    first = rmm.post(path, note, **{"Idempotency-Key": "backup-99"})
    again = rmm.post(path, note, **{"Idempotency-Key": "backup-99"})
    assert first.status_code == 201 and again.status_code == 200
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert ticket.messages.filter(kind=MessageKind.NOTE).count() == 1
    changed = rmm.post(path, {"kind": "note", "body": "Other text"}, **{"Idempotency-Key": "backup-99"})
    assert changed.status_code == 422


def test_note_cannot_have_a_sender(rmm, ticket) -> None:
    response = rmm.post(
        f"/api/tickets/{ticket.number}/messages",
        {"kind": "note", "body": "x", "from_email": "dana@brightsmile.example"},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == (
        "from_email cannot be given for a note: a note is written by the API user"
    )


def test_unknown_kind_is_422(rmm, ticket) -> None:
    response = rmm.post(f"/api/tickets/{ticket.number}/messages", {"kind": "reply", "body": "x"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "kind"


@pytest.mark.parametrize("number", ["T-999999", "T-00001", "12", "T-0000001", "T-99999999999999999999999"])
def test_unknown_or_malformed_ticket_is_404(rmm, ticket, number) -> None:
    response = rmm.post(f"/api/tickets/{number}/messages", {"body": "Hello"})
    assert response.status_code == 404
    assert number in response.json()["detail"]
    assert not InboundMessage.objects.exists()


def test_message_on_a_ticket_closed_long_ago_opens_a_follow_up(
    rmm, ticket, bob, outbox, run_on_commit
) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=30), tick=False):
        transition(ticket, Status.CLOSED, actor=Actor(user=bob))
    with run_on_commit(execute=True):
        response = rmm.post(f"/api/tickets/{ticket.number}/messages", {"body": "The scanner is down again."})
    assert response.status_code == 201, response.content
    follow_up = Ticket.objects.get(follows_up=ticket)
    assert response.json()["ticket"] == follow_up.number
    assert follow_up.subject == "Scanner offline"
    assert len(outbox) == 1  # the new ticket is acknowledged
