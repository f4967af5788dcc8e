"""The console's "log a call" form: what a technician types while the caller is on the line."""

from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse

from firstcall.clients.models import normalize_phone
from firstcall.console.forms import MAX_MESSAGE_CHARS


class LogCallForm(forms.Form):
    # Made when the form is shown; a double submit of the same form logs the call once.
    token = forms.UUIDField(widget=forms.HiddenInput)
    number = forms.CharField(
        label="Caller's number",
        max_length=40,
        help_text="With the country code, e.g. +1 312 555 0111. It finds the contact and client.",
        error_messages={"required": "Type the number the caller is calling from."},
    )
    caller_name = forms.CharField(label="Caller's name", max_length=200, required=False)
    subject = forms.CharField(
        label="Subject",
        max_length=300,
        required=False,
        help_text="Leave blank for “Phone call from <number>”.",
    )
    description = forms.CharField(
        label="What the caller said",
        max_length=MAX_MESSAGE_CHARS,
        widget=forms.Textarea(attrs={"rows": 8}),
        error_messages={"required": "Write down what the caller needs before saving."},
    )
    is_emergency = forms.BooleanField(label="Emergency", required=False)
    resolved_on_first_contact = forms.BooleanField(
        label="Resolved on first contact (fixed during this call)", required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # As-you-type lookup of the contact and client owning the number.
        self.fields["number"].widget.attrs.update(
            {
                "type": "tel",
                "autocomplete": "off",
                "hx-get": reverse("console:call_lookup"),
                "hx-trigger": "input changed delay:300ms",
                "hx-target": "#caller-match",
                "hx-swap": "innerHTML",
                "aria-describedby": "id_number_helptext caller-match",
            }
        )

    def clean_number(self) -> str:
        number = normalize_phone(self.cleaned_data.get("number", ""))
        if not number:
            raise forms.ValidationError("A phone number needs digits, e.g. +1 312 555 0111.")
        if not number.startswith("+"):
            # Numbers are stored in E.164; without the country code it would match nobody.
            raise forms.ValidationError("Include the country code, e.g. +1 312 555 0111.")
        return number
