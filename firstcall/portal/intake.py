"""What a signed-in client writes in the portal goes through the one intake pipeline, like an
email or a text: a new request as the web form's payload, a reply (with files) as the portal's
own payload, stored raw first and unique by the form's token (a double submit is stored once).

Both are web-channel payloads; the web channel's interpreter (intake.channels.web) tells them
apart by the payload's ``kind``, so the sweep that retries a payload whose processing failed
reads a reply as a reply. The pipeline then does what it does for an emailed reply: posts the
message on the named ticket only if the sender belongs to it (never opens a new one), reopens a
resolved ticket (or opens a follow-up of one closed long ago), resumes the SLA clocks of a
ticket waiting on the client, keeps the files.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from firstcall.accounts.portal_sign_in import PORTAL_LABEL
from firstcall.intake.channels.web import PORTAL_REPLY
from firstcall.intake.pipeline import IntakeOutcome, ingest
from firstcall.portal.access import Viewer
from firstcall.tickets.actions import Actor, add_event, transition
from firstcall.tickets.models import Channel, Status, Ticket


def web_form_external_id(token: uuid.UUID) -> str:
    return f"web:{token}"


def reply_external_id(token: uuid.UUID) -> str:
    return f"portal:{token}"


def open_request(
    viewer: Viewer,
    *,
    token: uuid.UUID,
    subject: str,
    description: str,
    is_emergency: bool,
    metadata: dict[str, Any],
) -> IntakeOutcome:
    """A new request by the signed-in contact: the web form's payload with their address."""
    payload = {
        "email": viewer.contact.email,
        "name": viewer.contact.name,
        "subject": subject,
        "description": description,
        "is_emergency": is_emergency,
    }
    return ingest(Channel.WEB, web_form_external_id(token), json.dumps(payload).encode(), metadata)


@dataclass(frozen=True)
class ReplyFile:
    filename: str
    content_type: str
    content: bytes


def reply_payload(viewer: Viewer, ticket: Ticket, body: str, files: Sequence[ReplyFile]) -> bytes:
    return json.dumps(
        {
            "kind": PORTAL_REPLY,
            "email": viewer.contact.email,
            "name": viewer.contact.name,
            "ticket_id": ticket.pk,
            # Only used if the reply opens a follow-up of a ticket closed long ago.
            "subject": ticket.subject,
            "body": body,
            "attachments": [
                {
                    "filename": f.filename,
                    "content_type": f.content_type,
                    "content_base64": base64.b64encode(f.content).decode("ascii"),
                }
                for f in files
            ],
        },
        ensure_ascii=False,
    ).encode()


def post_reply(
    viewer: Viewer,
    ticket: Ticket,
    *,
    token: uuid.UUID,
    body: str,
    files: Sequence[ReplyFile],
    metadata: dict[str, Any],
) -> IntakeOutcome:
    """The signed-in contact's reply on ``ticket`` (which they may see), through intake."""
    raw = reply_payload(viewer, ticket, body, files)
    return ingest(Channel.WEB, reply_external_id(token), raw, metadata)


def close_request(viewer: Viewer, ticket: Ticket) -> Ticket:
    """The client says the request is done: the ticket is closed (its clocks and any escalation
    stop) and the timeline says who closed it. Raises IllegalTransition if it is closed
    already."""
    actor = Actor(contact=viewer.contact, label=PORTAL_LABEL)
    who = viewer.contact.name or viewer.contact.email
    with transaction.atomic():
        transition(ticket, Status.CLOSED, actor=actor, reason=f"closed by {who} in the client portal")
        add_event(ticket, f"{who} closed this request in the client portal.", actor=actor)
    return ticket
