"""Ticket priority, P1 (critical) to P4 (low). How a ticket gets one is firstcall.triage.engine."""

from __future__ import annotations

from django.db import models


class Priority(models.TextChoices):
    P1 = "P1", "P1 — critical"
    P2 = "P2", "P2 — high"
    P3 = "P3", "P3 — normal"
    P4 = "P4", "P4 — low"
