"""The admin app, installed in INSTALLED_APPS in place of ``django.contrib.admin``: its default
site asks for the two-factor step (admin_site.StaffAdminSite). Imported while apps load, so
it imports no models."""

from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    default_site = "firstcall.accounts.admin_site.StaffAdminSite"

    def ready(self) -> None:
        super().ready()  # finds every app's admin.py
        # Then the two-factor devices' pages replace django-otp's own (audited removal).
        from firstcall.accounts import two_factor_admin  # noqa: F401
