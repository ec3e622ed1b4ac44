"""Hostile input to nudges: tampered, truncated, replayed and foreign unsubscribe tokens change
nothing (or only their own learner), and names full of HTML are escaped in every email."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from allauth.account.models import EmailAddress
from django.core import mail, signing
from django.test import Client
from django.utils import timezone
from django.utils.html import escape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curriculum.models import Key, Level, TrackLevel
from curriculum.selectors import curriculum_rules
from learners.models import Learner
from learners.nudges.content import (
    UNSUBSCRIBE_SALT,
    nudge_context,
    nudge_message,
    unsubscribe_token,
)
from learners.nudges.models import Nudge, NudgeKind, NudgeStatus
from learners.nudges.selectors import level_messages
from learners.nudges.services.sending import nudges_send
from learners.selectors import learner_placement
from tests.factories import LearnerFactory
from tests.learners.nudges.conftest import no_holdout  # noqa: F401 - fixture used here

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
MARKUP = (SCRIPT, ATTRIBUTE)
# A valid address (a quoted local part may hold markup), shown where the name is blank.
HOSTILE_EMAIL = '"<script>alert(1)</script>"@example.com'


def make_learner(**fields) -> Learner:
    """An engineer with a verified address and a pending nudge."""
    learner = LearnerFactory(engineer=True, **fields)
    EmailAddress.objects.create(
        user=learner.user, email=learner.user.email, verified=True, primary=True
    )
    Nudge.objects.create(learner=learner, kind=NudgeKind.NEXT_STEP, dedup_key="2026-W01")
    return learner


def state() -> tuple:
    """Every learner's opt-in and every nudge's status: what an unsubscribe may change."""
    return (
        tuple(Learner.objects.order_by("pk").values_list("pk", "nudges_enabled")),
        tuple(Nudge.objects.order_by("pk").values_list("pk", "status", "last_error")),
    )


def path(token: str) -> str:
    return f"/nudges/unsubscribe/{quote(token, safe='')}/"


@pytest.fixture
def two(db) -> tuple[Learner, Learner]:
    return make_learner(), make_learner()


@pytest.fixture
def provider():
    """A mail provider: no session, no CSRF token."""
    return Client(enforce_csrf_checks=True)


# --- unsubscribe tokens ----------------------------------------------------------------------


def _mutations(token: str):
    """The token with one character replaced, some cut off, or something added."""
    return st.one_of(
        st.tuples(st.integers(0, len(token) - 1), st.characters(codec="utf-8"))
        .filter(lambda change: token[change[0]] != change[1])
        .map(lambda change: token[: change[0]] + change[1] + token[change[0] + 1 :]),
        st.integers(1, len(token) - 1).map(lambda n: token[:n]),
        st.integers(1, len(token) - 1).map(lambda n: token[n:]),
        st.text(min_size=1, max_size=8).map(lambda extra: token + extra),
        st.text(min_size=1, max_size=8).map(lambda extra: extra + token),
        st.text(max_size=200),
    )


@pytest.mark.slow
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), method=st.sampled_from(["get", "post"]))
def test_a_tampered_or_truncated_token_changes_nothing(provider, two, data, method):
    token = unsubscribe_token(two[0].pk)
    bad = data.draw(_mutations(token))
    before = state()

    response = getattr(provider, method)(path(bad))

    assert response.status_code in (400, 404)
    if response.status_code == 400:
        # The unsubscribe page's own refusal, or the site's for a NUL anywhere in a path
        # (RejectHostileInputMiddleware answers that before any view).
        assert (
            "This unsubscribe link is not valid" in response.text
            or "NUL characters are not accepted." in response.text
        )
    assert state() == before


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(
            lambda pk: signing.Signer(salt="another.salt").sign_object({"learner": pk}),
            id="another-salt",
        ),
        pytest.param(
            lambda pk: signing.Signer(key="another-secret", salt=UNSUBSCRIBE_SALT).sign_object(
                {"learner": pk}
            ),
            id="another-key",
        ),
        pytest.param(
            lambda pk: signing.Signer(salt=UNSUBSCRIBE_SALT).sign_object({"learner": pk}) + "=",
            id="padded-signature",
        ),
        pytest.param(
            lambda pk: signing.TimestampSigner(salt=UNSUBSCRIBE_SALT).sign_object({"learner": pk}),
            id="timestamp-signer",
        ),
        pytest.param(
            lambda pk: signing.Signer(salt=UNSUBSCRIBE_SALT).sign(f"learner {pk}"),
            id="signed-text-not-an-object",
        ),
        pytest.param(
            lambda pk: signing.Signer(salt=UNSUBSCRIBE_SALT).sign(".eJyrVspJLS5JzUvPz0lR"),
            id="signed-broken-compressed-object",
        ),
        pytest.param(
            lambda pk: signing.dumps({"learner": pk}),
            id="django-default-salt",
        ),
        pytest.param(
            lambda pk: signing.Signer(salt=UNSUBSCRIBE_SALT).sign_object({"learner": str(pk)}),
            id="learner-id-as-text",
        ),
        pytest.param(
            lambda pk: signing.Signer(salt=UNSUBSCRIBE_SALT).sign_object([pk]),
            id="not-a-dict",
        ),
        pytest.param(
            lambda pk: signing.Signer(salt=UNSUBSCRIBE_SALT).sign_object({"user": pk}),
            id="another-field",
        ),
        pytest.param(lambda pk: "x" * 10_000, id="ten-kilobytes"),
        pytest.param(lambda pk: f"{pk}", id="bare-id"),
        pytest.param(lambda pk: "..%2F..%2Fadmin", id="path-traversal"),
    ],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_token_not_signed_by_the_site_for_unsubscribing_changes_nothing(
    provider, two, forge, method
):
    before = state()

    response = getattr(provider, method)(path(forge(two[0].pk)))

    assert response.status_code in (400, 404)
    assert state() == before


def test_a_replayed_token_is_idempotent(provider, two):
    learner, other = two
    token = unsubscribe_token(learner.pk)

    first = provider.post(
        path(token), "List-Unsubscribe=One-Click", "application/x-www-form-urlencoded"
    )
    after_first = state()
    second = provider.post(
        path(token), "List-Unsubscribe=One-Click", "application/x-www-form-urlencoded"
    )
    page = provider.get(path(token))

    assert first.status_code == second.status_code == page.status_code == 200
    assert state() == after_first
    assert "already off" in page.text
    learner.refresh_from_db()
    assert learner.nudges_enabled is False


def test_another_learners_token_affects_only_that_learner(provider, two):
    learner, other = two
    others_nudges = list(Nudge.objects.filter(learner=other).values_list("pk", "status"))

    response = provider.post(path(unsubscribe_token(learner.pk)))

    assert response.status_code == 200
    learner.refresh_from_db()
    other.refresh_from_db()
    assert learner.nudges_enabled is False
    assert Nudge.objects.get(learner=learner).status == NudgeStatus.SKIPPED
    assert other.nudges_enabled is True
    assert list(Nudge.objects.filter(learner=other).values_list("pk", "status")) == others_nudges


def test_a_learner_signed_in_using_someone_elses_link_unsubscribes_only_the_link_owner(two):
    """The token names the learner, not the session: a signed-in learner cannot use a link to
    change themselves, nor their session to change the link's learner."""
    learner, other = two
    client = Client()
    client.force_login(other.user)

    client.post(path(unsubscribe_token(learner.pk)))

    other.refresh_from_db()
    learner.refresh_from_db()
    assert (learner.nudges_enabled, other.nudges_enabled) == (False, True)


@pytest.mark.parametrize("method", ["put", "patch", "delete", "options"])
def test_other_methods_are_refused_and_change_nothing(provider, two, method):
    before = state()

    response = getattr(provider, method)(path(unsubscribe_token(two[0].pk)))

    assert response.status_code == 405
    assert state() == before


def test_the_confirmation_page_neither_shows_nor_injects_the_address(provider, db):
    learner = make_learner(user__email=HOSTILE_EMAIL, user__first_name=SCRIPT)

    for response in (
        provider.get(path(unsubscribe_token(learner.pk))),
        provider.post(path(unsubscribe_token(learner.pk))),
    ):
        assert response.status_code == 200
        # Whoever holds the link learns nothing of the address (issue 13).
        assert escape(HOSTILE_EMAIL) not in response.text
        for markup in MARKUP:
            assert markup not in response.text


# --- HTML in names, in every kind of email ---------------------------------------------------


def html_of(message) -> str:
    (html, mimetype), *_ = message.alternatives
    assert mimetype == "text/html"
    return html


def build(learner: Learner, kind: str):
    nudge = Nudge.objects.create(learner=learner, kind=kind, dedup_key=f"hostile-{kind}")
    context = nudge_context(
        nudges=[nudge],
        learner=learner,
        placement=learner_placement(learner),
        curriculum=curriculum_rules(),
        levels=level_messages(),
        now=learner.created_at,
    )
    return nudge_message(nudge=nudge, learner=learner, context=context)


@pytest.mark.parametrize("kind", NudgeKind.values)
@pytest.mark.parametrize(
    ("first_name", "last_name", "email"),
    [
        (SCRIPT, ATTRIBUTE, "ann@example.com"),
        (ATTRIBUTE, SCRIPT, "bob@example.com"),
        ("", SCRIPT, HOSTILE_EMAIL),  # no first name: the email greets by address
    ],
)
def test_every_kind_of_email_escapes_the_learners_name_in_html(
    db, kind, first_name, last_name, email
):
    learner = LearnerFactory(
        engineer=True, user__first_name=first_name, user__last_name=last_name, user__email=email
    )

    message = build(learner, kind)
    html = html_of(message)

    for markup in MARKUP:
        assert markup not in html
    if first_name:  # every kind greets the learner by first name
        assert escape(first_name) in html
    assert "\n" not in message.subject and "\r" not in message.subject
    message.message()  # the headers are valid (Django refuses header injection)


@pytest.mark.parametrize("kind", NudgeKind.values)
def test_a_name_cannot_inject_email_headers(db, kind):
    learner = LearnerFactory(
        engineer=True, user__first_name="Ann\r\nBcc: victim@example.com\r\n\r\n<b>hi</b>"
    )

    email = build(learner, kind)
    message = email.message()

    assert email.recipients() == [learner.user.email]
    assert message["Bcc"] is None and message.get_all("To") == [learner.user.email]
    assert "\n" not in email.subject  # the name stays inside the subject line


@pytest.mark.parametrize("kind", NudgeKind.values)
def test_curriculum_text_in_emails_is_escaped(db, kind):
    """Key texts and level messages come from instructors' edits of the curriculum."""
    Key.objects.filter(track__slug="engineer").update(text=SCRIPT)
    Level.objects.update(promise=SCRIPT)
    TrackLevel.objects.update(headline=ATTRIBUTE)
    learner = LearnerFactory(engineer=True, annual_compensation=10_000)

    html = html_of(build(learner, kind))

    for markup in MARKUP:
        assert markup not in html
    assert escape(ATTRIBUTE) in html  # the level's headline is in every email


@pytest.mark.usefixtures("no_holdout")
def test_emails_sent_by_the_sweep_machinery_are_escaped(db):
    """Through the real sending path (one SMTP connection per chunk, in-memory here). No
    hold-out: which learner the running experiment holds out depends on their id, which
    depends on the tests that ran before (one in ten orders skipped an email)."""
    learners = [
        make_learner(user__first_name=SCRIPT, user__last_name=ATTRIBUTE),
        make_learner(user__first_name="", user__email=HOSTILE_EMAIL),
    ]
    for learner in learners:
        for kind in NudgeKind.values:
            if kind != NudgeKind.NEXT_STEP:
                Nudge.objects.create(learner=learner, kind=kind, dedup_key=f"sweep-{kind}")
    # Without a self-assessment, so that the reminder is still relevant when it goes out.
    Learner.objects.update(assessment_submitted_at=None)
    mail.outbox.clear()

    # At noon in the learners' zone (UTC), outside quiet hours whenever the suite runs.
    noon = timezone.now().replace(hour=12, minute=0)
    report = nudges_send(nudge_ids=list(Nudge.objects.values_list("pk", flat=True)), now=noon)

    # Each learner's four nudges, due at once, go out as one email (issue 13).
    assert report.sent == len(NudgeKind.values) * len(learners)
    assert report.emails == len(learners) == len(mail.outbox)
    for message in mail.outbox:
        html = html_of(message)
        for markup in MARKUP:
            assert markup not in html
