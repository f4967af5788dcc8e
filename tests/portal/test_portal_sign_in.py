"""Signing in to the portal: emailed single-use links that never tell whether an address is
known, an optional password, signing out; only contacts of a client may sign in."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.hashers import check_password
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from firstcall.accounts.models import PortalAccount, SignInLink
from firstcall.accounts.portal_sign_in import delete_old_links
from firstcall.clients.models import Contact
from firstcall.portal.access import SESSION_KEY
from firstcall.tickets.models import AuditEvent
from tests.portal.conftest import T0, browser_signed_in_as, minutes_after_t0

pytestmark = pytest.mark.django_db

SIGN_IN = "/portal/sign-in/"
LINK = re.compile(r"http://127\.0\.0\.1:8000(/portal/sign-in/[A-Za-z0-9_-]+/)")


def ask_for_link(browser: HttpClient, email: str, capture: Any, **extra: str) -> Any:
    with capture(execute=True):
        return browser.post(SIGN_IN, {"email": email, **extra})


def link_in(message: Any) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1)


def signed_in_contact_id(browser: HttpClient) -> Any:
    return browser.session.get(SESSION_KEY)


def test_sign_in_page_has_labelled_fields_for_both_ways(dana: Contact) -> None:
    html = HttpClient().get(SIGN_IN).content.decode()
    assert '<label for="id_email">Your email</label>' in html
    assert '<label for="id_password_email">Your email</label>' in html
    assert '<label for="id_password_password">Password</label>' in html
    assert "Email me a sign-in link" in html and "The link works once, for 15 minutes." in html


def test_a_link_signs_in_once(dana: Contact, outbox: list[Any], run_on_commit: Any) -> None:
    browser = HttpClient()
    response = ask_for_link(browser, "Dana@BrightSmile.example ", run_on_commit)
    assert response.status_code == 302 and response["Location"] == "/portal/sign-in/sent/"
    sent = browser.get("/portal/sign-in/sent/").content.decode()
    assert "<strong>dana@brightsmile.example</strong> belongs to one of our clients" in sent

    assert len(outbox) == 1
    email = outbox[0]
    assert email.to == ["dana@brightsmile.example"]
    assert email.subject == "Your sign-in link for firstcall support"
    assert email.from_email == "firstcall <support@msp.example>"
    # Robots must not answer it (an out-of-office reply would become a ticket).
    assert email.extra_headers["Auto-Submitted"] == "auto-generated"
    assert "X-Firstcall-Loop" in email.extra_headers
    assert "It works once, for 15 minutes" in email.body
    path = link_in(email)
    token = path.rstrip("/").rsplit("/", 1)[1]

    # Only the hash is stored; the mail was recorded as sent.
    link = SignInLink.objects.get()
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in link.token_hash
    assert link.email_sent_at is not None and link.used_at is None

    # Opening the link (a mail scanner does) does not use it up: a button does.
    page = browser.get(path)
    assert page.status_code == 200 and page["Referrer-Policy"] == "same-origin"
    assert "Sign in as Dana Reyes" in page.content.decode()
    assert signed_in_contact_id(browser) is None
    session_before = browser.session.session_key

    response = browser.post(path)
    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert signed_in_contact_id(browser) == dana.pk
    # A new session key at sign-in (no session fixation).
    assert browser.session.session_key != session_before
    assert SignInLink.objects.get().used_at is not None
    account = PortalAccount.objects.get(contact=dana)
    assert account.last_sign_in_at is not None and not account.is_client_admin
    assert AuditEvent.objects.filter(
        action="portal_signed_in", actor_contact=dana, reason="email link"
    ).exists()

    # Used up: another browser cannot sign in with it.
    other = HttpClient()
    assert other.get(path).status_code == 410
    response = other.post(path)
    assert response.status_code == 410 and "no longer works" in response.content.decode()
    assert signed_in_contact_id(other) is None


def test_a_link_expires_after_the_configured_minutes(
    dana: Contact, outbox: list[Any], run_on_commit: Any, settings: Any
) -> None:
    settings.FIRSTCALL_PORTAL_LINK_MINUTES = 5
    browser = HttpClient()
    with time_machine.travel(T0, tick=False):
        ask_for_link(browser, dana.email, run_on_commit)
    path = link_in(outbox[0])
    assert "for 5 minutes (until 09:05, America/Chicago)" in outbox[0].body
    # (Sessions made at T0 have expired by the real today: read them at T0.)
    with time_machine.travel(minutes_after_t0(5.1), tick=False):
        assert browser.post(path).status_code == 410
        assert signed_in_contact_id(browser) is None
    with time_machine.travel(minutes_after_t0(4.9), tick=False):
        assert browser.post(path).status_code == 302
        assert signed_in_contact_id(browser) == dana.pk


@pytest.mark.parametrize("email", ["nobody@nowhere.example", "sam@gmail.example", "carl@brightsmile.example"])
def test_asking_for_a_link_answers_the_same_for_anyone(
    email: str, dana: Contact, carl: Contact, outbox: list[Any], run_on_commit: Any
) -> None:
    """An unknown address, an unverified requester (no client) and a contact switched off get
    exactly the answer a known contact gets, and the request itself reads no contact: the same
    queries (the session's) either way, so its timing tells nothing either."""
    Contact.objects.create(email="sam@gmail.example", name="Sam")  # an unverified requester
    PortalAccount.objects.create(contact=carl, can_sign_in=False)
    answers, query_counts = [], []
    for address in (dana.email, email):
        with CaptureQueriesContext(connection) as queries:
            answers.append(HttpClient().post(SIGN_IN, {"email": address}))
        assert not [q for q in queries.captured_queries if "contact" in q["sql"] or "accounts_" in q["sql"]]
        query_counts.append(len(queries.captured_queries))
    assert query_counts[0] == query_counts[1]
    known, unknown = answers
    assert unknown.status_code == known.status_code == 302 and unknown["Location"] == known["Location"]
    with run_on_commit(execute=True):
        HttpClient().post(SIGN_IN, {"email": email})
    assert outbox == [] and not SignInLink.objects.exists()


def test_links_per_hour_are_limited(
    dana: Contact, outbox: list[Any], run_on_commit: Any, settings: Any
) -> None:
    settings.FIRSTCALL_PORTAL_LINKS_PER_HOUR = 2
    with time_machine.travel(T0, tick=False):
        for _ in range(3):
            ask_for_link(HttpClient(), dana.email, run_on_commit)
    assert len(outbox) == 2 and SignInLink.objects.count() == 2
    with time_machine.travel(minutes_after_t0(61), tick=False):
        ask_for_link(HttpClient(), dana.email, run_on_commit)
    assert len(outbox) == 3


def test_an_email_that_cannot_be_sent_is_recorded_on_the_link(
    dana: Contact, run_on_commit: Any, monkeypatch: Any, caplog: Any
) -> None:
    def refuse(self: Any, messages: Any) -> int:
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
    response = ask_for_link(HttpClient(), dana.email, run_on_commit)
    assert response.status_code == 302
    link = SignInLink.objects.get()
    assert link.email_sent_at is None
    assert link.email_error == "ConnectionRefusedError: mail server down"
    assert "could not be emailed" in caplog.text


def test_a_contact_who_lost_their_client_cannot_use_a_link_or_a_session(
    dana: Contact, outbox: list[Any], run_on_commit: Any
) -> None:
    browser = HttpClient()
    ask_for_link(browser, dana.email, run_on_commit)
    path = link_in(outbox[0])
    signed_in = browser_signed_in_as(dana)
    Contact.objects.filter(pk=dana.pk).update(client=None)
    assert browser.post(path).status_code == 410
    response = signed_in.get("/portal/")
    assert response.status_code == 302 and response["Location"].startswith("/portal/sign-in/")
    assert signed_in_contact_id(signed_in) is None


def test_switching_access_off_ends_the_session(dana: Contact) -> None:
    browser = browser_signed_in_as(dana)
    assert browser.get("/portal/").status_code == 200
    PortalAccount.objects.create(contact=dana, can_sign_in=False)
    assert browser.get("/portal/").status_code == 302


def test_sign_in_returns_to_the_page_asked_for(dana: Contact, outbox: list[Any], run_on_commit: Any) -> None:
    browser = HttpClient()
    response = browser.get("/portal/new/")
    assert response["Location"] == "/portal/sign-in/?next=%2Fportal%2Fnew%2F"
    page = browser.get(response["Location"]).content.decode()
    assert '<input type="hidden" name="next" value="/portal/new/">' in page
    ask_for_link(browser, dana.email, run_on_commit, next="/portal/new/")
    assert browser.post(link_in(outbox[0]))["Location"] == "/portal/new/"


@pytest.mark.parametrize(
    "target", ["https://evil.example/portal/", "//evil.example/", "/admin/", "/portal/../admin/"]
)
def test_sign_in_never_sends_anyone_off_the_portal(
    target: str, dana: Contact, outbox: list[Any], run_on_commit: Any
) -> None:
    browser = HttpClient()
    ask_for_link(browser, dana.email, run_on_commit, next=target)
    assert browser.post(link_in(outbox[0]))["Location"] == "/portal/"


def test_password_set_then_sign_in_with_it(dana: Contact) -> None:
    browser = browser_signed_in_as(dana)
    page = browser.get("/portal/password/").content.decode()
    assert '<label for="id_new_password">New password</label>' in page
    assert '<label for="id_repeat_password">New password again</label>' in page
    response = browser.post(
        "/portal/password/", {"new_password": "molar-crown-42", "repeat_password": "molar-crown-42"}
    )
    assert response.status_code == 302
    account = PortalAccount.objects.get(contact=dana)
    assert account.password != "molar-crown-42" and check_password("molar-crown-42", account.password)
    assert AuditEvent.objects.filter(action="portal_password_set", actor_contact=dana).exists()

    fresh = HttpClient()
    response = fresh.post(
        "/portal/sign-in/password/", {"email": "dana@brightsmile.example", "password": "molar-crown-42"}
    )
    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert signed_in_contact_id(fresh) == dana.pk


@pytest.mark.parametrize(
    ("new", "repeat", "message"),
    [
        ("molar-crown-42", "molar-crown-43", "The two passwords differ"),
        ("short", "short", "This password is too short."),
        ("password123", "password123", "This password is too common."),
        ("dana@brightsmile.example", "dana@brightsmile.example", "too similar"),
    ],
)
def test_weak_or_mistyped_passwords_are_refused(dana: Contact, new: str, repeat: str, message: str) -> None:
    response = browser_signed_in_as(dana).post(
        "/portal/password/", {"new_password": new, "repeat_password": repeat}
    )
    assert response.status_code == 400 and message in response.content.decode()
    assert not PortalAccount.objects.filter(contact=dana).exclude(password="").exists()


def test_a_wrong_password_reads_like_an_unknown_address(dana: Contact, carl: Contact) -> None:
    from firstcall.accounts.portal_sign_in import set_portal_password

    set_portal_password(dana, "molar-crown-42")
    answers = []
    for email, password in [
        (dana.email, "wrong-password"),
        (carl.email, "molar-crown-42"),  # a contact without a password
        ("nobody@nowhere.example", "molar-crown-42"),
    ]:
        response = HttpClient().post("/portal/sign-in/password/", {"email": email, "password": password})
        assert response.status_code == 400
        answers.append(
            re.search(r'<div class="form-errors"[^>]*>(.*?)</div>', response.content.decode(), re.S)
        )
    texts = {match.group(1).strip() if match else "" for match in answers}
    assert len(texts) == 1 and "do not match an account" in texts.pop()


def test_passwords_pause_after_five_wrong_tries(dana: Contact) -> None:
    from firstcall.accounts.portal_sign_in import set_portal_password

    set_portal_password(dana, "molar-crown-42")
    with time_machine.travel(T0, tick=False):
        for _ in range(5):
            HttpClient().post("/portal/sign-in/password/", {"email": dana.email, "password": "guess"})
        right = HttpClient()
        assert (
            right.post(
                "/portal/sign-in/password/", {"email": dana.email, "password": "molar-crown-42"}
            ).status_code
            == 400
        )
        assert signed_in_contact_id(right) is None
    with time_machine.travel(T0 + timedelta(minutes=16), tick=False):
        right = HttpClient()
        assert (
            right.post(
                "/portal/sign-in/password/", {"email": dana.email, "password": "molar-crown-42"}
            ).status_code
            == 302
        )
        assert signed_in_contact_id(right) == dana.pk


def test_sign_out_ends_the_portal_session(dana: Contact) -> None:
    browser = browser_signed_in_as(dana)
    key = browser.session.session_key
    response = browser.post("/portal/sign-out/", follow=True)
    assert "You are signed out." in response.content.decode()
    assert signed_in_contact_id(browser) is None and browser.session.session_key != key
    assert browser.get("/portal/").status_code == 302
    assert HttpClient().get("/portal/sign-out/").status_code == 405


def test_signed_in_visitor_skips_the_sign_in_page(as_dana: HttpClient) -> None:
    response = as_dana.get(SIGN_IN)
    assert response.status_code == 302 and response["Location"] == "/portal/"


def test_old_links_are_deleted(dana: Contact, outbox: list[Any], run_on_commit: Any) -> None:
    with time_machine.travel(T0, tick=False):
        ask_for_link(HttpClient(), dana.email, run_on_commit)
    with time_machine.travel(T0 + timedelta(days=29), tick=False):
        ask_for_link(HttpClient(), dana.email, run_on_commit)
    with time_machine.travel(T0 + timedelta(days=31), tick=False):
        assert delete_old_links() == 1
    assert SignInLink.objects.count() == 1


def test_staff_manage_portal_accounts_in_the_admin(dana: Contact, alice: Any) -> None:
    from firstcall.accounts.models import User

    admin = HttpClient()
    admin.force_login(User.objects.get(username="alice"))
    User.objects.filter(username="alice").update(is_staff=True, is_superuser=True)
    PortalAccount.objects.create(contact=dana, is_client_admin=True)
    page = admin.get(reverse("admin:accounts_portalaccount_changelist")).content.decode()
    assert "Dana Reyes" in page and "Bright Smile Dental" in page
    assert admin.get(reverse("admin:accounts_portalaccount_add")).status_code == 200
    assert admin.get(reverse("admin:accounts_signinlink_changelist")).status_code == 200
    assert admin.get(reverse("admin:accounts_signinlink_add")).status_code == 403
