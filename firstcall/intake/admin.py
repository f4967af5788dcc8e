from django.contrib import admin

from firstcall.intake.models import InboundMessage


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
