"""The placement rule, tested as a pure function against the framework document."""

from __future__ import annotations

from decimal import Decimal
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curriculum.rules import BandRule, CurriculumRules, KeyRule, StageInfo, TrackRules
from curriculum.seed import income_figure, read_seed
from learners.placement import (
    Profile,
    Progress,
    answers_undecided,
    band_label,
    currency_amount,
    module_list,
    place,
)


@cache
def seed_rules(threshold: str = "0.80") -> CurriculumRules:
    """The rules built straight from the document, no database."""
    seed = read_seed()
    stage_modules = {s.serves_level: tuple(s.module_numbers) for s in seed.stages}
    tracks = {}
    for track in seed.tracks:
        tracks[track.slug] = TrackRules(
            slug=track.slug,
            currency_metric=track.currency_metric,
            threshold=Decimal(threshold),
            bands=tuple(BandRule(tl.level, tl.min_amount, tl.max_amount) for tl in track.levels),
            keys={
                tl.level: tuple(
                    KeyRule(k.code, tl.level, f"{k.verb} {k.text}", frozenset(k.module_numbers))
                    for k in tl.keys
                )
                for tl in track.levels
            },
            stage_modules=stage_modules,
            gates={
                from_level: max(figures)
                for from_level, texts in track.success_metrics.items()
                if (figures := [f for text in texts if (f := income_figure(text)) is not None])
            },
        )
    return CurriculumRules(
        level_names={lvl.number: lvl.name for lvl in seed.levels},
        tracks=tracks,
        module_titles={m.number: m.title for m in seed.modules},
        stages=tuple(
            StageInfo(s.name, s.serves_level, tuple(s.module_numbers)) for s in seed.stages
        ),
    )


def engineer(
    comp=None, explain=False, implement=False, deployed=False, seen="integrator", leads=False
):
    return Profile(
        track="engineer",
        submitted=True,
        annual_compensation=comp,
        can_explain_concepts=explain,
        can_implement_from_scratch=implement,
        deployed_at_scale=deployed,
        seen_as=seen,
        leads_initiatives=leads,
    )


def founder(mrr=0, cost=None, owns=False, replicable=True, fundable=False):
    return Profile(
        track="founder",
        submitted=True,
        monthly_recurring_revenue=mrr,
        monthly_api_cost=cost,
        owns_model_weights=owns,
        replicable_by_competitors=replicable,
        investor_fundable=fundable,
    )


NONE = Progress()
ALL_CODES = sorted(
    k.code for t in seed_rules().tracks.values() for ks in t.keys.values() for k in ks
)
ARCHITECT = {"explain": True, "implement": True, "seen": "architect"}
ELITE = {**ARCHITECT, "deployed": True, "leads": True}


def keys_of(track: str, level: int, count: int, *, skip_linked: bool = True) -> frozenset[str]:
    keys = seed_rules().tracks[track].keys[level]
    hand = [k.code for k in keys if not (skip_linked and k.module_linked)]
    return frozenset(hand[:count])


# The document's "Your Level" lines and PRODUCT.md's rule, as a table of cases.
@pytest.mark.parametrize(
    ("profile", "band", "answers", "level"),
    [
        # Struggling: salary <$150K, can't explain MoE/MLA, only API experience.
        (engineer(120_000), 1, 1, 1),
        (engineer(149_999, **ELITE), 1, 4, 1),
        (engineer(150_000), 2, 1, 1),
        # Surviving: $150K-$200K, understands concepts but can't implement.
        (engineer(150_000, explain=True), 2, 2, 2),
        (engineer(199_999, explain=True), 2, 2, 2),
        (engineer(200_000, explain=True), 3, 2, 2),
        # Thriving: $200K-$300K, can build production systems.
        (engineer(250_000, **ARCHITECT), 3, 3, 3),
        (engineer(299_999, **ELITE), 3, 4, 3),
        (engineer(250_000, implement=True, seen="integrator"), 3, 2, 2),
        # Driving: $300K+, architecting frontier systems, leading teams.
        (engineer(300_000, **ELITE), 4, 4, 4),
        (engineer(600_000, **ARCHITECT, deployed=True), 4, 3, 3),
        (engineer(5_000_000, **ARCHITECT, leads=True), 4, 3, 3),
        # Compensation left blank: answers alone.
        (engineer(None, **ELITE), None, 4, 4),
        (engineer(None), None, 1, 1),
        (engineer(None, implement=True), None, 2, 2),
        (engineer(0, **ELITE), 1, 4, 1),
        # Founders. Struggling: pre-revenue or <$50K MRR, 100% API dependent, no moat.
        (founder(0), 1, 2, 1),
        (founder(49_999, owns=True, replicable=False, fundable=True), 1, 4, 1),
        # Surviving: $50K-$200K MRR, API costs killing margins.
        (founder(50_000), 2, 2, 2),
        (founder(199_999, owns=True), 2, 3, 2),
        # Thriving: $200K-$1M MRR, some owned models.
        (founder(200_000, owns=True), 3, 3, 3),
        (founder(999_999, owns=True, replicable=False, fundable=True), 3, 4, 3),
        (founder(500_000), 3, 2, 2),
        # Driving: $1M+ MRR, proprietary frontier systems.
        (founder(1_000_000, owns=True, replicable=False, fundable=True), 4, 4, 4),
        (founder(1_000_000, owns=True, replicable=True, fundable=True), 4, 3, 3),
        (founder(2_000_000, owns=True, replicable=False, fundable=False), 4, 3, 3),
        (founder(2_000_000, owns=False, replicable=False, fundable=True), 4, 2, 2),
    ],
)
def test_profile_level(profile, band, answers, level):
    result = place(seed_rules(), profile, NONE)
    assert (result.band_level, result.answer_level, result.profile_level) == (band, answers, level)
    assert result.level == level
    # What the rule read is carried for the "why" (learners.explanation) to say.
    assert result.amount == currency_amount(profile)
    assert (result.band.level if result.band else None) == band
    assert result.answers_alike == (answers_undecided(profile, answers) if band else ())


def test_no_self_assessment_starts_at_struggling():
    result = place(
        seed_rules(), Profile(track="engineer", submitted=False, annual_compensation=900_000), NONE
    )
    assert (result.level, result.profile_level, result.band_level) == (1, 1, None)
    assert (
        result.reasons[0]
        == "You have not filled in the self-assessment yet, so you start at Struggling."
    )
    no_track = place(seed_rules(), Profile(), NONE)
    assert no_track.level == 1 and no_track.level_name == "Struggling"


def test_reasons_read_like_the_spec():
    result = place(seed_rules(), engineer(160_000, **ARCHITECT), NONE)
    assert result.reasons[:3] == (
        "Your annual total compensation of $160,000 is in the Surviving band ($150,000–$199,999).",
        "Your answers match Thriving.",
        "You are placed at the lower of the two: Surviving.",
    )
    assert result.reasons[3] == (
        "To advance to Thriving, complete modules 4–6 and 10 more Surviving keys "
        "(you have done 0 of 12 Surviving keys; 10 are needed)."
    )
    top = place(seed_rules(), founder(1_500_000, owns=True, replicable=False, fundable=True), NONE)
    assert (
        top.reasons[0]
        == "Your monthly recurring revenue of $1,500,000 is in the Driving band ($1,000,000 and above)."
    )
    assert "lower of the two" not in " ".join(top.reasons)
    blank = place(seed_rules(), engineer(None, explain=True), NONE)
    assert blank.reasons[0] == (
        "You did not give your annual total compensation, so your answers alone place you at Surviving."
    )


def test_graduation_needs_all_stage_modules_and_the_threshold_rounded_up():
    # Surviving has 12 engineer keys: ⌈0.8 × 12⌉ = ⌈9.6⌉ = 10, of which module-linked
    # "Complete Modules 4-6" counts once modules 4-6 are done. $210,000 meets the income gate
    # of Surviving -> Thriving ($200,000); the answers hold the profile at Surviving.
    profile = engineer(210_000, explain=True)
    modules = frozenset({4, 5, 6})
    nine = Progress(modules, keys_of("engineer", 2, 8))  # 8 ticked + the linked key = 9
    ten = Progress(modules, keys_of("engineer", 2, 9))  # 9 ticked + the linked key = 10
    assert place(seed_rules(), profile, nine).level == 2
    result = place(seed_rules(), profile, ten)
    assert result.level == 3
    assert (
        "You completed modules 4–6 and 10 of 12 Surviving keys, so you advanced to Thriving."
        in result.reasons
    )
    # Every key but one module missing: no graduation.
    all_keys = Progress(frozenset({4, 5}), keys_of("engineer", 2, 11))
    stuck = place(seed_rules(), profile, all_keys)
    assert stuck.level == 2
    assert stuck.next_steps.modules == (6,)
    assert stuck.reasons[-1] == (
        "To advance to Thriving, complete module 6 (you have done 11 of 12 Surviving keys; 10 are needed)."
    )


def test_threshold_edit_changes_how_many_keys_are_needed():
    profile = engineer(210_000, explain=True)
    progress = Progress(frozenset({4, 5, 6}), keys_of("engineer", 2, 5))  # 6 of 12
    assert place(seed_rules("0.80"), profile, progress).level == 2
    assert place(seed_rules("0.50"), profile, progress).level == 3
    assert (
        place(
            seed_rules("1.00"), profile, Progress(frozenset({4, 5, 6}), keys_of("engineer", 2, 11))
        ).level
        == 3
    )


def test_advancement_across_several_levels_and_the_top():
    everything = Progress(
        frozenset(range(1, 10)),
        keys_of("engineer", 1, 10) | keys_of("engineer", 2, 12) | keys_of("engineer", 3, 13),
    )
    # $350,000 meets both engineer gates ($200,000 and $300,000); the answers say Struggling.
    result = place(seed_rules(), engineer(350_000), everything)
    assert (result.profile_level, result.level) == (1, 4)
    advanced = [r for r in result.reasons if "advanced to" in r]
    assert [r.rsplit(" ", 1)[-1] for r in advanced] == ["Surviving.", "Thriving.", "Driving."]
    assert result.next_steps.maintaining
    assert [k.code for k in result.next_steps.open_keys] == [
        f"engineer-4-{n:02d}" for n in range(1, 14)
    ]


EVERYTHING = Progress(frozenset(range(1, 10)), frozenset(ALL_CODES))


def test_the_income_gates_come_from_the_documents_success_metrics():
    assert seed_rules().tracks["engineer"].gates == {2: 200_000, 3: 300_000}
    assert seed_rules().tracks["founder"].gates == {1: 50_000, 3: 1_000_000}


@pytest.mark.parametrize(
    ("profile", "level"),
    [
        (founder(0), 1),  # $0 MRR: not lifted to Surviving ($50K MRR) by progress
        (founder(49_999), 1),
        (founder(50_000), 3),  # Surviving -> Thriving has no gate; Driving needs $1M MRR
        (founder(999_999), 3),
        (founder(1_000_000), 4),
        (engineer(None), 2),  # prefers not to say: meets no gate
        (engineer(199_999), 2),
        (engineer(200_000), 3),
        (engineer(299_999), 3),
        (engineer(300_000), 4),
    ],
)
def test_progress_lifts_a_learner_only_across_gates_their_figure_meets(profile, level):
    assert place(seed_rules(), profile, EVERYTHING).level == level


def test_a_gate_is_said_in_the_reasons_and_next_steps():
    result = place(seed_rules(), founder(800_000, owns=True), EVERYTHING)
    assert result.level == 3
    assert result.reasons[-1] == (
        "You completed modules 7–9 and 13 of 13 Thriving keys; Driving also needs your "
        "monthly recurring revenue to be $1,000,000 or more (you gave $800,000): "
        "update your self-assessment when you get there."
    )
    assert result.next_steps.gate_amount == 1_000_000
    blank = place(seed_rules(), engineer(None), EVERYTHING)
    assert blank.reasons[-1].endswith(
        "to be $200,000 or more: give it in your self-assessment when you get there."
    )
    # Not yet through the stage either: both are said.
    partial = place(seed_rules(), founder(0), Progress(frozenset({1}), frozenset()))
    assert partial.reasons[-2].startswith("To advance to Surviving, complete modules 2 and 3")
    assert partial.reasons[-1].startswith("Surviving also needs your")
    assert partial.next_steps.gate_amount == 50_000
    # A gate already met is not a next step.
    assert place(seed_rules(), founder(60_000), NONE).next_steps.gate_amount is None


def test_next_steps_list_open_keys_and_how_many_more():
    progress = Progress(frozenset({1}), frozenset({"founder-1-01", "founder-1-02"}))
    result = place(seed_rules(), founder(10_000, cost=4_000), progress)
    steps = result.next_steps
    assert steps.level == 1
    assert steps.modules == (2, 3)
    assert steps.keys_needed == 6  # ⌈0.8 × 10⌉ = 8, 2 done
    assert "founder-1-01" not in {k.code for k in steps.open_keys}
    assert "founder-1-05" in {k.code for k in steps.open_keys}  # linked, open until modules 1-3
    assert result.api_cost_share == Decimal("0.4")


def test_module_linked_key_is_done_only_by_its_modules():
    ticked_by_hand = Progress(frozenset({1, 2}), frozenset({"engineer-1-06"}))
    result = place(seed_rules(), engineer(100_000), ticked_by_hand)
    assert "engineer-1-06" not in result.done_keys
    done = place(seed_rules(), engineer(100_000), Progress(frozenset({1, 2, 3})))
    assert "engineer-1-06" in done.done_keys


def test_formatting_helpers():
    assert module_list([4, 5, 6]) == "4–6"
    assert module_list([1, 3]) == "1 and 3"
    assert module_list([2, 5, 9]) == "2, 5 and 9"
    assert band_label(BandRule(2, 150_000, 200_000)) == "$150,000–$199,999"


# Property tests: invariants of the rule over arbitrary inputs.
amounts = st.one_of(st.none(), st.integers(min_value=0, max_value=10**9))
flags = st.booleans()


@st.composite
def profiles(draw):
    if draw(st.booleans()):
        return Profile(
            track="engineer",
            submitted=draw(st.booleans()),
            annual_compensation=draw(amounts),
            can_explain_concepts=draw(flags),
            can_implement_from_scratch=draw(flags),
            deployed_at_scale=draw(flags),
            seen_as=draw(st.sampled_from(["architect", "integrator"])),
            leads_initiatives=draw(flags),
        )
    return Profile(
        track="founder",
        submitted=draw(st.booleans()),
        monthly_recurring_revenue=draw(st.integers(min_value=0, max_value=10**9)),
        monthly_api_cost=draw(amounts),
        owns_model_weights=draw(flags),
        replicable_by_competitors=draw(flags),
        investor_fundable=draw(flags),
    )


progresses = st.builds(
    Progress,
    completed_modules=st.frozensets(st.integers(min_value=1, max_value=9)),
    completed_keys=st.frozensets(st.sampled_from(ALL_CODES)),
)


@settings(max_examples=300, deadline=None)
@given(profile=profiles(), progress=progresses, more=progresses)
def test_invariants(profile, progress, more):
    rules = seed_rules()
    result = place(rules, profile, progress)
    assert 1 <= result.level <= 4
    assert result.level >= result.profile_level
    assert result.level_name == rules.level_names[result.level]
    # More progress never lowers the level.
    bigger = Progress(
        progress.completed_modules | more.completed_modules,
        progress.completed_keys | more.completed_keys,
    )
    assert place(rules, profile, bigger).level >= result.level
    # Deterministic: same inputs, same level and reasons.
    again = place(rules, profile, Progress(progress.completed_modules, progress.completed_keys))
    assert again == result
    assert result.reasons and all(r.endswith(".") for r in result.reasons)
    # Progress never lifts a learner across an income gate their figure does not meet.
    figure = currency_amount(profile) if profile.submitted else None
    track = rules.tracks.get(profile.track or "")
    for level in range(result.profile_level, result.level):
        gate = track.gates.get(level)
        assert gate is None or (figure is not None and figure >= gate)
