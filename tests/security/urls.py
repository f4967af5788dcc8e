"""The site's URLs with the verification views mounted as the lead mounts them (at /security/),
until firstcall/urls.py includes them itself."""

from django.urls import URLPattern, URLResolver, include, path

from firstcall import urls as site

urlpatterns: list[URLPattern | URLResolver] = list(site.urlpatterns)
if not any(getattr(pattern, "namespace", None) == "security" for pattern in urlpatterns):
    urlpatterns.insert(0, path("security/", include("firstcall.security.urls")))
