"""Staff two-factor sign-in pages (/account/two-factor/...) and the sign-in lockout page.

The code and set-up pages are the second step of a sign-in, so they serve signed-in staff whose
sign-in is not finished yet; every other staff page (console.views.staff_required, the admin)
sends such a user here first.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from math import ceil
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from firstcall.accounts import lockout, two_factor
from firstcall.accounts.models import Role, User
from firstcall.accounts.two_factor import CodeRefused, SecondStep

View = Callable[..., HttpResponseBase]


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        help_text="The six digits your authenticator app shows now, or one of your backup codes.",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autocapitalize": "off",
                "spellcheck": "false",
                "class": "input--code",
            }
        ),
    )


def site_context() -> dict[str, Any]:
    return {"msp_name": settings.FIRSTCALL_MSP_NAME}


def signed_in_staff(view: View) -> View:
    """Signed-in, active staff, whether or not their sign-in is finished (these pages finish it)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not user.is_authenticated or not user.is_active:
            return redirect_to_login(request.get_full_path())
        if not isinstance(user, User) or user.role not in Role.values:
            raise PermissionDenied("These pages are for the MSP's staff.")
        return view(request, *args, **kwargs)

    return wrapper


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # guaranteed by signed_in_staff
    return user


def _next_url(request: HttpRequest) -> str:
    """Where to go once the sign-in is finished: a page of this site, else the queue."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("console:ticket_list")


def _lock_out(request: HttpRequest, user: User) -> HttpResponse:
    """Too many wrong codes: the half-finished sign-in ends; the password is asked again after
    the lockout."""
    username = user.get_username()
    logout(request)
    return locked_out(request, credentials={"username": username})


@require_http_methods(["GET", "POST"])
@signed_in_staff
def two_factor_code(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    next_url = _next_url(request)
    if two_factor.unfinished_step(user) is not SecondStep.CODE:
        return redirect(two_factor.unfinished_sign_in_url(user, next_url) or next_url)
    if lockout.is_locked_out(request, user.get_username()):
        return _lock_out(request, user)
    form = CodeForm(request.POST or None)
    if form.is_valid():
        try:
            two_factor.verify_code(request, user, form.cleaned_data["code"])
        except CodeRefused as refusal:
            if getattr(request, "axes_locked_out", False):
                return _lock_out(request, user)
            form.add_error("code", str(refusal))
        else:
            return redirect(next_url)
    context = {**site_context(), "form": form, "next": next_url}
    return render(request, "accounts/two_factor_code.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@signed_in_staff
def two_factor_enrol(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    next_url = _next_url(request)
    step = two_factor.unfinished_step(user)
    if step is SecondStep.CODE:
        return redirect(two_factor.step_url(step, next_url))
    if two_factor.has_authenticator(user):
        messages.info(request, "You have an authenticator app already: remove it first to set up another.")
        return redirect("accounts:two_factor")
    form = CodeForm(request.POST or None)
    if form.is_valid():
        try:
            backup_codes = two_factor.confirm_enrolment(request, user, form.cleaned_data["code"])
        except CodeRefused as refusal:
            if getattr(request, "axes_locked_out", False):
                return _lock_out(request, user)
            form.add_error("code", str(refusal))
        else:
            context = {**site_context(), "backup_codes": backup_codes, "next": next_url}
            return render(request, "accounts/two_factor_backup_codes.html", context)
    context = {
        **site_context(),
        "enrolment": two_factor.start_enrolment(user),
        "form": form,
        "required": two_factor.enrolment_required(user),
        "next": next_url,
    }
    return render(request, "accounts/two_factor_enrol.html", context, status=400 if form.errors else 200)


def _page(request: HttpRequest, user: User, remove_form: CodeForm, status: int = 200) -> HttpResponse:
    context = {
        **site_context(),
        "status": two_factor.status(user),
        "remove_form": remove_form,
        "nav": "two_factor",
    }
    return render(request, "accounts/two_factor.html", context, status=status)


@require_http_methods(["GET"])
@signed_in_staff
def two_factor_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    step_url = two_factor.unfinished_sign_in_url(user, request.get_full_path())
    if step_url is not None:
        return redirect(step_url)
    return _page(request, user, CodeForm(auto_id="id_remove_%s"))


@require_POST
@signed_in_staff
def two_factor_remove(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    step_url = two_factor.unfinished_sign_in_url(user, reverse("accounts:two_factor"))
    if step_url is not None:
        return redirect(step_url)
    form = CodeForm(request.POST, auto_id="id_remove_%s")
    if form.is_valid():
        try:
            two_factor.remove_own(request, user, form.cleaned_data["code"])
        except CodeRefused as refusal:
            if getattr(request, "axes_locked_out", False):
                return _lock_out(request, user)
            form.add_error("code", str(refusal))
        else:
            if two_factor.enrolment_required(user):
                messages.warning(request, "Your app is removed. Your role needs one: set up the new one now.")
            else:
                messages.success(request, "Two-factor sign-in is off: your password alone signs you in.")
            return redirect("accounts:two_factor")
    return _page(request, user, form, status=400)


def locked_out(
    request: HttpRequest,
    original_response: HttpResponseBase | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The lockout page (django-axes' AXES_LOCKOUT_CALLABLE): says for how long, and when to
    try again, with a Retry-After header."""
    username = str((credentials or {}).get("username") or "")
    until = lockout.locked_until(request, username) if username else None
    context = {
        **site_context(),
        "until": until,
        "minutes": settings.FIRSTCALL_SIGN_IN_LOCKOUT_MINUTES,
        "failure_limit": settings.FIRSTCALL_SIGN_IN_FAILURE_LIMIT,
    }
    response = render(request, "accounts/locked_out.html", context, status=429)
    seconds = (
        (until - timezone.now()).total_seconds() if until else settings.FIRSTCALL_SIGN_IN_LOCKOUT_MINUTES * 60
    )
    response["Retry-After"] = str(max(1, ceil(seconds)))
    return response
