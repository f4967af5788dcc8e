"""Monitoring alerts: which source and client, one ticket per alert group, dedupe, resolve.

A notification is split by client (an Alertmanager group may hold several clients' alerts);
each client's part belongs to one AlertGroup (source, client, group key). Under the group's row
lock, either
- nothing active is on the group and something fires: the pipeline opens the ticket
  (``ingest``; the channel's interpreter writes the ticket), and the group remembers it; or
- the group has a ticket: the raw payload is stored (``receive``), what is new becomes one note
  (new alerts, resolved alerts), all alerts resolved may resolve the ticket, and the stored row
  is marked processed in the same transaction — or is simply counted as a redelivery.
The external id is a hash of source, client, payload and the group's episode (its ticket count),
so an identical redelivery adds nothing while the same alert firing again after its ticket was
resolved still opens a new one.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from firstcall.clients.models import Client, Contact
from firstcall.intake.channels.alert import FIRING, RESOLVED, Alert, Notification, describe, parse
from firstcall.intake.models import AlertGroup, AlertSource, InboundMessage, InboundStatus
from firstcall.intake.pipeline import ingest, receive
from firstcall.intake.request import Rejected
from firstcall.tickets.actions import Actor, add_event, add_message, audit, transition
from firstcall.tickets.models import DONE_STATUSES, Channel, MessageKind, Status, Ticket, format_ticket_number

log = logging.getLogger(__name__)

# Requesters of alert tickets live at this reserved domain: mail to them is never delivered.
ALERT_CONTACT_DOMAIN = "alerts.invalid"


@dataclass(frozen=True)
class GroupOutcome:
    """What one client's part of a notification did: opened, updated, unchanged (nothing new),
    duplicate (the same payload again), or ignored (resolved, but no ticket to note it on)."""

    result: str
    ticket_id: int | None
    inbound_id: int

    def as_json(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "ticket": format_ticket_number(self.ticket_id) if self.ticket_id else None,
            "inbound_id": self.inbound_id,
        }


@dataclass(frozen=True)
class AlertOutcome:
    groups: list[GroupOutcome] = field(default_factory=list)
    # Set when the payload was stored and rejected (unreadable): the sender must not retry.
    rejected_reason: str = ""
    inbound_id: int | None = None


def find_source(slug: str, secret: str) -> AlertSource | None:
    """The active source with this slug whose secret matches; None (and a log line) otherwise."""
    source = AlertSource.objects.filter(slug=slug, is_active=True).first()
    if source is None or not source.secret_matches(secret):
        # Hash anyway, so an unknown slug and a wrong secret take the same time.
        AlertSource(secret_hash="").secret_matches(secret or "-")
        return None
    return source


def create_source(
    name: str,
    slug: str,
    *,
    default_client: Client | None = None,
    client_label: str = "client",
    resolve_tickets: bool = True,
    secret: str | None = None,
) -> tuple[AlertSource, str]:
    """A new alert source and its secret in plain (shown once; only its hash is kept)."""
    source = AlertSource(
        name=name,
        slug=slug,
        default_client=default_client,
        client_label=client_label,
        resolve_tickets=resolve_tickets,
    )
    plain = source.set_secret(secret)
    source.save()
    audit(
        None,
        Actor.system("alert sources"),
        "alert_source_created",
        after={"name": name, "slug": slug, "default_client": str(default_client or "")},
    )
    return source, plain


def receive_alert(source: AlertSource, format: str, raw: bytes, metadata: dict[str, Any]) -> AlertOutcome:
    """Store and apply one notification from ``source``. Raises on our own failures (the raw
    payload is then kept as a rejected row for a person to see; the sender retries)."""
    base = {**metadata, "format": format, "source": source.slug, "source_name": source.name}
    base["client_label"] = source.client_label
    try:
        notification = parse(format, raw, source.client_label)
    except Rejected:
        # The pipeline stores it and records why (the interpreter rejects it the same way).
        outcome = ingest(Channel.ALERT, _external_id(source, raw, "-", 0), raw, base)
        return AlertOutcome(rejected_reason=outcome.reason, inbound_id=outcome.inbound_id)
    try:
        groups = [
            _apply_part(source, notification, client, alerts, notes, raw, base)
            for client, alerts, notes in _split_by_client(source, notification)
        ]
    except Exception as error:
        _keep_failed(source, raw, base, error)
        raise
    return AlertOutcome(groups=groups)


def _client_index() -> dict[str, int]:
    """Client ids by lowercased name and by slug: a label may say either."""
    index: dict[str, int] = {}
    for pk, name in Client.objects.values_list("pk", "name"):
        index[name.lower()] = pk
        index.setdefault(slugify(name), pk)
    return index


def _split_by_client(
    source: AlertSource, notification: Notification
) -> list[tuple[Client | None, tuple[Alert, ...], list[str]]]:
    index = _client_index() if any(a.client for a in notification.alerts) else {}
    default_id = source.default_client_id
    parts: dict[int | None, list[Alert]] = {}
    notes: dict[int | None, list[str]] = {}
    for alert in notification.alerts:
        client_id = default_id
        if alert.client:
            named = index.get(alert.client.strip().lower()) or index.get(slugify(alert.client))
            if named is not None:
                client_id = named
            else:
                fallback = "the source's default client" if default_id else "no client (unverified)"
                notes.setdefault(client_id, []).append(
                    f"The alert names client {alert.client!r}, which matches no client: "
                    f"filed under {fallback}."
                )
        parts.setdefault(client_id, []).append(alert)
    clients = Client.objects.in_bulk([pk for pk in parts if pk is not None])
    return [
        (clients[pk] if pk is not None else None, tuple(alerts), sorted(set(notes.get(pk, []))))
        for pk, alerts in parts.items()
    ]


def _requester(source: AlertSource, client: Client | None) -> Contact:
    """The contact alert tickets are requested by: one per source and client. Without a client
    the pipeline makes it an unverified requester."""
    if client is None:
        email = f"{source.slug}@{ALERT_CONTACT_DOMAIN}"
        return Contact(email=email, name=f"{source.name} alerts")
    email = f"{source.slug}.client{client.pk}@{ALERT_CONTACT_DOMAIN}"
    contact, _ = Contact.objects.get_or_create(
        email=email, defaults={"client": client, "name": f"{source.name} alerts"}
    )
    return contact


def _external_id(source: AlertSource, raw: bytes, client_key: str, episode: int) -> str:
    digest = hashlib.sha256(raw).hexdigest()
    return f"alert:{source.slug}:{client_key}:{episode}:{digest}"


def _apply_part(
    source: AlertSource,
    notification: Notification,
    client: Client | None,
    alerts: tuple[Alert, ...],
    notes: list[str],
    raw: bytes,
    base: dict[str, Any],
) -> GroupOutcome:
    client_key = str(client.pk) if client else "-"
    key_hash = hashlib.sha256(f"{client_key}\n{notification.group_key}".encode()).hexdigest()
    requester = _requester(source, client)
    metadata = {
        **base,
        "client_id": client.pk if client else None,
        "fingerprints": [a.fingerprint for a in alerts],
        "requester_email": requester.email,
        "requester_name": requester.name,
        "notes": notes,
    }
    with transaction.atomic():
        group, _ = AlertGroup.objects.select_for_update().get_or_create(
            source=source,
            key_hash=key_hash,
            defaults={"client": client, "group_key": notification.group_key},
        )
        ticket = Ticket.objects.filter(pk=group.ticket_id).first() if group.ticket_id else None
        active = ticket is not None and ticket.status not in DONE_STATUSES
        if not active and any(a.status == FIRING for a in alerts):
            return _open(source, group, ticket, alerts, raw, {**metadata, "episode": group.episode + 1})
        external_id = _external_id(source, raw, client_key, group.episode)
        inbound, created = receive(Channel.ALERT, external_id, raw, {**metadata, "episode": group.episode})
        if not created:
            return GroupOutcome("duplicate", group.ticket_id, inbound.pk)
        if ticket is None:
            _mark(inbound, "resolved notification for an alert group with no ticket: nothing to do")
            return GroupOutcome("ignored", None, inbound.pk)
        return _update(source, group, ticket, active, alerts, inbound)


def _open(
    source: AlertSource,
    group: AlertGroup,
    previous: Ticket | None,
    alerts: tuple[Alert, ...],
    raw: bytes,
    metadata: dict[str, Any],
) -> GroupOutcome:
    episode = int(metadata["episode"])
    client_key = str(group.client_id) if group.client_id else "-"
    outcome = ingest(Channel.ALERT, _external_id(source, raw, client_key, episode), raw, metadata)
    if outcome.ticket_id is None:
        # Rejected by the interpreter (it reads what parse() read, so this is unexpected).
        raise RuntimeError(f"alert intake made no ticket: {outcome.reason or outcome.status}")
    if previous is not None:
        add_event(
            previous,
            f"The alert group fired again after this ticket was {previous.get_status_display().lower()}: "
            f"new ticket {format_ticket_number(outcome.ticket_id)}.",
        )
    group.ticket_id = outcome.ticket_id
    group.episode = episode
    group.alerts = {a.fingerprint: a.status for a in alerts}
    group.updated_at = timezone.now()
    group.save(update_fields=["ticket", "episode", "alerts", "updated_at"])
    return GroupOutcome("opened", outcome.ticket_id, outcome.inbound_id)


def _update(
    source: AlertSource,
    group: AlertGroup,
    ticket: Ticket,
    active: bool,
    alerts: tuple[Alert, ...],
    inbound: InboundMessage,
) -> GroupOutcome:
    seen: dict[str, Any] = dict(group.alerts)
    changed = [a for a in alerts if seen.get(a.fingerprint) != a.status]
    if not changed:
        _mark(inbound, "repeat notification: nothing new")
        return GroupOutcome("unchanged", ticket.pk, inbound.pk)
    lines = []
    for alert in changed:
        if alert.status == FIRING:
            lead = "Firing again:" if alert.fingerprint in seen else "New alert in this group:"
        else:
            lead = "Resolved:"
        lines.append(f"{lead}\n{describe(alert)}")
        seen[alert.fingerprint] = alert.status
    actor = Actor.system(f"{source.name} alerts")
    add_message(
        ticket,
        kind=MessageKind.NOTE,
        channel=Channel.ALERT,
        body_text="\n\n".join(lines),
        inbound_id=inbound.pk,
        actor=actor,
    )
    group.alerts = seen
    group.updated_at = timezone.now()
    group.save(update_fields=["alerts", "updated_at"])
    if active and all(status == RESOLVED for status in seen.values()):
        if source.resolve_tickets:
            transition(
                ticket,
                Status.RESOLVED,
                actor=actor,
                reason=f"all alerts of the group resolved (reported by {source.name})",
            )
        else:
            add_event(
                ticket, "All alerts of this group are resolved; the ticket stays open for a person to close."
            )
    _mark(inbound, "")
    return GroupOutcome("updated", ticket.pk, inbound.pk)


def _mark(inbound: InboundMessage, reason: str) -> None:
    """Record the outcome of a payload applied outside the pipeline (same transaction)."""
    InboundMessage.objects.filter(pk=inbound.pk).update(
        status=InboundStatus.PROCESSED,
        reason=reason[:500],
        processed_at=timezone.now(),
        processing_attempts=1,
    )


def _keep_failed(source: AlertSource, raw: bytes, metadata: dict[str, Any], error: Exception) -> None:
    """Keep the payload of a failed notification for a person to look at, under an id of its
    own: the sender's retry (we answer 5xx) must still be processed, not counted as a repeat."""
    try:
        inbound, _ = receive(Channel.ALERT, f"alert-failed:{source.slug}:{uuid.uuid4().hex}", raw, metadata)
        InboundMessage.objects.filter(pk=inbound.pk).update(
            status=InboundStatus.REJECTED,
            reason=f"processing failed: {type(error).__name__}: {error}; the sender retries"[:500],
            processed_at=timezone.now(),
        )
    except Exception:
        log.exception("could not keep the payload of a failed alert from %s", source.slug)
    log.exception("alert from %s failed", source.slug, exc_info=error)
