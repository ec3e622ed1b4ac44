"""Reads: the curriculum as the placement rule sees it, cached for every process."""

from __future__ import annotations

from collections import defaultdict

from django.core.cache import cache

from .models import Key, Level, Module, Stage, SuccessMetric, Symptom, TrackLevel
from .rules import BandRule, CurriculumRules, KeyRule, LevelTexts, StageInfo, TrackRules

CURRICULUM_CACHE_KEY = "curriculum-rules:v3"
# The rules' version digest on its own: pages cached under it read a few bytes per request
# instead of the whole rules (about 20 KB to unpickle).
CURRICULUM_VERSION_KEY = "curriculum-version:v3"
CURRICULUM_CACHE_SECONDS = 300


def curriculum_rules(*, fresh: bool = False) -> CurriculumRules:
    """The curriculum as the placement rule sees it.

    Cached (curriculum edits clear the cache: see ``curriculum.apps``); ``fresh`` reads the
    database and refreshes the cache, for work that must see an edit made a moment ago.
    """
    if not fresh:
        rules = cache.get(CURRICULUM_CACHE_KEY)
        if rules is not None:
            return rules
    rules = _load_curriculum_rules()
    cache.set_many(
        {CURRICULUM_CACHE_KEY: rules, CURRICULUM_VERSION_KEY: rules.version},
        CURRICULUM_CACHE_SECONDS,
    )
    return rules


def curriculum_version() -> str:
    """The version of the curriculum ``curriculum_rules`` gives (a digest of its contents),
    for the keys of pages drawn from it."""
    version = cache.get(CURRICULUM_VERSION_KEY)
    if version is None:
        version = curriculum_rules().version
    return version


def curriculum_version_and(key: str):
    """The curriculum's version and the cache entry ``key`` (None if absent), in one round
    trip to the cache: for a page drawn from the curriculum and kept with the version it
    was drawn from."""
    found = cache.get_many([CURRICULUM_VERSION_KEY, key])
    version = found.get(CURRICULUM_VERSION_KEY) or curriculum_rules().version
    return version, found.get(key)


def curriculum_rules_forget() -> None:
    cache.delete_many([CURRICULUM_CACHE_KEY, CURRICULUM_VERSION_KEY])


def _load_curriculum_rules() -> CurriculumRules:
    levels = list(Level.objects.values_list("number", "name", "description"))
    level_names = {number: name for number, name, _ in levels}
    links: dict[int, set[int]] = defaultdict(set)
    for key_id, number in Key.modules.through.objects.values_list("key_id", "module__number"):
        links[key_id].add(number)
    keys: dict[str, dict[int, list[KeyRule]]] = defaultdict(lambda: defaultdict(list))
    for key_id, code, slug, level, verb, text in Key.objects.order_by(
        "track_id", "level__number", "order"
    ).values_list("id", "code", "track__slug", "level__number", "verb", "text"):
        keys[slug][level].append(
            KeyRule(
                code=code,
                level=level,
                text=f"{verb} {text}",
                module_numbers=frozenset(links.get(key_id, ())),
                id=key_id,
            )
        )
    modules = list(
        Module.objects.order_by("number").values_list(
            "id", "number", "title", "stage__name", "stage__serves_level__number", "course_url"
        )
    )
    stage_modules: dict[int, list[int]] = defaultdict(list)
    for _, number, _, _, serves, _ in modules:
        stage_modules[serves].append(number)
    stages = tuple(
        StageInfo(
            name=name,
            serves_level=serves,
            modules=tuple(stage_modules[serves]),
            summary=summary,
            bullets=tuple(line.strip() for line in description.splitlines() if line.strip()),
        )
        for name, serves, summary, description in Stage.objects.order_by("order").values_list(
            "name", "serves_level__number", "summary", "description"
        )
    )
    symptoms: dict[tuple[str, int], list[tuple[str, int]]] = defaultdict(list)
    for slug, level, text, depth in Symptom.objects.order_by(
        "track_id", "level__number", "order"
    ).values_list("track__slug", "level__number", "text", "depth"):
        symptoms[slug, level].append((text, depth))
    metrics: dict[tuple[str, int], list[str]] = defaultdict(list)
    bands: dict[str, list[BandRule]] = defaultdict(list)
    texts: dict[str, dict[int, LevelTexts]] = defaultdict(dict)
    tracks: dict[str, tuple[str, object, str]] = {}
    for tl in TrackLevel.objects.select_related("track", "level").order_by(
        "track__order", "level__number"
    ):
        bands[tl.track.slug].append(BandRule(tl.level.number, tl.min_amount, tl.max_amount))
        texts[tl.track.slug][tl.level.number] = tl
        tracks[tl.track.slug] = (
            tl.track.currency_metric,
            tl.track.graduation_threshold,
            tl.track.name,
        )
    gates: dict[str, dict[int, int]] = defaultdict(dict)
    for slug, from_level, text, amount in SuccessMetric.objects.order_by(
        "track_id", "from_level__number", "order"
    ).values_list("track__slug", "from_level__number", "text", "gate_amount"):
        metrics[slug, from_level].append(text)
        if amount is not None:
            # Two metrics of a transition with figures: the higher one is the condition.
            gates[slug][from_level] = max(amount, gates[slug].get(from_level, 0))
    return CurriculumRules(
        level_names=level_names,
        tracks={
            slug: TrackRules(
                slug=slug,
                name=name,
                currency_metric=metric,
                threshold=threshold,
                bands=tuple(bands[slug]),
                keys={level: tuple(rules) for level, rules in keys[slug].items()},
                stage_modules={level: tuple(ms) for level, ms in stage_modules.items()},
                gates=dict(gates[slug]),
                texts={
                    level: LevelTexts(
                        summary=tl.self_assessment_summary,
                        module_alignment=tl.module_alignment,
                        symptoms_heading=tl.symptoms_heading,
                        symptoms=tuple(symptoms[slug, level]),
                        success_metrics=tuple(metrics[slug, level]),
                    )
                    for level, tl in texts[slug].items()
                },
            )
            for slug, (metric, threshold, name) in tracks.items()
        },
        module_titles={number: title for _, number, title, _, _, _ in modules},
        module_ids={number: pk for pk, number, _, _, _, _ in modules},
        module_urls={number: url for _, number, _, _, _, url in modules},
        stages=stages,
        level_descriptions={number: description for number, _, description in levels},
    ).with_version()
