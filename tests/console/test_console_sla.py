"""The ticket page's SLA panel: each clock's target, calendar, due time in the client's zone and
state in words — running, warning sent, overdue, paused, met, missed."""

from __future__ import annotations

import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client as HttpClient

from firstcall.accounts.models import User
from firstcall.clients.models import Contact, Contract
from firstcall.sla.models import SlaClock
from firstcall.sla.tracking import sweep_clocks
from firstcall.tickets.actions import Actor, transition
from firstcall.tickets.models import Status, Ticket
from firstcall.tickets.replies import post_reply
from tests.console.conftest import T0, minutes_after_t0

pytestmark = pytest.mark.django_db

NewTicket = Callable[..., Ticket]


def clocks(html: str) -> list[tuple[str, str, str]]:
    """(state modifier, kind, words) of each clock, in the order shown."""
    return re.findall(
        r'<li class="clock clock--([a-z]+)">\s*<p class="clock__head"><span class="clock__kind">(.*?)</span> '
        r'<span class="clock__state">(.*?)</span>',
        html,
    )


def sla_panel(html: str) -> str:
    match = re.search(r'<section class="card panel" id="sla".*?</section>', html, re.S)
    assert match, "the SLA panel is not on the page"
    return match.group(0)


def page_at(browser: HttpClient, ticket: Ticket, minutes: float) -> str:
    with time_machine.travel(minutes_after_t0(minutes), tick=False):
        return sla_panel(browser.get(f"/tickets/{ticket.number}/").content.decode())


@pytest.fixture
def printer_jam(dental_contract_since_2020: Contract, carl: Contact, new_ticket: NewTicket) -> Ticket:
    """A P3 from Bright Smile Dental opened at T0: first response due in 2 hours (24×7)."""
    with time_machine.travel(T0, tick=False):
        ticket = new_ticket(carl, "Printer jam")
    assert ticket.priority == "P3"
    return ticket


def test_running_clock_shows_target_calendar_and_due_time_in_the_clients_zone(
    as_bob: HttpClient, printer_jam: Ticket
) -> None:
    html = page_at(as_bob, printer_jam, 10)
    assert clocks(html) == [("running", "First response", "Running")]
    assert "Times in America/Chicago." in html
    assert '<dt>Target</dt><dd>2 hours <span class="muted">(24×7)</span></dd>' in html
    assert '<time datetime="2026-03-02T17:00:00+00:00">Mon 02 Mar 11:00 CST</time>' in html


def test_warning_then_overdue(as_bob: HttpClient, printer_jam: Ticket) -> None:
    # At 75 % of the target the assignee is warned (here nobody is assigned: a staff note says so).
    with time_machine.travel(minutes_after_t0(90), tick=False):
        assert sweep_clocks() == 1
    assert clocks(page_at(as_bob, printer_jam, 91)) == [("warned", "First response", "Running, warning sent")]
    # Past the deadline it reads overdue even before the sweep has marked it (a worker was down)…
    assert clocks(page_at(as_bob, printer_jam, 121)) == [("overdue", "First response", "Running, overdue")]
    # …and after.
    with time_machine.travel(minutes_after_t0(121), tick=False):
        assert sweep_clocks() == 1
    assert SlaClock.objects.get(ticket=printer_jam).breached_at is not None
    assert clocks(page_at(as_bob, printer_jam, 122)) == [("overdue", "First response", "Running, overdue")]


def test_waiting_on_the_client_pauses_and_replying_resumes_later(
    as_bob: HttpClient, printer_jam: Ticket
) -> None:
    with time_machine.travel(minutes_after_t0(30), tick=False):
        transition(printer_jam, Status.WAITING_ON_CLIENT, actor=Actor.system())
    html = page_at(as_bob, printer_jam, 45)
    assert clocks(html) == [("paused", "First response", "Paused: waiting on the client")]
    assert "Not until the clock runs again" in html
    # Reopened an hour later: the hour paused moves the deadline an hour on.
    with time_machine.travel(minutes_after_t0(90), tick=False):
        transition(printer_jam, Status.OPEN, actor=Actor.system())
    html = page_at(as_bob, printer_jam, 95)
    assert clocks(html) == [("running", "First response", "Running")]
    assert "Mon 02 Mar 12:00 CST" in html


def test_first_reply_in_time_meets_the_target(as_bob: HttpClient, bob: User, printer_jam: Ticket) -> None:
    with time_machine.travel(minutes_after_t0(30), tick=False):
        post_reply(printer_jam, author=bob, body="Looking at it now.")
    html = page_at(as_bob, printer_jam, 200)
    assert clocks(html) == [("met", "First response", "Met (Mon 02 Mar 09:30 CST)")]


def test_first_reply_after_the_deadline_misses_it(as_bob: HttpClient, bob: User, printer_jam: Ticket) -> None:
    with time_machine.travel(minutes_after_t0(150), tick=False):
        post_reply(printer_jam, author=bob, body="Sorry for the wait.")
    html = page_at(as_bob, printer_jam, 200)
    assert clocks(html) == [("missed", "First response", "Missed (stopped Mon 02 Mar 11:30 CST)")]


def test_business_hours_targets_read_as_business_time(
    as_bob: HttpClient, priya: Contact, new_ticket: NewTicket
) -> None:
    """Hale & Porter Law has no contract: firstcall's default P3 targets on business hours."""
    with time_machine.travel(T0, tick=False):
        ticket = new_ticket(priya, "Printer jam")
    html = page_at(as_bob, ticket, 5)
    assert clocks(html) == [("running", "First response", "Running"), ("running", "Resolution", "Running")]
    assert "4 business hours" in html and "2 business days" in html and "(Business hours)" in html
    assert "Times in America/New_York." in html
    first_response = SlaClock.objects.get(ticket=ticket, kind="first_response")
    assert first_response.due_at is not None
    local = first_response.due_at.astimezone(ZoneInfo("America/New_York"))
    assert f"{local:%a %d %b %H:%M} EST" in html


def test_clocks_are_listed_first_response_next_update_resolution(
    as_bob: HttpClient, bob: User, priya: Contact, new_ticket: NewTicket
) -> None:
    with time_machine.travel(T0, tick=False):
        ticket = new_ticket(priya, "Printer jam")
    with time_machine.travel(minutes_after_t0(10), tick=False):
        post_reply(ticket, author=bob, body="On it.")
    assert clocks(page_at(as_bob, ticket, 20)) == [
        ("met", "First response", "Met (Mon 02 Mar 10:10 EST)"),
        ("running", "Next update", "Running"),
        ("running", "Resolution", "Running"),
    ]


def test_resolving_stops_every_clock(as_bob: HttpClient, printer_jam: Ticket) -> None:
    with time_machine.travel(minutes_after_t0(60), tick=False):
        transition(printer_jam, Status.RESOLVED, actor=Actor.system())
    assert clocks(page_at(as_bob, printer_jam, 300)) == [
        ("met", "First response", "Met (Mon 02 Mar 10:00 CST)")
    ]
