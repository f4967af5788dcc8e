"""Outbound text messages through a provider: Twilio's REST API in production (or any
Twilio-compatible API, by base URL), a console provider in development that writes each text to a
file in the data folder and the log.

A provider either returns the provider's id for the text or raises ``SmsSendError``; its
``permanent`` flag tells the outbox whether trying again can help (an invalid number: no; the
provider down: yes)."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import select
import ssl
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlencode, urlsplit

import certifi  # requests' CA bundle (it comes with requests, which the twilio package uses)
from django.conf import settings
from django.urls import NoReverseMatch, reverse
from twilio.http import HttpClient

from firstcall.notify.models import Delivery

if TYPE_CHECKING:
    from twilio.http.response import Response
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


# One Twilio client per worker thread, shared by texts and calls: its HTTP client keeps the
# connection to the API open (one connection per thread: they are not meant to be shared).
_per_thread = threading.local()


def twilio_client(error: type[ProviderError] = SmsSendError) -> Client:
    """This thread's Twilio REST client for the configured account and API address. Raises
    ``error`` (not permanent) when the credentials are not set."""
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
            http_client=api_http_client(settings.TWILIO_API_BASE_URL),
        )
        # Twilio-compatible providers (and a local stand-in in tests) answer at another address.
        client.api.base_url = settings.TWILIO_API_BASE_URL
        cached = (key, client)
        _per_thread.twilio = cached
    return cached[1]


def api_http_client(base_url: str) -> HttpClient:
    """How the Twilio library talks HTTP to ``base_url``: ``KeptAliveHttpClient``, or the
    library's own (requests) when the environment routes that address through a proxy."""
    from requests import Session

    found = Session().merge_environment_settings(base_url, {}, None, None, None)
    if found["proxies"]:
        from twilio.http.http_client import TwilioHttpClient

        return TwilioHttpClient(timeout=PROVIDER_TIMEOUT_SECONDS, proxy=found["proxies"])
    verify = found["verify"]
    return KeptAliveHttpClient(
        base_url, timeout=PROVIDER_TIMEOUT_SECONDS, ca_file=verify if isinstance(verify, str) else None
    )


class KeptAliveHttpClient(HttpClient):  # type: ignore[misc]  # the twilio package has no type hints
    """The Twilio library's requests, sent over one kept-alive ``http.client`` connection to the
    API (per thread, like the client that uses it).

    The library's own client goes through requests and urllib3, which cost about two thirds of
    the CPU a text takes the worker — in a burst of a thousand pages, most of a core for a
    second. This sends the same request (method, query, form or JSON body, basic auth, the
    library's headers) and hands back the same ``Response``; the library still builds the
    request, raises ``TwilioRestException`` for an error answer and parses the resource.

    A connection the API closed while idle is noticed before it is used (as urllib3 does) and
    replaced; a request is never sent twice: a failure once sent is the caller's to retry (the
    outbox does, later)."""

    def __init__(self, base_url: str, *, timeout: float, ca_file: str | None = None) -> None:
        super().__init__(logging.getLogger("twilio.http_client"), False, timeout)
        address = urlsplit(base_url)
        self._https = address.scheme == "https"
        self._host = address.hostname or ""
        self._port = address.port
        self._ca_file = ca_file
        self._connection: http.client.HTTPConnection | None = None

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        from twilio.base.exceptions import TwilioException
        from twilio.http.response import Response

        address = urlsplit(uri)
        if (address.hostname, address.port) != (self._host, self._port):
            raise TwilioException(f"this client talks to {self._host} only, not to {address.hostname}")
        query = "&".join(part for part in (address.query, urlencode(params or {}, doseq=True)) if part)
        target = (address.path or "/") + (f"?{query}" if query else "")
        send = dict(headers or {})
        body: bytes | None = None
        if data:
            if send.get("Content-Type", "").startswith("application/") and "json" in send["Content-Type"]:
                body = json.dumps(data).encode()
            else:
                body = urlencode(data, doseq=True).encode()
                send.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if auth is not None:
            credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            send["Authorization"] = f"Basic {credentials}"
        connection = self._open(timeout or self.timeout)
        try:
            connection.request(method, target, body, send)
            answer = connection.getresponse()
            text = answer.read().decode("utf-8", errors="replace")
        except http.client.HTTPException as failure:  # not an OSError: make it one Twilio's errors know
            self._drop()
            raise TwilioException(f"{type(failure).__name__}: {failure}") from failure
        except OSError:
            self._drop()
            raise
        if answer.will_close:
            self._drop()
        return Response(answer.status, text, dict(answer.getheaders()))

    def _open(self, timeout: float | None) -> http.client.HTTPConnection:
        if self._connection is not None and self._connection.sock is not None:
            readable, _, _ = select.select([self._connection.sock], [], [], 0)
            if readable:  # an idle connection has nothing to read unless the API closed it
                self._drop()
        if self._connection is None or self._connection.sock is None:
            if self._https:
                self._connection = http.client.HTTPSConnection(
                    self._host,
                    self._port,
                    timeout=timeout,
                    context=ssl.create_default_context(cafile=self._ca_file or certifi.where()),
                )
            else:
                self._connection = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        return self._connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


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


def answers_in_webhook_response() -> bool:
    """Whether a text to someone who just texted us may go in our answer to the provider's
    webhook (TwiML) instead of through its API: when the provider that sends our texts is the
    one whose webhooks we answer (Twilio) and FIRSTCALL_SMS_ACK_IN_RESPONSE allows it. The
    console provider of development writes every text to its outbox instead."""
    return settings.FIRSTCALL_SMS_PROVIDER == "twilio" and settings.FIRSTCALL_SMS_ACK_IN_RESPONSE


def status_callback_url(delivery_id: int | None = None) -> str | None:
    """Where the provider reports delivery (sent, delivered, failed…) of our texts; with
    ``delivery_id`` for a text handed over in a webhook's answer, whose provider id we learn
    only from that report."""
    try:
        path = reverse("hooks:twilio_sms_status")
    except NoReverseMatch:  # the status webhook is not routed: ask for no callbacks
        return None
    query = f"?{DELIVERY_PARAM}={delivery_id}" if delivery_id is not None else ""
    return settings.FIRSTCALL_PUBLIC_URL + path + query


# The status URL's parameter naming the delivery (the provider signs the whole URL).
DELIVERY_PARAM = "delivery"


def send_sms(delivery: Delivery) -> str:
    return sms_provider().send(
        to=delivery.to_address,
        body=delivery.body_text,
        from_number=delivery.from_address,
        status_callback=status_callback_url(),
    )
