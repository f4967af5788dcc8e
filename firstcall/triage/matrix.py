"""Impact, urgency, and the matrix that turns the two into a priority (ITIL-style by default).

Pure: the stored cells (``MatrixCell``) are read by ``firstcall.triage.load.load_matrix``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from django.db import models

from firstcall.triage.priority import Priority


class Impact(models.TextChoices):
    """How many people the problem stops, in ascending order."""

    PERSON = "person", "one person"
    TEAM = "team", "a team or site"
    COMPANY = "company", "the whole company"


class Urgency(models.TextChoices):
    """How soon it must be fixed, in ascending order."""

    LOW = "low", "low"
    MEDIUM = "medium", "medium"
    HIGH = "high", "high"
    CRITICAL = "critical", "critical"


IMPACT_ORDER: tuple[Impact, ...] = (Impact.PERSON, Impact.TEAM, Impact.COMPANY)
URGENCY_ORDER: tuple[Urgency, ...] = (Urgency.LOW, Urgency.MEDIUM, Urgency.HIGH, Urgency.CRITICAL)
IMPACT_RANK: Mapping[Impact, int] = MappingProxyType({value: rank for rank, value in enumerate(IMPACT_ORDER)})
URGENCY_RANK: Mapping[Urgency, int] = MappingProxyType(
    {value: rank for rank, value in enumerate(URGENCY_ORDER)}
)


def urgency_step_up(urgency: Urgency) -> Urgency:
    """One step more urgent; critical stays critical."""
    return URGENCY_ORDER[min(URGENCY_RANK[urgency] + 1, len(URGENCY_ORDER) - 1)]


# Rows impact, columns urgency (critical, high, medium, low): ITIL's 3×3 widened with a
# "critical" column that makes anything P1, and one person at low urgency the only P4.
DEFAULT_CELLS: Mapping[tuple[Impact, Urgency], Priority] = MappingProxyType(
    {
        (Impact.COMPANY, Urgency.CRITICAL): Priority.P1,
        (Impact.COMPANY, Urgency.HIGH): Priority.P1,
        (Impact.COMPANY, Urgency.MEDIUM): Priority.P2,
        (Impact.COMPANY, Urgency.LOW): Priority.P3,
        (Impact.TEAM, Urgency.CRITICAL): Priority.P1,
        (Impact.TEAM, Urgency.HIGH): Priority.P2,
        (Impact.TEAM, Urgency.MEDIUM): Priority.P3,
        (Impact.TEAM, Urgency.LOW): Priority.P3,
        (Impact.PERSON, Urgency.CRITICAL): Priority.P1,
        (Impact.PERSON, Urgency.HIGH): Priority.P2,
        (Impact.PERSON, Urgency.MEDIUM): Priority.P3,
        (Impact.PERSON, Urgency.LOW): Priority.P4,
    }
)


@dataclass(frozen=True)
class Matrix:
    """Priority for each (impact, urgency). Cells not given fall back to the default."""

    cells: Mapping[tuple[Impact, Urgency], Priority] = field(default_factory=lambda: DEFAULT_CELLS)

    def __post_init__(self) -> None:
        complete = dict(DEFAULT_CELLS)
        complete.update(self.cells)
        object.__setattr__(self, "cells", MappingProxyType(complete))

    def priority(self, impact: Impact, urgency: Urgency) -> Priority:
        return self.cells[(Impact(impact), Urgency(urgency))]

    def differs_from_default(self) -> bool:
        return dict(self.cells) != dict(DEFAULT_CELLS)


DEFAULT_MATRIX = Matrix()
