"""API keys: ``Authorization: Bearer <key>``; scopes as permissions; limits per key."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from ..models import ApiKey
from ..services.api_keys import api_key_authenticate

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the key as: Authorization: Bearer <key>.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError as error:
            raise exceptions.AuthenticationFailed("The API key is not valid.") from error
        key = api_key_authenticate(raw)
        if key is None:
            raise exceptions.AuthenticationFailed("The API key is not valid or was revoked.")
        # The key is the caller; no user is signed in.
        return AnonymousUser(), key

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API key from the admin."}


class HasApiKeyScope(permissions.BasePermission):
    """Any key reads; writing needs a key with the write scope."""

    message = "This API key may only read; writing needs a key with the write scope."

    def has_permission(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            raise exceptions.NotAuthenticated("Send an API key: Authorization: Bearer <key>.")
        return request.method in SAFE_METHODS or key.can_write


@dataclass(frozen=True)
class RateLimitState:
    """Where a key stands in its window, for the ``RateLimit`` response headers."""

    limit: int
    remaining: int
    reset: int  # seconds until the window ends
    window: int  # the window's length in seconds


# The policy's name in the RateLimit-Policy and RateLimit fields.
RATE_LIMIT_POLICY = "api-key"


class ApiKeyRateThrottle(throttling.SimpleRateThrottle):
    """Requests per key (``API_RATE_LIMIT``), counted atomically in the shared cache.

    DRF's own throttle reads a key's history, appends to it and writes it back, so
    parallel requests on several workers each read the same history: 1,000 parallel
    requests against 600/min let 661 through. Here a window opens with the key's first
    request and lasts the rate's period; every request in it adds one to a single counter
    with ``cache.add`` then ``cache.incr`` (Redis ``INCR``, atomic across processes), so
    whatever the concurrency exactly the limit gets through in a window. With the cache
    unreachable the count is unknown and requests are let through (README, Configuration).
    """

    scope = "api_key"

    def get_cache_key(self, request, view):
        key = request.auth
        if not isinstance(key, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": key.prefix}

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        now = int(self.timer())
        start = self._window_start(ident, now)
        count = self._count(f"{ident}:{start}")
        self.reset = max(1, start + self.duration - now)
        if count is None:  # the cache is unreachable: fail open, say nothing
            return True
        request.rate_limit = RateLimitState(
            limit=self.num_requests,
            remaining=max(0, self.num_requests - count),
            reset=self.reset,
            window=self.duration,
        )
        return count <= self.num_requests

    def _window_start(self, ident: str, now: int) -> int:
        """The second the key's current window opened (opened now if there is none)."""
        marker = f"{ident}:start"
        for _ in range(2):
            if self.cache.add(marker, now, self.duration):
                return now
            start = self.cache.get(marker)
            if start is not None:
                return int(start)
            # It expired between the add and the get: open the next window.
        return now

    def _count(self, counter: str) -> int | None:
        """This request's number in its window (the counter outlives the window's marker,
        so a request that read the marker just before it expired still counts there)."""
        self.cache.add(counter, 0, self.duration + 5)
        try:
            return self.cache.incr(counter)
        except ValueError:  # gone between the add and the incr
            return 1 if self.cache.add(counter, 1, self.duration + 5) else self.cache.incr(counter)

    def wait(self) -> int:
        """Seconds until the window ends (the ``Retry-After`` of a 429)."""
        return self.reset


def rate_limit_headers(state: RateLimitState) -> dict[str, str]:
    """The fields of the IETF httpapi draft "RateLimit header fields for HTTP"
    (draft-ietf-httpapi-ratelimit-headers-11, May 2026: ``RateLimit-Policy`` and
    ``RateLimit``, Structured Fields), and the separate ``RateLimit-Limit``,
    ``RateLimit-Remaining`` and ``RateLimit-Reset`` of its earlier revisions (up to -06),
    which most clients and gateways still read."""
    policy = f'"{RATE_LIMIT_POLICY}"'
    return {
        "RateLimit-Policy": f"{policy};q={state.limit};w={state.window}",
        "RateLimit": f"{policy};r={state.remaining};t={state.reset}",
        "RateLimit-Limit": str(state.limit),
        "RateLimit-Remaining": str(state.remaining),
        "RateLimit-Reset": str(state.reset),
    }
