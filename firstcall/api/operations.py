"""What the API's write endpoints do, on top of the intake pipeline and ticket actions.

The routers stay thin: each calls one function here. Idempotency: an API request with an
``Idempotency-Key`` is stored by intake under ``api:<user id>:<key>``, so a retry finds the first
result; a key reused for a different request is refused instead of silently answered with the
first request's result.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from firstcall.api.auth import ApiCaller
from firstcall.clients.models import Contact, EmailDomain
from firstcall.intake.models import InboundMessage, InboundStatus
from firstcall.intake.pipeline import IntakeOutcome, ingest
from firstcall.tickets.actions import Actor, add_message, audit
from firstcall.tickets.models import AuditEvent, Channel, Message, MessageKind, Ticket

NOTE_AUDIT_ACTION = "api_note_added"


class Refused(Exception):
    """The request cannot be carried out as asked (HTTP 422); ``str()`` says why."""


@dataclass(frozen=True)
class Submitted:
    ticket_id: int
    inbound_id: int
    replayed: bool


def external_id(caller: ApiCaller, idempotency_key: str | None) -> str:
    # Prefixed with the user id so two integrations using the same key never collide, and with
    # a scoped token's client, so a retry never finds another client's request.
    owner = str(caller.user.pk) if caller.client_id is None else f"{caller.user.pk}:client-{caller.client_id}"
    if idempotency_key:
        return f"api:{owner}:{idempotency_key}"
    return f"api:{owner}:auto:{uuid.uuid4()}"


def submit(caller: ApiCaller, idempotency_key: str | None, payload: dict[str, Any]) -> Submitted:
    """Send a validated create-ticket payload through intake; a replayed key returns the first result."""
    if caller.client_id is not None:
        _check_requester_in_scope(caller, caller.client_id, str(payload["requester_email"]))
    outcome = _ingest(caller, idempotency_key, payload)
    return _submitted(outcome, payload, idempotency_key, compare=tuple(payload))


def _check_requester_in_scope(caller: ApiCaller, client_id: int, email: str) -> None:
    """A scoped token opens tickets for its own client only. Intake gives a ticket the client of
    its requester: a known contact's client, or for a new address the client owning its domain.
    So the requester must be a contact of the token's client, or a new address at one of its
    domains. Any other address gets the same answer, whether another client's or nobody's."""
    address = email.strip().lower()
    known = list(Contact.objects.filter(email=address).values_list("client_id", flat=True)[:1])
    if known:
        in_scope = known[0] == client_id
    else:
        domain = address.rpartition("@")[2]
        in_scope = EmailDomain.objects.filter(domain=domain, client_id=client_id).exists()
    if not in_scope:
        client = caller.token.client
        raise Refused(
            f"This API token is for {client} only: requester_email must be a contact of {client} "
            "or an address at one of its email domains."
        )


def post_message(
    caller: ApiCaller, idempotency_key: str | None, ticket: Ticket, body: str, from_email: str | None
) -> tuple[Message, bool]:
    """Add an inbound message to ``ticket`` through intake, as the requester or ``from_email``.
    Returns (message, replayed).

    Intake threads onto a named ticket only when the sender belongs to it. Here the caller asked
    for this ticket, so intake refuses instead of opening a new one: the payload is kept as
    rejected, with the reason, and no contact is created.
    """
    sender = from_email or ticket.requester.email
    if not sender:
        raise Refused(f"The requester of {ticket.number} has no email address: give from_email.")
    payload = {
        "requester_email": sender,
        "body": body,
        "ticket_id": ticket.pk,
        # Only used if the message opens a follow-up of a ticket closed long ago.
        "subject": ticket.subject,
    }
    outcome = _ingest(caller, idempotency_key, payload)
    submitted = _submitted(
        outcome, payload, idempotency_key, compare=("requester_email", "body", "ticket_id")
    )
    message = timeline_messages().filter(inbound_id=submitted.inbound_id).first()
    if message is None:  # pragma: no cover - intake always puts the inbound message on the timeline
        raise Refused("The message was accepted but is not on the timeline.")
    return message, submitted.replayed


def add_note(
    caller: ApiCaller, idempotency_key: str | None, ticket: Ticket, body: str
) -> tuple[Message, bool]:
    """An internal note by the API user, straight onto the timeline (notes are not intake).

    Returns (note, replayed). The audit event of the note carries the idempotency key; the ticket
    row is locked while looking for it, so two concurrent retries add one note.
    """
    key = external_id(caller, idempotency_key) if idempotency_key else ""
    actor = Actor(user=caller.user, label="API")
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if key:
            earlier = (
                AuditEvent.objects.filter(ticket=locked, action=NOTE_AUDIT_ACTION, after__idempotency_key=key)
                .values_list("after", flat=True)
                .first()
            )
            if earlier is not None:
                note = timeline_messages().filter(pk=earlier["message_id"]).first()
                if note is None or note.body_text != body:
                    raise Refused(_key_reused(idempotency_key))
                return note, True
        note = add_message(locked, kind=MessageKind.NOTE, channel=Channel.API, body_text=body, actor=actor)
        audit(locked, actor, NOTE_AUDIT_ACTION, after={"message_id": note.pk, "idempotency_key": key})
    return timeline_messages().get(pk=note.pk), False


def _ingest(caller: ApiCaller, idempotency_key: str | None, payload: dict[str, Any]) -> IntakeOutcome:
    return ingest(
        Channel.API,
        external_id(caller, idempotency_key),
        json.dumps(payload, ensure_ascii=False, sort_keys=True).encode(),
        {"user_id": caller.user.pk, "token_name": caller.token_name()},
    )


def _submitted(
    outcome: IntakeOutcome, payload: dict[str, Any], idempotency_key: str | None, *, compare: tuple[str, ...]
) -> Submitted:
    if outcome.duplicate:
        raw = InboundMessage.objects.filter(pk=outcome.inbound_id).values_list("raw", flat=True).first()
        stored = json.loads(bytes(raw)) if raw is not None else {}
        if any(stored.get(key) != payload.get(key) for key in compare):
            raise Refused(_key_reused(idempotency_key))
    if outcome.status == InboundStatus.REJECTED or outcome.ticket_id is None:
        raise Refused(outcome.reason or "Intake did not accept this request.")
    return Submitted(outcome.ticket_id, outcome.inbound_id, replayed=outcome.duplicate)


def _key_reused(idempotency_key: str | None) -> str:
    return (
        f"Idempotency-Key {idempotency_key!r} was already used for a different request; "
        "send a new key for a new request."
    )


def timeline_messages() -> QuerySet[Message]:
    """Messages with what their representation reads, in a fixed number of queries."""
    return Message.objects.select_related("author_user", "author_contact").prefetch_related("attachments")
