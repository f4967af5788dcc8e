"""Console: the dashboard — figures for a period, overall or for one client, with SVG charts,
for staff only, in a fixed number of queries.

Monday 2 March 2026 (UTC), seen at 20:00 (P3 targets on 24×7: Dental 120 min to respond and
480 to resolve, Law 60 and 240):
- Dental "Printer jams": opened 09:00, bob replied 10:00, resolved 12:00 — both targets met
- Dental "Shared drive slow": opened 09:00, never answered — response missed at 11:00,
  resolution at 17:00
- Law "Docs template broken": opened 09:00, never answered — missed at 10:00 and 13:00
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import time_machine
from django.test import Client as HttpClient
from django.urls import reverse

from firstcall.accounts.models import User
from firstcall.clients.models import Client, Contact
from firstcall.tickets.models import Status
from tests.reports.scenario import at, move, open_request, reply, simple_targets

pytestmark = pytest.mark.django_db

EVENING = at(2, 20)


@pytest.fixture
def monday(dental: Client, law: Client, carl: Contact, priya: Contact, bob: User) -> None:
    simple_targets(dental, law)
    printer = open_request(carl, "Printer jams", at(2, 9))
    open_request(carl, "Shared drive slow", at(2, 9))
    open_request(priya, "Docs template broken", at(2, 9))
    reply(printer, bob, at(2, 10))
    move(printer, Status.RESOLVED, bob, at(2, 12))


def get(browser: HttpClient, query: str = "") -> Any:
    with time_machine.travel(EVENING, tick=False):
        return browser.get(reverse("console:dashboard") + query)


def tile(html: str, key: str) -> tuple[str, str]:
    match = re.search(
        rf'<div class="tile" id="tile-{key}">.*?<dd class="tile__value">(.*?)</dd>\s*'
        r'<dd class="tile__detail">(.*?)</dd>',
        html,
        re.S,
    )
    assert match, f"no {key} tile"
    return match.group(1), match.group(2)


def test_the_dashboard_needs_sign_in(anonymous: HttpClient) -> None:
    response = anonymous.get(reverse("console:dashboard"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("console:login"))


def test_overall_figures_this_week(as_bob: HttpClient, monday: None) -> None:
    response = get(as_bob)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'aria-current="page">Dashboard</a>' in html
    assert "This week: Mon 2 Mar – Sun 8 Mar 2026 (UTC)" in html
    assert tile(html, "open") == ("2", "P1: 0, P2: 0, P3: 2, P4: 0 · 0 waiting on the client")
    assert tile(html, "sla") == ("33%", "2 of 6 met · first response 1 of 3, resolution 1 of 3")
    assert tile(html, "fcr") == ("0%", "0 of 1 resolved tickets")
    assert tile(html, "calls") == ("—", "0 of 0 calls · 0 voicemail, 0 abandoned")
    assert tile(html, "acknowledge") == ("1 h 00 min", "over 1 ticket acknowledged")
    assert tile(html, "resolve") == ("3 h 00 min", "over 1 ticket resolved")
    # Three charts, each an image with a title and a description.
    assert html.count('role="img"') == 3
    assert '<title id="chart-open-title">Open tickets by priority</title>' in html
    assert "Mon 2: opened 3, resolved 1." in html  # the last of the 14 days
    assert "2 Mar: 33%." in html  # this week's point of the 8 weeks
    # Per client, with a link to each one's figures.
    clients = re.search(r'<table class="dashboard-clients">.*?</table>', html, re.S)
    assert clients is not None
    rows = re.findall(
        r'<tr>\s*<th scope="row">(.*?)</th>\s*<td[^>]*>(\d+)</td>\s*<td[^>]*>(\d+)</td>\s*'
        r"<td[^>]*>(.*?)</td>",
        clients.group(0),
    )
    dental = Client.objects.get(name="Bright Smile Dental")
    assert [(re.sub("<[^>]+>", "", name), open_, urgent, sla) for name, open_, urgent, sla in rows] == [
        ("Bright Smile Dental", "1", "0", "2 of 4"),
        ("Hale &amp; Porter Law", "1", "0", "0 of 2"),
    ]
    assert f'href="/dashboard/?client={dental.pk}&amp;period=this-week"' in clients.group(0)


def test_one_clients_figures(as_bob: HttpClient, monday: None, dental: Client) -> None:
    response = get(as_bob, f"?client={dental.pk}")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Dashboard: Bright Smile Dental</h1>" in html
    assert f'<option value="{dental.pk}" selected>Bright Smile Dental</option>' in html
    assert tile(html, "open")[0] == "1"
    assert tile(html, "sla") == ("50%", "2 of 4 met · first response 1 of 2, resolution 1 of 2")
    assert 'id="clients-title"' not in html  # the per-client table is for the overall view


def test_another_period(as_bob: HttpClient, monday: None) -> None:
    html = get(as_bob, "?period=last-week").content.decode()

    assert "Last week: Mon 23 Feb – Sun 1 Mar 2026 (UTC)" in html
    assert tile(html, "sla") == ("—", "0 of 0 met · first response 0 of 0, resolution 0 of 0")
    assert tile(html, "open")[0] == "2"  # open tickets are counted now, whatever the period


def test_an_unknown_client_shows_the_overall_figures_with_the_error(as_bob: HttpClient, monday: None) -> None:
    response = get(as_bob, "?client=999999&period=someday")

    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert">Showing all clients this week:' in html
    assert tile(html, "sla")[0] == "33%"


def test_a_quiet_week_has_no_figures_but_says_so(as_bob: HttpClient, dental: Client) -> None:
    html = get(as_bob).content.decode()

    assert tile(html, "sla")[0] == "—" and tile(html, "resolve")[0] == "—"
    assert "No open tickets." in html and "No SLA targets measured in these weeks." in html


def test_query_count_does_not_grow_with_tickets_or_clients(
    as_bob: HttpClient,
    monday: None,
    dental: Client,
    dana: Contact,
    bob: User,
    django_assert_num_queries: Any,
) -> None:
    # Session, user; open tickets, SLA, first-contact resolution, calls, acknowledge, resolve,
    # the 14 days, the 8 weeks; per client: open and SLA; the client list of the filter.
    with django_assert_num_queries(13):
        assert get(as_bob).status_code == 200
    # ... and the client looked up from the query string instead of the per-client table.
    with django_assert_num_queries(12):
        assert get(as_bob, f"?client={dental.pk}").status_code == 200

    for n in range(5):
        client = Client.objects.create(name=f"Client {n}")
        requester = Contact.objects.create(client=client, name=f"Person {n}", email=f"p{n}@c{n}.example")
        ticket = open_request(requester, "Laptop slow", at(2, 9))
        reply(ticket, bob, at(2, 9, 30))
        move(ticket, Status.RESOLVED, bob, at(2, 11))
        open_request(dana, f"Request {n}", at(2, 10))

    with django_assert_num_queries(13):
        html = get(as_bob).content.decode()
    assert "Client 4" in html and tile(html, "open")[0] == "7"
    with django_assert_num_queries(12):
        assert get(as_bob, f"?client={dental.pk}").status_code == 200
