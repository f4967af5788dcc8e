"""Huey tasks for client portal sign-in. They take an address, never a token."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from firstcall.accounts.portal_sign_in import delete_old_links, issue_sign_in_link


# Before other queued work: someone is waiting at the sign-in page for this email.
@db_task(priority=10)
def send_sign_in_link(email: str) -> str:
    return issue_sign_in_link(email)


@db_periodic_task(crontab(hour="3", minute="17"))
def delete_old_sign_in_links() -> int:
    return delete_old_links()
