"""Many steps due at once are fired in batches: one transaction locks up to STEP_BATCH due
escalations, claims them with one guarded UPDATE and writes their pages, timeline entries and
audit rows with one INSERT per table — so the work per page does not grow with the burst, and
each ticket's timeline and audit log read exactly as when its step fires alone. Steps due at one
moment share one ETA task, which fires a batch led by its own step and leaves the rest to a task
that goes on after the batch's deliveries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.escalation import engine
from firstcall.escalation.engine import acknowledge, start_escalation, sweep
from firstcall.escalation.models import Escalation, OnCallSchedule, Page
from firstcall.escalation.policies import Targets
from firstcall.escalation.tasks import escalation_step
from firstcall.notify.models import Delivery, DeliveryStatus
from firstcall.tickets.models import AuditEvent, MessageKind, Ticket
from tests.escalation.conftest import (
    at_minute,
    escalation_tasks,
    minutes_after_t0,
    open_p1,
    paged,
    run_due_huey_tasks,
)

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]


@pytest.fixture
def lost_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """No step task is scheduled: the tests call the sweep or the task themselves."""
    monkeypatch.setattr("firstcall.escalation.engine._schedule_step", lambda *args: None)


def p1_tickets(count: int, requester: Contact, assignee: User, capture: Capture) -> list[Ticket]:
    """``count`` P1 tickets opened at T0 whose assignee was paged then: their on-call level is
    due at minute 15, all at the same instant."""
    with at_minute(0, capture):
        tickets = [open_p1(requester, assignee=assignee, subject=f"Site {n} is down") for n in range(count)]
        for ticket in tickets:
            start_escalation(ticket, reason="P1 opened")
        sweep()
    return tickets


def timeline(ticket: Ticket) -> list[tuple[str, str]]:
    return [
        (message.kind, message.body_text)
        for message in ticket.messages.filter(kind__in=[MessageKind.NOTE, MessageKind.EVENT]).order_by(
            "created_at", "pk"
        )
    ]


def test_a_burst_is_fired_in_batches_with_each_ticket_written_as_alone(
    dana: Contact,
    staff: dict[str, User],
    engineering: OnCallSchedule,
    lost_tasks: None,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    monkeypatch.setattr(engine, "STEP_BATCH", 2)  # 5 due: batches of 2, 2 and 1
    tickets = p1_tickets(5, dana, staff["bob"], django_capture_on_commit_callbacks)
    with at_minute(15, django_capture_on_commit_callbacks):
        assert sweep() == 5
    for ticket in tickets:
        assert paged(ticket) == [("bob", "email"), ("bob", "sms"), ("erin", "email"), ("erin", "sms")]
        assert timeline(ticket) == [
            ("note", "Paged Bob by email (level 1 of 4: the assignee)."),
            ("note", "Paged Bob by text (level 1 of 4: the assignee)."),
            ("event", "Paged your technician at 09:00."),
            ("note", "Paged Erin by email (level 2 of 4: on call in Engineering on call)."),
            ("note", "Paged Erin by text (level 2 of 4: on call in Engineering on call)."),
            ("event", "Escalated to our on-call engineer at 09:15."),
        ]
        fired = AuditEvent.objects.filter(ticket=ticket, action="escalation_level_fired").order_by("pk")
        assert [(event.before, event.after["paged"], event.after["next_level"]) for event in fired] == [
            ({"level": 0, "round": 0}, ["bob"], 1),
            ({"level": 1, "round": 0}, ["erin"], 2),
        ]
        last = fired.last()
        assert last is not None
        assert datetime.fromisoformat(last.after["next_step_at"]) == minutes_after_t0(30)
        ticket.refresh_from_db()
        assert ticket.updated_at == minutes_after_t0(15)
    assert set(Escalation.objects.values_list("next_level", "next_step_at")) == {(2, minutes_after_t0(30))}
    # Every page went out, each delivery on the note that records it.
    deliveries = Delivery.objects.filter(page__escalation__ticket__in=tickets)
    assert deliveries.count() == 20
    assert set(deliveries.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    assert all(page.delivery.message.body_text.startswith("Paged") for page in Page.objects.all())  # type: ignore[union-attr]


def statements_to_fire(count: int, requester: Contact, assignee: User, capture: Capture) -> int:
    """SQL statements the sweep at minute 15 runs to fire ``count`` steps and send their pages."""
    tickets = p1_tickets(count, requester, assignee, capture)
    with at_minute(15, capture), CaptureQueriesContext(connection) as queries:
        assert sweep() == count
    assert Page.objects.filter(escalation__ticket__in=tickets, level_position=1).count() == 2 * count
    return len(queries)


def test_the_statements_to_fire_a_burst_do_not_grow_with_it(
    dana: Contact,
    staff: dict[str, User],
    engineering: OnCallSchedule,
    lost_tasks: None,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    few = statements_to_fire(2, dana, staff["bob"], django_capture_on_commit_callbacks)
    Escalation.objects.update(stopped_at=minutes_after_t0(15), next_step_at=None)
    many = statements_to_fire(8, dana, staff["bob"], django_capture_on_commit_callbacks)
    # The sweep's read, one batch (lock, levels, on-call, claim, four INSERTs, the tickets'
    # updated_at) and one delivery task (claim, STOP check, mark sent), with their transactions.
    assert few == many <= 24


def test_the_task_of_a_step_fires_a_batch_led_by_it_and_another_task_goes_on(
    dana: Contact,
    staff: dict[str, User],
    engineering: OnCallSchedule,
    lost_tasks: None,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    monkeypatch.setattr(engine, "STEP_BATCH", 2)
    tickets = p1_tickets(3, dana, staff["bob"], django_capture_on_commit_callbacks)
    newest = Escalation.objects.get(ticket=tickets[2])
    with at_minute(15, django_capture_on_commit_callbacks):
        # The newest step's task: its batch holds its own step and the oldest one; the batch was
        # full, so a second task (queued after commit, run inline here) fires the last one.
        assert engine.run_step_with_due(newest.pk, 1) == 2
    with at_minute(15, django_capture_on_commit_callbacks):
        # Another task for the same moment finds nothing due: one read in a transaction.
        with CaptureQueriesContext(connection) as queries:
            assert escalation_step(newest.pk, 1) is None
        assert len([query for query in queries if query["sql"].startswith("SELECT")]) == 1
    fired = AuditEvent.objects.filter(action="escalation_level_fired", before__level=1).order_by("pk")
    assert [event.ticket_id for event in fired] == [tickets[2].pk, tickets[0].pk, tickets[1].pk]
    assert [len(paged(ticket)) for ticket in tickets] == [4, 4, 4]


def test_steps_due_at_one_moment_share_one_task(
    dana: Contact,
    staff: dict[str, User],
    engineering: OnCallSchedule,
    huey_schedule: Any,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    # Three P1s opened at the same instant: their on-call levels fall due at the same moment.
    tickets = p1_tickets(3, dana, staff["bob"], django_capture_on_commit_callbacks)
    [task] = escalation_tasks(huey_schedule)
    assert task.eta == minutes_after_t0(15).astimezone(UTC).replace(tzinfo=None)  # Huey: naive UTC
    # A fourth, a minute later, has a moment (and a task) of its own.
    with at_minute(1, django_capture_on_commit_callbacks):
        later = open_p1(dana, assignee=staff["bob"], subject="Site 3 is down")
        start_escalation(later, reason="P1 opened")
    assert len(escalation_tasks(huey_schedule)) == 2
    with at_minute(15, django_capture_on_commit_callbacks):
        assert run_due_huey_tasks(huey_schedule) == 1
    assert [len(paged(ticket)) for ticket in [*tickets, later]] == [4, 4, 4, 2]
    with at_minute(16, django_capture_on_commit_callbacks):
        assert run_due_huey_tasks(huey_schedule) == 1
    assert len(paged(later)) == 4


def test_a_task_fires_only_what_is_due(
    dana: Contact,
    staff: dict[str, User],
    engineering: OnCallSchedule,
    lost_tasks: None,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    [ticket] = p1_tickets(1, dana, staff["bob"], django_capture_on_commit_callbacks)
    escalation = Escalation.objects.get(ticket=ticket)
    with at_minute(14.9, django_capture_on_commit_callbacks):
        assert engine.run_step_with_due(escalation.pk, 1) == 0  # early: nothing is due yet
    with at_minute(15, django_capture_on_commit_callbacks):
        assert engine.run_step_with_due(escalation.pk, 1) == 1
        assert engine.run_step_with_due(escalation.pk, 1) == 0  # run twice
        assert engine.run_step_with_due(escalation.pk, 0) == 0  # a stale task for an earlier level
    assert len(paged(ticket)) == 4


def test_no_page_leaves_before_its_minute(
    dana: Contact,
    staff: dict[str, User],
    engineering: OnCallSchedule,
    lost_tasks: None,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    half_a_second = 0.5 / 60
    with at_minute(0, django_capture_on_commit_callbacks):
        first = open_p1(dana, assignee=staff["bob"], subject="Site 1 is down")
        start_escalation(first, reason="P1 opened")
    with at_minute(half_a_second, django_capture_on_commit_callbacks):
        second = open_p1(dana, assignee=staff["bob"], subject="Site 2 is down")
        start_escalation(second, reason="P1 opened")
        sweep()
    with at_minute(15, django_capture_on_commit_callbacks):
        # The first one's task: its batch does not take the second, due half a second later.
        assert engine.run_step_with_due(Escalation.objects.get(ticket=first).pk, 1) == 1
        assert sweep() == 0
    assert (len(paged(first)), len(paged(second))) == (4, 2)
    with at_minute(15 + half_a_second, django_capture_on_commit_callbacks):
        assert sweep() == 1
    assert len(paged(second)) == 4


def test_an_acknowledged_escalation_is_left_out_of_the_batch(
    dana: Contact,
    staff: dict[str, User],
    engineering: OnCallSchedule,
    lost_tasks: None,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    first, second = p1_tickets(2, dana, staff["bob"], django_capture_on_commit_callbacks)
    with at_minute(10, django_capture_on_commit_callbacks):
        assert acknowledge(first, staff["bob"], via="console") is True
    with at_minute(15, django_capture_on_commit_callbacks):
        assert sweep() == 1
    assert [user for user, _ in paged(first)] == ["bob", "bob"]
    assert [user for user, _ in paged(second)] == ["bob", "bob", "erin", "erin"]


def test_a_late_burst_fires_every_level_due_since_in_order_for_each_ticket(
    dana: Contact,
    staff: dict[str, User],
    engineering: OnCallSchedule,
    lost_tasks: None,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    with at_minute(0, django_capture_on_commit_callbacks):
        tickets = [open_p1(dana, assignee=staff["bob"], subject=f"Site {n} is down") for n in range(3)]
        for ticket in tickets:
            start_escalation(ticket, reason="P1 opened")
    # The worker was down for 45 minutes: the assignee, on-call and manager levels are all due.
    with at_minute(45, django_capture_on_commit_callbacks):
        assert sweep() == 3
    for ticket in tickets:
        assert [user for user, channel in paged(ticket) if channel == "email"] == ["bob", "erin", "mia"]
        assert [text for kind, text in timeline(ticket) if kind == "event"] == [
            "Paged your technician at 09:45.",
            "Escalated to our on-call engineer at 09:45.",
            "Escalated to our service manager at 09:45.",
        ]


def test_a_broken_escalation_does_not_hold_up_its_batch(
    dana: Contact,
    staff: dict[str, User],
    engineering: OnCallSchedule,
    lost_tasks: None,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Capture,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tickets = p1_tickets(3, dana, staff["bob"], django_capture_on_commit_callbacks)
    broken = tickets[1]
    of_level = Targets.of_level

    def fails_for_one_ticket(self: Targets, level: Any, ticket: Ticket) -> list[User]:
        if ticket.pk == broken.pk:
            raise RuntimeError("a corrupt row")
        return of_level(self, level, ticket)

    monkeypatch.setattr(Targets, "of_level", fails_for_one_ticket)
    with at_minute(15, django_capture_on_commit_callbacks):
        assert sweep() == 3
    # The batch rolled back whole; then each step fired alone and the broken one waits a minute.
    assert [len(paged(ticket)) for ticket in tickets] == [4, 2, 4]
    assert Escalation.objects.get(ticket=broken).next_step_at == minutes_after_t0(16)
    assert "a batch of escalation steps failed" in caplog.text
    assert not AuditEvent.objects.filter(ticket=broken, action="escalation_level_fired", before__level=1)
    monkeypatch.setattr(Targets, "of_level", of_level)
    with at_minute(16, django_capture_on_commit_callbacks):
        assert sweep() == 1
    assert len(paged(broken)) == 4


def test_a_page_says_what_it_says_and_where_to_acknowledge(
    escalating: Ticket, settings: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    page_deliveries = Delivery.objects.filter(page__user__username="erin").order_by("channel")
    email, text = page_deliveries
    number = escalating.number
    assert email.subject == f"[{number}] PAGE P1: Server down, nobody can work"
    assert email.body_text == (
        f"Erin, you are paged for {number} (P1 — critical): P1 opened.\n"
        "\n"
        "  Client:    Bright Smile Dental\n"
        "  Requester: Dana Reyes <dana@brightsmile.example>\n"
        "  Subject:   Server down, nobody can work\n"
        "  Status:    New, assigned to Bob\n"
        "  Level:     level 2 of 4: on call in Engineering on call\n"
        "\n"
        "The escalation goes on to the next level until someone acknowledges it. To acknowledge:\n"
        "  - reply to this email (any text), or\n"
        f'  - text "ACK {number}" to {settings.FIRSTCALL_SMS_FROM}, or\n'
        f"  - press Acknowledge on {settings.FIRSTCALL_PUBLIC_URL}/tickets/{number}/\n"
        "\n"
        f"— {settings.FIRSTCALL_MSP_NAME} escalation\n"
        "\n"
    )
    assert text.subject == ""
    assert text.body_text == (
        f"PAGE {number} P1 Bright Smile Dental: Server down, nobody can work (P1 opened). "
        f"Reply ACK {number} to acknowledge."
    )
