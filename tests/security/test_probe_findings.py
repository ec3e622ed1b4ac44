"""The outside probe's findings (issue 14), one test (or more) each, so none comes back.

The multi-worker ones start gunicorn (tests/reliability) and need PostgreSQL and Redis.
"""

from __future__ import annotations

from unittest import mock
from urllib.parse import quote, urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import get_hasher
from django.contrib.auth.models import Group
from django.core import mail
from django.db import IntegrityError, transaction
from django.test import Client

from learners.models import Learner, User
from learners.roster import COLUMNS, roster_import
from pyramid_site.client_ip import client_ip
from tests.factories import LearnerFactory, UserFactory
from tests.security.test_settings import long_secret, production

ADMIN = "/admin/"
CHECK_DEPLOY = (
    "from django.core.management import execute_from_command_line; "
    "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])"
)


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser(email="root@example.com", password="x-long-password-1")


@pytest.fixture
def instructor(db):
    user = UserFactory(email="instructor@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name="Instructors"))
    return user


# --- sessions and rate limits are not per process ----------------------------------------


def test_deploy_check_fails_with_a_per_process_cache():
    result = production(CHECK_DEPLOY, DJANGO_SECRET_KEY=long_secret())

    assert result.returncode != 0
    assert "pyramid_site.E009" in result.stderr
    assert "REDIS_URL" in result.stderr


def test_deploy_check_fails_on_a_bad_trusted_proxy_list():
    result = production(
        CHECK_DEPLOY,
        DJANGO_SECRET_KEY=long_secret(),
        REDIS_URL="redis://127.0.0.1:6379/0",
        DJANGO_TRUSTED_PROXY_IPS="10.0.0.0/8,not-an-ip",
    )

    assert result.returncode != 0
    assert "pyramid_site.E010" in result.stderr


def test_production_without_redis_keeps_sessions_in_the_database_alone():
    code = "import django; django.setup(); from django.conf import settings; "
    without = production(code + "print(settings.SESSION_ENGINE)", DJANGO_SECRET_KEY=long_secret())
    with_redis = production(
        code + "print(settings.SESSION_ENGINE)",
        DJANGO_SECRET_KEY=long_secret(),
        REDIS_URL="redis://127.0.0.1:6379/0",
    )

    assert without.stdout.strip() == "django.contrib.sessions.backends.db"
    assert with_redis.stdout.strip() == "django.contrib.sessions.backends.cached_db"


# --- email changes keep allauth's addresses consistent; unique whatever the case ---------


def test_admin_email_change_retires_the_old_address(client, superuser):
    learner = LearnerFactory(user__email="old@example.com")
    EmailAddress.objects.create(
        user=learner.user, email="old@example.com", verified=True, primary=True
    )
    client.force_login(superuser)
    page = client.get(f"{ADMIN}learners/user/{learner.user.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in ("first_name", "last_name")}
    data.update(email="New@Example.com", is_active="on", date_joined_0="2025-01-01")
    data.update(date_joined_1="00:00:00", last_login_0="", last_login_1="")

    response = client.post(f"{ADMIN}learners/user/{learner.user.pk}/change/", data)

    assert response.status_code == 302, response.context and response.context["errors"]
    learner.user.refresh_from_db()
    assert learner.user.email == "new@example.com"
    addresses = list(
        EmailAddress.objects.filter(user=learner.user).values_list("email", "verified", "primary")
    )
    assert addresses == [("new@example.com", False, True)]
    # The old address can no longer ask for a password reset that works.
    mail.outbox.clear()
    Client().post("/accounts/password/reset/", {"email": "old@example.com"})
    assert not any("/accounts/password/reset/key/" in m.body for m in mail.outbox)


def test_admin_refuses_an_address_another_account_has_in_another_case(client, superuser):
    UserFactory(email="taken@example.com")
    user = UserFactory(email="mine@example.com")
    client.force_login(superuser)

    response = client.post(
        f"{ADMIN}learners/user/{user.pk}/change/",
        {
            "email": "TAKEN@example.com",
            "is_active": "on",
            "date_joined_0": "2025-01-01",
            "date_joined_1": "00:00:00",
        },
    )

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.email == "mine@example.com"


def test_the_database_refuses_emails_that_differ_only_in_case(db):
    UserFactory(email="ana@example.com")

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.bulk_create([User(email="ANA@example.com", password="!")])


# --- signup takes as long for a registered address as for a new one ----------------------


def _hashes_per_signup(email: str) -> int:
    """How many times a signup with ``email`` hashes a password: the hash is most of a
    signup's time (PBKDF2: hundreds of milliseconds), and timing told registered addresses
    apart when only a new account hashed. Counted, not timed, so a busy machine cannot
    make the test fail (the hasher is wrapped, not replaced)."""
    hasher = get_hasher()
    data = {
        "first_name": "Ada",
        "password1": "a-long-pass-phrase-9",
        "password2": "a-long-pass-phrase-9",
    }
    with mock.patch.object(
        type(hasher), "encode", autospec=True, side_effect=type(hasher).encode
    ) as encode:
        response = Client().post("/accounts/signup/", {"email": email, **data})
    assert response.status_code == 302
    return encode.call_count


def test_signup_does_the_same_work_for_a_registered_address_as_for_a_new_one(db, settings):
    settings.ACCOUNT_RATE_LIMITS = False
    UserFactory(email="registered@example.com")

    settings.ACCOUNT_FORMS = {}  # allauth's own signup form: the probe's finding
    before = (_hashes_per_signup("registered@example.com"), _hashes_per_signup("a@example.com"))
    settings.ACCOUNT_FORMS = {"signup": "pyramid_site.accounts.SignupForm"}
    after = (_hashes_per_signup("registered@example.com"), _hashes_per_signup("b@example.com"))

    assert before == (0, 1)  # the test tells them apart without the fix
    assert after == (1, 1)


# --- imports do not touch staff accounts unless a superuser runs them --------------------


def _row(email: str) -> str:
    header = ",".join(COLUMNS)
    blank = "," * (len(COLUMNS) - 4)
    return (
        f"{header}\n"
        f"learner@example.com,Lea,Rner,engineer{blank}\n"
        f"{email},Renamed,Byimport,engineer{blank}\n"
    )


@pytest.mark.parametrize("role", ["staff", "superuser"])
def test_an_instructors_import_refuses_staff_accounts(instructor, role):
    target = UserFactory(
        email="boss@example.com", first_name="Boss", is_staff=True, is_superuser=role == "superuser"
    )

    report = roster_import(_row("BOSS@example.com"), recorded_by=instructor)

    assert [(e.line, e.column) for e in report.errors] == [(3, "email")]
    assert "staff account" in report.errors[0].message
    target.refresh_from_db()
    assert target.first_name == "Boss"
    assert not Learner.objects.filter(user=target).exists()
    assert not User.objects.filter(email="learner@example.com").exists()


def test_the_command_refuses_staff_accounts_too(db):
    UserFactory(email="boss@example.com", is_staff=True)

    assert not roster_import(_row("boss@example.com")).ok


def test_a_superusers_import_may_change_staff_accounts(superuser):
    target = UserFactory(email="boss@example.com", first_name="Boss", is_staff=True)

    report = roster_import(_row("boss@example.com"), recorded_by=superuser)

    assert report.ok, report.errors
    target.refresh_from_db()
    assert target.first_name == "Renamed"


def test_the_admin_import_page_reports_a_staff_row(client, instructor):
    UserFactory(email="boss@example.com", is_staff=True)
    client.force_login(instructor)
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        f"{ADMIN}learners/learner/import/",
        {"file": SimpleUploadedFile("r.csv", _row("boss@example.com").encode())},
    )

    assert response.status_code == 200
    assert b"staff account" in response.content


# --- hostile admin parameters never answer 500 -------------------------------------------

HOSTILE = [
    "",
    "0",
    "-1",
    "1e9",
    "99999999999999999999999999",
    "9" * 5000,
    "²",
    "٣",
    "1.up",
    "99999999999999.down",
    "x" * 10000,
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "%",
    "next_step.sent",
    "next_step." + "x" * 500,
    "\u202e\ufeff",
    "１２",
]
LEARNER_PARAMETERS = [
    "level",
    "module",
    "inactive",
    "opted_out",
    "level_changed",
    "nudged",
    "track__id__exact",
    "cohort__id__exact",
    "p",
    "o",
    "q",
    "e",
    "all",
    "_changelist_filters",
]


def _changelists(client) -> list[str]:
    from django.contrib import admin

    return [
        f"{ADMIN}{model._meta.app_label}/{model._meta.model_name}/"
        for model in admin.site._registry
    ]


@pytest.mark.slow
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_learner_list_parameters_never_500(client, superuser, value):
    client.force_login(superuser)
    for name in LEARNER_PARAMETERS:
        response = client.get(f"{ADMIN}learners/learner/", {name: value})
        assert response.status_code < 500, (name, value)
    combined = {name: value for name in LEARNER_PARAMETERS}
    assert client.get(f"{ADMIN}learners/learner/", combined).status_code < 500


@pytest.mark.slow
@pytest.mark.parametrize("value", HOSTILE[:8])
def test_hostile_parameters_on_every_admin_list_never_500(client, superuser, value):
    client.force_login(superuser)
    for url in _changelists(client):
        for name in ("p", "o", "q", "e", "all"):
            response = client.get(url, {name: value})
            assert response.status_code < 500, (url, name, value)


def test_nul_characters_are_a_bad_request(client, superuser):
    client.force_login(superuser)

    assert client.get(f"{ADMIN}learners/learner/?q=a%00b").status_code == 400
    assert client.get(f"{ADMIN}learners/learner/?level=%00").status_code == 400


@pytest.mark.parametrize(
    "next_url",
    [
        "//evil.example.com/",
        "https://evil.example.com/",
        "/\\evil.example.com",
        "javascript:alert(1)",
        "x" * 10000,
        "\u202e",
        "/%0d%0aSet-Cookie:x=1",
    ],
)
def test_hostile_next_never_500_nor_leaves_the_site(client, superuser, next_url):
    def stays(response) -> bool:
        location = urlsplit(response.headers.get("Location", ""))
        return location.scheme in ("", "http", "https") and location.netloc in ("", "testserver")

    for url in (f"{ADMIN}login/", "/accounts/login/", f"{ADMIN}logout/", "/accounts/logout/"):
        response = client.get(f"{url}?next={quote(next_url)}")
        assert response.status_code < 500, url
        assert stays(response), url
    client.force_login(superuser)
    for url in (f"{ADMIN}login/", f"{ADMIN}learners/learner/", "/accounts/login/"):
        response = client.get(f"{url}?next={quote(next_url)}")
        assert response.status_code < 500, url
        assert stays(response), url


@pytest.mark.parametrize("search", ["a " * 20000, "x" * 201, "a b c d e f g h i j k"])
def test_an_overlong_search_is_refused(client, superuser, search):
    client.force_login(superuser)

    for url in _changelists(client):
        assert client.get(url, {"q": search}).status_code == 400, url
    assert client.get(f"{ADMIN}learners/learner/", {"q": "ana example"}).status_code == 200


# --- forwarded-for is trusted only from the proxy -----------------------------------------


def test_client_ip_reads_forwarded_for_only_from_a_trusted_proxy(rf, settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXY_IPS = ["10.0.0.0/8"]

    def ip(remote: str, forwarded: str | None) -> str | None:
        extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
        return client_ip(rf.get("/", REMOTE_ADDR=remote, **extra))

    assert ip("10.0.0.2", "198.51.100.7") == "198.51.100.7"
    assert ip("10.0.0.2", "1.2.3.4, 198.51.100.7") == "198.51.100.7"
    assert ip("203.0.113.9", "198.51.100.7") == "203.0.113.9"  # not through the proxy
    assert ip("10.0.0.2", "") == "10.0.0.2"
    assert ip("10.0.0.2", "garbage") == "10.0.0.2"
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 2
    assert ip("10.0.0.2", "198.51.100.7") == "10.0.0.2"  # allauth raised here: a 500
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    assert ip("10.0.0.2", "198.51.100.7") == "10.0.0.2"


@pytest.mark.parametrize("proxy_count", [0, 1])
def test_rotating_forwarded_for_does_not_lift_the_login_limit(db, settings, proxy_count):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = proxy_count
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "3/m/ip"}
    client = Client(REMOTE_ADDR="203.0.113.50")
    limited = []
    for attempt in range(6):
        response = client.post(
            "/accounts/login/",
            {"login": f"nobody{attempt}@example.com", "password": "wrong-password"},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{attempt}",
        )
        assert response.status_code in (200, 429)
        limited.append(
            response.status_code == 429 or b"Too many failed login attempts" in response.content
        )

    assert limited[:3] == [False, False, False]
    assert all(limited[3:])


# --- Permissions-Policy on every response --------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/healthz",
        "/accounts/login/",
        "/accounts/signup/",
        f"{ADMIN}login/",
        "/no-such-page/",
        "/static/css/site.css",
        "/profile/",
    ],
)
def test_every_response_carries_a_permissions_policy(client, db, url):
    response = client.get(url)

    policy = response.headers.get("Permissions-Policy", "")
    assert "camera=()" in policy
    assert "geolocation=()" in policy
    assert "microphone=()" in policy
