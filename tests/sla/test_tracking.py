"""Stored clocks: kept in step with the ticket, acted on once at their moments, and checked
against the history (a contract's targets edited later are caught and repaired)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from huey.contrib.djhuey import HUEY

from firstcall.clients.models import Contact, Contract
from firstcall.sla.models import ClockKind, SlaClock, SlaTarget
from firstcall.sla.tasks import check_sla_clock
from firstcall.sla.tracking import audit_clocks, check_clock, due_clock_ids, sync_clocks, verify_clocks
from firstcall.tickets.actions import Actor, open_ticket
from firstcall.tickets.models import Channel, Ticket
from tests.escalation.test_escalation_races import ON_POSTGRESQL, race

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]
OPENED = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)


@pytest.fixture
def ticket(carl: Contact, django_capture_on_commit_callbacks: Capture) -> Ticket:
    """Carl's ordinary request: P3 under Dental's contract (120 minutes round the clock)."""
    Contract.objects.filter(client_id=carl.client_id).update(starts_on=date(2020, 1, 1))
    with time_machine.travel(OPENED, tick=False), django_capture_on_commit_callbacks(execute=True):
        return open_ticket(
            client_id=carl.client_id,
            requester=carl,
            subject="Second monitor flickers",
            channel=Channel.EMAIL,
            actor=Actor(contact=carl),
        )


def test_a_new_ticket_has_its_clocks_and_mirrors_the_due_times(ticket: Ticket) -> None:
    first_response = SlaClock.objects.get(ticket=ticket, kind=ClockKind.FIRST_RESPONSE)
    assert ticket.priority == "P3"
    assert first_response.due_at == OPENED + timedelta(minutes=120)
    assert first_response.warn_at == first_response.next_check_at == OPENED + timedelta(minutes=90)
    assert ticket.first_response_due_at == ticket.sla_due_at == first_response.due_at
    assert verify_clocks(ticket) == []


def test_each_moment_is_acted_on_once(ticket: Ticket) -> None:
    clock = SlaClock.objects.get(ticket=ticket, kind=ClockKind.FIRST_RESPONSE)
    assert due_clock_ids(OPENED + timedelta(minutes=89)) == []
    warn = OPENED + timedelta(minutes=90)
    assert due_clock_ids(warn) == [clock.pk]
    assert check_clock(clock.pk, now=warn) == "warned"
    assert check_clock(clock.pk, now=warn) is None  # run twice: nothing more
    late = OPENED + timedelta(minutes=200)  # a worker that was down: the breach, late, once
    assert check_clock(clock.pk, now=late) == "breached"
    assert check_clock(clock.pk, now=late) is None
    clock.refresh_from_db()
    assert (clock.warned_at, clock.breached_at, clock.next_check_at) == (warn, late, None)


def test_edited_contract_targets_are_caught_and_repaired(
    ticket: Ticket, caplog: pytest.LogCaptureFixture
) -> None:
    SlaTarget.objects.filter(contract__client=ticket.client, priority="P3").update(first_response_minutes=30)
    problems = verify_clocks(ticket)
    assert "first_response.target_minutes: stored 120, expected 30" in problems
    with time_machine.travel(OPENED + timedelta(minutes=10), tick=False):
        assert audit_clocks() == 1
    clock = SlaClock.objects.get(ticket=ticket, kind=ClockKind.FIRST_RESPONSE)
    assert clock.due_at == OPENED + timedelta(minutes=30)
    assert Ticket.objects.get(pk=ticket.pk).first_response_due_at == OPENED + timedelta(minutes=30)
    assert verify_clocks(ticket) == [] and audit_clocks() == 0
    assert "SLA clocks of " + ticket.number + " differed from its history, repaired" in caplog.text


def test_a_tampered_deadline_is_repaired(ticket: Ticket) -> None:
    SlaClock.objects.filter(ticket=ticket, kind=ClockKind.FIRST_RESPONSE).update(due_at=OPENED)
    assert verify_clocks(ticket) != []
    assert audit_clocks() == 1
    assert verify_clocks(ticket) == []


def test_the_sweep_reads_only_due_clocks_through_the_partial_index(ticket: Ticket) -> None:
    with CaptureQueriesContext(connection) as queries:
        assert due_clock_ids(OPENED) == []
    [query] = queries.captured_queries
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: ask what it would use
            cursor.execute(f"EXPLAIN {query['sql']}")
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {query['sql']}")
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "sla_clock_next_check" in plan, plan


@ON_POSTGRESQL
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_at_the_same_moment_warn_once(carl: Contact) -> None:
    Contract.objects.filter(client_id=carl.client_id).update(starts_on=date(2020, 1, 1))
    with time_machine.travel(OPENED, tick=False):
        opened = open_ticket(
            client_id=carl.client_id,
            requester=carl,
            subject="Second monitor flickers",
            channel=Channel.EMAIL,
            actor=Actor(contact=carl),
        )
    clock = SlaClock.objects.get(ticket=opened, kind=ClockKind.FIRST_RESPONSE)
    warn = OPENED + timedelta(minutes=90)
    assert sorted(map(str, race(lambda: check_clock(clock.pk, now=warn)))) == ["None", "warned"]
    clock.refresh_from_db()
    assert clock.warned_at == warn


def test_a_task_waits_at_each_new_moment_and_an_unchanged_moment_gets_no_second_one(
    carl: Contact, django_capture_on_commit_callbacks: Capture
) -> None:
    HUEY.storage.flush_schedule()
    Contract.objects.filter(client_id=carl.client_id).update(starts_on=date(2020, 1, 1))
    with time_machine.travel(OPENED, tick=False), django_capture_on_commit_callbacks(execute=True):
        opened = open_ticket(
            client_id=carl.client_id,
            requester=carl,
            subject="Second monitor flickers",
            channel=Channel.EMAIL,
            actor=Actor(contact=carl),
        )
    waiting = SlaClock.objects.filter(ticket=opened, next_check_at__isnull=False)
    clock_ids = sorted(waiting.values_list("pk", flat=True))
    assert clock_ids and sorted(clock_tasks()) == clock_ids
    with (
        time_machine.travel(OPENED + timedelta(minutes=5), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        sync_clocks(opened)  # nothing moved
    assert sorted(clock_tasks()) == clock_ids
    HUEY.storage.flush_schedule()


def clock_tasks() -> list[int]:
    """The clock ids of the SLA checks waiting in Huey's schedule."""
    return [task.args[0] for task in HUEY.scheduled() if isinstance(task, check_sla_clock.task_class)]
