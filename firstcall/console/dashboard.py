"""Console: the dashboard — the service desk's figures for a period, overall or for one client.
Thin: the figures come from ``firstcall.reports.dashboard.build_dashboard``."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from firstcall.clients.models import Client
from firstcall.console.views import site_context, staff_required
from firstcall.reports.dashboard import build_dashboard
from firstcall.reports.periods import PeriodChoice


class DashboardFilterForm(forms.Form):
    client = forms.ModelChoiceField(
        queryset=Client.objects.order_by("name").only("pk", "name"),
        required=False,
        empty_label="All clients",
    )
    period = forms.ChoiceField(
        choices=[(choice.value, choice.label) for choice in PeriodChoice],
        required=False,
        initial=PeriodChoice.THIS_WEEK.value,
    )


@require_GET
@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    form = DashboardFilterForm(request.GET)
    # An unknown client or period shows the overall figures of this week, with the error.
    valid = form.is_valid()
    data = form.cleaned_data if valid else {}
    client: Client | None = data.get("client")
    choice = PeriodChoice(data.get("period") or PeriodChoice.THIS_WEEK)
    figures = build_dashboard(client_id=client.pk if client is not None else None, choice=choice)
    context = {**site_context(), "form": form, "client": client, "dashboard": figures, "nav": "dashboard"}
    return render(request, "console/dashboard.html", context, status=200 if valid else 400)
