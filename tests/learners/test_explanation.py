"""The page's "why" (``learners.explanation.explain``), the fastest way up, and the level
history as the student reads it: every branch's sentence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from learners.explanation import explain, fastest_way
from learners.models import LevelChange
from learners.placement import (
    Profile,
    Progress,
    answer_level,
    answers_holding_down,
    place,
)
from learners.progress_page import student_history
from tests.learners.test_placement import engineer, founder, seed_rules


def _surviving_work(*, linked_module: bool = True, keys: int = 9) -> Progress:
    """Modules 4-6 (or 4-5) and ``keys`` hand-ticked Surviving keys of the engineer track."""
    rules = seed_rules().tracks["engineer"]
    hand = [key.code for key in rules.keys[2] if not key.module_linked][:keys]
    modules = {4, 5, 6} if linked_module else {4, 5}
    return Progress(completed_modules=frozenset(modules), completed_keys=frozenset(hand))


def _why(profile: Profile, progress: Progress | None = None) -> tuple[str, ...]:
    rules = seed_rules()
    return explain(rules, profile, place(rules, profile, progress or Progress()))


def test_no_self_assessment():
    assert _why(Profile(track="engineer")) == (
        "You haven't filled in the self-assessment yet, so you start at Struggling.",
    )


def test_figure_and_answers_agree():
    assert _why(engineer(170_000, explain=True)) == (
        "Your annual total compensation of $170,000 is in the Surviving band, and your answers "
        "match it: you start at Surviving.",
    )


def test_answers_below_the_band_name_the_answers_that_hold_the_level_down():
    assert _why(engineer(250_000, explain=True)) == (
        "Your annual total compensation of $250,000 is in the Thriving band, but your answers "
        "hold you at Surviving: you can't yet implement MoE or MLA from scratch and interviewers "
        "see you as an API integrator, not a production architect.",
    )
    assert _why(engineer(350_000, implement=True, seen="architect", leads=True)) == (
        "Your annual total compensation of $350,000 is in the Driving band, but your answers "
        "hold you at Thriving: you haven't deployed a production system at scale.",
    )
    assert _why(founder(mrr=300_000, owns=False)) == (
        "Your monthly recurring revenue of $300,000 is in the Thriving band, but your answers "
        "hold you at Surviving: you rent capability rather than own model weights.",
    )


def test_answers_above_the_band():
    assert _why(engineer(170_000, implement=True, seen="architect")) == (
        "Your answers match Thriving, but your annual total compensation of $170,000 is in the "
        "Surviving band ($150,000–$199,999), so you start at Surviving.",
    )


def test_blank_figure():
    assert _why(engineer(None, explain=True)) == (
        "You didn't give your annual total compensation, so your answers alone place you at "
        "Surviving: you can't yet implement MoE or MLA from scratch and interviewers see you as "
        "an API integrator, not a production architect.",
    )
    assert _why(engineer(None, implement=True, seen="architect", deployed=True, leads=True)) == (
        "You didn't give your annual total compensation, so your answers alone place you at "
        "Driving.",
    )


def test_what_progress_added():
    why = _why(engineer(210_000, explain=True), _surviving_work())
    assert why[1] == (
        "Your progress took you up to Thriving: you finished modules 4–6 and 10 of 12 Surviving "
        "keys."
    )
    assert len(why) == 2


@pytest.mark.parametrize(
    ("figure", "gate_sentence"),
    [
        (
            170_000,
            "(you gave $170,000): update your self-assessment when you get there.",
        ),
        (None, ": give it in your self-assessment when you get there."),
    ],
)
def test_held_by_an_income_gate(figure, gate_sentence):
    why = _why(engineer(figure, explain=True), _surviving_work())
    assert why[-1] == (
        "You have done the Surviving work; Thriving also needs your annual total compensation "
        "to be $200,000 or more " + gate_sentence
    ).replace("more :", "more:")


def test_the_answer_conditions_are_the_rule():
    # The explanation reads the same conditions the rule places by.
    profile = engineer(None, explain=True, implement=True, seen="architect", deployed=True)
    assert answer_level(profile) == 3
    assert answers_holding_down(profile, 4) == ("you use APIs rather than lead AI initiatives",)
    assert answer_level(Profile(track=None)) == 1
    assert answer_level(founder()) == 2


# --- The fastest way up ---------------------------------------------------------------------


def test_finishing_a_module_alone_is_enough_when_its_linked_key_completes_the_count():
    rules = seed_rules()
    placement = place(rules, engineer(210_000, explain=True), _surviving_work(linked_module=False))
    assert placement.next_steps.modules == (6,)
    assert placement.next_steps.modules_alone_enough
    assert fastest_way(placement, "Thriving") == (
        "To reach Thriving: finish module 6 (that alone is enough: it also completes the keys "
        "linked to it)."
    )
    # Module-linked keys are never offered as keys to tick.
    assert all(not key.module_linked for key in placement.next_steps.tickable_keys)


def test_modules_and_keys_both_needed():
    rules = seed_rules()
    placement = place(
        rules, engineer(210_000, explain=True), _surviving_work(linked_module=False, keys=5)
    )
    # The key module 6 completes is said, so the count adds up to the meter's.
    assert fastest_way(placement, "Thriving") == (
        "To reach Thriving: finish module 6 and tick 4 more Surviving keys; finishing module 6 "
        "also completes 1 key linked to it, which makes the 5 keys the meter still needs."
    )
    assert placement.next_steps.keys_done == 5
    assert placement.next_steps.keys_required == 10
    assert (placement.next_steps.modules_done, placement.next_steps.modules_total) == (2, 3)


# --- The history as the student reads it ---------------------------------------------------

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _change(pk, from_level, to_level, minutes, *, undo=False):
    return LevelChange(
        id=pk,
        from_level=from_level,
        to_level=to_level,
        changed_at=T0 + timedelta(minutes=minutes),
        undo=undo,
    )


def _read(changes):
    names = {1: "Struggling", 2: "Surviving", 3: "Thriving", 4: "Driving"}
    return [
        ("placed" if e.placed else "moved", e.from_name, e.to_name)
        for e in student_history(changes, level_name=names.get)
    ]


def test_the_placement_reads_as_where_the_learner_started():
    assert _read([_change(1, None, 2, 0)]) == [("placed", "", "Surviving")]
    # A change with a "from" is a move, however soon after the self-assessment.
    assert _read([_change(1, None, 2, 0), _change(2, 2, 3, 0.5)]) == [
        ("moved", "Surviving", "Thriving"),
        ("placed", "", "Surviving"),
    ]


def test_only_a_toast_undo_leaves_the_history_with_what_it_undid():
    placed, up = _change(1, None, 2, 0), _change(2, 2, 3, 60)
    undo = _change(3, 3, 2, 61, undo=True)
    assert _read([placed, up, undo]) == [("placed", "", "Surviving")]
    # The same move back made deliberately (not from the toast), even a minute later, stays.
    back = _change(3, 3, 2, 61)
    assert _read([placed, up, back]) == [
        ("moved", "Thriving", "Surviving"),
        ("moved", "Surviving", "Thriving"),
        ("placed", "", "Surviving"),
    ]
    # A self-assessment that lowers the level right after placement stays too.
    assert _read([placed, _change(2, 2, 1, 1)]) == [
        ("moved", "Surviving", "Struggling"),
        ("placed", "", "Surviving"),
    ]


def test_the_fastest_way_explains_the_key_its_modules_complete():
    rules = seed_rules()
    placement = place(
        rules, engineer(210_000, explain=True), _surviving_work(linked_module=False, keys=0)
    )
    steps = placement.next_steps
    linked = steps.keys_needed - steps.keys_after_modules
    assert linked > 0
    sentence = fastest_way(placement, "Thriving")
    assert f"tick {steps.keys_after_modules} more Surviving keys" in sentence
    assert f"also completes {linked} key" in sentence
    assert f"makes the {steps.keys_needed} keys the meter still needs" in sentence


# --- Founders whose answers cannot tell Struggling from Surviving ---------------------------


def _founder(mrr: int, **answers) -> Profile:
    values = dict(owns_model_weights=False, replicable_by_competitors=True, investor_fundable=False)
    values.update(answers)
    return Profile(track="founder", submitted=True, monthly_recurring_revenue=mrr, **values)


def test_a_pre_revenue_founder_renting_apis_is_never_told_the_answers_match_surviving():
    """The seed calls "pre-revenue or <$50K MRR, 100% API dependent, no moat" Struggling: the
    answers of that profile fit Struggling and Surviving alike, and the figure decides."""
    rules = seed_rules()
    profile = _founder(0)
    placement = place(rules, profile, Progress())
    assert placement.level == 1
    for sentence in (*placement.reasons, *explain(rules, profile, placement)):
        assert "match Surviving" not in sentence
    assert "Your answers fit Struggling and Surviving alike, so your monthly recurring revenue" in (
        " ".join(placement.reasons)
    )
    (why,) = explain(rules, profile, placement)
    assert why.startswith("Your answers fit Struggling and Surviving alike")
    assert "$0 is in the Struggling band" in why and why.endswith("you start at Struggling.")


def test_the_same_answers_with_surviving_revenue_start_at_surviving_by_the_figure():
    rules = seed_rules()
    profile = _founder(80_000)
    placement = place(rules, profile, Progress())
    assert placement.level == 2
    (why,) = explain(rules, profile, placement)
    assert "$80,000 is in the Surviving band" in why and why.endswith("start at Surviving.")


# --- Continue: the fastest way up ------------------------------------------------------------


def _continue(profile: Profile, progress: Progress, urls=None):
    import dataclasses

    from learners.progress_page import continue_action

    rules = seed_rules()
    if urls:
        rules = dataclasses.replace(rules, module_urls=urls)
    return continue_action(place(rules, profile, progress), rules)


def test_continue_is_the_next_module_of_the_learners_own_stage_at_its_course_url():
    action = _continue(
        engineer(210_000, explain=True),
        Progress(completed_modules=frozenset({4})),
        urls={5: "https://learn.example.com/m5/"},
    )
    assert action["label"].startswith("Continue Module 5:")
    assert action["url"] == "https://learn.example.com/m5/" and action["external"]
    # Without a course URL: the module on the page.
    action = _continue(engineer(210_000, explain=True), Progress(frozenset({4})))
    assert action["url"] == "#module-5" and not action["external"]


def test_continue_never_names_a_module_of_a_review_stage():
    # Placed at Thriving by figure and answers, Foundation (1-3) never done: modules 7-9.
    action = _continue(engineer(230_000, implement=True, seen="architect"), Progress())
    assert action["label"].startswith("Continue Module 7:")


def test_held_only_by_the_income_gate_continue_is_updating_the_figure():
    rules = seed_rules().tracks["engineer"]
    hand = frozenset(key.code for key in rules.keys[2] if not key.module_linked)
    action = _continue(
        engineer(160_000, explain=True),
        Progress(completed_modules=frozenset({4, 5, 6}), completed_keys=hand),
    )
    assert action["label"] == "Update your figure when it changes"
    assert action["url"] == "/profile/"


def test_at_driving_continue_is_the_keys_that_keep_the_level_or_nothing():
    driving = engineer(
        350_000, explain=True, implement=True, deployed=True, seen="architect", leads=True
    )
    action = _continue(driving, Progress())
    assert action["label"].startswith("Keep your edge:") and action["url"].startswith("#key-")
    rules = seed_rules().tracks["engineer"]
    every = frozenset(key.code for key in rules.keys[4] if not key.module_linked)
    everything = Progress(completed_modules=frozenset(range(1, 10)), completed_keys=every)
    assert _continue(driving, everything) is None
