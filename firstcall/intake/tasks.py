"""Huey tasks for intake."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from firstcall.intake.pipeline import retry_stuck_inbound


@db_periodic_task(crontab(minute="*"))
def sweep_inbound() -> int:
    """Processes payloads that were stored but not processed (a crash mid-way)."""
    return retry_stuck_inbound()
