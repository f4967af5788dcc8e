"""Staff's authenticator apps in the admin: a list to see who has one, and removal by an owner
(someone who lost their phone), audited like a removal by the user. Replaces django-otp's own
device pages, which would show secrets and delete without a record. Backup codes are removed
with the app and have no page of their own."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from firstcall.accounts.models import Role, User
from firstcall.accounts.two_factor import remove_two_factor

REMOVED_IN_ADMIN = "removed by an owner in the admin"

for model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


def _owner(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.role == Role.OWNER else None


@admin.register(TOTPDevice)
class AuthenticatorAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
    list_filter = ("confirmed",)
    list_select_related = ("user",)
    search_fields = ("user__username", "user__first_name", "user__last_name", "user__email")
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # each person sets up their own app, from the console

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return _owner(request) is not None and super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: TOTPDevice) -> None:
        owner = _owner(request)
        assert owner is not None  # has_delete_permission
        remove_two_factor(obj.user, by=owner, reason=REMOVED_IN_ADMIN)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[TOTPDevice]) -> None:
        owner = _owner(request)
        assert owner is not None
        for user in User.objects.filter(pk__in=queryset.values("user_id")).order_by("pk"):
            remove_two_factor(user, by=owner, reason=REMOVED_IN_ADMIN)
