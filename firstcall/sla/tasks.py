"""Huey tasks for SLA clocks. They take ids and act only if the moment is still due."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from firstcall.sla.tracking import audit_clocks, check_clock, sweep_clocks


@db_task()
def check_sla_clock(clock_id: int) -> str | None:
    """Scheduled at a clock's next moment (75 % warning or its deadline)."""
    return check_clock(clock_id)


@db_periodic_task(crontab(minute="*"))
def sweep_sla_clocks() -> int:
    """Catches moments whose scheduled task was lost (a worker down, a queue flushed)."""
    return sweep_clocks()


@db_periodic_task(crontab(minute="7"))
def audit_sla_clocks() -> int:
    """Hourly: the stored clocks must equal the clocks recomputed from each ticket's history."""
    return audit_clocks()
