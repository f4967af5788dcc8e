"""The public request form."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.http import QueryDict

MAX_DESCRIPTION_CHARS = 20_000
MAX_SUBJECT_CHARS = 300


class RequestForm(forms.Form):
    email = forms.EmailField(
        label="Your email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text="We send the ticket number and our replies here.",
        error_messages={
            "required": "Enter your email address so we can reply.",
            "invalid": "Enter a valid email address, like name@example.com.",
        },
    )
    name = forms.CharField(
        label="Your name",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
        error_messages={"max_length": "Keep your name under %(limit_value)d characters."},
    )
    subject = forms.CharField(
        label="Subject",
        max_length=MAX_SUBJECT_CHARS,
        help_text="One line, e.g. “Front desk PC will not start”.",
        error_messages={
            "required": "Enter a subject: one line about the problem.",
            "max_length": "Keep the subject under %(limit_value)d characters (it has %(show_value)d).",
        },
    )
    description = forms.CharField(
        label="Description",
        max_length=MAX_DESCRIPTION_CHARS,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="What happened, who is affected, and any error messages.",
        error_messages={
            "required": "Describe the problem so a technician can start on it.",
            "max_length": (
                "The description is too long: at most %(limit_value)d characters "
                "(it has %(show_value)d). Send the rest by email once you have the ticket number."
            ),
        },
    )
    is_emergency = forms.BooleanField(
        label="This is an emergency",
        required=False,
        help_text=(
            "Tick only if work has stopped: your request goes to the top of our queue as an "
            "emergency and the fastest (P1) response target applies."
        ),
    )
    token = forms.UUIDField(
        widget=forms.HiddenInput,
        error_messages={
            "required": "This form has expired. Please check your answers and send it again.",
            "invalid": "This form has expired. Please check your answers and send it again.",
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            # One token per rendering of the form: a double submit or a browser retry of the same
            # rendering reuses it, and the pipeline stores it once (unique external id).
            self.initial.setdefault("token", uuid.uuid4())

    def clean_subject(self) -> str:
        subject = " ".join(str(self.cleaned_data["subject"]).split())
        if not subject:
            raise forms.ValidationError("Enter a subject: one line about the problem.")
        return subject

    def clean_description(self) -> str:
        description = str(self.cleaned_data["description"]).strip()
        if not description:
            raise forms.ValidationError("Describe the problem so a technician can start on it.")
        return description

    def payload(self) -> dict[str, Any]:
        """What the web channel's interpreter expects."""
        data = self.cleaned_data
        return {
            "email": data["email"],
            "name": data["name"].strip(),
            "subject": data["subject"],
            "description": data["description"],
            "is_emergency": bool(data["is_emergency"]),
        }

    def renew_token(self) -> None:
        """Render the bound form again with a new token: the old one is used up or unusable."""
        data = self.data.copy() if isinstance(self.data, QueryDict) else QueryDict(mutable=True)
        data["token"] = str(uuid.uuid4())
        self.data = data
