from django.contrib import admin

from firstcall.security.models import EmailVerification


@admin.register(EmailVerification)
class EmailVerificationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    # Read-only: the call's outcome is recorded from the ticket page, audited, on the timeline.
    list_display = ("ticket", "claimed_address", "verdict", "score", "callback_name", "outcome", "created_at")
    list_filter = ("verdict", "outcome")
    search_fields = ("claimed_address", "claimed_name", "original_subject")
    list_select_related = ("ticket",)

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_add_permission(self, request: object) -> bool:
        return False
