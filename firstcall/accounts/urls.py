"""Staff account pages under /account/: two-factor sign-in."""

from django.urls import URLPattern, path

from firstcall.accounts import views

app_name = "accounts"

urlpatterns: list[URLPattern] = [
    path("two-factor/", views.two_factor_page, name="two_factor"),
    path("two-factor/code/", views.two_factor_code, name="two_factor_code"),
    path("two-factor/set-up/", views.two_factor_enrol, name="two_factor_enrol"),
    path("two-factor/remove/", views.two_factor_remove, name="two_factor_remove"),
]
