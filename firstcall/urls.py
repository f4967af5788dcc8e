from django.contrib import admin
from django.urls import include, path

from firstcall.api.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("hooks/", include("firstcall.intake.urls")),
    path("request/", include("firstcall.portal.urls")),
    path("", include("firstcall.console.urls")),
]
