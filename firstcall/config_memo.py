"""A process-local memo for configuration read on every new ticket and edited rarely: SLA
targets and calendars, escalation policies, the triage matrix and rules, a client's downtime
figures and business-critical processes.

A memoized lookup keeps its answer for ``FIRSTCALL_CONFIG_CACHE_SECONDS`` (0 turns the memo
off). Saving or deleting a row of one of the watched models clears every memo at once in the
process that saved it (the admin's); other processes (the worker, other web processes) see the
change within that many seconds. The SLA clocks computed in between are corrected by the
hourly clock audit (``firstcall.sla.tracking.audit_clocks``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from django.apps import apps
from django.conf import settings
from django.db.models.signals import post_delete, post_save

P = ParamSpec("P")
R = TypeVar("R")

# The models whose rows the memoized lookups read.
WATCHED_MODELS = (
    "sla.Calendar",
    "sla.CalendarHours",
    "sla.ClosedDay",
    "sla.SlaTarget",
    "clients.Client",
    "clients.BusinessProcess",
    "clients.Contract",
    "escalation.EscalationPolicy",
    "escalation.EscalationLevel",
    "triage.MatrixCell",
    "triage.TriageRule",
)

_memos: list[dict[Hashable, tuple[float, Any]]] = []
_lock = threading.Lock()


def memoized_config(lookup: Callable[P, R]) -> Callable[P, R]:
    """Memoize ``lookup`` (called with hashable arguments; its answer must not be mutated)."""
    entries: dict[Hashable, tuple[float, Any]] = {}
    _memos.append(entries)

    @wraps(lookup)
    def memoized(*args: P.args, **kwargs: P.kwargs) -> R:
        seconds = settings.FIRSTCALL_CONFIG_CACHE_SECONDS
        if seconds <= 0:
            return lookup(*args, **kwargs)
        key = (args, tuple(sorted(kwargs.items())))
        now = time.monotonic()
        hit = entries.get(key)
        if hit is not None and hit[0] > now:
            value: R = hit[1]
            return value
        value = lookup(*args, **kwargs)
        with _lock:
            entries[key] = (now + seconds, value)
        return value

    return memoized


def clear_config_memos(**_: object) -> None:
    with _lock:
        for entries in _memos:
            entries.clear()


def connect_signals() -> None:
    """Clear the memos whenever a watched row is saved or deleted (called once, at start-up)."""
    for label in WATCHED_MODELS:
        model = apps.get_model(label)
        post_save.connect(clear_config_memos, sender=model, dispatch_uid=f"config-memo-save-{label}")
        post_delete.connect(clear_config_memos, sender=model, dispatch_uid=f"config-memo-delete-{label}")
