"""A client's business-critical processes as the engine sees them, and when each is next due.

A process ("Payroll submission", every other Friday 14:00 in the client's time zone) raises the
urgency of a ticket that blocks it as its deadline nears: within ``warn_hours`` to high, within
``critical_hours`` to critical. Pure: the stored rows are ``clients.BusinessProcess``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from firstcall.triage.matrix import Urgency

DEFAULT_WARN_HOURS = 48
DEFAULT_CRITICAL_HOURS = 8


def parse_keywords(text: str) -> tuple[str, ...]:
    """'payroll, ADP,  paychex' → ('payroll', 'adp', 'paychex'): lowercased, blanks and repeats dropped."""
    seen: dict[str, None] = {}
    for part in text.split(","):
        keyword = " ".join(part.split()).lower()
        if keyword:
            seen.setdefault(keyword, None)
    return tuple(seen)


def keyword_pattern(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    """Whole words of a lowercased text, an optional plural "s"/"es" ("invoice" finds
    "invoices", "adp" does not find "adapter"); a space matches any run of whitespace.
    (Matching lowercased text is several times faster than a case-insensitive pattern.)"""
    if not keywords:
        return None
    alternatives = sorted(
        (re.escape(k.lower()).replace(r"\ ", r"\s+") for k in keywords), key=len, reverse=True
    )
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?:e?s)?(?!\w)")


@dataclass(frozen=True)
class ProcessSpec:
    """One business-critical process of a client, with the client's time zone."""

    id: int
    name: str
    keywords: tuple[str, ...]
    weekday: int  # 0 = Monday
    at: time  # local wall-clock time in time_zone
    time_zone: str
    every_weeks: int = 1
    # A date on which the process occurs; fixes which weeks count when every_weeks > 1.
    anchor_date: date | None = None
    warn_hours: int = DEFAULT_WARN_HOURS
    critical_hours: int = DEFAULT_CRITICAL_HOURS
    pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), not {self.weekday}")
        if self.every_weeks < 1:
            raise ValueError(f"every_weeks must be at least 1, not {self.every_weeks}")
        if self.every_weeks > 1 and self.anchor_date is None:
            raise ValueError("a process that skips weeks needs an anchor date")
        object.__setattr__(self, "pattern", keyword_pattern(self.keywords))

    def mentioned_in(self, lowered_text: str) -> str | None:
        """The keyword found in ``lowered_text`` (a lowercased text), if it names this process."""
        if self.pattern is None:
            return None
        match = self.pattern.search(lowered_text)
        return match.group(0) if match else None


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def next_deadline(process: ProcessSpec, after: datetime) -> datetime:
    """The first occurrence of ``process`` strictly after ``after`` (aware), in UTC.

    Computed on the local calendar, then converted, so 14:00 stays 14:00 across DST changes.
    A time that does not exist on a spring-forward day (02:30) resolves as zoneinfo does with
    fold=0 (to 03:30 local); a time that occurs twice on a fall-back day means the first.
    """
    if after.tzinfo is None:
        raise ValueError("after must be an aware datetime")
    zone = ZoneInfo(process.time_zone)
    local_day = after.astimezone(zone).date()
    candidate = local_day + timedelta(days=(process.weekday - local_day.weekday()) % 7)
    anchor_week = _monday(process.anchor_date) if process.anchor_date is not None else None
    # At most every_weeks + 1 weekly steps reach an occurrence in the right week after `after`.
    for _ in range(process.every_weeks + 2):
        in_cycle = (
            anchor_week is None or ((_monday(candidate) - anchor_week).days // 7) % process.every_weeks == 0
        )
        if in_cycle:
            occurrence = datetime.combine(candidate, process.at, tzinfo=zone).astimezone(UTC)
            if occurrence > after:
                return occurrence
        candidate += timedelta(days=7)
    raise AssertionError("unreachable: a weekly cycle always has an occurrence")  # pragma: no cover


@dataclass(frozen=True)
class ProcessPressure:
    """What a blocked process does to a ticket's urgency at one moment."""

    process: ProcessSpec
    deadline: datetime
    # None: not close enough to raise anything.
    urgency: Urgency | None
    # The next instant at which `urgency` changes (a threshold, or the deadline passing).
    changes_at: datetime


def process_pressure(process: ProcessSpec, now: datetime) -> ProcessPressure:
    """The urgency a blocked process demands at ``now`` and when that next changes."""
    deadline = next_deadline(process, now)
    warn_from = deadline - timedelta(hours=process.warn_hours)
    critical_from = deadline - timedelta(hours=process.critical_hours)
    if now >= critical_from:
        return ProcessPressure(process, deadline, Urgency.CRITICAL, deadline)
    if now >= warn_from:
        return ProcessPressure(process, deadline, Urgency.HIGH, critical_from)
    return ProcessPressure(process, deadline, None, warn_from)
