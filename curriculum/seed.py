"""Read the client's framework document (Markdown) into plain data.

The document is the single source of every curriculum fact. This module only understands
its layout (headings, bold labels, bullets); it knows none of the facts themselves, so an
edited document loads without a code change. ``load_curriculum`` writes the result to the
database.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
SEED_PATH = DATA_DIR / "profit-pyramid.md"
MODULES_PATH = DATA_DIR / "modules.json"
# Which of a level's two "Focus" headlines belongs to which track (the document does not
# say; the client's choice).
HEADLINES_PATH = DATA_DIR / "headlines.json"


class SeedError(ValueError):
    """The document does not have the layout this reader expects."""


@dataclass
class KeySeed:
    code: str
    order: int
    verb: str
    text: str
    module_numbers: list[int]


@dataclass
class TrackLevelSeed:
    level: int
    heading_range: str
    currency_metric: str
    min_amount: int
    max_amount: int | None
    symptoms_heading: str
    symptoms: list[tuple[str, int]]  # (text, depth)
    keys_heading: str
    keys: list[KeySeed]
    module_alignment: str
    self_assessment_summary: str = ""


@dataclass
class TrackSeed:
    slug: str
    name: str
    currency_metric: str
    levels: list[TrackLevelSeed]
    questions: list[str] = field(default_factory=list)
    success_metrics: dict[int, list[str]] = field(default_factory=dict)


@dataclass
class LevelSeed:
    number: int
    name: str
    description: str
    headlines: tuple[str, ...] = ()
    pain: str = ""
    promise: str = ""
    offer: str = ""


@dataclass
class StageSeed:
    name: str
    order: int
    summary: str
    serves_level: int
    module_numbers: list[int]
    bullets: list[str]


@dataclass
class ModuleSeed:
    number: int
    title: str


@dataclass
class CurriculumSeed:
    levels: list[LevelSeed]
    tracks: list[TrackSeed]
    stages: list[StageSeed]
    modules: list[ModuleSeed]


_MONEY = r"\$([\d,]+(?:\.\d+)?)([KM]?)"
_BULLET = re.compile(r"^(?P<indent> *)- (?P<text>.+)$")
_BOLD_LEAD = re.compile(r"^\*\*(?P<bold>[^*]+)\*\*\s*(?P<rest>.*)$")
_MODULE_RANGE = re.compile(r"Modules (\d+)-(\d+)")


def money(text: str) -> int:
    match = re.search(_MONEY, text)
    if not match:
        raise SeedError(f"no dollar amount in {text!r}")
    number = float(match.group(1).replace(",", ""))
    scale = {"": 1, "K": 1_000, "M": 1_000_000}[match.group(2)]
    return int(number * scale)


def module_range(text: str) -> list[int]:
    match = _MODULE_RANGE.search(text)
    if not match:
        return []
    first, last = int(match.group(1)), int(match.group(2))
    return list(range(first, last + 1))


def title_case(heading: str) -> str:
    """'PRODUCTION-READY AI ENGINEERS' -> 'Production-Ready AI Engineers'."""

    def word(w: str) -> str:
        if not w.isupper() or len(w) <= 2:
            return w
        return "-".join(part.capitalize() for part in w.split("-"))

    return " ".join(word(w) for w in heading.split())


def _sections(lines: list[str], prefix: str) -> list[tuple[str, list[str]]]:
    """Split lines at headings starting with ``prefix`` (e.g. '## ')."""
    out: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.startswith(prefix):
            out.append((line[len(prefix) :].strip(), []))
        elif out:
            if line.startswith("#") and len(line) - len(line.lstrip("#")) < len(prefix.strip()):
                break
            out[-1][1].append(line)
    return out


def _labelled_blocks(lines: list[str]) -> list[tuple[str, str, list[str]]]:
    """Blocks that start with a bold label line: (label, text after the label, lines)."""
    blocks: list[tuple[str, str, list[str]]] = []
    for line in lines:
        match = _BOLD_LEAD.match(line.strip())
        if match and not line.startswith("-") and match.group("bold").endswith(":"):
            blocks.append((match.group("bold").rstrip(":"), match.group("rest").strip(), []))
        elif blocks:
            blocks[-1][2].append(line)
    return blocks


def _bullets(lines: list[str]) -> list[tuple[str, int]]:
    out = []
    for line in lines:
        match = _BULLET.match(line.rstrip())
        if match:
            out.append((match.group("text").strip(), len(match.group("indent")) // 2))
    return out


def _block(blocks: list[tuple[str, str, list[str]]], starts: str) -> tuple[str, str, list[str]]:
    for block in blocks:
        if block[0].startswith(starts):
            return block
    raise SeedError(f"no **{starts}…** block")


def parse(text: str, module_titles: dict[int, str] | None = None) -> CurriculumSeed:
    lines = text.splitlines()
    levels = _parse_levels(lines)
    level_numbers = {lvl.name.lower(): lvl.number for lvl in levels}
    top = _sections(lines, "## ")
    tracks = [
        _parse_track(title, body)
        for title, body in top
        if title.upper().startswith("PROFIT PYRAMID:")
    ]
    if not tracks:
        raise SeedError("no '## PROFIT PYRAMID: …' track sections")
    sections = dict(top)
    _parse_self_assessment(_find(sections, "SELF-ASSESSMENT"), tracks, level_numbers)
    _parse_targeting(_find(sections, "TARGETING"), levels, level_numbers)
    _parse_success_metrics(_find(sections, "SUCCESS METRICS"), tracks)
    stages = _parse_stages(_find(sections, "MAPPING MODULES"), level_numbers)
    numbers = sorted({n for stage in stages for n in stage.module_numbers})
    titles = module_titles if module_titles is not None else load_module_titles()
    modules = [ModuleSeed(number=n, title=titles.get(n, f"Module {n}")) for n in numbers]
    return CurriculumSeed(levels=levels, tracks=tracks, stages=stages, modules=modules)


def load_module_titles() -> dict[int, str]:
    if not MODULES_PATH.exists():
        return {}
    return {int(k): v for k, v in json.loads(MODULES_PATH.read_text()).items()}


def load_track_headlines() -> dict[tuple[str, int], str]:
    """(track slug, level) -> the level's headline in that track's emails."""
    if not HEADLINES_PATH.exists():
        return {}
    data = json.loads(HEADLINES_PATH.read_text())
    return {
        (slug, int(level)): text for slug, levels in data.items() for level, text in levels.items()
    }


def read_seed(path: Path = SEED_PATH) -> CurriculumSeed:
    return parse(path.read_text(encoding="utf-8"))


def _find(sections: dict[str, list[str]], starts: str) -> list[str]:
    for title, body in sections.items():
        if title.upper().startswith(starts):
            return body
    raise SeedError(f"no '## {starts}…' section")


def _parse_levels(lines: list[str]) -> list[LevelSeed]:
    pattern = re.compile(r"^(\d+)\. \*\*(\w+)\*\* - (.+)$")
    levels = [
        LevelSeed(number=int(m.group(1)), name=m.group(2), description=m.group(3).strip())
        for m in (pattern.match(line.strip()) for line in lines)
        if m
    ]
    if not levels:
        raise SeedError("no numbered level list ('1. **Struggling** - …')")
    return levels


def _parse_track(title: str, body: list[str]) -> TrackSeed:
    name = title_case(title.split(":", 1)[1].strip())
    track_levels = []
    for heading, section in _sections(body, "### "):
        match = re.match(r"Level (\d+): \w+ \((.+)\)$", heading)
        if not match:
            continue
        blocks = _labelled_blocks(section)
        symptoms_label, _, symptom_lines = _block(blocks, "Symptoms")
        keys_label, _, key_lines = _block(blocks, "Keys to Success")
        _, currency_text, _ = _block(blocks, "Currency Metric")
        _, alignment, _ = _block(blocks, "Module Alignment")
        track_levels.append(
            TrackLevelSeed(
                level=int(match.group(1)),
                heading_range=match.group(2),
                currency_metric=currency_text,
                min_amount=money(currency_text),
                max_amount=None,
                symptoms_heading=_paren(symptoms_label),
                symptoms=_bullets(symptom_lines),
                keys_heading=_paren(keys_label),
                keys=[],
                module_alignment=alignment,
            )
        )
        track_levels[-1].keys = [_key(text) for text, _ in _bullets(key_lines)]
    if not track_levels:
        raise SeedError(f"track {name!r} has no '### Level N: …' sections")
    track_levels.sort(key=lambda tl: tl.level)
    # Bands are half-open [min, max): each band ends where the next one starts; the lowest
    # starts at zero so that every amount has a band.
    track_levels[0].min_amount = 0
    for lower, upper in zip(track_levels, track_levels[1:], strict=False):
        lower.max_amount = upper.min_amount
    metric = re.sub(
        r"^[$\d,.\sKM+-]+", "", track_levels[min(1, len(track_levels) - 1)].currency_metric
    )
    return TrackSeed(slug="", name=name, currency_metric=metric.strip(), levels=track_levels)


def _paren(label: str) -> str:
    match = re.search(r"\((.+)\)", label)
    return match.group(1) if match else ""


def _key(text: str) -> KeySeed:
    match = _BOLD_LEAD.match(text)
    if not match:
        raise SeedError(f"key without a bold verb: {text!r}")
    rest = match.group("rest")
    modules = module_range(rest) if rest.startswith("Modules") else []
    return KeySeed(code="", order=0, verb=match.group("bold"), text=rest, module_numbers=modules)


def _match_track(tracks: list[TrackSeed], heading: str) -> TrackSeed:
    word = heading.strip().rstrip(":").split()[-1]
    for track in tracks:
        if word.lower() in track.name.lower():
            return track
    raise SeedError(f"no track matches heading {heading!r}")


def _parse_self_assessment(
    body: list[str], tracks: list[TrackSeed], level_numbers: dict[str, int]
) -> None:
    for heading, section in _sections(body, "### "):
        track = _match_track(tracks, heading)
        word = heading.strip().rstrip(":").split()[-1].lower()
        track.slug = word[:-1] if word.endswith("s") else word
        blocks = _labelled_blocks(section)
        _, _, question_lines = _block(blocks, "Ask yourself")
        track.questions = [
            m.group(1).strip()
            for m in (re.match(r"^\d+\. (.+)$", line.strip()) for line in question_lines)
            if m
        ]
        _, _, summary_lines = _block(blocks, "Your Level")
        for text, _ in _bullets(summary_lines):
            match = _BOLD_LEAD.match(text)
            if not match:
                continue
            number = level_numbers[match.group("bold").rstrip(":").lower()]
            for track_level in track.levels:
                if track_level.level == number:
                    track_level.self_assessment_summary = match.group("rest")
    for track in tracks:
        if not track.slug:
            raise SeedError(f"track {track.name!r} has no self-assessment section")
        for track_level in track.levels:
            for order, key in enumerate(track_level.keys, start=1):
                key.order = order
                key.code = f"{track.slug}-{track_level.level}-{order:02d}"


def _parse_targeting(
    body: list[str], levels: list[LevelSeed], level_numbers: dict[str, int]
) -> None:
    by_number = {lvl.number: lvl for lvl in levels}
    for label, _, lines in _labelled_blocks(body):
        name = label.split("(")[0].strip().lower()
        if name not in level_numbers:
            continue
        level = by_number[level_numbers[name]]
        for text, _ in _bullets(lines):
            key, _, value = text.partition(":")
            attr = key.strip().lower()
            if attr == "focus":
                level.headlines = headlines(value)
            elif attr in {"pain", "promise", "offer"}:
                setattr(level, attr, value.strip())


_QUOTED = re.compile(r"[\"“]([^\"”]+)[\"”]")


def headlines(focus: str) -> tuple[str, ...]:
    """The alternative headlines of a "Focus" line ('"Reach elite level" or "Build frontier
    systems at scale"' -> both, without quotes); an unquoted line is one headline."""
    quoted = tuple(text.strip() for text in _QUOTED.findall(focus) if text.strip())
    return quoted or ((focus.strip(),) if focus.strip() else ())


_DOLLAR_FIGURE = re.compile(r"\$(\d+(?:\.\d+)?)\s*([KkMm]?)")
_SCALE = {"": 1, "k": 1_000, "m": 1_000_000}


def income_figure(text: str) -> int | None:
    """The first dollar figure of a success metric ("Earned $200K-$300K salary" -> 200000,
    "Scaled to $1M+ MRR ($12M+ ARR)" -> 1000000): the income gate of its transition.
    None when the line names no figure."""
    match = _DOLLAR_FIGURE.search(text)
    if match is None:
        return None
    number, scale = match.groups()
    return round(float(number) * _SCALE[scale.lower()])


def _parse_success_metrics(body: list[str], tracks: list[TrackSeed]) -> None:
    for heading, section in _sections(body, "### "):
        track = _match_track(tracks, heading)
        for label, _, lines in _labelled_blocks(section):
            match = re.match(r"Level (\d+) → Level (\d+) Success", label)
            if match:
                track.success_metrics[int(match.group(1))] = [t for t, _ in _bullets(lines)]


def _parse_stages(body: list[str], level_numbers: dict[str, int]) -> list[StageSeed]:
    stages = []
    for order, (heading, section) in enumerate(_sections(body, "### "), start=1):
        match = re.match(r"(\w+) Stage \((.+)\)$", heading)
        if not match:
            raise SeedError(f"stage heading not understood: {heading!r}")
        serves = ""
        for line in section:
            lead = _BOLD_LEAD.match(line.strip())
            if lead and lead.group("bold").startswith("Serves"):
                serves = lead.group("rest")
        from_name = serves.split("→")[0].strip().lower()
        if from_name not in level_numbers:
            raise SeedError(f"stage {heading!r}: 'Serves:' names no level")
        stages.append(
            StageSeed(
                name=match.group(1),
                order=order,
                summary=match.group(2),
                serves_level=level_numbers[from_name],
                module_numbers=module_range(match.group(2)),
                bullets=[t for t, _ in _bullets(section)],
            )
        )
    return stages
