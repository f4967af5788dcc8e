"""Property tests: every channel's parser, given anything at all — random bytes, any JSON, or a
payload of the channel's shape with anything in its fields — either gives the pipeline its input
or raises the pipeline's ``Rejected`` with a reason. Never another exception: one would leave a
stored payload failing on every retry (or, in a webhook, answer 500 and be sent again).

No database: the interpreters read an unsaved InboundMessage, as the pipeline's ``prepare`` does.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from hypothesis import example, given
from hypothesis import strategies as st

from firstcall.intake.channels import alert, api, email, phone, sms, web
from firstcall.intake.email_parser import EmailRejected, parse_email
from firstcall.intake.models import InboundMessage
from firstcall.intake.request import BounceNotice, IncomingRequest, Rejected
from firstcall.intake.webhooks import form_params
from firstcall.tickets.models import Channel
from tests.fuzz.payloads import (
    ALERTMANAGER,
    API_PAYLOAD,
    BODIES,
    FUZZ,
    GENERIC_ALERT,
    JSON_VALUES,
    PBX_EVENT,
    PORTAL_REPLY,
    TEXT,
    TWILIO_PARAMS,
    WEB_FORM,
    json_bytes,
)

Interpret = Any


def interpreted(
    interpret: Interpret, channel: Channel, raw: bytes, metadata: dict[str, Any] | None = None
) -> IncomingRequest | BounceNotice | None:
    """The interpreter's result, or None when it rejected the payload (the one allowed refusal)."""
    inbound = InboundMessage(channel=channel, external_id="fuzz", raw=raw, metadata=metadata or {})
    try:
        result = interpret(inbound)
    except Rejected as rejection:
        assert isinstance(rejection.reason, str) and rejection.reason
        return None
    assert isinstance(result, IncomingRequest | BounceNotice)
    if isinstance(result, IncomingRequest):
        assert isinstance(result.subject, str) and isinstance(result.body_text, str)
    return result


# --- Email ----------------------------------------------------------------------------------------

HEADER_NAMES = st.sampled_from(
    [
        "From",
        "To",
        "Cc",
        "Reply-To",
        "Subject",
        "Date",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Auto-Submitted",
        "X-Autoreply",
        "Precedence",
        "X-Firstcall-Loop",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
        "MIME-Version",
        "Return-Path",
    ]
)
HEADER_VALUES = TEXT | st.sampled_from(
    [
        "Dana <dana@brightsmile.example>",
        "=?utf-8?b?w6k=?= <x@y>",
        "=?bogus?q?=FF?=",
        "<a@b> <c@d>",
        'multipart/mixed; boundary="b1"',
        "multipart/report; report-type=delivery-status; boundary=b1",
        "message/rfc822",
        "text/html; charset=utf-7",
        "text/plain; charset=no-such-charset",
        "base64",
        "quoted-printable",
        'attachment; filename="invoice.pdf.exe"',
        "auto-replied",
        "Re: [T-000001] Printer",
    ]
)
PARTS = st.lists(
    st.tuples(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=4), st.binary(max_size=120) | TEXT),
    max_size=4,
)


def _header_block(headers: list[tuple[str, str]]) -> bytes:
    return b"".join(f"{name}: {value}\r\n".encode("utf-8", "surrogatepass") for name, value in headers)


def _as_bytes(body: bytes | str) -> bytes:
    return body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")


@st.composite
def emails(draw: st.DrawFn) -> bytes:
    """Headers, then a body that is sometimes a multipart of fuzzed parts."""
    headers = draw(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=10))
    if draw(st.booleans()):
        parts = draw(PARTS)
        body = b"".join(b"--b1\r\n" + _header_block(h) + b"\r\n" + _as_bytes(b) + b"\r\n" for h, b in parts)
        headers.append(("Content-Type", 'multipart/mixed; boundary="b1"'))
        body += b"--b1--\r\n" if draw(st.booleans()) else b""
    else:
        body = _as_bytes(draw(st.binary(max_size=400) | TEXT))
    return _header_block(headers) + b"\r\n" + body


@FUZZ
@given(raw=emails() | st.binary(max_size=600), to_verify=st.booleans(), mail_from=st.none() | TEXT)
@example(raw=b"From: a@b\r\nSubject: x\r\n\r\n" + b"> " * 3000, to_verify=False, mail_from="<>")
def test_any_email_is_interpreted_or_rejected(raw: bytes, to_verify: bool, mail_from: str | None) -> None:
    metadata: dict[str, Any] = {
        "source": "smtp",
        "rcpt_tos": ["verify@msp.example" if to_verify else "support@msp.example"],
    }
    if mail_from is not None:
        metadata["mail_from"] = mail_from
    interpreted(email.interpret, Channel.EMAIL, raw, metadata)
    assert email.external_id(raw)


@FUZZ
@given(raw=emails() | st.binary(max_size=600), limit=st.integers(min_value=0, max_value=200))
def test_the_email_parser_raises_only_its_rejection(raw: bytes, limit: int) -> None:
    try:
        parse_email(raw, max_attachment_bytes=limit)
    except EmailRejected as rejection:
        assert rejection.reason


# --- Twilio SMS and voice form bodies ----------------------------------------------------------------


def _form(params: dict[str, str]) -> bytes:
    return urlencode(params, encoding="utf-8", errors="surrogatepass").encode()


@FUZZ
@given(raw=TWILIO_PARAMS.map(_form) | st.binary(max_size=400))
@example(raw=b"From=%2B13125550111&Body=hi&MediaUrl" + b"9" * 5000 + b"=https://x")
@example(raw=b"From=%2B13125550111&Body=" + b"x" * 70_000)
def test_any_text_message_is_interpreted_or_rejected(raw: bytes) -> None:
    interpreted(sms.interpret, Channel.SMS, raw)
    assert sms.external_id(raw)
    assert isinstance(form_params(raw), dict)


CALL_FACTS = st.fixed_dictionaries(
    {
        "outcome": st.sampled_from(["voicemail", "abandoned", "answered"]),
        "caller": TEXT | st.just("+13125550111"),
        "caller_name": TEXT,
        "callee": TEXT,
        "started_at": st.just("2026-03-02T09:00:00+00:00"),
        "duration_seconds": st.none() | st.integers(min_value=0, max_value=10**6),
        "is_emergency": st.booleans(),
        "recording_url": TEXT,
        "transcript": TEXT,
    }
)


@FUZZ
@given(
    event=st.sampled_from(["call", "recording", "transcription", "logged_call", "other"]),
    call=CALL_FACTS,
    raw=TWILIO_PARAMS.map(_form) | JSON_VALUES.map(json_bytes) | BODIES,
    thread_key=st.sampled_from(["", "call:CA1"]),
)
def test_any_call_payload_is_interpreted_or_rejected(
    event: str, call: dict[str, Any], raw: bytes, thread_key: str
) -> None:
    """The raw body is from outside (Twilio's callback, the console's logged call); the call's
    facts in the metadata come from Twilio's parameters through firstcall.intake.calls."""
    metadata = {"event": event, "call": call, "thread_key": thread_key}
    interpreted(phone.interpret, Channel.PHONE, raw, metadata)


# --- Alerts --------------------------------------------------------------------------------------


@FUZZ
@given(
    format=st.sampled_from([alert.ALERTMANAGER, alert.GENERIC]),
    raw=ALERTMANAGER.map(json_bytes) | GENERIC_ALERT.map(json_bytes) | BODIES,
    client_label=st.sampled_from(["client", "customer", ""]),
)
@example(format=alert.ALERTMANAGER, raw=b'{"alerts": [{"labels": {"a": "\\ud800"}}]}', client_label="client")
@example(format=alert.GENERIC, raw=b"[" * 100_000, client_label="client")
def test_any_alert_payload_is_parsed_or_rejected(format: str, raw: bytes, client_label: str) -> None:
    try:
        notification = alert.parse(format, raw, client_label)
    except Rejected:
        return
    assert notification.alerts
    for item in notification.alerts:
        assert alert.describe(item) and item.headline()
    metadata = {
        "format": format,
        "client_label": client_label,
        "requester_email": "alerts@brightsmile.example",
        "fingerprints": [notification.alerts[0].fingerprint],
    }
    interpreted(alert.interpret, Channel.ALERT, raw, metadata)


# --- PBX call events, the web form, the portal's replies, the API ---------------------------------


@FUZZ
@given(data=PBX_EVENT | JSON_VALUES)
def test_any_pbx_call_event_is_parsed_or_rejected(data: Any) -> None:
    try:
        event = phone.parse_pbx_event(data)
    except Rejected:
        return
    assert event.duration_seconds >= 0 and event.call_id


@FUZZ
@given(raw=WEB_FORM.map(json_bytes) | PORTAL_REPLY.map(json_bytes) | BODIES)
@example(raw=b'{"kind": "portal_reply", "email": "a@b", "ticket_id": Infinity, "body": "x"}')
def test_any_web_payload_is_interpreted_or_rejected(raw: bytes) -> None:
    interpreted(web.interpret, Channel.WEB, raw)


@FUZZ
@given(raw=API_PAYLOAD.map(json_bytes) | BODIES)
@example(raw=b'{"requester_email": "a@b", "body": "x", "ticket_id": 1e999}')
@example(raw=b'["requester_email"]')
def test_any_api_payload_is_interpreted_or_rejected(raw: bytes) -> None:
    interpreted(api.interpret, Channel.API, raw)
