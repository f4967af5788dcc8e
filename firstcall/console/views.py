"""Staff console views: thin — they parse, call one domain function, and render."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView, redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from firstcall.accounts import two_factor
from firstcall.accounts.models import Role, User
from firstcall.console import panels, queries
from firstcall.console.forms import (
    SAVED_VIEWS,
    SORT_ATTENTION,
    SORT_PRIORITY,
    AssignForm,
    HandoverForm,
    MergeForm,
    NoteForm,
    PriorityOverrideForm,
    ReplyForm,
    StatusForm,
    TicketFilterForm,
)
from firstcall.escalation.engine import acknowledge
from firstcall.notify.outbound import Route
from firstcall.tickets.actions import ALLOWED_TRANSITIONS, Actor, IllegalTransition, assign, transition
from firstcall.tickets.handover import HandoverError, hand_over_to_engineering, is_engineering
from firstcall.tickets.merge import CannotMerge, merge_tickets
from firstcall.tickets.models import Attachment, Channel, Status, Ticket
from firstcall.tickets.presentation import download_response
from firstcall.tickets.priority import override_priority
from firstcall.tickets.replies import (
    STAFF_LABEL,
    EmptyMessage,
    NoRoute,
    add_note,
    post_reply,
    reply_routes,
    usual_route,
)

TICKETS_PER_PAGE = 50

View = Callable[..., HttpResponseBase]


def site_context() -> dict[str, Any]:
    return {"msp_name": settings.FIRSTCALL_MSP_NAME}


def _whole_page_redirect(request: HttpRequest, url: str) -> HttpResponse:
    if request.headers.get("HX-Request") == "true":
        # An htmx refresh (after the session expired, say): send the whole page there instead
        # of swapping the sign-in page into the queue.
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def staff_required(view: View) -> View:
    """Signed-in, active staff only, whose sign-in is finished; anyone else goes to the sign-in
    page, and staff who still owe a two-factor code (or must set up an app) go to that step."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not user.is_authenticated or not user.is_active:
            return _whole_page_redirect(request, redirect_to_login(request.get_full_path())["Location"])
        if not isinstance(user, User) or user.role not in Role.values:
            raise PermissionDenied("The staff console is for the MSP's staff.")
        second_step = two_factor.unfinished_sign_in_url(user, request.get_full_path())
        if second_step is not None:
            return _whole_page_redirect(request, second_step)
        return view(request, *args, **kwargs)

    return wrapper


def staff_user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # guaranteed by staff_required
    return user


class SignInView(LoginView):
    template_name = "console/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        two_factor.password_accepted(self.request, staff_user(self.request))
        return response

    def get_success_url(self) -> str:
        # After the password, a code from the user's app (or setting one up) when owed.
        target = super().get_success_url()
        user = self.request.user
        second_step = two_factor.unfinished_sign_in_url(user, target) if isinstance(user, User) else None
        return second_step or target

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), **site_context()}


def is_htmx_fragment_request(request: HttpRequest) -> bool:
    # A history restore after a cache miss needs the whole page, not the fragment.
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


@require_GET
@staff_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    viewer = staff_user(request)
    staff = queries.staff_users()
    form = TicketFilterForm(
        request.GET or None,
        staff=staff,
        teams=queries.open_ticket_teams(),
        clients=queries.client_choices,
    )
    filters: dict[str, Any] = {}
    if form.is_bound:
        form.is_valid()
        filters = form.cleaned_data  # the valid filters; an unreadable one is ignored
    now = timezone.now()
    queue = queries.ticket_queue(filters, viewer, now)
    page = Paginator(queue, TICKETS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    chosen = {key: value for key, value in query.items() if value}
    context = {
        **site_context(),
        "form": form,
        "page": page,
        "tickets": queries.rows_of_page(queue, page),
        "now": now,
        "saved_views": [(view, urlencode(view.filters), chosen == view.filters) for view in SAVED_VIEWS],
        "filter_query": query.urlencode(),
        "refresh_url": request.get_full_path(),
        "sorted_by_deadline": filters.get("sort", SORT_ATTENTION) == SORT_ATTENTION,
        "sorted_by_priority": filters.get("sort") == SORT_PRIORITY,
        "nav": "queue",
    }
    template = (
        "console/_ticket_results.html" if is_htmx_fragment_request(request) else "console/ticket_list.html"
    )
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _ticket_or_404(number: str) -> Ticket:
    pk = queries.ticket_id_from_number(number)
    ticket = queries.ticket_for_page(pk) if pk is not None else None
    if ticket is None:
        raise Http404(f"There is no ticket {number}.")
    return ticket


def _reply_form(ticket: Ticket, data: Any = None) -> ReplyForm:
    routes = reply_routes(ticket.requester)
    return ReplyForm(data, routes=routes, usual=usual_route(ticket, routes))


# ``?timeline=all`` on the ticket page shows every timeline entry: where "Show earlier entries"
# leads without JavaScript (with it, htmx loads them in place from ticket_timeline_earlier).
WHOLE_TIMELINE = "all"


def _render_ticket(
    request: HttpRequest,
    ticket: Ticket,
    *,
    reply_form: ReplyForm | None = None,
    note_form: NoteForm | None = None,
    override_form: PriorityOverrideForm | None = None,
    handover_form: HandoverForm | None = None,
    merge_form: MergeForm | None = None,
    status: int = 200,
) -> HttpResponse:
    staff = queries.staff_users()
    viewer = staff_user(request)
    now = timezone.now()
    next_statuses = (
        []
        if ticket.merged_into_id is not None
        else sorted(ALLOWED_TRANSITIONS[Status(ticket.status)], key=list(Status).index)
    )
    context = {
        **site_context(),
        "ticket": ticket,
        "contract": queries.active_contract(ticket),
        "sla_terms": panels.sla_terms(ticket.client_id),
        "recent_tickets": queries.recent_client_tickets(ticket),
        "timeline": queries.timeline(
            ticket, newest=None if request.GET.get("timeline") == WHOLE_TIMELINE else queries.TIMELINE_NEWEST
        ),
        "audit_events": list(queries.audit_trail(ticket)),
        "reply_form": reply_form or _reply_form(ticket),
        "note_form": note_form or NoteForm(),
        "override_form": override_form
        or PriorityOverrideForm(
            initial={"impact": ticket.impact_override, "urgency": ticket.urgency_override}
        ),
        "handover_form": handover_form
        or HandoverForm(engineers=[user for user in staff if is_engineering(user)]),
        "merge_form": merge_form or MergeForm(),
        "priority_panel": panels.priority_panel(ticket),
        "clocks": panels.clock_rows(ticket, now),
        "ticket_zone": ticket.time_zone.key,
        "escalation": panels.escalation_panel(ticket, queries.escalation_state(ticket)),
        "assign_form": AssignForm(
            initial={"assignee": str(ticket.assignee_id or "")}, staff=staff, auto_id="id_assign_%s"
        ),
        "next_statuses": next_statuses,
        "first_response_overdue": ticket.first_response_at is None
        and ticket.first_response_due_at is not None
        and ticket.first_response_due_at < now,
        "viewer": viewer,
        "nav": "queue",
    }
    return render(request, "console/ticket_detail.html", context, status=status)


@require_GET
@staff_required
def ticket_detail(request: HttpRequest, number: str) -> HttpResponse:
    return _render_ticket(request, _ticket_or_404(number))


@require_GET
@staff_required
def ticket_timeline_earlier(request: HttpRequest, number: str) -> HttpResponse:
    """The timeline entries before ``?before=<message id>``, as list items for htmx to put in
    place of the ticket page's "Show earlier entries" link; anyone else gets the whole timeline
    on the ticket page."""
    ticket_id = queries.ticket_id_from_number(number)
    if ticket_id is None:
        raise Http404(f"There is no ticket {number}.")
    before = request.GET.get("before", "")
    entries = queries.timeline_before(ticket_id, int(before)) if before.isdecimal() else None
    if entries is None or not is_htmx_fragment_request(request):
        # (The ticket page says 404 for a ticket that does not exist.)
        url = reverse("console:ticket_detail", kwargs={"number": number})
        return redirect(f"{url}?{urlencode({'timeline': WHOLE_TIMELINE})}")
    response = render(request, "console/_timeline_entries.html", {"entries": entries})
    patch_vary_headers(response, ["HX-Request"])
    return response


def field_errors(form: forms.Form, field: str) -> str:
    return " ".join(str(error) for error in form.errors.get(field, ["Choose a valid option."]))


def _back(ticket: Ticket) -> HttpResponse:
    return redirect("console:ticket_detail", number=ticket.number)


def _sent_words(route: Route | None) -> str:
    if route is None:
        return (
            "Reply added, but the requester has no email address or number that takes texts: it was not sent."
        )
    how = "emailed" if route.channel == Channel.EMAIL else "texted"
    return f"Reply added; it is being {how} to {route.address}."


@require_POST
@staff_required
def ticket_reply(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _ticket_or_404(number)
    form = _reply_form(ticket, request.POST)
    if not form.is_valid():
        return _render_ticket(request, ticket, reply_form=form, status=400)
    route: Route | None = form.cleaned_data["route"] or usual_route(ticket, list(form.routes.values()))
    try:
        post_reply(ticket, author=staff_user(request), body=form.cleaned_data["body"], route=route)
    except (EmptyMessage, NoRoute) as error:
        form.add_error("body", str(error))
        return _render_ticket(request, ticket, reply_form=form, status=400)
    if route is None:
        messages.warning(request, _sent_words(route))
    else:
        messages.success(request, _sent_words(route))
    return _back(ticket)


@require_POST
@staff_required
def ticket_note(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _ticket_or_404(number)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _render_ticket(request, ticket, note_form=form, status=400)
    try:
        add_note(ticket, author=staff_user(request), body=form.cleaned_data["body"])
    except EmptyMessage as error:
        form.add_error("body", str(error))
        return _render_ticket(request, ticket, note_form=form, status=400)
    messages.success(request, "Internal note added.")
    return _back(ticket)


@require_POST
@staff_required
def ticket_status(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _ticket_or_404(number)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, field_errors(form, "status"))
        return _back(ticket)
    to = Status(form.cleaned_data["status"])
    try:
        transition(ticket, to, actor=Actor(user=staff_user(request), label=STAFF_LABEL))
    except IllegalTransition as error:
        messages.error(request, str(error))
        return _back(ticket)
    messages.success(request, f"{ticket.number} is now {to.label.lower()}.")
    return _back(ticket)


@require_POST
@staff_required
def ticket_assign(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _ticket_or_404(number)
    viewer = staff_user(request)
    data = request.POST.copy()
    if data.get("assignee") == "me":
        data["assignee"] = str(viewer.pk)
    form = AssignForm(data, staff=queries.staff_users())
    if not form.is_valid():
        messages.error(request, field_errors(form, "assignee"))
        return _back(ticket)
    assignee: User | None = form.cleaned_data["assignee"]
    if assignee is not None and assignee.pk == ticket.assignee_id:
        messages.info(request, f"{ticket.number} is already assigned to {assignee.display_name}.")
        return _back_to_next_or(request, ticket)
    assign(ticket, assignee, actor=Actor(user=viewer, label=STAFF_LABEL))
    if assignee is None:
        messages.success(request, f"{ticket.number} is now unassigned.")
    elif assignee.pk == viewer.pk:
        messages.success(request, f"{ticket.number} is now assigned to you.")
    else:
        messages.success(request, f"{ticket.number} is now assigned to {assignee.display_name}.")
    return _back_to_next_or(request, ticket)


def _back_to_next_or(request: HttpRequest, ticket: Ticket) -> HttpResponse:
    """Back where the action was taken (e.g. the queue, for the 'a' shortcut) if that is a page
    of this site, else to the ticket."""
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(next_url)
    return _back(ticket)


@require_POST
@staff_required
def ticket_priority(request: HttpRequest, number: str) -> HttpResponse:
    """Staff override impact and/or urgency with a reason (audited; re-triage keeps it)."""
    ticket = _ticket_or_404(number)
    form = PriorityOverrideForm(request.POST)
    if not form.is_valid():
        return _render_ticket(request, ticket, override_form=form, status=400)
    try:
        changed = override_priority(
            ticket,
            impact=form.cleaned_data["impact"],
            urgency=form.cleaned_data["urgency"],
            reason=form.cleaned_data["reason"],
            actor=Actor(user=staff_user(request), label=STAFF_LABEL),
        )
    except ValueError as error:
        form.add_error("reason", str(error))
        return _render_ticket(request, ticket, override_form=form, status=400)
    if changed:
        messages.success(request, f"Priority overridden: {ticket.number} is now {ticket.priority}.")
    else:
        messages.success(request, f"Priority override saved: {ticket.number} stays {ticket.priority}.")
    return _back(ticket)


@require_POST
@staff_required
def ticket_acknowledge(request: HttpRequest, number: str) -> HttpResponse:
    """Acknowledge the ticket's running escalation: nobody further is paged."""
    ticket = _ticket_or_404(number)
    if acknowledge(ticket, staff_user(request), via="console"):
        messages.success(
            request, f"Acknowledged: {ticket.number} no longer escalates; nobody further is paged."
        )
    else:
        messages.info(request, f"{ticket.number} is not escalating: there was nothing to acknowledge.")
    return _back(ticket)


@require_GET
@staff_required
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    attachment = get_object_or_404(Attachment, pk=pk)
    return download_response(attachment)


@require_POST
@staff_required
def ticket_handover(request: HttpRequest, number: str) -> HttpResponse:
    """Escalate to engineering (tier 2) with a handover note."""
    ticket = _ticket_or_404(number)
    form = HandoverForm(
        request.POST, engineers=[user for user in queries.staff_users() if is_engineering(user)]
    )
    if not form.is_valid():
        return _render_ticket(request, ticket, handover_form=form, status=400)
    engineer: User | None = form.cleaned_data["engineer"]
    try:
        hand_over_to_engineering(
            ticket, by=staff_user(request), note=form.cleaned_data["note"], engineer=engineer
        )
    except HandoverError as error:
        form.add_error("note", str(error))
        return _render_ticket(request, ticket, handover_form=form, status=400)
    who = engineer.display_name if engineer is not None else "the engineering queue"
    messages.success(request, f"{ticket.number} was handed over to {who}.")
    return _back(ticket)


@require_POST
@staff_required
def ticket_merge(request: HttpRequest, number: str) -> HttpResponse:
    """Merge this ticket (a duplicate) into another one, which the browser then shows."""
    ticket = _ticket_or_404(number)
    form = MergeForm(request.POST)
    if not form.is_valid():
        return _render_ticket(request, ticket, merge_form=form, status=400)
    into_number = form.cleaned_data["into"].strip().upper()
    into_pk = queries.ticket_id_from_number(into_number)
    into = Ticket.objects.filter(pk=into_pk).first() if into_pk is not None else None
    if into is None:
        form.add_error("into", f"There is no ticket {into_number}.")
        return _render_ticket(request, ticket, merge_form=form, status=400)
    try:
        merge_tickets(ticket, into, by=staff_user(request))
    except CannotMerge as error:
        form.add_error("into", str(error))
        return _render_ticket(request, ticket, merge_form=form, status=400)
    messages.success(request, f"{ticket.number} was merged into {into.number}.")
    return redirect("console:ticket_detail", number=into.number)
