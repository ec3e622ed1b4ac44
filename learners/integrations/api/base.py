"""What every endpoint does before and after its own work."""

from __future__ import annotations

from django.utils.cache import add_never_cache_headers
from rest_framework import exceptions, serializers
from rest_framework.views import APIView

from .auth import rate_limit_headers


# Every endpoint: query parameters it does not know are refused (a typo never widens a
# list), and each answer to a key carries its rate-limit headers. (A comment, not a
# docstring: drf-spectacular would show a docstring as every operation's description.)
class ApiView(APIView):
    query_serializer: type[serializers.Serializer] | None = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # key, scope, rate limit first
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            return  # answered 405
        if any("\x00" in str(value) for value in kwargs.values()):
            # PostgreSQL refuses text containing NUL: a lookup by it would be a 500.
            raise exceptions.ValidationError({"path": ["NUL characters are not accepted."]})
        self.query = self._validated_query(request)

    def _validated_query(self, request) -> dict:
        """The query string, each parameter once, validated by ``query_serializer``. A
        blank value is a value (DRF's form handling would drop it and widen the list)."""
        params = request.query_params
        known = set(self.query_serializer().fields) if self.query_serializer else set()
        errors = {name: ["Unknown query parameter."] for name in sorted(set(params) - known)} | {
            name: ["Given more than once."]
            for name in sorted(known & set(params))
            if len(params.getlist(name)) > 1
        }
        if errors:
            raise exceptions.ValidationError(errors)
        if self.query_serializer is None:
            return {}
        query = self.query_serializer(data={name: params[name] for name in params})
        query.is_valid(raise_exception=True)
        return query.validated_data

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # Answers (errors included) name learners or keys: no cache on the way (a proxy,
        # the client's HTTP cache) may keep them.
        add_never_cache_headers(response)
        state = getattr(request, "rate_limit", None)
        if state is not None:
            for name, value in rate_limit_headers(state).items():
                response[name] = value
        return response
