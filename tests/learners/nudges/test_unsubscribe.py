"""One-click unsubscribe (RFC 8058) through HTTP, as a mail provider or a person uses it."""

from __future__ import annotations

import pytest
from django.test import Client

from learners.models import Learner
from learners.nudges.content import unsubscribe_token, unsubscribe_url
from learners.nudges.models import Nudge, NudgeStatus

from .conftest import make_learner

pytestmark = pytest.mark.django_db


@pytest.fixture
def csrf_client():
    """A client that enforces CSRF, like a browser-less mail provider posting without a token."""
    return Client(enforce_csrf_checks=True)


def path_of(learner: Learner) -> str:
    return unsubscribe_url(learner.pk).removeprefix("https://pyramid.test")


def test_get_shows_a_confirm_button_and_changes_nothing(csrf_client, django_assert_max_num_queries):
    learner = make_learner()
    with django_assert_max_num_queries(3):
        response = csrf_client.get(path_of(learner))
    assert response.status_code == 200
    page = response.content.decode()
    assert '<form method="post"' in page and "Unsubscribe from nudges" in page
    # Whoever holds the link (a forwarded email) does not learn the address from the page.
    assert learner.user.email not in page
    assert {"private", "no-store"} <= {
        part.strip() for part in response["Cache-Control"].split(",")
    }
    learner.refresh_from_db()
    assert learner.nudges_enabled


def test_one_click_post_unsubscribes_without_login_or_csrf_token_and_is_idempotent(csrf_client):
    learner = make_learner()
    pending = Nudge.objects.create(learner=learner, kind="next_step", dedup_key="2026-W24")
    for _ in range(2):
        response = csrf_client.post(
            path_of(learner),
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200  # no redirect
        assert "You are unsubscribed" in response.content.decode()
    learner.refresh_from_db()
    assert learner.nudges_enabled is False
    pending.refresh_from_db()
    assert pending.status == NudgeStatus.SKIPPED


def test_the_get_page_after_unsubscribing_says_so(csrf_client):
    learner = make_learner()
    before = csrf_client.get(path_of(learner)).content.decode()
    assert "already off" not in before  # the page tells the two apart

    csrf_client.post(
        path_of(learner),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert "already off" in csrf_client.get(path_of(learner)).content.decode()


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_token_changes_nothing(csrf_client, method):
    learner = make_learner()
    other = make_learner()
    token = unsubscribe_token(learner.pk)
    payload, signature = token.split(":")
    forged = unsubscribe_token(other.pk).split(":")[0] + ":" + signature
    for bad in (forged, token[:-2] + "xx", "not-a-token", payload):
        response = getattr(csrf_client, method)(f"/nudges/unsubscribe/{bad}/")
        assert response.status_code == 400
    assert set(Learner.objects.values_list("nudges_enabled", flat=True)) == {True}


def test_a_token_of_a_deleted_learner_is_not_found(csrf_client):
    learner = make_learner()
    path = path_of(learner)
    learner.user.delete()
    assert csrf_client.post(path).status_code == 404


def test_a_token_signed_with_another_salt_is_refused(csrf_client):
    from django.core import signing

    learner = make_learner()
    token = signing.Signer(salt="something-else").sign_object({"learner": learner.pk})
    assert csrf_client.post(f"/nudges/unsubscribe/{token}/").status_code == 400
    learner.refresh_from_db()
    assert learner.nudges_enabled
