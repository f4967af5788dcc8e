"""The queue: what a row shows, the filters, pagination, the htmx fragment, constant queries."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client as HttpClient
from django.utils import timezone

from firstcall.accounts.models import User
from firstcall.clients.models import Client, Contact
from firstcall.tickets.actions import Actor, assign, transition
from firstcall.tickets.models import Channel, Status, Ticket

pytestmark = pytest.mark.django_db

NewTicket = Callable[..., Ticket]


def numbers(html: str) -> list[str]:
    """Ticket numbers in the order the rows show them."""
    return re.findall(r'class="ticket-number" href="/tickets/(T-\d+)/"', html)


def test_row_shows_ticket_facts_and_badges(
    as_bob: HttpClient, dana: Contact, erin: User, new_ticket: NewTicket
) -> None:
    created = timezone.now() - timedelta(hours=3)
    ticket = new_ticket(dana, "X-ray PC won't boot", is_emergency=True, created_at=created)
    assign(ticket, erin, actor=Actor.system())
    html = as_bob.get("/").content.decode()
    assert ticket.number in html
    assert "X-ray PC won&#x27;t boot" in html
    assert "Bright Smile Dental" in html and "Dana Reyes" in html
    assert ">New<" in html and ">P1<" in html and ">Email<" in html and ">Erin<" in html
    assert "badge--emergency" in html
    assert "3\xa0hours ago" in html
    assert timezone.localtime(created).strftime("%Y-%m-%d %H:%M") in html


def test_unknown_sender_is_flagged_unverified(as_bob: HttpClient, new_ticket: NewTicket) -> None:
    stranger = Contact.objects.create(name="Mallory", email="mallory@elsewhere.example")
    new_ticket(stranger, "Pay this invoice")
    html = as_bob.get("/").content.decode()
    assert "Unverified requester" in html and "No client" in html


def test_default_filter_is_open_work(
    as_bob: HttpClient, dana: Contact, carl: Contact, new_ticket: NewTicket
) -> None:
    new_one = new_ticket(dana, "New one")
    waiting = new_ticket(dana, "Waiting one")
    transition(waiting, Status.WAITING_ON_CLIENT, actor=Actor.system())
    resolved = new_ticket(carl, "Resolved one")
    transition(resolved, Status.RESOLVED, actor=Actor.system())
    closed = new_ticket(carl, "Closed one")
    transition(closed, Status.CLOSED, actor=Actor.system())

    assert numbers(as_bob.get("/?sort=newest").content.decode()) == [waiting.number, new_one.number]
    everything = numbers(as_bob.get("/?status=all&sort=newest").content.decode())
    assert everything == [closed.number, resolved.number, waiting.number, new_one.number]
    assert numbers(as_bob.get("/?status=resolved").content.decode()) == [resolved.number]


def test_filter_by_client_priority_and_channel(
    as_bob: HttpClient, dana: Contact, priya: Contact, new_ticket: NewTicket
) -> None:
    dental_email = new_ticket(dana, "Printer", channel=Channel.EMAIL)
    dental_web_p1 = new_ticket(dana, "Server down", channel=Channel.WEB, is_emergency=True)
    law_ticket = new_ticket(priya, "VPN")

    assert numbers(as_bob.get(f"/?client={priya.client_id}").content.decode()) == [law_ticket.number]
    assert numbers(as_bob.get("/?priority=P1").content.decode()) == [dental_web_p1.number]
    assert numbers(as_bob.get("/?channel=email&sort=newest").content.decode()) == [
        law_ticket.number,
        dental_email.number,
    ]
    combined = f"/?client={dana.client_id}&channel=web&priority=P1&status=open_work"
    assert numbers(as_bob.get(combined).content.decode()) == [dental_web_p1.number]


def test_filter_by_assignee_me_unassigned_and_person(
    as_bob: HttpClient, bob: User, erin: User, dana: Contact, new_ticket: NewTicket
) -> None:
    mine = new_ticket(dana, "Mine")
    assign(mine, bob, actor=Actor.system())
    erins = new_ticket(dana, "Erin's")
    assign(erins, erin, actor=Actor.system())
    nobodys = new_ticket(dana, "Nobody's")

    assert numbers(as_bob.get("/?assignee=me").content.decode()) == [mine.number]
    assert numbers(as_bob.get("/?assignee=unassigned").content.decode()) == [nobodys.number]
    assert numbers(as_bob.get(f"/?assignee={erin.pk}").content.decode()) == [erins.number]


def test_unreadable_filter_is_ignored_and_the_others_apply(
    as_bob: HttpClient, dana: Contact, priya: Contact, new_ticket: NewTicket
) -> None:
    dental = new_ticket(dana, "Printer")
    law = new_ticket(priya, "VPN")
    response = as_bob.get("/?priority=P9&client=999&sort=newest")
    assert response.status_code == 200
    assert numbers(response.content.decode()) == [law.number, dental.number]
    assert numbers(as_bob.get(f"/?priority=P9&client={priya.client_id}").content.decode()) == [law.number]


def test_fifty_per_page(as_bob: HttpClient, dana: Contact, new_ticket: NewTicket) -> None:
    start = timezone.now() - timedelta(days=1)
    tickets = [new_ticket(dana, f"Ticket {i}", created_at=start + timedelta(minutes=i)) for i in range(55)]
    first = as_bob.get("/?sort=newest").content.decode()
    assert numbers(first) == [t.number for t in reversed(tickets[5:])]
    assert "55 tickets" in first and "page 1 of 2" in first
    assert 'href="/?sort=newest&amp;page=2"' in first
    second = as_bob.get("/?status=open_work&sort=newest&page=2").content.decode()
    assert numbers(second) == [t.number for t in reversed(tickets[:5])]
    assert 'href="/?status=open_work&amp;sort=newest&amp;page=1"' in second


def test_htmx_request_gets_only_the_results_fragment(
    as_bob: HttpClient, dana: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(dana, "Printer")
    full = as_bob.get("/?status=all")
    assert "<html" in full.content.decode() and 'hx-trigger="change, submit"' in full.content.decode()
    fragment = as_bob.get("/?status=all", headers={"HX-Request": "true"})
    html = fragment.content.decode()
    assert "<html" not in html and 'class="filters"' not in html
    assert html.strip().startswith('<section id="ticket-results"')
    assert 'hx-get="/?status=all" hx-trigger="every 15s" hx-swap="outerHTML"' in html
    assert numbers(html) == [ticket.number]
    assert "HX-Request" in fragment["Vary"]
    # htmx restoring history after a cache miss needs the whole page.
    restore = as_bob.get("/", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restore.content.decode()


def test_priority_order_puts_the_costliest_downtime_first_among_equals(
    as_bob: HttpClient,
    priced_dental: Client,
    dana: Contact,
    carl: Contact,
    priya: Contact,
    new_ticket: NewTicket,
) -> None:
    start = timezone.now() - timedelta(hours=1)

    def opened(minutes: int, requester: Contact, subject: str, **kwargs: Any) -> Ticket:
        return new_ticket(requester, subject, created_at=start + timedelta(minutes=minutes), **kwargs)

    # Bright Smile Dental: 25 people at 55.00 per person-hour, 400.00 revenue per hour.
    no_estimate = opened(0, priya, "Printer jam")  # P3, Hale & Porter gave no figures
    one_person = opened(1, carl, "Printer jam")  # P3, 55.00
    team = opened(2, carl, "Our team cannot print")  # P3, 5 people: 275.00
    company = opened(3, carl, "Server down")  # P2, everyone: 1,775.00
    another_person = opened(4, carl, "Mouse broken")  # P3, 55.00, newer than one_person
    emergency = opened(5, dana, "Server down", is_emergency=True)  # P1
    assert [t.priority for t in (no_estimate, one_person, team, company, another_person, emergency)] == [
        "P3",
        "P3",
        "P3",
        "P2",
        "P3",
        "P1",
    ]
    assert [str(t.cost_per_hour) for t in (one_person, team, company, another_person)] == [
        "55.00",
        "275.00",
        "1775.00",
        "55.00",
    ]
    assert no_estimate.cost_per_hour is None

    by_priority = as_bob.get("/?sort=priority").content.decode()
    assert numbers(by_priority) == [
        emergency.number,
        company.number,
        team.number,
        another_person.number,  # equal priority and cost: newest first, as before
        one_person.number,
        no_estimate.number,  # no estimate: last among its priority
    ]
    assert "≈ 1,775.00/h" in by_priority and "≈ 275.00/h" in by_priority
    assert numbers(as_bob.get("/?sort=newest").content.decode()) == [
        emergency.number,
        another_person.number,
        company.number,
        team.number,
        one_person.number,
        no_estimate.number,
    ]
    assert numbers(as_bob.get("/?sort=sideways").content.decode())[0] == emergency.number


def test_priority_order_pages_read_previous_and_next(
    as_bob: HttpClient, dana: Contact, new_ticket: NewTicket
) -> None:
    for i in range(51):
        new_ticket(dana, f"Ticket {i}")
    html = as_bob.get("/?sort=priority").content.decode()
    assert "Next →" in html and "Older →" not in html
    assert "Older →" in as_bob.get("/?sort=newest").content.decode()


def make_tickets(count: int, dana: Contact, priya: Contact, staff: list[User], new_ticket: NewTicket) -> None:
    for i in range(count):
        ticket = new_ticket(dana if i % 2 else priya, f"Request {i}", is_emergency=i % 7 == 0)
        assign(ticket, staff[i % len(staff)], actor=Actor.system())


@pytest.mark.parametrize("count", [5, 60])
def test_queue_query_count_does_not_grow_with_rows(
    count: int,
    as_bob: HttpClient,
    bob: User,
    erin: User,
    alice: User,
    dana: Contact,
    priya: Contact,
    new_ticket: NewTicket,
    django_assert_num_queries: Any,
) -> None:
    make_tickets(count, dana, priya, [alice, bob, erin], new_ticket)
    # session, user, staff list (assignee filter), teams of open work (team filter), clients
    # (client filter), count, page of tickets
    for order in ("attention", "priority", "newest"):
        with django_assert_num_queries(7):
            response = as_bob.get(f"/?status=all&sort={order}")
        assert len(numbers(response.content.decode())) == min(count, 50)
    # The 15-second refresh renders no filter form, so no client list.
    with django_assert_num_queries(6):
        as_bob.get("/", headers={"HX-Request": "true"})


def test_relative_time_comes_from_the_clock(as_bob: HttpClient, dana: Contact, new_ticket: NewTicket) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        new_ticket(dana, "Printer")
    with time_machine.travel(start + timedelta(minutes=20), tick=False):
        html = as_bob.get("/").content.decode()
    assert "20\xa0minutes ago" in html


def test_default_order_puts_breached_then_about_to_breach_first(
    as_bob: HttpClient,
    dental_contract_since_2020: Any,
    carl: Contact,
    dana: Contact,
    new_ticket: NewTicket,
) -> None:
    """Bright Smile Dental's first-response targets (24×7): P1 15 min, P2 1 h, P3 2 h."""
    from tests.console.conftest import minutes_after_t0

    def opened(minutes: float, subject: str, **kwargs: Any) -> Ticket:
        with time_machine.travel(minutes_after_t0(minutes), tick=False):
            return new_ticket(carl, subject, **kwargs)

    late_p3 = opened(-180, "Printer jam")  # due T0 -60: breached an hour ago
    fresh_p1 = opened(0, "Server down", is_emergency=True)  # due T0 +15: about to breach
    near_p3 = opened(-100, "Scanner jam")  # due T0 +20: about to breach
    calm_p2 = opened(-10, "Nobody can print")  # due T0 +50: on track
    paused_p2 = opened(-5, "Nobody can scan")  # waiting on the client: clocks paused
    with time_machine.travel(minutes_after_t0(-4), tick=False):
        transition(paused_p2, Status.WAITING_ON_CLIENT, actor=Actor.system())
    assert [t.priority for t in (late_p3, fresh_p1, near_p3, calm_p2, paused_p2)] == [
        "P3",
        "P1",
        "P3",
        "P2",
        "P2",
    ]

    with time_machine.travel(minutes_after_t0(0), tick=False):
        html = as_bob.get("/").content.decode()
    assert numbers(html) == [
        late_p3.number,  # past its deadline: first whatever its priority
        fresh_p1.number,  # about to breach, P1
        near_p3.number,  # about to breach, P3
        calm_p2.number,  # on track, nearest deadline first
        paused_p2.number,  # paused: no running deadline
    ]
    rows = re.findall(r'<tr class="queue-row([^"]*)"\s+data-ticket="(T-\d+)"', html)
    by_number = {number: classes for classes, number in rows}
    assert "is-breached" in by_number[late_p3.number]
    assert "is-at-risk" in by_number[fresh_p1.number] and "is-at-risk" in by_number[near_p3.number]
    assert "is-breached" not in by_number[calm_p2.number] and "is-at-risk" not in by_number[calm_p2.number]
    # The countdowns, as the server writes them (console.js keeps them moving).
    assert ">1 h 00 min overdue</time>" in html
    assert ">in 15 min</time>" in html and ">in 20 min</time>" in html and ">in 50 min</time>" in html
    assert ">Paused<" in html


def test_countdown_words() -> None:
    from datetime import datetime

    from firstcall.console.templatetags.console_tags import countdown_words

    now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    assert countdown_words(now + timedelta(minutes=4, seconds=30), now) == "in 4 min"
    assert countdown_words(now + timedelta(hours=1, minutes=5), now) == "in 1 h 05 min"
    assert countdown_words(now - timedelta(minutes=12), now) == "12 min overdue"
    assert countdown_words(now - timedelta(days=2, hours=3, minutes=1), now) == "2 d 3 h overdue"
    assert countdown_words(now, now) == "0 min overdue"


def test_saved_views_are_links_to_their_filters(
    as_bob: HttpClient, bob: User, carl: Contact, new_ticket: NewTicket
) -> None:
    mine = new_ticket(carl, "Mine")
    assign(mine, bob, actor=Actor.system())
    nobodys = new_ticket(carl, "Nobody's")
    urgent = new_ticket(carl, "Server down", is_emergency=True)
    waiting = new_ticket(carl, "Waiting one")
    transition(waiting, Status.WAITING_ON_CLIENT, actor=Actor.system())

    html = as_bob.get("/").content.decode()
    for label, query in [
        ("My tickets", "assignee=me"),
        ("Unassigned", "assignee=unassigned"),
        ("P1/P2", "priority=P1P2"),
        ("Waiting on client", "status=waiting_on_client"),
    ]:
        assert f'<a href="/?{query}">{label}</a>' in html
    assert '<a href="/" aria-current="page">Open work</a>' in html

    mine_page = as_bob.get("/?assignee=me").content.decode()
    assert numbers(mine_page) == [mine.number]
    assert '<a href="/?assignee=me" aria-current="page">My tickets</a>' in mine_page
    assert set(numbers(as_bob.get("/?assignee=unassigned").content.decode())) == {
        nobodys.number,
        urgent.number,
        waiting.number,
    }
    assert numbers(as_bob.get("/?priority=P1P2").content.decode()) == [urgent.number]
    assert numbers(as_bob.get("/?status=waiting_on_client").content.decode()) == [waiting.number]


def test_filter_by_team(as_bob: HttpClient, dana: Contact, new_ticket: NewTicket) -> None:
    network = new_ticket(dana, "VPN")
    Ticket.objects.filter(pk=network.pk).update(team="Network")
    new_ticket(dana, "Printer")
    html = as_bob.get("/").content.decode()
    assert '<option value="Network">Network</option>' in html
    assert numbers(as_bob.get("/?team=Network").content.decode()) == [network.number]


def test_assign_to_me_shortcut_returns_to_the_queue(
    as_bob: HttpClient, bob: User, dana: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(dana, "Printer")
    html = as_bob.get("/?sort=newest").content.decode()
    assert f'data-assign-url="/tickets/{ticket.number}/assign/"' in html
    assert 'id="queue-assign-form"' in html
    response = as_bob.post(f"/tickets/{ticket.number}/assign/", {"assignee": "me", "next": "/?sort=newest"})
    assert response.status_code == 302 and response["Location"] == "/?sort=newest"
    ticket.refresh_from_db()
    assert ticket.assignee == bob
    # Somewhere else than this site: back to the ticket instead.
    elsewhere = as_bob.post(
        f"/tickets/{ticket.number}/assign/", {"assignee": "", "next": "https://evil.example/"}
    )
    assert elsewhere["Location"] == f"/tickets/{ticket.number}/"
