"""Email: raw RFC 5322 bytes (from the SMTP listener, import-eml, later IMAP) → IncomingRequest."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from django.conf import settings

from firstcall.intake.email_parser import EmailRejected, normalize_message_id, parse_email
from firstcall.intake.models import InboundMessage
from firstcall.intake.pipeline import IntakeOutcome, Prepared, prepare, store_and_process
from firstcall.intake.request import BounceNotice, IncomingAttachment, IncomingRequest, Person, Rejected
from firstcall.security.intake import as_verification_request
from firstcall.tickets.models import Channel, parse_ticket_number

# The Message-ID header, with any folded continuation lines, in the header block.
MESSAGE_ID_HEADER = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)
HEADER_BLOCK_END = re.compile(rb"\r?\n\r?\n")


def external_id(raw: bytes) -> str:
    """The email's Message-ID, or a hash of its bytes when it has none. Read with a regular
    expression, not a full header parse: it runs for every message before anything else."""
    end = HEADER_BLOCK_END.search(raw, 0, 262144)
    match = MESSAGE_ID_HEADER.search(raw, 0, end.start() if end else min(len(raw), 262144))
    message_id = normalize_message_id(match.group(1).decode("latin-1")) if match else None
    if message_id:
        return f"mid:{message_id}"
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def prepare_email(
    raw: bytes, *, mail_from: str | None = None, rcpt_tos: list[str] | None = None, source: str = "smtp"
) -> Prepared:
    metadata: dict[str, Any] = {"source": source}
    if mail_from is not None:
        metadata["mail_from"] = mail_from
    if rcpt_tos is not None:
        metadata["rcpt_tos"] = rcpt_tos
    return prepare(Channel.EMAIL, external_id(raw), raw, metadata)


def ingest_email(
    raw: bytes,
    *,
    mail_from: str | None = None,
    rcpt_tos: list[str] | None = None,
    source: str = "smtp",
    acknowledge: bool = True,
) -> IntakeOutcome:
    prepared = prepare_email(raw, mail_from=mail_from, rcpt_tos=rcpt_tos, source=source)
    return store_and_process(prepared, acknowledge=acknowledge)


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


def interpret(inbound: InboundMessage) -> IncomingRequest | BounceNotice:
    raw = bytes(inbound.raw)
    try:
        parsed = parse_email(raw, max_attachment_bytes=settings.FIRSTCALL_MAX_ATTACHMENT_BYTES)
    except EmailRejected as rejection:
        raise Rejected(rejection.reason) from None
    if parsed.header_loop_marker:
        raise Rejected("this is one of our own outbound messages coming back (mail loop)")
    if parsed.bounce is not None:
        bounce = parsed.bounce
        parts = [p for p in (bounce.action, bounce.status, bounce.recipient, bounce.diagnostic) if p]
        return BounceNotice(bounce.original_message_id, " · ".join(parts) or "delivery failed")
    no_ack = parsed.auto_reply_suppressed_reason or ""
    mail_from = inbound.metadata.get("mail_from")
    if not no_ack and mail_from is not None and mail_from.strip("<> ") == "":
        no_ack = "empty envelope sender (automatic mail)"
    notes = tuple(
        f"Attachment {dropped.filename!r} ({dropped.content_type}, {_size(dropped.size)}) was not "
        f"kept: {dropped.reason}. The original email is stored in full."
        for dropped in parsed.dropped_attachments
    )
    recipients = {address: parsed.cc_names.get(address, "") for address in (*parsed.to, *parsed.cc)}
    request = IncomingRequest(
        sender=Person(parsed.from_address, parsed.from_name),
        subject=parsed.subject,
        body_text=parsed.text_body,
        body_html=parsed.html_body,
        rfc_message_id=parsed.message_id or "",
        named_ticket_id=parse_ticket_number(parsed.subject),
        replies_to=tuple(dict.fromkeys((*parsed.in_reply_to, *reversed(parsed.references)))),
        participants=tuple(Person(address, name) for address, name in recipients.items()),
        attachments=tuple(
            IncomingAttachment(a.filename, a.content_type, a.content) for a in parsed.attachments
        ),
        intake_notes=notes,
        no_acknowledgment_reason=no_ack,
        sent_at=parsed.date,
    )
    # Mail to a verify address asks us to check a suspicious email (firstcall.security).
    envelope = inbound.metadata.get("rcpt_tos") or []
    return as_verification_request(request, raw, (*recipients, *envelope))
