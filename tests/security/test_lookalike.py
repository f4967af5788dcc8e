"""Lookalike domains: edit distance, confusable characters, punycode, mixed alphabets."""

from __future__ import annotations

import pytest

from firstcall.security.lookalike import (
    decode_idna,
    edit_distance,
    lookalike_of,
    mixed_script_labels,
    skeleton,
)

KNOWN = ("brightsmile.example", "vendor.example")


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("", "", 0),
        ("abc", "", 3),
        ("vendor", "vendor", 0),
        ("vendor", "vendorr", 1),
        ("vendor", "vedor", 1),
        ("vendor", "vednor", 1),  # two neighbouring letters swapped count once
        ("vendor", "bendor", 1),
        ("kitten", "sitting", 3),
    ],
)
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance == edit_distance(b, a)


def test_skeleton_folds_lookalike_letters_of_other_alphabets() -> None:
    assert skeleton("v\u0435ndor") == "vendor"  # Cyrillic е
    assert skeleton("\u0440\u0430ypal") == "paypal"  # Cyrillic р, а
    assert skeleton("brightsmi1e") == "brightsmile"
    assert skeleton("ｖｅｎｄｏｒ") == "vendor"  # full-width
    assert skeleton("véndor") == "vendor"
    assert skeleton("rnicrosoft") == skeleton("microsoft")


def test_punycode_labels_are_decoded_and_bad_ones_kept() -> None:
    written = "v\u0435ndor.example".encode("idna").decode()
    assert decode_idna(written) == "v\u0435ndor.example"
    assert decode_idna("XN--99999999999.Example.") == "xn--99999999999.example"  # does not decode: kept
    assert decode_idna("xn--zz-\u00ff.example") == "xn--zz-\u00ff.example"  # not ASCII: kept


def test_mixed_alphabets_in_one_label() -> None:
    assert mixed_script_labels("v\u0435ndor.example") == ["v\u0435ndor"]
    assert mixed_script_labels("вендор.example") == []  # all Cyrillic: another name, not a disguise
    assert mixed_script_labels("vendor.example") == []


@pytest.mark.parametrize(
    ("domain", "imitates", "confusable"),
    [
        ("vendorr.example", "vendor.example", False),
        ("vendor.co", "vendor.example", False),
        ("brightsmile-example.com", "brightsmile.example", False),
        ("brightsmile.example.pay-portal.net", "brightsmile.example", False),
        ("brlghtsmile.example", "brightsmile.example", False),
        ("brightsmi1e.example", "brightsmile.example", True),
        ("v\u0435ndor.example".encode("idna").decode(), "vendor.example", True),
    ],
)
def test_lookalikes(domain: str, imitates: str, confusable: bool) -> None:
    found = lookalike_of(domain, KNOWN)
    assert found is not None
    assert (found.known, found.confusable) == (imitates, confusable)


@pytest.mark.parametrize(
    "domain",
    [
        "vendor.example",  # the real one
        "mail.vendor.example",  # a subdomain of it
        "gmail.com",
        "haleporter.example",
        "ven.example",  # too short to call a typo of vendor
        "",
    ],
)
def test_not_lookalikes(domain: str) -> None:
    assert lookalike_of(domain, KNOWN) is None


def test_two_known_domains_that_look_alike_are_both_fine() -> None:
    assert lookalike_of("acne.example", ("acme.example", "acne.example")) is None
    assert lookalike_of("acmee.example", ("acme.example", "acne.example")) is not None
