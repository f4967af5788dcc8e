"""A suspicious-email verification: the ticket it belongs to, whom we call back on a number we
already had, the analysis of the forwarded email, and the outcome of the call."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from firstcall.clients.models import Contact
from firstcall.security.analysis import Verdict
from firstcall.tickets.models import Ticket


class CallOutcome(models.TextChoices):
    GENUINE = "genuine", "Confirmed genuine"
    FRAUD = "fraud", "Confirmed fraud"
    UNREACHABLE = "unreachable", "Could not reach"


class EmailVerification(models.Model):
    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="verification")
    # The client's forward as received (the analysis reads the original out of it).
    inbound = models.ForeignKey(
        "intake.InboundMessage", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    # Who the suspicious email says it is from (as written in it: never trusted for contact).
    claimed_name = models.CharField(max_length=200, blank=True)
    claimed_address = models.CharField(max_length=254, blank=True)
    original_subject = models.CharField(max_length=300, blank=True)

    # Whom we call, on a number from our own records (never from the email), and why them.
    callback_contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    callback_name = models.CharField(max_length=200, blank=True)
    callback_number = models.CharField(max_length=32, blank=True, help_text="E.164")
    callback_basis = models.CharField(max_length=300, blank=True)

    # The analysis (firstcall.security.analysis), filled in by the worker.
    analyzed_at = models.DateTimeField(null=True, blank=True)
    analysis_attempts = models.PositiveSmallIntegerField(default=0)
    analysis_error = models.CharField(max_length=300, blank=True)
    verdict = models.CharField(max_length=20, choices=Verdict.choices, blank=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    # How the original came: "attachment", "inline", or "" (not found).
    original_how = models.CharField(max_length=20, blank=True)
    # Each finding as {"code", "state", "title", "evidence", "explanation", "weight"}.
    findings: models.JSONField[list[dict[str, Any]]] = models.JSONField(default=list, blank=True)

    # The call, recorded by a technician; until then the ticket may not be resolved.
    outcome = models.CharField(max_length=20, choices=CallOutcome.choices, blank=True)
    outcome_note = models.TextField(blank=True)
    outcome_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    outcome_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The sweep reads only the verifications still waiting for their analysis.
            models.Index(
                fields=["created_at"],
                name="verification_unanalyzed",
                condition=models.Q(analyzed_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"Verification of {self.ticket.number}"

    @property
    def red_flags(self) -> list[dict[str, Any]]:
        """The red flags, heaviest first (a repeated kind, which adds nothing, after its first)."""
        flags = [finding for finding in self.findings if finding.get("state") == "red_flag"]
        return sorted(flags, key=lambda finding: -int(finding.get("weight") or 0))

    @property
    def other_findings(self) -> list[dict[str, Any]]:
        return [finding for finding in self.findings if finding.get("state") != "red_flag"]

    @property
    def outcome_choices(self) -> list[tuple[str, str]]:
        """For the panel's form (it is included with only the ticket in its context)."""
        return list(CallOutcome.choices)
