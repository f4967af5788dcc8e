"""Huey tasks for outbound messages. They take ids, never objects."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from firstcall.notify.outbound import deliver_now, due_delivery_ids


# Before other queued work: an acknowledgment or a page waiting behind a burst of escalation
# steps is the delay people notice.
@db_task(priority=10)
def deliver(delivery_id: int) -> str | None:
    status = deliver_now(delivery_id)
    return status.value if status else None


@db_periodic_task(crontab(minute="*"))
def sweep_deliveries() -> int:
    """Catches deliveries whose scheduled task was lost (a worker down, a queue flushed)."""
    ids = due_delivery_ids()
    for delivery_id in ids:
        deliver(delivery_id)
    return len(ids)
