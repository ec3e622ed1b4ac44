"""Settings for the test suite: fast hashing, emails kept in memory unless a test says else."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = "test-only-not-secret"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SITE_URL = "https://pyramid.test"
ALLOWED_HOSTS = ["*"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests decide per test whether tasks go to a real broker; by default they run in-process.
CELERY_BROKER_URL = env.str("REDIS_URL", default="") or "memory://"
CELERY_TASK_ALWAYS_EAGER = True
# Nudge retries after 1, 2, 4 ... s (Celery's backoff counts whole seconds, at least 1).
NUDGE_RETRY_BASE_SECONDS = 1
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Serve static files from the source folders (no collectstatic in tests).
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# Refusal limits out of the way of tests that post many refused deliveries from one
# address; the tests of the limits set their own.
WEBHOOK_REFUSALS_PER_CLIENT = 100_000
WEBHOOK_REFUSALS_PER_CONNECTION = 100_000
