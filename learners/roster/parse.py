"""Parsing and validating a roster row: every problem with its line and column."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models.functions import Lower

from curriculum.models import Track
from curriculum.selectors import curriculum_rules

from .. import assessment
from ..models import Learner, User, available_timezones
from .columns import BATCH_SIZE, LIST_SEPARATOR, RowError

EMAIL_MAX_LENGTH = User._meta.get_field("email").max_length
TEXT_LIMITS = (("first_name", 150), ("last_name", 150), ("cohort", 120))


@dataclass
class ParsedRow:
    """A valid row."""

    line: int
    email: str
    first_name: str
    last_name: str
    track: Track | None  # as written in the row (None = blank)
    cohort: str
    timezone: str
    nudges_enabled: bool | None
    answers: dict
    has_answers: bool
    modules: set[int]
    keys: set[str]


class CurriculumIndex:
    """What validation needs from the curriculum, read once per import."""

    def __init__(self) -> None:
        rules = curriculum_rules(fresh=True)
        self.tracks = {track.slug: track for track in Track.objects.all()}
        self.modules = dict(rules.module_ids)  # number -> id
        self.keys: dict[str, tuple[str, int, tuple[int, ...]]] = {}  # code -> track, id, modules
        for slug, track_rules in rules.tracks.items():
            for keys in track_rules.keys.values():
                for key in keys:
                    self.keys[key.code] = (slug, key.id, tuple(sorted(key.module_numbers)))


def users_by_email(emails: set[str]) -> dict[str, User]:
    """Existing users (with their learner, track and cohort) by lower-cased email."""
    users: dict[str, User] = {}
    ordered = sorted(emails)
    for start in range(0, len(ordered), BATCH_SIZE):
        batch = ordered[start : start + BATCH_SIZE]
        for user in (
            User.objects.annotate(email_lower=Lower("email"))
            .filter(email_lower__in=batch)
            .select_related("learner", "learner__track", "learner__cohort")
        ):
            users[user.email_lower] = user
    return users


def existing_learner(user: User | None) -> Learner | None:
    if user is None:
        return None
    try:
        return user.learner
    except Learner.DoesNotExist:
        return None


class RowParser:
    """Parses the rows of one file: emails must be unique across its rows."""

    def __init__(self, curriculum: CurriculumIndex, users: dict[str, User]) -> None:
        self.curriculum = curriculum
        self.users = users
        self.first_line_of: dict[str, int] = {}

    def parse(self, line: int, values: dict[str, str]) -> tuple[ParsedRow | None, list[RowError]]:
        """The row, or None and its errors."""
        found: list[RowError] = []

        def error(column: str, message: str) -> None:
            found.append(RowError(line, column, message))

        email = self._email(line, values["email"], error)
        for name, limit in TEXT_LIMITS:
            if len(values[name]) > limit:
                error(name, f"longer than {limit} characters")
        track = None
        if values["track"]:
            track = self.curriculum.tracks.get(values["track"].lower())
            if track is None:
                known = ", ".join(self.curriculum.tracks)
                error("track", f"unknown track “{values['track']}” (one of: {known})")
        existing = existing_learner(self.users.get(email))
        effective_track = track or (existing.track if existing and not values["track"] else None)
        tz = values["timezone"]
        if tz and tz not in available_timezones():
            error("timezone", f"“{tz}” is not a known IANA time zone (e.g. Europe/Paris)")
        nudges_enabled = _yes_no("nudges_enabled", values["nudges_enabled"], error)
        answers, has_answers = _answers(
            values, effective_track, track_written=bool(values["track"]), error=error
        )
        modules = parse_modules(values["completed_modules"], self.curriculum, error)
        keys = parse_keys(
            values["completed_keys"],
            self.curriculum,
            effective_track,
            track_unreadable=bool(values["track"]) and track is None,
            error=error,
        )
        if found:
            return None, found
        row = ParsedRow(
            line=line,
            email=email,
            first_name=values["first_name"],
            last_name=values["last_name"],
            track=track,
            cohort=values["cohort"],
            timezone=tz,
            nudges_enabled=nudges_enabled,
            answers=answers,
            has_answers=has_answers,
            modules=modules,
            keys=keys,
        )
        return row, []

    def _email(self, line: int, raw: str, error) -> str:
        email = raw.lower()
        if not email:
            error("email", "an email address is required")
        elif len(email) > EMAIL_MAX_LENGTH:
            error("email", f"longer than {EMAIL_MAX_LENGTH} characters")
        else:
            try:
                validate_email(email)
            except ValidationError:
                error("email", f"“{raw}” is not a valid email address")
            else:
                if email in self.first_line_of:
                    error("email", f"{email} is already on line {self.first_line_of[email]}")
                else:
                    self.first_line_of[email] = line
        return email


def _yes_no(column: str, raw: str, error) -> bool | None:
    try:
        return assessment.parse_yes_no(raw)
    except assessment.AnswerError as problem:
        error(column, str(problem))
        return None


def _answers(values: dict[str, str], track: Track | None, *, track_written: bool, error):
    """The row's self-assessment (as ``learners.assessment`` reads and checks it) and
    whether the row answers it at all (every answer blank: not submitted)."""
    answers: dict = {}
    unreadable: set[str] = set()
    for question in assessment.QUESTIONS:
        try:
            answers[question.name] = assessment.parse_answer(question, values[question.name])
        except assessment.AnswerError as problem:
            answers[question.name] = assessment.blank(question.name)
            unreadable.add(question.name)
            error(question.name, str(problem))
    has_answers = any(values[name] for name in assessment.FIELDS)
    if not has_answers:
        return answers, False
    if track is None:
        if not track_written:
            error("track", "the row answers the self-assessment, so it needs a track")
        return answers, True
    problems = assessment.assessment_errors(track.slug, answers, track_name=track.slug)
    for name, message in problems.items():
        if name not in unreadable:
            error(name, message)
    return answers, True


def split_list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(LIST_SEPARATOR) if part.strip()]


def parse_modules(raw: str, curriculum: CurriculumIndex, error) -> set[int]:
    numbers: set[int] = set()
    known = sorted(curriculum.modules)
    span = f"{known[0]}-{known[-1]}" if known else "none"
    for part in split_list(raw):
        if not (part.isascii() and part.isdigit()):
            error(
                "completed_modules",
                f"“{part}” is not a module number ({span}, separated by “{LIST_SEPARATOR}”)",
            )
        elif len(part) > 9 or int(part) not in curriculum.modules:
            error("completed_modules", f"there is no module {part} (modules are {span})")
        else:
            numbers.add(int(part))
    return numbers


def parse_keys(
    raw: str, curriculum: CurriculumIndex, track: Track | None, *, track_unreadable: bool, error
) -> set[str]:
    codes: set[str] = set()
    trackless: list[str] = []
    for part in split_list(raw):
        code = part.lower()
        key = curriculum.keys.get(code)
        if key is None:
            error("completed_keys", f"unknown key code “{part}”")
            continue
        key_track, _, modules = key
        if modules:
            error(
                "completed_keys",
                f"{code} follows its modules ({', '.join(map(str, modules))}): "
                "list them in completed_modules instead",
            )
        elif track is None:
            trackless.append(code)
        elif key_track != track.slug:
            error("completed_keys", f"{code} is a key of the {key_track} track, not {track.slug}")
        else:
            codes.add(code)
    if trackless and not track_unreadable:
        error("completed_keys", f"keys need the row's track to be set ({', '.join(trackless)})")
    return codes
