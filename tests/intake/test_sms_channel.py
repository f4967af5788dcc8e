"""Inbound texts through the real webhook (Django's test client, signed like Twilio signs):
tickets, threading, emergencies, keywords (STOP/START/HELP), redelivery, bad input, and the
delivery status callback of the texts we send."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import time_machine
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from firstcall.clients.models import Client, Contact, PhoneNumber
from firstcall.intake.models import InboundMessage, InboundStatus
from firstcall.notify.models import Delivery, DeliveryStatus, SmsOptOut
from firstcall.tickets.actions import Actor, transition
from firstcall.tickets.models import AuditEvent, Channel, MessageKind, Status, Ticket
from tests.twilio_standin import twilio_signature

pytestmark = pytest.mark.django_db

TOKEN = "test-auth-token-12345"
PUBLIC_URL = "https://help.msp.example"
OUR_NUMBER = "+15550100000"
DANA_MOBILE = "+13125550111"
STRANGER = "+14155550199"
DENTAL_FRONT_DESK = "+13125550100"


@pytest.fixture(autouse=True)
def _twilio(settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path  # the console provider's sms-outbox, per test
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.FIRSTCALL_PUBLIC_URL = PUBLIC_URL
    settings.FIRSTCALL_SMS_PROVIDER = "console"
    settings.FIRSTCALL_SMS_FROM = OUR_NUMBER
    settings.FIRSTCALL_MSP_NAME = "Northwind IT"


def text_params(sid: str, sender: str, body: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "AccountSid": "AC" + "1" * 32,
        "From": sender,
        "To": OUR_NUMBER,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "FromCity": "CHICAGO",  # Twilio adds fields like these without notice
        **extra,
    }


def post_signed(
    client: HttpClient,
    params: dict[str, str],
    *,
    name: str = "hooks:twilio_sms",
    signature: str | None = None,
) -> Any:
    path = reverse(name)
    if signature is None:
        signature = twilio_signature(TOKEN, PUBLIC_URL + path, params)
    return client.post(
        path,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )


def text(client: HttpClient, sid: str, sender: str, body: str, **extra: str) -> Any:
    response = post_signed(client, text_params(sid, sender, body, **extra))
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/xml")
    return response


def sms_outbox(settings: Any) -> list[str]:
    folder = Path(settings.DATA_DIR) / "sms-outbox"
    return [p.read_text() for p in folder.glob("*.txt")] if folder.exists() else []


def test_known_mobile_opens_ticket_for_their_client_and_is_acknowledged_by_text(
    client: HttpClient, dana: Contact, dental: Client, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = text(
            client, "SM" + "a" * 32, DANA_MOBILE, "Printer at front desk jammed again\nPlease help"
        )

    assert b"<Response" in response.content and b"<Message" not in response.content
    ticket = Ticket.objects.get()
    assert (ticket.client, ticket.requester, ticket.channel) == (dental, dana, Channel.SMS)
    assert ticket.subject == "Printer at front desk jammed again"
    inbound = InboundMessage.objects.get()
    assert (inbound.channel, inbound.external_id, inbound.status) == (
        Channel.SMS,
        "SM" + "a" * 32,
        InboundStatus.PROCESSED,
    )
    assert bytes(inbound.raw).startswith(b"MessageSid=SM")
    first = ticket.messages.get(kind=MessageKind.INBOUND)
    assert first.body_text == "Printer at front desk jammed again\nPlease help"

    ack = Delivery.objects.get()
    assert (ack.channel, ack.to_address, ack.from_address, ack.status) == (
        Channel.SMS,
        DANA_MOBILE,
        OUR_NUMBER,
        DeliveryStatus.SENT,
    )
    assert ack.provider_message_id.startswith("console-")
    [sent] = sms_outbox(settings)
    assert f"To: {DANA_MOBILE}" in sent
    assert f"ticket {ticket.number}" in sent and "respond within" in sent


def test_unknown_number_becomes_unverified_contact_with_that_phone(
    client: HttpClient, dental: Client
) -> None:
    text(client, "SM" + "b" * 32, STRANGER, "Hi, is this IT support? Wifi is down")

    ticket = Ticket.objects.get()
    assert ticket.client is None and ticket.unverified_requester
    phone = PhoneNumber.objects.get(number=STRANGER)
    assert phone.contact == ticket.requester and phone.client is None


def test_clients_main_line_makes_a_contact_of_that_client(client: HttpClient, dental: Client) -> None:
    text(client, "SM" + "c" * 32, DENTAL_FRONT_DESK, "X-ray machine PC will not boot")

    ticket = Ticket.objects.get()
    assert ticket.client == dental and not ticket.unverified_requester
    assert (
        PhoneNumber.objects.get(number=DENTAL_FRONT_DESK, contact__isnull=False).contact == ticket.requester
    )


def test_second_text_within_window_threads_later_or_after_resolve_opens_new(
    client: HttpClient, dana: Contact, settings: Any
) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        text(client, "SM" + "1" * 32, DANA_MOBILE, "Email is down")
    first = Ticket.objects.get()

    with time_machine.travel(start + timedelta(hours=71), tick=False):
        text(client, "SM" + "2" * 32, DANA_MOBILE, "Still down, any news?")
    assert Ticket.objects.count() == 1
    assert first.messages.filter(kind=MessageKind.INBOUND).count() == 2
    assert Delivery.objects.count() == 1  # follow-ups are not acknowledged again

    with time_machine.travel(start + timedelta(hours=73), tick=False):
        text(client, "SM" + "3" * 32, DANA_MOBILE, "New problem: scanner offline")
    assert Ticket.objects.count() == 2

    newest = Ticket.objects.latest("id")
    transition(newest, Status.RESOLVED, actor=Actor.system("test"))
    with time_machine.travel(start + timedelta(hours=74), tick=False):
        text(client, "SM" + "4" * 32, DANA_MOBILE, "And the fax")
    assert Ticket.objects.count() == 3


def test_thread_window_is_configurable(client: HttpClient, dana: Contact, settings: Any) -> None:
    settings.FIRSTCALL_SMS_THREAD_HOURS = 1
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        text(client, "SM" + "5" * 32, DANA_MOBILE, "Email is down")
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        text(client, "SM" + "6" * 32, DANA_MOBILE, "Another thing")
    assert Ticket.objects.count() == 2


@pytest.mark.parametrize("body", ["URGENT server room is flooding", "  emergency: ransomware note on screen"])
def test_urgent_or_emergency_prefix_marks_emergency(client: HttpClient, dana: Contact, body: str) -> None:
    text(client, "SM" + "7" * 32, DANA_MOBILE, body)

    ticket = Ticket.objects.get()
    assert ticket.is_emergency and ticket.priority == "P1"


def test_urgent_in_the_middle_is_not_an_emergency(client: HttpClient, dana: Contact) -> None:
    text(client, "SM" + "8" * 32, DANA_MOBILE, "Not urgent: new hire needs an account")
    assert not Ticket.objects.get().is_emergency


def test_redelivery_is_idempotent(
    client: HttpClient, dana: Contact, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            text(client, "SM" + "9" * 32, DANA_MOBILE, "Phones are dead")

    assert Ticket.objects.count() == 1
    assert Delivery.objects.count() == 1 and len(sms_outbox(settings)) == 1
    assert InboundMessage.objects.get().duplicate_deliveries == 2


def test_bad_signature_is_refused_and_nothing_stored(
    client: HttpClient, dana: Contact, caplog: pytest.LogCaptureFixture
) -> None:
    params = text_params("SM" + "d" * 32, DANA_MOBILE, "Phones are dead")
    forged = twilio_signature("not-our-token", PUBLIC_URL + reverse("hooks:twilio_sms"), params)
    with caplog.at_level(logging.WARNING, logger="firstcall.intake.webhooks"):
        response = post_signed(client, params, signature=forged)

    assert response.status_code == 403
    assert InboundMessage.objects.count() == 0 and Ticket.objects.count() == 0
    assert any(
        "/hooks/twilio/sms/" in r.getMessage() and "signature" in r.getMessage().lower()
        for r in caplog.records
    )


def test_signature_over_other_params_is_refused(client: HttpClient, dana: Contact) -> None:
    params = text_params("SM" + "d" * 32, DANA_MOBILE, "Phones are dead")
    signature = twilio_signature(TOKEN, PUBLIC_URL + reverse("hooks:twilio_sms"), params)
    tampered = {**params, "Body": "Wire $40,000 to this account"}
    assert post_signed(client, tampered, signature=signature).status_code == 403
    assert InboundMessage.objects.count() == 0


def test_missing_signature_is_refused(client: HttpClient, dana: Contact) -> None:
    response = client.post(
        reverse("hooks:twilio_sms"),
        urlencode(text_params("SM" + "e" * 32, DANA_MOBILE, "Help")),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 403
    assert InboundMessage.objects.count() == 0


def test_get_is_not_allowed(client: HttpClient) -> None:
    assert client.get(reverse("hooks:twilio_sms")).status_code == 405


def test_missing_from_is_stored_rejected_and_answered_without_retry(client: HttpClient) -> None:
    params = text_params("SM" + "f" * 32, "", "who am I")
    del params["From"]
    response = post_signed(client, params)

    assert response.status_code == 200 and b"<Message" not in response.content
    inbound = InboundMessage.objects.get()
    assert inbound.status == InboundStatus.REJECTED and "no From" in inbound.reason
    assert Ticket.objects.count() == 0


def test_missing_message_sid_is_stored_once_by_hash(client: HttpClient, dana: Contact) -> None:
    params = text_params("", DANA_MOBILE, "no sid here")
    del params["MessageSid"]
    post_signed(client, params)
    post_signed(client, params)

    inbound = InboundMessage.objects.get()
    assert inbound.external_id.startswith("sha256:") and inbound.duplicate_deliveries == 1
    assert Ticket.objects.count() == 1


def test_oversize_text_is_stored_rejected_with_reason(client: HttpClient, dana: Contact) -> None:
    response = post_signed(client, text_params("SM" + "0" * 32, DANA_MOBILE, "x" * 1601))

    assert response.status_code == 200
    inbound = InboundMessage.objects.get()
    assert inbound.status == InboundStatus.REJECTED
    assert "1601 characters" in inbound.reason and "1600" in inbound.reason
    assert Ticket.objects.count() == 0


def test_oversize_request_is_stored_rejected_with_reason(client: HttpClient, dana: Contact) -> None:
    response = post_signed(client, text_params("SM" + "0" * 32, DANA_MOBILE, "hi", Padding="p" * 70_000))

    assert response.status_code == 200
    inbound = InboundMessage.objects.get()
    assert inbound.status == InboundStatus.REJECTED and "64 KB" in inbound.reason
    assert inbound.external_id.startswith("sha256:")


def test_empty_text_gets_a_subject_naming_the_number(client: HttpClient, dana: Contact) -> None:
    text(client, "SM" + "ab" * 16, DANA_MOBILE, "")
    assert Ticket.objects.get().subject == f"Text message from {DANA_MOBILE}"


def test_media_urls_are_listed_as_links(client: HttpClient, dana: Contact) -> None:
    url0 = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME0"
    url1 = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    text(
        client,
        "MM" + "1" * 32,
        DANA_MOBILE,
        "Error on screen, see photo",
        NumMedia="2",
        MediaUrl0=url0,
        MediaContentType0="image/jpeg",
        MediaUrl1=url1,
        MediaContentType1="application/pdf",
    )

    body = Ticket.objects.get().messages.get(kind=MessageKind.INBOUND).body_text
    assert body.startswith("Error on screen, see photo\n\n")
    assert f"- image/jpeg: {url0}" in body and f"- application/pdf: {url1}" in body
    assert "not downloaded" in body


def test_stop_records_opt_out_no_ticket_and_later_texts_fall_back_to_email(
    client: HttpClient,
    dana: Contact,
    settings: Any,
    outbox: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    response = text(client, "SM" + "c1" * 16, DANA_MOBILE, " Stop ")

    assert b"<Message" not in response.content
    assert SmsOptOut.objects.filter(number=DANA_MOBILE).exists()
    assert Ticket.objects.count() == 0
    inbound = InboundMessage.objects.get()
    assert inbound.status == InboundStatus.REJECTED and inbound.reason == "opt-out keyword STOP"
    assert AuditEvent.objects.filter(action="sms_opt_out", after={"number": DANA_MOBILE}).count() == 1
    # A redelivered STOP changes nothing.
    text(client, "SM" + "c1" * 16, DANA_MOBILE, " Stop ")
    assert AuditEvent.objects.filter(action="sms_opt_out").count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        text(client, "SM" + "c2" * 16, DANA_MOBILE, "Computer will not start")

    assert Ticket.objects.count() == 1
    ack = Delivery.objects.get()
    assert (ack.channel, ack.to_address) == (Channel.EMAIL, dana.email)
    assert len(outbox) == 1 and sms_outbox(settings) == []


def test_after_stop_without_email_the_timeline_says_why(client: HttpClient, dental: Client) -> None:
    text(client, "SM" + "d1" * 16, STRANGER, "UNSUBSCRIBE")
    text(client, "SM" + "d2" * 16, STRANGER, "the wifi again")

    ticket = Ticket.objects.get()
    assert Delivery.objects.count() == 0
    event = ticket.messages.get(kind=MessageKind.NOTE, body_text__startswith="Acknowledgment not sent")
    assert "opted out of text messages (STOP) and the requester has no email address" in event.body_text


def test_start_opts_back_in(
    client: HttpClient, dana: Contact, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    text(client, "SM" + "e1" * 16, DANA_MOBILE, "STOP")
    text(client, "SM" + "e2" * 16, DANA_MOBILE, "start")

    assert not SmsOptOut.objects.exists()
    assert AuditEvent.objects.filter(action="sms_opt_in").count() == 1
    assert Ticket.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        text(client, "SM" + "e3" * 16, DANA_MOBILE, "Monitor flickers")
    assert Delivery.objects.get().channel == Channel.SMS and len(sms_outbox(settings)) == 1


def test_stop_inside_a_sentence_is_an_ordinary_text(client: HttpClient, dana: Contact) -> None:
    text(client, "SM" + "f1" * 16, DANA_MOBILE, "Please stop the backup job, it slows everything")
    assert Ticket.objects.count() == 1 and not SmsOptOut.objects.exists()


def test_help_answers_with_how_to_reach_support_and_no_ticket(client: HttpClient, dana: Contact) -> None:
    response = text(client, "SM" + "a1" * 16, DANA_MOBILE, "help")

    content = response.content.decode()
    assert "<Message>" in content and "Northwind IT support" in content
    assert "support@msp.example" in content and f"{PUBLIC_URL}/request/" in content and "STOP" in content
    assert Ticket.objects.count() == 0
    assert InboundMessage.objects.get().reason == "help keyword HELP"


def sent_ack(dana: Contact, django_capture_on_commit_callbacks: Any, client: HttpClient) -> Delivery:
    with django_capture_on_commit_callbacks(execute=True):
        text(client, "SM" + "b1" * 16, DANA_MOBILE, "Laptop stolen")
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SENT
    return delivery


def status_callback(client: HttpClient, sid: str, status: str, **extra: str) -> Any:
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "1" * 32, **extra}
    return post_signed(client, params, name="hooks:twilio_sms_status")


def test_status_delivered_sets_delivered_at(
    client: HttpClient, dana: Contact, django_capture_on_commit_callbacks: Any
) -> None:
    delivery = sent_ack(dana, django_capture_on_commit_callbacks, client)
    assert status_callback(client, delivery.provider_message_id, "sent").status_code == 204
    delivery.refresh_from_db()
    assert delivery.delivered_at is None

    assert status_callback(client, delivery.provider_message_id, "delivered").status_code == 204
    delivery.refresh_from_db()
    assert delivery.delivered_at is not None and delivery.status == DeliveryStatus.SENT


@pytest.mark.parametrize("status", ["failed", "undelivered"])
def test_status_failed_marks_failed_with_timeline_event(
    client: HttpClient, dana: Contact, django_capture_on_commit_callbacks: Any, status: str
) -> None:
    delivery = sent_ack(dana, django_capture_on_commit_callbacks, client)
    response = status_callback(client, delivery.provider_message_id, status, ErrorCode="30003")

    assert response.status_code == 204
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and "30003" in delivery.last_error
    event = delivery.message.ticket.messages.get(kind=MessageKind.EVENT)
    assert (
        event.body_text
        == f"Text to {DANA_MOBILE} was not delivered: provider reported {status} (error 30003)."
    )
    # The provider reporting it again (or undelivered, then failed) writes nothing more.
    status_callback(client, delivery.provider_message_id, "failed", ErrorCode="30003")
    assert delivery.message.ticket.messages.filter(kind=MessageKind.EVENT).count() == 1


def test_status_for_unknown_sid_is_ignored(client: HttpClient, dana: Contact) -> None:
    assert status_callback(client, "SM" + "0" * 32, "failed").status_code == 204


def test_status_with_bad_signature_changes_nothing(
    client: HttpClient, dana: Contact, django_capture_on_commit_callbacks: Any
) -> None:
    delivery = sent_ack(dana, django_capture_on_commit_callbacks, client)
    params = {"MessageSid": delivery.provider_message_id, "MessageStatus": "failed"}
    response = post_signed(client, params, name="hooks:twilio_sms_status", signature="Zm9yZ2Vk")

    assert response.status_code == 403
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT


def test_a_first_text_reads_before_its_write_transaction_and_only_writes_inside(
    client: HttpClient, settings: Any, request: pytest.FixtureRequest
) -> None:
    """SQLite lets one transaction write at a time: what a new number's first text reads (who
    owns the number, whether it opted out) is read before its transaction takes that lock."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from firstcall.config_memo import clear_config_memos

    settings.FIRSTCALL_CONFIG_CACHE_SECONDS = 60  # as in production (the tests' default is off)
    # Memos of this test's settings must not outlive it.
    request.addfinalizer(clear_config_memos)
    clear_config_memos()
    text(client, "SM" + "f0" * 16, DANA_MOBILE, "warm up: the first request reads the settings")
    with CaptureQueriesContext(connection) as queries:
        text(client, "SM" + "f1" * 16, STRANGER, "The printer at the front desk is jammed")
    kinds = [query["sql"].split(None, 1)[0].upper() for query in queries.captured_queries]
    first_insert = kinds.index("INSERT")
    assert kinds[:first_insert].count("SELECT") == 2  # the number's owner, its opt-out
    assert "SELECT" not in kinds[first_insert:]
    # The payload, contact and number, ticket, its clocks, the text and the acknowledgment
    # (message and delivery), and two audit rows: ten rows, each its own INSERT.
    assert kinds.count("INSERT") == 10 and "UPDATE" not in kinds
    assert Ticket.objects.filter(requester__phone_numbers__number=STRANGER).count() == 1
