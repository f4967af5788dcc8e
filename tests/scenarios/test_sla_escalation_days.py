"""Days at the MSP, walked minute by minute through the real intake, triage, SLA clocks and
escalation: what the worker's sweeps do at each moment is what a running worker would do.

Bright Smile Dental (Chicago) has a contract with P1/P2 round the clock and P3/P4 in office
hours (Mon–Fri 08:00–17:00 Chicago, US holidays). The MSP: bob (technician), erin (engineer,
on call), mia (manager), alice (owner).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from firstcall.accounts.models import User
from firstcall.clients.models import BusinessProcess, Client, Contact, PhoneNumber
from firstcall.escalation.engine import acknowledge
from firstcall.escalation.engine import sweep as sweep_escalations
from firstcall.escalation.models import Escalation, OnCallSchedule, Page
from firstcall.intake.channels.email import ingest_email
from firstcall.intake.channels.sms import receive_sms
from firstcall.intake.pipeline import ingest
from firstcall.sla.models import Calendar, CalendarHours, ClockKind, SlaClock, SlaTarget
from firstcall.sla.targets import TWENTY_FOUR_SEVEN
from firstcall.sla.tracking import sweep_clocks, verify_clocks
from firstcall.tickets.actions import Actor, assign, transition
from firstcall.tickets.models import AuditEvent, Channel, MessageKind, Status, Ticket
from firstcall.tickets.priority import review_due_tickets
from firstcall.tickets.replies import post_reply

pytestmark = pytest.mark.django_db

CHICAGO = ZoneInfo("America/Chicago")
Capture = Callable[..., Any]


def chicago(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)


@pytest.fixture
def contract_hours(dental: Client) -> Calendar:
    """Dental's contract: P1/P2 on 24×7, P3/P4 on office hours with US holidays."""
    office = Calendar.objects.create(name="Chicago office", time_zone="America/Chicago", holiday_country="US")
    for weekday in range(5):
        CalendarHours.objects.create(calendar=office, weekday=weekday, opens=time(8), closes=time(17))
    round_the_clock = Calendar.objects.get(name=TWENTY_FOUR_SEVEN)
    contract = dental.contracts.get()
    contract.starts_on = date(2020, 1, 1)
    contract.save()
    contract.sla_targets.all().delete()
    for priority, first, update, resolution, calendar in (
        ("P1", 15, 60, 240, round_the_clock),
        ("P2", 60, 120, 480, round_the_clock),
        ("P3", 240, None, 600, office),
        ("P4", 600, None, 3000, office),
    ):
        SlaTarget.objects.create(
            contract=contract,
            priority=priority,
            first_response_minutes=first,
            next_update_minutes=update,
            resolution_minutes=resolution,
            calendar=calendar,
        )
    return office


@contextmanager
def at(moment: datetime, capture: Capture) -> Iterator[None]:
    """Time frozen at ``moment``; on-commit work (deliveries, task enqueues) runs."""
    with time_machine.travel(moment, tick=False), capture(execute=True):
        yield


def tick(moment: datetime, capture: Capture) -> None:
    """What the worker does at this minute: the SLA, escalation and triage sweeps."""
    with at(moment, capture):
        sweep_clocks()
        sweep_escalations()
        review_due_tickets()


def walk(start: datetime, end: datetime, capture: Capture) -> None:
    moment = start
    while moment <= end:
        tick(moment, capture)
        moment += timedelta(minutes=1)


def web_request(email: str, subject: str, description: str, token: str, **extra: Any) -> Ticket:
    payload = {"email": email, "subject": subject, "description": description, **extra}
    outcome = ingest(Channel.WEB, f"web:{token}", json.dumps(payload).encode())
    assert outcome.ticket_id is not None, outcome
    return Ticket.objects.get(pk=outcome.ticket_id)


def first_paged(ticket: Ticket) -> dict[str, datetime]:
    """When each staff member was first paged about the ticket (in Chicago time)."""
    first: dict[str, datetime] = {}
    for page in Page.objects.filter(escalation__ticket=ticket).select_related("user").order_by("created_at"):
        assert page.user is not None
        first.setdefault(page.user.username, page.created_at.astimezone(CHICAGO))
    return first


def clock(ticket: Ticket, kind: str) -> SlaClock:
    return SlaClock.objects.get(ticket=ticket, kind=kind)


def test_a_p1_at_1655_on_the_friday_before_labor_day(
    dana: Contact,
    carl: Contact,
    staff: dict[str, User],
    engineering: OnCallSchedule,
    contract_hours: Calendar,
    outbox: list[Any],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    friday = chicago(2026, 9, 4, 16, 55)  # Monday 7 September is Labor Day
    with at(friday, django_capture_on_commit_callbacks):
        outage = web_request(
            dana.email, "Server down", "Nobody can open patient charts.", "outage", is_emergency=True
        )
        printer = web_request(carl.email, "Label printer jams", "It jams on every second label.", "printer")

    # The outage is company-wide and urgent: P1, answered within 15 minutes round the clock.
    assert outage.priority == "P1" and outage.impact == "company"
    assert outage.first_response_due_at == chicago(2026, 9, 4, 17, 10)
    # The printer is one person's: P3, 4 office hours — 5 minutes on Friday, none on the
    # weekend or Labor Day, 3 h 55 on Tuesday.
    assert printer.priority == "P3"
    assert printer.first_response_due_at == chicago(2026, 9, 8, 11, 55)
    acknowledgment = next(m for m in outbox if m.to == [carl.email])
    assert "within 4 business hours" in acknowledgment.body
    assert "Tuesday 08 September 2026, 11:55 (America/Chicago)" in acknowledgment.body

    walk(friday, chicago(2026, 9, 4, 17, 56), django_capture_on_commit_callbacks)

    # Nobody has the outage (no assignee): erin, on call, is paged at once; the missed
    # 15-minute response at 17:10 takes it to the manager; the owner hears at the hour.
    assert first_paged(outage) == {
        "erin": chicago(2026, 9, 4, 16, 55),
        "mia": chicago(2026, 9, 4, 17, 10),
        "alice": chicago(2026, 9, 4, 17, 55),
    }
    assert clock(outage, ClockKind.FIRST_RESPONSE).breached_at == chicago(2026, 9, 4, 17, 10)
    # The client sees the escalation in plain words on the timeline.
    public = list(outage.messages.filter(kind=MessageKind.EVENT).values_list("body_text", flat=True))
    assert any("Escalated to our service manager at 17:10" in line for line in public), public
    # The printer waits quietly over the long weekend.
    assert first_paged(printer) == {}
    assert clock(printer, ClockKind.FIRST_RESPONSE).warned_at is None

    # Tuesday: the printer's warning at 75 % (3 h into the 4 office hours: 10:55), then at
    # 11:55 the missed target escalates it (P3: the policy for missed targets).
    tick(chicago(2026, 9, 8, 10, 54), django_capture_on_commit_callbacks)
    assert clock(printer, ClockKind.FIRST_RESPONSE).warned_at is None
    assign(printer, staff["bob"], actor=Actor(user=staff["bob"]))
    tick(chicago(2026, 9, 8, 10, 55), django_capture_on_commit_callbacks)
    assert clock(printer, ClockKind.FIRST_RESPONSE).warned_at == chicago(2026, 9, 8, 10, 55)
    assert any(m.to == [staff["bob"].email] and printer.number in m.subject for m in mail.outbox)
    tick(chicago(2026, 9, 8, 11, 55), django_capture_on_commit_callbacks)
    assert first_paged(printer) == {"bob": chicago(2026, 9, 8, 11, 55)}
    assert verify_clocks(outage) == [] and verify_clocks(printer) == []


@pytest.mark.parametrize("channel", ["sms", "email", "api"])
def test_waiting_on_the_client_over_a_weekend_and_their_reply_from_any_channel(
    channel: str,
    carl: Contact,
    dental: Client,
    staff: dict[str, User],
    contract_hours: Calendar,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    PhoneNumber.objects.create(client=dental, contact=carl, number="+13125550112", label="mobile")
    bob = staff["bob"]
    friday = chicago(2026, 11, 13, 15, 0)
    with at(friday, django_capture_on_commit_callbacks):
        ticket = web_request(carl.email, "Outlook keeps asking for my password", "Since this morning.", "pw")
        assign(ticket, bob, actor=Actor(user=bob))
    assert ticket.priority == "P3"
    # 600 office minutes to resolve: 2 h on Friday, 9 h on Monday → Monday 16:00.
    assert clock(ticket, ClockKind.RESOLUTION).due_at == chicago(2026, 11, 16, 16, 0)

    with at(chicago(2026, 11, 13, 15, 30), django_capture_on_commit_callbacks):
        post_reply(ticket, author=bob, body="Could you send a screenshot of the prompt?")
        transition(ticket, Status.WAITING_ON_CLIENT, actor=Actor(user=bob))
    resolution = clock(ticket, ClockKind.RESOLUTION)
    assert resolution.paused and resolution.due_at is None and resolution.next_check_at is None
    assert clock(ticket, ClockKind.FIRST_RESPONSE).met is True

    # Nothing happens while the client owes us an answer.
    walk(chicago(2026, 11, 13, 16, 0), chicago(2026, 11, 13, 16, 5), django_capture_on_commit_callbacks)
    tick(chicago(2026, 11, 15, 19, 0), django_capture_on_commit_callbacks)
    assert not Escalation.objects.exists()

    # Sunday evening the client answers.
    with at(chicago(2026, 11, 15, 20, 0), django_capture_on_commit_callbacks):
        if channel == "sms":
            body = urlencode(
                {"MessageSid": "SM" + "1" * 32, "From": "+13125550112", "Body": "Screenshot sent"}
            )
            outcome = receive_sms(body.encode()).outcome
        elif channel == "email":
            raw = (
                f"From: Carl <{carl.email}>\r\nTo: support@msp.example\r\n"
                f"Subject: Re: [{ticket.number}] Outlook keeps asking for my password\r\n"
                "Message-ID: <carl-reply@brightsmile.example>\r\n\r\nHere is the screenshot.\r\n"
            ).encode()
            outcome = ingest_email(raw, mail_from=carl.email, rcpt_tos=["support@msp.example"])
        else:
            payload = {"requester_email": carl.email, "body": "Screenshot attached", "ticket_id": ticket.pk}
            outcome = ingest(Channel.API, "api:1:carl-reply", json.dumps(payload).encode())
    assert outcome.ticket_id == ticket.pk
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    # 30 minutes were counted before the pause; 570 left from Monday 08:00: 540 on Monday,
    # 30 on Tuesday. The warning (75 %, 450 counted) re-arms for Monday 15:00.
    resolution = clock(ticket, ClockKind.RESOLUTION)
    assert resolution.due_at == chicago(2026, 11, 17, 8, 30)
    assert resolution.warn_at == resolution.next_check_at == chicago(2026, 11, 16, 15, 0)
    assert verify_clocks(ticket) == []

    tick(chicago(2026, 11, 16, 15, 0), django_capture_on_commit_callbacks)
    assert clock(ticket, ClockKind.RESOLUTION).warned_at == chicago(2026, 11, 16, 15, 0)
    tick(chicago(2026, 11, 17, 8, 30), django_capture_on_commit_callbacks)
    assert clock(ticket, ClockKind.RESOLUTION).breached_at == chicago(2026, 11, 17, 8, 30)
    assert first_paged(ticket) == {"bob": chicago(2026, 11, 17, 8, 30)}


def test_a_payroll_ticket_becomes_p1_as_the_cutoff_nears(
    carl: Contact,
    dental: Client,
    staff: dict[str, User],
    engineering: OnCallSchedule,
    contract_hours: Calendar,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    dental.headcount, dental.hourly_cost = 14, 85
    dental.save()
    BusinessProcess.objects.create(
        client=dental,
        name="Payroll submission",
        keywords="payroll, timesheet",
        weekday=4,
        time=time(14, 0),
        every_weeks=2,
        anchor_date=date(2026, 1, 9),  # every other Friday: … 13 and 27 November
    )
    monday = chicago(2026, 11, 23, 10, 0)
    with at(monday, django_capture_on_commit_callbacks):
        payroll = web_request(carl.email, "Can't open the payroll app", "It crashes at start.", "payroll")
        printer = web_request(
            "maria@brightsmile.example", "Printer slow for everyone", "Printing is slow.", "slow"
        )
    with at(chicago(2026, 11, 23, 10, 30), django_capture_on_commit_callbacks):
        assign(payroll, staff["bob"], actor=Actor(user=staff["bob"]))
        post_reply(
            payroll, author=staff["bob"], body="Looking into it; can you use the web version meanwhile?"
        )
    # Friday 27 November 14:00 is far: P3, reviewed again 48 h before the cut-off.
    assert payroll.priority == "P3"
    assert payroll.triage_review_at == chicago(2026, 11, 25, 14, 0)
    assert any("Payroll submission" in reason["because"] for reason in payroll.priority_reasons)

    # P3's 600 office minutes to resolve run out on Tuesday 11:00: bob (assigned) is paged.
    tick(chicago(2026, 11, 24, 11, 0), django_capture_on_commit_callbacks)
    assert first_paged(payroll) == {"bob": chicago(2026, 11, 24, 11, 0)}
    with at(chicago(2026, 11, 24, 11, 5), django_capture_on_commit_callbacks):
        assert acknowledge(payroll, staff["bob"], via="console")
    tick(chicago(2026, 11, 25, 13, 59), django_capture_on_commit_callbacks)
    payroll.refresh_from_db()
    assert payroll.priority == "P3"
    tick(chicago(2026, 11, 25, 14, 0), django_capture_on_commit_callbacks)
    payroll.refresh_from_db()
    assert payroll.priority == "P2" and payroll.triage_review_at == chicago(2026, 11, 27, 6, 0)
    # The new priority's targets apply from when it opened: bob's reply at 10:30 met P2's
    # 60 minutes, but P2 wants an update every 2 hours and none came since: a missed target,
    # so escalation starts again (bob acknowledged the first one) and pages bob.
    assert clock(payroll, ClockKind.FIRST_RESPONSE).met is True
    assert clock(payroll, ClockKind.NEXT_UPDATE).breached_at == chicago(2026, 11, 25, 14, 0)
    running = Escalation.objects.get(ticket=payroll, stopped_at__isnull=True)
    assert running.policy.name == "Missed SLA target (P2–P4)"
    assert running.started_at == chicago(2026, 11, 25, 14, 0)
    assert Page.objects.filter(escalation=running, user=staff["bob"]).exists()

    tick(chicago(2026, 11, 27, 6, 0), django_capture_on_commit_callbacks)
    payroll.refresh_from_db()
    printer.refresh_from_db()
    # Eight hours before the cut-off one person's payroll problem is P1 — above the slow
    # printer that bothers everyone — and P1 escalates on its own.
    assert payroll.priority == "P1" and printer.priority in ("P2", "P3")
    # The P1 policy takes over from the policy for missed targets.
    running = Escalation.objects.get(ticket=payroll, stopped_at__isnull=True)
    assert running.policy.name == "P1 default" and running.started_at == chicago(2026, 11, 27, 6, 0)
    changes = AuditEvent.objects.filter(ticket=payroll, action="priority_changed").order_by("created_at")
    assert [(e.before["priority"], e.after["priority"]) for e in changes] == [("P3", "P2"), ("P2", "P1")]
    assert verify_clocks(payroll) == []
