"""Console: log a call taken on the phone. Thin views over intake.calls."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from firstcall.console.call_forms import LogCallForm
from firstcall.console.views import site_context, staff_required, staff_user
from firstcall.intake import calls


def _render(request: HttpRequest, form: LogCallForm, *, status: int = 200) -> HttpResponse:
    number = form.data.get("number", "") if form.is_bound else ""
    context = {
        **site_context(),
        "form": form,
        "match": calls.lookup_caller(str(number)) if number else None,
        "nav": "log_call",
    }
    return render(request, "console/log_call.html", context, status=status)


@require_http_methods(["GET", "POST"])
@staff_required
def log_call(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _render(request, LogCallForm(initial={"token": uuid.uuid4()}))
    form = LogCallForm(request.POST)
    if not form.is_valid():
        return _render(request, form, status=400)
    data = form.cleaned_data
    try:
        logged = calls.log_call(
            taker=staff_user(request),
            token=data["token"],
            caller=data["number"],
            caller_name=data["caller_name"],
            subject=data["subject"],
            description=data["description"],
            is_emergency=data["is_emergency"],
            resolved_on_first_contact=data["resolved_on_first_contact"],
        )
    except calls.CallNotLogged as error:
        form.add_error(None, f"The call was not logged: {error}")
        return _render(request, form, status=400)
    ticket = logged.ticket
    if not logged.created:
        messages.info(request, f"This call was already logged as {ticket.number}.")
    elif logged.resolved_on_first_contact:
        messages.success(request, f"Call logged as {ticket.number} and resolved on first contact.")
    else:
        messages.success(request, f"Call logged as {ticket.number}.")
    return redirect("console:ticket_detail", number=ticket.number)


@require_GET
@staff_required
def caller_lookup(request: HttpRequest) -> HttpResponse:
    """htmx fragment: who the typed number belongs to."""
    match = calls.lookup_caller(request.GET.get("number", ""))
    return render(request, "console/_caller_match.html", {"match": match})
