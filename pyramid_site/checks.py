"""System checks for the settings the project depends on, so that a bad configuration
fails at start (``manage.py check``, ``runserver``, ``migrate``) with a clear message.

Registered from ``pyramid_site.apps.PyramidSiteConfig.ready``. The ``deploy`` ones run with
``check --deploy`` (CI runs it against the production settings).
"""

from __future__ import annotations

import re
from email.utils import parseaddr
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

ADMIN_URL_RE = re.compile(r"^(?:[A-Za-z0-9_.~-]+/)+$")
REDIS_SCHEMES = {"redis", "rediss", "unix"}
# Backends that never hand an email to anyone.
NON_DELIVERING_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
}


@register(Tags.compatibility)
def check_site_url(app_configs, **kwargs) -> list:
    """Links in emails (progress, unsubscribe) are built on SITE_URL."""
    url = urlsplit(settings.SITE_URL)
    if url.scheme not in {"http", "https"} or not url.hostname:
        return [
            Error(
                f"SITE_URL must be an absolute http(s) URL such as https://pyramid.example.com, "
                f"not {settings.SITE_URL!r}.",
                hint="Set the SITE_URL environment variable.",
                id="pyramid_site.E001",
            )
        ]
    if url.query or url.fragment:
        return [
            Error(
                f"SITE_URL must not have a query or fragment: {settings.SITE_URL!r}.",
                id="pyramid_site.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_site_url_https(app_configs, **kwargs) -> list:
    """Emails carry List-Unsubscribe links to SITE_URL: mail providers want HTTPS."""
    if urlsplit(settings.SITE_URL).scheme != "https":
        return [
            Error(
                f"SITE_URL must use https in production, not {settings.SITE_URL!r}: links "
                f"in emails (List-Unsubscribe included) point at it.",
                hint="Set SITE_URL=https://<your host>.",
                id="pyramid_site.E002",
            )
        ]
    return []


@register(Tags.caches)
def check_redis_url(app_configs, **kwargs) -> list:
    redis_url = getattr(settings, "REDIS_URL", "")
    if not redis_url:
        return []
    url = urlsplit(redis_url)
    problem = None
    if url.scheme not in REDIS_SCHEMES:
        problem = f"its scheme must be one of {', '.join(sorted(REDIS_SCHEMES))}"
    elif url.scheme != "unix" and not url.hostname:
        problem = "it has no host"
    else:
        try:
            url.port  # noqa: B018 - parsing the port raises on a bad one
        except ValueError:
            problem = "its port is not a number"
        database = url.path.strip("/")
        if url.scheme != "unix" and database and not database.isdigit():
            problem = "its database (the path) must be a number"
    if problem:
        return [
            Error(
                f"REDIS_URL is not a Redis URL ({problem}).",
                hint="For example redis://127.0.0.1:6379/0, or leave it unset to run tasks "
                "in-process with a local cache.",
                id="pyramid_site.E003",
            )
        ]
    return []


@register(Tags.compatibility)
def check_email(app_configs, **kwargs) -> list:
    """Verification, password reset and nudges all send email."""
    errors = []
    backend = getattr(settings, "EMAIL_BACKEND", "")
    if not backend:
        errors.append(
            Error(
                "No EMAIL_BACKEND: set EMAIL_URL (smtp://user:password@host:port, "
                "consolemail://, filemail:///path).",
                id="pyramid_site.E004",
            )
        )
    elif backend == "django.core.mail.backends.smtp.EmailBackend" and not settings.EMAIL_HOST:
        errors.append(
            Error(
                "EMAIL_URL names an SMTP server without a host.",
                hint="For example smtp://user:password@smtp.example.com:587 (smtp+tls://...).",
                id="pyramid_site.E004",
            )
        )
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    try:
        validate_email(address)
    except ValidationError:
        errors.append(
            Error(
                f"DEFAULT_FROM_EMAIL is not an email address: {settings.DEFAULT_FROM_EMAIL!r}.",
                hint='For example "Profit Pyramid <noreply@pyramid.example.com>".',
                id="pyramid_site.E005",
            )
        )
    return errors


@register(Tags.security, deploy=True)
def check_email_delivers(app_configs, **kwargs) -> list:
    if settings.EMAIL_BACKEND in NON_DELIVERING_EMAIL_BACKENDS:
        return [
            Warning(
                f"EMAIL_BACKEND {settings.EMAIL_BACKEND} delivers no email: learners "
                f"get no verification links, password resets or nudges.",
                hint="Set EMAIL_URL to your SMTP server.",
                id="pyramid_site.W006",
            )
        ]
    return []


@register(Tags.urls)
def check_admin_url(app_configs, **kwargs) -> list:
    if not ADMIN_URL_RE.match(settings.ADMIN_URL) or settings.ADMIN_URL.startswith(
        ("accounts/", "static/", "progress/", "profile/", "nudges/")
    ):
        return [
            Error(
                f"DJANGO_ADMIN_URL must be a path of its own ending in a slash, such as "
                f"'backstage/', not {settings.ADMIN_URL!r}.",
                id="pyramid_site.E007",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_staff_mfa(app_configs, **kwargs) -> list:
    if not settings.STAFF_REQUIRE_MFA:
        return [
            Warning(
                "Staff can open the admin without two-factor authentication.",
                hint="Leave DJANGO_STAFF_REQUIRE_MFA unset (or true) in production.",
                id="pyramid_site.W008",
            )
        ]
    return []


# Caches every process of a deployment shares. Anything else (LocMemCache, a file cache on
# one machine's disk, DummyCache) keeps sessions and allauth's rate-limit counters per
# process: with several gunicorn workers a session still opened pages after logout on the
# workers that had it cached, two-factor setup bounced between workers, and a lockout
# allowed workers x the limit.
SHARED_CACHE_BACKENDS = {
    "pyramid_site.cache.RedisCache",
    "django_redis.cache.RedisCache",
    "django.core.cache.backends.redis.RedisCache",
    "django.core.cache.backends.memcached.PyMemcacheCache",
    "django.core.cache.backends.memcached.PyLibMCCache",
    "django.core.cache.backends.db.DatabaseCache",
}


@register(Tags.caches, Tags.security, deploy=True)
def check_shared_cache(app_configs, **kwargs) -> list:
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend not in SHARED_CACHE_BACKENDS:
        return [
            Error(
                f"The cache ({backend}) is private to each process: with more than one web "
                f"process, sessions survive logout and rate limits multiply.",
                hint="Set REDIS_URL (the cache, sessions' read-through and allauth's rate "
                "limits are shared there; README, Configuration).",
                id="pyramid_site.E009",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_trusted_proxies(app_configs, **kwargs) -> list:
    """Rate limits per client read X-Forwarded-For only from the proxies named."""
    from .client_ip import proxy_networks

    try:
        proxy_networks()
    except ValueError as error:
        return [
            Error(
                f"DJANGO_TRUSTED_PROXY_IPS is not a list of IP networks: {error}.",
                hint="For example 127.0.0.1/32,10.0.0.0/8.",
                id="pyramid_site.E010",
            )
        ]
    return []
