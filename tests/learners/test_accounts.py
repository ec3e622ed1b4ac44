"""Accounts through allauth's pages: signup, email verification, login, password reset."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from learners.models import Learner, User
from tests.factories import LearnerFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-and-unusual-passphrase-42"


def _sign_up(client, email: str = "ada@example.com"):
    return client.post(
        reverse("account_signup"),
        {"first_name": "Ada", "email": email, "password1": PASSWORD, "password2": PASSWORD},
    )


def _confirmation_url() -> str:
    assert len(mail.outbox) == 1
    match = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[0].body)
    assert match, mail.outbox[0].body
    return match.group(0).replace("http://testserver", "")


def test_signing_up_creates_the_learner_profile_and_sends_a_verification_email(client):
    response = _sign_up(client)

    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    user = User.objects.get(email="ada@example.com")
    learner = Learner.objects.get(user=user)
    assert learner.level == 1
    assert not learner.has_assessment
    assert not EmailAddress.objects.get(user=user).verified
    assert "/accounts/confirm-email/" in mail.outbox[0].body


def test_the_signup_page_is_in_the_sites_look(client):
    page = client.get(reverse("account_signup")).text

    assert "css/site.css" in page
    assert 'class="site-header"' in page
    assert '<label for="id_email"' in page


def test_an_unverified_address_cannot_log_in(client):
    _sign_up(client)
    client.logout()

    response = client.post(
        reverse("account_login"), {"login": "ada@example.com", "password": PASSWORD}
    )

    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    assert client.get("/progress/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_confirmation_link_needs_a_post_and_then_leads_to_the_self_assessment(client):
    _sign_up(client)
    url = _confirmation_url()

    page = client.get(url)

    assert page.status_code == 200
    assert '<form class="form" method="post"' in page.text
    assert not EmailAddress.objects.get(email="ada@example.com").verified

    response = client.post(url, follow=True)

    assert EmailAddress.objects.get(email="ada@example.com").verified
    # Logged in, and the progress page asks for the self-assessment first.
    assert response.redirect_chain[-1] == (reverse("profile"), 302)
    assert "Your self-assessment" in response.text


def test_a_verified_learner_logs_in_to_the_progress_page(client):
    learner = LearnerFactory(engineer=True, user__password=PASSWORD)
    EmailAddress.objects.create(
        user=learner.user, email=learner.user.email, verified=True, primary=True
    )

    response = client.post(
        reverse("account_login"),
        {"login": learner.user.email, "password": PASSWORD},
        follow=True,
    )

    assert response.redirect_chain[0] == (reverse("progress"), 302)
    assert "You are at level" in response.text


def test_password_reset_sends_a_link_that_sets_a_new_password(client):
    learner = LearnerFactory(user__password=PASSWORD)
    EmailAddress.objects.create(
        user=learner.user, email=learner.user.email, verified=True, primary=True
    )

    response = client.post(reverse("account_reset_password"), {"email": learner.user.email})

    assert response.status_code == 302
    link = re.search(r"https?://\S+/accounts/password/reset/key/\S+/", mail.outbox[0].body)
    assert link
    # allauth moves the key from the URL into the session, then shows the form.
    page = client.get(link.group(0).replace("http://testserver", ""), follow=True)
    assert page.redirect_chain
    new_password = "another-long-passphrase-77"
    done = client.post(
        page.redirect_chain[-1][0], {"password1": new_password, "password2": new_password}
    )
    assert done.status_code == 302
    learner.user.refresh_from_db()
    assert learner.user.check_password(new_password)


def test_logins_are_rate_limited(client):
    learner = LearnerFactory(user__password=PASSWORD)
    EmailAddress.objects.create(
        user=learner.user, email=learner.user.email, verified=True, primary=True
    )
    wrong = {"login": learner.user.email, "password": "wrong-password"}

    for _ in range(5):
        assert client.post(reverse("account_login"), wrong).status_code == 200
    response = client.post(reverse("account_login"), {**wrong, "password": PASSWORD})

    assert "_auth_user_id" not in client.session
    assert "Too many failed login attempts" in response.text
