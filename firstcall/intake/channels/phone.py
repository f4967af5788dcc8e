"""Phone calls → IncomingRequest. No database here: what a call was (who called, whether 1 was
pressed, whether a voicemail was left) is gathered over several webhook requests by
``firstcall.intake.calls`` and handed over in the stored payload's metadata.

Payload kinds (``metadata["event"]``):
- ``call``: an unanswered call (voicemail or abandoned) from Twilio or a PBX; the facts are in
  ``metadata["call"]``, the raw bytes are the request that concluded the call.
- ``recording`` / ``transcription``: a Twilio recording or transcription callback (form body),
  attached to the call's ticket through ``replies_to``.
- ``logged_call``: a call a technician took and logged in the console (JSON).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from firstcall.clients.models import normalize_phone
from firstcall.intake.models import InboundMessage
from firstcall.intake.request import IncomingRequest, Person, Rejected
from firstcall.intake.webhooks import form_params
from firstcall.tickets.models import Channel

VOICEMAIL = "voicemail"
ABANDONED = "abandoned"

# Fields a PBX call event must carry (docs/phone.md).
PBX_REQUIRED_FIELDS = ("call_id", "caller", "callee", "start", "end", "answered")
MAX_PBX_CALL_ID = 200


def interpret(inbound: InboundMessage) -> IncomingRequest:
    metadata: dict[str, Any] = inbound.metadata or {}
    event = metadata.get("event")
    if event == "call":
        return _unanswered_call(metadata)
    if event == "recording":
        return _recording(bytes(inbound.raw), metadata)
    if event == "transcription":
        return _transcription(bytes(inbound.raw), metadata)
    if event == "logged_call":
        return _logged_call(bytes(inbound.raw), inbound.external_id)
    raise Rejected(f"phone payload of unknown kind {event!r}")


WITHHELD = "a withheld number"


def _caller(call: dict[str, Any]) -> Person:
    phone = normalize_phone(str(call.get("caller", "")))
    name = str(call.get("caller_name", "")).strip()
    if not phone:
        # A withheld number ("anonymous") still gets a ticket — an emergency caller may hide
        # their number — under a new unverified requester nobody can be written to.
        return Person(name=name or f"Caller from {WITHHELD}")
    return Person(phone=phone, name=name)


def _when(call: dict[str, Any]) -> str:
    started = call.get("started_at")
    if not started:
        return ""
    return f" on {datetime.fromisoformat(started).astimezone(UTC):%Y-%m-%d at %H:%M} UTC"


def describe_call(call: dict[str, Any]) -> tuple[str, str]:
    """The subject and body of a ticket opened by an unanswered call."""
    person = _caller(call)
    number = person.phone or WITHHELD
    who = f"{person.name} ({number})" if person.name and person.phone else person.name or number
    callee = call.get("callee") or "our number"
    duration = call.get("duration_seconds")
    lasting = f", the call lasted {duration} s" if duration is not None else ""
    lines = []
    if call.get("outcome") == VOICEMAIL:
        subject = f"Voicemail from {number}"
        lines.append(f"{who} called {callee}{_when(call)} and left a voicemail{lasting}.")
    else:
        subject = f"Missed call from {number}"
        lines.append(f"{who} called {callee}{_when(call)} and hung up before anyone answered{lasting}.")
    if call.get("is_emergency"):
        lines.append("The caller pressed 1: this is an emergency.")
    if call.get("recording_url"):
        lines.append(f"Recording: {call['recording_url']}")
    if call.get("transcript"):
        lines.append(f"Voicemail transcript:\n{call['transcript']}")
    return subject, "\n".join(lines)


def _unanswered_call(metadata: dict[str, Any]) -> IncomingRequest:
    call = metadata.get("call")
    if not isinstance(call, dict) or call.get("outcome") not in (VOICEMAIL, ABANDONED):
        raise Rejected("phone call payload without an unanswered call's facts")
    subject, body = describe_call(call)
    return IncomingRequest(
        sender=_caller(call),
        subject=subject,
        body_text=body,
        rfc_message_id=str(metadata.get("thread_key", "")),
        is_emergency=bool(call.get("is_emergency")),
        acknowledge_by=Channel.SMS,
    )


def _follow_up(metadata: dict[str, Any], subject: str, body: str, message_id: str) -> IncomingRequest:
    call = metadata.get("call")
    thread_key = str(metadata.get("thread_key", ""))
    if not isinstance(call, dict) or not thread_key:
        raise Rejected("recording or transcription for a call we have no record of")
    return IncomingRequest(
        sender=_caller(call),
        subject=subject,
        body_text=body,
        rfc_message_id=message_id,
        replies_to=(thread_key,),
        acknowledge_by=Channel.SMS,
    )


def _recording(raw: bytes, metadata: dict[str, Any]) -> IncomingRequest:
    params = form_params(raw)
    sid = params.get("RecordingSid", "")
    url = params.get("RecordingUrl", "")
    if not sid or not url:
        raise Rejected("recording callback without RecordingSid or RecordingUrl")
    duration = params.get("RecordingDuration", "")
    length = f" ({duration} s)" if duration else ""
    return _follow_up(
        metadata, "Voicemail recording", f"Voicemail recording{length}: {url}", f"recording:{sid}"
    )


def _transcription(raw: bytes, metadata: dict[str, Any]) -> IncomingRequest:
    params = form_params(raw)
    sid = params.get("TranscriptionSid", "")
    if not sid:
        raise Rejected("transcription callback without TranscriptionSid")
    status = params.get("TranscriptionStatus", "")
    text = params.get("TranscriptionText", "").strip()
    if status == "completed" and text:
        body = f"Voicemail transcript:\n{text}"
    else:
        outcome = status or "unknown"
        body = f"The voicemail could not be transcribed (status: {outcome}); listen to the recording."
    return _follow_up(metadata, "Voicemail transcript", body, f"transcription:{sid}")


def _logged_call(raw: bytes, external_id: str) -> IncomingRequest:
    try:
        fields = json.loads(raw)
        caller = normalize_phone(str(fields["caller"]))
        description = str(fields["description"]).strip()
        subject = str(fields.get("subject", "")).strip()
        taken_by = str(fields["taken_by"]).strip()
    except (ValueError, KeyError, TypeError, RecursionError) as error:
        raise Rejected(f"logged call is not readable: {error}") from None
    if not caller:
        raise Rejected("logged call without the caller's number")
    resolved = bool(fields.get("resolved_on_first_contact", False))
    return IncomingRequest(
        sender=Person(phone=caller, name=str(fields.get("caller_name", "")).strip()),
        subject=subject or f"Phone call from {caller}",
        body_text=description,
        rfc_message_id=external_id,
        intake_notes=(f"Phone call taken and logged by {taken_by}.",),
        is_emergency=bool(fields.get("is_emergency", False)),
        acknowledge_by=Channel.SMS,
        no_acknowledgment_reason="the call was resolved on first contact" if resolved else "",
    )


@dataclass(frozen=True)
class PbxCallEvent:
    """One call reported by a PBX through the generic call-event webhook."""

    call_id: str
    caller: str
    callee: str
    start: datetime
    end: datetime
    answered: bool
    recording_url: str = ""
    voicemail_transcript: str = ""

    @property
    def duration_seconds(self) -> int:
        return max(0, round((self.end - self.start).total_seconds()))


def _timestamp(data: dict[str, Any], name: str) -> datetime:
    value = data[name]
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise Rejected(f"{name} must be an ISO 8601 date and time, got {value!r}") from None
    if parsed.tzinfo is None:
        raise Rejected(f"{name} must carry a UTC offset (e.g. 2026-11-23T09:15:00Z), got {value!r}")
    return parsed


def parse_pbx_event(data: object) -> PbxCallEvent:
    """Validate a PBX call-event body; Rejected names every missing field, or the first bad one."""
    if not isinstance(data, dict):
        raise Rejected("the body must be a JSON object")
    missing = [name for name in PBX_REQUIRED_FIELDS if data.get(name) in (None, "")]
    if missing:
        raise Rejected(f"missing fields: {', '.join(missing)}")
    if not isinstance(data["answered"], bool):
        raise Rejected("answered must be true or false")
    call_id = str(data["call_id"]).strip()
    if len(call_id) > MAX_PBX_CALL_ID:
        raise Rejected(f"call_id is longer than {MAX_PBX_CALL_ID} characters")
    start, end = _timestamp(data, "start"), _timestamp(data, "end")
    if end < start:
        raise Rejected("end is before start")
    for name in ("recording_url", "voicemail_transcript"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise Rejected(f"{name} must be a string")
    recording_url = str(data.get("recording_url") or "").strip()
    if recording_url and not recording_url.startswith(("https://", "http://")):
        raise Rejected("recording_url must be an http(s) URL")
    return PbxCallEvent(
        call_id=call_id,
        caller=str(data["caller"]).strip(),
        callee=str(data["callee"]).strip(),
        start=start,
        end=end,
        answered=data["answered"],
        recording_url=recording_url[:500],
        voicemail_transcript=str(data.get("voicemail_transcript") or "").strip(),
    )
