"""The progress page shows the framework's meaning from the curriculum data, and a tick made
with htmx answers the swapped body and the announcement (the token stays out of the body)."""

from __future__ import annotations

import re

import pytest

from curriculum.models import Key, Module, Symptom
from learners.models import CompletionSource
from learners.services import learner_recompute_level, module_set_done
from tests.factories import LearnerFactory


@pytest.fixture
def engineer(db):
    learner = LearnerFactory(engineer=True)
    learner_recompute_level(learner=learner)
    return learner


@pytest.fixture
def engineer_client(client, engineer):
    client.force_login(engineer.user)
    return client


def test_the_level_its_symptoms_the_next_success_metrics_stages_and_alignment(engineer_client):
    page = engineer_client.get("/progress/").text

    assert "Getting by, but not thriving." in page  # the level's one-line description
    looks = re.search(r"<summary>What Surviving looks like</summary>(.*?)</details>", page, re.S)
    assert "Senior engineer building applications with frontier APIs" in looks.group(1)
    success = re.search(
        r"<summary>What success looks like at Thriving</summary>(.*?)</details>", page, re.S
    )
    assert "Earned $200K-$300K salary" in success.group(1)
    assert "Modules 4-6: MTP + FP8 + Parallelization" in page  # a stage's summary
    assert "Creates portfolio-worthy frontier AI projects" in page  # and a bullet
    assert "For Surviving: Modules 4-6 (Implementation: MTP + FP8 + Parallelization)" in page
    # Stages below the level are for review; the learner's own is marked.
    foundation = re.search(r'<h3 class="stage__title">Foundation.*?</h3>', page, re.S).group(0)
    assert "review (optional)" in foundation
    assert "your stage" in re.search(
        r'<h3 class="stage__title">Implementation.*?</h3>', page, re.S
    ).group(0)


def test_an_edited_symptom_shows_at_once(engineer_client):
    assert "Senior engineer building applications" in engineer_client.get("/progress/").text
    symptom = Symptom.objects.get(
        track__slug="engineer", level__number=2, text__startswith="Senior engineer"
    )
    symptom.text = "Ships demos on rented APIs"
    symptom.save()

    page = engineer_client.get("/progress/").text

    assert "Ships demos on rented APIs" in page
    assert "Senior engineer building applications" not in page


def test_a_tick_with_htmx_answers_the_body_and_the_announcement_in_place(engineer_client):
    key = Key.objects.filter(track__slug="engineer", level__number=2, modules__isnull=True).first()

    response = engineer_client.post(
        f"/progress/keys/{key.pk}/", {"done": "1"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    text = response.text
    assert "<html" not in text  # a fragment, not a page
    assert f'id="toggle-key-{key.pk}" class="toggle" aria-pressed="true"' in text
    assert "To Thriving: 1 of 10 keys" in text
    status = re.search(r'<div id="progress-status" hx-swap-oob="innerHTML">(.*)</div>', text, re.S)
    assert f"Key ticked: {key.full_text}." in status.group(1)  # announced
    # The message and its Undo, together, as the list item right after the key's own: the
    # next Tab stop after its toggle (issue 19), never over the checklist.
    item = re.search(rf'id="key-{key.pk}">.*?</li>(<li class="inline-status.*?</li>)', text, re.S)
    assert item, "no status right after the key"
    assert f"Key ticked: {key.full_text}." in item.group(1)
    assert f'hx-post="/progress/keys/{key.pk}/?undo=1"' in item.group(1)  # the Undo
    assert 'value="0"' in item.group(1) and f'data-refocus="toggle-key-{key.pk}"' in item.group(1)
    assert "csrfmiddlewaretoken" not in text


def test_a_refused_untick_with_htmx_is_said_in_the_announcement(engineer_client, engineer):
    # A module completed on a platform cannot be unticked by the learner.
    module = Module.objects.get(number=4)
    module_set_done(learner=engineer, module=module, done=True, source=CompletionSource.PLATFORM)

    response = engineer_client.post(
        f"/progress/modules/{module.pk}/", {"done": "0"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    assert "only an instructor can mark it not done" in response.text
    assert "toast__inner--error" in response.text
