"""Staff views for suspicious-email verification: thin — parse, call one domain function, go
back to the ticket page (whose panel is security/_verification_panel.html)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from firstcall.console.views import staff_required, staff_user
from firstcall.security.forms import CallOutcomeForm
from firstcall.security.models import CallOutcome
from firstcall.security.verification import NoVerification, record_call_outcome
from firstcall.tickets.models import Ticket, parse_ticket_number


@require_POST
@staff_required
def record_outcome(request: HttpRequest, number: str) -> HttpResponse:
    ticket_id = parse_ticket_number(number)
    ticket = get_object_or_404(Ticket, pk=ticket_id)
    back = redirect("console:ticket_detail", number=ticket.number)
    form = CallOutcomeForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        messages.error(request, f"The call was not recorded: {problems}")
        return back
    outcome = CallOutcome(form.cleaned_data["outcome"])
    try:
        record_call_outcome(ticket, outcome=outcome, note=form.cleaned_data["note"], by=staff_user(request))
    except NoVerification as error:
        raise Http404(str(error)) from None
    messages.success(request, f"Call recorded: {outcome.label.lower()}. The client sees it on the timeline.")
    return back
