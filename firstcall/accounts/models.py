"""Staff users with a role, and API tokens for staff and integrations."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    TECHNICIAN = "technician", "Technician (tier 1)"
    ENGINEER = "engineer", "Engineer"
    MANAGER = "manager", "Manager"
    OWNER = "owner", "Owner"


class User(AbstractUser):
    """A member of the MSP's staff. Client contacts are not users (see clients.Contact)."""

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.TECHNICIAN)
    phone = models.CharField(max_length=32, blank=True, help_text="E.164, e.g. +15551234567")

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


TOKEN_PREFIX = "fc_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the JSON API. Only its SHA-256 is stored; the token is shown once."""

    name = models.CharField(max_length=100, help_text="What uses it, e.g. 'RMM integration'")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    @classmethod
    def issue(cls, user: User, name: str) -> tuple[ApiToken, str]:
        """Create a token; returns the row and the plain token, which is never stored."""
        from firstcall.tickets.actions import Actor, audit  # tickets import this module

        plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, token_hash=hash_token(plain))
        audit(
            None, Actor.system("API tokens"), "api_token_issued", after={"user": user.username, "name": name}
        )
        return token, plain

    @classmethod
    def authenticate(cls, plain: str) -> ApiToken | None:
        """The live token (of an active user) with this value, else None."""
        token = (
            cls.objects.select_related("user")
            .filter(token_hash=hash_token(plain), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if token is None:
            return None
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            cls.objects.filter(pk=token.pk).update(last_used_at=now)
        return token


def staff_with_phone(number: str) -> User | None:
    """The active staff member whose phone is this number, however it was typed in (staff are
    few: their numbers are compared normalized)."""
    from firstcall.clients.models import normalize_phone

    number = normalize_phone(number)
    if not number:
        return None
    staff = User.objects.filter(is_active=True).exclude(phone="").order_by("pk")
    return next((user for user in staff if normalize_phone(user.phone) == number), None)
