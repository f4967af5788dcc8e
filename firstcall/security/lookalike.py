"""Domains that look like a known one but are not it: a letter swapped (brightsmi1e.example),
another alphabet's lookalike letter (Cyrillic "а" for Latin "a", written as xn--… on the wire),
the same name under another ending (brightsmile.co), or the known name inside another domain
(brightsmile-example.com, brightsmile.example.pay-portal.net).

Pure: no database. The confusables are a small skeleton map of the Latin, Cyrillic and Greek
letters and digits that pass for one another in a mail client's font (after Unicode TR39's
idea of a "skeleton": two strings that look alike have the same skeleton); it is enough for
mail domains, which are lowercase and mostly Latin.
"""

from __future__ import annotations

import codecs
import contextlib
import unicodedata
from dataclasses import dataclass

# One lookalike per character, to the plain Latin letter (or digit) it passes for.
_CONFUSABLE_LETTERS: dict[str, str] = {
    # Cyrillic
    "а": "a",
    "в": "b",
    "ь": "b",
    "с": "c",
    "ԁ": "d",
    "е": "e",
    "ё": "e",
    "һ": "h",
    "і": "i",
    "ї": "i",
    "ј": "j",
    "к": "k",
    "ӏ": "l",
    "м": "m",
    "п": "n",
    "о": "o",
    "р": "p",
    "ԛ": "q",
    "г": "r",
    "ѕ": "s",
    "т": "t",
    "џ": "u",
    "ѵ": "v",
    "ԝ": "w",
    "х": "x",
    "у": "y",
    "ү": "y",
    # Greek
    "α": "a",
    "β": "b",
    "ϲ": "c",
    "ε": "e",
    "η": "n",
    "ι": "i",
    "ϳ": "j",
    "κ": "k",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "ω": "w",
    "χ": "x",
    "γ": "y",
    "ζ": "z",
    # Latin letters and digits that pass for others
    "ı": "i",
    "ɩ": "i",
    "ɡ": "g",
    "ɑ": "a",
    "ℓ": "l",
    "ſ": "f",
    "0": "o",
    "1": "l",
    "|": "l",
}
# Letter pairs read as one letter at a glance ("rn" for "m"); applied after the single letters.
_CONFUSABLE_PAIRS: tuple[tuple[str, str], ...] = (("rn", "m"), ("vv", "w"), ("cl", "d"))

# Free mail providers: anyone can have an address there, so they are never a partner's domain.
FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.net",
        "mail.com",
        "zoho.com",
        "yandex.com",
        "yandex.ru",
        "fastmail.com",
    }
)


def edit_distance(a: str, b: str) -> int:
    """Damerau–Levenshtein distance (optimal string alignment): insertions, deletions,
    substitutions and swaps of two neighbouring letters, each counting one."""
    if a == b:
        return 0
    if not a or not b:
        return len(a) or len(b)
    previous_previous: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, start=1):
            cost = 0 if char_a == char_b else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous_previous[j - 2] + 1)
        previous_previous, previous = previous, current
    return previous[-1]


def decode_idna(domain: str) -> str:
    """The domain as people see it: each "xn--" label decoded from punycode (a label that does
    not decode is kept as written)."""
    labels = []
    for label in domain.strip().lower().rstrip(".").split("."):
        if label.startswith("xn--"):
            with contextlib.suppress(UnicodeError, ValueError):
                label = codecs.decode(label[4:].encode("ascii"), "punycode")
        labels.append(label)
    return ".".join(labels)


def skeleton(text: str) -> str:
    """What ``text`` looks like, reduced to plain Latin letters: compatibility forms folded
    (full-width letters), accents dropped, lookalike letters of other alphabets replaced."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).lower())
    plain = "".join(_CONFUSABLE_LETTERS.get(char, char) for char in folded if not unicodedata.combining(char))
    for pair, letter in _CONFUSABLE_PAIRS:
        plain = plain.replace(pair, letter)
    return plain


def scripts_of(label: str) -> set[str]:
    """The alphabets a label's letters come from (LATIN, CYRILLIC, GREEK …); digits and
    hyphens belong to none."""
    scripts: set[str] = set()
    for char in label:
        if not char.isalpha():
            continue
        name = unicodedata.name(char, "")
        scripts.add(name.split(" ", 1)[0] if name else "UNKNOWN")
    return scripts


def mixed_script_labels(domain: str) -> list[str]:
    """Labels of a (decoded) domain that mix alphabets, e.g. Latin with one Cyrillic letter."""
    return [label for label in decode_idna(domain).split(".") if len(scripts_of(label)) > 1]


def _name_and_ending(domain: str) -> tuple[str, str]:
    """A domain's distinctive name and its ending: ("brightsmile", "example") for
    brightsmile.example and mail.brightsmile.example; ("acme", "co.uk") for acme.co.uk."""
    labels = domain.split(".")
    if len(labels) == 1:
        return labels[0], ""
    # A short second-level label under a country ending is part of the ending (co.uk, com.au).
    if len(labels) >= 3 and len(labels[-1]) == 2 and len(labels[-2]) <= 3:
        return labels[-3], ".".join(labels[-2:])
    return labels[-2], labels[-1]


def _allowed_typos(name: str) -> int:
    """Edits a lookalike may differ by: one for short names, two from eight letters up (a
    three-letter name one letter off is another name more often than a trick)."""
    if len(name) < 4:
        return 0
    return 1 if len(name) < 8 else 2


@dataclass(frozen=True)
class Lookalike:
    """``domain`` imitates ``known``; ``how`` says in what way, for the evidence."""

    domain: str
    known: str
    how: str
    # Made of lookalike characters (homoglyphs) rather than a typo: the strongest sign.
    confusable: bool


def is_same_or_subdomain(domain: str, known: str) -> bool:
    return domain == known or domain.endswith("." + known)


def lookalike_of(domain: str, known_domains: list[str] | tuple[str, ...] | set[str]) -> Lookalike | None:
    """The known domain that ``domain`` imitates without being it (nor a subdomain of it), if any."""
    seen = decode_idna(domain)
    knowns = sorted({decode_idna(known) for known in known_domains} - {""})
    if not seen or any(is_same_or_subdomain(seen, known) for known in knowns):
        return None  # it is a known domain: two known domains may well look alike
    for known in knowns:
        found = _compare(domain.strip().lower(), seen, known)
        if found is not None:
            return found
    return None


def _compare(written: str, seen: str, known: str) -> Lookalike | None:
    seen_name, seen_ending = _name_and_ending(seen)
    known_name, known_ending = _name_and_ending(known)
    if skeleton(seen) == skeleton(known) or (
        seen_ending == known_ending and skeleton(seen_name) == skeleton(known_name)
    ):
        if written.startswith("xn--") or ".xn--" in written:
            how = f"written {written}, it displays as {seen}: lookalike characters for {known}"
        else:
            how = f"lookalike characters: {seen} displays almost exactly like {known}"
        return Lookalike(written, known, how, confusable=True)
    if seen_name == known_name and seen_ending != known_ending:
        return Lookalike(
            written, known, f"the same name as {known} under another ending (.{seen_ending})", False
        )
    distance = edit_distance(seen_name, known_name)
    allowed = _allowed_typos(known_name)
    if 0 < distance <= allowed:
        letters = "letter" if distance == 1 else "letters"
        return Lookalike(written, known, f"{distance} {letters} away from {known}", False)
    if len(known_name) >= 5 and known_name in seen and seen_name != known_name:
        return Lookalike(written, known, f"contains the name {known_name} but is not {known}", False)
    return None
