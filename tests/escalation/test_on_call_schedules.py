"""On-call schedules: a weekly rotation handing over at the same local time across a DST change,
overrides winning, an empty slot meaning nobody, and "who is on call now" in one query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from firstcall.accounts.models import User
from firstcall.escalation.models import OnCallSchedule, OnCallShift
from firstcall.escalation.oncall import (
    SHIFT_HORIZON,
    add_override,
    create_schedule,
    extend_all_shifts,
    on_call_user,
    rebuild_shifts,
    remove_override,
    set_rotation,
)
from firstcall.tickets.models import AuditEvent
from tests.escalation.conftest import CHICAGO

pytestmark = pytest.mark.django_db

# Monday 2 March 2026, 09:00 CST (UTC-6). Daylight saving starts Sunday 8 March (CDT, UTC-5).
ROTATION_START = datetime(2026, 3, 2, 9, 0, tzinfo=CHICAGO)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def weekly(staff: dict[str, User]) -> OnCallSchedule:
    with time_machine.travel(ROTATION_START - timedelta(days=1), tick=False):
        return create_schedule(
            "Network on call",
            time_zone="America/Chicago",
            rotation_starts_at=ROTATION_START,
            members=[staff["erin"], staff["bob"]],
        )


def test_weekly_handoff_keeps_local_time_across_daylight_saving(weekly: OnCallSchedule) -> None:
    # Before the rotation starts nobody is on call.
    assert on_call_user(weekly.pk, utc(2026, 3, 2, 14, 59)) is None
    assert on_call_user(weekly.pk, utc(2026, 3, 2, 15, 0)).username == "erin"  # type: ignore[union-attr]
    # The next Monday 09:00 is CDT: 14:00 UTC, an hour earlier in UTC than the first handoff.
    assert on_call_user(weekly.pk, utc(2026, 3, 9, 13, 59)).username == "erin"  # type: ignore[union-attr]
    assert on_call_user(weekly.pk, utc(2026, 3, 9, 14, 0)).username == "bob"  # type: ignore[union-attr]
    assert on_call_user(weekly.pk, utc(2026, 3, 16, 14, 0)).username == "erin"  # type: ignore[union-attr]
    assert on_call_user(weekly.pk, utc(2026, 3, 23, 13, 59)).username == "erin"  # type: ignore[union-attr]


def test_who_is_on_call_is_one_query(weekly: OnCallSchedule, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        user = on_call_user(weekly.pk, utc(2026, 3, 10, 12, 0))
    assert user is not None and user.username == "bob"


def test_an_override_wins_over_the_rotation(weekly: OnCallSchedule, staff: dict[str, User]) -> None:
    with time_machine.travel(ROTATION_START, tick=False):
        add_override(
            weekly,
            staff["alice"],
            starts_at=datetime(2026, 3, 3, 18, 0, tzinfo=CHICAGO),
            ends_at=datetime(2026, 3, 4, 8, 0, tzinfo=CHICAGO),
            reason="erin at her sister's wedding",
        )
    assert on_call_user(weekly.pk, datetime(2026, 3, 3, 17, 59, tzinfo=CHICAGO)).username == "erin"  # type: ignore[union-attr]
    assert on_call_user(weekly.pk, datetime(2026, 3, 3, 18, 0, tzinfo=CHICAGO)).username == "alice"  # type: ignore[union-attr]
    assert on_call_user(weekly.pk, datetime(2026, 3, 4, 8, 0, tzinfo=CHICAGO)).username == "erin"  # type: ignore[union-attr]
    assert AuditEvent.objects.filter(action="on_call_override_added", reason__contains="wedding").exists()

    override = weekly.overrides.get()
    with time_machine.travel(ROTATION_START, tick=False):
        remove_override(override)
    assert on_call_user(weekly.pk, datetime(2026, 3, 3, 20, 0, tzinfo=CHICAGO)).username == "erin"  # type: ignore[union-attr]


def test_an_empty_schedule_or_an_inactive_person_is_nobody(
    weekly: OnCallSchedule, staff: dict[str, User]
) -> None:
    empty = OnCallSchedule.objects.get(name="Engineering on call")
    assert on_call_user(empty.pk, utc(2026, 3, 3, 12, 0)) is None

    at = utc(2026, 3, 3, 12, 0)
    with time_machine.travel(ROTATION_START, tick=False):
        add_override(weekly, staff["mia"], starts_at=at - timedelta(hours=1), ends_at=at + timedelta(hours=1))
    assert on_call_user(weekly.pk, at).username == "mia"  # type: ignore[union-attr]
    # An override by someone who has left falls back to the rotation; an inactive rotation
    # member is an empty slot (the escalation falls through to the next level).
    User.objects.filter(username="mia").update(is_active=False)
    assert on_call_user(weekly.pk, at).username == "erin"  # type: ignore[union-attr]
    User.objects.filter(username="erin").update(is_active=False)
    assert on_call_user(weekly.pk, at) is None


def test_changing_the_rotation_changes_only_the_future(
    weekly: OnCallSchedule, staff: dict[str, User]
) -> None:
    change_at = datetime(2026, 3, 11, 12, 0, tzinfo=CHICAGO)  # during bob's week
    with time_machine.travel(change_at, tick=False):
        set_rotation(weekly, [staff["mia"]])
    # The past stays as it was; the current turn and later ones follow the new rotation.
    assert on_call_user(weekly.pk, datetime(2026, 3, 10, 12, 0, tzinfo=CHICAGO)).username == "bob"  # type: ignore[union-attr]
    assert on_call_user(weekly.pk, datetime(2026, 3, 11, 12, 30, tzinfo=CHICAGO)).username == "mia"  # type: ignore[union-attr]
    assert on_call_user(weekly.pk, datetime(2026, 3, 20, 12, 0, tzinfo=CHICAGO)).username == "mia"  # type: ignore[union-attr]
    # Rebuilding later in the same turn (the daily task) keeps what is there.
    with time_machine.travel(change_at + timedelta(hours=5), tick=False):
        assert rebuild_shifts(weekly.pk, until=change_at + timedelta(days=1)) == 0
    assert on_call_user(weekly.pk, change_at + timedelta(weeks=7)).username == "mia"  # type: ignore[union-attr]
    event = AuditEvent.objects.get(action="on_call_rotation_changed")
    assert (event.before, event.after) == (["erin", "bob"], ["mia"])


def test_the_daily_task_keeps_the_horizon_ahead(weekly: OnCallSchedule) -> None:
    later = ROTATION_START + SHIFT_HORIZON + timedelta(weeks=3)
    assert on_call_user(weekly.pk, later) is None  # beyond the shifts built so far
    with time_machine.travel(later - timedelta(days=1), tick=False):
        assert extend_all_shifts() == 2  # this schedule and the seeded one
    weekly.refresh_from_db()
    assert weekly.shifts_until == later - timedelta(days=1) + SHIFT_HORIZON
    assert on_call_user(weekly.pk, later) is not None
    # Rebuilding again writes the same shifts, no duplicates.
    before = OnCallShift.objects.filter(schedule=weekly).count()
    with time_machine.travel(later - timedelta(days=1), tick=False):
        extend_all_shifts()
    assert OnCallShift.objects.filter(schedule=weekly).count() == before


def test_a_daily_rotation_in_another_zone(staff: dict[str, User]) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 27, 8, 0, tzinfo=berlin)
    with time_machine.travel(start - timedelta(hours=1), tick=False):
        schedule = create_schedule(
            "Berlin desk",
            time_zone="Europe/Berlin",
            rotation_starts_at=start,
            shift_hours=24,
            members=[staff["erin"], staff["bob"], staff["mia"]],
        )
    # Europe moves its clocks on Sunday 29 March: handoffs stay at 08:00 local.
    names = [
        on_call_user(schedule.pk, datetime(2026, 3, day, 8, 0, tzinfo=berlin)).username  # type: ignore[union-attr]
        for day in (27, 28, 29, 30, 31)
    ]
    assert names == ["erin", "bob", "mia", "erin", "bob"]
    assert on_call_user(schedule.pk, datetime(2026, 3, 30, 7, 59, tzinfo=berlin)).username == "mia"  # type: ignore[union-attr]
