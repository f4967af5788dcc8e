"""Outbound text messages through a provider: Twilio's REST API in production (or any
Twilio-compatible API, by base URL), a console provider in development that writes each text to a
file in the data folder and the log.

A provider either returns the provider's id for the text or raises ``SmsSendError``; its
``permanent`` flag tells the outbox whether trying again can help (an invalid number: no; the
provider down: yes)."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from firstcall.notify.models import Delivery

if TYPE_CHECKING:
    from twilio.rest import Client

log = logging.getLogger(__name__)

# Seconds to wait for the provider's API before counting the attempt as failed (and retrying).
PROVIDER_TIMEOUT_SECONDS = 15


class ProviderError(Exception):
    """The provider did not take the request. ``permanent``: retrying the same request cannot help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class SmsSendError(ProviderError):
    """The provider did not take the text. ``permanent``: retrying the same text cannot help."""


class SmsProvider(Protocol):
    def send(self, *, to: str, body: str, from_number: str, status_callback: str | None) -> str:
        """Hand the text to the provider; returns the provider's id for it. Raises SmsSendError."""


class ConsoleSmsProvider:
    """Development: the text goes to the log and to <data>/sms-outbox/, nowhere else."""

    def send(self, *, to: str, body: str, from_number: str, status_callback: str | None) -> str:
        message_id = f"console-{uuid.uuid4().hex}"
        outbox = settings.DATA_DIR / "sms-outbox"
        outbox.mkdir(exist_ok=True)
        (outbox / f"{message_id}.txt").write_text(f"From: {from_number}\nTo: {to}\n\n{body}\n")
        log.info("SMS to %s (console provider, not sent): %s", to, body)
        return message_id


def _is_permanent(status: int) -> bool:
    """4xx means the request itself is wrong (bad number, unverified sender, blocked recipient):
    sending it again gets the same answer. 429 (rate limit) and 5xx may pass later."""
    return 400 <= status < 500 and status not in (408, 429)


# One Twilio client per worker thread, shared by texts and calls: its HTTP session keeps the
# connection to the API open (requests' sessions are not meant to be shared between threads).
_per_thread = threading.local()


def twilio_client(error: type[ProviderError] = SmsSendError) -> Client:
    """This thread's Twilio REST client for the configured account and API address. Raises
    ``error`` (not permanent) when the credentials are not set."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN):
        raise error(
            "FIRSTCALL_SMS_PROVIDER=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN",
            permanent=False,
        )
    key = (settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_API_BASE_URL)
    cached: tuple[tuple[str, str, str], Client] | None = getattr(_per_thread, "twilio", None)
    if cached is None or cached[0] != key:
        client = Client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            http_client=TwilioHttpClient(timeout=PROVIDER_TIMEOUT_SECONDS),
        )
        # Twilio-compatible providers (and a local stand-in in tests) answer at another address.
        client.api.base_url = settings.TWILIO_API_BASE_URL
        cached = (key, client)
        _per_thread.twilio = cached
    return cached[1]


@contextmanager
def twilio_errors(error: type[ProviderError] = SmsSendError) -> Iterator[None]:
    """Twilio's exceptions inside the block raised as ``error``, permanent when Twilio refused
    the request itself (4xx but 408/429); an unreachable API is temporary."""
    from twilio.base.exceptions import TwilioException, TwilioRestException

    try:
        yield
    except TwilioRestException as refusal:
        code = f" error {refusal.code}" if refusal.code else ""
        raise error(
            f"Twilio answered HTTP {refusal.status}{code}: {refusal.msg}",
            permanent=_is_permanent(refusal.status),
        ) from refusal
    except (TwilioException, OSError) as failure:  # requests' connection errors are OSErrors
        raise error(f"Twilio API not reachable: {failure}", permanent=False) from failure


class TwilioSmsProvider:
    def __init__(self) -> None:
        self.client = twilio_client()

    def send(self, *, to: str, body: str, from_number: str, status_callback: str | None) -> str:
        kwargs = {"status_callback": status_callback} if status_callback else {}
        with twilio_errors():
            message = self.client.messages.create(to=to, from_=from_number, body=body, **kwargs)
        return str(message.sid)


def sms_provider() -> SmsProvider:
    if settings.FIRSTCALL_SMS_PROVIDER == "twilio":
        return TwilioSmsProvider()
    return ConsoleSmsProvider()


def status_callback_url() -> str | None:
    """Where the provider reports delivery (sent, delivered, failed…) of our texts."""
    try:
        path = reverse("hooks:twilio_sms_status")
    except NoReverseMatch:  # the status webhook is not routed: ask for no callbacks
        return None
    return settings.FIRSTCALL_PUBLIC_URL + path


def send_sms(delivery: Delivery) -> str:
    return sms_provider().send(
        to=delivery.to_address,
        body=delivery.body_text,
        from_number=delivery.from_address,
        status_callback=status_callback_url(),
    )
