"""SLA clocks: first response, next update and resolution, each counting its calendar's open
minutes while the ticket is *running* — not waiting on the client, not resolved or closed.

A clock's due instant is where the counted minutes reach its target. Everything here is computed
from the ticket's history — when it opened, its status changes (audit trail), its staff replies —
and today's targets for its priority and contract. So a change of priority or contract while
paused keeps the paused time credited (the pauses are in the history, whatever the target), and
the stored deadlines can always be recomputed and checked (``verify_clocks``).

This module is the pure part (no database); ``firstcall.sla.tracking`` stores the clocks and acts
on their deadlines.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from firstcall.sla.calendars import CalendarSpec, add_business_minutes, business_minutes_between

# While a ticket is in one of these statuses no clock runs: the client owes us an answer, or
# there is nothing left to do. A reopened ticket's clocks run on from where they stopped.
PAUSING_STATUSES = frozenset({"waiting_on_client", "resolved", "closed"})

# Share of a target after which the assignee is warned.
WARNING_SHARE = 0.75


@dataclass(frozen=True)
class Segment:
    """A stretch of time during which the ticket's clocks run; ``end`` None: still running."""

    start: datetime
    end: datetime | None


def running_segments(
    opened_at: datetime,
    status_changes: Iterable[tuple[datetime, str]],
    *,
    since: datetime | None = None,
) -> list[Segment]:
    """The ticket's running stretches from ``opened_at`` (or ``since``, for a clock that starts
    later), given its status changes (time, new status) in order."""
    segments: list[Segment] = []
    running_since: datetime | None = opened_at
    for at, status in status_changes:
        if running_since is not None and status in PAUSING_STATUSES:
            segments.append(Segment(running_since, at))
            running_since = None
        elif running_since is None and status not in PAUSING_STATUSES:
            running_since = at
    if running_since is not None:
        segments.append(Segment(running_since, None))
    if since is None:
        return segments
    clipped = []
    for segment in segments:
        if segment.end is not None and segment.end <= since:
            continue
        clipped.append(Segment(max(segment.start, since), segment.end))
    return clipped


def due_instant(calendar: CalendarSpec, segments: Sequence[Segment], minutes: float) -> datetime | None:
    """When ``minutes`` of open time will have run in these segments; None if the segments end
    (a pause that is still on) before the target is reached."""
    remaining = float(minutes)
    for segment in segments:
        if segment.end is None:
            return add_business_minutes(calendar, segment.start, remaining)
        counted = business_minutes_between(calendar, segment.start, segment.end)
        if counted >= remaining:
            return add_business_minutes(calendar, segment.start, remaining)
        remaining -= counted
    return None


def elapsed_minutes(calendar: CalendarSpec, segments: Sequence[Segment], until: datetime) -> float:
    """Open minutes the clock has counted by ``until``."""
    total = 0.0
    for segment in segments:
        if segment.start >= until:
            break
        end = until if segment.end is None else min(segment.end, until)
        total += business_minutes_between(calendar, segment.start, end)
    return total


@dataclass(frozen=True)
class ClockState:
    """One clock, as the history says it stands."""

    kind: str
    target_minutes: int
    started_at: datetime
    # The instant the target is (or was) reached; None while paused short of it.
    due_at: datetime | None
    warn_at: datetime | None
    # When the clock stopped for good (first response given, ticket resolved); None if it runs
    # or is paused.
    stopped_at: datetime | None
    paused: bool

    @property
    def running(self) -> bool:
        return self.stopped_at is None and not self.paused

    @property
    def breached(self) -> bool | None:
        """Whether the target was missed; None while it is still open."""
        if self.stopped_at is not None:
            return self.due_at is not None and self.stopped_at > self.due_at
        return None


def clock_state(
    kind: str,
    calendar: CalendarSpec,
    target_minutes: int,
    segments: Sequence[Segment],
    *,
    started_at: datetime,
    stopped_at: datetime | None,
) -> ClockState:
    """A clock over ``segments``. A stopped clock keeps the due instant it had, so whether it
    was met stays visible."""
    due = due_instant(calendar, segments, target_minutes)
    warn = due_instant(calendar, segments, target_minutes * WARNING_SHARE)
    paused = stopped_at is None and (not segments or segments[-1].end is not None)
    return ClockState(kind, target_minutes, started_at, due, warn, stopped_at, paused)
