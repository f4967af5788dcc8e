"""Monitoring alert sources (who may post alerts, and how they map to clients) and alert
groups (which ticket a group of alerts is on, and which of its alerts we have seen)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from django.db import models
from django.utils import timezone

__all__ = ["AlertGroup", "AlertSource", "hash_alert_secret"]


def hash_alert_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class AlertSource(models.Model):
    """A monitoring system allowed to post alerts (an Alertmanager, a Grafana, a script).
    Its webhook URL names it by slug; it proves itself with its secret (stored hashed)."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True)
    secret_hash = models.CharField(max_length=64, help_text="sha256 of the shared secret")
    # The label (Alertmanager) naming the client; the generic format uses its `client` field.
    client_label = models.CharField(max_length=100, default="client")
    default_client = models.ForeignKey(
        "clients.Client",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Client of alerts whose labels name none (a client's own monitoring)",
    )
    resolve_tickets = models.BooleanField(
        default=True, help_text="Resolve the ticket when all alerts of its group are resolved"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    def set_secret(self, secret: str | None = None) -> str:
        """Set (or generate) the shared secret; returns it in plain, the only time it is seen."""
        plain = secret or secrets.token_urlsafe(32)
        self.secret_hash = hash_alert_secret(plain)
        return plain

    def secret_matches(self, given: str) -> bool:
        return bool(given) and hmac.compare_digest(hash_alert_secret(given), self.secret_hash)


class AlertGroup(models.Model):
    """One group of alerts (Alertmanager groupKey, or a generic dedupe key) for one client of
    one source, and the ticket it is on. ``episode`` counts the tickets the group has had: a
    group firing again after its ticket was resolved gets a new ticket and the next episode."""

    source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="groups")
    client = models.ForeignKey(
        "clients.Client", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    group_key = models.TextField()
    # sha256 of client id + group key: unique lookups on a short column (group keys can be long).
    key_hash = models.CharField(max_length=64)
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    episode = models.PositiveIntegerField(default=0)
    # fingerprint -> "firing" | "resolved", for the current episode.
    alerts: models.JSONField[dict[str, Any]] = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "key_hash"], name="alert_group_unique_per_client")
        ]

    def __str__(self) -> str:
        return f"{self.source.slug}: {self.group_key[:80]}"
