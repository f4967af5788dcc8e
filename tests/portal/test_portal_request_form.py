"""The public request form: one ticket per submitted form, clear errors, an honest confirmation."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client as HttpClient
from django.urls import reverse

from firstcall.clients.models import Contact, Contract
from firstcall.intake.models import InboundMessage
from firstcall.tickets.models import Channel, MessageKind, Ticket

pytestmark = pytest.mark.django_db

FORM_URL = "/request/"


@pytest.fixture
def browser() -> HttpClient:
    return HttpClient()


def token_on(html: str) -> str:
    match = re.search(r'name="token" value="([0-9a-f-]{36})"', html)
    assert match, "the form has no submission token"
    return match.group(1)


def fields(**overrides: Any) -> dict[str, Any]:
    data = {
        "email": "dana@brightsmile.example",
        "name": "Dana Reyes",
        "subject": "X-ray PC won't boot",
        "description": "The X-ray PC shows a blue screen. Patients are waiting.",
        "token": str(uuid.uuid4()),
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_form_has_labelled_fields_and_a_fresh_token_each_time(browser: HttpClient) -> None:
    html = browser.get(FORM_URL).content.decode()
    for field_id, label in [
        ("id_email", "Your email"),
        ("id_name", "Your name"),
        ("id_subject", "Subject"),
        ("id_description", "Description"),
        ("id_is_emergency", "This is an emergency"),
    ]:
        assert re.search(rf'<label for="{field_id}">{label}', html), label
    assert (
        "goes to the top of our queue as an emergency and the fastest (P1) response target applies." in html
    )
    first = token_on(html)
    second = token_on(browser.get(FORM_URL).content.decode())
    assert uuid.UUID(first).version == 4 and first != second


def test_form_page_needs_no_database(browser: HttpClient, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        assert browser.get(FORM_URL).status_code == 200


def test_request_opens_one_ticket_and_sends_the_acknowledgment(
    browser: HttpClient, dana: Contact, outbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    data = fields()
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(
            FORM_URL, data, REMOTE_ADDR="203.0.113.7", headers={"User-Agent": "TestBrowser/1.0"}
        )
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:request_sent", kwargs={"token": data["token"]})

    ticket = Ticket.objects.get()
    assert ticket.channel == Channel.WEB and ticket.requester == dana and ticket.client == dana.client
    assert ticket.subject == "X-ray PC won't boot" and not ticket.is_emergency
    inbound = ticket.messages.get(kind=MessageKind.INBOUND)
    assert inbound.body_text == "The X-ray PC shows a blue screen. Patients are waiting."
    raw = InboundMessage.objects.get()
    assert raw.external_id == f"web:{data['token']}"
    assert raw.metadata == {"remote_addr": "203.0.113.7", "user_agent": "TestBrowser/1.0"}
    assert len(outbox) == 1 and ticket.number in outbox[0].subject and outbox[0].to == [dana.email]


def test_confirmation_shows_number_and_due_time_in_the_clients_zone(
    browser: HttpClient, dana: Contact, django_capture_on_commit_callbacks: Any
) -> None:
    Contract.objects.update(starts_on=date(2020, 1, 1))
    now = datetime(2025, 3, 4, 15, 0, tzinfo=ZoneInfo("UTC"))
    with time_machine.travel(now, tick=False), django_capture_on_commit_callbacks(execute=True):
        response = browser.post(FORM_URL, fields(), follow=True)
    html = response.content.decode()
    ticket = Ticket.objects.get()
    assert f'<dd class="ticket-number">{ticket.number}</dd>' in html
    # Dana is a VIP: P2, 60 minutes under Bright Smile's contract; 16:00 UTC is 10:00 in Chicago.
    assert ticket.priority == "P2"
    assert "Tuesday 4 March 2025, 10:00</time> (America/Chicago)" in html
    assert "within 1 hour" in html
    assert "An acknowledgment email is on its way to <strong>dana@brightsmile.example</strong>" in html


def test_confirmation_uses_the_site_zone_without_a_client(
    browser: HttpClient, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.TIME_ZONE = "Europe/Berlin"
    now = datetime(2025, 3, 4, 15, 0, tzinfo=ZoneInfo("UTC"))
    with time_machine.travel(now, tick=False), django_capture_on_commit_callbacks(execute=True):
        response = browser.post(FORM_URL, fields(email="sam@gmail.example"), follow=True)
    html = response.content.decode()
    # No client, no contract: the default P3 target of 4 business hours on the default calendar
    # (08:00–18:00 UTC, the zone it was made in): 3 hours on Tuesday, 1 on Wednesday, so
    # Wednesday 09:00 UTC, 10:00 in Berlin.
    assert "Wednesday 5 March 2025, 10:00</time> (Europe/Berlin)" in html
    assert "within 4 business hours" in html
    assert Ticket.objects.get().unverified_requester


def test_double_submit_with_the_same_token_makes_one_ticket(
    browser: HttpClient, dana: Contact, outbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    data = fields()
    with django_capture_on_commit_callbacks(execute=True):
        first = browser.post(FORM_URL, data)
        second = browser.post(FORM_URL, data)
    assert first["Location"] == second["Location"]
    assert Ticket.objects.count() == 1 and len(outbox) == 1
    assert InboundMessage.objects.get().duplicate_deliveries == 1
    page = browser.get(second["Location"]).content.decode()
    assert Ticket.objects.get().number in page


def test_a_new_form_makes_a_new_ticket(
    browser: HttpClient, dana: Contact, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(FORM_URL, fields(token=token_on(browser.get(FORM_URL).content.decode())))
        browser.post(FORM_URL, fields(token=token_on(browser.get(FORM_URL).content.decode())))
    assert Ticket.objects.count() == 2


def test_emergency_box_makes_an_emergency_ticket(
    browser: HttpClient, dana: Contact, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(FORM_URL, fields(is_emergency="on"), follow=True)
    ticket = Ticket.objects.get()
    assert ticket.is_emergency and ticket.priority == "P1"
    html = response.content.decode()
    assert "within 15 minutes, handled as an emergency (P1)" in html


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"email": None}, "email", "Enter your email address so we can reply."),
        ({"email": "dana at brightsmile"}, "email", "Enter a valid email address, like name@example.com."),
        ({"subject": ""}, "subject", "Enter a subject: one line about the problem."),
        ({"subject": "   "}, "subject", "Enter a subject: one line about the problem."),
        ({"subject": "x" * 301}, "subject", "Keep the subject under 300 characters (it has 301)."),
        ({"description": ""}, "description", "Describe the problem so a technician can start on it."),
        (
            {"description": "x" * 20_001},
            "description",
            "The description is too long: at most 20000 characters (it has 20001).",
        ),
        ({"name": "n" * 201}, "name", "Keep your name under 200 characters."),
    ],
)
def test_each_validation_error_is_shown_next_to_its_field(
    browser: HttpClient, overrides: dict[str, Any], field: str, message: str
) -> None:
    data = fields(**overrides)
    response = browser.post(FORM_URL, data)
    assert response.status_code == 400
    html = response.content.decode()
    error_block = re.search(rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', html, re.S)
    assert error_block and message in error_block.group(1)
    assert f'aria-describedby="id_{field}_helptext id_{field}_error"' in html or (
        f'aria-describedby="id_{field}_error"' in html
    )
    assert "Please correct 1 problem below." in html
    # The same form (same token) can be corrected and sent: nothing was stored yet.
    assert token_on(html) == data["token"]
    assert not InboundMessage.objects.exists() and not Ticket.objects.exists()


def test_missing_or_tampered_token_asks_to_send_again_with_a_new_token(browser: HttpClient) -> None:
    for bad in (None, "not-a-uuid"):
        response = browser.post(FORM_URL, fields(token=bad))
        assert response.status_code == 400
        html = response.content.decode()
        assert "This form has expired. Please check your answers and send it again." in html
        assert uuid.UUID(token_on(html))
        assert "X-ray PC won&#x27;t boot" in html  # the answers are kept
    assert not Ticket.objects.exists()


def test_form_needs_csrf_token(dana: Contact) -> None:
    strict = HttpClient(enforce_csrf_checks=True)
    assert strict.post(FORM_URL, fields()).status_code == 403
    assert not Ticket.objects.exists()


def test_confirmation_of_an_unknown_token_is_404(browser: HttpClient) -> None:
    assert browser.get(reverse("portal:request_sent", kwargs={"token": uuid.uuid4()})).status_code == 404
    assert browser.get("/request/sent/not-a-token/").status_code == 404


def test_confirmation_while_the_ticket_is_not_made_yet(browser: HttpClient) -> None:
    token = uuid.uuid4()
    InboundMessage.objects.create(channel=Channel.WEB, external_id=f"web:{token}", raw=b"{}")
    html = browser.get(reverse("portal:request_sent", kwargs={"token": token})).content.decode()
    assert "The ticket number will arrive by email in a moment." in html


def test_no_acknowledgment_is_admitted_on_the_confirmation(
    browser: HttpClient, dana: Contact, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.FIRSTCALL_ACK_RATE_LIMIT_PER_HOUR = 1
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(FORM_URL, fields())
        response = browser.post(FORM_URL, fields(), follow=True)
    assert "We could not send you an acknowledgment email this time." in response.content.decode()
