"""The inbound SMTP listener: mail for our addresses goes into the one intake pipeline.

aiosmtpd speaks SMTP on an asyncio loop; the Django work (store the raw message, then thread or
open a ticket) runs in a small thread pool so a slow database never blocks other sessions. The
sender gets ``250`` only once the raw message is stored: if storing fails, ``451`` makes the
sending server retry later, so nothing is lost. If storing worked but processing failed, the
message stays 'received' and the intake sweep retries it, so the answer is still ``250``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from types import FrameType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections

from firstcall.intake.addresses import is_accepted_address
from firstcall.intake.channels.email import external_id, ingest_email
from firstcall.intake.models import InboundMessage, InboundStatus
from firstcall.intake.pipeline import bounded_external_id
from firstcall.tickets.models import Channel

log = logging.getLogger(__name__)

TEMPORARY_FAILURE = "451 4.3.0 Temporary failure, please retry"
# Sessions wait for a thread; SQLite serializes writers anyway, so a few threads are plenty.
INTAKE_THREADS = 4


def _stored_inbound_id(raw: bytes) -> int | None:
    """The id of this message's stored row, if storing it worked (None if not, or if the
    database cannot even answer that)."""
    key = bounded_external_id(external_id(raw))
    try:
        return (
            InboundMessage.objects.filter(channel=Channel.EMAIL, external_id=key)
            .values_list("pk", flat=True)
            .first()
        )
    except DatabaseError:
        return None


def deliver_to_intake(raw: bytes, mail_from: str, rcpt_tos: list[str], peer: str = "") -> str:
    """Store and process one received message; returns the SMTP reply. Runs in a worker
    thread, which has its own database connection (closed when stale, as Django does after a
    web request)."""
    close_old_connections()
    try:
        try:
            outcome = ingest_email(raw, mail_from=mail_from, rcpt_tos=rcpt_tos, source="smtp")
        except Exception:
            stored_id = _stored_inbound_id(raw)
            if stored_id is None:
                log.exception(
                    "could not store the message from <%s> (%s); the sender was asked to retry",
                    mail_from,
                    peer,
                )
                return TEMPORARY_FAILURE
            log.exception(
                "stored inbound #%s from <%s> but processing failed; the intake sweep will retry it",
                stored_id,
                mail_from,
            )
            return f"250 OK: stored as inbound #{stored_id}"
        if outcome.status == InboundStatus.REJECTED:
            # Stored and accepted anyway: bouncing it would send backscatter to forged senders.
            log.info("inbound #%s from <%s> rejected: %s", outcome.inbound_id, mail_from, outcome.reason)
        elif outcome.duplicate:
            log.info("inbound #%s from <%s> delivered again; kept once", outcome.inbound_id, mail_from)
        else:
            log.info(
                "inbound #%s from <%s> → %s (%s)",
                outcome.inbound_id,
                mail_from,
                outcome.ticket_number,
                "new ticket" if outcome.created_ticket else "threaded",
            )
        return f"250 OK: stored as inbound #{outcome.inbound_id}"
    finally:
        close_old_connections()


class IntakeHandler:
    """aiosmtpd handler: RCPT checks the address, DATA hands the message to intake."""

    def __init__(self, threads: int = INTAKE_THREADS) -> None:
        self.threads = threads
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="smtp-intake")

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if not is_accepted_address(address):
            log.info("refused mail for <%s> from %s", address, session.peer)
            return f"550 5.1.1 <{address}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):  # only if someone builds the server with decode_data=True
            raw = raw.encode("utf-8", errors="surrogateescape")
        assert isinstance(raw, bytes)
        # The null sender "<>" (bounces, automatic mail) is kept as "".
        mail_from = (envelope.mail_from or "").strip()
        work = partial(
            deliver_to_intake,
            raw,
            "" if mail_from == "<>" else mail_from,
            list(envelope.rcpt_tos),
            str(session.peer),
        )
        return await asyncio.get_running_loop().run_in_executor(self.executor, work)

    def close(self) -> None:
        """Let messages being processed finish (their senders may have gone: a retry is kept
        once), then close every thread's database connection (kept open up to CONN_MAX_AGE)."""
        everyone = threading.Barrier(self.threads)

        def close_connections() -> None:
            connections.close_all()
            # Each task waits for all the others, so each runs on a different pool thread (best
            # effort: a thread still busy after 30 s closes its connection when it exits).
            with contextlib.suppress(threading.BrokenBarrierError):
                everyone.wait(timeout=30)

        for future in [self.executor.submit(close_connections) for _ in range(self.threads)]:
            future.result()
        self.executor.shutdown(wait=True)


class _BoundController(Controller):
    """A Controller that binds its socket up front: port 0 gives a free port (read ``port``
    after construction), and an address already in use fails at once with a clear error."""

    def __init__(self, handler: Any, host: str, port: int, **kwargs: Any) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError as error:
            self._socket.close()
            raise OSError(error.errno, f"cannot listen for SMTP on {host}:{port}: {error.strerror}") from None
        self._socket.listen(100)
        super().__init__(handler, hostname=host, port=self._socket.getsockname()[1], **kwargs)

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._socket, ssl=self.ssl_context)

    def _trigger_server(self) -> None:
        # Wildcard addresses are reachable on loopback.
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.hostname, self.hostname)
        with socket.create_connection((host, self.port), 1.0) as connection:
            connection.recv(1024)


class SmtpListener:
    """The listener on host:port, served from a background thread. ``port=0`` picks a free port."""

    def __init__(self, host: str, port: int) -> None:
        self.handler = IntakeHandler()
        self.controller = _BoundController(
            self.handler,
            host,
            port,
            server_hostname=socket.gethostname(),
            ident="firstcall intake",
            data_size_limit=settings.FIRSTCALL_MAX_MESSAGE_BYTES,
            decode_data=False,
            enable_SMTPUTF8=True,
        )
        self.host = host
        self.port: int = self.controller.port

    def start(self) -> SmtpListener:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
        self.handler.close()

    def __enter__(self) -> SmtpListener:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def run_smtp_listener(
    host: str, port: int, *, on_ready: Callable[[SmtpListener], None] | None = None
) -> None:
    """Serve until SIGINT or SIGTERM, then stop cleanly (for ``firstcall smtp``)."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        listener = SmtpListener(host, port).start()
        try:
            if on_ready is not None:
                on_ready(listener)
            while not stop.wait(1.0):
                pass
        finally:
            listener.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
