"""The integrations admin: a key shown once and stored hashed; an instructor replays."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from learners.integrations.models import ApiKey, EventStatus, PlatformConnection, WebhookEvent
from learners.integrations.services.api_keys import api_key_authenticate
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_new_key_is_shown_once_and_stored_hashed(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post("/admin/integrations/apikey/add/", {"name": "Zapier", "scope": "write"})
    assert response.status_code == 200
    text = response.context["key_text"]
    assert text in response.content.decode()
    key = ApiKey.objects.get()
    assert text not in (key.hashed_key, key.prefix) and api_key_authenticate(text) == key
    listing = client.get("/admin/integrations/apikey/").content.decode()
    assert text not in listing


def test_an_instructor_replays_events_but_cannot_see_api_keys(
    client, django_capture_on_commit_callbacks
):
    instructor = UserFactory(is_staff=True)
    instructor.groups.add(Group.objects.get(name="Instructors"))
    client.force_login(instructor)
    connection = PlatformConnection.objects.create(
        name="Thinkific", slug="t", kind="thinkific", secrets="s"
    )
    event = WebhookEvent.objects.create(
        connection=connection,
        body=b'{"id": "x", "resource": "user", "action": "signin", "payload": {}}',
        status=EventStatus.FAILED,
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/integrations/webhookevent/",
            {"action": "replay", "_selected_action": [event.pk]},
            follow=True,
        )
    assert "1 event handed to a worker" in response.content.decode()
    event.refresh_from_db()
    assert event.status == EventStatus.IGNORED  # signin records no completion
    assert client.get("/admin/integrations/apikey/").status_code == 403


SECRET = "thinkific-site-api-key-0123456789"


def _instructor(client):
    instructor = UserFactory(is_staff=True)
    instructor.groups.add(Group.objects.get(name="Instructors"))
    client.force_login(instructor)
    return instructor


def _management_form(prefix: str = "mappings", total: int = 0) -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_the_connection_page_shows_how_to_connect_and_never_a_secret(client):
    connection = PlatformConnection.objects.create(
        name="Teachable", slug="school", kind="teachable", secrets=SECRET
    )
    _instructor(client)
    page = client.get(f"/admin/integrations/platformconnection/{connection.pk}/change/")
    text = page.content.decode()
    assert page.status_code == 200
    # The whole URL, the token included; the events to enable; where the ids are.
    assert f"https://pyramid.test/webhooks/school/{connection.url_token}/" in text
    assert "LectureProgress.created" in text and "Enrollment.completed" in text
    assert "/courses/" in text and "Unmapped" in text
    assert "None yet." in text  # the last delivery
    # Never the secret, never an empty placeholder, no secret fields for an instructor.
    assert SECRET not in text and SECRET[-4:] in text  # masked: its last four only
    assert "/webhooks//" not in text and 'name="new_secret"' not in text
    assert 'name="rotate_url_token"' not in text


def test_an_instructor_maps_courses_but_cannot_set_a_secret(client):
    connection = PlatformConnection.objects.create(
        name="Thinkific", slug="thinkific", kind="thinkific", secrets=SECRET
    )
    _instructor(client)
    from curriculum.models import Module

    response = client.post(
        f"/admin/integrations/platformconnection/{connection.pk}/change/",
        {
            "name": "Thinkific",
            "slug": "thinkific",
            "kind": "thinkific",
            "is_active": "on",
            "new_secret": "an-attacker-chosen-secret",
            "rotate_url_token": "on",
            **_management_form(total=1),
            "mappings-0-course_id": "123",
            "mappings-0-lesson_id": "24220",
            "mappings-0-module": str(Module.objects.get(number=2).pk),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    connection.refresh_from_db()
    assert connection.secrets == SECRET  # the posted secret was ignored
    assert connection.previous_url_token == ""  # and the token not rotated
    assert connection.mappings.get().course_id == "123"


def test_a_site_admin_rotates_the_secret_and_the_token(client):
    connection = PlatformConnection.objects.create(
        name="Thinkific", slug="thinkific", kind="thinkific", secrets=SECRET
    )
    token = connection.url_token
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(f"/admin/integrations/platformconnection/{connection.pk}/change/")
    assert 'name="new_secret"' in page.content.decode()
    assert SECRET not in page.content.decode()
    data = {
        "name": "Thinkific",
        "slug": "thinkific",
        "kind": "thinkific",
        "is_active": "on",
        "keep_current": "on",
        "rotate_url_token": "on",
        **_management_form(),
    }
    assert client.post(page.request["PATH_INFO"], {**data, "new_secret": "short"}).status_code == (
        200
    )  # refused: too short, nothing changed
    connection.refresh_from_db()
    assert connection.secrets == SECRET and connection.url_token == token
    response = client.post(page.request["PATH_INFO"], {**data, "new_secret": "n" * 32})
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.secret_list == ["n" * 32, SECRET]
    assert connection.previous_url_token == token and connection.url_token != token
