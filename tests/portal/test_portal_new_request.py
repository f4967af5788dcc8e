"""A signed-in contact's new request: fewer fields (we know who they are), and an emergency
option that says what it sets off — who is paged, how fast we respond, whom to call."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
import time_machine
from django.test import Client as HttpClient

from firstcall.clients.models import Contact, Contract
from firstcall.escalation.engine import active_escalation
from firstcall.escalation.models import EscalationLevel, EscalationPolicy, TargetKind
from firstcall.intake.models import InboundMessage
from firstcall.sla.models import SlaTarget
from firstcall.tickets.models import Channel, MessageKind, Ticket
from tests.portal.conftest import T0, browser_signed_in_as

pytestmark = pytest.mark.django_db

NEW = "/portal/new/"


def token_on(html: str) -> str:
    match = re.search(r'name="token" value="([0-9a-f-]{36})"', html)
    assert match
    return match.group(1)


def plan_on(html: str) -> str:
    match = re.search(r'<div class="emergency-plan" id="emergency-plan">(.*?)</div>', html, re.S)
    assert match, "the emergency plan is not on the page"
    return " ".join(re.sub(r"<[^>]+>", "", match.group(1)).replace("&#x27;", "'").split())


def test_the_form_asks_only_what_we_do_not_know(as_dana: HttpClient, dental_contract: Contract) -> None:
    html = as_dana.get(NEW).content.decode()
    assert '<label for="id_subject">Subject</label>' in html
    assert '<label for="id_description">Description</label>' in html
    assert '<label for="id_is_emergency">This is an emergency</label>' in html
    assert 'aria-describedby="emergency-plan"' in html
    assert 'name="email"' not in html and 'name="name"' not in html
    assert "As Dana Reyes of Bright Smile Dental: we reply to dana@brightsmile.example and here." in html


def test_the_emergency_option_explains_the_p1_policy_target_and_phone(
    as_dana: HttpClient, dental_contract: Contract, settings: Any
) -> None:
    settings.FIRSTCALL_SUPPORT_PHONE = "+1 (312) 555-0199"
    plan = plan_on(as_dana.get(NEW).content.decode())
    # The default P1 policy and Bright Smile's 15-minute P1 target, in the client's words.
    assert (
        "a technician responds within 15 minutes." in plan
        and "We page your technician at once, our on-call engineer after 15 minutes, our service manager "
        "after 30 minutes and firstcall's owner after 1 hour — in turn"
        in plan
    )
    assert "Call +1 (312) 555-0199 and say it is an emergency." in plan
    assert 'href="tel:+13125550199"' in as_dana.get(NEW).content.decode()


def test_the_plan_follows_the_configuration(
    as_dana: HttpClient, dental_contract: Contract, settings: Any
) -> None:
    """Another policy for the contract and another target: the page says so, from them."""
    settings.FIRSTCALL_SUPPORT_PHONE = ""
    SlaTarget.objects.filter(contract=dental_contract, priority="P1").update(first_response_minutes=10)
    policy = EscalationPolicy.objects.create(name="Dental P1", priorities=["P1"], position=1)
    policy.contracts.add(dental_contract)
    EscalationLevel.objects.create(
        policy=policy, position=0, after_minutes=0, target_kind=TargetKind.ROLE, target_role="engineer"
    )
    EscalationLevel.objects.create(
        policy=policy, position=1, after_minutes=20, target_kind=TargetKind.ROLE, target_role="owner"
    )
    plan = plan_on(as_dana.get(NEW).content.decode())
    assert "responds within 10 minutes." in plan
    assert "We page our engineering team at once and firstcall's owner after 20 minutes" in plan
    assert "Call" not in plan
    EscalationPolicy.objects.update(enabled=False)
    assert "We page" not in plan_on(as_dana.get(NEW).content.decode())


def test_a_request_goes_through_the_web_channel_as_the_contact(
    as_dana: HttpClient, dana: Contact, dental_contract: Contract, outbox: list[Any], run_on_commit: Any
) -> None:
    token = token_on(as_dana.get(NEW).content.decode())
    with time_machine.travel(T0, tick=False), run_on_commit(execute=True):
        response = as_dana.post(
            NEW, {"subject": "Phones dead", "description": "No dial tone anywhere.", "token": token}
        )
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/portal/tickets/{ticket.number}/"
    assert ticket.requester == dana and ticket.client == dana.client and ticket.channel == Channel.WEB
    assert not ticket.is_emergency
    assert ticket.messages.get(kind=MessageKind.INBOUND).body_text == "No dial tone anywhere."
    assert InboundMessage.objects.get().external_id == f"web:{token}"
    assert len(outbox) == 1 and outbox[0].to == [dana.email]  # the usual acknowledgment
    # A second press of the same form lands on the same request.
    again = as_dana.post(
        NEW, {"subject": "Phones dead", "description": "No dial tone anywhere.", "token": token}
    )
    assert again["Location"] == response["Location"] and Ticket.objects.count() == 1


def test_an_emergency_starts_the_p1_escalation(
    as_dana: HttpClient, dental_contract: Contract, run_on_commit: Any
) -> None:
    with time_machine.travel(T0, tick=False), run_on_commit(execute=True):
        response = as_dana.post(
            NEW,
            {
                "subject": "Server down",
                "description": "Nobody can open patient files.",
                "is_emergency": "on",
                "token": str(uuid.uuid4()),
            },
            follow=True,
        )
        html = response.content.decode()
    ticket = Ticket.objects.get()
    assert ticket.is_emergency and ticket.priority == "P1"
    assert active_escalation(ticket.pk) is not None
    assert f"We have your request: {ticket.number}." in html
    assert "Handled as an emergency. Need us right now? Call" in html


def test_errors_are_shown_next_to_their_fields(as_dana: HttpClient) -> None:
    response = as_dana.post(NEW, {"subject": "", "description": "", "token": str(uuid.uuid4())})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a subject: one line about the problem." in html
    assert "Describe the problem so a technician can start on it." in html
    assert not Ticket.objects.exists()
    expired = as_dana.post(NEW, {"subject": "x", "description": "y", "token": "nope"})
    assert expired.status_code == 400 and "This form has expired" in expired.content.decode()


def test_the_public_form_still_works_and_points_clients_to_sign_in(dana: Contact) -> None:
    html = HttpClient().get("/request/").content.decode()
    assert '<label for="id_email">Your email</label>' in html
    assert '<a href="/portal/sign-in/">Client sign-in</a>' in html
    page = browser_signed_in_as(dana).get("/request/")
    assert page.status_code == 200
