"""Scenario helpers for the report tests: tickets opened, answered and resolved through the domain
functions at chosen moments (time-machine).

Times are UTC; the MSP's TIME_ZONE is UTC in the tests unless a test sets it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import time_machine

from firstcall.accounts.models import User
from firstcall.clients.models import Client, Contact, Contract
from firstcall.sla.models import Calendar, SlaTarget
from firstcall.sla.targets import TWENTY_FOUR_SEVEN
from firstcall.tickets.actions import Actor, open_ticket, transition
from firstcall.tickets.models import Channel, Status, Ticket
from firstcall.tickets.replies import STAFF_LABEL, post_reply

# Monday 2 March 2026, 00:00 UTC: the start of the week most scenarios happen in.
MONDAY = datetime(2026, 3, 2, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in March 2026, UTC (2 March is a Monday)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def open_request(requester: Contact, subject: str, when: datetime) -> Ticket:
    """A ticket opened by the requester's email at ``when`` (an ordinary request: P3)."""
    with time_machine.travel(when, tick=False):
        return open_ticket(
            client_id=requester.client_id,
            requester=requester,
            subject=subject,
            body="Please have a look.",
            channel=Channel.EMAIL,
            actor=Actor(contact=requester, label="email intake"),
        )


def reply(ticket: Ticket, author: User, when: datetime) -> None:
    """A public reply by staff at ``when``: the first one is the ticket's first response."""
    with time_machine.travel(when, tick=False):
        post_reply(ticket, author=author, body="On it.")


def move(ticket: Ticket, to: Status, author: User, when: datetime) -> None:
    with time_machine.travel(when, tick=False):
        transition(ticket, to, actor=Actor(user=author, label=STAFF_LABEL))


def simple_targets(dental: Client, law: Client) -> None:
    """P3 targets on 24×7: Dental first response 120 min, resolution 480 min (8 h); Law first
    response 60 min, resolution 240 min (4 h). Both contracts in force since 2020, so a due time
    is the opening time plus the target's minutes."""
    Contract.objects.filter(client=dental).update(starts_on=date(2020, 1, 1))
    SlaTarget.objects.filter(contract__client=dental).update(resolution_minutes=480)
    law_contract = Contract.objects.create(client=law, name="Law Essentials", starts_on=date(2020, 1, 1))
    SlaTarget.objects.create(
        contract=law_contract,
        priority="P3",
        first_response_minutes=60,
        resolution_minutes=240,
        calendar=Calendar.objects.get(name=TWENTY_FOUR_SEVEN),
    )
