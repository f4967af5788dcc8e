from django.contrib import admin

from firstcall.tickets.models import AuditEvent, Ticket


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    # Read-only: status, assignment and messages change through the console so every change
    # goes through tickets.actions and is audited.
    list_display = ("number", "subject", "client", "status", "priority", "channel", "created_at")
    list_filter = ("status", "priority", "channel")
    search_fields = ("subject", "requester__email")
    list_select_related = ("client",)

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("created_at", "ticket", "action", "field", "before", "after", "actor_label")
    list_filter = ("action",)
    list_select_related = ("ticket",)

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
