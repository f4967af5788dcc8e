"""Business-critical processes: when they are due, and the payroll ticket that becomes P1."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firstcall.triage.deadlines import ProcessSpec, keyword_pattern, next_deadline, parse_keywords
from firstcall.triage.engine import TicketFacts, triage
from firstcall.triage.matrix import Impact, Urgency
from firstcall.triage.priority import Priority
from tests.triage.payroll import PAYROLL, chicago

WEEKLY_FRIDAY = dataclasses.replace(PAYROLL, every_weeks=1, anchor_date=None)
BROKEN_PC = "My PC won't start and I have to submit payroll to ADP today"


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- next_deadline -------------------------------------------------------------------------


def test_next_deadline_is_the_next_payroll_friday_in_utc() -> None:
    assert next_deadline(PAYROLL, chicago(2026, 3, 2, 9)) == utc(2026, 3, 6, 20)  # 14:00 CST


def test_the_off_week_friday_does_not_count() -> None:
    # 13 March is a Friday but not a payroll Friday: the next one is 20 March (14:00 CDT).
    assert next_deadline(PAYROLL, chicago(2026, 3, 7, 9)) == utc(2026, 3, 20, 19)
    assert next_deadline(PAYROLL, chicago(2026, 3, 13, 13)) == utc(2026, 3, 20, 19)


def test_the_deadline_itself_is_not_after_itself() -> None:
    assert next_deadline(PAYROLL, utc(2026, 3, 6, 20)) == utc(2026, 3, 20, 19)
    assert next_deadline(PAYROLL, utc(2026, 3, 6, 19, 59)) == utc(2026, 3, 6, 20)


def test_14_00_stays_14_00_local_across_the_spring_dst_change() -> None:
    before = next_deadline(WEEKLY_FRIDAY, chicago(2026, 3, 6, 9))
    after = next_deadline(WEEKLY_FRIDAY, chicago(2026, 3, 6, 15))
    assert before == utc(2026, 3, 6, 20)
    assert after == utc(2026, 3, 13, 19)  # a week later, one hour earlier in UTC
    assert after.astimezone(ZoneInfo("America/Chicago")).time() == time(14, 0)


def test_14_00_stays_14_00_local_across_the_autumn_dst_change() -> None:
    assert next_deadline(WEEKLY_FRIDAY, chicago(2026, 10, 30, 15)) == utc(2026, 11, 6, 20)


def test_a_time_that_does_not_exist_or_happens_twice_on_a_dst_sunday() -> None:
    sunday_0230 = dataclasses.replace(WEEKLY_FRIDAY, weekday=6, at=time(2, 30))
    # 8 March 2026 02:30 does not exist in Chicago: it resolves to 03:30 CDT (08:30 UTC).
    assert next_deadline(sunday_0230, chicago(2026, 3, 7)) == utc(2026, 3, 8, 8, 30)
    sunday_0130 = dataclasses.replace(WEEKLY_FRIDAY, weekday=6, at=time(1, 30))
    # 1 November 2026 01:30 happens twice: the first (CDT, 06:30 UTC) counts.
    assert next_deadline(sunday_0130, chicago(2026, 10, 31)) == utc(2026, 11, 1, 6, 30)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_deadline(PAYROLL, datetime(2026, 3, 2, 9))  # naive on purpose
    with pytest.raises(ValueError, match="anchor"):
        dataclasses.replace(PAYROLL, anchor_date=None)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    after=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31)),
    every_weeks=st.integers(min_value=1, max_value=4),
    weekday=st.integers(min_value=0, max_value=6),
)
def test_next_deadline_is_the_first_occurrence_after(after: datetime, every_weeks: int, weekday: int) -> None:
    anchor = PAYROLL.anchor_date
    assert anchor is not None
    anchor = anchor + timedelta(days=weekday - anchor.weekday())
    spec = dataclasses.replace(PAYROLL, weekday=weekday, every_weeks=every_weeks, anchor_date=anchor)
    moment = after.replace(tzinfo=UTC)
    deadline = next_deadline(spec, moment)
    local = deadline.astimezone(ZoneInfo(spec.time_zone))
    assert deadline > moment
    assert deadline - moment <= timedelta(weeks=every_weeks, hours=1)
    assert local.weekday() == weekday
    assert local.time() == time(14, 0)
    assert (local.date() - anchor).days % (7 * every_weeks) == 0
    # Nothing earlier: the occurrence a cycle before is not after `moment`.
    previous = datetime.combine(
        local.date() - timedelta(weeks=every_weeks), time(14, 0), tzinfo=ZoneInfo(spec.time_zone)
    )
    assert previous <= moment


def test_keywords_are_parsed_and_matched_as_whole_words() -> None:
    assert parse_keywords(" payroll, ADP,,  Pay  Check , adp") == ("payroll", "adp", "pay check")
    pattern = keyword_pattern(("ADP", "pay check", "invoice"))
    assert pattern is not None
    # The engine lowercases the text once and every process searches it.
    assert pattern.search("adp login fails")
    assert pattern.search("the pay\ncheck export")
    assert pattern.search("two invoices")
    assert not pattern.search("usb-c adapter")
    assert dataclasses.replace(PAYROLL, keywords=("ADP",)).mentioned_in("adp is down") == "adp"
    assert keyword_pattern(()) is None


# --- the payroll scenario --------------------------------------------------------------------


def payroll_ticket(now: datetime, text: str = BROKEN_PC, **facts: object) -> tuple[Priority, datetime | None]:
    result = triage(
        TicketFacts(subject="PC broken", body=text, processes=(PAYROLL,), **facts),  # type: ignore[arg-type]
        now=now,
    )
    return result.priority, result.next_review_at


def test_a_payroll_ticket_becomes_p1_as_the_cut_off_nears() -> None:
    # A week out (Friday 13 March is the off week): P3, look again when 48 h remain.
    assert payroll_ticket(chicago(2026, 3, 13, 10)) == (Priority.P3, chicago(2026, 3, 18, 14))
    # Six hours before the off-week Friday's 14:00: still P3, that Friday does not count.
    assert payroll_ticket(chicago(2026, 3, 13, 8))[0] == Priority.P3
    # Within 48 hours: P2, look again when 8 hours remain.
    assert payroll_ticket(chicago(2026, 3, 18, 16)) == (Priority.P2, chicago(2026, 3, 20, 6))
    # Within 8 hours: P1, look again at the deadline.
    assert payroll_ticket(chicago(2026, 3, 20, 7)) == (Priority.P1, chicago(2026, 3, 20, 14))
    # Once the cut-off has passed, the next payroll is two weeks away: P3 again.
    assert payroll_ticket(chicago(2026, 3, 20, 14, 30)) == (Priority.P3, chicago(2026, 4, 1, 14))


def test_the_payroll_ticket_explains_itself() -> None:
    result = triage(
        TicketFacts(subject="PC broken", body=BROKEN_PC, processes=(PAYROLL,)), now=chicago(2026, 3, 20, 7)
    )
    assert result.reasons[0].text == (
        "Impact: a team or site — it blocks “Payroll submission”, which others depend on "
        "(it mentions “payroll”)"
    )
    assert result.reasons[1].text == (
        "Urgency: critical — it blocks “Payroll submission”, due Fri 20 Mar 14:00 CDT (in 7 h)"
    )
    assert result.explanation == (
        "P1: impact a team or site — it blocks “Payroll submission”, which others depend on "
        "(it mentions “payroll”); urgency critical — it blocks “Payroll submission”, "
        "due Fri 20 Mar 14:00 CDT (in 7 h)."
    )
    assert result.blocked_process_ids == (PAYROLL.id,)
    assert "business-critical" in result.tags


def test_a_ticket_that_does_not_mention_payroll_is_not_raised() -> None:
    result = triage(
        TicketFacts(subject="Mouse", body="My mouse is sticky", processes=(PAYROLL,)),
        now=chicago(2026, 3, 20, 7),
    )
    assert (result.priority, result.next_review_at, result.blocked_process_ids) == (Priority.P3, None, ())


def test_a_process_staff_linked_counts_without_its_keywords() -> None:
    result = triage(
        TicketFacts(subject="PC", body="Won't boot", processes=(PAYROLL,), linked_process_ids=(PAYROLL.id,)),
        now=chicago(2026, 3, 20, 7),
    )
    assert result.priority == Priority.P1
    assert result.reasons[0].because.endswith("(linked by staff)")


def test_one_broken_pc_before_the_payroll_cut_off_beats_a_slow_printer_for_everyone() -> None:
    dental = TicketFacts(
        processes=(PAYROLL,), headcount=25, hourly_cost=Decimal("55.00"), revenue_per_hour=Decimal("400.00")
    )
    now = chicago(2026, 3, 20, 7)
    printer = triage(
        dataclasses.replace(dental, subject="Printer", body="The printer is slow for everyone"), now=now
    )
    pc = triage(dataclasses.replace(dental, subject="PC broken", body=BROKEN_PC), now=now)
    assert (printer.impact, printer.priority) == (Impact.COMPANY, Priority.P2)
    assert (pc.impact, pc.urgency, pc.priority) == (Impact.TEAM, Urgency.CRITICAL, Priority.P1)
    assert pc.priority < printer.priority  # "P1" sorts before "P2": it is worked first
    # The printer costs more per hour, which orders it among its equals, not above a P1.
    assert printer.cost_per_hour is not None and pc.cost_per_hour is not None
    assert printer.cost_per_hour > pc.cost_per_hour


def test_the_earliest_of_several_processes_sets_the_next_review() -> None:
    month_end = ProcessSpec(
        id=2,
        name="Month-end close",
        keywords=("quickbooks",),
        weekday=0,
        at=time(9, 0),
        time_zone="America/Chicago",
    )
    result = triage(
        TicketFacts(subject="QuickBooks and payroll both fail", processes=(PAYROLL, month_end)),
        now=chicago(2026, 3, 13, 10),
    )
    # Payroll warns from Wed 18 March 14:00; the Monday close warns from Sat 14 March 09:00.
    assert result.next_review_at == chicago(2026, 3, 14, 9)
    assert result.blocked_process_ids == (1, 2)
