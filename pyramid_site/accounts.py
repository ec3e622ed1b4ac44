"""allauth, adapted: where a sign-in leads, the client's IP for rate limits, and a signup that
takes as long for a registered address as for a new one.

Where a sign-in leads (a password login, and the login that confirming the address does
after a signup): staff to the admin; a student who has not assessed themselves yet to the
self-assessment, which places them; everyone else to their progress.

With ``ACCOUNT_PREVENT_ENUMERATION`` (allauth's default) a signup with a registered address
answers like any other and emails the owner instead of creating an account; but only a new
account hashes its password, which is most of a signup's time (PBKDF2: hundreds of
milliseconds), so timing told registered addresses apart. The form hashes the password in
both cases.
"""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import resolve_url
from django.urls import reverse

from .client_ip import client_ip


class AccountAdapter(DefaultAccountAdapter):
    def clean_email(self, email: str) -> str:
        # allauth cuts a longer address to the field's length (and would confirm the cut
        # one); every form that takes an address (signup, add an address) asks here.
        from learners.models import EMAIL_MAX_LENGTH

        if len(email) > EMAIL_MAX_LENGTH:
            raise ValidationError(
                f"An email address is at most {EMAIL_MAX_LENGTH} characters; "
                f"this one has {len(email)}."
            )
        return super().clean_email(email)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        # Every account email (signup confirmation, "no account", "already exists",
        # password reset, invitations) goes through here: none to an erased address.
        from learners.privacy.selectors import suppressed_emails

        if suppressed_emails([email]):
            return
        super().send_mail(template_prefix, email, context)

    def get_login_redirect_url(self, request) -> str:
        user = request.user
        if user.is_staff:
            return reverse("admin:index")
        learner = getattr(user, "learner", None)
        if learner is None or not learner.has_assessment:
            return reverse("profile")
        return resolve_url(settings.LOGIN_REDIRECT_URL)

    def get_signup_redirect_url(self, request) -> str:
        # Confirming the address signs the new student in (ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION)
        # and ends the signup here: the same place as any sign-in.
        return self.get_login_redirect_url(request)

    def send_account_already_exists_mail(self, email: str) -> None:
        # Only the address's owner reads this email, so it may say what they need: an
        # account an import created has no password yet, and gets a link to choose one.
        # The signup page answers the same either way (ACCOUNT_PREVENT_ENUMERATION).
        from allauth.account.internal import flows

        from learners.models import User
        from learners.onboarding.services import password_set_url

        user = User.objects.filter(email__iexact=email, is_active=True).first()
        context = {
            "email": email,
            "user": user,
            "signup_url": flows.signup.get_signup_url(self.request),
            "password_reset_url": flows.password_reset.get_reset_password_url(self.request),
        }
        if user is not None and not user.has_usable_password():
            context["set_password_url"] = password_set_url(user)
        self.send_mail("account/email/account_already_exists", email, context)

    def get_client_ip(self, request) -> str:
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip


class SignupForm(AllauthSignupForm):
    # Asked so that every email greets the student by name (allauth's adapter saves it).
    first_name = forms.CharField(
        label="First name",
        max_length=150,
        error_messages={"required": "Tell us your first name."},
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    field_order = ["first_name", "email", "password1", "password2"]

    def clean_first_name(self) -> str:
        name = " ".join(self.cleaned_data["first_name"].split())
        if not name:
            raise forms.ValidationError("Tell us your first name.")
        return name

    def try_save(self, request):
        if self.account_already_exists:
            # The same work as creating the account would do (the result is discarded).
            make_password(self.cleaned_data.get("password1"))
        return super().try_save(request)
