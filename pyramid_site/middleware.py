"""Staff must have two-factor authentication before they reach the admin (when required)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.text import smart_split

from learners.integrations.api.problems import problem_response
from learners.models import available_timezones


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


class PermissionsPolicyMiddleware:
    """Sends ``settings.PERMISSIONS_POLICY`` as the ``Permissions-Policy`` header on every
    response (Django's SecurityMiddleware has no setting for it). First in the middleware
    list, so that static files, redirects and error pages carry it too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = getattr(settings, "PERMISSIONS_POLICY", {})
        if policy and "Permissions-Policy" not in response.headers:
            response.headers["Permissions-Policy"] = ", ".join(
                f"{feature}=({' '.join(allowed)})" for feature, allowed in policy.items()
            )
        return response


# An admin search is a few words of a name or an address; each word is one more OR of
# the searched columns, and thousands of them overflow the database's expression limits.
MAX_ADMIN_SEARCH_CHARACTERS = 200
MAX_ADMIN_SEARCH_WORDS = 10


# The years Python's dates hold: an admin filter such as ``?created_at__year=0`` would
# otherwise fail building the query's bounds (a 500).
YEARS = range(1, 10000)


class RejectHostileInputMiddleware:
    """Before any view runs, refuse input no page takes and that would reach the database
    or Python's dates as an error (a 500): 400 for a NUL character in the path, the query
    string or a form (PostgreSQL refuses text containing one), an overlong search on an
    admin list (refused, never silently cut short) and an admin date filter on a year
    outside 1-9999; 413 for an API body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (Django would
    answer an HTML 400 when the view reads it)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path_info or "\x00" in query or "%00" in query:
            return _bad_request(request, "NUL characters are not accepted.")
        if _is_api(request) and _content_length(request) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return problem_response(
                413,
                f"The request body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
                instance=request.path,
            )
        # Form posts only: reading a multipart body here would fix its upload handlers.
        if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
            values = [v for key in request.POST for v in [key, *request.POST.getlist(key)]]
            if any("\x00" in value for value in values):
                return _bad_request(request, "NUL characters are not accepted.")
        if request.path_info.startswith(f"/{settings.ADMIN_URL}"):
            search = request.GET.get("q", "")
            if len(search) > MAX_ADMIN_SEARCH_CHARACTERS or (
                sum(1 for _ in smart_split(search)) > MAX_ADMIN_SEARCH_WORDS
            ):
                return HttpResponseBadRequest(
                    f"A search is at most {MAX_ADMIN_SEARCH_WORDS} words and "
                    f"{MAX_ADMIN_SEARCH_CHARACTERS} characters."
                )
            if not all(_year_in_range(key, request.GET.getlist(key)) for key in request.GET):
                return HttpResponseBadRequest(
                    f"A year is a whole number from {YEARS.start} to {YEARS.stop - 1}."
                )
        return self.get_response(request)


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _year_in_range(key: str, values: list[str]) -> bool:
    """True unless ``key`` is a lookup on a year (``date__year``, ``date__iso_year__gte``)
    whose value is not a year Python's dates hold (any other bad value the admin refuses
    itself)."""
    if not {"year", "iso_year"} & set(key.split("__")[1:]):
        return True
    for value in values:
        try:
            year = int(value)
        except ValueError:
            continue
        if year not in YEARS:
            return False
    return True


def _bad_request(request: HttpRequest, message: str) -> HttpResponse:
    """A 400; under /api/ as RFC 9457 problem details, as the API answers every error."""
    if _is_api(request):
        return problem_response(400, message, instance=request.path)
    return HttpResponseBadRequest(message)


ADMIN_TIMEZONE_COOKIE = "admin_tz"


class AdminTimezoneMiddleware:
    """Staff see the admin's times in their own time zone: the browser's zone, which
    ``static/js/admin.js`` keeps in a cookie (an unknown or hostile value is ignored: the
    site's zone). Students' pages use their own profile's zone, not this."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = request.COOKIES.get(ADMIN_TIMEZONE_COOKIE, "")
        user = getattr(request, "user", None)
        if (
            request.path.startswith(f"/{settings.ADMIN_URL}")
            and user is not None
            and user.is_staff
            and name in available_timezones()
        ):
            timezone.activate(zoneinfo.ZoneInfo(name))
            try:
                return self.get_response(request)
            finally:
                timezone.deactivate()
        return self.get_response(request)
