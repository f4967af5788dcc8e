from django.urls import URLPattern, path

from firstcall.portal import views

app_name = "portal"

urlpatterns: list[URLPattern] = [
    path("", views.request_form, name="request_form"),
    path("sent/<uuid:token>/", views.request_sent, name="request_sent"),
]
