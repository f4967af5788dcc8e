"""Webhooks, mounted at /hooks/: each channel's views module brings its own routes."""

from django.urls import include, path

app_name = "hooks"
urlpatterns = [
    path("", include("firstcall.intake.views.sms")),
    path("", include("firstcall.intake.views.voice")),
    path("", include("firstcall.intake.views.alerts")),
]
