"""Suspicious-email verification fixtures: a DKIM key pair made for the session, Bright Smile
Dental's supplier contact Vince (vendor.example, with a phone number on file), and what the
analysis knows of the dental practice when no database is involved."""

from __future__ import annotations

import pytest

from firstcall.clients.models import Client, Contact, PhoneNumber
from firstcall.security.analysis import KnownContact, KnownParties
from tests.security.corpus import KeyPair, make_key_pair

DENTAL_KNOWN = KnownParties(
    client_name="Bright Smile Dental",
    client_domains=("brightsmile.example",),
    partner_domains=("vendor.example",),
    contacts=(
        KnownContact("Dana Reyes", "dana@brightsmile.example"),
        KnownContact("Carl Mendes", "carl@brightsmile.example"),
        KnownContact("Vince Albright", "vince@vendor.example"),
    ),
)


@pytest.fixture(scope="session")
def keys() -> KeyPair:
    return make_key_pair()


@pytest.fixture
def vince(dental: Client) -> Contact:
    """The practice's supply vendor, kept as a contact of the practice with his direct line."""
    contact = Contact.objects.create(client=dental, name="Vince Albright", email="vince@vendor.example")
    PhoneNumber.objects.create(client=dental, contact=contact, number="+13125550199", label="direct line")
    return contact
