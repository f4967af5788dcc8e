"""The portal: the public request form at /request/, the client portal at /portal/."""

from django.urls import URLPattern, path, re_path

from firstcall.portal import sign_in_views, views

app_name = "portal"

TICKET = r"^portal/tickets/(?P<number>T-\d{6,})/"

urlpatterns: list[URLPattern] = [
    # Public: anyone may ask for help.
    path("request/", views.request_form, name="request_form"),
    path("request/sent/<uuid:token>/", views.request_sent, name="request_sent"),
    # Signing in (public).
    path("portal/sign-in/", sign_in_views.sign_in_page, name="sign_in"),
    path("portal/sign-in/sent/", sign_in_views.sign_in_sent, name="sign_in_sent"),
    path("portal/sign-in/password/", sign_in_views.sign_in_password, name="sign_in_password"),
    re_path(
        r"^portal/sign-in/(?P<token>[A-Za-z0-9_-]{20,100})/$", sign_in_views.sign_in_link, name="sign_in_link"
    ),
    path("portal/sign-out/", sign_in_views.sign_out_view, name="sign_out"),
    # Signed-in contacts.
    path("portal/", views.home, name="home"),
    re_path(TICKET + r"$", views.ticket_detail, name="ticket"),
    re_path(TICKET + r"reply/$", views.ticket_reply, name="ticket_reply"),
    re_path(TICKET + r"close/$", views.ticket_close, name="ticket_close"),
    path("portal/files/<int:pk>/", views.attachment_download, name="attachment"),
    path("portal/new/", views.new_request, name="new_request"),
    path("portal/verify/", views.verify_email, name="verify_email"),
    path("portal/password/", sign_in_views.password, name="password"),
    # Client admins.
    path("portal/account/", views.account, name="account"),
]
