"""Email intake through the one pipeline: identification, threading pitfalls, loop protection,
bounces and bad input. Mail is built here as raw bytes, as the SMTP listener would hand it over."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from firstcall.clients.models import Contact
from firstcall.intake.channels.email import ingest_email
from firstcall.intake.models import InboundMessage, InboundStatus
from firstcall.intake.pipeline import retry_stuck_inbound
from firstcall.notify.models import Delivery, DeliveryStatus
from firstcall.tickets.actions import Actor, transition
from firstcall.tickets.models import Attachment, MessageKind, Status, Ticket

pytestmark = pytest.mark.django_db


def email(
    *,
    sender: str = "Dana Reyes <dana@brightsmile.example>",
    to: str = "support@msp.example",
    subject: str = "Front desk PC shows a ransom note",
    body: str = "All files renamed .locked. Patients arriving at 9.",
    cc: str | None = None,
    message_id: str | None = "auto",
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
    attachment: tuple[str, str, bytes] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    if message_id == "auto":
        msg["Message-ID"] = make_msgid(domain="mail.example")
    elif message_id:
        msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if attachment:
        filename, content_type, data = attachment
        maintype, subtype = content_type.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


@pytest.fixture
def deliver(django_capture_on_commit_callbacks: Any) -> Any:
    """Ingest with on-commit callbacks run, so acknowledgments go out (huey is inline in tests)."""

    def _ingest(raw: bytes, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return ingest_email(raw, **kwargs)

    return _ingest


def test_known_contact_gets_ticket_and_threadable_acknowledgment(
    dana: Contact, outbox: list[Any], deliver: Any
) -> None:
    raw = email(message_id="<first@mail.example>")
    outcome = deliver(raw, mail_from="dana@brightsmile.example", rcpt_tos=["support@msp.example"])
    ticket = Ticket.objects.get(pk=outcome.ticket_id)
    assert (ticket.requester, ticket.client, ticket.channel, ticket.status) == (
        dana,
        dana.client,
        "email",
        "new",
    )
    assert not ticket.unverified_requester
    inbound = InboundMessage.objects.get()
    assert bytes(inbound.raw) == raw and inbound.status == InboundStatus.PROCESSED
    assert inbound.metadata["rcpt_tos"] == ["support@msp.example"]
    [ack] = outbox
    assert ack.to == ["dana@brightsmile.example"]
    assert ack.subject == f"[{ticket.number}] Re: Front desk PC shows a ransom note"
    assert ack.extra_headers["In-Reply-To"] == "<first@mail.example>"
    assert ack.extra_headers["Auto-Submitted"] == "auto-replied"
    # A ransom note is company-wide and critical: P1, the dental contract's 15 minutes.
    assert ticket.priority == "P1" and "within 15 minutes" in ack.body
    assert ticket.messages.filter(kind=MessageKind.AUTO_REPLY).count() == 1


def test_unknown_sender_at_client_domain_becomes_contact_of_that_client(dental: Any, deliver: Any) -> None:
    outcome = deliver(email(sender="Hygienist Hana <hana@BrightSmile.example>"))
    contact = Contact.objects.get(email="hana@brightsmile.example")
    assert contact.client == dental and contact.name == "Hygienist Hana"
    ticket = Ticket.objects.get(pk=outcome.ticket_id)
    assert ticket.requester == contact and not ticket.unverified_requester


def test_stranger_still_gets_a_ticket_flagged_unverified(
    dental: Any, outbox: list[Any], deliver: Any
) -> None:
    outcome = deliver(email(sender="someone@gmail.example"))
    ticket = Ticket.objects.get(pk=outcome.ticket_id)
    assert ticket.unverified_requester and ticket.client is None
    assert len(outbox) == 1


def test_reply_with_ticket_number_in_subject_threads(dana: Contact, deliver: Any) -> None:
    first = deliver(email())
    number = Ticket.objects.get(pk=first.ticket_id).number
    second = deliver(email(subject=f"RE: [{number}] Front desk PC", body="Also the printer."))
    assert second.ticket_id == first.ticket_id and not second.created_ticket
    assert Ticket.objects.count() == 1


def test_reply_to_our_acknowledgment_threads_by_headers(
    dana: Contact, outbox: list[Any], deliver: Any
) -> None:
    first = deliver(email())
    ack_id = outbox[0].extra_headers["Message-ID"]
    second = deliver(email(subject="Re: your request", in_reply_to=ack_id))
    assert second.ticket_id == first.ticket_id


def test_two_of_our_addresses_in_one_delivery_or_two_deliveries_make_one_ticket(
    dana: Contact, outbox: list[Any], deliver: Any
) -> None:
    raw = email(to="support@msp.example, help@msp.example", cc="verify@msp.example")
    first = deliver(raw, rcpt_tos=["support@msp.example", "help@msp.example", "verify@msp.example"])
    # The same message reaching us again by another route (an alias, a second MX).
    second = deliver(raw, rcpt_tos=["help@msp.example"])
    assert second.duplicate and second.ticket_id == first.ticket_id
    assert Ticket.objects.count() == 1 and len(outbox) == 1
    assert InboundMessage.objects.get().duplicate_deliveries == 1
    # Our own addresses are never participants.
    assert not Ticket.objects.get().participants.exists()


def test_reply_all_from_cc_person_threads_and_adds_participant(dana: Contact, deliver: Any) -> None:
    first = deliver(
        email(
            message_id="<orig@mail.example>",
            cc="Vic Vendor <vic@xraysupply.example>, carl@brightsmile.example",
        )
    )
    ticket = Ticket.objects.get(pk=first.ticket_id)
    assert set(ticket.participants.values_list("email", flat=True)) == {
        "vic@xraysupply.example",
        "carl@brightsmile.example",
    }
    reply = deliver(
        email(
            sender="Ola Owner <ola@xraysupply.example>",
            to="dana@brightsmile.example, support@msp.example",
            subject="Re: Front desk PC shows a ransom note",
            in_reply_to="<orig@mail.example>",
        )
    )
    assert reply.ticket_id == ticket.pk
    assert ticket.participants.filter(email="ola@xraysupply.example").exists()


def test_reply_to_resolved_ticket_reopens_it(dana: Contact, bob: Any, deliver: Any) -> None:
    first = deliver(email())
    ticket = Ticket.objects.get(pk=first.ticket_id)
    transition(ticket, Status.RESOLVED, actor=Actor(user=bob))
    deliver(email(subject=f"Re: [{ticket.number}] still broken"))
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN and ticket.resolved_at is None
    assert ticket.audit_events.filter(action="status_changed", after=Status.OPEN).exists()


def test_reply_to_recently_closed_ticket_reopens_but_old_one_gets_follow_up(
    dana: Contact, bob: Any, settings: Any, deliver: Any
) -> None:
    settings.FIRSTCALL_REOPEN_CLOSED_WITHIN_DAYS = 14
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        ticket = Ticket.objects.get(pk=deliver(email()).ticket_id)
        transition(ticket, Status.CLOSED, actor=Actor(user=bob))
    with time_machine.travel(start + timedelta(days=3), tick=False):
        again = deliver(email(subject=f"Re: [{ticket.number}] it happened again"))
    assert again.ticket_id == ticket.pk
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    transition(ticket, Status.CLOSED, actor=Actor(user=bob))
    with time_machine.travel(timezone.now() + timedelta(days=15), tick=False):
        late = deliver(email(subject=f"Re: [{ticket.number}] months later"))
    assert late.created_ticket and late.ticket_id != ticket.pk
    follow_up = Ticket.objects.get(pk=late.ticket_id)
    assert follow_up.follows_up == ticket
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert ticket.messages.filter(body_text__contains=f"follow-up ticket {follow_up.number}").exists()


def test_ticket_number_from_another_client_is_not_trusted(
    dana: Contact, priya: Contact, deliver: Any
) -> None:
    dental_ticket = Ticket.objects.get(pk=deliver(email()).ticket_id)
    outsider = deliver(email(sender="priya@haleporter.example", subject=f"[{dental_ticket.number}] hello"))
    assert outsider.created_ticket and outsider.ticket_id != dental_ticket.pk
    assert dental_ticket.messages.filter(kind=MessageKind.INBOUND).count() == 1


def test_message_without_message_id_is_deduplicated_by_its_bytes(dana: Contact, deliver: Any) -> None:
    raw = email(message_id=None)
    first = deliver(raw)
    again = deliver(raw)
    different = deliver(email(message_id=None, body="Another problem entirely."))
    assert again.duplicate and again.ticket_id == first.ticket_id
    assert different.created_ticket
    assert InboundMessage.objects.get(pk=first.inbound_id).external_id.startswith("sha256:")


@pytest.mark.parametrize(
    ("headers", "mail_from", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, "dana@brightsmile.example", "Auto-Submitted"),
        ({"Precedence": "bulk"}, "dana@brightsmile.example", "Precedence"),
        ({"Precedence": "junk"}, "dana@brightsmile.example", "Precedence"),
        ({}, "<>", "empty envelope sender"),
        ({"Return-Path": "<>"}, None, "Return-Path"),
    ],
)
def test_no_acknowledgment_to_automatic_mail(
    dana: Contact,
    outbox: list[Any],
    deliver: Any,
    headers: dict[str, str],
    mail_from: str | None,
    reason: str,
) -> None:
    outcome = deliver(email(headers=headers), mail_from=mail_from)
    assert outcome.created_ticket
    assert outbox == []
    # For staff: an internal note, never shown to the client.
    event = Ticket.objects.get().messages.get(
        kind=MessageKind.NOTE, body_text__startswith="Acknowledgment not sent:"
    )
    assert (
        event.body_text.startswith("Acknowledgment not sent:") and reason.lower() in event.body_text.lower()
    )


def test_our_own_outbound_coming_back_never_opens_a_ticket(
    dana: Contact, outbox: list[Any], deliver: Any
) -> None:
    deliver(email())
    [ack] = outbox
    looped = ack.message().as_bytes()
    outcome = deliver(looped)
    assert outcome.status == InboundStatus.REJECTED and "our own outbound" in outcome.reason
    assert Ticket.objects.count() == 1 and len(outbox) == 1


def test_mail_from_our_own_address_gets_no_acknowledgment(db: None, outbox: list[Any], deliver: Any) -> None:
    deliver(email(sender="help@msp.example"))
    assert outbox == []


def bounce_for(original_id: str, recipient: str = "dana@brightsmile.example") -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.brightsmile.example>\r\n"
        "To: support@msp.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.brightsmile.example>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.brightsmile.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        "--B\r\nContent-Type: message/rfc822\r\n\r\n"
        f"From: support@msp.example\r\nTo: {recipient}\r\nMessage-ID: <{original_id}>\r\n"
        "Subject: [T-000001] Re: hi\r\n\r\nWe have your request.\r\n"
        "--B--\r\n"
    ).encode()


def test_bounce_attaches_to_the_ticket_it_concerns_and_opens_none(
    dana: Contact, outbox: list[Any], deliver: Any
) -> None:
    ticket = Ticket.objects.get(pk=deliver(email()).ticket_id)
    delivery = Delivery.objects.get()
    outcome = deliver(bounce_for(delivery.rfc_message_id), mail_from="<>")
    assert outcome.status == InboundStatus.PROCESSED and outcome.ticket_id == ticket.pk
    assert Ticket.objects.count() == 1 and len(outbox) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.BOUNCED and "5.1.1" in delivery.last_error
    assert ticket.messages.filter(kind=MessageKind.EVENT, body_text__contains="bounced").exists()


def test_bounce_about_unknown_message_is_rejected_not_a_ticket(db: None, deliver: Any) -> None:
    outcome = deliver(bounce_for("never-sent@msp.example"), mail_from="<>")
    assert outcome.status == InboundStatus.REJECTED and "did not send" in outcome.reason
    assert not Ticket.objects.exists()


def test_message_without_from_is_rejected_and_kept(db: None, deliver: Any) -> None:
    raw = b"To: support@msp.example\r\nSubject: who am I\r\nMessage-ID: <nofrom@x>\r\n\r\nbody\r\n"
    outcome = deliver(raw)
    assert outcome.status == InboundStatus.REJECTED and "From" in outcome.reason
    assert bytes(InboundMessage.objects.get().raw) == raw
    assert not Ticket.objects.exists()


def test_malformed_mime_gets_a_clear_outcome(dana: Contact, deliver: Any) -> None:
    raw = (
        b"From: dana@brightsmile.example\r\nTo: support@msp.example\r\nSubject: broken\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="never-closed"\r\n\r\n'
        b"--never-closed\r\nContent-Type: text/plain\r\n\r\nthe server room is flooding\r\n--never-cl"
    )
    outcome = deliver(raw)
    assert outcome.status in (InboundStatus.PROCESSED, InboundStatus.REJECTED)
    if outcome.status == InboundStatus.PROCESSED:
        assert "flooding" in Ticket.objects.get().messages.first().body_text  # type: ignore[union-attr]
    else:
        assert outcome.reason
    assert bytes(InboundMessage.objects.get().raw) == raw


def test_oversize_attachment_is_dropped_with_a_note_and_the_raw_is_kept(
    dana: Contact, settings: Any, deliver: Any
) -> None:
    settings.FIRSTCALL_MAX_ATTACHMENT_BYTES = 100_000
    raw = email(attachment=("backup.zip", "application/zip", b"\x00" * 300_000))
    outcome = deliver(raw)
    ticket = Ticket.objects.get(pk=outcome.ticket_id)
    assert not Attachment.objects.exists()
    note = ticket.messages.get(kind=MessageKind.EVENT, body_text__contains="backup.zip")
    assert "original email is stored in full" in note.body_text
    assert len(bytes(InboundMessage.objects.get().raw)) == len(raw)


def test_attachment_is_stored_and_readable(dana: Contact, deliver: Any) -> None:
    pdf = b"%PDF-1.4 invoice"
    deliver(email(attachment=("invoice.pdf", "application/pdf", pdf)))
    attachment = Attachment.objects.get()
    assert (attachment.filename, attachment.content_type, attachment.size) == (
        "invoice.pdf",
        "application/pdf",
        len(pdf),
    )
    with attachment.file.open("rb") as handle:
        assert handle.read() == pdf


def test_non_utf8_charset_and_encoded_subject_are_decoded(dana: Contact, deliver: Any) -> None:
    raw = (
        "From: =?iso-8859-1?q?Dana_Rey=E9s?= <dana@brightsmile.example>\r\n"
        "To: support@msp.example\r\nSubject: =?utf-8?b?w4lxdWlwZSBkw6lzb3JnYW5pc8OpZQ==?=\r\n"
        "Message-ID: <latin@mail.example>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode("ascii") + "Le caf\xe9 \x96 l'imprimante ne r\xe9pond plus".encode("latin-1")
    ticket = Ticket.objects.get(pk=deliver(raw).ticket_id)
    assert ticket.subject == "Équipe désorganisée"
    assert "café – l'imprimante" in ticket.messages.get(kind=MessageKind.INBOUND).body_text


def test_crash_mid_way_leaves_nothing_half_done_and_is_retried(
    dana: Contact, monkeypatch: Any, deliver: Any
) -> None:
    import firstcall.intake.pipeline as pipeline

    real_save = pipeline._save_attachments

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(pipeline, "_save_attachments", crash)
    with pytest.raises(RuntimeError):
        deliver(email(message_id="<crash@mail.example>"))
    inbound = InboundMessage.objects.get()
    assert inbound.status == InboundStatus.RECEIVED and "disk full" in inbound.reason
    assert not Ticket.objects.exists() and not Contact.objects.exclude(pk=dana.pk).exists()

    monkeypatch.setattr(pipeline, "_save_attachments", real_save)
    assert retry_stuck_inbound(older_than=timedelta(0)) == 1
    inbound.refresh_from_db()
    assert inbound.status == InboundStatus.PROCESSED and Ticket.objects.count() == 1


@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    subject=st.text(st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=60),
    body=st.text(min_size=0, max_size=300),
    with_id=st.booleans(),
)
def test_ingesting_the_same_message_twice_gives_one_ticket(
    dana: Contact, subject: str, body: str, with_id: bool
) -> None:
    Ticket.objects.all().delete()
    InboundMessage.objects.all().delete()
    msg = EmailMessage()
    msg["From"] = "dana@brightsmile.example"
    msg["To"] = "support@msp.example"
    msg["Subject"] = subject
    if with_id:
        msg["Message-ID"] = make_msgid(domain="prop.example")
    msg.set_content(body)
    raw = msg.as_bytes()
    first = ingest_email(raw, acknowledge=False)
    second = ingest_email(raw, acknowledge=False)
    assert second.duplicate
    assert second.ticket_id == first.ticket_id
    assert Ticket.objects.count() == (1 if first.ticket_id else 0)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"From: a@b\r\nMessage-ID: <abc@x>\r\n\r\nbody", "mid:abc@x"),
        (b"From: a@b\r\nMessage-Id:\r\n <folded@x>\r\nSubject: s\r\n\r\nbody", "mid:folded@x"),
        (b"message-id: <lower@x> \n\nbody", "mid:lower@x"),
        # A Message-ID line in the body is not the message's id.
        (b"From: a@b\n\nMessage-ID: <in-body@x>\n", None),
    ],
)
def test_external_id_is_the_message_id_header_or_a_hash(raw: bytes, expected: str | None) -> None:
    from hashlib import sha256

    from firstcall.intake.channels.email import external_id

    assert external_id(raw) == (expected or "sha256:" + sha256(raw).hexdigest())


def test_system_check_warns_when_replies_to_acknowledgments_would_be_refused(settings: Any) -> None:
    from firstcall.intake.addresses import check_replies_come_back

    assert check_replies_come_back() == []
    settings.DEFAULT_FROM_EMAIL = "noreply@elsewhere.example"
    [warning] = check_replies_come_back()
    assert warning.id == "firstcall.W001" and "noreply@elsewhere.example" in warning.msg
