"""The SMTP listener for real: smtplib talks to it on loopback, and our acknowledgments go out
over SMTP to a local mail sink. Huey runs inline in tests, so the listener's thread sends them."""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper

from firstcall.clients.models import Contact
from firstcall.intake import pipeline
from firstcall.intake.addresses import is_accepted_address
from firstcall.intake.channels.smtp_listener import SmtpListener
from firstcall.intake.models import InboundMessage, InboundStatus
from firstcall.tickets.models import Ticket
from tests.mailsink import MailSink, SunkMessage

# The listener's threads use their own database connections: data must really be committed.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def email(
    *,
    sender: str = "Dana Reyes <dana@brightsmile.example>",
    to: str = "support@msp.example",
    cc: str | None = None,
    subject: str = "Front desk PC shows a ransom note",
    body: str = "All files renamed .locked. Patients arriving at 9.",
    message_id: str = "<ransom-1@mail.brightsmile.example>",
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content(body)
    return message


@pytest.fixture
def sink() -> Iterator[MailSink]:
    with MailSink() as running:
        yield running


@pytest.fixture
def outbound_to_sink(settings: Any, sink: MailSink) -> MailSink:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = sink.host
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_TIMEOUT = 5
    return sink


@pytest.fixture
def start_listener(outbound_to_sink: MailSink) -> Iterator[Callable[[], SmtpListener]]:
    """Starts the listener on a free loopback port (after any settings the test changed)."""
    started: list[SmtpListener] = []

    def start() -> SmtpListener:
        listener = SmtpListener("127.0.0.1", 0).start()
        started.append(listener)
        return listener

    yield start
    for listener in started:
        listener.stop()


@pytest.fixture
def listener(start_listener: Callable[[], SmtpListener]) -> SmtpListener:
    return start_listener()


def send(listener: SmtpListener, message: EmailMessage, **kwargs: Any) -> dict[str, Any]:
    with smtplib.SMTP(listener.host, listener.port, timeout=10) as smtp:
        refused: dict[str, Any] = smtp.send_message(message, **kwargs)
        return refused


def data_reply(
    listener: SmtpListener, message: EmailMessage, mail_from: str, rcpt_tos: list[str]
) -> tuple[int, str]:
    """The listener's answer to DATA (send_message does not return it)."""
    raw = message.as_bytes(policy=policy.SMTP)  # CRLF line ends, as on the wire
    with smtplib.SMTP(listener.host, listener.port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail(mail_from)
        for address in rcpt_tos:
            smtp.rcpt(address)
        code, reply = smtp.data(raw)
        return code, reply.decode()


def acknowledgments(sink: MailSink) -> list[SunkMessage]:
    return [m for m in sink.messages if m.email["Auto-Submitted"] == "auto-replied"]


def test_new_email_makes_ticket_and_acknowledgment_goes_out_over_smtp(
    dana: Contact, listener: SmtpListener, sink: MailSink
) -> None:
    message = email()
    code, reply = data_reply(listener, message, "dana@brightsmile.example", ["support@msp.example"])

    inbound = InboundMessage.objects.get()
    assert (code, reply) == (250, f"OK: stored as inbound #{inbound.pk}")
    assert bytes(inbound.raw) == message.as_bytes(policy=policy.SMTP)  # byte for byte
    assert inbound.status == InboundStatus.PROCESSED
    assert inbound.metadata == {
        "source": "smtp",
        "mail_from": "dana@brightsmile.example",
        "rcpt_tos": ["support@msp.example"],
    }
    ticket = Ticket.objects.get()
    assert (ticket.requester, ticket.client, ticket.channel) == (dana, dana.client, "email")

    ack = sink.wait_for(lambda m: m.rcpt_tos == ["dana@brightsmile.example"])
    assert ack.mail_from == ""  # null envelope sender: a bounce of the acknowledgment goes nowhere
    headers = ack.email
    assert headers["Auto-Submitted"] == "auto-replied"
    assert headers["In-Reply-To"] == "<ransom-1@mail.brightsmile.example>"
    assert f"[{ticket.number}]" in headers["Subject"]
    assert headers["To"] == "dana@brightsmile.example"


def test_long_acknowledgment_goes_out_with_smtp_line_endings(
    dana: Contact, listener: SmtpListener, sink: MailSink
) -> None:
    # Several paragraphs quoted in the acknowledgment: the whole message is far over the
    # 1,000-byte SMTP line limit, so it must go out with CRLF line endings, not as one line.
    body = "\n\n".join(
        f"Paragraph {n}: the practice software shows error 0x{n:04x} again." for n in range(30)
    )
    code, _ = data_reply(listener, email(body=body), "dana@brightsmile.example", ["support@msp.example"])
    assert code == 250
    ack = sink.wait_for(lambda m: m.rcpt_tos == ["dana@brightsmile.example"])
    assert len(ack.data) > 1000 and b"\r\n" in ack.data
    assert "Paragraph 3:" in ack.email.get_content()


def test_unknown_recipient_is_refused_with_550(listener: SmtpListener, sink: MailSink) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(listener, email(to="sales@msp.example"))

    code, reply = refused.value.recipients["sales@msp.example"]
    assert code == 550
    assert reply.decode() == "5.1.1 <sales@msp.example>: no such mailbox here"
    assert not InboundMessage.objects.exists()


def test_recipients_match_case_insensitively_and_others_of_the_same_mail_are_refused(
    dana: Contact, listener: SmtpListener
) -> None:
    refused = send(
        listener,
        email(to="Support@MSP.Example"),
        to_addrs=["Support@MSP.Example", "nobody@elsewhere.example"],
    )

    assert refused["nobody@elsewhere.example"][0] == 550
    assert InboundMessage.objects.get().metadata["rcpt_tos"] == ["Support@MSP.Example"]
    assert Ticket.objects.count() == 1


def test_domain_entry_accepts_any_address_at_that_domain(settings: Any) -> None:
    settings.FIRSTCALL_ACCEPTED_ADDRESSES = ["@msp.example", "desk@other.example"]
    assert is_accepted_address("anything@msp.example")
    assert is_accepted_address("Desk@Other.Example")
    assert not is_accepted_address("anything@other.example")
    assert not is_accepted_address("someone@sub.msp.example")
    assert not is_accepted_address("msp.example")


def test_domain_entry_over_smtp(
    settings: Any, dana: Contact, start_listener: Callable[[], SmtpListener]
) -> None:
    settings.FIRSTCALL_ACCEPTED_ADDRESSES = ["@msp.example"]
    listener = start_listener()

    assert send(listener, email(to="urgent@msp.example")) == {}
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(listener, email(to="support@elsewhere.example", message_id="<other@x.example>"))
    assert Ticket.objects.count() == 1


def test_one_message_to_two_of_our_addresses_makes_one_ticket(
    dana: Contact, listener: SmtpListener, sink: MailSink
) -> None:
    message = email(to="support@msp.example, help@msp.example")

    assert send(listener, message) == {}

    inbound = InboundMessage.objects.get()
    assert inbound.metadata["rcpt_tos"] == ["support@msp.example", "help@msp.example"]
    assert Ticket.objects.count() == 1
    sink.wait_for(lambda m: m.rcpt_tos == ["dana@brightsmile.example"])
    assert len(acknowledgments(sink)) == 1


def test_same_email_delivered_twice_makes_one_ticket_and_one_acknowledgment(
    dana: Contact, listener: SmtpListener, sink: MailSink
) -> None:
    raw = email()

    first = data_reply(listener, raw, "dana@brightsmile.example", ["support@msp.example"])
    second = data_reply(listener, raw, "dana@brightsmile.example", ["support@msp.example"])

    assert first == second  # the same stored row: "250 OK: stored as inbound #<same id>"
    inbound = InboundMessage.objects.get()
    assert inbound.duplicate_deliveries == 1
    assert Ticket.objects.count() == 1
    sink.wait_for(lambda m: m.rcpt_tos == ["dana@brightsmile.example"])
    # The acknowledgment is sent before the listener answers, so nothing more is on its way.
    assert len(acknowledgments(sink)) == 1


def test_copy_to_another_of_our_addresses_makes_one_ticket_without_us_as_participant(
    dana: Contact, listener: SmtpListener, sink: MailSink
) -> None:
    # One message, two RCPT TO (To and Cc), and the Cc of our own address is not a participant.
    assert send(listener, email(to="support@msp.example", cc="help@msp.example")) == {}

    ticket = Ticket.objects.get()
    assert not ticket.participants.exists()
    sink.wait_for(lambda m: m.rcpt_tos == ["dana@brightsmile.example"])
    assert len(acknowledgments(sink)) == 1


def test_oversize_message_is_refused_with_552(
    settings: Any, start_listener: Callable[[], SmtpListener]
) -> None:
    settings.FIRSTCALL_MAX_MESSAGE_BYTES = 4096
    listener = start_listener()
    message = email(body="The server log:\n" + ("disk 2: read error, retrying\n" * 300))

    # smtplib announces the size (ESMTP SIZE), so the listener refuses at MAIL FROM...
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        send(listener, message)
    assert refused.value.smtp_code == 552
    # ...and a client that does not announce it is refused after DATA.
    code, reply = data_reply(listener, message, "dana@brightsmile.example", ["support@msp.example"])
    assert (code, reply) == (552, "Error: Too much mail data")
    assert not InboundMessage.objects.exists()


def test_storage_failure_answers_451_so_the_sender_retries(
    dana: Contact, listener: SmtpListener, sink: MailSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    def database_down(*args: object, **kwargs: object) -> None:
        raise OperationalError("could not connect to server: Connection refused")

    raw = email()
    with monkeypatch.context() as patched:
        patched.setattr(pipeline.InboundMessage, "save", database_down)
        code, reply = data_reply(listener, raw, "dana@brightsmile.example", ["support@msp.example"])

    assert (code, reply) == (451, "4.3.0 Temporary failure, please retry")
    assert not InboundMessage.objects.exists()
    # The sender's retry, with the database back, is taken in as usual.
    code, _ = data_reply(listener, raw, "dana@brightsmile.example", ["support@msp.example"])
    assert code == 250
    assert Ticket.objects.count() == 1


def test_database_unreachable_from_the_listener_answers_451(
    dana: Contact, listener: SmtpListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every query of the listener's threads fails, as when the database server is down: it
    # cannot store the message, nor even check whether it did.
    real_execute = CursorWrapper.execute

    def execute(cursor: CursorWrapper, sql: str, params: Any = None) -> Any:
        if threading.current_thread().name.startswith("smtp-intake"):
            raise OperationalError("could not connect to server: Connection refused")
        return real_execute(cursor, sql, params)

    monkeypatch.setattr(CursorWrapper, "execute", execute)

    code, reply = data_reply(listener, email(), "dana@brightsmile.example", ["support@msp.example"])

    assert (code, reply) == (451, "4.3.0 Temporary failure, please retry")
    assert not InboundMessage.objects.exists()


def test_processing_failure_still_answers_250_and_keeps_the_message_for_the_sweep(
    dana: Contact, listener: SmtpListener, sink: MailSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bug(*args: object, **kwargs: object) -> None:
        raise RuntimeError("threading exploded")

    with monkeypatch.context() as patched:
        patched.setattr(pipeline, "_thread_or_open", bug)
        code, reply = data_reply(listener, email(), "dana@brightsmile.example", ["support@msp.example"])

    inbound = InboundMessage.objects.get()
    assert (code, reply) == (250, f"OK: stored as inbound #{inbound.pk}")
    assert inbound.status == InboundStatus.RECEIVED
    assert inbound.reason == "processing failed: RuntimeError: threading exploded"
    assert not Ticket.objects.exists()

    # What the intake sweep does a minute later.
    assert pipeline.retry_stuck_inbound(older_than=timedelta(0)) == 1
    assert Ticket.objects.count() == 1
    sink.wait_for(lambda m: m.rcpt_tos == ["dana@brightsmile.example"])


def test_null_sender_mail_is_stored_but_not_acknowledged(
    dana: Contact, listener: SmtpListener, sink: MailSink
) -> None:
    # An automatic message (empty envelope sender) must never get an automatic answer.
    code, _ = data_reply(listener, email(), "", ["support@msp.example"])

    assert code == 250
    assert Ticket.objects.count() == 1
    assert acknowledgments(sink) == []
