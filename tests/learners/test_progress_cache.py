"""The progress page is cached per learner: every change to what it shows shows at once.

Each test first loads the page, so that its body is in the cache, then changes something
through one of the ways the product offers (the learner's own pages, the roster import,
the admin, a curriculum edit) and loads the page again: a cache keyed on anything less than
what changed would serve the old body and fail the test.
"""

from __future__ import annotations

import csv
import io
import os
import re
import socket
import uuid

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from curriculum.models import Key, Level, Module, Track
from learners.admin.learners import LearnerAdminForm
from learners.models import Learner, User
from learners.services import learner_recompute_level, module_set_done
from tests.factories import ENGINEER_ANSWERS, LearnerFactory, UserFactory
from tests.learners.test_admin import changeform_data

pytestmark = pytest.mark.django_db


def _placed(**fields) -> Learner:
    learner = LearnerFactory(engineer=True, **fields)
    learner_recompute_level(learner=learner)
    learner.refresh_from_db()
    return learner


def _client(learner: Learner, **options) -> Client:
    client = Client(**options)
    client.force_login(learner.user)
    return client


def _page(client: Client) -> str:
    response = client.get("/progress/")
    assert response.status_code == 200
    return response.text


def _key_done(page: str, key: Key) -> bool:
    item = re.search(rf'<li class="checklist__item( is-done)?" id="key-{key.pk}">', page)
    assert item is not None, f"{key.code} is not on the page"
    return item.group(1) is not None


def _module_done(page: str, number: int) -> bool:
    item = re.search(rf'<li class="module( is-done)?" id="module-{number}">', page)
    assert item is not None, f"module {number} is not on the page"
    return item.group(1) is not None


def test_ticking_and_unticking_a_key_shows_at_once():
    learner = _placed()
    client = _client(learner)
    key = Key.objects.get(code="engineer-2-01")
    assert not _key_done(_page(client), key)

    client.post(f"/progress/keys/{key.pk}/", {"done": "1"})
    assert _key_done(_page(client), key)
    assert _key_done(_page(client), key)  # (the second load is served from the cache)

    client.post(f"/progress/keys/{key.pk}/", {"done": "0"})
    assert not _key_done(_page(client), key)


def test_completing_a_module_shows_at_once():
    learner = _placed()
    client = _client(learner)
    module = Module.objects.get(number=4)
    assert not _module_done(_page(client), 4)

    client.post(f"/progress/modules/{module.pk}/", {"done": "1"})

    assert _module_done(_page(client), 4)


def test_saving_the_self_assessment_shows_at_once():
    # The same band, so the level does not change: only the reasons do.
    learner = _placed()
    client = _client(learner)
    assert "compensation of $160,000" in _page(client)

    response = client.post("/profile/", {**ENGINEER_ANSWERS, "annual_compensation": "170,000"})
    assert response.status_code == 302

    page = _page(client)
    assert "compensation of $170,000" in page
    assert "You are at level 2" in page


def test_a_roster_import_shows_at_once(tmp_path):
    learner = _placed()
    client = _client(learner)
    assert not _module_done(_page(client), 4)
    exported = tmp_path / "learners.csv"
    call_command("export_learners", output=str(exported), stdout=io.StringIO())
    rows = list(csv.DictReader(exported.read_text(encoding="utf-8").splitlines()))
    assert [row["email"] for row in rows] == [learner.user.email]
    column = next(name for name in rows[0] if "module" in name)
    rows[0][column] = "4"
    with exported.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    call_command("import_learners", str(exported), stdout=io.StringIO())

    assert _module_done(_page(client), 4)


def test_an_admin_edit_of_the_learner_shows_at_once():
    # The same band again: the level stays, the reasons and the history's time zone change.
    learner = _placed()
    client = _client(learner)
    page = _page(client)
    assert "compensation of $160,000" in page
    instructor = UserFactory(is_staff=True)
    instructor.groups.add(Group.objects.get(name="Instructors"))
    staff = Client()
    staff.force_login(instructor)
    url = reverse("admin:learners_learner_change", args=[learner.pk])
    data = changeform_data(staff.get(url))
    data["annual_compensation"] = "170000"

    response = staff.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors

    page = _page(client)
    assert "compensation of $170,000" in page
    assert "You are at level 2" in page


def test_an_admin_save_never_puts_back_what_a_tick_changed_meanwhile(monkeypatch):
    """The admin reads the learner, the learner ticks a module while the instructor's save is
    under way, the save goes on: the tick, its level and the page version survive it."""
    learner = _placed()
    client = _client(learner)
    _page(client)
    instructor = UserFactory(is_staff=True)
    instructor.groups.add(Group.objects.get(name="Instructors"))
    staff = Client()
    staff.force_login(instructor)
    url = reverse("admin:learners_learner_change", args=[learner.pk])
    data = changeform_data(staff.get(url))
    data["timezone"] = "Asia/Tokyo"
    module = Module.objects.get(number=4)
    clean = LearnerAdminForm.clean
    after_tick = []

    def clean_while_the_learner_ticks(form):
        # The admin has read the row already; the learner's tick lands now.
        module_set_done(learner=Learner.objects.get(pk=learner.pk), module=module, done=True)
        after_tick.append(Learner.objects.get(pk=learner.pk).version)
        return clean(form)

    monkeypatch.setattr(LearnerAdminForm, "clean", clean_while_the_learner_ticks)
    response = staff.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors

    saved = Learner.objects.get(pk=learner.pk)
    assert saved.timezone == "Asia/Tokyo"
    assert saved.last_activity_at is not None
    assert _module_done(_page(client), 4)
    # The page cached after the tick is behind the version the save left (a save of the
    # copy read before the tick would put an older version back, and serve a stale page).
    assert saved.version > after_tick[0]


def test_a_curriculum_edit_shows_at_once():
    learner = _placed()
    client = _client(learner)
    key = Key.objects.get(code="engineer-2-01")
    page = _page(client)
    assert "you are at level 2, Surviving" in page

    level = Level.objects.get(number=2)
    level.name = "Getting by"
    level.save()
    Module.objects.filter(number=4).update(title="placeholder")  # no signal: not seen yet
    module = Module.objects.get(number=4)
    module.title = "Tokens, all at once"
    module.save()
    key.text = "ship a renamed key"
    key.save()

    page = _page(client)
    assert "you are at level 2, Getting by" in page
    assert 'You are at level 2: <span class="level-name">Getting by</span>' in page
    assert "Tokens, all at once" in page
    assert f"{key.verb} ship a renamed key" in page


def test_a_renamed_track_shows_at_once():
    learner = _placed()
    client = _client(learner)
    assert '<p class="eyebrow">Production-Ready AI Engineers</p>' in _page(client)
    track = Track.objects.get(slug="engineer")
    track.name = "Engineers, renamed"
    track.save()

    assert '<p class="eyebrow">Engineers, renamed</p>' in _page(client)


def test_two_learners_never_see_each_others_page():
    # Same track, same level, same version number: only their answers tell them apart.
    ana = _placed(annual_compensation=160_000)
    bo = _placed(annual_compensation=180_000)
    assert ana.version == bo.version
    ana_client, bo_client = _client(ana), _client(bo)

    for _ in range(2):  # a miss, then a hit
        assert "compensation of $160,000" in _page(ana_client)
        assert "compensation of $180,000" in _page(bo_client)
        assert "compensation of $180,000" not in _page(ana_client)
        assert "compensation of $160,000" not in _page(bo_client)


def test_the_cached_page_carries_each_requests_own_token_and_messages():
    learner = _placed()
    first = _client(learner, enforce_csrf_checks=True)
    second = _client(learner, enforce_csrf_checks=True)  # another session of the same learner
    key = Key.objects.get(code="engineer-2-01")
    _page(first)  # the body is cached from the first session's request

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', _page(second)).group(1)
    response = second.post(
        f"/progress/keys/{key.pk}/", {"csrfmiddlewaretoken": token, "done": "1"}, follow=True
    )

    assert response.status_code == 200
    message = f"Key ticked: {key.verb} {key.text}."
    assert message in response.text
    assert message not in _page(second)  # shown once
    assert message not in _page(first)  # and only to the session that did it
    assert _key_done(_page(first), key)


def test_the_page_is_drawn_while_the_cache_is_unreachable(settings):
    """The production cache (django-redis, exceptions ignored) on a Redis nobody listens on:
    every view renders the body, and the page is whole."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "pyramid_site.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5},
        }
    }
    learner = _placed()
    client = _client(learner)

    for _ in range(2):
        page = _page(client)
        assert "You are at level 2" in page
        assert 'id="progress-form"' in page


@pytest.fixture
def redis_cache(settings):
    """The production cache on the Redis of REDIS_URL, under a key prefix of this test's own
    (so that nothing another test or worker keeps there is read, and nothing is cleared)."""
    url = os.environ.get("REDIS_URL", "")
    if not url.startswith("redis"):
        pytest.skip("REDIS_URL is not set")
    settings.CACHES = {
        "default": {
            "BACKEND": "pyramid_site.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": f"test-progress-{uuid.uuid4().hex}",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1},
        }
    }
    from django.core.cache import cache

    try:
        cache.get("ping")
    except Exception as error:  # noqa: BLE001 - any failure means no usable Redis here
        pytest.skip(f"Redis at {url} is unreachable: {error}")
    yield cache
    cache.delete_pattern("*")  # this test's prefix only


def test_on_redis_a_view_from_the_cache_costs_two_queries_and_a_tick_shows_at_once(
    redis_cache, django_assert_num_queries
):
    learner = _placed()
    client = _client(learner)
    key = Key.objects.get(code="engineer-2-01")
    assert not _key_done(_page(client), key)  # a miss: the body goes to Redis

    with django_assert_num_queries(2):
        assert not _key_done(_page(client), key)
    client.post(f"/progress/keys/{key.pk}/", {"done": "1"})

    assert _key_done(_page(client), key)


def test_a_learner_made_staff_sees_the_admin_link_at_once():
    """The cached page's layout has an Admin link for staff only: being made staff changes no
    learner data (no new version), so whether the user is staff is part of the page's key."""
    learner = _placed()
    client = _client(learner)
    assert 'href="/admin/"' not in _page(client)  # now cached without the link
    User.objects.filter(pk=learner.user_id).update(is_staff=True)

    assert 'href="/admin/"' in _page(client)


def test_a_cached_page_without_its_token_slot_is_served_as_it_is():
    from learners.progress_page import FORM_TOKEN_SLOT, with_form_token

    assert with_form_token(f"<p>{FORM_TOKEN_SLOT}</p><form>{FORM_TOKEN_SLOT}</form>", "T") == (
        f"<p>{FORM_TOKEN_SLOT}</p><form>T</form>"
    )  # the last slot: the form, after anything a learner wrote
    assert with_form_token("<p>no form</p>", "T") == "<p>no form</p>"
