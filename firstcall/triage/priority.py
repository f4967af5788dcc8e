"""Ticket priority. Until impact × urgency triage lands, a ticket's priority is a default that
an emergency raises; the explanation says so, so staff never wonder where a P1 came from."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class Priority(models.TextChoices):
    P1 = "P1", "P1 — critical"
    P2 = "P2", "P2 — high"
    P3 = "P3", "P3 — normal"
    P4 = "P4", "P4 — low"


@dataclass(frozen=True)
class PriorityDecision:
    priority: Priority
    explanation: str


def initial_priority(*, is_emergency: bool) -> PriorityDecision:
    if is_emergency:
        return PriorityDecision(Priority.P1, "Marked as an emergency by the requester.")
    return PriorityDecision(Priority.P3, "Default priority for a new request.")
