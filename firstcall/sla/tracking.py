"""A ticket's stored SLA clocks, kept in step with its history, and what happens at their
moments: at 75 % of a target the assignee is warned, at the target escalation starts.

``sync_clocks`` is called by every ticket action that can move a clock (open, status change,
staff reply, priority change); it recomputes the clocks from the history (``clocks``) and stores
them with their next moment (``next_check_at``, indexed). A Huey task is scheduled at that moment,
and the minute sweep reads only rows whose moment has come, so a stopped worker delays a page by
at most a minute after it is back. ``check_clock`` re-reads under a row lock and acts only if the
moment is still due: safe to run twice, late, or on two workers at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from firstcall.sla.clocks import ClockState, clock_state, running_segments
from firstcall.sla.models import ClockKind, SlaClock
from firstcall.sla.targets import SlaTargets, targets_for
from firstcall.tickets.models import DONE_STATUSES, AuditEvent, Message, MessageKind, Ticket

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TicketHistory:
    """What the clocks are computed from, besides the ticket row itself."""

    status_changes: tuple[tuple[datetime, str], ...]
    last_staff_reply_at: datetime | None
    # A ticket opened in this transaction: it has no stored clocks to look up.
    new_ticket: bool = False

    @classmethod
    def of_new_ticket(cls) -> TicketHistory:
        return cls((), None, new_ticket=True)

    @classmethod
    def load(cls, ticket: Ticket) -> TicketHistory:
        """Two queries: the status changes and the latest public reply by staff."""
        changes = tuple(
            (at, str(after))
            for at, after in AuditEvent.objects.filter(ticket=ticket, action="status_changed")
            .order_by("created_at", "id")
            .values_list("created_at", "after")
        )
        last_reply = (
            Message.objects.filter(ticket=ticket, kind=MessageKind.REPLY, author_user__isnull=False)
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        return cls(changes, last_reply)


def compute_clocks(ticket: Ticket, targets: SlaTargets, history: TicketHistory) -> list[ClockState]:
    """The ticket's clocks as its history and today's targets say they stand."""
    calendar = targets.calendar
    segments = running_segments(ticket.created_at, history.status_changes)
    resolved_at = ticket.resolved_at if ticket.status in DONE_STATUSES else None
    states = [
        clock_state(
            ClockKind.FIRST_RESPONSE,
            calendar,
            targets.first_response_minutes,
            segments,
            started_at=ticket.created_at,
            stopped_at=ticket.first_response_at or resolved_at,
        )
    ]
    if targets.next_update_minutes and ticket.first_response_at is not None:
        since = max(ticket.first_response_at, history.last_staff_reply_at or ticket.first_response_at)
        states.append(
            clock_state(
                ClockKind.NEXT_UPDATE,
                calendar,
                targets.next_update_minutes,
                running_segments(ticket.created_at, history.status_changes, since=since),
                started_at=since,
                stopped_at=resolved_at,
            )
        )
    if targets.resolution_minutes:
        states.append(
            clock_state(
                ClockKind.RESOLUTION,
                calendar,
                targets.resolution_minutes,
                segments,
                started_at=ticket.created_at,
                stopped_at=resolved_at,
            )
        )
    return states


def _next_check(clock: SlaClock) -> datetime | None:
    if clock.stopped_at is not None or clock.paused:
        return None
    moments = []
    if clock.warn_at is not None and clock.warned_at is None:
        moments.append(clock.warn_at)
    if clock.due_at is not None and clock.breached_at is None:
        moments.append(clock.due_at)
    return min(moments, default=None)


def _apply_state(clock: SlaClock, state: ClockState, targets: SlaTargets, now: datetime) -> None:
    if state.due_at != clock.due_at and state.due_at is not None and state.due_at > now:
        # A new deadline in the future (a resumed clock, a new target): warn and escalate again.
        clock.warned_at = None
        clock.breached_at = None
    clock.target_minutes = state.target_minutes
    clock.calendar_name = targets.calendar_name
    clock.business_hours = not targets.calendar.always_open
    clock.started_at = state.started_at
    clock.due_at = state.due_at
    clock.warn_at = state.warn_at
    clock.stopped_at = state.stopped_at
    clock.paused = state.paused
    clock.next_check_at = _next_check(clock)


CLOCK_FIELDS = [
    "target_minutes",
    "calendar_name",
    "business_hours",
    "started_at",
    "due_at",
    "warn_at",
    "stopped_at",
    "paused",
    "warned_at",
    "breached_at",
    "next_check_at",
]


def sync_clocks(
    ticket: Ticket,
    *,
    history: TicketHistory | None = None,
    targets: SlaTargets | None = None,
    states: list[ClockState] | None = None,
) -> list[SlaClock]:
    """Recompute and store the ticket's clocks, the ticket's own due times, and schedule a
    check at each clock's next moment. Call inside the transaction of the change. ``states``:
    the clocks just computed from this ``history`` and ``targets`` (a new ticket's, computed
    before its row was inserted), so they are not computed twice."""
    now = timezone.now()
    targets = targets or targets_for(ticket.client_id, ticket.priority)
    history = history or TicketHistory.load(ticket)
    states = states if states is not None else compute_clocks(ticket, targets, history)
    existing = {} if history.new_ticket else {c.kind: c for c in SlaClock.objects.filter(ticket=ticket)}
    to_create, to_update, moved = [], [], []
    for state in states:
        clock = existing.pop(state.kind, None)
        if clock is None:
            clock = SlaClock(ticket=ticket, kind=state.kind)
            to_create.append(clock)
        else:
            to_update.append(clock)
        before = clock.next_check_at
        _apply_state(clock, state, targets, now)
        if clock.next_check_at != before:
            moved.append(clock)
    if to_create:
        SlaClock.objects.bulk_create(to_create)
    if to_update:
        SlaClock.objects.bulk_update(to_update, CLOCK_FIELDS)
    if existing:  # a clock the targets no longer have (e.g. no next-update target any more)
        SlaClock.objects.filter(pk__in=[c.pk for c in existing.values()]).delete()
    clocks = to_create + to_update
    _store_ticket_due_times(ticket, clocks)
    # A task per new moment; one already scheduled for an unchanged moment still stands.
    _schedule_checks(moved)
    return clocks


def ticket_due_times(clocks: Sequence[ClockState | SlaClock]) -> tuple[datetime | None, datetime | None]:
    """What the ticket row mirrors of its clocks: the first-response due time (for the
    acknowledgment and lists) and the earliest due time of its running clocks (the queue's order)."""
    first_response = next((c for c in clocks if c.kind == ClockKind.FIRST_RESPONSE), None)
    first_response_due = first_response.due_at if first_response else None
    running = [c.due_at for c in clocks if c.due_at is not None and c.stopped_at is None and not c.paused]
    return first_response_due, min(running, default=None)


def _store_ticket_due_times(ticket: Ticket, clocks: Sequence[SlaClock]) -> None:
    first_response_due, sla_due = ticket_due_times(clocks)
    if (ticket.first_response_due_at, ticket.sla_due_at) != (first_response_due, sla_due):
        Ticket.objects.filter(pk=ticket.pk).update(
            first_response_due_at=first_response_due, sla_due_at=sla_due
        )
        ticket.first_response_due_at = first_response_due
        ticket.sla_due_at = sla_due


def _schedule_checks(clocks: Sequence[SlaClock]) -> None:
    from firstcall.sla.tasks import check_sla_clock

    for clock in clocks:
        if clock.next_check_at is not None:
            transaction.on_commit(partial(check_sla_clock.schedule, (clock.pk,), eta=clock.next_check_at))


def check_clock(clock_id: int, *, now: datetime | None = None) -> str | None:
    """Act on a clock whose moment has come: warn at 75 %, escalate at the target. Returns what
    was done ("warned", "breached") or None when nothing was due (run twice, run late, moved)."""
    from firstcall.escalation.engine import escalate_now, warn_assignee

    now = now or timezone.now()
    with transaction.atomic():
        clock = (
            SlaClock.objects.select_for_update(of=("self",))
            .select_related("ticket__client", "ticket__assignee")
            .filter(pk=clock_id, next_check_at__lte=now)
            .first()
        )
        if clock is None:
            return None
        ticket = clock.ticket
        done = None
        what = ClockKind(clock.kind).label.lower()
        if clock.due_at is not None and clock.due_at <= now and clock.breached_at is None:
            clock.breached_at = now
            clock.warned_at = clock.warned_at or now
            done = "breached"
            escalate_now(ticket, reason=f"{what} target missed")
        elif clock.warn_at is not None and clock.warn_at <= now and clock.warned_at is None:
            clock.warned_at = now
            done = "warned"
            warn_assignee(ticket, reason=f"{what} due {_local(clock.due_at, ticket)}")
        clock.next_check_at = _next_check(clock)
        clock.save(update_fields=["warned_at", "breached_at", "next_check_at"])
        if clock.next_check_at is not None:
            _schedule_checks([clock])
    return done


def _local(moment: datetime | None, ticket: Ticket) -> str:
    if moment is None:
        return "(paused)"
    zone = ticket.time_zone
    return f"{moment.astimezone(zone):%a %d %b %H:%M} ({zone.key})"


def due_clock_ids(now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Clocks whose moment has come — read through the partial index on next_check_at."""
    now = now or timezone.now()
    return list(
        SlaClock.objects.filter(next_check_at__lte=now)
        .order_by("next_check_at")
        .values_list("pk", flat=True)[:limit]
    )


def sweep_clocks(now: datetime | None = None) -> int:
    """Act on every clock whose moment has come (catches what a stopped worker missed)."""
    done = 0
    for clock_id in due_clock_ids(now):
        if check_clock(clock_id, now=now):
            done += 1
    return done


def verify_clocks(ticket: Ticket) -> list[str]:
    """Differences between the stored clocks and the clocks recomputed from the history;
    empty when they agree."""
    targets = targets_for(ticket.client_id, ticket.priority)
    expected = {s.kind: s for s in compute_clocks(ticket, targets, TicketHistory.load(ticket))}
    stored = {c.kind: c for c in SlaClock.objects.filter(ticket=ticket)}
    problems = []
    for kind in sorted(set(expected) | set(stored)):
        state, clock = expected.get(kind), stored.get(kind)
        if state is None or clock is None:
            problems.append(f"{kind}: stored {clock is not None}, expected {state is not None}")
            continue
        for field in ("due_at", "warn_at", "stopped_at", "paused", "target_minutes"):
            if getattr(state, field) != getattr(clock, field):
                problems.append(
                    f"{kind}.{field}: stored {getattr(clock, field)}, expected {getattr(state, field)}"
                )
    return problems


def audit_clocks(limit: int = 2000) -> int:
    """Recompute the clocks of the open tickets due soonest and compare them with the stored
    ones; a difference (a contract's targets edited, a change that bypassed the ticket actions)
    is logged and repaired. Returns how many tickets differed."""
    open_tickets = (
        Ticket.objects.exclude(status__in=DONE_STATUSES)
        .order_by(F("sla_due_at").asc(nulls_last=True), "pk")
        .select_related("client")[:limit]
    )
    repaired = 0
    for ticket in open_tickets:
        problems = verify_clocks(ticket)
        if not problems:
            continue
        log.warning(
            "SLA clocks of %s differed from its history, repaired: %s", ticket.number, "; ".join(problems)
        )
        with transaction.atomic():
            sync_clocks(Ticket.objects.select_for_update().get(pk=ticket.pk))
        repaired += 1
    return repaired
