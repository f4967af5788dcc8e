"""The ticket page's triage, SLA and escalation panels, in words.

Presentation only: the facts are the ticket row, its stored clocks and its escalations (loaded
by ``queries``); the wording of reasons, targets, levels and acknowledgments is the domain's own
(``Reason.text``, ``describe_target``, ``LevelInWords``, ``public_acknowledged_text``), so the
page says what the notifications say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import cast
from zoneinfo import ZoneInfo

from firstcall.console.queries import EscalationState
from firstcall.escalation.models import PageChannel
from firstcall.escalation.pages import LevelInWords, public_acknowledged_text
from firstcall.notify.models import DeliveryStatus
from firstcall.notify.outbound import describe_target
from firstcall.sla.models import ClockKind, SlaClock
from firstcall.sla.targets import targets_for
from firstcall.tickets.models import Ticket
from firstcall.triage.engine import Dimension, Reason
from firstcall.triage.matrix import Impact, Urgency
from firstcall.triage.priority import Priority

CLOCK_ORDER = {kind.value: index for index, kind in enumerate(ClockKind)}


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    """'Mon 30 Nov 10:45 CST': a moment as the client reads a clock."""
    local = moment.astimezone(zone)
    return f"{local:%a %d %b %H:%M} {local.tzname()}"


def sla_terms(client_id: int | None) -> list[str]:
    """The client's first-response promise per priority in words, e.g. 'P1: 15 minutes (24×7)'."""
    terms = []
    for priority in Priority:
        targets = targets_for(client_id, priority)
        target = describe_target(
            targets.first_response_minutes, business_hours=not targets.calendar.always_open
        )
        terms.append(f"{priority}: {target} ({targets.calendar_name})")
    return terms


def format_amount(amount: Decimal) -> str:
    """'1,775.00': firstcall keeps no currency, so none is shown."""
    return f"{amount:,.2f}"


def _label(choices: type[Impact] | type[Urgency], value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:  # a value stored before the choices changed: show it as it is
        return value


def reason_text(reason: dict[str, str]) -> str:
    """One stored reason ({dimension, value, because}) as triage words it."""
    dimension, value, because = (
        reason.get("dimension", ""),
        reason.get("value", ""),
        reason.get("because", ""),
    )
    try:
        return Reason(cast(Dimension, dimension), value, because).text
    except ValueError:  # a value no longer among the choices: shown as it was stored
        return f"{dimension.capitalize()}: {value} — {because}"


# ---------------------------------------------------------------------------------------------
# Priority
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriorityPanel:
    impact: str
    urgency: str
    reasons: list[str]
    affected_people: int | None
    # Formatted, e.g. "275.00"; "" when there is no estimate.
    cost_per_hour: str
    # Set when staff overrode impact or urgency: what they set ("" = left to triage) and why.
    overridden: bool
    override_impact: str
    override_urgency: str
    override_reason: str


def priority_panel(ticket: Ticket) -> PriorityPanel:
    overridden = bool(ticket.impact_override or ticket.urgency_override)
    return PriorityPanel(
        impact=_label(Impact, ticket.impact),
        urgency=_label(Urgency, ticket.urgency),
        reasons=[reason_text(reason) for reason in ticket.priority_reasons if isinstance(reason, dict)],
        affected_people=ticket.affected_people,
        cost_per_hour=format_amount(ticket.cost_per_hour) if ticket.cost_per_hour is not None else "",
        overridden=overridden,
        override_impact=_label(Impact, ticket.impact_override) if ticket.impact_override else "",
        override_urgency=_label(Urgency, ticket.urgency_override) if ticket.urgency_override else "",
        override_reason=ticket.override_reason if overridden else "",
    )


# ---------------------------------------------------------------------------------------------
# SLA clocks
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClockRow:
    kind: str
    target: str
    calendar: str
    # "" while paused short of the target (the due time is not known until it resumes).
    due: str
    due_at: datetime | None
    # The CSS modifier: running, warned, overdue, paused, met or missed.
    state: str
    words: str


def _clock_row(clock: SlaClock, zone: ZoneInfo, now: datetime) -> ClockRow:
    overdue = clock.breached_at is not None or (clock.due_at is not None and clock.due_at <= now)
    met = clock.met
    if clock.stopped_at is not None:
        stopped = local_time(clock.stopped_at, zone)
        state, words = ("met", f"Met ({stopped})") if met else ("missed", f"Missed (stopped {stopped})")
    elif clock.paused:
        state, words = "paused", "Paused: waiting on the client"
        if overdue:
            state, words = "overdue", "Paused: waiting on the client; overdue"
    elif overdue:
        state, words = "overdue", "Running, overdue"
    elif clock.warned_at is not None:
        state, words = "warned", "Running, warning sent"
    else:
        state, words = "running", "Running"
    return ClockRow(
        kind=ClockKind(clock.kind).label if clock.kind in ClockKind.values else clock.kind,
        target=describe_target(clock.target_minutes, business_hours=clock.business_hours),
        calendar=clock.calendar_name,
        due=local_time(clock.due_at, zone) if clock.due_at is not None else "",
        due_at=clock.due_at,
        state=state,
        words=words,
    )


def clock_rows(ticket: Ticket, now: datetime) -> list[ClockRow]:
    """The ticket's clocks (prefetched ``sla_clocks``) in the order they matter: first
    response, next update, resolution."""
    zone = ticket.time_zone
    clocks = sorted(ticket.sla_clocks.all(), key=lambda clock: CLOCK_ORDER.get(clock.kind, len(CLOCK_ORDER)))
    return [_clock_row(clock, zone, now) for clock in clocks]


# ---------------------------------------------------------------------------------------------
# Escalation
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageRow:
    who: str
    channel: str
    at: str
    # The delivery's state, e.g. "Sent", "Waiting to be sent"; "" without a delivery.
    delivery: str
    delivery_status: str


@dataclass(frozen=True)
class EscalationPanel:
    active: bool
    policy: str
    reason: str
    started: str
    # e.g. "level 2 of 4: on call in Engineering on call"; "" when every level has been paged.
    next_level: str
    next_at: str
    next_step_at: datetime | None
    round: int
    pages: list[PageRow]
    # The last stopped escalation, e.g. "Acknowledged by Bob at 10:44." or "Stopped … : why".
    last_stopped: str
    last_stopped_policy: str


def _page_row(page_user: str, channel: str, at: str, delivery_status: str) -> PageRow:
    label = DeliveryStatus(delivery_status).label if delivery_status in DeliveryStatus.values else ""
    return PageRow(
        who=page_user,
        channel=PageChannel(channel).label if channel in PageChannel.values else channel,
        at=at,
        delivery=str(label),
        delivery_status=delivery_status,
    )


def escalation_panel(ticket: Ticket, state: EscalationState) -> EscalationPanel:
    zone = ticket.time_zone
    last_words, last_policy = "", ""
    stopped = state.last_stopped
    if stopped is not None and stopped.stopped_at is not None:
        last_policy = stopped.policy.name
        if stopped.acknowledged_by is not None and stopped.acknowledged_at is not None:
            last_words = public_acknowledged_text(ticket, stopped.acknowledged_by, stopped.acknowledged_at)
        else:
            last_words = f"Stopped {local_time(stopped.stopped_at, zone)}: {stopped.stop_reason}."
    active = state.active
    if active is None:
        return EscalationPanel(
            active=False,
            policy="",
            reason="",
            started="",
            next_level="",
            next_at="",
            next_step_at=None,
            round=0,
            pages=[],
            last_stopped=last_words,
            last_stopped_policy=last_policy,
        )
    ranks = {level.position: rank for rank, level in enumerate(state.levels, start=1)}
    next_level = next((level for level in state.levels if level.position == active.next_level), None)
    return EscalationPanel(
        active=True,
        policy=active.policy.name,
        reason=active.reason,
        started=local_time(active.started_at, zone),
        next_level=(
            str(LevelInWords(ranks[next_level.position], len(state.levels), next_level.target_description))
            if next_level is not None
            else ""
        ),
        next_at=local_time(active.next_step_at, zone) if active.next_step_at is not None else "",
        next_step_at=active.next_step_at,
        round=active.round,
        pages=[
            _page_row(
                page.user.display_name if page.user is not None else "(a deleted user)",
                page.channel,
                local_time(page.created_at, zone),
                page.delivery.status if page.delivery is not None else "",
            )
            for page in state.pages
        ],
        last_stopped=last_words,
        last_stopped_policy=last_policy,
    )
