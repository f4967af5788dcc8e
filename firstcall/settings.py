"""Django settings for firstcall.

Every setting a user may change comes from the environment, is documented in README.md's
configuration table, and fails loudly on a bad value (settings are read when Django starts,
so tests override them with ``django.test.override_settings``).
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from firstcall.ratelimits.rates import proxy_networks, rate_overrides

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
    # The admin, asking staff with an authenticator app for their code (docs/security.md).
    "firstcall.accounts.admin_apps.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "huey.contrib.djhuey",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "csp",
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
    # request.user.is_verified(): whether this session entered a two-factor code.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
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
        # Django's backend, beginning write transactions without SQLite's sleepy wait.
        config["ENGINE"] = "firstcall.sqlite_backend"
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
        config.setdefault("TEST", {})["NAME"] = str(DATA_DIR / "test-firstcall.sqlite3")
    # PostgreSQL: parameters sent apart from the statement (psycopg then also prepares the
    # statements a connection runs often): about a tenth less CPU per request than quoting them
    # into the SQL in Python. Off behind a pooler in transaction mode (PgBouncer), which cannot
    # keep a connection's prepared statements.
    elif config["ENGINE"] == "django.db.backends.postgresql" and env_bool(
        "FIRSTCALL_PG_SERVER_SIDE_BINDING", True
    ):
        config.setdefault("OPTIONS", {})["server_side_binding"] = True
    return {"default": config}


DATABASES = _databases()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:ticket_list"
LOGOUT_REDIRECT_URL = "console:login"
AUTHENTICATION_BACKENDS = [
    # Refuses a sign-in from a username and address locked out after failures (django-axes),
    # before any password is checked.
    "firstcall.accounts.lockout.LockoutBackend",
    # Checks staff passwords; the user it loads for each request also says whether they have
    # an authenticator app (firstcall/accounts/two_factor.py), so pages need no extra query.
    "firstcall.accounts.two_factor.StaffBackend",
    # Only loads sessions that name it (signed in before the backend above existed); it
    # authenticates nobody: the backend above has the last word on a password.
    "django.contrib.auth.backends.ModelBackend",
]

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
        "huey_class": "firstcall.task_queue.CheckpointSyncedSqliteHuey",
        "name": env_str("FIRSTCALL_HUEY_NAME", "firstcall"),
        "filename": str(DATA_DIR / "huey.sqlite3"),
        "immediate": HUEY_IMMEDIATE,
        "utc": True,
    }
# Nothing reads task results: not storing them saves a queue write per task.
HUEY["results"] = False
# Threads share one core (Python's GIL); processes use every core for a burst of work (a
# thousand pages at once) at the cost of memory. Processes by default where they are forked
# (Linux); elsewhere a new process would start Django afresh for every worker.
WORKER_TYPE = env_str("FIRSTCALL_WORKER_TYPE", "process" if sys.platform.startswith("linux") else "thread")
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
# A new ticket's acknowledgment to someone who texted goes in our answer to Twilio's webhook
# (TwiML <Message>): at once, with no API request. Off where TwiML <Message> is not offered
# (Twilio's IE1 and AU1 regions): the acknowledgment then goes through the API like any text.
FIRSTCALL_SMS_ACK_IN_RESPONSE = env_bool("FIRSTCALL_SMS_ACK_IN_RESPONSE", True)
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

# Rate limits on every public endpoint (docs/security.md): on unless turned off; single limits
# changed as "name=count/period" pairs ("request_form_ip=60/hour,twilio_account=off"). Counted
# in Redis when REDIS_URL is set, else in ratelimits.sqlite3 in the data folder.
FIRSTCALL_RATE_LIMITS_ENABLED = env_bool("FIRSTCALL_RATE_LIMITS_ENABLED", True)
FIRSTCALL_RATE_LIMITS = rate_overrides("FIRSTCALL_RATE_LIMITS", env_str("FIRSTCALL_RATE_LIMITS", ""))
# Reverse proxies (addresses or networks) whose X-Forwarded-For names the client: without them,
# behind a proxy every client would share the proxy's address and its limits. Loopback by
# default (a proxy on this machine); only a process on this machine can connect from it.
FIRSTCALL_TRUSTED_PROXIES = proxy_networks(
    "FIRSTCALL_TRUSTED_PROXIES", env_list("FIRSTCALL_TRUSTED_PROXIES", "127.0.0.1,::1")
)

# --- Staff sign-in (docs/security.md) ---
# Roles that must sign in with an authenticator app (TOTP) as well as their password; staff in
# other roles may choose to. Empty: nobody must. accounts.models.Role's values (settings cannot
# import models; tests/accounts checks the two agree).
STAFF_ROLES = ("technician", "engineer", "manager", "owner")
FIRSTCALL_2FA_REQUIRED_ROLES = env_list("FIRSTCALL_2FA_REQUIRED_ROLES", "manager,owner")
for _role in FIRSTCALL_2FA_REQUIRED_ROLES:
    if _role not in STAFF_ROLES:
        raise ImproperlyConfigured(
            f"FIRSTCALL_2FA_REQUIRED_ROLES: {_role!r} is not a role; the roles are {', '.join(STAFF_ROLES)}"
        )
# The name the authenticator app shows beside the account.
OTP_TOTP_ISSUER = FIRSTCALL_MSP_NAME
# The admin never shows authenticator secrets or backup codes.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Failed sign-ins (wrong password or wrong code) from one address for one username before that
# pair is locked out, and for how long (django-axes; each failure is kept this long too).
FIRSTCALL_SIGN_IN_FAILURE_LIMIT = env_int("FIRSTCALL_SIGN_IN_FAILURE_LIMIT", 5, minimum=1)
FIRSTCALL_SIGN_IN_LOCKOUT_MINUTES = env_int("FIRSTCALL_SIGN_IN_LOCKOUT_MINUTES", 15, minimum=1)
AXES_FAILURE_LIMIT = FIRSTCALL_SIGN_IN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=FIRSTCALL_SIGN_IN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# A sign-in is complete after its second step: the failures are cleared then, not at the password.
AXES_RESET_ON_SUCCESS = False
# A try while locked out does not push the end of the lockout back: the page's time stays true.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "firstcall.accounts.views.locked_out"
# The visitor's address as the rate limits see it (through FIRSTCALL_TRUSTED_PROXIES): behind a
# proxy, REMOTE_ADDR alone would lock a username out for everyone.
AXES_CLIENT_IP_CALLABLE = "firstcall.accounts.lockout.client_address"
AXES_VERBOSE = False

# --- HTTPS, cookies and headers (docs/security.md) ---
# On when the public address is https (a TLS proxy in front: waitress speaks plain HTTP):
# cookies only over TLS, plain-HTTP requests redirected, browsers told to use HTTPS (HSTS).
FIRSTCALL_HTTPS = env_bool("FIRSTCALL_HTTPS", FIRSTCALL_PUBLIC_URL.startswith("https://"))
# The header the TLS proxy sets to say the visitor used HTTPS; the proxy must overwrite any a
# visitor sends. Empty: trust no header (Django then sees HTTPS only if it terminates TLS itself).
FIRSTCALL_PROXY_SSL_HEADER = env_str(
    "FIRSTCALL_PROXY_SSL_HEADER", "X-Forwarded-Proto" if FIRSTCALL_HTTPS else ""
)
if FIRSTCALL_PROXY_SSL_HEADER:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + FIRSTCALL_PROXY_SSL_HEADER.upper().replace("-", "_"), "https")
SESSION_COOKIE_SECURE = FIRSTCALL_HTTPS
CSRF_COOKIE_SECURE = FIRSTCALL_HTTPS
SECURE_SSL_REDIRECT = FIRSTCALL_HTTPS
FIRSTCALL_HSTS_SECONDS = env_int("FIRSTCALL_HSTS_SECONDS", 365 * 24 * 3600 if FIRSTCALL_HTTPS else 0)
SECURE_HSTS_SECONDS = FIRSTCALL_HSTS_SECONDS
# Subdomains of the helpdesk's own host name (not its siblings), so safe for help.msp.example.
SECURE_HSTS_INCLUDE_SUBDOMAINS = FIRSTCALL_HSTS_SECONDS > 0
# Preloading commits a whole domain to HTTPS in browsers' source: the domain's owner asks for it,
# not a helpdesk's default, so `check --deploy` is told that is deliberate.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Scripts, styles and everything else from our own origin only: no inline script or style (htmx
# is told not to add its indicator style, templates/base.html), images also as data: URLs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

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
        # Sign-in failures and lockouts are warnings; every successful sign-in would be INFO.
        "axes": {"level": "WARNING"},
    },
}

# --- IMAP mailboxes ---
# Fernet key(s) for secrets stored in the database (mailbox passwords), comma-separated, the first
# encrypts; empty: a key derived from SECRET_KEY (then changing SECRET_KEY needs SECRET_KEY_FALLBACKS).
FIRSTCALL_ENCRYPTION_KEY = env_str("FIRSTCALL_ENCRYPTION_KEY", "")
# Seconds an IMAP connect or command may take before the poll gives up (retried next poll).
FIRSTCALL_IMAP_TIMEOUT_SECONDS = env_int("FIRSTCALL_IMAP_TIMEOUT_SECONDS", 30, minimum=1)
