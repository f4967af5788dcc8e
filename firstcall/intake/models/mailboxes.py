"""IMAP mailboxes the worker polls for email (an alternative to pointing MX at the SMTP listener)."""

from __future__ import annotations

import ipaddress

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from firstcall.intake.secrets import decrypt, encrypt

__all__ = ["AfterImport", "Mailbox", "MailboxSecurity", "is_loopback_host"]


class MailboxSecurity(models.TextChoices):
    IMPLICIT_TLS = "tls", "TLS (IMAPS, usually port 993)"
    STARTTLS = "starttls", "STARTTLS (usually port 143)"
    # Only for a server on this machine: the password would otherwise cross the network in clear.
    NONE = "none", "None (loopback only)"


class AfterImport(models.TextChoices):
    MARK_SEEN = "seen", "Mark as read"
    MOVE = "move", "Move to a folder"
    DELETE = "delete", "Delete"


def is_loopback_host(host: str) -> bool:
    host = host.strip().strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


DEFAULT_PORTS = {MailboxSecurity.IMPLICIT_TLS: 993, MailboxSecurity.STARTTLS: 143, MailboxSecurity.NONE: 143}


class Mailbox(models.Model):
    """One IMAP account and folder. A message is flagged, moved or deleted only after its ticket
    entry is committed (see ``firstcall.intake.mailboxes``)."""

    name = models.CharField(max_length=100, unique=True)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Empty: 993 for TLS, 143 otherwise",
        validators=[MaxValueValidator(65535)],
    )
    security = models.CharField(
        max_length=10, choices=MailboxSecurity.choices, default=MailboxSecurity.IMPLICIT_TLS
    )
    username = models.CharField(max_length=255)
    # A Fernet token (firstcall.intake.secrets), never the password itself.
    password_encrypted = models.TextField(blank=True, editable=False)
    folder = models.CharField(max_length=255, default="INBOX")
    after_import = models.CharField(max_length=10, choices=AfterImport.choices, default=AfterImport.MARK_SEEN)
    move_to_folder = models.CharField(
        max_length=255, blank=True, help_text="Where imported messages go when “Move to a folder” is chosen"
    )
    enabled = models.BooleanField(default=True)
    poll_interval_seconds = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(30), MaxValueValidator(24 * 3600)]
    )
    # The worker polls mailboxes whose next_poll_at has passed (indexed: the sweep reads only those).
    next_poll_at = models.DateTimeField(default=timezone.now, editable=False)
    # A worker's claim: set with a guarded UPDATE, so two workers never poll one mailbox at once.
    # A claim older than this (a worker that died) expires.
    polling_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_polled_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)
    imported_count = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["next_poll_at"], name="mailbox_due", condition=models.Q(enabled=True)),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.username}@{self.host}/{self.folder})"

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[MailboxSecurity(self.security)]

    def set_password(self, password: str) -> None:
        self.password_encrypted = encrypt(password)

    def get_password(self) -> str:
        """The decrypted password; raises SecretUnreadable when the keys changed."""
        return decrypt(self.password_encrypted) if self.password_encrypted else ""

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.security == MailboxSecurity.NONE and not is_loopback_host(self.host):
            errors["security"] = (
                f"An unencrypted connection is only allowed to a server on this machine (localhost, "
                f"127.0.0.1, ::1), not to {self.host!r}: the password would cross the network in clear."
            )
        if self.after_import == AfterImport.MOVE:
            if not self.move_to_folder.strip():
                errors["move_to_folder"] = "Name the folder imported messages are moved to."
            elif self.move_to_folder.strip() == self.folder.strip():
                errors["move_to_folder"] = "The folder to move to must differ from the folder polled."
        if not self.folder.strip():
            errors["folder"] = "Name the folder to poll (usually INBOX)."
        if errors:
            raise ValidationError(errors)
