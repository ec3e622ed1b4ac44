"""A student's first week, true from the first email (issue 19): the placement told once and
never congratulated, a real level-up right after it, the invitation that ends signed in, the
account page, the site's own 404 and 500 pages, preferences that agree with "stop all"."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from curriculum.models import Key, Track
from learners.models import LevelChange, User
from learners.nudges.content import unsubscribe_token
from learners.nudges.models import Nudge
from learners.roster import roster_import
from learners.services import key_set_done, learner_set_assessment
from tests.factories import LearnerFactory, engineer_answers
from tests.learners.test_roster import engineer, roster

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-and-unusual-passphrase-42"
LINK = re.compile(r"https?://[^\s\"<>]+")


def _verified_learner(**fields):
    learner = LearnerFactory(**fields)
    EmailAddress.objects.create(
        user=learner.user, email=learner.user.email, verified=True, primary=True
    )
    return learner


def _midday_zone() -> str:
    """A time zone where it is about noon now (outside quiet hours whenever the test runs)."""
    offset = (12 - timezone.now().hour + 12) % 24 - 12  # -12 .. +11 hours from UTC
    # POSIX-style names: Etc/GMT-3 is three hours ahead of UTC.
    return "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def test_the_first_self_assessment_sends_one_email_naming_the_start_then_a_level_up_same_day(
    curriculum, django_capture_on_commit_callbacks
):
    learner = _verified_learner(user__first_name="Grace", timezone=_midday_zone())
    with django_capture_on_commit_callbacks(execute=True):
        result = learner_set_assessment(
            learner=learner,
            track=Track.objects.get(slug="engineer"),
            # Thriving money (past the $200K gate), Surviving answers: placed at Surviving.
            answers=engineer_answers(annual_compensation=210_000),
        )
    assert result.placed and not result.went_up
    (first,) = mail.outbox
    text = first.body
    assert first.subject == "Grace, you start at Level 2: Surviving"
    assert "Congratulations" not in text + first.subject and "moved up" not in text
    assert "Why Surviving:" in text and "answers hold you at Surviving" in text
    assert "From API user to production architect" in text  # the engineers' headline
    # The placement is history ("where you started") and no level change for the dashboard.
    change = LevelChange.objects.get(learner=learner)
    assert change.from_level is None and not change.went_up

    # The same day: the Surviving work done, a real level-up goes out at once (outside the
    # weekly cap the welcome and the placement may have filled).
    learner.refresh_from_db()
    track = curriculum.tracks["engineer"]
    from curriculum.models import Module
    from learners.services import module_set_done

    with django_capture_on_commit_callbacks(execute=True):
        for number in track.stage_modules[2]:
            module_set_done(learner=learner, module=Module.objects.get(number=number), done=True)
        for key in track.keys[2]:
            if not key.module_linked:
                result = key_set_done(learner=learner, key=Key.objects.get(pk=key.id), done=True)
    assert learner.level == 3
    assert [m.subject for m in mail.outbox] == [first.subject, "You reached Level 3: Thriving"]
    assert sorted(Nudge.objects.filter(learner=learner).values_list("kind", "status")) == [
        ("level_up", "sent"),
        ("placement", "sent"),
    ]


def test_an_invitation_ends_signed_in_on_the_self_assessment(
    curriculum, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        roster_import(roster(engineer(completed_keys="", **_blank_answers())), invite=True)
    (message,) = mail.outbox
    link = LINK.findall(message.body)[0]
    page = client.get(urlsplit(link).path, follow=True)
    html = page.content.decode()
    assert "<h1>Choose your password</h1>" in html or "Choose your password</h1>" in html
    assert "Change password" not in html
    assert "Sign up" not in html  # they have an account: the header offers no signup
    done = client.post(
        page.wsgi_request.path, {"password1": PASSWORD, "password2": PASSWORD}, follow=True
    )
    # Signed in, on the self-assessment (no answers were imported): no "Sign up" in sight.
    assert done.wsgi_request.user.is_authenticated
    assert done.redirect_chain[-1][0] == reverse("profile")
    assert "Sign up" not in done.content.decode()


def _blank_answers() -> dict:
    return {
        name: ""
        for name in (
            "annual_compensation",
            "can_explain_concepts",
            "can_implement_from_scratch",
            "deployed_at_scale",
            "seen_as",
            "leads_initiatives",
        )
    }


def test_signup_asks_a_first_name_and_refuses_a_blank_one(client):
    page = client.get(reverse("account_signup")).content.decode()
    assert 'name="first_name"' in page and 'autocomplete="given-name"' in page
    blank = client.post(
        reverse("account_signup"),
        {
            "first_name": "  ",
            "email": "x@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert blank.status_code == 200 and not User.objects.filter(email="x@example.com").exists()
    client.post(
        reverse("account_signup"),
        {
            "first_name": " Ada ",
            "email": "ada@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert User.objects.get(email="ada@example.com").first_name == "Ada"


def test_the_account_page_sets_the_name_and_leads_to_every_account_task(client):
    learner = _verified_learner(user__first_name="Ada", user__last_name="L")
    client.force_login(learner.user)
    page = client.get(reverse("account")).content.decode()
    for url in (
        reverse("account_email"),
        reverse("account_change_password"),
        reverse("mfa_index"),
        reverse("privacy:data_download"),
        reverse("privacy:account_delete"),
        reverse("nudges:preferences"),
    ):
        assert f'href="{url}"' in page
    assert 'class="site-header' in page  # the site's layout
    saved = client.post(reverse("account"), {"first_name": "  Grace ", "last_name": "Hopper"})
    assert saved.status_code == 302
    learner.user.refresh_from_db()
    assert (learner.user.first_name, learner.user.last_name) == ("Grace", "Hopper")
    refused = client.post(reverse("account"), {"first_name": "", "last_name": "X"})
    assert refused.status_code == 200 and "Tell us your first name" in refused.content.decode()
    learner.user.refresh_from_db()
    assert learner.user.last_name == "Hopper"  # nothing changed


@override_settings(DEBUG=False)
def test_a_missing_page_is_the_sites_own_404(client):
    response = client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "This page doesn’t exist" in html and 'class="site-header' in html


def test_the_500_page_renders_without_a_request():
    from django.template.loader import render_to_string

    html = render_to_string("500.html")
    assert "Something went wrong on our side" in html and 'class="site-header' in html


def test_preferences_after_stop_all_show_nothing_ticked_and_one_time_kinds_not_offered(client):
    learner = _verified_learner(engineer=True)
    client.post(reverse("nudges:unsubscribe", args=[unsubscribe_token(learner.pk)]))
    client.force_login(learner.user)
    page = client.get(reverse("nudges:preferences")).content.decode()
    assert "All nudges are off" in page
    boxes = _boxes(page)
    assert boxes == {"kind_next_step": False, "kind_level_up": False, "all_off": True}
    # Turning them back on, with one kind.
    client.post(reverse("nudges:preferences"), {"kind_level_up": "on"})
    learner.refresh_from_db()
    assert learner.nudges_enabled
    page = client.get(reverse("nudges:preferences")).content.decode()
    assert _boxes(page) == {"kind_next_step": False, "kind_level_up": True, "all_off": False}


def _boxes(page: str) -> dict[str, bool]:
    """Each checkbox of the page: ticked or not."""
    return {
        re.search(r'name="(\w+)"', tag).group(1): " checked" in tag
        for tag in re.findall(r'<input type="checkbox"[^>]*>', page)
    }


def test_an_undo_from_the_toast_leaves_no_trace_but_a_deliberate_untick_does(curriculum, client):
    learner = _verified_learner(
        engineer=True, annual_compensation=210_000, placed_at=timezone.now(), level=2
    )
    client.force_login(learner.user)
    track = curriculum.tracks["engineer"]
    # Everything of Surviving but one key: that key moves them up, its Undo moves them back.
    from curriculum.models import Module
    from learners.services import module_set_done

    for number in track.stage_modules[2]:
        module_set_done(learner=learner, module=Module.objects.get(number=number), done=True)
    from learners.placement import keys_required

    hand = [key for key in track.keys[2] if not key.module_linked]
    linked = len(track.keys[2]) - len(hand)
    needed = keys_required(track, 2) - linked  # by hand, to move up
    for key in hand[: needed - 1]:
        key_set_done(learner=learner, key=Key.objects.get(pk=key.id), done=True)
    learner.refresh_from_db()
    assert learner.level == 2
    last = hand[needed - 1]
    client.post(reverse("key_done", args=[last.id]), {"done": "1"})
    client.post(reverse("key_done", args=[last.id]) + "?undo=1", {"done": "0"})
    page = client.get(reverse("progress")).content.decode()
    assert "Moved up from Surviving" not in page
    # The same move made deliberately (no Undo) stays in the history, both ways.
    client.post(reverse("key_done", args=[last.id]), {"done": "1"})
    client.post(reverse("key_done", args=[last.id]), {"done": "0"})
    page = client.get(reverse("progress")).content.decode()
    assert "Moved up from Surviving" in page and "Moved down from Thriving" in page


def test_download_my_data_reads_as_a_record_of_the_person(curriculum, client):
    learner = _verified_learner(engineer=True, timezone="Europe/Paris")
    learner_set_assessment(
        learner=learner, track=Track.objects.get(slug="engineer"), answers=engineer_answers()
    )
    learner.refresh_from_db()
    key = Key.objects.filter(track=learner.track, modules__isnull=True, level__number=2).first()
    key_set_done(learner=learner, key=key, done=True)
    User.objects.filter(pk=learner.user_id).update(is_staff=False)
    client.force_login(learner.user)
    data = client.get(reverse("privacy:data_download")).json()

    assert data["time_zone"] == "Europe/Paris"
    assert data["exported_at"].endswith(("+01:00", "+02:00"))
    assert "is_staff" not in data["account"] and "is_superuser" not in data["account"]
    assert data["profile"]["track"] == "AI Engineer" or data["profile"]["track"]
    assert data["profile"]["level"] == {"number": 2, "name": "Surviving"}
    (ticked,) = data["keys_completed"]
    assert ticked["code"] == key.code and ticked["text"] == key.full_text
    assert ticked["level"] == "Surviving" and ticked["how"] == "Learner"
    (started,) = data["level_history"]
    assert (started["what"], started["from"], started["to"]) == ("Started at", None, "Surviving")
    assert all(
        isinstance(v, str) and v in ("Yes", "No") or v
        for v in data["self_assessment"]["answers"].values()
    )
    assert "key_id" not in json_text(data["keys_completed"])


def json_text(value) -> str:
    import json

    return json.dumps(value)


def test_placements_are_not_level_changes_on_the_dashboard_or_its_filter(curriculum):
    from learners.admin.filters import LevelChangedFilter
    from learners.models import Learner
    from learners.selectors import dashboard_figures
    from learners.services import learners_recompute

    placed = LearnerFactory(engineer=True, annual_compensation=210_000)  # placed at Surviving
    learners_recompute(learner_ids=[placed.pk])
    assert LevelChange.objects.get(learner=placed).from_level is None
    engineer_figures = next(t for t in dashboard_figures().tracks if t.slug == "engineer")
    assert (engineer_figures.level_ups, engineer_figures.learners_changed) == (0, 0)
    for value in ("30", "30.up"):
        chosen = LevelChangedFilter(None, {"level_changed": [value]}, Learner, None)
        assert not chosen.queryset(None, Learner.objects.all()).exists()
    # A real move afterwards is one.
    Learner.objects.filter(pk=placed.pk).update(level=1)
    learners_recompute(learner_ids=[placed.pk])
    engineer_figures = next(t for t in dashboard_figures().tracks if t.slug == "engineer")
    assert engineer_figures.level_ups == 1
