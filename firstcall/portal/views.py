"""The portal's pages: the public request form, and the signed-in contact's requests, new
request form and account page. Thin: they parse, check what the contact may see (404 for
anything else), call one domain function and render."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from firstcall.intake.models import InboundMessage, InboundStatus
from firstcall.intake.pipeline import ingest
from firstcall.notify.outbound import first_response_target_text
from firstcall.portal import intake, queries
from firstcall.portal.access import Viewer, contact_required, visible_attachment, visible_ticket
from firstcall.portal.explain import emergency_plan, support_phone
from firstcall.portal.forms import PortalRequestForm, ReplyForm, RequestForm, VerifyEmailForm
from firstcall.portal.intake import web_form_external_id
from firstcall.portal.progress import progress_of, rows_with_progress
from firstcall.ratelimits import limiter
from firstcall.reports.dashboard import format_percent
from firstcall.security.portal_upload import verify_uploaded_email
from firstcall.tickets.actions import ALLOWED_TRANSITIONS, IllegalTransition
from firstcall.tickets.models import Channel, MessageKind, Status, Ticket, format_ticket_number
from firstcall.tickets.presentation import download_response


def site_context() -> dict[str, Any]:
    return {"msp_name": settings.FIRSTCALL_MSP_NAME, "phone": support_phone()}


def portal_context(viewer: Viewer, *, nav: str) -> dict[str, Any]:
    """What every signed-in page's layout reads (its navigation shows who is signed in)."""
    return {**site_context(), "viewer": viewer, "nav": nav}


def request_metadata(request: HttpRequest) -> dict[str, Any]:
    return {
        "remote_addr": request.META.get("REMOTE_ADDR", ""),
        "user_agent": request.headers.get("User-Agent", "")[:500],
    }


def _form_page(request: HttpRequest, form: RequestForm, status: int = 200) -> HttpResponse:
    return render(request, "portal/request_form.html", {**site_context(), "form": form}, status=status)


@limiter.request_form
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
        web_form_external_id(token),
        json.dumps(form.payload()).encode(),
        request_metadata(request),
    )
    if outcome.status == InboundStatus.REJECTED:
        form.add_error(None, f"We could not accept this request: {outcome.reason}.")
        form.renew_token()
        return _form_page(request, form, status=400)
    return redirect("portal:request_sent", token=token)


@limiter.portal_page
@require_GET
def request_sent(request: HttpRequest, token: uuid.UUID) -> HttpResponse:
    inbound = (
        InboundMessage.objects.filter(channel=Channel.WEB, external_id=web_form_external_id(token))
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


# ---------------------------------------------------------------------------------------------
# Signed-in contacts
# ---------------------------------------------------------------------------------------------

TICKETS_PER_PAGE = 25
SHOW_DONE = "done"


@limiter.portal_page
@require_GET
@contact_required
def home(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    """The contact's requests (a client admin's: all of the client's), open ones or finished."""
    done = request.GET.get("show") == SHOW_DONE
    page = Paginator(queries.tickets_for_list(viewer, done=done), TICKETS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        **portal_context(viewer, nav="home"),
        "page": page,
        "rows": rows_with_progress(list(page.object_list)),
        "done": done,
    }
    return render(request, "portal/home.html", context)


def _ticket_page(
    request: HttpRequest,
    viewer: Viewer,
    ticket: Ticket,
    *,
    reply_form: ReplyForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        **portal_context(viewer, nav="home"),
        "ticket": ticket,
        "zone_name": ticket.time_zone.key,
        "progress": progress_of([ticket])[ticket.pk],
        "timeline": queries.timeline(ticket),
        "reply_form": reply_form or ReplyForm(),
        "can_close": Status.CLOSED in ALLOWED_TRANSITIONS[Status(ticket.status)],
        "reopen_days": settings.FIRSTCALL_REOPEN_CLOSED_WITHIN_DAYS,
    }
    return render(request, "portal/ticket.html", context, status=status)


@limiter.portal_page
@require_GET
@contact_required
def ticket_detail(request: HttpRequest, viewer: Viewer, number: str) -> HttpResponse:
    return _ticket_page(request, viewer, visible_ticket(viewer, number, queries.tickets_for_page()))


def _uploaded(files: list[UploadedFile]) -> list[intake.ReplyFile]:
    return [
        intake.ReplyFile(
            filename=str(f.name or "file"),
            content_type=f.content_type or "application/octet-stream",
            content=f.read(),
        )
        for f in files
    ]


@limiter.portal_write
@require_POST
@contact_required
def ticket_reply(request: HttpRequest, viewer: Viewer, number: str) -> HttpResponse:
    ticket = visible_ticket(viewer, number, queries.tickets_for_page())
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        if "token" in form.errors:
            form.renew_token()
        return _ticket_page(request, viewer, ticket, reply_form=form, status=400)
    outcome = intake.post_reply(
        viewer,
        ticket,
        token=form.cleaned_data["token"],
        body=form.cleaned_data["body"],
        files=_uploaded(form.cleaned_data["attachments"]),
        metadata={**request_metadata(request), "portal_contact_id": viewer.contact.pk},
    )
    if outcome.status == InboundStatus.REJECTED or outcome.ticket_id is None:
        form.add_error(None, f"We could not add your reply: {outcome.reason or 'it was not accepted'}.")
        form.renew_token()
        return _ticket_page(request, viewer, ticket, reply_form=form, status=400)
    if outcome.ticket_id != ticket.pk:
        follow_up = format_ticket_number(outcome.ticket_id)
        messages.info(
            request,
            f"{ticket.number} was closed more than {settings.FIRSTCALL_REOPEN_CLOSED_WITHIN_DAYS} days ago, "
            f"so your reply started a new request, {follow_up}.",
        )
        return redirect("portal:ticket", number=follow_up)
    messages.success(request, "Your reply is on the request.")
    return redirect("portal:ticket", number=ticket.number)


@limiter.portal_page
@require_POST
@contact_required
def ticket_close(request: HttpRequest, viewer: Viewer, number: str) -> HttpResponse:
    ticket = visible_ticket(viewer, number)
    try:
        intake.close_request(viewer, ticket)
    except IllegalTransition:
        messages.info(request, f"{ticket.number} is closed already.")
    else:
        messages.success(
            request,
            f"{ticket.number} is closed. If the problem comes back within "
            f"{settings.FIRSTCALL_REOPEN_CLOSED_WITHIN_DAYS} days, reply on it to reopen it.",
        )
    return redirect("portal:ticket", number=ticket.number)


@limiter.portal_page
@require_GET
@contact_required
def attachment_download(request: HttpRequest, viewer: Viewer, pk: int) -> FileResponse:
    attachment = visible_attachment(viewer, pk)
    return download_response(attachment)


def _new_request_page(
    request: HttpRequest, viewer: Viewer, form: PortalRequestForm, status: int = 200
) -> HttpResponse:
    context = {
        **portal_context(viewer, nav="new"),
        "form": form,
        "plan": emergency_plan(viewer.client, viewer.client.active_contract()),
    }
    return render(request, "portal/new_request.html", context, status=status)


@limiter.portal_write
@require_http_methods(["GET", "POST"])
@contact_required
def new_request(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    if request.method != "POST":
        return _new_request_page(request, viewer, PortalRequestForm())
    form = PortalRequestForm(request.POST)
    if not form.is_valid():
        if "token" in form.errors:
            form.renew_token()
        return _new_request_page(request, viewer, form, status=400)
    outcome = intake.open_request(
        viewer,
        token=form.cleaned_data["token"],
        subject=form.cleaned_data["subject"],
        description=form.cleaned_data["description"],
        is_emergency=bool(form.cleaned_data["is_emergency"]),
        metadata={**request_metadata(request), "portal_contact_id": viewer.contact.pk},
    )
    if outcome.status == InboundStatus.REJECTED or outcome.ticket_id is None:
        form.add_error(None, f"We could not accept this request: {outcome.reason or 'please try again'}.")
        form.renew_token()
        return _new_request_page(request, viewer, form, status=400)
    number = format_ticket_number(outcome.ticket_id)
    if not outcome.duplicate:
        messages.success(request, f"We have your request: {number}.")
    return redirect("portal:ticket", number=number)


@limiter.portal_page
@require_GET
@contact_required
def account(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    """The client's account: for its admins only (404 for other contacts)."""
    if not viewer.is_client_admin:
        raise Http404("No such page.")
    summary = queries.account(viewer)
    performance = summary.performance
    context = {
        **portal_context(viewer, nav="account"),
        "account": summary,
        "open_rows": rows_with_progress(summary.open_tickets),
        "met_percent": format_percent(performance.percent_met),
        "first_response_percent": format_percent(performance.first_response.percent_met),
        "resolution_percent": format_percent(performance.resolution.percent_met),
        "recent_days": queries.RECENT_DAYS,
    }
    return render(request, "portal/account.html", context)


def _verify_page(
    request: HttpRequest, viewer: Viewer, form: VerifyEmailForm, status: int = 200
) -> HttpResponse:
    context = {**portal_context(viewer, nav="verify"), "form": form}
    return render(request, "portal/verify_email.html", context, status=status)


@limiter.portal_write
@require_http_methods(["GET", "POST"])
@contact_required
def verify_email(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    """Upload a suspicious email: the same payment verification as forwarding it to verify@."""
    if request.method != "POST":
        return _verify_page(request, viewer, VerifyEmailForm())
    form = VerifyEmailForm(request.POST, request.FILES)
    if not form.is_valid():
        if "token" in form.errors:
            form.renew_token()
        return _verify_page(request, viewer, form, status=400)
    outcome = verify_uploaded_email(
        viewer.contact,
        token=form.cleaned_data["token"],
        original=form.cleaned_data["original"],
        note=form.cleaned_data["note"],
    )
    if outcome.ticket_id is None:
        form.add_error(None, f"We could not accept this email: {outcome.reason or 'please try again'}.")
        form.renew_token()
        return _verify_page(request, viewer, form, status=400)
    number = format_ticket_number(outcome.ticket_id)
    if not outcome.duplicate:
        messages.success(request, f"We are checking it: {number}. Do not pay or reply until we confirm.")
    return redirect("portal:ticket", number=number)
