"""The one intake pipeline: store raw → identify → thread or open → acknowledge.

Channels call ``ingest`` with their raw payload. It runs in two steps: ``prepare`` (the
channel's module interprets the payload; no database) and ``store_and_process`` (one
transaction: the raw row first, then the ticket entry; on any failure the raw payload is stored
alone as 'received'). Stored payloads are unique on channel + external id, so a redelivery is
counted, not processed again. ``process`` handles a stored 'received' payload (the sweep's
retry). Channel modules only interpret payloads; they never create tickets.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from firstcall.clients.models import Contact, EmailDomain, PhoneNumber, normalize_phone, owner_of_number
from firstcall.escalation.engine import acknowledge_by_email, acknowledge_by_text
from firstcall.intake.addresses import is_our_address
from firstcall.intake.models import InboundMessage, InboundStatus
from firstcall.intake.request import BounceNotice, IncomingRequest, Person, Rejected
from firstcall.notify.outbound import (
    Route,
    acknowledgment_rate_exceeded,
    mark_bounced,
    schedule_acknowledgment,
    sms_unreachable_reason,
)
from firstcall.security.intake import VerificationRequest
from firstcall.security.verification import start_verification
from firstcall.tickets.actions import (
    Actor,
    add_event,
    add_message,
    add_participant,
    audit,
    open_ticket,
    transition,
)
from firstcall.tickets.merge import follow_merges
from firstcall.tickets.models import (
    DONE_STATUSES,
    Attachment,
    Channel,
    Message,
    MessageKind,
    Status,
    Ticket,
    attachment_path,
    format_ticket_number,
)

log = logging.getLogger(__name__)

Interpreter = Callable[[InboundMessage], IncomingRequest | BounceNotice]

# Payloads that failed this often with an unexpected error are left for a person to look at.
MAX_PROCESSING_ATTEMPTS = 5


@dataclass(frozen=True)
class IntakeOutcome:
    inbound_id: int
    status: InboundStatus
    ticket_id: int | None = None
    created_ticket: bool = False
    duplicate: bool = False
    reason: str = ""
    # An answer for the sender on the same channel right away (a staff "ACK" by text, the
    # acknowledgment of a new ticket when it goes in the webhook's answer).
    reply: str = ""
    # The delivery that ``reply`` is, when it is one (the acknowledgment): the provider reports
    # on it to the status webhook, which names it.
    reply_delivery_id: int | None = None

    @property
    def ticket_number(self) -> str | None:
        return format_ticket_number(self.ticket_id) if self.ticket_id else None


def _interpreter(channel: str) -> Interpreter:
    """Each channel's module, named after the channel, interprets its own payloads."""
    module = importlib.import_module(f"firstcall.intake.channels.{channel}")
    interpret: Interpreter = module.interpret
    return interpret


def bounded_external_id(external_id: str) -> str:
    """The key an external id is stored under (over-long ids by their hash)."""
    if len(external_id) > 255:
        return "sha256:" + hashlib.sha256(external_id.encode()).hexdigest()
    return external_id


def _count_redelivery(channel: Channel, external_id: str) -> InboundMessage:
    existing = InboundMessage.objects.get(channel=channel, external_id=external_id)
    InboundMessage.objects.filter(pk=existing.pk).update(duplicate_deliveries=F("duplicate_deliveries") + 1)
    return existing


def receive(
    channel: Channel, external_id: str, raw: bytes, metadata: dict[str, Any] | None = None
) -> tuple[InboundMessage, bool]:
    """Store the raw payload. Returns (row, created); a redelivery returns the first row."""
    external_id = bounded_external_id(external_id)
    try:
        with transaction.atomic():
            inbound = InboundMessage.objects.create(
                channel=channel, external_id=external_id, raw=raw, metadata=metadata or {}
            )
        return inbound, True
    except IntegrityError:
        return _count_redelivery(channel, external_id), False


class _AlreadyStored(Exception):
    """This (channel, external id) is stored already: the payload was delivered again."""


@dataclass(frozen=True)
class Prepared:
    """A payload read and interpreted, not yet stored. Preparing touches no database, so it
    can run anywhere (the importer prepares in another process) and be stored later, in order."""

    channel: Channel
    external_id: str
    raw: bytes
    metadata: dict[str, Any]
    interpreted: IncomingRequest | BounceNotice | Rejected | None
    # An unexpected error while interpreting: the payload is stored 'received' with it.
    failure: Exception | None = None


def prepare(
    channel: Channel, external_id: str, raw: bytes, metadata: dict[str, Any] | None = None
) -> Prepared:
    external_id = bounded_external_id(external_id)
    metadata = metadata or {}
    unsaved = InboundMessage(channel=channel, external_id=external_id, raw=raw, metadata=metadata)
    try:
        return Prepared(channel, external_id, raw, metadata, _interpret(unsaved))
    except Exception as error:  # recorded on the stored payload by store_and_process
        return Prepared(channel, external_id, raw, metadata, None, failure=error)


def ingest(
    channel: Channel,
    external_id: str,
    raw: bytes,
    metadata: dict[str, Any] | None = None,
    *,
    acknowledge: bool = True,
) -> IntakeOutcome:
    """Store the raw payload and process it, once."""
    return store_and_process(prepare(channel, external_id, raw, metadata), acknowledge=acknowledge)


def store_and_process(prepared: Prepared, *, acknowledge: bool = True) -> IntakeOutcome:
    """One transaction stores the raw row — its first statement — and applies the interpreted
    payload. If anything fails, that transaction rolls back and the raw payload is stored on its
    own ('received', with the error) for the sweep to retry: nothing is lost, nothing half-done."""
    interpreted = prepared.interpreted
    inbound = InboundMessage(
        channel=prepared.channel,
        external_id=prepared.external_id,
        raw=prepared.raw,
        metadata=prepared.metadata,
    )
    # The row is written with its outcome: the transaction makes them one, so a failure leaves
    # neither (and the payload is then stored 'received' on its own, below).
    inbound.processed_at = timezone.now()
    inbound.processing_attempts = 1
    if isinstance(interpreted, Rejected):
        inbound.status = InboundStatus.REJECTED
        inbound.reason = interpreted.reason[:500]
    else:
        inbound.status = InboundStatus.PROCESSED
    try:
        if prepared.failure is not None:
            raise prepared.failure
        # Read before the write transaction (SQLite lets one writer in at a time: it holds the
        # lock for less); what changes meanwhile is found again inside (see identify).
        looked_up = (
            look_up(
                interpreted.sender,
                sms_reachability=acknowledge and interpreted.acknowledge_by == Channel.SMS,
            )
            if isinstance(interpreted, IncomingRequest)
            else None
        )
        with transaction.atomic():
            try:
                inbound.save(force_insert=True)
            except IntegrityError:
                raise _AlreadyStored from None
            if isinstance(interpreted, Rejected):
                return IntakeOutcome(inbound.pk, InboundStatus.REJECTED, reason=inbound.reason)
            assert interpreted is not None
            # Nobody else can see the row before commit: no lock needed to claim it.
            return _apply(inbound, interpreted, acknowledge=acknowledge, looked_up=looked_up)
    except _AlreadyStored:
        existing = _count_redelivery(prepared.channel, prepared.external_id)
        if existing.status == InboundStatus.RECEIVED:
            return process(existing.pk, acknowledge=acknowledge)
        return _already_processed(existing)
    except Exception as error:
        stored, created = receive(prepared.channel, prepared.external_id, prepared.raw, prepared.metadata)
        if created:
            _record_failure(stored.pk, error)
        raise


def process(inbound_id: int, *, acknowledge: bool = True) -> IntakeOutcome:
    """Turn a stored payload into a ticket entry, once. Safe to call again and concurrently."""
    try:
        with transaction.atomic():
            inbound = InboundMessage.objects.select_for_update().get(pk=inbound_id)
            if inbound.status != InboundStatus.RECEIVED:
                return _already_processed(inbound)
            interpreted = _interpret(inbound)
            if isinstance(interpreted, Rejected):
                return _finish(inbound, InboundStatus.REJECTED, None, reason=interpreted.reason)
            return _apply(inbound, interpreted, acknowledge=acknowledge)
    except Exception as error:
        # The transaction rolled back; keep the payload 'received' with the error for a retry.
        _record_failure(inbound_id, error)
        raise


def _already_processed(inbound: InboundMessage) -> IntakeOutcome:
    ticket_id = Message.objects.filter(inbound_id=inbound.pk).values_list("ticket_id", flat=True).first()
    return IntakeOutcome(
        inbound.pk, InboundStatus(inbound.status), ticket_id, duplicate=True, reason=inbound.reason
    )


def _record_failure(inbound_id: int, error: Exception) -> None:
    InboundMessage.objects.filter(pk=inbound_id).update(
        processing_attempts=F("processing_attempts") + 1,
        reason=f"processing failed: {type(error).__name__}: {error}"[:500],
    )
    log.exception("processing inbound message %s failed", inbound_id)


def _interpret(inbound: InboundMessage) -> IncomingRequest | BounceNotice | Rejected:
    try:
        return _interpreter(inbound.channel)(inbound)
    except Rejected as rejection:
        return rejection


def _apply(
    inbound: InboundMessage,
    interpreted: IncomingRequest | BounceNotice,
    *,
    acknowledge: bool,
    looked_up: SenderLookup | None = None,
) -> IntakeOutcome:
    if isinstance(interpreted, BounceNotice):
        return _attach_bounce(inbound, interpreted)
    acknowledged = _page_acknowledgment(Channel(inbound.channel), interpreted)
    if acknowledged is not None:
        return _finish(
            inbound,
            InboundStatus.REJECTED,
            None,
            reason=f"page acknowledgment by staff: {acknowledged}",
            reply=acknowledged if inbound.channel == Channel.SMS else "",
        )
    if not interpreted.only_named_ticket:
        entry = _thread_or_open(inbound, interpreted, acknowledge=acknowledge, looked_up=looked_up)
        return _finish(
            inbound, InboundStatus.PROCESSED, entry.ticket, created=entry.created, answer=entry.answer
        )
    try:
        # A savepoint: a refusal undoes what identifying the sender created, not the raw row.
        with transaction.atomic():
            entry = _thread_or_open(inbound, interpreted, acknowledge=acknowledge, looked_up=looked_up)
    except Rejected as refusal:
        return _finish(inbound, InboundStatus.REJECTED, None, reason=refusal.reason)
    return _finish(inbound, InboundStatus.PROCESSED, entry.ticket, created=entry.created, answer=entry.answer)


def _finish(
    inbound: InboundMessage,
    status: InboundStatus,
    ticket: Ticket | None,
    *,
    created: bool = False,
    reason: str = "",
    reply: str = "",
    answer: Message | None = None,
) -> IntakeOutcome:
    """Record the outcome on the row, unless it was stored with it already (the usual case).
    ``answer``: the acknowledgment to answer the request with (its text becomes the reply)."""
    if (inbound.status, inbound.reason) != (status, reason[:500]):
        # The row is ours here (just inserted, or locked by process()): plain values suffice.
        InboundMessage.objects.filter(pk=inbound.pk).update(
            status=status,
            reason=reason[:500],
            processed_at=timezone.now(),
            # A row stored with an outcome counted its attempt already.
            processing_attempts=inbound.processing_attempts + (inbound.status == InboundStatus.RECEIVED),
        )
    return IntakeOutcome(
        inbound.pk,
        status,
        ticket.pk if ticket else None,
        created_ticket=created,
        reason=reason,
        reply=answer.body_text if answer is not None else reply,
        reply_delivery_id=answer.delivery.pk if answer is not None else None,
    )


def _attach_bounce(inbound: InboundMessage, bounce: BounceNotice) -> IntakeOutcome:
    delivery = (
        mark_bounced(bounce.original_message_id, bounce.summary) if bounce.original_message_id else None
    )
    if delivery is None:
        return _finish(
            inbound,
            InboundStatus.REJECTED,
            None,
            reason=f"bounce about a message we did not send: {bounce.summary}",
        )
    ticket = delivery.message.ticket
    add_message(
        ticket,
        kind=MessageKind.EVENT,
        channel=Channel(inbound.channel),
        body_text=f"Email to {delivery.to_address} bounced: {bounce.summary}",
        inbound_id=inbound.pk,
        actor=Actor.system("bounce"),
    )
    return _finish(inbound, InboundStatus.PROCESSED, ticket)


def _page_acknowledgment(channel: Channel, request: IncomingRequest) -> str | None:
    """A staff member answering a page — "ACK T-000123" by text, a reply to the page email —
    stops that escalation and is not a ticket entry. Returns what happened in words, or None
    when this is not a page acknowledgment (then it is an ordinary message)."""
    if channel == Channel.SMS:
        return acknowledge_by_text(request.sender.phone, request.body_text)
    if channel == Channel.EMAIL and acknowledge_by_email(
        request.sender.email, request.subject, list(request.replies_to)
    ):
        return f"{request.sender.email} acknowledged the page by email"
    return None


class Identified(NamedTuple):
    contact: Contact
    # Made by this call.
    is_new: bool
    # The phone number was nobody's until this call recorded it: nothing is known about it
    # (not that it is a landline, nor that it has had an acknowledgment).
    number_is_new: bool = False
    # Why a text cannot go to their number ("" if it can), when read with the lookup.
    sms_unreachable: str | None = None


@dataclass(frozen=True)
class SenderLookup:
    """What the database knew of a sender when ``look_up`` read it: their contact, or for a new
    one the client owning their email domain or number, and whether the number was nobody's."""

    contact: Contact | None
    client_id: int | None = None
    number_is_new: bool = False
    # For a new contact, when asked: why a text cannot go to their number ("" if it can).
    sms_unreachable: str | None = None


def look_up(person: Person, *, sms_reachability: bool = False) -> SenderLookup:
    """The known contact with this email address or phone number (a contact's own number wins
    over a client's main line); else, for the new contact, the client owning the address's
    domain or the number, if any, and with ``sms_reachability`` whether a text can go to the
    number (a new sender's request opens a ticket, acknowledged by text). Reads only."""
    address = person.email.strip().lower()
    phone = normalize_phone(person.phone)
    if address:
        contact = Contact.objects.filter(email=address).first()
        if contact is not None:
            return SenderLookup(contact)
        domain = address.rpartition("@")[2]
        return SenderLookup(
            None, EmailDomain.objects.filter(domain=domain).values_list("client_id", flat=True).first()
        )
    if phone:
        known = owner_of_number(phone)
        if known is not None and known.contact is not None:
            return SenderLookup(known.contact)
        return SenderLookup(
            None,
            known.client_id if known is not None else None,
            number_is_new=known is None,
            sms_unreachable=sms_unreachable_reason(phone, just_recorded=known is None)
            if sms_reachability
            else None,
        )
    # Nothing to recognise them by (a withheld number): a new unverified requester each time.
    return SenderLookup(None)


def identify(person: Person, actor_label: str, looked_up: SenderLookup | None = None) -> Identified:
    """The known contact with this email address or phone number; else a new contact — of the
    client owning the address's domain or the number (a client's main line), if any; otherwise
    an unverified requester with no client (always a new one when there is neither address nor
    number, e.g. a withheld caller). ``looked_up``: ``look_up(person)`` read earlier, outside
    this transaction; a contact made since by a concurrent request is found when making it
    again fails."""
    found = looked_up if looked_up is not None else look_up(person)
    if found.contact is not None:
        return Identified(found.contact, is_new=False)
    address = person.email.strip().lower()
    phone = normalize_phone(person.phone)
    try:
        with transaction.atomic():
            contact = Contact.objects.create(client_id=found.client_id, name=person.name[:200], email=address)
            if phone:
                PhoneNumber.objects.create(number=phone, client_id=found.client_id, contact=contact)
    except IntegrityError:  # created by a concurrent message from the same new sender
        if address:
            return Identified(Contact.objects.get(email=address), is_new=False)
        return Identified(Contact.objects.get(phone_numbers__number=phone), is_new=False)
    audit(
        None,
        Actor.system(actor_label),
        "contact_created",
        after={"email": address, "phone": phone, "client_id": found.client_id},
    )
    return Identified(
        contact, is_new=True, number_is_new=found.number_is_new, sms_unreachable=found.sms_unreachable
    )


def _recent_open_ticket(sender: Contact, window: timedelta) -> Ticket | None:
    return (
        Ticket.objects.filter(requester=sender, created_at__gte=timezone.now() - window)
        .exclude(status__in=DONE_STATUSES)
        .order_by("-created_at", "-id")
        .first()
    )


def _find_thread(request: IncomingRequest, sender: Contact) -> Ticket | None:
    if request.replies_to:
        answered = Ticket.objects.filter(messages__rfc_message_id__in=request.replies_to)
        answered_ticket = answered.order_by("-messages__id").first()
        if answered_ticket is not None:
            return answered_ticket
    if request.named_ticket_id is not None:
        named = Ticket.objects.filter(pk=request.named_ticket_id).first()
        # A ticket number in a subject is only trusted from people of that ticket: anyone can
        # type a number, and an outsider's mail must never land on another client's ticket.
        if named is not None and (
            named.requester_id == sender.pk
            or (named.client_id is not None and named.client_id == sender.client_id)
            or named.participants.filter(pk=sender.pk).exists()
        ):
            return named
    return None


@dataclass(frozen=True)
class _Entry:
    """Where a request landed: its ticket, whether it opened it, and the acknowledgment to
    answer the request with (when it goes in the answer to the webhook, not by itself)."""

    ticket: Ticket
    created: bool
    answer: Message | None = None


def _thread_or_open(
    inbound: InboundMessage,
    request: IncomingRequest,
    *,
    acknowledge: bool,
    looked_up: SenderLookup | None = None,
) -> _Entry:
    channel = Channel(inbound.channel)
    actor_label = f"{channel.label} intake"
    identified = identify(request.sender, actor_label, looked_up)
    sender = identified.contact
    actor = Actor(contact=sender, label=actor_label)
    ticket = _find_thread(request, sender)
    if ticket is not None:
        ticket = follow_merges(ticket)
    if ticket is None and request.only_named_ticket:
        named = format_ticket_number(request.named_ticket_id)
        raise Rejected(
            f"{sender.email or sender} is not the requester, a participant or a contact of the "
            f"client of {named}, so it cannot post on it."
        )
    if ticket is None and request.recent_ticket_window is not None and not identified.is_new:
        ticket = _recent_open_ticket(sender, request.recent_ticket_window)
    created = False
    if ticket is not None and ticket.status == Status.CLOSED and ticket.closed_at is not None:
        window = timedelta(days=settings.FIRSTCALL_REOPEN_CLOSED_WITHIN_DAYS)
        if timezone.now() - ticket.closed_at > window:
            previous = ticket
            ticket = _open(request, sender, channel, actor, follows_up=previous)
            add_event(previous, f"A later reply opened follow-up ticket {ticket.number}.")
            created = True
    if ticket is None:
        ticket = _open(request, sender, channel, actor, follows_up=None)
        created = True
    elif not created and ticket.status in (Status.RESOLVED, Status.CLOSED, Status.WAITING_ON_CLIENT):
        transition(ticket, Status.OPEN, actor=actor, reason=f"{channel.label} reply from {sender}")
    message = add_message(
        ticket,
        kind=MessageKind.INBOUND,
        channel=channel,
        body_text=request.body_text,
        body_html=request.body_html,
        subject=request.subject,
        rfc_message_id=request.rfc_message_id,
        inbound_id=inbound.pk,
        actor=actor,
        # The opening message is stamped with the ticket's own time: one moment, one update less.
        created_at=ticket.created_at if created else None,
    )
    _save_attachments(message, request)
    for note in request.intake_notes:
        add_event(ticket, note)
    if not created:
        add_participant(ticket, sender, actor=actor)
    for person in request.participants:
        if person.email.lower() != sender.email and not is_our_address(person.email):
            add_participant(ticket, identify(person, actor_label).contact, actor=actor)
    answer = None
    if created and acknowledge:
        answer = _acknowledge(ticket, message, identified, request)
    if created and isinstance(request, VerificationRequest):
        start_verification(ticket, message, request)
    return _Entry(ticket, created, answer)


def _open(
    request: IncomingRequest, sender: Contact, channel: Channel, actor: Actor, *, follows_up: Ticket | None
) -> Ticket:
    return open_ticket(
        client_id=sender.client_id,
        requester=sender,
        subject=request.subject,
        channel=channel,
        actor=actor,
        body=request.body_text,
        is_emergency=request.is_emergency,
        alert_host=request.alert_host,
        alert_severity=request.alert_severity,
        alert_labels=request.alert_labels,
        unverified_requester=sender.client_id is None,
        follows_up=follows_up,
    )


def _save_attachments(message: Message, request: IncomingRequest) -> None:
    for incoming in request.attachments:
        digest = hashlib.sha256(incoming.content).hexdigest()
        attachment = Attachment(
            message=message,
            filename=incoming.filename[:255],
            content_type=incoming.content_type[:255],
            size=len(incoming.content),
            sha256=digest,
        )
        stored_name = attachment_path(attachment, incoming.filename)
        if default_storage.exists(stored_name):
            attachment.file.name = stored_name
            attachment.save()
        else:
            attachment.file.save(digest, ContentFile(incoming.content), save=True)


def _acknowledge(
    ticket: Ticket, message: Message, sender: Identified, request: IncomingRequest
) -> Message | None:
    """Acknowledge a new ticket, or say on it why not. Returns the acknowledgment when it goes
    in the answer to the request itself (a text to the texter, whose webhook we answer)."""
    route, unroutable = _acknowledgment_route(sender, request)
    reason = request.no_acknowledgment_reason or unroutable
    if not reason and route is not None and route.channel == Channel.EMAIL and is_our_address(route.address):
        reason = "the sender is one of our own addresses"
    # A contact made just now has had no acknowledgment to count.
    if not reason and route is not None and not sender.is_new and acknowledgment_rate_exceeded(route.address):
        kind = "text" if route.channel == Channel.SMS else "mail"
        reason = (
            f"{route.address} already got {settings.FIRSTCALL_ACK_RATE_LIMIT_PER_HOUR} "
            f"acknowledgments in the last hour (possible {kind} loop)"
        )
    if reason or route is None:
        add_event(ticket, f"Acknowledgment not sent: {reason}.", staff_only=True)
        return None
    # A text route is always to the number the request came from.
    in_response = request.acknowledge_in_response and route.channel == Channel.SMS
    acknowledgment = schedule_acknowledgment(ticket, message, route, in_response=in_response)
    return acknowledgment if in_response else None


def _acknowledgment_route(sender: Identified, request: IncomingRequest) -> tuple[Route | None, str]:
    """By text when the request asks for it and the sender's phone can take one; else by email
    to the contact. With no route, why not."""
    phone = normalize_phone(request.sender.phone)
    unreachable = ""
    if request.acknowledge_by == Channel.SMS and phone:
        unreachable = (
            sender.sms_unreachable
            if sender.sms_unreachable is not None
            else sms_unreachable_reason(phone, just_recorded=sender.number_is_new)
        )
        if not unreachable:
            return Route(Channel.SMS, phone), ""
    if sender.contact.email:
        return Route(Channel.EMAIL, sender.contact.email), ""
    if unreachable:
        return None, f"{unreachable} and the requester has no email address"
    return None, "the requester has no email address or phone number we can write to"


def retry_stuck_inbound(older_than: timedelta = timedelta(seconds=30), limit: int = 200) -> int:
    """Process payloads stored but never processed (a crash, a worker down). For the sweep."""
    cutoff = timezone.now() - older_than
    ids = list(
        InboundMessage.objects.filter(
            status=InboundStatus.RECEIVED,
            received_at__lte=cutoff,
            processing_attempts__lt=MAX_PROCESSING_ATTEMPTS,
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for inbound_id in ids:
        try:
            process(inbound_id)
            done += 1
        except Exception:  # already logged and recorded on the row by process()
            continue
    return done
