"""The pure clock arithmetic: running stretches, pauses, stops, and targets changing."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from firstcall.sla.calendars import CalendarSpec
from firstcall.sla.clocks import Segment, clock_state, due_instant, elapsed_minutes, running_segments

CHICAGO = ZoneInfo("America/Chicago")
OFFICE = CalendarSpec.business_hours("America/Chicago", opens="08:00", closes="18:00")
ALWAYS = CalendarSpec.twenty_four_seven("UTC")


def chicago(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)


def test_a_ticket_without_status_changes_runs_from_its_opening() -> None:
    opened = chicago(2026, 11, 30, 9, 0)
    assert running_segments(opened, []) == [Segment(opened, None)]


def test_waiting_on_client_pauses_and_a_reply_resumes() -> None:
    opened = chicago(2026, 11, 30, 9, 0)
    paused, resumed = chicago(2026, 11, 30, 10, 0), chicago(2026, 12, 1, 9, 0)
    changes = [(opened, "open"), (paused, "waiting_on_client"), (resumed, "open")]
    assert running_segments(opened, changes) == [Segment(opened, paused), Segment(resumed, None)]


def test_resolved_then_reopened_runs_on_from_where_it_stopped() -> None:
    opened = chicago(2026, 11, 30, 9, 0)
    resolved, reopened = chicago(2026, 11, 30, 11, 0), chicago(2026, 11, 30, 15, 0)
    segments = running_segments(opened, [(resolved, "resolved"), (reopened, "open")])
    # 2 h before the resolution + from 15:00: a 4 h target is due at 17:00, not 13:00.
    assert due_instant(OFFICE, segments, 240) == chicago(2026, 11, 30, 17, 0)


def test_a_pause_over_the_weekend_moves_the_deadline_by_the_paused_open_time_only() -> None:
    # Friday 10:00, 8 business hours to resolve; waiting on the client from 12:00 until their
    # reply on Monday 10:00: 2 h counted on Friday, 6 h left from Monday 10:00 → 16:00.
    opened = chicago(2026, 11, 27, 10, 0)
    changes = [(chicago(2026, 11, 27, 12, 0), "waiting_on_client"), (chicago(2026, 11, 30, 10, 0), "open")]
    segments = running_segments(opened, changes)
    assert due_instant(OFFICE, segments, 8 * 60) == chicago(2026, 11, 30, 16, 0)
    assert elapsed_minutes(OFFICE, segments, chicago(2026, 11, 30, 11, 0)) == 3 * 60


def test_a_clock_paused_short_of_its_target_has_no_due_time() -> None:
    opened = chicago(2026, 11, 30, 9, 0)
    segments = running_segments(opened, [(chicago(2026, 11, 30, 10, 0), "waiting_on_client")])
    state = clock_state("resolution", OFFICE, 240, segments, started_at=opened, stopped_at=None)
    assert state.paused and state.due_at is None and not state.running


def test_a_new_target_while_paused_keeps_the_paused_time_credited() -> None:
    # Same history, the priority (and so the target) changes while paused: the hour counted
    # before the pause still counts, the paused time still does not.
    opened = chicago(2026, 11, 30, 9, 0)
    changes = [(chicago(2026, 11, 30, 10, 0), "waiting_on_client"), (chicago(2026, 11, 30, 14, 0), "open")]
    segments = running_segments(opened, changes)
    assert due_instant(OFFICE, segments, 4 * 60) == chicago(2026, 11, 30, 17, 0)
    assert due_instant(OFFICE, segments, 2 * 60) == chicago(2026, 11, 30, 15, 0)


def test_the_warning_comes_at_three_quarters_of_the_target() -> None:
    opened = chicago(2026, 11, 30, 9, 0)
    state = clock_state(
        "first_response", OFFICE, 240, [Segment(opened, None)], started_at=opened, stopped_at=None
    )
    assert state.due_at == chicago(2026, 11, 30, 13, 0)
    assert state.warn_at == chicago(2026, 11, 30, 12, 0)
    assert state.running and state.breached is None


def test_a_stopped_clock_keeps_its_due_time_and_tells_whether_it_was_met() -> None:
    opened = chicago(2026, 11, 30, 9, 0)
    segments = [Segment(opened, None)]
    met = clock_state(
        "first_response", OFFICE, 60, segments, started_at=opened, stopped_at=chicago(2026, 11, 30, 9, 40)
    )
    missed = clock_state(
        "first_response", OFFICE, 60, segments, started_at=opened, stopped_at=chicago(2026, 11, 30, 10, 5)
    )
    assert met.due_at == missed.due_at == chicago(2026, 11, 30, 10, 0)
    assert met.breached is False and missed.breached is True
    assert not met.running and not met.paused


def test_a_friday_evening_ticket_is_due_on_monday_morning() -> None:
    # 16:55 on a Friday with a 4 business-hour target: 65 minutes on Friday, 175 on Monday.
    opened = chicago(2026, 11, 27, 16, 55)
    assert due_instant(OFFICE, [Segment(opened, None)], 240) == chicago(2026, 11, 30, 10, 55)


def test_a_24x7_clock_runs_through_midnight() -> None:
    opened = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    assert due_instant(ALWAYS, [Segment(opened, None)], 60) == datetime(2026, 12, 1, 0, 30, tzinfo=UTC)


def test_a_clock_starting_later_counts_only_from_then() -> None:
    opened = chicago(2026, 11, 30, 9, 0)
    changes = [(chicago(2026, 11, 30, 10, 0), "waiting_on_client"), (chicago(2026, 11, 30, 12, 0), "open")]
    since = chicago(2026, 11, 30, 13, 0)
    assert running_segments(opened, changes, since=since) == [Segment(since, None)]
    assert running_segments(opened, changes, since=chicago(2026, 11, 30, 9, 30)) == [
        Segment(chicago(2026, 11, 30, 9, 30), chicago(2026, 11, 30, 10, 0)),
        Segment(chicago(2026, 11, 30, 12, 0), None),
    ]
