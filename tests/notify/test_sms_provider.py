"""Texts through TwilioSmsProvider against a local stand-in for Twilio's REST API: the request
Twilio gets, retries when Twilio fails, and an immediate failure when Twilio refuses the number."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import time_machine
from django.utils import timezone

from firstcall.clients.models import Contact
from firstcall.intake.channels.sms import receive_sms
from firstcall.notify.models import Delivery, DeliveryStatus
from firstcall.notify.outbound import deliver_now, opt_out
from firstcall.notify.sms import SmsSendError, TwilioSmsProvider
from firstcall.tickets.models import MessageKind
from tests.twilio_standin import TwilioStandIn, twilio_configured

pytestmark = pytest.mark.django_db

ACCOUNT_SID = "AC" + "5" * 32
TOKEN = "standin-secret-token"
OUR_NUMBER = "+15550100000"
DANA_MOBILE = "+13125550111"


@pytest.fixture
def twilio(settings: Any) -> Iterator[TwilioStandIn]:
    with twilio_configured(
        settings, account_sid=ACCOUNT_SID, auth_token=TOKEN, our_number=OUR_NUMBER
    ) as standin:
        # The API path: acknowledgments in the webhook's answer are tests/intake/test_sms_answer.py's.
        settings.FIRSTCALL_SMS_ACK_IN_RESPONSE = False
        yield standin


def text_from_dana(sid: str = "SM" + "a" * 32, body: str = "Server is down") -> bytes:
    return urlencode({"MessageSid": sid, "From": DANA_MOBILE, "To": OUR_NUMBER, "Body": body}).encode()


def test_acknowledgment_goes_to_twilio_with_number_body_callback_and_auth(
    dana: Contact, twilio: TwilioStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        outcome = receive_sms(text_from_dana()).outcome

    [request] = twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert (request.username, request.password) == (ACCOUNT_SID, TOKEN)
    assert request.params["To"] == DANA_MOBILE and request.params["From"] == OUR_NUMBER
    assert f"ticket {outcome.ticket_number}" in request.params["Body"]
    # "Server is down" is company-wide and Dana a VIP: P1, Dental's P1 target.
    assert "respond within 15 minutes" in request.params["Body"]
    assert request.params["StatusCallback"] == "https://help.msp.example/hooks/twilio/sms/status/"
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SENT and delivery.provider_message_id == request.sid
    assert request.sid.startswith("SM")


def test_twilio_5xx_is_retried_with_backoff(
    dana: Contact, twilio: TwilioStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    twilio.fail_next(500)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            receive_sms(text_from_dana())
        delivery = Delivery.objects.get()
        assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
        assert "HTTP 500" in delivery.last_error and "20500" in delivery.last_error
        assert delivery.next_attempt_at == start + timedelta(seconds=30)
        assert deliver_now(delivery.pk) is None  # not due yet

    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        assert deliver_now(delivery.pk) == DeliveryStatus.SENT
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.last_error == ""
    assert delivery.provider_message_id == twilio.sent[0].sid
    assert [r.status for r in twilio.requests] == [500, 201]


def test_twilio_refusing_the_number_fails_at_once_with_a_timeline_event(
    dana: Contact, twilio: TwilioStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    twilio.fail_next(400, code=21211)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = receive_sms(text_from_dana()).outcome

    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert "21211" in delivery.last_error
    event = delivery.message.ticket.messages.get(kind=MessageKind.EVENT)
    assert event.ticket_id == outcome.ticket_id
    assert event.body_text.startswith(
        f"Could not send the acknowledgment to {DANA_MOBILE}; the provider refused"
    )
    assert "21211" in event.body_text
    assert len(twilio.requests) == 1


def test_rate_limit_429_is_retried_not_failed(
    dana: Contact, twilio: TwilioStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    twilio.fail_next(429, code=20429)
    with django_capture_on_commit_callbacks(execute=True):
        receive_sms(text_from_dana())
    assert Delivery.objects.get().status == DeliveryStatus.PENDING


def test_unreachable_api_is_a_temporary_error(settings: Any, twilio: TwilioStandIn) -> None:
    twilio.stop()  # nothing listens at the base URL any more
    with pytest.raises(SmsSendError) as raised:
        TwilioSmsProvider().send(to=DANA_MOBILE, body="hi", from_number=OUR_NUMBER, status_callback=None)
    assert not raised.value.permanent and "not reachable" in str(raised.value)


def test_wrong_credentials_are_refused_for_good(settings: Any, twilio: TwilioStandIn) -> None:
    settings.TWILIO_AUTH_TOKEN = "wrong"
    with pytest.raises(SmsSendError) as raised:
        TwilioSmsProvider().send(to=DANA_MOBILE, body="hi", from_number=OUR_NUMBER, status_callback=None)
    assert raised.value.permanent and "HTTP 401" in str(raised.value)
    assert twilio.requests[0].password == "wrong"


def test_missing_credentials_say_which_settings(settings: Any) -> None:
    settings.TWILIO_ACCOUNT_SID = ""
    with pytest.raises(SmsSendError, match="TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"):
        TwilioSmsProvider()


def test_text_queued_before_stop_is_not_sent(
    dana: Contact, twilio: TwilioStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    twilio.fail_next(503)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            receive_sms(text_from_dana())
        opt_out(DANA_MOBILE)
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        delivery = Delivery.objects.get()
        assert deliver_now(delivery.pk) == DeliveryStatus.SUPPRESSED
    assert twilio.sent == []
    delivery.refresh_from_db()
    assert "opted out" in delivery.last_error
    assert delivery.message.ticket.messages.filter(
        body_text__startswith="Did not send the acknowledgment by text:", body_text__contains="opted out"
    ).exists()


def test_basic_auth_header_is_what_twilio_expects(twilio: TwilioStandIn) -> None:
    sid = TwilioSmsProvider().send(to=DANA_MOBILE, body="hello", from_number=OUR_NUMBER, status_callback=None)
    [request] = twilio.requests
    assert request.sid == sid and "StatusCallback" not in request.params
    expected = base64.b64encode(f"{ACCOUNT_SID}:{TOKEN}".encode()).decode()
    assert base64.b64encode(f"{request.username}:{request.password}".encode()).decode() == expected
