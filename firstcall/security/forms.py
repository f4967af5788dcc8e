"""The form a technician fills in after the verification call."""

from __future__ import annotations

from django import forms

from firstcall.security.models import CallOutcome


class CallOutcomeForm(forms.Form):
    outcome = forms.ChoiceField(
        label="Outcome of the call", choices=CallOutcome.choices, widget=forms.RadioSelect
    )
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Whom you spoke to and what they said. Internal: the client sees only the outcome.",
    )
