from django.urls import URLPattern, re_path

from firstcall.security import views

app_name = "security"

urlpatterns: list[URLPattern] = [
    re_path(
        r"^tickets/(?P<number>T-\d{6,})/verification/outcome/$", views.record_outcome, name="record_outcome"
    ),
]
