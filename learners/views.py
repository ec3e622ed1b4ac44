"""The student's pages: landing, self-assessment, progress (and its two POST actions)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from curriculum.models import Key, Module
from curriculum.rules import CurriculumRules
from curriculum.selectors import curriculum_rules

from .forms import SelfAssessmentForm
from .models import Learner, LevelChange
from .placement import MAX_LEVEL, Placement, module_list
from .selectors import learner_placement, learner_progress_and_platforms
from .services import (
    Recomputed,
    key_set_done,
    learner_ensure,
    learner_set_assessment,
    module_set_done,
)

# The pyramid drawing: a truncated triangle cut in four tiers, level 4 on top.
PYRAMID_WIDTH = 320
PYRAMID_HEIGHT = 232
PYRAMID_TOP_WIDTH = 64
PYRAMID_GAP = 6

# How long a learner's rendered progress page is kept. Its key changes with every write
# that changes the page, so this only bounds how long an unused entry takes up room.
PROGRESS_CACHE_SECONDS = 24 * 60 * 60
# What the progress view reads of the learner to find their cached page (the rest of the
# row is read only to render it).
PROGRESS_KEY_FIELDS = ("pk", "version", "track", "assessment_submitted_at")


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
    try:
        # get(), not first(): it drops the model's ordering (by the user's email, a join).
        return Learner.objects.select_related("track").get(user=request.user)
    except Learner.DoesNotExist:
        learner_ensure(user=request.user)
        return Learner.objects.select_related("track").get(user=request.user)


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    learner = _learner(request)
    if request.method == "POST":
        form = SelfAssessmentForm.for_learner(learner, data=request.POST)
        if form.is_valid():
            try:
                result = learner_set_assessment(
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
    """The learner's level, reasons, next steps, checklist and history.

    With the body in the cache a view costs two small queries (the user; the learner's key
    fields); rendering the body costs four more (the whole learner with its track, their
    modules, keys and level history).
    """
    try:
        learner = Learner.objects.only(*PROGRESS_KEY_FIELDS).get(user=request.user)
    except Learner.DoesNotExist:  # an account made outside the signup form: the profile page
        learner = None  # makes its learner
    if learner is None or not learner.has_assessment or learner.track_id is None:
        messages.info(request, "Fill in your self-assessment first: it places you on the pyramid.")
        return redirect("profile")
    rules = curriculum_rules()
    # Rendered without the request: the CSRF token and the flash messages stay outside it.
    body = cache.get_or_set(
        progress_cache_key(learner, rules),
        lambda: render_to_string("learners/progress_body.html", _progress_body(learner.pk, rules)),
        PROGRESS_CACHE_SECONDS,
    )
    return render(request, "learners/progress.html", {"body": body})


def progress_cache_key(learner: Learner, rules: CurriculumRules) -> str:
    """The cache key of the learner's progress page body. The body is the same for every
    request until the learner's data (``Learner.version``, bumped by every write through
    the services and the roster import) or the curriculum (``rules.version``, a digest)
    changes, so a stale body is never served."""
    return f"progress-body:{learner.pk}:{learner.version}:{rules.version}"


def _progress_body(learner_id: int, rules: CurriculumRules) -> dict:
    """The context of the progress page's body: four queries (the learner with its track,
    their modules, keys and level history; the curriculum comes from the cache), whatever
    their progress."""
    learner = Learner.objects.select_related("track").get(pk=learner_id)
    track = rules.tracks[learner.track.slug]
    progress_, on_platform = learner_progress_and_platforms(learner)
    placement = learner_placement(learner, rules, progress_)
    history = LevelChange.objects.filter(learner=learner).order_by("-changed_at", "-id")
    tiers = _pyramid_tiers(rules.level_names, current=placement.level)
    keys = [
        {
            "id": key.id,
            "text": key.text,
            "done": key.code in placement.done_keys,
            "modules": _module_words(key.module_numbers),
        }
        for key in track.keys.get(placement.level, ())
    ]
    return {
        "learner": learner,
        "placement": placement,
        "tiers": tiers,
        "current": next(tier for tier in tiers if tier["current"]),
        "next_modules": [
            (number, rules.module_titles.get(number, "")) for number in placement.next_steps.modules
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
                        "number": number,
                        "id": rules.module_ids[number],
                        "title": rules.module_titles.get(number, ""),
                        "done": number in progress_.completed_modules,
                        "url": rules.module_urls.get(number, ""),
                        "platform": on_platform.get(number),
                    }
                    for number in stage.modules
                ],
            }
            for stage in rules.stages
        ],
        "keys": keys,
        "continue_module": _continue_module(placement, progress_, rules),
        "keys_done": sum(1 for key in keys if key["done"]),
        "api_cost_percent": _percent(placement),
        "history": [
            {
                "change": change,
                "from_name": rules.level_name(change.from_level) if change.from_level else "",
                "to_name": rules.level_name(change.to_level),
            }
            for change in history
        ],
    }


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


def _continue_module(placement: Placement, progress_, rules: CurriculumRules) -> dict | None:
    """The one "Continue" action: the first module the next steps ask for, else the first
    module not done; with its course URL (its place on this page when it has none)."""
    numbers = list(placement.next_steps.modules) or [
        number
        for number in sorted(rules.module_titles)
        if number not in progress_.completed_modules
    ]
    if not numbers:
        return None
    number = numbers[0]
    return {
        "number": number,
        "title": rules.module_titles.get(number, ""),
        "url": rules.module_urls.get(number, "") or f"#module-{number}",
    }
