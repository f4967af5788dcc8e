"""The rate-limit decorator, the client's address behind proxies, and the 429 answers.

A view is limited by one or more checks, each naming a limit (``rates.LIMITS``) and what it is
counted per (the client's address, an email address, an API token, a Twilio account, an alert
source, the signed-in contact). Over a limit the view does not run: the answer is 429 with a
``Retry-After`` header and a sentence saying what was limited and when to try again (a page for
people, JSON for the API and webhooks). The endpoint families' decorators are at the bottom.

When the counters cannot be reached (Redis down, disk full) requests go through and the error
is logged: the helpdesk must keep taking requests for help.
"""

from __future__ import annotations

import enum
import hashlib
import ipaddress
import logging
import math
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from firstcall.ratelimits.counters import counter
from firstcall.ratelimits.rates import LIMITS, Counts, Limit, Network, Rate

log = logging.getLogger(__name__)

View = TypeVar("View", bound=Callable[..., HttpResponseBase])
KeyFunction = Callable[[HttpRequest], str | None]

# Set on every limited view: the names of its limits (the URL walk test reads it).
RATE_LIMITS_ATTRIBUTE = "rate_limits"
COUNTER_ERRORS = (sqlite3.Error, redis.RedisError, OSError)


class Reply(enum.Enum):
    PAGE = "page"  # people: an HTML page
    API = "api"  # the JSON API: {"detail": ...}, like its other errors
    WEBHOOK = "webhook"  # webhooks: {"error": ...}, like their other errors


# ---------------------------------------------------------------------------------------------
# What a limit is counted per


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or, when that is a trusted proxy
    (FIRSTCALL_TRUSTED_PROXIES), the nearest address in X-Forwarded-For that is not one. IPv6
    addresses count per /64 network: one home or server is given a whole /64 to rotate through."""
    proxies: tuple[Network, ...] = settings.FIRSTCALL_TRUSTED_PROXIES
    address = _address(request.META.get("REMOTE_ADDR", ""))
    if address is None:
        return "unknown"
    forwarded_for = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded_for and not _trusted(address, proxies):
        _warn_untrusted_proxy(address)
    elif proxies and _trusted(address, proxies):
        hops = [hop.strip() for hop in forwarded_for.split(",")]
        # Right to left: each hop was added by the proxy after it; stop at the first address a
        # trusted proxy did not vouch for (anything further left the client could have written).
        for hop in reversed([hop for hop in hops if hop]):
            forwarded = _address(hop)
            if forwarded is None:
                break
            address = forwarded
            if not _trusted(forwarded, proxies):
                break
    if address.version == 6:
        mapped = address.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


_warned_about: set[str] = set()


def _warn_untrusted_proxy(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    """Once per address and process: a proxy we do not trust makes every client behind it share
    its address (and its limits). A client sending the header itself is harmless: it is ignored."""
    if str(address) in _warned_about or len(_warned_about) > 100:
        return
    _warned_about.add(str(address))
    log.warning(
        "request from %s carries X-Forwarded-For, but %s is not in FIRSTCALL_TRUSTED_PROXIES: if it is "
        "your reverse proxy, add it, or all clients behind it share one rate limit",
        address,
        address,
    )


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: tuple[Network, ...]) -> bool:
    return any(address.version == network.version and address in network for network in proxies)


def _digest(value: str) -> str:
    # Email addresses, tokens and account ids are kept in the counters only as hashes.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def posted(field: str, *, lower: bool = False) -> KeyFunction:
    """A form field of the POST (an email address, Twilio's AccountSid), hashed."""

    def key(request: HttpRequest) -> str | None:
        value = request.POST.get(field, "").strip()
        if lower:
            value = value.lower()
        return _digest(value) if value else None

    return key


def bearer_token(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    return _digest(token.strip()) if scheme.lower() == "bearer" and token.strip() else None


def url_argument(name: str) -> KeyFunction:
    """A part of the URL, e.g. the alert source's slug."""

    def key(request: HttpRequest) -> str | None:
        match = request.resolver_match
        value = match.kwargs.get(name) if match is not None else None
        return str(value) if value else None

    return key


def signed_in_contact(request: HttpRequest) -> str | None:
    from firstcall.portal.access import SESSION_KEY  # the portal imports this module

    contact_id = request.session.get(SESSION_KEY)
    return f"contact-{contact_id}" if isinstance(contact_id, int) else None


# ---------------------------------------------------------------------------------------------
# Checks and the decorator


@dataclass(frozen=True)
class Check:
    """One limit on a view: counted per ``key`` (None: the check does not apply to the request),
    for ``methods`` only (empty: all). For REFUSED and ACCEPTED limits, ``refused`` lists the
    statuses with which the view refuses a request (a wrong signature, secret or token)."""

    limit: str
    key: KeyFunction
    methods: frozenset[str] = frozenset()
    refused: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if self.limit not in LIMITS:
            raise ValueError(f"no rate limit is named {self.limit!r}")
        if LIMITS[self.limit].counts is not Counts.EVERY and not self.refused:
            raise ValueError(f"{self.limit} counts refused or accepted requests: give the refusal statuses")

    def counts_after(self, response: HttpResponseBase) -> bool:
        counts = LIMITS[self.limit].counts
        if counts is Counts.REFUSED:
            return response.status_code in self.refused
        if counts is Counts.ACCEPTED:
            return response.status_code not in self.refused
        return False


@dataclass(frozen=True)
class Blocked:
    limit: Limit
    rate: Rate
    retry_after: int

    def sentence(self) -> str:
        return (
            f"Too many {self.limit.what} (at most {self.rate.describe()}). "
            f"Please try again in {_duration(self.retry_after)}."
        )


def configured_rate(name: str) -> Rate | None:
    """The limit's rate: FIRSTCALL_RATE_LIMITS' override, else the default; None when off."""
    overrides: dict[str, Rate | None] = settings.FIRSTCALL_RATE_LIMITS
    return overrides[name] if name in overrides else LIMITS[name].default


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{math.ceil(minutes / 60)} hours"


@dataclass(frozen=True)
class _Counted:
    check: Check
    rate: Rate
    name: str  # the counter's key
    window_start: int


def _applicable(checks: tuple[Check, ...], request: HttpRequest, now: float) -> list[_Counted]:
    found = []
    for check in checks:
        if check.methods and request.method not in check.methods:
            continue
        rate = configured_rate(check.limit)
        key = check.key(request) if rate is not None else None
        if rate is None or key is None:
            continue
        window_start = int(now // rate.seconds) * rate.seconds
        # The period is part of the name: a changed rate never reads another period's count.
        found.append(_Counted(check, rate, f"{check.limit}:{rate.seconds}:{key}", window_start))
    return found


def _blocked_before(counted: list[_Counted], request: HttpRequest, now: float) -> Blocked | None:
    store = counter()
    for item in counted:
        limit = LIMITS[item.check.limit]
        if limit.counts is Counts.EVERY:
            count = store.hit(item.name, item.window_start, item.rate.seconds)
            if count == item.rate.count + 1:  # logged once per window, not for every request over
                log.warning("rate limit %s reached on %s (%s)", limit.name, request.path, item.name)
            over = count > item.rate.count
        else:
            over = store.peek(item.name, item.window_start) >= item.rate.count
        if over:
            retry_after = max(1, math.ceil(item.window_start + item.rate.seconds - now))
            return Blocked(limit, item.rate, retry_after)
    return None


def _count_after(counted: list[_Counted], request: HttpRequest, response: HttpResponseBase) -> None:
    store = counter()
    for item in counted:
        if item.check.counts_after(response):
            count = store.hit(item.name, item.window_start, item.rate.seconds)
            if count == item.rate.count:
                log.warning("rate limit %s reached on %s (%s)", item.check.limit, request.path, item.name)


def too_many_requests(request: HttpRequest, blocked: Blocked, reply: Reply) -> HttpResponse:
    sentence = blocked.sentence()
    response: HttpResponse
    if reply is Reply.PAGE:
        from firstcall.portal.explain import support_phone  # the portal imports this module

        # The portal's look (the page stands in for one of its pages), with the number to call.
        context = {"msp_name": settings.FIRSTCALL_MSP_NAME, "phone": support_phone(), "sentence": sentence}
        response = render(request, "rate_limited.html", context, status=429)
    else:
        field = "detail" if reply is Reply.API else "error"
        response = JsonResponse({field: sentence, "retry_after": blocked.retry_after}, status=429)
    response["Retry-After"] = str(blocked.retry_after)
    response["Cache-Control"] = "no-store"
    return response


def rate_limited(*checks: Check, reply: Reply) -> Callable[[View], View]:
    """Limit a view by ``checks`` (put it outermost, so it sees the view's final answer)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not settings.FIRSTCALL_RATE_LIMITS_ENABLED:
                return view(request, *args, **kwargs)
            now = timezone.now().timestamp()
            counted = _applicable(checks, request, now)
            try:
                blocked = _blocked_before(counted, request, now)
            except COUNTER_ERRORS:
                log.exception("rate limits not checked on %s: the counters are unavailable", request.path)
                return view(request, *args, **kwargs)
            if blocked is not None:
                return too_many_requests(request, blocked, reply)
            response = view(request, *args, **kwargs)
            try:
                _count_after(counted, request, response)
            except COUNTER_ERRORS:
                log.exception("rate limits not counted on %s: the counters are unavailable", request.path)
            return response

        setattr(limited, RATE_LIMITS_ATTRIBUTE, tuple(check.limit for check in checks))
        return limited  # type: ignore[return-value]

    return decorate


def rate_limits_of(view: Callable[..., Any]) -> tuple[str, ...]:
    """The limits a view is decorated with (empty for an unlimited view)."""
    limits: tuple[str, ...] = getattr(view, RATE_LIMITS_ATTRIBUTE, ())
    return limits


# ---------------------------------------------------------------------------------------------
# The endpoint families (docs/security.md lists them with their defaults)

POST = frozenset({"POST"})
PAGES = Check("portal_ip", client_ip)

# Pages of the request form and the portal that change nothing beyond the session.
portal_page = rate_limited(PAGES, reply=Reply.PAGE)
# The public request form.
request_form = rate_limited(
    PAGES,
    Check("request_form_ip", client_ip, POST),
    Check("request_form_email", posted("email", lower=True), POST),
    reply=Reply.PAGE,
)
# A signed-in contact's replies and new requests.
portal_write = rate_limited(PAGES, Check("portal_writes_contact", signed_in_contact, POST), reply=Reply.PAGE)
# Asking for a sign-in link by email.
sign_in_email = rate_limited(
    PAGES,
    Check("sign_in_email_ip", client_ip, POST),
    Check("sign_in_email_address", posted("email", lower=True), POST),
    reply=Reply.PAGE,
)
# Signing in with a password: a refused sign-in answers 400.
sign_in_password = rate_limited(
    PAGES, Check("sign_in_password_ip", client_ip, refused=frozenset({400})), reply=Reply.PAGE
)
# The emailed link's page: an unknown, used or expired link answers 410.
sign_in_link = rate_limited(
    PAGES, Check("sign_in_link_ip", client_ip, refused=frozenset({410})), reply=Reply.PAGE
)
# Twilio webhooks (SMS, voice, status callbacks): 403 is a missing or wrong signature.
TWILIO_REFUSED = frozenset({403})
twilio_webhook = rate_limited(
    Check("twilio_refused_ip", client_ip, refused=TWILIO_REFUSED),
    Check("twilio_account", posted("AccountSid"), refused=TWILIO_REFUSED),
    reply=Reply.WEBHOOK,
)
# Alert webhooks: 401/403 is a missing or wrong secret.
ALERT_REFUSED = frozenset({401, 403})
alert_webhook = rate_limited(
    Check("alert_refused_ip", client_ip, refused=ALERT_REFUSED),
    Check("alert_source", url_argument("slug"), refused=ALERT_REFUSED),
    reply=Reply.WEBHOOK,
)
# API tokens: the JSON API and the PBX call-event webhook (which takes the same tokens).
TOKEN_CHECKS = (
    Check("api_ip", client_ip),
    Check("api_refused_ip", client_ip, refused=frozenset({401})),
    Check("api_token", bearer_token, refused=frozenset({401})),
)
api_endpoint = rate_limited(*TOKEN_CHECKS, reply=Reply.API)
token_webhook = rate_limited(*TOKEN_CHECKS, reply=Reply.WEBHOOK)
