"""Who sent it: by email address or phone number, and the race of two first messages."""

from __future__ import annotations

from typing import Any

import pytest

from firstcall.clients.models import Client, Contact, PhoneNumber
from firstcall.intake import pipeline
from firstcall.intake.pipeline import identify
from firstcall.intake.request import Person

pytestmark = pytest.mark.django_db


def test_a_contacts_own_number_finds_them(dana: Contact) -> None:
    assert identify(Person(phone="+1 312 555 0111"), "test")[:3] == (dana, False, False)


def test_a_clients_main_line_makes_a_contact_of_that_client(dental: Client) -> None:
    caller, new, number_is_new, _ = identify(Person(phone="+13125550100", name="Front desk"), "test")
    assert new and caller.client == dental and caller.name == "Front desk"
    assert not number_is_new  # the client's main line: what is known of it (a landline) stands


def test_an_unknown_number_makes_one_unverified_contact(db: None) -> None:
    first = identify(Person(phone="+14155550199"), "test")
    again = identify(Person(phone="+14155550199"), "test")
    assert first.contact == again.contact and first.contact.client is None
    assert first.is_new and first.number_is_new and not again.is_new and not again.number_is_new
    assert PhoneNumber.objects.get(number="+14155550199").contact == first.contact


def test_a_concurrent_first_text_from_the_same_number_finds_the_other_contact(
    db: None, monkeypatch: Any
) -> None:
    # The other request created the contact after this one looked and found nobody.
    existing = Contact.objects.create(name="")
    PhoneNumber.objects.create(number="+14155550188", contact=existing)
    monkeypatch.setattr(pipeline, "owner_of_number", lambda number: None)
    assert identify(Person(phone="+14155550188"), "test")[:3] == (existing, False, False)
    assert Contact.objects.count() == 1
