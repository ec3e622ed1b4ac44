"""The webhook receiver: authenticate and store the delivery, answer at once; a worker
processes it."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from pyramid_site.client_ip import client_ip

from .api.problems import CONTENT_TYPE, problem
from .services.intake import webhook_receive


def _declared_size(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


@csrf_exempt  # authenticated by the platform's signature or the URL's token instead
@require_POST
def webhook(request: HttpRequest, connection: str, token: str = "") -> JsonResponse:
    receipt = webhook_receive(
        slug=connection,
        url_token=token,
        declared_size=_declared_size(request),
        read_body=lambda: request.body,
        headers=dict(request.headers),
        client_ip=client_ip(request),
    )
    if receipt.status >= 400:
        response = JsonResponse(
            problem(receipt.status, receipt.detail, instance=f"/webhooks/{connection}/"),
            status=receipt.status,
            content_type=CONTENT_TYPE,
        )
        if receipt.retry_after is not None:
            response["Retry-After"] = str(receipt.retry_after)
        return response
    events = [{"event": event.pk, "status": event.status} for event in receipt.events]
    return JsonResponse({**events[0], "events": events}, status=202)
