"""Twilio-format SMS webhooks: inbound texts and delivery status of the texts we send."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException
from django.urls import path
from twilio.twiml.messaging_response import MessagingResponse

from firstcall.intake.channels.sms import receive_sms
from firstcall.intake.models import InboundStatus
from firstcall.intake.webhooks import twilio_webhook, twiml
from firstcall.notify.outbound import record_sms_status
from firstcall.notify.sms import DELIVERY_PARAM, status_callback_url

log = logging.getLogger(__name__)


def _raw_body(request: HttpRequest) -> bytes:
    try:
        return request.body
    except RawPostDataException:  # a multipart form was parsed as it streamed in: re-encode it
        return urlencode(list(request.POST.lists()), doseq=True).encode()


@twilio_webhook
def sms_inbound(request: HttpRequest) -> HttpResponse:
    """An inbound text. Always 200 with TwiML once the signature is good: a text we cannot use
    is kept (rejected, with the reason) and Twilio must not send it again and again."""
    result = receive_sms(_raw_body(request), {"remote_addr": request.META.get("REMOTE_ADDR", "")})
    outcome = result.outcome
    if outcome.status == InboundStatus.REJECTED and not result.reply:
        log.info("inbound text %s kept, not a ticket entry: %s", outcome.inbound_id, outcome.reason)
    response = MessagingResponse()
    if result.reply_delivery_id is not None:
        # The provider reports on this text at the status URL, which names our delivery.
        response.message(result.reply, action=status_callback_url(result.reply_delivery_id))
    elif result.reply:
        response.message(result.reply)
    return twiml(str(response))


@twilio_webhook
def sms_status(request: HttpRequest) -> HttpResponse:
    """Delivery status of a text we sent (queued, sent, delivered, undelivered, failed)."""
    named = request.GET.get(DELIVERY_PARAM, "")
    record_sms_status(
        request.POST.get("MessageSid", "") or request.POST.get("SmsSid", ""),
        request.POST.get("MessageStatus", "") or request.POST.get("SmsStatus", ""),
        request.POST.get("ErrorCode", ""),
        delivery_id=int(named) if named.isdigit() and len(named) <= 18 else None,
    )
    return HttpResponse(status=204)


urlpatterns = [
    path("twilio/sms/", sms_inbound, name="twilio_sms"),
    path("twilio/sms/status/", sms_status, name="twilio_sms_status"),
]
