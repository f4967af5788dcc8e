"""Twilio-format SMS webhooks."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from firstcall.intake.webhooks import twilio_webhook
from firstcall.notify.outbound import record_sms_status


@twilio_webhook
def sms_status(request: HttpRequest) -> HttpResponse:
    """Delivery status of a text we sent (queued, sent, delivered, undelivered, failed)."""
    record_sms_status(
        request.POST.get("MessageSid", ""),
        request.POST.get("MessageStatus", ""),
        request.POST.get("ErrorCode", ""),
    )
    return HttpResponse(status=204)


urlpatterns = [
    path("twilio/sms/status/", sms_status, name="twilio_sms_status"),
]
