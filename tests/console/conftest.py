"""Helpers for the console tests: tickets made through the domain functions, a signed-in bob."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from django.test import Client as HttpClient

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.tickets.actions import Actor, add_message, open_ticket
from firstcall.tickets.models import Channel, MessageKind, Ticket


def open_request(
    requester: Contact,
    subject: str,
    body: str = "Please help.",
    *,
    channel: Channel = Channel.EMAIL,
    rfc_message_id: str = "",
    is_emergency: bool = False,
    created_at: datetime | None = None,
) -> Ticket:
    """A ticket as intake opens it: the ticket, then the requester's message on its timeline."""
    actor = Actor(contact=requester, label=f"{channel.label} intake")
    ticket = open_ticket(
        client_id=requester.client_id,
        requester=requester,
        subject=subject,
        channel=channel,
        actor=actor,
        is_emergency=is_emergency,
        unverified_requester=requester.client_id is None,
    )
    if created_at is not None:
        Ticket.objects.filter(pk=ticket.pk).update(created_at=created_at)
        ticket.created_at = created_at
    add_message(
        ticket,
        kind=MessageKind.INBOUND,
        channel=channel,
        subject=subject,
        body_text=body,
        rfc_message_id=rfc_message_id,
        actor=actor,
    )
    return ticket


@pytest.fixture
def as_bob(bob: User) -> HttpClient:
    browser = HttpClient()
    browser.force_login(bob)
    return browser


@pytest.fixture
def anonymous() -> HttpClient:
    return HttpClient()


@pytest.fixture
def new_ticket(db: None) -> Callable[..., Ticket]:
    """The ``open_request`` helper, as a fixture (test modules here are not a package)."""
    return open_request
