"""Staff sign-in lockout (django-axes): after FIRSTCALL_SIGN_IN_FAILURE_LIMIT failed sign-ins — a
wrong password or a wrong two-factor code — for one username from one address, that pair is
refused for FIRSTCALL_SIGN_IN_LOCKOUT_MINUTES. A finished sign-in clears the pair's failures.

Wrong passwords reach django-axes by itself (Django's ``authenticate`` sends
``user_login_failed``); wrong codes are sent the same way from here, so one count covers both
steps of a sign-in. The client portal has its own password lockout (portal_sign_in.py).
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db.models import Max
from django.http import HttpRequest

from firstcall.ratelimits.limiter import client_ip


class LockoutBackend(AxesStandaloneBackend):  # type: ignore[misc]
    """django-axes' check, first in AUTHENTICATION_BACKENDS: a locked-out username and address
    are refused before any password is checked. A check of a password with no web request (a
    script, the shell) has no address to count, so it passes to the next backend."""

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:
        if request is not None:
            super().authenticate(request, *args, **kwargs)


def client_address(request: HttpRequest) -> str | None:
    """The visitor's address as the rate limits see it (through FIRSTCALL_TRUSTED_PROXIES), in
    the form django-axes stores (an IP address column): an IPv6 visitor's /64 network by its
    first address, None when the request has no address (a test's force_login)."""
    first = client_ip(request).split("/", 1)[0]
    try:
        return str(ipaddress.ip_address(first))
    except ValueError:
        return None


def _credentials(username: str) -> dict[str, Any]:
    return {"username": username}


def _address_counted(request: HttpRequest) -> str | None:
    AxesProxyHandler.update_request(request)  # sets axes_ip_address once per request
    address: str | None = getattr(request, "axes_ip_address", None)
    return address


def is_locked_out(request: HttpRequest, username: str) -> bool:
    return not AxesProxyHandler.is_allowed(request, _credentials(username))


def record_failed_sign_in(request: HttpRequest, username: str) -> bool:
    """Count a failed sign-in step (a wrong code) like a wrong password; True if the pair is now
    locked out."""
    user_login_failed.send(sender=__name__, credentials=_credentials(username), request=request)
    return bool(getattr(request, "axes_locked_out", False))


def clear_failures(request: HttpRequest, username: str) -> None:
    """The sign-in finished: forget this username's failures from this address."""
    address = _address_counted(request)
    if address:
        AxesProxyHandler.reset_attempts(ip_address=address, username=username)


def locked_until(request: HttpRequest, username: str) -> datetime | None:
    """When the lockout of this username from this address ends (its last failure plus the
    lockout time), None if it has no failures."""
    last_failure: datetime | None = AccessAttempt.objects.filter(
        username=username, ip_address=_address_counted(request)
    ).aggregate(last=Max("attempt_time"))["last"]
    if last_failure is None:
        return None
    ends: datetime = last_failure + settings.AXES_COOLOFF_TIME
    return ends
