"""Browser tests: Playwright driving Debian's Chromium against the app served on loopback by
pytest-django's live server (a real HTTP server in a thread of this process, on the test
database).

Without /usr/bin/chromium (Debian package chromium) these tests skip with the reason — except
under CI=true, where a missing Chromium is a failure (CI installs it). FIRSTCALL_CHROMIUM names
another Chromium binary.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connections
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from firstcall.accounts.models import User

CHROMIUM = os.environ.get("FIRSTCALL_CHROMIUM", "/usr/bin/chromium")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# Generous for a slow CI machine; a step that needs longer is broken, not slow.
STEP_TIMEOUT_MS = 15_000


def require_chromium() -> None:
    """Skip the calling test without Chromium; fail instead under CI=true."""
    if Path(CHROMIUM).exists():
        return
    reason = f"Chromium is not installed ({CHROMIUM} missing; apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: CI must install it", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    """Chromium, started for one test and stopped after it.

    Not once per session: while Playwright's sync API runs, its asyncio loop is the thread's
    running loop, and Django (asgiref's Local) then hands out *other* database connection
    objects — ones without the test database's serialized contents, so every transactional test
    after the first browser test would lose the rows the migrations seed."""
    require_chromium()
    # Playwright's sync API keeps an asyncio loop running in this thread; the ORM calls the
    # tests make around it are plain synchronous calls, which Django would otherwise refuse.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
            # The connections opened while Playwright ran belong to its loop's context: close
            # them before it goes.
            connections.close_all()


NewContext = Callable[..., BrowserContext]


@pytest.fixture
def new_context(
    chromium: Browser, live_server: Any, transactional_db: None, django_db_serialized_rollback: None
) -> Iterator[NewContext]:
    """Browser contexts (a fresh cookie jar each) on the live server, desktop-sized by default.

    The live server reads the database from another thread, so the test's rows are committed
    (a transactional test); the rows the migrations seed (calendars, policies) are restored
    after it (serialized rollback), or tests that run later would miss them."""
    contexts: list[BrowserContext] = []

    def make(viewport: dict[str, int] | None = None, **kwargs: Any) -> BrowserContext:
        context = chromium.new_context(base_url=live_server.url, viewport=viewport or DESKTOP, **kwargs)
        context.set_default_timeout(STEP_TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: NewContext) -> Page:
    return new_context().new_page()


def sign_in_as(context: BrowserContext, user: User, live_server: Any) -> None:
    """Put a signed-in session for ``user`` into the browser's cookie jar (the sign-in form
    itself is tested once, in the technician's walk)."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session.session_key or "", "url": live_server.url}]
    )
