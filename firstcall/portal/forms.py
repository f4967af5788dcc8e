"""The portal's forms: the public request form, and those of signed-in contacts."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.files.uploadedfile import UploadedFile
from django.http import QueryDict

from firstcall.accounts.models import User
from firstcall.security.content import assess_attachment

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


# ---------------------------------------------------------------------------------------------
# The client portal (signed-in contacts)
# ---------------------------------------------------------------------------------------------

# Files on one portal reply; each within FIRSTCALL_MAX_ATTACHMENT_BYTES, all together within
# FIRSTCALL_MAX_MESSAGE_BYTES (the limits email has).
MAX_FILES_PER_REPLY = 5


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


# The first bytes of programs and scripts, whatever the file is called ("invoice.pdf").
PROGRAM_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x7fELF", "a Linux program"),
    (b"\xcf\xfa\xed\xfe", "a macOS program"),
    (b"\xce\xfa\xed\xfe", "a macOS program"),
    (b"\xfe\xed\xfa\xcf", "a macOS program"),
    (b"\xfe\xed\xfa\xce", "a macOS program"),
    (b"\xca\xfe\xba\xbe", "a macOS or Java program"),
    (b"#!/", "a script"),
    (b"#! /", "a script"),
    (b"L\x00\x00\x00\x01\x14\x02\x00", "a Windows shortcut"),
)


def _is_windows_program(content: bytes) -> bool:
    """'MZ', and where its header points, 'PE': a Windows program (a text starting 'MZ' is not)."""
    if len(content) < 0x40 or not content.startswith(b"MZ"):
        return False
    offset = int.from_bytes(content[0x3C:0x40], "little")
    return content[offset : offset + 4] == b"PE\x00\x00"


def refused_upload(upload: UploadedFile) -> str | None:
    """Why a file a client sends through the portal is refused, or None to keep it: a program or
    script by its name or declared type, by its first bytes, or inside a zip (the same judgement
    the payment-verification analysis makes of a forwarded email's attachments)."""
    name = str(upload.name or "file")
    content = upload.read()
    upload.seek(0)
    if _is_windows_program(content):
        return f"{name} is a Windows program"
    for signature, what in PROGRAM_SIGNATURES:
        if content.startswith(signature):
            return f"{name} is {what}"
    risk = assess_attachment(name, upload.content_type or "", content)
    return risk.why if risk is not None and risk.kind == "executable" else None


class SignInForm(forms.Form):
    email = forms.EmailField(
        label="Your email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        error_messages={
            "required": "Enter the email address we know you by.",
            "invalid": "Enter a valid email address, like name@example.com.",
        },
    )


class PasswordSignInForm(SignInForm):
    password = forms.CharField(
        label="Password",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": "Enter your password, or sign in with an email link instead."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Its own ids: it shares the page with the email-link form.
        kwargs.setdefault("auto_id", "id_password_%s")
        super().__init__(*args, **kwargs)


class SetPasswordForm(forms.Form):
    new_password = forms.CharField(
        label="New password",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters; not a common password, not only digits.",
    )
    repeat_password = forms.CharField(
        label="New password again",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, contact_email: str = "", contact_name: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contact_email = contact_email
        self.contact_name = contact_name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        new, repeat = cleaned.get("new_password"), cleaned.get("repeat_password")
        if new and repeat and new != repeat:
            self.add_error("repeat_password", "The two passwords differ; type the same password twice.")
        elif new:
            # Django's validators (AUTH_PASSWORD_VALIDATORS); the similarity check compares the
            # password with who the contact is, described as an unsaved user (never stored).
            person = User(username=self.contact_email, email=self.contact_email, first_name=self.contact_name)
            try:
                validate_password(new, user=person)
            except forms.ValidationError as error:
                self.add_error("new_password", error)
        return cleaned


class PortalRequestForm(RequestForm):
    """The request form for a signed-in contact: we know who they are and their client."""

    email = None  # type: ignore[assignment]
    name = None  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The page explains what an emergency sets off, next to the box.
        self.fields["is_emergency"].help_text = ""
        self.fields["is_emergency"].widget.attrs["aria-describedby"] = "emergency-plan"


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; cleans to a list (empty when none were chosen)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        single = super().clean
        items = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [single(item, initial) for item in items]


class ReplyForm(forms.Form):
    body = forms.CharField(
        label="Your reply",
        max_length=MAX_DESCRIPTION_CHARS,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={
            "required": "Write your reply (a line about the files you attach will do).",
            "max_length": (
                "The reply is too long: at most %(limit_value)d characters (it has %(show_value)d)."
            ),
        },
    )
    attachments = MultipleFileField(
        label="Attach files",
        required=False,
        help_text=f"Up to {MAX_FILES_PER_REPLY} files, e.g. a screenshot of the error.",
    )
    token = forms.UUIDField(
        widget=forms.HiddenInput,
        error_messages={
            "required": "This form has expired. Please send your reply again.",
            "invalid": "This form has expired. Please send your reply again.",
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            # One token per rendering: a double submit of the same form is stored once.
            self.initial.setdefault("token", uuid.uuid4())
        limit = settings.FIRSTCALL_MAX_ATTACHMENT_BYTES
        self.fields["attachments"].help_text = (
            f"Up to {MAX_FILES_PER_REPLY} files of at most {_size(limit)} each, "
            "e.g. a screenshot of the error."
        )

    def clean_attachments(self) -> list[UploadedFile]:
        files: list[UploadedFile] = self.cleaned_data["attachments"]
        if len(files) > MAX_FILES_PER_REPLY:
            raise forms.ValidationError(f"Attach at most {MAX_FILES_PER_REPLY} files to one reply.")
        limit = settings.FIRSTCALL_MAX_ATTACHMENT_BYTES
        too_big = [f.name for f in files if (f.size or 0) > limit]
        if too_big:
            raise forms.ValidationError(
                f"{', '.join(str(name) for name in too_big)}: larger than {_size(limit)}, the most we accept "
                "for one file. Send a smaller file (a zip, a cropped screenshot) or a link to it."
            )
        if sum(f.size or 0 for f in files) > settings.FIRSTCALL_MAX_MESSAGE_BYTES:
            raise forms.ValidationError(
                f"These files are larger than {_size(settings.FIRSTCALL_MAX_MESSAGE_BYTES)} together; "
                "send them in several replies."
            )
        refused = [reason for f in files if (reason := refused_upload(f)) is not None]
        if refused:
            raise forms.ValidationError(
                f"{'; '.join(refused)}. We do not accept programs or scripts in the portal, to keep your "
                "computers and ours safe. If a technician asked you for this file, they will tell you "
                "another way to send it."
            )
        return files

    def clean_body(self) -> str:
        body = str(self.cleaned_data["body"]).strip()
        if not body:
            raise forms.ValidationError("Write your reply (a line about the files you attach will do).")
        return body

    def renew_token(self) -> None:
        data = self.data.copy() if isinstance(self.data, QueryDict) else QueryDict(mutable=True)
        data["token"] = str(uuid.uuid4())
        self.data = data


class VerifyEmailForm(forms.Form):
    """A suspicious email saved as a file, for us to check (payment verification)."""

    original = forms.FileField(
        label="The suspicious email, saved as a file (.eml)",
        help_text='In Outlook: open the email, File › Save as. In Gmail: ⋮ › "Download message".',
    )
    note = forms.CharField(
        label="What made you suspicious? (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    token = forms.UUIDField(
        widget=forms.HiddenInput,
        error_messages={
            "required": "This form has expired. Please upload the email again.",
            "invalid": "This form has expired. Please upload the email again.",
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            # One token per rendering: a double submit opens one verification.
            self.initial.setdefault("token", uuid.uuid4())

    def clean_original(self) -> bytes:
        from firstcall.security.portal_upload import NotAnEmail, check_uploaded_email

        upload: UploadedFile = self.cleaned_data["original"]
        if (upload.size or 0) > settings.FIRSTCALL_MAX_MESSAGE_BYTES:
            raise forms.ValidationError(
                f"This file is larger than {_size(settings.FIRSTCALL_MAX_MESSAGE_BYTES)}, the most we accept."
            )
        content = bytes(upload.read())
        try:
            check_uploaded_email(content)
        except NotAnEmail as error:
            raise forms.ValidationError(str(error)) from None
        return content

    def renew_token(self) -> None:
        data = self.data.copy() if isinstance(self.data, QueryDict) else QueryDict(mutable=True)
        data["token"] = str(uuid.uuid4())
        self.data = data
