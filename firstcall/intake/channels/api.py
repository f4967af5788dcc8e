"""The JSON API: a create-ticket or add-message body (already validated) → IncomingRequest."""

from __future__ import annotations

import json

from firstcall.intake.models import InboundMessage
from firstcall.intake.request import IncomingRequest, Person, Rejected


def interpret(inbound: InboundMessage) -> IncomingRequest:
    try:
        body = json.loads(bytes(inbound.raw))
        email = str(body["requester_email"]).strip().lower()
        subject = str(body.get("subject", "")).strip()
        text = str(body["body"]).strip()
        ticket_id = int(body["ticket_id"]) if body.get("ticket_id") is not None else None
    # OverflowError: int(Infinity); RecursionError: [[[[... nested too deep.
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as error:
        raise Rejected(f"API payload is not readable: {error}") from None
    return IncomingRequest(
        sender=Person(email, str(body.get("requester_name", "")).strip()),
        subject=subject,
        body_text=text,
        named_ticket_id=ticket_id,
        only_named_ticket=ticket_id is not None,
        is_emergency=bool(body.get("is_emergency", False)),
        no_acknowledgment_reason=""
        if body.get("acknowledge", True)
        else "the API caller asked for no acknowledgment",
    )
