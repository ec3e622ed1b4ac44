"""Staff must have two-factor authentication before they reach the admin (when required)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


class StaffMFAMiddleware:
    """With ``STAFF_REQUIRE_MFA``, a staff user without an authenticator who opens any page
    under the admin is sent to allauth's page that sets one up. allauth's login then asks
    for the second factor of every account that has one, so the admin is only reached with
    it. The rest of the site is left alone (staff can also be learners)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            settings.STAFF_REQUIRE_MFA
            and request.path_info.startswith(f"/{settings.ADMIN_URL}")
            and request.user.is_authenticated
            and request.user.is_staff
            and not _has_second_factor(request.user)
        ):
            messages.warning(
                request,
                "Staff accounts need two-factor authentication: set up an authenticator app "
                "to open the admin.",
            )
            return redirect("mfa_activate_totp")
        return self.get_response(request)


def _has_second_factor(user) -> bool:
    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import is_mfa_enabled

    # Recovery codes alone are not a second factor one signs in with day to day.
    return is_mfa_enabled(user, [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN])
