"""The ticket page's escalation panel: the running escalation (policy, next level and when it
fires, pages sent), the Acknowledge button, and how the last escalation ended."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.test import Client as HttpClient

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.escalation.engine import active_escalation, run_step, sweep
from firstcall.escalation.models import Escalation, Page
from firstcall.tickets.actions import Actor, assign, transition
from firstcall.tickets.models import AuditEvent, Message, MessageKind, Status, Ticket
from tests.console.conftest import T0, minutes_after_t0

pytestmark = pytest.mark.django_db

NewTicket = Callable[..., Ticket]


def escalation_panel(html: str) -> str:
    match = re.search(r'<section class="card panel[^"]*" id="escalation".*?</section>', html, re.S)
    assert match, "the escalation panel is not on the page"
    return match.group(0)


def entry_html(html: str, message: Message) -> str:
    match = re.search(rf'<li class="entry [^"]*" id="message-{message.pk}">(.*?)\n</li>', html, re.S)
    assert match, f"message {message.pk} is not on the page"
    return match.group(1)


def get_at(browser: HttpClient, ticket: Ticket, minutes: float) -> str:
    with time_machine.travel(minutes_after_t0(minutes), tick=False):
        return browser.get(f"/tickets/{ticket.number}/").content.decode()


def flash(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def escalating(dana: Contact, erin: User, new_ticket: NewTicket) -> Ticket:
    """A P1 opened at T0 (the default P1 policy starts), assigned to erin, who was paged by
    email at minute 0; the on-call level is next, at minute 15."""
    with time_machine.travel(T0, tick=False):
        ticket = new_ticket(dana, "Server down", is_emergency=True)
        assert ticket.priority == "P1"
        assign(ticket, erin, actor=Actor.system())
        escalation = active_escalation(ticket.pk)
        assert escalation is not None and escalation.next_level is not None
        assert len(run_step(escalation.pk, escalation.next_level)) == 1
    return ticket


def test_running_escalation_shows_policy_next_level_and_pages(as_bob: HttpClient, escalating: Ticket) -> None:
    html = get_at(as_bob, escalating, 5)
    panel = escalation_panel(html)
    assert "Escalating" in panel and "P1 default" in panel and "P1 opened" in panel
    assert "<dt>Started</dt><dd>Mon 02 Mar 09:00 CST</dd>" in panel
    assert "Level 2 of 4: on call in Engineering on call," in panel
    assert '<time datetime="2026-03-02T15:15:00+00:00">Mon 02 Mar 09:15 CST</time>' in panel
    assert "<strong>Erin</strong> · Email · Mon 02 Mar 09:00 CST" in panel
    assert "Waiting to be sent" in panel
    assert f'action="/tickets/{escalating.number}/acknowledge/"' in panel and ">Acknowledge</button>" in panel
    # The page's staff-only note was written by firstcall, not by an unknown sender.
    note = Message.objects.get(ticket=escalating, kind=MessageKind.NOTE, author_user__isnull=True)
    entry = entry_html(html, note)
    assert '<span class="entry__author">System</span>' in entry and "Paged Erin by email" in entry
    assert "Unknown sender" not in html


def test_acknowledge_stops_the_escalation_and_says_so_on_the_timeline(
    as_bob: HttpClient, bob: User, escalating: Ticket
) -> None:
    with time_machine.travel(minutes_after_t0(4), tick=False):
        response = as_bob.post(f"/tickets/{escalating.number}/acknowledge/")
    assert response.status_code == 302 and response["Location"] == f"/tickets/{escalating.number}/"

    escalation = Escalation.objects.get(ticket=escalating)
    assert escalation.stopped_at == minutes_after_t0(4) and escalation.acknowledged_by == bob
    acknowledged = AuditEvent.objects.get(ticket=escalating, action="escalation_acknowledged")
    assert acknowledged.actor_user == bob and acknowledged.after["via"] == "console"

    with time_machine.travel(minutes_after_t0(5), tick=False):
        page = as_bob.get(f"/tickets/{escalating.number}/")
    assert flash(page) == [f"Acknowledged: {escalating.number} no longer escalates; nobody further is paged."]
    html = page.content.decode()
    event = Message.objects.get(
        ticket=escalating, kind=MessageKind.EVENT, body_text__startswith="Acknowledged"
    )
    assert event.body_text == "Acknowledged by Bob at 09:04."
    assert "Acknowledged by Bob at 09:04." in entry_html(html, event)
    panel = escalation_panel(html)
    assert "Not escalating." in panel and "Acknowledged by Bob at 09:04." in panel and "(P1 default)" in panel
    assert ">Acknowledge</button>" not in panel

    # Nobody further is paged when the on-call level's minute comes.
    with time_machine.travel(minutes_after_t0(15), tick=False):
        sweep()
    assert Page.objects.filter(escalation__ticket=escalating).count() == 1


def test_acknowledge_with_nothing_escalating_changes_nothing(
    as_bob: HttpClient, carl: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(carl, "Printer jam")
    response = as_bob.post(f"/tickets/{ticket.number}/acknowledge/", follow=True)
    assert flash(response) == [f"{ticket.number} is not escalating: there was nothing to acknowledge."]
    assert "Not escalating." in escalation_panel(response.content.decode())
    assert not AuditEvent.objects.filter(ticket=ticket, action="escalation_acknowledged").exists()


def test_an_escalation_stopped_by_resolving_says_why(as_bob: HttpClient, escalating: Ticket) -> None:
    with time_machine.travel(minutes_after_t0(30), tick=False):
        transition(escalating, Status.RESOLVED, actor=Actor.system())
    panel = escalation_panel(get_at(as_bob, escalating, 31))
    assert "Not escalating." in panel
    assert "Stopped Mon 02 Mar 09:30 CST: ticket resolved." in panel


def test_when_every_level_has_been_paged(
    as_bob: HttpClient, alice: User, dana: Contact, new_ticket: NewTicket
) -> None:
    """Nobody assigned, nobody on call, no manager: the owners are paged as the last resort."""
    with time_machine.travel(T0, tick=False):
        ticket = new_ticket(dana, "Server down", is_emergency=True)
        sweep()
    panel = escalation_panel(get_at(as_bob, ticket, 1))
    assert "Every level has been paged" in panel
    assert "<strong>Alice</strong> · Email · Mon 02 Mar 09:00 CST" in panel
    assert ">Acknowledge</button>" in panel


def test_acknowledge_is_for_signed_in_staff_and_by_post_only(
    as_bob: HttpClient, anonymous: HttpClient, escalating: Ticket
) -> None:
    url = f"/tickets/{escalating.number}/acknowledge/"
    response = anonymous.post(url)
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    outsider = User.objects.create_user("pat", "pat@elsewhere.example", "pat-pass-123", role="")
    as_outsider = HttpClient()
    as_outsider.force_login(outsider)
    assert as_outsider.post(url).status_code == 403
    assert as_bob.get(url).status_code == 405
    assert active_escalation(escalating.pk) is not None
    assert not AuditEvent.objects.filter(ticket=escalating, action="escalation_acknowledged").exists()
    assert as_bob.post("/tickets/T-000999/acknowledge/").status_code == 404
