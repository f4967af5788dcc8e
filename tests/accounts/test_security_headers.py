"""HTTP security headers and cookies on the console, the portal and the sign-in pages: a strict
Content-Security-Policy (nothing inline), no framing, no sniffing, same-origin referrers; HSTS,
secure cookies and the HTTPS redirect only under HTTPS settings. The browser tests
(tests/browser/test_csp.py) check that the pages really run under the policy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client as HttpClient

from firstcall.accounts.models import User

pytestmark = pytest.mark.django_db

PACKAGE = Path(__file__).resolve().parents[2] / "firstcall"
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
PAGES = ["/login/", "/request/", "/portal/sign-in/"]


def assert_protected(response: Any) -> None:
    directives = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    assert directives == POLICY
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.parametrize("url", PAGES)
def test_public_pages_send_the_security_headers_and_no_hsts_over_plain_http(url: str) -> None:
    response = HttpClient().get(url)
    assert response.status_code == 200
    assert_protected(response)
    assert "Strict-Transport-Security" not in response


def test_console_pages_send_them_too(bob: User) -> None:
    browser = HttpClient()
    browser.force_login(bob)
    for url in ("/", "/dashboard/", "/calls/new/", "/account/two-factor/", "/account/two-factor/set-up/"):
        response = browser.get(url)
        assert response.status_code == 200, url
        assert_protected(response)


def test_the_session_cookie_is_http_only_and_same_site_lax(bob: User) -> None:
    browser = HttpClient()
    browser.post("/login/", {"username": "bob", "password": "bob-pass-123"})
    cookie = browser.cookies["sessionid"]
    assert cookie["httponly"] is True and cookie["samesite"] == "Lax"
    assert not cookie["secure"]  # the test settings are plain HTTP


@pytest.fixture
def https_settings(settings: Any) -> None:
    """What FIRSTCALL_PUBLIC_URL=https://... sets (tests/accounts/test_deploy_settings.py)."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True


def test_under_https_plain_http_is_redirected(https_settings: None) -> None:
    response = HttpClient().get("/login/?next=/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/login/?next=/"


def test_under_https_pages_send_hsts_and_cookies_are_secure(https_settings: None, bob: User) -> None:
    browser = HttpClient(headers={"X-Forwarded-Proto": "https"})
    page = browser.get("/login/")
    assert page.status_code == 200
    assert_protected(page)
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert browser.cookies["csrftoken"]["secure"] is True

    browser.post("/login/", {"username": "bob", "password": "bob-pass-123"})
    assert browser.cookies["sessionid"]["secure"] is True
    assert browser.get("/").status_code == 200


# Markup the policy refuses: a <style> element, a style attribute, an inline <script> (one
# without src), an event-handler attribute, a javascript: URL.
INLINE = re.compile(
    r"<style\b|\sstyle\s*=|<script\b(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|javascript:", re.IGNORECASE
)


def test_no_template_has_inline_styles_or_scripts() -> None:
    templates = sorted(PACKAGE.glob("*/templates/**/*.html")) + sorted(
        (PACKAGE / "templates").glob("**/*.html")
    )
    assert len(templates) > 30
    offenders = {
        str(path.relative_to(PACKAGE)): INLINE.findall(path.read_text())
        for path in templates
        if INLINE.search(path.read_text())
    }
    assert offenders == {}


def test_the_inline_check_would_see_each_kind() -> None:
    for markup in (
        "<style>p{}</style>",
        '<p style="color:red">',
        "<script>alert(1)</script>",
        '<button onclick="go()">',
        '<a href="javascript:go()">',
    ):
        assert INLINE.search(markup), markup
    assert not INLINE.search('<script src="/static/console/console.js" defer></script>')
