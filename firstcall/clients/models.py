"""Client organizations, their contacts, phone numbers, email domains and contracts."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from firstcall.triage.deadlines import (
    DEFAULT_CRITICAL_HOURS,
    DEFAULT_WARN_HOURS,
    ProcessSpec,
    parse_keywords,
)


def validate_time_zone(value: str) -> None:
    """Reject anything that is not an IANA time zone name."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            "%(value)s is not an IANA time zone name (e.g. America/Chicago).", params={"value": value}
        ) from None


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class Client(models.Model):
    name = models.CharField(max_length=200, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", help_text="IANA name, e.g. America/Chicago")
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Downtime cost (triage): what an hour of a stopped person, or company, costs the client.
    headcount = models.PositiveIntegerField(
        null=True, blank=True, help_text="People who work with the IT we support"
    )
    hourly_cost = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Loaded cost of one person-hour (wage, benefits, overhead)",
    )
    revenue_per_hour = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Optional: revenue lost per hour when the whole company is stopped",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(hourly_cost__isnull=True) | models.Q(hourly_cost__gte=0),
                name="client_hourly_cost_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(revenue_per_hour__isnull=True) | models.Q(revenue_per_hour__gte=0),
                name="client_revenue_per_hour_not_negative",
            ),
        ]

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
    """The client's support agreement. Its SLA targets per priority, each on a calendar, are
    ``sla.SlaTarget`` rows; ``support_hours`` is how the hours read to the client."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="contracts")
    name = models.CharField(max_length=200)
    support_hours = models.CharField(max_length=200, default="Mon–Fri 08:00–18:00")
    starts_on = models.DateField(default=timezone.localdate)
    ends_on = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.client}: {self.name}"


class BusinessProcess(models.Model):
    """A business-critical process of a client with a recurring deadline ("Payroll submitted to
    the provider every other Friday 14:00"). A ticket that blocks it gets more urgent as the
    deadline nears (firstcall.triage.deadlines)."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="business_processes")
    name = models.CharField(max_length=200, help_text="e.g. Payroll submission")
    keywords = models.CharField(
        max_length=500,
        help_text="Comma-separated words that mean a ticket concerns it, e.g. payroll, adp, paychex",
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    time = models.TimeField(help_text="Local time, in the client's time zone")
    every_weeks = models.PositiveSmallIntegerField(default=1, help_text="1 = weekly, 2 = every other week")
    anchor_date = models.DateField(
        null=True,
        blank=True,
        help_text="A date on which it occurs; needed when it does not happen every week",
    )
    warn_hours = models.PositiveIntegerField(
        default=DEFAULT_WARN_HOURS, help_text="Within this many hours of the deadline: urgency high"
    )
    critical_hours = models.PositiveIntegerField(
        default=DEFAULT_CRITICAL_HOURS, help_text="Within this many hours of the deadline: urgency critical"
    )

    class Meta:
        ordering = ["client", "name"]
        constraints = [
            models.UniqueConstraint(fields=["client", "name"], name="one_business_process_name_per_client"),
            models.CheckConstraint(condition=models.Q(weekday__lte=6), name="business_process_weekday"),
            models.CheckConstraint(
                condition=models.Q(every_weeks__gte=1, every_weeks__lte=52),
                name="business_process_every_weeks",
            ),
            models.CheckConstraint(
                condition=models.Q(every_weeks=1) | models.Q(anchor_date__isnull=False),
                name="business_process_anchor_when_skipping_weeks",
            ),
            models.CheckConstraint(
                condition=models.Q(critical_hours__lte=models.F("warn_hours")),
                name="business_process_critical_within_warn",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client}: {self.name}"

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        if not parse_keywords(self.keywords):
            errors["keywords"] = "Name at least one keyword."
        if self.every_weeks is not None and self.every_weeks > 1 and self.anchor_date is None:
            errors["anchor_date"] = "Give a date on which it occurs, so we know which weeks count."
        if (
            self.anchor_date is not None
            and self.weekday is not None
            and self.anchor_date.weekday() != self.weekday
        ):
            anchor = self.anchor_date
            errors["anchor_date"] = (
                f"{anchor:%A} {anchor.day} {anchor:%B %Y} is not a {Weekday(self.weekday).label}."
            )
        if (
            self.critical_hours is not None
            and self.warn_hours is not None
            and self.critical_hours > self.warn_hours
        ):
            errors["critical_hours"] = "Critical hours must not exceed warning hours."
        if errors:
            raise ValidationError(errors)

    def spec(self, time_zone: str | None = None) -> ProcessSpec:
        """The engine's form; ``time_zone`` saves loading the client when the caller has it."""
        return ProcessSpec(
            id=self.pk,
            name=self.name,
            keywords=parse_keywords(self.keywords),
            weekday=self.weekday,
            at=self.time,
            time_zone=time_zone if time_zone is not None else self.client.time_zone,
            every_weeks=self.every_weeks,
            anchor_date=self.anchor_date,
            warn_hours=self.warn_hours,
            critical_hours=self.critical_hours,
        )


def owner_of_number(number: str) -> PhoneNumber | None:
    """Who a (normalized) number belongs to: a contact's own number wins over a client's main
    line. The row comes with its contact and client. One query."""
    if not number:
        return None
    rows = PhoneNumber.objects.filter(number=number).select_related("contact__client", "client")
    # At most one row has a contact (one_contact_per_number), the others are clients' lines: a
    # handful at most, so they are ranked here (compiling an ORDER BY with NULLS LAST for the
    # database costs more than the whole query runs).
    return min(rows, key=lambda row: (row.contact_id is None, row.pk), default=None)
