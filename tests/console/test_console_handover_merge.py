"""The ticket page's tier-2 handover, merge and reply-channel choice, through HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client as HttpClient

from firstcall.accounts.models import Role, User
from firstcall.clients.models import Contact
from firstcall.notify.models import Delivery
from firstcall.tickets.models import AuditEvent, Channel, MessageKind, Status, Ticket

pytestmark = pytest.mark.django_db

NewTicket = Callable[..., Ticket]


@pytest.fixture
def engineer(db: None) -> User:
    return User.objects.create_user("eve", first_name="Eve", role=Role.ENGINEER, email="eve@msp.example")


def test_handover_to_engineering_with_a_note(
    as_bob: HttpClient, engineer: User, dana: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(dana, "Exchange mailbox corrupted")
    page = as_bob.get(f"/tickets/{ticket.number}/").content.decode()
    assert "Escalate to engineering" in page and f'<option value="{engineer.pk}">Eve</option>' in page

    response = as_bob.post(
        f"/tickets/{ticket.number}/handover/",
        {"note": "Ran scanpst twice; still corrupt. Client needs it by noon.", "engineer": engineer.pk},
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.team == "Engineering" and ticket.assignee == engineer
    note = ticket.messages.get(kind=MessageKind.NOTE)
    assert note.body_text.startswith("Handover to engineering: Ran scanpst twice")
    assert ticket.messages.filter(
        kind=MessageKind.EVENT, body_text__startswith="Your request was passed to our engineering team"
    ).exists()
    assert AuditEvent.objects.filter(ticket=ticket, action="handed_over", after="Engineering").exists()
    # The engineering queue is one filter away.
    assert ticket.number in as_bob.get("/?team=Engineering").content.decode()


def test_handover_needs_a_note_and_an_engineer(
    as_bob: HttpClient, bob: User, dana: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(dana, "Exchange mailbox corrupted")
    empty = as_bob.post(f"/tickets/{ticket.number}/handover/", {"note": "  "})
    assert empty.status_code == 400 and "Write a handover note" in empty.content.decode()
    technician = as_bob.post(f"/tickets/{ticket.number}/handover/", {"note": "Stuck", "engineer": bob.pk})
    assert technician.status_code == 400  # Bob is tier 1: not a choice
    assert Ticket.objects.get(pk=ticket.pk).team == ""


def test_merge_from_the_console_shows_the_ticket_that_stays(
    as_bob: HttpClient, dana: Contact, carl: Contact, new_ticket: NewTicket
) -> None:
    original = new_ticket(dana, "Internet down")
    duplicate = new_ticket(carl, "No internet at front desk")
    response = as_bob.post(f"/tickets/{duplicate.number}/merge/", {"into": original.number.lower()})
    assert response.status_code == 302 and response["Location"] == f"/tickets/{original.number}/"
    page = as_bob.get(response["Location"]).content.decode()
    assert "No internet at front desk" in page and f"{duplicate.number} (No internet" in page
    old = as_bob.get(f"/tickets/{duplicate.number}/").content.decode()
    assert "This ticket was merged into" in old and "Mark open" not in old
    assert Ticket.objects.get(pk=duplicate.pk).status == Status.CLOSED


def test_merge_errors_are_shown_on_the_form(
    as_bob: HttpClient, dana: Contact, priya: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(dana, "Internet down")
    other_client = new_ticket(priya, "Internet down")
    missing = as_bob.post(f"/tickets/{ticket.number}/merge/", {"into": "T-999999"})
    assert missing.status_code == 400 and "There is no ticket T-999999." in missing.content.decode()
    foreign = as_bob.post(f"/tickets/{ticket.number}/merge/", {"into": other_client.number})
    assert foreign.status_code == 400 and "belong to different clients" in foreign.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).merged_into_id is None


def test_reply_channel_defaults_to_the_requesters_and_can_be_changed(
    as_bob: HttpClient, dana: Contact, new_ticket: NewTicket, run_on_commit: Any
) -> None:
    texted = new_ticket(dana, "Printer jammed", channel=Channel.SMS)
    page = as_bob.get(f"/tickets/{texted.number}/").content.decode()
    assert '<option value="sms:+13125550111" selected>Text to +13125550111</option>' in page
    assert '<option value="email:dana@brightsmile.example">Email to dana@brightsmile.example</option>' in page

    with run_on_commit(execute=True):
        response = as_bob.post(f"/tickets/{texted.number}/reply/", {"body": "On our way."})
    assert response.status_code == 302
    assert Delivery.objects.get(message__ticket=texted, purpose="reply").channel == "sms"

    with run_on_commit(execute=True):
        as_bob.post(
            f"/tickets/{texted.number}/reply/",
            {"body": "Report attached.", "route": "email:dana@brightsmile.example"},
        )
    assert sorted(Delivery.objects.filter(purpose="reply").values_list("channel", flat=True)) == [
        "email",
        "sms",
    ]

    refused = as_bob.post(f"/tickets/{texted.number}/reply/", {"body": "Hi", "route": "sms:+15550000000"})
    assert refused.status_code == 400 and "Choose one of the requester" in refused.content.decode()
    too_long = as_bob.post(
        f"/tickets/{texted.number}/reply/", {"body": "x" * 1601, "route": "sms:+13125550111"}
    )
    assert too_long.status_code == 400 and "A text can hold 1600 characters" in too_long.content.decode()


def test_client_card_shows_sla_terms_phones_and_recent_tickets(
    as_bob: HttpClient, dana: Contact, carl: Contact, new_ticket: NewTicket
) -> None:
    earlier = new_ticket(carl, "Scanner offline")
    ticket = new_ticket(dana, "Printer")
    page = as_bob.get(f"/tickets/{ticket.number}/").content.decode()
    assert "P1: 15 minutes (24×7)" in page and "P4: 8 hours (24×7)" in page
    assert "+13125550100" in page  # the front desk line
    assert f'href="/tickets/{earlier.number}/">{earlier.number}</a> Scanner offline' in page
