"""SLA calendar arithmetic: weekends, holidays, closed days, DST changes, time zones whose day does
not start at 00:00 UTC, 24×7 across midnight, and the round trip between adding and counting.

Each scenario is a ticket opened "now" (time-machine frozen at the instant) with a target in
open minutes, asserted as the UTC instant it falls due.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from firstcall.sla.calendars import (
    MAX_CLOSED_DAYS,
    CalendarSpec,
    HolidayRegionError,
    add_business_minutes,
    business_minutes_between,
    is_open,
    next_opening,
    open_intervals,
)

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
TOKYO = ZoneInfo("Asia/Tokyo")
SYDNEY = ZoneInfo("Australia/Sydney")

WEEKDAYS_ONLY = 5  # Monday to Friday have hours; Saturday and Sunday none


def at(zone: ZoneInfo, wall_clock: str) -> datetime:
    """A wall-clock time in a zone (the first occurrence, if the time happens twice)."""
    return datetime.fromisoformat(wall_clock).replace(tzinfo=zone)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def every_day(*intervals: tuple[int, int], zone: ZoneInfo) -> CalendarSpec:
    return CalendarSpec(zone=zone, always_open=False, weekly_hours=(tuple(intervals),) * 7)


def due_for_ticket_opened_at(opened: datetime, spec: CalendarSpec, minutes: float) -> datetime:
    """The due instant of a target for a ticket opened at `opened`, computed as the clocks do:
    from timezone.now() at the moment the ticket is opened."""
    with time_machine.travel(opened, tick=False):
        return add_business_minutes(spec, timezone.now(), minutes)


new_york_hours = CalendarSpec.business_hours(NEW_YORK, "08:00", "18:00")
new_york_hours_us_holidays = CalendarSpec.business_hours(NEW_YORK, "08:00", "18:00", holiday_country="US")


class TestWeekends:
    def test_a_target_that_runs_past_friday_close_resumes_monday(self) -> None:
        due = due_for_ticket_opened_at(at(NEW_YORK, "2026-06-12 17:00"), new_york_hours, 120)
        assert due == at(NEW_YORK, "2026-06-15 09:00")
        assert due == utc("2026-06-15 13:00")

    def test_a_ticket_opened_on_saturday_counts_from_monday_opening(self) -> None:
        due = due_for_ticket_opened_at(at(NEW_YORK, "2026-06-13 11:00"), new_york_hours, 30)
        assert due == at(NEW_YORK, "2026-06-15 08:30")

    def test_the_weekend_counts_no_minutes(self) -> None:
        friday_close, monday_open = at(NEW_YORK, "2026-06-12 18:00"), at(NEW_YORK, "2026-06-15 08:00")
        assert business_minutes_between(new_york_hours, friday_close, monday_open) == 0
        assert business_minutes_between(new_york_hours, at(NEW_YORK, "2026-06-12 17:00"), monday_open) == 60

    def test_a_whole_week_counts_five_ten_hour_days(self) -> None:
        monday = at(NEW_YORK, "2026-06-15 00:00")
        assert business_minutes_between(new_york_hours, monday, monday + timedelta(days=7)) == 5 * 600


class TestHolidays:
    def test_thanksgiving_is_closed(self) -> None:
        assert new_york_hours_us_holidays.is_closed_on(date(2026, 11, 26))
        assert not new_york_hours.is_closed_on(date(2026, 11, 26))
        assert not is_open(new_york_hours_us_holidays, at(NEW_YORK, "2026-11-26 10:00"))

    def test_a_target_running_into_thanksgiving_resumes_the_day_after(self) -> None:
        opened = at(NEW_YORK, "2026-11-25 17:30")  # Wednesday
        assert due_for_ticket_opened_at(opened, new_york_hours_us_holidays, 60) == at(
            NEW_YORK, "2026-11-27 08:30"
        )
        # The same ticket without holidays is due on Thanksgiving morning.
        assert due_for_ticket_opened_at(opened, new_york_hours, 60) == at(NEW_YORK, "2026-11-26 08:30")

    def test_christmas_on_a_saturday_closes_the_friday_it_is_observed_on(self) -> None:
        assert new_york_hours_us_holidays.is_closed_on(date(2027, 12, 24))  # Friday, observed
        opened = at(NEW_YORK, "2027-12-23 17:00")  # Thursday
        due = due_for_ticket_opened_at(opened, new_york_hours_us_holidays, 120)
        assert due == at(NEW_YORK, "2027-12-27 09:00")  # Monday
        assert business_minutes_between(new_york_hours_us_holidays, opened, due) == 120

    def test_regional_holidays_follow_the_subdivision(self) -> None:
        corpus_christi = date(2026, 6, 4)
        bavaria = CalendarSpec.business_hours(BERLIN, holiday_country="DE", holiday_subdivision="BY")
        berlin = CalendarSpec.business_hours(BERLIN, holiday_country="DE", holiday_subdivision="BE")
        assert bavaria.is_closed_on(corpus_christi)
        assert not berlin.is_closed_on(corpus_christi)
        opened = at(BERLIN, "2026-06-03 17:00")
        assert due_for_ticket_opened_at(opened, bavaria, 120) == at(BERLIN, "2026-06-05 09:00")
        assert due_for_ticket_opened_at(opened, berlin, 120) == at(BERLIN, "2026-06-04 09:00")

    def test_an_unknown_country_or_subdivision_is_refused(self) -> None:
        with pytest.raises(HolidayRegionError):
            CalendarSpec.business_hours(NEW_YORK, holiday_country="XX")
        with pytest.raises(HolidayRegionError):
            CalendarSpec.business_hours(NEW_YORK, holiday_country="US", holiday_subdivision="ZZ")
        with pytest.raises(HolidayRegionError):
            CalendarSpec.business_hours(NEW_YORK, holiday_subdivision="CA")


class TestClosedDays:
    def test_a_custom_closed_day_is_skipped(self) -> None:
        retreat = date(2026, 6, 16)  # Tuesday
        spec = CalendarSpec.business_hours(NEW_YORK, closed_dates=[retreat])
        assert spec.is_closed_on(retreat)
        due = due_for_ticket_opened_at(at(NEW_YORK, "2026-06-15 17:30"), spec, 60)
        assert due == at(NEW_YORK, "2026-06-17 08:30")

    def test_a_closed_day_is_the_calendars_local_date(self) -> None:
        # 2026-06-16 in Tokyo runs from 2026-06-15 15:00 UTC to 2026-06-16 15:00 UTC.
        spec = CalendarSpec.business_hours(TOKYO, closed_dates=[date(2026, 6, 16)])
        assert is_open(spec, utc("2026-06-15 08:59"))  # Monday 17:59 in Tokyo
        assert not is_open(spec, utc("2026-06-15 23:30"))  # Tuesday 08:30 in Tokyo: closed
        assert not is_open(spec, at(TOKYO, "2026-06-16 10:00"))
        assert next_opening(spec, at(TOKYO, "2026-06-15 18:00")) == utc("2026-06-16 23:00")

    def test_a_24x7_calendar_ignores_closed_days(self) -> None:
        spec = CalendarSpec(
            zone=ZoneInfo("UTC"), always_open=True, closed_dates=frozenset({date(2026, 6, 16)})
        )
        assert is_open(spec, utc("2026-06-16 12:00"))


class TestDaylightSavingNewYork:
    # The US changes on Sundays: 2026-03-08 02:00 → 03:00 and 2026-11-01 02:00 → 01:00.

    def test_business_hours_across_the_spring_change_open_at_local_eight(self) -> None:
        opened = at(NEW_YORK, "2026-03-06 17:00")  # Friday, EST (UTC−5)
        due = due_for_ticket_opened_at(opened, new_york_hours, 120)
        assert due == utc("2026-03-09 13:00")  # Monday 09:00 EDT (UTC−4), not 14:00 UTC
        assert business_minutes_between(new_york_hours, opened, due) == 120

    def test_business_hours_across_the_autumn_change_open_at_local_eight(self) -> None:
        opened = at(NEW_YORK, "2026-10-30 17:00")  # Friday, EDT
        due = due_for_ticket_opened_at(opened, new_york_hours, 120)
        assert due == utc("2026-11-02 14:00")  # Monday 09:00 EST

    def test_hours_on_the_spring_forward_day_count_real_time(self) -> None:
        nights = every_day((0, 8 * 60), zone=NEW_YORK)
        sunday = at(NEW_YORK, "2026-03-08 00:00")
        assert business_minutes_between(nights, sunday, sunday + timedelta(days=1)) == 7 * 60
        assert due_for_ticket_opened_at(sunday, nights, 7 * 60) == at(NEW_YORK, "2026-03-08 08:00")

    def test_an_opening_in_the_spring_forward_gap_opens_at_the_first_instant_after_it(self) -> None:
        # 02:30 does not exist on 2026-03-08 in New York: the day opens at 03:00 EDT = 07:00 UTC.
        spec = every_day((150, 600), zone=NEW_YORK)
        sunday = at(NEW_YORK, "2026-03-08 00:00")
        assert next_opening(spec, sunday) == utc("2026-03-08 07:00")
        assert list(open_intervals(spec, sunday, sunday + timedelta(days=1))) == [
            (utc("2026-03-08 07:00"), utc("2026-03-08 14:00"))
        ]
        assert not is_open(spec, utc("2026-03-08 06:59"))
        assert is_open(spec, utc("2026-03-08 07:00"))

    def test_an_eight_hour_shift_on_the_fall_back_day_counts_nine_real_hours(self) -> None:
        nights = every_day((0, 8 * 60), zone=NEW_YORK)
        sunday = at(NEW_YORK, "2026-11-01 00:00")
        assert business_minutes_between(nights, sunday, sunday + timedelta(days=1)) == 9 * 60
        assert list(open_intervals(nights, sunday, sunday + timedelta(days=1))) == [
            (utc("2026-11-01 04:00"), utc("2026-11-01 13:00"))
        ]

    def test_an_opening_in_the_repeated_hour_means_its_first_occurrence(self) -> None:
        spec = every_day((90, 180), zone=NEW_YORK)  # 01:30–03:00
        sunday = at(NEW_YORK, "2026-11-01 00:00")
        # 01:30 EDT (05:30 UTC) to 03:00 EST (08:00 UTC): 2.5 real hours.
        assert list(open_intervals(spec, sunday, sunday + timedelta(days=1))) == [
            (utc("2026-11-01 05:30"), utc("2026-11-01 08:00"))
        ]

    def test_24x7_over_the_changes_counts_real_elapsed_minutes(self) -> None:
        spec = CalendarSpec.twenty_four_seven(NEW_YORK)
        saturday_noon = at(NEW_YORK, "2026-03-07 12:00")
        sunday_noon = at(NEW_YORK, "2026-03-08 12:00")
        assert business_minutes_between(spec, saturday_noon, sunday_noon) == 23 * 60
        assert due_for_ticket_opened_at(saturday_noon, spec, 24 * 60) == at(NEW_YORK, "2026-03-08 13:00")
        autumn = at(NEW_YORK, "2026-10-31 12:00")
        assert business_minutes_between(spec, autumn, at(NEW_YORK, "2026-11-01 12:00")) == 25 * 60
        assert due_for_ticket_opened_at(autumn, spec, 24 * 60) == at(NEW_YORK, "2026-11-01 11:00")

    def test_round_the_clock_weekly_hours_match_24x7_over_the_change(self) -> None:
        round_the_clock = every_day((0, 1440), zone=NEW_YORK)
        saturday_noon = at(NEW_YORK, "2026-03-07 12:00")
        assert business_minutes_between(round_the_clock, saturday_noon, at(NEW_YORK, "2026-03-08 12:00")) == (
            23 * 60
        )
        assert due_for_ticket_opened_at(saturday_noon, round_the_clock, 24 * 60) == at(
            NEW_YORK, "2026-03-08 13:00"
        )


class TestDaylightSavingBerlin:
    # The EU changes on Sundays: 2026-03-29 02:00 → 03:00 and 2026-10-25 03:00 → 02:00.
    berlin_hours = CalendarSpec.business_hours(BERLIN, "08:00", "18:00")

    def test_business_hours_across_the_spring_change(self) -> None:
        opened = at(BERLIN, "2026-03-27 17:00")  # Friday, CET (UTC+1) = 16:00 UTC
        due = due_for_ticket_opened_at(opened, self.berlin_hours, 120)
        assert due == utc("2026-03-30 07:00")  # Monday 09:00 CEST (UTC+2)

    def test_business_hours_across_the_autumn_change(self) -> None:
        opened = at(BERLIN, "2026-10-23 17:00")  # Friday, CEST
        due = due_for_ticket_opened_at(opened, self.berlin_hours, 120)
        assert due == utc("2026-10-26 08:00")  # Monday 09:00 CET

    def test_night_shifts_on_the_change_days_count_real_time(self) -> None:
        nights = every_day((0, 8 * 60), zone=BERLIN)
        spring, autumn = at(BERLIN, "2026-03-29 00:00"), at(BERLIN, "2026-10-25 00:00")
        assert business_minutes_between(nights, spring, spring + timedelta(days=1)) == 7 * 60
        assert business_minutes_between(nights, autumn, autumn + timedelta(days=1)) == 9 * 60

    def test_24x7_over_the_changes_counts_real_elapsed_minutes(self) -> None:
        spec = CalendarSpec.twenty_four_seven(BERLIN)
        assert business_minutes_between(
            spec, at(BERLIN, "2026-03-28 12:00"), at(BERLIN, "2026-03-29 12:00")
        ) == (23 * 60)
        assert business_minutes_between(
            spec, at(BERLIN, "2026-10-24 12:00"), at(BERLIN, "2026-10-25 12:00")
        ) == (25 * 60)


class TestDayBoundaryAwayFromUtc:
    """Tokyo's day starts at 15:00 UTC and Sydney's at 13:00 or 14:00 UTC: a deadline at the
    calendar's day boundary fires at that local minute, never at 00:00 UTC."""

    tokyo_hours = CalendarSpec.business_hours(TOKYO, "08:00", "18:00")

    def test_a_deadline_on_closing_time_is_due_at_closing_time(self) -> None:
        due = due_for_ticket_opened_at(at(TOKYO, "2026-06-15 17:00"), self.tokyo_hours, 60)
        assert due == at(TOKYO, "2026-06-15 18:00")
        assert due == utc("2026-06-15 09:00")

    def test_a_deadline_past_closing_time_is_due_next_business_morning(self) -> None:
        due = due_for_ticket_opened_at(at(TOKYO, "2026-06-15 17:30"), self.tokyo_hours, 60)
        assert due == at(TOKYO, "2026-06-16 08:30")
        assert due == utc("2026-06-15 23:30")

    def test_friday_evening_in_tokyo_is_due_on_sunday_utc(self) -> None:
        due = due_for_ticket_opened_at(at(TOKYO, "2026-06-19 17:30"), self.tokyo_hours, 60)
        assert due == utc("2026-06-21 23:30")  # Monday 08:30 in Tokyo

    def test_hours_until_midnight_end_at_local_midnight(self) -> None:
        # Weekdays 08:00–24:00 in Sydney (AEST, UTC+10, in June).
        spec = CalendarSpec.business_hours(SYDNEY, "08:00", "00:00")
        opened = at(SYDNEY, "2026-06-19 23:00")  # Friday
        assert due_for_ticket_opened_at(opened, spec, 60) == utc("2026-06-19 14:00")  # Sat 00:00
        assert due_for_ticket_opened_at(opened, spec, 61) == at(SYDNEY, "2026-06-22 08:01")
        assert not is_open(spec, utc("2026-06-19 14:00"))
        assert is_open(spec, utc("2026-06-19 13:59"))

    def test_sydney_day_boundary_moves_with_its_daylight_saving(self) -> None:
        # Sydney is UTC+11 from 2026-10-04: Monday 08:00 there is Sunday 21:00 UTC.
        spec = CalendarSpec.business_hours(SYDNEY, "08:00", "18:00")
        assert next_opening(spec, at(SYDNEY, "2026-10-09 18:00")) == utc("2026-10-11 21:00")
        assert next_opening(spec, at(SYDNEY, "2026-06-19 18:00")) == utc("2026-06-21 22:00")


class TestTwentyFourSeven:
    def test_no_gap_at_midnight(self) -> None:
        spec = CalendarSpec.twenty_four_seven()
        opened = utc("2026-06-15 23:30")
        assert due_for_ticket_opened_at(opened, spec, 60) == utc("2026-06-16 00:30")
        assert list(open_intervals(spec, opened, utc("2026-06-16 00:30"))) == [
            (opened, utc("2026-06-16 00:30"))
        ]
        assert is_open(spec, utc("2026-06-16 00:00"))

    def test_a_target_spanning_midnight_equals_wall_clock_minutes(self) -> None:
        spec = CalendarSpec.twenty_four_seven(TOKYO)
        start, end = at(TOKYO, "2026-06-15 22:10"), at(TOKYO, "2026-06-17 01:25")
        assert business_minutes_between(spec, start, end) == (end - start) / timedelta(minutes=1)

    def test_weekly_hours_until_midnight_join_the_next_days_hours(self) -> None:
        # Midnight to midnight on Monday and Tuesday only, in Tokyo: one interval, no gap.
        spec = CalendarSpec(zone=TOKYO, always_open=False, weekly_hours=((((0, 1440),),) * 2) + ((),) * 5)
        week = at(TOKYO, "2026-06-15 00:00")
        assert list(open_intervals(spec, week, week + timedelta(days=7))) == [
            (utc("2026-06-14 15:00"), utc("2026-06-16 15:00"))
        ]
        assert is_open(spec, at(TOKYO, "2026-06-16 00:00"))
        assert due_for_ticket_opened_at(at(TOKYO, "2026-06-15 23:59:30"), spec, 1) == at(
            TOKYO, "2026-06-16 00:00:30"
        )


class TestEdges:
    def test_zero_minutes_is_the_start_when_open_else_the_next_opening(self) -> None:
        assert add_business_minutes(new_york_hours, at(NEW_YORK, "2026-06-15 10:00"), 0) == at(
            NEW_YORK, "2026-06-15 10:00"
        )
        assert add_business_minutes(new_york_hours, at(NEW_YORK, "2026-06-15 18:00"), 0) == at(
            NEW_YORK, "2026-06-16 08:00"
        )

    def test_results_are_utc(self) -> None:
        due = add_business_minutes(new_york_hours, at(NEW_YORK, "2026-06-15 10:00"), 90)
        assert due.tzinfo is UTC
        assert next_opening(new_york_hours, at(NEW_YORK, "2026-06-13 10:00")).tzinfo is UTC

    def test_hours_are_half_open(self) -> None:
        assert is_open(new_york_hours, at(NEW_YORK, "2026-06-15 08:00"))
        assert not is_open(new_york_hours, at(NEW_YORK, "2026-06-15 18:00"))
        assert next_opening(new_york_hours, at(NEW_YORK, "2026-06-15 12:00")) == at(
            NEW_YORK, "2026-06-15 12:00"
        )

    def test_counting_backwards_is_zero(self) -> None:
        start = at(NEW_YORK, "2026-06-15 12:00")
        assert business_minutes_between(new_york_hours, start, start - timedelta(hours=3)) == 0
        assert list(open_intervals(new_york_hours, start, start)) == []

    def test_open_intervals_are_clipped_and_in_order(self) -> None:
        start, end = at(NEW_YORK, "2026-06-15 12:00"), at(NEW_YORK, "2026-06-17 09:00")
        assert list(open_intervals(new_york_hours, start, end)) == [
            (utc("2026-06-15 16:00"), utc("2026-06-15 22:00")),
            (utc("2026-06-16 12:00"), utc("2026-06-16 22:00")),
            (utc("2026-06-17 12:00"), utc("2026-06-17 13:00")),
        ]

    def test_naive_datetimes_are_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            add_business_minutes(new_york_hours, datetime(2026, 6, 15, 12), 10)
        with pytest.raises(ValueError, match="timezone-aware"):
            business_minutes_between(new_york_hours, datetime(2026, 6, 15, 12), utc("2026-06-16 00:00"))

    @pytest.mark.parametrize("minutes", [-1, float("nan"), float("inf")])
    def test_minutes_must_be_finite_and_not_negative(self, minutes: float) -> None:
        with pytest.raises(ValueError, match="finite"):
            add_business_minutes(new_york_hours, utc("2026-06-15 12:00"), minutes)

    def test_a_calendar_without_hours_has_no_deadline(self) -> None:
        closed = CalendarSpec(zone=NEW_YORK, always_open=False)
        with pytest.raises(ValueError, match="no open hours"):
            add_business_minutes(closed, utc("2026-06-15 12:00"), 10)
        with pytest.raises(ValueError, match="no open hours"):
            next_opening(closed, utc("2026-06-15 12:00"))
        assert business_minutes_between(closed, utc("2026-06-15 12:00"), utc("2026-07-15 12:00")) == 0

    def test_the_search_for_open_time_gives_up_after_about_three_years(self) -> None:
        mondays_only = CalendarSpec.business_hours(NEW_YORK, weekdays=[0])
        first_monday = date(2026, 6, 15)
        every_monday_closed = CalendarSpec.business_hours(
            NEW_YORK,
            weekdays=[0],
            closed_dates=[first_monday + timedelta(weeks=n) for n in range(MAX_CLOSED_DAYS // 7 + 2)],
        )
        assert add_business_minutes(mondays_only, utc("2026-06-15 00:00"), 10) == at(
            NEW_YORK, "2026-06-15 08:10"
        )
        with pytest.raises(ValueError, match="no open time"):
            add_business_minutes(every_monday_closed, utc("2026-06-15 00:00"), 10)

    @pytest.mark.parametrize(
        "weekly_hours",
        [
            ((),) * 6,
            (((600, 480),),) + ((),) * 6,
            (((0, 1441),),) + ((),) * 6,
            (((480, 720), (700, 900)),) + ((),) * 6,
        ],
    )
    def test_bad_weekly_hours_are_refused(
        self, weekly_hours: tuple[tuple[tuple[int, int], ...], ...]
    ) -> None:
        with pytest.raises(ValueError):
            CalendarSpec(zone=NEW_YORK, always_open=False, weekly_hours=weekly_hours)

    def test_business_hours_constructor(self) -> None:
        spec = CalendarSpec.business_hours("Europe/Berlin", "09:00", "24:00", weekdays=[5, 6])
        assert spec.zone == BERLIN
        assert spec.weekly_hours == ((),) * 5 + (((540, 1440),),) * 2
        with pytest.raises(ValueError):
            CalendarSpec.business_hours(BERLIN, "9am", "17:00")
        with pytest.raises(ValueError):
            CalendarSpec.business_hours(BERLIN, weekdays=[7])


# Calendars for the properties below: DST in both hemispheres, holidays, split shifts, gaps.
PROPERTY_CALENDARS = {
    "new york, US holidays": new_york_hours_us_holidays,
    "bavaria 09:00-17:30": CalendarSpec.business_hours(
        BERLIN, "09:00", "17:30", holiday_country="DE", holiday_subdivision="BY"
    ),
    "sydney split shift": CalendarSpec(
        zone=SYDNEY,
        always_open=False,
        weekly_hours=(((0, 120), (480, 720), (780, 1440)),) * 5 + ((),) * 2,
        holiday_country="AU",
        holiday_subdivision="NSW",
    ),
    "new york nights": every_day((0, 480), zone=NEW_YORK),
    "opening in the gap": every_day((150, 600), zone=NEW_YORK),
    "tokyo round the clock": every_day((0, 1440), zone=TOKYO),
    "24x7": CalendarSpec.twenty_four_seven(BERLIN),
}

starts = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
calendar_names = st.sampled_from(sorted(PROPERTY_CALENDARS))


@settings(derandomize=True, deadline=None, max_examples=300)
@given(calendar_names, starts, st.floats(min_value=0, max_value=30 * 24 * 60))
def test_counting_the_minutes_added_gives_them_back(name: str, start: datetime, minutes: float) -> None:
    spec = PROPERTY_CALENDARS[name]
    due = add_business_minutes(spec, start, minutes)
    assert due >= start
    assert business_minutes_between(spec, start, due) == pytest.approx(minutes, abs=1e-6)


@settings(derandomize=True, deadline=None, max_examples=300)
@given(calendar_names, starts, st.integers(min_value=0, max_value=60 * 24 * 60 * 60))
def test_adding_the_minutes_counted_reaches_the_last_open_instant(
    name: str, start: datetime, seconds_later: int
) -> None:
    spec = PROPERTY_CALENDARS[name]
    end = start + timedelta(seconds=seconds_later)
    counted = business_minutes_between(spec, start, end)
    reached = add_business_minutes(spec, start, counted)
    if counted == 0:  # zero minutes from a closed start is the next opening, wherever it is
        assert reached == next_opening(spec, start)
        return
    assert reached <= end
    assert business_minutes_between(spec, reached, end) == 0


@settings(derandomize=True, deadline=None, max_examples=200)
@given(calendar_names, starts, st.integers(min_value=1, max_value=21 * 24 * 60))
def test_open_intervals_are_sorted_disjoint_and_agree_with_is_open(
    name: str, start: datetime, minutes_later: int
) -> None:
    spec = PROPERTY_CALENDARS[name]
    end = start + timedelta(minutes=minutes_later)
    intervals = list(open_intervals(spec, start, end))
    for (_, first_end), (second_start, _) in itertools.pairwise(intervals):
        assert first_end < second_start  # touching intervals would have been merged
    for interval_start, interval_end in intervals:
        assert start <= interval_start < interval_end <= end
        assert is_open(spec, interval_start)
        assert is_open(spec, interval_end - timedelta(microseconds=1))
        if interval_end < end:
            assert not is_open(spec, interval_end)
