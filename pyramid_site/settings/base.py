"""Settings shared by every environment, read through one django-environ ``env``.

Environment variables (see README): DATABASE_URL, REDIS_URL, EMAIL_URL, DJANGO_SECRET_KEY,
DJANGO_DEBUG, DJANGO_ALLOWED_HOSTS, SITE_URL, DJANGO_ADMIN_URL, DJANGO_STAFF_REQUIRE_MFA,
DJANGO_SETTINGS_MODULE.
"""

from __future__ import annotations

from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE

from learners.nudges import task_names as nudge_tasks

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(str(BASE_DIR / ".env"))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")
# Where the instructors' admin lives (a path under the site, ending in a slash).
ADMIN_URL = env.str("DJANGO_ADMIN_URL", default="admin/").strip("/") + "/"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "csp",
    "django_htmx",
    "solo",
    "pyramid_site",
    "curriculum",
    "learners",
    "learners.nudges",
    "learners.privacy",
    "learners.integrations",
    "learners.onboarding",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    "pyramid_site.logs.RequestIdMiddleware",
    "pyramid_site.middleware.PermissionsPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "pyramid_site.middleware.RejectHostileInputMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "pyramid_site.middleware.StaffMFAMiddleware",
    "pyramid_site.middleware.AdminTimezoneMiddleware",
]

ROOT_URLCONF = "pyramid_site.urls"
WSGI_APPLICATION = "pyramid_site.wsgi.application"

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

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# Reuse connections across requests (PostgreSQL); health-checked so a restarted server
# does not hand out dead connections.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "learners.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-allauth: email is the login, verified before use.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# Choosing a password from a link (an invitation, a reset) proves the address and ends
# signed in, on the learner's page (AccountAdapter.get_login_redirect_url).
ACCOUNT_LOGIN_ON_PASSWORD_RESET = True
ACCOUNT_UNIQUE_EMAIL = True
# Rate limits: allauth's defaults stay on (ACCOUNT_RATE_LIMITS is deliberately not set):
# failed logins, signups, password resets and confirmation emails are limited.
# No "[Profit Pyramid]" prefix: the sender's name says it, as on the nudges; allauth's emails
# (templates/account/email/) use the nudges' look, in HTML and plain text.
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
# Behind a reverse proxy every client has the proxy's address: rate limits per IP need the
# client's, the n-th address from the right of X-Forwarded-For (0: use REMOTE_ADDR).
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("DJANGO_TRUSTED_PROXY_COUNT", default=0)
# ... and only from requests whose REMOTE_ADDR is one of these proxies (pyramid_site.client_ip):
# a client that reaches the web processes directly cannot pick its address by header.
TRUSTED_PROXY_IPS = env.list(
    "DJANGO_TRUSTED_PROXY_IPS",
    default=["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
)
# /readyz (pyramid_site.health): staff, or a monitoring system sending this bearer token.
READINESS_TOKEN = env.str("DJANGO_READINESS_TOKEN", default="")
ACCOUNT_ADAPTER = "pyramid_site.accounts.AccountAdapter"
ACCOUNT_FORMS = {"signup": "pyramid_site.accounts.SignupForm"}

# Two-factor authentication (allauth.mfa): TOTP apps plus recovery codes. Staff can be
# required to have it before they reach the admin (pyramid_site.middleware).
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Profit Pyramid"
STAFF_REQUIRE_MFA = env.bool("DJANGO_STAFF_REQUIRE_MFA", default=False)

LOGIN_REDIRECT_URL = "/progress/"
LOGIN_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
# The site's English (locale/en): allauth's title-case strings in sentence case. "en-us"
# falls back to this "en" catalogue, which comes before every app's own.
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Email: EMAIL_URL such as smtp://user:password@host:port (smtp+tls:// for STARTTLS,
# smtp+ssl:// for TLS from the start), consolemail://, filemail:///path.
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"] or ""
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_PORT = _email["EMAIL_PORT"] or (465 if EMAIL_USE_SSL else 25)
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_FILE_PATH = _email["EMAIL_FILE_PATH"]
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Profit Pyramid <noreply@localhost>")

# Celery: Redis broker from REDIS_URL; without it every task runs in-process.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # the worker logs through LOGGING (task ids)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = "UTC"
# Celery's Django fixup closes the database connection before and after every task unless
# this is set (celery/celery#9824 reverted honouring CONN_MAX_AGE): a new PostgreSQL
# session per task, most of a webhook event's cost. Workers keep it for this many tasks;
# around each task it is checked as Django checks it around a request (CONN_MAX_AGE,
# errors: pyramid_site/celery.py).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# Nudges (learners/nudges): an hourly sweep (next_step goes out at 09:00-09:59 local time,
# so the sweep must run in every hour) and a frequent pass handing rows that never reached
# a worker (broker down when they were created).
CELERY_IMPORTS = ("learners.nudges.tasks", "learners.privacy.tasks")
CELERY_BEAT_SCHEDULE = {
    "nudges-sweep": {
        "task": nudge_tasks.SWEEP,
        "schedule": crontab(minute=0),
        "options": {"expires": 50 * 60},
    },
    "integrations-hand-received": {
        "task": "integrations.hand_received",
        "schedule": 2 * 60.0,
        "options": {"expires": 100},
    },
    "nudges-hand-pending": {
        "task": nudge_tasks.HAND_PENDING,
        "schedule": 5 * 60.0,
        "options": {"expires": 4 * 60},
    },
}
# Retention (learners.privacy): nudge ledger rows older than this are deleted by a daily
# beat task, in batches (at most batch size x batches rows per run).
NUDGE_RETENTION_DAYS = env.int("NUDGE_RETENTION_DAYS", default=548)  # 18 months
WEBHOOK_RETENTION_DAYS = env.int("WEBHOOK_RETENTION_DAYS", default=548)  # webhook events
# Refused webhook deliveries (bad token or signature, unknown connection, too large) per
# minute before the sender is answered 429 without being read: per client IP, and per
# connection (past which refusals are no longer even recorded).
WEBHOOK_REFUSALS_PER_CLIENT = env.int("WEBHOOK_REFUSALS_PER_CLIENT", default=20)
WEBHOOK_REFUSALS_PER_CONNECTION = env.int("WEBHOOK_REFUSALS_PER_CONNECTION", default=60)
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=1000)
RETENTION_MAX_BATCHES = env.int("RETENTION_MAX_BATCHES", default=100)
CELERY_BEAT_SCHEDULE["insights-refresh"] = {
    "task": "learners.insights_refresh",
    "schedule": crontab(minute=20),
    "options": {"expires": 50 * 60},
}
CELERY_BEAT_SCHEDULE["privacy-prune"] = {
    "task": "privacy.prune",
    "schedule": crontab(minute=30, hour=3),
    "options": {"expires": 60 * 60},
}
# SMTP errors are retried after base, 2 x base, 4 x base ... seconds.
NUDGE_RETRY_BASE_SECONDS = env.float("NUDGE_RETRY_BASE_SECONDS", default=60.0)

# The cache holds the curriculum rules, sessions (read-through) and allauth's rate-limit
# counters; shared through Redis when there is one, so that an admin edit is seen by every
# web and worker process. It holds only what can be rebuilt, so with Redis unreachable it
# acts as an empty cache (django-redis's IGNORE_EXCEPTIONS, each failure logged): pages
# read the database instead of failing, and rate limits are not enforced (see README,
# Configuration). Short timeouts, so that a hung Redis does not hold requests.
CACHES = {
    "default": (
        {
            "BACKEND": "pyramid_site.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 1.0,
            },
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
# Sessions are written through to the database and read from the cache: a signed-in
# request costs no session query while the cache holds it (with Redis down, the database).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# Flash messages ("Confirmation email sent to ...") live in the session, not in a cookie
# that would carry the person's address to every proxy and log on the way (and outlive
# an erasure, which ends the sessions).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# The release (e.g. the commit a deploy ships): part of the cached pages' keys, so a deploy
# never serves a body the previous release cached. Unset: a digest of the code and templates.
RELEASE = env.str("RELEASE", default="")

# Work is done in chunks of this many learners (recompute, nudge sweep).
LEARNER_CHUNK_SIZE = env.int("LEARNER_CHUNK_SIZE", default=1000)

# Content-Security-Policy (django-csp), in every environment so that tests see breakage.
# Scripts come only from our static files (a template that needs an inline script gives it
# nonce="{{ request.csp_nonce }}"); no eval. Inline <style> blocks need the nonce too.
# Style attributes stay allowed: the admin dashboard sizes its bars with them, and an
# attribute cannot run script. allauth's QR code for TOTP is a data: image.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Permissions-Policy (pyramid_site.middleware): the site uses none of these browser features,
# so no page (or anything injected into one) may ask for them. Values are allow-lists of
# origins ("self", '"https://..."'); empty means nobody.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

# One JSON object per line with the request id or Celery task id, no email addresses
# (pyramid_site/logs.py); the worker logs through it too (not Celery's own root logger).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "pyramid_site.logs.ContextFilter"}},
    "formatters": {"structured": {"()": "pyramid_site.logs.StructuredFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": "structured",
        }
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
}

# The REST API (learners.integrations.api): API keys only, JSON only, errors as RFC 9457
# problem details, requests per key limited in the shared cache (API_RATE_LIMIT).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["learners.integrations.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["learners.integrations.api.auth.HasApiKeyScope"],
    "DEFAULT_THROTTLE_CLASSES": ["learners.integrations.api.auth.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("API_RATE_LIMIT", default="600/min")},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["learners.integrations.api.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "learners.integrations.api.problems.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Profit Pyramid API",
    "DESCRIPTION": (
        "Placements, learners and completions. Authenticate with an API key from the "
        "admin: `Authorization: Bearer <key>`. Errors are RFC 9457 problem details."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "learners.integrations.api.schema.refuse_unknown_body_fields",
        "learners.integrations.api.schema.document_webhooks",
    ],
    # OpenAPI 3.1 for its "webhooks": the Standard Webhooks body a course site sends us.
    "OAS_VERSION": "3.1.0",
    "WEBHOOKS": [
        "learners.integrations.api.webhooks.LESSON_COMPLETED",
        "learners.integrations.api.webhooks.COURSE_COMPLETED",
    ],
}
