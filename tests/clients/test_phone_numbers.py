from __future__ import annotations

import pytest
from django.db import IntegrityError

from firstcall.clients.models import Client, Contact, PhoneNumber, normalize_phone, owner_of_number


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("+1 (312) 555-0111", "+13125550111"),
        ("0044 20 7946 0958", "+442079460958"),
        ("312.555.0111", "3125550111"),
        ("anonymous", ""),
        ("", ""),
    ],
)
def test_numbers_are_stored_as_plus_and_digits(given: str, stored: str) -> None:
    assert normalize_phone(given) == stored


@pytest.mark.django_db
def test_saved_numbers_are_normalized_and_belong_to_someone(dental: Client) -> None:
    line = PhoneNumber.objects.create(client=dental, number="+1 312-555-0100", label="front desk")
    assert line.number == "+13125550100"
    with pytest.raises(IntegrityError):
        PhoneNumber.objects.create(number="+13125550199")


@pytest.mark.django_db
def test_the_owner_of_a_number_is_the_contact_whose_own_it_is_else_the_first_clients_line() -> None:
    first, second = Client.objects.create(name="First"), Client.objects.create(name="Second")
    PhoneNumber.objects.create(number="+13125550100", client=second)
    PhoneNumber.objects.create(number="+13125550100", client=first)
    assert owner_of_number("+13125550100").client == second  # the line recorded first
    person = Contact.objects.create(name="Uses the shared line", client=first)
    PhoneNumber.objects.create(number="+13125550100", contact=person)
    owner = owner_of_number("+13125550100")
    assert owner is not None and owner.contact == person
    assert owner_of_number("+13125550199") is None and owner_of_number("") is None
