"""Huey tasks for outbound messages. They take ids, never objects."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from firstcall.notify.outbound import deliver_many, deliver_now, due_delivery_ids, enqueue_deliveries


# Before other queued work: an acknowledgment or a page waiting behind a burst of escalation
# steps is the delay people notice.
@db_task(priority=10)
def deliver(delivery_id: int) -> str | None:
    status = deliver_now(delivery_id)
    return status.value if status else None


@db_task(priority=10)
def deliver_batch(delivery_ids: list[int]) -> int:
    """Send a batch of deliveries (a burst of pages). Returns how many this worker claimed."""
    return len(deliver_many(delivery_ids))


@db_periodic_task(crontab(minute="*"))
def sweep_deliveries() -> int:
    """Catches deliveries whose scheduled task was lost (a worker down, a queue flushed)."""
    ids = due_delivery_ids()
    enqueue_deliveries(ids)
    return len(ids)
