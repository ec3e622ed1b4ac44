"""The student's pages: landing, self-assessment, progress (and its two POST actions)."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.backends.utils import csrf_input
from django.template.loader import render_to_string
from django.urls import get_script_prefix, get_urlconf, reverse
from django.views.decorators.http import require_GET, require_POST

from curriculum.models import Key, Module

from .forms import SelfAssessmentForm
from .models import Learner, LevelChange
from .placement import MAX_LEVEL, Placement, module_list
from .selectors import curriculum_rules, learner_placement, learner_progress
from .services import (
    Recomputed,
    key_set_done,
    learner_ensure,
    learner_update_profile,
    module_set_done,
)

# The pyramid drawing: a truncated triangle cut in four tiers, level 4 on top.
PYRAMID_WIDTH = 320
PYRAMID_HEIGHT = 232
PYRAMID_TOP_WIDTH = 64
PYRAMID_GAP = 6


def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers, 503 otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any database failure means unhealthy
        return JsonResponse({"status": "error", "database": str(exc)[:200]}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    rules = curriculum_rules()
    return render(
        request,
        "learners/home.html",
        {
            "tiers": _pyramid_tiers(rules.level_names, current=None),
            "stages": [
                (stage, [(n, rules.module_titles.get(n, "")) for n in stage.modules])
                for stage in rules.stages
            ],
        },
    )


def _learner(request: HttpRequest) -> Learner:
    """The signed-in user's learner profile (one query); created for accounts made
    outside the signup form, such as a superuser."""
    learner = Learner.objects.select_related("track").filter(user=request.user).first()
    if learner is None:
        learner_ensure(user=request.user)
        learner = Learner.objects.select_related("track").get(user=request.user)
    return learner


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    learner = _learner(request)
    if request.method == "POST":
        form = SelfAssessmentForm.for_learner(learner, data=request.POST)
        if form.is_valid():
            try:
                result = learner_update_profile(
                    learner=learner,
                    track=form.cleaned_data["track"],
                    answers=form.answers(),
                    timezone_name=form.cleaned_data["timezone"],
                    nudges_enabled=form.cleaned_data["nudges_enabled"],
                )
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                messages.success(
                    request,
                    f"Your self-assessment is saved. You are at level "
                    f"{result.placement.level}: {result.placement.level_name}.",
                )
                return redirect("progress")
    else:
        form = SelfAssessmentForm.for_learner(learner)
    return render(
        request,
        "learners/profile.html",
        {"form": form, "learner": learner, "detect_timezone": not learner.has_assessment},
    )


@login_required
@require_GET
def progress(request: HttpRequest) -> HttpResponse:
    # A fixed number of queries whatever the learner's progress: user, learner, their
    # modules, their keys, their history. The curriculum and the session come from the cache.
    # The page is the hot path of the site, so the context is built for a cheap render:
    # ids as text (no number localisation per item), action URLs and the pyramid drawing
    # memoised per process, one CSRF input for all the forms (the token is one per page
    # either way).
    learner = _learner(request)
    if not learner.has_assessment or learner.track is None:
        messages.info(request, "Fill in your self-assessment first: it places you on the pyramid.")
        return redirect("profile")
    rules = curriculum_rules()
    track = rules.tracks[learner.track.slug]
    progress_ = learner_progress(learner)
    placement = learner_placement(learner, rules, progress_)
    history = LevelChange.objects.filter(learner=learner).order_by("-changed_at", "-id")
    # reverse() reads both the script prefix and the URLconf: both are in the memo's key.
    where = (get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
    keys = [
        {
            "id": str(key.id),
            "url": _action_url("key_done", key.id, *where),
            "text": key.text,
            "done": key.code in placement.done_keys,
            "modules": _module_words(key.module_numbers),
        }
        for key in track.keys.get(placement.level, ())
    ]
    return render(
        request,
        "learners/progress.html",
        {
            "learner": learner,
            "placement": placement,
            "csrf_input": csrf_input(request),
            "pyramid": _pyramid_svg(tuple(sorted(rules.level_names.items())), placement.level),
            "next_modules": [
                (str(number), rules.module_titles.get(number, ""))
                for number in placement.next_steps.modules
            ],
            "next_level_name": (
                rules.level_name(placement.level + 1) if placement.level < MAX_LEVEL else ""
            ),
            "stages": [
                {
                    "stage": stage,
                    "serves_name": rules.level_name(stage.serves_level),
                    "next_name": rules.level_name(stage.serves_level + 1),
                    "modules": [
                        {
                            "number": str(number),
                            "url": _action_url("module_done", rules.module_ids[number], *where),
                            "title": rules.module_titles.get(number, ""),
                            "done": number in progress_.completed_modules,
                        }
                        for number in stage.modules
                    ],
                }
                for stage in rules.stages
            ],
            "keys": keys,
            "keys_done": str(sum(1 for key in keys if key["done"])),
            "keys_total": str(len(keys)),
            "api_cost_percent": _percent(placement),
            "history": [
                {
                    "change": change,
                    "from_name": rules.level_name(change.from_level) if change.from_level else "",
                    "to_name": rules.level_name(change.to_level),
                }
                for change in history
            ],
        },
    )


@lru_cache(maxsize=4096)
def _action_url(view_name: str, pk: int, script_prefix: str, urlconf: str) -> str:
    """``reverse`` memoised: the URL of a key's or module's form depends only on its id, the
    script prefix and the URLconf (all three in the memo's key)."""
    return reverse(view_name, args=[pk], urlconf=urlconf)


@lru_cache(maxsize=64)
def _pyramid_svg(level_names: tuple[tuple[int, str], ...], current: int) -> str:
    """The pyramid drawing with ``current`` highlighted: the same for every learner at that
    level, so rendered once per process for each level and set of level names (an edited
    name is a new key)."""
    tiers = _pyramid_tiers(dict(level_names), current=current)
    return render_to_string(
        "includes/pyramid.html",
        {"tiers": tiers, "current": next((tier for tier in tiers if tier["current"]), None)},
    )


def _done_flag(request: HttpRequest) -> bool | None:
    """The desired state a progress form posts: done=1 or done=0 (so a repeat is harmless)."""
    return {"1": True, "0": False}.get(request.POST.get("done", ""))


@login_required
@require_POST
def key_done(request: HttpRequest, key_id: int) -> HttpResponse:
    learner = _learner(request)
    # A key of another track is not this learner's: 404, nothing changed.
    key = get_object_or_404(Key, pk=key_id, track_id=learner.track_id)
    done = _done_flag(request)
    if done is None:
        return HttpResponseBadRequest("done must be 1 or 0")
    try:
        result = key_set_done(learner=learner, key=key, done=done)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("progress")
    return _report(
        request, result, f"Key {'ticked' if done else 'unticked'}: {key.full_text}", f"key-{key.pk}"
    )


@login_required
@require_POST
def module_done(request: HttpRequest, module_id: int) -> HttpResponse:
    learner = _learner(request)
    module = get_object_or_404(Module, pk=module_id)
    if learner.track_id is None:
        return redirect("profile")
    done = _done_flag(request)
    if done is None:
        return HttpResponseBadRequest("done must be 1 or 0")
    try:
        result = module_set_done(learner=learner, module=module, done=done)
    except ValidationError as error:  # completed on a platform: only an instructor unticks
        messages.error(request, " ".join(error.messages))
        return redirect("progress")
    state = "completed" if done else "marked not done"
    return _report(
        request,
        result,
        f"Module {module.number} {state}: {module.title}",
        f"module-{module.number}",
    )


def _report(request: HttpRequest, result: Recomputed, what: str, anchor: str) -> HttpResponse:
    """Say what changed and redirect (POST-redirect-GET): back to the item, or to the top of
    the page when the level changed, so the new level and the message are in view."""
    placement = result.placement
    if result.went_up:
        messages.success(
            request,
            f"Congratulations! You moved up to level {placement.level}: {placement.level_name}.",
            extra_tags="congrats",
        )
    elif result.change is not None:
        messages.warning(request, f"Your level is now {placement.level}: {placement.level_name}.")
    messages.info(request, f"{what}.")
    url = reverse("progress")
    return redirect(url if result.change is not None else f"{url}#{anchor}")


def _percent(placement: Placement) -> str | None:
    share = placement.api_cost_share
    if share is None:
        return None
    return f"{share * 100:.0f}%" if share * 100 >= 1 else f"{share * 100:.1f}%"


def _module_words(numbers: frozenset[int]) -> str:
    if not numbers:
        return ""
    return f"module{'s' if len(numbers) > 1 else ''} {module_list(tuple(numbers))}"


def _pyramid_tiers(level_names, *, current: int | None) -> list[dict]:
    """Polygons for the four tiers of the pyramid drawing, top (level 4) first."""
    tier_height = (PYRAMID_HEIGHT - (MAX_LEVEL - 1) * PYRAMID_GAP) / MAX_LEVEL
    centre = PYRAMID_WIDTH / 2

    def half_width(y: float) -> float:
        spread = (PYRAMID_WIDTH - PYRAMID_TOP_WIDTH) * y / PYRAMID_HEIGHT
        return (PYRAMID_TOP_WIDTH + spread) / 2

    tiers = []
    for index, number in enumerate(range(MAX_LEVEL, 0, -1)):
        top = index * (tier_height + PYRAMID_GAP)
        bottom = top + tier_height
        corners = [
            (centre - half_width(top), top),
            (centre + half_width(top), top),
            (centre + half_width(bottom), bottom),
            (centre - half_width(bottom), bottom),
        ]
        tiers.append(
            {
                "number": number,
                "name": level_names.get(number, f"Level {number}"),
                "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in corners),
                "text_y": f"{(top + bottom) / 2:.1f}",
                "current": number == current,
            }
        )
    return tiers
