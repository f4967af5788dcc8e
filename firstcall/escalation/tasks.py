"""Huey tasks for escalation. They take ids, never objects, and are safe to run twice or late."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from firstcall.escalation.engine import run_step_with_due, sweep
from firstcall.escalation.oncall import extend_all_shifts


@db_task()
def escalation_step(escalation_id: int, expected_level: int) -> int:
    """Fire one escalation level at its minute (scheduled with an ETA) in a batch with the other
    steps due by then; a full batch queues another task for the rest. Returns the number of
    steps fired (0: a batch fired them already)."""
    return run_step_with_due(escalation_id, expected_level)


@db_periodic_task(crontab(minute="*"))
def sweep_escalations() -> int:
    """Catches steps whose scheduled task was lost (a worker down, a queue flushed)."""
    return sweep()


@db_periodic_task(crontab(minute="17", hour="3"))
def extend_on_call_shifts() -> int:
    """Keeps every on-call schedule's shifts materialized weeks ahead."""
    return extend_all_shifts()
