"""What a page says and how it goes out: one Page row, one staff-only timeline entry and one
notify Delivery per person and channel, written in bulk for a whole batch of steps (``Timeline``);
and the plain words the client reads on the timeline.

The wording the client sees is all here, in ``CLIENT_AUDIENCE`` and the ``public_*`` functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.text import Truncator

from firstcall.accounts.models import Role, User
from firstcall.clients.models import normalize_phone
from firstcall.escalation.models import Escalation, EscalationLevel, Page, PageChannel, TargetKind
from firstcall.notify.models import Delivery, DeliveryPurpose
from firstcall.notify.outbound import enqueue_deliveries_on_commit, sender_and_message_id
from firstcall.tickets.actions import Actor, audit_row, message_row
from firstcall.tickets.models import (
    AuditEvent,
    Channel,
    Message,
    MessageKind,
    Ticket,
    format_ticket_number,
)

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


def page_email_text(
    ticket: Ticket, user: User, escalation: Escalation, level: LevelInWords, *, url: str
) -> str:
    """The body of a page email, ``url`` the ticket's console link (or ""). Written out here,
    not a template: a burst renders a thousand of them, and the template engine took a tenth
    of the worker's time to fire a step."""
    client = ticket.client.name if ticket.client is not None and ticket.client.name else ""
    assignee = (
        f", assigned to {ticket.assignee.display_name}" if ticket.assignee is not None else ", unassigned"
    )
    repeat = f" (repeat {escalation.round})" if escalation.round else ""
    console = f", or\n  - press Acknowledge on {url}" if url else ""
    return (
        f"{user.first_name or user.username}, you are paged for {ticket.number} "
        f"({ticket.get_priority_display()}): {escalation.reason}.\n"
        "\n"
        f"  Client:    {client or '(no client: unverified requester)'}\n"
        f"  Requester: {ticket.requester}\n"
        f"  Subject:   {ticket.subject}\n"
        f"  Status:    {ticket.get_status_display()}{assignee}\n"
        f"  Level:     {level}{repeat}\n"
        "\n"
        "The escalation goes on to the next level until someone acknowledges it. To acknowledge:\n"
        "  - reply to this email (any text), or\n"
        f'  - text "ACK {ticket.number}" to {settings.FIRSTCALL_SMS_FROM}{console}\n'
        "\n"
        f"— {settings.FIRSTCALL_MSP_NAME} escalation\n\n"
    )


def page_sms_text(ticket: Ticket, escalation: Escalation) -> str:
    """The text of a page (see ``page_email_text`` for why it is not a template)."""
    client = f" {ticket.client.name}" if ticket.client is not None else ""
    subject = Truncator(ticket.subject).chars(60)
    return (
        f"PAGE {ticket.number} {ticket.priority}{client}: {subject} ({escalation.reason}). "
        f"Reply ACK {ticket.number} to acknowledge."
    ).strip()


def console_url(ticket: Ticket) -> str:
    return _console_url(ticket.number)


def _console_url(number: str) -> str:
    try:
        path = reverse("console:ticket_detail", kwargs={"number": number})
    except NoReverseMatch:
        return ""
    return settings.FIRSTCALL_PUBLIC_URL + path


# Every ticket's console link is this one's with its own number (a burst's pages reverse() once).
_SOME_NUMBER = format_ticket_number(0)


def _context(ticket: Ticket, user: User, **extra: object) -> dict[str, object]:
    return {
        "ticket": ticket,
        "user": user,
        "console_url": console_url(ticket),
        "sms_number": settings.FIRSTCALL_SMS_FROM,
        "msp_name": settings.FIRSTCALL_MSP_NAME,
        **extra,
    }


@dataclass(frozen=True)
class PageOrder:
    """One fired step's pages: ``users`` at level ``level_position`` of round ``round_number``."""

    escalation: Escalation
    ticket: Ticket
    level_position: int
    round_number: int
    level: LevelInWords
    users: list[User]


HOW = {PageChannel.EMAIL: "by email", PageChannel.SMS: "by text", PageChannel.PHONE: "by phone call"}


class Timeline:
    """What escalation writes for any number of tickets at once — staff-only notes, the client's
    public lines, messages to staff with their deliveries, pages, audit events — kept in memory
    and written by ``write()`` with one INSERT per table, inside the caller's transaction. Rows
    go in the order they were added, so each ticket's timeline reads exactly as if written one
    entry at a time; every entry is stamped with the moment ``now`` the steps fired. The
    deliveries are handed to the outbox after commit.

    It writes the rows ``tickets.actions.add_message`` and ``audit`` would (a system actor: no
    author), and moves each ticket's ``updated_at`` as they do."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._messages: list[Message] = []
        self._deliveries: list[tuple[Message, Delivery]] = []
        self._pages: list[tuple[Delivery, Page]] = []
        self._audit: list[AuditEvent] = []
        self._tickets: dict[int, Ticket] = {}
        self._console_link = _console_url(_SOME_NUMBER)

    def note(
        self,
        ticket: Ticket,
        text: str,
        *,
        channel: Channel = Channel.CONSOLE,
        subject: str = "",
        rfc_message_id: str = "",
    ) -> Message:
        """A staff-only line (it may name people and where they were reached)."""
        return self._add(ticket, MessageKind.NOTE, channel, text, self.now, subject, rfc_message_id)

    def event(self, ticket: Ticket, text: str) -> Message:
        """A line the client reads, e.g. 'Escalated to our on-call engineer at 10:42.'"""
        return self._add(ticket, MessageKind.EVENT, Channel.CONSOLE, text, self.now, "", "")

    def audit(
        self,
        ticket: Ticket,
        action: str,
        *,
        field: str = "",
        before: Any = None,
        after: Any = None,
        reason: str = "",
    ) -> None:
        self._audit.append(
            audit_row(ticket, PAGER, action, field=field, before=before, after=after, reason=reason)
        )

    def pages(self, order: PageOrder) -> list[Page]:
        """Page each of the order's users on each of their channels."""
        ticket = order.ticket
        subject = f"[{ticket.number}] PAGE {ticket.priority}: {ticket.subject}"
        text = page_sms_text(ticket, order.escalation)
        pages: list[Page] = []
        for user in order.users:
            for channel, address in page_routes(user):
                if channel == PageChannel.EMAIL:
                    url = self._console_link.replace(_SOME_NUMBER, ticket.number)
                    body = page_email_text(ticket, user, order.escalation, order.level, url=url)
                else:
                    body = text if channel == PageChannel.SMS else spoken_page(ticket, user)
                delivery = self.staff_message(
                    ticket,
                    channel,
                    address,
                    subject=subject,
                    body=body,
                    note=f"Paged {user.display_name} {HOW[channel]} ({order.level}).",
                )
                page = Page(
                    escalation=order.escalation,
                    level_position=order.level_position,
                    round=order.round_number,
                    user=user,
                    channel=channel,
                    created_at=self.now,
                )
                self._pages.append((delivery, page))
                pages.append(page)
        return pages

    def staff_message(
        self, ticket: Ticket, channel: PageChannel, address: str, *, subject: str, body: str, note: str
    ) -> Delivery:
        """One message to a staff member: a staff-only timeline entry and its Delivery, sent after
        commit. ``body`` is what the channel carries: an email's text, a text message, or the
        words a call says (notify.voice adds the key to acknowledge); only an email has a
        subject."""
        if not body:
            raise ValueError(f"a {channel.label.lower()} needs something to say")
        from_address, rfc_message_id = sender_and_message_id(channel)
        subject = subject[:300] if channel == PageChannel.EMAIL else ""
        # A note, not an event: it names staff and where they were reached; the client reads only
        # the plain public line. A reply to the email threads to the ticket (and, for a page,
        # acknowledges it).
        message = self.note(
            ticket, note, channel=Channel(channel.value), subject=subject, rfc_message_id=rfc_message_id
        )
        delivery = Delivery(
            purpose=DeliveryPurpose.PAGE,
            channel=channel,
            to_address=address,
            from_address=from_address,
            subject=subject,
            body_text=body,
            rfc_message_id=rfc_message_id,
            # Machine-generated: out-of-office robots should not answer it.
            auto_submitted=True,
            created_at=self.now,
        )
        self._deliveries.append((message, delivery))
        return delivery

    def write(self) -> None:
        """Insert everything added so far (one statement per table) and send the deliveries
        once the caller's transaction commits."""
        Message.objects.bulk_create(self._messages)
        for message, delivery in self._deliveries:
            delivery.message = message
        Delivery.objects.bulk_create(delivery for _, delivery in self._deliveries)
        for delivery, page in self._pages:
            page.delivery = delivery
        Page.objects.bulk_create(page for _, page in self._pages)
        AuditEvent.objects.bulk_create(self._audit)
        self._move_updated_at()
        enqueue_deliveries_on_commit([delivery.pk for _, delivery in self._deliveries])
        self._messages, self._deliveries, self._pages, self._audit = [], [], [], []
        self._tickets = {}

    def _add(
        self,
        ticket: Ticket,
        kind: MessageKind,
        channel: Channel,
        text: str,
        at: datetime,
        subject: str,
        rfc_message_id: str,
    ) -> Message:
        message = message_row(
            ticket,
            kind=kind,
            channel=channel,
            body_text=text,
            actor=PAGER,
            at=at,
            subject=subject,
            rfc_message_id=rfc_message_id,
        )
        self._messages.append(message)
        self._tickets[ticket.pk] = ticket
        return message

    def _move_updated_at(self) -> None:
        """Each ticket's ``updated_at`` moves to its newest entry (never back): one UPDATE per
        distinct moment — one in all, as every entry is stamped with the batch's moment."""
        newest: dict[int, datetime] = {}
        for message in self._messages:
            newest[message.ticket_id] = max(
                message.created_at, newest.get(message.ticket_id, message.created_at)
            )
        by_moment: dict[datetime, list[int]] = {}
        for ticket_id, at in newest.items():
            ticket = self._tickets[ticket_id]
            if ticket.updated_at is None or at > ticket.updated_at:
                by_moment.setdefault(at, []).append(ticket_id)
                ticket.updated_at = at
        for at, ticket_ids in by_moment.items():
            Ticket.objects.filter(pk__in=ticket_ids).filter(
                Q(updated_at__lt=at) | Q(updated_at__isnull=True)
            ).update(updated_at=at)


def send_warning(ticket: Ticket, user: User, *, reason: str, now: datetime) -> list[Delivery]:
    """Tell ``user`` (the assignee) that an SLA deadline is near, by email and text: a warning
    is not worth ringing someone's phone."""
    context = _context(ticket, user, reason=reason)
    bodies = {
        PageChannel.EMAIL: render_to_string("escalation/warning_email.txt", context),
        PageChannel.SMS: render_to_string("escalation/warning_sms.txt", context).strip(),
    }
    timeline = Timeline(now)
    deliveries = [
        timeline.staff_message(
            ticket,
            channel,
            address,
            subject=f"[{ticket.number}] SLA warning: {reason}",
            body=bodies[channel],
            note=f"Warned {user.display_name} {HOW[channel]}: {reason}.",
        )
        for channel, address in page_routes(user)
        if channel != PageChannel.PHONE
    ]
    timeline.write()
    return deliveries
