"""Calendar arithmetic for SLA targets: when a calendar is open, how many open minutes lie between
two instants, and when a number of open minutes will have elapsed.

Pure logic, no database: `firstcall.sla.models.Calendar.spec()` builds a `CalendarSpec` from the
stored calendar. Every instant going in must be timezone-aware; every instant coming out is in UTC.

How the arithmetic works: weekly hours are wall-clock times in the calendar's own zone. The walk
goes day by day in that zone, turns each day's hours into real (UTC) instants, and measures real
elapsed time between them. Daylight-saving changes therefore behave like this:

- Spring forward: a wall-clock time that does not exist (02:30 in New York on the March change)
  means the first real instant after the gap (03:00 local), so business hours 02:30–10:00 on that
  day open at 03:00 and count 7 hours.
- Fall back: a wall-clock time that happens twice (01:30 in New York on the November change)
  means its first occurrence, and an interval counts the real time it spans: a 00:00–08:00 shift
  on that day counts 9 hours, the repeated hour included.
- A 24×7 calendar counts real elapsed minutes, whatever the wall clock does.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeAlias
from zoneinfo import ZoneInfo

import holidays

MINUTES_PER_DAY = 24 * 60
DAYS_PER_WEEK = 7
# A search for open time gives up after this many consecutive days without any: such a calendar
# is misconfigured (every day closed), and a deadline years away is no deadline.
MAX_CLOSED_DAYS = 3 * 366

ONE_DAY = timedelta(days=1)
ONE_MINUTE = timedelta(minutes=1)

DayHours: TypeAlias = tuple[tuple[int, int], ...]
WeeklyHours: TypeAlias = tuple[DayHours, ...]

NO_HOURS: WeeklyHours = ((),) * DAYS_PER_WEEK


class HolidayRegionError(ValueError):
    """The `holidays` package knows no such country, or no such subdivision of it."""


@functools.lru_cache(maxsize=512)
def _holiday_dates(country: str, subdivision: str, year: int) -> frozenset[date]:
    calendar = holidays.country_holidays(country, subdiv=subdivision or None, years=year, observed=True)
    return frozenset(calendar.keys())


@functools.lru_cache(maxsize=256)
def validate_holiday_region(country: str, subdivision: str = "") -> None:
    """Raise HolidayRegionError unless `holidays` knows the country (ISO 3166 code, e.g. "US",
    "DE") and, when given, its subdivision (e.g. "CA", "BY")."""
    if subdivision and not country:
        raise HolidayRegionError("A holiday subdivision needs a holiday country.")
    if not country:
        return
    try:
        holidays.country_holidays(country, years=())
    except NotImplementedError:
        raise HolidayRegionError(
            f"No public holidays are known for country {country!r}; use an ISO 3166 code such as US or DE."
        ) from None
    if not subdivision:
        return
    try:
        holidays.country_holidays(country, subdiv=subdivision, years=())
    except NotImplementedError:
        known = holidays.list_supported_countries().get(country, [])
        raise HolidayRegionError(
            f"{country} has no subdivision {subdivision!r}. Known: {', '.join(known) or 'none'}."
        ) from None


def minute_of_day(value: str | time, *, closing: bool = False) -> int:
    """Minutes from local midnight for "HH:MM" or a time. A closing time of 00:00 (or "24:00")
    means midnight at the end of the day, 1440."""
    if isinstance(value, str):
        hours_text, _, minutes_text = value.strip().partition(":")
        try:
            hours, minutes = int(hours_text), int(minutes_text)
        except ValueError:
            raise ValueError(f"Not a time of day (HH:MM): {value!r}") from None
        if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
            raise ValueError(f"Not a time of day (HH:MM): {value!r}")
        minute = hours * 60 + minutes
    else:
        if value.second or value.microsecond:
            raise ValueError(f"Calendar hours are whole minutes, not {value.isoformat()}")
        minute = value.hour * 60 + value.minute
    if closing and minute == 0:
        return MINUTES_PER_DAY
    if not closing and minute == MINUTES_PER_DAY:
        raise ValueError("A day cannot open at 24:00.")
    return minute


def _as_zone(zone: str | ZoneInfo) -> ZoneInfo:
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)


@dataclass(frozen=True)
class CalendarSpec:
    """When a calendar is open.

    `weekly_hours` has 7 entries, Monday first; each is a sorted tuple of (start, end) intervals
    in local wall-clock minutes from midnight, with 0 ≤ start < end ≤ 1440. 1440 means "until
    midnight", so Monday 00:00–24:00 followed by Tuesday 00:00–24:00 is one continuous stretch.
    A local date is closed all day when it is a public holiday of `holiday_country` /
    `holiday_subdivision` (observed days included) or in `closed_dates`.
    `always_open` (24×7) ignores hours, holidays and closed dates: every minute is open.
    """

    zone: ZoneInfo
    always_open: bool
    weekly_hours: WeeklyHours = NO_HOURS
    holiday_country: str = ""
    holiday_subdivision: str = ""
    closed_dates: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not isinstance(self.zone, ZoneInfo):
            raise TypeError("CalendarSpec.zone must be a ZoneInfo")
        if len(self.weekly_hours) != DAYS_PER_WEEK:
            raise ValueError("weekly_hours needs 7 entries, Monday to Sunday")
        for day_hours in self.weekly_hours:
            previous_end = 0
            for start, end in day_hours:
                if not 0 <= start < end <= MINUTES_PER_DAY:
                    raise ValueError(f"Bad interval ({start}, {end}): need 0 ≤ start < end ≤ 1440")
                if start < previous_end:
                    raise ValueError(f"Intervals of a day must be sorted and not overlap: {day_hours}")
                previous_end = end
        validate_holiday_region(self.holiday_country, self.holiday_subdivision)

    @classmethod
    def twenty_four_seven(cls, zone: str | ZoneInfo = "UTC") -> CalendarSpec:
        """Open every minute of every day (the zone only matters for displaying times)."""
        return cls(zone=_as_zone(zone), always_open=True)

    @classmethod
    def business_hours(
        cls,
        zone: str | ZoneInfo,
        opens: str | time = "08:00",
        closes: str | time = "18:00",
        weekdays: Iterable[int] = range(5),
        *,
        holiday_country: str = "",
        holiday_subdivision: str = "",
        closed_dates: Iterable[date] = (),
    ) -> CalendarSpec:
        """The same hours on each of `weekdays` (0 = Monday), closed the rest of the week."""
        interval = ((minute_of_day(opens), minute_of_day(closes, closing=True)),)
        open_days = set(weekdays)
        if not open_days <= set(range(DAYS_PER_WEEK)):
            raise ValueError(f"Weekdays are 0 (Monday) to 6 (Sunday), not {sorted(open_days)}")
        return cls(
            zone=_as_zone(zone),
            always_open=False,
            weekly_hours=tuple(interval if day in open_days else () for day in range(DAYS_PER_WEEK)),
            holiday_country=holiday_country,
            holiday_subdivision=holiday_subdivision,
            closed_dates=frozenset(closed_dates),
        )

    @property
    def has_open_hours(self) -> bool:
        return self.always_open or any(self.weekly_hours)

    def is_closed_on(self, day: date) -> bool:
        """Whether the local date `day` is closed all day by a holiday or a custom closed day
        (weekly hours aside). Always False for a 24×7 calendar."""
        if self.always_open:
            return False
        if day in self.closed_dates:
            return True
        if not self.holiday_country:
            return False
        return day in _holiday_dates(self.holiday_country, self.holiday_subdivision, day.year)


def _end_of_gap(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first real instant after the spring-forward gap that the wall-clock time falls in."""
    # For a time in a gap, fold=1 uses the offset after the change (giving an instant before
    # it) and fold=0 the offset before (an instant after it): bisect between them, by seconds.
    earlier = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    later = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    later_offset = later.astimezone(zone).utcoffset()
    low, high = 0, int((later - earlier).total_seconds())
    while low < high:
        middle = (low + high) // 2
        if (earlier + timedelta(seconds=middle)).astimezone(zone).utcoffset() == later_offset:
            high = middle
        else:
            low = middle + 1
    return earlier + timedelta(seconds=low)


def _wall_to_utc(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The real instant of a wall-clock minute of a local date (see the module's DST notes)."""
    if minute == MINUTES_PER_DAY:
        day, minute = day + ONE_DAY, 0
    # fold=0: a wall-clock time that happens twice means its first occurrence.
    local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone)
    instant = local.astimezone(UTC)
    # Aware datetimes with the same tzinfo compare by wall clock: a time in a spring-forward
    # gap does not survive the round trip.
    if instant.astimezone(zone) != local:
        return _end_of_gap(local.replace(tzinfo=None), zone)
    return instant


def _day_intervals(spec: CalendarSpec, day: date) -> list[tuple[datetime, datetime]]:
    """The open intervals of one local date of a calendar with weekly hours, in UTC."""
    day_hours = spec.weekly_hours[day.weekday()]
    if not day_hours or spec.is_closed_on(day):
        return []
    intervals = []
    for start_minute, end_minute in day_hours:
        start = _wall_to_utc(day, start_minute, spec.zone)
        end = _wall_to_utc(day, end_minute, spec.zone)
        if start < end:  # an interval wholly inside a spring-forward gap is empty
            intervals.append((start, end))
    return intervals


def _require_aware(*instants: datetime) -> None:
    for instant in instants:
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError(f"Calendar arithmetic needs timezone-aware datetimes, not {instant!r}")


def _walk(spec: CalendarSpec, start: datetime, end: datetime | None) -> Iterator[tuple[datetime, datetime]]:
    """Open intervals from `start` (clipped to it), day by day, in order and not merged; up to
    `end` (clipped) or without end. Without an end, raises ValueError after MAX_CLOSED_DAYS
    consecutive days with no open time."""
    day = start.astimezone(spec.zone).date()
    last_day = end.astimezone(spec.zone).date() if end is not None else None
    closed_days = 0
    while last_day is None or day <= last_day:
        found = False
        for interval_start, interval_end in _day_intervals(spec, day):
            if interval_end <= start or (end is not None and interval_start >= end):
                continue
            found = True
            yield (
                max(interval_start, start),
                interval_end if end is None else min(interval_end, end),
            )
        if found:
            closed_days = 0
        else:
            closed_days += 1
            if end is None and closed_days > MAX_CLOSED_DAYS:
                raise ValueError(f"The calendar has no open time in the {MAX_CLOSED_DAYS} days searched.")
        day += ONE_DAY


def _open_time_ahead(spec: CalendarSpec, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Open intervals from `start` on, without end (a 24×7 calendar gives one endless stretch).
    Raises ValueError when the calendar has no open time."""
    _require_aware(start)
    start = start.astimezone(UTC)
    if spec.always_open:
        yield start, datetime.max.replace(tzinfo=UTC)
        return
    if not spec.has_open_hours:
        raise ValueError("The calendar has no open hours on any day of the week.")
    yield from _walk(spec, start, None)


def open_intervals(spec: CalendarSpec, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The calendar's open intervals overlapping [start, end), clipped to it, as (start, end)
    pairs of UTC datetimes in order. Intervals that touch, e.g. across midnight, are merged: a
    24×7 calendar gives a single interval."""
    _require_aware(start, end)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return
    if spec.always_open:
        yield start, end
        return
    pending: tuple[datetime, datetime] | None = None
    for interval_start, interval_end in _walk(spec, start, end):
        if pending is not None and interval_start <= pending[1]:
            pending = (pending[0], max(pending[1], interval_end))
            continue
        if pending is not None:
            yield pending
        pending = (interval_start, interval_end)
    if pending is not None:
        yield pending


def business_minutes_between(spec: CalendarSpec, start: datetime, end: datetime) -> float:
    """Open minutes of the calendar in [start, end); 0 when end ≤ start."""
    total = timedelta()
    for interval_start, interval_end in open_intervals(spec, start, end):
        total += interval_end - interval_start
    return total / ONE_MINUTE


def add_business_minutes(spec: CalendarSpec, start: datetime, minutes: float) -> datetime:
    """The instant (UTC) at which `minutes` of open time have elapsed after `start`. Counting
    begins at `start` when the calendar is open then, else at its next opening; so 0 minutes
    gives `start` or the next opening. A deadline that falls exactly on a closing time is that
    closing time (60 minutes from 17:00 with an 18:00 close is 18:00, not the next opening).

    Raises ValueError for negative minutes or a calendar with no open time ahead."""
    if not minutes >= 0 or minutes == float("inf"):  # also rejects NaN
        raise ValueError(f"Minutes must be a finite number ≥ 0, not {minutes}")
    # Microsecond-exact arithmetic from here on, so sums of intervals do not drift.
    remaining = timedelta(minutes=minutes)
    for interval_start, interval_end in _open_time_ahead(spec, start):
        if remaining <= interval_end - interval_start:
            return interval_start + remaining
        remaining -= interval_end - interval_start
    raise AssertionError("unreachable: the search for open time either yields or raises")


def is_open(spec: CalendarSpec, at: datetime) -> bool:
    """Whether the calendar is open at the instant `at` (hours are half-open: open at the
    opening minute, closed at the closing minute)."""
    _require_aware(at)
    if spec.always_open:
        return True
    return any(True for _ in _walk(spec, at.astimezone(UTC), at.astimezone(UTC) + timedelta(microseconds=1)))


def next_opening(spec: CalendarSpec, at: datetime) -> datetime:
    """The first instant at or after `at` when the calendar is open (`at` itself when open),
    in UTC. Raises ValueError for a calendar with no open time ahead."""
    for interval_start, _ in _open_time_ahead(spec, at):
        return interval_start
    raise AssertionError("unreachable: the search for open time either yields or raises")
