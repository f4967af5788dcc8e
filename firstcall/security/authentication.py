"""What the receiving mail server checked (Authentication-Results, RFC 8601; Received-SPF,
RFC 7208) and, when the message is intact, its DKIM signature checked again with dkimpy.

The DKIM check needs the signer's public key from DNS. The lookup is a parameter (dkimpy's
``dnsfunc``): production passes a resolver bounded by a timeout, tests pass a key they made,
and with none the check is reported as not done; a verdict never waits on the network.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import dkim  # type: ignore[import-untyped]

# dkimpy's TXT lookup: (name, timeout=…) → the record's bytes, or None when there is none.
DnsLookup = Callable[..., bytes | str | None]
MAX_SIGNATURES_CHECKED = 3


@dataclass(frozen=True)
class MethodResult:
    """One "method=result" of an Authentication-Results field, with its properties
    (header.d, header.from, smtp.mailfrom …)."""

    method: str
    result: str
    properties: tuple[tuple[str, str], ...] = ()

    def property(self, name: str) -> str:
        return next((value for key, value in self.properties if key == name), "")


@dataclass(frozen=True)
class AuthenticationResults:
    authserv_id: str
    results: tuple[MethodResult, ...]
    # The field as written, for the evidence.
    text: str

    def of(self, method: str) -> list[MethodResult]:
        return [result for result in self.results if result.method == method]


def _strip_comments(value: str) -> str:
    """Remove (comments), which may nest, outside "quoted strings"."""
    out: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for char in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
            continue
        if char == "\\":
            escaped = True
            if depth == 0:
                out.append(char)
            continue
        if char == '"' and depth == 0:
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
            continue
        elif not quoted and char == ")" and depth > 0:
            depth -= 1
            continue
        if depth == 0:
            out.append(char)
    return "".join(out)


_TOKEN = re.compile(r'[^\s=;"]+\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^\s;"]*)|"(?:[^"\\]|\\.)*"|[^\s;]+')


def _split_outside_quotes(value: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in value:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_authentication_results(value: str) -> AuthenticationResults:
    """An Authentication-Results field: the server that wrote it and each method's result.
    Lenient: what cannot be read is skipped."""
    segments = _split_outside_quotes(_strip_comments(value), ";")
    head = segments[0].split()
    authserv_id = head[0].lower() if head else ""
    results: list[MethodResult] = []
    for segment in segments[1:]:
        tokens = _TOKEN.findall(segment)
        if not tokens or "=" not in tokens[0]:
            continue  # "none": no result
        method, _, result = tokens[0].partition("=")
        method = method.strip().lower().split("/", 1)[0]
        result = result.strip().strip('"').lower()
        if not method or not result:
            continue
        properties = []
        for token in tokens[1:]:
            key, equals, prop = token.partition("=")
            if equals:
                properties.append((key.strip().lower(), prop.strip().strip('"')))
        results.append(MethodResult(method, result, tuple(properties)))
    return AuthenticationResults(authserv_id, tuple(results), " ".join(value.split()))


def receiving_server_results(fields: list[str]) -> AuthenticationResults | None:
    """The results written by the server that received the message last: the topmost field
    and any further ones from the same server. Fields further down may come from anywhere on
    the way, the sender included, so they are not trusted."""
    if not fields:
        return None
    top = parse_authentication_results(fields[0])
    if not top.authserv_id:
        return None
    results = list(top.results)
    texts = [top.text]
    for field in fields[1:]:
        more = parse_authentication_results(field)
        if more.authserv_id == top.authserv_id:
            results.extend(more.results)
            texts.append(more.text)
    return AuthenticationResults(top.authserv_id, tuple(results), "\n".join(texts))


def received_spf_result(value: str) -> str:
    """The result word of a Received-SPF field ("pass", "softfail" …), lowercase; "" if none."""
    words = value.strip().split(None, 1)
    return words[0].lower().strip(";") if words else ""


DkimStatus = Literal["valid", "invalid", "unavailable", "unsigned"]


@dataclass(frozen=True)
class DkimCheck:
    status: DkimStatus
    # The signing domains (d=) of the signatures, in order.
    domains: tuple[str, ...]
    detail: str


_SIGNATURE_DOMAIN = re.compile(rb"(?:^|;)\s*d\s*=\s*([^;\s]+)", re.IGNORECASE)


class _LookupFailed(Exception):
    """The DNS lookup did not answer (timeout, no resolver): the check is not done."""


class _BoundedLookup:
    """The lookup with the time limit applied, remembering whether a key record came back
    (dkimpy reports a missing key and a wrong signature alike, as False)."""

    def __init__(self, lookup: DnsLookup, limit: float) -> None:
        self.lookup = lookup
        self.limit = limit
        self.found_key = False

    def __call__(self, name: bytes, timeout: float = 5.0) -> bytes | str | None:
        self.found_key = False
        try:
            record = self.lookup(name, timeout=min(timeout, self.limit))
        except dkim.DnsTimeoutError as error:
            raise _LookupFailed(str(error)) from None
        except Exception as error:  # a resolver's own error types: no answer is no verdict
            raise _LookupFailed(f"{type(error).__name__}: {error}") from None
        self.found_key = bool(record)
        return record


def recheck_dkim(raw: bytes, lookup: DnsLookup | None, *, timeout: float = 5.0) -> DkimCheck:
    """Verify the message's DKIM signatures (up to three) again. Valid when one verifies;
    invalid when a key was found and no signature matches; unavailable when no key could be
    had (lookups off, no answer in time, none published) or the message cannot be read."""
    try:
        checker = dkim.DKIM(raw, timeout=timeout)
        signatures = [value for name, value in checker.headers if name.lower() == b"dkim-signature"]
    except Exception as error:  # dkimpy's parser on arbitrary bytes
        return DkimCheck(
            "unavailable", (), f"the message could not be read for DKIM ({type(error).__name__})"
        )
    domains = tuple(
        match.group(1).decode("ascii", "replace").lower()
        for match in (_SIGNATURE_DOMAIN.search(value) for value in signatures)
        if match is not None
    )
    if not signatures:
        return DkimCheck("unsigned", (), "the message carries no DKIM signature")
    if lookup is None:
        return DkimCheck("unavailable", domains, "not checked again: DNS lookups are turned off")
    bounded = _BoundedLookup(lookup, timeout)
    problems: list[str] = []
    for index in range(min(len(signatures), MAX_SIGNATURES_CHECKED)):
        signer = domains[index] if index < len(domains) else "?"
        try:
            if checker.verify(idx=index, dnsfunc=bounded):
                return DkimCheck("valid", domains, f"the signature of {signer} verifies")
        except _LookupFailed as failure:
            return DkimCheck("unavailable", domains, f"the key of {signer} could not be looked up: {failure}")
        except dkim.DKIMException as error:
            problems.append(f"the signature of {signer} is not valid: {error}")
            continue
        except Exception as error:  # dkimpy on arbitrary input
            return DkimCheck("unavailable", domains, f"the check failed ({type(error).__name__})")
        if not bounded.found_key:
            return DkimCheck("unavailable", domains, f"no public key of {signer} was found in DNS")
        problems.append(f"the signature of {signer} does not match the message")
    return DkimCheck("invalid", domains, "; ".join(problems))


def system_dns_lookup() -> DnsLookup:
    """dkimpy's own resolver (dnspython): each lookup gives up after the timeout it is passed
    (``recheck_dkim`` passes FIRSTCALL_VERIFY_DNS_TIMEOUT_SECONDS through ``_BoundedLookup``)."""
    from dkim.dnsplug import get_txt  # type: ignore[import-untyped]

    lookup: DnsLookup = get_txt
    return lookup
