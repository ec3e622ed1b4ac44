"""The third probe's findings (issue 21, part 1), one test (or more) each, so none comes back.

Each of these failed before its fix (the commit that fixed it says which).
"""

from __future__ import annotations

import json
import logging
from importlib import import_module

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from curriculum.models import Key
from curriculum.selectors import curriculum_rules
from learners.models import User
from learners.onboarding.models import RosterImport
from learners.privacy.services import account_erase
from pyramid_site.logs import redact
from tests.factories import LearnerFactory, UserFactory
from tests.learners.integrations.conftest import bearer

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-and-unusual-passphrase-42"
PROBLEM = "application/problem+json"
# 259 characters, a valid shape (local part 64, labels of at most 63).
OVERLONG = "a" * 64 + "@" + ".".join(["b" * 63] * 3) + ".example"
assert len(OVERLONG) > 254


@pytest.fixture
def write_key(db) -> str:
    from learners.integrations.models import ApiScope
    from learners.integrations.services.api_keys import api_key_create

    return api_key_create(name="Probe", scope=ApiScope.WRITE)[1]


def _instructor(email: str = "instructor@example.com") -> User:
    user = UserFactory(email=email, is_staff=True)
    user.groups.add(Group.objects.get(name="Instructors"))
    return user


def _sign_up(client, email: str):
    return client.post(
        reverse("account_signup"),
        {"email": email, "first_name": "Ada", "password1": PASSWORD, "password2": PASSWORD},
    )


def _assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["type"] == "about:blank"
    return body


# --- overlong addresses ---------------------------------------------------------------------


def test_signup_refuses_an_address_over_254_characters(client):
    response = _sign_up(client, OVERLONG)

    assert response.status_code == 200
    assert b"at most 254 characters" in response.content
    assert not User.objects.exists() and not EmailAddress.objects.exists()
    assert mail.outbox == []


def test_a_second_overlong_signup_is_refused_too_not_a_500(client):
    _sign_up(client, OVERLONG)
    response = _sign_up(Client(), OVERLONG[:-1] + "x")

    assert response.status_code == 200
    assert not User.objects.exists()


def test_the_account_page_refuses_adding_an_overlong_address(client):
    learner = LearnerFactory()
    EmailAddress.objects.create(
        user=learner.user, email=learner.user.email, verified=True, primary=True
    )
    client.force_login(learner.user)

    response = client.post(reverse("account_email"), {"email": OVERLONG, "action_add": ""})

    assert response.status_code == 200
    assert b"at most 254 characters" in response.content
    assert list(EmailAddress.objects.values_list("email", flat=True)) == [learner.user.email]


def test_the_api_refuses_an_overlong_address(client, write_key):
    response = client.put(
        f"/api/v1/learners/{OVERLONG}/",
        data=json.dumps({"first_name": "Ada"}),
        content_type="application/json",
        **bearer(write_key),
    )

    body = _assert_problem(response, 400)
    assert "254" in json.dumps(body)
    assert not User.objects.exists()


# --- hostile input that gave a 500 ----------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "10000", "-1", "99999999999999999999"])
def test_an_admin_year_filter_out_of_range_is_a_bad_request(client, value):
    client.force_login(User.objects.create_superuser(email="root@example.com", password=PASSWORD))
    for url in (
        f"/admin/learners/learner/?created_at__year={value}",
        f"/admin/learners/user/?date_joined__year__gte={value}",
        f"/admin/nudges/nudge/?sent_at__iso_year={value}",
    ):
        response = client.get(url)
        assert response.status_code == 400, url


def test_an_admin_year_filter_in_range_still_filters(client):
    client.force_login(User.objects.create_superuser(email="root@example.com", password=PASSWORD))
    assert client.get("/admin/learners/user/?date_joined__year=2026").status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/api/v1/learners/a%00b@example.com/", "/api/v1/learners/a@example.com/keys/a%00/"],
)
def test_a_nul_in_an_api_path_is_a_bad_request(client, write_key, path):
    _assert_problem(client.get(path, **bearer(write_key)), 400)


def test_a_nul_in_a_site_path_is_a_bad_request(client):
    assert client.get("/accounts/confirm-email/a%00b/").status_code == 400


def test_deeply_nested_json_is_a_bad_request(client, write_key):
    LearnerFactory(user__email="ada@example.com")
    body = "[" * 100_000 + "]" * 100_000

    response = client.put(
        "/api/v1/learners/ada@example.com/",
        data=body,
        content_type="application/json",
        **bearer(write_key),
    )

    _assert_problem(response, 400)


def test_a_body_over_the_limit_is_413_problem_details(client, write_key):
    body = json.dumps({"first_name": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})

    response = client.put(
        "/api/v1/learners/ada@example.com/",
        data=body,
        content_type="application/json",
        **bearer(write_key),
    )

    _assert_problem(response, 413)
    assert not User.objects.exists()


# --- instructors and staff learner profiles --------------------------------------------------


@pytest.mark.parametrize("role", ["staff", "superuser"])
def test_an_instructor_cannot_edit_a_staff_members_learner_profile(client, role):
    other = UserFactory(email="boss@example.com", is_staff=True, is_superuser=role == "superuser")
    learner = LearnerFactory(user=other)
    client.force_login(_instructor())
    url = reverse("admin:learners_learner_change", args=[learner.pk])

    page = client.get(url)
    posted = client.post(url, {"timezone": "Europe/Paris"})

    assert b'name="timezone"' not in page.content  # read-only at most
    assert posted.status_code in (302, 403)
    learner.refresh_from_db()
    assert learner.timezone != "Europe/Paris"


@pytest.mark.parametrize("role", ["staff", "superuser"])
def test_an_instructor_cannot_export_a_staff_members_personal_data(client, role):
    other = UserFactory(email="boss@example.com", is_staff=True, is_superuser=role == "superuser")
    learner = LearnerFactory(user=other)
    client.force_login(_instructor())

    response = client.post(
        reverse("admin:learners_learner_changelist"),
        {"action": "export_personal_data", "_selected_action": [learner.pk]},
    )

    assert "json" not in response.get("Content-Type", "")
    assert b"boss@example.com" not in response.content or response.status_code == 302


def test_a_superuser_may_export_a_staff_members_personal_data(client):
    other = UserFactory(email="boss@example.com", is_staff=True)
    learner = LearnerFactory(user=other)
    client.force_login(User.objects.create_superuser(email="root@example.com", password=PASSWORD))

    response = client.post(
        reverse("admin:learners_learner_changelist"),
        {"action": "export_personal_data", "_selected_action": [learner.pk]},
    )

    assert response["Content-Type"].startswith("application/json")


def test_an_instructor_still_edits_a_students_profile(client):
    learner = LearnerFactory()
    client.force_login(_instructor())

    page = client.get(reverse("admin:learners_learner_change", args=[learner.pk]))

    assert page.status_code == 200 and b'name="timezone"' in page.content


# --- erasure ends every session -------------------------------------------------------------


def test_erasure_ends_every_session_of_the_person(db):
    learner = LearnerFactory(user__email="ada@example.com")
    clients = [Client() for _ in range(3)]
    for each in clients:
        each.force_login(learner.user)
    engine = import_module(settings.SESSION_ENGINE)
    # An anonymous session that holds the address (allauth keeps it while a signup waits
    # for its confirmation).
    anonymous = engine.SessionStore()
    anonymous["account_verified_email"] = "Ada@Example.com"
    anonymous.save()
    bystander = Client()
    bystander.force_login(LearnerFactory().user)
    keys = [each.session.session_key for each in clients] + [anonymous.session_key]
    cache_keys = [engine.SessionStore(session_key=key).cache_key for key in keys]
    for each in clients:
        assert each.get("/progress/").status_code in (200, 302)
    assert Session.objects.filter(session_key__in=keys).count() == 4

    account_erase(user=learner.user)

    assert not Session.objects.filter(session_key__in=keys).exists()
    if hasattr(engine.SessionStore, "cache_key_prefix"):
        assert all(cache.get(key) is None for key in cache_keys)
    assert Session.objects.filter(session_key=bystander.session.session_key).exists()


# --- suppression covers every email ----------------------------------------------------------


def test_an_erased_address_gets_no_email_from_a_strangers_forms(client):
    learner = LearnerFactory(user__email="ada@example.com")
    account_erase(user=learner.user)

    client.post(reverse("account_reset_password"), {"email": "ada@example.com"})
    _sign_up(Client(), "Ada@example.com")

    assert mail.outbox == []


def test_an_address_never_erased_still_gets_its_emails(client):
    client.post(reverse("account_reset_password"), {"email": "new@example.com"})
    _sign_up(Client(), "other@example.com")

    assert sorted(message.to[0] for message in mail.outbox) == [
        "new@example.com",
        "other@example.com",
    ]


# --- what leaves in cookies, caches and logs ------------------------------------------------


def test_the_messages_cookie_never_carries_the_address(client, rf):
    response = _sign_up(client, "ada@example.com")
    assert response.status_code == 302
    cookie = response.cookies.get("messages")
    if cookie is not None and cookie.value:
        decoded = CookieStorage(rf.get("/"))._decode(cookie.value) or []
        assert "ada@example.com" not in " ".join(str(message) for message in decoded)
    # The message itself still reaches the person, on the next page.
    assert b"ada@example.com" in client.get(response["Location"]).content


def test_api_responses_with_learner_data_are_not_stored(client, write_key):
    learner = LearnerFactory(user__email="ada@example.com")
    for url in (
        "/api/v1/learners/",
        "/api/v1/learners/ada@example.com/",
        "/api/v1/learners/ada@example.com/placement/",
        "/api/v1/learners/nobody@example.com/",
    ):
        response = client.get(url, **bearer(write_key))
        assert "no-store" in response.get("Cache-Control", ""), url
    assert learner.pk


@pytest.mark.parametrize(
    "address", ["max@müller.de", "jörg@example.com", "名前@例え.jp", "max@xn--mller-kva.de"]
)
def test_log_redaction_covers_non_ascii_addresses(address):
    assert redact(f"refused for {address}.") == "refused for <email>."


def test_a_log_line_with_a_non_ascii_address_is_redacted(caplog):
    from pyramid_site.logs import StructuredFormatter

    record = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, "for %s", ("max@müller.de",), None
    )
    assert "müller" not in StructuredFormatter().format(record)


# --- background imports: each instructor sees their own -------------------------------------


def test_an_instructor_sees_only_their_own_background_imports(client):
    mine, theirs = _instructor("me@example.com"), _instructor("them@example.com")
    own = RosterImport.objects.create(created_by=mine, rows=1500, content="email\n")
    other = RosterImport.objects.create(created_by=theirs, rows=1500, content="email\n")
    client.force_login(mine)

    assert (
        client.get(reverse("admin:learners_learner_import_status", args=[own.pk])).status_code
        == 200
    )
    assert (
        client.get(reverse("admin:learners_learner_import_status", args=[other.pk])).status_code
        == 404
    )
    listing = client.get(reverse("admin:onboarding_rosterimport_changelist"))
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [own]
    assert client.get(
        reverse("admin:onboarding_rosterimport_change", args=[other.pk])
    ).status_code in (
        302,
        404,
    )


def test_a_superuser_sees_every_background_import(client):
    theirs = _instructor("them@example.com")
    other = RosterImport.objects.create(created_by=theirs, rows=1500, content="email\n")
    client.force_login(User.objects.create_superuser(email="root@example.com", password=PASSWORD))

    assert (
        client.get(reverse("admin:learners_learner_import_status", args=[other.pk])).status_code
        == 200
    )


# --- a deploy or a curriculum edit never shows yesterday's page ------------------------------


def test_a_new_release_never_serves_the_old_releases_page(client, curriculum, settings):
    from curriculum.selectors import curriculum_version
    from learners.progress_page import progress_cache_key

    learner = LearnerFactory(engineer=True)
    client.force_login(learner.user)
    settings.RELEASE = "release-1"
    assert client.get("/progress/").status_code == 200
    learner.refresh_from_db()
    # What the old release's template drew (a marker stands for it).
    page = (curriculum_version(), "OLD-RELEASE-BODY")
    cache.set(progress_cache_key(learner.user, learner), page)
    assert b"OLD-RELEASE-BODY" in client.get("/progress/").content

    settings.RELEASE = "release-2"

    assert b"OLD-RELEASE-BODY" not in client.get("/progress/").content


def test_the_release_defaults_to_a_digest_of_the_code_and_templates(settings):
    from learners.release import release

    settings.RELEASE = ""
    assert len(release()) >= 12


def test_a_queryset_update_of_the_curriculum_shows_at_once(curriculum):
    key = Key.objects.order_by("pk").first()
    assert not any(rule.text.endswith("a brand new key text") for rule in _key_rules())

    Key.objects.filter(pk=key.pk).update(text="a brand new key text")

    assert any(rule.text.endswith("a brand new key text") for rule in _key_rules())


def _key_rules():
    rules = curriculum_rules()
    return [
        rule
        for track in rules.tracks.values()
        for level_keys in track.keys.values()
        for rule in level_keys
    ]
