"""Who is signed in to the portal, and what they may see.

Contacts are not Django users: the signed-in contact's id is kept in the session under
``SESSION_KEY`` (the session key is rotated at sign-in and sign-out). ``contact_required``
loads the contact and its client for a view, in one query, or sends the visitor to sign in.

What a contact sees: the tickets of their client on which they are the requester or a
participant; a client admin sees every ticket of their client. Anything else is answered
with 404, never 403, so nobody learns that another client's ticket exists.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Concatenate, ParamSpec
from urllib.parse import urlencode, urlsplit

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from firstcall.accounts.models import PortalAccount
from firstcall.accounts.portal_sign_in import may_sign_in, portal_account_of
from firstcall.clients.models import Client, Contact
from firstcall.tickets.models import (
    Attachment,
    Message,
    MessageKind,
    Ticket,
    format_ticket_number,
    parse_ticket_number,
)

SESSION_KEY = "portal_contact_id"

P = ParamSpec("P")


@dataclass(frozen=True)
class Viewer:
    """The signed-in contact, their client and their portal account (None before it exists)."""

    contact: Contact
    client: Client
    account: PortalAccount | None

    @property
    def is_client_admin(self) -> bool:
        return self.account is not None and self.account.is_client_admin

    @property
    def has_password(self) -> bool:
        return self.account is not None and self.account.has_password


def sign_in(request: HttpRequest, contact: Contact) -> None:
    # A new session key: whoever knew the old one (session fixation) is not signed in with it.
    request.session.cycle_key()
    request.session[SESSION_KEY] = contact.pk


def sign_out(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)
    request.session.cycle_key()


def signed_in_viewer(request: HttpRequest) -> Viewer | None:
    """The signed-in contact, if they may still sign in (one query). A contact who lost their
    client or whose access was switched off since is signed out."""
    contact_id = request.session.get(SESSION_KEY)
    if not isinstance(contact_id, int):
        return None
    contact = Contact.objects.select_related("client", "portal_account").filter(pk=contact_id).first()
    account = portal_account_of(contact) if contact is not None else None
    if contact is None or contact.client is None or not may_sign_in(contact, account):
        sign_out(request)
        return None
    return Viewer(contact=contact, client=contact.client, account=account)


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    """``candidate`` if it is a page of the portal on this site, else the portal's home: a
    sign-in link never sends anyone elsewhere ("//evil.example", "/portal/../admin/")."""
    home = reverse("portal:home")
    if not candidate or "\\" in candidate:
        return home
    if not url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()}):
        return home
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc:
        return home
    path = posixpath.normpath(parts.path) + ("/" if parts.path.endswith("/") else "")
    if not (path + "/").startswith(home):
        return home
    return path + (f"?{parts.query}" if parts.query else "")


def sign_in_url(next_path: str) -> str:
    return f"{reverse('portal:sign_in')}?{urlencode({'next': next_path})}"


def contact_required(
    view: Callable[Concatenate[HttpRequest, Viewer, P], HttpResponseBase],
) -> Callable[Concatenate[HttpRequest, P], HttpResponseBase]:
    """Signed-in contacts only (the view gets the Viewer after the request); anyone else goes
    to the sign-in page and comes back afterwards."""

    @wraps(view)
    def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
        viewer = signed_in_viewer(request)
        if viewer is None:
            # After signing in the visitor comes back to the page; a form they sent is gone.
            back = request.get_full_path() if request.method == "GET" else reverse("portal:home")
            target = sign_in_url(back)
            if request.headers.get("HX-Request") == "true":
                # An htmx refresh after the session ended: the whole page goes to sign in.
                response = HttpResponse(status=204)
                response["HX-Redirect"] = target
                return response
            return redirect(target)
        return view(request, viewer, *args, **kwargs)

    return wrapper


def visible_tickets(viewer: Viewer) -> QuerySet[Ticket]:
    """The tickets the viewer may see: of their client, and, unless they are its admin, only
    those they asked for or take part in."""
    tickets = Ticket.objects.filter(client_id=viewer.client.pk)
    if viewer.is_client_admin:
        return tickets
    takes_part = Exists(
        Ticket.participants.through.objects.filter(ticket_id=OuterRef("pk"), contact_id=viewer.contact.pk)
    )
    return tickets.filter(Q(requester_id=viewer.contact.pk) | takes_part)


def ticket_pk(number: str) -> int:
    """The id in a canonical ticket number ('T-000123'); 404 for anything else."""
    pk = parse_ticket_number(number)
    if pk is None or format_ticket_number(pk) != number:
        raise Http404("No such request.")
    return pk


def visible_ticket(viewer: Viewer, number: str, tickets: QuerySet[Ticket] | None = None) -> Ticket:
    """The ticket with this number if the viewer may see it; 404 otherwise, whether or not it
    exists. ``tickets`` may add select_related/prefetches (it is narrowed to what is visible)."""
    pk = ticket_pk(number)
    base = tickets if tickets is not None else Ticket.objects.all()
    ticket = base.filter(pk=pk).filter(pk__in=visible_tickets(viewer).values("pk")).first()
    if ticket is None:
        raise Http404("No such request.")
    return ticket


def public_message_kinds() -> list[str]:
    """The message kinds a client may read, by the one rule of ``Message.is_public`` (all but
    internal notes)."""
    return [kind for kind in MessageKind.values if Message(kind=kind).is_public]


def visible_attachment(viewer: Viewer, pk: int) -> Attachment:
    """A file on a public message of a ticket the viewer may see; 404 otherwise."""
    attachment = (
        Attachment.objects.filter(
            pk=pk,
            message__kind__in=public_message_kinds(),
            message__ticket__in=visible_tickets(viewer).values("pk"),
        )
        .only("pk", "file", "filename")
        .first()
    )
    if attachment is None:
        raise Http404("No such file.")
    return attachment


def next_from(request: HttpRequest) -> str:
    return safe_next(request, request.POST.get("next") or request.GET.get("next"))
