"""Phone calls: one record per call, whatever became of it (answered, voicemail, abandoned)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

__all__ = ["CallOutcome", "CallRecord", "CallSource"]


class CallSource(models.TextChoices):
    TWILIO = "twilio", "Twilio"
    PBX = "pbx", "PBX call-event webhook"
    CONSOLE = "console", "Logged by staff"


class CallOutcome(models.TextChoices):
    IN_PROGRESS = "", "In progress"
    ANSWERED = "answered", "Answered"
    VOICEMAIL = "voicemail", "Voicemail"
    ABANDONED = "abandoned", "Abandoned"


class CallRecord(models.Model):
    """The trace every call leaves: who called, for which client, what became of it, how long
    it took and who picked up. An unanswered call points at the ticket it opened."""

    source = models.CharField(max_length=20, choices=CallSource.choices)
    # Twilio's CallSid, the PBX's call id, or the console form's token: unique per source, so
    # a redelivered webhook updates the same record.
    call_id = models.CharField(max_length=200)
    caller = models.CharField(max_length=32, blank=True, help_text="E.164 number of the caller")
    caller_name = models.CharField(max_length=200, blank=True)
    callee = models.CharField(max_length=32, blank=True, help_text="The number that was called")
    client = models.ForeignKey(
        "clients.Client", on_delete=models.SET_NULL, null=True, blank=True, related_name="calls"
    )
    contact = models.ForeignKey(
        "clients.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="calls"
    )
    # Twilio's CallStatus as last reported (ringing, in-progress, completed, no-answer, ...).
    provider_status = models.CharField(max_length=20, blank=True)
    outcome = models.CharField(max_length=20, choices=CallOutcome.choices, blank=True, default="")
    is_emergency = models.BooleanField(default=False)
    answered_by_number = models.CharField(max_length=32, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    recording_url = models.URLField(max_length=500, blank=True)
    transcript = models.TextField(blank=True)
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="calls"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["source", "call_id"], name="call_unique_per_source")]
        indexes = [models.Index(fields=["client", "-started_at"], name="call_client_started")]

    def __str__(self) -> str:
        outcome = self.get_outcome_display().lower()
        return f"call from {self.caller or 'unknown number'} ({outcome})"

    @property
    def thread_key(self) -> str:
        """The key the call's ticket entry is stored under, so later callbacks thread onto it."""
        prefix = {CallSource.TWILIO: "call", CallSource.PBX: "pbx-call", CallSource.CONSOLE: "logged-call"}
        return f"{prefix[CallSource(self.source)]}:{self.call_id}"
