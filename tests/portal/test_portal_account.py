"""A client admin's account page: the contract and its SLA terms in plain words, open and
recently finished requests, and this month's SLA performance (reports.metrics)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client as HttpClient

from firstcall.accounts.models import User
from firstcall.clients.models import Client, Contact, Contract
from firstcall.reports.metrics import sla_performance
from firstcall.reports.periods import PeriodChoice
from firstcall.sla.models import SlaTarget
from firstcall.tickets.actions import Actor, transition
from firstcall.tickets.models import Status
from firstcall.tickets.replies import post_reply
from tests.portal.conftest import T0, browser_signed_in_as, make_client_admin, minutes_after_t0, request_from

pytestmark = pytest.mark.django_db

ACCOUNT = "/portal/account/"


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("&#x27;", "'").split())


@pytest.fixture
def as_admin_dana(dana: Contact) -> HttpClient:
    return browser_signed_in_as(make_client_admin(dana))


def test_contract_and_targets_in_plain_words(as_admin_dana: HttpClient, dental_contract: Contract) -> None:
    SlaTarget.objects.filter(contract=dental_contract, priority="P3").update(
        next_update_minutes=120, resolution_minutes=24 * 60
    )
    with time_machine.travel(T0, tick=False):
        page = text_of(as_admin_dana.get(ACCOUNT).content.decode())
    assert "Plan Managed Care Gold" in page and "Support hours Mon–Fri 07:00–19:00" in page
    assert "Since 1 January 2020" in page and "Until No end date" in page
    assert "P1 — critical within 15 minutes no fixed target no fixed target round the clock" in page
    assert "P3 — normal within 2 hours at least every 2 hours within 1 day round the clock" in page
    assert "Urgent? Call +15550100000 ." in page  # (a link, then the full stop)


def test_without_a_contract_the_standard_targets_are_shown(as_admin_dana: HttpClient, dental: Client) -> None:
    Contract.objects.filter(client=dental).delete()
    page = text_of(as_admin_dana.get(ACCOUNT).content.decode())
    assert "No contract is in force: our standard response times below apply." in page
    assert "P3 — normal within 4 business hours at least every 1 business day within 2 business days" in page
    assert "in business hours (Business hours)" in page


def test_this_months_sla_performance_is_the_clients_own(
    dana: Contact, carl: Contact, priya: Contact, bob: User, dental_contract: Contract
) -> None:
    """Carl's two P3 requests (2-hour first-response target): one answered in 30 minutes, one
    not answered by its deadline; Hale & Porter's missed target is not Bright Smile's."""
    with time_machine.travel(T0, tick=False):
        answered = request_from(carl, "Printer jam")
        request_from(carl, "Scanner offline")
        request_from(priya, "Court filing portal")
    with time_machine.travel(minutes_after_t0(30), tick=False):
        post_reply(answered, author=bob, body="On my way.")
    with time_machine.travel(minutes_after_t0(180), tick=False):
        as_dana = browser_signed_in_as(make_client_admin(dana))
        page = text_of(as_dana.get(ACCOUNT).content.decode())
        period = PeriodChoice.THIS_MONTH.period()
        expected = sla_performance(start=period.start, end=period.end, client_id=dana.client_id)
    assert (expected.met, expected.missed) == (1, 1)
    assert "How we did this month 1 March – 31 March 2026" in page
    assert "50% of response targets met (1 of 2)" in page
    assert "First responses on time 50% (1 of 2)" in page
    assert "Resolved on time — (0 of 0)" in page


def test_open_and_recently_finished_requests_of_the_whole_client(
    dana: Contact, carl: Contact, priya: Contact, bob: User
) -> None:
    with time_machine.travel(T0, tick=False):
        open_one = request_from(carl, "Keyboard broken")
        finished = request_from(dana, "Wi-Fi slow")
        transition(finished, Status.RESOLVED, actor=Actor(user=bob))
        old = request_from(dana, "Old thing")
        transition(old, Status.RESOLVED, actor=Actor(user=bob))
        other_client = request_from(priya, "Court filing portal")
    with time_machine.travel(T0 + timedelta(days=35), tick=False):
        recent = request_from(dana, "Monitor flickers")
        transition(recent, Status.CLOSED, actor=Actor(user=bob))
        html = browser_signed_in_as(make_client_admin(dana)).get(ACCOUNT).content.decode()
    open_part, recent_part = html.split('id="recent-title"')
    assert open_one.number in open_part and "by Carl Mendes" in open_part
    assert "Received — a technician will pick it up shortly." in open_part
    assert recent.number in recent_part and "closed, resolved" in recent_part
    assert finished.number not in html and old.number not in html  # finished more than 30 days ago
    assert other_client.number not in html
