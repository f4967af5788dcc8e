"""Tickets, the messages on their timeline, attachments and the audit trail."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.utils import timezone

from firstcall.clients.models import Client, Contact
from firstcall.triage.matrix import Impact, Urgency
from firstcall.triage.priority import Priority

TICKET_NUMBER_PATTERN = re.compile(r"\bT-(\d{6,})\b")


class Status(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    WAITING_ON_CLIENT = "waiting_on_client", "Waiting on client"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


# Where a ticket's work stands: still to do (the queue's "open work"), or done.
OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.WAITING_ON_CLIENT)
DONE_STATUSES = (Status.RESOLVED, Status.CLOSED)


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEB = "web", "Web form"
    API = "api", "API"
    PHONE = "phone", "Phone"
    SMS = "sms", "SMS"
    ALERT = "alert", "Monitoring alert"
    CONSOLE = "console", "Staff console"


class Ticket(models.Model):
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="tickets", null=True, blank=True
    )
    requester = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="tickets")
    participants = models.ManyToManyField(Contact, related_name="participating_tickets", blank=True)
    # The requester was not recognised as a client's contact; staff should check who this is.
    unverified_requester = models.BooleanField(default=False)
    subject = models.CharField(max_length=300)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    priority = models.CharField(max_length=2, choices=Priority.choices, default=Priority.P3)
    priority_explanation = models.CharField(max_length=300, blank=True)
    # Triage (firstcall.triage): what set the priority, and what staff overrode (with why).
    impact = models.CharField(max_length=10, choices=Impact.choices, default=Impact.PERSON)
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.MEDIUM)
    impact_override = models.CharField(max_length=10, choices=Impact.choices, blank=True)
    urgency_override = models.CharField(max_length=10, choices=Urgency.choices, blank=True)
    override_reason = models.CharField(max_length=300, blank=True)
    # Each reason as {"dimension", "value", "because"}, in the order they were applied.
    priority_reasons: models.JSONField[list[dict[str, str]]] = models.JSONField(default=list, blank=True)
    category = models.CharField(max_length=100, blank=True)
    tags: models.JSONField[list[str]] = models.JSONField(default=list, blank=True)
    team = models.CharField(max_length=100, blank=True)
    affected_people = models.PositiveIntegerField(null=True, blank=True)
    # Estimated downtime cost (client's currency) per hour; orders tickets of equal priority.
    cost_per_hour = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    # When triage should look again (a business-critical deadline draws nearer).
    triage_review_at = models.DateTimeField(null=True, blank=True)
    is_emergency = models.BooleanField(default=False)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
    )
    # A reply to a ticket closed long ago opens a new ticket that points back to the old one.
    follows_up = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="follow_ups"
    )
    # A duplicate merged into another ticket: closed, its timeline moved there, and anything
    # that still finds it (a reply naming its number) goes on to this one.
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_duplicates"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)
    # Mirrors of the SLA clocks (firstcall.sla), kept by sla.tracking.sync_clocks: the
    # first-response due time the acknowledgment promised, and the earliest due time of any
    # running clock (the queue orders by it).
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    sla_due_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="ticket_status_created"),
            models.Index(fields=["client", "status"], name="ticket_client_status"),
            models.Index(
                fields=["triage_review_at"],
                name="ticket_triage_review",
                condition=models.Q(triage_review_at__isnull=False),
            ),
            # The dashboard's time to resolve and first-contact resolution, per period.
            models.Index(
                fields=["resolved_at"], name="ticket_resolved", condition=models.Q(resolved_at__isnull=False)
            ),
            # The queue's team filter lists the teams of open work: a small index, not a scan.
            models.Index(
                fields=["team"],
                name="ticket_open_team",
                condition=models.Q(status__in=OPEN_STATUSES) & ~models.Q(team=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"

    @property
    def number(self) -> str:
        return format_ticket_number(self.pk)

    @property
    def time_zone(self) -> ZoneInfo:
        """The zone its times are shown in to people: the client's; the site's without a client."""
        return ZoneInfo(self.client.time_zone if self.client is not None else settings.TIME_ZONE)


def format_ticket_number(pk: int | None) -> str:
    return f"T-{pk:06d}" if pk is not None else "T-??????"


def reply_subject(ticket: Ticket, subject: str | None = None) -> str:
    """The subject of our mail on a ticket: its number, so replies thread, and "Re:" once."""
    subject = (subject or ticket.subject).strip()
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    return f"[{ticket.number}] {subject}"


def parse_ticket_number(text: str) -> int | None:
    """The ticket id in 'T-000123' (or a subject containing it), else None."""
    match = TICKET_NUMBER_PATTERN.search(text)
    return int(match.group(1)) if match else None


class MessageKind(models.TextChoices):
    INBOUND = "inbound", "Inbound message"
    REPLY = "reply", "Reply to the requester"
    AUTO_REPLY = "auto_reply", "Automatic acknowledgment"
    NOTE = "note", "Internal note"
    EVENT = "event", "System event"


class Direction(models.TextChoices):
    IN = "in", "Inbound"
    OUT = "out", "Outbound"
    INTERNAL = "internal", "Internal"


class Message(models.Model):
    """One entry on a ticket's timeline."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=20, choices=MessageKind.choices)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    author_contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    subject = models.CharField(max_length=300, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True, help_text="Sanitized with nh3 before it is stored.")
    # RFC 5322 Message-ID of the email this entry is (inbound) or was sent as (outbound),
    # so In-Reply-To / References of a later email find the ticket.
    rfc_message_id = models.CharField(max_length=255, blank=True, db_index=True)
    inbound = models.OneToOneField(
        "intake.InboundMessage",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="timeline_message",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="message_ticket_created")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.ticket.number}"

    @property
    def is_public(self) -> bool:
        return self.kind != MessageKind.NOTE


def attachment_path(instance: Attachment, filename: str) -> str:
    """Files are stored by content hash: the same file (a logo in every signature) is kept once."""
    return f"{instance.sha256[:2]}/{instance.sha256}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=300)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)

    def __str__(self) -> str:
        return self.filename


class AuditEvent(models.Model):
    """Every state change: who, what, when, before and after."""

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, null=True, blank=True, related_name="audit_events"
    )
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=100, help_text="e.g. 'system', 'email intake'")
    action = models.CharField(max_length=50, db_index=True)
    field = models.CharField(max_length=50, blank=True)
    before: models.JSONField[Any] = models.JSONField(null=True, blank=True)
    after: models.JSONField[Any] = models.JSONField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.action} {self.field}: {self.before!r} → {self.after!r}"

    @property
    def actor_display(self) -> str:
        if self.actor_user is not None:
            return str(self.actor_user)
        if self.actor_contact is not None:
            return str(self.actor_contact)
        return self.actor_label
