"""What a nudge email says: subject, plain text and HTML from ``templates/nudges/email/``."""

from __future__ import annotations

import zlib
from datetime import datetime

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from curriculum.rules import CurriculumRules

from ..explanation import explain, fastest_way
from ..models import Learner
from ..placement import Placement, module_list, usd
from ..selectors import learner_profile
from . import rules
from .models import Nudge

UNSUBSCRIBE_SALT = "learners.nudges.unsubscribe"
PREFERENCES_SALT = "learners.nudges.preferences"
NEXT_KEYS_SHOWN = 3


def unsubscribe_token(learner_id: int) -> str:
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign_object({"learner": learner_id})


def preferences_token(learner_id: int) -> str:
    """The preference page's link in emails (another salt: an unsubscribe token cannot
    turn nudges back on)."""
    return signing.Signer(salt=PREFERENCES_SALT).sign_object({"learner": learner_id})


def unsubscribe_learner_id(token: str) -> int:
    """The learner a token was made for; raises ``signing.BadSignature`` when tampered."""
    return _token_learner_id(token, UNSUBSCRIBE_SALT)


def preferences_learner_id(token: str) -> int:
    return _token_learner_id(token, PREFERENCES_SALT)


def _token_learner_id(token: str, salt: str) -> int:
    try:
        value = signing.Signer(salt=salt).unsign_object(token)
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


def preferences_url(learner_id: int) -> str:
    return absolute_url(f"/nudges/preferences/{preferences_token(learner_id)}/")


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def nudge_reason(nudge: Nudge, learner: Learner, now: datetime | None = None) -> str:
    """Why this nudge was sent, in one sentence the learner reads in the email. Day counts
    are as of the moment the nudge was decided (the sweep's moment, ``created_at``), not of
    the moment it goes out (a deferred email would otherwise count its own wait)."""
    now = nudge.created_at or now
    if nudge.kind == rules.NEXT_STEP:
        if rules.is_manual(nudge.dedup_key):
            return "Your instructor asked us to send you your next step."
        if learner.last_activity_at is None:
            days = (now - learner.created_at).days
            return f"You haven't ticked anything since you signed up {_days(days)} ago."
        return f"You haven't ticked anything for {_days((now - learner.last_activity_at).days)}."
    if nudge.kind == rules.SELF_ASSESSMENT:
        days = (now - learner.created_at).days
        return f"You signed up {_days(days)} ago and haven't filled in the self-assessment."
    if nudge.kind == rules.LEVEL_UP:
        return f"You moved up to Level {rules.level_of(nudge.dedup_key)}."
    if nudge.kind == rules.PLACEMENT:
        return "You filled in the self-assessment, which placed you on the pyramid."
    # True of every verified account: confirmed by the learner, made by an invitation or
    # demo data (the welcome cannot tell which).
    return "You have a new account on the Profit Pyramid."


def _modules_words(numbers) -> str:
    ordered = tuple(sorted(numbers))
    if not ordered:
        return ""
    return f"module{'s' if len(ordered) > 1 else ''} {module_list(ordered)}"


def nudge_context(
    *,
    nudges: list[Nudge],
    learner: Learner,
    placement: Placement,
    curriculum: CurriculumRules,
    levels: dict[int, dict[str, str]],
    now: datetime,
) -> dict:
    """The email's context: the first nudge leads; the others (due at the same time) are
    carried by it and their reasons join the "why" line."""
    nudge = nudges[0]
    kinds = {each.kind for each in nudges}
    steps = placement.next_steps
    level = levels.get(placement.level, {})
    headlines = level.get("headlines", {})
    return {
        "nudge": nudge,
        "kind": nudge.kind,
        "combined_kinds": [other.kind for other in nudges[1:]],
        "manual": nudge.kind == rules.NEXT_STEP and rules.is_manual(nudge.dedup_key),
        # Where the learner starts and why: the placement email, or a welcome carrying it.
        "start_why": (
            explain(curriculum, learner_profile(learner, learner.track.slug), placement)
            if kinds & {rules.PLACEMENT, rules.WELCOME}
            and learner.track_id is not None
            and learner.assessment_submitted_at is not None
            else ()
        ),
        "why": " ".join(nudge_reason(each, learner, now) for each in nudges),
        "first_name": learner.user.first_name.strip(),
        "level": placement.level,
        "level_name": placement.level_name,
        # The level's headline in the learner's track's emails.
        "level_headline": headlines.get(learner.track.slug, "") if learner.track_id else "",
        "level_promise": level.get("promise", ""),
        "next_level_name": curriculum.level_name(placement.level + 1),
        "modules": [
            {"number": number, "title": curriculum.module_titles.get(number, "")}
            for number in steps.modules
        ],
        # What a student reads of a key: its text and, for a key its modules do, those
        # modules in the progress page's words ("modules 4–6"); no code.
        "keys": [
            {"text": key.text, "modules": _modules_words(key.module_numbers)}
            for key in steps.open_keys[:NEXT_KEYS_SHOWN]
        ],
        "step_count": len(steps.modules) + min(len(steps.open_keys), NEXT_KEYS_SHOWN),
        # What moves them up, in the progress page's sentence (one home: its key count is
        # the meter's, a key done by finishing modules said to be).
        "fastest_way": fastest_way(placement, curriculum.level_name(placement.level + 1)),
        # Nothing left but the income gate: the gate's own sentence says it.
        "gate_only": steps.gate_amount is not None and not steps.modules and not steps.keys_needed,
        "more_keys": max(0, len(steps.open_keys) - NEXT_KEYS_SHOWN),
        "keys_needed": steps.keys_needed,
        # An income gate still to reach (the document's success metric for the next level).
        "gate": (
            {
                "metric": curriculum.tracks[learner.track.slug].currency_metric,
                "amount": usd(steps.gate_amount),
            }
            if steps.gate_amount is not None and learner.track_id is not None
            else None
        ),
        "maintaining": steps.maintaining,
        "has_assessment": learner.assessment_submitted_at is not None,
        "progress_url": absolute_url("/progress/"),
        "profile_url": absolute_url("/profile/"),
        "unsubscribe_url": unsubscribe_url(learner.pk),
        "preferences_url": preferences_url(learner.pk),
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
