"""Production: PostgreSQL through DATABASE_URL, secrets only from the environment, HTTPS
behind one reverse proxy that sets X-Forwarded-Proto and X-Forwarded-For."""

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import ALLOWED_HOSTS, CONTENT_SECURITY_POLICY, REDIS_URL, SECRET_KEY, env

# Placeholders that ship in this repository (local, test) or Django's startproject.
DEFAULT_SECRET_PREFIXES = ("local-", "test-", "django-insecure")
SECRET_KEY_MIN_LENGTH = 50

if (
    not SECRET_KEY
    or SECRET_KEY.startswith(DEFAULT_SECRET_PREFIXES)
    or len(SECRET_KEY) < SECRET_KEY_MIN_LENGTH
):
    raise ImproperlyConfigured(
        f"DJANGO_SECRET_KEY must be set to a long random value in production "
        f"(at least {SECRET_KEY_MIN_LENGTH} characters, not a development default; e.g. "
        f"python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )

DEBUG = False
# The site's address defaults to https on the first allowed host (a "*" or ".domain" entry
# gives no usable default: the SITE_URL check then says so).
SITE_URL = env.str(
    "SITE_URL", default=f"https://{ALLOWED_HOSTS[0]}" if ALLOWED_HOSTS else ""
).rstrip("/")
# Email goes to an SMTP server (a local relay unless EMAIL_URL says else); never the console.
if "EMAIL_URL" not in env:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = "localhost"
    EMAIL_PORT = 25
DEFAULT_FROM_EMAIL = env.str(
    "DEFAULT_FROM_EMAIL",
    default=f"Profit Pyramid <noreply@{urlsplit(SITE_URL).hostname or 'localhost'}>",
)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# The site's own origin is trusted for CSRF by default; more from the environment.
CSRF_TRUSTED_ORIGINS = env.list(
    "DJANGO_CSRF_TRUSTED_ORIGINS",
    default=[SITE_URL] if SITE_URL.startswith("https://") else [],
)
# Rate limits per client IP: the proxy's X-Forwarded-For names the client.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("DJANGO_TRUSTED_PROXY_COUNT", default=1)
STAFF_REQUIRE_MFA = env.bool("DJANGO_STAFF_REQUIRE_MFA", default=True)
# Without Redis the cache is private to each process: `check --deploy` fails
# (pyramid_site.E009), and sessions are read from the database alone, so that a logout is
# seen by every process even so.
if not REDIS_URL:
    SESSION_ENGINE = "django.contrib.sessions.backends.db"
CONTENT_SECURITY_POLICY = {
    **CONTENT_SECURITY_POLICY,
    "DIRECTIVES": {**CONTENT_SECURITY_POLICY["DIRECTIVES"], "upgrade-insecure-requests": True},
}
