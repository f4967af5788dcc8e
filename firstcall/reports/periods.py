"""Periods for reports, in the MSP's time zone (``settings.TIME_ZONE``): days start at local
midnight and weeks on Monday, so "this week" is the same week the staff's wall calendar shows,
across daylight-saving changes (a week with a change is 167 or 169 hours long)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


@dataclass(frozen=True)
class Period:
    """The half-open stretch ``[start, end)`` (in UTC), with the local dates it covers."""

    start: datetime
    end: datetime
    first_day: date
    last_day: date

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


def msp_zone() -> ZoneInfo:
    """Read at every call, so a changed setting (and a test's override) applies at once."""
    return ZoneInfo(settings.TIME_ZONE)


def local_midnight(day: date, zone: ZoneInfo | None = None) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=zone or msp_zone())


def days_period(first_day: date, last_day: date) -> Period:
    """From the start of ``first_day`` to the end of ``last_day``, local dates."""
    zone = msp_zone()
    # In UTC, so that end − start is the real length (Python subtracts two times of the same
    # zone as wall-clock times).
    start = local_midnight(first_day, zone).astimezone(UTC)
    end = local_midnight(last_day + timedelta(days=1), zone).astimezone(UTC)
    return Period(start, end, first_day, last_day)


def today(now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(msp_zone()).date()


def week_of(day: date) -> Period:
    """The Monday-to-Sunday week containing ``day``."""
    monday = day - timedelta(days=day.weekday())
    return days_period(monday, monday + timedelta(days=6))


def month_of(day: date) -> Period:
    first = day.replace(day=1)
    next_month = (first + timedelta(days=32)).replace(day=1)
    return days_period(first, next_month - timedelta(days=1))


def last_days(count: int, now: datetime | None = None) -> list[Period]:
    """One period per day for the last ``count`` days, today last."""
    current = today(now)
    return [days_period(day, day) for day in (current - timedelta(days=n) for n in range(count - 1, -1, -1))]


def last_weeks(count: int, now: datetime | None = None) -> list[Period]:
    """One period per Monday-to-Sunday week for the last ``count`` weeks, this week last."""
    current = today(now)
    return [week_of(current - timedelta(weeks=n)) for n in range(count - 1, -1, -1)]


class PeriodChoice(StrEnum):
    """The periods the dashboard offers, by their query-string value."""

    THIS_WEEK = "this-week"
    LAST_WEEK = "last-week"
    THIS_MONTH = "this-month"
    LAST_MONTH = "last-month"

    @property
    def label(self) -> str:
        return self.value.replace("-", " ").capitalize()

    def period(self, now: datetime | None = None) -> Period:
        current = today(now)
        if self is PeriodChoice.THIS_WEEK:
            return week_of(current)
        if self is PeriodChoice.LAST_WEEK:
            return week_of(current - timedelta(weeks=1))
        if self is PeriodChoice.THIS_MONTH:
            return month_of(current)
        return month_of(current.replace(day=1) - timedelta(days=1))
