"""Helpers for the staff sign-in tests: the code an authenticator app would show now, staff who
set up their app through the pages, and a frozen clock (codes change every 30 seconds, and a
code already used is refused, so tests move the clock on between codes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client as HttpClient
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from firstcall.accounts.models import User

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CODE_STEP = timedelta(seconds=30)
SET_UP = "/account/two-factor/set-up/"
CODE = "/account/two-factor/code/"


def app_code(user: User) -> str:
    """The six digits the user's authenticator app shows now."""
    device = TOTPDevice.objects.filter(user=user).order_by("-pk").first()
    assert device is not None, f"{user} has no authenticator app"
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def wrong_code(user: User) -> str:
    return f"{(int(app_code(user)) + 1) % 1_000_000:06d}"


@pytest.fixture
def clock() -> Iterator[Any]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def set_up_app(clock: Any) -> Callable[[User], list[str]]:
    """Set up the user's app as they would (the set-up page, then a first code); returns the
    backup codes shown. The clock then moves on, so the next code is a new one."""

    def set_up(user: User) -> list[str]:
        browser = HttpClient()
        browser.force_login(user)
        assert browser.get(SET_UP).status_code == 200
        response = browser.post(SET_UP, {"code": app_code(user), "next": "/"})
        assert response.status_code == 200, response.content.decode()
        clock.shift(CODE_STEP)
        codes: list[str] = response.context["backup_codes"]
        return codes

    return set_up


def sign_in(browser: HttpClient, username: str, password: str, next_url: str = "") -> Any:
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return browser.post("/login/", data)


@pytest.fixture
def manager(db: None) -> User:
    return User.objects.create_user(
        "mina", "mina@msp.example", "mina-pass-123", role="manager", first_name="Mina"
    )
