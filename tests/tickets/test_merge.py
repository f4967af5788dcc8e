"""Merging a duplicate: its timeline moves, it closes, and whatever still names it goes on."""

from __future__ import annotations

from typing import Any

import pytest

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.escalation.models import Escalation
from firstcall.intake.models import CallRecord, CallSource
from firstcall.sla.models import SlaClock
from firstcall.tickets.actions import Actor, IllegalTransition, add_message, open_ticket, transition
from firstcall.tickets.merge import CannotMerge, follow_merges, merge_tickets
from firstcall.tickets.models import AuditEvent, Channel, MessageKind, Status, Ticket

pytestmark = pytest.mark.django_db


def request(requester: Contact, subject: str, *, emergency: bool = False) -> Ticket:
    actor = Actor(contact=requester, label="email intake")
    ticket = open_ticket(
        client_id=requester.client_id,
        requester=requester,
        subject=subject,
        channel=Channel.EMAIL,
        actor=actor,
        is_emergency=emergency,
    )
    add_message(ticket, kind=MessageKind.INBOUND, channel=Channel.EMAIL, body_text=subject, actor=actor)
    return ticket


def test_merge_moves_the_timeline_closes_the_duplicate_and_adds_its_people(
    bob: User, dana: Contact, carl: Contact
) -> None:
    original = request(dana, "Server down")
    duplicate = request(carl, "Server is down here too", emergency=True)
    call = CallRecord.objects.create(source=CallSource.CONSOLE, call_id="c1", ticket=duplicate)
    assert Escalation.objects.filter(ticket=duplicate, stopped_at__isnull=True).exists()  # a P1

    kept = merge_tickets(duplicate, original, by=bob)

    assert kept.pk == original.pk
    duplicate.refresh_from_db()
    assert duplicate.status == Status.CLOSED and duplicate.merged_into_id == original.pk
    # Carl's request is now on the original's timeline; the duplicate keeps only the pointer.
    assert list(original.messages.filter(kind=MessageKind.INBOUND).values_list("body_text", flat=True)) == [
        "Server down",
        "Server is down here too",
    ]
    assert list(duplicate.messages.values_list("body_text", flat=True)) == [
        f"Merged into {original.number} by Bob."
    ]
    assert original.messages.filter(body_text__startswith=f"{duplicate.number} (Server is down").exists()
    assert list(original.participants.all()) == [carl]
    call.refresh_from_db()
    assert call.ticket_id == original.pk
    # The duplicate's clocks stopped and its escalation ended with it.
    assert not SlaClock.objects.filter(ticket=duplicate, stopped_at__isnull=True).exists()
    assert not Escalation.objects.filter(ticket=duplicate, stopped_at__isnull=True).exists()
    assert AuditEvent.objects.filter(ticket=duplicate, action="merged", after=original.number).exists()
    assert AuditEvent.objects.filter(ticket=original, action="merged_in", after=duplicate.number).exists()
    assert follow_merges(duplicate).pk == original.pk


def test_merged_ticket_cannot_be_reopened(bob: User, dana: Contact) -> None:
    original, duplicate = request(dana, "VPN"), request(dana, "VPN again")
    merge_tickets(duplicate, original, by=bob)
    with pytest.raises(IllegalTransition, match="was merged into another ticket"):
        transition(duplicate, Status.OPEN, actor=Actor.system())


@pytest.mark.parametrize("case", ["itself", "other client", "resolved target", "twice"])
def test_merge_refusals(case: str, bob: User, dana: Contact, priya: Contact) -> None:
    original, duplicate = request(dana, "VPN"), request(dana, "VPN again")
    expected: dict[str, Any] = {
        "itself": (duplicate, duplicate, "into itself"),
        "other client": (duplicate, request(priya, "VPN"), "different clients"),
        "resolved target": (duplicate, original, "reopen it first"),
        "twice": (duplicate, original, "already merged"),
    }
    if case == "resolved target":
        transition(original, Status.RESOLVED, actor=Actor.system())
    if case == "twice":
        merge_tickets(duplicate, request(dana, "third"), by=bob)
    source, target, message = expected[case]
    with pytest.raises(CannotMerge, match=message):
        merge_tickets(source, target, by=bob)


def test_an_email_naming_the_duplicate_lands_on_the_ticket_it_was_merged_into(
    bob: User, dana: Contact, run_on_commit: Any
) -> None:
    from firstcall.intake.channels.email import ingest_email

    original, duplicate = request(dana, "Printer"), request(dana, "Printer again")
    merge_tickets(duplicate, original, by=bob)
    raw = (
        "From: Dana Reyes <dana@brightsmile.example>\r\nTo: support@firstcall.localhost\r\n"
        f"Subject: Re: [{duplicate.number}] Printer again\r\nMessage-ID: <late@brightsmile.example>\r\n\r\n"
        "Still jammed.\r\n"
    ).encode()
    with run_on_commit(execute=True):
        ingest_email(raw, acknowledge=False)
    assert original.messages.filter(body_text__contains="Still jammed.").exists()
    duplicate.refresh_from_db()
    assert duplicate.status == Status.CLOSED
    assert Ticket.objects.count() == 2  # no new ticket
