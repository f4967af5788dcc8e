"""Monitoring alert webhooks: Alertmanager (version 4) and a generic JSON alert."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from firstcall.intake.alerts import find_source, receive_alert
from firstcall.intake.channels.alert import ALERTMANAGER, GENERIC
from firstcall.ratelimits.limiter import alert_webhook

log = logging.getLogger(__name__)

# Far above any real notification (Alertmanager's are a few KB per alert); larger gets 413.
MAX_ALERT_BYTES = 1024 * 1024


def _secret(request: HttpRequest) -> str:
    authorization = request.headers.get("Authorization", "")
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return request.headers.get("X-Firstcall-Token", "") or request.GET.get("token", "")


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _alert_hook(request: HttpRequest, slug: str, format: str) -> JsonResponse:
    secret = _secret(request)
    source = find_source(slug, secret)
    if source is None:
        reason = "no secret given" if not secret else "unknown source or wrong secret"
        log.warning("refused alert for %r from %s: %s", slug, request.META.get("REMOTE_ADDR", "?"), reason)
        if not secret:
            return _error(
                401, "Authentication required: send the source's secret as 'Authorization: Bearer …'."
            )
        return _error(403, f"Unknown alert source {slug!r} or wrong secret.")
    if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_ALERT_BYTES:
        log.warning("refused alert for %r: body over %s bytes", slug, MAX_ALERT_BYTES)
        return _error(413, f"Alert payload too large (limit {MAX_ALERT_BYTES} bytes).")
    metadata = {"remote_addr": request.META.get("REMOTE_ADDR", "")}
    try:
        outcome = receive_alert(source, format, request.body, metadata)
    except Exception:  # logged and kept by receive_alert; a 5xx makes the sender retry
        return _error(500, "The alert could not be processed; it was kept and a retry is welcome.")
    if outcome.rejected_reason:
        return JsonResponse(
            {"error": outcome.rejected_reason, "inbound_id": outcome.inbound_id, "stored": True}, status=400
        )
    return JsonResponse({"groups": [group.as_json() for group in outcome.groups]})


@alert_webhook
@csrf_exempt
@require_POST
def alertmanager_hook(request: HttpRequest, slug: str) -> JsonResponse:
    return _alert_hook(request, slug, ALERTMANAGER)


@alert_webhook
@csrf_exempt
@require_POST
def generic_alert_hook(request: HttpRequest, slug: str) -> JsonResponse:
    return _alert_hook(request, slug, GENERIC)


urlpatterns = [
    path("alertmanager/<slug:slug>/", alertmanager_hook, name="alertmanager"),
    path("alerts/<slug:slug>/", generic_alert_hook, name="generic_alert"),
]
