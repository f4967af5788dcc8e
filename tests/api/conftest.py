"""API test helpers: tokens for the personas and a client that sends them."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from django.test import Client as DjangoClient
from django.test.client import Client as HttpClient

from firstcall.accounts.models import ApiToken, User
from firstcall.clients.models import Contact
from firstcall.tickets.actions import Actor, open_ticket
from firstcall.tickets.models import Channel, Ticket


class ApiClient:
    """Django's test client with a bearer token and JSON bodies."""

    def __init__(self, token: str | None) -> None:
        self.http: HttpClient = DjangoClient()
        self.token = token

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        merged = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        merged.update(headers or {})
        return merged

    def get(self, path: str, params: dict[str, Any] | None = None, **headers: str) -> Any:
        return self.http.get(path, params or {}, headers=self._headers(headers))

    def post(self, path: str, body: Any = None, *, raw: bytes | None = None, **headers: str) -> Any:
        data = raw if raw is not None else json.dumps(body).encode()
        return self.http.post(path, data, content_type="application/json", headers=self._headers(headers))

    def request(self, method: str, path: str) -> Any:
        return getattr(self.http, method.lower())(path, headers=self._headers(None))


@pytest.fixture
def alice_token(alice: User) -> str:
    return ApiToken.issue(alice, "alice's console script")[1]


@pytest.fixture
def rmm_token(bob: User) -> str:
    """An integration: the RMM tool acts through bob, a tier-1 technician."""
    return ApiToken.issue(bob, "RMM integration")[1]


@pytest.fixture
def api(alice_token: str) -> ApiClient:
    return ApiClient(alice_token)


@pytest.fixture
def rmm(rmm_token: str) -> ApiClient:
    return ApiClient(rmm_token)


@pytest.fixture
def make_ticket(db: None) -> Callable[..., Ticket]:
    """make_ticket(requester, subject, channel=..., is_emergency=..., created_at=...)"""
    return _make_ticket


def _make_ticket(
    requester: Contact,
    subject: str = "Printer jammed",
    *,
    channel: Channel = Channel.EMAIL,
    is_emergency: bool = False,
    created_at: datetime | None = None,
) -> Ticket:
    ticket = open_ticket(
        client_id=requester.client_id,
        requester=requester,
        subject=subject,
        channel=channel,
        actor=Actor.system("test"),
        is_emergency=is_emergency,
        unverified_requester=requester.client_id is None,
    )
    if created_at is not None:
        Ticket.objects.filter(pk=ticket.pk).update(created_at=created_at)
        ticket.created_at = created_at
    return ticket


@pytest.fixture
def api_with_token() -> Callable[[str | None], ApiClient]:
    """An API client with any token (or none)."""
    return ApiClient
