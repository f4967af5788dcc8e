"""Who sees what in the portal. Every portal URL, taken from the URLconf, is walked as contacts of
Bright Smile Dental against Hale & Porter Law's objects (404, never their data), and as a
signed-out visitor (sent to sign in); a URL added later fails here until it is classified."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client as HttpClient
from django.urls import URLPattern, reverse

from firstcall.clients.models import Contact
from firstcall.portal import urls as portal_urls
from firstcall.tickets.actions import Actor, add_message, add_participant
from firstcall.tickets.models import Attachment, Channel, Message, MessageKind, Ticket
from tests.portal.conftest import browser_signed_in_as, make_client_admin, request_from

pytestmark = pytest.mark.django_db

# Every portal URL by name, and who may use it.
PUBLIC = {
    "request_form",
    "request_sent",
    "sign_in",
    "sign_in_sent",
    "sign_in_password",
    "sign_in_link",
    "sign_out",
}
CONTACTS = {
    "home",
    "ticket",
    "ticket_reply",
    "ticket_close",
    "attachment",
    "new_request",
    "verify_email",
    "password",
}
CLIENT_ADMINS = {"account"}
FORM_DATA = {
    "body": "let me in",
    "token": "3f1c3a5e-8a9e-4f6b-9a55-6d8f0c7c1b2e",
    "subject": "x",
    "description": "x",
}


def attach(message: Message, filename: str, content: bytes) -> Attachment:
    digest = hashlib.sha256(content).hexdigest()
    attachment = Attachment(
        message=message, filename=filename, content_type="text/plain", size=len(content), sha256=digest
    )
    attachment.file.save(digest, ContentFile(content), save=True)
    return attachment


def patterns() -> Iterator[URLPattern]:
    for pattern in portal_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        yield pattern


def parameters(pattern: URLPattern) -> list[str]:
    return list(pattern.pattern.regex.groupindex)


def url_of(pattern: URLPattern, values: dict[str, Any]) -> str:
    missing = [name for name in parameters(pattern) if name not in values]
    assert not missing, f"portal:{pattern.name} takes {missing}: give the walk a value for it"
    kwargs = {name: values[name] for name in parameters(pattern)}
    return reverse(f"portal:{pattern.name}", kwargs=kwargs)


@pytest.fixture
def law_objects(priya: Contact) -> dict[str, Any]:
    """Hale & Porter's ticket with a file on it: what Bright Smile's contacts must never reach."""
    ticket = request_from(priya, "Court filing portal rejects our certificate", "Deadline at 5 pm.")
    inbound = ticket.messages.get(kind=MessageKind.INBOUND)
    attachment = attach(inbound, "certificate.txt", b"law firm secret")
    return {"number": ticket.number, "pk": attachment.pk, "ticket": ticket}


def test_every_portal_url_is_classified() -> None:
    names = [pattern.name for pattern in patterns()]
    assert len(names) == len(set(names))
    assert set(names) == PUBLIC | CONTACTS | CLIENT_ADMINS, (
        "a portal URL was added or renamed: list it in PUBLIC, CONTACTS or CLIENT_ADMINS"
    )


@pytest.mark.parametrize("as_admin", [False, True], ids=["contact", "client-admin"])
def test_contacts_of_one_client_never_reach_another_clients_objects(
    as_admin: bool, dana: Contact, carl: Contact, law_objects: dict[str, Any]
) -> None:
    viewer = make_client_admin(dana) if as_admin else carl
    browser = browser_signed_in_as(viewer)
    law_ticket: Ticket = law_objects["ticket"]
    messages_before = law_ticket.messages.count()
    walked = 0
    for pattern in patterns():
        if pattern.name in PUBLIC:
            continue
        url = url_of(pattern, law_objects)
        statuses = {
            method: getattr(browser, method)(url, FORM_DATA).status_code for method in ("get", "post")
        }
        body = browser.get(url).content.decode()
        assert "Court filing" not in body and "law firm secret" not in body, url
        if parameters(pattern):
            # Another client's object: 404 (or 405 for the other method), never 403 or its page.
            assert set(statuses.values()) <= {404, 405} and 404 in statuses.values(), (url, statuses)
        elif pattern.name in CLIENT_ADMINS and not as_admin:
            assert statuses["get"] == 404, url
        else:
            assert statuses["get"] == 200, url
        walked += 1
    assert walked == len(CONTACTS | CLIENT_ADMINS)
    refreshed = Ticket.objects.get(pk=law_ticket.pk)
    assert refreshed.status == law_ticket.status and refreshed.messages.count() == messages_before


def test_signed_out_visitors_are_sent_to_sign_in_from_every_private_url(
    dana: Contact, law_objects: dict[str, Any]
) -> None:
    ticket = request_from(dana, "Printer jam")
    own = {"number": ticket.number, "pk": law_objects["pk"]}
    visitor = HttpClient()
    for pattern in patterns():
        if pattern.name in PUBLIC:
            continue
        url = url_of(pattern, own)
        for method in ("get", "post"):
            response = getattr(visitor, method)(url, FORM_DATA)
            if response.status_code == 405:
                continue
            assert response.status_code == 302, (method, url)
            assert response["Location"].startswith("/portal/sign-in/?next="), (method, url)
        htmx = visitor.get(url, headers={"HX-Request": "true"})
        assert htmx.status_code in (204, 405) and (htmx.status_code == 405 or htmx["HX-Redirect"]), url
    assert ticket.messages.count() == Ticket.objects.get(pk=ticket.pk).messages.count()
    assert Ticket.objects.get(pk=ticket.pk).status == ticket.status


def test_public_urls_answer_signed_out_visitors(dana: Contact) -> None:
    visitor = HttpClient()
    for pattern in patterns():
        if pattern.name not in PUBLIC:
            continue
        token = "x" * 43 if pattern.name == "sign_in_link" else "3f1c3a5e-8a9e-4f6b-9a55-6d8f0c7c1b2e"
        url = url_of(pattern, {"token": token})
        response = visitor.get(url)
        # Pages render; an unknown token is gone/unknown; POST-only URLs refuse GET.
        assert response.status_code in (200, 302, 404, 405, 410), url


def test_a_contact_sees_their_own_and_their_participations_only(
    dana: Contact, carl: Contact, priya: Contact
) -> None:
    own = request_from(dana, "X-ray PC won't boot")
    colleagues = request_from(carl, "Carl's keyboard")
    cc = request_from(carl, "Front desk phones")
    add_participant(cc, dana, actor=Actor.system())
    as_dana = browser_signed_in_as(dana)
    listing = as_dana.get("/portal/").content.decode()
    assert own.number in listing and cc.number in listing and colleagues.number not in listing
    assert as_dana.get(f"/portal/tickets/{own.number}/").status_code == 200
    assert as_dana.get(f"/portal/tickets/{cc.number}/").status_code == 200
    assert as_dana.get(f"/portal/tickets/{colleagues.number}/").status_code == 404
    # A client admin sees every ticket of the client, and no other client's.
    make_client_admin(dana)
    listing = as_dana.get("/portal/").content.decode()
    assert colleagues.number in listing and "by Carl Mendes" in listing
    assert as_dana.get(f"/portal/tickets/{colleagues.number}/").status_code == 200
    assert as_dana.get("/portal/account/").status_code == 200
    # A carl who is no admin gets 404 for the account page, not 403.
    assert browser_signed_in_as(carl).get("/portal/account/").status_code == 404


def test_a_contact_who_moved_to_another_client_no_longer_sees_the_old_clients_tickets(
    dana: Contact, law: Any
) -> None:
    old = request_from(dana, "X-ray PC won't boot")
    Contact.objects.filter(pk=dana.pk).update(client=law)
    browser = browser_signed_in_as(dana)
    assert old.number not in browser.get("/portal/").content.decode()
    assert browser.get(f"/portal/tickets/{old.number}/").status_code == 404


def test_ticket_numbers_that_are_not_canonical_are_404(as_dana: HttpClient, dana: Contact) -> None:
    ticket = request_from(dana, "X-ray PC won't boot")
    assert as_dana.get(f"/portal/tickets/T-{ticket.pk:07d}/").status_code == 404
    assert as_dana.get("/portal/tickets/T-999999/").status_code == 404


def test_files_download_only_from_public_messages_of_visible_tickets(
    dana: Contact, carl: Contact, bob: Any
) -> None:
    ticket = request_from(dana, "X-ray PC won't boot")
    inbound = ticket.messages.get(kind=MessageKind.INBOUND)
    shared = attach(inbound, "<script>error.html", b"<script>alert(1)</script>")
    note = add_message(
        ticket,
        kind=MessageKind.NOTE,
        channel=Channel.CONSOLE,
        body_text="admin password inside",
        actor=Actor(user=bob),
    )
    internal = attach(note, "staff-only.txt", b"internal")
    as_dana = browser_signed_in_as(dana)
    response = as_dana.get(f"/portal/files/{shared.pk}/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == b"<script>alert(1)</script>"  # type: ignore[attr-defined]
    assert as_dana.get(f"/portal/files/{internal.pk}/").status_code == 404
    assert browser_signed_in_as(carl).get(f"/portal/files/{shared.pk}/").status_code == 404
    page = as_dana.get(f"/portal/tickets/{ticket.number}/").content.decode()
    assert f"/portal/files/{shared.pk}/" in page and f"/portal/files/{internal.pk}/" not in page
    assert "admin password inside" not in page
