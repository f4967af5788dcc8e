"""Service-desk figures over a period, for one client or all, each aggregated in the database in
a fixed number of queries whatever the number of tickets.

Every function takes a half-open period ``[start, end)`` of aware datetimes and an optional
``client_id``; ``periods`` turns "this week", "this month" or "the last 14 days" into such
periods in the MSP's time zone (``settings.TIME_ZONE``). docs/dashboard.md says what each figure
means, in the words used here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import (
    Avg,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
)
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from firstcall.escalation.models import Escalation
from firstcall.intake.calls import FIRST_CONTACT_RESOLUTION
from firstcall.intake.models import CallOutcome, CallRecord, CallSource
from firstcall.reports.periods import Period
from firstcall.sla.models import ClockKind, SlaClock
from firstcall.tickets.models import DONE_STATUSES, OPEN_STATUSES, AuditEvent, Status, Ticket
from firstcall.triage.priority import Priority

# The audit action of a status change (``firstcall.tickets.actions.transition``).
STATUS_CHANGED = "status_changed"

# The SLA targets that have one outcome per ticket. The next-update clock restarts at every
# staff reply and its stored row keeps only the current cycle, so an earlier cycle's miss is not
# in the database: counting it from the row would under-count misses.
MEASURED_CLOCK_KINDS = (ClockKind.FIRST_RESPONSE, ClockKind.RESOLUTION)


def _percent(part: int, whole: int) -> float | None:
    return None if whole == 0 else 100.0 * part / whole


@dataclass(frozen=True)
class TargetCounts:
    """Met and missed targets of one kind (first response or resolution)."""

    met: int
    missed: int

    @property
    def measured(self) -> int:
        return self.met + self.missed

    @property
    def percent_met(self) -> float | None:
        return _percent(self.met, self.measured)


@dataclass(frozen=True)
class SlaPerformance:
    """How many SLA targets were measured in a period, met and missed; per target kind below."""

    measured: int  # targets whose deadline fell in the period or that were met/missed in it
    met: int
    missed: int
    first_response: TargetCounts
    resolution: TargetCounts

    @property
    def percent_met(self) -> float | None:
        """Share of the measured targets that were met, 0–100; None when nothing was measured."""
        return _percent(self.met, self.measured)


def _met_in(start: datetime, end: datetime) -> Q:
    """A clock that stopped in the period (first public staff reply, or the ticket resolved or
    closed) no later than its due time. A due time of None on a stopped clock means the ticket
    stopped its clocks (resolved) before the target's minutes had run: met."""
    stopped_in_period = Q(stopped_at__gte=start, stopped_at__lt=end)
    return stopped_in_period & (Q(due_at__isnull=True) | Q(stopped_at__lte=F("due_at")))


def _missed_in(start: datetime, end: datetime, now: datetime) -> Q:
    """A clock whose due time fell in the period and has passed, and that had not stopped by
    then: stopped later, or still running (or paused after its target had run out). Counted at
    the deadline, once, whenever the late response comes."""
    return Q(due_at__gte=start, due_at__lt=min(end, now)) & (
        Q(stopped_at__isnull=True) | Q(stopped_at__gt=F("due_at"))
    )


def sla_performance(
    *, start: datetime, end: datetime, client_id: int | None = None, now: datetime | None = None
) -> SlaPerformance:
    """First-response and resolution targets met and missed in ``[start, end)``. One query.

    Read from the stored clocks (``firstcall.sla.models.SlaClock``), whose due times already
    credit every pause (waiting on the client) and count only the calendar's open minutes:

    - **met**: the clock stopped in the period, at or before its due time. The first-response
      clock stops at the first public reply by staff (an email or text reply, a logged call
      answered — not the automatic acknowledgment, not an internal note), or when the ticket is
      resolved or closed without one; the resolution clock stops when the ticket is resolved.
    - **missed**: the due time fell in the period and has passed (before ``now``), and the clock
      had not stopped by then — the response or resolution came later, or has not come yet.

    So each target counts once, in the period its outcome became known: a met target when it was
    met, a missed target at its deadline. A clock still running short of its due time, or paused
    short of it, is not measured yet. Next-update targets are not measured (their clock restarts
    at every reply; earlier cycles are not stored). A reopened ticket's clocks run again and keep
    only their latest stop, so its targets count once, by that latest stop (or as missed at the
    due time if it passes first)."""
    now = now or timezone.now()
    met = _met_in(start, end)
    missed = _missed_in(start, end, now)
    clocks = SlaClock.objects.filter(met | missed, kind__in=MEASURED_CLOCK_KINDS)
    if client_id is not None:
        clocks = clocks.filter(ticket__client_id=client_id)
    first_response = Q(kind=ClockKind.FIRST_RESPONSE)
    resolution = Q(kind=ClockKind.RESOLUTION)
    counts = clocks.aggregate(
        first_response_met=Count("pk", filter=first_response & met),
        first_response_missed=Count("pk", filter=first_response & missed),
        resolution_met=Count("pk", filter=resolution & met),
        resolution_missed=Count("pk", filter=resolution & missed),
    )
    first = TargetCounts(counts["first_response_met"], counts["first_response_missed"])
    resolved = TargetCounts(counts["resolution_met"], counts["resolution_missed"])
    return SlaPerformance(
        measured=first.measured + resolved.measured,
        met=first.met + resolved.met,
        missed=first.missed + resolved.missed,
        first_response=first,
        resolution=resolved,
    )


# ---------------------------------------------------------------------------------------------
# Open tickets
# ---------------------------------------------------------------------------------------------

# Open work: every status but those that stop the clocks (waiting on the client included: the
# ticket is not done).


@dataclass(frozen=True)
class PriorityCount:
    priority: Priority
    count: int


@dataclass(frozen=True)
class OpenTickets:
    """Tickets not resolved or closed now, per priority (every priority listed, P1 first)."""

    by_priority: tuple[PriorityCount, ...]
    waiting_on_client: int

    @property
    def total(self) -> int:
        return sum(row.count for row in self.by_priority)


def open_tickets(*, client_id: int | None = None) -> OpenTickets:
    """Open tickets now (new, open, waiting on the client) per priority. One query."""
    tickets = Ticket.objects.filter(status__in=OPEN_STATUSES)
    if client_id is not None:
        tickets = tickets.filter(client_id=client_id)
    rows = (
        tickets.order_by()
        .values("priority")
        .annotate(count=Count("pk"), waiting=Count("pk", filter=Q(status=Status.WAITING_ON_CLIENT)))
    )
    counts = {row["priority"]: row for row in rows}
    return OpenTickets(
        by_priority=tuple(
            PriorityCount(priority, counts[priority]["count"] if priority in counts else 0)
            for priority in Priority
        ),
        waiting_on_client=sum(row["waiting"] for row in counts.values()),
    )


# ---------------------------------------------------------------------------------------------
# Resolution: first-contact resolution and time to resolve
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """``part`` of ``whole``, e.g. 3 of 4 resolved tickets resolved on first contact."""

    part: int
    whole: int

    @property
    def percent(self) -> float | None:
        """0–100; None when the whole is 0 (nothing to measure)."""
        return _percent(self.part, self.whole)


@dataclass(frozen=True)
class MeanDuration:
    """A mean over ``count`` tickets; ``mean`` None when there were none."""

    count: int
    mean: timedelta | None


def _mean_duration(tickets: QuerySet[Ticket], since: str, until: str) -> MeanDuration:
    counts = tickets.aggregate(
        count=Count("pk"),
        mean=Avg(ExpressionWrapper(F(until) - F(since), output_field=DurationField())),
    )
    mean = counts["mean"]
    if mean is not None and not isinstance(mean, timedelta):  # SQLite: microseconds
        mean = timedelta(microseconds=float(mean))
    return MeanDuration(count=counts["count"], mean=mean)


def _resolved_in(start: datetime, end: datetime, client_id: int | None) -> QuerySet[Ticket]:
    """Tickets whose (latest) resolution fell in the period: resolved or closed, not reopened
    since. A ticket closed without being resolved first has its resolution time at closing."""
    tickets = Ticket.objects.filter(status__in=DONE_STATUSES, resolved_at__gte=start, resolved_at__lt=end)
    return tickets if client_id is None else tickets.filter(client_id=client_id)


def first_contact_resolution(*, start: datetime, end: datetime, client_id: int | None = None) -> Rate:
    """Of the tickets resolved in the period, how many were resolved on first contact. One query.

    Resolved on first contact: a technician resolved it while the caller was on the line (the
    log-a-call form's "resolved on first contact", audited with the reason
    ``FIRST_CONTACT_RESOLUTION``) and it has not been reopened since. A ticket reopened after
    that is counted by its later resolution, as not resolved on first contact: the problem came
    back.
    """
    first_contact_resolutions = AuditEvent.objects.filter(
        ticket=OuterRef("pk"), action=STATUS_CHANGED, reason=FIRST_CONTACT_RESOLUTION
    )
    reopened_after = AuditEvent.objects.filter(
        Q(before=Status.RESOLVED) | Q(before=Status.CLOSED),
        ticket=OuterRef(OuterRef("pk")),
        action=STATUS_CHANGED,
        created_at__gt=OuterRef("created_at"),
    )
    on_first_contact = Exists(first_contact_resolutions.filter(~Exists(reopened_after)))
    counts = _resolved_in(start, end, client_id).aggregate(
        resolved=Count("pk"), on_first_contact=Count("pk", filter=Q(on_first_contact))
    )
    return Rate(part=counts["on_first_contact"], whole=counts["resolved"])


def mean_time_to_resolve(*, start: datetime, end: datetime, client_id: int | None = None) -> MeanDuration:
    """Mean wall-clock time from opening to resolution of the tickets resolved in the period (see
    ``_resolved_in``). Wall-clock, not business hours: what the client waited, nights and
    waiting-on-client time included. One query."""
    return _mean_duration(_resolved_in(start, end, client_id), "created_at", "resolved_at")


# ---------------------------------------------------------------------------------------------
# Time to acknowledge
# ---------------------------------------------------------------------------------------------


def mean_time_to_acknowledge(*, start: datetime, end: datetime, client_id: int | None = None) -> MeanDuration:
    """Mean wall-clock time from opening to acknowledgment of the tickets acknowledged in the
    period. One query.

    Acknowledged: the earlier of the first public reply by staff (``Ticket.first_response_at``:
    an email or text reply, a logged call answered) and the first escalation acknowledged (a
    page answered, the console's Acknowledge button: ``Escalation.acknowledged_at``) — the moment
    a person had the ticket in hand. The automatic acknowledgment email does not count.
    """
    acknowledged_in_period = Escalation.objects.filter(
        acknowledged_at__gte=start, acknowledged_at__lt=end
    ).values("ticket_id")
    # Only tickets with a reply or an escalation acknowledged in the period can have been
    # acknowledged in it; the earliest of the two is then computed for those alone (a join and a
    # GROUP BY, not a subquery per ticket: PostgreSQL would estimate that dear enough to JIT-
    # compile it, which alone takes seconds).
    tickets = Ticket.objects.filter(
        Q(first_response_at__gte=start, first_response_at__lt=end) | Q(pk__in=acknowledged_in_period)
    )
    if client_id is not None:
        tickets = tickets.filter(client_id=client_id)
    escalation_at = Min("escalations__acknowledged_at")
    # LEAST is NULL on SQLite when either is NULL (PostgreSQL ignores NULLs): coalesce first.
    tickets = tickets.annotate(
        acknowledged_at=Least(
            Coalesce("first_response_at", escalation_at), Coalesce(escalation_at, "first_response_at")
        )
    ).filter(acknowledged_at__gte=start, acknowledged_at__lt=end)
    return _mean_duration(tickets, "created_at", "acknowledged_at")


# ---------------------------------------------------------------------------------------------
# Calls
# ---------------------------------------------------------------------------------------------

# Calls whose outcome the phone system knows. Calls logged in the console are typed in by the
# technician who answered them (always "answered", and a second record of a call the phone
# system may have recorded already), so they would only inflate the rate.
PHONE_SYSTEM_SOURCES = (CallSource.TWILIO, CallSource.PBX)


@dataclass(frozen=True)
class CallsAnswered:
    """Finished calls that rang in the period, by outcome."""

    answered: int
    voicemail: int
    abandoned: int

    @property
    def finished(self) -> int:
        return self.answered + self.voicemail + self.abandoned

    @property
    def rate(self) -> Rate:
        return Rate(part=self.answered, whole=self.finished)


def calls_answered(*, start: datetime, end: datetime, client_id: int | None = None) -> CallsAnswered:
    """Calls from the phone system (Twilio, PBX) that started in the period and are finished,
    by outcome: answered by a person, left a voicemail, or hung up without either (abandoned).
    Calls still in progress are left out. The rate is answered / finished. One query."""
    calls = CallRecord.objects.filter(
        source__in=PHONE_SYSTEM_SOURCES,
        started_at__gte=start,
        started_at__lt=end,
        outcome__in=(CallOutcome.ANSWERED, CallOutcome.VOICEMAIL, CallOutcome.ABANDONED),
    )
    if client_id is not None:
        calls = calls.filter(client_id=client_id)
    counts = calls.aggregate(
        answered=Count("pk", filter=Q(outcome=CallOutcome.ANSWERED)),
        voicemail=Count("pk", filter=Q(outcome=CallOutcome.VOICEMAIL)),
        abandoned=Count("pk", filter=Q(outcome=CallOutcome.ABANDONED)),
    )
    return CallsAnswered(**counts)


# ---------------------------------------------------------------------------------------------
# Time series for charts
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayCounts:
    period: Period
    opened: int
    resolved: int


def opened_and_resolved_per_day(days: Sequence[Period], *, client_id: int | None = None) -> list[DayCounts]:
    """Tickets opened and tickets resolved (see ``_resolved_in``) in each of ``days``. One query,
    one pair of conditional counts per day: bounded by the number of days, not of tickets."""
    if not days:
        return []
    start, end = days[0].start, days[-1].end
    tickets = Ticket.objects.filter(
        Q(created_at__gte=start, created_at__lt=end)
        | Q(status__in=DONE_STATUSES, resolved_at__gte=start, resolved_at__lt=end)
    )
    if client_id is not None:
        tickets = tickets.filter(client_id=client_id)
    aggregates: dict[str, Count] = {}
    for n, day in enumerate(days):
        aggregates[f"opened_{n}"] = Count("pk", filter=Q(created_at__gte=day.start, created_at__lt=day.end))
        aggregates[f"resolved_{n}"] = Count(
            "pk",
            filter=Q(status__in=DONE_STATUSES, resolved_at__gte=day.start, resolved_at__lt=day.end),
        )
    counts = tickets.aggregate(**aggregates)
    return [
        DayCounts(day, opened=counts[f"opened_{n}"], resolved=counts[f"resolved_{n}"])
        for n, day in enumerate(days)
    ]


@dataclass(frozen=True)
class WeekCompliance:
    period: Period
    met: int
    missed: int

    @property
    def measured(self) -> int:
        return self.met + self.missed

    @property
    def percent_met(self) -> float | None:
        return _percent(self.met, self.measured)


def sla_compliance_per_week(
    weeks: Sequence[Period], *, client_id: int | None = None, now: datetime | None = None
) -> list[WeekCompliance]:
    """``sla_performance`` for each of ``weeks`` (first response and resolution together), in
    one query: a pair of conditional counts per week."""
    if not weeks:
        return []
    now = now or timezone.now()
    start, end = weeks[0].start, weeks[-1].end
    clocks = SlaClock.objects.filter(
        _met_in(start, end) | _missed_in(start, end, now), kind__in=MEASURED_CLOCK_KINDS
    )
    if client_id is not None:
        clocks = clocks.filter(ticket__client_id=client_id)
    aggregates: dict[str, Count] = {}
    for n, week in enumerate(weeks):
        aggregates[f"met_{n}"] = Count("pk", filter=_met_in(week.start, week.end))
        aggregates[f"missed_{n}"] = Count("pk", filter=_missed_in(week.start, week.end, now))
    counts = clocks.aggregate(**aggregates)
    return [
        WeekCompliance(week, met=counts[f"met_{n}"], missed=counts[f"missed_{n}"])
        for n, week in enumerate(weeks)
    ]


# ---------------------------------------------------------------------------------------------
# Per client
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientSummary:
    """One client's line in the overall view; ``client_id`` None for tickets without a client
    (requesters not recognised as a client's contact)."""

    client_id: int | None
    name: str
    open: int
    open_urgent: int  # P1 and P2
    sla: TargetCounts


def summary_per_client(*, start: datetime, end: datetime, now: datetime | None = None) -> list[ClientSummary]:
    """Open tickets now and SLA targets met and missed in the period, per client: every client
    with an open ticket or a measured target, by name. Two grouped queries, whatever the number
    of clients."""
    now = now or timezone.now()
    open_rows = (
        Ticket.objects.filter(status__in=OPEN_STATUSES)
        .order_by()
        .values("client_id", "client__name")
        .annotate(open=Count("pk"), urgent=Count("pk", filter=Q(priority__in=(Priority.P1, Priority.P2))))
    )
    met, missed = _met_in(start, end), _missed_in(start, end, now)
    sla_rows = (
        SlaClock.objects.filter(met | missed, kind__in=MEASURED_CLOCK_KINDS)
        .order_by()
        .values("ticket__client_id", "ticket__client__name")
        .annotate(met_count=Count("pk", filter=met), missed_count=Count("pk", filter=missed))
    )
    names: dict[int | None, str] = {}
    open_counts: dict[int | None, tuple[int, int]] = {}
    sla_counts: dict[int | None, TargetCounts] = {}
    for row in open_rows:
        names[row["client_id"]] = row["client__name"] or ""
        open_counts[row["client_id"]] = (row["open"], row["urgent"])
    for row in sla_rows:
        names[row["ticket__client_id"]] = row["ticket__client__name"] or ""
        sla_counts[row["ticket__client_id"]] = TargetCounts(row["met_count"], row["missed_count"])
    summaries = [
        ClientSummary(
            client_id=client_id,
            name=name or "No client",
            open=open_counts.get(client_id, (0, 0))[0],
            open_urgent=open_counts.get(client_id, (0, 0))[1],
            sla=sla_counts.get(client_id, TargetCounts(0, 0)),
        )
        for client_id, name in names.items()
    ]
    # Clients by name; tickets without a client last.
    return sorted(summaries, key=lambda row: (row.client_id is None, row.name.casefold()))
