"""The OpenAPI document beyond what drf-spectacular derives from the views: the problem
answers and rate-limit fields each operation declares, and the hook (``SPECTACULAR_SETTINGS``)
that says request bodies take no unknown field."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from .problems import CONTENT_TYPE, ProblemSerializer

PROBLEMS = {
    400: "The request is not valid; `errors` names each field or query parameter and why.",
    401: "No API key, or not a valid one.",
    403: "The key may not do this (scope), or the account is staff.",
    404: "No such learner, module or key.",
    429: (
        "Too many requests for this key: retry after `Retry-After` seconds (the same "
        "moment as `RateLimit-Reset`)."
    ),
}
# Every answer to a counted request carries the rate-limit fields: all successes and 429s;
# a 400 or 404 only when the view gave it (not a bad path or a NUL byte refused before it);
# never a 401 (no key) or a 403 for the key's scope (both come before the count).
COUNTED = [200, 201, 400, 404, 429]
ALWAYS_COUNTED = {200, 201, 429}


def _header(name: str, kind, description: str, codes: list[int]) -> list[OpenApiParameter]:
    # One declaration for the answers that always carry the field, one for those that may.
    always = [code for code in codes if code in ALWAYS_COUNTED]
    sometimes = [code for code in codes if code not in ALWAYS_COUNTED]
    return [
        OpenApiParameter(
            name,
            kind,
            OpenApiParameter.HEADER,
            description=description,
            response=group,
            required=required,
        )
        for group, required in ((always, True), (sometimes, False))
        if group
    ]


RATE_LIMIT_HEADERS = [
    *_header(
        "RateLimit-Policy",
        str,
        'The key\'s quota (draft-ietf-httpapi-ratelimit-headers-11): `"api-key";q=<requests>;'
        "w=<window seconds>`. The window opens with the key's first request.",
        COUNTED,
    ),
    *_header(
        "RateLimit",
        str,
        'What is left of it (draft -11): `"api-key";r=<remaining>;t=<seconds to reset>`.',
        COUNTED,
    ),
    *_header("RateLimit-Limit", int, "Requests allowed in the window (draft -06).", COUNTED),
    *_header("RateLimit-Remaining", int, "Requests left in this window (draft -06).", COUNTED),
    *_header("RateLimit-Reset", int, "Seconds until the window ends (draft -06).", COUNTED),
    *_header("Retry-After", int, "Seconds until the window ends (RFC 9110).", [429]),
]


def problems(*statuses: int, **reasons: str) -> dict:
    """Problem-details answers; ``reasons`` (``r400="..."``) say more than the default."""
    return {
        (code, CONTENT_TYPE): OpenApiResponse(
            ProblemSerializer, description=reasons.get(f"r{code}", PROBLEMS[code])
        )
        for code in statuses
    }


READ_PROBLEMS = (400, 401, 403, 404, 429)
WRITE_PROBLEMS = (400, 401, 403, 404, 429)
NO_QUERY = "A query parameter (this endpoint takes none); `errors` names it."
EMAIL = OpenApiParameter("email", str, OpenApiParameter.PATH, description="The learner's email")
PATH_PARAMETERS = [EMAIL, *RATE_LIMIT_HEADERS]


def refuse_unknown_body_fields(result: dict, generator, request, public) -> dict:
    """Request bodies say ``additionalProperties: false``: the API refuses a field it does
    not know (``StrictSerializer``) and the schema says so."""
    schemas = result.get("components", {}).get("schemas", {})
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if not isinstance(operation, dict):
                continue
            for media in operation.get("requestBody", {}).get("content", {}).values():
                ref = media.get("schema", {}).get("$ref", "")
                name = ref.rsplit("/", 1)[-1]
                if name in schemas:
                    schemas[name]["additionalProperties"] = False
    return result


def document_webhooks(result: dict, generator, request, public) -> dict:
    """Each Standard Webhooks event (``api/webhooks.py``) with its signature headers
    (drf-spectacular's webhooks take a body and answers, not parameters)."""
    from .webhooks import HEADERS

    for path in result.get("webhooks", {}).values():
        path["post"]["parameters"] = [dict(header) for header in HEADERS]
    return result
