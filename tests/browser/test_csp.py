"""The pages run under the Content-Security-Policy in a real browser: Chromium reports every
refused inline style or script, blocked image or form target on the page's console, and the
console, the portal and the two-factor pages log none — with htmx at work (the queue's filters,
the caller lookup). A page that does add an inline style is caught, so the check is real."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.tickets.replies import post_reply
from tests.accounts.conftest import app_code
from tests.browser.a11y import accessibility_problems
from tests.browser.conftest import NewContext, sign_in_as
from tests.browser.test_client_walk import sign_in_by_link
from tests.console.conftest import open_request
from tests.portal.conftest import make_client_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


class Violations:
    """The CSP violations Chromium logs on a page's console."""

    def __init__(self, page: Page) -> None:
        self.seen: list[str] = []
        page.on("console", self._read)

    def _read(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.seen.append(f"{message.type}: {message.text}")


def visit(page: Page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.ok, url
    assert "default-src 'self'" in response.headers["content-security-policy"], url
    page.wait_for_load_state("networkidle")


@pytest.fixture
def console_page(new_context: NewContext, live_server: Any, bob: User) -> Iterator[tuple[Page, Violations]]:
    context = new_context()
    sign_in_as(context, bob, live_server)
    page = context.new_page()
    yield page, Violations(page)


def test_console_pages_break_no_rule_of_the_policy(
    console_page: tuple[Page, Violations], bob: User, dana: Contact, carl: Contact
) -> None:
    page, violations = console_page
    ticket = open_request(
        dana, "Server down — no patient records", "Nobody can open records.", is_emergency=True
    )
    open_request(carl, "Printer offline", "The front desk printer is offline.")
    post_reply(ticket, author=bob, body="On it.")

    visit(page, "/")
    expect(page.locator("tr.queue-row")).to_have_count(2)
    # htmx swaps the results in when a filter changes.
    page.get_by_label("Status").select_option("all")
    expect(page).to_have_url(re.compile(r"status=all"))
    expect(page.locator("tr.queue-row")).to_have_count(2)

    visit(page, f"/tickets/{ticket.number}/")
    visit(page, "/dashboard/")  # its styles used to be inline: now in the stylesheet
    expect(page.locator(".tiles")).to_have_css("display", "grid")

    visit(page, "/calls/new/")
    page.get_by_label("Caller's number").fill("+13125550111")
    expect(page.locator("#caller-match")).to_contain_text("Dana Reyes")

    visit(page, "/account/two-factor/")
    visit(page, "/account/two-factor/set-up/")
    expect(page.locator(".qr-code svg")).to_be_visible()
    assert violations.seen == []


def test_a_page_that_adds_an_inline_style_is_caught(console_page: tuple[Page, Violations]) -> None:
    page, violations = console_page
    visit(page, "/")
    assert violations.seen == []
    page.evaluate(
        """() => {
          const style = document.createElement("style");
          style.textContent = "body { background: red; }";
          document.head.appendChild(style);
        }"""
    )
    expect(page.locator("body")).not_to_have_css("background-color", "rgb(255, 0, 0)")
    page.wait_for_timeout(200)
    assert any("inline style violates" in seen for seen in violations.seen), violations.seen


def test_portal_pages_break_no_rule_of_the_policy(
    page: Page, live_server: Any, mailoutbox: list[Any], alice: User, dana: Contact
) -> None:
    violations = Violations(page)
    make_client_admin(dana)
    ticket = open_request(dana, "Server down — no patient records", "Nobody can open records.")
    post_reply(ticket, author=alice, body="We are on it.")

    visit(page, "/request/")
    visit(page, "/portal/sign-in/")
    mailoutbox.clear()  # the reply's email: the sign-in link is the one email read next
    sign_in_by_link(page, dana, mailoutbox, live_server)
    expect(page.locator("main")).to_contain_text("Server down — no patient records")
    for url in (f"/portal/tickets/{ticket.number}/", "/portal/account/", "/portal/new/", "/portal/password/"):
        visit(page, url)
    assert violations.seen == []


def test_a_manager_sets_up_two_factor_sign_in_in_the_browser(
    page: Page, settings: Any, live_server: Any
) -> None:
    """The whole walk at the sign-in form, under the policy: password, the set-up page with its
    QR code, the first code, the backup codes, then the queue; next time, the code step."""
    settings.FIRSTCALL_2FA_REQUIRED_ROLES = ["manager", "owner"]
    mina = User.objects.create_user("mina", "mina@msp.example", "mina-pass-123", role="manager")
    violations = Violations(page)

    visit(page, "/login/")
    page.get_by_label("Username").fill("mina")
    page.get_by_label("Password").fill("mina-pass-123")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    expect(page.get_by_role("img", name="QR code to scan with your app")).to_be_visible()
    assert accessibility_problems(page) == []

    page.get_by_role("textbox", name="Code").fill(app_code(mina))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Two-factor sign-in is on")).to_be_visible()
    codes = page.get_by_role("list", name="Backup codes").get_by_role("listitem")
    expect(codes).to_have_count(10)
    assert accessibility_problems(page) == []
    backup_code = codes.first.inner_text()

    page.get_by_role("link", name="I have saved them: continue").click()
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    page.get_by_label("Username").fill("mina")
    page.get_by_label("Password").fill("mina-pass-123")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    assert accessibility_problems(page) == []
    page.get_by_role("textbox", name="Code").fill(backup_code)  # the app's code was used a moment ago
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    assert violations.seen == []
