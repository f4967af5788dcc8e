"""The outbox: one Delivery row per outbound message, claimed atomically by a worker."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up)"
    BOUNCED = "bounced", "Bounced"
    SUPPRESSED = "suppressed", "Not sent"


class DeliveryPurpose(models.TextChoices):
    ACKNOWLEDGMENT = "acknowledgment", "Acknowledgment"
    REPLY = "reply", "Reply"
    PAGE = "page", "Page to staff"


class Delivery(models.Model):
    message = models.OneToOneField("tickets.Message", on_delete=models.CASCADE, related_name="delivery")
    purpose = models.CharField(max_length=20, choices=DeliveryPurpose.choices)
    channel = models.CharField(max_length=20, default="email", help_text="email or sms")
    to_address = models.CharField(max_length=254, db_index=True)
    from_address = models.CharField(max_length=254)
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    rfc_message_id = models.CharField(max_length=255, unique=True)
    in_reply_to = models.CharField(max_length=255, blank=True)
    references = models.TextField(blank=True)
    auto_submitted = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A worker that claimed the row and died leaves it 'sending'; after this the sweep frees it.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    # The provider's id for the sent message (Twilio's MessageSid), to match status callbacks.
    provider_message_id = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    # When the provider confirmed the message reached the phone (texts only).
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_due",
                condition=models.Q(status__in=["pending", "sending"]),
            ),
            models.Index(fields=["to_address", "purpose", "created_at"], name="delivery_rate"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} to {self.to_address} ({self.status})"


class SmsOptOut(models.Model):
    """A number that texted STOP: we send it nothing until it texts START."""

    number = models.CharField(max_length=32, unique=True)
    opted_out_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.number} (opted out {self.opted_out_at:%Y-%m-%d})"
