"""Where a request stands, in plain words for the client: "A technician is working on it.",
"Escalated to our service manager at 10:42.", "Waiting for your reply.", "Resolved — reply to
reopen it."

Read from the ticket's status, its assignee and its running escalation. The escalation's words
are escalation's own (``escalation.pages.public_level_text`` and ``client_audience``), the same
sentence the client reads on the ticket's timeline when the level fires.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import JSONField, OuterRef, Subquery
from django.utils import timezone

from firstcall.escalation.models import Escalation, EscalationLevel
from firstcall.escalation.pages import client_audience, public_level_text
from firstcall.tickets.models import DONE_STATUSES, AuditEvent, Status, Ticket

# The audit row the escalation writes each time a level fires: which level (None when every
# level was empty and the owners were paged) and in which round.
LEVEL_FIRED = "escalation_level_fired"


@dataclass(frozen=True)
class Progress:
    text: str
    # For styling and tests: received, working, escalated, waiting, resolved, closed.
    stage: str


@dataclass(frozen=True)
class _Fired:
    policy_id: int
    level_position: int | None
    again: bool
    at: datetime


def _fired_levels(ticket_ids: list[int]) -> dict[int, _Fired]:
    """The level that fired last in each ticket's running escalation. One query."""
    latest = AuditEvent.objects.filter(
        ticket_id=OuterRef("ticket_id"), action=LEVEL_FIRED, created_at__gte=OuterRef("started_at")
    ).order_by("-created_at", "-id")
    rows = (
        Escalation.objects.filter(ticket_id__in=ticket_ids, stopped_at__isnull=True)
        .annotate(
            fired_at=Subquery(latest.values("created_at")[:1]),
            fired_before=Subquery(latest.values("before")[:1], output_field=JSONField()),
            fired_after=Subquery(latest.values("after")[:1], output_field=JSONField()),
        )
        .filter(fired_at__isnull=False)
        .values("ticket_id", "policy_id", "fired_at", "fired_before", "fired_after")
    )
    fired: dict[int, _Fired] = {}
    for row in rows:
        before: dict[str, Any] = row["fired_before"] or {}
        after: dict[str, Any] = row["fired_after"] or {}
        fired[row["ticket_id"]] = _Fired(
            policy_id=row["policy_id"],
            level_position=after.get("fired_level"),
            again=bool(before.get("round")),
            at=row["fired_at"],
        )
    return fired


def _levels_by_policy(policy_ids: set[int]) -> dict[int, list[EscalationLevel]]:
    """Each policy's levels in firing order. One query (none without policies)."""
    levels: dict[int, list[EscalationLevel]] = {policy_id: [] for policy_id in policy_ids}
    if policy_ids:
        for level in (
            EscalationLevel.objects.filter(policy_id__in=policy_ids)
            .select_related("target_user")
            .order_by("policy_id", "position")
        ):
            levels[level.policy_id].append(level)
    return levels


def _escalation_text(ticket: Ticket, fired: _Fired, levels: list[EscalationLevel]) -> str:
    level = next((lvl for lvl in levels if lvl.position == fired.level_position), None)
    first_level = level is not None and bool(levels) and level.position == levels[0].position
    return public_level_text(
        ticket, client_audience(level), fired.at, first_level=first_level, again=fired.again
    )


def _closed_text(ticket: Ticket, now: datetime) -> str:
    window = timedelta(days=settings.FIRSTCALL_REOPEN_CLOSED_WITHIN_DAYS)
    if ticket.closed_at is not None and now - ticket.closed_at > window:
        return "Closed — a reply starts a new request."
    return "Closed — reply to reopen it."


def progress_of(tickets: Sequence[Ticket], *, now: datetime | None = None) -> dict[int, Progress]:
    """Each ticket's progress by id: at most two queries, whatever the number of tickets. The
    tickets should come with their client (their times read in its zone)."""
    now = now or timezone.now()
    unfinished = [ticket.pk for ticket in tickets if ticket.status not in DONE_STATUSES]
    fired = _fired_levels(unfinished) if unfinished else {}
    levels = _levels_by_policy({f.policy_id for f in fired.values()})
    progress: dict[int, Progress] = {}
    for ticket in tickets:
        status = Status(ticket.status)
        if status == Status.RESOLVED:
            progress[ticket.pk] = Progress("Resolved — reply to reopen it.", "resolved")
        elif status == Status.CLOSED:
            progress[ticket.pk] = Progress(_closed_text(ticket, now), "closed")
        elif status == Status.WAITING_ON_CLIENT:
            progress[ticket.pk] = Progress("Waiting for your reply.", "waiting")
        elif ticket.pk in fired:
            record = fired[ticket.pk]
            progress[ticket.pk] = Progress(
                _escalation_text(ticket, record, levels[record.policy_id]), "escalated"
            )
        elif ticket.assignee_id is not None or status == Status.OPEN:
            progress[ticket.pk] = Progress("A technician is working on it.", "working")
        else:
            progress[ticket.pk] = Progress("Received — a technician will pick it up shortly.", "received")
    return progress


@dataclass(frozen=True)
class RequestRow:
    """A request in a list, with its progress."""

    ticket: Ticket
    progress: Progress


def rows_with_progress(tickets: Sequence[Ticket], *, now: datetime | None = None) -> list[RequestRow]:
    progress = progress_of(tickets, now=now)
    return [RequestRow(ticket, progress[ticket.pk]) for ticket in tickets]
