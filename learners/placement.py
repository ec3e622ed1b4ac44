"""The placement rule: where a learner stands on the pyramid, why, and what moves them up.

Pure functions over plain data (no database), so the rule reads like PRODUCT.md and is
tested exhaustively. ``curriculum.selectors`` and ``learners.selectors`` build the inputs
from the database; ``learners.services`` writes the result.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, make_dataclass
from decimal import Decimal

from curriculum.rules import BandRule, CurriculumRules, KeyRule, TrackRules

from .assessment import BY_NAME, CURRENCY, QUESTIONS, blank, is_blank

MAX_LEVEL = 4


# The self-assessment as the rule reads it: ``track``, ``submitted`` (False means none of the
# answers count yet) and one attribute per question of ``learners.assessment``, blank by
# default. Derived from the questions, so a new question needs no edit here.
Profile = make_dataclass(
    "Profile",
    [
        ("track", "str | None", field(default=None)),
        ("submitted", bool, field(default=False)),
        *((question.name, object, field(default=blank(question.name))) for question in QUESTIONS),
    ],
    frozen=True,
)
Profile.__module__ = __name__  # make_dataclass would name the dataclasses module


@dataclass(frozen=True)
class Progress:
    completed_modules: frozenset[int] = frozenset()
    completed_keys: frozenset[str] = frozenset()  # codes ticked by hand (or by import)


@dataclass(frozen=True)
class NextSteps:
    level: int
    modules: tuple[int, ...] = ()
    open_keys: tuple[KeyRule, ...] = ()
    keys_needed: int = 0
    maintaining: bool = False
    gate_amount: int | None = None  # the income gate still to reach, if any
    # The meter toward the next level: keys done of the keys needed, modules of the stage.
    keys_done: int = 0
    keys_required: int = 0
    modules_total: int = 0
    # The fastest way up: open keys a learner ticks by hand (module-linked keys follow their
    # modules), and how many of them are still needed once the open modules are finished
    # (finishing them also does their linked keys); 0 means the modules alone are enough.
    tickable_keys: tuple[KeyRule, ...] = ()
    keys_after_modules: int = 0

    @property
    def modules_done(self) -> int:
        return self.modules_total - len(self.modules)

    @property
    def modules_alone_enough(self) -> bool:
        return bool(self.modules) and self.keys_needed > 0 and self.keys_after_modules == 0


@dataclass(frozen=True)
class Placement:
    level: int
    level_name: str
    profile_level: int
    band_level: int | None = None
    answer_level: int | None = None
    # What the rule read, kept for the "why" (learners.explanation) to say, not derive again:
    # the figure of the track's currency question, its band, and the levels the answers
    # cannot tell apart (the figure decides between them).
    amount: int | None = None
    band: BandRule | None = None
    answers_alike: tuple[int, ...] = ()
    reasons: tuple[str, ...] = ()
    next_steps: NextSteps = field(default_factory=lambda: NextSteps(level=1))
    done_keys: frozenset[str] = frozenset()
    api_cost_share: Decimal | None = None


def usd(amount: int) -> str:
    return f"${amount:,}"


def band_label(band: BandRule) -> str:
    if band.max_amount is None:
        return f"{usd(band.min_amount)} and above"
    return f"{usd(band.min_amount)}–{usd(band.max_amount - 1)}"


def module_list(numbers: list[int] | tuple[int, ...]) -> str:
    """[4, 5, 6] -> '4–6'; [1, 3] -> '1 and 3'."""
    numbers = sorted(numbers)
    if len(numbers) > 2 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"{numbers[0]}–{numbers[-1]}"
    words = [str(n) for n in numbers]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


@dataclass(frozen=True)
class AnswerCondition:
    """One answer a level of the self-assessment asks for: the answers place a learner at
    the highest level whose conditions, and those of every level below it, are all met."""

    level: int
    met: Callable[[Profile], bool]
    unmet: str  # what the learner's answers said instead, as the reason they stop below


# The one home of what the answers ask for at each level (PRODUCT.md, "answer level").
ANSWER_CONDITIONS: dict[str, tuple[AnswerCondition, ...]] = {
    "engineer": (
        AnswerCondition(
            2,
            lambda p: bool(p.can_explain_concepts or p.can_implement_from_scratch),
            "you can't yet explain how MoE, MLA and FP8 work",
        ),
        AnswerCondition(
            3,
            lambda p: bool(p.can_implement_from_scratch),
            "you can't yet implement MoE or MLA from scratch",
        ),
        AnswerCondition(
            3,
            lambda p: p.seen_as == "architect",
            "interviewers see you as an API integrator, not a production architect",
        ),
        AnswerCondition(
            4,
            lambda p: bool(p.deployed_at_scale),
            "you haven't deployed a production system at scale",
        ),
        AnswerCondition(
            4, lambda p: bool(p.leads_initiatives), "you use APIs rather than lead AI initiatives"
        ),
    ),
    # A founder's answers place them at Surviving at least: level 2 asks for nothing.
    "founder": (
        AnswerCondition(
            3,
            lambda p: bool(p.owns_model_weights),
            "you rent capability rather than own model weights",
        ),
        AnswerCondition(
            4,
            lambda p: p.replicable_by_competitors is False,
            "competitors could replicate your product with the same APIs",
        ),
        AnswerCondition(
            4,
            lambda p: bool(p.investor_fundable),
            "investors wouldn't fund your own technology yet",
        ),
    ),
}


def answer_level(profile: Profile) -> int:
    level = 1
    conditions = ANSWER_CONDITIONS.get(profile.track or "")
    if conditions is None:  # no track: no answers to read
        return level
    while level < MAX_LEVEL and all(
        condition.met(profile) for condition in conditions if condition.level == level + 1
    ):
        level += 1
    return level


def answer_floor(track: str | None) -> int:
    """The lowest level any answers of the track give (a founder's: Surviving, as level 2
    asks for nothing). Below it the answers cannot tell levels apart: the figure decides."""
    conditions = ANSWER_CONDITIONS.get(track or "", ())
    level = 1
    while level < MAX_LEVEL and not any(c.level == level + 1 for c in conditions):
        level += 1
    return level


def answers_undecided(profile: Profile, answer: int) -> tuple[int, ...]:
    """The levels the answers fit alike, when they cannot tell them apart (else ())."""
    floor = answer_floor(profile.track)
    return tuple(range(1, floor + 1)) if answer == floor > 1 else ()


def answers_holding_down(profile: Profile, target: int) -> tuple[str, ...]:
    """Which answers keep the learner's answer level below ``target``: the unmet conditions
    of the levels above their answer level, up to ``target``."""
    reached = answer_level(profile)
    return tuple(
        condition.unmet
        for condition in ANSWER_CONDITIONS.get(profile.track or "", ())
        if reached < condition.level <= target and not condition.met(profile)
    )


def currency_amount(profile: Profile) -> int | None:
    """The learner's answer to their track's currency question (None: no track or no answer)."""
    name = CURRENCY.get(profile.track or "")
    return getattr(profile, name) if name else None


def keys_required(rules: TrackRules, level: int) -> int:
    """⌈t × n⌉ keys of the level, t the track's graduation threshold."""
    n = len(rules.keys.get(level, ()))
    return math.ceil(Decimal(rules.threshold) * n)


def done_keys(rules: TrackRules, progress: Progress) -> frozenset[str]:
    """Ticked keys plus module-linked keys whose modules are all completed."""
    done = set()
    for keys in rules.keys.values():
        for key in keys:
            if key.module_linked:
                if key.module_numbers <= progress.completed_modules:
                    done.add(key.code)
            elif key.code in progress.completed_keys:
                done.add(key.code)
    return frozenset(done)


def place(curriculum: CurriculumRules, profile: Profile, progress: Progress) -> Placement:
    name = curriculum.level_name
    rules = curriculum.tracks.get(profile.track or "")
    reasons: list[str] = []

    band_level = answer = amount = band = None
    alike: tuple[int, ...] = ()
    if rules is None or not profile.submitted:
        profile_level = 1
        reasons.append(
            f"You have not filled in the self-assessment yet, so you start at {name(1)}."
        )
    else:
        amount = currency_amount(profile)
        band = rules.band_level(amount) if amount is not None else None
        answer = answer_level(profile)
        if band is None:
            profile_level = answer
            reasons.append(
                f"You did not give your {rules.currency_metric}, so your answers alone "
                f"place you at {name(answer)}."
            )
        else:
            band_level = band.level
            reasons.append(
                f"Your {rules.currency_metric} of {usd(amount)} is in the {name(band.level)} "
                f"band ({band_label(band)})."
            )
            profile_level = min(band.level, answer)
            alike = answers_undecided(profile, answer)
            if alike and band.level <= answer:
                # The seed tells these levels apart by the amount alone.
                reasons.append(
                    f"Your answers fit {' and '.join(name(n) for n in alike)} alike, so your "
                    f"{rules.currency_metric} decides: {name(profile_level)}."
                )
            elif alike:
                reasons.append(f"Your answers place you no higher than {name(answer)}.")
                reasons.append(f"You are placed at the lower of the two: {name(profile_level)}.")
            else:
                reasons.append(f"Your answers match {name(answer)}.")
                if band.level != answer:
                    reasons.append(
                        f"You are placed at the lower of the two: {name(profile_level)}."
                    )

    if rules is None:
        return Placement(
            level=1,
            level_name=name(1),
            profile_level=1,
            reasons=tuple(reasons),
            next_steps=NextSteps(level=1),
        )

    done = done_keys(rules, progress)
    level = profile_level
    while level < MAX_LEVEL:
        modules = rules.stage_modules.get(level, ())
        level_keys = rules.keys.get(level, ())
        n_done = sum(1 for key in level_keys if key.code in done)
        needed = keys_required(rules, level)
        modules_done = set(modules) <= progress.completed_modules
        gate = rules.gates.get(level)
        gate_met = gate is None or (amount is not None and amount >= gate)
        if modules_done and n_done >= needed and gate_met:
            reasons.append(
                _progress_sentence(modules, n_done, len(level_keys), name(level))
                + f", so you advanced to {name(level + 1)}."
            )
            level += 1
            continue
        if modules_done and n_done >= needed:
            reasons.append(
                _progress_sentence(modules, n_done, len(level_keys), name(level))
                + "; "
                + gate_sentence(rules, name(level + 1), gate, amount)
            )
            break
        missing = [m for m in modules if m not in progress.completed_modules]
        todo = []
        if missing:
            todo.append(f"module{'s' if len(missing) > 1 else ''} {module_list(missing)}")
        if n_done < needed:
            todo.append(
                f"{needed - n_done} more {name(level)} key{'s' if needed - n_done > 1 else ''}"
            )
        reasons.append(
            f"To advance to {name(level + 1)}, complete {' and '.join(todo)} "
            f"(you have done {n_done} of {len(level_keys)} {name(level)} keys; "
            f"{needed} are needed)."
        )
        if not gate_met:
            reasons.append(gate_sentence(rules, name(level + 1), gate, amount))
        break

    return Placement(
        level=level,
        level_name=name(level),
        profile_level=profile_level,
        band_level=band_level,
        answer_level=answer,
        amount=amount,
        band=band,
        answers_alike=alike,
        reasons=tuple(reasons),
        next_steps=_next_steps(rules, level, progress, done, amount),
        done_keys=done,
        api_cost_share=_api_cost_share(profile),
    )


def gate_sentence(rules: TrackRules, next_name: str, gate: int, figure: int | None) -> str:
    """What an income gate still asks of the learner (the document's success metric)."""
    needs = f"{next_name} also needs your {rules.currency_metric} to be {usd(gate)} or more"
    if figure is None:
        return f"{needs}: give it in your self-assessment when you get there."
    return f"{needs} (you gave {usd(figure)}): update your self-assessment when you get there."


def _progress_sentence(modules: tuple[int, ...], n_done: int, n_keys: int, level_name: str) -> str:
    keys = f"{n_done} of {n_keys} {level_name} keys"
    if not modules:
        return f"You completed {keys}"
    return (
        f"You completed module{'s' if len(modules) > 1 else ''} {module_list(modules)} and {keys}"
    )


def _next_steps(
    rules: TrackRules, level: int, progress: Progress, done: frozenset[str], figure: int | None
) -> NextSteps:
    open_keys = tuple(key for key in rules.keys.get(level, ()) if key.code not in done)
    if level >= MAX_LEVEL:
        return NextSteps(level=level, open_keys=open_keys, maintaining=True)
    modules = tuple(
        m for m in rules.stage_modules.get(level, ()) if m not in progress.completed_modules
    )
    level_keys = rules.keys.get(level, ())
    n_done = len(level_keys) - len(open_keys)
    required = keys_required(rules, level)
    gate = rules.gates.get(level)
    after = done_keys(
        rules,
        Progress(
            completed_modules=progress.completed_modules | frozenset(modules),
            completed_keys=progress.completed_keys,
        ),
    )
    return NextSteps(
        level=level,
        modules=modules,
        open_keys=open_keys,
        keys_needed=max(0, required - n_done),
        gate_amount=gate if gate is not None and (figure is None or figure < gate) else None,
        keys_done=n_done,
        keys_required=required,
        modules_total=len(rules.stage_modules.get(level, ())),
        tickable_keys=tuple(key for key in open_keys if not key.module_linked),
        keys_after_modules=max(0, required - sum(1 for key in level_keys if key.code in after)),
    )


def _api_cost_share(profile: Profile) -> Decimal | None:
    # The API costs' share of the track's revenue, on the track that asks for those costs.
    revenue = currency_amount(profile)
    if BY_NAME["monthly_api_cost"].track != profile.track:
        return None
    if is_blank(profile.monthly_api_cost) or not revenue:
        return None
    return Decimal(profile.monthly_api_cost) / Decimal(revenue)
