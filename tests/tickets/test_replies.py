"""Staff replies and internal notes: what they write, move, schedule and audit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from firstcall.accounts.models import User
from firstcall.clients.models import Client, Contact
from firstcall.notify.models import Delivery, DeliveryPurpose, DeliveryStatus
from firstcall.tickets.actions import Actor, add_message, open_ticket, transition
from firstcall.tickets.models import AuditEvent, Channel, Direction, MessageKind, Status, Ticket
from firstcall.tickets.replies import EmptyMessage, add_note, post_reply

pytestmark = pytest.mark.django_db


def emailed_request(requester: Contact, subject: str = "Printer jam", message_id: str = "") -> Ticket:
    actor = Actor(contact=requester, label="email intake")
    ticket = open_ticket(
        client_id=requester.client_id,
        requester=requester,
        subject=subject,
        channel=Channel.EMAIL,
        actor=actor,
    )
    add_message(
        ticket,
        kind=MessageKind.INBOUND,
        channel=Channel.EMAIL,
        subject=subject,
        body_text="The printer is jammed.",
        rfc_message_id=message_id,
        actor=actor,
    )
    return ticket


def test_reply_is_a_public_message_that_opens_the_ticket(bob: User, dana: Contact) -> None:
    ticket = emailed_request(dana, message_id="jam@brightsmile.example")
    message = post_reply(ticket, author=bob, body="  Pull the paper gently.  ")
    assert message.kind == MessageKind.REPLY and message.direction == Direction.OUT
    assert message.channel == Channel.EMAIL and message.author_user == bob
    assert message.body_text == "Pull the paper gently."
    assert message.subject == f"[{ticket.number}] Re: Printer jam"
    assert ticket.status == Status.OPEN and ticket.first_response_at == message.created_at
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN and ticket.first_response_at == message.created_at
    change = AuditEvent.objects.get(ticket=ticket, action="status_changed")
    assert (change.before, change.after, change.actor_user) == ("new", "open", bob)


def test_reply_schedules_an_email_delivery_in_the_thread(bob: User, dana: Contact) -> None:
    ticket = emailed_request(dana, message_id="jam@brightsmile.example")
    message = post_reply(ticket, author=bob, body="Pull the paper gently.")
    delivery = Delivery.objects.get(message=message)
    assert delivery.purpose == DeliveryPurpose.REPLY and delivery.status == DeliveryStatus.PENDING
    assert delivery.to_address == "dana@brightsmile.example"
    assert delivery.in_reply_to == "jam@brightsmile.example"
    assert delivery.subject == f"[{ticket.number}] Re: Printer jam"
    assert not delivery.auto_submitted


def test_reply_email_goes_out_after_commit(
    bob: User, dana: Contact, outbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    ticket = emailed_request(dana, message_id="jam@brightsmile.example")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        post_reply(ticket, author=bob, body="Pull the paper gently.")
    assert outbox == [] and len(callbacks) == 1
    callbacks[0]()
    assert len(outbox) == 1
    assert outbox[0].extra_headers["In-Reply-To"] == "<jam@brightsmile.example>"
    assert outbox[0].subject == f"[{ticket.number}] Re: Printer jam"


def test_subject_already_a_reply_is_not_doubled(bob: User, dana: Contact) -> None:
    ticket = emailed_request(dana, subject="Re: invoice question")
    assert post_reply(ticket, author=bob, body="Done.").subject == f"[{ticket.number}] Re: invoice question"


def test_only_the_first_reply_is_the_first_response(bob: User, erin: User, dana: Contact) -> None:
    ticket = emailed_request(dana)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        post_reply(ticket, author=bob, body="Looking now.")
    # A copy of the ticket read before the first reply (another browser tab) must not count as first.
    stale = Ticket.objects.get(pk=ticket.pk)
    stale.first_response_at = None
    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        post_reply(stale, author=erin, body="Fixed.")
    ticket.refresh_from_db()
    assert ticket.first_response_at == start
    assert AuditEvent.objects.filter(ticket=ticket, action="first_response").count() == 1


def test_reply_on_a_waiting_ticket_keeps_its_status(bob: User, dana: Contact) -> None:
    ticket = emailed_request(dana)
    transition(ticket, Status.WAITING_ON_CLIENT, actor=Actor.system())
    post_reply(ticket, author=bob, body="Any news?")
    ticket.refresh_from_db()
    assert ticket.status == Status.WAITING_ON_CLIENT


def test_requester_without_email_gets_no_delivery_but_a_timeline_line(bob: User, dental: Client) -> None:
    walk_in = Contact.objects.create(client=dental, name="Walk-in patient")
    ticket = emailed_request(walk_in)
    message = post_reply(ticket, author=bob, body="We called you back.")
    assert not Delivery.objects.exists()
    # For staff only: an internal note, never shown to the client.
    event = ticket.messages.get(kind=MessageKind.NOTE)
    assert event.body_text.startswith("Reply not sent: the requester has no email address or phone number")
    assert event.created_at >= message.created_at


def test_note_is_internal_and_changes_nothing_else(
    bob: User, dana: Contact, outbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    ticket = emailed_request(dana)
    with django_capture_on_commit_callbacks(execute=True):
        note = add_note(ticket, author=bob, body="Out of warranty.")
    assert note.kind == MessageKind.NOTE and note.direction == Direction.INTERNAL and not note.is_public
    assert note.channel == Channel.CONSOLE and note.author_user == bob
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW and ticket.first_response_at is None
    assert not Delivery.objects.exists() and outbox == []


@pytest.mark.parametrize("body", ["", "   \n  "])
def test_empty_reply_or_note_is_refused(bob: User, dana: Contact, body: str) -> None:
    ticket = emailed_request(dana)
    with pytest.raises(EmptyMessage, match="The reply is empty"):
        post_reply(ticket, author=bob, body=body)
    with pytest.raises(EmptyMessage, match="The note is empty"):
        add_note(ticket, author=bob, body=body)
    assert ticket.messages.count() == 1
    assert Ticket.objects.get(pk=ticket.pk).status == Status.NEW


def texted_request(requester: Contact, number: str, body: str = "Printer jammed again") -> Ticket:
    actor = Actor(contact=requester, label="SMS intake")
    ticket = open_ticket(
        client_id=requester.client_id, requester=requester, subject=body, channel=Channel.SMS, actor=actor
    )
    add_message(ticket, kind=MessageKind.INBOUND, channel=Channel.SMS, body_text=body, actor=actor)
    return ticket


def test_reply_routes_are_the_email_and_the_numbers_that_take_texts(dana: Contact, dental: Client) -> None:
    from firstcall.clients.models import PhoneNumber
    from firstcall.notify.outbound import Route, opt_out
    from firstcall.tickets.replies import reply_routes

    PhoneNumber.objects.create(
        client=dental, contact=dana, number="+13125550112", label="desk", can_receive_sms=False
    )
    PhoneNumber.objects.create(client=dental, contact=dana, number="+13125550113", label="old mobile")
    opt_out("+13125550113")
    dana = Contact.objects.prefetch_related("phone_numbers").get(pk=dana.pk)
    assert reply_routes(dana) == [
        Route(Channel.EMAIL, "dana@brightsmile.example"),
        Route(Channel.SMS, "+13125550111"),  # the landline and the opted-out number are left out
    ]


def test_reply_goes_back_by_text_to_a_texted_request_unless_staff_pick_email(
    bob: User, dana: Contact, outbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    from firstcall.notify.outbound import Route

    ticket = texted_request(dana, "+13125550111")
    with django_capture_on_commit_callbacks(execute=True):
        by_text = post_reply(ticket, author=bob, body="A technician is on the way.")
    delivery = Delivery.objects.get(message=by_text)
    assert by_text.channel == Channel.SMS and by_text.subject == ""
    assert (delivery.channel, delivery.to_address, delivery.purpose) == ("sms", "+13125550111", "reply")
    assert delivery.status == DeliveryStatus.SENT and outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        by_email = post_reply(
            ticket, author=bob, body="The report is attached.", route=Route(Channel.EMAIL, dana.email)
        )
    assert by_email.channel == Channel.EMAIL
    assert [m.to for m in outbox] == [["dana@brightsmile.example"]]


def test_reply_to_an_address_not_the_requesters_is_refused(bob: User, dana: Contact) -> None:
    from firstcall.notify.outbound import Route
    from firstcall.tickets.replies import NoRoute

    ticket = emailed_request(dana)
    with pytest.raises(NoRoute, match=r"\+15550000000"):
        post_reply(ticket, author=bob, body="Hi", route=Route(Channel.SMS, "+15550000000"))
    assert not ticket.messages.filter(kind=MessageKind.REPLY).exists()
