"""Staff sign-in lockout: FIRSTCALL_SIGN_IN_FAILURE_LIMIT (5) failed sign-ins — wrong passwords or
wrong two-factor codes — for one username from one address pause that pair for
FIRSTCALL_SIGN_IN_LOCKOUT_MINUTES (15); the page says until when; a finished sign-in clears the
count. The clock is frozen at 09:00 UTC (tests/accounts/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.test import Client as HttpClient

from firstcall.accounts.models import User
from tests.accounts.conftest import CODE, app_code, sign_in, wrong_code

pytestmark = pytest.mark.django_db

LIMIT = 5


def fail(browser: HttpClient, username: str, times: int) -> Any:
    response = None
    for _ in range(times):
        response = sign_in(browser, username, "not-the-password")
    return response


def test_the_fifth_wrong_password_locks_the_account_out_from_that_address(bob: User, clock: Any) -> None:
    browser = HttpClient()
    fourth = fail(browser, "bob", LIMIT - 1)
    assert fourth.status_code == 200
    assert "Please enter a correct username and password" in fourth.content.decode()

    fifth = fail(browser, "bob", 1)
    html = fifth.content.decode()
    assert fifth.status_code == 429
    assert "Too many failed sign-ins" in html
    assert "After 5 wrong passwords or codes" in html and "paused for 15 minutes" in html
    assert 'Try again after <strong><time datetime="2026-03-02T09:15:00+00:00">09:15 UTC</time>' in html
    assert fifth["Retry-After"] == "900"

    # The right password does not help now, and does not sign in.
    right = sign_in(browser, "bob", "bob-pass-123")
    assert right.status_code == 429
    assert browser.get("/").status_code == 302


def test_tries_during_the_lockout_do_not_move_its_end(bob: User, clock: Any) -> None:
    browser = HttpClient()
    fail(browser, "bob", LIMIT)
    clock.shift(timedelta(minutes=10))
    again = fail(browser, "bob", 1)
    assert again.status_code == 429
    assert again["Retry-After"] == "300"
    assert "09:15 UTC" in again.content.decode()


def test_the_account_opens_again_after_the_lockout(bob: User, clock: Any) -> None:
    browser = HttpClient()
    fail(browser, "bob", LIMIT)
    clock.shift(timedelta(minutes=15))
    assert sign_in(browser, "bob", "bob-pass-123").status_code == 429  # "after 09:15"
    clock.shift(1)
    response = sign_in(browser, "bob", "bob-pass-123")
    assert response.status_code == 302 and response["Location"] == "/"
    assert browser.get("/").status_code == 200


def test_the_lockout_is_for_that_username_from_that_address_only(bob: User, erin: User, clock: Any) -> None:
    fail(HttpClient(), "bob", LIMIT)
    assert sign_in(HttpClient(), "erin", "erin-pass-123").status_code == 302  # another username
    elsewhere = HttpClient(REMOTE_ADDR="203.0.113.7")
    assert sign_in(elsewhere, "bob", "bob-pass-123").status_code == 302  # another address


def test_a_finished_sign_in_clears_the_failures(bob: User, clock: Any) -> None:
    browser = HttpClient()
    fail(browser, "bob", LIMIT - 1)
    assert sign_in(browser, "bob", "bob-pass-123").status_code == 302
    assert not AccessAttempt.objects.exists()
    browser.post("/logout/")
    assert fail(browser, "bob", LIMIT - 1).status_code == 200


def test_wrong_codes_count_and_end_the_half_finished_sign_in(
    erin: User, set_up_app: Callable[[User], list[str]], clock: Any
) -> None:
    set_up_app(erin)
    browser = HttpClient()
    fail(browser, "erin", 2)
    sign_in(browser, "erin", "erin-pass-123")  # the password is right: the code is still owed
    for _ in range(LIMIT - 3):
        assert browser.post(CODE, {"code": wrong_code(erin)}).status_code == 400
    locked = browser.post(CODE, {"code": wrong_code(erin)})
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.content.decode()
    # Signed out: even the right code cannot finish it, and the password is refused for now.
    assert browser.post(CODE, {"code": app_code(erin)})["Location"].startswith("/login/")
    assert sign_in(browser, "erin", "erin-pass-123").status_code == 429

    clock.shift(timedelta(minutes=15, seconds=1))
    assert sign_in(browser, "erin", "erin-pass-123")["Location"] == f"{CODE}?next=%2F"
    assert browser.post(CODE, {"code": app_code(erin)})["Location"] == "/"
    assert not AccessAttempt.objects.filter(username="erin").exists()


def test_the_failure_limit_is_a_setting(bob: User, clock: Any, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    settings.FIRSTCALL_SIGN_IN_FAILURE_LIMIT = 2
    browser = HttpClient()
    assert fail(browser, "bob", 1).status_code == 200
    second = fail(browser, "bob", 1)
    assert second.status_code == 429 and "After 2 wrong passwords or codes" in second.content.decode()


def test_behind_a_trusted_proxy_each_visitor_counts_on_their_own(bob: User, clock: Any) -> None:
    """The proxy on this machine (FIRSTCALL_TRUSTED_PROXIES, loopback by default) names the
    visitor in X-Forwarded-For: someone guessing bob's password locks out only themselves."""
    guesser = HttpClient(headers={"X-Forwarded-For": "198.51.100.1"})
    assert fail(guesser, "bob", LIMIT).status_code == 429
    assert AccessAttempt.objects.get().ip_address == "198.51.100.1"
    bob_at_work = HttpClient(headers={"X-Forwarded-For": "198.51.100.2"})
    assert sign_in(bob_at_work, "bob", "bob-pass-123").status_code == 302


def test_an_owner_lifts_the_pause_in_the_admin(alice: User, bob: User, clock: Any) -> None:
    User.objects.filter(pk=alice.pk).update(is_staff=True, is_superuser=True)
    fail(HttpClient(), "bob", LIMIT)
    attempt = AccessAttempt.objects.get(username="bob")
    owner = HttpClient(REMOTE_ADDR="203.0.113.7")
    owner.force_login(User.objects.get(pk=alice.pk))
    listing = owner.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and ">bob<" in listing.content.decode()
    response = owner.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert sign_in(HttpClient(), "bob", "bob-pass-123")["Location"] == "/"


def test_an_ipv6_visitor_is_counted_by_their_network(bob: User, clock: Any) -> None:
    """One home or server is given a whole /64: its addresses count as one (as for rate limits)."""
    assert (
        fail(HttpClient(headers={"X-Forwarded-For": "2001:db8:1:2::5"}), "bob", LIMIT - 1).status_code == 200
    )
    assert fail(HttpClient(headers={"X-Forwarded-For": "2001:db8:1:2::99"}), "bob", 1).status_code == 429
    assert AccessAttempt.objects.get().ip_address == "2001:db8:1:2::"
