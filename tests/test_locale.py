"""The site's English catalogue (locale/en): the committed .mo says what the .po says, and the
pages a student sees on the way in carry none of allauth's title-case strings."""

from __future__ import annotations

import ast
import re
from html import unescape
from pathlib import Path

import allauth
import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from tests.factories import LearnerFactory

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES" / "django.po"
ALLAUTH_CATALOGUE = Path(allauth.__file__).parent / "locale" / "en" / "LC_MESSAGES" / "django.po"


def po_entries(path: Path) -> list[tuple[str | None, str, str]]:
    """(msgctxt, msgid, msgstr) of every entry but the header; no plural entries here."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        current = None
        for line in block.splitlines():
            match = re.match(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d\])?) (".*")$', line)
            if match:
                current = match.group(1)
                fields[current] = ast.literal_eval(match.group(2))
            elif line.startswith('"') and current:
                fields[current] += ast.literal_eval(line)
        if fields.get("msgid"):
            entries.append((fields.get("msgctxt"), fields["msgid"], fields.get("msgstr", "")))
    return entries


def test_the_committed_mo_translates_every_msgid_of_the_po_as_the_language_code_reads_it():
    entries = po_entries(CATALOGUE)
    assert len(entries) > 60
    # LANGUAGE_CODE is "en-us": it must fall back to the "en" catalogue.
    with translation.override(settings.LANGUAGE_CODE):
        stale = [
            (msgid, msgstr)
            for context, msgid, msgstr in entries
            if (translation.pgettext(context, msgid) if context else translation.gettext(msgid))
            != msgstr
        ]
    assert not stale, "recompile: msgfmt -o locale/en/LC_MESSAGES/django.mo …/django.po"


def test_every_msgid_is_one_of_allauths():
    theirs = {(context, msgid) for context, msgid, _ in po_entries(ALLAUTH_CATALOGUE)}
    ours = {(context, msgid) for context, msgid, _ in po_entries(CATALOGUE)}
    assert not ours - theirs


def _title_case(text: str) -> bool:
    """ "Sign In", "Email Address": a capitalised word after the first that is no acronym."""
    words = re.findall(r"[A-Za-z][\w'-]*", text)
    return len(words) > 1 and any(w[0].isupper() and not w.isupper() for w in words[1:])


ALLAUTH_TITLES = sorted(
    {msgid for _, msgid, _ in po_entries(ALLAUTH_CATALOGUE) if len(msgid) < 45}
    & {msgid for _, msgid, _ in po_entries(ALLAUTH_CATALOGUE) if _title_case(msgid)}
)


def _visible_text(html: str) -> str:
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "account_login",
        "account_signup",
        "account_reset_password",
        "account_reset_password_done",
        "account_email_verification_sent",
    ],
)
def test_allauths_pages_speak_in_sentence_case(client, url):
    page = client.get(reverse(url))
    assert page.status_code == 200

    text = _visible_text(page.text)
    assert not [title for title in ALLAUTH_TITLES if title in text], text
    assert 'class="site-header"' in page.text


@pytest.mark.django_db
def test_a_signed_in_students_account_pages_speak_in_sentence_case(client):
    learner = LearnerFactory(engineer=True)
    EmailAddress.objects.create(
        user=learner.user, email=learner.user.email, verified=True, primary=True
    )
    client.force_login(learner.user)

    for url in ("account_email", "account_change_password", "account_logout"):
        text = _visible_text(client.get(reverse(url)).text)
        assert not [title for title in ALLAUTH_TITLES if title in text], (url, text)


@pytest.mark.django_db
def test_the_sign_in_page_in_the_sites_words(client):
    text = _visible_text(client.get(reverse("account_login")).text)

    assert "Sign in" in text
    assert "New here? Sign up first" in text
    assert "Remember me" in text
