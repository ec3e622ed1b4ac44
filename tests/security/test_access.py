"""Who can open what: every URL of the site, as five people, GET and POST.

The people: ``anon`` (not signed in), ``student`` (learner A, engineer track),
``other`` (learner B, founder track, trying A's objects), ``instructor`` (staff in the
"Instructors" group) and ``superuser``. Each row names a URL pattern, a URL built on A's
objects, and the outcome for each person: a status code, or ``"302 /path/"`` for a
redirect (query string left out).

``test_every_url_pattern_has_a_row`` fails when a URL pattern is added (in ``learners``,
``curriculum`` or ``pyramid_site/urls.py``, or a model registered in the admin) without
a row here. allauth's own pages are grouped by prefix and tried through representative
URLs; the admin's per-model views are derived from what each person may do with the
model (view, add, change, delete), written out per model below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from curriculum.models import (
    Key,
    Level,
    Module,
    SelfAssessmentQuestion,
    Stage,
    SuccessMetric,
    Symptom,
    Track,
)
from learners.integrations.models import (
    DeliveryRefusal,
    EventStatus,
    PlatformConnection,
    PlatformKind,
    WebhookEvent,
)
from learners.integrations.services.api_keys import api_key_create
from learners.models import Cohort, LevelChange, User
from learners.nudges.content import preferences_token, unsubscribe_token
from learners.nudges.models import Experiment, Nudge, NudgeBudget, NudgePreference
from learners.onboarding.models import Invitation, RosterImport, RosterImportStatus
from tests.factories import CohortFactory, LearnerFactory, UserFactory

ACTORS = ("anon", "student", "other", "instructor", "superuser")
ADMIN = settings.ADMIN_URL

# Outcomes that recur.
LOGIN = "302 /accounts/login/"
ADMIN_LOGIN = f"302 /{ADMIN}login/"
TO_PROGRESS = "302 /progress/"
TO_PROFILE = "302 /profile/"
# A signed-in user at a sign-in page goes where a sign-in leads: staff to the admin.
TO_ADMIN = f"302 /{ADMIN}"
ANON_ONLY_PAGE = ("200", TO_PROGRESS, TO_PROGRESS, TO_ADMIN, TO_ADMIN)
NOT_ALLOWED = ("405",) * 5
STAFF_ONLY = (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN)
# The admin's app index: one pattern naming every app with a model in the admin.
APP_INDEX = (
    f"{ADMIN}^(?P<app_label>auth|account|mfa|curriculum|learners|nudges|integrations|onboarding)/$"
)
# The API knows API keys only: a session, anyone's, is no credential there.
NO_API_KEY = ("401",) * 5


@dataclass(frozen=True)
class Row:
    """One URL tried by every actor. ``get``/``post``: outcomes in ``ACTORS`` order."""

    route: str
    url: str
    get: tuple[str, ...]
    post: tuple[str, ...]
    data: dict = field(default_factory=dict)


# --- the site's own pages -----------------------------------------------------------------

SITE_ROWS = [
    Row("", "/", get=("200",) * 5, post=NOT_ALLOWED),
    Row("healthz", "/healthz", get=("200",) * 5, post=("200",) * 5),
    Row(
        "profile/",
        "/profile/",
        get=(LOGIN, "200", "200", "200", "200"),
        # An empty form is refused with the form shown again; nothing is saved.
        post=(LOGIN, "200", "200", "200", "200"),
    ),
    Row(
        "account/",
        "/account/",
        get=(LOGIN, "200", "200", "200", "200"),
        # An empty name is refused with the form shown again; nothing is saved.
        post=(LOGIN, "200", "200", "200", "200"),
    ),
    Row(
        "progress/",
        "/progress/",
        # Staff have no self-assessment: sent to fill it in.
        get=(LOGIN, "200", "200", TO_PROFILE, TO_PROFILE),
        post=(LOGIN, "405", "405", "405", "405"),
    ),
    Row(
        "progress/keys/<int:key_id>/",
        "/progress/keys/{engineer_key}/",
        get=(LOGIN, "405", "405", "405", "405"),
        # A key of the engineer track: A's to tick; not B's (founder), nor staff's (no track).
        post=(LOGIN, TO_PROGRESS, "404", "404", "404"),
        data={"done": "1"},
    ),
    Row(
        "progress/modules/<int:module_id>/",
        "/progress/modules/{module}/",
        get=(LOGIN, "405", "405", "405", "405"),
        post=(LOGIN, TO_PROGRESS, TO_PROGRESS, TO_PROFILE, TO_PROFILE),
        data={"done": "1"},
    ),
    Row(
        "nudges/unsubscribe/<str:token>/",
        "/nudges/unsubscribe/{unsubscribe_token}/",
        # The signed token is the authority (one-click from the email), not the session.
        get=("200",) * 5,
        post=("200",) * 5,
    ),
    Row(
        "nudges/unsubscribe/<str:token>/",
        "/nudges/unsubscribe/{tampered_token}/",
        get=("400",) * 5,
        post=("400",) * 5,
    ),
    Row(
        "profile/privacy/data/",
        "/profile/privacy/data/",
        get=(LOGIN, "200", "200", "200", "200"),
        post=(LOGIN, "405", "405", "405", "405"),
    ),
    Row(
        "profile/privacy/delete/",
        "/profile/privacy/delete/",
        get=(LOGIN, "200", "200", "200", "200"),
        # Without the password the form is shown again and nothing is deleted.
        post=(LOGIN, "200", "200", "200", "200"),
    ),
    Row(
        "readyz",
        "/readyz",
        get=("403", "403", "403", "200", "200"),
        post=NOT_ALLOWED,
    ),
    Row(
        "nudges/preferences/",
        "/nudges/preferences/",
        # Signed in: one's own choices. An empty form is valid (every switch off) and saved.
        get=(LOGIN, "200", "200", "200", "200"),
        post=(LOGIN, "200", "200", "200", "200"),
    ),
    Row(
        "nudges/preferences/<str:token>/",
        "/nudges/preferences/{preferences_token}/",
        # From an email: the signed token names the learner, whoever is signed in.
        get=("200",) * 5,
        post=("200",) * 5,
    ),
    Row(
        "nudges/preferences/<str:token>/",
        "/nudges/preferences/{tampered_preferences_token}/",
        get=("400",) * 5,
        post=("400",) * 5,
    ),
    Row(
        "nudges/preferences/<str:token>/",
        # An unsubscribe link's token (another salt) cannot open the preferences (nor turn
        # nudges back on).
        "/nudges/preferences/{unsubscribe_token}/",
        get=("400",) * 5,
        post=("400",) * 5,
    ),
    Row(
        "webhooks/<slug:connection>/",
        "/webhooks/{connection_slug}/",
        # A delivery without the platform's signature is refused (no body kept).
        get=NOT_ALLOWED,
        post=("401",) * 5,
    ),
    Row(
        "webhooks/<slug:connection>/<str:token>/",
        "/webhooks/{connection_slug}/{tampered_url_token}/",
        # A wrong URL token is refused whoever sends it.
        get=NOT_ALLOWED,
        post=("401",) * 5,
    ),
    Row(
        "webhooks/<slug:connection>/",
        "/webhooks/no-such-connection/",
        get=NOT_ALLOWED,
        post=("404",) * 5,
    ),
]

# --- the API: API keys only, problem details ----------------------------------------------

API_ROWS = [
    Row("api/schema/", "/api/schema/", get=("200",) * 5, post=NOT_ALLOWED),
    Row("api/docs/", "/api/docs/", get=("200",) * 5, post=NOT_ALLOWED),
    # Anything else under /api/ is a 404 problem, whatever the method.
    Row("api/", "/api/", get=("404",) * 5, post=("404",) * 5),
    Row("api/", "/api/v2/learners/", get=("404",) * 5, post=("404",) * 5),
    Row("api/v1/learners/", "/api/v1/learners/", get=NO_API_KEY, post=NO_API_KEY),
    Row(
        "api/v1/learners/<str:email>/",
        "/api/v1/learners/{student_address}/",
        get=NO_API_KEY,
        post=NO_API_KEY,
    ),
    Row(
        "api/v1/learners/<str:email>/placement/",
        "/api/v1/learners/{student_address}/placement/",
        get=NO_API_KEY,
        post=NO_API_KEY,
    ),
    Row(
        "api/v1/learners/<str:email>/modules/<int:number>/",
        "/api/v1/learners/{student_address}/modules/1/",
        get=NO_API_KEY,
        post=NO_API_KEY,
    ),
    Row(
        "api/v1/learners/<str:email>/keys/<str:code>/",
        "/api/v1/learners/{student_address}/keys/{engineer_key_code}/",
        get=NO_API_KEY,
        post=NO_API_KEY,
    ),
]

# --- the admin's own pages (not per model) ------------------------------------------------

ADMIN_ROWS = [
    Row(f"{ADMIN}", f"/{ADMIN}", get=(*STAFF_ONLY, "200", "200"), post=(*STAFF_ONLY, "200", "200")),
    Row(
        f"{ADMIN}login/",
        f"/{ADMIN}login/",
        # Sign-in goes through allauth; signed-in staff go on to the admin, anyone else
        # signed in is refused (no redirect loop).
        get=(LOGIN, "403", "403", f"302 /{ADMIN}", f"302 /{ADMIN}"),
        post=(LOGIN, "403", "403", f"302 /{ADMIN}", f"302 /{ADMIN}"),
    ),
    Row(
        f"{ADMIN}logout/",
        f"/{ADMIN}logout/",
        get=(*(f"302 /{ADMIN}",) * 3, "405", "405"),
        post=(*(f"302 /{ADMIN}",) * 3, "200", "200"),
    ),
    Row(
        f"{ADMIN}password_change/",
        f"/{ADMIN}password_change/",
        get=(*STAFF_ONLY, "200", "200"),
        post=(*STAFF_ONLY, "200", "200"),
    ),
    Row(
        f"{ADMIN}password_change/done/",
        f"/{ADMIN}password_change/done/",
        get=(*STAFF_ONLY, "200", "200"),
        post=(*STAFF_ONLY, "405", "405"),
    ),
    Row(
        f"{ADMIN}autocomplete/",
        f"/{ADMIN}autocomplete/",
        get=(*STAFF_ONLY, "403", "403"),
        post=(*STAFF_ONLY, "405", "405"),
    ),
    Row(
        f"{ADMIN}jsi18n/",
        f"/{ADMIN}jsi18n/",
        get=(*STAFF_ONLY, "200", "200"),
        post=(*STAFF_ONLY, "405", "405"),
    ),
    Row(
        f"{ADMIN}r/<path:content_type_id>/<path:object_id>/",
        f"/{ADMIN}r/{{cohort_type}}/{{cohort}}/",
        # Cohorts have no page on the site.
        get=(*STAFF_ONLY, "404", "404"),
        post=(*STAFF_ONLY, "404", "404"),
    ),
    Row(
        APP_INDEX,
        f"/{ADMIN}learners/",
        get=(*STAFF_ONLY, "200", "200"),
        post=(*STAFF_ONLY, "200", "200"),
    ),
    Row(
        APP_INDEX,
        f"/{ADMIN}nudges/",
        # The nudge ledger, read-only for instructors.
        get=(*STAFF_ONLY, "200", "200"),
        post=(*STAFF_ONLY, "200", "200"),
    ),
    Row(
        APP_INDEX,
        f"/{ADMIN}integrations/",
        # Platform connections and webhook events (API keys are the superuser's).
        get=(*STAFF_ONLY, "200", "200"),
        post=(*STAFF_ONLY, "200", "200"),
    ),
    Row(
        APP_INDEX,
        f"/{ADMIN}auth/",
        # Instructors hold no auth.* permission.
        get=(*STAFF_ONLY, "404", "200"),
        post=(*STAFF_ONLY, "404", "200"),
    ),
    Row(
        f"{ADMIN}(?P<url>.*)$",
        f"/{ADMIN}no-such-page/",
        get=(*STAFF_ONLY, "404", "404"),
        post=(*STAFF_ONLY, "404", "404"),
    ),
    Row(
        f"{ADMIN}dashboard/",
        f"/{ADMIN}dashboard/",
        get=(*STAFF_ONLY, "200", "200"),
        post=(*STAFF_ONLY, "200", "200"),
    ),
    # The nudge budget is a django-solo singleton: its list URL is the one row's form (the
    # row-level URLs of every model admin are in ADMIN_MODELS).
    Row(
        f"{ADMIN}nudges/nudgebudget/^$",
        f"/{ADMIN}nudges/nudgebudget/",
        # An empty POST shows the form again with its errors; nothing is saved.
        get=(*STAFF_ONLY, "403", "200"),
        post=(*STAFF_ONLY, "403", "200"),
    ),
    Row(
        f"{ADMIN}nudges/nudgebudget/^history/$",
        f"/{ADMIN}nudges/nudgebudget/history/",
        get=(*STAFF_ONLY, "403", "200"),
        post=(*STAFF_ONLY, "403", "200"),
    ),
    Row(
        f"{ADMIN}insights/",
        f"/{ADMIN}insights/",
        # A POST without a list to nudge sends nothing and goes back to the page.
        get=(*STAFF_ONLY, "200", "200"),
        post=(*STAFF_ONLY, f"302 /{ADMIN}insights/", f"302 /{ADMIN}insights/"),
    ),
    Row(
        f"{ADMIN}nudges/experiment/<int:pk>/report/",
        f"/{ADMIN}nudges/experiment/{{experiment}}/report/",
        # Experiments are the site admins'; the report is read-only (a POST reads it too).
        get=(*STAFF_ONLY, "403", "200"),
        post=(*STAFF_ONLY, "403", "200"),
    ),
    Row(
        f"{ADMIN}nudges/experiment/plan/",
        f"/{ADMIN}nudges/experiment/plan/",
        # The experiment form's live plan (a fragment of numbers, no data): read-only.
        get=(*STAFF_ONLY, "403", "200"),
        post=(*STAFF_ONLY, "403", "200"),
    ),
    Row(
        f"{ADMIN}learners/learner/import/",
        f"/{ADMIN}learners/learner/import/",
        get=(*STAFF_ONLY, "200", "200"),
        # No file: the form says so.
        post=(*STAFF_ONLY, "200", "200"),
    ),
    Row(
        f"{ADMIN}learners/learner/import/<int:roster_import_id>/",
        f"/{ADMIN}learners/learner/import/{{roster_import}}/",
        # A background import's page; it only reads (a POST reads it too).
        get=(*STAFF_ONLY, "200", "200"),
        post=(*STAFF_ONLY, "200", "200"),
    ),
    Row(
        f"{ADMIN}learners/learner/export/",
        f"/{ADMIN}learners/learner/export/",
        # The roster CSV of the filtered list: anyone who may view learners.
        get=(*STAFF_ONLY, "200", "200"),
        post=(*STAFF_ONLY, "200", "200"),
    ),
    Row(
        f"{ADMIN}learners/user/<id>/password/",
        f"/{ADMIN}learners/user/{{student_user}}/password/",
        # Only site admins set someone else's password (an instructor could otherwise
        # sign in as the student); students use password reset.
        get=(*STAFF_ONLY, "403", "200"),
        post=(*STAFF_ONLY, "403", "200"),
    ),
    # Object level: an instructor may not edit another staff account (view only).
    Row(
        f"{ADMIN}learners/user/<path:object_id>/change/",
        f"/{ADMIN}learners/user/{{superuser_user}}/change/",
        get=(*STAFF_ONLY, "200", "200"),
        post=(*STAFF_ONLY, "403", "200"),
    ),
    Row(
        f"{ADMIN}learners/user/<id>/password/",
        f"/{ADMIN}learners/user/{{superuser_user}}/password/",
        get=(*STAFF_ONLY, "403", "200"),
        post=(*STAFF_ONLY, "403", "200"),
    ),
]

# --- allauth: grouped by prefix, tried through representative URLs ------------------------

ALLAUTH_PREFIXES = ("accounts/",)

ALLAUTH_ROWS = [
    Row("accounts/login/", "/accounts/login/", get=ANON_ONLY_PAGE, post=ANON_ONLY_PAGE),
    Row(
        "accounts/signup/",
        "/accounts/signup/",
        get=ANON_ONLY_PAGE,
        post=ANON_ONLY_PAGE,
    ),
    Row(
        "accounts/logout/",
        "/accounts/logout/",
        get=("302 /", "200", "200", "200", "200"),
        post=("302 /",) * 5,
    ),
    Row(
        "accounts/password/reset/",
        "/accounts/password/reset/",
        get=("200",) * 5,
        post=("200",) * 5,
    ),
    Row(
        "accounts/password/change/",
        "/accounts/password/change/",
        get=(LOGIN, "200", "200", "200", "200"),
        post=(LOGIN, "200", "200", "200", "200"),
    ),
    Row(
        "accounts/email/",
        "/accounts/email/",
        get=(LOGIN, "200", "200", "200", "200"),
        post=(LOGIN, *("302 /accounts/email/",) * 4),
    ),
    Row(
        "accounts/^confirm-email/(?P<key>[-:\\w]+)/$",
        "/accounts/confirm-email/not-a-key/",
        get=("200",) * 5,
        post=("404",) * 5,
    ),
    Row(
        "accounts/2fa/",
        "/accounts/2fa/",
        get=(LOGIN, "200", "200", "200", "200"),
        post=(LOGIN, "405", "405", "405", "405"),
    ),
    Row(
        "accounts/2fa/totp/activate/",
        "/accounts/2fa/totp/activate/",
        # Adding a second factor asks for the password again first.
        get=(LOGIN, *("302 /accounts/reauthenticate/",) * 4),
        post=(LOGIN, *("302 /accounts/reauthenticate/",) * 4),
    ),
]

# --- the admin's per-model views ----------------------------------------------------------


@dataclass(frozen=True)
class AdminModel:
    """What the instructor and the superuser may do with a model in the admin:
    v(iew), a(dd), c(hange), d(elete). Anonymous and students are sent to sign in."""

    app_label: str
    model_name: str
    obj: str
    instructor: str
    superuser: str
    # Where a form-less POST to the change page is valid (nothing required is editable),
    # it saves and redirects instead of showing the form again.
    instructor_empty_change_saves: bool = False


ADMIN_MODELS = [
    AdminModel("auth", "group", "instructors_group", instructor="", superuser="vacd"),
    AdminModel("account", "emailaddress", "student_email", instructor="", superuser="vacd"),
    AdminModel("mfa", "authenticator", "authenticator", instructor="", superuser="vacd"),
    AdminModel("curriculum", "track", "track", instructor="vc", superuser="vacd"),
    AdminModel("curriculum", "level", "level", instructor="vc", superuser="vac"),
    AdminModel("curriculum", "stage", "stage", instructor="vc", superuser="vacd"),
    AdminModel("curriculum", "module", "module", instructor="vc", superuser="vacd"),
    AdminModel("curriculum", "key", "engineer_key", instructor="vacd", superuser="vacd"),
    AdminModel("curriculum", "symptom", "symptom", instructor="vacd", superuser="vacd"),
    AdminModel(
        "curriculum", "successmetric", "success_metric", instructor="vacd", superuser="vacd"
    ),
    AdminModel(
        "curriculum", "selfassessmentquestion", "question", instructor="vacd", superuser="vacd"
    ),
    # The instructor may not edit a student's login address (it would let them take the
    # account over by password reset), so an empty change form is valid for them.
    AdminModel(
        "learners",
        "user",
        "student_user",
        instructor="vac",
        superuser="vacd",
        instructor_empty_change_saves=True,
    ),
    AdminModel("learners", "cohort", "cohort", instructor="vacd", superuser="vacd"),
    AdminModel("learners", "learner", "student", instructor="vac", superuser="vacd"),
    AdminModel("learners", "levelchange", "level_change", instructor="v", superuser="vd"),
    AdminModel("nudges", "nudge", "nudge", instructor="v", superuser="v"),
    # Instructors hold no permission on experiments, the budget or preferences. An experiment
    # is never deleted (its ledger rows refer to it); the budget is one row (no second one
    # added while it exists, see test_the_budget_is_added_by_superusers_only) and never
    # deleted; preferences are the learner's own, read-only here.
    AdminModel("nudges", "experiment", "experiment", instructor="", superuser="vac"),
    AdminModel("nudges", "nudgebudget", "budget", instructor="", superuser="vc"),
    AdminModel("nudges", "nudgepreference", "preference", instructor="", superuser="v"),
    # API keys stay with site admins; instructors connect platforms (not delete them) and
    # see webhook events, which nobody adds or edits by hand.
    AdminModel("integrations", "apikey", "api_key", instructor="", superuser="vacd"),
    AdminModel(
        "integrations", "platformconnection", "connection", instructor="vac", superuser="vacd"
    ),
    AdminModel("integrations", "webhookevent", "webhook_event", instructor="v", superuser="vd"),
    # Refused deliveries: a small record each, read-only.
    AdminModel(
        "integrations", "deliveryrefusal", "delivery_refusal", instructor="v", superuser="vd"
    ),
    # Invitations are recorded by imports, never added or edited by hand (instructors send a
    # failed one again with an action); roster imports are written by the import page.
    AdminModel("onboarding", "invitation", "invitation", instructor="v", superuser="vd"),
    AdminModel("onboarding", "rosterimport", "roster_import", instructor="v", superuser="vd"),
]

# The views every ModelAdmin has, with the permission each needs (GET, POST).
MODEL_VIEWS = {
    "": ("vc", "vc"),
    "add/": ("a", "a"),
    "<path:object_id>/history/": ("vc", "vc"),
    "<path:object_id>/delete/": ("d", "d"),
    "<path:object_id>/change/": ("vc", "c"),
}


def admin_model_rows(model: AdminModel) -> list[Row]:
    rows = []
    base = f"{ADMIN}{model.app_label}/{model.model_name}/"
    for view, (needs_get, needs_post) in MODEL_VIEWS.items():

        def outcome(perms: str, needs: str) -> str:
            return "200" if set(perms) & set(needs) else "403"

        rows.append(
            Row(
                base + view,
                "/" + base + view.replace("<path:object_id>", f"{{{model.obj}}}"),
                get=(
                    *STAFF_ONLY,
                    outcome(model.instructor, needs_get),
                    outcome(model.superuser, needs_get),
                ),
                post=(
                    *STAFF_ONLY,
                    f"302 /{base}"
                    if model.instructor_empty_change_saves and view.endswith("change/")
                    else outcome(model.instructor, needs_post),
                    outcome(model.superuser, needs_post),
                ),
            )
        )
    # The bare object URL is an old form kept as a redirect to the change page.
    change = f"302 /{base}{{{model.obj}}}/change/"
    rows.append(
        Row(
            base + "<path:object_id>/",
            f"/{base}{{{model.obj}}}/",
            get=(*STAFF_ONLY, change, change),
            post=(*STAFF_ONLY, change, change),
        )
    )
    return rows


ROWS = [
    *SITE_ROWS,
    *API_ROWS,
    *ADMIN_ROWS,
    *ALLAUTH_ROWS,
    *(row for model in ADMIN_MODELS for row in admin_model_rows(model)),
]


# --- the world the rows are tried in ------------------------------------------------------


@pytest.fixture
def world(db) -> dict:
    student = LearnerFactory(engineer=True, user__email="ada@example.com")
    other = LearnerFactory(founder=True, user__email="bob@example.com")
    instructor = UserFactory(email="instructor@example.com", is_staff=True)
    instructors_group = Group.objects.get(name="Instructors")
    instructor.groups.add(instructors_group)
    superuser = User.objects.create_superuser(email="root@example.com", password="x-long-pw-1")
    email = EmailAddress.objects.create(
        user=student.user, email=student.user.email, verified=True, primary=True
    )
    cohort = CohortFactory()
    authenticator = Authenticator.objects.create(
        user=superuser, type=Authenticator.Type.RECOVERY_CODES, data={"seed": "00", "used_mask": 0}
    )
    level_change = LevelChange.objects.create(learner=student, from_level=None, to_level=1)
    nudge = Nudge.objects.create(learner=student, kind="welcome", dedup_key="welcome")
    token = unsubscribe_token(student.pk)
    preferences = preferences_token(student.pk)
    experiment, _ = Experiment.objects.get_or_create(kind="self_assessment", ended_at=None)
    budget = NudgeBudget.get_solo()
    preference = NudgePreference.objects.create(learner=student, kinds_off=["next_step"])
    api_key, _ = api_key_create(name="Zapier", created_by=superuser)
    connection = PlatformConnection.objects.create(
        name="Thinkific", slug="thinkific", kind=PlatformKind.THINKIFIC, secrets="s3cret"
    )
    webhook_event = WebhookEvent.objects.create(
        connection=connection, body=b"{}", status=EventStatus.REJECTED, note="no signature"
    )
    delivery_refusal = DeliveryRefusal.objects.create(
        connection=connection, status=401, reason="no X-Thinkific-Hmac-Sha256 header", size=2
    )
    invitation = Invitation.objects.create(learner=other)
    # The instructor's own import (each instructor follows only their own: test_probe_round3).
    roster_import = RosterImport.objects.create(
        rows=1, status=RosterImportStatus.DONE, created_by=instructor
    )
    from django.contrib.contenttypes.models import ContentType

    return {
        "users": {
            "anon": None,
            "student": student.user,
            "other": other.user,
            "instructor": instructor,
            "superuser": superuser,
        },
        "ids": {
            "student": student.pk,
            "student_user": student.user.pk,
            "superuser_user": superuser.pk,
            "student_email": email.pk,
            "instructors_group": instructors_group.pk,
            "authenticator": authenticator.pk,
            "cohort": cohort.pk,
            "cohort_type": ContentType.objects.get_for_model(Cohort).pk,
            "track": Track.objects.get(slug="engineer").pk,
            "level": Level.objects.get(number=1).pk,
            "stage": Stage.objects.order_by("pk").first().pk,
            "module": Module.objects.get(number=1).pk,
            "engineer_key": Key.objects.filter(track__slug="engineer").order_by("pk").first().pk,
            "symptom": Symptom.objects.order_by("pk").first().pk,
            "success_metric": SuccessMetric.objects.order_by("pk").first().pk,
            "question": SelfAssessmentQuestion.objects.order_by("pk").first().pk,
            "level_change": level_change.pk,
            "nudge": nudge.pk,
            "unsubscribe_token": token,
            "tampered_token": tampered(token),
            "preferences_token": preferences,
            "tampered_preferences_token": tampered(preferences),
            "experiment": experiment.pk,
            "budget": budget.pk,
            "preference": preference.pk,
            "api_key": api_key.pk,
            "connection": connection.pk,
            "connection_slug": connection.slug,
            "tampered_url_token": tampered(connection.url_token),
            "delivery_refusal": delivery_refusal.pk,
            "webhook_event": webhook_event.pk,
            "invitation": invitation.pk,
            "roster_import": roster_import.pk,
            "student_address": student.user.email,
            "engineer_key_code": Key.objects.filter(track__slug="engineer")
            .order_by("pk")
            .first()
            .code,
        },
    }


def tampered(token: str) -> str:
    return token[:-2] + ("AA" if not token.endswith("AA") else "BB")


def outcome(response) -> str:
    if response.status_code in (301, 302):
        return f"{response.status_code} {urlsplit(response['Location']).path}"
    return str(response.status_code)


def observe(world: dict, row: Row) -> dict[tuple[str, str], str]:
    url = row.url.format(**world["ids"])
    seen = {}
    for actor in ACTORS:
        # A fresh client for each method: a POST may sign the actor out (logout).
        for method in ("GET", "POST"):
            client = Client()
            if world["users"][actor] is not None:
                client.force_login(world["users"][actor])
            response = client.get(url) if method == "GET" else client.post(url, row.data)
            seen[(actor, method)] = outcome(response)
    return seen


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.url)
def test_access(world, row):
    seen = observe(world, row)
    expected = {
        (actor, method): want.format(**world["ids"])
        for method, wants in (("GET", row.get), ("POST", row.post))
        for actor, want in zip(ACTORS, wants, strict=True)
    }
    wrong = [
        f"{method} {actor}: expected {expected[(actor, method)]}, got {got}"
        for (actor, method), got in seen.items()
        if got != expected[(actor, method)]
    ]
    assert not wrong, "\n".join(wrong)


def test_the_budget_page_is_the_budget_in_force_for_superusers_only(world):
    """django-solo: the list is the one row's form, with the defaults in force even before
    anyone saved a budget; nobody adds a second row or deletes it."""
    NudgeBudget.objects.all().delete()
    page = f"/{ADMIN}nudges/nudgebudget/"
    row = Row(page, page, get=(*STAFF_ONLY, "403", "200"), post=(*STAFF_ONLY, "403", "200"))
    seen = observe(world, row)
    assert [seen[(actor, "GET")] for actor in ACTORS] == list(row.get)
    client = Client()
    client.force_login(world["users"]["superuser"])
    shown = client.get(page).content.decode()
    assert 'name="weekly_cap" value="2"' in shown and 'value="21:00:00"' in shown
    response = client.post(page, {"weekly_cap": "3", "quiet_start": "22:00", "quiet_end": "07:30"})
    assert response.status_code == 302
    assert NudgeBudget.objects.get().weekly_cap == 3
    assert client.get(f"/{ADMIN}nudges/nudgebudget/add/").status_code == 403


# --- the table covers every URL -----------------------------------------------------------


def url_patterns(patterns=None, prefix: str = ""):
    """(route, view module) of every URL pattern, includes followed."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from url_patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback.__module__


def uncovered(patterns) -> list[str]:
    """Routes with no row: allauth's own views are covered by their prefix group."""
    covered = {row.route for row in ROWS}
    return [
        route
        for route, module in patterns
        if route not in covered
        and not (route.startswith(ALLAUTH_PREFIXES) and module.startswith("allauth."))
    ]


def test_every_url_pattern_has_a_row():
    missing = uncovered(url_patterns())
    assert not missing, "URL patterns without a row in the access table:\n" + "\n".join(missing)


def test_a_new_url_without_a_row_is_caught():
    new = [
        ("progress/export/", "learners.views"),
        ("accounts/my-data/", "learners.views"),
        (f"{ADMIN}learners/keycompletion/", "django.contrib.admin.options"),
        (f"{ADMIN}learners/learner/merge/", "learners.admin"),
    ]
    assert uncovered([*url_patterns(), *new]) == [route for route, _ in new]


def test_every_row_names_a_url_pattern():
    routes = {route for route, _ in url_patterns()}
    stale = sorted({row.route for row in ROWS} - routes)
    assert not stale, stale
