"""The engine as a whole: staff overrides, downtime cost, the explanation, its contract."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from firstcall.triage.cost import affected_people, downtime_cost
from firstcall.triage.engine import MAX_EXPLANATION_CHARS, TicketFacts, triage
from firstcall.triage.matrix import Impact, Matrix, Urgency
from firstcall.triage.priority import Priority
from firstcall.triage.rules import parse_rule
from tests.triage.payroll import PAYROLL, chicago

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
OUTAGE = TicketFacts(subject="Server is down", body="Nobody can open the schedule")


# --- staff overrides -------------------------------------------------------------------------


def overridden(facts: TicketFacts, **changes: object) -> TicketFacts:
    return dataclasses.replace(facts, **changes)  # type: ignore[arg-type]


def test_a_staff_override_wins_and_keeps_what_triage_said() -> None:
    facts = overridden(
        OUTAGE, impact_override=Impact.PERSON, override_reason="only Dana's workstation; the server is fine"
    )
    result = triage(facts, now=NOW)
    assert (result.impact, result.priority) == (Impact.PERSON, Priority.P3)
    assert result.reasons[0].text == (
        "Impact: one person — set by staff: only Dana's workstation; the server is fine "
        "(instead of the whole company: the message says “Server is down”)"
    )


def test_an_override_wins_over_rules_too() -> None:
    everything_critical = parse_rule(
        name="all critical", conditions=[], actions=[{"action": "set_urgency", "value": "critical"}]
    )
    facts = overridden(OUTAGE, urgency_override=Urgency.LOW, override_reason="planned maintenance")
    result = triage(facts, now=NOW, rules=(everything_critical,))
    assert (result.urgency, result.priority) == (Urgency.LOW, Priority.P3)
    assert result.reasons[1].because.startswith(
        "set by staff: planned maintenance (instead of critical: rule"
    )


def test_a_re_triage_never_undoes_an_override() -> None:
    facts = TicketFacts(
        subject="PC broken",
        body="I need it for payroll",
        processes=(PAYROLL,),
        urgency_override=Urgency.LOW,
        override_reason="payroll was sent from another PC",
    )
    # However close the cut-off gets, staff's urgency stands, and nothing asks for a re-triage.
    for now in (chicago(2026, 3, 13, 10), chicago(2026, 3, 18, 16), chicago(2026, 3, 20, 7)):
        result = triage(facts, now=now)
        assert (result.urgency, result.priority, result.next_review_at) == (Urgency.LOW, Priority.P3, None)


def test_an_override_without_a_reason_says_so() -> None:
    result = triage(overridden(OUTAGE, impact_override=Impact.TEAM), now=NOW)
    assert result.reasons[0].because.startswith("set by staff: no reason given")


def test_an_override_equal_to_the_signal_says_only_staff() -> None:
    result = triage(overridden(OUTAGE, impact_override=Impact.COMPANY, override_reason="confirmed"), now=NOW)
    assert result.reasons[0].because == "set by staff: confirmed"


# --- downtime cost ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("impact", "headcount", "people"),
    [
        (Impact.PERSON, 25, 1),
        (Impact.PERSON, None, 1),
        (Impact.TEAM, 25, 5),
        (Impact.TEAM, 7, 2),  # a fifth of 7 is 1.4: at least two
        (Impact.TEAM, 1, 1),  # never more than everyone
        (Impact.TEAM, 12, 2),  # 2.4 rounds to 2
        (Impact.TEAM, 13, 3),  # 2.6 rounds to 3
        (Impact.TEAM, None, 2),
        (Impact.COMPANY, 25, 25),
        (Impact.COMPANY, None, None),
    ],
)
def test_affected_people(impact: Impact, headcount: int | None, people: int | None) -> None:
    assert affected_people(impact, headcount) == people


def test_cost_per_hour_is_people_times_hourly_cost_plus_revenue_when_the_company_stops() -> None:
    figures = {"headcount": 25, "hourly_cost": Decimal("55.00"), "revenue_per_hour": Decimal("400.00")}
    assert downtime_cost(Impact.PERSON, **figures).per_hour == Decimal("55.00")  # type: ignore[arg-type]
    assert downtime_cost(Impact.TEAM, **figures).per_hour == Decimal("275.00")  # type: ignore[arg-type]
    company = downtime_cost(Impact.COMPANY, **figures)  # type: ignore[arg-type]
    assert company.per_hour == Decimal("1775.00")
    assert company.working == "25 people × 55.00 per person-hour + 400.00 revenue per hour"


def test_no_figures_no_cost() -> None:
    assert (
        downtime_cost(Impact.COMPANY, headcount=None, hourly_cost=None, revenue_per_hour=None).per_hour
        is None
    )
    assert (
        downtime_cost(Impact.PERSON, headcount=10, hourly_cost=None, revenue_per_hour=Decimal(900)).per_hour
        is None
    )
    revenue_only = downtime_cost(
        Impact.COMPANY, headcount=None, hourly_cost=None, revenue_per_hour=Decimal(900)
    )
    assert revenue_only.per_hour == Decimal("900.00")


def test_the_result_carries_the_cost_and_its_reason() -> None:
    facts = overridden(OUTAGE, headcount=25, hourly_cost=Decimal("55"), revenue_per_hour=Decimal("400"))
    result = triage(facts, now=NOW)
    assert (result.affected_people, result.cost_per_hour) == (25, Decimal("1775.00"))
    assert result.reasons[-1].text == (
        "Cost: 1775.00 per hour — downtime: 25 people × 55.00 per person-hour + 400.00 revenue per hour"
    )
    assert all(reason.dimension != "cost" for reason in triage(OUTAGE, now=NOW).reasons)


# --- explanation and contract ----------------------------------------------------------------


def test_the_explanation_names_what_set_impact_and_urgency() -> None:
    result = triage(overridden(OUTAGE, is_emergency=True), now=NOW)
    assert result.explanation == (
        "P1: impact the whole company — the message says “Server is down”; "
        "urgency high — marked as an emergency by the requester."
    )
    assert result.reasons[2].text == (
        "Priority: P1 — impact the whole company × urgency high in the priority matrix"
    )


def test_a_long_explanation_is_clipped_to_fit_the_ticket_field() -> None:
    long_reason = "staff checked it with the client on the phone and " * 10
    facts = overridden(
        OUTAGE, impact_override=Impact.TEAM, urgency_override=Urgency.HIGH, override_reason=long_reason
    )
    explanation = triage(facts, now=NOW).explanation
    assert len(explanation) <= MAX_EXPLANATION_CHARS
    assert explanation.startswith("P2: impact a team or site — set by staff: staff checked")
    assert "; urgency high — set by staff:" in explanation
    assert "…" in explanation


def test_a_custom_matrix_is_used() -> None:
    stricter = Matrix({(Impact.COMPANY, Urgency.MEDIUM): Priority.P1})
    assert triage(OUTAGE, now=NOW, matrix=stricter).priority == Priority.P1


def test_the_same_facts_give_the_same_result() -> None:
    assert triage(OUTAGE, now=NOW) == triage(OUTAGE, now=NOW)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        triage(OUTAGE, now=datetime(2026, 3, 2, 15))  # naive on purpose
