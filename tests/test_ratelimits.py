"""Rate limits on every public endpoint: each family through its real view (429 with a sentence
and Retry-After; a page for people, JSON for the API and webhooks), the client's address behind
proxies, the shared counters (exact across processes), and a walk of the URLconfs proving no
public URL is left unlimited.

Limits are off in the test settings (many tests post in loops); the ``limits`` fixture turns
them on with a fresh counter store, and sets small rates by name.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import redis
import time_machine
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.test import Client as HttpClient
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from firstcall.accounts.models import ApiToken, User
from firstcall.accounts.portal_sign_in import set_portal_password
from firstcall.clients.models import Client, Contact
from firstcall.intake.alerts import create_source
from firstcall.ratelimits import limiter
from firstcall.ratelimits.counters import RedisCounter, SqliteCounter, counter
from firstcall.ratelimits.limiter import client_ip, rate_limits_of
from firstcall.ratelimits.rates import LIMITS, Rate, parse_rate, proxy_networks, rate_overrides
from firstcall.tickets.models import Ticket
from tests.portal.conftest import browser_signed_in_as
from tests.twilio_standin import twilio_signature

pytestmark = pytest.mark.django_db

# 09:00:00 UTC: the start of an hour's and a minute's window, so every wait is a whole window.
NINE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OFFICE = "203.0.113.5"
ELSEWHERE = "198.51.100.7"
TWILIO_TOKEN = "test-auth-token-12345"
PUBLIC_URL = "https://help.msp.example"
ACCOUNT = "AC" + "1" * 32


@pytest.fixture
def limits(settings: Any, tmp_path: Path) -> Iterator[Callable[..., None]]:
    """Limits on, counters empty, time frozen at 09:00; ``limits(name="2/hour", ...)`` sets rates."""
    settings.DATA_DIR = tmp_path  # a counter file of this test's own (SQLite store)
    settings.FIRSTCALL_RATE_LIMITS_ENABLED = True
    settings.FIRSTCALL_RATE_LIMITS = {}
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.FIRSTCALL_PUBLIC_URL = PUBLIC_URL
    counter().clear()  # the Redis store is shared by the whole run

    def configure(**rates: str) -> None:
        settings.FIRSTCALL_RATE_LIMITS = rate_overrides(
            "test", ",".join(f"{k}={v}" for k, v in rates.items())
        )

    with time_machine.travel(NINE, tick=False):
        yield configure


def browser(address: str = OFFICE, **extra: Any) -> HttpClient:
    return HttpClient(REMOTE_ADDR=address, **extra)


def assert_limited(response: Any, sentence: str, retry_after: int, *, json_field: str | None = None) -> None:
    assert response.status_code == 429, response.content
    assert response["Retry-After"] == str(retry_after)
    if json_field is None:
        assert sentence in response.content.decode()
        assert response["Content-Type"].startswith("text/html")
    else:
        assert response.json() == {json_field: sentence, "retry_after": retry_after}


# --- The public request form ----------------------------------------------------------------------


def ask_for_help(http: HttpClient, email: str = "visitor@example.org") -> Any:
    return http.post(
        reverse("portal:request_form"),
        {
            "email": email,
            "name": "A visitor",
            "subject": "Printer down",
            "description": "Nothing prints.",
            "token": str(uuid.uuid4()),
        },
    )


def test_the_request_form_limits_one_network_with_a_page_saying_when_to_try_again(
    limits: Callable[..., None],
) -> None:
    limits(request_form_ip="2/hour")
    office = browser()
    assert ask_for_help(office, "a@example.org").status_code == 302
    assert ask_for_help(office, "b@example.org").status_code == 302

    refused = ask_for_help(office, "c@example.org")

    assert_limited(
        refused,
        "Too many requests for help sent from your network (at most 2 an hour). "
        "Please try again in 60 minutes.",
        3600,
    )
    assert "If it is urgent, call us at" in refused.content.decode()
    assert Ticket.objects.count() == 2
    assert ask_for_help(browser(ELSEWHERE), "c@example.org").status_code == 302
    # Showing the form is not sending it.
    assert office.get(reverse("portal:request_form")).status_code == 200
    with time_machine.travel(NINE + timedelta(hours=1), tick=False):
        assert ask_for_help(office, "c@example.org").status_code == 302


def test_the_request_form_limits_one_email_address_from_any_network(limits: Callable[..., None]) -> None:
    limits(request_form_email="1/hour")
    assert ask_for_help(browser(OFFICE), "same@example.org").status_code == 302

    refused = ask_for_help(browser(ELSEWHERE), "Same@Example.org")

    assert_limited(
        refused,
        "Too many requests for help sent for this email (at most 1 an hour). Please try again in 60 minutes.",
        3600,
    )
    assert ask_for_help(browser(ELSEWHERE), "other@example.org").status_code == 302


# --- Portal sign-in ----------------------------------------------------------------------------


def test_asking_for_sign_in_links_is_limited_per_network_and_per_address(
    limits: Callable[..., None], dana: Contact
) -> None:
    limits(sign_in_email_ip="2/hour", sign_in_email_address="1/hour")
    url = reverse("portal:sign_in")
    office = browser()
    assert office.post(url, {"email": "dana@brightsmile.example"}).status_code == 302
    assert_limited(
        browser(ELSEWHERE).post(url, {"email": "DANA@brightsmile.example"}),
        "Too many sign-in links asked for this email (at most 1 an hour). Please try again in 60 minutes.",
        3600,
    )
    assert office.post(url, {"email": "nobody@example.org"}).status_code == 302
    assert_limited(
        office.post(url, {"email": "third@example.org"}),
        "Too many sign-in links asked for from your network (at most 2 an hour). "
        "Please try again in 60 minutes.",
        3600,
    )
    assert office.get(url).status_code == 200  # the page itself is not an ask


def test_wrong_passwords_from_one_network_are_limited_and_right_ones_do_not_count(
    limits: Callable[..., None], dana: Contact, priya: Contact
) -> None:
    limits(sign_in_password_ip="2/hour")
    set_portal_password(dana, "molar-crown-42")
    set_portal_password(priya, "habeas-corpus-7")
    url = reverse("portal:sign_in_password")
    right = {"email": "dana@brightsmile.example", "password": "molar-crown-42"}
    for _ in range(3):
        assert browser().post(url, right).status_code == 302
    # Two wrong guesses, on two accounts (each account's own pause is after five).
    assert browser().post(url, {**right, "password": "guess-1"}).status_code == 400
    assert (
        browser().post(url, {"email": "priya@haleporter.example", "password": "guess-2"}).status_code == 400
    )

    assert_limited(
        browser().post(url, right),
        "Too many wrong passwords from your network (at most 2 an hour). Please try again in 60 minutes.",
        3600,
    )
    assert browser(ELSEWHERE).post(url, right).status_code == 302


def test_unknown_sign_in_links_from_one_network_are_limited(limits: Callable[..., None]) -> None:
    limits(sign_in_link_ip="2/hour")
    office = browser()
    for n in range(2):
        assert office.get(reverse("portal:sign_in_link", args=[f"guessed-token-{n:020d}"])).status_code == 410

    assert_limited(
        office.post(reverse("portal:sign_in_link", args=["guessed-token-" + "9" * 20])),
        "Too many unknown or expired sign-in links from your network (at most 2 an hour). "
        "Please try again in 60 minutes.",
        3600,
    )


def test_portal_pages_have_a_ceiling_per_network(limits: Callable[..., None]) -> None:
    limits(portal_ip="3/minute")
    office = browser()
    for _ in range(3):
        assert office.get(reverse("portal:sign_in")).status_code == 200

    assert_limited(
        office.get(reverse("portal:request_form")),
        "Too many pages asked for from your network (at most 3 a minute). Please try again in 1 minute.",
        60,
    )
    with time_machine.travel(NINE + timedelta(seconds=45), tick=False):
        assert office.get(reverse("portal:sign_in"))["Retry-After"] == "15"


def test_replies_and_new_requests_are_limited_per_signed_in_contact(
    limits: Callable[..., None], dana: Contact, carl: Contact
) -> None:
    limits(portal_writes_contact="1/hour")
    as_dana, as_carl = browser_signed_in_as(dana), browser_signed_in_as(carl)

    def new_request(http: HttpClient) -> Any:
        form = {
            "subject": "Monitor flickers",
            "description": "Since this morning.",
            "token": str(uuid.uuid4()),
        }
        return http.post(reverse("portal:new_request"), form, REMOTE_ADDR=OFFICE)

    assert new_request(as_dana).status_code == 302
    assert as_dana.get(reverse("portal:new_request")).status_code == 200
    assert_limited(
        new_request(as_dana),
        "Too many replies and requests sent by you (at most 1 an hour). Please try again in 60 minutes.",
        3600,
    )
    assert new_request(as_carl).status_code == 302  # same office, another person


# --- Twilio webhooks ---------------------------------------------------------------------------


def post_twilio(
    params: dict[str, str],
    *,
    name: str = "hooks:twilio_sms_status",
    signed: bool = True,
    address: str = OFFICE,
) -> Any:
    path = reverse(name)
    signature = twilio_signature(TWILIO_TOKEN, PUBLIC_URL + path, params) if signed else "forged"
    return browser(address).post(
        path,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )


def status_callback(n: int, account: str = ACCOUNT) -> dict[str, str]:
    return {"MessageSid": f"SM{n:032x}", "AccountSid": account, "MessageStatus": "delivered"}


def test_wrong_twilio_signatures_are_limited_per_address_without_touching_twilio(
    limits: Callable[..., None],
) -> None:
    limits(twilio_refused_ip="2/minute")
    for n in range(2):
        assert post_twilio(status_callback(n), signed=False).status_code == 403

    assert_limited(
        post_twilio(status_callback(3), signed=False, name="hooks:twilio_voice"),
        "Too many webhook requests without a valid Twilio signature from your address (at most 2 a minute). "
        "Please try again in 1 minute.",
        60,
        json_field="error",
    )
    assert post_twilio(status_callback(4), address=ELSEWHERE).status_code == 204


def test_signed_twilio_requests_are_limited_per_account_and_forgeries_cannot_use_it_up(
    limits: Callable[..., None],
) -> None:
    limits(twilio_account="2/minute", twilio_refused_ip="off")
    for n in range(5):  # unsigned requests naming the account count for nothing
        assert post_twilio(status_callback(n), signed=False).status_code == 403
    assert post_twilio(status_callback(10)).status_code == 204
    assert post_twilio(status_callback(11), address=ELSEWHERE).status_code == 204  # Twilio has many servers

    assert_limited(
        post_twilio(status_callback(12)),
        "Too many webhook requests for this Twilio account (at most 2 a minute). "
        "Please try again in 1 minute.",
        60,
        json_field="error",
    )
    assert post_twilio(status_callback(13, account="AC" + "2" * 32)).status_code == 204


def test_a_twilio_burst_from_one_address_passes_the_default_limits(limits: Callable[..., None]) -> None:
    """What the SMS benchmark sends (200+ requests/s from loopback) is far under the defaults."""
    statuses = {post_twilio(status_callback(n), address="127.0.0.1").status_code for n in range(300)}

    assert statuses == {204}


# --- Alert webhooks ----------------------------------------------------------------------------


def post_alert(secret: str | None, address: str = OFFICE) -> Any:
    body = json.dumps({"title": "Backup failed", "client": "Bright Smile Dental"}).encode()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    return browser(address).post("/hooks/alerts/veeam/", body, content_type="application/json", **headers)


def test_alert_webhooks_limit_wrong_secrets_per_address_and_alerts_per_source(
    limits: Callable[..., None], dental: Client, dana: Contact
) -> None:
    create_source("Veeam", "veeam", secret="veeam-secret-1")
    limits(alert_refused_ip="2/minute", alert_source="2/minute")
    assert post_alert("wrong", ELSEWHERE).status_code == 403
    assert post_alert(None, ELSEWHERE).status_code == 401
    assert_limited(
        post_alert("veeam-secret-1", ELSEWHERE),
        "Too many alert requests with a missing or wrong secret from your address (at most 2 a minute). "
        "Please try again in 1 minute.",
        60,
        json_field="error",
    )

    assert post_alert("veeam-secret-1").status_code == 200
    assert post_alert("veeam-secret-1").status_code == 200
    assert_limited(
        post_alert("veeam-secret-1"),
        "Too many alerts posted to this alert source (at most 2 a minute). Please try again in 1 minute.",
        60,
        json_field="error",
    )


# --- The JSON API and the PBX call-event webhook -------------------------------------------------


def api_get(token: str | None, address: str = OFFICE, path: str = "/api/tickets") -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return browser(address).get(path, **headers)


def test_failed_api_authentication_is_limited_per_address(limits: Callable[..., None], alice: User) -> None:
    token = ApiToken.issue(alice, "script")[1]
    limits(api_refused_ip="2/minute")
    assert api_get("fc_not-a-token").status_code == 401
    assert api_get(None).status_code == 401

    assert_limited(
        api_get(token),
        "Too many requests with a missing or invalid API token from your address (at most 2 a minute). "
        "Please try again in 1 minute.",
        60,
        json_field="detail",
    )
    assert api_get(token, ELSEWHERE).status_code == 200


def test_api_requests_are_limited_per_token_and_per_address(limits: Callable[..., None], alice: User) -> None:
    first, second = ApiToken.issue(alice, "one")[1], ApiToken.issue(alice, "two")[1]
    limits(api_token="2/minute", api_ip="4/minute")
    assert api_get(first).status_code == 200
    assert api_get(first, path="/api/tickets/T-000999").status_code == 404  # counted: the token was good
    assert_limited(
        api_get(first),
        "Too many requests with this API token (at most 2 a minute). Please try again in 1 minute.",
        60,
        json_field="detail",
    )
    assert api_get(second).status_code == 200
    # The schema and docs count towards the address's ceiling too (this is its 5th request).
    assert api_get(None, path="/api/openapi.json").status_code == 429


def test_the_pbx_webhook_takes_the_api_token_limits_and_no_scoped_token(
    limits: Callable[..., None], alice: User, dental: Client
) -> None:
    limits(api_refused_ip="1/minute")
    scoped = ApiToken.issue(alice, "dental RMM", client=dental)[1]
    url = reverse("hooks:call_event")

    refused = browser().post(
        url, b"{}", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {scoped}"
    )
    assert refused.status_code == 403
    assert "scoped to one client" in refused.json()["error"]

    assert browser().post(url, b"{}", content_type="application/json").status_code == 401
    assert_limited(
        browser().post(url, b"{}", content_type="application/json"),
        "Too many requests with a missing or invalid API token from your address (at most 1 a minute). "
        "Please try again in 1 minute.",
        60,
        json_field="error",
    )


# --- Switches and failures -------------------------------------------------------------------------


def test_limits_off_in_settings_or_one_by_one(limits: Callable[..., None], settings: Any) -> None:
    limits(request_form_ip="off", request_form_email="1/hour")
    for n in range(4):
        assert ask_for_help(browser(), f"person{n}@example.org").status_code == 302
    settings.FIRSTCALL_RATE_LIMITS_ENABLED = False
    for _ in range(3):
        assert ask_for_help(browser(), "person0@example.org").status_code == 302


def test_requests_go_through_when_the_counters_are_unavailable(
    limits: Callable[..., None], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    limits(request_form_ip="1/hour")

    class Broken:
        def hit(self, key: str, window_start: int, window_seconds: int) -> int:
            raise sqlite3.OperationalError("disk I/O error")

        def peek(self, key: str, window_start: int) -> int:
            raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(limiter, "counter", Broken)
    with caplog.at_level(logging.ERROR, logger="firstcall.ratelimits.limiter"):
        assert ask_for_help(browser(), "a@example.org").status_code == 302
        assert ask_for_help(browser(), "b@example.org").status_code == 302
    assert "the counters are unavailable" in caplog.text


# --- Rates and settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rate", "words"),
    [
        ("20/hour", Rate(20, 3600), "20 an hour"),
        ("20/h", Rate(20, 3600), "20 an hour"),
        ("300 / minute", Rate(300, 60), "300 a minute"),
        ("5/15min", Rate(5, 900), "5 in 15 minutes"),
        ("10/30s", Rate(10, 30), "10 in 30 seconds"),
        ("100/day", Rate(100, 86400), "100 a day"),
    ],
)
def test_rates_are_read_and_described(text: str, rate: Rate, words: str) -> None:
    assert parse_rate(text) == rate
    assert rate.describe() == words


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            "request_form=20/hour",
            "'request_form=20/hour' is not name=rate with a name among: alert_refused_ip",
        ),
        ("request_form_ip=20", "request_form_ip: '20' is not a rate like 20/hour"),
        ("request_form_ip=20/fortnight", "'fortnight' in '20/fortnight' is not a unit"),
        ("request_form_ip=0/hour", "the count and the period must be at least 1"),
    ],
)
def test_a_bad_rate_setting_stops_the_server_with_the_reason(raw: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="FIRSTCALL_RATE_LIMITS") as error:
        rate_overrides("FIRSTCALL_RATE_LIMITS", raw)
    assert message in str(error.value)


def test_every_limit_has_a_default_and_plain_words() -> None:
    for name, limit in LIMITS.items():
        assert limit.name == name and limit.default.count >= 1 and limit.what


def test_trusted_proxies_must_be_addresses() -> None:
    assert [str(n) for n in proxy_networks("X", ["10.0.0.5", "10.1.0.0/16", "::1"])] == [
        "10.0.0.5/32",
        "10.1.0.0/16",
        "::1/128",
    ]
    with pytest.raises(ImproperlyConfigured, match=r"'proxy\.lan' is not an IP address"):
        proxy_networks("FIRSTCALL_TRUSTED_PROXIES", ["proxy.lan"])


# --- The client's address ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("203.0.113.5", "", "203.0.113.5"),
        # A client cannot pick its address by sending the header itself.
        ("203.0.113.5", "192.0.2.1", "203.0.113.5"),
        # Through the proxy on this machine: the address it saw.
        ("127.0.0.1", "198.51.100.7", "198.51.100.7"),
        # ... and not what the client wrote before it.
        ("127.0.0.1", "192.0.2.1, 198.51.100.7", "198.51.100.7"),
        # Through two trusted proxies (a load balancer in 10.0.0.0/8, then the local one).
        ("127.0.0.1", "198.51.100.7, 10.0.0.9", "198.51.100.7"),
        ("127.0.0.1", "", "127.0.0.1"),
        ("127.0.0.1", "not-an-address", "127.0.0.1"),
        # IPv6 counts per /64; IPv4 mapped into IPv6 as IPv4.
        ("2001:db8:1:2:aaaa::1", "", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.5", "", "203.0.113.5"),
        ("", "", "unknown"),
    ],
)
def test_the_client_address_behind_trusted_proxies(
    settings: Any, remote: str, forwarded: str, expected: str
) -> None:
    settings.FIRSTCALL_TRUSTED_PROXIES = proxy_networks("X", ["127.0.0.1", "::1", "10.0.0.0/8"])
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip(request) == expected


def test_a_proxy_that_is_not_trusted_is_named_in_the_log_once(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.FIRSTCALL_TRUSTED_PROXIES = proxy_networks("X", ["127.0.0.1"])
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.77", HTTP_X_FORWARDED_FOR="198.51.100.7")
    with caplog.at_level(logging.WARNING, logger="firstcall.ratelimits.limiter"):
        assert client_ip(request) == client_ip(request) == "192.0.2.77"
    warnings = [r.getMessage() for r in caplog.records if "FIRSTCALL_TRUSTED_PROXIES" in r.getMessage()]
    assert len(warnings) == 1 and "192.0.2.77 is not in FIRSTCALL_TRUSTED_PROXIES" in warnings[0]


# --- The counters --------------------------------------------------------------------------------


def _hit_many(path: str, times: int) -> None:
    store = SqliteCounter(Path(path))
    for _ in range(times):
        store.hit("shared", 0, 60)


def test_the_sqlite_counters_are_exact_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "ratelimits.sqlite3"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_hit_many, args=(str(path), 150)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    store = SqliteCounter(path)
    assert store.peek("shared", 0) == 600
    assert store.hit("shared", 0, 60) == 601
    assert store.peek("shared", 60) == 0  # the next window starts at zero


def test_the_redis_counters_count_and_expire() -> None:
    url = django_settings.REDIS_URL or "redis://127.0.0.1:6379/0"
    store = RedisCounter(url, f"firstcall:test-ratelimit:{uuid.uuid4()}:")
    try:
        store.peek("k", 0)
    except redis.RedisError:
        pytest.skip("no Redis on loopback")
    try:
        assert [store.hit("k", 0, 60) for _ in range(3)] == [1, 2, 3]
        assert store.peek("k", 0) == 3 and store.peek("k", 60) == 0
        ttl = store._redis().ttl(f"{store.prefix}k:0")
        assert 60 < ttl <= 120
    finally:
        store.clear()
    assert store.peek("k", 0) == 0


# --- Every public URL is limited ----------------------------------------------------------------

# Namespaces whose every page needs a signed-in staff member (tests/console walks them signed out);
# "accounts" is the staff two-factor step, after the password, locked out by django-axes too.
STAFF_ONLY_NAMESPACES = {"console", "admin", "security", "accounts"}
# Public URLs of those namespaces, and why they carry no limit of ours.
NOT_LIMITED_HERE = {
    "console:login": "staff sign-in: django-axes locks a username and address out after failures",
    "admin:login": "staff sign-in through the admin: django-axes, as for the console",
    "console:logout": "signing out changes nothing for a signed-out visitor",
    "admin:logout": "signing out changes nothing for a signed-out visitor",
}


def _walk(patterns: list[Any], namespace: str = "") -> Iterator[tuple[str, Callable[..., Any]]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = (
                f"{namespace}:{pattern.namespace}" if namespace and pattern.namespace else pattern.namespace
            )
            yield from _walk(pattern.url_patterns, inner or namespace)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace else str(pattern.name)
            yield name, pattern.callback


def test_every_url_is_rate_limited_or_for_staff_only() -> None:
    unclassified = []
    limited = set()
    for name, view in _walk(get_resolver().url_patterns):
        if rate_limits_of(view):
            limited.add(name)
        elif name.split(":")[0] not in STAFF_ONLY_NAMESPACES and name not in NOT_LIMITED_HERE:
            unclassified.append(name)

    assert unclassified == [], "public URLs without a rate limit (firstcall/ratelimits/limiter.py)"
    # The walk sees what it should: each family of public endpoints.
    for expected in (
        "portal:request_form",
        "portal:sign_in_password",
        "portal:sign_in_link",
        "portal:attachment",
        "hooks:twilio_sms",
        "hooks:twilio_voice_status",
        "hooks:alertmanager",
        "hooks:call_event",
    ):
        assert expected in limited
    assert any(name.endswith(":list_tickets") for name in limited)
    assert any(name.endswith(":openapi-json") for name in limited)
    # Every limit is applied somewhere.
    used = {limit for _, view in _walk(get_resolver().url_patterns) for limit in rate_limits_of(view)}
    assert used == set(LIMITS)
