"""A long ticket timeline in a real browser: the ticket page shows the newest entries under a
"Show N earlier entries" link; with JavaScript htmx loads the earlier ones in place and focus
moves to the first of them, without JavaScript the link leads to the page with every entry."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import Page, expect

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.console.queries import TIMELINE_NEWEST
from firstcall.tickets.actions import Actor, add_event, add_message
from firstcall.tickets.models import Channel, MessageKind, Ticket
from firstcall.tickets.replies import add_note, post_reply
from tests.browser.a11y import accessibility_problems
from tests.browser.conftest import NewContext, sign_in_as
from tests.console.conftest import open_request

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

TIMELINE_LENGTH = 45
EARLIER = TIMELINE_LENGTH - TIMELINE_NEWEST  # 15 behind the link
ENTRIES = "ol.timeline > li.entry"


def long_ticket(bob: User, erin: User, dana: Contact) -> Ticket:
    """A ticket with TIMELINE_LENGTH entries of every kind, one a minute over the last hours —
    with the two orderings a page can get wrong: the last earlier entry and the first newest one
    share their moment (as a request and its acknowledgment do), and an escalation note written
    last is dated near the start (as a sweep that caught up late dates its notes)."""
    start = timezone.now() - timedelta(hours=2)

    def at(minute: int) -> time_machine.travel:
        return time_machine.travel(start + timedelta(minutes=minute), tick=False)

    with at(0):
        ticket = open_request(dana, "Imaging server keeps rebooting", "It rebooted again during a scan.")
    # Created in this order, the late note last. Minute 13 holds two entries: with the late
    # note before them, they are the 15th and 16th, on either side of the link.
    for n in range(1, TIMELINE_LENGTH - 1):
        minute = n if n < 14 else n - 1
        with at(minute):
            if n == 13:
                add_message(
                    ticket,
                    kind=MessageKind.INBOUND,
                    channel=Channel.EMAIL,
                    body_text="It did it again.\n\nOn Monday Bob wrote:\n> Any change?",
                    actor=Actor(contact=dana, label="email intake"),
                )
            elif n == 14:
                add_message(
                    ticket,
                    kind=MessageKind.AUTO_REPLY,
                    channel=Channel.EMAIL,
                    body_text="We received your message.",
                    actor=Actor.system("acknowledgment"),
                )
            elif n % 4 == 0:
                add_message(
                    ticket,
                    kind=MessageKind.INBOUND,
                    channel=Channel.SMS,
                    body_text=f"Dana's text {n}",
                    actor=Actor(contact=dana, label="SMS intake"),
                )
            elif n % 4 == 1:
                post_reply(ticket, author=bob, body=f"Bob's reply {n}")
            elif n % 4 == 2:
                add_note(ticket, author=erin, body=f"Erin's note {n}")
            else:
                add_event(ticket, f"System event {n}")
    add_message(
        ticket,
        kind=MessageKind.NOTE,
        channel=Channel.CONSOLE,
        body_text="Paged Erin (escalation step 1).",
        actor=Actor.system("escalation"),
        created_at=start + timedelta(minutes=4, seconds=30),
    )
    return ticket


def timeline_order(ticket: Ticket) -> list[str]:
    """The entries' element ids, oldest first, as the database orders them."""
    pks = ticket.messages.order_by("created_at", "id").values_list("pk", flat=True)
    return [f"message-{pk}" for pk in pks]


def shown_entries(page: Page) -> list[str]:
    return [str(entry.get_attribute("id")) for entry in page.locator(ENTRIES).all()]


def check_the_data(ticket: Ticket, in_order: list[str]) -> None:
    """The timeline has the shape the tests rely on (else they would pass for the wrong reason)."""
    assert len(in_order) == TIMELINE_LENGTH
    kinds = set(ticket.messages.values_list("kind", flat=True))
    assert kinds == {kind.value for kind in MessageKind}
    moments: list[datetime] = list(
        ticket.messages.order_by("created_at", "id").values_list("created_at", flat=True)
    )
    assert moments[EARLIER - 1] == moments[EARLIER]  # a tie across the link
    newest_pk = ticket.messages.order_by("-id").values_list("pk", flat=True)[0]
    assert in_order.index(f"message-{newest_pk}") < EARLIER  # written last, dated early


def test_show_earlier_entries_loads_them_in_place_and_moves_focus_to_the_first(
    new_context: NewContext, live_server: Any, bob: User, erin: User, dana: Contact
) -> None:
    ticket = long_ticket(bob, erin, dana)
    in_order = timeline_order(ticket)
    check_the_data(ticket, in_order)
    context = new_context()
    sign_in_as(context, bob, live_server)
    page = context.new_page()
    ticket_url = f"/tickets/{ticket.number}/"

    page.goto(ticket_url)
    expect(page.get_by_role("heading", name=ticket.subject)).to_be_visible()
    expect(page.locator(ENTRIES)).to_have_count(TIMELINE_NEWEST)
    assert shown_entries(page) == in_order[EARLIER:]
    link = page.get_by_role("link", name=re.compile(r"earlier entr"))
    expect(link).to_have_text(f"Show {EARLIER} earlier entries")
    assert accessibility_problems(page) == []

    # htmx asks for the entries before the first one shown (not the page with all of them).
    first_shown_pk = in_order[EARLIER].removeprefix("message-")
    with page.expect_response(re.compile(rf"/timeline/earlier/\?before={first_shown_pk}$")) as loading:
        link.click()
    assert loading.value.ok
    expect(page.locator(ENTRIES)).to_have_count(TIMELINE_LENGTH)
    expect(page).to_have_url(re.compile(rf"{re.escape(ticket_url)}$"))

    # Every entry once, oldest first; the link gone; focus on the first entry loaded.
    shown = shown_entries(page)
    assert shown == in_order and len(set(shown)) == TIMELINE_LENGTH
    expect(page.locator("#timeline-earlier")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile(r"earlier entr"))).to_have_count(0)
    expect(page.locator(f"#{in_order[0]}")).to_be_focused()
    expect(page.locator(f"#{in_order[0]}")).to_be_in_viewport()
    assert accessibility_problems(page) == []


def test_without_javascript_the_link_shows_the_whole_timeline(
    new_context: NewContext, live_server: Any, bob: User, erin: User, dana: Contact
) -> None:
    ticket = long_ticket(bob, erin, dana)
    in_order = timeline_order(ticket)
    check_the_data(ticket, in_order)
    context = new_context(java_script_enabled=False)
    sign_in_as(context, bob, live_server)
    page = context.new_page()

    page.goto(f"/tickets/{ticket.number}/")
    expect(page.locator(ENTRIES)).to_have_count(TIMELINE_NEWEST)
    link = page.get_by_role("link", name=f"Show {EARLIER} earlier entries")
    link.click()

    # The page again with every entry, at the one that was the first shown.
    first_shown = in_order[EARLIER]
    expect(page).to_have_url(re.compile(rf"/tickets/{ticket.number}/\?timeline=all#{first_shown}$"))
    expect(page.locator(ENTRIES)).to_have_count(TIMELINE_LENGTH)
    shown = shown_entries(page)
    assert shown == in_order and len(set(shown)) == TIMELINE_LENGTH
    expect(page.locator("#timeline-earlier")).to_have_count(0)
    expect(page.locator(f"#{first_shown}")).to_be_in_viewport()
    assert accessibility_problems(page) == []
