"""Accounts read like one product (issue 11, part 4): where a sign-in leads, the page a
student gets at an admin URL, and allauth's pages in the site's voice and sentence case."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core import mail
from django.urls import reverse

from tests.factories import LearnerFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-and-unusual-passphrase-42"


def _verified(user):
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def _sign_in(client, email: str):
    return client.post(reverse("account_login"), {"login": email, "password": PASSWORD})


def _sign_up(client, email: str = "ada@example.com"):
    return client.post(
        reverse("account_signup"),
        {"first_name": "Ada", "email": email, "password1": PASSWORD, "password2": PASSWORD},
    )


def _confirmation_path() -> str:
    match = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s\"<]+/)", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def test_confirming_the_address_signs_the_student_in_and_opens_the_self_assessment(client):
    _sign_up(client)

    response = client.post(_confirmation_path())

    # Straight to the self-assessment, not through the progress page's redirect.
    assert response.status_code == 302
    assert response.url == reverse("profile")
    assert client.session["_auth_user_id"]
    assert client.get(response.url).status_code == 200


def test_a_student_who_has_not_assessed_themselves_signs_in_to_the_self_assessment(client):
    learner = LearnerFactory(user__password=PASSWORD)
    _verified(learner.user)

    response = _sign_in(client, learner.user.email)

    assert response.url == reverse("profile")


def test_an_assessed_student_signs_in_to_their_progress(client):
    learner = LearnerFactory(engineer=True, user__password=PASSWORD)
    _verified(learner.user)

    assert _sign_in(client, learner.user.email).url == reverse("progress")


def test_a_next_link_still_wins_over_the_default(client):
    learner = LearnerFactory(user__password=PASSWORD)
    _verified(learner.user)

    response = client.post(
        reverse("account_login") + "?next=/progress/",
        {"login": learner.user.email, "password": PASSWORD},
    )

    assert response.url == "/progress/"


def test_staff_who_sign_in_on_the_site_land_in_the_admin_and_see_a_link_to_it(client):
    staff = _verified(UserFactory(is_staff=True, password=PASSWORD))

    response = _sign_in(client, staff.email)

    assert response.url == reverse("admin:index")
    assert client.get(response.url).status_code == 200
    assert f'href="{reverse("admin:index")}">Admin</a>' in client.get(reverse("profile")).text


def test_students_see_no_admin_link(client):
    learner = LearnerFactory(engineer=True)
    client.force_login(learner.user)

    assert ">Admin</a>" not in client.get(reverse("progress")).text


@pytest.mark.parametrize(
    "path",
    [
        f"/{settings.ADMIN_URL}",
        f"/{settings.ADMIN_URL}learners/learner/",
        f"/{settings.ADMIN_URL}dashboard/",
    ],
)
def test_a_signed_in_student_at_an_admin_url_gets_a_page_that_explains_and_links_back(client, path):
    learner = LearnerFactory(engineer=True)
    client.force_login(learner.user)

    response = client.get(path, follow=True)

    assert response.status_code == 403
    page = response.text
    assert 'class="site-header"' in page  # the site's layout, not a bare "403 Forbidden"
    assert "This page is for instructors" in page
    assert f"You are signed in as {learner.user.email}, a student account." in page
    assert f'href="{reverse("progress")}"' in page
    assert "Go to my progress" in page


def test_staff_without_a_permission_get_the_admin_link_back(client):
    staff = UserFactory(is_staff=True)
    client.force_login(staff)

    response = client.get(reverse("admin_dashboard"))

    assert response.status_code == 403
    assert "Not part of your admin access" in response.text
    assert f'href="{reverse("admin:index")}"' in response.text


def test_a_visitor_at_an_admin_url_is_asked_to_sign_in(client):
    response = client.get(f"/{settings.ADMIN_URL}", follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0].startswith(reverse("account_login"))
