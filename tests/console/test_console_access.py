"""Only staff reach the console: every console URL (read from the URLconfs, so a new one cannot be
forgotten), by GET and POST, refuses a signed-out visitor and a client contact signed in to the
portal, and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.urls import URLPattern, URLResolver, reverse

from firstcall.clients.models import Contact
from firstcall.console import urls as console_urls
from firstcall.security import urls as security_urls
from firstcall.tickets.models import AuditEvent, Message, Ticket
from tests.console.conftest import open_request
from tests.portal.conftest import browser_signed_in_as

pytestmark = pytest.mark.django_db

# Pages anyone may open: signing in and out.
PUBLIC = {"console:login", "console:logout"}


def console_patterns() -> Iterator[tuple[str, URLPattern]]:
    for namespace, module in (("console", console_urls), ("security", security_urls)):
        for pattern in module.urlpatterns:
            assert not isinstance(pattern, URLResolver)
            yield f"{namespace}:{pattern.name}", pattern


def url_of(name: str, pattern: URLPattern, values: dict[str, Any]) -> str:
    kwargs = {key: values[key] for key in pattern.pattern.regex.groupindex}
    return reverse(name, kwargs=kwargs)


@pytest.fixture
def objects(dana: Contact) -> dict[str, Any]:
    ticket = open_request(dana, "Printer jam")
    return {"number": ticket.number, "pk": ticket.messages.first().pk}  # type: ignore[union-attr]


@pytest.mark.parametrize("who", ["signed out", "a client contact"])
def test_every_console_url_refuses_anyone_but_staff(who: str, dana: Contact, objects: dict[str, Any]) -> None:
    browser = HttpClient() if who == "signed out" else browser_signed_in_as(dana)
    before = (Ticket.objects.count(), Message.objects.count(), AuditEvent.objects.count())
    walked = []
    for name, pattern in console_patterns():
        if name in PUBLIC:
            continue
        url = url_of(name, pattern, objects)
        for method in ("get", "post"):
            response = getattr(browser, method)(url, {"assignee": "me", "body": "x", "status": "resolved"})
            # To the staff sign-in (302), or not allowed for that method (405); never the page.
            status = response.status_code
            assert status in (302, 405), f"{method.upper()} {url} as {who}: {status}"
            if response.status_code == 302:
                assert response["Location"].startswith("/login/"), f"{url} → {response['Location']}"
            walked.append(url)
    assert len(walked) >= 30
    assert (Ticket.objects.count(), Message.objects.count(), AuditEvent.objects.count()) == before
