"""A technician works a ticket from the queue to resolution in a real browser: sign in, find it
in the queue, take it with the keyboard, reply, add a note, hand it over to engineering, resolve."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.tickets.models import MessageKind, Status, Ticket
from tests.console.conftest import open_request

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_technician_works_a_ticket_from_queue_to_resolution(
    page: Page, bob: User, erin: User, carl: Contact, dana: Contact, mailoutbox: list[Any]
) -> None:
    ticket = open_request(carl, "Front desk printer offline", "The printer at the front desk shows offline.")
    other = open_request(dana, "New starter laptop", "Please set up a laptop for Jo.")

    # Sign in through the form; the console's queue comes next.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill("bob-pass-123")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    rows = page.locator("tr.queue-row")
    expect(rows).to_have_count(2)
    # The shortcuts are console.js's, a deferred script: it has run once the DOM is loaded.
    page.wait_for_load_state("domcontentloaded")

    # j selects a row, a assigns it to me (and comes back to the queue).
    row = page.locator(f'tr.queue-row[data-ticket="{ticket.number}"]')
    index = [r.get_attribute("data-ticket") for r in rows.all()].index(ticket.number)
    for _ in range(index + 1):
        page.keyboard.press("j")
    expect(row).to_have_class(re.compile(r"\bis-selected\b"))
    page.keyboard.press("a")
    expect(page.get_by_text(f"{ticket.number} is now assigned to you.")).to_be_visible()
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()

    # Enter opens the selected ticket.
    page.get_by_role("link", name="My tickets").click()
    expect(page.locator("tr.queue-row")).to_have_count(1)
    page.wait_for_load_state("domcontentloaded")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Front desk printer offline")).to_be_visible()

    # Reply (by email: Carl wrote by email), then an internal note.
    page.get_by_label("Reply to the requester").fill(
        "Could you power-cycle it and tell me what the panel says?"
    )
    expect(page.get_by_label("Send by")).to_have_value("email:carl@brightsmile.example")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Reply added; it is being emailed to carl@brightsmile.example.")).to_be_visible()
    expect(page.locator(".timeline")).to_contain_text("power-cycle it")
    page.get_by_role("textbox", name="Internal note").fill("Driver v3.2 known bad on this model.")
    page.get_by_role("button", name="Save note").click()
    expect(page.get_by_text("Internal note added.")).to_be_visible()

    # Beyond tier 1: hand over to Erin in engineering.
    page.get_by_role("textbox", name="Handover note").fill(
        "Power-cycled, still offline; needs a firmware reflash on site."
    )
    page.get_by_label("Hand over to").select_option(label="Erin")
    page.get_by_role("button", name="Hand over to engineering").click()
    expect(page.get_by_text(f"{ticket.number} was handed over to Erin.")).to_be_visible()
    expect(page.locator(".timeline")).to_contain_text("Your request was passed to our engineering team")

    # Resolved.
    page.get_by_role("button", name="Mark resolved").click()
    expect(page.get_by_text(f"{ticket.number} is now resolved.")).to_be_visible()

    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED and ticket.assignee == erin and ticket.team == "Engineering"
    assert ticket.first_response_at is not None
    kinds = list(ticket.messages.values_list("kind", flat=True))
    assert kinds.count(MessageKind.REPLY) == 1 and kinds.count(MessageKind.NOTE) == 2  # note + handover
    assert [m.to for m in mailoutbox if "power-cycle" in m.body] == [["carl@brightsmile.example"]]
    assert Ticket.objects.get(pk=other.pk).assignee is None
