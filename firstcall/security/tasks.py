"""Huey tasks for suspicious-email verification: the analysis, after the ticket commits, and a
sweep for analyses that never landed."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from firstcall.security.verification import run_analysis, unanalyzed_verifications


@db_task()
def analyze_verification(ticket_id: int) -> bool:
    """Queued when a verification ticket commits; does nothing if the analysis is stored already."""
    return run_analysis(ticket_id)


@db_periodic_task(crontab(minute="*/5"))
def sweep_verifications() -> int:
    """Analyses whose task was lost (a worker down) or failed, retried a few times."""
    return sum(run_analysis(ticket_id) for ticket_id in unanalyzed_verifications())
