"""The console's pages make a fixed number of SQL queries whatever the number of rows they show:
the queue with 1 ticket and with 30, the ticket page with one timeline entry of each kind and
with 30 of each (emails with attachments, replies with their deliveries, notes, events, pages
with their deliveries, calls, participants), with its SLA clocks running: its newest entries,
the whole timeline, and the earlier entries that htmx loads.

The exact numbers move as the pages gain features, so each test counts the small case (held
under a ceiling) and asserts that the large case makes exactly as many queries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.test import Client as HttpClient

from firstcall.accounts.models import User
from firstcall.clients.models import Client, Contact
from firstcall.console.queries import TIMELINE_NEWEST
from firstcall.escalation.engine import active_escalation, run_step
from firstcall.escalation.models import Page, PageChannel
from firstcall.intake.models import CallOutcome, CallRecord, CallSource
from firstcall.notify.models import Delivery, DeliveryPurpose
from firstcall.tickets.actions import Actor, add_event, add_message, add_participant, assign, transition
from firstcall.tickets.models import Attachment, Channel, Message, MessageKind, Status, Ticket
from firstcall.tickets.replies import add_note, post_reply
from tests.console.conftest import T0, minutes_after_t0

pytestmark = pytest.mark.django_db

NewTicket = Callable[..., Ticket]
# More than this and a page has lost a select_related or a prefetch. (The tests read SLA targets
# and triage settings fresh each time, FIRSTCALL_CONFIG_CACHE_SECONDS=0: the ticket page's SLA
# card makes 8 queries here that a running server keeps per process.)
QUEUE_QUERY_CEILING = 15
TICKET_PAGE_QUERY_CEILING = 30
# Session, user, the time of the first entry shown, the earlier entries, their attachments.
TIMELINE_FRAGMENT_QUERY_CEILING = 6
MANY = 30


def contacts(client: Client, count: int, domain: str) -> list[Contact]:
    return [
        Contact.objects.create(client=client, name=f"Colleague {n}", email=f"colleague{n}@{domain}")
        for n in range(count)
    ]


def escalating_ticket(new_ticket: NewTicket, requester: Contact, assignee: User, subject: str) -> Ticket:
    """A P1 at T0 with the default P1 policy running, assigned, its assignee paged (level 1)."""
    ticket = new_ticket(requester, subject, "The whole office is down.", is_emergency=True)
    assert ticket.priority == "P1"
    assign(ticket, assignee, actor=Actor.system())
    escalation = active_escalation(ticket.pk)
    assert escalation is not None and escalation.next_level is not None
    assert run_step(escalation.pk, escalation.next_level)
    return ticket


def fill_timeline(ticket: Ticket, count: int, *, staff: User, participants: list[Contact]) -> None:
    """``count`` entries of each kind on the ticket's timeline, and as many calls and participants."""
    requester = ticket.requester
    escalation = active_escalation(ticket.pk)
    assert escalation is not None
    for n in range(count):
        inbound = add_message(
            ticket,
            kind=MessageKind.INBOUND,
            channel=Channel.EMAIL,
            subject=f"RE: [{ticket.number}] {ticket.subject}",
            body_text=f"Still down ({n}).\n\nOn Mon, Support <support@msp.example> wrote:\n> We are on it.",
            actor=Actor(contact=requester, label="email intake"),
        )
        for name, content_type in ((f"photo-{n}.jpg", "image/jpeg"), (f"log-{n}.txt", "text/plain")):
            attachment = Attachment(
                message=inbound, filename=name, content_type=content_type, size=5, sha256=f"{n:02d}" * 32
            )
            attachment.file.save(name, ContentFile(b"bytes"), save=True)
        post_reply(ticket, author=staff, body=f"Restarting the switch now ({n}).")
        add_note(ticket, author=staff, body=f"Switch restarted, watching it ({n}).")
        add_event(ticket, f"Priority reviewed: unchanged ({n}).")
        # A page as the escalation engine writes one: a staff-only note, its delivery, the page.
        note = add_message(
            ticket,
            kind=MessageKind.NOTE,
            channel=Channel.EMAIL,
            body_text=f"Paged {staff.display_name} by email (round {n + 1}).",
            actor=Actor.system("escalation"),
        )
        delivery = Delivery.objects.create(
            message=note,
            purpose=DeliveryPurpose.PAGE,
            channel=PageChannel.EMAIL,
            to_address=staff.email,
            from_address="support@msp.example",
            subject=f"[{ticket.number}] PAGE P1: {ticket.subject}",
            body_text="Reply ACK to acknowledge.",
            rfc_message_id=f"page-{ticket.pk}-{n}@msp.example",
        )
        Page.objects.create(
            escalation=escalation,
            level_position=0,
            round=n + 1,
            user=staff,
            channel=PageChannel.EMAIL,
            delivery=delivery,
        )
        CallRecord.objects.create(
            source=CallSource.TWILIO,
            call_id=f"CA-{ticket.pk}-{n}",
            caller="+13125550111",
            client=ticket.client,
            contact=requester,
            outcome=CallOutcome.VOICEMAIL,
            recording_url=f"https://api.twilio.com/recordings/RE{ticket.pk}x{n}",
            transcript="Please call us back, the phones are down.",
            ticket=ticket,
        )
        add_participant(ticket, participants[n], actor=Actor.system())


def page(browser: HttpClient, url: str, **headers: str) -> str:
    response = browser.get(url, headers=headers)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("/", {}),
        ("/", {"HX-Request": "true"}),  # the fragment the queue refreshes itself with
        ("/?sort=newest", {}),
        ("/?sort=priority", {}),
    ],
    ids=["default", "htmx-refresh", "newest", "priority"],
)
def test_queue_makes_as_many_queries_for_30_tickets_as_for_one(
    url: str,
    headers: dict[str, str],
    as_bob: HttpClient,
    bob: User,
    erin: User,
    alice: User,
    dental: Client,
    law: Client,
    dana: Contact,
    priya: Contact,
    new_ticket: NewTicket,
    django_assert_num_queries: Any,
    django_assert_max_num_queries: Any,
) -> None:
    with time_machine.travel(T0, tick=False):
        first = escalating_ticket(new_ticket, dana, erin, "Server down")
    with time_machine.travel(minutes_after_t0(20), tick=False):
        page(as_bob, url, **headers)  # the session and per-process settings are read once
        with django_assert_max_num_queries(QUEUE_QUERY_CEILING) as one:
            html = page(as_bob, url, **headers)
    assert first.number in html
    queries_for_one = len(one.captured_queries)

    # 29 more, as varied as a queue is: both clients, every assignee or none, P1 to P4, some
    # waiting on the client (paused clocks), some past their first-response deadline.
    dental_people = contacts(dental, 10, "brightsmile.example")
    law_people = contacts(law, 10, "haleporter.example")
    assignees: list[User | None] = [bob, erin, alice, None]
    subjects = ["Printer jam", "Server down", "Payroll export fails", "New starter needs a laptop"]
    tickets = [first]
    for n in range(MANY - 1):
        requester = (dental_people if n % 2 else law_people)[n // 2 % 10]
        with time_machine.travel(minutes_after_t0(n % 15), tick=False):
            ticket = new_ticket(requester, f"{subjects[n % 4]} ({n})", is_emergency=n % 7 == 0)
            if (assignee := assignees[n % 4]) is not None:
                assign(ticket, assignee, actor=Actor.system())
            if n % 5 == 0:
                transition(ticket, Status.OPEN, actor=Actor.system())
                transition(ticket, Status.WAITING_ON_CLIENT, actor=Actor.system())
        tickets.append(ticket)
    with time_machine.travel(minutes_after_t0(20), tick=False), django_assert_num_queries(queries_for_one):
        html = page(as_bob, url, **headers)
    assert all(ticket.number in html for ticket in tickets)


def small_and_large_tickets(
    new_ticket: NewTicket, dental: Client, dana: Contact, erin: User, *, small_entries: int
) -> tuple[Ticket, Ticket]:
    """Two escalating tickets of Dana's with MANY participants: one with ``small_entries``
    entries of each kind, one with MANY of each."""
    people = contacts(dental, MANY, "brightsmile.example")
    with time_machine.travel(T0, tick=False):
        small = escalating_ticket(new_ticket, dana, erin, "Server down")
        fill_timeline(small, small_entries, staff=erin, participants=people)
        large = escalating_ticket(new_ticket, dana, erin, "Phones down")
        fill_timeline(large, MANY, staff=erin, participants=people)
    return small, large


def test_ticket_page_makes_as_many_queries_for_30_entries_of_each_kind_as_for_one(
    as_bob: HttpClient,
    erin: User,
    dental: Client,
    dana: Contact,
    new_ticket: NewTicket,
    django_assert_num_queries: Any,
    django_assert_max_num_queries: Any,
) -> None:
    small, large = small_and_large_tickets(new_ticket, dental, dana, erin, small_entries=1)
    assert Message.objects.filter(ticket=large).count() > MANY * 5
    with time_machine.travel(minutes_after_t0(5), tick=False):
        page(as_bob, f"/tickets/{small.number}/")  # the session and per-process settings are read once
        with django_assert_max_num_queries(TICKET_PAGE_QUERY_CEILING) as one:
            page(as_bob, f"/tickets/{small.number}/")
        with django_assert_num_queries(len(one.captured_queries)):
            html = page(as_bob, f"/tickets/{large.number}/")
        # The whole timeline (where "Show earlier entries" leads without JavaScript) too.
        with django_assert_num_queries(len(one.captured_queries)):
            whole = page(as_bob, f"/tickets/{large.number}/?timeline=all")
    in_order = list(
        Message.objects.filter(ticket=large).order_by("created_at", "id").values_list("pk", flat=True)
    )
    assert all(f'id="message-{pk}"' in html for pk in in_order[-TIMELINE_NEWEST:])
    assert f"Show {len(in_order) - TIMELINE_NEWEST} earlier entries" in html and "Colleague 29" in html
    assert all(f'id="message-{pk}"' in whole for pk in in_order)
    assert whole.count(".jpg") >= MANY


def test_the_earlier_timeline_entries_take_as_many_queries_for_150_as_for_one(
    as_bob: HttpClient,
    erin: User,
    dental: Client,
    dana: Contact,
    new_ticket: NewTicket,
    django_assert_num_queries: Any,
    django_assert_max_num_queries: Any,
) -> None:
    small, large = small_and_large_tickets(new_ticket, dental, dana, erin, small_entries=6)

    def earlier_url(ticket: Ticket) -> tuple[str, list[int]]:
        in_order = list(
            Message.objects.filter(ticket=ticket).order_by("created_at", "id").values_list("pk", flat=True)
        )
        first_shown = in_order[-TIMELINE_NEWEST]
        return f"/tickets/{ticket.number}/timeline/earlier/?before={first_shown}", in_order[:-TIMELINE_NEWEST]

    small_url, small_earlier = earlier_url(small)
    large_url, large_earlier = earlier_url(large)
    assert len(small_earlier) < 10 < 100 < len(large_earlier)
    with time_machine.travel(minutes_after_t0(5), tick=False):
        page(as_bob, small_url, **{"HX-Request": "true"})
        with django_assert_max_num_queries(TIMELINE_FRAGMENT_QUERY_CEILING) as one:
            page(as_bob, small_url, **{"HX-Request": "true"})
        with django_assert_num_queries(len(one.captured_queries)):
            html = page(as_bob, large_url, **{"HX-Request": "true"})
    assert all(f'id="message-{pk}"' in html for pk in large_earlier)
    files = Attachment.objects.filter(message_id__in=large_earlier).values_list("filename", flat=True)
    assert len(files) > MANY and all(f">{name}</a>" in html for name in files)
