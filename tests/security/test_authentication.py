"""Authentication-Results (RFC 8601), Received-SPF, and the DKIM signature checked again with
dkimpy, its DNS lookup injected (a key pair made by the test; no network)."""

from __future__ import annotations

import time
from typing import Any

import dkim

from firstcall.security.authentication import (
    parse_authentication_results,
    received_spf_result,
    receiving_server_results,
    recheck_dkim,
)
from tests.security.corpus import KeyPair, make_key_pair, suspicious_email


def test_results_with_comments_quotes_and_versions() -> None:
    results = parse_authentication_results(
        "mx.google.com; (a comment; with a semicolon) dkim=pass (test mode) header.i=@vendor.example "
        'header.s=s1 header.b="ab;cd"; spf=softfail (google.com: domain of transitioning x@y does not '
        "designate 1.2.3.4 as permitted sender) smtp.mailfrom=x@y; dmarc/1=fail (p=REJECT sp=REJECT "
        "dis=NONE) header.from=vendor.example; arc=none"
    )
    assert results.authserv_id == "mx.google.com"
    assert [(r.method, r.result) for r in results.results] == [
        ("dkim", "pass"),
        ("spf", "softfail"),
        ("dmarc", "fail"),
        ("arc", "none"),
    ]
    assert results.of("dkim")[0].property("header.b") == "ab;cd"
    assert results.of("dmarc")[0].property("header.from") == "vendor.example"


def test_no_result_and_garbage_are_read_leniently() -> None:
    assert parse_authentication_results("mx.example; none").results == ()
    assert parse_authentication_results("").authserv_id == ""
    assert parse_authentication_results(";;; =;(((").results == ()


def test_only_the_receiving_servers_results_are_trusted() -> None:
    # The sender can write any Authentication-Results below the receiving server's own.
    results = receiving_server_results(
        [
            "mx.brightsmile.example; dmarc=fail header.from=vendor.example",
            "mx.brightsmile.example; spf=fail smtp.mailfrom=vendor.example",
            "forged.example; dmarc=pass header.from=vendor.example",
        ]
    )
    assert results is not None
    assert [(r.method, r.result) for r in results.results] == [("dmarc", "fail"), ("spf", "fail")]
    assert receiving_server_results([]) is None


def test_received_spf() -> None:
    assert received_spf_result("Pass (mailfrom) identity=mailfrom; client-ip=1.2.3.4") == "pass"
    assert received_spf_result("  SoftFail; (domain does not designate)") == "softfail"
    assert received_spf_result("") == ""


def signed(keys: KeyPair, text: str = "Please see the invoice.") -> bytes:
    return suspicious_email(
        sender="Vince <vince@vendor.example>",
        subject="Invoice",
        text=text,
        sign_with=(keys, "vendor.example"),
    )


def test_a_signature_that_verifies(keys: KeyPair) -> None:
    check = recheck_dkim(signed(keys), keys.lookup_for("vendor.example"))  # type: ignore[arg-type]
    assert (check.status, check.domains) == ("valid", ("vendor.example",))


def test_a_changed_body_does_not_verify(keys: KeyPair) -> None:
    tampered = signed(keys).replace(b"Please see the invoice.", b"Please pay the new account.")
    check = recheck_dkim(tampered, keys.lookup_for("vendor.example"))  # type: ignore[arg-type]
    assert check.status == "invalid"
    assert "body hash mismatch" in check.detail


def test_another_key_does_not_verify(keys: KeyPair) -> None:
    other = make_key_pair()
    check = recheck_dkim(signed(keys), other.lookup_for("vendor.example"))  # type: ignore[arg-type]
    assert check.status == "invalid"
    assert check.detail == "the signature of vendor.example does not match the message"


def test_no_key_no_lookup_and_failing_lookups_are_no_verdict(keys: KeyPair) -> None:
    message = signed(keys)
    assert recheck_dkim(message, None).status == "unavailable"
    assert recheck_dkim(message, keys.lookup_for("elsewhere.example")).status == "unavailable"  # type: ignore[arg-type]

    def times_out(name: bytes, timeout: float = 5) -> bytes:
        raise dkim.DnsTimeoutError("no answer")

    def breaks(name: bytes, timeout: float = 5) -> bytes:
        raise OSError("network unreachable")

    for lookup in (times_out, breaks):
        check = recheck_dkim(message, lookup)
        assert check.status == "unavailable"
        assert "could not be looked up" in check.detail


def test_the_lookup_gets_the_time_limit(keys: KeyPair) -> None:
    seen: list[Any] = []

    def lookup(name: bytes, timeout: float = 99) -> bytes:
        seen.append(timeout)
        return keys.dns_record

    started = time.monotonic()
    assert recheck_dkim(signed(keys), lookup, timeout=2).status == "valid"
    assert seen == [2]
    assert time.monotonic() - started < 2


def test_unsigned_and_unreadable_messages() -> None:
    plain = suspicious_email(sender="a@b.example", subject="x", text="y")
    assert recheck_dkim(plain, None).status == "unsigned"
    assert recheck_dkim(b"\x00\xff not a message", None).status in ("unsigned", "unavailable")


def test_dns_lookups_follow_the_setting(settings: Any) -> None:
    from dkim.dnsplug import get_txt

    from firstcall.security.verification import configured_dns_lookup

    settings.FIRSTCALL_VERIFY_DNS_TIMEOUT_SECONDS = 0
    assert configured_dns_lookup() is None
    settings.FIRSTCALL_VERIFY_DNS_TIMEOUT_SECONDS = 3
    assert configured_dns_lookup() is get_txt
