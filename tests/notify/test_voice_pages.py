"""Paging by voice call (FIRSTCALL_PAGE_BY_VOICE): a page to staff with a phone also rings it
through Twilio's Calls API (a local stand-in here), reading the page and asking for a key; 1
acknowledges through the signed Gather webhook. Retries follow the texts' rules.

The people and the P1 come from tests/escalation/conftest.py: bob (+1 555 010 0002) is the
assignee, paged at minute 0 of a P1 for Bright Smile Dental."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.escalation.engine import start_escalation, sweep, warn_assignee
from firstcall.escalation.models import Escalation, Page, PageChannel
from firstcall.notify.models import Delivery, DeliveryStatus
from firstcall.notify.outbound import deliver_now
from firstcall.notify.voice import CallError, ConsoleVoiceProvider, TwilioVoiceProvider
from firstcall.tickets.models import AuditEvent, MessageKind, Ticket
from tests.escalation import conftest as escalation_fixtures
from tests.escalation.conftest import at_minute, minutes_after_t0, open_p1, paged
from tests.twilio_standin import TwilioStandIn, twilio_configured, twilio_signature

pytestmark = pytest.mark.django_db

# The escalation tests' people and on-call schedule (fixtures), for the tests here.
staff = escalation_fixtures.staff
mia = escalation_fixtures.mia
engineering = escalation_fixtures.engineering

Capture = Callable[..., Any]
ACCOUNT_SID = "AC" + "7" * 32
TOKEN = "standin-voice-token"
OUR_NUMBER = "+15550100000"
BOB_PHONE = "+15550100002"
PUBLIC_URL = "https://help.msp.example"


@pytest.fixture
def twilio(settings: Any) -> Iterator[TwilioStandIn]:
    with twilio_configured(
        settings, account_sid=ACCOUNT_SID, auth_token=TOKEN, our_number=OUR_NUMBER, public_url=PUBLIC_URL
    ) as standin:
        settings.FIRSTCALL_PAGE_BY_VOICE = True
        settings.FIRSTCALL_MSP_NAME = "Northwind IT"
        yield standin


def page_p1(
    dana: Contact, staff: dict[str, User], capture: Capture, monkeypatch: pytest.MonkeyPatch
) -> Ticket:
    """A P1 for Dana assigned to bob; the sweep fires its first level at minute 0 (steps run
    by the sweep here, not by scheduled tasks)."""
    monkeypatch.setattr("firstcall.escalation.engine._schedule_step", lambda *args: None)
    with at_minute(0, capture):
        ticket = open_p1(dana, assignee=staff["bob"])
        start_escalation(ticket, reason="P1 opened")
        sweep()
    return ticket


def call_delivery(ticket: Ticket) -> Delivery:
    page = Page.objects.select_related("delivery").get(escalation__ticket=ticket, channel=PageChannel.PHONE)
    assert page.delivery is not None
    return page.delivery


@pytest.fixture
def called(
    dana: Contact,
    staff: dict[str, User],
    engineering: Any,
    twilio: TwilioStandIn,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Capture,
) -> Ticket:
    """bob paged for a P1 at minute 0, by email, text and a call the stand-in accepted."""
    ticket = page_p1(dana, staff, django_capture_on_commit_callbacks, monkeypatch)
    assert len(twilio.calls) == 1
    return ticket


def press(http: HttpClient, delivery_id: int, digits: str, *, token: str = TOKEN) -> Any:
    """Post the Gather's result the way Twilio does, signed over our public URL."""
    path = reverse("hooks:twilio_voice_page", kwargs={"delivery_id": delivery_id})
    params = {
        "AccountSid": ACCOUNT_SID,
        "CallSid": "CA" + "1" * 32,
        "CallStatus": "in-progress",
        "Direction": "outbound-api",
        "From": OUR_NUMBER,
        "To": BOB_PHONE,
        "Digits": digits,
        "FinishedOnKey": "",
    }
    return http.post(
        path,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=twilio_signature(token, PUBLIC_URL + path, params),
    )


def spoken(response: Any) -> list[str]:
    assert response["Content-Type"].startswith("text/xml")
    return [say.text or "" for say in ET.fromstring(response.content).iter("Say")]


def test_a_p1_page_calls_the_assignee_reading_the_page_and_asking_for_a_key(
    called: Ticket, twilio: TwilioStandIn
) -> None:
    assert ("bob", "phone") in paged(called)
    [call] = twilio.calls
    assert call.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert (call.params["To"], call.params["From"]) == (BOB_PHONE, OUR_NUMBER)
    delivery = call_delivery(called)
    assert delivery.status == DeliveryStatus.SENT and delivery.provider_message_id == call.sid
    assert call.sid.startswith("CA")

    document = ET.fromstring(call.params["Twiml"])
    digits = " ".join(str(called.pk))
    words = (
        f"Bob, this is a page from Northwind IT. Ticket number {digits}, priority 1, "
        "for Bright Smile Dental: Server down, nobody can work."
    )
    assert [say.text for say in document.findall("Say")][:2] == [words, f"Again: {words}"]
    gather = document.find("Gather")
    assert gather is not None
    assert gather.attrib["action"] == f"{PUBLIC_URL}/hooks/twilio/voice/page/{delivery.pk}/"
    assert (gather.attrib["numDigits"], gather.attrib["method"]) == ("1", "POST")
    assert [say.text for say in gather.findall("Say")] == ["Press 1 to acknowledge."]
    assert document.find("Hangup") is not None  # no key: a closing line, then the call ends

    # Staff read on the timeline how bob was reached; the client reads nothing of it.
    note = delivery.message
    assert note.kind == MessageKind.NOTE and note.channel == "phone"
    assert note.body_text == "Paged Bob by phone call (level 1 of 4: the assignee)."


def test_without_the_setting_pages_make_no_call(
    settings: Any,
    dana: Contact,
    staff: dict[str, User],
    engineering: Any,
    twilio: TwilioStandIn,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    settings.FIRSTCALL_PAGE_BY_VOICE = False
    ticket = page_p1(dana, staff, django_capture_on_commit_callbacks, monkeypatch)
    assert paged(ticket) == [("bob", "email"), ("bob", "sms")]
    assert twilio.calls == [] and len(twilio.sent) == 1


def test_an_sla_warning_texts_but_does_not_call(
    called: Ticket, twilio: TwilioStandIn, django_capture_on_commit_callbacks: Capture
) -> None:
    with at_minute(10, django_capture_on_commit_callbacks):
        assert warn_assignee(called, reason="first response due at 09:15") is True
    assert len(twilio.calls) == 1  # the page's call only
    assert len(twilio.sent) == 2  # the page's text and the warning's


def test_twilio_failing_the_call_is_retried_later(
    dana: Contact,
    staff: dict[str, User],
    engineering: Any,
    twilio: TwilioStandIn,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    twilio.fail_next(503, times=2)  # the page's text, then its call
    ticket = page_p1(dana, staff, django_capture_on_commit_callbacks, monkeypatch)
    delivery = call_delivery(ticket)
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert "HTTP 503" in delivery.last_error and "CallError" in delivery.last_error
    assert delivery.next_attempt_at == minutes_after_t0(0) + timedelta(seconds=30)

    with at_minute(1, django_capture_on_commit_callbacks):
        assert deliver_now(delivery.pk) == DeliveryStatus.SENT
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.provider_message_id == twilio.calls[0].sid
    assert [r.status for r in twilio.requests if r.path.endswith("/Calls.json")] == [503, 201]


def test_twilio_refusing_the_number_fails_the_call_at_once(
    dana: Contact,
    staff: dict[str, User],
    engineering: Any,
    twilio: TwilioStandIn,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    twilio.fail_next(400, times=2, code=21211)
    ticket = page_p1(dana, staff, django_capture_on_commit_callbacks, monkeypatch)
    delivery = call_delivery(ticket)
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert "21211" in delivery.last_error
    assert ticket.messages.filter(
        kind=MessageKind.EVENT,
        body_text__startswith=f"Could not send the page to staff to {BOB_PHONE}; the provider refused",
    ).exists()


def test_unreachable_api_is_a_temporary_call_error(twilio: TwilioStandIn) -> None:
    twilio.stop()
    with pytest.raises(CallError) as raised:
        TwilioVoiceProvider().place_call(
            to=BOB_PHONE, from_number=OUR_NUMBER, twiml="<Response/>", status_callback=None
        )
    assert not raised.value.permanent and "not reachable" in str(raised.value)


def test_the_console_provider_writes_the_call_instead_of_placing_it(settings: Any, tmp_path: Any) -> None:
    settings.DATA_DIR = tmp_path
    call_id = ConsoleVoiceProvider().place_call(
        to=BOB_PHONE,
        from_number=OUR_NUMBER,
        twiml="<Response><Say>Hello</Say></Response>",
        status_callback=None,
    )
    written = (tmp_path / "voice-outbox" / f"{call_id}.xml").read_text()
    assert BOB_PHONE in written and "<Say>Hello</Say>" in written


def test_pressing_1_acknowledges_as_the_paged_person_by_phone(
    called: Ticket, staff: dict[str, User], django_capture_on_commit_callbacks: Capture
) -> None:
    delivery = call_delivery(called)
    with at_minute(3, django_capture_on_commit_callbacks):
        response = press(HttpClient(), delivery.pk, "1")
    assert response.status_code == 200
    assert spoken(response) == [
        f"Acknowledged. Escalation stopped for ticket {' '.join(str(called.pk))}. Goodbye."
    ]
    escalation = Escalation.objects.get()
    assert escalation.acknowledged_by == staff["bob"] and escalation.next_step_at is None
    assert escalation.stop_reason == "acknowledged by bob (phone)"
    audit = AuditEvent.objects.get(action="escalation_acknowledged")
    assert audit.actor_user == staff["bob"] and audit.after == {"escalation": escalation.pk, "via": "phone"}
    assert audit.actor_label == "acknowledged by phone"
    assert called.messages.filter(kind=MessageKind.EVENT, body_text="Acknowledged by Bob at 09:03.").exists()
    # Nobody further is paged.
    with at_minute(15, django_capture_on_commit_callbacks):
        sweep()
    assert [user for user, _ in paged(called)] == ["bob", "bob", "bob"]

    # Twilio retries the webhook: nothing is acknowledged twice.
    with at_minute(4, django_capture_on_commit_callbacks):
        again = press(HttpClient(), delivery.pk, "1")
    assert "already acknowledged or stopped" in spoken(again)[0]
    assert AuditEvent.objects.filter(action="escalation_acknowledged").count() == 1


def test_another_key_acknowledges_nothing(
    called: Ticket, django_capture_on_commit_callbacks: Capture
) -> None:
    with at_minute(3, django_capture_on_commit_callbacks):
        response = press(HttpClient(), call_delivery(called).pk, "2")
    assert response.status_code == 200
    assert spoken(response)[0].startswith("Not acknowledged.")
    assert ET.fromstring(response.content).find("Hangup") is not None
    assert Escalation.objects.get().stopped_at is None
    assert not AuditEvent.objects.filter(action="escalation_acknowledged").exists()


def test_a_bad_signature_is_refused(called: Ticket, django_capture_on_commit_callbacks: Capture) -> None:
    with at_minute(3, django_capture_on_commit_callbacks):
        response = press(HttpClient(), call_delivery(called).pk, "1", token="not-our-token")
    assert response.status_code == 403
    assert Escalation.objects.get().stopped_at is None


def test_a_delivery_that_is_not_a_page_call_is_not_found(
    called: Ticket, django_capture_on_commit_callbacks: Capture
) -> None:
    text = Page.objects.get(escalation__ticket=called, channel=PageChannel.SMS).delivery
    assert text is not None
    with at_minute(3, django_capture_on_commit_callbacks):
        assert press(HttpClient(), text.pk, "1").status_code == 404
        assert press(HttpClient(), 999_999, "1").status_code == 404
    assert Escalation.objects.get().stopped_at is None
