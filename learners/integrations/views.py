"""The webhook receiver: authenticate and store the delivery, answer at once; a worker
processes it."""

from __future__ import annotations

from allauth.account.adapter import get_adapter
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .api.problems import problem_response
from .services.intake import webhook_receive


def _declared_size(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def _client_ip(request: HttpRequest) -> str | None:
    """The project's one reading of the client's address (trusted proxies only), the one
    the sign-in rate limits use."""
    try:
        return get_adapter(request).get_client_ip(request)
    except PermissionDenied:  # no address at all
        return None


@csrf_exempt  # authenticated by the platform's signature or the URL's token instead
@require_POST
def webhook(request: HttpRequest, connection: str, token: str = "") -> JsonResponse:
    receipt = webhook_receive(
        slug=connection,
        url_token=token,
        declared_size=_declared_size(request),
        read_body=lambda: request.body,
        headers=dict(request.headers),
        client_ip=_client_ip(request),
    )
    if receipt.status >= 400:
        response = problem_response(
            receipt.status, receipt.detail, instance=f"/webhooks/{connection}/"
        )
        if receipt.retry_after is not None:
            response["Retry-After"] = str(receipt.retry_after)
        return response
    events = [{"event": event.pk, "status": event.status} for event in receipt.events]
    return JsonResponse({**events[0], "events": events}, status=202)
