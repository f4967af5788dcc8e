"""Every portal page runs a fixed number of SQL queries, whatever the number of requests,
messages, files or escalation steps it shows."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.test import Client as HttpClient

from firstcall.accounts.models import User
from firstcall.clients.models import Contact, Contract
from firstcall.escalation.engine import active_escalation, run_step
from firstcall.tickets.actions import Actor, add_message, transition
from firstcall.tickets.models import Attachment, Channel, MessageKind, Status, Ticket
from firstcall.tickets.replies import add_note, post_reply
from tests.portal.conftest import T0, browser_signed_in_as, make_client_admin, minutes_after_t0, request_from

pytestmark = pytest.mark.django_db

# The session, then the signed-in contact with client and account: every signed-in page.
SIGNED_IN = 2
# Progress: the running escalations' last steps, then their policies' levels.
PROGRESS = 2
QUERIES = {
    # + a page of requests, their count (pagination).
    "home": SIGNED_IN + 2 + PROGRESS,
    # + the ticket (its visibility checked in the same query), its public messages, their files.
    "ticket": SIGNED_IN + 1 + 2 + PROGRESS,
    # + the contract, the P1 policy and its levels, the P1 target and its calendar.
    "new_request": SIGNED_IN + 5,
    # + open and recent requests, their progress, the contract, each of the four priorities'
    # targets (target, calendar), this month's SLA performance.
    "account": SIGNED_IN + 2 + PROGRESS + 1 + 4 * 2 + 1,
    "password": SIGNED_IN,
}


def attach(ticket: Ticket, n: int) -> None:
    message = ticket.messages.filter(kind=MessageKind.INBOUND).first()
    assert message is not None
    content = f"file {n}".encode()
    digest = hashlib.sha256(content).hexdigest()
    attachment = Attachment(
        message=message, filename=f"{n}.txt", content_type="text/plain", size=len(content), sha256=digest
    )
    attachment.file.save(digest, ContentFile(content), save=True)


def grow(dana: Contact, bob: User, erin: User, size: int) -> Ticket:
    """``size`` requests of Bright Smile (a third of them escalating emergencies, some finished),
    and one emergency with ``size`` exchanges, files and staff notes; returns that one."""
    with time_machine.travel(T0, tick=False):
        busy = request_from(dana, "Server down", emergency=True)
        escalation = active_escalation(busy.pk)
        assert escalation is not None and escalation.next_level is not None
        run_step(escalation.pk, escalation.next_level)
        for n in range(size):
            post_reply(busy, author=bob, body=f"Update {n}")
            add_note(busy, author=erin, body=f"Note {n}")
            add_message(
                busy,
                kind=MessageKind.INBOUND,
                channel=Channel.WEB,
                body_text=f"Reply {n}",
                actor=Actor(contact=dana),
            )
            attach(busy, n)
            other = request_from(dana, f"Request {n}", emergency=n % 3 == 0)
            if (
                n % 3 == 0
                and (running := active_escalation(other.pk)) is not None
                and running.next_level is not None
            ):
                run_step(running.pk, running.next_level)
            if n % 4 == 1:
                transition(other, Status.RESOLVED, actor=Actor(user=bob))
    return busy


@pytest.mark.parametrize("size", [1, 12])
def test_each_page_has_a_fixed_query_count(
    size: int,
    dana: Contact,
    bob: User,
    erin: User,
    dental_contract: Contract,
    django_assert_num_queries: Any,
) -> None:
    busy = grow(dana, bob, erin, size)
    make_client_admin(dana)
    browser = browser_signed_in_as(dana)
    pages = {
        "home": "/portal/",
        "ticket": f"/portal/tickets/{busy.number}/",
        "new_request": "/portal/new/",
        "account": "/portal/account/",
        "password": "/portal/password/",
    }
    with time_machine.travel(minutes_after_t0(60), tick=False):
        for name, url in pages.items():
            browser.get(url)  # warm: the first request of a session may write it
            with django_assert_num_queries(QUERIES[name], info=name):
                assert browser.get(url).status_code == 200


def test_public_pages_query_counts(dana: Contact, django_assert_num_queries: Any) -> None:
    visitor = HttpClient()
    with django_assert_num_queries(0):
        assert visitor.get("/portal/sign-in/").status_code == 200
    with django_assert_num_queries(1):  # the link (with contact, client and account)
        assert visitor.get("/portal/sign-in/" + "x" * 43 + "/").status_code == 410
