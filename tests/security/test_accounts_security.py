"""Accounts under attack: rate limits on signup and login (with allauth's limits on, as in
production), staff two-factor authentication, and Django's password rules."""

from __future__ import annotations

import pytest
import time_machine
from allauth.account import app_settings as account_settings
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.contrib.auth.models import Group
from django.urls import reverse

from learners.models import User
from tests.factories import LearnerFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-and-unusual-passphrase-42"
# The TOTP clock, held still: allauth reads the counters through this seam.
COUNTER = 57_000_000


def _verified(user: User) -> User:
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def _login(client, email: str, password: str = PASSWORD, **headers):
    return client.post(
        reverse("account_login"), {"login": email, "password": password}, headers=headers
    )


def _sign_up(client, email: str, password: str = PASSWORD, **headers):
    return client.post(
        reverse("account_signup"),
        {"first_name": "Ada", "email": email, "password1": password, "password2": password},
        headers=headers,
    )


# --- rate limits ----------------------------------------------------------------------------


def test_the_rate_limits_are_on():
    limits = account_settings.RATE_LIMITS
    assert limits["login_failed"] and limits["signup"] and limits["login"]
    assert limits["reset_password"]


def test_signups_from_one_address_are_limited(client):
    # allauth: 20 signups a minute per IP address.
    for number in range(20):
        assert _sign_up(client, f"bot{number}@example.com").status_code == 302
    response = _sign_up(client, "bot20@example.com")

    assert response.status_code == 429
    assert not User.objects.filter(email="bot20@example.com").exists()
    assert User.objects.filter(email__startswith="bot").count() == 20


def test_behind_the_proxy_each_client_has_its_own_signup_limit(client, settings):
    # Production trusts one proxy: the client is the right-most X-Forwarded-For address, so
    # one abuser does not lock everyone out, and a forged left part does not help them.
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    for number in range(20):
        forged = f"10.0.0.{number}, 203.0.113.7"
        response = _sign_up(client, f"bot{number}@example.com", x_forwarded_for=forged)
        assert response.status_code == 302
    assert _sign_up(client, "bot20@example.com", x_forwarded_for="203.0.113.7").status_code == 429

    welcome = _sign_up(client, "ada@example.com", x_forwarded_for="198.51.100.1")

    assert welcome.status_code == 302
    assert User.objects.filter(email="ada@example.com").exists()


def test_failed_logins_lock_the_account_even_for_the_right_password(client):
    user = _verified(LearnerFactory(user__password=PASSWORD).user)
    for _ in range(5):
        assert _login(client, user.email, "wrong-password").status_code == 200

    response = _login(client, user.email)

    assert "_auth_user_id" not in client.session
    assert "Too many failed login attempts" in response.text


def test_failed_logins_from_one_address_are_limited_across_accounts(client):
    # Guessing one password across many accounts: 10 failures a minute per IP address.
    victims = [_verified(UserFactory(password=PASSWORD)) for _ in range(11)]
    for victim in victims[:10]:
        assert _login(client, victim.email, "Summer2024!").status_code == 200

    response = _login(client, victims[10].email)

    assert "_auth_user_id" not in client.session
    assert "Too many failed login attempts" in response.text


def test_login_attempts_from_one_address_are_limited(client):
    # Any login POST, right or wrong: 30 a minute per IP address, then 429.
    user = _verified(LearnerFactory(user__password=PASSWORD).user)
    for number in range(30):
        assert _login(client, f"nobody{number}@example.com", "x").status_code == 200

    response = _login(client, user.email)

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


# --- two-factor authentication for staff ----------------------------------------------------


def _reauthenticate(client) -> None:
    response = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert response.status_code == 302, response


@pytest.fixture
def instructor(db) -> User:
    user = _verified(UserFactory(email="instructor@example.com", is_staff=True, password=PASSWORD))
    user.groups.add(Group.objects.get(name="Instructors"))
    return user


def _code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, COUNTER))


@pytest.fixture
def totp_clock():
    # The clock frozen inside the TOTP period COUNTER (30 s each), so its code is current.
    with time_machine.travel(COUNTER * 30 + 1, tick=False):
        yield


def test_staff_without_a_second_factor_are_sent_to_set_one_up(client, settings, instructor):
    settings.STAFF_REQUIRE_MFA = True
    client.force_login(instructor)

    for url in ("/admin/", "/admin/dashboard/", "/admin/learners/learner/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == reverse("mfa_activate_totp")
    # The student pages are not the admin: left alone.
    assert client.get(reverse("profile")).status_code == 200


def test_staff_need_no_second_factor_when_not_required(client, settings, instructor):
    settings.STAFF_REQUIRE_MFA = False
    client.force_login(instructor)

    assert client.get("/admin/").status_code == 200


def test_students_are_not_asked_for_a_second_factor(client, settings):
    settings.STAFF_REQUIRE_MFA = True
    student = _verified(LearnerFactory(engineer=True).user)
    client.force_login(student)

    assert client.get(reverse("progress")).status_code == 200
    # Not staff: the admin refuses them as before, no detour to the 2FA setup.
    assert client.get("/admin/")["Location"].startswith("/admin/login/")


def test_staff_set_up_totp_and_then_reach_the_admin(client, settings, instructor, totp_clock):
    settings.STAFF_REQUIRE_MFA = True
    assert _login(client, instructor.email).status_code == 302
    assert client.get("/admin/")["Location"] == reverse("mfa_activate_totp")
    # Adding a second factor asks for the password again first.
    assert client.get(reverse("mfa_activate_totp"))["Location"].startswith(
        reverse("account_reauthenticate")
    )
    _reauthenticate(client)

    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    wrong = client.post(reverse("mfa_activate_totp"), {"code": "000000"})
    assert wrong.status_code == 200
    assert not Authenticator.objects.filter(user=instructor).exists()

    done = client.post(reverse("mfa_activate_totp"), {"code": _code(secret)})

    assert done.status_code == 302
    assert Authenticator.objects.filter(user=instructor, type=Authenticator.Type.TOTP).exists()
    assert client.get("/admin/").status_code == 200


def test_staff_with_totp_sign_in_only_with_the_code(client, settings, instructor, totp_clock):
    settings.STAFF_REQUIRE_MFA = True
    secret = generate_totp_secret()
    TOTP.activate(instructor, secret)

    response = _login(client, instructor.email)
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session
    wrong = client.post(reverse("mfa_authenticate"), {"code": "123456"})
    assert wrong.status_code == 200
    assert "_auth_user_id" not in client.session

    client.post(reverse("mfa_authenticate"), {"code": _code(secret)})

    assert client.session["_auth_user_id"] == str(instructor.pk)
    assert client.get("/admin/").status_code == 200


def test_the_second_factor_pages_render_under_the_csp(client, instructor):
    client.force_login(instructor)
    _reauthenticate(client)
    page = client.get(reverse("mfa_activate_totp"))

    assert page.status_code == 200
    # The QR code is a data: image, which the policy allows.
    assert 'src="data:image/svg+xml;base64,' in page.text
    assert "img-src 'self' data:" in page["Content-Security-Policy"]


# --- password rules -------------------------------------------------------------------------

WEAK_PASSWORDS = {
    "too short": "Zq9!x",
    "common": "password123",
    "only digits": "48201937561",
    "like the email": "adalovelace1815",
}


@pytest.mark.parametrize("password", WEAK_PASSWORDS.values(), ids=WEAK_PASSWORDS.keys())
def test_signup_refuses_a_weak_password(client, password):
    response = _sign_up(client, "ada.lovelace1815@example.com", password)

    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    assert not User.objects.filter(email="ada.lovelace1815@example.com").exists()


@pytest.mark.parametrize("password", WEAK_PASSWORDS.values(), ids=WEAK_PASSWORDS.keys())
def test_password_change_refuses_a_weak_password(client, password):
    user = _verified(
        LearnerFactory(user__email="ada.lovelace1815@example.com", user__password=PASSWORD).user
    )
    client.force_login(user)

    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": password, "password2": password},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_strong_password_is_accepted_on_change(client):
    user = _verified(LearnerFactory(user__password=PASSWORD).user)
    client.force_login(user)
    new = "violet-harbour-telescope-91"

    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": new, "password2": new},
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)
