"""Health and readiness: is every part the site depends on up? For operators and monitoring.

``/healthz`` is the load balancer's cheap probe (the database only, public). ``/readyz`` checks
the database, the cache, the Celery broker, when beat's nudge sweep last ran and how many
tasks wait in the queue; it answers 503 when a part is down. Staff only, or a monitoring
system with ``Authorization: Bearer <DJANGO_READINESS_TOKEN>``.
"""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import datetime

from celery.signals import task_postrun
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection

from learners.nudges.task_names import SWEEP as SWEEP_TASK

LAST_SWEEP_KEY = "ops:last-nudge-sweep"
# Beat runs the sweep hourly: more than two hours without one means beat (or every worker)
# is down.
SWEEP_STALE_SECONDS = 2 * 60 * 60


@task_postrun.connect(dispatch_uid="pyramid-site-record-sweep")
def record_sweep(sender=None, task=None, state=None, **kwargs) -> None:
    if task is not None and task.name == SWEEP_TASK and state == "SUCCESS":
        cache.set(LAST_SWEEP_KEY, timezone.now().isoformat(), timeout=None)


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        result = check()
    except Exception as error:  # noqa: BLE001 - any failure is "down", with its kind
        result = {"ok": False, "error": type(error).__name__}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _database() -> dict:
    """The one database probe, of /healthz and /readyz."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True}


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers, 503 otherwise (the error's kind only: the probe is
    public)."""
    database = _timed(_database)
    if not database["ok"]:
        return JsonResponse({"status": "error", "database": database["error"]}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


def _cache() -> dict:
    # The cache ignores Redis errors (settings.CACHES): only a round trip shows it is there.
    key, value = f"ops:ready:{uuid.uuid4().hex}", uuid.uuid4().hex
    cache.set(key, value, timeout=10)
    ok = cache.get(key) == value
    cache.delete(key)
    return {"ok": ok, "backend": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]}


def _broker() -> dict:
    url = settings.CELERY_BROKER_URL
    if url.startswith("memory://"):
        return {"ok": True, "mode": "in-process (no REDIS_URL)", "queue_length": 0}
    with Connection(url, connect_timeout=1, transport_options={"socket_timeout": 1}) as conn:
        conn.ensure_connection(max_retries=1, timeout=1)
        queue = getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")
        length = conn.default_channel.client.llen(queue)
    return {"ok": True, "queue_length": length}


def _beat() -> dict:
    if settings.CELERY_BROKER_URL.startswith("memory://"):
        return {"ok": True, "mode": "no beat without REDIS_URL (send_nudges by hand)"}
    last = cache.get(LAST_SWEEP_KEY)
    if last is None:
        # Just deployed (or the cache was flushed): unknown, not down; stale is down.
        return {"ok": True, "last_sweep": None, "note": "no sweep recorded yet"}
    age = (timezone.now() - datetime.fromisoformat(last)).total_seconds()
    return {"ok": age < SWEEP_STALE_SECONDS, "last_sweep": last, "age_seconds": round(age)}


def readiness() -> dict:
    checks = {
        "database": _timed(_database),
        "cache": _timed(_cache),
        "broker": _timed(_broker),
        "beat": _timed(_beat),
    }
    return {"ok": all(check["ok"] for check in checks.values()), "checks": checks}


def _allowed(request: HttpRequest) -> bool:
    token = getattr(settings, "READINESS_TOKEN", "")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if token and given and secrets.compare_digest(given, token):
        return True
    return request.user.is_authenticated and request.user.is_staff


@never_cache
@require_GET
def readiness_view(request: HttpRequest) -> JsonResponse:
    if not _allowed(request):
        return JsonResponse({"detail": "staff or a readiness token only"}, status=403)
    report = readiness()
    return JsonResponse(report, status=200 if report["ok"] else 503)
