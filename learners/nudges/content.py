"""What a nudge email says: subject, plain text and HTML from ``templates/nudges/email/``."""

from __future__ import annotations

import zlib

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from curriculum.rules import CurriculumRules

from ..models import Learner
from ..placement import Placement
from .models import Nudge

UNSUBSCRIBE_SALT = "learners.nudges.unsubscribe"
NEXT_KEYS_SHOWN = 3


def unsubscribe_token(learner_id: int) -> str:
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign_object({"learner": learner_id})


def unsubscribe_learner_id(token: str) -> int:
    """The learner a token was made for; raises ``signing.BadSignature`` when tampered."""
    try:
        value = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign_object(token)
    except (ValueError, zlib.error) as exc:
        # Signed with the site's key and salt but not by ``unsubscribe_token`` (another
        # signer's format, a payload that is not an object): as bad as a wrong signature.
        raise signing.BadSignature("Not an unsubscribe token.") from exc
    if not isinstance(value, dict) or not isinstance(value.get("learner"), int):
        raise signing.BadSignature("Not an unsubscribe token.")
    return value["learner"]


def absolute_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def unsubscribe_url(learner_id: int) -> str:
    return absolute_url(f"/nudges/unsubscribe/{unsubscribe_token(learner_id)}/")


def nudge_context(
    *,
    nudge: Nudge,
    learner: Learner,
    placement: Placement,
    curriculum: CurriculumRules,
    levels: dict[int, dict[str, str]],
) -> dict:
    steps = placement.next_steps
    level = levels.get(placement.level, {})
    return {
        "nudge": nudge,
        "kind": nudge.kind,
        "first_name": learner.user.first_name,
        "name": learner.user.first_name or learner.user.email,
        "level": placement.level,
        "level_name": placement.level_name,
        "level_focus": level.get("focus", ""),
        "level_promise": level.get("promise", ""),
        "next_level_name": curriculum.level_name(placement.level + 1),
        "modules": [
            {"number": number, "title": curriculum.module_titles.get(number, "")}
            for number in steps.modules
        ],
        "keys": list(steps.open_keys[:NEXT_KEYS_SHOWN]),
        "more_keys": max(0, len(steps.open_keys) - NEXT_KEYS_SHOWN),
        "keys_needed": steps.keys_needed,
        "maintaining": steps.maintaining,
        "has_assessment": learner.assessment_submitted_at is not None,
        "progress_url": absolute_url("/progress/"),
        "profile_url": absolute_url("/profile/"),
        "unsubscribe_url": unsubscribe_url(learner.pk),
    }


def nudge_message(*, nudge: Nudge, learner: Learner, context: dict) -> EmailMultiAlternatives:
    """The email, multipart text + HTML, with RFC 8058 one-click unsubscribe headers."""
    base = f"nudges/email/{nudge.kind}"
    subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{base}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[learner.user.email],
        headers={
            "List-Unsubscribe": f"<{context['unsubscribe_url']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
            "X-Nudge": f"{nudge.kind} {nudge.pk}",
        },
    )
    message.attach_alternative(render_to_string(f"{base}.html", context), "text/html")
    return message
