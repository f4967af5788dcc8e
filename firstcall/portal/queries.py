"""Read-only queries of the portal, each a fixed number of SQL queries whatever the number of
tickets, messages or files."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from firstcall.clients.models import Contract
from firstcall.portal.access import Viewer, public_message_kinds, visible_tickets
from firstcall.portal.explain import TargetTerms, contract_terms
from firstcall.reports.metrics import SlaPerformance, sla_performance
from firstcall.reports.periods import Period, PeriodChoice
from firstcall.tickets.models import DONE_STATUSES, OPEN_STATUSES, Message, MessageKind, Ticket
from firstcall.tickets.presentation import text_to_show

# The account page lists requests resolved or closed this recently.
RECENT_DAYS = 30
RECENT_LIMIT = 10
OPEN_LIMIT = 50


def tickets_for_list(viewer: Viewer, *, done: bool) -> QuerySet[Ticket]:
    """The viewer's open (or resolved and closed) requests, newest first, with what a row shows."""
    return (
        visible_tickets(viewer)
        .filter(status__in=DONE_STATUSES if done else OPEN_STATUSES)
        .select_related("client", "requester")
        .order_by("-created_at", "-id")
    )


def tickets_for_page() -> QuerySet[Ticket]:
    """A ticket with what its page shows (narrowed to the visible one by the caller)."""
    return Ticket.objects.select_related("client", "requester", "assignee", "follows_up")


@dataclass(frozen=True)
class Entry:
    """One public entry of a ticket's timeline, as the client reads it."""

    message: Message
    # What to show first: for inbound mail the new text without the quoted history.
    text: str
    # The whole text when ``text`` is shorter (behind "show the whole message").
    full_text: str
    author: str
    from_client: bool

    @property
    def css_kind(self) -> str:
        return str(self.message.kind).replace("_", "-")


def _author(message: Message) -> str:
    if message.author_contact is not None:
        return message.author_contact.name or message.author_contact.email
    if message.author_user is not None:
        # Staff by first name, as the client hears of them elsewhere ("Acknowledged by Bob").
        return message.author_user.first_name or message.author_user.display_name
    return f"{settings.FIRSTCALL_MSP_NAME} support"


def timeline(ticket: Ticket) -> list[Entry]:
    """The public timeline, oldest first: no internal notes. Two queries (messages, files)."""
    messages = (
        Message.objects.filter(ticket=ticket, kind__in=public_message_kinds())
        .select_related("author_user", "author_contact")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )
    entries = []
    for message in messages:
        text, full_text = text_to_show(message)
        entries.append(
            Entry(
                message=message,
                text=text,
                full_text=full_text,
                author=_author(message),
                from_client=message.kind == MessageKind.INBOUND,
            )
        )
    return entries


@dataclass(frozen=True)
class Account:
    """What a client admin's account page shows."""

    contract: Contract | None
    terms: list[TargetTerms]
    open_tickets: list[Ticket]
    # More open requests than the page lists (the ticket list has them all).
    more_open: bool
    recent_tickets: list[Ticket]
    period: Period
    performance: SlaPerformance


def account(viewer: Viewer, *, now: datetime | None = None) -> Account:
    """The client's contract and SLA terms, its open and recently finished requests, and its
    SLA performance this month (the MSP's calendar month, as on the staff dashboard)."""
    now = now or timezone.now()
    client = viewer.client
    open_tickets = list(
        Ticket.objects.filter(client=client, status__in=OPEN_STATUSES)
        .select_related("client", "requester")
        .order_by("-created_at", "-id")[: OPEN_LIMIT + 1]
    )
    recent = list(
        Ticket.objects.filter(
            client=client, status__in=DONE_STATUSES, resolved_at__gte=now - timedelta(days=RECENT_DAYS)
        )
        .select_related("client", "requester")
        .order_by("-resolved_at", "-id")[:RECENT_LIMIT]
    )
    period = PeriodChoice.THIS_MONTH.period(now)
    return Account(
        contract=client.active_contract(),
        terms=contract_terms(client),
        open_tickets=open_tickets[:OPEN_LIMIT],
        more_open=len(open_tickets) > OPEN_LIMIT,
        recent_tickets=recent,
        period=period,
        performance=sla_performance(start=period.start, end=period.end, client_id=client.pk, now=now),
    )
