"""Staff writing on a ticket: a reply to the requester (emailed) or an internal note (never sent)."""

from __future__ import annotations

from django.db import transaction

from firstcall.accounts.models import User
from firstcall.notify.outbound import schedule_reply
from firstcall.tickets.actions import Actor, add_event, add_message, transition
from firstcall.tickets.models import Channel, Message, MessageKind, Status, Ticket, reply_subject

STAFF_LABEL = "staff console"


class EmptyMessage(ValueError):
    """A reply or note with nothing in it."""


def _clean(body: str, what: str) -> str:
    cleaned = body.strip()
    if not cleaned:
        raise EmptyMessage(f"The {what} is empty; write something before sending it.")
    return cleaned


def post_reply(ticket: Ticket, *, author: User, body: str) -> Message:
    """Add a public reply to the timeline and email it to the requester after commit.

    The first reply by staff sets the ticket's first response time (in ``add_message``), and a
    ticket still ``new`` becomes ``open``: someone is working on it.
    """
    text = _clean(body, "reply")
    actor = Actor(user=author, label=STAFF_LABEL)
    with transaction.atomic():
        # Locked and re-read so two replies at once cannot both count as the first response.
        locked = Ticket.objects.select_for_update().select_related("requester").get(pk=ticket.pk)
        message = add_message(
            locked,
            kind=MessageKind.REPLY,
            channel=Channel.EMAIL,
            subject=reply_subject(locked),
            body_text=text,
            actor=actor,
        )
        if locked.status == Status.NEW:
            transition(locked, Status.OPEN, actor=actor, reason="staff replied to the requester")
        address = locked.requester.email
        if address:
            schedule_reply(locked, message, address)
        else:
            add_event(
                locked,
                "Reply not emailed: the requester has no email address. Contact them another way.",
                actor=actor,
            )
    for name in ("status", "updated_at", "first_response_at", "resolved_at", "closed_at"):
        setattr(ticket, name, getattr(locked, name))
    return message


def add_note(ticket: Ticket, *, author: User, body: str) -> Message:
    """An internal note for staff only: it is never sent and does not count as a response."""
    text = _clean(body, "note")
    with transaction.atomic():
        return add_message(
            ticket,
            kind=MessageKind.NOTE,
            channel=Channel.CONSOLE,
            body_text=text,
            actor=Actor(user=author, label=STAFF_LABEL),
        )
