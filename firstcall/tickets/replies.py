"""Staff writing on a ticket: a reply to the requester (by email or text) or an internal note
(never sent)."""

from __future__ import annotations

from django.db import transaction

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.notify.outbound import Route, opted_out_numbers, schedule_reply
from firstcall.tickets.actions import Actor, add_event, add_message, transition
from firstcall.tickets.models import Channel, Direction, Message, MessageKind, Status, Ticket, reply_subject

STAFF_LABEL = "staff console"


class EmptyMessage(ValueError):
    """A reply or note with nothing in it."""


def _clean(body: str, what: str) -> str:
    cleaned = body.strip()
    if not cleaned:
        raise EmptyMessage(f"The {what} is empty; write something before sending it.")
    return cleaned


class NoRoute(ValueError):
    """The reply cannot go where it was asked to (no such address, or texts refused)."""


def reply_routes(requester: Contact) -> list[Route]:
    """Where a reply to this requester can go: their email address, then each of their phone
    numbers that takes texts (not known as a landline, not opted out with STOP). One query
    when the requester's phone numbers are prefetched."""
    routes = [Route(Channel.EMAIL, requester.email)] if requester.email else []
    phones = [phone for phone in requester.phone_numbers.all() if phone.can_receive_sms is not False]
    opted_out = opted_out_numbers([phone.number for phone in phones])
    routes.extend(Route(Channel.SMS, phone.number) for phone in phones if phone.number not in opted_out)
    return routes


def usual_route(ticket: Ticket, routes: list[Route]) -> Route | None:
    """The route a reply takes unless staff pick another: the channel the requester last wrote
    or called on — a text (to the number they used, when it takes texts) for SMS and calls,
    email otherwise."""
    last_inbound = (
        Message.objects.filter(ticket=ticket, direction=Direction.IN)
        .order_by("-created_at", "-id")
        .values_list("channel", flat=True)
        .first()
    ) or ticket.channel
    if last_inbound in (Channel.SMS, Channel.PHONE):
        texts = [route for route in routes if route.channel == Channel.SMS]
        if texts:
            return texts[0]
    emails = [route for route in routes if route.channel == Channel.EMAIL]
    return emails[0] if emails else (routes[0] if routes else None)


def post_reply(ticket: Ticket, *, author: User, body: str, route: Route | None = None) -> Message:
    """Add a public reply to the timeline and send it to the requester after commit: by
    ``route`` (one of ``reply_routes``), or when none is given by ``usual_route``.

    The first reply by staff sets the ticket's first response time (in ``add_message``), and a
    ticket still ``new`` becomes ``open``: someone is working on it.
    """
    text = _clean(body, "reply")
    actor = Actor(user=author, label=STAFF_LABEL)
    with transaction.atomic():
        # Locked and re-read so two replies at once cannot both count as the first response.
        locked = Ticket.objects.select_for_update().select_related("requester").get(pk=ticket.pk)
        routes = reply_routes(locked.requester)
        if route is None:
            route = usual_route(locked, routes)
        elif route not in routes:
            raise NoRoute(
                f"A reply cannot be sent to {route.address}: "
                "it is not an address of the requester that we can write to."
            )
        message = add_message(
            locked,
            kind=MessageKind.REPLY,
            channel=route.channel if route else Channel.EMAIL,
            subject="" if route and route.channel == Channel.SMS else reply_subject(locked),
            body_text=text,
            actor=actor,
        )
        if locked.status == Status.NEW:
            transition(locked, Status.OPEN, actor=actor, reason="staff replied to the requester")
        if route is not None:
            schedule_reply(locked, message, route)
        else:
            add_event(
                locked,
                "Reply not sent: the requester has no email address or phone number that takes texts. "
                "Contact them another way.",
                actor=actor,
                staff_only=True,
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
