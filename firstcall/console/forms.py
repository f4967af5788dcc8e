"""Forms of the staff console: the queue filters and the actions on a ticket."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from django import forms

from firstcall.accounts.models import User
from firstcall.console.form_rendering import CONSOLE_FORM_RENDERER
from firstcall.notify.outbound import Route
from firstcall.tickets.models import Channel, Status
from firstcall.triage.matrix import Impact, Urgency
from firstcall.triage.priority import Priority

OPEN_WORK = "open_work"
ALL_STATUSES = "all"
ASSIGNEE_ME = "me"
ASSIGNEE_NONE = "unassigned"
# A priority filter value meaning "P1 or P2": the tickets that page people.
URGENT_PRIORITIES = "P1P2"
# The queue's orders. The default puts first what needs a human next: tickets past an SLA
# deadline, then those about to be, then by priority and downtime cost (see queries.ticket_queue).
SORT_ATTENTION = "attention"
SORT_NEWEST = "newest"
SORT_PRIORITY = "priority"


@dataclass(frozen=True)
class SavedView:
    slug: str
    label: str
    filters: dict[str, str]


# One-click views over the queue: each is a link with its filters in the query string, so it
# can be refined further, bookmarked and shared.
SAVED_VIEWS: tuple[SavedView, ...] = (
    SavedView("mine", "My tickets", {"assignee": ASSIGNEE_ME}),
    SavedView("unassigned", "Unassigned", {"assignee": ASSIGNEE_NONE}),
    SavedView("urgent", "P1/P2", {"priority": URGENT_PRIORITIES}),
    SavedView("waiting", "Waiting on client", {"status": Status.WAITING_ON_CLIENT}),
)

MAX_MESSAGE_CHARS = 50_000


class ConsoleForm(forms.Form):
    """A console form: its widgets written by ConsoleFormRenderer (the same HTML as Django's
    widget templates, for a fraction of the time)."""

    default_renderer = CONSOLE_FORM_RENDERER


def staff_choices(users: list[User]) -> list[tuple[str, str]]:
    return [(str(user.pk), user.display_name) for user in users]


class TicketFilterForm(ConsoleForm):
    """The queue's filters, read from GET parameters. Blank means 'any'."""

    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[
            (OPEN_WORK, "Open work (new, open, waiting)"),
            (ALL_STATUSES, "All statuses"),
            *Status.choices,
        ],
    )
    # A client's id (an int) or None; the choices are set per form from (id, name) pairs.
    client = forms.TypedChoiceField(label="Client", required=False, coerce=int, empty_value=None)
    priority = forms.ChoiceField(
        label="Priority",
        required=False,
        choices=[("", "All priorities"), (URGENT_PRIORITIES, "P1 or P2"), *Priority.choices],
    )
    channel = forms.ChoiceField(
        label="Channel", required=False, choices=[("", "All channels"), *Channel.choices]
    )
    assignee = forms.ChoiceField(label="Assignee", required=False)
    team = forms.ChoiceField(label="Team", required=False)
    sort = forms.ChoiceField(
        label="Order",
        required=False,
        choices=[
            (SORT_ATTENTION, "Needs attention first"),
            (SORT_PRIORITY, "Priority, then downtime cost"),
            (SORT_NEWEST, "Newest first"),
        ],
    )

    def __init__(
        self,
        *args: Any,
        staff: list[User],
        teams: list[str],
        clients: Callable[[], list[tuple[int, str]]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        client = self.fields["client"]
        assert isinstance(client, forms.ChoiceField)
        # Read when first needed (the select is shown, or a chosen client checked), then kept
        # for this form: the queue's 15-second refresh without a client chosen reads none.
        client_names = cache(clients)
        client.choices = lambda: [("", "All clients"), *client_names()]
        assignee = self.fields["assignee"]
        assert isinstance(assignee, forms.ChoiceField)
        assignee.choices = [
            ("", "Anyone"),
            (ASSIGNEE_ME, "Me"),
            (ASSIGNEE_NONE, "Unassigned"),
            *staff_choices(staff),
        ]
        team = self.fields["team"]
        assert isinstance(team, forms.ChoiceField)
        team.choices = [("", "All teams"), *((name, name) for name in teams)]

    def clean_status(self) -> str:
        return str(self.cleaned_data.get("status") or OPEN_WORK)

    def clean_sort(self) -> str:
        return str(self.cleaned_data.get("sort") or SORT_ATTENTION)


# Twilio's limit for one text (it splits longer ones into up to 10 segments).
MAX_SMS_CHARS = 1600


def route_value(route: Route) -> str:
    return f"{route.channel}:{route.address}"


def route_label(route: Route) -> str:
    return f"Email to {route.address}" if route.channel == Channel.EMAIL else f"Text to {route.address}"


class ReplyForm(ConsoleForm):
    """A reply and where it goes: one of the requester's reachable addresses (email, or a number
    that takes texts), by default the channel they used."""

    def __init__(self, *args: Any, routes: list[Route], usual: Route | None = None, **kwargs: Any) -> None:
        # Reply and note share a page: distinct ids keep each label tied to its own box.
        kwargs.setdefault("auto_id", "id_reply_%s")
        super().__init__(*args, **kwargs)
        self.routes = {route_value(route): route for route in routes}
        field = self.fields["route"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(value, route_label(route)) for value, route in self.routes.items()]
        if usual is not None:
            field.initial = route_value(usual)

    body = forms.CharField(
        label="Reply to the requester",
        max_length=MAX_MESSAGE_CHARS,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Sent to the requester and shown on the timeline.",
        error_messages={"required": "Write the reply before sending it."},
    )
    route = forms.ChoiceField(
        label="Send by",
        required=False,
        error_messages={"invalid_choice": "Choose one of the requester's addresses."},
    )

    def clean_route(self) -> Route | None:
        value = self.cleaned_data.get("route") or ""
        return self.routes.get(value) if value else None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        route, body = cleaned.get("route"), cleaned.get("body") or ""
        if isinstance(route, Route) and route.channel == Channel.SMS and len(body.strip()) > MAX_SMS_CHARS:
            self.add_error(
                "body", f"A text can hold {MAX_SMS_CHARS} characters; shorten it or send an email."
            )
        return cleaned


class NoteForm(ConsoleForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_note_%s")
        super().__init__(*args, **kwargs)

    body = forms.CharField(
        label="Internal note",
        max_length=MAX_MESSAGE_CHARS,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Visible to staff only; never sent to the client.",
        error_messages={"required": "Write the note before saving it."},
    )


class StatusForm(ConsoleForm):
    status = forms.ChoiceField(
        label="New status",
        choices=Status.choices,
        error_messages={"invalid_choice": "%(value)s is not a ticket status."},
    )


class AssignForm(ConsoleForm):
    """Assign to a staff member; an empty choice unassigns the ticket."""

    assignee = forms.ChoiceField(label="Assign to", required=False)

    def __init__(self, *args: Any, staff: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.staff = {str(user.pk): user for user in staff}
        assignee = self.fields["assignee"]
        assert isinstance(assignee, forms.ChoiceField)
        assignee.choices = [("", "Nobody (unassign)"), *staff_choices(staff)]

    def clean_assignee(self) -> User | None:
        value = self.cleaned_data.get("assignee") or ""
        return self.staff.get(value) if value else None


TRIAGE_DECIDES = "Let triage decide"


class PriorityOverrideForm(ConsoleForm):
    """Staff set impact and/or urgency with a reason; a blank choice leaves it to triage."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_override_%s")
        super().__init__(*args, **kwargs)

    impact = forms.ChoiceField(
        label="Impact",
        required=False,
        choices=[("", TRIAGE_DECIDES), *Impact.choices],
        error_messages={"invalid_choice": "%(value)s is not an impact."},
    )
    urgency = forms.ChoiceField(
        label="Urgency",
        required=False,
        choices=[("", TRIAGE_DECIDES), *Urgency.choices],
        error_messages={"invalid_choice": "%(value)s is not an urgency."},
    )
    reason = forms.CharField(
        label="Reason",
        max_length=300,
        help_text="Shown on the ticket and kept in the audit trail. Re-triage keeps the override.",
        error_messages={"required": "Say why the priority is overridden: the reason is shown on the ticket."},
    )

    def clean_impact(self) -> Impact | None:
        value = self.cleaned_data.get("impact") or ""
        return Impact(value) if value else None

    def clean_urgency(self) -> Urgency | None:
        value = self.cleaned_data.get("urgency") or ""
        return Urgency(value) if value else None


class HandoverForm(ConsoleForm):
    """Escalate to engineering: a handover note and, optionally, the engineer who takes it."""

    def __init__(self, *args: Any, engineers: list[User], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_handover_%s")
        super().__init__(*args, **kwargs)
        self.engineers = {str(user.pk): user for user in engineers}
        field = self.fields["engineer"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Engineering queue (unassigned)"), *staff_choices(engineers)]

    note = forms.CharField(
        label="Handover note",
        max_length=MAX_MESSAGE_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For the engineer: the problem, what was tried, what the client said. Staff only.",
        error_messages={"required": "Write a handover note: what the problem is and what was tried."},
    )
    engineer = forms.ChoiceField(label="Hand over to", required=False)

    def clean_engineer(self) -> User | None:
        value = self.cleaned_data.get("engineer") or ""
        return self.engineers.get(value) if value else None


class MergeForm(ConsoleForm):
    """Merge this ticket (a duplicate) into another, named by its number."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_merge_%s")
        super().__init__(*args, **kwargs)

    into = forms.CharField(
        label="Merge into ticket",
        max_length=20,
        help_text=(
            "The number of the ticket that stays, e.g. T-000123. "
            "This one is closed and its timeline moves there."
        ),
        widget=forms.TextInput(attrs={"placeholder": "T-000123", "autocomplete": "off"}),
        error_messages={"required": "Give the number of the ticket to merge into."},
    )
