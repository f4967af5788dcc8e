"""The MSP owner's account, created on first start so a newcomer can sign in at once."""

from __future__ import annotations

import secrets

from django.db import IntegrityError, transaction

from firstcall.accounts.models import Role, User
from firstcall.tickets.actions import Actor, audit

OWNER_USERNAME = "owner"


def ensure_owner_account(*, created_by: str = "system") -> tuple[str, str | None]:
    """The owner's username, and a new password if the account was created now (None if an
    owner existed). The password is shown once and stored only hashed."""
    existing = User.objects.filter(role=Role.OWNER, is_active=True).order_by("pk").first()
    if existing is not None:
        return existing.username, None
    password = secrets.token_urlsafe(12)
    try:
        with transaction.atomic():
            User.objects.create_user(
                OWNER_USERNAME, password=password, role=Role.OWNER, is_staff=True, is_superuser=True
            )
            audit(None, Actor.system(created_by), "owner_created", after={"username": OWNER_USERNAME})
    except IntegrityError:  # a user named "owner" exists without the owner role
        return OWNER_USERNAME, None
    return OWNER_USERNAME, password
