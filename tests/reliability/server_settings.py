"""Settings for the processes the reliability tests start (gunicorn, a Celery worker).

The test settings (same secret key, so sessions the test makes are valid; fast hashing),
with what production does with Redis (``pyramid_site.settings.base``): when ``REDIS_URL``
is set the cache and the Celery broker are there and tasks really go to a worker. Email
goes where ``EMAIL_URL`` says (kept in memory when unset).
"""

from pyramid_site.settings import base
from pyramid_site.settings.test import *  # noqa: F403
from pyramid_site.settings.test import env

REDIS_URL = base.REDIS_URL
CELERY_BROKER_URL = base.CELERY_BROKER_URL
CELERY_TASK_ALWAYS_EAGER = base.CELERY_TASK_ALWAYS_EAGER
# A prefix per test run, so that nothing cached by an earlier run (another test database)
# is read from a shared Redis.
CACHES = {"default": {**base.CACHES["default"], "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", "")}}
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="memorymail://")
vars().update(EMAIL_CONFIG)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="WARNING")},
}
