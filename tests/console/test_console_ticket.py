"""The ticket page: header, people, timeline, audit trail, and constant queries (whatever the
number of messages, SLA clocks, pages and triage reasons)."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client as HttpClient

from firstcall.accounts.models import Role, User
from firstcall.clients.models import Client, Contact
from firstcall.console.queries import TIMELINE_NEWEST
from firstcall.escalation.engine import acknowledge, active_escalation, run_step, start_escalation
from firstcall.escalation.models import Page
from firstcall.notify.outbound import Route, schedule_acknowledgment
from firstcall.sla.models import SlaTarget
from firstcall.tickets.actions import Actor, add_event, add_message, add_participant, assign
from firstcall.tickets.models import Attachment, Channel, Message, MessageKind, Ticket
from firstcall.tickets.replies import add_note, post_reply
from firstcall.triage.models import TriageRule

pytestmark = pytest.mark.django_db

NewTicket = Callable[..., Ticket]

REPLY_WITH_QUOTE = """Thanks, restarting it fixed the printer.

On Mon, 3 Jun 2024 at 09:00, Support <support@msp.example> wrote:
> Please try restarting the printer.
> It usually clears the jam.
"""


def entry_html(html: str, message: Message) -> str:
    """The markup of one timeline entry."""
    match = re.search(rf'<li class="entry [^"]*" id="message-{message.pk}">(.*?)\n</li>', html, re.S)
    assert match, f"message {message.pk} is not on the page"
    return match.group(1)


def save_attachment(message: Message, filename: str, content: bytes, content_type: str) -> Attachment:
    attachment = Attachment(
        message=message, filename=filename, content_type=content_type, size=len(content), sha256="ab" * 32
    )
    attachment.file.save(filename, ContentFile(content), save=True)
    return attachment


def test_header_and_people(
    as_bob: HttpClient, dana: Contact, carl: Contact, erin: User, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(dana, "Server down", is_emergency=True)
    assign(ticket, erin, actor=Actor.system())
    add_participant(ticket, carl, actor=Actor.system())
    html = as_bob.get(f"/tickets/{ticket.number}/").content.decode()
    assert f"<title>{ticket.number} Server down" in html
    # "Server down" is company-wide, the emergency makes it urgent: P1, with the reasons shown.
    assert ">New<" in html and "P1 — critical" in html and ticket.priority_explanation in html
    assert "badge--emergency" in html
    assert "First response due" in html and "Not yet" in html
    # requester card
    assert "Dana Reyes" in html and 'href="mailto:dana@brightsmile.example"' in html
    assert 'href="tel:+13125550111"' in html and "(mobile)" in html
    assert "badge--vip" in html
    # client card with the active contract
    assert "Bright Smile Dental" in html and "Managed Care Gold" in html and "Mon–Fri 07:00–19:00" in html
    assert "Carl Mendes &lt;carl@brightsmile.example&gt;" in html
    assert ">Erin<" in html


def test_unverified_requester_is_flagged(as_bob: HttpClient, new_ticket: NewTicket) -> None:
    stranger = Contact.objects.create(email="mallory@elsewhere.example")
    ticket = new_ticket(stranger, "Pay this invoice")
    html = as_bob.get(f"/tickets/{ticket.number}/").content.decode()
    assert "Unverified requester" in html
    assert "not recognised as a contact of a client" in html
    assert "No client: the requester is not linked to any client." in html


def test_unknown_ticket_is_404(as_bob: HttpClient) -> None:
    assert as_bob.get("/tickets/T-000999/").status_code == 404
    assert as_bob.get("/tickets/T-0000001/").status_code == 404
    assert as_bob.get("/tickets/123/").status_code == 404


def test_timeline_shows_trimmed_reply_with_full_text_behind_details(
    as_bob: HttpClient, dana: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(dana, "Printer jam", body="The printer is jammed again.")
    reply = add_message(
        ticket,
        kind=MessageKind.INBOUND,
        channel=Channel.EMAIL,
        body_text=REPLY_WITH_QUOTE,
        subject=f"Re: [{ticket.number}] Printer jam",
        actor=Actor(contact=dana, label="email intake"),
    )
    html = as_bob.get(f"/tickets/{ticket.number}/").content.decode()
    entry = entry_html(html, reply)
    shown, _, hidden = entry.partition("<details")
    assert "Thanks, restarting it fixed the printer." in shown
    assert "Please try restarting the printer." not in shown
    assert "Show full message" in hidden
    assert "&gt; Please try restarting the printer." in hidden
    assert "Thanks, restarting it fixed the printer." in hidden


def test_timeline_kinds_in_order(
    as_bob: HttpClient,
    bob: User,
    dana: Contact,
    new_ticket: NewTicket,
    django_capture_on_commit_callbacks: Any,
) -> None:
    ticket = new_ticket(dana, "Printer jam", body="It is jammed.")
    first = ticket.messages.get()
    with django_capture_on_commit_callbacks(execute=True):
        ack = schedule_acknowledgment(ticket, first, Route(Channel.EMAIL, dana.email))
    note = add_note(ticket, author=bob, body="Probably the fuser; I have a spare.")
    reply = post_reply(
        ticket, author=bob, body="On my way with a new fuser."
    )  # on-commit never runs: pending
    event = add_event(ticket, "Acknowledgment not sent: testing.")
    html = as_bob.get(f"/tickets/{ticket.number}/").content.decode()

    ids = [int(i) for i in re.findall(r'<li class="entry [^"]*" id="message-(\d+)">', html)]
    assert ids == [first.pk, ack.pk, note.pk, reply.pk, event.pk]
    assert "entry--inbound" in entry_html(html, first) or 'class="entry entry--inbound"' in html
    ack_html = entry_html(html, ack)
    assert "Automatic acknowledgment" in ack_html and ">Sent<" in ack_html
    note_html = entry_html(html, note)
    assert 'class="entry entry--note"' in html and "Internal note" in note_html and "Bob" in note_html
    reply_html = entry_html(html, reply)
    assert "Waiting to be sent" in reply_html and "to dana@brightsmile.example" in reply_html
    assert "On my way with a new fuser." in reply_html
    assert "System event" in entry_html(html, event)


def test_failed_delivery_shows_the_error(
    as_bob: HttpClient, bob: User, dana: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(dana, "Printer jam")
    reply = post_reply(ticket, author=bob, body="Restart it please.")
    reply.delivery.status = "failed"
    reply.delivery.last_error = "SMTPRecipientsRefused: 550 no such user"
    reply.delivery.save()
    entry = entry_html(as_bob.get(f"/tickets/{ticket.number}/").content.decode(), reply)
    assert "Failed (gave up)" in entry and "550 no such user" in entry


def test_attachments_are_listed_with_download_links(
    as_bob: HttpClient, dana: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(dana, "Scan attached")
    attachment = save_attachment(ticket.messages.get(), "scan.pdf", b"%PDF-1.4 test", "application/pdf")
    html = as_bob.get(f"/tickets/{ticket.number}/").content.decode()
    assert f'href="/attachments/{attachment.pk}/"' in html and "scan.pdf" in html and "13\xa0bytes" in html


def test_audit_trail_is_collapsible_and_lists_changes(
    as_bob: HttpClient, bob: User, erin: User, dana: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(dana, "Printer jam")
    assign(ticket, erin, actor=Actor(user=bob, label="staff console"))
    html = as_bob.get(f"/tickets/{ticket.number}/").content.decode()
    audit = html.partition('<details class="card audit">')[2].partition("</details>")[0]
    assert "Audit trail" in audit and "(2 events)" in audit
    assert "ticket_opened" in audit and "assigned" in audit and "<code>erin</code>" in audit


def build_ticket_with_messages(
    count: int, dana: Contact, bob: User, erin: User, new_ticket: NewTicket
) -> Ticket:
    ticket = new_ticket(dana, "Long thread")
    for i in range(count - 1):
        if i % 4 == 0:
            message = add_message(
                ticket,
                kind=MessageKind.INBOUND,
                channel=Channel.EMAIL,
                body_text=f"Update {i}\n\n> quoted",
                actor=Actor(contact=dana, label="email intake"),
            )
            save_attachment(message, f"photo-{i}.jpg", b"\xff\xd8\xff", "image/jpeg")
        elif i % 4 == 1:
            post_reply(ticket, author=bob, body=f"Reply {i}")
        elif i % 4 == 2:
            add_note(ticket, author=erin, body=f"Note {i}")
        else:
            add_event(ticket, f"Event {i}")
    assert ticket.messages.count() == count
    return ticket


@pytest.mark.parametrize("count", [3, 40])
def test_ticket_page_query_count_does_not_grow_with_messages(
    count: int,
    as_bob: HttpClient,
    bob: User,
    erin: User,
    dana: Contact,
    carl: Contact,
    new_ticket: NewTicket,
    django_assert_num_queries: Any,
) -> None:
    ticket = build_ticket_with_messages(count, dana, bob, erin, new_ticket)
    add_participant(ticket, carl, actor=Actor.system())
    # session, user, ticket (+client, requester, assignee), requester's phones, participants,
    # SLA clocks, active contract, messages (+authors, delivery), attachments, audit trail,
    # staff list, the running escalation (none: a P2 escalates only on a missed target) and the
    # last stopped one together; the client card: client's phones, recent tickets, the SLA terms (per
    # priority its target and calendar: 8 here, none once the config memo holds them, as it
    # does in production); the reply box: which numbers opted out of texts, the channel the
    # requester last used
    with django_assert_num_queries(24):
        response = as_bob.get(f"/tickets/{ticket.number}/")
    assert response.status_code == 200
    # The newest TIMELINE_NEWEST entries; the earlier ones behind "Show … earlier entries".
    assert len(re.findall(r'<li class="entry ', response.content.decode())) == min(count, TIMELINE_NEWEST)
    with django_assert_num_queries(24):
        whole = as_bob.get(f"/tickets/{ticket.number}/?timeline=all")
    assert len(re.findall(r'<li class="entry ', whole.content.decode())) == count


def entry_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<li class="entry [^"]*" id="message-(\d+)">', html)]


def test_a_long_timeline_shows_the_newest_entries_and_the_earlier_ones_on_request(
    as_bob: HttpClient, bob: User, erin: User, dana: Contact, new_ticket: NewTicket
) -> None:
    ticket = build_ticket_with_messages(TIMELINE_NEWEST + 12, dana, bob, erin, new_ticket)
    in_order = list(ticket.messages.order_by("created_at", "id").values_list("pk", flat=True))
    html = as_bob.get(f"/tickets/{ticket.number}/").content.decode()

    # The newest entries, oldest first, below a link to the 12 earlier ones.
    newest = in_order[-TIMELINE_NEWEST:]
    assert entry_ids(html) == newest
    earlier = html.partition('<li class="timeline__earlier" id="timeline-earlier">')[2].partition("</li>")[0]
    assert "Show 12 earlier entries</a>" in earlier
    assert html.index('id="timeline-earlier"') < html.index(f'id="message-{newest[0]}"')
    # Without JavaScript the link is the page with the whole timeline, at the same place.
    assert f'href="/tickets/{ticket.number}/?timeline=all#message-{newest[0]}"' in earlier
    assert entry_ids(as_bob.get(f"/tickets/{ticket.number}/?timeline=all").content.decode()) == in_order
    assert "timeline-earlier" not in as_bob.get(f"/tickets/{ticket.number}/?timeline=all").content.decode()

    # With it, htmx asks for the entries before the first one shown and puts them in its place.
    fragment_url = f"/tickets/{ticket.number}/timeline/earlier/?before={newest[0]}"
    assert f'hx-get="{fragment_url}"' in earlier
    assert 'hx-target="#timeline-earlier" hx-swap="outerHTML"' in earlier
    fragment = as_bob.get(fragment_url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert entry_ids(fragment.content.decode()) == in_order[:12]
    assert "<html" not in fragment.content.decode()
    # Entries that arrive after the page was loaded do not move what "earlier" means.
    add_note(ticket, author=bob, body="A newer note.")
    assert (
        entry_ids(as_bob.get(fragment_url, headers={"HX-Request": "true"}).content.decode()) == in_order[:12]
    )

    # Opened directly (or with an entry that is not this ticket's), the fragment URL leads to
    # the whole timeline.
    for url, headers in [
        (fragment_url, {}),
        (f"/tickets/{ticket.number}/timeline/earlier/?before=999999", {"HX-Request": "true"}),
        (f"/tickets/{ticket.number}/timeline/earlier/?before=x", {"HX-Request": "true"}),
        (f"/tickets/{ticket.number}/timeline/earlier/?before=99999999999999999999", {"HX-Request": "true"}),
        (f"/tickets/{ticket.number}/timeline/earlier/", {"HX-Request": "true"}),
    ]:
        response = as_bob.get(url, headers=headers)
        assert (
            response.status_code == 302 and response["Location"] == f"/tickets/{ticket.number}/?timeline=all"
        )


def test_a_short_timeline_has_no_link_to_earlier_entries(
    as_bob: HttpClient, bob: User, erin: User, dana: Contact, new_ticket: NewTicket
) -> None:
    ticket = build_ticket_with_messages(TIMELINE_NEWEST, dana, bob, erin, new_ticket)
    html = as_bob.get(f"/tickets/{ticket.number}/").content.decode()
    assert len(entry_ids(html)) == TIMELINE_NEWEST and "timeline-earlier" not in html


def test_the_earlier_entries_are_for_signed_in_staff_only(
    anonymous: HttpClient, bob: User, erin: User, dana: Contact, new_ticket: NewTicket
) -> None:
    ticket = build_ticket_with_messages(TIMELINE_NEWEST + 2, dana, bob, erin, new_ticket)
    first_shown = ticket.messages.order_by("created_at", "id")[2]
    response = anonymous.get(f"/tickets/{ticket.number}/timeline/earlier/?before={first_shown.pk}")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def build_escalating_ticket(
    many: bool, dana: Contact, bob: User, erin: User, new_ticket: NewTicket
) -> tuple[Ticket, int]:
    """A P1 whose escalation has paged someone; with ``many``, more of everything the panels
    list: three SLA clocks instead of one, more triage reasons, ten pages instead of one, and an
    earlier escalation that was acknowledged. Returns the ticket and how many pages it has."""
    if many:
        SlaTarget.objects.filter(contract__client=dana.client, priority="P1").update(
            next_update_minutes=60, resolution_minutes=240
        )
        for i in range(5):
            User.objects.create_user(
                f"manager{i}", f"manager{i}@msp.example", role=Role.MANAGER, phone=f"+1555010020{i}"
            )
        Client.objects.filter(pk=dana.client_id).update(headcount=25, hourly_cost=Decimal("55.00"))
        TriageRule.objects.create(
            name="Security incidents",
            conditions=[{"field": "text", "op": "contains", "value": "ransomware"}],
            actions=[
                {"action": "set_category", "value": "Security"},
                {"action": "set_team", "value": "Incident response"},
                {"action": "add_tag", "value": "ransomware"},
                {"action": "add_tag", "value": "incident"},
            ],
        )
        subject = "Server down: ransomware, someone clicked a link"
    else:
        subject = "Server down"
    ticket = new_ticket(dana, subject, is_emergency=True)
    if many:
        acknowledge(ticket, bob, via="console")
        start_escalation(ticket, reason="P1 still open")
        post_reply(ticket, author=bob, body="Working on it.")
    else:
        assign(ticket, erin, actor=Actor.system())
    escalation = active_escalation(ticket.pk)
    assert escalation is not None and escalation.next_level is not None
    run_step(escalation.pk, escalation.next_level)
    assert ticket.sla_clocks.count() == (3 if many else 1)
    return ticket, Page.objects.filter(escalation=escalation).count()


@pytest.mark.parametrize("many", [False, True])
def test_ticket_page_query_count_does_not_grow_with_clocks_pages_or_reasons(
    many: bool,
    as_bob: HttpClient,
    bob: User,
    erin: User,
    dana: Contact,
    new_ticket: NewTicket,
    django_assert_num_queries: Any,
) -> None:
    ticket, pages = build_escalating_ticket(many, dana, bob, erin, new_ticket)
    assert pages == (10 if many else 1)
    # As above, plus the running escalation's pages (+user, delivery) and its policy's levels.
    with django_assert_num_queries(26):
        response = as_bob.get(f"/tickets/{ticket.number}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('<li class="clock clock--') == (3 if many else 1)
    assert html.partition('<ul class="pages">')[2].partition("</ul>")[0].count("<li>") == pages
    assert ("Acknowledged by Bob" in html) is many
    reasons = html.partition('<ul class="reasons">')[2].partition("</ul>")[0].count("<li>")
    assert reasons == len(Ticket.objects.get(pk=ticket.pk).priority_reasons)
    assert (reasons > 6) is many
