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
