"""Fuzzing through the real views and the database: whatever a signed Twilio request, an alert
sender, a PBX or a visitor of the request form sends, the answer is never a server error (5xx):
the request is handled, or refused with a 4xx that says why."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from hypothesis import example, given
from hypothesis import strategies as st

from firstcall.accounts.models import ApiToken, User
from firstcall.clients.models import Client, Contact
from firstcall.intake.alerts import create_source
from tests.fuzz.payloads import (
    ALERTMANAGER,
    BODIES,
    FUZZ_VIEWS,
    GENERIC_ALERT,
    PBX_EVENT,
    TEXT,
    TWILIO_PARAMS,
    json_bytes,
)
from tests.twilio_standin import twilio_signature

pytestmark = pytest.mark.django_db

TOKEN = "fuzz-auth-token"
PUBLIC_URL = "https://help.msp.example"
TWILIO_HOOKS = [
    "hooks:twilio_sms",
    "hooks:twilio_sms_status",
    "hooks:twilio_voice",
    "hooks:twilio_voice_menu",
    "hooks:twilio_voice_dial_status",
    "hooks:twilio_voice_recorded",
    "hooks:twilio_voice_recording_status",
    "hooks:twilio_voice_transcription",
    "hooks:twilio_voice_status",
]


@pytest.fixture(autouse=True)
def _setup(settings: Any, tmp_path: Any, dental: Client, dana: Contact) -> None:
    settings.DATA_DIR = tmp_path
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.FIRSTCALL_PUBLIC_URL = PUBLIC_URL
    settings.FIRSTCALL_SMS_PROVIDER = "console"


def _not_a_server_error(response: Any, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.content[:300]!r}"


@FUZZ_VIEWS
@given(hook=st.sampled_from(TWILIO_HOOKS), params=TWILIO_PARAMS)
@example(hook="hooks:twilio_voice_recorded", params={"CallSid": "CA1", "RecordingUrl": "\x00"})
@example(hook="hooks:twilio_voice_status", params={"CallSid": "CA1", "CallDuration": "9" * 5000})
def test_signed_twilio_requests_never_get_a_server_error(hook: str, params: dict[str, str]) -> None:
    path = reverse(hook)
    # What a Twilio form can carry: no lone surrogates (the body is UTF-8 on the wire).
    params = {
        k.encode("utf-8", "replace").decode(): v.encode("utf-8", "replace").decode()
        for k, v in params.items()
    }
    signature = twilio_signature(TOKEN, PUBLIC_URL + path, params)
    response = HttpClient().post(
        path,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )
    _not_a_server_error(response, f"{hook} {params}")


@pytest.fixture
def alert_source(db: None) -> str:
    create_source("Prometheus", "prometheus", secret="fuzz-secret")
    return "fuzz-secret"


@FUZZ_VIEWS
@given(
    url=st.sampled_from(["/hooks/alertmanager/prometheus/", "/hooks/alerts/prometheus/"]),
    body=ALERTMANAGER.map(json_bytes) | GENERIC_ALERT.map(json_bytes) | BODIES,
)
@example(
    url="/hooks/alerts/prometheus/",
    body=b'{"title": "Disk \\u0000 full \\ud800", "client": "Bright Smile Dental"}',
)
@example(url="/hooks/alertmanager/prometheus/", body=b'{"alerts": [{"labels": {"alertname": "\\ud800"}}]}')
def test_alert_webhooks_never_get_a_server_error(alert_source: str, url: str, body: bytes) -> None:
    response = HttpClient().post(
        url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {alert_source}"
    )
    _not_a_server_error(response, f"{url} {body[:200]!r}")


@pytest.fixture
def pbx_token(alice: User) -> str:
    return ApiToken.issue(alice, "PBX")[1]


@FUZZ_VIEWS
@given(body=PBX_EVENT.map(json_bytes) | BODIES)
@example(body=b"[" * 100_000)
@example(
    body=b'{"call_id": "c\\u0000", "caller": "+13125550111", "callee": "x", "start": "2026-03-02T09:00:00Z",'
    b' "end": "2026-03-02T09:01:00Z", "answered": false, "voicemail_transcript": "\\ud800"}'
)
def test_the_pbx_call_event_webhook_never_gets_a_server_error(pbx_token: str, body: bytes) -> None:
    response = HttpClient().post(
        reverse("hooks:call_event"),
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {pbx_token}",
    )
    _not_a_server_error(response, repr(body[:200]))


@FUZZ_VIEWS
@given(
    fields=st.dictionaries(st.sampled_from(["email", "name", "subject", "description", "is_emergency"]), TEXT)
)
@example(fields={"email": "a@example.org", "subject": "x\x00", "description": "y"})
def test_the_request_form_never_gets_a_server_error(fields: dict[str, str]) -> None:
    data = {k: v.encode("utf-8", "replace").decode() for k, v in fields.items()}
    response = HttpClient().post(reverse("portal:request_form"), {**data, "token": str(uuid.uuid4())})
    _not_a_server_error(response, json.dumps(data)[:300])
