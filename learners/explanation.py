"""The "why" a student reads: one causal account of their placement, each fact said once.

Pure, like the rule it explains (``learners.placement``): the level history keeps the rule's
own ``Placement.reasons``; the progress page shows this.
"""

from __future__ import annotations

import re

from curriculum.rules import CurriculumRules

from .placement import (
    MAX_LEVEL,
    Placement,
    Profile,
    answers_holding_down,
    band_label,
    gate_sentence,
    module_list,
    usd,
)


def explain(curriculum: CurriculumRules, profile: Profile, placement: Placement) -> tuple[str, ...]:
    """Why the learner is at their level, as one causal account: where their figure and
    answers start them (naming the figure, and the answers that held them down), what their
    progress added, and an income gate that holds them, if one does. Unlike
    ``Placement.reasons`` (kept in the level history), each fact is said once. What the
    rule read (the figure, its band, the answers' level) comes from ``placement``; the
    profile is asked only which answers held the learner down."""
    name = curriculum.level_name
    rules = curriculum.tracks.get(profile.track or "")
    if rules is None or not profile.submitted:
        return (f"You haven't filled in the self-assessment yet, so you start at {name(1)}.",)
    sentences = []
    start, answers = placement.profile_level, placement.answer_level
    amount, band = placement.amount, placement.band
    if band is None:
        held = answers_holding_down(profile, answers + 1) if answers < MAX_LEVEL else ()
        sentences.append(
            f"You didn't give your {rules.currency_metric}, so your answers alone place you at "
            f"{name(answers)}" + (f": {_and(held)}." if held else ".")
        )
    else:
        figure = f"Your {rules.currency_metric} of {usd(amount)} is in the {name(band.level)} band"
        alike = placement.answers_alike
        if alike and band.level <= answers:
            sentences.append(
                f"Your answers fit {' and '.join(name(n) for n in alike)} alike (the "
                f"self-assessment's questions cannot tell them apart); your "
                f"{rules.currency_metric} decides: {usd(amount)} is in the {name(band.level)} "
                f"band ({band_label(band)}), so you start at {name(start)}."
            )
        elif band.level == answers:
            sentences.append(f"{figure}, and your answers match it: you start at {name(start)}.")
        elif answers < band.level:
            held = answers_holding_down(profile, band.level)
            sentences.append(
                f"{figure}, but your answers hold you at {name(answers)}: {_and(held)}."
            )
        else:
            sentences.append(
                f"Your answers match {name(answers)}, but your {rules.currency_metric} of "
                f"{usd(amount)} is in the {name(band.level)} band "
                f"({band_label(band)}), so you start at {name(start)}."
            )
    if placement.level > start:
        steps = []
        for level in range(start, placement.level):
            modules = rules.stage_modules.get(level, ())
            level_keys = rules.keys.get(level, ())
            n_done = sum(1 for key in level_keys if key.code in placement.done_keys)
            work = f"{n_done} of {len(level_keys)} {name(level)} keys"
            if modules:
                work = f"module{'s' if len(modules) > 1 else ''} {module_list(modules)} and {work}"
            steps.append(work)
        sentences.append(
            f"Your progress took you up to {name(placement.level)}: you finished "
            f"{'; then '.join(steps)}."
        )
    steps = placement.next_steps
    if (
        steps.gate_amount is not None
        and not steps.modules
        and not steps.keys_needed
        and not steps.maintaining
    ):
        sentences.append(
            f"You have done the {name(placement.level)} work; "
            + gate_sentence(rules, name(placement.level + 1), steps.gate_amount, amount)
        )
    return tuple(sentences)


def _and(phrases: tuple[str, ...]) -> str:
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def fastest_way(placement: Placement, next_name: str) -> str:
    """The shortest honest sentence of what moves the learner up ("" at the top). Its key
    count adds up to the meter's: a key done by finishing modules is said to be."""
    steps = placement.next_steps
    if steps.maintaining:
        return ""
    parts = []
    words = ""
    if steps.modules:
        words = f"module{'s' if len(steps.modules) > 1 else ''} {module_list(steps.modules)}"
        parts.append(f"finish {words}")
    keys = steps.keys_after_modules if steps.modules else steps.keys_needed
    if keys:
        parts.append(f"tick {keys} more {placement.level_name} key{'s' if keys > 1 else ''}")
    if not parts:
        if steps.gate_amount is not None:
            return (
                f"You have done everything the {placement.level_name} stage asks; "
                f"{next_name} waits for your figure."
            )
        return f"You have done everything the {placement.level_name} stage asks."
    sentence = f"To reach {next_name}: {' and '.join(parts)}"
    if steps.modules_alone_enough:
        return sentence + " (that alone is enough: it also completes the keys linked to it)."
    linked = steps.keys_needed - keys if steps.modules else 0
    if keys and linked > 0:
        sentence += (
            f"; finishing {words} also completes {linked} key{'s' if linked > 1 else ''} "
            f"linked to {'them' if len(steps.modules) > 1 else 'it'}, which makes the "
            f"{steps.keys_needed} keys the meter still needs"
        )
    return sentence + "."


# The placement's reasons are written to the student ("your answers", "update your
# self-assessment"); the instructors' admin says them about the learner. Singular "they"
# keeps every verb as it is; the few places where "you" is an object, or the sentence asks
# the student to act, are said first.
_ABOUT_THE_LEARNER = (
    (r"\b(place|see) you\b", r"\1 them"),
    (r"^(To advance to [^,]+), complete\b", r"\1, they need to complete"),
    (
        r": (give it in|update) your self-assessment when you get there",
        r": they \1 their self-assessment when they get there",
    ),
    (r"\byourself\b", "themselves"),
    (r"\byour\b", "their"),
    (r"\bYour\b", "Their"),
    (r"\byou\b", "they"),
    (r"\bYou\b", "They"),
)


def about_the_learner(sentence: str) -> str:
    """A reason written to the student, said about them (for instructors)."""
    for pattern, replacement in _ABOUT_THE_LEARNER:
        sentence = re.sub(pattern, replacement, sentence)
    return sentence
