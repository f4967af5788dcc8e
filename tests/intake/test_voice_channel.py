"""The phone channel: Twilio Voice webhooks (IVR in TwiML, callbacks) and the generic PBX
call-event webhook, end to end through HTTP with correctly signed requests."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from twilio.request_validator import RequestValidator

from firstcall.accounts.models import ApiToken, User
from firstcall.clients.models import Client, Contact, PhoneNumber
from firstcall.intake.calls import FIRST_CONTACT_RESOLUTION
from firstcall.intake.models import CallOutcome, CallRecord, CallSource, InboundMessage
from firstcall.notify.models import Delivery
from firstcall.tickets.models import Channel, MessageKind, Ticket

AUTH_TOKEN = "twilio-test-auth-token"
PUBLIC_URL = "https://help.msp.example"
OUR_NUMBER = "+13125559000"
CALL_SID = "CA0f1e2d3c4b5a69788796a5b4c3d2e1f0"
ACCOUNT_SID = "AC11111111111111111111111111111111"
RECORDING_SID = "RE5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
TRANSCRIPTION_SID = "TR7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b"
RECORDING_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{RECORDING_SID}"
ERIN_PHONE = "+13125550177"

assert FIRST_CONTACT_RESOLUTION  # the constant issue 5 counts; tested in tests/console


@pytest.fixture(autouse=True)
def _twilio(settings: Any) -> None:
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.FIRSTCALL_PUBLIC_URL = PUBLIC_URL
    settings.FIRSTCALL_SMS_PROVIDER = "console"
    settings.FIRSTCALL_MSP_NAME = "Northwind IT"
    settings.FIRSTCALL_ON_DUTY_NUMBER = ""


def call_params(caller: str, **extra: str) -> dict[str, str]:
    """What Twilio posts about a call to our number (the inbound call webhook's fields)."""
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": CALL_SID,
        "CallStatus": "ringing",
        "Called": OUR_NUMBER,
        "Caller": caller,
        "CallerName": "",
        "Direction": "inbound",
        "From": caller,
        "FromCountry": "US",
        "To": OUR_NUMBER,
        "ToCountry": "US",
        **extra,
    }


def post_twilio(http: HttpClient, name: str, params: dict[str, str], *, token: str = AUTH_TOKEN) -> Any:
    """Post a form the way Twilio does, signed over our public URL."""
    path = reverse(f"hooks:{name}")
    signature = RequestValidator(token).compute_signature(PUBLIC_URL + path, params)
    return http.post(
        path,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )


def twiml_of(response: Any) -> ET.Element:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    return root


def hook(name: str) -> str:
    return PUBLIC_URL + reverse(f"hooks:{name}")


def assert_records_voicemail(root: ET.Element) -> None:
    record = root.find("Record")
    assert record is not None
    assert record.get("action") == hook("twilio_voice_recorded")
    assert record.get("maxLength") == "120"
    assert record.get("transcribe") == "true"
    assert record.get("transcribeCallback") == hook("twilio_voice_transcription")
    assert record.get("recordingStatusCallback") == hook("twilio_voice_recording_status")
    # Nothing recorded: Twilio skips the action and continues here; the call must end.
    assert root[-1].tag == "Hangup"


@pytest.fixture
def http() -> HttpClient:
    return HttpClient()


@pytest.fixture
def erin_on_duty(erin: User, settings: Any) -> User:
    erin.phone = "+1 (312) 555-0177"
    erin.save()
    settings.FIRSTCALL_ON_DUTY_NUMBER = ERIN_PHONE
    return erin


def test_known_caller_is_greeted_with_the_client_name_and_offered_the_emergency_key(
    http: HttpClient, dana: Contact, dental: Client
) -> None:
    root = twiml_of(post_twilio(http, "twilio_voice", call_params("+13125550111", CallerName="DANA REYES")))

    assert root[0].tag == "Say"
    assert root[0].text == "Thank you for calling Northwind IT, Bright Smile Dental."
    gather = root.find("Gather")
    assert gather is not None
    assert gather.attrib == {
        "action": hook("twilio_voice_menu"),
        "input": "dtmf",
        "method": "POST",
        "numDigits": "1",
        "timeout": "5",
    }
    prompt = gather.find("Say")
    assert prompt is not None and "emergency, press 1" in (prompt.text or "")
    # No key pressed: after the Gather, the call falls through to a voicemail.
    assert [child.tag for child in root] == ["Say", "Gather", "Say", "Record", "Say", "Hangup"]
    assert_records_voicemail(root)

    call = CallRecord.objects.get()
    assert (call.source, call.call_id, call.caller, call.callee) == (
        CallSource.TWILIO,
        CALL_SID,
        "+13125550111",
        OUR_NUMBER,
    )
    assert (call.client, call.contact, call.provider_status) == (dental, dana, "ringing")
    assert call.caller_name == "DANA REYES"
    assert call.outcome == CallOutcome.IN_PROGRESS


def test_unknown_caller_is_greeted_without_a_name(http: HttpClient, dental: Client) -> None:
    root = twiml_of(post_twilio(http, "twilio_voice", call_params("+14155550199")))

    assert root[0].text == "Thank you for calling Northwind IT."
    call = CallRecord.objects.get()
    assert call.client is None and call.contact is None


def test_client_main_line_is_greeted_with_the_client_name(http: HttpClient, dental: Client) -> None:
    root = twiml_of(post_twilio(http, "twilio_voice", call_params("+1 312 555 0100")))

    assert root[0].text == "Thank you for calling Northwind IT, Bright Smile Dental."


def test_pressing_1_with_an_on_duty_number_dials_it(
    http: HttpClient, dana: Contact, erin_on_duty: User
) -> None:
    post_twilio(http, "twilio_voice", call_params("+13125550111"))
    root = twiml_of(post_twilio(http, "twilio_voice_menu", call_params("+13125550111", Digits="1")))

    dial = root.find("Dial")
    assert dial is not None
    assert (dial.text or "").strip() == ERIN_PHONE
    assert dial.get("action") == hook("twilio_voice_dial_status")
    assert int(dial.get("timeout", "0")) > 0
    assert root.find("Record") is None
    assert CallRecord.objects.get().is_emergency is True


def test_pressing_1_without_an_on_duty_number_records_a_voicemail(http: HttpClient, dana: Contact) -> None:
    post_twilio(http, "twilio_voice", call_params("+13125550111"))
    root = twiml_of(post_twilio(http, "twilio_voice_menu", call_params("+13125550111", Digits="1")))

    assert root.find("Dial") is None
    assert_records_voicemail(root)
    assert CallRecord.objects.get().is_emergency is True


def test_pressing_2_records_a_voicemail_that_is_not_an_emergency(http: HttpClient, dana: Contact) -> None:
    post_twilio(http, "twilio_voice", call_params("+13125550111"))
    root = twiml_of(post_twilio(http, "twilio_voice_menu", call_params("+13125550111", Digits="2")))

    assert_records_voicemail(root)
    assert CallRecord.objects.get().is_emergency is False


def leave_emergency_voicemail(http: HttpClient, caller: str, *, run_on_commit: Any) -> None:
    """The whole call: ring, press 1 (nobody on duty), record, hang up; then the callbacks."""
    with run_on_commit(execute=True):
        post_twilio(http, "twilio_voice", call_params(caller, CallerName="DANA REYES"))
        post_twilio(http, "twilio_voice_menu", call_params(caller, Digits="1", CallStatus="in-progress"))
        recorded = post_twilio(
            http,
            "twilio_voice_recorded",
            call_params(
                caller,
                CallStatus="in-progress",
                RecordingSid=RECORDING_SID,
                RecordingUrl=RECORDING_URL,
                RecordingDuration="38",
                Digits="hangup",
            ),
        )
        root = twiml_of(recorded)
        assert root[-1].tag == "Hangup"
        status = post_twilio(
            http, "twilio_voice_status", call_params(caller, CallStatus="completed", CallDuration="61")
        )
        assert status.status_code == 204
        recording = post_twilio(
            http,
            "twilio_voice_recording_status",
            {
                "AccountSid": ACCOUNT_SID,
                "CallSid": CALL_SID,
                "RecordingSid": RECORDING_SID,
                "RecordingUrl": RECORDING_URL,
                "RecordingStatus": "completed",
                "RecordingDuration": "38",
                "RecordingChannels": "1",
                "RecordingSource": "RecordVerb",
            },
        )
        assert recording.status_code == 204
        transcription = post_twilio(
            http,
            "twilio_voice_transcription",
            call_params(
                caller,
                CallStatus="completed",
                TranscriptionSid=TRANSCRIPTION_SID,
                TranscriptionText="Hi, it's Dana, the server room is flooding and nothing works.",
                TranscriptionStatus="completed",
                TranscriptionType="fast",
                RecordingSid=RECORDING_SID,
                RecordingUrl=RECORDING_URL,
            ),
        )
        assert transcription.status_code == 204


def test_emergency_voicemail_opens_one_ticket_with_recording_and_transcript(
    http: HttpClient, dana: Contact, dental: Client, run_on_commit: Any
) -> None:
    leave_emergency_voicemail(http, "+13125550111", run_on_commit=run_on_commit)

    ticket = Ticket.objects.get()
    assert ticket.subject == "Voicemail from +13125550111"
    assert (ticket.channel, ticket.requester, ticket.client) == (Channel.PHONE, dana, dental)
    assert ticket.is_emergency is True
    assert ticket.priority == "P1"
    inbound = list(ticket.messages.filter(kind=MessageKind.INBOUND).order_by("id"))
    assert [m.rfc_message_id for m in inbound] == [
        f"call:{CALL_SID}",
        f"recording:{RECORDING_SID}",
        f"transcription:{TRANSCRIPTION_SID}",
    ]
    assert "left a voicemail" in inbound[0].body_text
    assert "pressed 1: this is an emergency" in inbound[0].body_text
    assert RECORDING_URL in inbound[1].body_text and "(38 s)" in inbound[1].body_text
    assert "server room is flooding" in inbound[2].body_text

    # Acknowledged by text to the caller's mobile, with the ticket number.
    delivery = Delivery.objects.get()
    assert (delivery.channel, delivery.to_address) == ("sms", "+13125550111")
    assert ticket.number in delivery.body_text

    call = CallRecord.objects.get()
    assert call.outcome == CallOutcome.VOICEMAIL
    assert (call.duration_seconds, call.provider_status, call.ticket) == (61, "completed", ticket)
    assert call.ended_at is not None
    assert call.recording_url == RECORDING_URL
    assert call.transcript.startswith("Hi, it's Dana")


def test_redelivered_callbacks_change_nothing(http: HttpClient, dana: Contact, run_on_commit: Any) -> None:
    leave_emergency_voicemail(http, "+13125550111", run_on_commit=run_on_commit)
    before = (Ticket.objects.count(), InboundMessage.objects.count(), Delivery.objects.count())
    messages_before = Ticket.objects.get().messages.count()

    leave_emergency_voicemail(http, "+13125550111", run_on_commit=run_on_commit)

    assert (Ticket.objects.count(), InboundMessage.objects.count(), Delivery.objects.count()) == before
    assert Ticket.objects.get().messages.count() == messages_before
    assert CallRecord.objects.count() == 1
    # The recording arrives twice per call (Record's action and the status callback): counted.
    recording = InboundMessage.objects.get(external_id=f"recording:{RECORDING_SID}")
    assert recording.duplicate_deliveries == 3


def test_recording_callback_before_the_action_still_makes_one_ticket(http: HttpClient, dana: Contact) -> None:
    post_twilio(http, "twilio_voice", call_params("+13125550111"))
    post_twilio(
        http,
        "twilio_voice_recording_status",
        {
            "AccountSid": ACCOUNT_SID,
            "CallSid": CALL_SID,
            "RecordingSid": RECORDING_SID,
            "RecordingUrl": RECORDING_URL,
            "RecordingStatus": "completed",
            "RecordingDuration": "12",
        },
    )
    post_twilio(
        http,
        "twilio_voice_recorded",
        call_params("+13125550111", RecordingSid=RECORDING_SID, RecordingUrl=RECORDING_URL),
    )

    ticket = Ticket.objects.get()
    assert ticket.subject == "Voicemail from +13125550111"
    assert ticket.messages.filter(kind=MessageKind.INBOUND).count() == 2


def test_abandoned_call_from_unknown_number_opens_a_missed_call_ticket(
    http: HttpClient, dental: Client
) -> None:
    caller = "+14155550199"
    post_twilio(http, "twilio_voice", call_params(caller, CallerName="SAN FRANCISCO CA"))
    post_twilio(http, "twilio_voice_status", call_params(caller, CallStatus="completed", CallDuration="7"))

    ticket = Ticket.objects.get()
    assert ticket.subject == f"Missed call from {caller}"
    assert ticket.is_emergency is False
    assert ticket.unverified_requester is True and ticket.client is None
    body = ticket.messages.get(kind=MessageKind.INBOUND).body_text
    assert "hung up before anyone answered" in body and "7 s" in body
    # The unknown caller became an unverified contact with that phone.
    contact = ticket.requester
    assert contact.client is None
    assert PhoneNumber.objects.filter(contact=contact, number=caller).exists()
    assert CallRecord.objects.get().outcome == CallOutcome.ABANDONED
    assert Delivery.objects.get().to_address == caller


def test_call_that_never_got_past_ringing_is_abandoned(http: HttpClient, dana: Contact) -> None:
    post_twilio(
        http, "twilio_voice_status", call_params("+13125550111", CallStatus="no-answer", CallDuration="0")
    )

    call = CallRecord.objects.get()
    assert (call.outcome, call.provider_status) == (CallOutcome.ABANDONED, "no-answer")
    assert call.ticket is not None and call.ticket.subject == "Missed call from +13125550111"


def test_answered_emergency_call_is_recorded_without_a_ticket(
    http: HttpClient, dana: Contact, erin_on_duty: User
) -> None:
    post_twilio(http, "twilio_voice", call_params("+13125550111"))
    post_twilio(http, "twilio_voice_menu", call_params("+13125550111", Digits="1"))
    root = twiml_of(
        post_twilio(
            http,
            "twilio_voice_dial_status",
            call_params(
                "+13125550111",
                CallStatus="in-progress",
                DialCallStatus="completed",
                DialCallSid="CAffffffffffffffffffffffffffffffff",
                DialCallDuration="240",
            ),
        )
    )
    assert [child.tag for child in root] == ["Hangup"]
    post_twilio(
        http, "twilio_voice_status", call_params("+13125550111", CallStatus="completed", CallDuration="262")
    )

    call = CallRecord.objects.get()
    assert call.outcome == CallOutcome.ANSWERED
    assert (call.answered_by, call.answered_by_number) == (erin_on_duty, ERIN_PHONE)
    assert call.duration_seconds == 262 and call.is_emergency is True
    assert call.ticket is None
    assert not Ticket.objects.exists()
    assert not InboundMessage.objects.exists()


def test_unanswered_dial_falls_back_to_voicemail(http: HttpClient, dana: Contact, erin_on_duty: User) -> None:
    post_twilio(http, "twilio_voice", call_params("+13125550111"))
    post_twilio(http, "twilio_voice_menu", call_params("+13125550111", Digits="1"))
    root = twiml_of(
        post_twilio(http, "twilio_voice_dial_status", call_params("+13125550111", DialCallStatus="no-answer"))
    )

    assert_records_voicemail(root)
    assert CallRecord.objects.get().outcome == CallOutcome.IN_PROGRESS


@pytest.mark.parametrize(
    "name", ["twilio_voice", "twilio_voice_menu", "twilio_voice_recorded", "twilio_voice_status"]
)
def test_bad_signature_is_refused_and_nothing_is_stored(http: HttpClient, dana: Contact, name: str) -> None:
    params = call_params(
        "+13125550111", CallStatus="completed", RecordingSid=RECORDING_SID, RecordingUrl=RECORDING_URL
    )

    forged = post_twilio(http, name, params, token="not-our-token")
    unsigned = http.post(
        reverse(f"hooks:{name}"), urlencode(params), content_type="application/x-www-form-urlencoded"
    )

    assert (forged.status_code, unsigned.status_code) == (403, 403)
    assert not CallRecord.objects.exists()
    assert not InboundMessage.objects.exists()
    assert not Ticket.objects.exists()


def test_tampered_parameters_are_refused(http: HttpClient, dana: Contact) -> None:
    params = call_params("+13125550111")
    path = reverse("hooks:twilio_voice")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_URL + path, params)
    tampered = {**params, "From": "+19995550000"}

    response = http.post(
        path,
        urlencode(tampered),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )

    assert response.status_code == 403
    assert not CallRecord.objects.exists()


def test_missing_call_sid_is_a_clear_400(http: HttpClient) -> None:
    params = {k: v for k, v in call_params("+13125550111").items() if k != "CallSid"}

    response = post_twilio(http, "twilio_voice", params)

    assert response.status_code == 400
    assert b"CallSid" in response.content


def test_withheld_number_still_opens_a_ticket_under_an_unverified_requester(
    http: HttpClient, db: None
) -> None:
    post_twilio(http, "twilio_voice", call_params("anonymous"))
    post_twilio(
        http, "twilio_voice_status", call_params("anonymous", CallStatus="completed", CallDuration="4")
    )

    call = CallRecord.objects.get()
    assert (call.outcome, call.caller) == (CallOutcome.ABANDONED, "")
    ticket = Ticket.objects.get()
    assert call.ticket == ticket
    assert ticket.subject == "Missed call from a withheld number"
    assert ticket.unverified_requester and ticket.requester.email == ""
    # Nobody to write to: the timeline says so instead of an acknowledgment.
    assert ticket.messages.filter(body_text__startswith="Acknowledgment not sent:").exists()


# --- Generic PBX call-event webhook ---------------------------------------------------------


@pytest.fixture
def pbx_token(alice: User) -> str:
    _token, plain = ApiToken.issue(alice, "3CX call events")
    return plain


def post_event(http: HttpClient, body: bytes | dict[str, Any], token: str | None) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http.post(reverse("hooks:call_event"), data, content_type="application/json", **headers)


PBX_VOICEMAIL = {
    "call_id": "3cx-2026-11-23-000412",
    "caller": "+1 312 555 0111",
    "callee": "+1 312 555 9000",
    "start": "2026-11-23T15:02:11+01:00",
    "end": "2026-11-23T14:03:05Z",
    "answered": False,
    "recording_url": "https://pbx.msp.example/recordings/000412.wav",
    "voicemail_transcript": "Printer on the second floor is jammed again.",
}


def test_pbx_unanswered_call_opens_a_ticket_through_the_pipeline(
    http: HttpClient, pbx_token: str, dana: Contact
) -> None:
    response = post_event(http, PBX_VOICEMAIL, pbx_token)

    assert response.status_code == 200, response.content
    ticket = Ticket.objects.get()
    assert response.json() == {
        "call_id": "3cx-2026-11-23-000412",
        "outcome": "voicemail",
        "ticket": ticket.number,
    }
    assert (ticket.subject, ticket.requester, ticket.channel) == (
        "Voicemail from +13125550111",
        dana,
        Channel.PHONE,
    )
    body = ticket.messages.get(kind=MessageKind.INBOUND).body_text
    assert "https://pbx.msp.example/recordings/000412.wav" in body
    assert "Printer on the second floor" in body
    assert "54 s" in body
    assert "on 2026-11-23 at 14:02 UTC" in body
    call = CallRecord.objects.get()
    assert (call.source, call.outcome, call.duration_seconds, call.ticket) == (
        CallSource.PBX,
        CallOutcome.VOICEMAIL,
        54,
        ticket,
    )
    assert Delivery.objects.get().channel == "sms"

    again = post_event(http, PBX_VOICEMAIL, pbx_token)
    assert again.status_code == 200 and again.json()["ticket"] == ticket.number
    assert (Ticket.objects.count(), CallRecord.objects.count(), InboundMessage.objects.count()) == (1, 1, 1)


def test_pbx_answered_call_is_a_record_only(http: HttpClient, pbx_token: str, dana: Contact) -> None:
    event = {**PBX_VOICEMAIL, "call_id": "3cx-000413", "answered": True, "recording_url": None}
    del event["voicemail_transcript"]

    response = post_event(http, event, pbx_token)

    assert response.status_code == 200
    assert response.json() == {"call_id": "3cx-000413", "outcome": "answered", "ticket": None}
    call = CallRecord.objects.get()
    assert (call.outcome, call.contact, call.client_id) == (CallOutcome.ANSWERED, dana, dana.client_id)
    assert not Ticket.objects.exists()


def test_pbx_abandoned_call_is_a_missed_call(http: HttpClient, pbx_token: str, dana: Contact) -> None:
    event = {k: v for k, v in PBX_VOICEMAIL.items() if k not in ("recording_url", "voicemail_transcript")}

    response = post_event(http, event, pbx_token)

    assert response.json()["outcome"] == "abandoned"
    assert Ticket.objects.get().subject == "Missed call from +13125550111"


def test_pbx_webhook_refuses_missing_and_wrong_tokens(
    http: HttpClient, pbx_token: str, dana: Contact
) -> None:
    missing = post_event(http, PBX_VOICEMAIL, None)
    wrong = post_event(http, PBX_VOICEMAIL, "fc_not-a-token")

    assert missing.status_code == 401 and "Authorization: Bearer" in missing.json()["error"]
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert wrong.status_code == 401 and "not valid" in wrong.json()["error"]
    assert not CallRecord.objects.exists() and not InboundMessage.objects.exists()


def test_pbx_webhook_explains_bad_json_and_missing_fields(
    http: HttpClient, pbx_token: str, dana: Contact
) -> None:
    bad_json = post_event(http, b'{"call_id": "x", ', pbx_token)
    not_object = post_event(http, b"[1, 2]", pbx_token)
    missing = post_event(http, {"call_id": "x", "caller": "+13125550111"}, pbx_token)
    bad_time = post_event(http, {**PBX_VOICEMAIL, "start": "yesterday"}, pbx_token)
    bad_answered = post_event(http, {**PBX_VOICEMAIL, "answered": "no"}, pbx_token)

    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["error"]
    assert not_object.status_code == 422 and "JSON object" in not_object.json()["error"]
    assert missing.status_code == 422
    assert "missing fields: callee, start, end, answered" in missing.json()["error"]
    assert bad_time.status_code == 422 and "start must be an ISO 8601" in bad_time.json()["error"]
    assert (
        bad_answered.status_code == 422 and "answered must be true or false" in bad_answered.json()["error"]
    )
    assert not CallRecord.objects.exists() and not InboundMessage.objects.exists()


def test_pbx_webhook_refuses_an_oversize_body(
    http: HttpClient, pbx_token: str, settings: Any, dana: Contact
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    event = {**PBX_VOICEMAIL, "voicemail_transcript": "words " * 2000}

    response = post_event(http, event, pbx_token)

    assert response.status_code == 413 and "larger than 4096 bytes" in response.json()["error"]
    assert not CallRecord.objects.exists() and not InboundMessage.objects.exists()


def test_pbx_webhook_is_post_only(http: HttpClient, pbx_token: str) -> None:
    response = http.get(reverse("hooks:call_event"), HTTP_AUTHORIZATION=f"Bearer {pbx_token}")

    assert response.status_code == 405
