"""Report periods: local days, Monday weeks and calendar months in the MSP's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from firstcall.reports.periods import PeriodChoice, last_days, last_weeks, week_of

# Sunday 1 March 2026, 23:30 in Chicago (CST, UTC−6) is already Monday 05:30 UTC.
SUNDAY_NIGHT_IN_CHICAGO = datetime(2026, 3, 2, 5, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("choice", "first_day", "last_day"),
    [
        (PeriodChoice.THIS_WEEK, date(2026, 2, 23), date(2026, 3, 1)),
        (PeriodChoice.LAST_WEEK, date(2026, 2, 16), date(2026, 2, 22)),
        (PeriodChoice.THIS_MONTH, date(2026, 3, 1), date(2026, 3, 31)),
        (PeriodChoice.LAST_MONTH, date(2026, 2, 1), date(2026, 2, 28)),
    ],
)
def test_periods_are_local(settings: Any, choice: PeriodChoice, first_day: date, last_day: date) -> None:
    settings.TIME_ZONE = "America/Chicago"

    period = choice.period(SUNDAY_NIGHT_IN_CHICAGO)

    assert (period.first_day, period.last_day) == (first_day, last_day)
    assert period.start.astimezone(UTC).hour == 6  # local midnight, CST
    assert period.days == (last_day - first_day).days + 1


def test_last_month_in_january_is_december(settings: Any) -> None:
    settings.TIME_ZONE = "UTC"
    period = PeriodChoice.LAST_MONTH.period(datetime(2027, 1, 15, tzinfo=UTC))

    assert (period.first_day, period.last_day) == (date(2026, 12, 1), date(2026, 12, 31))


def test_series_end_with_today_and_this_week(settings: Any) -> None:
    settings.TIME_ZONE = "Europe/Berlin"
    now = datetime(2026, 3, 29, 12, tzinfo=UTC)  # Sunday; clocks went forward at 02:00 that day

    days = last_days(3, now)
    weeks = last_weeks(2, now)

    assert [day.first_day for day in days] == [date(2026, 3, 27), date(2026, 3, 28), date(2026, 3, 29)]
    assert days[-1].end - days[-1].start == (
        datetime(2026, 3, 29, 22, tzinfo=UTC) - datetime(2026, 3, 28, 23, tzinfo=UTC)
    )
    assert [week.first_day for week in weeks] == [date(2026, 3, 16), date(2026, 3, 23)]
    assert weeks[-1] == week_of(date(2026, 3, 29))
