"""The instructors' admin: roles, the learner list and its actions, inlines, roster import."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from urllib.parse import unquote

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.forms import MultiWidget, NullBooleanSelect
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from curriculum.models import Key, Module, Track
from learners.admin.learners import LearnerAdmin
from learners.models import (
    Cohort,
    CompletionSource,
    KeyCompletion,
    Learner,
    LevelChange,
    ModuleProgress,
    User,
)
from learners.nudges.models import Nudge
from tests.factories import CohortFactory, LearnerFactory, UserFactory

CHANGELIST = "/admin/learners/learner/"


# --- helpers ------------------------------------------------------------------------------


def _put(data: dict, key: str, field, value) -> None:
    if isinstance(field.widget, NullBooleanSelect):
        data[key] = {True: "true", False: "false"}.get(value, "unknown")
    elif isinstance(field.widget, MultiWidget):
        for index, part in enumerate(field.widget.decompress(value)):
            data[f"{key}_{index}"] = "" if part is None else part
    elif isinstance(value, bool):
        if value:
            data[key] = "on"
    elif isinstance(value, list | tuple):
        data[key] = [str(getattr(item, "pk", item)) for item in value]
    elif value is not None:
        data[key] = value


def changeform_data(response) -> dict:
    """The POST data of an admin change form exactly as the page shows it."""
    data: dict = {}
    form = response.context["adminform"].form
    for name, field in form.fields.items():
        _put(data, form.add_prefix(name), field, form[name].value())
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        for child in formset.forms:
            for name, field in child.fields.items():
                _put(data, child.add_prefix(name), field, child[name].value())
    return data


@pytest.fixture
def instructor(db, client):
    user = UserFactory(email="instructor@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name="Instructors"))
    return user


@pytest.fixture
def instructor_client(client, instructor):
    client.force_login(instructor)
    return client


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser(email="root@example.com", password="x-long-password-1")


# --- roles ----------------------------------------------------------------------------------


def test_instructors_group_has_least_privilege(db):
    perms = set(
        Group.objects.get(name="Instructors").permissions.values_list(
            "content_type__app_label", "codename"
        )
    )
    assert ("learners", "change_learner") in perms
    assert ("learners", "add_moduleprogress") in perms
    assert ("learners", "add_cohort") in perms
    assert ("nudges", "view_nudge") in perms
    assert ("curriculum", "change_tracklevel") in perms
    assert ("curriculum", "change_key") in perms
    assert ("learners", "delete_user") not in perms
    assert ("learners", "delete_learner") not in perms
    assert ("learners", "change_nudge") not in perms
    assert not {perm for perm in perms if perm[0] == "auth"}


def test_admin_login_goes_through_allauth(client, db):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    response = client.get(response["Location"])
    assert response.status_code == 302
    assert unquote(response["Location"]) == "/accounts/login/?next=/admin/"


@pytest.mark.parametrize(
    "next_url", ["https://elsewhere.example/", "//elsewhere.example/", "foo", "/admin/../x"]
)
def test_admin_login_never_leaves_the_site(admin_client, next_url):
    """A signed-in staff member at the admin login goes to the admin index, whatever ?next=
    says (no open redirect, no 500)."""
    response = admin_client.get("/admin/login/", {"next": next_url})
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_admin_login_next_from_a_signed_out_visitor_stays_on_the_site(client, db):
    response = client.get("/admin/login/", {"next": "https://elsewhere.example/"})
    assert response.status_code == 302
    location = unquote(response["Location"])
    assert location.startswith("/accounts/login/?next=/admin/login/")
    assert "//elsewhere.example" not in location.split("next=", 1)[1].split("next=")[0]


def test_a_student_cannot_reach_the_admin(client, db):
    student = LearnerFactory(engineer=True).user
    client.force_login(student)
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403
    assert client.get(CHANGELIST).status_code in (302, 403)
    assert client.get("/admin/dashboard/", follow=True).status_code == 403


def test_instructor_cannot_delete_users(instructor_client, instructor):
    student = LearnerFactory().user
    url = reverse("admin:learners_user_delete", args=[student.pk])
    assert instructor_client.get(url).status_code == 403
    assert instructor_client.post(url, {"post": "yes"}).status_code == 403
    response = instructor_client.post(
        reverse("admin:learners_user_changelist"),
        {"action": "delete_selected", "_selected_action": [student.pk], "post": "yes"},
    )
    assert User.objects.filter(pk=student.pk).exists()
    assert response.status_code in (200, 302)


def test_instructor_cannot_manage_groups_or_permissions(instructor_client):
    group = Group.objects.get(name="Instructors")
    assert instructor_client.get("/admin/auth/group/").status_code == 403
    assert instructor_client.get(f"/admin/auth/group/{group.pk}/change/").status_code == 403
    before = group.permissions.count()
    instructor_client.post(
        f"/admin/auth/group/{group.pk}/change/",
        {
            "name": "Instructors",
            "permissions": list(Permission.objects.values_list("pk", flat=True)),
        },
    )
    assert group.permissions.count() == before


def test_instructor_cannot_make_themselves_superuser(instructor_client, instructor):
    url = reverse("admin:learners_user_change", args=[instructor.pk])
    response = instructor_client.get(url)
    assert response.status_code == 200
    form_fields = response.context["adminform"].form.fields
    assert not {"is_superuser", "is_staff", "groups", "user_permissions"} & set(form_fields)
    data = changeform_data(response)
    data.update(
        is_superuser="on",
        is_staff="on",
        groups=[str(pk) for pk in Group.objects.values_list("pk", flat=True)],
        user_permissions=[str(pk) for pk in Permission.objects.values_list("pk", flat=True)],
        first_name="Ines",
    )
    response = instructor_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    instructor.refresh_from_db()
    assert instructor.first_name == "Ines"
    assert not instructor.is_superuser
    assert instructor.user_permissions.count() == 0
    assert list(instructor.groups.values_list("name", flat=True)) == ["Instructors"]


def test_instructor_cannot_take_over_a_site_admin(instructor_client, superuser):
    change = reverse("admin:learners_user_change", args=[superuser.pk])
    password = reverse("admin:auth_user_password_change", args=[superuser.pk])
    assert instructor_client.post(change, {"email": "mine@example.com"}).status_code == 403
    response = instructor_client.post(
        password, {"password1": "Taken-over-123", "password2": "Taken-over-123"}
    )
    assert response.status_code == 403
    superuser.refresh_from_db()
    assert superuser.check_password("x-long-password-1")


def test_instructor_cannot_take_over_a_student_account(instructor_client):
    student = UserFactory(email="student@example.com")
    before = student.password
    url = f"/admin/learners/user/{student.pk}/password/"
    strong = {"password1": "A-new-long-pass-42", "password2": "A-new-long-pass-42"}
    assert instructor_client.get(url).status_code == 403
    assert instructor_client.post(url, strong).status_code == 403
    change = instructor_client.post(
        f"/admin/learners/user/{student.pk}/change/",
        {"email": "mine@example.com", "first_name": "S", "last_name": "T"},
    )
    assert change.status_code == 302
    student.refresh_from_db()
    assert (student.email, student.password) == ("student@example.com", before)
    assert student.first_name == "S"


def test_superuser_can_grant_the_instructor_role(client, superuser):
    user = UserFactory()
    client.force_login(superuser)
    url = reverse("admin:learners_user_change", args=[user.pk])
    data = changeform_data(client.get(url))
    data.update(is_staff="on", groups=[str(Group.objects.get(name="Instructors").pk)])
    assert client.post(url, data).status_code == 302
    user.refresh_from_db()
    assert user.is_staff and user.groups.filter(name="Instructors").exists()


def test_instructor_adds_a_user_by_email(instructor_client):
    response = instructor_client.post(
        reverse("admin:learners_user_add"),
        {"email": "New.Person@Example.com", "usable_password": "false"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(email="new.person@example.com")
    assert not user.has_usable_password() and not user.is_staff


# --- the learner list ---------------------------------------------------------------------


def _emails(response) -> set[str]:
    return {learner.user.email for learner in response.context["cl"].result_list}


def test_learner_list_shows_progress_and_last_nudge(instructor_client):
    learner = LearnerFactory(engineer=True, user__first_name="Ada", user__last_name="Byte")
    ModuleProgress.objects.create(learner=learner, module=Module.objects.get(number=1))
    ModuleProgress.objects.create(learner=learner, module=Module.objects.get(number=2))
    KeyCompletion.objects.create(learner=learner, key=Key.objects.get(code="engineer-2-03"))
    Nudge.objects.create(learner=learner, kind="next_step", dedup_key="w1", status="sent")
    response = instructor_client.get(CHANGELIST)
    assert response.status_code == 200
    row = response.context["cl"].result_list[0]
    figures = row.list_figures
    assert (figures.keys_done, figures.modules_done, row.latest_nudge.kind) == (1, 2, "next_step")
    body = response.content.decode()
    assert "Ada Byte" in body and "2/9" in body and "next step (sent)" in body


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("track__id__exact={engineer}", {"eng@example.com", "stale@example.com"}),
        ("level=2", {"eng@example.com", "stale@example.com"}),
        ("cohort__id__exact={cohort}", {"eng@example.com"}),
        ("inactive=14", {"stale@example.com", "out@example.com"}),
        ("opted_out=yes", {"out@example.com"}),
        ("q=Grace", {"new@example.com"}),
        ("q=stale@exa", {"stale@example.com"}),
    ],
)
def test_learner_list_filters_and_search(instructor_client, query, expected):
    cohort = CohortFactory(name="Spring")
    now = timezone.now()
    LearnerFactory(
        engineer=True, user__email="eng@example.com", cohort=cohort, level=2, last_activity_at=now
    )
    LearnerFactory(
        engineer=True,
        user__email="stale@example.com",
        level=2,
        last_activity_at=now - timedelta(days=20),
    )
    LearnerFactory(user__email="new@example.com", user__first_name="Grace", last_activity_at=now)
    LearnerFactory(
        user__email="out@example.com", nudges_enabled=False, created_at=now - timedelta(days=30)
    )
    query = query.format(engineer=Track.objects.get(slug="engineer").pk, cohort=cohort.pk)
    response = instructor_client.get(f"{CHANGELIST}?{query}")
    assert response.status_code == 200
    assert _emails(response) == expected


def _make_learners(count: int) -> None:
    """``count`` learners in two bulk inserts (unusable passwords: no hashing)."""
    engineer = Track.objects.get(slug="engineer")
    joined = timezone.now() - timedelta(days=30)
    users = User.objects.bulk_create(
        [
            User(
                email=f"bulk{n:05d}@example.com", first_name="Bulk", last_name=f"{n}", password="!"
            )
            for n in range(count)
        ],
        batch_size=2000,
    )
    learners = Learner.objects.bulk_create(
        [
            Learner(user=user, track=engineer, level=1 + n % 4, created_at=joined)
            for n, user in enumerate(users)
        ],
        batch_size=2000,
    )
    # Progress and nudges on the first pages, so that per-row work would show up.
    module = Module.objects.get(number=1)
    ModuleProgress.objects.bulk_create(
        [ModuleProgress(learner=learner, module=module) for learner in learners[:150]]
    )
    Nudge.objects.bulk_create(
        [Nudge(learner=learner, kind="welcome", dedup_key="once") for learner in learners[:150]]
    )


def _changelist_queries(client, monkeypatch, per_page: int, query: str = "") -> list[str]:
    monkeypatch.setattr(LearnerAdmin, "list_per_page", per_page)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"{CHANGELIST}{query}")
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == per_page
    return [query["sql"] for query in queries.captured_queries]


@pytest.mark.parametrize("query", ["", "?track__id__exact={engineer}&inactive=14&p=3"])
def test_learner_list_queries_do_not_grow_with_the_page(instructor_client, monkeypatch, query):
    _make_learners(10_000)
    query = query.format(engineer=Track.objects.get(slug="engineer").pk)
    instructor_client.get(CHANGELIST)  # warm the curriculum cache and the session

    at_20 = _changelist_queries(instructor_client, monkeypatch, 20, query)
    at_100 = _changelist_queries(instructor_client, monkeypatch, 100, query)

    assert len(at_20) == len(at_100)
    counts = [sql for sql in at_20 + at_100 if sql.upper().startswith("SELECT COUNT(")]
    assert counts, "the list says how many learners match"
    for sql in counts:
        assert "LIMIT" in sql.upper(), f"unbounded count: {sql}"


def test_learner_list_pages_past_the_counted_window(instructor_client, monkeypatch):
    _make_learners(3_000)
    monkeypatch.setattr(LearnerAdmin, "list_per_page", 100)
    first = instructor_client.get(CHANGELIST)
    assert "More than 1,100 learners" in first.content.decode()
    page = instructor_client.get(f"{CHANGELIST}?p=25")
    assert page.status_code == 200
    assert page.context["cl"].result_list[0].user.email == "bulk02400@example.com"
    last = instructor_client.get(f"{CHANGELIST}?p=30")
    assert "3,000 learners" in last.content.decode()
    assert "More than" not in last.content.decode()


# --- actions ----------------------------------------------------------------------------


def test_recompute_action_moves_learners_to_their_level(
    instructor_client, django_capture_on_commit_callbacks
):
    learner = LearnerFactory(engineer=True)  # placed at 2 by the rule, stored at 1
    assert learner.level == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = instructor_client.post(
            CHANGELIST,
            {"action": "recompute_levels", "_selected_action": [learner.pk]},
            follow=True,
        )
    assert "in the background" in response.content.decode()
    learner.refresh_from_db()
    assert learner.level == 2
    assert LevelChange.objects.filter(learner=learner, to_level=2).exists()


def test_export_action_writes_the_selection_as_roster_csv(instructor_client):
    picked = LearnerFactory(engineer=True, user__email="picked@example.com")
    LearnerFactory(engineer=True, user__email="other@example.com")
    response = instructor_client.post(
        CHANGELIST, {"action": "export_roster_csv", "_selected_action": [picked.pk]}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["email"] for row in rows] == ["picked@example.com"]
    assert rows[0]["track"] == "engineer"


def test_send_next_step_nudge_action(instructor_client, django_capture_on_commit_callbacks):
    pytest.importorskip("learners.nudges.services")
    learner = LearnerFactory(engineer=True)
    response = instructor_client.get(CHANGELIST)
    assert "send_next_step_nudge" in dict(response.context["action_form"].fields["action"].choices)
    with django_capture_on_commit_callbacks(execute=True):
        response = instructor_client.post(
            CHANGELIST,
            {"action": "send_next_step_nudge", "_selected_action": [learner.pk]},
            follow=True,
        )
    assert response.status_code == 200
    assert "Next-step nudge" in response.content.decode()


# --- the change form: profile and progress ------------------------------------------------


def test_instructor_records_progress_through_the_inlines(instructor_client, instructor):
    learner = LearnerFactory(engineer=True)
    url = reverse("admin:learners_learner_change", args=[learner.pk])
    response = instructor_client.get(url)
    assert response.status_code == 200
    key_field = response.context["inline_admin_formsets"][1].formset.form.base_fields["key"]
    codes = set(key_field.queryset.values_list("code", flat=True))
    assert "engineer-2-03" in codes
    assert not any(code.startswith("founder") for code in codes)
    assert not Key.objects.filter(code__in=codes, modules__isnull=False).exists()

    data = changeform_data(response)
    modules = Module.objects.filter(number__in=[4, 5, 6]).order_by("number")
    for index, module in enumerate(modules):
        data[f"module_progress-{index}-module"] = str(module.pk)
    data["module_progress-TOTAL_FORMS"] = "3"
    data["key_completions-0-key"] = str(Key.objects.get(code="engineer-2-03").pk)
    data["key_completions-TOTAL_FORMS"] = "1"
    response = instructor_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors

    done = ModuleProgress.objects.filter(learner=learner)
    assert sorted(done.values_list("module__number", flat=True)) == [4, 5, 6]
    assert {row.source for row in done} == {CompletionSource.INSTRUCTOR}
    assert {row.recorded_by_id for row in done} == {instructor.pk}
    assert KeyCompletion.objects.filter(learner=learner, key__code="engineer-2-03").exists()
    learner.refresh_from_db()
    assert learner.level == 2  # recomputed: modules 4-6 alone do not graduate Surviving


def test_instructor_edits_answers_and_the_level_follows(instructor_client):
    learner = LearnerFactory(engineer=True)
    url = reverse("admin:learners_learner_change", args=[learner.pk])
    data = changeform_data(instructor_client.get(url))
    data["annual_compensation"] = "100000"
    assert instructor_client.post(url, data).status_code == 302
    learner.refresh_from_db()
    assert (learner.annual_compensation, learner.level) == (100_000, 1)


def test_answers_of_the_other_track_are_not_on_the_form_and_never_stored(instructor_client):
    # The form holds only the learner's track's questions (issue 12): a posted answer to the
    # other track's question is not a field of it, and is dropped.
    learner = LearnerFactory(engineer=True, annual_compensation=100_000)
    url = reverse("admin:learners_learner_change", args=[learner.pk])
    page = instructor_client.get(url)
    assert "monthly_recurring_revenue" not in page.context["adminform"].form.fields
    assert "annual_compensation" in page.context["adminform"].form.fields
    data = changeform_data(page)
    data["monthly_recurring_revenue"] = "5000"
    assert instructor_client.post(url, data).status_code == 302
    learner.refresh_from_db()
    assert learner.monthly_recurring_revenue is None


def test_history_and_nudges_are_read_only(instructor_client):
    learner = LearnerFactory(engineer=True)
    LevelChange.objects.create(learner=learner, from_level=1, to_level=2, reasons=["why"])
    Nudge.objects.create(learner=learner, kind="welcome", dedup_key="once", status="sent")
    response = instructor_client.get(reverse("admin:learners_learner_change", args=[learner.pk]))
    inlines = {i.formset.model.__name__: i for i in response.context["inline_admin_formsets"]}
    for name in ("LevelChange", "Nudge"):
        assert not inlines[name].has_add_permission
        assert not inlines[name].has_change_permission
        assert not inlines[name].has_delete_permission


# --- cohorts ------------------------------------------------------------------------------


def test_instructor_creates_a_cohort_and_filters_by_it(instructor_client):
    response = instructor_client.post(
        reverse("admin:learners_cohort_add"), {"name": "Autumn 2026", "start_date": "2026-09-01"}
    )
    assert response.status_code == 302
    cohort = Cohort.objects.get(name="Autumn 2026")
    LearnerFactory(cohort=cohort, user__email="in@example.com")
    LearnerFactory(user__email="outside@example.com")
    listing = instructor_client.get(reverse("admin:learners_cohort_changelist"))
    assert f"cohort__id__exact={cohort.pk}" in listing.content.decode()
    response = instructor_client.get(f"{CHANGELIST}?cohort__id__exact={cohort.pk}")
    assert _emails(response) == {"in@example.com"}


# --- roster import ------------------------------------------------------------------------

HEADER = (
    "email,first_name,last_name,track,cohort,timezone,annual_compensation,"
    "monthly_recurring_revenue,monthly_api_cost,can_explain_concepts,"
    "can_implement_from_scratch,deployed_at_scale,seen_as,leads_initiatives,"
    "owns_model_weights,replicable_by_competitors,investor_fundable,nudges_enabled,"
    "completed_modules,completed_keys\n"
)
GOOD = "ann@example.com,Ann,Lee,engineer,Fall,UTC,160000,,,yes,no,no,integrator,no,,,,yes,1;2,\n"
BAD = "bob@example.com,Bob,Ray,founder,Fall,UTC,,abc,,,,,,,no,yes,no,yes,,\n"
IMPORT = "/admin/learners/learner/import/"


def _upload(content: str, name: str = "roster.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content.encode(), content_type="text/csv")


def test_import_preview_shows_every_error_and_writes_nothing(instructor_client):
    response = instructor_client.post(IMPORT, {"file": _upload(HEADER + GOOD + BAD)})
    assert response.status_code == 200
    report = response.context["report"]
    assert not report.ok
    body = response.content.decode()
    for error in report.errors:
        assert escape(error.message) in body
    assert any(e.line == 3 and e.column == "monthly_recurring_revenue" for e in report.errors)
    assert "Confirm the import" not in body
    assert not User.objects.filter(email__in=["ann@example.com", "bob@example.com"]).exists()
    assert not Cohort.objects.filter(name="Fall").exists()


def test_import_preview_then_confirm_writes_the_rows(instructor_client, instructor):
    response = instructor_client.post(IMPORT, {"file": _upload(HEADER + GOOD)})
    body = response.content.decode()
    assert response.context["report"].ok and response.context["report"].created == 1
    assert "ann@example.com" in body and "Confirm the import" in body
    assert not User.objects.filter(email="ann@example.com").exists()

    content = response.context["form"].initial["content"]
    response = instructor_client.post(IMPORT, {"content": content, "confirm": "1"}, follow=True)
    assert response.redirect_chain[-1][0] == CHANGELIST
    learner = Learner.objects.get(user__email="ann@example.com")
    assert learner.cohort.name == "Fall" and learner.level == 2
    assert not learner.user.has_usable_password()
    progress = ModuleProgress.objects.filter(learner=learner)
    assert {row.recorded_by_id for row in progress} == {instructor.pk}


def test_confirming_a_file_with_errors_writes_nothing(instructor_client):
    response = instructor_client.post(
        IMPORT, {"content": HEADER + GOOD + BAD, "confirm": "1"}, follow=True
    )
    assert response.status_code == 200
    assert "Nothing was imported" in response.content.decode()
    assert not User.objects.filter(email="ann@example.com").exists()


def test_a_student_cannot_import(client, db):
    client.force_login(LearnerFactory().user)
    response = client.post(IMPORT, {"content": HEADER + GOOD, "confirm": "1"})
    assert response.status_code in (302, 403)
    assert not User.objects.filter(email="ann@example.com").exists()


# --- why this level, said about the learner ---------------------------------------------------


@pytest.mark.parametrize(
    "answers",
    [
        {},  # no self-assessment yet
        {"engineer": True, "annual_compensation": 90_000},
        {"engineer": True, "annual_compensation": None},  # the figure kept to themselves
        {"engineer": True, "annual_compensation": 400_000},  # answers hold them down
    ],
)
def test_the_admins_why_this_level_speaks_about_the_learner(instructor_client, answers):
    """The reasons are written to the student ("update your self-assessment"); the
    instructor reads them about the learner (issue 20: singular "they")."""
    import re

    from learners.services import learner_recompute_level

    learner = LearnerFactory(**answers)
    learner_recompute_level(learner=learner)
    page = instructor_client.get(f"{CHANGELIST}{learner.pk}/change/").text
    box = page[page.index("Why this level") :]
    box = box[: box.index("</ul>")]

    assert "<li>" in box
    assert not re.search(r"\b(you|your|yourself)\b", box, re.IGNORECASE), box
    assert re.search(r"\b(they|their|them)\b", box, re.IGNORECASE), box


def test_a_nudges_own_pages_name_its_kind_and_status_in_words(instructor_client):
    """A nudge's title (its page, breadcrumb and history) said "next_step to … (held_out)"."""
    from django.utils.html import strip_tags

    from learners.nudges.models import NudgeKind, NudgeStatus

    nudge = Nudge.objects.create(
        learner=LearnerFactory(),
        kind=NudgeKind.NEXT_STEP,
        dedup_key="words",
        status=NudgeStatus.HELD_OUT,
    )
    for page in ("change", "history"):
        html = instructor_client.get(f"/admin/nudges/nudge/{nudge.pk}/{page}/").text
        text = strip_tags(html)
        assert f"{NudgeKind.NEXT_STEP.label} to" in text, page
        assert "next_step" not in text and "held_out" not in text, page
