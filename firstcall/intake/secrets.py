"""Encryption at rest for credentials we must be able to read back (IMAP mailbox passwords).

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``). The key is FIRSTCALL_ENCRYPTION_KEY
when set (a Fernet key, made with ``python -c "from cryptography.fernet import Fernet;
print(Fernet.generate_key().decode())"``), else derived with HKDF from SECRET_KEY. Older keys
still decrypt: FIRSTCALL_ENCRYPTION_KEY may list several (comma-separated, the first encrypts)
and SECRET_KEY_FALLBACKS are tried too, so rotating a key never locks the worker out.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Changing these would make every stored secret unreadable.
_HKDF_SALT = b"firstcall secrets at rest"
_HKDF_INFO = b"firstcall fernet key v1"


class SecretUnreadable(Exception):
    """A stored secret could not be decrypted with any configured key."""


def _derived_key(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


def _keys() -> list[bytes]:
    configured = getattr(settings, "FIRSTCALL_ENCRYPTION_KEY", "") or ""
    keys = [k.strip().encode() for k in configured.split(",") if k.strip()]
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                "FIRSTCALL_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64-encoded bytes), "
                "comma-separated"
            ) from None
    # Read on every call, not at import: tests and key rotation change settings at run time.
    keys.append(_derived_key(settings.SECRET_KEY))
    keys.extend(_derived_key(str(old)) for old in getattr(settings, "SECRET_KEY_FALLBACKS", []))
    return keys


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in _keys()])


def encrypt(plaintext: str) -> str:
    """A Fernet token (ASCII) for the text, encrypted with the current key."""
    return _fernet().encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError):
        raise SecretUnreadable(
            "the stored secret cannot be decrypted with the configured keys "
            "(was SECRET_KEY or FIRSTCALL_ENCRYPTION_KEY changed? enter the password again)"
        ) from None
