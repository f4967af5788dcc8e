"""The web: a JSON record of what was submitted → IncomingRequest. Two kinds: the public
request form (and a signed-in client's new request in the portal), and a client's reply to one
of their tickets in the portal (``kind``: ``portal_reply``)."""

from __future__ import annotations

import base64
import binascii
import json

from firstcall.intake.models import InboundMessage
from firstcall.intake.request import IncomingAttachment, IncomingRequest, Person, Rejected

PORTAL_REPLY = "portal_reply"


def interpret(inbound: InboundMessage) -> IncomingRequest:
    raw = bytes(inbound.raw)
    try:
        kind = json.loads(raw).get("kind")
    except (ValueError, AttributeError, RecursionError) as error:  # RecursionError: [[[[... too deep
        raise Rejected(f"web payload is not readable: {error}") from None
    return interpret_reply(raw) if kind == PORTAL_REPLY else interpret_form(raw)


def interpret_form(raw: bytes) -> IncomingRequest:
    try:
        fields = json.loads(raw)
        email = str(fields["email"]).strip().lower()
        subject = str(fields["subject"]).strip()
        description = str(fields["description"]).strip()
    except (ValueError, KeyError, TypeError, RecursionError) as error:
        raise Rejected(f"web form payload is not readable: {error}") from None
    if not email or "@" not in email:
        raise Rejected("web form payload has no email address")
    return IncomingRequest(
        sender=Person(email, str(fields.get("name", "")).strip()),
        subject=subject,
        body_text=description,
        is_emergency=bool(fields.get("is_emergency", False)),
    )


def interpret_reply(raw: bytes) -> IncomingRequest:
    """A stored portal reply → the pipeline's input. Raises Rejected when it is unreadable."""
    try:
        fields = json.loads(raw)
        if fields.get("kind") != PORTAL_REPLY:
            raise ValueError(f"not a {PORTAL_REPLY}")
        email = str(fields["email"]).strip().lower()
        ticket_id = int(fields["ticket_id"])
        body = str(fields["body"]).strip()
        attachments = tuple(
            IncomingAttachment(
                str(item["filename"]),
                str(item["content_type"]),
                base64.b64decode(str(item["content_base64"]), validate=True),
            )
            for item in fields.get("attachments", [])
        )
    except (
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        OverflowError,
        RecursionError,
        binascii.Error,
    ) as error:
        raise Rejected(f"portal reply payload is not readable: {error}") from None
    if not email:
        raise Rejected("portal reply payload has no email address")
    if not body and not attachments:
        raise Rejected("the reply is empty")
    return IncomingRequest(
        sender=Person(email, str(fields.get("name", "")).strip()),
        subject=str(fields.get("subject", "")).strip(),
        body_text=body,
        named_ticket_id=ticket_id,
        # The contact asked for this ticket: post there or nowhere, never open a new one.
        only_named_ticket=True,
        attachments=attachments,
    )
