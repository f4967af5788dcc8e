"""A contact's requests in the portal: the list with plain-words progress, the public timeline,
replying (through intake, exactly like an emailed reply), attaching files, closing."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as HttpClient
from django.utils import timezone

from firstcall.accounts.models import Role, User
from firstcall.clients.models import Contact, Contract
from firstcall.escalation.engine import acknowledge, active_escalation, run_step, sweep
from firstcall.intake.channels import web
from firstcall.intake.channels.email import ingest_email
from firstcall.intake.models import InboundMessage
from firstcall.portal.progress import progress_of
from firstcall.sla.models import ClockKind, SlaClock, SlaTarget
from firstcall.tickets.actions import Actor, add_message, assign, transition
from firstcall.tickets.models import AuditEvent, Channel, Message, MessageKind, Status, Ticket
from firstcall.tickets.replies import add_note, post_reply
from tests.portal.conftest import T0, browser_signed_in_as, make_client_admin, minutes_after_t0, request_from

pytestmark = pytest.mark.django_db


def progress_text(browser: HttpClient, ticket: Ticket) -> str:
    html = browser.get(f"/portal/tickets/{ticket.number}/").content.decode()
    match = re.search(r'<p class="progress progress--(\w+) progress--large" role="status">(.*?)</p>', html)
    assert match, "no progress line on the ticket page"
    return match.group(2).replace("&#x27;", "'")


def reply(browser: HttpClient, ticket: Ticket, body: str, **extra: Any) -> Any:
    return browser.post(
        f"/portal/tickets/{ticket.number}/reply/", {"body": body, "token": str(uuid.uuid4()), **extra}
    )


def emailed_reply(contact: Contact, ticket: Ticket, body: str) -> None:
    raw = (
        f"From: {contact.name} <{contact.email}>\r\nTo: support@msp.example\r\n"
        f"Subject: Re: [{ticket.number}] {ticket.subject}\r\n"
        f"Message-ID: <{uuid.uuid4()}@brightsmile.example>\r\n"
        f"Date: Mon, 02 Mar 2026 15:00:00 +0000\r\n\r\n{body}\r\n"
    ).encode()
    outcome = ingest_email(raw)
    assert outcome.ticket_id == ticket.pk, outcome.reason


@pytest.fixture
def mia(db: None) -> User:
    return User.objects.create_user(
        "mia", "mia@msp.example", "mia-pass-123", role=Role.MANAGER, first_name="Mia"
    )


# ---------------------------------------------------------------------------------------------
# Progress in plain words
# ---------------------------------------------------------------------------------------------


def test_progress_follows_status_and_assignment(dana: Contact, bob: User, dental_contract: Contract) -> None:
    as_dana = browser_signed_in_as(dana)
    with time_machine.travel(T0, tick=False):
        ticket = request_from(dana, "Printer jam")
        assert progress_text(as_dana, ticket) == "Received — a technician will pick it up shortly."
        assign(ticket, bob, actor=Actor.system())
        assert progress_text(as_dana, ticket) == "A technician is working on it."
        transition(ticket, Status.WAITING_ON_CLIENT, actor=Actor(user=bob))
        assert progress_text(as_dana, ticket) == "Waiting for your reply."
        transition(ticket, Status.RESOLVED, actor=Actor(user=bob))
        assert progress_text(as_dana, ticket) == "Resolved — reply to reopen it."
        transition(ticket, Status.CLOSED, actor=Actor(user=bob))
        assert progress_text(as_dana, ticket) == "Closed — reply to reopen it."
    with time_machine.travel(T0 + timedelta(days=15), tick=False):
        assert progress_of([ticket])[ticket.pk].text == "Closed — a reply starts a new request."


def test_progress_tells_each_escalation_step_in_escalations_own_words(
    dana: Contact, erin: User, mia: User, dental_contract: Contract
) -> None:
    """The default P1 policy: the assignee at once, on call after 15 minutes (nobody on call
    here: skipped), a manager after 30. The list and the ticket page say what the timeline says."""
    as_dana = browser_signed_in_as(dana)
    with time_machine.travel(T0, tick=False):
        ticket = request_from(dana, "Server down", "Nobody can work.", emergency=True)
        assert ticket.priority == "P1"
        assign(ticket, erin, actor=Actor.system())
        escalation = active_escalation(ticket.pk)
        assert escalation is not None and escalation.next_level is not None
        run_step(escalation.pk, escalation.next_level)
        assert progress_text(as_dana, ticket) == "Paged your technician at 09:00."
    with time_machine.travel(minutes_after_t0(15), tick=False):
        sweep()
        html = as_dana.get(f"/portal/tickets/{ticket.number}/").content.decode()
        assert progress_text(as_dana, ticket) == "Escalated to our service manager at 09:15."
        # The same sentence as the timeline's line: one wording, escalation's.
        event = Message.objects.filter(ticket=ticket, kind=MessageKind.EVENT).order_by("-id").first()
        assert event is not None and event.body_text == "Escalated to our service manager at 09:15."
        assert "Escalated to our service manager at 09:15." in as_dana.get("/portal/").content.decode()
        # Staff-only lines of the escalation (who was paged, how) are not shown.
        assert "Paged Erin" not in html and "Nobody to page" not in html and "mia@msp.example" not in html
    with time_machine.travel(minutes_after_t0(20), tick=False):
        acknowledge(ticket, erin, via="console")
        assert progress_text(as_dana, ticket) == "A technician is working on it."
        assert (
            "Acknowledged by Erin at 09:20."
            in as_dana.get(f"/portal/tickets/{ticket.number}/").content.decode()
        )


def test_list_shows_open_requests_and_finished_ones_apart(dana: Contact, bob: User) -> None:
    open_one = request_from(dana, "Printer jam")
    done = request_from(dana, "Wi-Fi slow")
    transition(done, Status.RESOLVED, actor=Actor(user=bob))
    as_dana = browser_signed_in_as(dana)
    listing = as_dana.get("/portal/").content.decode()
    assert open_one.number in listing and done.number not in listing
    finished = as_dana.get("/portal/?show=done").content.decode()
    assert done.number in finished and open_one.number not in finished
    assert "Resolved — reply to reopen it." in finished


# ---------------------------------------------------------------------------------------------
# The public timeline
# ---------------------------------------------------------------------------------------------


def test_ticket_page_shows_the_public_timeline_only(dana: Contact, bob: User) -> None:
    ticket = request_from(
        dana, "X-ray PC won't boot", "Blue screen.\n\nOn Monday Dana wrote:\n> earlier text"
    )
    add_note(ticket, author=bob, body="Client owes us money; keep it short.")
    post_reply(ticket, author=bob, body="Restart it while holding F8, please.")
    html = browser_signed_in_as(dana).get(f"/portal/tickets/{ticket.number}/").content.decode()
    assert "Client owes us money" not in html
    assert "Restart it while holding F8, please." in html
    assert '<span class="entry__label">Bob · firstcall</span>' in html
    assert '<div class="entry__body">Blue screen.</div>' in html  # the quoted history behind a toggle
    assert "We confirmed your request by email" in html
    assert '<label for="id_body">Your reply</label>' in html
    assert '<label for="id_attachments">Attach files <span class="muted">(optional)</span></label>' in html


# ---------------------------------------------------------------------------------------------
# Replying through intake
# ---------------------------------------------------------------------------------------------


def test_a_portal_reply_does_what_an_emailed_reply_does(
    dana: Contact, bob: User, dental_contract: Contract, run_on_commit: Any
) -> None:
    """Two tickets waiting on the client: one gets an emailed reply, the other a portal reply.
    Both end the same: open again, clocks running, the message on the timeline by the contact."""
    SlaTarget.objects.filter(contract=dental_contract).update(next_update_minutes=60, resolution_minutes=240)
    as_dana = browser_signed_in_as(dana)
    with time_machine.travel(T0, tick=False):
        by_email = request_from(dana, "Scanner offline")
        by_portal = request_from(dana, "Printer offline")
        for ticket in (by_email, by_portal):
            post_reply(ticket, author=bob, body="Is it plugged in?")
            transition(ticket, Status.WAITING_ON_CLIENT, actor=Actor(user=bob))
        assert SlaClock.objects.get(ticket=by_portal, kind=ClockKind.RESOLUTION).paused
    with time_machine.travel(minutes_after_t0(30), tick=False):
        emailed_reply(dana, by_email, "Yes, it is plugged in.")
        with run_on_commit(execute=True):
            response = reply(as_dana, by_portal, "Yes, it is plugged in.")
        assert response.status_code == 302 and response["Location"] == f"/portal/tickets/{by_portal.number}/"

    def state(ticket: Ticket) -> tuple[Any, ...]:
        fresh = Ticket.objects.get(pk=ticket.pk)
        clocks = sorted(
            (c.kind, c.paused, c.stopped_at is None, c.due_at - ticket.created_at if c.due_at else None)
            for c in SlaClock.objects.filter(ticket=ticket)
        )
        return fresh.status, fresh.sla_due_at - ticket.created_at if fresh.sla_due_at else None, clocks

    assert state(by_portal) == state(by_email)
    assert Ticket.objects.get(pk=by_portal.pk).status == Status.OPEN
    assert not SlaClock.objects.get(ticket=by_portal, kind=ClockKind.RESOLUTION).paused
    message = Message.objects.filter(ticket=by_portal, kind=MessageKind.INBOUND).latest("id")
    assert message.body_text == "Yes, it is plugged in." and message.author_contact == dana
    assert message.channel == Channel.WEB
    assert AuditEvent.objects.filter(
        ticket=by_portal, action="status_changed", after=Status.OPEN, actor_contact=dana
    ).exists()


def test_a_reply_reopens_a_resolved_request(dana: Contact, bob: User) -> None:
    ticket = request_from(dana, "Printer jam")
    transition(ticket, Status.RESOLVED, actor=Actor(user=bob))
    as_dana = browser_signed_in_as(dana)
    assert "Reply to reopen this request" in as_dana.get(f"/portal/tickets/{ticket.number}/").content.decode()
    response = reply(as_dana, ticket, "It is jammed again.")
    assert response.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).status == Status.OPEN


def test_a_reply_to_a_request_closed_long_ago_starts_a_follow_up(dana: Contact, bob: User) -> None:
    with time_machine.travel(T0, tick=False):
        ticket = request_from(dana, "Printer jam")
        transition(ticket, Status.CLOSED, actor=Actor(user=bob))
    with time_machine.travel(T0 + timedelta(days=20), tick=False):
        as_dana = browser_signed_in_as(dana)
        response = reply(as_dana, ticket, "It is jammed again.")
        follow_up = Ticket.objects.get(follows_up=ticket)
        assert response.status_code == 302 and response["Location"] == f"/portal/tickets/{follow_up.number}/"
        page = as_dana.get(response["Location"]).content.decode()
        assert (
            f"{ticket.number} was closed more than 14 days ago, so your reply started a new request" in page
        )
        assert f"<dt>Follows up</dt><dd>{ticket.number}</dd>" in page
    assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED


def test_a_client_admin_replying_on_a_colleagues_request_joins_it(dana: Contact, carl: Contact) -> None:
    ticket = request_from(carl, "Keyboard broken")
    make_client_admin(dana)
    assert reply(browser_signed_in_as(dana), ticket, "I have a spare one for Carl.").status_code == 302
    assert ticket.participants.filter(pk=dana.pk).exists()
    assert Ticket.objects.get(pk=ticket.pk).requester == carl


def test_the_raw_reply_is_stored_first_and_a_double_submit_counts_once(dana: Contact) -> None:
    ticket = request_from(dana, "Printer jam")
    as_dana = browser_signed_in_as(dana)
    token = str(uuid.uuid4())
    for _ in range(2):
        response = as_dana.post(
            f"/portal/tickets/{ticket.number}/reply/", {"body": "Still jammed.", "token": token}
        )
        assert response.status_code == 302
    assert ticket.messages.filter(kind=MessageKind.INBOUND, body_text="Still jammed.").count() == 1
    stored = InboundMessage.objects.get(external_id=f"portal:{token}")
    assert stored.channel == Channel.WEB and stored.duplicate_deliveries == 1
    payload = json.loads(bytes(stored.raw))
    assert payload["ticket_id"] == ticket.pk and payload["email"] == dana.email
    # The web channel reads it back as a reply (as the retry sweep would), never as a new request.
    request = web.interpret(stored)
    assert request.named_ticket_id == ticket.pk and request.only_named_ticket


def test_a_reply_whose_processing_failed_is_posted_by_the_retry_sweep(dana: Contact) -> None:
    from firstcall.intake.pipeline import retry_stuck_inbound

    ticket = request_from(dana, "Printer jam")
    as_dana = browser_signed_in_as(dana)
    token = str(uuid.uuid4())
    failure = RuntimeError("database went away")
    # The reply page fails (a 500), but the raw reply is kept for the sweep.
    with (
        mock.patch("firstcall.intake.pipeline._thread_or_open", side_effect=failure),
        pytest.raises(RuntimeError),
    ):
        as_dana.post(f"/portal/tickets/{ticket.number}/reply/", {"body": "Still jammed.", "token": token})
    stored = InboundMessage.objects.get(external_id=f"portal:{token}")
    assert stored.status == "received" and "database went away" in stored.reason
    assert not ticket.messages.filter(body_text="Still jammed.").exists()
    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        assert retry_stuck_inbound() == 1
    assert ticket.messages.filter(kind=MessageKind.INBOUND, body_text="Still jammed.").count() == 1
    assert Ticket.objects.count() == 1


def test_files_are_kept_with_the_reply(dana: Contact, settings: Any) -> None:
    ticket = request_from(dana, "Printer jam")
    as_dana = browser_signed_in_as(dana)
    files = [
        SimpleUploadedFile("error.png", b"\x89PNG fake image", content_type="image/png"),
        SimpleUploadedFile("notes.txt", b"tried twice", content_type="text/plain"),
    ]
    response = reply(as_dana, ticket, "Here is the error.", attachments=files)
    assert response.status_code == 302
    message = ticket.messages.filter(kind=MessageKind.INBOUND).latest("id")
    stored = {a.filename: (a.size, a.file.read()) for a in message.attachments.all()}
    assert stored == {"error.png": (15, b"\x89PNG fake image"), "notes.txt": (11, b"tried twice")}
    page = as_dana.get(f"/portal/tickets/{ticket.number}/").content.decode()
    assert "error.png" in page and "notes.txt" in page


def test_too_large_or_too_many_files_are_refused_with_the_reason(dana: Contact, settings: Any) -> None:
    settings.FIRSTCALL_MAX_ATTACHMENT_BYTES = 10
    ticket = request_from(dana, "Printer jam")
    as_dana = browser_signed_in_as(dana)
    big = SimpleUploadedFile("scan.pdf", b"x" * 11, content_type="application/pdf")
    response = reply(as_dana, ticket, "Here is the scan.", attachments=[big])
    assert response.status_code == 400
    assert "scan.pdf: larger than 0 KB, the most we accept for one file." in response.content.decode()
    many = [SimpleUploadedFile(f"{n}.txt", b"x", content_type="text/plain") for n in range(6)]
    response = reply(as_dana, ticket, "Here they are.", attachments=many)
    assert response.status_code == 400 and "Attach at most 5 files to one reply." in response.content.decode()
    empty = reply(as_dana, ticket, "   ")
    assert empty.status_code == 400 and "Write your reply" in empty.content.decode()
    assert ticket.messages.filter(kind=MessageKind.INBOUND).count() == 1
    assert not InboundMessage.objects.filter(external_id__startswith="portal:").exists()


# ---------------------------------------------------------------------------------------------
# Closing
# ---------------------------------------------------------------------------------------------


def test_a_contact_closes_their_request(dana: Contact, erin: User, dental_contract: Contract) -> None:
    with time_machine.travel(T0, tick=False):
        ticket = request_from(dana, "Server down", emergency=True)
        assert active_escalation(ticket.pk) is not None
        as_dana = browser_signed_in_as(dana)
        response = as_dana.post(f"/portal/tickets/{ticket.number}/close/", follow=True)
        html = response.content.decode()
        assert f"{ticket.number} is closed." in html
        assert "Dana Reyes closed this request in the client portal." in html
        assert "All sorted?" not in html
        again = as_dana.post(f"/portal/tickets/{ticket.number}/close/", follow=True)
        assert f"{ticket.number} is closed already." in again.content.decode()
    closed = Ticket.objects.get(pk=ticket.pk)
    assert closed.status == Status.CLOSED and closed.closed_at is not None and closed.resolved_at is not None
    assert active_escalation(ticket.pk) is None
    event = AuditEvent.objects.get(ticket=ticket, action="status_changed", after=Status.CLOSED)
    assert event.actor_contact == dana and event.actor_label == "client portal"


def test_timeline_entries_of_the_contact_and_of_staff_by_name(dana: Contact, bob: User) -> None:
    ticket = request_from(dana, "Printer jam")
    add_message(
        ticket,
        kind=MessageKind.EVENT,
        channel=Channel.CONSOLE,
        body_text="Something happened.",
        actor=Actor.system(),
    )
    html = browser_signed_in_as(dana).get(f"/portal/tickets/{ticket.number}/").content.decode()
    assert '<span class="entry__label">Dana Reyes</span>' in html
    assert '<p class="entry__event">Something happened.' in html
