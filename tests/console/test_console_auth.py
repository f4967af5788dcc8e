"""Only signed-in staff see the console; signing in and out works."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from firstcall.accounts.models import User
from firstcall.clients.models import Contact
from firstcall.tickets.models import Ticket

pytestmark = pytest.mark.django_db


def test_queue_redirects_anonymous_visitor_to_sign_in(anonymous: HttpClient) -> None:
    response = anonymous.get("/?status=all")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/%3Fstatus%3Dall"


def test_htmx_refresh_after_sign_out_sends_the_page_to_sign_in(anonymous: HttpClient) -> None:
    response = anonymous.get("/?status=all", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/login/?next=/%3Fstatus%3Dall"


def test_every_staff_page_requires_sign_in(
    anonymous: HttpClient, dana: Contact, new_ticket: Callable[..., Ticket]
) -> None:
    ticket = new_ticket(dana, "Printer jam")
    number = ticket.number
    for method, url in [
        ("get", f"/tickets/{number}/"),
        ("post", f"/tickets/{number}/reply/"),
        ("post", f"/tickets/{number}/note/"),
        ("post", f"/tickets/{number}/status/"),
        ("post", f"/tickets/{number}/assign/"),
        ("post", f"/tickets/{number}/priority/"),
        ("post", f"/tickets/{number}/acknowledge/"),
        ("get", "/attachments/1/"),
    ]:
        response = getattr(anonymous, method)(
            url, {"body": "x", "status": "open", "assignee": "me", "impact": "company", "reason": "x"}
        )
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next="), url
    assert ticket.messages.count() == 1
    unchanged = Ticket.objects.get(pk=ticket.pk)
    assert unchanged.status == "new" and unchanged.impact_override == ""


def test_sign_in_page_has_labelled_fields_and_site_name(anonymous: HttpClient, settings: Any) -> None:
    settings.FIRSTCALL_MSP_NAME = "Northwind IT"
    response = anonymous.get(reverse("console:login"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Sign in to the Northwind IT console" in html
    assert '<label for="id_username">' in html and '<label for="id_password">' in html
    assert 'autocomplete="current-password"' in html


def test_sign_in_with_password_then_sign_out(anonymous: HttpClient, bob: User) -> None:
    response = anonymous.post(reverse("console:login"), {"username": "bob", "password": "bob-pass-123"})
    assert response.status_code == 302 and response["Location"] == "/"
    queue = anonymous.get("/")
    assert queue.status_code == 200
    assert "Bob" in queue.content.decode()

    response = anonymous.post(reverse("console:logout"))
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert anonymous.get("/").status_code == 302


def test_wrong_password_is_refused_with_a_clear_message(anonymous: HttpClient, bob: User) -> None:
    response = anonymous.post(reverse("console:login"), {"username": "bob", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert anonymous.get("/").status_code == 302


def test_sign_in_returns_to_the_page_asked_for(
    anonymous: HttpClient, bob: User, dana: Contact, new_ticket: Callable[..., Ticket]
) -> None:
    ticket = new_ticket(dana, "Printer jam")
    response = anonymous.post(
        "/login/", {"username": "bob", "password": "bob-pass-123", "next": f"/tickets/{ticket.number}/"}
    )
    assert response["Location"] == f"/tickets/{ticket.number}/"


def test_inactive_staff_cannot_sign_in(anonymous: HttpClient, bob: User) -> None:
    User.objects.filter(pk=bob.pk).update(is_active=False)
    response = anonymous.post("/login/", {"username": "bob", "password": "bob-pass-123"})
    assert response.status_code == 200
    assert anonymous.get("/").status_code == 302


def test_stylesheet_and_vendored_htmx_are_served(anonymous: HttpClient) -> None:
    css = anonymous.get("/static/console/firstcall.css")
    assert css.status_code == 200 and b":focus-visible" in css.getvalue()
    htmx = anonymous.get("/static/console/htmx.min.js")
    body = htmx.getvalue()
    assert htmx.status_code == 200
    assert body.startswith(b"/*! htmx.org 2.") and b"Zero-Clause BSD" in body[:400]
