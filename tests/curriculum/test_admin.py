"""The curriculum admin: instructors edit it, and placement follows in the background."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from curriculum.models import (
    Key,
    Level,
    Module,
    SelfAssessmentQuestion,
    Stage,
    SuccessMetric,
    Symptom,
    Track,
    TrackLevel,
)
from learners.models import KeyCompletion, LevelChange, ModuleProgress
from learners.services import learners_recompute
from tests.factories import LearnerFactory, UserFactory
from tests.learners.test_admin import changeform_data


@pytest.fixture
def instructor_client(client, db):
    user = UserFactory(email="instructor@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name="Instructors"))
    client.force_login(user)
    return client


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _band_form_index(data: dict, level: int) -> int:
    pk = str(TrackLevel.objects.get(track__slug="engineer", level__number=level).pk)
    total = int(data["track_levels-TOTAL_FORMS"])
    return next(i for i in range(total) if str(data[f"track_levels-{i}-id"]) == pk)


def test_editing_a_band_moves_the_affected_learners(
    instructor_client, django_capture_on_commit_callbacks
):
    engineer = Track.objects.get(slug="engineer")
    moved = LearnerFactory(engineer=True, annual_compensation=160_000)
    stays = LearnerFactory(engineer=True, annual_compensation=190_000)
    founder = LearnerFactory(founder=True)
    learners_recompute()
    for learner in (moved, stays, founder):
        learner.refresh_from_db()
    assert (moved.level, stays.level, founder.level) == (2, 2, 1)

    url = reverse("admin:curriculum_track_change", args=[engineer.pk])
    data = changeform_data(instructor_client.get(url))
    # Surviving now starts at $170,000: the lower band grows to meet it.
    data[f"track_levels-{_band_form_index(data, 1)}-max_amount"] = "170000"
    data[f"track_levels-{_band_form_index(data, 2)}-min_amount"] = "170000"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = instructor_client.post(url, data, follow=True)

    assert response.status_code == 200
    assert len(callbacks) == 1
    assert any(
        "recomputing the levels" in m and "in the background" in m for m in _messages(response)
    )
    for learner in (moved, stays, founder):
        learner.refresh_from_db()
    assert (moved.level, stays.level, founder.level) == (1, 2, 1)
    change = LevelChange.objects.filter(learner=moved).first()
    assert (change.from_level, change.to_level) == (2, 1)
    assert any("$150,000" not in reason and "Struggling" in reason for reason in change.reasons)


def test_an_edit_that_does_not_touch_placement_recomputes_nothing(
    instructor_client, django_capture_on_commit_callbacks
):
    engineer = Track.objects.get(slug="engineer")
    url = reverse("admin:curriculum_track_change", args=[engineer.pk])
    data = changeform_data(instructor_client.get(url))
    data["name"] = "Production-Ready AI Engineers (2027)"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = instructor_client.post(url, data, follow=True)
    assert response.status_code == 200
    assert callbacks == []
    assert not any("background" in m for m in _messages(response))
    assert Track.objects.get(pk=engineer.pk).name.endswith("(2027)")


def _graduating_surviving_engineer():
    """An engineer at Surviving who graduated it with modules 4-6 and 9 hand-ticked keys,
    earning $210,000 (over the Surviving -> Thriving income gate, $200,000; the answers hold
    the profile at Surviving)."""
    learner = LearnerFactory(engineer=True, annual_compensation=210_000)
    for number in (4, 5, 6):
        ModuleProgress.objects.create(learner=learner, module=Module.objects.get(number=number))
    hand_keys = Key.objects.filter(
        track__slug="engineer", level__number=2, modules__isnull=True
    ).order_by("order")[:9]
    KeyCompletion.objects.bulk_create(KeyCompletion(learner=learner, key=key) for key in hand_keys)
    learners_recompute()
    learner.refresh_from_db()
    return learner


def test_raising_the_threshold_recomputes_the_track(
    instructor_client, django_capture_on_commit_callbacks
):
    learner = _graduating_surviving_engineer()
    assert learner.level == 3  # 10 of 12 keys (9 + the module-linked one) meet 80 %
    engineer = Track.objects.get(slug="engineer")
    url = reverse("admin:curriculum_track_change", args=[engineer.pk])
    data = changeform_data(instructor_client.get(url))
    data["graduation_threshold"] = "0.90"
    with django_capture_on_commit_callbacks(execute=True):
        instructor_client.post(url, data)
    learner.refresh_from_db()
    assert learner.level == 2


def test_unlinking_a_key_from_its_modules_recomputes_the_track(
    instructor_client, django_capture_on_commit_callbacks
):
    learner = _graduating_surviving_engineer()
    key = Key.objects.get(code="engineer-2-06")
    url = reverse("admin:curriculum_key_change", args=[key.pk])
    response = instructor_client.get(url)
    assert "modules" in response.context["adminform"].form.fields
    data = changeform_data(response)
    data.pop("modules")  # the filter_horizontal emptied: now a key ticked by hand
    with django_capture_on_commit_callbacks(execute=True):
        response = instructor_client.post(url, data, follow=True)
    assert any("background" in m for m in _messages(response))
    assert not key.modules.exists()
    learner.refresh_from_db()
    assert learner.level == 2


def test_moving_a_module_to_another_stage_recomputes_everyone(
    instructor_client, django_capture_on_commit_callbacks
):
    learner = LearnerFactory(engineer=True, annual_compensation=100_000)  # Struggling
    for number in (1, 2, 3):
        ModuleProgress.objects.create(learner=learner, module=Module.objects.get(number=number))
    hand_keys = Key.objects.filter(
        track__slug="engineer", level__number=1, modules__isnull=True
    ).order_by("order")[:7]
    KeyCompletion.objects.bulk_create(KeyCompletion(learner=learner, key=key) for key in hand_keys)
    learners_recompute()
    learner.refresh_from_db()
    assert learner.level == 2  # Foundation done and 8 of 10 keys

    module = Module.objects.get(number=6)
    url = reverse("admin:curriculum_module_change", args=[module.pk])
    data = changeform_data(instructor_client.get(url))
    data["stage"] = str(Stage.objects.get(serves_level__number=1).pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = instructor_client.post(url, data, follow=True)
    assert any("every learner" in m for m in _messages(response))
    learner.refresh_from_db()
    assert learner.level == 1  # Foundation now includes module 6, not completed


def test_instructor_edits_the_rest_of_the_curriculum(instructor_client):
    level = Level.objects.get(number=2)
    url = reverse("admin:curriculum_level_change", args=[level.pk])
    data = changeform_data(instructor_client.get(url))
    data["promise"] = "A clearer promise."
    assert instructor_client.post(url, data).status_code == 302
    assert Level.objects.get(pk=level.pk).promise == "A clearer promise."

    engineer = Track.objects.get(slug="engineer")
    for name, payload, model in [
        (
            "symptom",
            {"track": engineer.pk, "level": level.pk, "order": 99, "text": "New", "depth": 0},
            Symptom,
        ),
        (
            "successmetric",
            {"track": engineer.pk, "from_level": level.pk, "order": 99, "text": "New"},
            SuccessMetric,
        ),
        (
            "selfassessmentquestion",
            {"track": engineer.pk, "order": 99, "text": "New?"},
            SelfAssessmentQuestion,
        ),
    ]:
        response = instructor_client.post(reverse(f"admin:curriculum_{name}_add"), payload)
        assert response.status_code == 302, name
        assert model.objects.filter(text__startswith="New", order=99).exists()

    for name in (
        "track",
        "level",
        "stage",
        "module",
        "key",
        "symptom",
        "successmetric",
        "selfassessmentquestion",
    ):
        assert (
            instructor_client.get(reverse(f"admin:curriculum_{name}_changelist")).status_code == 200
        )


def test_instructor_cannot_delete_levels_or_bands(instructor_client):
    level = Level.objects.get(number=1)
    assert (
        instructor_client.get(reverse("admin:curriculum_level_delete", args=[level.pk])).status_code
        == 403
    )
    engineer = Track.objects.get(slug="engineer")
    response = instructor_client.get(reverse("admin:curriculum_track_change", args=[engineer.pk]))
    bands = response.context["inline_admin_formsets"][0]
    assert not bands.has_delete_permission
    assert TrackLevel.objects.filter(track=engineer).count() == 4


def test_editing_an_income_gate_recomputes_the_track(
    instructor_client, django_capture_on_commit_callbacks
):
    learner = _graduating_surviving_engineer()
    assert learner.level == 3
    metric = SuccessMetric.objects.get(track__slug="engineer", from_level__number=2, order=4)
    assert (metric.text, metric.gate_amount) == ("Earned $200K-$300K salary", 200_000)
    url = reverse("admin:curriculum_successmetric_change", args=[metric.pk])
    data = changeform_data(instructor_client.get(url))
    data["gate_amount"] = "250000"
    with django_capture_on_commit_callbacks(execute=True):
        response = instructor_client.post(url, data, follow=True)
    assert any("background" in m for m in _messages(response))
    learner.refresh_from_db()
    assert learner.level == 2
