"""Outbound voice calls (pages) through a provider: Twilio's REST API in production, a console
provider in development that writes each call's TwiML to the data folder and the log.

A page call reads the page twice, then asks for a key: 1 acknowledges (the webhook at
``hooks:twilio_voice_page`` answers it). The provider either returns the call's id (Twilio's
CallSid) or raises ``CallError``, whose ``permanent`` flag tells the outbox whether trying again
can help — the same rules as for texts (``firstcall.notify.sms``), on the same Twilio client."""

from __future__ import annotations

import logging
import uuid
from typing import Protocol

from django.conf import settings
from django.urls import reverse
from twilio.twiml.voice_response import VoiceResponse

from firstcall.notify.models import Delivery
from firstcall.notify.sms import ProviderError, twilio_client, twilio_errors

log = logging.getLogger(__name__)

# Seconds the callee has to press a key after the prompt.
ACKNOWLEDGE_TIMEOUT_SECONDS = 8
ACKNOWLEDGE_PROMPT = "Press 1 to acknowledge."
NO_ANSWER_WORDS = "No key pressed: the page is not acknowledged and the escalation goes on. Goodbye."


class CallError(ProviderError):
    """The provider did not place the call. ``permanent``: retrying the same call cannot help."""


class VoiceProvider(Protocol):
    def place_call(self, *, to: str, from_number: str, twiml: str, status_callback: str | None) -> str:
        """Ask the provider to call ``to`` and play ``twiml``; returns its id for the call.
        Raises CallError."""


class ConsoleVoiceProvider:
    """Development: the call's TwiML goes to the log and to <data>/voice-outbox/, nowhere else."""

    def place_call(self, *, to: str, from_number: str, twiml: str, status_callback: str | None) -> str:
        call_id = f"console-{uuid.uuid4().hex}"
        outbox = settings.DATA_DIR / "voice-outbox"
        outbox.mkdir(exist_ok=True)
        (outbox / f"{call_id}.xml").write_text(f"<!-- From: {from_number} To: {to} -->\n{twiml}\n")
        log.info("voice call to %s (console provider, not placed): %s", to, twiml)
        return call_id


class TwilioVoiceProvider:
    def __init__(self) -> None:
        self.client = twilio_client(CallError)

    def place_call(self, *, to: str, from_number: str, twiml: str, status_callback: str | None) -> str:
        kwargs = {"status_callback": status_callback} if status_callback else {}
        with twilio_errors(CallError):
            call = self.client.calls.create(to=to, from_=from_number, twiml=twiml, **kwargs)
        return str(call.sid)


def voice_provider() -> VoiceProvider:
    """Twilio when texts go through Twilio (calls need it); otherwise the console."""
    if settings.FIRSTCALL_SMS_PROVIDER == "twilio":
        return TwilioVoiceProvider()
    return ConsoleVoiceProvider()


def acknowledge_url(delivery_id: int) -> str:
    """Where Twilio posts the key pressed during the page call of this delivery (absolute, as
    Twilio calls and signs it)."""
    return settings.FIRSTCALL_PUBLIC_URL + reverse(
        "hooks:twilio_voice_page", kwargs={"delivery_id": delivery_id}
    )


def page_call_twiml(spoken: str, action_url: str) -> str:
    """The page read twice, then one key to acknowledge (posted to ``action_url``); without a
    key the call says so and ends."""
    response = VoiceResponse()
    response.say(spoken)
    response.pause(length=1)
    response.say(f"Again: {spoken}")
    gather = response.gather(
        input="dtmf",
        num_digits=1,
        timeout=ACKNOWLEDGE_TIMEOUT_SECONDS,
        action=action_url,
        method="POST",
    )
    gather.say(ACKNOWLEDGE_PROMPT)
    response.say(NO_ANSWER_WORDS)
    response.hangup()
    return str(response)


def place_page_call(delivery: Delivery) -> str:
    """Call ``delivery.to_address`` and read the page (``delivery.body_text``, plain words).
    Returns the provider's call id; raises CallError."""
    return voice_provider().place_call(
        to=delivery.to_address,
        from_number=delivery.from_address,
        twiml=page_call_twiml(delivery.body_text, acknowledge_url(delivery.pk)),
        # The call's progress is not followed: an unanswered page call is covered by the
        # escalation going on to its next level.
        status_callback=None,
    )
