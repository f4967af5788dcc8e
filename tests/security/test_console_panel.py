"""The verification panel on a verification ticket's page and the form that records the call."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.template.loader import render_to_string
from django.test import Client as HttpClient
from django.test import RequestFactory

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.intake.channels.email import ingest_email
from firstcall.security.models import CallOutcome, EmailVerification
from firstcall.security.verification import record_call_outcome
from firstcall.tickets.models import Ticket
from tests.security.corpus import authentication_results, forward_as_attachment, suspicious_email

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.security.urls")]


@pytest.fixture
def ticket(dana: Contact, vince: Contact, django_capture_on_commit_callbacks: Any) -> Ticket:
    fake = suspicious_email(
        sender="Accounts <accounts@vendorr.example>",
        subject="Updated bank details",
        text="Our bank details have changed.",
        auth=authentication_results(domain="vendorr.example"),
    )
    with django_capture_on_commit_callbacks(execute=True):
        outcome = ingest_email(forward_as_attachment(fake))
    return Ticket.objects.get(pk=outcome.ticket_id)


@pytest.fixture
def signed_in(bob: User) -> HttpClient:
    browser = HttpClient()
    browser.force_login(bob)
    return browser


def panel(ticket: Ticket, bob: User) -> str:
    request = RequestFactory().get("/")
    request.user = bob
    return render_to_string("security/_verification_panel.html", {"ticket": ticket}, request=request)


def test_panel_shows_verdict_findings_number_and_form(
    ticket: Ticket, bob: User, django_assert_num_queries: Any
) -> None:
    fresh = Ticket.objects.get(pk=ticket.pk)
    with django_assert_num_queries(1):  # the verification row
        html = panel(fresh, bob)
    assert "Likely fraud" in html and "score 70/100" in html
    assert "Domain imitating vendor.example" in html and "+45" in html
    assert "sender domain vendorr.example: 1 letter away from vendor.example" in html
    assert '<a href="tel:+13125550199">+13125550199</a>' in html
    assert "Never call a number from the email." in html
    assert "Not recorded yet: the ticket cannot be resolved until it is." in html
    assert f'action="/security/tickets/{ticket.number}/verification/outcome/"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    for value in CallOutcome.values:
        assert f'value="{value}"' in html


def test_panel_costs_no_query_when_the_page_selects_it(
    ticket: Ticket, bob: User, django_assert_num_queries: Any
) -> None:
    record_call_outcome(ticket, outcome=CallOutcome.GENUINE, note="Spoke to Vince.", by=bob)
    fetched = Ticket.objects.select_related("verification__outcome_by").get(pk=ticket.pk)
    with django_assert_num_queries(0):
        html = panel(fetched, bob)
    assert "Confirmed genuine" in html and "recorded by Bob" in html and "Spoke to Vince." in html


def test_other_tickets_show_no_panel(dana: Contact, bob: User, django_assert_num_queries: Any) -> None:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "dana@brightsmile.example"
    message["To"] = "support@msp.example"
    message["Subject"] = "Printer"
    message.set_content("Jammed.")
    ticket = Ticket.objects.get(pk=ingest_email(message.as_bytes(), acknowledge=False).ticket_id)
    with django_assert_num_queries(1):  # the look for a verification
        assert panel(ticket, bob).strip() == ""
    selected = Ticket.objects.select_related("verification__outcome_by").get(pk=ticket.pk)
    with django_assert_num_queries(0):
        assert panel(selected, bob).strip() == ""


def test_recording_the_call(ticket: Ticket, signed_in: HttpClient) -> None:
    url = f"/security/tickets/{ticket.number}/verification/outcome/"
    response = signed_in.post(url, {"outcome": "fraud", "note": "Vince never sent it."})
    assert response.status_code == 302 and response["Location"] == f"/tickets/{ticket.number}/"
    verification = EmailVerification.objects.get(ticket=ticket)
    assert (verification.outcome, verification.outcome_note) == ("fraud", "Vince never sent it.")
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Call recorded: confirmed fraud. The client sees it on the timeline."
    ]


def test_an_invalid_outcome_records_nothing(ticket: Ticket, signed_in: HttpClient) -> None:
    url = f"/security/tickets/{ticket.number}/verification/outcome/"
    response = signed_in.post(url, {"outcome": "maybe"})
    assert response.status_code == 302
    assert EmailVerification.objects.get(ticket=ticket).outcome == ""
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message.startswith("The call was not recorded: Select a valid choice.")


def test_only_signed_in_staff_record_calls_and_only_on_verifications(
    ticket: Ticket, signed_in: HttpClient, priya: Contact
) -> None:
    url = f"/security/tickets/{ticket.number}/verification/outcome/"
    anonymous = HttpClient().post(url, {"outcome": "genuine"})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    assert signed_in.get(url).status_code == 405
    other = Ticket.objects.create(client=priya.client, requester=priya, subject="Other", channel="email")
    assert (
        signed_in.post(
            f"/security/tickets/{other.number}/verification/outcome/", {"outcome": "genuine"}
        ).status_code
        == 404
    )
    assert (
        signed_in.post("/security/tickets/T-999999/verification/outcome/", {"outcome": "genuine"}).status_code
        == 404
    )
    assert EmailVerification.objects.get(ticket=ticket).outcome == ""


def test_the_admin_lists_verifications_read_only(ticket: Ticket, alice: User) -> None:
    alice.is_staff = alice.is_superuser = True
    alice.save()
    browser = HttpClient()
    browser.force_login(alice)
    listing = browser.get("/admin/security/emailverification/")
    assert listing.status_code == 200 and b"accounts@vendorr.example" in listing.content
    assert browser.get("/admin/security/emailverification/add/").status_code == 403
