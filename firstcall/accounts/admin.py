from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from firstcall.accounts.models import ApiToken, User


@admin.register(User)
class StaffUserAdmin(UserAdmin):  # type: ignore[type-arg]
    list_display = ("username", "first_name", "last_name", "email", "role", "is_active")
    list_filter = ("role", "is_active")
    fieldsets = (*(UserAdmin.fieldsets or ()), ("Helpdesk", {"fields": ("role", "phone")}))


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "user", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("token_hash", "created_at", "last_used_at")
    fields = ("name", "user", "token_hash", "created_at", "last_used_at", "revoked_at")

    def has_add_permission(self, request: object) -> bool:
        # A token is shown once when issued; issue them with `firstcall create_api_token`.
        return False
