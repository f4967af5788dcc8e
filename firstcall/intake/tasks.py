"""Huey tasks for intake."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from firstcall.intake.mailboxes import due_mailbox_ids, poll_mailbox
from firstcall.intake.pipeline import retry_stuck_inbound


@db_periodic_task(crontab(minute="*"))
def sweep_inbound() -> int:
    """Processes payloads that were stored but not processed (a crash mid-way)."""
    return retry_stuck_inbound()


@db_periodic_task(crontab(minute="*"))
def poll_mailboxes() -> int:
    """Queues a poll of each due IMAP mailbox; each poll claims its mailbox first, so several
    workers (or a slow previous poll) never poll one mailbox twice at once."""
    mailbox_ids = due_mailbox_ids()
    for mailbox_id in mailbox_ids:
        poll_mailbox_task(mailbox_id)
    return len(mailbox_ids)


@db_task()
def poll_mailbox_task(mailbox_id: int) -> str:
    report = poll_mailbox(mailbox_id)
    return "not due or claimed by another worker" if report is None else str(report)
