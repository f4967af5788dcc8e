"""Portal sign-in and sign-out, and setting a password: thin views over accounts.portal_sign_in."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from firstcall.accounts.portal_sign_in import (
    MAX_PASSWORD_FAILURES,
    PASSWORD_FAILURE_WINDOW,
    ask_for_sign_in_link,
    redeem_sign_in_link,
    set_portal_password,
    sign_in_with_password,
    usable_link,
)
from firstcall.portal.access import (
    Viewer,
    contact_required,
    next_from,
    safe_next,
    sign_in,
    sign_out,
    signed_in_viewer,
)
from firstcall.portal.forms import PasswordSignInForm, SetPasswordForm, SignInForm
from firstcall.portal.views import portal_context, site_context
from firstcall.ratelimits import limiter

# Where the page to return to after an emailed link waits (the link may open in this browser).
NEXT_KEY = "portal_next"
# The address a link was asked for, shown on the "check your email" page.
ASKED_KEY = "portal_link_asked_for"

WRONG_PASSWORD = (
    "That email and password do not match an account that may sign in. After "
    f"{MAX_PASSWORD_FAILURES} wrong tries passwords pause for "
    f"{int(PASSWORD_FAILURE_WINDOW.total_seconds() // 60)} minutes; the email link always works."
)


def _sign_in_page(
    request: HttpRequest,
    *,
    link_form: SignInForm | None = None,
    password_form: PasswordSignInForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        **site_context(),
        "link_form": link_form or SignInForm(),
        "password_form": password_form or PasswordSignInForm(),
        "next": next_from(request),
        "link_minutes": settings.FIRSTCALL_PORTAL_LINK_MINUTES,
    }
    return render(request, "portal/sign_in.html", context, status=status)


@limiter.sign_in_email
@require_http_methods(["GET", "POST"])
def sign_in_page(request: HttpRequest) -> HttpResponseBase:
    """GET: the sign-in page. POST: email me a link (the same answer for any address)."""
    if request.method != "POST":
        if signed_in_viewer(request) is not None:
            return redirect(next_from(request))
        return _sign_in_page(request)
    form = SignInForm(request.POST)
    if not form.is_valid():
        return _sign_in_page(request, link_form=form, status=400)
    email = form.cleaned_data["email"].strip().lower()
    ask_for_sign_in_link(email)
    request.session[NEXT_KEY] = next_from(request)
    request.session[ASKED_KEY] = email
    return redirect("portal:sign_in_sent")


@limiter.portal_page
@require_GET
def sign_in_sent(request: HttpRequest) -> HttpResponse:
    context = {
        **site_context(),
        "email": request.session.get(ASKED_KEY, ""),
        "link_minutes": settings.FIRSTCALL_PORTAL_LINK_MINUTES,
    }
    return render(request, "portal/sign_in_sent.html", context)


@limiter.sign_in_password
@require_POST
def sign_in_password(request: HttpRequest) -> HttpResponseBase:
    form = PasswordSignInForm(request.POST)
    if not form.is_valid():
        return _sign_in_page(request, password_form=form, status=400)
    outcome = sign_in_with_password(form.cleaned_data["email"], form.cleaned_data["password"])
    if outcome.contact is None:
        form.add_error(None, WRONG_PASSWORD)
        return _sign_in_page(request, password_form=form, status=400)
    sign_in(request, outcome.contact)
    return redirect(next_from(request))


@limiter.sign_in_link
@require_http_methods(["GET", "POST"])
def sign_in_link(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a button to sign in (mail scanners open links; only the press uses it up).
    POST: sign in with the link, once."""
    if request.method == "POST":
        contact = redeem_sign_in_link(token)
        if contact is not None:
            destination = safe_next(request, request.session.pop(NEXT_KEY, None))
            request.session.pop(ASKED_KEY, None)
            sign_in(request, contact)
            return redirect(destination)
        link = None
    else:
        link = usable_link(token)
    context = {**site_context(), "link": link, "link_minutes": settings.FIRSTCALL_PORTAL_LINK_MINUTES}
    response = render(request, "portal/sign_in_link.html", context, status=200 if link else 410)
    # The token is in this page's address: it must not travel to another site in a Referer
    # header. Not "no-referrer": browsers then send "Origin: null" with the page's own Sign in
    # form, and Django's CSRF check refuses it (the browser test caught that).
    response["Referrer-Policy"] = "same-origin"
    response["Cache-Control"] = "no-store"
    return response


@limiter.portal_page
@require_POST
def sign_out_view(request: HttpRequest) -> HttpResponse:
    sign_out(request)
    messages.success(request, "You are signed out.")
    return redirect("portal:sign_in")


@limiter.portal_page
@require_http_methods(["GET", "POST"])
@contact_required
def password(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    """Set (or change) a password, to sign in without waiting for an email."""
    identity = {"contact_email": viewer.contact.email, "contact_name": viewer.contact.name}
    if request.method == "POST":
        form = SetPasswordForm(request.POST, **identity)
        if form.is_valid():
            had_password = viewer.has_password
            set_portal_password(viewer.contact, form.cleaned_data["new_password"])
            # Whoever held this session before the change keeps nothing of it.
            sign_in(request, viewer.contact)
            messages.success(request, "Password changed." if had_password else "Password set.")
            return redirect("portal:home")
        status = 400
    else:
        form = SetPasswordForm(**identity)
        status = 200
    context = {**portal_context(viewer, nav="password"), "form": form}
    return render(request, "portal/password.html", context, status=status)
