"""What the student's progress page shows: its body's context, read in four queries (the
learner with their track, their completions and level history; the curriculum comes from
the cache), the history as the student reads it, what a tick adds to the body (its status
next to the item ticked; what a level-up opens), the body and the pyramid drawn, and the
whole page kept in the cache with a slot for the request's CSRF token."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe

from curriculum.rules import CurriculumRules, KeyRule
from curriculum.selectors import curriculum_rules, curriculum_version_and

from . import assessment
from .explanation import explain, fastest_way
from .insights.selectors import learner_pace
from .models import Learner, LevelChange
from .placement import MAX_LEVEL, Placement, Profile, module_list, place, usd
from .release import release
from .selectors import (
    learner_placement,
    learner_profile,
    learner_progress,
    learner_progress_and_platforms,
)


@dataclass(frozen=True)
class HistoryEntry:
    change: LevelChange
    placed: bool  # the first placement: where the learner started, not a move
    from_name: str
    to_name: str


def student_history(changes: list[LevelChange], *, level_name) -> list[HistoryEntry]:
    """The level history as the student reads it, newest first: every deliberate change,
    the placement reading "Started at"; only a change made by the Undo of a tick's toast is
    left out, together with the change it reversed."""
    kept: list[LevelChange] = []
    for change in sorted(changes, key=lambda c: (c.changed_at, c.id or 0)):
        last = kept[-1] if kept else None
        if (
            change.undo
            and last is not None
            and not last.is_placement
            and change.from_level == last.to_level
            and change.to_level == last.from_level
        ):
            kept.pop()
            continue
        kept.append(change)
    return [
        HistoryEntry(
            change=change,
            placed=change.is_placement,
            from_name=level_name(change.from_level) if change.from_level else "",
            to_name=level_name(change.to_level),
        )
        for change in reversed(kept)
    ]


def progress_learner(learner_id: int) -> Learner:
    """The learner as their page's body reads them: the whole row, with their track."""
    return Learner.objects.select_related("track").get(pk=learner_id)


# The toggles' URLs, reversed once per page (``reverse`` per item was a fifth of the body's
# context): the path with the id left as "{}" to fill in.
def _toggle_urls() -> dict[str, str]:
    return {
        view: reverse(view, args=[0]).replace("/0/", "/{}/") for view in ("key_done", "module_done")
    }


def _key_item(key: KeyRule, placement: Placement, urls: dict[str, str]) -> dict:
    """One key of the checklist, its words and state ready for the template (the page draws
    dozens: each filter and tag there costs more than a line here). Numbers are passed as
    text: the template engine localizes every number it prints, which cost a third of the
    checklist's render."""
    numbers = tuple(sorted(key.module_numbers))
    done = key.code in placement.done_keys
    modules = f"module{'s' if len(numbers) > 1 else ''} {module_list(numbers)}" if numbers else ""
    if modules:
        return {
            "id": str(key.id),
            "text": key.text,
            "done": done,
            "modules": modules,
            "modules_words": f"Done by {modules}" if done else f"Done when you finish {modules}",
        }
    return {
        "id": str(key.id),
        "text": key.text,
        "done": done,
        "modules": "",
        "action": urls["key_done"].format(key.id),
        "value": "0" if done else "1",  # the state the toggle asks for
        "pressed": "true" if done else "false",
        "state": "Done" if done else "To do",
    }


def _module_item(
    number: int, rules: CurriculumRules, progress, on_platform: dict, urls: dict[str, str]
) -> dict:
    """One module of the page, its words and state ready for the template (as a key's)."""
    done = number in progress.completed_modules
    return {
        "number": str(number),
        "title": rules.module_titles.get(number, ""),
        "done": done,
        "url": rules.module_urls.get(number, ""),
        "platform": on_platform.get(number),
        "action": urls["module_done"].format(rules.module_ids[number]),
        "value": "0" if done else "1",
        "pressed": "true" if done else "false",
        "state": "Done" if done else "To do",
    }


def progress_body_context(learner: Learner, rules: CurriculumRules) -> dict:
    """``learner``: the whole row with its track (``progress_learner``)."""
    track = rules.tracks[learner.track.slug]
    progress, on_platform, ticked = learner_progress_and_platforms(learner)
    placement = learner_placement(learner, rules, progress)
    level = placement.level
    next_name = rules.level_name(level + 1) if level < MAX_LEVEL else ""
    texts = track.texts.get(level)
    steps = placement.next_steps
    urls = _toggle_urls()
    keys = [_key_item(key, placement, urls) for key in track.keys.get(level, ())]
    finished_levels = []
    for lower in range(1, level):
        items = [_key_item(key, placement, urls) for key in track.keys.get(lower, ())]
        if items:
            finished_levels.append(
                {
                    "number": lower,
                    "name": rules.level_name(lower),
                    "keys": items,
                    "done": sum(1 for item in items if item["done"]),
                }
            )
    history = LevelChange.objects.filter(learner=learner).order_by("-changed_at", "-id")
    keys_done = sum(1 for key in keys if key["done"])
    return {
        "learner": learner,
        "placement": placement,
        "why": explain(rules, learner_profile(learner, track.slug), placement),
        "description": rules.level_descriptions.get(level, ""),
        "texts": texts,
        "next_texts": track.texts.get(level + 1) if level < MAX_LEVEL else None,
        "next_metrics": texts.success_metrics if texts and level < MAX_LEVEL else (),
        "next_level_name": next_name,
        "meter": {
            "keys_done": min(steps.keys_done, steps.keys_required),
            "keys_required": steps.keys_required,
            "modules_done": steps.modules_done,
            "modules_total": steps.modules_total,
            "gate": usd(steps.gate_amount) if steps.gate_amount is not None else "",
            # An unmet income gate is one more step on the bar: never full while it holds.
            "steps_total": steps.keys_required
            + steps.modules_total
            + (1 if steps.gate_amount is not None else 0),
            "steps_done": min(steps.keys_done, steps.keys_required) + steps.modules_done,
            "metric": track.currency_metric,
            "short": _short_meter(steps),
        },
        "fastest_way": fastest_way(placement, next_name),
        "next_modules": [(number, rules.module_titles.get(number, "")) for number in steps.modules],
        "stages": [
            {
                "stage": stage,
                "serves_name": rules.level_name(stage.serves_level),
                "next_name": rules.level_name(stage.serves_level + 1),
                "review": stage.serves_level < level,
                "current": stage.serves_level == level,
                "modules": [
                    _module_item(number, rules, progress, on_platform, urls)
                    for number in stage.modules
                ],
            }
            for stage in rules.stages
        ],
        "keys": keys,
        "keys_done": keys_done,
        # The student's pace, from the ticks read above; its count of open keys is the page's.
        "pace": learner_pace(learner, remaining=len(keys) - keys_done, ticked=ticked, rules=rules),
        "linked_keys": sum(1 for key in keys if key["modules"]),
        # The checklist: the level's keys, then each finished level's (named, collapsed).
        "checklists": [{"name": "", "keys": keys}, *finished_levels],
        "continue_action": continue_action(placement, rules),
        "api_cost_percent": _percent(placement),
        "history": student_history(list(history), level_name=rules.level_name),
    }


def _short_meter(steps) -> str:
    """The meter in a few words, for the pyramid's current tier."""
    if steps.maintaining:
        return "the top"
    line = f"{min(steps.keys_done, steps.keys_required)}/{steps.keys_required} keys"
    if steps.modules_total:
        line += f" · {steps.modules_done}/{steps.modules_total} modules"
    if steps.gate_amount is not None and not steps.modules and not steps.keys_needed:
        line += " · figure"  # the only step left: the income gate (said in full above)
    return line


def _percent(placement: Placement) -> str | None:
    share = placement.api_cost_share
    if share is None:
        return None
    return f"{share * 100:.0f}%" if share * 100 >= 1 else f"{share * 100:.1f}%"


def continue_action(placement: Placement, rules: CurriculumRules) -> dict | None:
    """The one "Continue": the fastest way up. The next unfinished module of the learner's
    own stage (its course URL, else its place on this page), never one of a stage below
    their level; with the stage's modules done, the next key to tick; held only by an
    income gate, updating their figure; at the top, the keys that keep the level."""
    steps = placement.next_steps
    if steps.modules:
        number = steps.modules[0]
        title = rules.module_titles.get(number, "")
        url = rules.module_urls.get(number, "")
        return {
            "label": f"Continue Module {number}: {title}",
            "url": url or f"#module-{number}",
            "external": bool(url),
        }
    if steps.maintaining:
        if not steps.open_keys:
            return None
        count = len(steps.open_keys)
        return {
            "label": f"Keep your edge: {count} maintaining key{'s' if count > 1 else ''} open",
            "url": f"#key-{steps.open_keys[0].id}",
            "external": False,
        }
    if steps.keys_needed and steps.tickable_keys:
        return {
            "label": f"Tick your next key: {steps.tickable_keys[0].text}",
            "url": f"#key-{steps.tickable_keys[0].id}",
            "external": False,
        }
    if steps.gate_amount is not None:
        return {
            "label": "Update your figure when it changes",
            "url": reverse("profile"),
            "external": False,
        }
    return None


def placement_with_answers(learner: Learner, *, track_slug: str, answers: dict) -> Placement:
    """The placement ``learner`` would have with these self-assessment answers on their
    current progress (nothing is saved): the self-assessment page asks before lowering."""
    profile = Profile(
        track=track_slug, submitted=True, **assessment.assessment_answers(track_slug, answers)
    )
    return place(curriculum_rules(), profile, learner_progress(learner))


def lowering_warning(learner: Learner, *, track_slug: str, answers: dict) -> str:
    """What the learner is told before a self-assessment lowers their level ("" if it
    doesn't): the move and its reasons, in the words of the page's "why"."""
    placement = placement_with_answers(learner, track_slug=track_slug, answers=answers)
    if placement.level >= learner.level:
        return ""
    rules = curriculum_rules()
    profile = Profile(
        track=track_slug, submitted=True, **assessment.assessment_answers(track_slug, answers)
    )
    first, *rest = explain(rules, profile, placement)
    return " ".join(
        (
            f"This moves you from {rules.level_name(learner.level)} to {placement.level_name} "
            f"because {first[0].lower()}{first[1:]}",
            *rest,
        )
    )


def with_form_token(page: str, token: str) -> str:
    """The cached page with this request's CSRF token in its slot (the form is the page's
    last part; a page without the slot is served as it is)."""
    head, slot, tail = page.rpartition(FORM_TOKEN_SLOT)
    return head + token + tail if slot else page


def with_status(body: str, anchor: str, status: dict) -> str:
    """The page body with the tick's status (its message and Undo) as the list item right
    after the item ticked: the next Tab stop after its toggle, never over the checklist.
    The body is the cached one; the status is per request."""
    marker = f'id="{anchor}"'
    start = body.find(marker)
    end = body.find("</li>", start) if start != -1 else -1
    if end == -1:
        return body
    end += len("</li>")
    item = render_to_string("learners/progress_status.html", {"status": status, "inline": True})
    # An item of a finished level (a level-up just moved it there) is in a collapsed
    # section: open it, so that the item, its message and its Undo stay in sight.
    section = body.rfind('<details class="finished-level"', 0, start)
    if section != -1 and body.find("</details>", section, start) == -1:
        opening = section + len("<details")
        body = body[:opening] + " open" + body[opening:]
        end += len(" open")
    # Both parts are the site's own rendered templates (their variables escaped there).
    return mark_safe(body[:end] + item + body[end:])  # noqa: S308


def what_opens(placement: Placement) -> str:
    """What a level-up opens: the next stage's modules (or, at the top, what keeps it)."""
    if placement.next_steps.maintaining:
        return "You are at the top: the maintaining-excellence keys keep you there."
    stage = next((s for s in curriculum_rules().stages if s.serves_level == placement.level), None)
    if stage is None or not stage.modules:
        return ""
    return f"Next: the {stage.name} stage, modules {module_list(stage.modules)}."


# The pyramid drawing: a truncated triangle cut in four tiers, level 4 on top.
PYRAMID_WIDTH = 320
PYRAMID_HEIGHT = 232
PYRAMID_TOP_WIDTH = 64
PYRAMID_GAP = 6

# How long a learner's rendered progress page is kept. Its key changes with every write
# that changes the page, so this only bounds how long an unused entry takes up room.
PROGRESS_CACHE_SECONDS = 24 * 60 * 60
# Where the cached page has its form's CSRF token (filled per request).
FORM_TOKEN_SLOT = "form-token-of-this-request"  # noqa: S105 - a placeholder, no secret


def progress_page_html(request: HttpRequest, learner: Learner) -> str:
    """The learner's whole page with ``FORM_TOKEN_SLOT``, from the cache (kept with the
    curriculum version it was drawn from: one round trip asks for both) or drawn and
    cached. Drawn with the request (its layout shows the user's links) when it has no
    flash message."""
    key = progress_cache_key(request.user, learner)
    version, kept = curriculum_version_and(key)
    if kept is not None and kept[0] == version:
        return kept[1]
    rules = curriculum_rules()
    body = progress_body_html(progress_learner(learner.pk), rules)
    context = {"body": body, "form_token": FORM_TOKEN_SLOT}
    page = render_to_string("learners/progress.html", context, request)
    cache.set(key, (rules.version, page), PROGRESS_CACHE_SECONDS)
    return page


def progress_body_html(learner: Learner, rules: CurriculumRules) -> str:
    """Draw the body of ``learner`` (the whole row, with their track). Drawn without the
    request: the CSRF token and the flash messages stay outside it."""
    context = progress_body_context(learner, rules)
    tiers = pyramid_tiers(rules.level_names, current=context["placement"].level)
    context["tiers"] = tiers
    context["current"] = next(tier for tier in tiers if tier["current"])
    return render_to_string("learners/progress_body.html", context)


def progress_cache_key(user, learner: Learner) -> str:
    """The cache key of the learner's progress page (kept with the curriculum version it was
    drawn from). The page is the same for every request until the learner's data
    (``Learner.version``, bumped by every write through the services and the roster
    import), the curriculum (its version, a digest of the rules) or the release (the
    templates and code that draw it) changes, so a stale page is never served; staff see
    an Admin link in its layout."""
    return f"progress-page:{release()}:{learner.pk}:{learner.version}:{int(user.is_staff)}"


def pyramid_tiers(level_names, *, current: int | None) -> list[dict]:
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
                "number": str(number),  # as text: the template prints it unlocalized, faster
                "name": level_names.get(number, f"Level {number}"),
                "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in corners),
                "text_y": f"{(top + bottom) / 2:.1f}",
                "current": number == current,
            }
        )
    return tiers
