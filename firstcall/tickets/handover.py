"""Tiered support: a ticket beyond tier 1 is handed over to engineering with a handover note."""

from __future__ import annotations

from django.db import transaction

from firstcall.accounts.models import Role, User
from firstcall.tickets.actions import Actor, add_event, add_message, assign, audit
from firstcall.tickets.models import Channel, MessageKind, Ticket

ENGINEERING_TEAM = "Engineering"
# What the client reads on their timeline: that it moved up, not the internal reasoning.
CLIENT_WORDS = "Your request was passed to our engineering team, who will follow it up."


class HandoverError(ValueError):
    """The handover cannot be done as asked (the reason says why)."""


ENGINEERING_ROLES = (Role.ENGINEER, Role.MANAGER, Role.OWNER)


def is_engineering(user: User) -> bool:
    """Whether a ticket can be handed over to this staff member: engineers and above."""
    return user.is_active and user.role in ENGINEERING_ROLES


def hand_over_to_engineering(ticket: Ticket, *, by: User, note: str, engineer: User | None = None) -> Ticket:
    """Route the ticket to the engineering team, with a handover note for the engineer (what
    was tried, what the client said): the note is internal, the client is told in plain words.
    It goes to ``engineer`` when one is named, else it waits unassigned in the Engineering
    team's queue."""
    text = note.strip()
    if not text:
        raise HandoverError("Write a handover note: what the problem is and what was tried.")
    if engineer is not None and not is_engineering(engineer):
        raise HandoverError(f"{engineer.display_name} is not in engineering.")
    actor = Actor(user=by, label="staff console")
    with transaction.atomic():
        locked = Ticket.objects.select_for_update(of=("self",)).select_related("assignee").get(pk=ticket.pk)
        before = locked.team
        Ticket.objects.filter(pk=locked.pk).update(team=ENGINEERING_TEAM)
        locked.team = ENGINEERING_TEAM
        audit(
            locked,
            actor,
            "handed_over",
            field="team",
            before=before,
            after=ENGINEERING_TEAM,
            reason=text[:300],
        )
        add_message(
            locked,
            kind=MessageKind.NOTE,
            channel=Channel.CONSOLE,
            body_text=f"Handover to engineering: {text}",
            actor=actor,
        )
        assign(locked, engineer, actor=actor)
        add_event(locked, CLIENT_WORDS, actor=actor)
    ticket.team = locked.team
    ticket.assignee = locked.assignee
    return ticket
