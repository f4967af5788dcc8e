"""Read-only queries of the console, each a fixed number of SQL queries whatever the row count."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import F, Prefetch, QuerySet

from firstcall.accounts.models import User
from firstcall.clients.models import Contract, PhoneNumber
from firstcall.console.forms import (
    ALL_STATUSES,
    ASSIGNEE_ME,
    ASSIGNEE_NONE,
    OPEN_WORK,
    OPEN_WORK_STATUSES,
    SORT_PRIORITY,
)
from firstcall.escalation.engine import active_escalation
from firstcall.escalation.models import Escalation, EscalationLevel, Page
from firstcall.escalation.policies import ordered_levels
from firstcall.notify.models import Delivery
from firstcall.sla.models import SlaClock
from firstcall.tickets.models import (
    AuditEvent,
    Message,
    MessageKind,
    Ticket,
    format_ticket_number,
)

CANONICAL_NUMBER = re.compile(r"^T-(\d{6,})$")


def staff_users() -> list[User]:
    return list(User.objects.filter(is_active=True).order_by("first_name", "last_name", "username"))


def ticket_queue(filters: dict[str, Any], viewer: User) -> QuerySet[Ticket]:
    """Tickets matching the queue filters (cleaned data of TicketFilterForm), newest first; or,
    sorted by priority, P1 first and among equal priorities the costliest downtime first (no
    estimate last), then newest first."""
    tickets = Ticket.objects.select_related("client", "requester", "assignee")
    if filters.get("sort") == SORT_PRIORITY:
        # "P1" < "P2" < … as text: the stored values sort as the priorities do.
        tickets = tickets.order_by("priority", F("cost_per_hour").desc(nulls_last=True), "-created_at", "-id")
    else:
        tickets = tickets.order_by("-created_at", "-id")
    status = filters.get("status") or OPEN_WORK
    if status == OPEN_WORK:
        tickets = tickets.filter(status__in=OPEN_WORK_STATUSES)
    elif status != ALL_STATUSES:
        tickets = tickets.filter(status=status)
    if filters.get("client") is not None:
        tickets = tickets.filter(client=filters["client"])
    if filters.get("priority"):
        tickets = tickets.filter(priority=filters["priority"])
    if filters.get("channel"):
        tickets = tickets.filter(channel=filters["channel"])
    assignee = filters.get("assignee") or ""
    if assignee == ASSIGNEE_ME:
        tickets = tickets.filter(assignee=viewer)
    elif assignee == ASSIGNEE_NONE:
        tickets = tickets.filter(assignee__isnull=True)
    elif assignee:
        tickets = tickets.filter(assignee_id=int(assignee))
    return tickets


def ticket_id_from_number(number: str) -> int | None:
    """The id in a canonical ticket number ('T-000123'); None for anything else."""
    match = CANONICAL_NUMBER.match(number)
    if match is None:
        return None
    pk = int(match.group(1))
    return pk if format_ticket_number(pk) == number else None


def ticket_for_page(pk: int) -> Ticket | None:
    return (
        Ticket.objects.select_related("client", "requester", "requester__client", "assignee", "follows_up")
        .prefetch_related(
            Prefetch("requester__phone_numbers", queryset=PhoneNumber.objects.order_by("label", "number")),
            "participants",
            Prefetch("sla_clocks", queryset=SlaClock.objects.order_by("kind")),
        )
        .filter(pk=pk)
        .first()
    )


def active_contract(ticket: Ticket) -> Contract | None:
    return ticket.client.active_contract() if ticket.client is not None else None


@dataclass(frozen=True)
class TimelineEntry:
    message: Message
    # What to show first: for inbound mail the new text without the quoted history.
    text: str
    # The whole text when ``text`` is shorter than it (shown behind "show full message").
    full_text: str
    delivery: Delivery | None
    author: str

    @property
    def css_kind(self) -> str:
        return str(self.message.kind).replace("_", "-")


def _author(message: Message) -> str:
    if message.author_user is not None:
        return message.author_user.display_name
    if message.author_contact is not None:
        return str(message.author_contact)
    # Nobody wrote it: firstcall did (an acknowledgment, an event, a page's staff-only note).
    if message.kind in (MessageKind.AUTO_REPLY, MessageKind.EVENT, MessageKind.NOTE):
        return "System"
    return "Unknown sender"


def _delivery(message: Message) -> Delivery | None:
    try:
        return message.delivery
    except ObjectDoesNotExist:
        return None


def timeline(ticket: Ticket) -> list[TimelineEntry]:
    # Imported here: the email parser is its own module and need not load for other pages.
    from firstcall.intake.email_parser import trim_quoted_reply

    messages = (
        Message.objects.filter(ticket=ticket)
        .select_related("author_user", "author_contact", "delivery")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )
    entries = []
    for message in messages:
        full = message.body_text
        text = full
        if message.kind == MessageKind.INBOUND and full:
            trimmed = trim_quoted_reply(full)
            if trimmed.strip() and trimmed.strip() != full.strip():
                text = trimmed
        entries.append(
            TimelineEntry(
                message=message,
                text=text,
                full_text=full if text != full else "",
                delivery=_delivery(message),
                author=_author(message),
            )
        )
    return entries


def audit_trail(ticket: Ticket) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(ticket=ticket).select_related("actor_user", "actor_contact")


@dataclass(frozen=True)
class EscalationState:
    """What the ticket page shows of escalation: the running one with its pages and levels
    (those of its policy, in firing order), and the last one that stopped."""

    active: Escalation | None
    pages: list[Page]
    levels: list[EscalationLevel]
    last_stopped: Escalation | None


def escalation_state(ticket: Ticket) -> EscalationState:
    """Two queries without a running escalation, four with one, whatever the number of pages."""
    active = active_escalation(ticket.pk)
    pages: list[Page] = []
    levels: list[EscalationLevel] = []
    if active is not None:
        pages = list(
            Page.objects.filter(escalation=active)
            .select_related("user", "delivery")
            .order_by("created_at", "id")
        )
        levels = ordered_levels(active.policy_id)
    last_stopped = (
        Escalation.objects.filter(ticket=ticket, stopped_at__isnull=False)
        .select_related("policy", "acknowledged_by")
        .order_by("-stopped_at", "-id")
        .first()
    )
    return EscalationState(active=active, pages=pages, levels=levels, last_stopped=last_stopped)
