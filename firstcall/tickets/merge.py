"""Merging a duplicate ticket into the one that stays: one problem, one timeline, one clock."""

from __future__ import annotations

from django.db import transaction

from firstcall.accounts.models import User
from firstcall.sla.tracking import sync_clocks
from firstcall.tickets.actions import Actor, add_event, audit, transition
from firstcall.tickets.models import DONE_STATUSES, Message, Status, Ticket

MERGED = "merged into {number}"


class CannotMerge(ValueError):
    """The two tickets cannot be merged (the reason says why)."""


def follow_merges(ticket: Ticket) -> Ticket:
    """The ticket that now holds ``ticket``'s conversation: itself, or the one it was merged
    into (and so on, should that one have been merged too)."""
    seen = {ticket.pk}
    while ticket.merged_into_id is not None and ticket.merged_into_id not in seen:
        seen.add(ticket.merged_into_id)
        ticket = Ticket.objects.get(pk=ticket.merged_into_id)
    return ticket


def merge_tickets(duplicate: Ticket, into: Ticket, *, by: User) -> Ticket:
    """Merge ``duplicate`` into ``into``: its timeline (messages with their attachments and
    deliveries), calls and alert groups move over, its requester and participants become
    participants, and it is closed with a pointer to ``into`` (its clocks stop, its escalation
    ends). Both timelines and audit trails say so. Returns ``into``, clocks recomputed.

    Only tickets of the same client merge: a merge must never move one client's conversation
    onto another's ticket."""
    from firstcall.intake.models import AlertGroup, CallRecord

    actor = Actor(user=by, label="staff console")
    with transaction.atomic():
        # Locked in id order, so two merges of the same pair cannot deadlock.
        locked = {
            t.pk: t
            for t in Ticket.objects.select_for_update().filter(pk__in=(duplicate.pk, into.pk)).order_by("pk")
        }
        if duplicate.pk == into.pk:
            raise CannotMerge("A ticket cannot be merged into itself.")
        dup, target = locked[duplicate.pk], locked[into.pk]
        if dup.merged_into_id is not None:
            raise CannotMerge(f"{dup.number} was already merged into another ticket.")
        if target.merged_into_id is not None:
            raise CannotMerge(f"{target.number} was merged into another ticket; merge into that one.")
        if dup.client_id != target.client_id:
            raise CannotMerge(f"{dup.number} and {target.number} belong to different clients.")
        if target.status in DONE_STATUSES:
            raise CannotMerge(f"{target.number} is {target.get_status_display().lower()}; reopen it first.")

        moved = Message.objects.filter(ticket=dup).update(ticket=target)
        CallRecord.objects.filter(ticket=dup).update(ticket=target)
        AlertGroup.objects.filter(ticket=dup).update(ticket=target)
        people = {dup.requester_id, *dup.participants.values_list("pk", flat=True)} - {target.requester_id}
        target.participants.add(*people)

        if dup.status != Status.CLOSED:
            transition(dup, Status.CLOSED, actor=actor, reason=MERGED.format(number=target.number))
        # After closing it: a merged ticket allows no transition at all.
        Ticket.objects.filter(pk=dup.pk).update(merged_into=target)
        dup.merged_into = target
        audit(dup, actor, "merged", field="merged_into", after=target.number)
        audit(target, actor, "merged_in", after=dup.number, reason=f"{moved} timeline entries moved")
        add_event(dup, f"Merged into {target.number} by {by.display_name}.", actor=actor)
        add_event(
            target,
            f"{dup.number} ({dup.subject}) was merged into this ticket by {by.display_name}; "
            "its timeline is shown here.",
            actor=actor,
        )
        # The moved messages are now part of this ticket's history (an earlier request, a
        # reply): its clocks are recomputed from it.
        sync_clocks(target)
    return target
