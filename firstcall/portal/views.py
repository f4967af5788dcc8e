"""The public request form: thin views around the intake pipeline."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from firstcall.intake.models import InboundMessage, InboundStatus
from firstcall.intake.pipeline import ingest
from firstcall.notify.outbound import first_response_target_text
from firstcall.portal.forms import RequestForm
from firstcall.tickets.models import Channel, MessageKind


def external_id(token: uuid.UUID) -> str:
    return f"web:{token}"


def site_context() -> dict[str, Any]:
    return {"msp_name": settings.FIRSTCALL_MSP_NAME}


def _form_page(request: HttpRequest, form: RequestForm, status: int = 200) -> HttpResponse:
    return render(request, "portal/request_form.html", {**site_context(), "form": form}, status=status)


@require_http_methods(["GET", "POST"])
def request_form(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _form_page(request, RequestForm())
    form = RequestForm(request.POST)
    if not form.is_valid():
        if "token" in form.errors:
            form.renew_token()
        return _form_page(request, form, status=400)
    token: uuid.UUID = form.cleaned_data["token"]
    # The token is the payload's external id: a second submit of the same form finds the first.
    outcome = ingest(
        Channel.WEB,
        external_id(token),
        json.dumps(form.payload()).encode(),
        {
            "remote_addr": request.META.get("REMOTE_ADDR", ""),
            "user_agent": request.headers.get("User-Agent", "")[:500],
        },
    )
    if outcome.status == InboundStatus.REJECTED:
        form.add_error(None, f"We could not accept this request: {outcome.reason}.")
        form.renew_token()
        return _form_page(request, form, status=400)
    return redirect("portal:request_sent", token=token)


@require_GET
def request_sent(request: HttpRequest, token: uuid.UUID) -> HttpResponse:
    inbound = (
        InboundMessage.objects.filter(channel=Channel.WEB, external_id=external_id(token))
        .select_related("timeline_message__ticket__client", "timeline_message__ticket__requester")
        .defer("raw", "metadata")
        .first()
    )
    if inbound is None or inbound.status == InboundStatus.REJECTED:
        raise Http404("No request was sent with this form.")
    entry = getattr(inbound, "timeline_message", None)
    ticket = entry.ticket if entry is not None else None
    context: dict[str, Any] = {**site_context(), "ticket": ticket}
    if ticket is not None:
        context.update(
            zone_name=ticket.client.time_zone if ticket.client else settings.TIME_ZONE,
            target=first_response_target_text(ticket),
            acknowledged=ticket.messages.filter(kind=MessageKind.AUTO_REPLY).exists(),
        )
    return render(request, "portal/request_sent.html", context)
