"""The self-assessment: every question declared once.

Each ``Question`` names a learner field (and the roster CSV column of the same name), its
track, its kind of answer, whether it may be left blank, and which of the document's
"Ask yourself" questions gives its wording. Everything else derives from ``QUESTIONS``:
the model fields (``learners.models``), the placement rule's ``Profile``
(``learners.placement``), the student's form (``learners.forms``), the admin form, and the
roster's columns and parsers (``learners.roster``). Validation and its messages live here
(``assessment_errors``), so the page, the admin, the roster and the API say the same thing.

Pure Python: no Django, so the placement rule can use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    AMOUNT = "amount"  # whole US dollars, 0 or more
    YES_NO = "yes_no"
    CHOICE = "choice"


@dataclass(frozen=True)
class Question:
    name: str
    track: str
    kind: Kind
    label: str  # used when the curriculum has no wording for it
    optional: bool = False  # may be left blank ("prefer not to say")
    # The track's "Ask yourself" question (by order) whose text is the label.
    document_question: int | None = None
    help_text: str = ""  # "{metric}" is replaced by the track's currency metric
    choices: tuple[tuple[str, str], ...] = ()  # CHOICE: (value, label)
    # The track's currency metric, the figure the curriculum's bands and gates read (one
    # question per track).
    currency: bool = False
    yes: str = "Yes"  # YES_NO: the two answers as the learner reads them
    no: str = "No"
    required_message: str = "Please answer this question."


# In the order of the roster CSV columns (PRODUCT.md); each track's questions keep this order.
QUESTIONS: tuple[Question, ...] = (
    # The document asks "What is your current salary range?": it places by band, while the
    # form takes one figure and finds the band itself, so the label is the site's own (the
    # document and its curriculum data stay as written; a reload could not bring "range" back).
    Question(
        "annual_compensation",
        "engineer",
        Kind.AMOUNT,
        "What is your current annual salary?",
        optional=True,
        currency=True,
        help_text="Your {metric} in US dollars, one figure: 180k, $180,000 or 180000.",
    ),
    Question(
        "monthly_recurring_revenue",
        "founder",
        Kind.AMOUNT,
        "Monthly recurring revenue (MRR)",
        currency=True,
        help_text="In US dollars, one figure (50k, $50,000 or 50000); 0 if you have no revenue.",
        required_message="Enter your MRR in US dollars (0 if pre-revenue).",
    ),
    Question(
        "monthly_api_cost",
        "founder",
        Kind.AMOUNT,
        "Monthly API costs",
        optional=True,
        document_question=1,
        help_text="In US dollars.",
    ),
    Question(
        "can_explain_concepts",
        "engineer",
        Kind.YES_NO,
        "Can you explain how MoE, MLA and FP8 work?",
    ),
    Question(
        "can_implement_from_scratch",
        "engineer",
        Kind.YES_NO,
        "Can you implement MoE or MLA from scratch?",
        document_question=2,
    ),
    Question(
        "deployed_at_scale",
        "engineer",
        Kind.YES_NO,
        "Have you deployed a production system at scale?",
        document_question=3,
    ),
    Question(
        "seen_as",
        "engineer",
        Kind.CHOICE,
        "How do interviewers see you?",
        document_question=4,
        choices=(("architect", "Production architect"), ("integrator", "API integrator")),
    ),
    Question(
        "leads_initiatives",
        "engineer",
        Kind.YES_NO,
        "Do you lead AI initiatives?",
        document_question=5,
        yes="I lead initiatives",
        no="I mostly use APIs",
    ),
    Question(
        "owns_model_weights",
        "founder",
        Kind.YES_NO,
        "Do you own model weights?",
        document_question=3,
        yes="I own model weights",
        no="I rent capability",
    ),
    Question(
        "replicable_by_competitors",
        "founder",
        Kind.YES_NO,
        "Could competitors replicate your product?",
        document_question=4,
    ),
    Question(
        "investor_fundable",
        "founder",
        Kind.YES_NO,
        "Would investors fund your own technology?",
        document_question=5,
    ),
)

FIELDS: tuple[str, ...] = tuple(question.name for question in QUESTIONS)
BY_NAME: dict[str, Question] = {question.name: question for question in QUESTIONS}
TRACKS: tuple[str, ...] = tuple(dict.fromkeys(question.track for question in QUESTIONS))
# Each track's currency question, by track.
CURRENCY: dict[str, str] = {
    question.track: question.name for question in QUESTIONS if question.currency
}
# The founders' "Ask yourself" question 2 (API costs as a share of revenue) is not asked:
# the site works it out from the two amounts, and shows its wording as help.
FOUNDER_SHARE_QUESTION = 2

MAX_AMOUNT = 1_000_000_000
# Decimal digits (\d: any script's, never "²"), thousands separated by commas or not at all;
# "k" (thousand) or "m" (million) after the number, which may then have a decimal part.
_AMOUNT_RE = re.compile(r"^\$?(?P<whole>\d{1,3}(,\d{3})+|\d+)(?P<suffix>(\.\d+)?[kKmM])?$")
_MULTIPLIERS = {"k": 1_000, "m": 1_000_000}
TRUE_WORDS = frozenset({"yes", "true", "1"})
FALSE_WORDS = frozenset({"no", "false", "0"})


def questions_of(track: str | None) -> tuple[Question, ...]:
    return tuple(question for question in QUESTIONS if question.track == track)


def blank(name: str):
    """The stored value of an unanswered question ("" for a choice, else None)."""
    return "" if BY_NAME[name].kind is Kind.CHOICE else None


def is_blank(value) -> bool:
    return value is None or value == ""


# -- reading answers written as text (the roster's cells, the form's amounts) -------------


class AnswerError(ValueError):
    """The text is not an answer to the question; the message says why, to a person."""


def parse_amount(raw: str) -> int | None:
    """ "160000", "160,000", "$160,000", " 160 000", "-0", "180k", "1.5M" -> the amount;
    blank -> None.

    Decimal digits of any script are read ("١٦٠٠٠٠" is 160000); superscripts, fractions,
    exponents and hexadecimal are not amounts. A decimal part is taken only before "k" or "m"
    and must come to whole dollars ("1.2345k" is not).
    """
    text = raw.strip().replace(" ", "")
    if not text:
        return None
    negative = text.startswith("-")
    if negative:
        text = text[1:]
    match = _AMOUNT_RE.match(text)
    if match is None:
        raise AnswerError(
            f"Enter a whole number of US dollars, for example 160000, $160,000 or 160k "
            f"(not “{raw}”)."
        )
    digits = match.group("whole").replace(",", "").lstrip("0") or "0"
    fraction, multiplier = "", 1
    if match.group("suffix"):
        suffix = match.group("suffix")
        multiplier = _MULTIPLIERS[suffix[-1].lower()]
        fraction = (suffix[1:-1] if suffix.startswith(".") else "").rstrip("0")
        if len(fraction) > 6:  # past a millionth of a million: never whole dollars
            raise AnswerError(f"“{raw[:30]}” is not a whole number of US dollars.")
    # Checked before int(): Python refuses to convert more than 4,300 digits.
    too_large = len(digits) > len(str(MAX_AMOUNT))
    if not too_large:
        scale = 10 ** len(fraction)
        total = (int(digits) * scale + (int(fraction) if fraction else 0)) * multiplier
        if total % scale:
            raise AnswerError(f"“{raw}” is not a whole number of US dollars.")
        amount = total // scale
        too_large = amount > MAX_AMOUNT
    if too_large:
        shown = raw if len(raw) <= 30 else raw[:30] + "…"
        raise AnswerError(
            f"“{shown}” is too large. That is more than ${MAX_AMOUNT:,}. Please check the figure."
        )
    if negative and amount != 0:
        raise AnswerError("The amount cannot be negative.")
    return amount


def parse_yes_no(raw: str) -> bool | None:
    word = raw.strip().lower()
    if not word:
        return None
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise AnswerError(f"“{raw}” is not yes or no (also true/false, 1/0; blank for unknown)")


def parse_answer(question: Question, raw: str):
    """The answer written as ``raw`` (blank -> the question's blank value)."""
    if question.kind is Kind.AMOUNT:
        return parse_amount(raw)
    if question.kind is Kind.YES_NO:
        return parse_yes_no(raw)
    value = raw.strip().lower()
    if not value:
        return ""
    allowed = [choice for choice, _ in question.choices]
    if value not in allowed:
        raise AnswerError(f"“{raw}” is not one of: {', '.join(allowed)}")
    return value


def format_answer(value) -> str:
    """An answer as the roster writes it (the inverse of ``parse_answer``)."""
    if value is None:
        return ""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


# -- the one validator ---------------------------------------------------------------------

NEEDS_TRACK = "Choose a track."


def not_on_track_message(track_name: str) -> str:
    return f"This question is not part of the {track_name} track."


def assessment_errors(track: str | None, answers: dict, *, track_name: str = "") -> dict[str, str]:
    """Why ``answers`` cannot be a submitted self-assessment on ``track`` (empty when they
    can): every question of the track answered (optional amounts may be blank), nothing of
    another track's, amounts within bounds."""
    if track is None or track not in TRACKS:
        return {"track": NEEDS_TRACK}
    errors: dict[str, str] = {}
    for question in QUESTIONS:
        value = answers.get(question.name)
        if question.track != track:
            if not is_blank(value):
                errors[question.name] = not_on_track_message(track_name or track)
        elif is_blank(value):
            if not question.optional:
                errors[question.name] = question.required_message
        elif question.kind is Kind.AMOUNT and not (0 <= value <= MAX_AMOUNT):
            errors[question.name] = f"Enter a whole number of US dollars from 0 to {MAX_AMOUNT:,}."
        elif question.kind is Kind.CHOICE and value not in dict(question.choices):
            errors[question.name] = "Choose one of the answers listed."
    return errors


def assessment_answers(track: str | None, answers: dict) -> dict:
    """Every field's stored value for a submitted self-assessment on ``track``: the track's
    answers as given, the other track's cleared (they belong to the old track)."""
    return {
        question.name: (
            answers.get(question.name)
            if question.track == track and not is_blank(answers.get(question.name))
            else blank(question.name)
        )
        for question in QUESTIONS
    }


def cleared_answers() -> dict:
    return {name: blank(name) for name in FIELDS}
