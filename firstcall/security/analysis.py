"""The analysis of a suspicious email: findings, each with its evidence (for the technician)
and a plain sentence (for the client), a score and a verdict.

Every red flag adds its weight from ``WEIGHTS`` to the score, once per kind however often it
shows; the score is capped at 100. Checks that passed and checks that could not be made are
findings too (weight 0), so nobody mistakes "not checked" for "fine". Pure: no database, and
the DKIM key lookup is a parameter (no network unless the caller passes a resolver).

The verdict is only a first read: the answer comes from the phone call to a number we already
had (``firstcall.security.verification``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from django.db import models

from firstcall.security.authentication import (
    DnsLookup,
    received_spf_result,
    receiving_server_results,
    recheck_dkim,
)
from firstcall.security.content import assess_attachment, find_phrases, link_problems, site_of
from firstcall.security.lookalike import (
    FREE_MAIL_DOMAINS,
    is_same_or_subdomain,
    lookalike_of,
    mixed_script_labels,
)
from firstcall.security.original import OriginalMessage, domain_of


class Verdict(models.TextChoices):
    LIKELY_FRAUD = "likely_fraud", "Likely fraud"
    SUSPICIOUS = "suspicious", "Suspicious"
    NO_RED_FLAGS = "no_red_flags", "No red flags"
    # The forward held no email we could find: nothing to judge.
    UNDETERMINED = "undetermined", "Could not check"


# Points each kind of red flag adds to the score (docs/verification.md explains each).
WEIGHTS: dict[str, int] = {
    # Who really sent it (intact messages only)
    "dmarc_fail": 40,
    "spf_fail": 20,
    "spf_softfail": 10,
    "dkim_fail": 20,
    "dkim_signature_invalid": 20,
    # Who it pretends to be
    "confusable_domain": 50,
    "lookalike_domain": 45,
    "display_name_impersonation": 40,
    "display_name_shows_other_address": 30,
    "mixed_script_domain": 30,
    "reply_to_differs": 25,
    "return_path_differs": 5,
    # What it asks for
    "gift_cards": 30,
    "payment_language": 25,
    "avoids_phone": 20,
    "secrecy_language": 15,
    "urgency_language": 10,
    # What it carries
    "executable_attachment": 40,
    "macro_attachment": 30,
    "html_attachment": 30,
    "link_mismatch": 25,
    "archive_attachment": 15,
}
# A score at or above this is "likely fraud"; at or above SUSPICIOUS_FROM, "suspicious".
LIKELY_FRAUD_FROM = 60
SUSPICIOUS_FROM = 25
MAX_SCORE = 100

State = Literal["red_flag", "passed", "info", "unavailable"]


@dataclass(frozen=True)
class Finding:
    code: str
    state: State
    # A short name for the technician, e.g. "DMARC failed".
    title: str
    # What it was read from: the header, the words, the file name.
    evidence: str
    # One plain sentence for the client.
    explanation: str
    # False for a second red flag of a kind already counted (it adds nothing to the score).
    counted: bool = True

    @property
    def weight(self) -> int:
        return WEIGHTS.get(self.code, 0) if self.state == "red_flag" and self.counted else 0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "weight": self.weight}


@dataclass(frozen=True)
class KnownContact:
    name: str
    email: str


@dataclass(frozen=True)
class KnownParties:
    """What we know of the client whose staff forwarded the email."""

    client_name: str = ""
    client_domains: tuple[str, ...] = ()
    # Domains of the client's contacts outside its own domains (its accountant, its suppliers).
    partner_domains: tuple[str, ...] = ()
    contacts: tuple[KnownContact, ...] = ()

    @property
    def known_domains(self) -> tuple[str, ...]:
        return (*self.client_domains, *self.partner_domains)

    def is_known_address(self, address: str) -> bool:
        address = address.strip().lower()
        return any(contact.email == address for contact in self.contacts)


@dataclass(frozen=True)
class Analysis:
    verdict: Verdict
    score: int
    findings: tuple[Finding, ...]
    # How the original came: "attachment", "inline", or "" when it was not found.
    how: str = ""
    from_name: str = ""
    from_address: str = ""
    subject: str = ""
    reasons: tuple[str, ...] = field(default=())

    @property
    def red_flags(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.state == "red_flag")


def verdict_for(score: int) -> Verdict:
    if score >= LIKELY_FRAUD_FROM:
        return Verdict.LIKELY_FRAUD
    if score >= SUSPICIOUS_FROM:
        return Verdict.SUSPICIOUS
    return Verdict.NO_RED_FLAGS


def analyze(
    original: OriginalMessage | None,
    known: KnownParties,
    *,
    dns_lookup: DnsLookup | None = None,
    dns_timeout: float = 5.0,
) -> Analysis:
    """Findings, score and verdict for the recovered original (None: none was found)."""
    if original is None:
        missing = Finding(
            "original_missing",
            "unavailable",
            "No forwarded email found",
            "The message has no attached email and no forwarded-message block.",
            "We could not find the suspicious email in your message. Forward it to us as an "
            "attachment (in Outlook: More actions → Forward as attachment; in Gmail: ⋮ → Forward "
            "as attachment).",
        )
        return Analysis(Verdict.UNDETERMINED, 0, (missing,))
    findings: list[Finding] = []
    _check_authentication(original, findings, dns_lookup, dns_timeout)
    _check_sender(original, known, findings)
    _check_words(original, findings)
    _check_links(original, known, findings)
    _check_attachments(original, findings)
    counted: dict[str, Finding] = {}
    for index, finding in enumerate(findings):
        if finding.state != "red_flag":
            continue
        if finding.code in counted:
            findings[index] = replace(finding, counted=False)
        else:
            counted[finding.code] = finding
    score = min(MAX_SCORE, sum(finding.weight for finding in counted.values()))
    ordered = sorted(counted.values(), key=lambda f: -f.weight)
    return Analysis(
        verdict=verdict_for(score),
        score=score,
        findings=tuple(findings),
        how=original.how,
        from_name=original.from_name,
        from_address=original.from_address,
        subject=original.subject,
        reasons=tuple(f"{f.title} (+{f.weight})" for f in ordered),
    )


# --- who really sent it -------------------------------------------------------------------------


def _check_authentication(
    original: OriginalMessage, findings: list[Finding], dns_lookup: DnsLookup | None, dns_timeout: float
) -> None:
    if not original.intact:
        findings.append(
            Finding(
                "authentication_unavailable",
                "unavailable",
                "Sender checks unavailable (inline forward)",
                "Forwarded inline: the original's headers (Authentication-Results, Received, "
                "DKIM-Signature, Return-Path) are not in the forward.",
                "We could not check which server really sent it, because it was forwarded as "
                "text; forwarding it as an attachment keeps that proof.",
            )
        )
        return
    results = receiving_server_results(original.header_values("authentication-results"))
    spf_fields = original.header_values("received-spf")
    if results is None and not spf_fields:
        findings.append(
            Finding(
                "authentication_unavailable",
                "unavailable",
                "No record of the receiving server's checks",
                "No Authentication-Results or Received-SPF header in the original.",
                "Your mail server left no record of whether the sender was genuine.",
            )
        )
    evidence = results.text if results is not None else ""
    from_domain = original.from_domain
    if results is not None:
        dmarc = [r.result for r in results.of("dmarc")]
        if "fail" in dmarc:
            findings.append(
                Finding(
                    "dmarc_fail",
                    "red_flag",
                    "DMARC failed",
                    evidence,
                    f"The email claims to come from {from_domain}, but {from_domain}'s own rules "
                    "say it did not send it.",
                )
            )
        elif "pass" in dmarc:
            findings.append(
                Finding(
                    "dmarc_pass",
                    "passed",
                    "DMARC passed",
                    evidence,
                    f"The email really comes from a server allowed to send for {from_domain}.",
                )
            )
    spf = [r.result for r in results.of("spf")] if results is not None else []
    if not spf and spf_fields:
        spf = [received_spf_result(spf_fields[0])]
        evidence = evidence or f"Received-SPF: {spf_fields[0]}"
    if "fail" in spf:
        findings.append(
            Finding(
                "spf_fail",
                "red_flag",
                "SPF failed",
                evidence,
                "The server that sent it is not one the sender's domain allows to send its mail.",
            )
        )
    elif "softfail" in spf:
        findings.append(
            Finding(
                "spf_softfail",
                "red_flag",
                "SPF soft-failed",
                evidence,
                "The server that sent it is probably not one the sender's domain uses.",
            )
        )
    elif "pass" in spf:
        findings.append(
            Finding(
                "spf_pass", "passed", "SPF passed", evidence, "The sending server was allowed to send it."
            )
        )
    if results is not None:
        dkim_results = results.of("dkim")
        passing = [r for r in dkim_results if r.result == "pass"]
        if passing:
            signer = passing[0].property("header.d") or passing[0].property("header.i")
            findings.append(
                Finding(
                    "dkim_pass",
                    "passed",
                    f"DKIM passed{f' ({signer})' if signer else ''}",
                    evidence,
                    "The email was not changed on the way and is signed by the sender's domain.",
                )
            )
        elif any(r.result == "fail" for r in dkim_results):
            findings.append(
                Finding(
                    "dkim_fail",
                    "red_flag",
                    "DKIM failed",
                    evidence,
                    "The email's digital signature does not match: it was forged or altered.",
                )
            )
    check = recheck_dkim(original.raw, dns_lookup, timeout=dns_timeout)
    signers = ", ".join(check.domains)
    if check.status == "valid":
        aligned = any(site_of(d) == site_of(from_domain) for d in check.domains)
        note = "" if aligned else f" — signed by {signers}, not by {from_domain}"
        findings.append(
            Finding(
                "dkim_signature_valid",
                "passed",
                "DKIM signature verified again",
                f"{check.detail}{note}",
                "We checked the email's digital signature ourselves and it is intact.",
            )
        )
    elif check.status == "invalid":
        findings.append(
            Finding(
                "dkim_signature_invalid",
                "red_flag",
                "DKIM signature does not verify",
                check.detail,
                "The email's digital signature does not match its content: it was forged or altered.",
            )
        )
    elif check.status == "unavailable":
        findings.append(
            Finding(
                "dkim_recheck_unavailable",
                "unavailable",
                f"DKIM signature not checked again ({signers})",
                check.detail,
                "We could not check the email's digital signature ourselves this time.",
            )
        )
    else:
        findings.append(
            Finding(
                "dkim_unsigned",
                "info",
                "No DKIM signature",
                check.detail,
                "The email carries no digital signature of its sender.",
            )
        )


# --- who it pretends to be ---------------------------------------------------------------------

_ADDRESS_IN_TEXT = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)


def name_tokens(name: str) -> tuple[str, ...]:
    """A person's name as sorted lowercase words, accents dropped: "Reyes, Dana" and
    "DANA REYES" are the same name."""
    folded = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(char for char in folded if not unicodedata.combining(char))
    return tuple(sorted(re.findall(r"\w+", plain)))


def _impersonated(display_name: str, address: str, known: KnownParties) -> KnownContact | None:
    """The known contact whose full name the display name carries while the address is not
    theirs (nor any known contact's)."""
    shown = set(name_tokens(display_name))
    if not shown or known.is_known_address(address):
        return None
    for contact in known.contacts:
        tokens = name_tokens(contact.name)
        if len(tokens) >= 2 and set(tokens) <= shown and contact.email != address.lower():
            return contact
    return None


def _check_sender(original: OriginalMessage, known: KnownParties, findings: list[Finding]) -> None:
    address = original.from_address
    from_domain = original.from_domain
    sender = f"{original.from_name} <{address}>" if original.from_name else address
    if known.is_known_address(address):
        owner = next(c for c in known.contacts if c.email == address.lower())
        findings.append(
            Finding(
                "known_sender_address",
                "info",
                "Sent from a known contact's address",
                f"From: {sender}",
                f"It comes from the address we have for {owner.name or address}; that mailbox "
                "could still have been broken into, so we confirm by phone.",
            )
        )
    impersonated = _impersonated(original.from_name, address, known)
    if impersonated is not None:
        free = " (a free mail address)" if from_domain in FREE_MAIL_DOMAINS else ""
        findings.append(
            Finding(
                "display_name_impersonation",
                "red_flag",
                f"Display name of {impersonated.name}, another address",
                f"From: {sender}{free}; we know {impersonated.name} as {impersonated.email}",
                f"It shows the name {impersonated.name}, but it was not sent from "
                f"{impersonated.name}'s address.",
            )
        )
    for shown in _ADDRESS_IN_TEXT.findall(original.from_name):
        if shown.lower() != address.lower():
            findings.append(
                Finding(
                    "display_name_shows_other_address",
                    "red_flag",
                    "Display name shows another address",
                    f"From: {sender}",
                    f"The sender's name shows the address {shown}, but the email came from {address}.",
                )
            )
            break
    for reply_to in original.reply_to:
        reply_domain = domain_of(reply_to)
        if reply_domain and from_domain and site_of(reply_domain) != site_of(from_domain):
            findings.append(
                Finding(
                    "reply_to_differs",
                    "red_flag",
                    "Reply-To goes to another domain",
                    f"From: {address}; Reply-To: {reply_to}",
                    f"Replies would not go to {address} but to {reply_to}.",
                )
            )
            break
    return_domain = domain_of(original.return_path) if original.return_path else ""
    if original.intact and return_domain and from_domain and site_of(return_domain) != site_of(from_domain):
        findings.append(
            Finding(
                "return_path_differs",
                "red_flag",
                "Return-Path in another domain",
                f"From: {address}; Return-Path: {original.return_path}",
                "It was sent through another domain's mail system (common for newsletters, "
                "rare for a personal request).",
            )
        )
    for domain in dict.fromkeys([from_domain, *(domain_of(r) for r in original.reply_to)]):
        if not domain:
            continue
        lookalike = lookalike_of(domain, known.known_domains)
        where = "sender" if domain == from_domain else "Reply-To"
        if lookalike is not None:
            findings.append(
                _lookalike_finding(
                    lookalike.domain, lookalike.known, lookalike.how, lookalike.confusable, where
                )
            )
        elif mixed_script_labels(domain):
            findings.append(
                Finding(
                    "mixed_script_domain",
                    "red_flag",
                    "Domain mixes alphabets",
                    f"{where} domain {domain}: {', '.join(mixed_script_labels(domain))}",
                    f"The {where} domain {domain} mixes letters of different alphabets to look like "
                    "another name.",
                )
            )


def _lookalike_finding(domain: str, known: str, how: str, confusable: bool, where: str) -> Finding:
    if confusable:
        return Finding(
            "confusable_domain",
            "red_flag",
            f"Lookalike characters imitating {known}",
            f"{where} domain {domain}: {how}",
            f"The {where} address uses letters from other alphabets so that {domain} looks like {known}; "
            f"it is not {known}.",
        )
    return Finding(
        "lookalike_domain",
        "red_flag",
        f"Domain imitating {known}",
        f"{where} domain {domain}: {how}",
        f"The {where} address is at {domain}, which looks like {known} but is not it.",
    )


# --- what it asks for -------------------------------------------------------------------------

_WORD_FINDINGS: dict[str, tuple[str, str, str]] = {
    # family: (code, title, plain sentence)
    "payment": (
        "payment_language",
        "Payment or bank-detail change",
        "It asks about payments or bank details — the usual aim of this kind of fraud.",
    ),
    "gift_cards": (
        "gift_cards",
        "Gift cards",
        "It asks for gift cards, which genuine businesses hardly ever do.",
    ),
    "urgency": (
        "urgency_language",
        "Pressure to act fast",
        "It pushes you to act quickly, which leaves less time to check.",
    ),
    "secrecy": (
        "secrecy_language",
        "Asks for secrecy",
        "It asks you to keep it confidential, so that nobody else checks it.",
    ),
    "avoids_call": (
        "avoids_phone",
        "Discourages a phone call",
        "It tries to keep you from phoning — exactly the check that exposes fraud.",
    ),
}


def _check_words(original: OriginalMessage, findings: list[Finding]) -> None:
    text = f"{original.subject}\n{original.text}"
    for family, hits in find_phrases(text).items():
        code, title, explanation = _WORD_FINDINGS[family]
        quoted = ", ".join(f"“{phrase}”" for phrase in hits.phrases)
        findings.append(Finding(code, "red_flag", title, f"{quoted} — {hits.excerpt}", explanation))


# --- what it carries --------------------------------------------------------------------------


def _check_links(original: OriginalMessage, known: KnownParties, findings: list[Finding]) -> None:
    if not original.html:
        return
    problems, hosts = link_problems(original.html)
    if problems:
        listed = "; ".join(f"“{p.text[:80]}” → {p.href[:200]}" for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        first = problems[0]
        findings.append(
            Finding(
                "link_mismatch",
                "red_flag",
                "Link text and destination differ",
                f"{listed}{more}",
                f"A link reads {first.shown_host or first.text[:60]} but leads to {first.real_host}.",
            )
        )
    for host in hosts:
        if any(is_same_or_subdomain(host, k) for k in known.known_domains):
            continue
        lookalike = lookalike_of(host, known.known_domains)
        if lookalike is not None:
            findings.append(
                _lookalike_finding(host, lookalike.known, lookalike.how, lookalike.confusable, "link")
            )
            break


_ATTACHMENT_CODES: dict[str, tuple[str, str, str]] = {
    "executable": (
        "executable_attachment",
        "Program or script attached",
        "An attachment is a program: opening it could take over the computer.",
    ),
    "macro": (
        "macro_attachment",
        "Macro document attached",
        "An attachment is an Office document that can run hidden code (macros).",
    ),
    "web_page": (
        "html_attachment",
        "Web page attached",
        "An attachment is a web page, often a fake sign-in page that steals passwords.",
    ),
    "archive": (
        "archive_attachment",
        "Archive we cannot check",
        "An attachment is a packed archive whose contents we could not check.",
    ),
}


def _check_attachments(original: OriginalMessage, findings: list[Finding]) -> None:
    by_kind: dict[str, list[str]] = {}
    for attachment in original.attachments:
        risky = assess_attachment(attachment.filename, attachment.content_type, attachment.content)
        if risky is not None:
            by_kind.setdefault(risky.kind, []).append(risky.why)
    for kind, reasons in by_kind.items():
        code, title, explanation = _ATTACHMENT_CODES[kind]
        findings.append(Finding(code, "red_flag", title, "; ".join(reasons[:5]), explanation))
