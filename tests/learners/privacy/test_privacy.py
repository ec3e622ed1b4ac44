"""Learners' data rights (issue 14): download my data, delete my account, suppression,
the admin's export and erasure, retention."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import time_machine
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.core import mail
from django.db import models
from django.db.models.functions import Cast
from django.test import Client
from django.utils import timezone

from curriculum.models import Key, Track
from learners.models import Learner, User
from learners.nudges.models import Nudge
from learners.privacy.models import Suppression
from learners.privacy.selectors import ACTOR_FIELDS, NOT_WALKED, learner_data_export
from learners.privacy.services import nudges_prune
from learners.roster import COLUMNS, roster_import
from learners.services import key_set_done
from tests.factories import LearnerFactory, UserFactory

PASSWORD = "a-long-pass-phrase-9"
EMAIL = "zephyrine.quill@example.com"
FIRST, LAST = "Zephyrine", "Quillfeather"


def people_models() -> set[str]:
    """Written here, not imported: every model field pointing at a user or a learner."""
    found = set()
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if (
                getattr(field, "concrete", False)
                and (field.many_to_one or field.one_to_one)
                and field.related_model in (User, Learner)
                and field.name not in ACTOR_FIELDS
            ):
                found.add(f"{model._meta.label_lower}.{field.name}")
    return found


def text_fields(model) -> list[models.Field]:
    return [
        field
        for field in model._meta.concrete_fields
        if isinstance(field, models.CharField | models.TextField | models.JSONField)
    ]


def tables_mentioning(*needles: str) -> list[str]:
    """Every model's text columns (JSON as text) searched for each needle."""
    hits = []
    for model in apps.get_models():
        for field in text_fields(model):
            rows = model._default_manager.annotate(_text=Cast(field.name, models.TextField()))
            for needle in needles:
                if rows.filter(_text__icontains=needle).exists():
                    hits.append(f"{model._meta.label_lower}.{field.name} has {needle!r}")
    return hits


def _engineer_learner():
    learner = LearnerFactory(
        engineer=True, user__email=EMAIL, user__first_name=FIRST, user__last_name=LAST
    )
    learner.user.set_password(PASSWORD)
    learner.user.save()
    EmailAddress.objects.create(user=learner.user, email=EMAIL, verified=True, primary=True)
    return learner


# --- download my data ------------------------------------------------------------------


def test_the_export_covers_every_model_that_points_at_a_person(db):
    learner = _engineer_learner()

    export = learner_data_export(user=learner.user)

    walked = {label for label in people_models() if label.rsplit(".", 1)[0] not in NOT_WALKED}
    assert walked <= set(export["holdings"])
    assert "admin.logentry" in NOT_WALKED


def test_a_learner_downloads_everything_about_them_and_nothing_else(client, db):
    learner = _engineer_learner()
    other = LearnerFactory(engineer=True, user__email="someone.else@example.com")
    key = Key.objects.filter(track=learner.track, modules__isnull=True).first()
    key_set_done(learner=learner, key=key, done=True)
    key_set_done(learner=other, key=key, done=True)
    Nudge.objects.create(learner=learner, kind="welcome", dedup_key="welcome")
    client.force_login(learner.user)

    profile = client.get("/profile/")
    response = client.get("/profile/privacy/data/")

    assert b"/profile/privacy/data/" in profile.content
    assert b"/profile/privacy/delete/" in profile.content
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    text = json.dumps(data)
    assert data["account"]["email"] == EMAIL
    assert "password" not in data["account"]
    holdings = data["holdings"]
    assert holdings["learners.learner.user"][0]["annual_compensation"] == 160_000
    assert [row["key_id"] for row in holdings["learners.keycompletion.learner"]] == [key.pk]
    assert holdings["learners.keycompletion.learner"][0]["source"] == "learner"
    assert holdings["learners.levelchange.learner"]  # level history with its reasons
    assert "reasons" in holdings["learners.levelchange.learner"][0]
    assert "welcome" in {row["kind"] for row in holdings["nudges.nudge.learner"]}
    assert holdings["account.emailaddress.user"][0]["email"] == EMAIL
    assert "someone.else" not in text


def test_the_download_needs_a_signed_in_learner(client, db):
    response = client.get("/profile/privacy/data/")

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


# --- delete my account ---------------------------------------------------------------------


def _sign_up_and_act(instructor_client) -> User:
    client = Client()
    client.post(
        "/accounts/signup/",
        {"first_name": "Ada", "email": EMAIL, "password1": PASSWORD, "password2": PASSWORD},
    )
    key = re.search(r"/accounts/confirm-email/([^/]+)/", mail.outbox[-1].body).group(1)
    client.post(f"/accounts/confirm-email/{key}/")
    assert (
        client.post("/accounts/login/", {"login": EMAIL, "password": PASSWORD}).status_code == 302
    )
    user = User.objects.get(email=EMAIL)
    # An instructor names them (so the admin's history mentions them).
    page = instructor_client.get(f"/admin/learners/user/{user.pk}/change/")
    assert page.status_code == 200
    response = instructor_client.post(
        f"/admin/learners/user/{user.pk}/change/",
        {
            "email": EMAIL,
            "first_name": FIRST,
            "last_name": LAST,
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    learner = user.learner
    learner.refresh_from_db()
    from learners.services import learner_set_assessment

    learner_set_assessment(
        learner=learner,
        track=Track.objects.get(slug="engineer"),
        answers={
            "annual_compensation": 150_000,
            "can_explain_concepts": True,
            "can_implement_from_scratch": False,
            "deployed_at_scale": False,
            "seen_as": "integrator",
            "leads_initiatives": False,
        },
    )
    learner.refresh_from_db()
    key = Key.objects.filter(track=learner.track, modules__isnull=True).first()
    page = client.get("/progress/")
    assert page.status_code == 200
    client.post(f"/progress/keys/{key.pk}/", {"done": "1"})
    Nudge.objects.create(learner=learner, kind="welcome", dedup_key="welcome")
    return user, client


@pytest.fixture
def instructor_client(db):
    instructor = UserFactory(email="instructor@example.com", is_staff=True)
    instructor.groups.add(Group.objects.get(name="Instructors"))
    client = Client()
    client.force_login(instructor)
    return client


def test_sign_up_act_delete_and_nothing_names_them(instructor_client):
    user, client = _sign_up_and_act(instructor_client)
    assert tables_mentioning(EMAIL, FIRST, LAST)  # the search finds them before

    response = client.post("/profile/privacy/delete/", {"password": PASSWORD})

    assert response.status_code == 302
    assert not User.objects.filter(pk=user.pk).exists()
    assert tables_mentioning(EMAIL, FIRST, LAST) == []
    assert Suppression.objects.count() == 1
    assert client.get("/progress/").status_code == 302  # signed out


def test_a_wrong_password_deletes_nothing(client, db):
    learner = _engineer_learner()
    client.force_login(learner.user)

    response = client.post("/profile/privacy/delete/", {"password": "not-my-password"})

    assert response.status_code == 200
    assert b"That is not your password" in response.content
    assert User.objects.filter(pk=learner.user.pk).exists()
    assert not Suppression.objects.exists()


def test_with_two_factor_the_code_is_needed_too(client, db):
    learner = _engineer_learner()
    secret = generate_totp_secret()
    TOTP.activate(learner.user, secret)
    client.force_login(learner.user)
    counter = 57_000_000  # a TOTP period (30 s each); the clock is frozen inside it below

    without = client.post("/profile/privacy/delete/", {"password": PASSWORD})
    wrong = client.post("/profile/privacy/delete/", {"password": PASSWORD, "code": "000000"})
    assert without.status_code == wrong.status_code == 200
    assert User.objects.filter(pk=learner.user.pk).exists()

    with time_machine.travel(counter * 30 + 1, tick=False):
        code = format_hotp_value(hotp_value(secret, counter))
        response = client.post("/profile/privacy/delete/", {"password": PASSWORD, "code": code})

    assert response.status_code == 302
    assert not User.objects.filter(pk=learner.user.pk).exists()


def test_an_erased_address_comes_back_with_nudges_off(client, db):
    learner = _engineer_learner()
    client.force_login(learner.user)
    client.post("/profile/privacy/delete/", {"password": PASSWORD})
    blank = "," * (len(COLUMNS) - 4)
    header = ",".join(COLUMNS)

    report = roster_import(f"{header}\n{EMAIL.upper()},Z,Q,engineer{blank}\n")

    assert report.ok, report.errors
    assert Learner.objects.get(user__email=EMAIL).nudges_enabled is False
    assert not Suppression.objects.filter(email_digest__contains=EMAIL).exists()
    # Someone else's new address: nudges on as usual.
    roster_import(f"{header}\nfresh@example.com,F,R,engineer{blank}\n")
    assert Learner.objects.get(user__email="fresh@example.com").nudges_enabled is True


# --- the admin: export for instructors, erasure for superusers only ------------------------


def test_an_instructor_exports_a_learner_and_it_is_logged(instructor_client):
    learner = _engineer_learner()

    response = instructor_client.post(
        "/admin/learners/learner/",
        {"action": "export_personal_data", "_selected_action": [learner.pk]},
    )

    assert response.status_code == 200
    assert json.loads(response.content)["account"]["email"] == EMAIL
    entry = LogEntry.objects.get(object_id=str(learner.pk))
    assert "Exported" in entry.change_message


def test_an_instructor_cannot_erase(instructor_client):
    learner = _engineer_learner()

    response = instructor_client.post(
        "/admin/learners/learner/",
        {"action": "erase_accounts", "_selected_action": [learner.pk], "confirm_erase": "yes"},
    )

    assert response.status_code in (200, 302, 403)
    assert User.objects.filter(pk=learner.user.pk).exists()


def test_a_superuser_erases_after_confirming_and_it_is_logged(client, db):
    root = User.objects.create_superuser(email="root@example.com", password=PASSWORD)
    learner = _engineer_learner()
    client.force_login(root)
    data = {"action": "erase_accounts", "_selected_action": [learner.pk]}

    confirm = client.post("/admin/learners/learner/", data)
    assert confirm.status_code == 200
    assert b"for good" in confirm.content
    assert User.objects.filter(pk=learner.user.pk).exists()

    done = client.post("/admin/learners/learner/", {**data, "confirm_erase": "yes"})

    assert done.status_code == 302
    assert not User.objects.filter(pk=learner.user.pk).exists()
    entry = LogEntry.objects.get(user=root, change_message__startswith="Erased")
    assert EMAIL not in entry.object_repr
    assert tables_mentioning(EMAIL, FIRST, LAST) == []


# --- retention -------------------------------------------------------------------------


def test_old_nudge_ledger_rows_are_pruned_in_bounded_batches(db, settings):
    settings.NUDGE_RETENTION_DAYS = 548
    now = timezone.now()
    learner = LearnerFactory()
    old = [
        Nudge(
            learner=learner,
            kind="next_step",
            dedup_key=f"old-{n}",
            created_at=now - timedelta(days=600),
        )
        for n in range(7)
    ]
    recent = Nudge(
        learner=learner, kind="next_step", dedup_key="recent", created_at=now - timedelta(days=500)
    )
    Nudge.objects.bulk_create([*old, recent])

    first = nudges_prune(now=now, batch_size=2, max_batches=2)
    assert (first.deleted, first.more) == (4, True)
    second = nudges_prune(now=now, batch_size=2, max_batches=10)
    assert (second.deleted, second.more) == (3, False)
    assert list(Nudge.objects.values_list("dedup_key", flat=True)) == ["recent"]
