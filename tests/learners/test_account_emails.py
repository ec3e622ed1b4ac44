"""allauth's emails as the student receives them: the nudges' look, HTML and plain text, the
site's voice, a working link in both parts (issue 11, part 4). Run with ``-s`` to read them."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from tests.factories import LearnerFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-and-unusual-passphrase-42"
# allauth's own wording, which must not reach a student.
ALLAUTH_WORDING = (
    "Hello from",
    "Thank you for using",
    "for user",
    "Please Confirm",
    "Email Address",
)


def _parts(message) -> tuple[str, str]:
    html = [body for body, kind in message.alternatives if kind == "text/html"]
    assert len(html) == 1, "an HTML alternative next to the plain text"
    print(
        f"\n--- Subject: {message.subject}\n--- text/plain\n{message.body}\n--- text/html\n{html[0]}"
    )
    return message.body, html[0]


def _assert_branded(text: str, html: str) -> None:
    assert "&#9650; Profit Pyramid" in html  # the nudges' masthead
    assert "Profit Pyramid" in text
    for words in ALLAUTH_WORDING:
        assert words not in text
        assert words not in html
    assert "{{" not in text + html
    assert "{%" not in text + html


def test_the_signup_confirmation_email(client):
    client.post(
        reverse("account_signup"),
        {
            "first_name": "Ada",
            "email": "ada@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    (message,) = mail.outbox
    text, html = _parts(message)

    assert message.subject == "Confirm your email address to start on the Profit Pyramid"
    assert message.from_email == "Profit Pyramid <noreply@localhost>"
    _assert_branded(text, html)
    assert text.startswith("Hi Ada,\n")  # the first name the signup asked for
    link = re.search(r"http://testserver/accounts/confirm-email/[^/\s]+/", text).group(0)
    assert f'href="{link}"' in html
    assert "Confirm my address" in html
    assert "self-assessment" in text and "self-assessment" in html
    # The link works: its page asks to confirm this address, in a sentence that makes sense.
    page = client.get(link.removeprefix("http://testserver")).text
    assert "Is <strong>ada@example.com</strong> your address?" in page
    assert "Confirm my address" in page


def test_a_second_address_gets_the_plain_confirmation_email(client):
    learner = LearnerFactory(engineer=True, user__first_name="Ada")
    client.force_login(learner.user)
    EmailAddress.objects.create(user=learner.user, email=learner.user.email, verified=True)

    client.post(reverse("account_email"), {"email": "ada.new@example.com", "action_add": ""})

    (message,) = mail.outbox
    text, html = _parts(message)
    assert message.subject == "Confirm your email address"
    _assert_branded(text, html)
    assert text.startswith("Hi Ada,\n")
    assert "Hi Ada," in html
    assert "ada.new@example.com" in text


def test_the_password_reset_email_greets_by_first_name_and_links_in_both_parts(client):
    learner = LearnerFactory(user__first_name="Grace", user__password=PASSWORD)
    EmailAddress.objects.create(
        user=learner.user, email=learner.user.email, verified=True, primary=True
    )

    client.post(reverse("account_reset_password"), {"email": learner.user.email})

    (message,) = mail.outbox
    text, html = _parts(message)
    assert message.subject == "Choose a new password"
    _assert_branded(text, html)
    assert text.startswith("Hi Grace,\n")
    link = re.search(r"http://testserver/accounts/password/reset/key/\S+/", text).group(0)
    assert f'href="{link}"' in html
    assert "your password stays as it is" in text


def test_a_signup_with_a_registered_address_emails_its_owner_in_the_sites_voice(client):
    learner = LearnerFactory(user__email="ada@example.com")
    EmailAddress.objects.create(user=learner.user, email="ada@example.com", verified=True)

    client.post(
        reverse("account_signup"),
        {
            "first_name": "Ada",
            "email": "ada@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    (message,) = mail.outbox
    text, html = _parts(message)
    assert message.subject == "You already have a Profit Pyramid account"
    _assert_branded(text, html)
    assert "/accounts/password/reset/" in text


def test_a_reset_for_an_unknown_address_says_so_and_offers_the_signup(client):
    client.post(reverse("account_reset_password"), {"email": "nobody@example.com"})

    (message,) = mail.outbox
    text, html = _parts(message)
    assert message.subject == "No Profit Pyramid account for this address"
    _assert_branded(text, html)
    assert "http://testserver/accounts/signup/" in text
