"""Production settings, the project's system checks, and the Content-Security-Policy."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.models import Group
from django.urls import reverse

from pyramid_site import checks
from tests.factories import LearnerFactory, UserFactory

ROOT = settings.BASE_DIR
# Variables the subprocesses must not inherit from whoever runs the tests.
OWN_VARIABLES = (
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "SITE_URL",
    "EMAIL_URL",
    "DJANGO_ADMIN_URL",
    "DJANGO_STAFF_REQUIRE_MFA",
    "DJANGO_SECURE_SSL_REDIRECT",
    "DJANGO_CSRF_TRUSTED_ORIGINS",
    "DEFAULT_FROM_EMAIL",
    "DJANGO_SETTINGS_MODULE",
    "REDIS_URL",
    "DJANGO_TRUSTED_PROXY_IPS",
)


def run_python(code: str, module: str, **variables: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in OWN_VARIABLES}
    env.update(DJANGO_SETTINGS_MODULE=module, **variables)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def production(code: str, **variables: str) -> subprocess.CompletedProcess:
    return run_python(
        code,
        "pyramid_site.settings.production",
        **{"DJANGO_ALLOWED_HOSTS": "pyramid.example.com", **variables},
    )


SETUP = "import django; django.setup(); from django.conf import settings; "


def long_secret() -> str:
    return secrets.token_urlsafe(50)


# --- start-up refuses a missing or default secret -----------------------------------------


@pytest.mark.parametrize(
    "secret",
    [None, "", "local-development-only-not-secret", "test-only-not-secret", "short-but-random"],
    ids=["missing", "empty", "local default", "test default", "too short"],
)
def test_production_refuses_to_start_without_a_real_secret(secret):
    variables = {} if secret is None else {"DJANGO_SECRET_KEY": secret}
    result = production(SETUP + "print('started')", **variables)

    assert result.returncode != 0
    assert "started" not in result.stdout
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY must be set to a long random value in production" in result.stderr


def test_production_starts_with_a_long_random_secret_and_secure_defaults():
    result = production(
        SETUP + "print(settings.DEBUG, settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE,"
        " settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS,"
        " settings.SECURE_PROXY_SSL_HEADER[0], settings.SITE_URL,"
        " settings.CSRF_TRUSTED_ORIGINS, settings.STAFF_REQUIRE_MFA,"
        " settings.ALLAUTH_TRUSTED_PROXY_COUNT, settings.EMAIL_BACKEND.rsplit('.', 2)[1],"
        " settings.DEFAULT_FROM_EMAIL, sep='|')",
        DJANGO_SECRET_KEY=long_secret(),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().split("|") == [
        "False",
        "True",
        "True",
        "True",
        "31536000",
        "HTTP_X_FORWARDED_PROTO",
        "https://pyramid.example.com",
        "['https://pyramid.example.com']",
        "True",
        "1",
        "smtp",
        "Profit Pyramid <noreply@pyramid.example.com>",
    ]


def test_deploy_check_passes_with_no_warnings():
    result = production(
        "import sys; from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])",
        DJANGO_SECRET_KEY=long_secret(),
        REDIS_URL="redis://127.0.0.1:6379/0",
    )

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_deploy_check_fails_on_an_http_site_url_and_a_console_mailer():
    result = production(
        "from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])",
        DJANGO_SECRET_KEY=long_secret(),
        SITE_URL="http://pyramid.example.com",
        EMAIL_URL="consolemail://",
    )

    assert result.returncode != 0
    assert "pyramid_site.E002" in result.stderr
    assert "pyramid_site.W006" in result.stderr


def test_production_answers_http_with_a_redirect_and_https_with_hsts_and_csp():
    # /healthz stays on plain HTTP (the load balancer's probe); it needs no static files.
    result = production(
        SETUP + "from django.test import Client; client = Client(HTTP_HOST='pyramid.example.com'); "
        "plain = client.get('/accounts/login/'); "
        "probe = client.get('/healthz'); "
        "secure = client.get('/healthz', headers={'x-forwarded-proto': 'https'}); "
        "print(plain.status_code, plain['Location'], 'Location' in probe, sep='|'); "
        "print(secure.get('Strict-Transport-Security')); "
        "print(secure['Content-Security-Policy'])",
        DJANGO_SECRET_KEY=long_secret(),
    )

    assert result.returncode == 0, result.stderr
    redirect, hsts, csp = result.stdout.strip().splitlines()
    assert redirect == "301|https://pyramid.example.com/accounts/login/|False"
    assert hsts == "max-age=31536000; includeSubDomains; preload"
    assert "upgrade-insecure-requests" in csp
    assert "script-src 'self'" in csp


def test_the_admin_url_comes_from_the_environment():
    result = run_python(
        SETUP + "from django.urls import reverse, resolve, Resolver404; "
        "print(reverse('admin:index'), reverse('admin_dashboard'));"
        "\ntry:\n    resolve('/admin/')\nexcept Resolver404:\n    print('no /admin/')",
        "pyramid_site.settings.test",
        DJANGO_ADMIN_URL="backstage",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["/backstage/ /backstage/dashboard/", "no /admin/"]


EMAIL_SETTINGS = SETUP + (
    "print(settings.EMAIL_BACKEND.rsplit('.', 2)[1], settings.EMAIL_HOST, settings.EMAIL_PORT,"
    " settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD, settings.EMAIL_USE_TLS,"
    " settings.EMAIL_USE_SSL, settings.EMAIL_FILE_PATH, sep='|')"
)


@pytest.mark.parametrize(
    ("module", "email_url", "expected"),
    [
        ("production", None, "smtp|localhost|25|||False|False|"),
        (
            "production",
            "smtp+tls://mailer:p%40ss@mail.example.com:587",
            "smtp|mail.example.com|587|mailer|p@ss|True|False|",
        ),
        ("production", "smtp+ssl://mail.example.com", "smtp|mail.example.com|465|||False|True|"),
        ("local", None, f"filebased||25|||False|False|{ROOT / 'sent-emails'}"),
        ("local", "consolemail://", "console||25|||False|False|"),
        ("local", "filemail:////var/mail/pyramid", "filebased||25|||False|False|/var/mail/pyramid"),
    ],
)
def test_email_settings_come_from_email_url(module, email_url, expected):
    variables = {"DJANGO_SECRET_KEY": long_secret()}
    if email_url is not None:
        variables["EMAIL_URL"] = email_url
    result = run_python(
        EMAIL_SETTINGS,
        f"pyramid_site.settings.{module}",
        DJANGO_ALLOWED_HOSTS="pyramid.example.com",
        **variables,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_the_cache_is_django_redis_ignoring_a_redis_outage():
    result = production(
        SETUP + "cache = settings.CACHES['default']; "
        "print(cache['BACKEND'], cache['LOCATION'], cache['OPTIONS']['IGNORE_EXCEPTIONS'],"
        " cache['OPTIONS']['SOCKET_CONNECT_TIMEOUT'] <= 1,"
        " settings.DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS, sep='|')",
        DJANGO_SECRET_KEY=long_secret(),
        REDIS_URL="redis://cache.example.com:6379/3",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "pyramid_site.cache.RedisCache|redis://cache.example.com:6379/3|True|True|True"
    )


# --- the project's system checks ----------------------------------------------------------


def ids(messages) -> list[str]:
    return [message.id for message in messages]


@pytest.mark.parametrize(
    ("site_url", "expected"),
    [
        ("https://pyramid.example.com", []),
        ("http://localhost:8000", []),
        ("pyramid.example.com", ["pyramid_site.E001"]),
        ("/relative", ["pyramid_site.E001"]),
        ("ftp://pyramid.example.com", ["pyramid_site.E001"]),
        ("https://pyramid.example.com/?a=1", ["pyramid_site.E001"]),
    ],
)
def test_site_url_must_be_absolute(settings, site_url, expected):
    settings.SITE_URL = site_url
    assert ids(checks.check_site_url(None)) == expected


def test_site_url_must_be_https_for_deployment(settings):
    settings.SITE_URL = "http://pyramid.example.com"
    assert ids(checks.check_site_url_https(None)) == ["pyramid_site.E002"]
    settings.SITE_URL = "https://pyramid.example.com"
    assert checks.check_site_url_https(None) == []


@pytest.mark.parametrize(
    ("redis_url", "ok"),
    [
        ("", True),
        ("redis://127.0.0.1:6379/0", True),
        ("rediss://user:secret@cache.example.com:6380/2", True),
        ("unix:///run/redis.sock", True),
        ("http://127.0.0.1:6379/0", False),
        ("127.0.0.1:6379", False),
        ("redis://", False),
        ("redis://127.0.0.1:port/0", False),
        ("redis://127.0.0.1:6379/zero", False),
    ],
)
def test_redis_url_format(settings, redis_url, ok):
    settings.REDIS_URL = redis_url
    assert ids(checks.check_redis_url(None)) == ([] if ok else ["pyramid_site.E003"])


def test_email_configuration(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "smtp.example.com"
    settings.DEFAULT_FROM_EMAIL = "Profit Pyramid <noreply@pyramid.example.com>"
    assert checks.check_email(None) == []
    assert checks.check_email_delivers(None) == []

    settings.EMAIL_HOST = ""
    settings.DEFAULT_FROM_EMAIL = "Profit Pyramid"
    assert ids(checks.check_email(None)) == ["pyramid_site.E004", "pyramid_site.E005"]

    settings.EMAIL_BACKEND = ""
    assert ids(checks.check_email(None))[0] == "pyramid_site.E004"

    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    assert ids(checks.check_email_delivers(None)) == ["pyramid_site.W006"]


@pytest.mark.parametrize(
    ("admin_url", "ok"),
    [
        ("admin/", True),
        ("backstage/ops/", True),
        ("/", False),
        ("admin", False),
        ("accounts/", False),
        ("a b/", False),
    ],
)
def test_admin_url_shape(settings, admin_url, ok):
    settings.ADMIN_URL = admin_url
    assert ids(checks.check_admin_url(None)) == ([] if ok else ["pyramid_site.E007"])


def test_deployment_warns_when_staff_need_no_second_factor(settings):
    settings.STAFF_REQUIRE_MFA = False
    assert ids(checks.check_staff_mfa(None)) == ["pyramid_site.W008"]
    settings.STAFF_REQUIRE_MFA = True
    assert checks.check_staff_mfa(None) == []


def test_the_checks_are_registered():
    from django.core.checks import registry

    registered = registry.registry.get_checks(include_deployment_checks=True)
    assert checks.check_site_url in registered
    assert checks.check_site_url_https in registered
    assert checks.check_redis_url in registered


# --- Content-Security-Policy: every page keeps to it ----------------------------------------


class InlineCode(HTMLParser):
    """Inline scripts and styles, and event-handler attributes, of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.styles: list[dict] = []
        self.handlers: list[str] = []
        self.javascript_urls: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        attributes = dict(attrs)
        self.handlers += [name for name in attributes if name.startswith("on")]
        for name in ("href", "src", "action"):
            if (attributes.get(name) or "").strip().lower().startswith("javascript:"):
                self.javascript_urls.append(attributes[name])
        if tag == "script" and "src" not in attributes:
            self.scripts.append(attributes)
        if tag == "style":
            self.styles.append(attributes)


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        part.split()[0]: part.split()[1:] for part in (p.strip() for p in header.split(";")) if part
    }


def assert_keeps_to_the_policy(response) -> None:
    assert response.status_code == 200, response
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    for name in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in directives[name]
        assert "'unsafe-eval'" not in directives[name]
    nonces = {value for value in directives["script-src"] if value.startswith("'nonce-")}
    style_nonces = {value for value in directives["style-src"] if value.startswith("'nonce-")}
    page = InlineCode()
    page.feed(response.content.decode())
    assert not page.handlers, page.handlers
    assert not page.javascript_urls, page.javascript_urls
    for script in page.scripts:
        # A data block (JSON for allauth's scripts) is not run; anything else needs the nonce.
        if script.get("type") != "application/json":
            assert f"'nonce-{script.get('nonce')}'" in nonces, script
    for style in page.styles:
        assert f"'nonce-{style.get('nonce')}'" in style_nonces, style


@pytest.fixture
def staff_world(db, client):
    student = LearnerFactory(engineer=True)
    EmailAddress.objects.create(
        user=student.user, email=student.user.email, verified=True, primary=True
    )
    instructor = UserFactory(email="instructor@example.com", is_staff=True)
    instructor.groups.add(Group.objects.get(name="Instructors"))
    return {"student": student, "instructor": instructor}


PUBLIC_PAGES = ["/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"]
STUDENT_PAGES = ["/profile/", "/progress/", "/accounts/email/", "/accounts/2fa/"]
ADMIN_PAGES = [
    "/admin/",
    "/admin/dashboard/",
    "/admin/learners/learner/",
    "/admin/learners/learner/{learner}/change/",
    "/admin/learners/learner/import/",
    "/admin/learners/user/{user}/change/",
    "/admin/curriculum/key/",
    "/admin/curriculum/track/{track}/change/",
    "/admin/learners/cohort/add/",
]


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_public_pages_keep_to_the_policy(client, db, url):
    assert_keeps_to_the_policy(client.get(url))


@pytest.mark.parametrize("url", STUDENT_PAGES)
def test_student_pages_keep_to_the_policy(client, staff_world, url):
    client.force_login(staff_world["student"].user)
    assert_keeps_to_the_policy(client.get(url))


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_admin_pages_keep_to_the_policy(client, staff_world, url):
    client.force_login(staff_world["instructor"])
    student = staff_world["student"]
    url = url.format(learner=student.pk, user=student.user.pk, track=student.track_id)
    assert_keeps_to_the_policy(client.get(url))


def test_inline_styles_of_the_admin_carry_the_requests_nonce(client, staff_world):
    client.force_login(staff_world["instructor"])
    response = client.get(reverse("admin_dashboard"))

    nonce = re.search(r"<style nonce=\"([^\"]+)\"", response.text).group(1)
    assert f"'nonce-{nonce}'" in policy(response)["style-src"]
    # A fresh nonce for every response.
    again = client.get(reverse("admin_dashboard"))
    assert f"'nonce-{nonce}'" not in policy(again)["style-src"]


# --- in a real browser: nothing the pages need is blocked -----------------------------------

CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")
def test_chromium_reports_no_policy_violation(live_server, monkeypatch):
    from playwright.sync_api import sync_playwright

    from curriculum.models import Track
    from curriculum.services import curriculum_load

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not Track.objects.exists():
        curriculum_load()
    password = "a-long-and-unusual-passphrase-42"
    student = LearnerFactory(engineer=True, user__password=password)
    instructor = UserFactory(email="instructor@example.com", is_staff=True, password=password)
    instructor.groups.add(Group.objects.get(name="Instructors"))
    for user in (student.user, instructor):
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    pages = {
        None: ["/", "/accounts/login/", "/accounts/signup/"],
        student.user: ["/profile/", "/progress/"],
        instructor: [
            "/admin/",
            "/admin/dashboard/",
            "/admin/learners/learner/",
            f"/admin/learners/learner/{student.pk}/change/",
            "/admin/learners/learner/import/",
            "/admin/curriculum/key/add/",
        ],
    }

    violations = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        for user, urls in pages.items():
            context = browser.new_context()
            context.set_default_timeout(10_000)
            # Injected by the browser, not the page: the policy does not apply to it.
            context.add_init_script(
                "document.addEventListener('securitypolicyviolation', e => "
                "console.error('CSP ' + e.violatedDirective + ' ' + e.blockedURI));"
            )
            page = context.new_page()

            def report(message, page=page) -> None:
                if "CSP" in message.text or "Content Security Policy" in message.text:
                    violations.append(f"{page.url}: {message.text}")

            page.on("console", report)
            if user is not None:
                page.goto(f"{live_server.url}/accounts/login/")
                page.fill("input[name=login]", user.email)
                page.fill("input[name=password]", password)
                page.click("form button[type=submit]")
                page.wait_for_load_state()
            for url in urls:
                page.goto(f"{live_server.url}{url}")
                page.wait_for_load_state("networkidle")
                # site.js (or the admin's scripts) ran: the policy lets our own files in.
                if not url.startswith("/admin/"):
                    assert page.evaluate("document.documentElement.classList.contains('js')")
            context.close()
        browser.close()

    assert not violations, "\n".join(violations)
