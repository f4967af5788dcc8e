"""Huey tasks for tickets: re-triage when a business-critical deadline draws nearer."""

from __future__ import annotations

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from firstcall.tickets.actions import Actor
from firstcall.tickets.models import Ticket
from firstcall.tickets.priority import REVIEW_REASON, retriage, review_due_tickets


@db_task()
def retriage_ticket(ticket_id: int) -> bool:
    """Scheduled at the ticket's review moment; acts only if that moment has come (the task may
    run late, twice, or after the moment moved)."""
    ticket = Ticket.objects.filter(pk=ticket_id, triage_review_at__lte=timezone.now()).first()
    if ticket is None:
        return False
    return retriage(ticket, actor=Actor.system("triage"), reason=REVIEW_REASON)


@db_periodic_task(crontab(minute="*"))
def sweep_triage_reviews() -> int:
    """Catches reviews whose scheduled task was lost (a worker down, a queue flushed)."""
    return review_due_tickets()
