"""Shared personas, the same in every test module.

The MSP: alice (owner), bob (technician, tier 1), erin (engineer).
Clients: Bright Smile Dental (brightsmile.example) with dana (office manager, VIP) and
carl; Hale & Porter Law (haleporter.example) with priya.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core import mail
from django.test import override_settings

from firstcall.accounts.models import Role, User
from firstcall.clients.models import Client, Contact, Contract, EmailDomain, PhoneNumber
from firstcall.sla.models import Calendar, SlaTarget
from firstcall.sla.targets import TWENTY_FOUR_SEVEN


@pytest.fixture(autouse=True)
def _media_in_tmp(tmp_path: Any, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "attachments"


@pytest.fixture
def alice(db: None) -> User:
    return User.objects.create_user(
        "alice", "alice@msp.example", "alice-pass-123", role=Role.OWNER, first_name="Alice"
    )


@pytest.fixture
def bob(db: None) -> User:
    return User.objects.create_user(
        "bob", "bob@msp.example", "bob-pass-123", role=Role.TECHNICIAN, first_name="Bob"
    )


@pytest.fixture
def erin(db: None) -> User:
    return User.objects.create_user(
        "erin", "erin@msp.example", "erin-pass-123", role=Role.ENGINEER, first_name="Erin"
    )


@pytest.fixture
def dental(db: None) -> Client:
    client = Client.objects.create(name="Bright Smile Dental", time_zone="America/Chicago")
    EmailDomain.objects.create(client=client, domain="brightsmile.example")
    PhoneNumber.objects.create(client=client, number="+13125550100", label="front desk")
    contract = Contract.objects.create(
        client=client, name="Managed Care Gold", support_hours="Mon–Fri 07:00–19:00"
    )
    # Round the clock, so tests about other things can open tickets at any hour; business-hours
    # calendars are tested in tests/sla.
    round_the_clock = Calendar.objects.get(name=TWENTY_FOUR_SEVEN)
    for priority, minutes in (("P1", 15), ("P2", 60), ("P3", 120), ("P4", 480)):
        SlaTarget.objects.create(
            contract=contract, priority=priority, first_response_minutes=minutes, calendar=round_the_clock
        )
    return client


@pytest.fixture
def dana(dental: Client) -> Contact:
    contact = Contact.objects.create(
        client=dental, name="Dana Reyes", email="dana@brightsmile.example", is_vip=True
    )
    PhoneNumber.objects.create(client=dental, contact=contact, number="+13125550111", label="mobile")
    return contact


@pytest.fixture
def carl(dental: Client) -> Contact:
    return Contact.objects.create(client=dental, name="Carl Mendes", email="carl@brightsmile.example")


@pytest.fixture
def law(db: None) -> Client:
    client = Client.objects.create(name="Hale & Porter Law", time_zone="America/New_York")
    EmailDomain.objects.create(client=client, domain="haleporter.example")
    return client


@pytest.fixture
def priya(law: Client) -> Contact:
    return Contact.objects.create(client=law, name="Priya Shah", email="priya@haleporter.example")


@pytest.fixture
def outbox() -> Iterator[list[Any]]:
    """Outbound mail captured by Django's locmem backend (tasks run inline in tests)."""
    mail.outbox = []
    yield mail.outbox


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks: Callable[..., Any]) -> Callable[..., Any]:
    return django_capture_on_commit_callbacks


__all__ = ["override_settings"]
