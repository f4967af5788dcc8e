"""Outbound text messages through a provider: Twilio's REST API in production (or any
Twilio-compatible API, by base URL), a console provider in development that writes each text to a
file in the data folder and the log."""

from __future__ import annotations

import logging
import uuid
from typing import Protocol

from django.conf import settings
from django.urls import reverse

from firstcall.notify.models import Delivery

log = logging.getLogger(__name__)


class SmsProvider(Protocol):
    def send(self, *, to: str, body: str, from_number: str, status_callback: str | None) -> str:
        """Hand the text to the provider; returns the provider's id for it. Raises on failure."""


class ConsoleSmsProvider:
    """Development: the text goes to the log and to <data>/sms-outbox/, nowhere else."""

    def send(self, *, to: str, body: str, from_number: str, status_callback: str | None) -> str:
        message_id = f"console-{uuid.uuid4().hex}"
        outbox = settings.DATA_DIR / "sms-outbox"
        outbox.mkdir(exist_ok=True)
        (outbox / f"{message_id}.txt").write_text(f"From: {from_number}\nTo: {to}\n\n{body}\n")
        log.info("SMS to %s (console provider, not sent): %s", to, body)
        return message_id


class TwilioSmsProvider:
    def __init__(self) -> None:
        from twilio.rest import Client

        if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN):
            raise RuntimeError("FIRSTCALL_SMS_PROVIDER=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        self.client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)
        # Twilio-compatible providers (and a local stand-in in tests) answer at another address.
        self.client.api.base_url = settings.TWILIO_API_BASE_URL

    def send(self, *, to: str, body: str, from_number: str, status_callback: str | None) -> str:
        kwargs = {"status_callback": status_callback} if status_callback else {}
        message = self.client.messages.create(to=to, from_=from_number, body=body, **kwargs)
        return str(message.sid)


def sms_provider() -> SmsProvider:
    name = settings.FIRSTCALL_SMS_PROVIDER
    if name == "twilio":
        return TwilioSmsProvider()
    return ConsoleSmsProvider()


def status_callback_url() -> str | None:
    """Where the provider reports delivery (sent, delivered, failed…) of our texts."""
    try:
        path = reverse("hooks:twilio_sms_status")
    except Exception:  # the status webhook is not routed (yet): ask for no callbacks
        return None
    return settings.FIRSTCALL_PUBLIC_URL + path


def send_sms(delivery: Delivery) -> str:
    return sms_provider().send(
        to=delivery.to_address,
        body=delivery.body_text,
        from_number=delivery.from_address,
        status_callback=status_callback_url(),
    )
