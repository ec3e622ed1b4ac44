"""The webhook receiver: store the delivery, answer at once; a worker processes it."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .api.problems import CONTENT_TYPE, problem
from .models import EventStatus
from .selectors import connection_by_slug
from .services.intake import webhook_receive


@csrf_exempt  # signed by the platform instead
@require_POST
def webhook(request: HttpRequest, connection: str) -> JsonResponse:
    found = connection_by_slug(connection)
    if found is None:
        return JsonResponse(
            problem(404, "There is no such webhook connection.", instance=request.path),
            status=404,
            content_type=CONTENT_TYPE,
        )
    event = webhook_receive(connection=found, body=request.body, headers=dict(request.headers))
    if event.status == EventStatus.REJECTED:
        return JsonResponse(
            problem(401, f"Delivery refused: {event.note}.", instance=request.path),
            status=401,
            content_type=CONTENT_TYPE,
        )
    return JsonResponse({"event": event.pk, "status": event.status}, status=202)
