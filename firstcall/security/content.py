"""What the suspicious email says and carries: payment-change, urgency and secrecy language,
links whose visible text names one site while they lead to another, and attachments that run
code (programs, macro documents, web pages, archives holding programs).

Pure: no database. The phrase lists are plain text, easy to extend; matching is on whole words,
case-insensitive, a space matches any run of whitespace and an apostrophe ' or ’.
"""

from __future__ import annotations

import io
import ipaddress
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qs, unquote, urlsplit

from firstcall.security.lookalike import decode_idna

# Asking to pay somewhere new, or to change where money goes.
PAYMENT_PHRASES: tuple[str, ...] = (
    "bank details",
    "banking details",
    "bank account details",
    "bank information",
    "banking information",
    "bank info",
    "new bank",
    "new account",
    "new banking",
    "different account",
    "change of bank",
    "changed our bank",
    "changed bank",
    "updated bank",
    "update our bank",
    "update the bank",
    "account number",
    "routing number",
    "aba number",
    "sort code",
    "iban",
    "swift code",
    "bic code",
    "wire",
    "wire transfer",
    "wire the",
    "ach",
    "ach transfer",
    "remittance",
    "payment details",
    "payment information",
    "payment instructions",
    "direct deposit",
    "payroll account",
    "beneficiary",
    "escrow",
    "closing funds",
    "settlement funds",
    "outstanding invoice",
    "overdue invoice",
    "unpaid invoice",
)
# Gift cards are how impersonators of a boss get paid; hardly any genuine request asks for them.
GIFT_CARD_PHRASES: tuple[str, ...] = (
    "gift card",
    "gift cards",
    "itunes card",
    "itunes cards",
    "google play card",
    "google play cards",
    "steam card",
    "apple card",
    "amazon card",
    "scratch off",
    "scratch the back",
)
URGENCY_PHRASES: tuple[str, ...] = (
    "urgent",
    "urgently",
    "asap",
    "as soon as possible",
    "immediately",
    "right away",
    "right now",
    "today",
    "end of day",
    "end of the day",
    "eod",
    "time sensitive",
    "time-sensitive",
    "final notice",
    "final reminder",
    "within 24 hours",
    "within the hour",
    "act now",
    "quick favor",
    "quick favour",
)
SECRECY_PHRASES: tuple[str, ...] = (
    "confidential",
    "strictly confidential",
    "keep this between us",
    "between us",
    "between you and me",
    "do not discuss",
    "don't discuss",
    "do not tell",
    "don't tell",
    "do not mention",
    "don't mention",
    "discreet",
    "discretion",
    "keep this quiet",
    "keep it quiet",
    "private matter",
)
# Heading off the phone call that would expose the trick.
AVOID_CALL_PHRASES: tuple[str, ...] = (
    "in a meeting",
    "in meetings",
    "can't talk",
    "cannot talk",
    "can't take calls",
    "cannot take calls",
    "can't take your call",
    "unable to take calls",
    "unable to talk",
    "don't call",
    "do not call",
    "no calls",
    "email only",
    "reply by email",
    "only reachable by email",
    "on a flight",
    "about to board",
    "traveling",
    "travelling",
)


def _phrase_pattern(phrases: Iterable[str]) -> re.Pattern[str]:
    def source(phrase: str) -> str:
        words = phrase.lower().split()
        return r"\s+".join(re.escape(word).replace("'", "['’]") for word in words)

    ordered = sorted(set(phrases), key=len, reverse=True)  # the longest phrase wins at a position
    return re.compile(r"(?<!\w)(?:" + "|".join(source(p) for p in ordered) + r")(?!\w)", re.IGNORECASE)


PHRASE_PATTERNS: dict[str, re.Pattern[str]] = {
    "payment": _phrase_pattern(PAYMENT_PHRASES),
    "gift_cards": _phrase_pattern(GIFT_CARD_PHRASES),
    "urgency": _phrase_pattern(URGENCY_PHRASES),
    "secrecy": _phrase_pattern(SECRECY_PHRASES),
    "avoids_call": _phrase_pattern(AVOID_CALL_PHRASES),
}
MAX_QUOTES = 4


@dataclass(frozen=True)
class PhraseHits:
    """The distinct phrases of one family found in a text, as written, and where the first is."""

    family: str
    phrases: tuple[str, ...]
    excerpt: str


def _excerpt(text: str, start: int, end: int, width: int = 60) -> str:
    left = max(0, start - width)
    right = min(len(text), end + width)
    snippet = " ".join(text[left:right].split())
    return ("…" if left else "") + snippet + ("…" if right < len(text) else "")


def find_phrases(text: str) -> dict[str, PhraseHits]:
    """Each phrase family found in ``text``: the first few distinct phrases and an excerpt."""
    found: dict[str, PhraseHits] = {}
    for family, pattern in PHRASE_PATTERNS.items():
        phrases: list[str] = []
        excerpt = ""
        for match in pattern.finditer(text):
            quote = " ".join(match.group(0).split())
            if not excerpt:
                excerpt = _excerpt(text, match.start(), match.end())
            if quote.lower() not in (p.lower() for p in phrases):
                phrases.append(quote)
            if len(phrases) >= MAX_QUOTES:
                break
        if phrases:
            found[family] = PhraseHits(family, tuple(phrases), excerpt)
    return found


# --- links ---------------------------------------------------------------------------------

# Visible text that names a site: "https://vendor.example/pay", "www.vendor.example", "vendor.example".
_SHOWN_HOST = re.compile(
    r"^\s*(?:[a-z][a-z0-9+.-]*://)?(?:[^\s/@]+@)?((?:[\w-]+\.)+[a-z\u00a1-\uffff][\w-]*)(?::\d+)?(?:[/?#]\S*)?\s*$",
    re.IGNORECASE,
)
MAX_LINKS = 500


@dataclass(frozen=True)
class Link:
    href: str
    text: str


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[Link] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a" and len(self.links) < MAX_LINKS:
            self._close()
            self._href = next((value or "" for name, value in attrs if name == "href"), None)
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._close()

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def _close(self) -> None:
        if self._href is not None:
            self.links.append(Link(self._href.strip(), " ".join("".join(self._text).split())))
        self._href = None
        self._text = []

    def close(self) -> None:
        super().close()
        self._close()


def links_in(html: str) -> list[Link]:
    """Every <a href> of an HTML body with its visible text (stdlib html.parser; never raises)."""
    collector = _LinkCollector()
    try:
        collector.feed(html)
        collector.close()
    except Exception:  # html.parser is lenient; keep whatever was read before a failure
        pass
    return collector.links


def unwrap_link(href: str) -> str:
    """The real destination of a link rewritten by a mail filter (Microsoft Safe Links,
    Proofpoint URL Defense, Google's redirect), else the link itself."""
    try:
        parts = urlsplit(href)
    except ValueError:
        return href
    host = (parts.hostname or "").lower()
    query = parse_qs(parts.query)
    if host.endswith("safelinks.protection.outlook.com") and query.get("url"):
        return query["url"][0]
    if host in ("www.google.com", "google.com") and parts.path == "/url" and query.get("q"):
        return query["q"][0]
    if host == "urldefense.com" and "/v3/__" in href:
        # https://urldefense.com/v3/__https://real.example/path__;!!token$
        return unquote(href.split("/v3/__", 1)[1].split("__;", 1)[0])
    return href


def host_of(url: str) -> str:
    """The host a URL leads to, lowercase, IDNA decoded; "" for none (mailto:, relative)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        return ""
    if parts.scheme and parts.scheme.lower() not in ("http", "https"):
        return ""
    return decode_idna(host)


def site_of(host: str) -> str:
    """The site a host belongs to, for comparing two hosts: the last two labels, or three
    under a country ending with a short second level (example.co.uk)."""
    labels = host.lower().rstrip(".").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and len(labels[-2]) <= 3:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class LinkProblem:
    text: str
    href: str
    shown_host: str
    real_host: str
    why: str


def link_problems(html: str) -> tuple[list[LinkProblem], list[str]]:
    """Links whose visible text names another site than the one they lead to, or that lead to
    a bare IP address; and every host the links lead to (for the lookalike check)."""
    problems: list[LinkProblem] = []
    hosts: list[str] = []
    for link in links_in(html):
        destination = unwrap_link(link.href)
        real = host_of(destination)
        if not real:
            continue
        if real not in hosts:
            hosts.append(real)
        shown_match = _SHOWN_HOST.match(link.text) if link.text and len(link.text) < 300 else None
        shown = decode_idna(shown_match.group(1)) if shown_match else ""
        if shown and "." in shown and site_of(shown) != site_of(real):
            why = f"the text shows {shown} but the link goes to {real}"
            problems.append(LinkProblem(link.text, destination, shown, real, why))
        elif is_ip_address(real):
            problems.append(
                LinkProblem(link.text, destination, shown, real, f"the link goes to a bare address {real}")
            )
    return problems, hosts


# --- attachments ---------------------------------------------------------------------------

EXECUTABLE_EXTENSIONS: frozenset[str] = frozenset(
    {
        "exe", "scr", "com", "bat", "cmd", "pif", "cpl", "msi", "msix", "msp", "appx", "appxbundle",
        "jar", "js", "jse", "vbs", "vbe", "wsf", "wsh", "ps1", "psm1", "hta", "lnk", "reg", "dll",
        "iso", "img", "vhd", "vhdx", "one", "url", "application", "gadget", "sct", "chm", "xll",
        "scf", "inf", "msc", "apk", "dmg", "pkg", "app", "sh", "command",
    }
)  # fmt: skip
MACRO_EXTENSIONS: frozenset[str] = frozenset(
    {"docm", "dotm", "xlsm", "xltm", "xlam", "xlsb", "pptm", "potm", "ppam", "ppsm", "sldm"}
)
WEB_PAGE_EXTENSIONS: frozenset[str] = frozenset({"htm", "html", "shtml", "xhtml", "svg", "mht", "mhtml"})
ARCHIVE_EXTENSIONS: frozenset[str] = frozenset(
    {"zip", "rar", "7z", "gz", "tgz", "tar", "cab", "ace", "arj", "bz2", "xz", "lzh", "z"}
)
EXECUTABLE_TYPES: frozenset[str] = frozenset(
    {
        "application/x-msdownload",
        "application/x-dosexec",
        "application/x-msdos-program",
        "application/x-ms-installer",
        "application/hta",
        "application/x-sh",
        "application/java-archive",
    }
)
MAX_ARCHIVE_ENTRIES = 2_000

RiskKind = str  # "executable", "macro", "web_page", "archive"


@dataclass(frozen=True)
class RiskyAttachment:
    filename: str
    kind: RiskKind
    why: str


def extension_of(filename: str) -> str:
    name = filename.strip().lower().rstrip(". ")
    return name.rpartition(".")[2] if "." in name else ""


def _kind_of_name(filename: str, content_type: str = "") -> RiskKind | None:
    extension = extension_of(filename)
    if extension in EXECUTABLE_EXTENSIONS or content_type.lower() in EXECUTABLE_TYPES:
        return "executable"
    if extension in MACRO_EXTENSIONS or "macroenabled" in content_type.lower():
        return "macro"
    if extension in WEB_PAGE_EXTENSIONS or content_type.lower() in ("text/html", "image/svg+xml"):
        return "web_page"
    if extension in ARCHIVE_EXTENSIONS:
        return "archive"
    return None


def _disguise(filename: str) -> str:
    """' (disguised as a .pdf)' for invoice.pdf.exe; '' otherwise."""
    parts = filename.lower().split(".")
    if len(parts) >= 3 and parts[-2] in {"pdf", "doc", "docx", "xls", "xlsx", "jpg", "png", "txt"}:
        return f" (disguised as a .{parts[-2]})"
    return ""


def _inside_zip(content: bytes) -> tuple[list[str], bool] | None:
    """The names inside a zip file and whether any entry is encrypted; None if unreadable."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            entries = archive.infolist()[:MAX_ARCHIVE_ENTRIES]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return None
    return [entry.filename for entry in entries], any(entry.flag_bits & 0x1 for entry in entries)


def assess_attachment(filename: str, content_type: str, content: bytes) -> RiskyAttachment | None:
    """Why an attachment is risky to open, or None."""
    kind = _kind_of_name(filename, content_type)
    if kind is None:
        return None
    shown = filename or "(unnamed)"
    if kind == "executable":
        return RiskyAttachment(shown, kind, f"{shown} is a program or script{_disguise(filename)}")
    if kind == "macro":
        return RiskyAttachment(shown, kind, f"{shown} is an Office document that can run macros")
    if kind == "web_page":
        return RiskyAttachment(shown, kind, f"{shown} is a web page (a common way to fake a sign-in page)")
    listing = (
        _inside_zip(content) if extension_of(filename) == "zip" or content[:4] == b"PK\x03\x04" else None
    )
    if listing is None:
        return RiskyAttachment(shown, "archive", f"{shown} is an archive we cannot look inside")
    names, encrypted = listing
    inner = [name for name in names if _kind_of_name(name) in ("executable", "macro", "web_page")]
    if inner:
        listed = ", ".join(inner[:3]) + ("…" if len(inner) > 3 else "")
        return RiskyAttachment(shown, "executable", f"{shown} holds {listed}")
    if encrypted:
        return RiskyAttachment(
            shown, "archive", f"{shown} is password-protected, which hides it from virus scanners"
        )
    return None
