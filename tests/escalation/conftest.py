"""Escalation test helpers: staff with phones, the seeded on-call schedule with erin on it, a
P1 ticket assigned to bob, and a clock the tests move minute by minute.

The MSP: alice (owner), bob (technician, the assignee), erin (engineer, on call), mia (manager).
Time starts at T0 = Monday 2 March 2026, 09:00 in Chicago (Bright Smile Dental's zone).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from huey.contrib.djhuey import HUEY

from firstcall.accounts.models import Role, User
from firstcall.clients.models import Contact
from firstcall.escalation.engine import forget_scheduled_moments, start_escalation, sweep
from firstcall.escalation.models import OnCallSchedule, Page
from firstcall.escalation.oncall import set_rotation
from firstcall.escalation.tasks import escalation_step
from firstcall.tickets.actions import Actor, add_message, assign, open_ticket
from firstcall.tickets.models import Channel, MessageKind, Ticket

CHICAGO = ZoneInfo("America/Chicago")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CHICAGO)
Capture = Callable[..., Any]


def minutes_after_t0(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def mia(db: None) -> User:
    return User.objects.create_user(
        "mia", "mia@msp.example", "mia-pass-123", role=Role.MANAGER, first_name="Mia", last_name="Lopez"
    )


@pytest.fixture
def staff(alice: User, bob: User, erin: User, mia: User) -> dict[str, User]:
    """Everyone, with phone numbers (typed in as people do) so pages go by email and text."""
    for user, phone in ((alice, "+1 555 010 0001"), (bob, "+1 (555) 010-0002"), (erin, "+15550100003")):
        user.phone = phone
        user.save(update_fields=["phone"])
    return {"alice": alice, "bob": bob, "erin": erin, "mia": mia}


@pytest.fixture
def engineering(staff: dict[str, User]) -> Iterator[OnCallSchedule]:
    """The seeded schedule, in Chicago, with erin alone in the rotation from a week before T0."""
    schedule = OnCallSchedule.objects.get(name="Engineering on call")
    schedule.time_zone = "America/Chicago"
    schedule.rotation_starts_at = T0 - timedelta(days=7)
    schedule.save()
    with time_machine.travel(T0 - timedelta(hours=1), tick=False):
        set_rotation(schedule, [staff["erin"]])
    yield schedule


@pytest.fixture(autouse=True)
def _fresh_step_moments() -> Iterator[None]:
    """The engine remembers which moments it scheduled a step task for; tests reuse moments
    (every one starts at T0) and Huey's schedule does not outlive them."""
    forget_scheduled_moments()
    yield
    forget_scheduled_moments()


@pytest.fixture
def huey_schedule() -> Iterator[Any]:
    """Huey's in-memory schedule (tests run tasks inline; tasks with a later ETA wait there)."""
    HUEY.storage.flush_schedule()
    yield HUEY
    HUEY.storage.flush_schedule()


def escalation_tasks(huey: Any) -> list[Any]:
    """The escalation steps waiting in Huey's schedule (other packages' tasks left out)."""
    return [task for task in huey.scheduled() if isinstance(task, escalation_step.task_class)]


def run_due_huey_tasks(huey: Any) -> int:
    """What the consumer's scheduler does at this moment: run every escalation step whose ETA
    has come. (Other packages' tasks, e.g. SLA clocks, are left out of these tests.)"""
    now = datetime.now(UTC).replace(tzinfo=None)
    tasks = [task for task in huey.read_schedule(now) if isinstance(task, escalation_step.task_class)]
    for task in tasks:
        huey.execute(task)
    return len(tasks)


def open_p1(
    requester: Contact,
    *,
    assignee: User | None,
    subject: str = "Server down, nobody can work",
    is_emergency: bool = True,
) -> Ticket:
    """A P1 as intake opens it (an emergency), assigned to ``assignee``; with
    ``is_emergency=False`` an ordinary request instead."""
    actor = Actor(contact=requester, label="phone intake")
    ticket = open_ticket(
        client_id=requester.client_id,
        requester=requester,
        subject=subject,
        channel=Channel.PHONE,
        actor=actor,
        is_emergency=is_emergency,
    )
    if is_emergency and ticket.priority != "P1":
        # These tests are about escalation, whatever triage makes of the words.
        Ticket.objects.filter(pk=ticket.pk).update(priority="P1")
        ticket.refresh_from_db()
    add_message(ticket, kind=MessageKind.INBOUND, channel=Channel.PHONE, body_text=subject, actor=actor)
    if assignee is not None:
        assign(ticket, assignee, actor=Actor(user=assignee))
    return ticket


def paged(ticket: Ticket) -> list[tuple[str, str]]:
    """(username, channel) of every page on the ticket, in order."""
    return [
        (page.user.username if page.user else "?", page.channel)
        for page in Page.objects.filter(escalation__ticket=ticket).select_related("user").order_by("pk")
    ]


@contextmanager
def at_minute(minutes: float, capture: Callable[..., Any]) -> Iterator[None]:
    """Freeze time at T0 + minutes and run on-commit callbacks (task enqueues, deliveries)."""
    with time_machine.travel(minutes_after_t0(minutes), tick=False), capture(execute=True):
        yield


@pytest.fixture
def escalating(
    dana: Contact,
    staff: dict[str, User],
    engineering: OnCallSchedule,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Capture,
) -> Ticket:
    """A P1 opened at T0 and assigned to bob; erin (on call) was paged at minute 15."""
    monkeypatch.setattr("firstcall.escalation.engine._schedule_step", lambda *args: None)
    with at_minute(0, django_capture_on_commit_callbacks):
        ticket = open_p1(dana, assignee=staff["bob"])
        start_escalation(ticket, reason="P1 opened")
        sweep()
    with at_minute(15, django_capture_on_commit_callbacks):
        sweep()
    assert [user for user, channel in paged(ticket) if channel == "sms"] == ["bob", "erin"]
    return ticket
