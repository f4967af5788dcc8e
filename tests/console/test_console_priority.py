"""The ticket page's priority panel (what set impact and urgency, the downtime at stake) and the
staff override form (with a reason, audited, kept by every re-triage)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client as HttpClient

from firstcall.accounts.models import User
from firstcall.clients.models import Client, Contact
from firstcall.tickets.actions import Actor
from firstcall.tickets.models import AuditEvent, Ticket
from firstcall.tickets.priority import retriage
from firstcall.triage.models import TriageRule

pytestmark = pytest.mark.django_db

NewTicket = Callable[..., Ticket]


def panel(html: str) -> str:
    """The markup of the priority panel."""
    match = re.search(r'<section class="card panel" id="priority".*?</section>', html, re.S)
    assert match, "the priority panel is not on the page"
    return match.group(0)


def flash(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_panel_explains_a_triaged_p1(
    as_bob: HttpClient, priced_dental: Client, dana: Contact, new_ticket: NewTicket
) -> None:
    TriageRule.objects.create(
        name="Outages go to infrastructure",
        conditions=[{"field": "text", "op": "contains", "value": "server"}],
        actions=[
            {"action": "set_category", "value": "Outage"},
            {"action": "set_team", "value": "Infrastructure"},
            {"action": "add_tag", "value": "outage"},
        ],
    )
    ticket = new_ticket(dana, "Server down", body="Nobody can open the patient records.", is_emergency=True)
    html = panel(as_bob.get(f"/tickets/{ticket.number}/").content.decode())

    assert '<span class="badge badge--p1">P1 — critical</span>' in html
    assert "<dt>Impact</dt><dd>the whole company</dd>" in html
    assert "<dt>Urgency</dt><dd>critical</dd>" in html
    # Each reason as triage words it, in the order triage applied them.
    reasons = re.findall(r"<li>(.*?)</li>", html.partition('<ul class="reasons">')[2].partition("</ul>")[0])
    assert reasons[0].startswith("Impact: the whole company — the message says")
    assert reasons[1].startswith("Urgency: critical — VIP requester: one step up from high")
    assert "Priority: P1 — impact the whole company × urgency critical in the priority matrix" in reasons
    # 25 people × 55.00 + 400.00 revenue per hour, no currency symbol.
    assert "≈ 1,775.00 per hour" in html and "25 people affected" in html
    assert "<dt>Category</dt><dd>Outage</dd>" in html and "<dt>Team</dt><dd>Infrastructure</dd>" in html
    assert '<span class="badge badge--tag">outage</span>' in html
    assert "Overridden by staff" not in html


def test_panel_without_downtime_figures_says_so(
    as_bob: HttpClient, carl: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(carl, "Printer slow")
    html = panel(as_bob.get(f"/tickets/{ticket.number}/").content.decode())
    assert '<span class="badge badge--p3">P3 — normal</span>' in html
    assert "<dt>Impact</dt><dd>one person</dd>" in html and "<dt>Urgency</dt><dd>medium</dd>" in html
    assert "No cost estimate: the client has no downtime figures that apply" in html
    assert "1 person affected" in html
    assert "<dt>Category</dt><dd>None</dd>" in html and "<dt>Tags</dt><dd>" in html


def test_override_form_has_a_label_for_every_field(
    as_bob: HttpClient, carl: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(carl, "Printer slow")
    html = panel(as_bob.get(f"/tickets/{ticket.number}/").content.decode())
    assert f'action="/tickets/{ticket.number}/priority/"' in html and "csrfmiddlewaretoken" in html
    for name, label in (("impact", "Impact"), ("urgency", "Urgency"), ("reason", "Reason")):
        assert f'<label for="id_override_{name}">{label}' in html
        assert f'id="id_override_{name}"' in html
    assert '<option value="" selected>Let triage decide</option>' in html


def test_override_changes_the_priority_with_an_audited_reason_that_retriage_keeps(
    as_bob: HttpClient, bob: User, priced_dental: Client, carl: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(carl, "Server down", body="The server is down.")
    assert (ticket.priority, ticket.impact, ticket.urgency) == ("P2", "company", "medium")

    response = as_bob.post(
        f"/tickets/{ticket.number}/priority/",
        {"impact": "person", "urgency": "", "reason": "Only the reception PC is down"},
    )
    assert response.status_code == 302 and response["Location"] == f"/tickets/{ticket.number}/"

    ticket.refresh_from_db()
    assert (ticket.priority, ticket.impact, ticket.urgency) == ("P3", "person", "medium")
    assert (ticket.impact_override, ticket.urgency_override) == ("person", "")
    assert ticket.override_reason == "Only the reception PC is down"
    assert str(ticket.cost_per_hour) == "55.00"  # one person now, not the company
    overridden = AuditEvent.objects.get(ticket=ticket, action="priority_overridden")
    assert overridden.actor_user == bob and overridden.actor_label == "staff console"
    assert overridden.reason == "Only the reception PC is down"
    assert overridden.after == {"impact": "person", "urgency": None}
    assert AuditEvent.objects.filter(ticket=ticket, action="priority_changed").count() == 1

    page = as_bob.get(f"/tickets/{ticket.number}/")
    assert flash(page) == [f"Priority overridden: {ticket.number} is now P3."]
    html = panel(page.content.decode())
    assert "Overridden by staff: Only the reception PC is down" in html
    assert "(impact: one person; urgency: left to triage)" in html
    assert "Impact: one person — set by staff: Only the reception PC is down" in html
    assert "≈ 55.00 per hour" in html
    # The form shows the override in force.
    assert '<option value="person" selected>one person</option>' in html

    # A later re-triage (a new message, a deadline threshold) gives the same answer back.
    assert retriage(ticket, actor=Actor.system("triage"), reason="a new message") is False
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.impact, ticket.impact_override) == ("P3", "person", "person")
    assert "Overridden by staff: Only the reception PC is down" in panel(
        as_bob.get(f"/tickets/{ticket.number}/").content.decode()
    )


def test_clearing_the_override_lets_triage_decide_again(
    as_bob: HttpClient, carl: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(carl, "Server down")
    as_bob.post(f"/tickets/{ticket.number}/priority/", {"impact": "person", "reason": "One PC"})
    response = as_bob.post(
        f"/tickets/{ticket.number}/priority/", {"impact": "", "urgency": "", "reason": "It is the server"}
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.impact, ticket.impact_override) == ("P2", "company", "")
    page = as_bob.get(f"/tickets/{ticket.number}/")
    assert flash(page) == [
        f"Priority overridden: {ticket.number} is now P3.",
        f"Priority overridden: {ticket.number} is now P2.",
    ]
    assert "Overridden by staff" not in panel(page.content.decode())
    assert AuditEvent.objects.filter(ticket=ticket, action="priority_overridden").count() == 2


def test_override_that_keeps_the_priority_says_so(
    as_bob: HttpClient, dana: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(dana, "Server down", is_emergency=True)
    as_bob.post(f"/tickets/{ticket.number}/priority/", {"urgency": "critical", "reason": "Clinic closed"})
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.urgency_override) == ("P1", "critical")
    page = as_bob.get(f"/tickets/{ticket.number}/")
    assert flash(page) == [f"Priority override saved: {ticket.number} stays P1."]


@pytest.mark.parametrize("reason", ["", "   "])
def test_override_without_a_reason_is_refused_on_the_form(
    reason: str, as_bob: HttpClient, carl: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(carl, "Server down")
    response = as_bob.post(f"/tickets/{ticket.number}/priority/", {"impact": "person", "reason": reason})
    assert response.status_code == 400
    html = panel(response.content.decode())
    assert '<details class="override" open>' in html
    assert "Say why the priority is overridden: the reason is shown on the ticket." in html
    assert 'class="field field--invalid"' in html
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.impact_override) == ("P2", "")
    assert not AuditEvent.objects.filter(ticket=ticket, action="priority_overridden").exists()


def test_override_with_an_unknown_value_is_refused(
    as_bob: HttpClient, carl: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(carl, "Server down")
    response = as_bob.post(
        f"/tickets/{ticket.number}/priority/", {"impact": "galaxy", "urgency": "now", "reason": "x"}
    )
    assert response.status_code == 400
    html = panel(response.content.decode())
    assert "galaxy is not an impact." in html and "now is not an urgency." in html
    assert Ticket.objects.get(pk=ticket.pk).impact_override == ""


def test_a_refusal_from_the_domain_is_shown_on_the_form(
    as_bob: HttpClient, carl: Contact, new_ticket: NewTicket, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> bool:
        raise ValueError("Overrides are frozen on this ticket.")

    monkeypatch.setattr("firstcall.console.views.override_priority", refuse)
    ticket = new_ticket(carl, "Server down")
    response = as_bob.post(f"/tickets/{ticket.number}/priority/", {"impact": "person", "reason": "One PC"})
    assert response.status_code == 400
    assert "Overrides are frozen on this ticket." in panel(response.content.decode())


def test_override_is_for_signed_in_staff_and_by_post_only(
    as_bob: HttpClient, anonymous: HttpClient, carl: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(carl, "Server down")
    url = f"/tickets/{ticket.number}/priority/"
    data = {"impact": "person", "reason": "One PC"}
    response = anonymous.post(url, data)
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    outsider = User.objects.create_user("pat", "pat@elsewhere.example", "pat-pass-123", role="")
    as_outsider = HttpClient()
    as_outsider.force_login(outsider)
    assert as_outsider.post(url, data).status_code == 403
    assert as_bob.get(url).status_code == 405
    assert as_bob.get(url, data).status_code == 405
    assert Ticket.objects.get(pk=ticket.pk).impact_override == ""
    assert as_bob.post("/tickets/T-000999/priority/", data).status_code == 404
