"""Test settings: the product settings with a throwaway data folder and tasks run inline.

Environment variables (DATABASE_URL, REDIS_URL) still apply, so CI runs the same suite on
PostgreSQL + Redis.
"""

import os
import tempfile

os.environ.setdefault("FIRSTCALL_DATA_DIR", tempfile.mkdtemp(prefix="firstcall-test-"))
os.environ.setdefault("FIRSTCALL_HUEY_IMMEDIATE", "true")
# Tests change configuration rows with update() too (no signal): read them fresh every time.
os.environ.setdefault("FIRSTCALL_CONFIG_CACHE_SECONDS", "0")
os.environ.setdefault(
    "FIRSTCALL_ACCEPTED_ADDRESSES", "support@msp.example,help@msp.example,verify@msp.example"
)
os.environ.setdefault("DEFAULT_FROM_EMAIL", "support@msp.example")
# Nobody must use two-factor sign-in, so tests sign staff in with force_login; tests/accounts
# turns the requirement on where it is the subject.
os.environ.setdefault("FIRSTCALL_2FA_REQUIRED_ROLES", "")
# No DNS lookups in tests: DKIM checks get their keys from the test that made them.
os.environ.setdefault("FIRSTCALL_VERIFY_DNS_TIMEOUT_SECONDS", "0")
# Many tests post to forms and webhooks in loops: limits are on only in tests/test_ratelimits.py.
os.environ.setdefault("FIRSTCALL_RATE_LIMITS_ENABLED", "false")

from firstcall.settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
