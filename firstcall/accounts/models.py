"""Staff users with a role, and API tokens for staff and integrations."""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

if TYPE_CHECKING:
    from firstcall.clients.models import Client


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
    """A bearer token for the JSON API. Only its SHA-256 is stored; the token is shown once.

    A token with a client is scoped to it (an integration for one client, e.g. its RMM): it
    reads, lists, creates and updates that client's tickets only; everything else is a 404 to it.
    The scope is set when the token is issued and never changed: a new scope is a new token.
    """

    name = models.CharField(max_length=100, help_text="What uses it, e.g. 'RMM integration'")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    # CASCADE, never SET_NULL: a scoped token must not outlive its client as an unscoped one.
    client = models.ForeignKey(
        "clients.Client",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_tokens",
        help_text="Only this client's tickets; empty: every client's (staff tools).",
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    @classmethod
    def issue(cls, user: User, name: str, client: Client | None = None) -> tuple[ApiToken, str]:
        """Create a token (scoped to ``client`` if given); returns the row and the plain token,
        which is never stored."""
        from firstcall.tickets.actions import Actor, audit  # tickets import this module

        plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, client=client, token_hash=hash_token(plain))
        audit(
            None,
            Actor.system("API tokens"),
            "api_token_issued",
            after={"user": user.username, "name": name, "client_id": client.pk if client else None},
        )
        return token, plain

    @classmethod
    def authenticate(cls, plain: str) -> ApiToken | None:
        """The live token (of an active user) with this value, else None."""
        token = (
            cls.objects.select_related("user", "client")
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


# ---------------------------------------------------------------------------------------------
# Client portal users: contacts (clients.Contact) who sign in to the portal. They are not Django
# users; the portal keeps the signed-in contact's id in the session (firstcall.portal.access).
# ---------------------------------------------------------------------------------------------


class PortalAccount(models.Model):
    """A contact's portal settings: an optional password, and whether they administer their
    client's account (see all its tickets and the account page). A contact without a row can
    still sign in by email link; the row is made at their first sign-in."""

    contact = models.OneToOneField("clients.Contact", on_delete=models.CASCADE, related_name="portal_account")
    # Django's password hash (make_password); "" while the contact has set none.
    password = models.CharField(max_length=128, blank=True, editable=False)
    is_client_admin = models.BooleanField(
        default=False,
        help_text="Sees every ticket of the client and its account page (contract, SLA, performance).",
    )
    can_sign_in = models.BooleanField(
        default=True, help_text="Off: this contact cannot sign in to the portal (e.g. they left the client)."
    )
    last_sign_in_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "client portal account"

    def __str__(self) -> str:
        return f"portal account of {self.contact}"

    @property
    def has_password(self) -> bool:
        return bool(self.password)


class SignInLink(models.Model):
    """A single-use, short-lived sign-in link emailed to a contact. Only the SHA-256 of its
    token is stored; the token itself is in the email alone."""

    contact = models.ForeignKey("clients.Contact", on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    # The record of the email: when it was handed to the mail server, or why it was not.
    email_sent_at = models.DateTimeField(null=True, blank=True)
    email_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # The rate limit counts a contact's recent links.
        indexes = [models.Index(fields=["contact", "created_at"], name="sign_in_link_recent")]

    def __str__(self) -> str:
        return f"sign-in link for {self.contact} ({self.created_at:%Y-%m-%d %H:%M})"
