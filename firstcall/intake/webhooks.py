"""What every Twilio-format webhook shares: the signature check (X-Twilio-Signature)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseBase,
    HttpResponseForbidden,
)
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from firstcall.ratelimits import limiter

log = logging.getLogger(__name__)

View = Callable[..., HttpResponseBase]


def public_url(request: HttpRequest) -> str:
    """The URL as Twilio called it: our public address (behind any proxy) plus path and query."""
    return settings.FIRSTCALL_PUBLIC_URL + request.get_full_path()


def twilio_signature_is_valid(request: HttpRequest) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return False
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    return bool(validator.validate(public_url(request), request.POST.dict(), signature))


def twilio_webhook(view: View) -> View:
    """POST only, no CSRF (Twilio signs instead), and a 403 — with nothing stored but a log
    line — unless the request carries a valid signature made with our auth token. Rate limited
    per address for wrong signatures and per Twilio account for signed requests."""

    @limiter.twilio_webhook
    @csrf_exempt
    @require_POST
    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not twilio_signature_is_valid(request):
            log.warning(
                "refused %s from %s: %s",
                request.path,
                request.META.get("REMOTE_ADDR", "?"),
                "TWILIO_AUTH_TOKEN is not set"
                if not settings.TWILIO_AUTH_TOKEN
                else "missing or wrong X-Twilio-Signature",
            )
            return HttpResponseForbidden("Invalid or missing X-Twilio-Signature.", content_type="text/plain")
        if any("\x00" in text for name, values in request.POST.lists() for text in (name, *values)):
            # Twilio never sends one, and no database text column can hold it.
            return HttpResponseBadRequest("A parameter holds a NUL character.", content_type="text/plain")
        return view(request, *args, **kwargs)

    return checked


def form_params(raw: bytes) -> dict[str, str]:
    """A stored Twilio form body (application/x-www-form-urlencoded) as a dict; a repeated name
    keeps its last value, as ``request.POST.dict()`` does for the signature check."""
    return dict(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True))


def twiml(document: str) -> HttpResponse:
    return HttpResponse(document, content_type="text/xml")
