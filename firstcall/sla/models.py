"""Stored SLA calendars (weekly hours, holidays, closed days, time zone) and the SLA targets of a
contract, one row per priority."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Cast

from firstcall.clients.models import Weekday, validate_time_zone
from firstcall.sla.calendars import (
    DAYS_PER_WEEK,
    CalendarSpec,
    DayHours,
    HolidayRegionError,
    minute_of_day,
    validate_holiday_region,
)
from firstcall.triage.priority import Priority

MIDNIGHT = time(0, 0)


class Calendar(models.Model):
    """When the clock of an SLA target runs: weekly hours in a time zone, minus public holidays
    and closed days; or always (24×7)."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="IANA name, e.g. America/Chicago. The hours below are wall-clock times there.",
    )
    always_open = models.BooleanField(
        default=False,
        help_text="24×7: open every minute. Hours, holidays and closed days are then ignored.",
    )
    holiday_country = models.CharField(
        max_length=3,
        blank=True,
        help_text="ISO 3166 country code (e.g. US, DE) whose public holidays are closed days.",
    )
    holiday_subdivision = models.CharField(
        max_length=32,
        blank=True,
        help_text="State or region code for regional holidays (e.g. CA, BY); blank for national only.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.holiday_country = self.holiday_country.strip().upper()
        self.holiday_subdivision = self.holiday_subdivision.strip()
        if self.always_open and self.holiday_country:
            raise ValidationError(
                {
                    "holiday_country": "A 24×7 calendar is never closed, so it takes no holidays. For "
                    "round-the-clock hours that close on holidays, give each day 00:00–00:00 instead."
                }
            )
        try:
            validate_holiday_region(self.holiday_country)
        except HolidayRegionError as exc:
            raise ValidationError({"holiday_country": str(exc)}) from None
        if self.holiday_subdivision and not self.holiday_country:
            raise ValidationError({"holiday_country": "Needed for a holiday subdivision."})
        try:
            validate_holiday_region(self.holiday_country, self.holiday_subdivision)
        except HolidayRegionError as exc:
            raise ValidationError({"holiday_subdivision": str(exc)}) from None

    def spec(self) -> CalendarSpec:
        """The calendar for arithmetic (`firstcall.sla.calendars`). Uses prefetched `hours` and
        `closed_days` when present; otherwise up to 2 queries (none for a 24×7 calendar)."""
        if self.always_open:
            return build_spec(self.time_zone, always_open=True)
        return build_spec(
            self.time_zone,
            always_open=False,
            hours=[(row.weekday, row.opens, row.closes) for row in self.hours.all()],
            holiday_country=self.holiday_country,
            holiday_subdivision=self.holiday_subdivision,
            closed_dates=[row.date for row in self.closed_days.all()],
        )


class CalendarHours(models.Model):
    """One opening of a calendar on a day of the week, in the calendar's wall-clock time. A
    closing time of 00:00 means midnight at the end of the day (00:00–00:00 is the whole day).
    Overlapping rows of the same day count once."""

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField(help_text="00:00 means midnight at the end of the day.")

    class Meta:
        ordering = ["calendar", "weekday", "opens"]
        verbose_name_plural = "calendar hours"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(opens__lt=models.F("closes")) | models.Q(closes=MIDNIGHT),
                name="sla_hours_open_before_close",
            ),
            models.CheckConstraint(condition=models.Q(weekday__lte=6), name="sla_hours_weekday_0_to_6"),
        ]

    def __str__(self) -> str:
        closes = "24:00" if self.closes == MIDNIGHT else f"{self.closes:%H:%M}"
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{closes}"

    def clean(self) -> None:
        for name in ("opens", "closes"):
            value = getattr(self, name)
            if value is not None and (value.second or value.microsecond):
                raise ValidationError({name: "Use whole minutes."})
        if (
            self.opens is not None
            and self.closes is not None
            and self.closes != MIDNIGHT
            and self.opens >= self.closes
        ):
            raise ValidationError({"closes": "Must be after the opening time (00:00 for midnight)."})


class ClosedDay(models.Model):
    """A date on which the calendar is closed all day, beyond public holidays (e.g. a company
    event). The date is the calendar's local date."""

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="closed_days")
    date = models.DateField()
    name = models.CharField(max_length=200, blank=True, help_text="e.g. Company retreat")

    class Meta:
        ordering = ["calendar", "date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="sla_one_closed_day_per_date")
        ]

    def __str__(self) -> str:
        return f"{self.date.isoformat()} {self.name}".strip()


def _merged_day_hours(openings: Iterable[tuple[int, int]]) -> DayHours:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(openings):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def build_spec(
    time_zone: str,
    *,
    always_open: bool,
    hours: Iterable[tuple[int, time, time]] = (),
    holiday_country: str = "",
    holiday_subdivision: str = "",
    closed_dates: Iterable[date] = (),
) -> CalendarSpec:
    """A CalendarSpec from stored values: `hours` are (weekday, opens, closes) rows, closes 00:00
    meaning midnight; overlapping rows of a day are merged."""
    if always_open:
        return CalendarSpec.twenty_four_seven(time_zone)
    openings: list[list[tuple[int, int]]] = [[] for _ in range(DAYS_PER_WEEK)]
    for weekday, opens, closes in hours:
        openings[weekday].append((minute_of_day(opens), minute_of_day(closes, closing=True)))
    return CalendarSpec(
        zone=ZoneInfo(time_zone),
        always_open=False,
        weekly_hours=tuple(_merged_day_hours(day) for day in openings),
        holiday_country=holiday_country,
        holiday_subdivision=holiday_subdivision,
        closed_dates=frozenset(closed_dates),
    )


@dataclass(frozen=True)
class LoadedCalendar:
    pk: int
    name: str
    spec: CalendarSpec


def load_calendar(*, pk: int | None = None, name: str | None = None) -> LoadedCalendar | None:
    """A calendar and its spec by primary key or name, in ONE query (the calendar row, its hours
    and its closed days as a UNION ALL), or None when there is no such calendar."""
    if (pk is None) == (name is None):
        raise TypeError("load_calendar needs exactly one of pk or name")
    lookup: dict[str, Any] = {"pk": pk} if pk is not None else {"name": name}
    related_lookup = {f"calendar__{key}": value for key, value in lookup.items()}

    def null(output_field: models.Field[Any, Any]) -> Cast:
        # Typed: PostgreSQL resolves a column of two untyped NULLs to text, then refuses to
        # union it with the dates or times of the next branch.
        return Cast(models.Value(None), output_field=output_field)

    # Ten columns in every branch; the first says which kind of row it is.
    calendar_row = Calendar.objects.filter(**lookup).values_list(
        models.Value("calendar", output_field=models.CharField()),
        "pk",
        "name",
        "time_zone",
        "always_open",
        "holiday_country",
        "holiday_subdivision",
        null(models.DateField()),
        null(models.TimeField()),
        null(models.TimeField()),
    )
    hours_rows = CalendarHours.objects.filter(**related_lookup).values_list(
        models.Value("hours", output_field=models.CharField()),
        "weekday",
        null(models.CharField()),
        null(models.CharField()),
        null(models.BooleanField()),
        null(models.CharField()),
        null(models.CharField()),
        null(models.DateField()),
        "opens",
        "closes",
    )
    closed_rows = ClosedDay.objects.filter(**related_lookup).values_list(
        models.Value("closed", output_field=models.CharField()),
        null(models.IntegerField()),
        null(models.CharField()),
        null(models.CharField()),
        null(models.BooleanField()),
        null(models.CharField()),
        null(models.CharField()),
        "date",
        null(models.TimeField()),
        null(models.TimeField()),
    )
    rows = list(calendar_row.order_by().union(hours_rows.order_by(), closed_rows.order_by(), all=True))
    calendar = next((row for row in rows if row[0] == "calendar"), None)
    if calendar is None:
        return None
    _, calendar_pk, calendar_name, time_zone, always_open, country, subdivision, _, _, _ = calendar
    spec = build_spec(
        time_zone,
        always_open=always_open,
        hours=[(row[1], row[8], row[9]) for row in rows if row[0] == "hours"],
        holiday_country=country,
        holiday_subdivision=subdivision,
        closed_dates=[row[7] for row in rows if row[0] == "closed"],
    )
    return LoadedCalendar(pk=calendar_pk, name=calendar_name, spec=spec)


class SlaTarget(models.Model):
    """The targets of one priority under a contract, in open minutes of a calendar (e.g. P1 on
    24×7, P3 on business hours). Blank next-update or resolution targets mean none."""

    contract = models.ForeignKey("clients.Contract", on_delete=models.CASCADE, related_name="sla_targets")
    priority = models.CharField(max_length=2, choices=Priority.choices)
    first_response_minutes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    next_update_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Blank: no next-update target."
    )
    resolution_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Blank: no resolution target."
    )
    calendar = models.ForeignKey(Calendar, on_delete=models.PROTECT, related_name="sla_targets")

    class Meta:
        ordering = ["contract", "priority"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "priority"], name="sla_one_target_per_priority"),
            models.CheckConstraint(
                condition=models.Q(first_response_minutes__gt=0), name="sla_first_response_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(next_update_minutes__isnull=True) | models.Q(next_update_minutes__gt=0),
                name="sla_next_update_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(resolution_minutes__isnull=True) | models.Q(resolution_minutes__gt=0),
                name="sla_resolution_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.priority}: first response in {self.first_response_minutes} min"


class ClockKind(models.TextChoices):
    FIRST_RESPONSE = "first_response", "First response"
    NEXT_UPDATE = "next_update", "Next update"
    RESOLUTION = "resolution", "Resolution"


class SlaClock(models.Model):
    """One SLA clock of a ticket, as ``firstcall.sla.tracking.sync_clocks`` last computed it from
    the ticket's history, plus what was done at its moments (warned, breached)."""

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="sla_clocks")
    kind = models.CharField(max_length=20, choices=ClockKind.choices)
    target_minutes = models.PositiveIntegerField()
    calendar_name = models.CharField(max_length=100)
    # Counted on business hours (not a 24×7 calendar): the target reads "4 business hours".
    business_hours = models.BooleanField(default=False)
    started_at = models.DateTimeField()
    # None while paused short of the target.
    due_at = models.DateTimeField(null=True, blank=True)
    warn_at = models.DateTimeField(null=True, blank=True)
    # Stopped for good (first response given, ticket resolved); a reopened ticket's clocks resume.
    stopped_at = models.DateTimeField(null=True, blank=True)
    paused = models.BooleanField(default=False)
    warned_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    # The next moment something is to be done (warning or deadline); None when nothing is.
    next_check_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["ticket", "kind"]
        constraints = [models.UniqueConstraint(fields=["ticket", "kind"], name="sla_one_clock_per_kind")]
        indexes = [
            # The sweep reads only what is due: a small index of the clocks with a moment ahead.
            models.Index(
                fields=["next_check_at"],
                name="sla_clock_next_check",
                condition=models.Q(next_check_at__isnull=False),
            ),
            # The dashboard's SLA compliance: targets met (stopped) or missed (due) in a period.
            models.Index(
                fields=["stopped_at"], name="sla_clock_stopped", condition=models.Q(stopped_at__isnull=False)
            ),
            models.Index(fields=["due_at"], name="sla_clock_due", condition=models.Q(due_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} clock of ticket {self.ticket_id}"

    @property
    def met(self) -> bool | None:
        """Whether the target was met; None while the clock still runs or is paused."""
        if self.stopped_at is None:
            return None
        return self.due_at is None or self.stopped_at <= self.due_at
