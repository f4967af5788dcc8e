"""A client in a real browser: signs in with the emailed link, opens an emergency (the form says
who gets paged), sees it escalate in plain words, replies; can never reach another client's
request by its address. Also the portal's pages at desktop and phone sizes: accessibility basics
and the screenshots in docs/screenshots."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.escalation.engine import sweep
from firstcall.tickets.models import Channel, MessageKind, Ticket
from firstcall.tickets.replies import post_reply
from tests.browser.a11y import accessibility_problems
from tests.browser.conftest import DESKTOP, PHONE, NewContext
from tests.browser.test_console_pages import save_screenshot
from tests.console.conftest import open_request
from tests.portal.conftest import make_client_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

LINK = re.compile(r"https?://\S+/portal/sign-in/[A-Za-z0-9_-]{20,100}/")


def sign_in_by_link(page: Page, contact: Contact, mailoutbox: list[Any], live_server: Any) -> None:
    page.goto("/portal/")
    expect(page).to_have_url(re.compile(r"/portal/sign-in/"))
    page.get_by_label("Your email").first.fill(contact.email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name=re.compile("Check your email", re.I))).to_be_visible()
    emails = [m for m in mailoutbox if contact.email in m.to]
    assert len(emails) == 1
    link = LINK.search(emails[0].body)
    assert link, emails[0].body
    # The link in the email names the public URL; the browser follows it on the live server.
    page.goto(live_server.url + "/portal/" + link.group(0).split("/portal/", 1)[1])
    page.get_by_role("button", name="Sign in").click()


def test_client_opens_an_emergency_sees_it_escalate_and_replies(
    page: Page, live_server: Any, mailoutbox: list[Any], alice: User, dana: Contact, priya: Contact
) -> None:
    elsewhere = open_request(priya, "Hale & Porter's VPN")

    sign_in_by_link(page, dana, mailoutbox, live_server)
    expect(page.get_by_role("heading", name="Your requests")).to_be_visible()

    page.locator("main").get_by_role("link", name="New request").click()
    page.get_by_label("Subject").fill("Server down — no patient records")
    page.get_by_label("Description").fill("Nobody can open patient records; the waiting room is full.")
    page.get_by_label("This is an emergency").check()
    plan = page.locator("#emergency-plan")
    expect(plan).to_contain_text("We page")
    expect(plan).to_contain_text("15 minutes")
    page.get_by_role("button", name="Send request").click()

    expect(page.get_by_role("heading", name="Server down — no patient records")).to_be_visible()
    ticket = Ticket.objects.get(subject="Server down — no patient records")
    assert ticket.priority == "P1" and ticket.is_emergency and ticket.requester_id == dana.pk

    # Nobody acknowledges: 16 minutes on, the next level is paged, and the client reads it.
    sweep(now=timezone.now() + timedelta(minutes=16))
    page.reload()
    expect(page.locator("main")).to_contain_text(re.compile(r"Escalated to .+ at \d\d:\d\d"))

    # A technician replies; the client answers from the portal.
    post_reply(ticket, author=alice, body="Alice here: I am connecting to the server now.")
    page.reload()
    expect(page.locator("main")).to_contain_text("I am connecting to the server now.")
    page.get_by_label("Your reply").fill("Thank you — the front desk PC shows a RAID warning too.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator("main")).to_contain_text("the front desk PC shows a RAID warning too")
    reply = ticket.messages.filter(kind=MessageKind.INBOUND).latest("id")
    assert reply.author_contact_id == dana.pk and "RAID warning" in reply.body_text

    # Another client's request, by its address: not found, and nothing of it shown.
    response = page.goto(f"/portal/tickets/{elsewhere.number}/")
    assert response is not None and response.status == 404
    expect(page.locator("body")).not_to_contain_text("Hale & Porter's VPN")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_portal_pages_are_accessible_and_pictured(
    size: str,
    new_context: NewContext,
    live_server: Any,
    mailoutbox: list[Any],
    tmp_path: Path,
    alice: User,
    dana: Contact,
    carl: Contact,
) -> None:
    make_client_admin(dana)
    printer = open_request(carl, "Front desk printer offline", "It says offline since this morning.")
    post_reply(printer, author=alice, body="We are on it: a driver update is on its way.")
    server = open_request(
        dana, "Server down — no patient records", "Nobody can open patient records.", is_emergency=True
    )
    sweep(now=timezone.now() + timedelta(minutes=16))
    open_request(
        dana, "New starter on Monday", "Jo starts Monday: laptop and email please.", channel=Channel.WEB
    )

    page = new_context(viewport=DESKTOP if size == "desktop" else PHONE).new_page()
    sign_in_by_link(page, dana, mailoutbox, live_server)
    expect(page.locator("main")).to_contain_text("Front desk printer offline")
    assert accessibility_problems(page) == []
    save_screenshot(page, f"portal-home-{size}", tmp_path)

    page.goto(f"/portal/tickets/{server.number}/")
    assert accessibility_problems(page) == []
    save_screenshot(page, f"portal-ticket-{size}", tmp_path)

    page.goto("/portal/account/")
    expect(page.locator("main")).to_contain_text("Managed Care Gold")
    assert accessibility_problems(page) == []
    save_screenshot(page, f"portal-account-{size}", tmp_path)

    page.goto("/portal/new/")
    assert accessibility_problems(page) == []
