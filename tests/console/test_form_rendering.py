"""The console forms' widgets written in Python (ConsoleFormRenderer) are the HTML Django's
widget templates write: every field of every console form, blank, filled in (with characters
that need escaping) and with errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates

from firstcall.accounts.models import User
from firstcall.clients.models import Client
from firstcall.console.form_rendering import CONSOLE_FORM_RENDERER, ConsoleFormRenderer
from firstcall.console.forms import (
    AssignForm,
    HandoverForm,
    MergeForm,
    NoteForm,
    PriorityOverrideForm,
    ReplyForm,
    StatusForm,
    TicketFilterForm,
)
from firstcall.console.queries import client_choices
from firstcall.notify.outbound import Route
from firstcall.tickets.models import Channel

pytestmark = pytest.mark.django_db

MakeForm = Callable[..., forms.Form]

TRICKY = '<b>"Fish" & chips</b>\nsecond line'


def console_forms(staff: list[User]) -> dict[str, tuple[MakeForm, dict[str, str]]]:
    """Each console form, how to make it, and data that fills in every field."""
    routes = [
        Route(Channel.EMAIL, "dana@brightsmile.example"),
        Route(Channel.SMS, "+13125550111"),
    ]
    return {
        "filters": (
            lambda *a, **k: TicketFilterForm(
                *a, staff=staff, teams=["Network", 'R&D "lab"'], clients=client_choices, **k
            ),
            {
                "status": "all",
                "client": str(Client.objects.order_by("pk").values_list("pk", flat=True)[1]),
                "priority": "P1P2",
                "assignee": str(staff[0].pk),
                "team": "Network",
            },
        ),
        "reply": (
            lambda *a, **k: ReplyForm(*a, routes=routes, usual=routes[1], **k),
            {"body": TRICKY, "route": "email:dana@brightsmile.example"},
        ),
        "note": (NoteForm, {"body": TRICKY}),
        "status": (StatusForm, {"status": "open"}),
        "assign": (lambda *a, **k: AssignForm(*a, staff=staff, **k), {"assignee": str(staff[-1].pk)}),
        "override": (PriorityOverrideForm, {"impact": "person", "urgency": "", "reason": TRICKY}),
        "handover": (
            lambda *a, **k: HandoverForm(*a, engineers=staff, **k),
            {"note": TRICKY, "engineer": ""},
        ),
        "merge": (MergeForm, {"into": '"><script>x</script>'}),
    }


def rendered(form: forms.Form) -> list[str]:
    return [str(field) for field in form]


@pytest.mark.parametrize(
    "name", ["filters", "reply", "note", "status", "assign", "override", "handover", "merge"]
)
@pytest.mark.parametrize("state", ["blank", "filled", "invalid", "initial"])
def test_console_widgets_write_what_django_templates_write(
    name: str, state: str, bob: User, erin: User, alice: User, dental: Client, law: Client
) -> None:
    Client.objects.create(name='Hale & "Porter" <LLP>')
    make, data = console_forms([alice, bob, erin])[name]
    arguments: tuple[Any, ...] = ()
    options: dict[str, Any] = {}
    if state == "filled":
        arguments = (data,)
    elif state == "invalid":
        arguments = ({key: "no such choice" for key in data},)
    elif state == "initial":
        options = {"initial": data}
    ours = make(*arguments, **options)
    djangos = make(*arguments, renderer=DjangoTemplates(), **options)
    assert isinstance(ours.renderer, ConsoleFormRenderer) and ours.renderer is CONSOLE_FORM_RENDERER
    if arguments:
        assert ours.is_valid() == djangos.is_valid()
        assert ours.errors == djangos.errors
    assert rendered(ours) == rendered(djangos)


def test_other_templates_are_left_to_django(bob: User) -> None:
    form = NoteForm(renderer=CONSOLE_FORM_RENDERER)
    assert str(form) == str(NoteForm(renderer=DjangoTemplates()))
    assert "Visible to staff only" in str(form)
