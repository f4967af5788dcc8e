"""A new ticket's acknowledgment to a texter goes in the webhook's answer (TwiML <Message>) when
Twilio sends our texts: no API request, at once. Twilio's report on that text (to the status URL
the <Message> names) confirms it; unconfirmed, it goes through the API after a while; a
redelivered webhook carries it again. Through the real webhooks (Django's test client, signed
like Twilio signs), with a local stand-in for Twilio's API that must see nothing unless asked."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import time_machine
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from firstcall.clients.models import Contact, PhoneNumber
from firstcall.notify.models import Delivery, DeliveryStatus, SmsOptOut
from firstcall.notify.outbound import IN_RESPONSE_CONFIRM_SECONDS, deliver_many, due_delivery_ids
from firstcall.tickets.models import MessageKind, Ticket
from tests.twilio_standin import TwilioStandIn, twilio_configured, twilio_signature

pytestmark = pytest.mark.django_db

ACCOUNT_SID = "AC" + "7" * 32
TOKEN = "answer-test-token"
PUBLIC_URL = "https://help.msp.example"
OUR_NUMBER = "+15550100000"
DANA_MOBILE = "+13125550111"
STRANGER = "+14155550199"
DENTAL_MAIN_LINE = "+13125550100"


@pytest.fixture
def twilio(settings: Any) -> Iterator[TwilioStandIn]:
    with twilio_configured(
        settings, account_sid=ACCOUNT_SID, auth_token=TOKEN, our_number=OUR_NUMBER, public_url=PUBLIC_URL
    ) as standin:
        settings.FIRSTCALL_SMS_ACK_IN_RESPONSE = True
        settings.FIRSTCALL_MSP_NAME = "Northwind IT"
        yield standin


def post_signed(client: HttpClient, path: str, params: dict[str, str]) -> Any:
    """POST ``params`` to ``path`` (which may carry a query) as Twilio does, signed."""
    return client.post(
        path,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": twilio_signature(TOKEN, PUBLIC_URL + path, params)},
    )


def text(client: HttpClient, sid: str, sender: str, body: str) -> ElementTree.Element:
    params = {"MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": sender, "To": OUR_NUMBER, "Body": body}
    response = post_signed(client, reverse("hooks:twilio_sms"), params)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    return ElementTree.fromstring(response.content)


def report(client: HttpClient, action: str, sid: str, status: str) -> None:
    """Twilio's report on the text of a <Message>, to its action URL."""
    address = urlsplit(action)
    assert f"{address.scheme}://{address.netloc}" == PUBLIC_URL
    params = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status}
    response = post_signed(client, f"{address.path}?{address.query}", params)
    assert response.status_code == 204


def test_a_new_tickets_acknowledgment_is_the_webhooks_answer(
    client: HttpClient, dana: Contact, twilio: TwilioStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        answer = text(client, "SM" + "1" * 32, DANA_MOBILE, "Server is down, nobody can work")

    [message] = answer.findall("Message")
    ticket = Ticket.objects.get()
    delivery = Delivery.objects.get()
    assert f"ticket {ticket.number}" in (message.text or "")
    assert "respond within 15 minutes" in (message.text or "")  # Dental's P1 target
    assert message.get("action") == f"{PUBLIC_URL}/hooks/twilio/sms/status/?delivery={delivery.pk}"
    # Handed over in the answer, waiting for Twilio's report; nothing through the API.
    assert delivery.message.ticket == ticket and delivery.body_text == message.text
    assert delivery.status == DeliveryStatus.SENDING and delivery.attempts == 1
    assert delivery.to_address == DANA_MOBILE and delivery.provider_message_id == ""
    assert delivery.claimed_until is not None and delivery.sent_at is not None
    assert delivery.claimed_until - delivery.sent_at == timedelta(seconds=IN_RESPONSE_CONFIRM_SECONDS)
    assert twilio.requests == []
    # On the timeline like any acknowledgment.
    assert delivery.message.kind == MessageKind.AUTO_REPLY


def test_an_unknown_texter_gets_it_too(client: HttpClient, db: None, twilio: TwilioStandIn) -> None:
    answer = text(client, "SM" + "2" * 32, STRANGER, "my laptop won't start")
    [message] = answer.findall("Message")
    assert f"ticket {Ticket.objects.get().number}" in (message.text or "")
    assert twilio.requests == []


def test_twilios_report_confirms_it_and_later_reports_update_it(
    client: HttpClient, dana: Contact, twilio: TwilioStandIn
) -> None:
    [message] = text(client, "SM" + "1" * 32, DANA_MOBILE, "Printer jammed").findall("Message")
    action = message.get("action") or ""

    report(client, action, "SM" + "c" * 32, "sent")
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SENT and delivery.claimed_until is None
    assert delivery.provider_message_id == "SM" + "c" * 32

    report(client, action, "SM" + "c" * 32, "delivered")
    delivery.refresh_from_db()
    assert delivery.delivered_at is not None
    # Another text's id on the same URL matches nothing: the first report bound the id.
    report(client, action, "SM" + "d" * 32, "failed")
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    # Confirmed: the sweep leaves it alone.
    with time_machine.travel(timezone.now() + timedelta(seconds=IN_RESPONSE_CONFIRM_SECONDS + 60)):
        assert due_delivery_ids() == []
    assert twilio.requests == []


def test_a_failure_report_is_on_the_timeline(
    client: HttpClient, dana: Contact, twilio: TwilioStandIn
) -> None:
    [message] = text(client, "SM" + "1" * 32, DANA_MOBILE, "Printer jammed").findall("Message")
    report(client, message.get("action") or "", "SM" + "e" * 32, "undelivered")
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and "undelivered" in delivery.last_error
    assert delivery.message.ticket.messages.filter(body_text__contains="was not delivered").exists()


def test_unconfirmed_it_goes_through_the_api_once_the_wait_is_over(
    client: HttpClient, dana: Contact, twilio: TwilioStandIn
) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        [message] = text(client, "SM" + "1" * 32, DANA_MOBILE, "Printer jammed").findall("Message")
        assert due_delivery_ids() == []  # still waiting for Twilio's report

    with time_machine.travel(start + timedelta(seconds=IN_RESPONSE_CONFIRM_SECONDS + 1), tick=False):
        ids = due_delivery_ids()
        assert deliver_many(ids) == {Delivery.objects.get().pk: DeliveryStatus.SENT}

    [sent] = twilio.sent
    assert sent.params["To"] == DANA_MOBILE and sent.params["Body"] == message.text
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SENT and delivery.provider_message_id == sent.sid
    # A late report on the answer's text no longer matches: the API's text is the one we track.
    report(client, message.get("action") or "", "SM" + "f" * 32, "sent")
    delivery.refresh_from_db()
    assert delivery.provider_message_id == sent.sid


def test_a_redelivered_text_carries_the_unconfirmed_acknowledgment_again(
    client: HttpClient, dana: Contact, twilio: TwilioStandIn
) -> None:
    sid = "SM" + "1" * 32
    [first] = text(client, sid, DANA_MOBILE, "Printer jammed").findall("Message")
    [again] = text(client, sid, DANA_MOBILE, "Printer jammed").findall("Message")
    assert (again.text, again.get("action")) == (first.text, first.get("action"))
    assert Ticket.objects.count() == 1 and Delivery.objects.count() == 1

    report(client, first.get("action") or "", "SM" + "c" * 32, "sent")
    assert text(client, sid, DANA_MOBILE, "Printer jammed").findall("Message") == []


def test_a_text_on_an_open_ticket_gets_no_answer(
    client: HttpClient, dana: Contact, twilio: TwilioStandIn
) -> None:
    text(client, "SM" + "1" * 32, DANA_MOBILE, "Printer jammed")
    assert text(client, "SM" + "2" * 32, DANA_MOBILE, "It is the one upstairs").findall("Message") == []
    assert Ticket.objects.count() == 1 and Delivery.objects.count() == 1


def test_a_number_that_opted_out_gets_no_answer(
    client: HttpClient, dana: Contact, twilio: TwilioStandIn
) -> None:
    SmsOptOut.objects.create(number=DANA_MOBILE)
    assert text(client, "SM" + "1" * 32, DANA_MOBILE, "Printer jammed").findall("Message") == []
    ticket = Ticket.objects.get()
    # Dana has an email address: the acknowledgment goes there instead, by the outbox.
    assert Delivery.objects.get().to_address == dana.email
    assert not ticket.messages.filter(body_text__startswith="Acknowledgment not sent").exists()


def test_with_the_setting_off_it_goes_through_the_api(
    client: HttpClient,
    dana: Contact,
    twilio: TwilioStandIn,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.FIRSTCALL_SMS_ACK_IN_RESPONSE = False
    with django_capture_on_commit_callbacks(execute=True):
        assert text(client, "SM" + "1" * 32, DANA_MOBILE, "Printer jammed").findall("Message") == []
    [sent] = twilio.sent
    assert sent.params["To"] == DANA_MOBILE and "ticket T-" in sent.params["Body"]
    assert Delivery.objects.get().status == DeliveryStatus.SENT


def test_the_console_provider_never_answers_in_the_webhook(
    client: HttpClient, dana: Contact, twilio: TwilioStandIn, settings: Any, tmp_path: Any
) -> None:
    settings.FIRSTCALL_SMS_PROVIDER = "console"
    settings.DATA_DIR = tmp_path
    assert text(client, "SM" + "1" * 32, DANA_MOBILE, "Printer jammed").findall("Message") == []
    assert Delivery.objects.get().status == DeliveryStatus.PENDING


def test_a_known_landline_is_not_texted_even_by_a_new_contact(
    client: HttpClient, dental: Any, twilio: TwilioStandIn
) -> None:
    # The client's main line, known to take no texts: whoever uses it is a new contact, but
    # what is known of the number stands.
    PhoneNumber.objects.filter(number=DENTAL_MAIN_LINE).update(can_receive_sms=False)
    assert text(client, "SM" + "1" * 32, DENTAL_MAIN_LINE, "Printer jammed").findall("Message") == []
    ticket = Ticket.objects.get()
    assert ticket.requester.client == dental and not Delivery.objects.exists()
    assert ticket.messages.get(body_text__startswith="Acknowledgment not sent").body_text == (
        f"Acknowledgment not sent: {DENTAL_MAIN_LINE} cannot receive text messages (landline) "
        "and the requester has no email address."
    )
