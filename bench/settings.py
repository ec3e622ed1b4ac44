"""Settings for benchmark processes: production settings, served over plain HTTP locally.

Everything that matters for speed is production's (DEBUG off, connection reuse, Redis cache
when ``REDIS_URL`` is set); only what needs TLS or a ``collectstatic`` run is relaxed.
"""

import warnings

from pyramid_site.settings.production import *  # noqa: F403

SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

# Whitenoise warns once per process that ``collectstatic`` never ran; the bench serves no
# static files.
warnings.filterwarnings("ignore", message="No directory at")

ROOT_URLCONF = "bench.urls"
# The bench's synthetic superuser has no second factor; the admin pages measured are the
# same with or without the MFA gate in front of them.
STAFF_REQUIRE_MFA = False
