"""Hypothesis strategies for what arrives from outside: any bytes, any JSON, and payloads shaped
like each channel's (the right field names with anything in them), so the fuzzing reaches past
the first check of each parser.

Every property test uses ``FUZZ``: derandomized (the same examples on every run, so CI is
stable), no example database, a bounded number of examples.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
# Tests that send each example through a view and the database: fewer examples.
FUZZ_VIEWS = settings(
    FUZZ,
    max_examples=40,
    suppress_health_check=[*FUZZ.suppress_health_check, HealthCheck.function_scoped_fixture],
)

# Text with what breaks parsers: control characters, NUL, lone surrogates (JSON can carry
# them as \ud800), right-to-left marks, very long digits.
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=60) | st.sampled_from(
    ["", " ", "\x00", "\ud800", "\u202e", "0" * 5000, "1e999", "NaN", "-1", "T-000001", "<script>"]
)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | TEXT
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)


def json_bytes(value: Any) -> bytes:
    """JSON as a sender may write it: Python's json also reads NaN and Infinity, and \\ud800."""
    return json.dumps(value, allow_nan=True).encode()


def shaped(fields: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with some of these fields, each a value of its usual kind or anything at all."""
    return st.fixed_dictionaries(
        {}, optional={name: usual | JSON_VALUES for name, usual in fields.items()}
    ) | st.dictionaries(TEXT, JSON_VALUES, max_size=3)


BODIES = st.one_of(
    st.binary(max_size=400),
    JSON_VALUES.map(json_bytes),
    st.sampled_from([b"[" * 5000, b'{"a":' * 5000, b"\xff\xfe", b"", b"null", b"1" * 5000]),
)

# --- Shapes of each channel's payload --------------------------------------------------------------

LABELS = st.dictionaries(st.sampled_from(["alertname", "severity", "instance", "client", "job"]) | TEXT, TEXT)
ALERTMANAGER_ALERT = shaped(
    {
        "status": st.sampled_from(["firing", "resolved", "FIRING", ""]),
        "labels": LABELS,
        "annotations": st.dictionaries(st.sampled_from(["summary", "description"]) | TEXT, TEXT),
        "startsAt": TEXT,
        "endsAt": st.just("0001-01-01T00:00:00Z") | TEXT,
        "generatorURL": TEXT,
        "fingerprint": TEXT,
    }
)
ALERTMANAGER = shaped(
    {
        "version": st.sampled_from(["4", "3", ""]),
        "status": st.sampled_from(["firing", "resolved"]),
        "receiver": TEXT,
        "groupKey": TEXT,
        "groupLabels": LABELS,
        "commonAnnotations": st.dictionaries(TEXT, TEXT),
        "externalURL": TEXT,
        "truncatedAlerts": st.integers() | TEXT,
        "alerts": st.lists(ALERTMANAGER_ALERT, max_size=4),
    }
)
GENERIC_ALERT = shaped(
    {
        name: TEXT
        for name in ("title", "source", "host", "dedupe_key", "severity", "description", "url", "client")
    }
    | {"status": st.sampled_from(["firing", "resolved", "open"])}
)
PBX_EVENT = shaped(
    {
        "call_id": TEXT,
        "caller": st.sampled_from(["+13125550111", "anonymous", ""]) | TEXT,
        "callee": TEXT,
        "start": st.sampled_from(["2026-03-02T09:00:00Z", "2026-03-02T09:00:00", "9999-12-31T23:59:59+14:00"])
        | TEXT,
        "end": st.sampled_from(["2026-03-02T09:05:00Z", "0001-01-01T00:00:00-14:00"]) | TEXT,
        "answered": st.booleans(),
        "recording_url": st.sampled_from(["https://pbx.example/r.wav", "ftp://x"]) | TEXT,
        "voicemail_transcript": TEXT,
    }
)
WEB_FORM = shaped(
    {"email": st.sampled_from(["a@example.org", "@", ""]) | TEXT, "name": TEXT, "subject": TEXT}
    | {"description": TEXT, "is_emergency": st.booleans()}
)
PORTAL_REPLY = shaped(
    {
        "kind": st.just("portal_reply"),
        "email": st.just("dana@brightsmile.example") | TEXT,
        "ticket_id": st.integers() | st.floats() | TEXT,
        "body": TEXT,
        "subject": TEXT,
        "attachments": st.lists(
            shaped(
                {
                    "filename": TEXT,
                    "content_type": TEXT,
                    "content_base64": st.sampled_from(["aGVsbG8=", "!!", ""]) | TEXT,
                }
            ),
            max_size=2,
        ),
    }
)
API_PAYLOAD = shaped(
    {
        "requester_email": TEXT,
        "requester_name": TEXT,
        "subject": TEXT,
        "body": TEXT,
        "ticket_id": st.integers() | st.floats() | TEXT,
        "is_emergency": st.booleans(),
        "acknowledge": st.booleans(),
    }
)
# Twilio's form parameters (SMS, voice, recordings, transcriptions), with anything in them.
TWILIO_NAMES = st.sampled_from(
    [
        "MessageSid",
        "AccountSid",
        "From",
        "To",
        "Body",
        "NumMedia",
        "MediaUrl0",
        "MediaContentType0",
        "MediaUrl" + "9" * 5000,
        "CallSid",
        "CallStatus",
        "Digits",
        "DialCallStatus",
        "CallDuration",
        "RecordingSid",
        "RecordingUrl",
        "RecordingDuration",
        "TranscriptionSid",
        "TranscriptionStatus",
        "TranscriptionText",
        "CallerName",
    ]
)
TWILIO_PARAMS = st.dictionaries(
    TWILIO_NAMES | TEXT,
    st.sampled_from(["+13125550111", "1", "completed", "STOP", "https://api.twilio.com/x"]) | TEXT,
    max_size=8,
)
