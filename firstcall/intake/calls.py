"""Phone calls: every call leaves a CallRecord; an unanswered one opens a ticket through the
intake pipeline, and its voicemail recording and transcript are attached to that ticket.

Webhook views (Twilio voice, the generic PBX call-event webhook) and the console's "log a call"
form each call one function here. A call's facts arrive over several requests (the call, the
menu choice, the dial result, the recording, the status callback), in any order and possibly
more than once: each step is a guarded update of the record, and each ticket entry is an
``ingest`` with its own external id, so redelivery changes nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from firstcall.accounts.models import User, staff_with_phone
from firstcall.clients.models import Client, Contact, normalize_phone, owner_of_number
from firstcall.escalation.engine import acknowledge
from firstcall.intake.channels.phone import PbxCallEvent
from firstcall.intake.models import CallOutcome, CallRecord, CallSource
from firstcall.intake.pipeline import IntakeOutcome, ingest
from firstcall.sla.tracking import sync_clocks
from firstcall.tickets.actions import Actor, assign, record_first_response, transition
from firstcall.tickets.models import Channel, Status, Ticket
from firstcall.tickets.replies import STAFF_LABEL

# The audit reason of a ticket resolved while the caller was still on the line; the
# first-contact-resolution rate counts status changes with this reason.
FIRST_CONTACT_RESOLUTION = "first-contact resolution"

# Twilio CallStatus values after which nothing more happens on the call.
FINAL_CALL_STATUSES = frozenset({"completed", "no-answer", "busy", "failed", "canceled"})

UNANSWERED = (CallOutcome.VOICEMAIL, CallOutcome.ABANDONED)


class InvalidCallback(ValueError):
    """A webhook request that lacks what identifies the call (e.g. no CallSid)."""


@dataclass(frozen=True)
class CallerMatch:
    """Who a phone number belongs to, as intake will file a call from it."""

    number: str
    contact: Contact | None
    client: Client | None

    @property
    def client_name(self) -> str:
        return self.client.name if self.client else ""


def lookup_caller(number: str) -> CallerMatch:
    """The contact (and client) owning this number (``clients.owner_of_number``). One query."""
    normalized = normalize_phone(number)
    if not normalized:
        return CallerMatch("", None, None)
    known = owner_of_number(normalized)
    if known is None:
        return CallerMatch(normalized, None, None)
    contact = known.contact
    client = contact.client if contact is not None else known.client
    return CallerMatch(normalized, contact, client)


def _facts(call: CallRecord) -> dict[str, Any]:
    return {
        "caller": call.caller,
        "caller_name": call.caller_name,
        "callee": call.callee,
        "outcome": call.outcome,
        "is_emergency": call.is_emergency,
        "started_at": call.started_at.isoformat(),
        "duration_seconds": call.duration_seconds,
        "recording_url": call.recording_url if call.source == CallSource.PBX else "",
        "transcript": call.transcript if call.source == CallSource.PBX else "",
    }


def _metadata(call: CallRecord, event: str) -> dict[str, Any]:
    return {"event": event, "thread_key": call.thread_key, "call_record_id": call.pk, "call": _facts(call)}


def _reload(call: CallRecord) -> CallRecord:
    """The record as stored now: the guarded updates that came before may or may not have applied."""
    return CallRecord.objects.get(pk=call.pk)


# --- Twilio voice -------------------------------------------------------------------------


def twilio_call(params: Mapping[str, str]) -> CallRecord:
    """The record of the call a Twilio request is about, created on its first request."""
    sid = params.get("CallSid", "").strip()
    if not sid:
        raise InvalidCallback("the request carries no CallSid")
    existing = CallRecord.objects.filter(source=CallSource.TWILIO, call_id=sid).first()
    if existing is not None:
        return existing
    match = lookup_caller(params.get("From", ""))
    call, _ = CallRecord.objects.get_or_create(
        source=CallSource.TWILIO,
        call_id=sid[:200],
        defaults={
            "caller": match.number,
            "caller_name": params.get("CallerName", "").strip()[:200],
            "callee": normalize_phone(params.get("To", "")),
            "client": match.client,
            "contact": match.contact,
            "provider_status": params.get("CallStatus", "")[:20],
        },
    )
    return call


def greeting_name(call: CallRecord) -> str:
    """The client the IVR greets by name; '' for a caller we do not know."""
    if call.client_id is None:
        return ""
    return Client.objects.filter(pk=call.client_id).values_list("name", flat=True).first() or ""


class NextStep(StrEnum):
    DIAL = "dial"
    VOICEMAIL = "voicemail"


@dataclass(frozen=True)
class MenuChoice:
    call: CallRecord
    next_step: NextStep
    dial_number: str = ""


def on_duty_number() -> str:
    return normalize_phone(settings.FIRSTCALL_ON_DUTY_NUMBER)


def choose_from_menu(params: Mapping[str, str]) -> MenuChoice:
    """The caller pressed a key: 1 is an emergency (connect to the on-duty number when one is
    configured), anything else leaves a voicemail."""
    call = twilio_call(params)
    if params.get("Digits", "").strip() != "1":
        return MenuChoice(call, NextStep.VOICEMAIL)
    CallRecord.objects.filter(pk=call.pk).update(is_emergency=True)
    call.is_emergency = True
    number = on_duty_number()
    if number:
        return MenuChoice(call, NextStep.DIAL, number)
    return MenuChoice(call, NextStep.VOICEMAIL)


def finish_dial(params: Mapping[str, str]) -> bool:
    """The <Dial> to the on-duty number ended. Returns whether someone answered."""
    call = twilio_call(params)
    if params.get("DialCallStatus", "") != "completed":
        return False
    number = on_duty_number()
    CallRecord.objects.filter(pk=call.pk).exclude(outcome__in=UNANSWERED).update(
        outcome=CallOutcome.ANSWERED,
        answered_by_number=number,
        answered_by=staff_with_phone(number),
    )
    return True


def _open_call_ticket(call: CallRecord, raw: bytes) -> int | None:
    """Open the ticket of an unanswered call, once (the thread key is the external id)."""
    if call.ticket_id is not None:
        return call.ticket_id
    if call.outcome not in UNANSWERED:
        return None
    outcome = ingest(Channel.PHONE, call.thread_key, raw, _metadata(call, "call"))
    if outcome.ticket_id is not None:
        CallRecord.objects.filter(pk=call.pk).update(ticket_id=outcome.ticket_id)
        call.ticket_id = outcome.ticket_id
    return call.ticket_id


def _mark_voicemail(call: CallRecord, recording_url: str) -> CallRecord:
    # A recording means a voicemail, even if a status callback called it abandoned first.
    CallRecord.objects.filter(pk=call.pk).exclude(outcome=CallOutcome.ANSWERED).update(
        outcome=CallOutcome.VOICEMAIL
    )
    if recording_url:
        CallRecord.objects.filter(pk=call.pk, recording_url="").update(recording_url=recording_url[:500])
    return _reload(call)


def _attach(call: CallRecord, event: str, external_id: str, raw: bytes) -> IntakeOutcome | None:
    """A recording or transcript, on the call's ticket (opened first if need be)."""
    if _open_call_ticket(call, raw) is None:
        return None
    return ingest(Channel.PHONE, external_id, raw, _metadata(call, event))


def voicemail_left(params: Mapping[str, str], raw: bytes) -> CallRecord:
    """<Record>'s action: the caller left a voicemail. Opens the ticket, attaches the recording."""
    call = _mark_voicemail(twilio_call(params), params.get("RecordingUrl", ""))
    sid = params.get("RecordingSid", "")
    if sid:
        _attach(call, "recording", f"recording:{sid}", raw)
    else:
        _open_call_ticket(call, raw)
    return _reload(call)


def recording_status(params: Mapping[str, str], raw: bytes) -> CallRecord:
    """The recording status callback: a completed recording is attached to the call's ticket
    (the same RecordingSid as <Record>'s action, so it is attached once)."""
    call = twilio_call(params)
    if params.get("RecordingStatus", "completed") != "completed" or not params.get("RecordingSid"):
        return call
    call = _mark_voicemail(call, params.get("RecordingUrl", ""))
    _attach(call, "recording", f"recording:{params['RecordingSid']}", raw)
    return _reload(call)


def transcription_done(params: Mapping[str, str], raw: bytes) -> CallRecord:
    """The transcription callback: the transcript (or its failure) on the call's ticket."""
    call = twilio_call(params)
    sid = params.get("TranscriptionSid", "")
    if not sid:
        raise InvalidCallback("the transcription callback carries no TranscriptionSid")
    text = params.get("TranscriptionText", "").strip()
    if params.get("TranscriptionStatus") == "completed" and text:
        CallRecord.objects.filter(pk=call.pk, transcript="").update(transcript=text)
    call = _mark_voicemail(call, params.get("RecordingUrl", ""))
    _attach(call, "transcription", f"transcription:{sid}", raw)
    return _reload(call)


def _duration(params: Mapping[str, str], name: str) -> int | None:
    value = params.get(name, "").strip()
    return int(value) if value.isdigit() else None


def call_ended(params: Mapping[str, str], raw: bytes) -> CallRecord:
    """The call status callback. A final status finishes the record; a call nobody answered
    and that left no voicemail is abandoned, and opens a 'missed call' ticket."""
    call = twilio_call(params)
    status = params.get("CallStatus", "")[:20]
    if status not in FINAL_CALL_STATUSES:
        CallRecord.objects.filter(pk=call.pk, ended_at__isnull=True).update(provider_status=status)
        return _reload(call)
    CallRecord.objects.filter(pk=call.pk, ended_at__isnull=True).update(
        provider_status=status,
        ended_at=timezone.now(),
        duration_seconds=_duration(params, "CallDuration") or 0,
    )
    CallRecord.objects.filter(pk=call.pk, outcome="").update(outcome=CallOutcome.ABANDONED)
    call = _reload(call)
    _open_call_ticket(call, raw)
    return _reload(call)


# --- Generic PBX call events --------------------------------------------------------------


def record_pbx_call(event: PbxCallEvent, raw: bytes) -> CallRecord:
    """A call reported by another PBX: a record; a ticket when nobody answered."""
    if event.answered:
        outcome = CallOutcome.ANSWERED
    elif event.recording_url or event.voicemail_transcript:
        outcome = CallOutcome.VOICEMAIL
    else:
        outcome = CallOutcome.ABANDONED
    match = lookup_caller(event.caller)
    call, _ = CallRecord.objects.get_or_create(
        source=CallSource.PBX,
        call_id=event.call_id,
        defaults={
            "caller": match.number,
            "callee": normalize_phone(event.callee) or event.callee[:32],
            "client": match.client,
            "contact": match.contact,
            "provider_status": "completed",
            "outcome": outcome,
            "started_at": event.start,
            "ended_at": event.end,
            "duration_seconds": event.duration_seconds,
            "recording_url": event.recording_url,
            "transcript": event.voicemail_transcript,
        },
    )
    _open_call_ticket(call, raw)
    return _reload(call)


# --- Calls logged by staff ----------------------------------------------------------------


class CallNotLogged(Exception):
    """The logged call could not become a ticket entry; the message says why."""


@dataclass(frozen=True)
class LoggedCall:
    call: CallRecord
    ticket: Ticket
    created: bool
    resolved_on_first_contact: bool


def log_call(
    *,
    taker: User,
    token: uuid.UUID,
    caller: str,
    description: str,
    subject: str = "",
    caller_name: str = "",
    is_emergency: bool = False,
    resolved_on_first_contact: bool = False,
) -> LoggedCall:
    """A call a technician answered, typed in while on the phone. Goes through the pipeline
    like any request (the form's token is its external id: a double submit logs it once); the
    call is recorded as answered by the technician; resolved on first contact resolves the
    ticket with the audit reason FIRST_CONTACT_RESOLUTION."""
    number = normalize_phone(caller)
    payload = {
        "caller": number,
        "caller_name": caller_name,
        "subject": subject,
        "description": description,
        "is_emergency": is_emergency,
        "resolved_on_first_contact": resolved_on_first_contact,
        "taken_by": taker.display_name,
    }
    external_id = f"logged-call:{token}"
    metadata = {"event": "logged_call", "taken_by_user_id": taker.pk, "taken_by": taker.username}
    # The pipeline commits on its own, so the typed text is kept even if a later step fails.
    outcome = ingest(Channel.PHONE, external_id, json.dumps(payload).encode(), metadata)
    if outcome.ticket_id is None:
        raise CallNotLogged(outcome.reason or "the call could not be logged")
    with transaction.atomic():
        ticket = Ticket.objects.get(pk=outcome.ticket_id)
        match = lookup_caller(number)
        call, call_created = CallRecord.objects.get_or_create(
            source=CallSource.CONSOLE,
            call_id=str(token),
            defaults={
                "caller": number,
                "caller_name": caller_name[:200],
                "client": match.client,
                "contact": match.contact,
                "provider_status": "completed",
                "outcome": CallOutcome.ANSWERED,
                "is_emergency": is_emergency,
                "answered_by": taker,
                "answered_by_number": normalize_phone(taker.phone),
                "ended_at": timezone.now(),
                "ticket": ticket,
            },
        )
        if call_created:
            # The technician talked to the caller: that is the first response, and the
            # ticket is theirs (its escalation, if any, stops: someone has it in hand).
            staff = Actor(user=taker, label=STAFF_LABEL)
            if ticket.assignee_id is None:
                assign(ticket, taker, actor=staff)
            answered_at = call.ended_at or timezone.now()
            record_first_response(ticket, actor=staff, at=answered_at, how="call answered")
            sync_clocks(ticket)
            acknowledge(ticket, taker, via="console")
        # Only the submit that recorded the call resolves it: a double submit resolves nothing.
        resolved = resolved_on_first_contact and call_created
        if resolved:
            transition(
                ticket,
                Status.RESOLVED,
                actor=Actor(user=taker, label=STAFF_LABEL),
                reason=FIRST_CONTACT_RESOLUTION,
            )
    return LoggedCall(call, ticket, outcome.created_ticket, resolved)


__all__ = [
    "FIRST_CONTACT_RESOLUTION",
    "CallNotLogged",
    "CallerMatch",
    "InvalidCallback",
    "LoggedCall",
    "MenuChoice",
    "NextStep",
    "call_ended",
    "choose_from_menu",
    "finish_dial",
    "greeting_name",
    "log_call",
    "lookup_caller",
    "record_pbx_call",
    "recording_status",
    "transcription_done",
    "twilio_call",
    "voicemail_left",
]
