"""Settings: everything from environment variables (the README's configuration table), with
embedded defaults that need no server installed. The database is always PostgreSQL (15 or later);
production sets DATABASE_URL, CELERY_BROKER_URL and the SERWERSMS_* addresses."""

import os
from pathlib import Path
from urllib.parse import quote

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from partner_portal import logging as _ops_logging

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    return value.strip().lower() in {"1", "true", "yes", "on"} if value else default


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_words(name: str) -> dict[str, str] | None:
    """`word:status,word:status` (SerwerSMS word -> our status word); None when unset."""
    words = {}
    for pair in env_list(name):
        word, _sep, status = (part.strip() for part in pair.partition(":"))
        if not word or not status:
            raise ImproperlyConfigured(f"{name}: expected word:status pairs, got {pair!r}.")
        words[word] = status
    return words or None


def env_secret(name: str) -> str:
    """A secret from NAME, or from the file NAME_FILE names (e.g. systemd credentials)."""
    path = env_str(f"{name}_FILE")
    if not path:
        return env_str(name)
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}_FILE: cannot read {path}: {exc}") from exc


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY") or "insecure-embedded-default-change-me-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tables2",
    "django_filters",
    "django_celery_beat",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "billing",
    "partner_portal",
    "partner_api",
    "ninja",  # serves the API docs' Swagger UI from our static files (the CSP allows no CDN)
    "ops",  # health, metrics, alerts (docs/operations.md)
]
# The workshop (docs/architecture.md); the deployment files leave it out with DEVTOOLS=0.
DEVTOOLS = env_bool("DEVTOOLS", True)
if DEVTOOLS:
    INSTALLED_APPS += ["devtools"]

MIDDLEWARE = [
    "partner_portal.logging.RequestContextMiddleware",
    "partner_portal.middleware.TrustedProxyMiddleware",  # before anything reads is_secure()
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "partner_portal.middleware.RejectNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "partner_portal.middleware.NoStoreMiddleware",
    "axes.middleware.AxesMiddleware",
    "ops.middleware.count_api_requests",  # partner API requests by key prefix and answer
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "partner_portal.context_processors.portal",
            ],
        },
    },
]

# Unset: the embedded PostgreSQL on its socket under var/postgres, which bin/demo and bin/test
# start (bin/with-postgres); commands that need no database run without it.
EMBEDDED_DATABASE_URL = (
    f"postgres://postgres@{quote(str(VAR_DIR / 'postgres'), safe='')}/partner_portal"
)
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or EMBEDDED_DATABASE_URL,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(
        f"DATABASE_URL names {DATABASES['default']['ENGINE']}: the product runs on PostgreSQL "
        "only (15 or later); sqlite:// and other databases are not supported."
    )
# PostgreSQL's JIT compiles big aggregates for 0.4-1.5 s before running them, more than it saves
# on this product's queries: off for our connections unless DATABASE_JIT=1. Behind a pooler that
# rejects startup options, set DATABASE_JIT=1 and `ALTER ROLE ... SET jit = off`.
if not env_bool("DATABASE_JIT", False):
    _pg_options = DATABASES["default"].setdefault("OPTIONS", {})
    _pg_options["options"] = (_pg_options.get("options", "") + " -c jit=off").strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PORTAL_STATEMENT_TIMEOUT_MS = env_int("PORTAL_STATEMENT_TIMEOUT_MS", 10_000)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
CSRF_FAILURE_VIEW = "partner_portal.account_views.csrf_failure"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- Logins (partner_portal.login_security) -------------------------------------------------
# The client's address and HTTPS behind a proxy: client-address headers are believed only from
# TRUSTED_PROXY_ADDRESSES when it is set, X-Forwarded-Proto only from it (never when unset).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
CLIENT_IP_HEADER = env_str("CLIENT_IP_HEADER")
TRUSTED_PROXY_ADDRESSES = env_list("TRUSTED_PROXY_ADDRESSES")
# django-axes: what counts against a login, and why, is in partner_portal/login_security.py.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_float("AXES_COOLOFF_HOURS", 0.25)
AXES_LOCKOUT_PARAMETERS = "partner_portal.login_security.lockout_parameters"
AXES_CLIENT_IP_CALLABLE = "partner_portal.login_security.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = True
# Security logs name the username and the client address (never the password).
AXES_SENSITIVE_PARAMETERS: list[str] = []
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_TEMPLATE = "portal/locked_out.html"
LOGIN_DEVICE_COOKIE_DAYS = env_int("LOGIN_DEVICE_COOKIE_DAYS", 180)
SESSION_COOKIE_AGE = int(env_float("SESSION_HOURS", 12) * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", False)
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT_HOURS", 24) * 3600
INVITATION_VALID_DAYS = env_int("INVITATION_VALID_DAYS", 7)
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Partner Portal")
ADMIN_PATH = env_str("ADMIN_PATH", "admin/").strip("/") + "/"

PORTAL_PAGE_SIZE = env_int("PORTAL_PAGE_SIZE", 50)
PORTAL_MAX_PAGE_SIZE = env_int("PORTAL_MAX_PAGE_SIZE", 200)
EXPORT_BACKGROUND_ROWS = env_int("EXPORT_BACKGROUND_ROWS", 20000)
EXPORT_BACKGROUND_ROWS_CSV = env_int("EXPORT_BACKGROUND_ROWS_CSV", 100000)
EXPORT_KEEP_HOURS = env_int("EXPORT_KEEP_HOURS", 24)

# Content-Security-Policy (django-csp): everything from our own origin, nothing inline.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LANGUAGE_CODE = "pl"
LANGUAGES = [("pl", "Polski"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Europe/Warsaw"  # billing months and display; storage is UTC (USE_TZ)
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or env_bool("TESTING")
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True

# Django's defaults already give HttpOnly, SameSite=Lax session cookies, nosniff, a same-origin
# referrer and X-Frame-Options DENY; outside debug the cookies are secure too.
if not DEBUG:
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- SerwerSMS ---------------------------------------------------------------------------------
SERWERSMS_API_URL = env_str("SERWERSMS_API_URL", "http://127.0.0.1:8025/")
SERWERSMS_XML_API_URL = env_str("SERWERSMS_XML_API_URL", "http://127.0.0.1:8025/zdalnie/index.php")
SERWERSMS_EMAIL2SMS_HOST = env_str("SERWERSMS_EMAIL2SMS_HOST", "127.0.0.1")
SERWERSMS_EMAIL2SMS_PORT = env_int("SERWERSMS_EMAIL2SMS_PORT", 8026)
SERWERSMS_EMAIL2SMS_ADDRESS = env_str("SERWERSMS_EMAIL2SMS_ADDRESS", "sms@email2sms.serwersms.pl")
# Email2SMS subject (serwersms-api.md §6: fields klucz, numer, nadawca, raport; syntax I):
# each field as `<name><assign><value>`, fields joined by the separator.
SERWERSMS_EMAIL2SMS_SUBJECT_ASSIGN = env_str("SERWERSMS_EMAIL2SMS_SUBJECT_ASSIGN", "=")
SERWERSMS_EMAIL2SMS_SUBJECT_SEPARATOR = env_str("SERWERSMS_EMAIL2SMS_SUBJECT_SEPARATOR", " ")
SERWERSMS_EMAIL2SMS_REPORT = env_bool("SERWERSMS_EMAIL2SMS_REPORT", True)  # `raport=1`
# The `stan` words of report callbacks and of XML sprawdz_sms (I: defaults in
# billing/serwersms/callbacks.py and xml_api.py; docs/gateway.md).
SERWERSMS_CALLBACK_STAN_WORDS = env_words("SERWERSMS_CALLBACK_STAN_WORDS")
SERWERSMS_XML_STAN_WORDS = env_words("SERWERSMS_XML_STAN_WORDS")
SERWERSMS_EMAIL2SMS_USE_TLS = env_bool("SERWERSMS_EMAIL2SMS_USE_TLS", False)
SERWERSMS_EMAIL2SMS_USER = env_str("SERWERSMS_EMAIL2SMS_USER")
SERWERSMS_EMAIL2SMS_PASSWORD = env_str("SERWERSMS_EMAIL2SMS_PASSWORD")
SERWERSMS_TIMEOUT = env_float("SERWERSMS_TIMEOUT", 15.0)  # seconds, every call
SERWERSMS_REPORTS_BATCH = env_int("SERWERSMS_REPORTS_BATCH", 200)  # ids per messages/reports call
SERWERSMS_REPORTS_PAGE_LIMIT = env_int("SERWERSMS_REPORTS_PAGE_LIMIT", 200)
SERWERSMS_MAX_PARTS = env_int("SERWERSMS_MAX_PARTS", 6)
# Requests per second per client account, shared by every worker through the cache below.
SERWERSMS_RATE_LIMIT_PER_SECOND = env_float("SERWERSMS_RATE_LIMIT_PER_SECOND", 20.0)
# The one retry policy (billing/serwersms/retry.py): backoff with full jitter between these.
SERWERSMS_RETRY_BASE_SECONDS = env_float("SERWERSMS_RETRY_BASE_SECONDS", 0.5)
SERWERSMS_RETRY_MAX_SECONDS = env_float("SERWERSMS_RETRY_MAX_SECONDS", 30.0)
# A send is tried until this long after it was written; then only looked up, never sent again.
SERWERSMS_SEND_DEADLINE_SECONDS = env_int("SERWERSMS_SEND_DEADLINE_SECONDS", 30 * 60)
SERWERSMS_READ_RETRY_SECONDS = env_float("SERWERSMS_READ_RETRY_SECONDS", 60.0)
# A send that may have reached SerwerSMS is looked up first (SERWERSMS_TIMEOUT + the margin, then
# LOOKUPS over the WINDOW) and sent again (same unique_id) only if none found it.
SERWERSMS_SETTLE_MARGIN_SECONDS = env_float("SERWERSMS_SETTLE_MARGIN_SECONDS", 5.0)
SERWERSMS_SETTLE_WINDOW_SECONDS = env_float("SERWERSMS_SETTLE_WINDOW_SECONDS", 120.0)
SERWERSMS_SETTLE_LOOKUPS = env_int("SERWERSMS_SETTLE_LOOKUPS", 4)
# Keep full message text? Personal data: off by default, only length and parts are kept.
STORE_MESSAGE_TEXT = env_bool("STORE_MESSAGE_TEXT", False)
DEFAULT_COUNTRY_REGION = env_str("DEFAULT_COUNTRY_REGION", "PL")
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000")

# --- Status tracking & billing ---------------------------------------------------------------
STATUS_POLL_MAX_AGE_DAYS = env_int("STATUS_POLL_MAX_AGE_DAYS", 7)
STATUS_POLL_INTERVAL_SECONDS = env_int("STATUS_POLL_INTERVAL_SECONDS", 120)
STATUS_APPLY_BATCH = env_int("STATUS_APPLY_BATCH", 1000)
# Email2SMS gets no id back: a report item of the same phone this close in time is its match.
STATUS_EMAIL2SMS_MATCH_MINUTES = env_int("STATUS_EMAIL2SMS_MATCH_MINUTES", 10)
STATUS_EMAIL2SMS_GRACE_SECONDS = env_int("STATUS_EMAIL2SMS_GRACE_SECONDS", 30 * 60)
STATUS_REPORT_TIME_SLACK_SECONDS = env_int("STATUS_REPORT_TIME_SLACK_SECONDS", 3600)
# The outbox: a message still submitting with no worker on it this long is sent again by beat.
OUTBOX_RESUME_AFTER_SECONDS = env_int("OUTBOX_RESUME_AFTER_SECONDS", 300)
OUTBOX_RESUME_INTERVAL_SECONDS = env_int("OUTBOX_RESUME_INTERVAL_SECONDS", 60)
STATEMENT_REVIEW_WINDOW_DAYS = env_int("STATEMENT_REVIEW_WINDOW_DAYS", 3)
BILLING_CURRENCY = "PLN"

# --- E-mail (Email2SMS goes through Django's e-mail backend) ---------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", SERWERSMS_EMAIL2SMS_HOST)
EMAIL_PORT = env_int("EMAIL_PORT", SERWERSMS_EMAIL2SMS_PORT)
EMAIL_TIMEOUT = int(SERWERSMS_TIMEOUT)
# Mail to people (password resets, invitations) goes through its own server, never Email2SMS.
# An empty PORTAL_EMAIL_BACKEND means EMAIL_BACKEND (tests: the in-memory outbox).
PORTAL_EMAIL_BACKEND = env_str("PORTAL_EMAIL_BACKEND")
PORTAL_EMAIL_HOST = env_str("PORTAL_EMAIL_HOST", "localhost")
PORTAL_EMAIL_PORT = env_int("PORTAL_EMAIL_PORT", 25)
PORTAL_EMAIL_USER = env_str("PORTAL_EMAIL_USER")
PORTAL_EMAIL_PASSWORD = env_str("PORTAL_EMAIL_PASSWORD")
PORTAL_EMAIL_USE_TLS = env_bool("PORTAL_EMAIL_USE_TLS", False)
PORTAL_EMAIL_FILE_PATH = env_str("PORTAL_EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Partner Portal <portal@localhost>")

# --- Celery ------------------------------------------------------------------------------------
# Embedded default: kombu's file-system transport needs no server (worker and beat share var/).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem"):
    (VAR_DIR / "celery-broker").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(VAR_DIR / "celery-broker"),
        "data_folder_out": str(VAR_DIR / "celery-broker"),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        # kombu keeps its exchange table here; without it, a `control/` folder in the cwd.
        "control_folder": str(VAR_DIR / "celery-control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 600),
        # How often a worker looks for tasks a killed worker left unacknowledged (Redis).
        "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_INTERVAL", 10),
        "unacked_restore_throttle": env_int("CELERY_UNACKED_RESTORE_THROTTLE", 10),
    }
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or None
# The shared cache holds the per-account SerwerSMS rate limit: Redis when the broker is Redis
# (or CACHE_URL), else a file cache every process here shares.
_cache_url = env_str("CACHE_URL") or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else ""
)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache"
        if _cache_url
        else "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": _cache_url or str(VAR_DIR / "cache"),
    }
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# --- Reconciliation with SerwerSMS's partner billing (billing/services/reconcile.py) ----------
# The file's headers are not documented: `field:Header,...` over the defaults (the simulator's
# export); fields id, account, phone, type, parts, status, dispatched_at, cost, ic.
RECONCILE_COLUMNS = env_str("RECONCILE_COLUMNS")
# Larger uploads are refused before they are read (a month of ~250,000 messages is ~20 MB).
RECONCILE_MAX_FILE_BYTES = env_int("RECONCILE_MAX_FILE_BYTES", 20 * 1024 * 1024)

# --- Operations: health, metrics, alerts (app `ops`, docs/operations.md) -------------------
OPS_HEARTBEAT_INTERVAL_SECONDS = env_int("OPS_HEARTBEAT_INTERVAL_SECONDS", 60)
HEALTH_BEAT_MAX_AGE_SECONDS = env_int("HEALTH_BEAT_MAX_AGE_SECONDS", 180)
HEALTH_POLL_MAX_AGE_SECONDS = env_int(
    "HEALTH_POLL_MAX_AGE_SECONDS", 3 * STATUS_POLL_INTERVAL_SECONDS + 60
)
HEALTH_BROKER_TIMEOUT = env_float("HEALTH_BROKER_TIMEOUT", 3.0)
# Prometheus: served at METRICS_PATH only to a bearer METRICS_TOKEN or from an address (or
# network) in METRICS_ALLOWED_ADDRESSES; with neither set the endpoint answers 404.
METRICS_PATH = env_str("METRICS_PATH", "metrics").strip("/")
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_ALLOWED_ADDRESSES = env_list("METRICS_ALLOWED_ADDRESSES")
ALERT_INTERVAL_SECONDS = env_int("ALERT_INTERVAL_SECONDS", 60)
ALERT_LANGUAGE = env_str("ALERT_LANGUAGE", LANGUAGE_CODE)  # of alert mails and incident summaries
ALERT_EMAILS = env_list("ALERT_EMAILS")
ALERT_WEBHOOK_URL = env_str("ALERT_WEBHOOK_URL")
ALERT_WEBHOOK_TIMEOUT = env_float("ALERT_WEBHOOK_TIMEOUT", 10.0)
ALERT_SERWERSMS_ERROR_RATE = env_float("ALERT_SERWERSMS_ERROR_RATE", 0.2)
ALERT_SERWERSMS_MIN_ANSWERS = env_int("ALERT_SERWERSMS_MIN_ANSWERS", 20)
ALERT_SERWERSMS_WINDOW_SECONDS = env_int("ALERT_SERWERSMS_WINDOW_SECONDS", 900)
ALERT_POLL_LAG_SECONDS = env_int("ALERT_POLL_LAG_SECONDS", 3 * STATUS_POLL_INTERVAL_SECONDS + 300)
ALERT_PENDING_MAX_AGE_SECONDS = env_int("ALERT_PENDING_MAX_AGE_SECONDS", 24 * 3600)
ALERT_UNMATCHED_EMAIL2SMS_MAX = env_int("ALERT_UNMATCHED_EMAIL2SMS_MAX", 1)
ALERT_UNMATCHED_EMAIL2SMS_WINDOW_SECONDS = env_int(
    "ALERT_UNMATCHED_EMAIL2SMS_WINDOW_SECONDS", 24 * 3600
)
ALERT_OUTBOX_GRACE_SECONDS = env_int("ALERT_OUTBOX_GRACE_SECONDS", 300)
ALERT_STATEMENT_CLOSE_GRACE_DAYS = env_int("ALERT_STATEMENT_CLOSE_GRACE_DAYS", 2)
# The derived-data check (`rollups --check`, docs/derived-data.md) and its alert.
DERIVED_CHECK_INTERVAL_SECONDS = env_int("DERIVED_CHECK_INTERVAL_SECONDS", 24 * 3600)
ALERT_DERIVED_CHECK_MAX_AGE_SECONDS = env_int(
    "ALERT_DERIVED_CHECK_MAX_AGE_SECONDS", 2 * DERIVED_CHECK_INTERVAL_SECONDS
)

# --- HTTP API for partner software (partner_api) ---------------------------------------------
# Counted atomically (partner_api/rate_limits.py) in a `limits` storage: by default the Redis of
# the cache above, else files under var/ every local process shares.
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "600/min")
API_RATE_LIMIT_STORAGE_URL = env_str("API_RATE_LIMIT_STORAGE_URL") or (
    _cache_url or (VAR_DIR / "rate-limits").resolve().as_uri()
)
# A reported message sent longer ago than this is refused (its month is long closed).
API_REPORTED_MAX_AGE_DAYS = env_int("API_REPORTED_MAX_AGE_DAYS", 400)
# 10,000 reported messages are about 3 MB of JSON; larger bodies answer 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 8 * 1024 * 1024)

# --- Operations: logs, errors, retention (docs/operations-logs.md) ----------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOG_FORMAT = env_str("LOG_FORMAT", "json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT: json or plain, got {LOG_FORMAT!r}.")
LOG_FILE = env_str("LOG_FILE")  # also written here when set (reopened after logrotate)
LOGGING = _ops_logging.logging_config(level=LOG_LEVEL, log_file=LOG_FILE, json=LOG_FORMAT == "json")
_ops_logging.configure_structlog()
# Celery keeps the handlers above instead of installing its own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Never in a log line or an error report: these values, wherever they show (comma-separated
# LOG_REDACT_VALUES adds more). Accounts' tokens, passwords and callback secrets are added
# when the code names the account (billing.log_context.bind_account).
SENTRY_DSN = env_secret("SENTRY_DSN")
PHONE_HASH_PEPPER = env_secret("PHONE_HASH_PEPPER") or f"phone-hash:{SECRET_KEY}"
_ops_logging.add_secrets(
    [
        SECRET_KEY,
        SENTRY_DSN,
        PHONE_HASH_PEPPER,
        SERWERSMS_EMAIL2SMS_PASSWORD,
        PORTAL_EMAIL_PASSWORD,
        *env_list("LOG_REDACT_VALUES"),
    ]
)
if SENTRY_DSN:
    _ops_logging.init_sentry(
        SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT"),
        release=env_str("SENTRY_RELEASE"),
        traces_sample_rate=env_float("SENTRY_TRACES_SAMPLE_RATE", 0.0),
    )
RETENTION_MONTHS = env_int("RETENTION_MONTHS", 13)
if RETENTION_MONTHS < 1:
    raise ImproperlyConfigured("RETENTION_MONTHS must be at least 1.")
RETENTION_BATCH = env_int("RETENTION_BATCH", 5000)  # messages per transaction
RETENTION_INTERVAL_SECONDS = env_int("RETENTION_INTERVAL_SECONDS", 24 * 3600)  # beat
