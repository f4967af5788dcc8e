from typing import Any

from django import forms
from django.contrib import admin

from firstcall.intake.models import InboundMessage, Mailbox


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("received_at", "channel", "external_id", "status", "reason", "ticket")
    list_filter = ("channel", "status")
    search_fields = ("external_id",)
    readonly_fields = ("channel", "external_id", "metadata", "status", "reason", "ticket", "received_at")
    exclude = ("raw",)
    list_select_related = ("timeline_message__ticket",)

    @admin.display(description="ticket")
    def ticket(self, inbound: InboundMessage) -> str:
        entry = getattr(inbound, "timeline_message", None)
        return entry.ticket.number if entry is not None else "—"


class MailboxForm(forms.ModelForm):  # type: ignore[type-arg]
    """The password is typed in, stored encrypted, and never shown again."""

    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        strip=False,
        help_text="Stored encrypted. Leave empty to keep the current password.",
    )

    class Meta:
        model = Mailbox
        fields = (
            "name",
            "host",
            "port",
            "security",
            "username",
            "password",
            "folder",
            "after_import",
            "move_to_folder",
            "enabled",
            "poll_interval_seconds",
        )

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if not cleaned.get("password") and not self.instance.password_encrypted:
            self.add_error("password", "Enter the mailbox's password.")
        return cleaned

    def save(self, commit: bool = True) -> Mailbox:
        mailbox: Mailbox = super().save(commit=False)
        if self.cleaned_data.get("password"):
            mailbox.set_password(self.cleaned_data["password"])
        if commit:
            mailbox.save()
        return mailbox


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = MailboxForm
    list_display = (
        "name",
        "username",
        "host",
        "folder",
        "after_import",
        "enabled",
        "last_polled_at",
        "status",
    )
    list_filter = ("enabled",)
    search_fields = ("name", "username", "host")
    readonly_fields = ("last_polled_at", "next_poll_at", "last_error", "last_error_at", "imported_count")

    @admin.display(description="status")
    def status(self, mailbox: Mailbox) -> str:
        if not mailbox.enabled:
            return "disabled"
        return f"error: {mailbox.last_error.splitlines()[0]}" if mailbox.last_error else "ok"
