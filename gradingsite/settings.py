"""Settings for the grading backend: one module, configured from the environment.

Every value a deployment changes is read here through the small typed helpers below, which
raise ``ImproperlyConfigured`` on nonsense instead of guessing. ``DEBUG`` is off unless the
environment turns it on; with it off, the secrets must be provided.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from gradingsite import devdb

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

_DEV_SECRET_KEY = "dev-only-secret-key-never-used-in-production-0123456789abcdef"
_DEV_JWT_SECRET = "dev-only-jwt-secret-never-used-in-production-0123456789abcdef"

SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET_KEY if DEBUG else None)
JWT_SECRET = env_str("JWT_SECRET", _DEV_JWT_SECRET if DEBUG else None)
_missing = [name for name, value in (("SECRET_KEY", SECRET_KEY), ("JWT_SECRET", JWT_SECRET)) if not value]
if _missing:
    raise ImproperlyConfigured(
        f"{' and '.join(_missing)} must be set when DEBUG is off. On your own machine, run with DEBUG=1 "
        "(make run does); in production generate each with: "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )
if len(JWT_SECRET) < 32:
    raise ImproperlyConfigured("insecure configuration: JWT_SECRET must be at least 32 characters")
if JWT_SECRET == SECRET_KEY:
    raise ImproperlyConfigured("insecure configuration: JWT_SECRET must differ from SECRET_KEY")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "gradingsite.apps.GradingAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "procrastinate.contrib.django",
    "accounts",
    "courses",
    "grading",
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
    "gradingsite.replicas.ReplicaMiddleware",
]

ROOT_URLCONF = "gradingsite.urls"
# A missing trailing slash must never redirect: a redirect would drop a POST body.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

WSGI_APPLICATION = "gradingsite.wsgi.application"
# Django's form renderer, with the templates of its input widgets and empty error lists written in
# Python: an admin page with inline forms renders hundreds of them.
FORM_RENDERER = "gradingsite.form_renderer.Renderer"

# Database: PostgreSQL, always. DATABASE_URL, or when it is unset the development server that
# `make run` starts from a wheel (gradingsite.devdb: its socket in .pgdata/, or GRADING_PG_DATA).
# Persistent connections with health checks: after a database restart each worker reconnects on
# its next request instead of failing it. The check costs no round trip: it asks the connection's
# socket whether the server said goodbye, and sends Django's SELECT 1 only when it did
# (gradingsite/postgresql/base.py). DATABASE_SSL_REQUIRE is for Heroku, whose Postgres
# requires TLS; the local server has none.
#
# Aliases (README "Scaling"):
# - "default": what the app's requests use. Through DATABASE_CONNECTION_POOL_URL when it is set
#   (PgBouncer in transaction mode: each transaction may run on another server connection, so no
#   server-side cursors and no prepared statements), else DATABASE_URL.
# - "direct": DATABASE_URL itself, always. For what needs a session of its own: migrations (the
#   Procfile's release), the worker's LISTEN, and the gradebook CSV's server-side cursors.
# - "replica_0", "replica_1", ...: DATABASE_REPLICA_URLS (Heroku followers), read-only; reads that
#   may lag go there (gradingsite.replicas), everything else to "default".
_CONN_MAX_AGE = env_int("CONN_MAX_AGE", 600)
_SSL_REQUIRE = env_bool("DATABASE_SSL_REQUIRE", False)


def _database(url: str, **options) -> dict:
    database = dj_database_url.parse(url, conn_max_age=_CONN_MAX_AGE, conn_health_checks=True, ssl_require=_SSL_REQUIRE)
    if database["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(f"only PostgreSQL is supported: {database['ENGINE']} is not (database URLs)")
    # Django's backend, whose health check asks the socket before it sends a query (its module says why).
    database["ENGINE"] = "gradingsite.postgresql"
    if options:
        database.setdefault("OPTIONS", {}).update(options)
    return database


_DIRECT_URL = env_str("DATABASE_URL", devdb.url(devdb.data_dir()))
# PostgreSQL binds query parameters itself (server-side binding) on direct connections. Statements
# are prepared only when the code asks (``gradingsite.sql.fetch(prepare=True)``: the statements of
# the hot paths, written once as SQL; README "Speed" says which and why). Preparing every statement
# a connection ran 5 times was slower overall (a prepare round trip for each new ORM statement text,
# and PostgreSQL's generic plans of ORM queries).
# psycopg has no "only when asked" setting (a threshold of None refuses even those), so its
# threshold is one no statement reaches.
_PREPARE_WHEN_ASKED = 2**62
_BINDING = (
    {"server_side_binding": True, "prepare_threshold": _PREPARE_WHEN_ASKED}
    if env_bool("DATABASE_SERVER_SIDE_BINDING", True)
    else {}
)
DATABASE_CONNECTION_POOL_URL = env_str("DATABASE_CONNECTION_POOL_URL")
DATABASES = {"direct": {**_database(_DIRECT_URL, **_BINDING), "TEST": {"MIRROR": "default"}}}
if DATABASE_CONNECTION_POOL_URL:
    # Transaction pooling: no prepared statements (PgBouncer before 1.21 can't keep them) and no
    # server-side cursors (a cursor lives in one server connection's transaction).
    DATABASES["default"] = {
        **_database(DATABASE_CONNECTION_POOL_URL, prepare_threshold=None),
        "DISABLE_SERVER_SIDE_CURSORS": True,
    }
else:
    DATABASES["default"] = _database(_DIRECT_URL, **_BINDING)
DATABASE_REPLICAS = []
for _index, _url in enumerate(env_list("DATABASE_REPLICA_URLS", [])):
    DATABASE_REPLICAS.append(f"replica_{_index}")
    DATABASES[f"replica_{_index}"] = {**_database(_url, **_BINDING), "TEST": {"MIRROR": "default"}}
# A replica whose replay is further behind than this is not read from.
REPLICA_MAX_LAG_SECONDS = env_int("REPLICA_MAX_LAG_SECONDS", 10, minimum=1)
# After a write, its author's reads stay on the primary this long (read your own writes).
REPLICA_PIN_SECONDS = env_int("REPLICA_PIN_SECONDS", 15)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASE_ROUTERS = ["gradingsite.routers.ReplicaRouter"]
# Each process's own memory. It keeps only what can be computed again from the database, checked
# against what it was computed from on every read (the course page's letter chart: grading.grades),
# so no two processes or dynos ever show different things, and a restart only costs computing it once
# more. At most 300 entries (a course's letters: some 30 KB at 1,000 students).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 300}}}

AUTH_USER_MODEL = "accounts.User"
# Where the answers of writes sent with an Idempotency-Key are kept (gradingsite.api.idempotency).
IDEMPOTENCY_KEY_MODEL = "accounts.IdempotencyKey"
AUTHENTICATION_BACKENDS = [
    "accounts.backends.EmailCodeBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where collectstatic writes (relative to the project, or absolute). The test suite reads its own
# (pyproject.toml), so a collectstatic or a deploy rehearsal running beside it changes nothing it serves.
STATIC_ROOT = BASE_DIR / env_str("STATIC_ROOT", "staticfiles")
# Uploaded files (gradingsite.files): with AWS_STORAGE_BUCKET_NAME set, that bucket on S3 or any
# S3-compatible store (AWS_S3_ENDPOINT_URL: R2, MinIO, Bucketeer's region...), through django-storages,
# which reads the AWS_* settings below under its and boto3's own names; unset, the local file system
# in MEDIA_ROOT (relative to the project, or absolute), which nothing serves directly.
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL")
AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME")
AWS_ACCESS_KEY_ID = env_str("AWS_ACCESS_KEY_ID")
AWS_SECRET_ACCESS_KEY = env_str("AWS_SECRET_ACCESS_KEY")
# Signature version 4 everywhere: newer AWS regions and S3-compatible stores accept nothing older.
AWS_S3_SIGNATURE_VERSION = "s3v4"
AWS_DEFAULT_ACL = None
AWS_S3_FILE_OVERWRITE = False
MEDIA_ROOT = BASE_DIR / env_str("MEDIA_ROOT", ".files")
# The largest file a student may upload, in bytes.
FILE_MAX_BYTES = env_int("FILE_MAX_BYTES", 50 * 1024 * 1024, minimum=1)
# An object of a deleted upload the store failed to delete is tried again after this many seconds,
# twice as long each time up to an hour (grading.tasks).
FILE_DELETE_RETRY_SECONDS = env_int("FILE_DELETE_RETRY_SECONDS", 60, minimum=1)
STORAGES = {
    "default": {"BACKEND": "storages.backends.s3.S3Storage"}
    if AWS_STORAGE_BUCKET_NAME
    else {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "gradingsite.storage.StaticFilesStorage"
    },
}
# Serve files from the apps too when collectstatic has not been run (see gradingsite.storage).
WHITENOISE_USE_FINDERS = DEBUG or not (STATIC_ROOT / "staticfiles.json").exists()

# Request size: the bulk results endpoint takes up to 5,000 items; anything far beyond is a 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2 * 1024 * 1024)
# The admin's test page posts about four fields per student; a course of a few thousand fits.
DATA_UPLOAD_MAX_NUMBER_FIELDS = env_int("DATA_UPLOAD_MAX_NUMBER_FIELDS", 20_000)
CSRF_FAILURE_VIEW = "gradingsite.api.exceptions.csrf_failure"

# Security. Behind Heroku's router TLS ends at the router, which says so in X-Forwarded-Proto.
# Heroku sets DYNO in every dyno: there plain HTTP is redirected to HTTPS by default. Elsewhere
# (a production-mode run on a laptop or CI box, with no TLS in front) it is off unless asked for.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", "DYNO" in os.environ)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Clients behind this many trusted proxies: the client address is that many hops from the right
# of X-Forwarded-For. In a Heroku dyno (DYNO set) 1, the router, which appends exactly one; anywhere
# else 0, REMOTE_ADDR, unless the deployment says which proxies are in front (README).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1 if "DYNO" in os.environ else 0)

# Email and one-time codes.
SENDGRID_API_KEY = env_str("SENDGRID_API_KEY")
SENDGRID_API_HOST = env_str("SENDGRID_API_HOST", "https://api.sendgrid.com")
SENDGRID_TIMEOUT_SECONDS = env_int("SENDGRID_TIMEOUT_SECONDS", 5, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "grading@localhost")
LOGIN_CODE_MINUTES = 10
LOGIN_CODE_MAX_ATTEMPTS = 5
LOGIN_CODES_PER_EMAIL_PER_HOUR = env_int("LOGIN_CODES_PER_EMAIL_PER_HOUR", 5, minimum=1)
LOGIN_REQUESTS_PER_IP_PER_HOUR = env_int("LOGIN_REQUESTS_PER_IP_PER_HOUR", 30, minimum=1)
# Wrong codes per client IP per hour; only failures count, so a shared IP never slows real logins.
LOGIN_FAILURES_PER_IP_PER_HOUR = env_int("LOGIN_FAILURES_PER_IP_PER_HOUR", 100, minimum=1)

# Result notices (grading.notices): a notice waits this long for further changes to merge into it.
RESULT_NOTIFY_DELAY_SECONDS = env_int("RESULT_NOTIFY_DELAY_SECONDS", 300)
# SendGrid 429/5xx/timeouts: retried up to this many attempts in all, waiting
# NOTIFY_RETRY_BASE_SECONDS · 2^(attempt - 1) between them, capped at an hour.
NOTIFY_MAX_ATTEMPTS = env_int("NOTIFY_MAX_ATTEMPTS", 8, minimum=1)
NOTIFY_RETRY_BASE_SECONDS = env_int("NOTIFY_RETRY_BASE_SECONDS", 10, minimum=1)
# Personalizations per SendGrid request (SendGrid allows at most 1,000).
NOTIFY_BATCH_SIZE = env_int("NOTIFY_BATCH_SIZE", 1000, minimum=1)

# The job queue (procrastinate, on PostgreSQL). Jobs are deferred through Django's connection, in
# the transaction of the change that causes them; the worker (`python manage.py worker`) opens
# its own connections to the same database and wakes on LISTEN/NOTIFY. A worker that stops
# sending heartbeats for WORKER_STALLED_SECONDS is taken for dead and its jobs are run again.
WORKER_STALLED_SECONDS = env_int("WORKER_STALLED_SECONDS", 30, minimum=2)
PROCRASTINATE_WORKER_DEFAULTS = {
    "delete_jobs": "successful",
    "update_heartbeat_interval": max(1.0, WORKER_STALLED_SECONDS / 5),
    "stalled_worker_timeout": float(WORKER_STALLED_SECONDS),
    # Jobs scheduled for later (a notice's send_after, a retry) are looked for this often.
    "fetch_job_polling_interval": float(env_int("WORKER_POLL_SECONDS", 5, minimum=1)),
}

# REST API.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.JWTAuthentication"],
    # A signed-in caller, then the rule the view names from the policy (gradingsite.api.permissions).
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "gradingsite.api.permissions.PolicyPermission",
    ],
    "DEFAULT_PARSER_CLASSES": ["gradingsite.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["gradingsite.api.renderers.FastJSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "gradingsite.api.negotiation.ContentNegotiation",
    "DEFAULT_PAGINATION_CLASS": "gradingsite.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "gradingsite.api.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "gradingsite.api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "gradingsite.api.exceptions.exception_handler",
    "DEFAULT_METADATA_CLASS": "gradingsite.api.metadata.Metadata",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "COERCE_DECIMAL_TO_STRING": False,
    "DATETIME_FORMAT": "iso-8601",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("ACCESS_TOKEN_MINUTES", 15, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("REFRESH_TOKEN_DAYS", 7, minimum=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SECRET,
    "AUDIENCE": env_str("JWT_AUDIENCE", "grading-api"),
    "ISSUER": env_str("JWT_ISSUER", "gradingsite"),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    # simplejwt's access token, verified without PyJWT's per-token generic work (accounts/tokens.py).
    "AUTH_TOKEN_CLASSES": ("accounts.tokens.AccessToken",),
}
# No chain of refreshes outlives this many days from the login that started it.
REFRESH_CHAIN_MAX_DAYS = 30

SPECTACULAR_SETTINGS = {
    "TITLE": "Grading API",
    "DESCRIPTION": "Courses, tests and grades: passwordless login, resource-based authorization.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/",
    "SCHEMA_PATH_PREFIX_TRIM": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "gradingsite.api.schema.forbid_unknown_request_fields",
    ],
    # One enum for a course role wherever it appears (role, my_role).
    "ENUM_NAME_OVERRIDES": {
        "Role": "courses.models.Role",
        "NoticeKind": "grading.models.Notice.Kind",
        "NoticeState": "grading.models.Notice.State",
        "SubmissionType": "grading.models.SubmissionType",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"client_errors_without_traceback": {"()": "gradingsite.log.ClientErrorsWithoutTraceback"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stdout"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.request": {"filters": ["client_errors_without_traceback"]},
        # At DEBUG the SendGrid client logs request bodies (the code) and headers (the key).
        "python_http_client": {"level": "WARNING"},
        # The job queue speaks when something is wrong; grading.notices logs what was sent.
        "procrastinate": {"level": "WARNING"},
    },
}

# Conditional writes (gradingsite.api.preconditions): with this on, PUT/PATCH/DELETE of a versioned
# resource without If-Match is refused with 428.
REQUIRE_IF_MATCH = env_bool("REQUIRE_IF_MATCH", False)

# Idempotency-Key (gradingsite.api.idempotency): the most live (unexpired) keys one caller may have;
# a write with a new key beyond it is 429.
IDEMPOTENCY_KEYS_PER_USER = env_int("IDEMPOTENCY_KEYS_PER_USER", 10_000, minimum=1)
