"""Helpers for the console tests: tickets made through the domain functions, a signed-in bob.

Time for the triage, SLA and escalation panels starts at T0 = Monday 2 March 2026, 09:00 in
Chicago (Bright Smile Dental's zone; CST, before daylight saving begins).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import Client as HttpClient

from firstcall.accounts.models import User
from firstcall.clients.models import Client, Contact, Contract
from firstcall.tickets.actions import Actor, add_message, open_ticket
from firstcall.tickets.models import Channel, MessageKind, Ticket


def open_request(
    requester: Contact,
    subject: str,
    body: str = "Please help.",
    *,
    channel: Channel = Channel.EMAIL,
    rfc_message_id: str = "",
    is_emergency: bool = False,
    created_at: datetime | None = None,
) -> Ticket:
    """A ticket as intake opens it (triaged on its subject and body, its SLA clocks started,
    escalating when its priority has a policy), then the requester's message on its timeline."""
    actor = Actor(contact=requester, label=f"{channel.label} intake")
    ticket = open_ticket(
        client_id=requester.client_id,
        requester=requester,
        subject=subject,
        body=body,
        channel=channel,
        actor=actor,
        is_emergency=is_emergency,
        unverified_requester=requester.client_id is None,
    )
    if created_at is not None:
        Ticket.objects.filter(pk=ticket.pk).update(created_at=created_at)
        ticket.created_at = created_at
    add_message(
        ticket,
        kind=MessageKind.INBOUND,
        channel=channel,
        subject=subject,
        body_text=body,
        rfc_message_id=rfc_message_id,
        actor=actor,
    )
    return ticket


CHICAGO = ZoneInfo("America/Chicago")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CHICAGO)


def minutes_after_t0(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def dental_contract_since_2020(dental: Client) -> Contract:
    """Bright Smile Dental's contract (24×7 first-response targets: P1 15 min, P2 1 h, P3 2 h,
    P4 8 h) in force at T0: the shared fixture starts it on the real today."""
    contract = Contract.objects.get(client=dental)
    contract.starts_on = date(2020, 1, 1)
    contract.save(update_fields=["starts_on"])
    return contract


@pytest.fixture
def priced_dental(dental: Client) -> Client:
    """Bright Smile Dental with its downtime figures: 25 people at 55.00 per person-hour and
    400.00 revenue per hour (a team is 5 people: 275.00; the company 1,775.00)."""
    dental.headcount = 25
    dental.hourly_cost = Decimal("55.00")
    dental.revenue_per_hour = Decimal("400.00")
    dental.save(update_fields=["headcount", "hourly_cost", "revenue_per_hour"])
    return dental


@pytest.fixture
def as_bob(bob: User) -> HttpClient:
    browser = HttpClient()
    browser.force_login(bob)
    return browser


@pytest.fixture
def anonymous() -> HttpClient:
    return HttpClient()


@pytest.fixture
def new_ticket(db: None) -> Callable[..., Ticket]:
    """The ``open_request`` helper, as a fixture (test modules here are not a package)."""
    return open_request
