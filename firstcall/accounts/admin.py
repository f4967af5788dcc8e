from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from firstcall.accounts.models import ApiToken, PortalAccount, SignInLink, User


@admin.register(User)
class StaffUserAdmin(UserAdmin):  # type: ignore[type-arg]
    list_display = ("username", "first_name", "last_name", "email", "role", "is_active")
    list_filter = ("role", "is_active")
    fieldsets = (*(UserAdmin.fieldsets or ()), ("Helpdesk", {"fields": ("role", "phone")}))


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "user", "client", "created_at", "last_used_at", "revoked_at")
    list_select_related = ("user", "client")
    # The client scope is fixed at issue: widening a token to every client would be a new power.
    readonly_fields = ("client", "token_hash", "created_at", "last_used_at")
    fields = ("name", "user", "client", "token_hash", "created_at", "last_used_at", "revoked_at")

    def has_add_permission(self, request: object) -> bool:
        # A token is shown once when issued; issue them with `firstcall create_api_token`.
        return False


@admin.register(PortalAccount)
class PortalAccountAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Client portal access. Any contact of a client can sign in by email link (the account is
    made then); staff add one here to make a contact a client admin or to switch access off."""

    list_display = ("contact", "client", "is_client_admin", "can_sign_in", "has_password", "last_sign_in_at")
    list_filter = ("is_client_admin", "can_sign_in", "contact__client")
    search_fields = ("contact__name", "contact__email", "contact__client__name")
    list_select_related = ("contact__client",)
    autocomplete_fields = ("contact",)
    fields = ("contact", "is_client_admin", "can_sign_in", "has_password", "last_sign_in_at", "created_at")
    readonly_fields = ("has_password", "last_sign_in_at", "created_at")

    @admin.display(description="client")
    def client(self, account: PortalAccount) -> str:
        return str(account.contact.client or "— (unverified: cannot sign in)")

    @admin.display(boolean=True, description="password set")
    def has_password(self, account: PortalAccount) -> bool:
        return account.has_password


@admin.register(SignInLink)
class SignInLinkAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A read-only record of the sign-in links emailed (their tokens are not stored)."""

    list_display = ("contact", "created_at", "expires_at", "used_at", "email_sent_at", "email_error")
    list_select_related = ("contact",)
    search_fields = ("contact__name", "contact__email")
    readonly_fields = (
        "contact",
        "token_hash",
        "created_at",
        "expires_at",
        "used_at",
        "email_sent_at",
        "email_error",
    )

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
