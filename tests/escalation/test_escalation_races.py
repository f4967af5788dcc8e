"""Two workers never send the same page twice: a step run twice (the ETA task and the sweep, or
two workers at once) pages once; the sweep reads only due rows, through the partial index."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.escalation import engine
from firstcall.escalation.engine import due_escalation_ids, run_step, start_escalation, sweep
from firstcall.escalation.models import Escalation, OnCallSchedule, Page
from firstcall.escalation.tasks import escalation_step
from firstcall.tickets.models import AuditEvent
from tests.escalation.conftest import at_minute, minutes_after_t0, open_p1, paged

Capture = Callable[..., Any]

ON_POSTGRESQL = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="two real concurrent transactions need PostgreSQL (SQLite serializes writers); "
    "run with DATABASE_URL=postgres://…",
)


@pytest.fixture
def no_step_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("firstcall.escalation.engine._schedule_step", lambda *args: None)


@pytest.mark.django_db
def test_a_step_run_twice_pages_once(
    dana: Contact,
    staff: dict[str, User],
    engineering: OnCallSchedule,
    no_step_tasks: None,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    with at_minute(0, django_capture_on_commit_callbacks):
        ticket = open_p1(dana, assignee=staff["bob"])
        escalation = start_escalation(ticket, reason="P1 opened")
        assert escalation is not None
        assert len(run_step(escalation.pk, 0)) == 2
        assert run_step(escalation.pk, 0) == []
    with at_minute(14.9, django_capture_on_commit_callbacks):
        assert run_step(escalation.pk, 1) == []  # not due yet: an early task does nothing
    with at_minute(15, django_capture_on_commit_callbacks):
        # The sweep and the ETA task both come for level 1 in the same minute.
        assert sweep() == 1
        assert escalation_step(escalation.pk, 1) is None  # Huey keeps no results
        assert run_step(escalation.pk, 1) == []
        assert run_step(escalation.pk, 0) == []  # a stale task for an earlier level
    assert paged(ticket) == [("bob", "email"), ("bob", "sms"), ("erin", "email"), ("erin", "sms")]


@pytest.mark.django_db
def test_the_database_refuses_a_second_identical_page(
    dana: Contact, staff: dict[str, User], django_capture_on_commit_callbacks: Capture
) -> None:
    with at_minute(0, django_capture_on_commit_callbacks):
        ticket = open_p1(dana, assignee=staff["bob"])
        start_escalation(ticket, reason="P1 opened")
    page = Page.objects.filter(channel="email").get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Page.objects.create(
            escalation=page.escalation,
            level_position=page.level_position,
            round=0,
            user=page.user,
            channel="email",
        )


@pytest.mark.django_db
def test_one_active_escalation_per_ticket(
    dana: Contact, staff: dict[str, User], django_capture_on_commit_callbacks: Capture
) -> None:
    with at_minute(0, django_capture_on_commit_callbacks):
        ticket = open_p1(dana, assignee=staff["bob"])
        first = start_escalation(ticket, reason="P1 opened")
        assert start_escalation(ticket, reason="P1 opened again") == first
    assert first is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        Escalation.objects.create(ticket=ticket, policy=first.policy, reason="duplicate")


@pytest.mark.django_db
def test_the_sweep_reads_only_due_rows_through_the_partial_index(
    dana: Contact, staff: dict[str, User], no_step_tasks: None, django_capture_on_commit_callbacks: Capture
) -> None:
    with at_minute(0, django_capture_on_commit_callbacks):
        tickets = [open_p1(dana, assignee=staff["bob"], subject=f"Outage {n}") for n in range(3)]
        escalations = [start_escalation(ticket, reason="P1 opened") for ticket in tickets]
        sweep()
    assert all(escalation is not None for escalation in escalations)
    with time_machine.travel(minutes_after_t0(10), tick=False):
        assert due_escalation_ids() == []
        with CaptureQueriesContext(connection) as queries:
            due_escalation_ids()
    assert len(queries.captured_queries) == 1
    sql = queries.captured_queries[0]["sql"]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}")
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "escalation_due" in plan, plan
    assert due_escalation_ids(minutes_after_t0(15)) == [e.pk for e in escalations if e]


@ON_POSTGRESQL
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_racing_on_the_same_step_send_one_set_of_pages(
    dana: Contact, staff: dict[str, User], engineering: OnCallSchedule, no_step_tasks: None
) -> None:
    with time_machine.travel(minutes_after_t0(0), tick=False):
        ticket = open_p1(dana, assignee=staff["bob"])
        escalation = start_escalation(ticket, reason="P1 opened")
    assert escalation is not None
    due = minutes_after_t0(15)
    Escalation.objects.filter(pk=escalation.pk).update(next_level=1, next_step_at=due)

    results = race(lambda: len(run_step(escalation.pk, 1, now=due)))
    assert sorted(results) == [0, 2]
    assert paged(ticket) == [("erin", "email"), ("erin", "sms")]


@ON_POSTGRESQL
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_starting_the_same_escalation_start_one(
    dana: Contact, staff: dict[str, User], no_step_tasks: None
) -> None:
    with time_machine.travel(minutes_after_t0(0), tick=False):
        ticket = open_p1(dana, assignee=staff["bob"])

    def start() -> int | None:
        escalation = start_escalation(ticket, reason="P1 opened")
        return escalation.pk if escalation else None

    results = race(start)
    assert results[0] == results[1] is not None
    assert Escalation.objects.filter(ticket=ticket).count() == 1


@ON_POSTGRESQL
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_firing_a_burst_in_batches_fire_each_step_once(
    dana: Contact,
    staff: dict[str, User],
    engineering: OnCallSchedule,
    no_step_tasks: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "STEP_BATCH", 2)  # 6 due: several batches each, skipping the other's
    with time_machine.travel(minutes_after_t0(0), tick=False):
        tickets = [open_p1(dana, assignee=staff["bob"], subject=f"Site {n} is down") for n in range(6)]
        for ticket in tickets:
            start_escalation(ticket, reason="P1 opened")
    due = minutes_after_t0(15)
    Escalation.objects.update(next_level=1, next_step_at=due)

    with time_machine.travel(due, tick=False):
        results = race(engine.fire_due_steps)
    assert sum(results) == 6
    for ticket in tickets:
        assert paged(ticket) == [("erin", "email"), ("erin", "sms")]
    assert AuditEvent.objects.filter(action="escalation_level_fired").count() == 6


def race(work: Callable[[], Any], workers: int = 2) -> list[Any]:
    """Run ``work`` in ``workers`` threads released at the same instant, each with its own
    database connection, and return their results."""
    barrier = threading.Barrier(workers)
    results: list[Any] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(work())
        except BaseException as error:  # reported to the test below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results
