"""The curriculum as the placement rule sees it: plain frozen data, no database.

``curriculum.selectors`` builds it from the database (and caches it);
``learners.placement`` places a learner against it. Nothing here imports Django, so the
rule and its inputs are tested without a database.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class KeyRule:
    code: str
    level: int
    text: str
    module_numbers: frozenset[int] = frozenset()
    id: int = 0  # the database id, for forms; not used by the rule

    @property
    def module_linked(self) -> bool:
        return bool(self.module_numbers)


@dataclass(frozen=True)
class BandRule:
    level: int
    min_amount: int
    max_amount: int | None  # exclusive; None = no upper end

    def contains(self, amount: int) -> bool:
        return amount >= self.min_amount and (self.max_amount is None or amount < self.max_amount)


@dataclass(frozen=True)
class LevelTexts:
    """What the document says of one level of one track."""

    summary: str = ""  # the "Your Level" line of the self-assessment
    module_alignment: str = ""
    symptoms_heading: str = ""
    symptoms: tuple[tuple[str, int], ...] = ()  # (text, depth: 0 bullet, 1 nested)
    success_metrics: tuple[str, ...] = ()  # of the transition from this level to the next


@dataclass(frozen=True)
class TrackRules:
    slug: str
    currency_metric: str
    threshold: Decimal
    bands: tuple[BandRule, ...]
    keys: Mapping[int, tuple[KeyRule, ...]]  # by level
    stage_modules: Mapping[int, tuple[int, ...]]  # level L -> modules of the stage serving L->L+1
    name: str = ""  # shown on pages; part of the version, so a renamed track shows at once
    # Income gates: level L -> the currency figure a learner needs to be lifted to L + 1 by
    # progress (the document's success metrics; transitions without one are absent).
    gates: Mapping[int, int] = field(default_factory=dict)

    # The document's words for each level of this track (pages show them; the rule does not
    # read them). Part of the version, so an instructor's edit shows on cached pages at once.
    texts: Mapping[int, LevelTexts] = field(default_factory=dict)

    def band_level(self, amount: int) -> BandRule | None:
        for band in self.bands:
            if band.contains(amount):
                return band
        return None


@dataclass(frozen=True)
class StageInfo:
    name: str
    serves_level: int
    modules: tuple[int, ...]
    summary: str = ""
    bullets: tuple[str, ...] = ()


@dataclass(frozen=True)
class CurriculumRules:
    level_names: Mapping[int, str]
    tracks: Mapping[str, TrackRules]
    module_titles: Mapping[int, str] = field(default_factory=dict)
    module_ids: Mapping[int, int] = field(default_factory=dict)
    module_urls: Mapping[int, str] = field(default_factory=dict)  # course URL, "" = none
    stages: tuple[StageInfo, ...] = ()
    level_descriptions: Mapping[int, str] = field(default_factory=dict)  # one line per level
    # A digest of everything above (see ``with_version``): equal curricula have equal
    # versions in every process, so it can key caches of pages drawn from the curriculum.
    version: str = ""

    def level_name(self, level: int) -> str:
        return self.level_names.get(level, f"Level {level}")

    def key_rule(self, key_id: int) -> KeyRule | None:
        """The rule of the key with this id, None if these rules do not know it."""
        keys = (
            rule
            for track in self.tracks.values()
            for rules in track.keys.values()
            for rule in rules
        )
        return next((rule for rule in keys if rule.id == key_id), None)

    def with_version(self) -> CurriculumRules:
        """These rules with ``version`` set to the digest of their contents."""
        return dataclasses.replace(self, version=curriculum_digest(self))


def curriculum_digest(rules: CurriculumRules) -> str:
    """A short digest of the rules' contents, independent of dict and set ordering and of
    the process (no ``hash()``, which is salted per process for strings)."""
    text = json.dumps(_canonical(rules), separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _canonical(value):
    """Plain JSON data standing for ``value``, the same for equal values."""
    if dataclasses.is_dataclass(value):
        return [
            [f.name, _canonical(getattr(value, f.name))]
            for f in dataclasses.fields(value)
            if f.name != "version"
        ]
    if isinstance(value, Mapping):
        return sorted([_canonical(k), _canonical(v)] for k, v in value.items())
    if isinstance(value, set | frozenset):
        return sorted(_canonical(item) for item in value)
    if isinstance(value, tuple | list):
        return [_canonical(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    return value
