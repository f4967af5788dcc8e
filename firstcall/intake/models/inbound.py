"""The raw store: every inbound payload is kept before anything else happens to it."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from firstcall.tickets.models import Channel


class InboundStatus(models.TextChoices):
    RECEIVED = "received", "Received, not yet processed"
    PROCESSED = "processed", "Processed"
    REJECTED = "rejected", "Rejected"


class InboundMessage(models.Model):
    """A payload as it arrived. The ticket entry made from it is its ``timeline_message``
    (``Message.inbound``); a rejected payload has none."""

    channel = models.CharField(max_length=20, choices=Channel.choices)
    # What the source calls it: the email Message-ID (or sha256:<hash of raw bytes> without one),
    # a web form's submission token, an API Idempotency-Key, later a Twilio MessageSid...
    external_id = models.CharField(max_length=255)
    raw = models.BinaryField()
    # Transport facts that are not in the payload: SMTP envelope, peer address, API user...
    metadata: models.JSONField[dict[str, Any]] = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=InboundStatus.choices, default=InboundStatus.RECEIVED)
    reason = models.CharField(max_length=500, blank=True, help_text="Why rejected, or the last error")
    processing_attempts = models.PositiveSmallIntegerField(default=0)
    # How often the same payload arrived again (redelivery); it is processed only once.
    duplicate_deliveries = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="inbound_unique_per_channel")
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                name="inbound_awaiting_processing",
                condition=models.Q(status="received"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.external_id} ({self.status})"
