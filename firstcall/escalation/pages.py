"""What a page says and how it goes out: one Page row, one staff-only timeline entry and one
notify Delivery per person and channel; and the plain words the client reads on the timeline.

The wording the client sees is all here, in ``CLIENT_AUDIENCE`` and the ``public_*`` functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse

from firstcall.accounts.models import Role, User
from firstcall.clients.models import normalize_phone
from firstcall.escalation.models import Escalation, EscalationLevel, Page, PageChannel, TargetKind
from firstcall.notify.models import Delivery, DeliveryPurpose
from firstcall.notify.outbound import enqueue_delivery_on_commit, sender_and_message_id
from firstcall.tickets.actions import Actor, add_message
from firstcall.tickets.models import Channel, MessageKind, Ticket

PAGER = Actor.system("escalation")

# How the client hears whom we escalated to: by the level's kind, or by the role it pages.
CLIENT_AUDIENCE: dict[TargetKind | Role, str] = {
    TargetKind.ASSIGNEE: "your technician",
    TargetKind.ON_CALL: "our on-call engineer",
    Role.TECHNICIAN: "our support team",
    Role.ENGINEER: "our engineering team",
    Role.MANAGER: "our service manager",
    Role.OWNER: "{msp_name}'s owner",
}


def client_audience(level: EscalationLevel | None) -> str:
    """The level's audience in the client's words; None is the owners (the last resort)."""
    if level is None:
        key: TargetKind | Role = Role.OWNER
    elif level.target_kind == TargetKind.ROLE:
        key = Role(level.target_role)
    elif level.target_kind == TargetKind.USER and level.target_user is not None:
        key = Role(level.target_user.role)
    else:
        key = TargetKind(level.target_kind)
    return CLIENT_AUDIENCE[key].format(msp_name=settings.FIRSTCALL_MSP_NAME)


def client_time(ticket: Ticket, at: datetime) -> str:
    """'10:42' in the client's time zone (the server's when the ticket has no client)."""
    return f"{at.astimezone(ticket.time_zone):%H:%M}"


def public_level_text(ticket: Ticket, audience: str, at: datetime, *, first_level: bool, again: bool) -> str:
    """The client's line for a level that fired, e.g. 'Escalated to our service manager at 10:42.'"""
    when = client_time(ticket, at)
    if first_level:
        return f"Paged {audience} again at {when}." if again else f"Paged {audience} at {when}."
    return f"Escalated to {audience} at {when}."


def public_acknowledged_text(ticket: Ticket, user: User, at: datetime) -> str:
    return f"Acknowledged by {user.first_name or user.display_name} at {client_time(ticket, at)}."


def page_routes(user: User) -> list[tuple[PageChannel, str]]:
    """Where a page to ``user`` goes: email, and a text when the user has a phone number — and
    a voice call to it too with FIRSTCALL_PAGE_BY_VOICE."""
    routes: list[tuple[PageChannel, str]] = []
    if user.email:
        routes.append((PageChannel.EMAIL, user.email))
    if phone := normalize_phone(user.phone):
        routes.append((PageChannel.SMS, phone))
        if settings.FIRSTCALL_PAGE_BY_VOICE:
            routes.append((PageChannel.PHONE, phone))
    return routes


def spoken_ticket_number(ticket: Ticket) -> str:
    """The ticket's number as a voice reads it clearly, digit by digit: '1 2 3' for T-000123
    (what "ack 123" by text takes, too)."""
    return " ".join(str(ticket.pk))


def spoken_page(ticket: Ticket, user: User) -> str:
    """What a page call says, in plain words (no abbreviations a voice would spell out)."""
    priority = ticket.priority.removeprefix("P")
    client = ticket.client.name if ticket.client is not None else "an unverified requester"
    subject = ticket.subject[:200].rstrip(" .")
    return (
        f"{user.first_name or user.display_name}, this is a page from {settings.FIRSTCALL_MSP_NAME}. "
        f"Ticket number {spoken_ticket_number(ticket)}, priority {priority}, for {client}: {subject}."
    )


@dataclass(frozen=True)
class LevelInWords:
    """A level as staff read it in a page: 'level 2 of 4: on call in Engineering on call'.
    Rank 0 is the last resort beyond the levels (the owners)."""

    rank: int
    count: int
    description: str

    def __str__(self) -> str:
        if self.rank == 0:
            return f"last resort: {self.description}"
        return f"level {self.rank} of {self.count}: {self.description}"


def console_url(ticket: Ticket) -> str:
    try:
        path = reverse("console:ticket_detail", kwargs={"number": ticket.number})
    except NoReverseMatch:
        return ""
    return settings.FIRSTCALL_PUBLIC_URL + path


def _context(ticket: Ticket, user: User, **extra: object) -> dict[str, object]:
    return {
        "ticket": ticket,
        "user": user,
        "console_url": console_url(ticket),
        "sms_number": settings.FIRSTCALL_SMS_FROM,
        "msp_name": settings.FIRSTCALL_MSP_NAME,
        **extra,
    }


def send_pages(
    escalation: Escalation,
    ticket: Ticket,
    *,
    level_position: int,
    round_number: int,
    level: LevelInWords,
    users: list[User],
    now: datetime,
) -> list[Page]:
    """Page each user on each of their channels; the deliveries go out after commit. The
    caller has claimed the step; the unique constraint on Page is the last guard."""
    pages: list[Page] = []
    for user in users:
        context = _context(ticket, user, escalation=escalation, level=level)
        spoken = spoken_page(ticket, user)
        for channel, address in page_routes(user):
            delivery = _queue_staff_message(
                ticket,
                channel,
                address,
                subject=f"[{ticket.number}] PAGE {ticket.priority}: {ticket.subject}",
                template="escalation/page",
                context=context,
                note=f"Paged {user.display_name} {HOW[channel]} ({level}).",
                now=now,
                spoken=spoken,
            )
            pages.append(
                Page.objects.create(
                    escalation=escalation,
                    level_position=level_position,
                    round=round_number,
                    user=user,
                    channel=channel,
                    delivery=delivery,
                    created_at=now,
                )
            )
    return pages


def send_warning(ticket: Ticket, user: User, *, reason: str, now: datetime) -> list[Delivery]:
    """Tell ``user`` (the assignee) that an SLA deadline is near, by email and text: a warning
    is not worth ringing someone's phone."""
    context = _context(ticket, user, reason=reason)
    return [
        _queue_staff_message(
            ticket,
            channel,
            address,
            subject=f"[{ticket.number}] SLA warning: {reason}",
            template="escalation/warning",
            context=context,
            note=f"Warned {user.display_name} {HOW[channel]}: {reason}.",
            now=now,
        )
        for channel, address in page_routes(user)
        if channel != PageChannel.PHONE
    ]


HOW = {PageChannel.EMAIL: "by email", PageChannel.SMS: "by text", PageChannel.PHONE: "by phone call"}


def _queue_staff_message(
    ticket: Ticket,
    channel: PageChannel,
    address: str,
    *,
    subject: str,
    template: str,
    context: dict[str, object],
    note: str,
    now: datetime,
    spoken: str = "",
) -> Delivery:
    """One message to a staff member: a staff-only timeline entry and its Delivery, sent after
    commit. ``template`` names ``<template>_email.txt`` and ``<template>_sms.txt``; a call says
    ``spoken`` (notify.voice adds the key to acknowledge)."""
    from_address, rfc_message_id = sender_and_message_id(channel)
    if channel == PageChannel.PHONE:
        if not spoken:
            raise ValueError("a voice call needs the words it says")
        subject = ""
        body = spoken
    elif channel == PageChannel.SMS:
        subject = ""
        body = render_to_string(f"{template}_sms.txt", context).strip()
    else:
        subject = subject[:300]
        body = render_to_string(f"{template}_email.txt", context)
    # A note, not an event: it names staff and where they were reached; the client reads only
    # the plain public line.
    message = add_message(
        ticket,
        kind=MessageKind.NOTE,
        channel=Channel(channel.value),
        body_text=note,
        subject=subject,
        # A reply to the email threads to the ticket (and, for a page, acknowledges it).
        rfc_message_id=rfc_message_id,
        actor=PAGER,
        created_at=now,
    )
    delivery = Delivery.objects.create(
        message=message,
        purpose=DeliveryPurpose.PAGE,
        channel=channel,
        to_address=address,
        from_address=from_address,
        subject=subject,
        body_text=body,
        rfc_message_id=rfc_message_id,
        # Machine-generated: out-of-office robots should not answer it.
        auto_submitted=True,
        created_at=now,
    )
    enqueue_delivery_on_commit(delivery.pk)
    return delivery
