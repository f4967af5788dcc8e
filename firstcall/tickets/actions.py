"""Every state-changing operation on a ticket, in one place. Each writes an audit event.

Callers run these inside a transaction (the intake pipeline, console views, the API); side
effects such as outbound mail are scheduled with ``transaction.on_commit`` by notify.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.sla.targets import targets_for
from firstcall.sla.tracking import TicketHistory, compute_clocks, sync_clocks, ticket_due_times
from firstcall.tickets.models import (
    DONE_STATUSES,
    AuditEvent,
    Channel,
    Direction,
    Message,
    MessageKind,
    Status,
    Ticket,
)
from firstcall.triage.load import facts_for_new_ticket, triage_with_stored_settings

# The one list of allowed status changes. Reopening a closed ticket is allowed here; whether a
# late reply reopens it or opens a follow-up ticket is intake's decision (the reopen window).
ALLOWED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.OPEN, Status.WAITING_ON_CLIENT, Status.RESOLVED, Status.CLOSED}),
    Status.OPEN: frozenset({Status.WAITING_ON_CLIENT, Status.RESOLVED, Status.CLOSED}),
    Status.WAITING_ON_CLIENT: frozenset({Status.OPEN, Status.RESOLVED, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset({Status.OPEN}),
}


class IllegalTransition(ValueError):
    def __init__(self, ticket: Ticket, to: Status) -> None:
        current = Status(ticket.status)
        if ticket.merged_into_id is not None:
            super().__init__(
                f"{ticket.number} was merged into another ticket and stays closed; work on that one."
            )
            return
        allowed = ", ".join(sorted(s.label.lower() for s in ALLOWED_TRANSITIONS[current])) or "none"
        super().__init__(
            f"{ticket.number} cannot go from {current.label.lower()} to {to.label.lower()}; "
            f"allowed: {allowed}"
        )


@dataclass(frozen=True)
class Actor:
    """Who did something: a staff user, a client contact, or the system (with a label)."""

    user: User | None = None
    contact: Contact | None = None
    label: str = "system"

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(label=label)


def audit_row(
    ticket: Ticket | None,
    actor: Actor,
    action: str,
    *,
    field: str = "",
    before: Any = None,
    after: Any = None,
    reason: str = "",
) -> AuditEvent:
    """The audit row of a change, unsaved (``audit`` saves it; batches insert many at once)."""
    return AuditEvent(
        ticket=ticket,
        actor_user=actor.user,
        actor_contact=actor.contact,
        actor_label=actor.label,
        action=action,
        field=field,
        before=before,
        after=after,
        reason=reason[:300],
    )


def audit(
    ticket: Ticket | None,
    actor: Actor,
    action: str,
    *,
    field: str = "",
    before: Any = None,
    after: Any = None,
    reason: str = "",
) -> AuditEvent:
    event = audit_row(ticket, actor, action, field=field, before=before, after=after, reason=reason)
    event.save(force_insert=True)
    return event


def open_ticket(
    *,
    client_id: int | None,
    requester: Contact,
    subject: str,
    channel: Channel,
    actor: Actor,
    body: str = "",
    is_emergency: bool = False,
    unverified_requester: bool = False,
    follows_up: Ticket | None = None,
    alert_host: str = "",
    alert_severity: str = "",
    alert_labels: tuple[tuple[str, str], ...] = (),
) -> Ticket:
    """A new ticket, triaged (priority with its reasons, category, team, assignee from the
    rules), with its SLA clocks started and, for a priority that has a policy, escalation."""
    # Escalation and priority changes act on tickets through this module: imported here.
    from firstcall.escalation.engine import start_escalation
    from firstcall.tickets.priority import schedule_review, triage_fields

    now = timezone.now()
    subject = (subject.strip() or "(no subject)")[:300]
    result = triage_with_stored_settings(
        facts_for_new_ticket(
            client_id=client_id,
            subject=subject,
            body=body,
            channel=channel,
            is_emergency=is_emergency,
            requester_is_vip=requester.is_vip,
            alert_host=alert_host,
            alert_severity=alert_severity,
            alert_labels=alert_labels,
        ),
        now=now,
    )
    ticket = Ticket(
        client_id=client_id,
        requester=requester,
        subject=subject,
        channel=channel,
        is_emergency=is_emergency,
        unverified_requester=unverified_requester,
        follows_up=follows_up,
        created_at=now,
        updated_at=now,
        category=result.category,
        team=result.team_name,
        tags=list(result.tags),
        **triage_fields(result),
    )
    targets = targets_for(client_id, ticket.priority)
    history = TicketHistory.of_new_ticket()
    # The due times go in with the row: one insert, no update after it.
    clock_states = compute_clocks(ticket, targets, history)
    ticket.first_response_due_at, ticket.sla_due_at = ticket_due_times(clock_states)
    ticket.save(force_insert=True)
    audit(
        ticket,
        actor,
        "ticket_opened",
        after={"status": ticket.status, "priority": ticket.priority},
        reason=ticket.priority_explanation,
    )
    if result.assignee_username:
        _assign_by_rule(ticket, result.assignee_username)
    sync_clocks(ticket, history=history, targets=targets, states=clock_states)
    start_escalation(ticket, reason=f"{ticket.priority} opened")
    schedule_review(ticket)
    return ticket


def _assign_by_rule(ticket: Ticket, username: str) -> None:
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        add_event(
            ticket,
            f"A triage rule assigns to {username!r}, but no active staff member has that name.",
            staff_only=True,
        )
        return
    assign(ticket, user, actor=Actor.system("triage rule"))


DIRECTION_OF_KIND = {
    MessageKind.INBOUND: Direction.IN,
    MessageKind.REPLY: Direction.OUT,
    MessageKind.AUTO_REPLY: Direction.OUT,
    MessageKind.NOTE: Direction.INTERNAL,
    MessageKind.EVENT: Direction.INTERNAL,
}


def message_row(
    ticket: Ticket,
    *,
    kind: MessageKind,
    channel: Channel,
    body_text: str,
    actor: Actor,
    at: datetime,
    subject: str = "",
    body_html: str = "",
    rfc_message_id: str = "",
    inbound_id: int | None = None,
) -> Message:
    """A timeline entry, unsaved: ``add_message`` saves it (and moves the ticket's updated_at);
    batches insert many at once and move it themselves."""
    return Message(
        ticket=ticket,
        kind=kind,
        direction=DIRECTION_OF_KIND[kind],
        channel=channel,
        author_user=actor.user,
        author_contact=actor.contact,
        subject=subject[:300],
        body_text=body_text,
        body_html=body_html,
        rfc_message_id=rfc_message_id[:255],
        inbound_id=inbound_id,
        created_at=at,
    )


def add_message(
    ticket: Ticket,
    *,
    kind: MessageKind,
    channel: Channel,
    body_text: str,
    actor: Actor,
    subject: str = "",
    body_html: str = "",
    rfc_message_id: str = "",
    inbound_id: int | None = None,
    created_at: datetime | None = None,
) -> Message:
    now = created_at or timezone.now()
    message = message_row(
        ticket,
        kind=kind,
        channel=channel,
        body_text=body_text,
        actor=actor,
        at=now,
        subject=subject,
        body_html=body_html,
        rfc_message_id=rfc_message_id,
        inbound_id=inbound_id,
    )
    message.save(force_insert=True)
    if ticket.updated_at is None or now > ticket.updated_at:
        Ticket.objects.filter(pk=ticket.pk).update(updated_at=now)
        ticket.updated_at = now
    if kind == MessageKind.REPLY and actor.user is not None:
        # First response is the first public reply by staff; acknowledgments and notes do not
        # count. Each reply also restarts the next-update clock.
        record_first_response(ticket, actor=actor, at=now)
        sync_clocks(ticket)
    return message


def record_first_response(ticket: Ticket, *, actor: Actor, at: datetime, how: str = "") -> bool:
    """Staff responded to the requester (a public reply, a call they answered): stamps the
    ticket's first response, once. Returns False if it had one already. The caller moves the
    clocks (``sync_clocks``)."""
    if ticket.first_response_at is not None:
        return False
    Ticket.objects.filter(pk=ticket.pk, first_response_at__isnull=True).update(first_response_at=at)
    ticket.first_response_at = at
    audit(ticket, actor, "first_response", field="first_response_at", after=at.isoformat(), reason=how)
    return True


def add_event(ticket: Ticket, text: str, *, actor: Actor | None = None, staff_only: bool = False) -> Message:
    """A system line on the timeline (e.g. 'attachment dropped', 'escalated to our engineering
    lead'). ``staff_only`` for what is for staff and not the client (a delivery that failed, a
    misconfigured rule): it is then an internal note, which the portal never shows."""
    return add_message(
        ticket,
        kind=MessageKind.NOTE if staff_only else MessageKind.EVENT,
        channel=Channel.CONSOLE,
        body_text=text,
        actor=actor or Actor.system(),
    )


def transition(ticket: Ticket, to: Status, *, actor: Actor, reason: str = "") -> Ticket:
    """Move a ticket to another status, or raise IllegalTransition with the allowed ones."""
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        current = Status(locked.status)
        if to not in ALLOWED_TRANSITIONS[current] or locked.merged_into_id is not None:
            raise IllegalTransition(locked, to)
        # A payment verification stays open until a technician recorded the call-back.
        from firstcall.security.verification import refuse_unverified_resolution

        refuse_unverified_resolution(locked, to)
        now = timezone.now()
        updates: dict[str, Any] = {"status": to, "updated_at": now}
        if to == Status.RESOLVED:
            updates["resolved_at"] = now
        elif to == Status.CLOSED:
            updates["closed_at"] = now
            if locked.resolved_at is None:
                updates["resolved_at"] = now
        elif current in DONE_STATUSES:
            updates["resolved_at"] = None
            updates["closed_at"] = None
        Ticket.objects.filter(pk=locked.pk).update(**updates)
        audit(locked, actor, "status_changed", field="status", before=current, after=to, reason=reason)
        for name, value in updates.items():
            setattr(locked, name, value)
        # Waiting on the client pauses the clocks, resolving stops them, reopening resumes them.
        sync_clocks(locked)
        if to in DONE_STATUSES:
            from firstcall.escalation.engine import stop_escalation

            stop_escalation(locked, reason=f"ticket {to.label.lower()}")
    for name in (*updates, "first_response_due_at", "sla_due_at"):
        setattr(ticket, name, getattr(locked, name))
    return ticket


def assign(ticket: Ticket, assignee: User | None, *, actor: Actor) -> Ticket:
    before = ticket.assignee.username if ticket.assignee else None
    after = assignee.username if assignee else None
    if before == after:
        return ticket
    Ticket.objects.filter(pk=ticket.pk).update(assignee=assignee, updated_at=timezone.now())
    ticket.assignee = assignee
    audit(ticket, actor, "assigned", field="assignee", before=before, after=after)
    return ticket


def add_participant(ticket: Ticket, contact: Contact, *, actor: Actor) -> bool:
    """Add someone (e.g. a CC'd colleague) to the ticket; False if already there."""
    if contact.pk == ticket.requester_id or ticket.participants.filter(pk=contact.pk).exists():
        return False
    ticket.participants.add(contact)
    audit(ticket, actor, "participant_added", field="participants", after=contact.email or str(contact))
    return True
