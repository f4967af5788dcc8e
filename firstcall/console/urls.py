from django.contrib.auth.views import LogoutView
from django.urls import URLPattern, path, re_path

from firstcall.console import calls, dashboard, views

app_name = "console"

urlpatterns: list[URLPattern] = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("", views.ticket_list, name="ticket_list"),
    re_path(r"^tickets/(?P<number>T-\d{6,})/$", views.ticket_detail, name="ticket_detail"),
    re_path(
        r"^tickets/(?P<number>T-\d{6,})/timeline/earlier/$",
        views.ticket_timeline_earlier,
        name="ticket_timeline_earlier",
    ),
    re_path(r"^tickets/(?P<number>T-\d{6,})/reply/$", views.ticket_reply, name="ticket_reply"),
    re_path(r"^tickets/(?P<number>T-\d{6,})/note/$", views.ticket_note, name="ticket_note"),
    re_path(r"^tickets/(?P<number>T-\d{6,})/status/$", views.ticket_status, name="ticket_status"),
    re_path(r"^tickets/(?P<number>T-\d{6,})/assign/$", views.ticket_assign, name="ticket_assign"),
    re_path(r"^tickets/(?P<number>T-\d{6,})/priority/$", views.ticket_priority, name="ticket_priority"),
    re_path(
        r"^tickets/(?P<number>T-\d{6,})/acknowledge/$", views.ticket_acknowledge, name="ticket_acknowledge"
    ),
    re_path(r"^tickets/(?P<number>T-\d{6,})/handover/$", views.ticket_handover, name="ticket_handover"),
    re_path(r"^tickets/(?P<number>T-\d{6,})/merge/$", views.ticket_merge, name="ticket_merge"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment"),
]

urlpatterns += [
    path("calls/new/", calls.log_call, name="log_call"),
    path("calls/lookup/", calls.caller_lookup, name="call_lookup"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
]
