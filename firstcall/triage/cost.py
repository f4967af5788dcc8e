"""Downtime cost: what an open ticket costs the client per hour, from the client's own figures.

cost per hour = affected people × loaded cost per person-hour, plus the client's revenue per
hour when the whole company is stopped. Used to show the stake on a ticket and to order tickets
of equal priority.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from firstcall.triage.matrix import Impact

# A team or site is taken as a fifth of the company (at least two people): a fixed rule of
# thumb rather than a setting, so the figure means the same for every client.
TEAM_SHARE = Decimal("0.2")
TEAM_MINIMUM = 2
CENT = Decimal("0.01")


def affected_people(impact: Impact, headcount: int | None) -> int | None:
    """How many people the impact stops: 1, a fifth of the headcount (at least 2, at most
    everyone), or everyone. None when it depends on a headcount the client has not given."""
    if impact == Impact.PERSON:
        return 1
    if headcount is None:
        return TEAM_MINIMUM if impact == Impact.TEAM else None
    if impact == Impact.TEAM:
        share = int((headcount * TEAM_SHARE).to_integral_value(rounding=ROUND_HALF_UP))
        return max(1, min(headcount, max(TEAM_MINIMUM, share)))
    return headcount


@dataclass(frozen=True)
class DowntimeCost:
    affected_people: int | None
    per_hour: Decimal | None
    # How the figure was reached, in words ("12 people × 55.00 per person-hour"); "" if none.
    working: str


def downtime_cost(
    impact: Impact,
    *,
    headcount: int | None,
    hourly_cost: Decimal | None,
    revenue_per_hour: Decimal | None,
) -> DowntimeCost:
    """The cost per hour of a ticket with ``impact`` for a client with these figures; None when
    the client has given none that apply."""
    people = affected_people(impact, headcount)
    parts: list[str] = []
    total = Decimal(0)
    if people is not None and hourly_cost is not None:
        total += people * hourly_cost
        noun = "person" if people == 1 else "people"
        parts.append(f"{people} {noun} × {hourly_cost:.2f} per person-hour")
    if impact == Impact.COMPANY and revenue_per_hour is not None:
        total += revenue_per_hour
        parts.append(f"{revenue_per_hour:.2f} revenue per hour")
    if not parts:
        return DowntimeCost(people, None, "")
    return DowntimeCost(people, total.quantize(CENT, rounding=ROUND_HALF_UP), " + ".join(parts))
