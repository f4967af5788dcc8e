"""Staff two-factor sign-in: after the password, a six-digit code from an authenticator app
(TOTP, django-otp), or one of the single-use backup codes shown once at enrolment.

Who must: staff whose role is in FIRSTCALL_2FA_REQUIRED_ROLES (managers and owners by default)
enrol before anything else; others may choose to. A session counts as signed in for the console
and the admin once its user has entered a code (``request.user.is_verified()``, set by
django-otp's OTPMiddleware) — or, for someone with no authenticator app who is not required to
have one, at the password. Enrolment, removal and every refused code are audit events (with no
ticket); a refused code also counts towards the sign-in lockout (lockout.py).
"""

from __future__ import annotations

import enum
from base64 import b32encode
from dataclasses import dataclass
from math import ceil
from typing import Any
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from firstcall.accounts import lockout
from firstcall.accounts.models import User
from firstcall.tickets.actions import Actor, audit

LABEL = "staff sign-in"
AUTHENTICATOR_NAME = "Authenticator app"
BACKUP_CODES_NAME = "Backup codes"
BACKUP_CODE_COUNT = 10
# Set on a user loaded by StaffBackend (and after a change here): whether they have a confirmed
# authenticator app, so a page asks the database nothing more.
HAS_AUTHENTICATOR = "has_authenticator"

ENROLLED = "two_factor_enrolled"
REMOVED = "two_factor_removed"
CODE_REFUSED = "two_factor_code_refused"
BACKUP_CODE_USED = "two_factor_backup_code_used"


class SecondStep(enum.Enum):
    """What a signed-in user still has to do before the session counts."""

    CODE = "accounts:two_factor_code"  # enter a code from their app (or a backup code)
    ENROL = "accounts:two_factor_enrol"  # set up an app: their role requires one


class CodeRefused(Exception):
    """A code was not accepted; the message says why in words for the person signing in."""


def _confirmed_authenticators() -> Any:
    return TOTPDevice.objects.filter(confirmed=True)


class StaffBackend(ModelBackend):
    """Django's password check, with two differences: the user it loads for a request knows
    whether they have an authenticator app (one query, as before), and a wrong password stops
    the check here, so the plain ModelBackend listed after it (for sessions that name it) never
    hashes the same wrong password again."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None and username is not None and password is not None:
            raise PermissionDenied("Wrong username or password.")
        assert user is None or isinstance(user, User)
        return user

    def get_user(self, user_id: Any) -> User | None:
        user = (
            User.objects.annotate(
                **{HAS_AUTHENTICATOR: Exists(_confirmed_authenticators().filter(user=OuterRef("pk")))}
            )
            .filter(pk=user_id)
            .first()
        )
        return user if user is not None and self.user_can_authenticate(user) else None


def has_authenticator(user: User) -> bool:
    known = getattr(user, HAS_AUTHENTICATOR, None)
    if isinstance(known, bool):
        return known
    found = bool(_confirmed_authenticators().filter(user=user).exists())
    setattr(user, HAS_AUTHENTICATOR, found)
    return found


def is_verified(user: User) -> bool:
    """Whether this request's session entered a code (OTPMiddleware installs ``is_verified``)."""
    check = getattr(user, "is_verified", None)
    return bool(check()) if callable(check) else False


def enrolment_required(user: User) -> bool:
    return user.role in settings.FIRSTCALL_2FA_REQUIRED_ROLES


def unfinished_step(user: User) -> SecondStep | None:
    """The step this signed-in user still owes, None once the sign-in is finished."""
    if has_authenticator(user):
        return None if is_verified(user) else SecondStep.CODE
    return SecondStep.ENROL if enrolment_required(user) else None


def step_url(step: SecondStep, next_url: str) -> str:
    return f"{reverse(step.value)}?{urlencode({'next': next_url})}"


def unfinished_sign_in_url(user: User, next_url: str) -> str | None:
    """Where a signed-in user goes before ``next_url``, None if nowhere."""
    step = unfinished_step(user)
    return None if step is None else step_url(step, next_url)


def password_accepted(request: HttpRequest, user: User) -> None:
    """After the password: when no second step is owed the sign-in is finished now."""
    if unfinished_step(user) is None:
        lockout.clear_failures(request, user.get_username())


# ---------------------------------------------------------------------------------------------
# Enrolment
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the app's setup address as a QR code and as text."""

    otpauth_uri: str
    secret: str  # the key in base 32, for typing into an app by hand
    qr_svg: str  # inline SVG markup

    @property
    def secret_in_groups(self) -> str:
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


def start_enrolment(user: User) -> Enrolment:
    """The user's authenticator app being set up (made now, or the one a reload already shows,
    so an app scanned before the reload still matches)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    uri: str = device.config_url
    secret = b32encode(device.bin_key).decode()
    qr = segno.make(uri, error="m", micro=False)
    svg = qr.svg_inline(scale=4, border=4, dark="#000", light="#fff", title="QR code to scan with your app")
    return Enrolment(otpauth_uri=uri, secret=secret, qr_svg=svg)


def _normalized(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _throttled_message(device: Any) -> str | None:
    allowed, details = device.verify_is_allowed()
    if allowed:
        return None
    wait = max(1, ceil((details["locked_until"] - timezone.now()).total_seconds()))
    return f"Too many wrong codes: wait {wait} second{'' if wait == 1 else 's'}, then try again."


def _refuse(request: HttpRequest, user: User, why: str, message: str) -> CodeRefused:
    audit(None, Actor(user=user, label=LABEL), CODE_REFUSED, reason=why)
    lockout.record_failed_sign_in(request, user.get_username())
    return CodeRefused(message)


def _new_backup_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_CODES_NAME)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def confirm_enrolment(request: HttpRequest, user: User, code: str) -> list[str]:
    """Confirm the app being set up with a first code from it; returns the backup codes, which
    are shown this once. The session then counts as having entered a code."""
    backup_codes: list[str] = []
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
        )
        if device is None:
            raise CodeRefused("There is no app being set up: start again.")
        throttled = _throttled_message(device)
        accepted = throttled is None and bool(device.verify_token(_normalized(code)))
        if accepted:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            # One app per person: a setup abandoned earlier goes.
            TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
            backup_codes = _new_backup_codes(user)
            audit(None, Actor(user=user, label=LABEL), ENROLLED, after={"user": user.get_username()})
    # Outside the transaction above, so a refusal's audit row and failure count stay.
    if not accepted:
        raise _refuse(
            request,
            user,
            "wrong code confirming a new authenticator app",
            throttled
            or "That code is not right. Check the app shows this account, then try the newest code.",
        )
    otp_login(request, device)
    setattr(user, HAS_AUTHENTICATOR, True)
    lockout.clear_failures(request, user.get_username())
    return backup_codes


# ---------------------------------------------------------------------------------------------
# Signing in with a code; removing the app
# ---------------------------------------------------------------------------------------------


def _check_code(user: User, code: str) -> tuple[Any | None, str | None]:
    """The device that accepts ``code`` (the app's six digits, else a backup code), or None and,
    when the device is resting after wrong codes, why."""
    code = _normalized(code)
    # The app's codes are six digits; backup codes are eight letters and digits.
    devices = TOTPDevice if code.isdigit() and len(code) == 6 else StaticDevice
    with transaction.atomic():
        for device in devices.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk"):
            throttled = _throttled_message(device)
            if throttled is not None:
                return None, throttled
            if device.verify_token(code):
                return device, None
    return None, None


def verify_code(request: HttpRequest, user: User, code: str) -> None:
    """The second step of a sign-in: the session counts once a code is accepted; raises
    CodeRefused (audited, counted towards the lockout) otherwise."""
    device, throttled = _check_code(user, code)
    if device is None:
        raise _refuse(
            request,
            user,
            "wrong code signing in",
            throttled or "That code is not right. Use the newest code your app shows, or a backup code.",
        )
    otp_login(request, device)
    if isinstance(device, StaticDevice):
        left = device.token_set.count()
        audit(None, Actor(user=user, label=LABEL), BACKUP_CODE_USED, after={"backup_codes_left": left})
    lockout.clear_failures(request, user.get_username())


def remove_two_factor(user: User, *, by: User, reason: str) -> None:
    """Remove the user's authenticator app and backup codes (by themselves, or by an owner in
    the admin). If their role requires an app they set one up again at their next page."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        label = LABEL if by.pk == user.pk else "admin"
        audit(None, Actor(user=by, label=label), REMOVED, after={"user": user.get_username()}, reason=reason)
    setattr(user, HAS_AUTHENTICATOR, False)


def remove_own(request: HttpRequest, user: User, code: str) -> None:
    """The user removes their own app, proving it with a current code (or a backup code)."""
    device, throttled = _check_code(user, code)
    if device is None:
        raise _refuse(
            request,
            user,
            "wrong code removing the authenticator app",
            throttled or "That code is not right: the app stays. Use the newest code your app shows.",
        )
    remove_two_factor(user, by=user, reason="removed by the user with a current code")


@dataclass(frozen=True)
class Status:
    """What the "Two-factor sign-in" page says about a user."""

    enrolled_at: Any | None
    last_used_at: Any | None
    backup_codes_left: int
    required: bool


def status(user: User) -> Status:
    device = _confirmed_authenticators().filter(user=user).order_by("pk").first()
    backup_codes_left = StaticToken.objects.filter(device__user=user).count() if device else 0
    return Status(
        enrolled_at=device.created_at if device else None,
        last_used_at=device.last_used_at if device else None,
        backup_codes_left=backup_codes_left,
        required=enrolment_required(user),
    )
