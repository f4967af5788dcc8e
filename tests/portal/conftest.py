"""Helpers for the portal tests: browsers signed in as a contact, client admins, and requests
made through the intake pipeline as a client's would be.

Time starts at T0 = Monday 2 March 2026, 09:00 in Chicago (Bright Smile Dental's zone), with
Bright Smile's contract (24×7 targets: P1 15 min, P2 1 h, P3 2 h, P4 8 h) in force.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client as HttpClient

from firstcall.accounts.models import PortalAccount
from firstcall.clients.models import Client, Contact, Contract
from firstcall.intake.pipeline import ingest
from firstcall.portal.access import SESSION_KEY
from firstcall.tickets.models import Channel, Ticket

CHICAGO = ZoneInfo("America/Chicago")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CHICAGO)


def minutes_after_t0(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def browser_signed_in_as(contact: Contact) -> HttpClient:
    """A browser whose session holds the contact, as signing in leaves it."""
    browser = HttpClient()
    session = browser.session
    session[SESSION_KEY] = contact.pk
    session.save()
    return browser


def make_client_admin(contact: Contact) -> Contact:
    PortalAccount.objects.update_or_create(contact=contact, defaults={"is_client_admin": True})
    return contact


def request_from(
    contact: Contact, subject: str, description: str = "Please help.", *, emergency: bool = False
) -> Ticket:
    """A request sent with the web form, through the intake pipeline (triaged, clocks started,
    escalating when its priority has a policy, acknowledged after commit)."""
    payload = {
        "email": contact.email,
        "name": contact.name,
        "subject": subject,
        "description": description,
        "is_emergency": emergency,
    }
    outcome = ingest(Channel.WEB, f"web:{uuid.uuid4()}", json.dumps(payload).encode())
    assert outcome.ticket_id is not None, outcome.reason
    return Ticket.objects.get(pk=outcome.ticket_id)


@pytest.fixture
def dental_contract(dental: Client) -> Contract:
    """Bright Smile's contract, in force at T0 (the persona fixture starts it on the real today)."""
    contract = Contract.objects.get(client=dental)
    contract.starts_on = date(2020, 1, 1)
    contract.save(update_fields=["starts_on"])
    return contract


@pytest.fixture
def as_dana(dana: Contact) -> HttpClient:
    return browser_signed_in_as(dana)


@pytest.fixture
def as_carl(carl: Contact) -> HttpClient:
    return browser_signed_in_as(carl)


@pytest.fixture
def new_request(db: None) -> Callable[..., Ticket]:
    return request_from
