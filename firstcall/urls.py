from django.contrib import admin
from django.urls import include, path

from firstcall.api.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("hooks/", include("firstcall.intake.urls")),
    # The public request form (/request/) and the client portal (/portal/).
    path("", include("firstcall.portal.urls")),
    path("security/", include("firstcall.security.urls")),
    path("account/", include("firstcall.accounts.urls")),
    path("", include("firstcall.console.urls")),
]
