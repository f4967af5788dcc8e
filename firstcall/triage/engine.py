"""The triage engine: a ticket's facts in, impact × urgency → priority out, with the reasons.

Order of evaluation (each step may only raise, except where said):
1. defaults: impact one person, urgency medium — or low when the requester says it can wait;
2. built-in signals: the message's words, a monitoring alert, security words, the requester's
   emergency, business-critical processes the ticket blocks (urgency grows as the deadline
   nears); then a VIP requester moves urgency one step up;
3. rules, in order: a rule's set_impact / set_urgency replaces what the signals said (and the
   reason says so); categories, assignee, team and tags come only from rules;
4. staff overrides win over everything, so a re-triage never undoes them.

Pure: no database, no clock (``now`` is a parameter). ``firstcall.triage.load`` gathers the
facts, the matrix and the rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Generic, Literal, TypeVar
from zoneinfo import ZoneInfo

from firstcall.triage import signals
from firstcall.triage.cost import downtime_cost
from firstcall.triage.deadlines import ProcessSpec, process_pressure
from firstcall.triage.matrix import (
    DEFAULT_MATRIX,
    IMPACT_RANK,
    URGENCY_RANK,
    Impact,
    Matrix,
    Urgency,
    urgency_step_up,
)
from firstcall.triage.priority import Priority
from firstcall.triage.rules import Rule, RuleInput, rule_matches

# What is read of a body: quoted lines ("> …") repeat an earlier message, so they are skipped
# (an old "server is down" below a new question must not make it an outage); of the rest, the
# start (about a thousand words): what matters is said first, and a pasted log must neither
# steer triage nor cost the next ticket its speed.
MAX_BODY_CHARS = 6_000
_QUOTED_LINE = re.compile(r"^[ \t]*>.*(?:\n|\Z)", re.MULTILINE)
MAX_EXPLANATION_CHARS = 300

Dimension = Literal["impact", "urgency", "priority", "category", "assignee", "team", "tag", "cost"]
V = TypeVar("V", Impact, Urgency)

DEFAULT_IMPACT_BECAUSE = "the default: nothing in the request points to more than one person"
DEFAULT_URGENCY_BECAUSE = "the default for a new request"


@dataclass(frozen=True, kw_only=True)
class TicketFacts:
    """Everything the engine reads about one ticket and its client."""

    subject: str = ""
    body: str = ""
    channel: str = ""
    is_emergency: bool = False
    requester_is_vip: bool = False
    client_id: int | None = None
    client_name: str = ""
    alert_host: str = ""
    alert_severity: str = ""
    alert_labels: tuple[tuple[str, str], ...] = ()
    processes: tuple[ProcessSpec, ...] = ()
    # Processes staff linked to the ticket by hand (blocked whatever the text says).
    linked_process_ids: tuple[int, ...] = ()
    headcount: int | None = None
    hourly_cost: Decimal | None = None
    revenue_per_hour: Decimal | None = None
    impact_override: Impact | None = None
    urgency_override: Urgency | None = None
    override_reason: str = ""


@dataclass(frozen=True)
class Reason:
    """One decision and why, in words a technician and a client understand."""

    dimension: Dimension
    value: str
    because: str

    @property
    def text(self) -> str:
        """E.g. 'Impact: the whole company — the message says “nobody can”'."""
        return f"{self.dimension.capitalize()}: {_label(self.dimension, self.value)} — {self.because}"


@dataclass(frozen=True)
class TriageResult:
    impact: Impact
    urgency: Urgency
    priority: Priority
    reasons: tuple[Reason, ...]
    # One line for Ticket.priority_explanation (≤ 300 characters).
    explanation: str
    category: str
    tags: tuple[str, ...]
    assignee_username: str
    team_name: str
    affected_people: int | None
    cost_per_hour: Decimal | None
    # When a re-triage would change the urgency (a process deadline threshold); None if never.
    next_review_at: datetime | None
    blocked_process_ids: tuple[int, ...]


def readable_body(body: str) -> str:
    """The part of a body that triage reads: without quoted lines, at most MAX_BODY_CHARS."""
    if body.startswith(">") or "\n>" in body or "\n >" in body:
        body = _QUOTED_LINE.sub("", body[: MAX_BODY_CHARS * 4])
    return body[:MAX_BODY_CHARS]


def _label(dimension: str, value: str) -> str:
    if dimension == "impact":
        return Impact(value).label
    if dimension == "urgency":
        return Urgency(value).label
    return value


class _Decision(Generic[V]):
    """The running value of impact or urgency and the reason that set it."""

    def __init__(
        self, dimension: Literal["impact", "urgency"], value: V, because: str, rank: Mapping[V, int]
    ) -> None:
        self.dimension = dimension
        self.value: V = value
        self.because = because
        self.rank: Mapping[V, int] = rank
        self.fixed = False  # set by a rule or staff: deadlines no longer move it

    def raise_to(self, value: V, because: str) -> None:
        if self.rank[value] > self.rank[self.value]:
            self.value, self.because = value, because

    def replace(self, value: V, because: str) -> None:
        """Set by a rule or staff; the reason keeps what it replaced when that differed."""
        if value != self.value:
            because = f"{because} (instead of {self.value.label}: {self.because})"
        self.value, self.because, self.fixed = value, because, True

    def reason(self) -> Reason:
        return Reason(self.dimension, self.value.value, self.because)


def _until(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 10 and minutes:
        return f"{hours} h {minutes} min"
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} days"


def _local(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b %H:%M %Z}"


def _apply_signals(
    facts: TicketFacts,
    text: str,
    impact: _Decision[Impact],
    urgency: _Decision[Urgency],
    tags: dict[str, str],
) -> None:
    said = signals.read_phrases(text)
    if said.low_urgency:
        urgency.value, urgency.because = Urgency.LOW, f"the requester says “{said.low_urgency}”"
    if said.company:
        impact.raise_to(Impact.COMPANY, f"the message says “{said.company}”")
    if said.team:
        impact.raise_to(Impact.TEAM, f"the message says “{said.team}”")

    if facts.alert_host or facts.alert_labels:
        label = signals.server_label(facts.alert_labels)
        if label or signals.is_server_host(facts.alert_host):
            on = f"server {facts.alert_host}" if facts.alert_host else f"a server ({label})"
            impact.raise_to(Impact.COMPANY, f"a monitoring alert on {on}")
    severity = facts.alert_severity.strip().lower()
    if severity in signals.URGENT_ALERT_SEVERITIES:
        urgency.raise_to(Urgency.HIGH, f"a monitoring alert of severity {severity}")

    if said.security_critical:
        because = f"a security incident: the message says “{said.security_critical}”"
        impact.raise_to(Impact.COMPANY, because)
        urgency.raise_to(Urgency.CRITICAL, because)
    if said.security:
        because = f"a possible security incident: the message says “{said.security}”"
        impact.raise_to(Impact.TEAM, because)
        urgency.raise_to(Urgency.HIGH, because)
    if said.security_critical or said.security:
        tags.setdefault("security", "")

    if facts.is_emergency:
        urgency.raise_to(Urgency.HIGH, "marked as an emergency by the requester")


def _apply_processes(
    facts: TicketFacts,
    text: str,
    now: datetime,
    impact: _Decision[Impact],
    urgency: _Decision[Urgency],
    blocked: list[int],
) -> datetime | None:
    """Raise impact and urgency for each process the ticket blocks; the earliest instant at
    which one of them would change the urgency."""
    review: datetime | None = None
    lowered = text.lower() if facts.processes else ""
    for process in facts.processes:
        keyword = process.mentioned_in(lowered)
        if keyword is None and process.id not in facts.linked_process_ids:
            continue
        blocked.append(process.id)
        how = f"it mentions “{keyword}”" if keyword else "linked by staff"
        impact.raise_to(Impact.TEAM, f"it blocks “{process.name}”, which others depend on ({how})")
        pressure = process_pressure(process, now)
        if pressure.urgency is not None:
            urgency.raise_to(
                pressure.urgency,
                f"it blocks “{process.name}”, due {_local(pressure.deadline, process.time_zone)}"
                f" (in {_until(pressure.deadline - now)})",
            )
        review = pressure.changes_at if review is None else min(review, pressure.changes_at)
    return review


def _apply_rules(
    facts: TicketFacts,
    text: str,
    rules: tuple[Rule, ...],
    impact: _Decision[Impact],
    urgency: _Decision[Urgency],
    tags: dict[str, str],
) -> dict[str, Reason]:
    """Run the matching rules in order; the category, assignee and team they set, each with
    the rule that set it last."""
    facts_for_rules = RuleInput(
        subject=facts.subject,
        text=text,
        channel=facts.channel,
        client_id=facts.client_id,
        client_name=facts.client_name,
        requester_vip=facts.requester_is_vip,
        is_emergency=facts.is_emergency,
        alert_severity=facts.alert_severity,
    )
    assigned: dict[str, Reason] = {}
    for rule in rules:
        if not rule_matches(rule, facts_for_rules):
            continue
        by = f"rule “{rule.name}”"
        for action in rule.actions:
            if action.action == "set_impact":
                impact.replace(Impact(action.value), by)
            elif action.action == "set_urgency":
                urgency.replace(Urgency(action.value), by)
            elif action.action == "set_category":
                assigned["category"] = Reason("category", action.value, by)
            elif action.action == "assign_to":
                assigned["assignee"] = Reason("assignee", action.value, by)
            elif action.action == "set_team":
                assigned["team"] = Reason("team", action.value, by)
            elif action.action == "add_tag":
                tags.setdefault(action.value, by)
        if rule.stop_processing:
            break
    return assigned


def _explanation(priority: Priority, impact: _Decision[Impact], urgency: _Decision[Urgency]) -> str:
    head = f"{priority.value}: impact {impact.value.label} — "
    middle = f"; urgency {urgency.value.label} — "
    room = MAX_EXPLANATION_CHARS - len(head) - len(middle) - 1
    first, second = impact.because, urgency.because
    if len(first) + len(second) > room:
        share = room // 2
        # Give the shorter reason all it needs and the longer one the rest.
        if len(first) <= share:
            second = _clip(second, room - len(first))
        elif len(second) <= share:
            first = _clip(first, room - len(second))
        else:
            first, second = _clip(first, share), _clip(second, room - share)
    return f"{head}{first}{middle}{second}."


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def triage(
    facts: TicketFacts,
    *,
    now: datetime,
    matrix: Matrix = DEFAULT_MATRIX,
    rules: tuple[Rule, ...] = (),
) -> TriageResult:
    """Impact, urgency and priority of a ticket, each with its reason; category, team,
    assignee and tags from the rules; downtime cost; when to triage again."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    text = f"{facts.subject}\n{readable_body(facts.body)}"
    impact = _Decision("impact", Impact.PERSON, DEFAULT_IMPACT_BECAUSE, IMPACT_RANK)
    urgency = _Decision("urgency", Urgency.MEDIUM, DEFAULT_URGENCY_BECAUSE, URGENCY_RANK)
    # Tag → the rule that added it ("" for the built-in tags, whose reason is impact's or urgency's).
    tags: dict[str, str] = {}
    blocked: list[int] = []

    _apply_signals(facts, text, impact, urgency, tags)
    next_review_at = _apply_processes(facts, text, now, impact, urgency, blocked)
    if blocked:
        tags.setdefault("business-critical", "")
    if facts.requester_is_vip:
        before = urgency.value
        urgency.value = urgency_step_up(before)
        urgency.because = f"VIP requester: one step up from {before.label} ({urgency.because})"

    assigned = _apply_rules(facts, text, rules, impact, urgency, tags) if rules else {}
    category, assignee, team = (
        assigned[d].value if d in assigned else "" for d in ("category", "assignee", "team")
    )

    by_staff = f"set by staff: {facts.override_reason.strip() or 'no reason given'}"
    if facts.impact_override is not None:
        impact.replace(Impact(facts.impact_override), by_staff)
    if facts.urgency_override is not None:
        urgency.replace(Urgency(facts.urgency_override), by_staff)
    if urgency.fixed:
        next_review_at = None  # deadlines no longer move an urgency a rule or staff set

    priority = matrix.priority(impact.value, urgency.value)
    cost = downtime_cost(
        impact.value,
        headcount=facts.headcount,
        hourly_cost=facts.hourly_cost,
        revenue_per_hour=facts.revenue_per_hour,
    )
    reasons = [
        impact.reason(),
        urgency.reason(),
        Reason(
            "priority",
            priority.value,
            f"impact {impact.value.label} × urgency {urgency.value.label} in the priority matrix",
        ),
        *assigned.values(),
        *(Reason("tag", tag, because) for tag, because in tags.items() if because),
    ]
    if cost.per_hour is not None:
        reasons.append(Reason("cost", f"{cost.per_hour:.2f} per hour", f"downtime: {cost.working}"))
    return TriageResult(
        impact=Impact(impact.value),
        urgency=Urgency(urgency.value),
        priority=priority,
        reasons=tuple(reasons),
        explanation=_explanation(priority, impact, urgency),
        category=category,
        tags=tuple(tags),
        assignee_username=assignee,
        team_name=team,
        affected_people=cost.affected_people,
        cost_per_hour=cost.per_hour,
        next_review_at=next_review_at,
        blocked_process_ids=tuple(blocked),
    )
