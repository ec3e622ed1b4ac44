"""Writes to the curriculum: loading the framework document into the database."""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps as global_apps
from django.db import transaction

from .seed import CurriculumSeed, income_figure, load_track_headlines, read_seed


@dataclass
class LoadReport:
    created: int = 0
    updated: int = 0

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated"


@transaction.atomic
def curriculum_load(
    *, seed: CurriculumSeed | None = None, reset: bool = False, apps=global_apps
) -> LoadReport:
    """Load the curriculum. Idempotent: rows that exist are left as instructors edited them,
    unless ``reset``, which puts every loaded field back to the document's value.

    ``apps`` lets a data migration pass its historical app registry.
    """
    seed = seed or read_seed()
    report = LoadReport()

    def upsert(model_name: str, lookup: dict, values: dict):
        model = apps.get_model("curriculum", model_name)
        # Migration 0002 loads through here with the models of its time: fields added since
        # (e.g. SuccessMetric.gate_amount) are filled by the migration that adds them.
        fields = {f.name for f in model._meta.get_fields()}
        values = {name: value for name, value in values.items() if name in fields}
        obj, created = model.objects.get_or_create(**lookup, defaults=values)
        if created:
            report.created += 1
        elif reset and any(getattr(obj, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(obj, k, v)
            obj.save()
            report.updated += 1
        return obj, created

    levels = {}
    for lvl in seed.levels:
        levels[lvl.number], _ = upsert(
            "Level",
            {"number": lvl.number},
            {
                "name": lvl.name,
                "description": lvl.description,
                "headline_a": lvl.headlines[0] if lvl.headlines else "",
                "headline_b": lvl.headlines[1] if len(lvl.headlines) > 1 else "",
                "pain": lvl.pain,
                "promise": lvl.promise,
                "offer": lvl.offer,
            },
        )

    stages = {}
    for st in seed.stages:
        stage, _ = upsert(
            "Stage",
            {"name": st.name},
            {
                "order": st.order,
                "summary": st.summary,
                "serves_level": levels[st.serves_level],
                "description": "\n".join(st.bullets),
            },
        )
        for number in st.module_numbers:
            stages[number] = stage

    modules = {}
    for mod in seed.modules:
        modules[mod.number], _ = upsert(
            "Module", {"number": mod.number}, {"title": mod.title, "stage": stages[mod.number]}
        )

    headlines = load_track_headlines()
    for order, tr in enumerate(seed.tracks, start=1):
        track, _ = upsert(
            "Track",
            {"slug": tr.slug},
            {"name": tr.name, "currency_metric": tr.currency_metric, "order": order},
        )
        for tl in tr.levels:
            level = levels[tl.level]
            upsert(
                "TrackLevel",
                {"track": track, "level": level},
                {
                    "min_amount": tl.min_amount,
                    "max_amount": tl.max_amount,
                    "heading_range": tl.heading_range,
                    "currency_metric": tl.currency_metric,
                    "symptoms_heading": tl.symptoms_heading,
                    "keys_heading": tl.keys_heading,
                    "module_alignment": tl.module_alignment,
                    "self_assessment_summary": tl.self_assessment_summary,
                    "headline": headlines.get((tr.slug, tl.level), ""),
                },
            )
            for order_, (text, depth) in enumerate(tl.symptoms, start=1):
                upsert(
                    "Symptom",
                    {"track": track, "level": level, "order": order_},
                    {"text": text, "depth": depth},
                )
            for ks in tl.keys:
                key, created = upsert(
                    "Key",
                    {"code": ks.code},
                    {
                        "track": track,
                        "level": level,
                        "order": ks.order,
                        "verb": ks.verb,
                        "text": ks.text,
                    },
                )
                if created or reset:
                    key.modules.set([modules[n] for n in ks.module_numbers])
        for from_level, texts in tr.success_metrics.items():
            for order_, text in enumerate(texts, start=1):
                upsert(
                    "SuccessMetric",
                    {"track": track, "from_level": levels[from_level], "order": order_},
                    {"text": text, "gate_amount": income_figure(text)},
                )
        for order_, text in enumerate(tr.questions, start=1):
            upsert("SelfAssessmentQuestion", {"track": track, "order": order_}, {"text": text})
    return report
