"""The public web form: a JSON record of the submitted fields → IncomingRequest."""

from __future__ import annotations

import json

from firstcall.intake.models import InboundMessage
from firstcall.intake.request import IncomingRequest, Person, Rejected


def interpret(inbound: InboundMessage) -> IncomingRequest:
    try:
        fields = json.loads(bytes(inbound.raw))
        email = str(fields["email"]).strip().lower()
        subject = str(fields["subject"]).strip()
        description = str(fields["description"]).strip()
    except (ValueError, KeyError, TypeError) as error:
        raise Rejected(f"web form payload is not readable: {error}") from None
    if not email or "@" not in email:
        raise Rejected("web form payload has no email address")
    return IncomingRequest(
        sender=Person(email, str(fields.get("name", "")).strip()),
        subject=subject,
        body_text=description,
        is_emergency=bool(fields.get("is_emergency", False)),
    )
