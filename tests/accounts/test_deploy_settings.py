"""The production settings, as firstcall reads them from the environment in a fresh process:
`firstcall check --deploy` has nothing to warn about behind HTTPS, the cookie and transport
settings follow FIRSTCALL_PUBLIC_URL's scheme (or FIRSTCALL_HTTPS), and a misspelt role in
FIRSTCALL_2FA_REQUIRED_ROLES stops the start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k3y-" + "x7Qp9Lm2Vd" * 6,
    "FIRSTCALL_PUBLIC_URL": "https://help.msp.example",
    "ALLOWED_HOSTS": "help.msp.example",
    "DEFAULT_FROM_EMAIL": "support@msp.example",
    "FIRSTCALL_ACCEPTED_ADDRESSES": "support@msp.example",
}
SETTINGS_SHOWN = (
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_PROXY_SSL_HEADER",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SAMESITE",
    "X_FRAME_OPTIONS",
    "SECURE_REFERRER_POLICY",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "FIRSTCALL_2FA_REQUIRED_ROLES",
    "AXES_FAILURE_LIMIT",
)


def run_firstcall(
    tmp_path: Path, environment: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    # Only what the test names: none of the test process's settings leak in.
    env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "HOME": str(tmp_path)}
    env.update({"FIRSTCALL_DATA_DIR": str(tmp_path / "data"), **environment})
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def product_settings(tmp_path: Path, environment: dict[str, str]) -> dict[str, Any]:
    script = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name, None) for name in {SETTINGS_SHOWN!r}}}))"
    )
    done = run_firstcall(
        tmp_path, {"DJANGO_SETTINGS_MODULE": "firstcall.settings", **environment}, "-c", script
    )
    assert done.returncode == 0, done.stderr
    shown: dict[str, Any] = json.loads(done.stdout)
    return shown


def test_check_deploy_is_clean_in_production_settings(tmp_path: Path) -> None:
    done = run_firstcall(
        tmp_path, PRODUCTION, "-m", "firstcall", "check", "--deploy", "--fail-level", "WARNING"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_check_deploy_warns_about_plain_http(tmp_path: Path) -> None:
    plain = {**PRODUCTION, "FIRSTCALL_PUBLIC_URL": "http://help.msp.example"}
    done = run_firstcall(tmp_path, plain, "-m", "firstcall", "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode != 0
    assert "security.W012" in done.stderr and "security.W004" in done.stderr


def test_https_public_address_turns_on_secure_cookies_redirect_and_hsts(tmp_path: Path) -> None:
    assert product_settings(tmp_path, PRODUCTION) == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SAMESITE": "Lax",
        "X_FRAME_OPTIONS": "DENY",
        "SECURE_REFERRER_POLICY": "same-origin",
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "FIRSTCALL_2FA_REQUIRED_ROLES": ["manager", "owner"],
        "AXES_FAILURE_LIMIT": 5,
    }


def test_plain_http_keeps_cookies_usable_and_sends_no_hsts(tmp_path: Path) -> None:
    shown = product_settings(tmp_path, {"FIRSTCALL_PUBLIC_URL": "http://127.0.0.1:8000"})
    assert shown["SESSION_COOKIE_SECURE"] is False and shown["CSRF_COOKIE_SECURE"] is False
    assert shown["SECURE_SSL_REDIRECT"] is False and shown["SECURE_HSTS_SECONDS"] == 0
    assert shown["SECURE_PROXY_SSL_HEADER"] is None
    assert shown["SESSION_COOKIE_HTTPONLY"] is True and shown["X_FRAME_OPTIONS"] == "DENY"


def test_settings_say_otherwise_explicitly(tmp_path: Path) -> None:
    shown = product_settings(
        tmp_path,
        {
            "FIRSTCALL_PUBLIC_URL": "http://help.msp.example",
            "FIRSTCALL_HTTPS": "true",
            "FIRSTCALL_HSTS_SECONDS": "300",
            "FIRSTCALL_PROXY_SSL_HEADER": "X-Forwarded-Scheme",
            "FIRSTCALL_2FA_REQUIRED_ROLES": "owner",
            "FIRSTCALL_SIGN_IN_FAILURE_LIMIT": "8",
        },
    )
    assert shown["SESSION_COOKIE_SECURE"] is True and shown["SECURE_HSTS_SECONDS"] == 300
    assert shown["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_SCHEME", "https"]
    assert shown["FIRSTCALL_2FA_REQUIRED_ROLES"] == ["owner"] and shown["AXES_FAILURE_LIMIT"] == 8


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("FIRSTCALL_2FA_REQUIRED_ROLES", "manager,owners", "'owners' is not a role"),
        ("FIRSTCALL_SIGN_IN_FAILURE_LIMIT", "0", "must be at least 1"),
    ],
)
def test_a_bad_value_stops_the_start(tmp_path: Path, variable: str, value: str, complaint: str) -> None:
    done = run_firstcall(tmp_path, {variable: value}, "-m", "firstcall", "check")
    assert done.returncode == 1
    assert "firstcall: configuration error" in done.stderr and complaint in done.stderr
