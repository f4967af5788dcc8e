"""Actions on the ticket page: reply, note, status, assignment, attachment download."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.test import Client as HttpClient
from django.utils import timezone

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.notify.models import Delivery, DeliveryStatus
from firstcall.notify.outbound import Route, schedule_acknowledgment
from firstcall.tickets.actions import Actor, transition
from firstcall.tickets.models import Attachment, AuditEvent, Channel, Message, MessageKind, Status, Ticket

pytestmark = pytest.mark.django_db

NewTicket = Callable[..., Ticket]


def flash(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_reply_is_emailed_in_the_ticket_thread(
    as_bob: HttpClient,
    bob: User,
    dana: Contact,
    new_ticket: NewTicket,
    outbox: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    ticket = new_ticket(dana, "Printer jam", rfc_message_id="jam-1@brightsmile.example")
    with django_capture_on_commit_callbacks(execute=True):
        ack = schedule_acknowledgment(ticket, ticket.messages.get(), Route(Channel.EMAIL, dana.email))
    outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = as_bob.post(
            f"/tickets/{ticket.number}/reply/", {"body": "Open the back panel and pull gently."}
        )
    assert response.status_code == 302 and response["Location"] == f"/tickets/{ticket.number}/"

    reply = Message.objects.get(ticket=ticket, kind=MessageKind.REPLY)
    assert reply.author_user == bob and reply.body_text == "Open the back panel and pull gently."
    delivery = Delivery.objects.get(message=reply)
    assert delivery.status == DeliveryStatus.SENT and delivery.to_address == "dana@brightsmile.example"
    assert len(outbox) == 1
    email = outbox[0]
    assert email.to == ["dana@brightsmile.example"]
    assert ticket.number in email.subject and "Printer jam" in email.subject
    assert email.extra_headers["In-Reply-To"] == f"<{ack.rfc_message_id}>"
    assert email.extra_headers["References"] == f"<jam-1@brightsmile.example> <{ack.rfc_message_id}>"
    assert email.extra_headers["Message-ID"] == f"<{reply.rfc_message_id}>"
    assert "Open the back panel" in email.body

    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    page = as_bob.get(f"/tickets/{ticket.number}/")
    assert flash(page) == ["Reply added; it is being emailed to dana@brightsmile.example."]


def test_only_the_first_reply_sets_first_response(
    as_bob: HttpClient, dana: Contact, new_ticket: NewTicket, outbox: list[Any]
) -> None:
    ticket = new_ticket(dana, "Printer jam")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        as_bob.post(f"/tickets/{ticket.number}/reply/", {"body": "Looking now."})
    with time_machine.travel(start + timedelta(minutes=30), tick=False):
        as_bob.post(f"/tickets/{ticket.number}/reply/", {"body": "Fixed."})
    ticket.refresh_from_db()
    assert ticket.first_response_at == start
    assert ticket.messages.filter(kind=MessageKind.REPLY).count() == 2
    assert AuditEvent.objects.filter(ticket=ticket, action="first_response").count() == 1


def test_empty_reply_is_refused_with_a_message(
    as_bob: HttpClient, dana: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(dana, "Printer jam")
    response = as_bob.post(f"/tickets/{ticket.number}/reply/", {"body": "   "})
    assert response.status_code == 400
    assert "Write the reply before sending it." in response.content.decode()
    assert not ticket.messages.filter(kind=MessageKind.REPLY).exists()


def test_note_is_internal_and_sends_nothing(
    as_bob: HttpClient,
    bob: User,
    dana: Contact,
    new_ticket: NewTicket,
    outbox: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    ticket = new_ticket(dana, "Printer jam")
    with django_capture_on_commit_callbacks(execute=True):
        response = as_bob.post(
            f"/tickets/{ticket.number}/note/", {"body": "Dana's printer is out of warranty."}, follow=True
        )
    assert flash(response) == ["Internal note added."]
    note = Message.objects.get(ticket=ticket, kind=MessageKind.NOTE)
    assert note.direction == "internal" and note.author_user == bob
    assert not Delivery.objects.exists() and outbox == []
    ticket.refresh_from_db()
    assert ticket.first_response_at is None and ticket.status == Status.NEW
    html = response.content.decode()
    assert 'class="entry entry--note"' in html and "Internal note" in html


def test_status_change_buttons_follow_allowed_transitions(
    as_bob: HttpClient, bob: User, dana: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(dana, "Printer jam")
    transition(ticket, Status.CLOSED, actor=Actor.system())
    html = as_bob.get(f"/tickets/{ticket.number}/").content.decode()
    assert 'name="status" value="open"' in html
    assert 'value="resolved"' not in html and 'value="waiting_on_client"' not in html

    response = as_bob.post(f"/tickets/{ticket.number}/status/", {"status": "open"}, follow=True)
    assert flash(response) == [f"{ticket.number} is now open."]
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN and ticket.closed_at is None
    event = AuditEvent.objects.filter(ticket=ticket, action="status_changed").last()
    assert event is not None and event.actor_user == bob and (event.before, event.after) == ("closed", "open")


def test_illegal_status_change_shows_why_and_changes_nothing(
    as_bob: HttpClient, dana: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(dana, "Printer jam")
    transition(ticket, Status.CLOSED, actor=Actor.system())
    audit_before = AuditEvent.objects.count()
    response = as_bob.post(f"/tickets/{ticket.number}/status/", {"status": "waiting_on_client"}, follow=True)
    assert flash(response) == [f"{ticket.number} cannot go from closed to waiting on client; allowed: open"]
    assert 'class="flash flash--error" role="alert"' in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert AuditEvent.objects.count() == audit_before


def test_unknown_status_value_is_refused(as_bob: HttpClient, dana: Contact, new_ticket: NewTicket) -> None:
    ticket = new_ticket(dana, "Printer jam")
    response = as_bob.post(f"/tickets/{ticket.number}/status/", {"status": "deleted"}, follow=True)
    assert flash(response) == ["deleted is not a ticket status."]
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


def test_assign_to_me_is_audited(as_bob: HttpClient, bob: User, dana: Contact, new_ticket: NewTicket) -> None:
    ticket = new_ticket(dana, "Printer jam")
    response = as_bob.post(f"/tickets/{ticket.number}/assign/", {"assignee": "me"}, follow=True)
    assert flash(response) == [f"{ticket.number} is now assigned to you."]
    ticket.refresh_from_db()
    assert ticket.assignee == bob
    event = AuditEvent.objects.get(ticket=ticket, action="assigned")
    assert event.actor_user == bob and event.before is None and event.after == "bob"
    # The "assign to me" button is gone once the ticket is mine.
    assert 'name="assignee" value="me"' not in response.content.decode()


def test_assign_to_a_colleague_and_unassign(
    as_bob: HttpClient, erin: User, dana: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(dana, "Printer jam")
    response = as_bob.post(f"/tickets/{ticket.number}/assign/", {"assignee": str(erin.pk)}, follow=True)
    assert flash(response) == [f"{ticket.number} is now assigned to Erin."]
    response = as_bob.post(f"/tickets/{ticket.number}/assign/", {"assignee": ""}, follow=True)
    assert flash(response) == [f"{ticket.number} is now unassigned."]
    ticket.refresh_from_db()
    assert ticket.assignee is None
    changes = list(AuditEvent.objects.filter(ticket=ticket, action="assigned").values_list("before", "after"))
    assert changes == [(None, "erin"), ("erin", None)]


def test_assign_to_unknown_user_is_refused(as_bob: HttpClient, dana: Contact, new_ticket: NewTicket) -> None:
    ticket = new_ticket(dana, "Printer jam")
    response = as_bob.post(f"/tickets/{ticket.number}/assign/", {"assignee": "9999"}, follow=True)
    assert "Select a valid choice" in flash(response)[0]
    assert not AuditEvent.objects.filter(ticket=ticket, action="assigned").exists()


def test_actions_need_post(as_bob: HttpClient, dana: Contact, new_ticket: NewTicket) -> None:
    ticket = new_ticket(dana, "Printer jam")
    for action in ("reply", "note", "status", "assign"):
        assert as_bob.get(f"/tickets/{ticket.number}/{action}/").status_code == 405


def test_actions_need_csrf_token(bob: User, dana: Contact, new_ticket: NewTicket) -> None:
    ticket = new_ticket(dana, "Printer jam")
    strict = HttpClient(enforce_csrf_checks=True)
    strict.force_login(bob)
    assert strict.post(f"/tickets/{ticket.number}/note/", {"body": "hi"}).status_code == 403
    assert not ticket.messages.filter(kind=MessageKind.NOTE).exists()


def test_attachment_download(
    as_bob: HttpClient, anonymous: HttpClient, dana: Contact, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(dana, "Invoice attached")
    content = b"<html><script>alert(1)</script></html>"
    attachment = Attachment(
        message=ticket.messages.get(),
        filename="invoice.html",
        content_type="text/html",
        size=len(content),
        sha256="cd" * 32,
    )
    attachment.file.save("x", ContentFile(content), save=True)

    refused = anonymous.get(f"/attachments/{attachment.pk}/")
    assert refused.status_code == 302 and refused["Location"].startswith("/login/")

    response = as_bob.get(f"/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="invoice.html"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/octet-stream"
    assert response.getvalue() == content
    assert as_bob.get("/attachments/99999/").status_code == 404
