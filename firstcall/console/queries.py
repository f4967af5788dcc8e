"""Read-only queries of the console, each a fixed number of SQL queries whatever the row count."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core import paginator
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.utils import timezone

from firstcall.accounts.models import User
from firstcall.clients.models import Client, Contract, PhoneNumber
from firstcall.console.forms import (
    ALL_STATUSES,
    ASSIGNEE_ME,
    ASSIGNEE_NONE,
    OPEN_WORK,
    SORT_NEWEST,
    SORT_PRIORITY,
    URGENT_PRIORITIES,
)
from firstcall.escalation.models import Escalation, EscalationLevel, Page
from firstcall.escalation.policies import ordered_levels
from firstcall.notify.models import Delivery
from firstcall.sla.models import SlaClock
from firstcall.tickets.models import (
    OPEN_STATUSES,
    AuditEvent,
    Message,
    MessageKind,
    Ticket,
    format_ticket_number,
)
from firstcall.tickets.presentation import text_to_show
from firstcall.triage.priority import Priority

CANONICAL_NUMBER = re.compile(r"^T-(\d{6,})$")


def staff_users() -> list[User]:
    return list(User.objects.filter(is_active=True).order_by("first_name", "last_name", "username"))


# A running SLA clock due within this long counts as about to breach: it goes to the top.
ABOUT_TO_BREACH = timedelta(minutes=30)


class Attention:
    """The queue's first ordering key: past an SLA deadline, about to be, or neither."""

    BREACHED = 0
    ABOUT_TO_BREACH = 1
    ON_TRACK = 2


def with_attention(tickets: QuerySet[Ticket], now: datetime) -> QuerySet[Ticket]:
    """Annotate ``attention`` from the ticket's earliest running SLA deadline (``sla_due_at``:
    paused and stopped clocks are not in it)."""
    return tickets.annotate(
        attention=Case(
            When(sla_due_at__lte=now, then=Value(Attention.BREACHED)),
            When(sla_due_at__lte=now + ABOUT_TO_BREACH, then=Value(Attention.ABOUT_TO_BREACH)),
            default=Value(Attention.ON_TRACK),
            output_field=IntegerField(),
        )
    )


def ticket_queue(filters: dict[str, Any], viewer: User, now: datetime | None = None) -> QuerySet[Ticket]:
    """Tickets matching the queue filters (cleaned data of TicketFilterForm) in the chosen order.

    The default order is what needs a human next: past an SLA deadline first, then about to
    be (within ABOUT_TO_BREACH), then the rest; within each, P1 first, then the costliest
    downtime (no estimate last), then the nearest deadline, then the longest waiting. The
    other orders: priority then cost (ignoring deadlines), or newest first.
    """
    now = now or timezone.now()
    tickets = with_attention(Ticket.objects.select_related("client", "requester", "assignee"), now)
    # "P1" < "P2" < … as text: the stored values sort as the priorities do.
    costliest_first = F("cost_per_hour").desc(nulls_last=True)
    sort = filters.get("sort")
    if sort == SORT_PRIORITY:
        tickets = tickets.order_by("priority", costliest_first, "-created_at", "-id")
    elif sort == SORT_NEWEST:
        tickets = tickets.order_by("-created_at", "-id")
    else:
        tickets = tickets.order_by(
            "attention", "priority", costliest_first, F("sla_due_at").asc(nulls_last=True), "created_at", "id"
        )
    status = filters.get("status") or OPEN_WORK
    if status == OPEN_WORK:
        tickets = tickets.filter(status__in=OPEN_STATUSES)
    elif status != ALL_STATUSES:
        tickets = tickets.filter(status=status)
    if filters.get("client") is not None:
        tickets = tickets.filter(client=filters["client"])
    priority = filters.get("priority") or ""
    if priority == URGENT_PRIORITIES:
        tickets = tickets.filter(priority__in=(Priority.P1, Priority.P2))
    elif priority:
        tickets = tickets.filter(priority=priority)
    if filters.get("channel"):
        tickets = tickets.filter(channel=filters["channel"])
    if filters.get("team"):
        tickets = tickets.filter(team=filters["team"])
    assignee = filters.get("assignee") or ""
    if assignee == ASSIGNEE_ME:
        tickets = tickets.filter(assignee=viewer)
    elif assignee == ASSIGNEE_NONE:
        tickets = tickets.filter(assignee__isnull=True)
    elif assignee:
        tickets = tickets.filter(assignee_id=int(assignee))
    return tickets


def rows_of_page(queue: QuerySet[Ticket], page: paginator.Page[Ticket]) -> list[Ticket]:
    """The page's tickets with their client, requester and assignee. The page's ids are chosen
    first (a sort over the ticket table alone) and only those rows joined: joining all open
    work before sorting it cost several times more on 10,000 open tickets."""
    chosen = page.object_list
    assert isinstance(chosen, QuerySet)  # a Paginator over a QuerySet pages by slicing it
    return list(queue.filter(pk__in=Subquery(chosen.values("pk"))))


def client_choices() -> list[tuple[int, str]]:
    """Every client as (id, name), by name: the queue's client filter."""
    return list(Client.objects.order_by("name", "id").values_list("id", "name"))


def open_ticket_teams() -> list[str]:
    """The teams that open work is routed to (by triage rules or an escalation to engineering)."""
    return list(
        Ticket.objects.filter(status__in=OPEN_STATUSES)
        .exclude(team="")
        .order_by("team")
        .values_list("team", flat=True)
        .distinct()
    )


def ticket_id_from_number(number: str) -> int | None:
    """The id in a canonical ticket number ('T-000123'); None for anything else."""
    match = CANONICAL_NUMBER.match(number)
    if match is None:
        return None
    pk = int(match.group(1))
    return pk if format_ticket_number(pk) == number else None


def ticket_for_page(pk: int) -> Ticket | None:
    return (
        # follows_up and merged_into are shown by number, from their ids: not joined.
        Ticket.objects.select_related(
            "client", "requester", "requester__client", "assignee", "verification__outcome_by"
        )
        .prefetch_related(
            Prefetch("requester__phone_numbers", queryset=PhoneNumber.objects.order_by("label", "number")),
            Prefetch("client__phone_numbers", queryset=PhoneNumber.objects.order_by("label", "number")),
            "participants",
            Prefetch("sla_clocks", queryset=SlaClock.objects.order_by("kind")),
        )
        .filter(pk=pk)
        .first()
    )


RECENT_TICKETS = 5


def recent_client_tickets(ticket: Ticket) -> list[Ticket]:
    """The client's latest other tickets, for the client card (none without a client)."""
    if ticket.client_id is None:
        return []
    return list(
        Ticket.objects.filter(client_id=ticket.client_id)
        .exclude(pk=ticket.pk)
        .only("id", "subject", "status", "priority", "created_at")
        .order_by("-created_at", "-id")[:RECENT_TICKETS]
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


# The ticket page shows this many of the newest timeline entries; the earlier ones come with
# "Show earlier entries" (a long email thread would otherwise make the page slow to render and
# to read).
TIMELINE_NEWEST = 30


@dataclass(frozen=True)
class Timeline:
    """Timeline entries, oldest first, and how many earlier entries there are besides them."""

    entries: list[TimelineEntry]
    earlier: int


def _timeline_messages(ticket_id: int) -> QuerySet[Message]:
    return (
        Message.objects.filter(ticket_id=ticket_id)
        .select_related("author_user", "author_contact", "delivery")
        .prefetch_related("attachments")
    )


def _entry(message: Message) -> TimelineEntry:
    text, full_text = text_to_show(message)
    return TimelineEntry(
        message=message, text=text, full_text=full_text, delivery=_delivery(message), author=_author(message)
    )


def timeline(ticket: Ticket, newest: int | None = TIMELINE_NEWEST) -> Timeline:
    """The ticket's ``newest`` latest entries (all of them with None), oldest first. Two queries
    (the messages with their authors and deliveries and, in the same statement, how many the
    ticket has; their attachments) whatever the length of the timeline."""
    if newest is None:
        entries = [_entry(m) for m in _timeline_messages(ticket.pk).order_by("created_at", "id")]
        return Timeline(entries=entries, earlier=0)
    latest = list(
        _timeline_messages(ticket.pk)
        .annotate(timeline_length=Window(Count("id")))
        .order_by("-created_at", "-id")[:newest]
    )
    latest.reverse()
    length = latest[0].timeline_length if latest else 0
    return Timeline(entries=[_entry(m) for m in latest], earlier=length - len(latest))


def timeline_before(ticket_id: int, message_id: int) -> list[TimelineEntry] | None:
    """The entries before the ticket's message ``message_id`` (the earliest one a page shows),
    oldest first; None when the ticket has no such message. Three queries (that message's
    time, the entries, their attachments) whatever their number."""
    anchor = (
        Message.objects.filter(ticket_id=ticket_id, pk=message_id)
        .values_list("created_at", flat=True)
        .first()
    )
    if anchor is None:
        return None
    earlier = _timeline_messages(ticket_id).filter(
        Q(created_at__lt=anchor) | Q(created_at=anchor, id__lt=message_id)
    )
    return [_entry(m) for m in earlier.order_by("created_at", "id")]


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
    """One query without a running escalation (the running one and the last stopped one
    together), three with one (its pages, its policy's levels), whatever the number of pages."""
    last_stopped_id = (
        Escalation.objects.filter(ticket=ticket, stopped_at__isnull=False)
        .order_by("-stopped_at", "-id")
        .values("id")[:1]
    )
    escalations = list(
        Escalation.objects.filter(ticket=ticket)
        .filter(Q(stopped_at__isnull=True) | Q(pk=Subquery(last_stopped_id)))
        .select_related("policy", "acknowledged_by")
        .order_by("-started_at", "-id")
    )
    active = next((escalation for escalation in escalations if escalation.stopped_at is None), None)
    last_stopped = next((escalation for escalation in escalations if escalation.stopped_at is not None), None)
    pages: list[Page] = []
    levels: list[EscalationLevel] = []
    if active is not None:
        pages = list(
            Page.objects.filter(escalation=active)
            .select_related("user", "delivery")
            .order_by("created_at", "id")
        )
        levels = ordered_levels(active.policy_id)
    return EscalationState(active=active, pages=pages, levels=levels, last_stopped=last_stopped)
