"""Issue 12 part 4: invitations, the learner list's export, the learner form's questions, the
cohort page and roster imports run by a worker (tasks run in-process here; the real worker,
Redis and SMTP server are in test_onboarding_worker.py)."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from learners.models import Learner, User
from learners.onboarding.models import Invitation, InvitationStatus, RosterImport
from learners.onboarding.selectors import invitations_with_acceptance
from learners.onboarding.services import invitations_create
from learners.roster import jobs, roster_import
from tests.factories import CohortFactory, LearnerFactory, UserFactory
from tests.learners.test_roster import engineer, founder, roster

IMPORT_PAGE = reverse("admin:learners_learner_import")
NEW_PASSWORD = "a-new-long-password-7"  # noqa: S105 - a test account's
LINK = re.compile(r"https?://[^\s\"<>]+/accounts/password/reset/key/[^\s\"<>]+")


@pytest.fixture
def admin_client(client, db):
    user = User.objects.create_superuser(email="root@example.com", password="x-long-password-1")
    client.force_login(user)
    return client


def invitation_link(message) -> str:
    text_links = LINK.findall(message.body)
    html_links = LINK.findall(message.alternatives[0][0])
    assert text_links and set(text_links) <= set(html_links), "both parts carry the link"
    return text_links[0]


def accept(client, link: str, password: str = NEW_PASSWORD) -> None:
    """What the student does with the email: open the link, choose a password."""
    response = client.get(urlsplit(link).path)
    if response.status_code == 302:  # allauth moves the key into the session
        response = client.get(response["Location"])
    assert response.status_code == 200
    assert "password1" in response.content.decode()
    done = client.post(response.wsgi_request.path, {"password1": password, "password2": password})
    assert done.status_code == 302, done.content.decode()[:2000]


# --- invitations ----------------------------------------------------------------------------


def test_an_import_with_invite_emails_each_new_learner_once_with_a_set_password_link(
    curriculum, client, django_capture_on_commit_callbacks
):
    CohortFactory(name="Spring")
    with django_capture_on_commit_callbacks(execute=True):
        report = roster_import(roster(engineer(cohort="Spring"), founder()), invite=True)
    assert report.ok and report.invited == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@example.com", "bo@example.com"]
    ada = next(m for m in mail.outbox if m.to == ["ana@example.com"])
    assert ada.subject == "Your Profit Pyramid account: choose a password"
    html = ada.alternatives[0][0]
    assert "Profit Pyramid" in html and "Choose my password" in html and "Spring" in html
    assert "Hi Ana," in ada.body and "Spring" in ada.body
    assert Invitation.objects.filter(status=InvitationStatus.SENT).count() == 2

    # A second import asking again invites nobody again.
    with django_capture_on_commit_callbacks(execute=True):
        again = roster_import(roster(engineer(), founder()), invite=True)
    assert again.invited == 0 and len(mail.outbox) == 2

    # Accepting: the link sets the password, the address counts as verified, sign-in works.
    accept(client, invitation_link(ada))
    user = User.objects.get(email="ana@example.com")
    assert user.has_usable_password()
    assert EmailAddress.objects.get(user=user).verified
    accepted = dict(invitations_with_acceptance().values_list("learner__user__email", "accepted"))
    assert accepted == {"ana@example.com": True, "bo@example.com": False}
    client.logout()
    signed_in = client.post(
        reverse("account_login"),
        {"login": "ana@example.com", "password": NEW_PASSWORD},
    )
    assert signed_in.status_code == 302 and signed_in["Location"] == reverse("progress")
    # The link works once.
    client.logout()
    used = client.get(urlsplit(invitation_link(ada)).path, follow=True)
    assert "password1" not in used.content.decode()


def test_without_invite_nobody_is_emailed(curriculum, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        report = roster_import(roster(engineer(), founder()))
    assert report.ok and report.invited == 0
    assert mail.outbox == [] and not Invitation.objects.exists()


def test_staff_users_with_a_password_and_erased_addresses_are_never_invited(
    curriculum, django_capture_on_commit_callbacks
):
    staff = LearnerFactory(engineer=True, user__is_staff=True)
    superuser = LearnerFactory(engineer=True, user__is_superuser=True)
    has_password = LearnerFactory(engineer=True)
    has_password.user.set_password("a-long-password-9")
    has_password.user.save()
    for learner in (staff, superuser):
        learner.user.set_unusable_password()
        learner.user.save()
    fresh = LearnerFactory(engineer=True)
    fresh.user.set_unusable_password()
    fresh.user.save()
    ids = [staff.pk, superuser.pk, has_password.pk, fresh.pk]
    with django_capture_on_commit_callbacks(execute=True):
        assert invitations_create(learner_ids=ids) == 1
    assert [m.to for m in mail.outbox] == [[fresh.user.email]]


def test_an_erased_address_imported_again_is_not_invited(
    curriculum, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        roster_import(roster(engineer()))
    learner = Learner.objects.get(user__email="ana@example.com")
    from learners.privacy.services import account_erase

    account_erase(user=learner.user)
    with django_capture_on_commit_callbacks(execute=True):
        report = roster_import(roster(engineer(), founder()), invite=True)
    assert report.ok and report.created == 2 and report.invited == 1
    assert [m.to for m in mail.outbox] == [["bo@example.com"]]


def test_the_command_invites_with_invite(curriculum, tmp_path, django_capture_on_commit_callbacks):
    path = tmp_path / "roster.csv"
    path.write_text(roster(engineer(), founder()))
    out = io.StringIO()
    # The emails go once the import commits (the test's transaction stands in for it).
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_learners", str(path), "--invite", stdout=out)
    assert "2 invited" in out.getvalue()
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@example.com", "bo@example.com"]


def test_the_admin_confirm_step_has_the_invite_checkbox(
    admin_client, curriculum, django_capture_on_commit_callbacks
):
    content = roster(engineer(), founder())
    preview = admin_client.post(IMPORT_PAGE, {"content": content, "preview": "1"})
    assert 'name="invite"' in preview.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        done = admin_client.post(IMPORT_PAGE, {"content": content, "confirm": "1", "invite": "on"})
    assert done.status_code == 302
    assert Invitation.objects.count() == 2 and len(mail.outbox) == 2
    listing = admin_client.get(reverse("admin:onboarding_invitation_changelist"))
    page = listing.content.decode()
    assert "ana@example.com" in page and "not yet" in page


def test_signing_up_with_an_imported_address_emails_a_set_password_link_and_answers_alike(
    curriculum, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        roster_import(roster(engineer()))
    UserFactory(email="known@example.com").set_password("x")  # has a password
    form = {
        "first_name": "Ana",
        "password1": "a-long-password-3!",
        "password2": "a-long-password-3!",
    }
    answers = {}
    for email in ("ana@example.com", "known@example.com", "new@example.com"):
        response = client.post(reverse("account_signup"), {**form, "email": email})
        answers[email] = (response.status_code, response.get("Location"))
    # Strangers learn nothing: the page answers the same for each address.
    assert len(set(answers.values())) == 1
    by_address = {m.to[0]: m for m in mail.outbox}
    imported = by_address["ana@example.com"]
    assert "no password yet" in imported.body
    link = invitation_link(imported)
    accept(client, link)
    assert User.objects.get(email="ana@example.com").has_usable_password()
    # An account with a password is told to sign in or reset it, without a set-password link.
    assert "no password yet" not in by_address["known@example.com"].body


# --- the learner list, the learner form and the cohort page ----------------------------------


def test_export_follows_the_list_filters(admin_client, curriculum):
    spring, autumn = CohortFactory(name="Spring"), CohortFactory(name="Autumn")
    LearnerFactory(engineer=True, cohort=spring, user__email="s1@example.com")
    LearnerFactory(engineer=True, cohort=spring, user__email="s2@example.com")
    LearnerFactory(engineer=True, cohort=autumn, user__email="a1@example.com")
    changelist = reverse("admin:learners_learner_changelist")
    page = admin_client.get(changelist, {"cohort__id__exact": spring.pk}).content.decode()
    export = reverse("admin:learners_learner_export")
    assert f'href="{export}?cohort__id__exact={spring.pk}"' in page
    assert f'href="{IMPORT_PAGE}"' in page

    def emails(response) -> set[str]:
        rows = csv.DictReader(io.StringIO(response.content.decode()))
        return {row["email"] for row in rows}

    assert emails(admin_client.get(export, {"cohort__id__exact": spring.pk})) == {
        "s1@example.com",
        "s2@example.com",
    }
    assert emails(admin_client.get(export, {"q": "a1@"})) == {"a1@example.com"}
    assert len(emails(admin_client.get(export))) == 3


def test_the_learner_form_shows_only_the_learners_track_questions(admin_client, curriculum):
    founder_learner = LearnerFactory(founder=True)
    page = admin_client.get(
        reverse("admin:learners_learner_change", args=[founder_learner.pk])
    ).content.decode()
    assert 'name="monthly_recurring_revenue"' in page
    assert 'name="annual_compensation"' not in page
    assert "Self-assessment (" in page


def test_the_cohort_page_lists_members_with_levels_progress_and_start_date(
    admin_client, curriculum
):
    import datetime

    cohort = CohortFactory(name="Spring", start_date=datetime.date(2026, 3, 2))
    for level in (1, 1, 3):
        LearnerFactory(engineer=True, cohort=cohort, level=level)
    LearnerFactory(engineer=True)  # another cohort's
    page = admin_client.get(
        reverse("admin:learners_cohort_change", args=[cohort.pk])
    ).content.decode()
    assert "3 learners, started 2 Mar 2026" in page
    levels = re.findall(r"<strong>(\d+)</strong>(\d) ", page)
    assert levels == [("2", "1"), ("0", "2"), ("1", "3"), ("0", "4")]
    assert page.count('<progress max="9"') == 3


# --- large imports: a worker -------------------------------------------------------------


def test_a_large_confirmed_import_runs_in_a_task_and_its_page_shows_the_outcome(
    admin_client, curriculum, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(jobs, "BACKGROUND_ROWS", 1)
    content = roster(engineer(), founder())
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(IMPORT_PAGE, {"content": content, "confirm": "1"})
    job = RosterImport.objects.get()
    assert response["Location"] == reverse("admin:learners_learner_import_status", args=[job.pk])
    page = admin_client.get(response["Location"]).content.decode()
    assert "Roster imported: 2 rows, 2 learners created" in page
    assert job.content == "" or RosterImport.objects.get().content == ""
    assert Learner.objects.count() == 2


def test_a_background_import_that_fails_midway_writes_nothing(
    admin_client, curriculum, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(jobs, "BACKGROUND_ROWS", 1)
    seen = []

    def recompute_then_fail(**kwargs):
        seen.append(jobs.roster_import_job_progress(RosterImport.objects.get().pk))
        raise RuntimeError("database went away")

    monkeypatch.setattr("learners.roster.importer.learners_recompute", recompute_then_fail)
    # The task runs when the request's work commits; its failure reaches the test.
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        admin_client.post(IMPORT_PAGE, {"content": roster(engineer(), founder()), "confirm": "1"})
    job = RosterImport.objects.get()
    assert seen == [{"step": "recomputing levels", "percent": 60}]
    assert job.status == "failed" and job.report["failure"] == "database went away"
    assert (User.objects.count(), Learner.objects.count()) == (1, 0)  # the admin only
    page = admin_client.get(reverse("admin:learners_learner_import_status", args=[job.pk]))
    assert "Nothing was imported: the import failed" in page.content.decode()
