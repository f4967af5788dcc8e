"""A ticket's priority over its life: triage when it opens, re-triage when a business-critical
deadline draws nearer, and staff overrides (with a reason, audited, never undone by a re-triage).

A change of priority moves the SLA clocks (new targets, the history kept) and, when the new
priority has an escalation policy, starts escalation.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from firstcall.tickets.actions import Actor, audit
from firstcall.tickets.models import DONE_STATUSES, MessageKind, Ticket
from firstcall.triage.engine import TicketFacts, TriageResult
from firstcall.triage.load import facts_for_new_ticket, triage_with_stored_settings
from firstcall.triage.matrix import Impact, Urgency

REVIEW_REASON = "a business-critical deadline is nearer"


def schedule_review(ticket: Ticket) -> None:
    """After commit, a task at the ticket's review moment (the minute sweep catches a lost one)."""
    moment = ticket.triage_review_at
    if moment is None:
        return
    from firstcall.tickets.tasks import retriage_ticket

    transaction.on_commit(partial(retriage_ticket.schedule, (ticket.pk,), eta=moment))


def triage_fields(result: TriageResult) -> dict[str, Any]:
    """The ticket's columns a triage result sets."""
    return {
        "priority": result.priority,
        "impact": result.impact,
        "urgency": result.urgency,
        "priority_explanation": result.explanation,
        "priority_reasons": [
            {"dimension": r.dimension, "value": r.value, "because": r.because} for r in result.reasons
        ],
        "affected_people": result.affected_people,
        "cost_per_hour": result.cost_per_hour,
        "triage_review_at": result.next_review_at,
    }


def ticket_facts(ticket: Ticket, *, body: str | None = None) -> TicketFacts:
    """The triage facts of an existing ticket: its opening message and its overrides."""
    if body is None:
        opening = ticket.messages.filter(kind=MessageKind.INBOUND).order_by("created_at", "id").first()
        body = opening.body_text if opening else ""
    return facts_for_new_ticket(
        client_id=ticket.client_id,
        subject=ticket.subject,
        body=body,
        channel=ticket.channel,
        is_emergency=ticket.is_emergency,
        requester_is_vip=ticket.requester.is_vip,
        impact_override=Impact(ticket.impact_override) if ticket.impact_override else None,
        urgency_override=Urgency(ticket.urgency_override) if ticket.urgency_override else None,
        override_reason=ticket.override_reason,
    )


def retriage(ticket: Ticket, *, actor: Actor, reason: str, now: datetime | None = None) -> bool:
    """Triage the ticket again (its facts, the stored matrix and rules, staff overrides kept).
    Returns whether the priority changed. Category, team and assignee are left as they are:
    rules set them once, at opening; people may have changed them since."""
    from firstcall.escalation.engine import reconsider_escalation
    from firstcall.sla.tracking import sync_clocks

    now = now or timezone.now()
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().select_related("requester").get(pk=ticket.pk)
        if locked.status in DONE_STATUSES:
            Ticket.objects.filter(pk=locked.pk).update(triage_review_at=None)
            return False
        result = triage_with_stored_settings(ticket_facts(locked), now=now)
        fields = triage_fields(result)
        if result.next_review_at is not None and result.next_review_at <= now:
            # A review moment must lie ahead, or the sweep would review this ticket every minute.
            fields["triage_review_at"] = None
        before = {"priority": locked.priority, "impact": locked.impact, "urgency": locked.urgency}
        for name, value in fields.items():
            setattr(locked, name, value)
        Ticket.objects.filter(pk=locked.pk).update(**fields)
        changed = before["priority"] != locked.priority
        if changed or before["impact"] != locked.impact or before["urgency"] != locked.urgency:
            audit(
                locked,
                actor,
                "priority_changed",
                field="priority",
                before=before,
                after={"priority": locked.priority, "impact": locked.impact, "urgency": locked.urgency},
                reason=reason,
            )
        if changed:
            sync_clocks(locked)
            reconsider_escalation(locked, reason=f"now {locked.priority}: {reason}")
        schedule_review(locked)
    for name in (*fields, "first_response_due_at", "sla_due_at"):
        setattr(ticket, name, getattr(locked, name))
    return changed


def override_priority(
    ticket: Ticket,
    *,
    impact: Impact | None,
    urgency: Urgency | None,
    reason: str,
    actor: Actor,
) -> bool:
    """Staff set impact and/or urgency (None: let triage decide) with a reason. Returns whether
    the priority changed."""
    reason = reason.strip()
    if not reason:
        raise ValueError("Say why the priority is overridden: the reason is shown on the ticket.")
    with transaction.atomic():
        before = {"impact": ticket.impact_override or None, "urgency": ticket.urgency_override or None}
        Ticket.objects.filter(pk=ticket.pk).update(
            impact_override=impact or "", urgency_override=urgency or "", override_reason=reason[:300]
        )
        ticket.impact_override, ticket.urgency_override = impact or "", urgency or ""
        ticket.override_reason = reason[:300]
        audit(
            ticket,
            actor,
            "priority_overridden",
            field="priority",
            before=before,
            after={"impact": impact or None, "urgency": urgency or None},
            reason=reason,
        )
        return retriage(ticket, actor=actor, reason=f"override by staff: {reason}")


def due_for_review(now: datetime | None = None, limit: int = 500) -> list[int]:
    """Tickets whose triage should be redone now (a deadline drew nearer); via the partial index."""
    now = now or timezone.now()
    return list(
        Ticket.objects.filter(triage_review_at__lte=now)
        .order_by("triage_review_at")
        .values_list("pk", flat=True)[:limit]
    )


def review_due_tickets(now: datetime | None = None) -> int:
    """Re-triage every ticket whose review moment has come; returns how many changed priority."""
    changed = 0
    for ticket_id in due_for_review(now):
        ticket = Ticket.objects.get(pk=ticket_id)
        if retriage(ticket, actor=Actor.system("triage"), reason=REVIEW_REASON, now=now):
            changed += 1
    return changed
