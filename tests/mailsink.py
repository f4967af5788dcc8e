"""A local SMTP server that keeps whatever is sent to it: our outbound mail, in tests and benchmarks.

    sink = MailSink().start()          # listens on a free loopback port: sink.port
    ...                                # point EMAIL_HOST/EMAIL_PORT at it
    ack = sink.wait_for(lambda m: "T-" in m.email["Subject"], timeout=10)
    sink.stop()

Each message is a ``SunkMessage`` (mail_from, rcpt_tos, data): a tuple, with ``.email`` parsed.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, NamedTuple

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class SunkMessage(NamedTuple):
    mail_from: str  # "" for the null sender <>
    rcpt_tos: list[str]
    data: bytes

    @property
    def email(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Collector:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        mail_from = envelope.mail_from or ""
        self.sink._add(SunkMessage("" if mail_from == "<>" else mail_from, list(envelope.rcpt_tos), data))
        return "250 OK: kept by the mail sink"


class _PreboundController(Controller):
    """Binds its socket before starting, so port 0 yields a free port with no race."""

    def __init__(self, handler: Any, host: str, **kwargs: Any) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Accepted connections inherit it: no Nagle delay on each short SMTP reply.
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.bind((host, 0))
        self._socket.listen(50)
        super().__init__(handler, hostname=host, port=self._socket.getsockname()[1], **kwargs)

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._socket)


class MailSink:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.messages: list[SunkMessage] = []
        self._changed = threading.Condition()
        self._controller = _PreboundController(
            _Collector(self), host, server_hostname="mailsink.localhost", data_size_limit=None
        )
        self.port: int = self._controller.port

    def start(self) -> MailSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _add(self, message: SunkMessage) -> None:
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()

    def clear(self) -> None:
        with self._changed:
            self.messages.clear()

    def wait_for(self, predicate: Callable[[SunkMessage], bool], timeout: float = 10.0) -> SunkMessage:
        """The first kept message matching ``predicate``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for message in self.messages:
                    if predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(m.mail_from, m.rcpt_tos, m.email["Subject"]) for m in self.messages]
                    raise TimeoutError(f"no matching message within {timeout} s; the sink has: {seen}")
                self._changed.wait(remaining)

    def wait_for_count(self, count: int, timeout: float = 10.0) -> list[SunkMessage]:
        """Wait until at least ``count`` messages arrived; returns them all."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(self.messages)} of {count} messages within {timeout} s")
                self._changed.wait(remaining)
            return list(self.messages)
