"""Phone webhooks: Twilio Voice (the IVR, answered with TwiML, and its callbacks) and the
generic call-event webhook for other PBXs. Thin: each calls one function of intake.calls."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from ninja.errors import AuthenticationError
from twilio.twiml.voice_response import VoiceResponse

from firstcall.api.auth import NEEDS_EVERY_CLIENT, bearer_caller
from firstcall.escalation.engine import acknowledge_by_call
from firstcall.intake import calls
from firstcall.intake.channels.phone import parse_pbx_event
from firstcall.intake.request import Rejected
from firstcall.intake.webhooks import twilio_webhook, twiml
from firstcall.ratelimits.limiter import token_webhook

log = logging.getLogger(__name__)

MENU_PROMPT = "If this is an emergency, press 1. To leave a message, press 2 or stay on the line."
VOICEMAIL_PROMPT = "Please leave a message after the tone, with your name and how we can reach you."
NOBODY_PROMPT = "Nobody could take your call right now. Please leave a message after the tone."
MAX_VOICEMAIL_SECONDS = 120  # Twilio transcribes recordings of up to two minutes
DIAL_TIMEOUT_SECONDS = 25


def _hook_url(name: str) -> str:
    """Absolute, as Twilio will call it (and sign it)."""
    return settings.FIRSTCALL_PUBLIC_URL + reverse(f"hooks:{name}")


def _record_voicemail(response: VoiceResponse, prompt: str) -> VoiceResponse:
    response.say(prompt)
    response.record(
        max_length=MAX_VOICEMAIL_SECONDS,
        action=_hook_url("twilio_voice_recorded"),
        method="POST",
        play_beep=True,
        transcribe=True,
        transcribe_callback=_hook_url("twilio_voice_transcription"),
        recording_status_callback=_hook_url("twilio_voice_recording_status"),
    )
    # Twilio skips the action when nothing was recorded and carries on here: end the call
    # rather than let it fall off the document (or loop back to it).
    response.say("We did not receive a message. Goodbye.")
    response.hangup()
    return response


def _bad_callback(error: calls.InvalidCallback) -> HttpResponse:
    return HttpResponse(f"{error}.", status=400, content_type="text/plain")


@twilio_webhook
def incoming_call(request: HttpRequest) -> HttpResponse:
    """A call to our number: greet (by the client's name when we know the number), offer the
    emergency key, and otherwise take a voicemail."""
    try:
        call = calls.twilio_call(request.POST)
    except calls.InvalidCallback as error:
        return _bad_callback(error)
    client_name = calls.greeting_name(call)
    greeting = f"Thank you for calling {settings.FIRSTCALL_MSP_NAME}"
    response = VoiceResponse()
    response.say(f"{greeting}, {client_name}." if client_name else f"{greeting}.")
    gather = response.gather(
        input="dtmf", num_digits=1, timeout=5, action=_hook_url("twilio_voice_menu"), method="POST"
    )
    gather.say(MENU_PROMPT)
    return twiml(str(_record_voicemail(response, VOICEMAIL_PROMPT)))


@twilio_webhook
def menu(request: HttpRequest) -> HttpResponse:
    try:
        choice = calls.choose_from_menu(request.POST)
    except calls.InvalidCallback as error:
        return _bad_callback(error)
    response = VoiceResponse()
    if choice.next_step == calls.NextStep.DIAL:
        response.say("Connecting you to the engineer on duty.")
        response.dial(
            choice.dial_number,
            action=_hook_url("twilio_voice_dial_status"),
            method="POST",
            timeout=DIAL_TIMEOUT_SECONDS,
        )
        return twiml(str(response))
    if choice.call.is_emergency:
        return twiml(
            str(_record_voicemail(response, f"We will treat this as an emergency. {VOICEMAIL_PROMPT}"))
        )
    return twiml(str(_record_voicemail(response, VOICEMAIL_PROMPT)))


@twilio_webhook
def dial_status(request: HttpRequest) -> HttpResponse:
    try:
        answered = calls.finish_dial(request.POST)
    except calls.InvalidCallback as error:
        return _bad_callback(error)
    response = VoiceResponse()
    if answered:
        response.hangup()
        return twiml(str(response))
    return twiml(str(_record_voicemail(response, NOBODY_PROMPT)))


@twilio_webhook
def recorded(request: HttpRequest) -> HttpResponse:
    try:
        calls.voicemail_left(request.POST, request.body)
    except calls.InvalidCallback as error:
        return _bad_callback(error)
    response = VoiceResponse()
    response.say("Thank you. We have your message and will get back to you. Goodbye.")
    response.hangup()
    return twiml(str(response))


@twilio_webhook
def recording_status(request: HttpRequest) -> HttpResponse:
    try:
        calls.recording_status(request.POST, request.body)
    except calls.InvalidCallback as error:
        return _bad_callback(error)
    return HttpResponse(status=204)


@twilio_webhook
def transcription(request: HttpRequest) -> HttpResponse:
    try:
        calls.transcription_done(request.POST, request.body)
    except calls.InvalidCallback as error:
        return _bad_callback(error)
    return HttpResponse(status=204)


@twilio_webhook
def call_status(request: HttpRequest) -> HttpResponse:
    try:
        calls.call_ended(request.POST, request.body)
    except calls.InvalidCallback as error:
        return _bad_callback(error)
    return HttpResponse(status=204)


@twilio_webhook
def page_key_pressed(request: HttpRequest, delivery_id: int) -> HttpResponse:
    """The key a staff member pressed during a page call (the call's Gather): 1 acknowledges.
    Staff control, not client content: nothing is stored as inbound; the acknowledgment is
    audited and the key press logged."""
    words = acknowledge_by_call(delivery_id, request.POST.get("Digits", ""))
    if words is None:
        raise Http404("No page call with this id.")
    response = VoiceResponse()
    response.say(words)
    response.hangup()
    return twiml(str(response))


def _json_error(status: int, message: str) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="firstcall"'
    return response


@token_webhook
@csrf_exempt
@require_POST
def call_event(request: HttpRequest) -> JsonResponse:
    """The generic PBX call-event webhook (docs/phone.md): bearer token, JSON body."""
    try:
        caller = bearer_caller(request)
    except AuthenticationError as refusal:
        return _json_error(401, str(refusal.message))
    if caller.client_id is not None:
        # A call may be any client's: its answer names the ticket it opened.
        return _json_error(403, NEEDS_EVERY_CLIENT)
    try:
        body = request.body
    except RequestDataTooBig:
        return _json_error(413, f"The body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.")
    try:
        data = json.loads(body)
        # A lone surrogate ("\ud800") is not text: no database could store it.
        json.dumps(data, ensure_ascii=False).encode()
    except (ValueError, RecursionError) as error:  # Unicode errors are ValueErrors; RecursionError: [[[[...
        return _json_error(400, f"The body is not valid JSON: {error}.")
    try:
        event = parse_pbx_event(data)
    except Rejected as error:
        return _json_error(422, f"The call event is not usable: {error.reason}.")
    call = calls.record_pbx_call(event, body)
    ticket_number = call.ticket.number if call.ticket_id is not None and call.ticket else None
    return JsonResponse(
        {"call_id": call.call_id, "outcome": call.outcome, "ticket": ticket_number},
        status=200,
    )


urlpatterns = [
    path("twilio/voice/", incoming_call, name="twilio_voice"),
    path("twilio/voice/menu/", menu, name="twilio_voice_menu"),
    path("twilio/voice/dial-status/", dial_status, name="twilio_voice_dial_status"),
    path("twilio/voice/recorded/", recorded, name="twilio_voice_recorded"),
    path("twilio/voice/recording-status/", recording_status, name="twilio_voice_recording_status"),
    path("twilio/voice/transcription/", transcription, name="twilio_voice_transcription"),
    path("twilio/voice/status/", call_status, name="twilio_voice_status"),
    path("twilio/voice/page/<int:delivery_id>/", page_key_pressed, name="twilio_voice_page"),
    path("calls/", call_event, name="call_event"),
]
