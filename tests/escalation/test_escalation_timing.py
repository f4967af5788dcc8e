"""An unacknowledged P1 climbs the default policy at the right minutes — by the tasks scheduled
at each step's ETA, and by the minute sweep when those tasks were lost — and the client reads each
step in plain words. Empty levels fall through, never to nobody."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

import pytest
from django.core import mail

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.escalation.engine import (
    escalate_now,
    start_escalation,
    stop_escalation,
    sweep,
    warn_assignee,
)
from firstcall.escalation.models import (
    Escalation,
    EscalationLevel,
    EscalationPolicy,
    OnCallSchedule,
    Page,
    TargetKind,
)
from firstcall.notify.models import DeliveryPurpose, DeliveryStatus
from firstcall.tickets.actions import Actor, transition
from firstcall.tickets.models import AuditEvent, MessageKind, Status, Ticket
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


@pytest.fixture(autouse=True)
def _msp_name(settings: Any) -> None:
    settings.FIRSTCALL_MSP_NAME = "Northwind IT"


@pytest.fixture
def lost_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that was down: no step task ever runs; only the sweep moves escalations."""
    monkeypatch.setattr("firstcall.escalation.engine._schedule_step", lambda *args: None)


def public_lines(ticket: Ticket) -> list[str]:
    return list(
        ticket.messages.filter(kind=MessageKind.EVENT).order_by("pk").values_list("body_text", flat=True)
    )


def test_an_unacknowledged_p1_reaches_the_owner_at_the_right_minute(
    dana: Contact,
    staff: dict[str, User],
    engineering: OnCallSchedule,
    huey_schedule: Any,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    with at_minute(0, django_capture_on_commit_callbacks):
        ticket = open_p1(dana, assignee=staff["bob"])
        escalation = start_escalation(ticket, reason="P1 opened")
    assert escalation is not None
    # The first level (the assignee, at 0 minutes) ran at once; the next waits for its ETA.
    assert paged(ticket) == [("bob", "email"), ("bob", "sms")]
    assert [(task.args, task.eta) for task in escalation_tasks(huey_schedule)] == [
        ((escalation.pk, 1), minutes_after_t0(15).astimezone(UTC).replace(tzinfo=None))  # Huey: naive UTC
    ]

    expected = [
        (14.9, []),
        (15, [("erin", "email"), ("erin", "sms")]),
        (29.9, []),
        (30, [("mia", "email")]),  # mia has no phone: email only
        (59.9, []),
        (60, [("alice", "email"), ("alice", "sms")]),
        (240, []),  # no repeats: nothing after the owner
    ]
    for minute, expected_pages in expected:
        before = Page.objects.count()
        with at_minute(minute, django_capture_on_commit_callbacks):
            run_due_huey_tasks(huey_schedule)
        new = Page.objects.filter(escalation__ticket=ticket).order_by("pk")[before:]
        assert [(p.user.username, p.channel) for p in new if p.user] == expected_pages, f"minute {minute}"
        assert all(page.created_at == minutes_after_t0(minute) for page in new)

    assert public_lines(ticket) == [
        "Paged your technician at 09:00.",
        "Escalated to our on-call engineer at 09:15.",
        "Escalated to our service manager at 09:30.",
        "Escalated to Northwind IT's owner at 10:00.",
    ]
    escalation.refresh_from_db()
    assert escalation.is_active and escalation.next_level is None and escalation.next_step_at is None
    # Every page was sent: emails here, texts through the console SMS provider.
    sent = Page.objects.filter(escalation=escalation).select_related("delivery")
    assert {page.delivery.status for page in sent if page.delivery} == {DeliveryStatus.SENT}
    assert sorted(message.to[0] for message in mail.outbox) == [
        "alice@msp.example",
        "bob@msp.example",
        "erin@msp.example",
        "mia@msp.example",
    ]


def test_the_sweep_alone_moves_the_escalation_when_tasks_are_lost(
    dana: Contact,
    staff: dict[str, User],
    engineering: OnCallSchedule,
    lost_tasks: None,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    with at_minute(0, django_capture_on_commit_callbacks):
        ticket = open_p1(dana, assignee=staff["bob"])
        start_escalation(ticket, reason="P1 opened")
    fired_at: dict[int, list[str]] = {}
    for minute in range(0, 62):
        before = Page.objects.count()
        with at_minute(minute, django_capture_on_commit_callbacks):
            sweep()
        new = Page.objects.order_by("pk")[before:]
        if new:
            fired_at[minute] = sorted({page.user.username for page in new if page.user})
    assert fired_at == {0: ["bob"], 15: ["erin"], 30: ["mia"], 60: ["alice"]}


def test_a_late_run_fires_every_level_due_since_in_order(
    dana: Contact,
    staff: dict[str, User],
    engineering: OnCallSchedule,
    lost_tasks: None,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    with at_minute(0, django_capture_on_commit_callbacks):
        ticket = open_p1(dana, assignee=staff["bob"])
        escalation = start_escalation(ticket, reason="P1 opened")
    assert escalation is not None
    # The worker comes back 45 minutes later: the assignee, on-call and manager levels are all
    # due; each is paged now, in order. The owner keeps the 60th minute.
    with at_minute(45, django_capture_on_commit_callbacks):
        assert sweep() == 1
    assert [user for user, channel in paged(ticket) if channel == "email"] == ["bob", "erin", "mia"]
    assert public_lines(ticket) == [
        "Paged your technician at 09:45.",
        "Escalated to our on-call engineer at 09:45.",
        "Escalated to our service manager at 09:45.",
    ]
    with at_minute(59, django_capture_on_commit_callbacks):
        assert sweep() == 0
    with at_minute(60, django_capture_on_commit_callbacks):
        assert sweep() == 1
    assert paged(ticket)[-1][0] == "alice"


def test_an_empty_on_call_slot_falls_to_the_next_level_at_once(
    dana: Contact,
    staff: dict[str, User],
    lost_tasks: None,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    # The seeded "Engineering on call" has nobody in it.
    with at_minute(0, django_capture_on_commit_callbacks):
        ticket = open_p1(dana, assignee=staff["bob"])
        start_escalation(ticket, reason="P1 opened")
    fired_at: dict[int, list[str]] = {}
    for minute in (0, 15, 30, 60):
        before = Page.objects.count()
        with at_minute(minute, django_capture_on_commit_callbacks):
            sweep()
        fired_at[minute] = sorted({p.user.username for p in Page.objects.order_by("pk")[before:] if p.user})
    # The manager hears at 15 instead of 30; the owner still at 60.
    assert fired_at == {0: ["bob"], 15: ["mia"], 30: [], 60: ["alice"]}
    notes = ticket.messages.filter(kind=MessageKind.NOTE, body_text__startswith="Nobody to page")
    assert [note.body_text for note in notes] == [
        "Nobody to page at level 2 (on call in Engineering on call); went on to level 3 at once."
    ]
    assert public_lines(ticket)[1] == "Escalated to our service manager at 09:15."


def test_empty_levels_fall_through_in_one_go(
    dana: Contact, staff: dict[str, User], django_capture_on_commit_callbacks: Capture
) -> None:
    # An unassigned P1, nobody on call, and the manager has left: the owner is paged at once.
    User.objects.filter(username="mia").update(is_active=False)
    with at_minute(0, django_capture_on_commit_callbacks):
        ticket = open_p1(dana, assignee=None)
        start_escalation(ticket, reason="P1 opened")
    assert paged(ticket) == [("alice", "email"), ("alice", "sms")]
    assert ticket.messages.get(kind=MessageKind.NOTE, body_text__startswith="Nobody").body_text == (
        "Nobody to page at level 1 (the assignee) or level 2 (on call in Engineering on call) "
        "or level 3 (every manager); went on to level 4 at once."
    )
    assert public_lines(ticket) == ["Escalated to Northwind IT's owner at 09:00."]


def test_when_every_remaining_level_is_empty_the_owners_are_paged(
    dana: Contact, staff: dict[str, User], django_capture_on_commit_callbacks: Capture
) -> None:
    policy = EscalationPolicy.objects.create(name="Assignee then on call", priorities=["P1"], position=1)
    EscalationLevel.objects.create(
        policy=policy, position=0, after_minutes=0, target_kind=TargetKind.ASSIGNEE
    )
    EscalationLevel.objects.create(
        policy=policy,
        position=1,
        after_minutes=15,
        target_kind=TargetKind.ON_CALL,
        target_schedule=OnCallSchedule.objects.get(name="Engineering on call"),
    )
    with at_minute(0, django_capture_on_commit_callbacks):
        ticket = open_p1(dana, assignee=None)
        escalation = start_escalation(ticket, reason="P1 opened")
    assert escalation is not None and escalation.policy == policy
    assert paged(ticket) == [("alice", "email"), ("alice", "sms")]
    note = ticket.messages.get(kind=MessageKind.NOTE, body_text__startswith="Nobody")
    assert note.body_text == (
        "Nobody to page at level 1 (the assignee) or level 2 (on call in Engineering on call); "
        "no later level has anyone either: paged the owners instead."
    )
    page_note = ticket.messages.filter(kind=MessageKind.NOTE, body_text__startswith="Paged Alice").first()
    assert page_note is not None
    assert (
        page_note.body_text
        == "Paged Alice by email (last resort: the owners, as no level had anyone to page)."
    )
    escalation.refresh_from_db()
    assert escalation.next_level is None and escalation.is_active


def test_a_policy_that_repeats_starts_over_after_its_last_level(
    dana: Contact, staff: dict[str, User], lost_tasks: None, django_capture_on_commit_callbacks: Capture
) -> None:
    policy = EscalationPolicy.objects.create(
        name="Twice", priorities=["P1"], position=1, repeat_count=1, repeat_after_minutes=20
    )
    EscalationLevel.objects.create(
        policy=policy, position=0, after_minutes=0, target_kind=TargetKind.ASSIGNEE
    )
    EscalationLevel.objects.create(
        policy=policy, position=1, after_minutes=10, target_kind=TargetKind.ROLE, target_role="manager"
    )
    with at_minute(0, django_capture_on_commit_callbacks):
        ticket = open_p1(dana, assignee=staff["bob"])
        start_escalation(ticket, reason="P1 opened")
    fired_at: dict[int, list[tuple[str, int]]] = {}
    for minute in range(0, 90):
        before = Page.objects.count()
        with at_minute(minute, django_capture_on_commit_callbacks):
            sweep()
        new = Page.objects.order_by("pk")[before:]
        if new:
            fired_at[minute] = sorted({(p.user.username, p.round) for p in new if p.user})
    # Round 2 starts 20 minutes after the last level (minute 10): bob at 30, mia at 40; then done.
    assert fired_at == {0: [("bob", 0)], 10: [("mia", 0)], 30: [("bob", 1)], 40: [("mia", 1)]}
    assert public_lines(ticket) == [
        "Paged your technician at 09:00.",
        "Escalated to our service manager at 09:10.",
        "Paged your technician again at 09:30.",
        "Escalated to our service manager at 09:40.",
    ]


def test_a_missed_deadline_fires_the_next_level_at_once(
    dana: Contact,
    staff: dict[str, User],
    engineering: OnCallSchedule,
    lost_tasks: None,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    with at_minute(0, django_capture_on_commit_callbacks):
        ticket = open_p1(dana, assignee=staff["bob"])
        first = start_escalation(ticket, reason="P1 opened")
        sweep()
    with at_minute(5, django_capture_on_commit_callbacks):
        assert escalate_now(ticket, reason="first response target missed") == first
    assert [user for user, channel in paged(ticket) if channel == "email"] == ["bob", "erin"]
    assert AuditEvent.objects.filter(
        action="escalation_hurried", reason="first response target missed"
    ).exists()
    # The manager keeps the 30th minute.
    with at_minute(29, django_capture_on_commit_callbacks):
        sweep()
    with at_minute(30, django_capture_on_commit_callbacks):
        sweep()
    assert [user for user, channel in paged(ticket) if channel == "email"] == ["bob", "erin", "mia"]


def test_a_missed_deadline_without_an_escalation_starts_one(
    carl: Contact, staff: dict[str, User], django_capture_on_commit_callbacks: Capture
) -> None:
    policy = EscalationPolicy.objects.create(name="P2 on breach", priorities=["P2"])
    EscalationLevel.objects.create(policy=policy, position=0, target_kind=TargetKind.ASSIGNEE)
    with at_minute(0, django_capture_on_commit_callbacks):
        ticket = open_p1(carl, assignee=staff["bob"], subject="Slow laptop", is_emergency=False)
        Ticket.objects.filter(pk=ticket.pk).update(priority="P2")
        ticket.refresh_from_db()
        escalation = escalate_now(ticket, reason="first response target missed")
    assert escalation is not None and escalation.policy == policy
    assert escalation.reason == "first response target missed"
    assert paged(ticket) == [("bob", "email"), ("bob", "sms")]


def test_a_ticket_without_a_policy_does_not_escalate(
    carl: Contact, staff: dict[str, User], django_capture_on_commit_callbacks: Capture
) -> None:
    EscalationPolicy.objects.filter(starts_when_opened=False).delete()  # the default for a miss
    with at_minute(0, django_capture_on_commit_callbacks):
        ticket = open_p1(carl, assignee=staff["bob"], subject="New mouse please", is_emergency=False)
        Ticket.objects.filter(pk=ticket.pk).update(priority="P4")
        ticket.refresh_from_db()
        assert start_escalation(ticket, reason="opened") is None
        assert escalate_now(ticket, reason="resolution target missed") is None
    assert not Escalation.objects.filter(ticket=ticket).exists()


def test_a_resolved_ticket_stops_escalating(
    dana: Contact,
    staff: dict[str, User],
    engineering: OnCallSchedule,
    lost_tasks: None,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    with at_minute(0, django_capture_on_commit_callbacks):
        ticket = open_p1(dana, assignee=staff["bob"])
        escalation = start_escalation(ticket, reason="P1 opened")
        sweep()
    assert escalation is not None
    with at_minute(10, django_capture_on_commit_callbacks):
        transition(ticket, Status.RESOLVED, actor=Actor(user=staff["bob"]))
    # The lead's resolve hook calls stop_escalation; without it the next step stops it anyway.
    with at_minute(15, django_capture_on_commit_callbacks):
        sweep()
    escalation.refresh_from_db()
    assert escalation.stop_reason == "ticket resolved" and escalation.next_step_at is None
    assert [user for user, _ in paged(ticket)] == ["bob", "bob"]

    with at_minute(20, django_capture_on_commit_callbacks):
        transition(ticket, Status.OPEN, actor=Actor(user=staff["bob"]))
        second = start_escalation(ticket, reason="reopened P1")
        assert second is not None and second != escalation
        assert stop_escalation(ticket, reason="ticket closed") is True
        assert stop_escalation(ticket, reason="ticket closed") is False


def test_the_assignee_is_warned_before_a_deadline(
    carl: Contact, staff: dict[str, User], django_capture_on_commit_callbacks: Capture
) -> None:
    with at_minute(0, django_capture_on_commit_callbacks):
        ticket = open_p1(carl, assignee=staff["bob"], subject="Email slow", is_emergency=False)
        public_before = public_lines(ticket)
        assert warn_assignee(ticket, reason="first response due Mon 02 Mar 09:15 (America/Chicago)") is True
    email = next(m for m in mail.outbox if "SLA warning" in m.subject)
    assert email.to == ["bob@msp.example"]
    assert (
        email.subject
        == f"[{ticket.number}] SLA warning: first response due Mon 02 Mar 09:15 (America/Chicago)"
    )
    notes = list(
        ticket.messages.filter(kind=MessageKind.NOTE, body_text__startswith="Warned").values_list(
            "body_text", "delivery__purpose"
        )
    )
    assert notes == [
        ("Warned Bob by email: first response due Mon 02 Mar 09:15 (America/Chicago).", DeliveryPurpose.PAGE),
        ("Warned Bob by text: first response due Mon 02 Mar 09:15 (America/Chicago).", DeliveryPurpose.PAGE),
    ]
    # Nothing the client sees.
    assert public_lines(ticket) == public_before

    with at_minute(1, django_capture_on_commit_callbacks):
        unassigned = open_p1(carl, assignee=None, subject="Printer jammed", is_emergency=False)
        assert warn_assignee(unassigned, reason="first response due soon") is False
    assert unassigned.messages.get(kind=MessageKind.NOTE, body_text__startswith="SLA").body_text == (
        "SLA warning not sent (first response due soon): nobody is assigned."
    )
