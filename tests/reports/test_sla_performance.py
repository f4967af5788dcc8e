"""SLA compliance: targets met and missed in a period, read from the stored clocks.

Dental's P3 targets (24×7): first response 120 min, resolution 480 min; Law's: 60 and 240. On
Monday 2 March 2026 (UTC), Dental's tickets all open at 09:00, so their first response is due
at 11:00 and their resolution at 17:00:

- A: replied 10:00 (met), resolved 12:00 (met)
- B: replied 12:00 (first response missed at 11:00); unresolved (resolution missed at 17:00)
- C: never answered (first response missed at 11:00, resolution missed at 17:00)
- D: waiting on the client from 09:30, still waiting: both clocks paused short of their targets
- E: opened 19:00, first response due 21:00, resolution due Tuesday 03:00

Law's ticket L opens at 09:00 and is never answered: first response missed at 10:00,
resolution at 13:00.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.reports.metrics import SlaPerformance, TargetCounts, sla_performance
from firstcall.sla.models import ClockKind, SlaClock
from firstcall.tickets.models import Status, Ticket
from tests.reports.scenario import MONDAY, at, move, open_request, reply

pytestmark = pytest.mark.django_db

WEEK = {"start": MONDAY, "end": MONDAY + timedelta(days=7)}


@pytest.fixture
def monday(targets: None, carl: Contact, priya: Contact, bob: User) -> dict[str, Ticket]:
    a = open_request(carl, "Printer jams on tray 2", at(2, 9))
    b = open_request(carl, "Scanner driver missing", at(2, 9))
    c = open_request(carl, "Shared drive slow", at(2, 9))
    d = open_request(carl, "New starter laptop", at(2, 9))
    lawyer = open_request(priya, "Docs template broken", at(2, 9))
    reply(a, bob, at(2, 10))
    move(d, Status.WAITING_ON_CLIENT, bob, at(2, 9, 30))
    reply(b, bob, at(2, 12))
    move(a, Status.RESOLVED, bob, at(2, 12))
    e = open_request(carl, "Monitor flickers", at(2, 19))
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "law": lawyer}


def test_the_scenario_is_what_the_docstring_says(monday: dict[str, Ticket]) -> None:
    due = {
        (ticket_name, clock.kind): clock.due_at
        for ticket_name, ticket in monday.items()
        for clock in SlaClock.objects.filter(ticket=ticket)
    }
    assert all(ticket.priority == "P3" for ticket in monday.values())
    assert due[("a", ClockKind.FIRST_RESPONSE)] == at(2, 11)
    assert due[("c", ClockKind.RESOLUTION)] == at(2, 17)
    assert due[("d", ClockKind.FIRST_RESPONSE)] is None  # paused short of the target
    assert due[("law", ClockKind.FIRST_RESPONSE)] == at(2, 10)
    assert due[("law", ClockKind.RESOLUTION)] == at(2, 13)


def test_the_week_per_client_and_overall(monday: dict[str, Ticket], dental: Any, law: Any) -> None:
    evening = at(2, 20)

    dental_week = sla_performance(**WEEK, client_id=dental.pk, now=evening)
    overall = sla_performance(**WEEK, now=evening)
    law_week = sla_performance(**WEEK, client_id=law.pk, now=evening)

    # Met: A's response and resolution. Missed: B's and C's response and resolution.
    assert dental_week == SlaPerformance(
        measured=6,
        met=2,
        missed=4,
        first_response=TargetCounts(met=1, missed=2),
        resolution=TargetCounts(met=1, missed=2),
    )
    assert dental_week.percent_met == pytest.approx(100 / 3)
    assert (law_week.measured, law_week.met, law_week.missed) == (2, 0, 2)
    assert (overall.measured, overall.met, overall.missed) == (8, 2, 6)
    assert overall.first_response == TargetCounts(met=1, missed=3)


def test_a_target_counts_once_in_the_period_its_outcome_became_known(
    monday: dict[str, Ticket], dental: Any
) -> None:
    def between(start: Any, end: Any) -> tuple[int, int]:
        result = sla_performance(start=start, end=end, client_id=dental.pk, now=at(2, 20))
        return result.met, result.missed

    assert between(MONDAY, at(2, 10, 30)) == (1, 0)  # A answered at 10:00
    assert between(at(2, 10, 30), at(2, 11, 30)) == (0, 2)  # B and C due at 11:00
    # B's late reply at 12:00 and A's resolution at 12:00: only A's resolution is an outcome.
    assert between(at(2, 11, 30), at(2, 16)) == (1, 0)
    assert between(at(2, 16), at(2, 18)) == (0, 2)  # B's and C's resolutions due at 17:00
    assert between(at(2, 18), MONDAY + timedelta(days=7)) == (0, 0)  # E is not due yet


def test_a_deadline_counts_as_missed_only_once_it_has_passed(monday: dict[str, Ticket], dental: Any) -> None:
    just_before = sla_performance(**WEEK, client_id=dental.pk, now=at(2, 10, 59))
    on_the_dot = sla_performance(**WEEK, client_id=dental.pk, now=at(2, 11))
    later = sla_performance(**WEEK, client_id=dental.pk, now=at(2, 11, 1))

    # A's response and resolution are met whatever `now` is; B's and C's responses are due 11:00.
    assert (just_before.met, just_before.missed) == (2, 0)
    assert (on_the_dot.met, on_the_dot.missed) == (2, 0)  # a reply now would still be in time
    assert (later.met, later.missed) == (2, 2)


def test_the_next_week_measures_what_falls_in_it(monday: dict[str, Ticket], dental: Any, bob: User) -> None:
    e = monday["e"]
    reply(e, bob, at(9, 8))  # a week later: its first response was due on the 2nd at 21:00

    next_week = sla_performance(
        start=MONDAY + timedelta(days=7), end=MONDAY + timedelta(days=14), client_id=dental.pk, now=at(9, 9)
    )
    this_week = sla_performance(**WEEK, client_id=dental.pk, now=at(9, 9))

    assert (next_week.measured, next_week.met, next_week.missed) == (0, 0, 0)
    assert next_week.percent_met is None
    # E's response missed at 21:00 Monday, its resolution at 03:00 Tuesday.
    assert (this_week.met, this_week.missed) == (2, 6)


def test_a_ticket_resolved_before_its_target_ran_out_met_it(
    monday: dict[str, Ticket], dental: Any, bob: User
) -> None:
    # D waited on the client from 09:30 (clocks paused after 30 minutes); resolved on Tuesday
    # without a reply: both clocks stop short of their targets.
    move(monday["d"], Status.RESOLVED, bob, at(3, 9))

    tuesday = sla_performance(start=at(3, 0), end=at(4, 0), client_id=dental.pk, now=at(3, 10))

    assert tuesday.first_response == TargetCounts(met=1, missed=0)
    # D's met; E's (opened Monday 19:00, never answered) missed at 03:00 Tuesday.
    assert tuesday.resolution == TargetCounts(met=1, missed=1)


def test_one_query(monday: dict[str, Ticket], dental: Any, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        sla_performance(**WEEK, client_id=dental.pk, now=at(2, 20))


def test_a_reopened_ticket_counts_by_its_latest_resolution(
    monday: dict[str, Ticket], dental: Any, bob: User
) -> None:
    # A ran 180 of its 480 resolution minutes (09:00–12:00) before it was resolved; reopened on
    # Tuesday at 09:00 it has 300 left: due 14:00; resolved again at 13:00.
    a = monday["a"]
    move(a, Status.OPEN, bob, at(3, 9))
    assert SlaClock.objects.get(ticket=a, kind=ClockKind.RESOLUTION).due_at == at(3, 14)
    move(a, Status.RESOLVED, bob, at(3, 13))

    mon = sla_performance(start=MONDAY, end=at(3, 0), client_id=dental.pk, now=at(3, 20))
    tue = sla_performance(start=at(3, 0), end=at(4, 0), client_id=dental.pk, now=at(3, 20))

    assert mon.resolution == TargetCounts(met=0, missed=2)  # B's and C's; A's no longer here
    assert mon.first_response == TargetCounts(met=1, missed=3)  # A's reply stands; B, C, E (21:00)
    assert tue.resolution == TargetCounts(met=1, missed=1)  # A again; E's missed at 03:00
