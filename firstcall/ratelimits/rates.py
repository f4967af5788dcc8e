"""What each rate limit is, its default, and reading overrides from the environment.

No Django imports beyond the exception: settings.py reads FIRSTCALL_RATE_LIMITS and
FIRSTCALL_TRUSTED_PROXIES with these functions, so a bad value stops the server at start.

Every limit counts in fixed windows (the count starts again at the top of each window), so a
client may send up to twice a limit across a window's end; that is the price of one counter
operation per request, and the limits are set with it in mind.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

RATE_PATTERN = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$")
UNIT_SECONDS = {
    **dict.fromkeys(("s", "sec", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
}


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    def describe(self) -> str:
        """'20 an hour', '300 a minute', '30 in 15 minutes'."""
        for unit, size, article in (("day", 86400, "a"), ("hour", 3600, "an"), ("minute", 60, "a")):
            if self.seconds == size:
                return f"{self.count} {article} {unit}"
            if self.seconds % size == 0:
                return f"{self.count} in {self.seconds // size} {unit}s"
        return f"{self.count} in {self.seconds} seconds"


class Counts(enum.Enum):
    """Which requests a limit counts."""

    # Every request, counted before the view runs.
    EVERY = "every"
    # Requests the view refused (a wrong password, signature, secret or token): counted after
    # the view; once over the limit, every request from the key is turned away before it.
    REFUSED = "refused"
    # Requests whose credentials the view accepted (the key is then proven, e.g. a signed
    # Twilio account): counted after the view, so a stranger can never use up someone's limit.
    ACCEPTED = "accepted"


@dataclass(frozen=True)
class Limit:
    name: str
    default: Rate
    counts: Counts
    # Plain words for the 429 answer: "Too many <what> (at most <rate>)".
    what: str


MINUTE, HOUR = 60, 3600

LIMITS: dict[str, Limit] = {
    limit.name: limit
    for limit in (
        # The request form and the portal, signed in or not: a ceiling per address for pages.
        Limit("portal_ip", Rate(300, MINUTE), Counts.EVERY, "pages asked for from your network"),
        # An office behind one address may send many requests in an outage: the per-address
        # limit is generous, the per-email one is not.
        Limit("request_form_ip", Rate(30, HOUR), Counts.EVERY, "requests for help sent from your network"),
        Limit("request_form_email", Rate(10, HOUR), Counts.EVERY, "requests for help sent for this email"),
        Limit("sign_in_email_ip", Rate(20, HOUR), Counts.EVERY, "sign-in links asked for from your network"),
        Limit("sign_in_email_address", Rate(10, HOUR), Counts.EVERY, "sign-in links asked for this email"),
        # Wrong passwords per account are limited by the portal itself (5 in 15 minutes); this
        # one stops one address trying a few passwords on many accounts.
        Limit("sign_in_password_ip", Rate(30, HOUR), Counts.REFUSED, "wrong passwords from your network"),
        Limit(
            "sign_in_link_ip",
            Rate(30, HOUR),
            Counts.REFUSED,
            "unknown or expired sign-in links from your network",
        ),
        Limit("portal_writes_contact", Rate(60, HOUR), Counts.EVERY, "replies and requests sent by you"),
        # Twilio's requests come from its own servers (many for one account, one for many
        # accounts): a wrong signature is limited per address, a signed request per account,
        # far above any real load (a page to a thousand people brings ~4,000 status callbacks).
        Limit(
            "twilio_refused_ip",
            Rate(60, MINUTE),
            Counts.REFUSED,
            "webhook requests without a valid Twilio signature from your address",
        ),
        Limit(
            "twilio_account",
            Rate(30_000, MINUTE),
            Counts.ACCEPTED,
            "webhook requests for this Twilio account",
        ),
        Limit(
            "alert_refused_ip",
            Rate(60, MINUTE),
            Counts.REFUSED,
            "alert requests with a missing or wrong secret from your address",
        ),
        Limit("alert_source", Rate(1200, MINUTE), Counts.ACCEPTED, "alerts posted to this alert source"),
        Limit(
            "api_refused_ip",
            Rate(30, MINUTE),
            Counts.REFUSED,
            "requests with a missing or invalid API token from your address",
        ),
        Limit("api_token", Rate(1200, MINUTE), Counts.ACCEPTED, "requests with this API token"),
        Limit("api_ip", Rate(3000, MINUTE), Counts.EVERY, "API requests from your address"),
    )
}


def parse_rate(text: str) -> Rate:
    """'20/hour', '20/h', '5/15min', '600/minute', '10/30s'; raises ValueError."""
    match = RATE_PATTERN.match(text.lower())
    if match is None:
        raise ValueError(f"{text!r} is not a rate like 20/hour or 5/15min")
    count, multiple, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3)
    if unit not in UNIT_SECONDS:
        raise ValueError(f"{unit!r} in {text!r} is not a unit: use s, min, hour or day")
    if count < 1 or multiple < 1:
        raise ValueError(f"{text!r}: the count and the period must be at least 1")
    return Rate(count, multiple * UNIT_SECONDS[unit])


def rate_overrides(variable: str, raw: str) -> dict[str, Rate | None]:
    """'request_form_ip=60/hour, twilio_account=off' → {name: Rate, or None for off}."""
    overrides: dict[str, Rate | None] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        name, equals, value = (piece.strip() for piece in item.partition("="))
        if not equals or name not in LIMITS:
            known = ", ".join(sorted(LIMITS))
            raise ImproperlyConfigured(f"{variable}: {item!r} is not name=rate with a name among: {known}")
        if value.lower() == "off":
            overrides[name] = None
            continue
        try:
            overrides[name] = parse_rate(value)
        except ValueError as error:
            raise ImproperlyConfigured(f"{variable}: {name}: {error}") from None
    return overrides


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def proxy_networks(variable: str, items: list[str]) -> tuple[Network, ...]:
    """Addresses or networks ('10.0.0.5', '10.1.0.0/16', '::1') of trusted reverse proxies."""
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"{variable}: {item!r} is not an IP address or network") from None
    return tuple(networks)
