"""What a signed-in client writes in the portal goes through the one intake pipeline, like an
email or a text: a new request as the web form's payload, a reply (with files) as the portal's
own payload, stored raw first and unique by the form's token (a double submit is stored once).

The reply payload is interpreted here, by ``interpret_reply`` (no database, like every channel's
interpreter), and handed to the pipeline already interpreted (``pipeline.Prepared``). The
pipeline then does what it does for an emailed reply: posts the message on the named ticket
only if the sender belongs to it, reopens a resolved ticket (or opens a follow-up of one closed
long ago), resumes the SLA clocks of a ticket waiting on the client, keeps the files.

It is stored on the web channel (tickets have no portal channel yet). Should processing fail
and the sweep retry it, the web form's interpreter refuses it — a reply payload has no
``description`` — so a retry can never turn a reply into a new ticket.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from firstcall.accounts.portal_sign_in import PORTAL_LABEL
from firstcall.intake.pipeline import IntakeOutcome, Prepared, bounded_external_id, ingest, store_and_process
from firstcall.intake.request import IncomingAttachment, IncomingRequest, Person, Rejected
from firstcall.portal.access import Viewer
from firstcall.tickets.actions import Actor, add_event, transition
from firstcall.tickets.models import Channel, Status, Ticket

REPLY_KIND = "portal_reply"


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
            "kind": REPLY_KIND,
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


def interpret_reply(raw: bytes) -> IncomingRequest:
    """A stored portal reply → the pipeline's input. Raises Rejected when it is unreadable."""
    try:
        fields = json.loads(raw)
        if fields.get("kind") != REPLY_KIND:
            raise ValueError(f"not a {REPLY_KIND}")
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
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as error:
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


def _prepare_reply(external_id: str, raw: bytes, metadata: dict[str, Any]) -> Prepared:
    external_id = bounded_external_id(external_id)
    try:
        interpreted: IncomingRequest | Rejected = interpret_reply(raw)
    except Rejected as rejection:
        interpreted = rejection
    except Exception as error:  # recorded on the stored payload by store_and_process
        return Prepared(Channel.WEB, external_id, raw, metadata, None, failure=error)
    return Prepared(Channel.WEB, external_id, raw, metadata, interpreted)


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
    return store_and_process(_prepare_reply(reply_external_id(token), raw, metadata))


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
