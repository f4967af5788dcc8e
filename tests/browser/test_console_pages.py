"""The console's pages in a real browser at desktop and phone sizes: accessibility basics, the
live countdowns, and the screenshots in docs/screenshots (rewritten when
FIRSTCALL_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import Page, expect

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.tickets.actions import Actor, assign, transition
from firstcall.tickets.models import Status, Ticket
from firstcall.tickets.replies import add_note, post_reply
from tests.browser.a11y import accessibility_problems
from tests.browser.conftest import DESKTOP, PHONE, NewContext, sign_in_as
from tests.console.conftest import open_request

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def save_screenshot(page: Page, name: str, tmp_path: Path) -> None:
    folder = SCREENSHOTS if os.environ.get("FIRSTCALL_UPDATE_SCREENSHOTS") == "1" else tmp_path
    page.screenshot(path=str(folder / f"{name}.png"), full_page=name.endswith("-phone") is False)


def two_weeks_of_work(bob: User, erin: User, carl: Contact, priya: Contact) -> None:
    """Tickets opened, answered and resolved over the last two weeks, for the dashboard."""
    now = timezone.now()
    for day in range(14, 0, -1):
        for n in range(1 + day % 3):
            opened_at = now - timedelta(days=day, hours=n * 2)
            requester = carl if (day + n) % 2 else priya
            with time_machine.travel(opened_at, tick=False):
                ticket = open_request(requester, f"Request {day}-{n}", "Please help.")
            # Answered within the target most days, late on some.
            with time_machine.travel(opened_at + timedelta(minutes=20 if (day + n) % 4 else 190), tick=False):
                post_reply(ticket, author=bob if n % 2 else erin, body="On it.")
            with time_machine.travel(opened_at + timedelta(hours=3 + n), tick=False):
                transition(ticket, Status.RESOLVED, actor=Actor(user=bob, label="staff console"))


def busy_morning(bob: User, erin: User, dana: Contact, carl: Contact, priya: Contact) -> Ticket:
    """A queue with something breached, something about to breach and the rest; returns the
    ticket whose page is shown."""
    two_weeks_of_work(bob, erin, carl, priya)
    now = timezone.now()
    with time_machine.travel(now - timedelta(hours=3), tick=False):
        late = open_request(carl, "Scanner in room 2 not scanning to email", "Scans never arrive.")
    with time_machine.travel(now - timedelta(minutes=100), tick=False):
        open_request(priya, "VPN drops every 10 minutes", "Since this morning, for me only.")
    with time_machine.travel(now - timedelta(minutes=5), tick=False):
        server = open_request(
            dana,
            "Server down — no patient records",
            "Nobody can open patient records, the whole office is stuck.",
            is_emergency=True,
        )
    open_request(carl, "New starter on Monday: laptop and email", "Jo starts Monday.")
    assign(late, erin, actor=Actor.system())
    post_reply(server, author=bob, body="On it: connecting to the server now.")
    add_note(server, author=bob, body="RAID controller alarm in iDRAC; calling Dell.")
    return server


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_console_pages_are_accessible_and_pictured(
    size: str,
    new_context: NewContext,
    live_server: Any,
    tmp_path: Path,
    bob: User,
    erin: User,
    dana: Contact,
    carl: Contact,
    priya: Contact,
) -> None:
    server = busy_morning(bob, erin, dana, carl, priya)
    context = new_context(viewport=DESKTOP if size == "desktop" else PHONE)
    sign_in_as(context, bob, live_server)
    page = context.new_page()

    page.goto("/")
    expect(page.locator("tr.queue-row")).to_have_count(4)
    expect(page.locator("tr.queue-row.is-breached")).to_have_count(1)
    assert accessibility_problems(page) == []
    save_screenshot(page, f"console-queue-{size}", tmp_path)

    page.goto(f"/tickets/{server.number}/")
    expect(page.get_by_role("heading", name=server.subject)).to_be_visible()
    assert accessibility_problems(page) == []
    save_screenshot(page, f"console-ticket-{size}", tmp_path)

    page.goto("/dashboard/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    assert accessibility_problems(page) == []
    save_screenshot(page, f"console-dashboard-{size}", tmp_path)

    page.goto("/calls/new/")
    assert accessibility_problems(page) == []


def test_countdowns_move_without_a_reload(
    new_context: NewContext, live_server: Any, bob: User, carl: Contact
) -> None:
    ticket = open_request(carl, "Printer jam")
    context = new_context()
    sign_in_as(context, bob, live_server)
    page = context.new_page()
    page.clock.install()
    page.goto("/")
    countdown = page.locator(f'tr[data-ticket="{ticket.number}"] time.countdown')
    expect(countdown).to_have_text(re.compile(r"^in (2 h 00|1 h 59) min$"))
    # Three hours later in the browser: the script rewrites the words and marks it overdue.
    page.clock.fast_forward("03:00:00")
    expect(countdown).to_have_text(re.compile(r"^1 h 0[01] min overdue$"))
    expect(countdown).to_have_class("countdown countdown--overdue")
