"""Client organizations, their contacts, phone numbers, email domains and contracts."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from firstcall.triage.priority import Priority


class Client(models.Model):
    name = models.CharField(max_length=200, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", help_text="IANA name, e.g. America/Chicago")
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def active_contract(self) -> Contract | None:
        today = timezone.localdate()
        return (
            self.contracts.filter(starts_on__lte=today)
            .filter(models.Q(ends_on__isnull=True) | models.Q(ends_on__gte=today))
            .order_by("-starts_on")
            .first()
        )


class EmailDomain(models.Model):
    """A mail domain owned by a client: an unknown sender there becomes a new contact of it."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="email_domains")
    domain = models.CharField(max_length=253, unique=True, help_text="lowercase, e.g. brightsmile.example")

    def __str__(self) -> str:
        return self.domain

    def save(self, *args: object, **kwargs: object) -> None:
        self.domain = self.domain.strip().lower()
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class Contact(models.Model):
    """A person who asks for help. Without a client, the person is an unverified requester."""

    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="contacts", null=True, blank=True
    )
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    is_vip = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "email"]
        constraints = [
            models.UniqueConstraint(
                fields=["email"], condition=~models.Q(email=""), name="contact_email_unique"
            )
        ]

    def __str__(self) -> str:
        if self.name and self.email:
            return f"{self.name} <{self.email}>"
        return self.name or self.email or f"contact {self.pk}"

    def save(self, *args: object, **kwargs: object) -> None:
        # Stored lowercased so lookups are exact and the unique index catches case variants.
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def is_verified(self) -> bool:
        return self.client_id is not None


def normalize_phone(value: str) -> str:
    """A phone number as we store and look it up: '+' and digits only (E.164 when the number
    carries its country code, as Twilio's always do). '' when there are no digits."""
    value = value.strip()
    digits = "".join(ch for ch in value if ch.isdigit())
    if value.startswith("00"):
        digits = digits[2:]
    if not digits:
        return ""
    return ("+" if value.startswith(("+", "00")) else "") + digits


class PhoneNumber(models.Model):
    """A phone number of a client (main line), of one of its contacts, or of an unverified
    caller (a contact with no client), in E.164 form."""

    number = models.CharField(max_length=32, db_index=True, help_text="E.164, e.g. +15551234567")
    label = models.CharField(max_length=50, blank=True, help_text="e.g. mobile, front desk")
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="phone_numbers", null=True, blank=True
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="phone_numbers", null=True, blank=True
    )
    # Whether texts can be sent to it (a mobile), as far as we know; None when unknown.
    can_receive_sms = models.BooleanField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(client__isnull=False) | models.Q(contact__isnull=False),
                name="phone_belongs_to_someone",
            ),
            # A personal number identifies one person (shared lines belong to the client).
            models.UniqueConstraint(
                fields=["number"], condition=models.Q(contact__isnull=False), name="one_contact_per_number"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.label})" if self.label else self.number

    def save(self, *args: object, **kwargs: object) -> None:
        self.number = normalize_phone(self.number)
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class Contract(models.Model):
    """The client's support agreement. Support hours are descriptive until SLA calendars land."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="contracts")
    name = models.CharField(max_length=200)
    support_hours = models.CharField(max_length=200, default="Mon–Fri 08:00–18:00")
    starts_on = models.DateField(default=timezone.localdate)
    ends_on = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.client}: {self.name}"


# Used when a client has no contract or its contract names no target for a priority.
DEFAULT_FIRST_RESPONSE_MINUTES = {
    Priority.P1: 30,
    Priority.P2: 60,
    Priority.P3: 4 * 60,
    Priority.P4: 24 * 60,
}


class ResponseTarget(models.Model):
    """First-response target for one priority under a contract."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="response_targets")
    priority = models.CharField(max_length=2, choices=Priority.choices)
    first_response_minutes = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contract", "priority"], name="one_target_per_priority")
        ]
        ordering = ["priority"]

    def __str__(self) -> str:
        return f"{self.priority}: {self.first_response_minutes} min"


def first_response_minutes(client_id: int | None, priority: str) -> int:
    """The first-response target for a new ticket: from the newest current contract of the
    client that names one for this priority, else the default. One query."""
    if client_id is None:
        return DEFAULT_FIRST_RESPONSE_MINUTES[Priority(priority)]
    today = timezone.localdate()
    # Filtered in Python: a client has a handful of contracts, and the simple query is cheap
    # on the intake hot path.
    targets = ResponseTarget.objects.filter(contract__client_id=client_id, priority=priority).values_list(
        "first_response_minutes", "contract__starts_on", "contract__ends_on"
    )
    current = [
        (starts_on, minutes)
        for minutes, starts_on, ends_on in targets
        if starts_on <= today and (ends_on is None or ends_on >= today)
    ]
    if not current:
        return DEFAULT_FIRST_RESPONSE_MINUTES[Priority(priority)]
    return max(current)[1]


def owner_of_number(number: str) -> PhoneNumber | None:
    """Who a (normalized) number belongs to: a contact's own number wins over a client's main
    line. The row comes with its contact and client. One query."""
    if not number:
        return None
    return (
        PhoneNumber.objects.filter(number=number)
        .select_related("contact__client", "client")
        .order_by(models.F("contact_id").asc(nulls_last=True), "pk")
        .first()
    )
