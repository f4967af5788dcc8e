"""Django settings for firstcall.

Every setting a user may change comes from the environment, is documented in README.md's
configuration table, and fails loudly on a bad value (settings are read when Django starts,
so tests override them with ``django.test.override_settings``).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

PACKAGE_DIR = Path(__file__).resolve().parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default).strip()


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DATA_DIR = Path(env_str("FIRSTCALL_DATA_DIR", str(Path.cwd() / "firstcall-data"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the data folder."""
    from_env = os.environ.get("SECRET_KEY", "").strip()
    if from_env:
        return from_env
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "huey.contrib.djhuey",
    "firstcall.accounts",
    "firstcall.clients",
    "firstcall.tickets",
    "firstcall.triage",
    "firstcall.sla",
    "firstcall.escalation",
    "firstcall.intake",
    "firstcall.notify",
    "firstcall.console",
    "firstcall.portal",
    "firstcall.security",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "firstcall.urls"
WSGI_APPLICATION = "firstcall.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _databases() -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        url = f"sqlite:///{DATA_DIR / 'firstcall.sqlite3'}"
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    except ValueError as error:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {error}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Web server, worker and SMTP listener share one SQLite file: WAL lets readers run beside
        # a writer, IMMEDIATE takes the write lock up front so two writers queue instead of failing.
        # Each thread keeps its connection: opening one (file, PRAGMAs, functions) costs more
        # than a typical query.
        config["CONN_MAX_AGE"] = 600
        config["CONN_HEALTH_CHECKS"] = True
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
        config.setdefault("TEST", {})["NAME"] = str(DATA_DIR / "test-firstcall.sqlite3")
    return {"default": config}


DATABASES = _databases()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:ticket_list"
LOGOUT_REDIRECT_URL = "console:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
try:
    ZoneInfo(TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"TIME_ZONE {TIME_ZONE!r} is not an IANA time zone name") from None
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# Attachments live outside any web root and are served only through a permission-checked view.
MEDIA_ROOT = DATA_DIR / "attachments"
MEDIA_URL = "/attachments-not-served-directly/"

# Huey: SQLite file beside the database by default, Redis when REDIS_URL is set.
REDIS_URL = env_str("REDIS_URL", "")
HUEY_IMMEDIATE = env_bool("FIRSTCALL_HUEY_IMMEDIATE", False)
if REDIS_URL:
    HUEY: dict[str, Any] = {
        "huey_class": "huey.PriorityRedisHuey",
        "name": env_str("FIRSTCALL_HUEY_NAME", "firstcall"),
        "url": REDIS_URL,
        "immediate": HUEY_IMMEDIATE,
        "utc": True,
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": env_str("FIRSTCALL_HUEY_NAME", "firstcall"),
        "filename": str(DATA_DIR / "huey.sqlite3"),
        "immediate": HUEY_IMMEDIATE,
        "utc": True,
    }
# Nothing reads task results: not storing them saves a queue write per task.
HUEY["results"] = False
# Threads share one core (Python's GIL); processes use every core for a burst of work (a
# thousand pages at once) at the cost of memory.
WORKER_TYPE = env_str("FIRSTCALL_WORKER_TYPE", "thread")
if WORKER_TYPE not in ("thread", "process"):
    raise ImproperlyConfigured(f"FIRSTCALL_WORKER_TYPE must be thread or process, not {WORKER_TYPE!r}")
HUEY["consumer"] = {
    "workers": env_int("FIRSTCALL_WORKER_THREADS", 4, minimum=1),
    "worker_type": WORKER_TYPE,
    "initial_delay": 0.05,
    "backoff": 1.15,
    "max_delay": 0.25,
    "periodic": True,
    "check_worker_health": True,
}

# Inbound email: the SMTP listener and which addresses it accepts.
FIRSTCALL_SMTP_HOST = env_str("FIRSTCALL_SMTP_HOST", "127.0.0.1")
FIRSTCALL_SMTP_PORT = env_int("FIRSTCALL_SMTP_PORT", 2525)
# Full addresses ("support@msp.example") or whole domains ("@msp.example").
FIRSTCALL_ACCEPTED_ADDRESSES = [
    a.lower() for a in env_list("FIRSTCALL_ACCEPTED_ADDRESSES", "support@firstcall.localhost")
]
FIRSTCALL_MAX_MESSAGE_BYTES = env_int("FIRSTCALL_MAX_MESSAGE_BYTES", 40 * 1024 * 1024, minimum=1024)
FIRSTCALL_MAX_ATTACHMENT_BYTES = env_int("FIRSTCALL_MAX_ATTACHMENT_BYTES", 15 * 1024 * 1024)
# A reply to a ticket closed longer ago than this opens a new ticket linked to the old one.
FIRSTCALL_REOPEN_CLOSED_WITHIN_DAYS = env_int("FIRSTCALL_REOPEN_CLOSED_WITHIN_DAYS", 14)
# Acknowledgments to one address within an hour before we stop answering (autoresponder ping-pong).
FIRSTCALL_ACK_RATE_LIMIT_PER_HOUR = env_int("FIRSTCALL_ACK_RATE_LIMIT_PER_HOUR", 5, minimum=1)
FIRSTCALL_PUBLIC_URL = env_str("FIRSTCALL_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
FIRSTCALL_MSP_NAME = env_str("FIRSTCALL_MSP_NAME", "firstcall")

# Suspicious-email verification (docs/verification.md): mail to these addresses opens a
# verification ticket. Default: verify@ at the domain of the first accepted address.
_SUPPORT_DOMAIN = FIRSTCALL_ACCEPTED_ADDRESSES[0].rpartition("@")[2] if FIRSTCALL_ACCEPTED_ADDRESSES else ""
_DEFAULT_VERIFY_ADDRESS = f"verify@{_SUPPORT_DOMAIN}" if _SUPPORT_DOMAIN else ""
FIRSTCALL_VERIFY_ADDRESSES = [
    address.lower() for address in env_list("FIRSTCALL_VERIFY_ADDRESSES", _DEFAULT_VERIFY_ADDRESS)
]
# Seconds a DKIM key lookup in DNS may take when a forwarded email's signature is checked again;
# 0 turns the lookups off (the verdict then rests on what the receiving server recorded).
FIRSTCALL_VERIFY_DNS_TIMEOUT_SECONDS = env_int("FIRSTCALL_VERIFY_DNS_TIMEOUT_SECONDS", 5)

# Outbound email (acknowledgments, replies).
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "support@firstcall.localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_HOST = env_str("EMAIL_HOST", "")
# Without an SMTP server configured, outbound mail is written to files in the data folder, so a
# newcomer sees the acknowledgment without setting up mail; set EMAIL_HOST to send for real.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = DATA_DIR / "outbox"
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
# Retries of a failing outbound delivery: delays grow 30 s, 60 s, 120 s ... up to this many tries.
FIRSTCALL_DELIVERY_MAX_ATTEMPTS = env_int("FIRSTCALL_DELIVERY_MAX_ATTEMPTS", 8, minimum=1)
FIRSTCALL_DELIVERY_FIRST_RETRY_SECONDS = env_int("FIRSTCALL_DELIVERY_FIRST_RETRY_SECONDS", 30)

# Phone and SMS (Twilio-format webhooks; outbound texts through a provider).
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN", "")
TWILIO_API_BASE_URL = env_str("TWILIO_API_BASE_URL", "https://api.twilio.com").rstrip("/")
FIRSTCALL_SMS_PROVIDER = env_str("FIRSTCALL_SMS_PROVIDER", "console")
if FIRSTCALL_SMS_PROVIDER not in {"console", "twilio"}:
    raise ImproperlyConfigured(
        f"FIRSTCALL_SMS_PROVIDER must be console or twilio, got {FIRSTCALL_SMS_PROVIDER!r}"
    )
# The number our texts come from (and clients text and call).
FIRSTCALL_SMS_FROM = env_str("FIRSTCALL_SMS_FROM", "+15550100000")
# Pages also ring staff phones (a voice call through the SMS provider; press 1 to acknowledge).
FIRSTCALL_PAGE_BY_VOICE = env_bool("FIRSTCALL_PAGE_BY_VOICE", False)
# A text threads onto the sender's unresolved ticket opened within this many hours.
FIRSTCALL_SMS_THREAD_HOURS = env_int("FIRSTCALL_SMS_THREAD_HOURS", 72)
# How long a process keeps SLA targets, calendars, escalation policies and triage settings it
# read (see firstcall/config_memo.py); 0: read them for every ticket.
FIRSTCALL_CONFIG_CACHE_SECONDS = env_int("FIRSTCALL_CONFIG_CACHE_SECONDS", 60)
# Where the IVR connects an emergency caller until on-call schedules land (E.164).
FIRSTCALL_ON_DUTY_NUMBER = env_str("FIRSTCALL_ON_DUTY_NUMBER", "")

# Client portal (/portal/): how long an emailed sign-in link works, how many links one contact
# may get per hour, and the phone number clients are told to call (the number whose menu
# connects emergencies, by default).
FIRSTCALL_PORTAL_LINK_MINUTES = env_int("FIRSTCALL_PORTAL_LINK_MINUTES", 15, minimum=1)
FIRSTCALL_PORTAL_LINKS_PER_HOUR = env_int("FIRSTCALL_PORTAL_LINKS_PER_HOUR", 5, minimum=1)
FIRSTCALL_SUPPORT_PHONE = env_str("FIRSTCALL_SUPPORT_PHONE", FIRSTCALL_SMS_FROM)

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # With a handler of its own, `run_huey` does not add a second one (every line twice).
    "loggers": {
        "huey": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "mail.log": {"level": "WARNING"},
    },
}

# --- IMAP mailboxes ---
# Fernet key(s) for secrets stored in the database (mailbox passwords), comma-separated, the first
# encrypts; empty: a key derived from SECRET_KEY (then changing SECRET_KEY needs SECRET_KEY_FALLBACKS).
FIRSTCALL_ENCRYPTION_KEY = env_str("FIRSTCALL_ENCRYPTION_KEY", "")
# Seconds an IMAP connect or command may take before the poll gives up (retried next poll).
FIRSTCALL_IMAP_TIMEOUT_SECONDS = env_int("FIRSTCALL_IMAP_TIMEOUT_SECONDS", 30, minimum=1)
