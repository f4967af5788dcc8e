"""The Django admin for staff who signed in completely: with their two-factor code when they
have an authenticator app (or must have one). There is one sign-in for staff, the console's,
with its second step and lockout; the admin's own sign-in page sends people there.

The default admin site (admin_apps.StaffAdminConfig), so every ``@admin.register`` lands here.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin import AdminSite
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from firstcall.accounts.models import User
from firstcall.accounts.two_factor import unfinished_step


def _sign_in_finished(request: HttpRequest) -> bool:
    user = request.user
    return isinstance(user, User) and user.is_active and unfinished_step(user) is None


class StaffAdminSite(AdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and _sign_in_finished(request)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.user.is_authenticated and _sign_in_finished(request):
            # Signed in completely, yet not admin staff: signing in again would not help.
            raise PermissionDenied("The admin is for staff with admin access.")
        next_url = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index", current_app=self.name)
        # The console's sign-in sends a signed-in user on to the step they still owe.
        return redirect_to_login(next_url, reverse("console:login"))
