"""What a request's words and a monitoring alert say about impact and urgency.

The phrase lists are plain text, easy to extend: matching is case-insensitive and on whole
words ("virus" does not fire on "antivirus"), a space matches any run of whitespace and an
apostrophe matches ' or ’. All lists are compiled into one regular expression (a trie), so a
request is read in one pass however many phrases there are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Phrases that mean the whole company is affected.
COMPANY_PHRASES: tuple[str, ...] = (
    "nobody can",
    "no one can",
    "none of us can",
    "nobody is able",
    "no one is able",
    "nobody has",
    "no one has",
    "everyone is",
    "everyone's",
    "everyone can't",
    "everyone cannot",
    "everyone in the office",
    "everyone here",
    "for everyone",
    "affecting everyone",
    "everybody is",
    "everybody's",
    "everybody can't",
    "for everybody",
    "whole office",
    "entire office",
    "whole company",
    "entire company",
    "whole practice",
    "entire practice",
    "whole firm",
    "entire firm",
    "company-wide",
    "company wide",
    "office-wide",
    "all users",
    "all computers",
    "all pcs",
    "all workstations",
    "all staff",
    "all employees",
    "all of us",
    "all our computers",
    "all of our computers",
    "power outage",
    "power is out",
    "internet is out",
    "internet's out",
    "no internet",
)

# Services whose outage stops everyone ("the server is down"); "my email is down" is one person.
OUTAGE_SUBJECTS: tuple[str, ...] = (
    "server",
    "servers",
    "file server",
    "network",
    "internet",
    "email",
    "e-mail",
    "wifi",
    "wi-fi",
    "phones",
    "phone system",
    "phone lines",
)
OUTAGE_STATES: tuple[str, ...] = (
    "down",
    "is down",
    "are down",
    "'s down",
    "went down",
    "is offline",
    "are offline",
    "has gone down",
    "have gone down",
)
OUTAGE_PHRASES: tuple[str, ...] = tuple(
    f"{subject}{state}" if state.startswith("'") else f"{subject} {state}"
    for subject in OUTAGE_SUBJECTS
    for state in OUTAGE_STATES
)

# Phrases that mean more than one person but not everyone: a team, a department, a site.
TEAM_PHRASES: tuple[str, ...] = (
    "our team",
    "the team",
    "whole team",
    "entire team",
    "our department",
    "the department",
    "whole department",
    "entire department",
    "our branch",
    "the branch",
    "branch office",
    "whole branch",
    "our site",
    "this site",
    "whole site",
    "entire site",
    "whole floor",
    "entire floor",
    "several people",
    "several users",
    "several of us",
    "multiple people",
    "multiple users",
    "many people",
    "many users",
    "a few people",
    "a few users",
    "a few of us",
    "some of us",
    "half the office",
)

# Security incidents that stop the company now: impact company, urgency critical.
SECURITY_CRITICAL_PHRASES: tuple[str, ...] = (
    "ransomware",
    "ransom note",
    "ransom demand",
    "pay a ransom",
    "pay the ransom",
    "encrypted our files",
    "encrypted all our files",
    "encrypted all files",
    "files are encrypted",
    "files have been encrypted",
    "files were encrypted",
    "files got encrypted",
)

# Security signals: impact at least a team (it spreads), urgency at least high.
SECURITY_PHRASES: tuple[str, ...] = (
    "hacked",
    "hacker",
    "hackers",
    "virus",
    "viruses",
    "malware",
    "trojan",
    "spyware",
    "keylogger",
    "phishing",
    "phish",
    "phished",
    "compromised",
    "data breach",
    "breached",
    "unauthorized access",
    "unauthorised access",
    "suspicious login",
    "suspicious sign-in",
    "suspicious payment",
    "suspicious invoice",
    "wire transfer",
    "bank details changed",
    "changed bank details",
    "change of bank details",
    "new bank details",
    "updated bank details",
    "gift cards",
    "clicked a link",
    "clicked on a link",
)

# The requester says it can wait: urgency low (anything that raises urgency still wins).
LOW_URGENCY_PHRASES: tuple[str, ...] = (
    "no rush",
    "no hurry",
    "not urgent",
    "not time sensitive",
    "not time-sensitive",
    "low priority",
    "when you have time",
    "when you get a chance",
    "whenever you have time",
    "whenever you get a chance",
    "at your convenience",
)

# Alert severities that make a monitoring alert urgent; intake marks such a firing alert an
# emergency.
URGENT_ALERT_SEVERITIES: frozenset[str] = frozenset({"critical", "page", "emergency", "disaster"})

# Host-name parts that name a server (after dropping trailing digits): srv01, hp-nas01, DC1, fw-main.
SERVER_HOST_WORDS: frozenset[str] = frozenset(
    {"srv", "server", "dc", "nas", "san", "fw", "firewall", "esx", "esxi", "hv", "hyperv", "sql", "db", "fs"}
)
# Labels that say an alert is about a server, e.g. role=server.
SERVER_LABEL_KEYS: frozenset[str] = frozenset({"role", "device_role", "type", "device_type"})
SERVER_LABEL_VALUES: frozenset[str] = frozenset(
    {"server", "infrastructure", "network", "firewall", "storage", "hypervisor"}
)


# Each phrase list is a family; one pass over the text finds the first phrase of each.
PHRASE_FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("company", COMPANY_PHRASES),
    ("outage", OUTAGE_PHRASES),
    ("team", TEAM_PHRASES),
    ("security_critical", SECURITY_CRITICAL_PHRASES),
    ("security", SECURITY_PHRASES),
    ("low_urgency", LOW_URGENCY_PHRASES),
)


def normalize_phrase(text: str) -> str:
    """Lowercase, one space between words, a plain apostrophe: the form phrases are known by."""
    return " ".join(text.lower().replace("’", "'").split())


def _trie_source(phrases: Iterable[str]) -> str:
    """A regular expression matching any of ``phrases`` (lowercase), built as a trie so the
    engine tries one branch per character instead of every phrase at every position; at a
    position the longest phrase wins. A space matches any run of whitespace, an apostrophe ' or ’.
    """
    root: dict[str, Any] = {}
    for phrase in phrases:
        node = root
        for char in phrase:
            node = node.setdefault(char, {})
        node[""] = {}

    def source(node: dict[str, Any]) -> str:
        branches = []
        for char in sorted(key for key in node if key):
            atom = {" ": r"\s+", "'": "['’]"}.get(char, re.escape(char))
            branches.append(atom + source(node[char]))
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:  # a phrase may end here: the longer ones are tried first (greedy)
            body = f"(?:{body})?"
        return body

    return source(root)


_FAMILY_OF: dict[str, str] = {}
for _family, _phrases in PHRASE_FAMILIES:
    for _phrase in _phrases:
        _FAMILY_OF.setdefault(normalize_phrase(_phrase), _family)
PHRASE_PATTERN = re.compile(r"(?<!\w)" + _trie_source(sorted(_FAMILY_OF)) + r"(?!\w)")
_MY_BEFORE = re.compile(r"(?:^|\W)my\s+$")


@dataclass(frozen=True)
class Phrases:
    """The first words of a text in each family, as written (whitespace collapsed); None if none.
    An outage ("the server is down") counts as company, except right after "my"."""

    company: str | None = None
    team: str | None = None
    security_critical: str | None = None
    security: str | None = None
    low_urgency: str | None = None


def read_phrases(text: str) -> Phrases:
    """What the words of ``text`` say, in one pass (case-insensitive, whole words)."""
    lowered = text.lower()
    # Lowercasing keeps positions for almost every text; when it does not (a rare letter that
    # lowercases to two), the quote is given in lowercase.
    same_positions = len(lowered) == len(text)
    found: dict[str, str] = {}
    for match in PHRASE_PATTERN.finditer(lowered):
        family = _FAMILY_OF[normalize_phrase(match.group(0))]
        if family == "outage":
            if _MY_BEFORE.search(lowered[max(0, match.start() - 16) : match.start()]):
                continue
            family = "company"
        if family not in found:
            words = text[match.start() : match.end()] if same_positions else match.group(0)
            found[family] = " ".join(words.split())
            if len(found) == len(PHRASE_FAMILIES) - 1:  # every family but "outage"
                break
    return Phrases(**found)


def is_server_host(host: str) -> bool:
    """Whether a monitored host's name says it is a server: srv01, hp-nas01, DC1.corp.local,
    fileserver2, 10.0.0.5:9100 (no)."""
    name = host.strip().lower()
    if not name:
        return False
    if name.startswith("[") or name.count(":") > 1:  # an IPv6 address says nothing
        return False
    name = name.split(":", 1)[0]  # instance labels carry a port
    for part in re.split(r"[^a-z0-9]+", name):
        word = part.rstrip("0123456789")
        if word in SERVER_HOST_WORDS or "server" in word or word.startswith("srv"):
            return True
    return False


def server_label(labels: Iterable[tuple[str, str]]) -> str | None:
    """'role=server' when the alert's labels say it concerns a server, else None."""
    for key, value in labels:
        if key.lower() in SERVER_LABEL_KEYS and value.strip().lower() in SERVER_LABEL_VALUES:
            return f"{key}={value}"
    return None
