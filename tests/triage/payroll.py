"""Bright Smile Dental's payroll as the engine sees it, and Chicago wall-clock times.

Payroll is submitted to the provider every other Friday at 14:00 in Chicago, counting from
Friday 9 January 2026: 6 March and 20 March 2026 are payroll Fridays, 13 March is not. US
daylight saving time starts on Sunday 8 March 2026 (14:00 CST = 20:00 UTC before, 14:00 CDT =
19:00 UTC after).
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from firstcall.triage.deadlines import ProcessSpec

CHICAGO = ZoneInfo("America/Chicago")
PAYROLL_ANCHOR = date(2026, 1, 9)


def chicago(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware Chicago wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=CHICAGO)


PAYROLL = ProcessSpec(
    id=1,
    name="Payroll submission",
    keywords=("payroll", "adp", "paychex"),
    weekday=4,
    at=time(14, 0),
    time_zone="America/Chicago",
    every_weeks=2,
    anchor_date=PAYROLL_ANCHOR,
    warn_hours=48,
    critical_hours=8,
)
