"""The roster CSV: the one code path for importing and exporting learners.

Used by the ``import_learners`` / ``export_learners`` commands and the admin's import page
and export action. The columns are those of PRODUCT.md ("Roster CSV columns"); the export
adds ``level`` and ``level_name``, which the import accepts and ignores.

What an import does (all rows or none):

* Every row is validated first and every problem is reported with its line and column;
  when there is any error, or on a dry run, nothing is written.
* The learner is found by email (case-insensitive). A new email creates a user with an
  unusable password (they set one through password reset) and their learner profile; an
  existing user without a learner profile gets one.
* For an existing learner the row sets the profile, but **a blank cell never erases**:
  blank ``first_name``, ``last_name``, ``cohort``, ``timezone`` or ``nudges_enabled`` keep
  the current value (new learners get no cohort, ``UTC`` and nudges on); blank ``track``
  keeps the current track.
* The self-assessment is the row's answers taken as a whole. A row with every answer blank
  is a learner who has not submitted it: a new learner is created without one, an existing
  learner keeps theirs, unless the row moves them to another track, which clears it (the
  old answers belong to the old track). A row with some answers must answer every question
  of its track (only the optional amounts may be blank) and nothing of the other track's.
* ``completed_modules`` and ``completed_keys`` are **added** (source "import", recorded by
  ``recorded_by``); an import never deletes a completion. Module-linked keys are not listed:
  they follow their modules.
* Cohorts named in the file are created when missing.
* Levels of the learners the import created or changed are recomputed in bulk.

The work is a fixed number of queries per batch of rows (users are looked up by email a
batch at a time, rows are written with bulk inserts and updates), never one per row.

Export writes every learner of a queryset a chunk at a time (one query for the learners,
then two per chunk for their modules and keys). Cells that a spreadsheet would run as a
formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) get a single
quote in front; the import removes it again, so an exported file imports back unchanged.
Only keys ticked by hand on the learner's current track are listed, and answers only when
the self-assessment is submitted, so that every exported file is a valid import.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, NamedTuple

from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from curriculum.models import Track

from .models import (
    Cohort,
    CompletionSource,
    KeyCompletion,
    Learner,
    ModuleProgress,
    SeenAs,
    User,
    available_timezones,
)
from .placement import CurriculumRules
from .selectors import PROFILE_FIELDS, curriculum_rules, progress_by_learner
from .services import TRACK_FIELDS, assessment_errors, learners_recompute, learners_touch

COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "track",
    "cohort",
    "timezone",
    "annual_compensation",
    "monthly_recurring_revenue",
    "monthly_api_cost",
    "can_explain_concepts",
    "can_implement_from_scratch",
    "deployed_at_scale",
    "seen_as",
    "leads_initiatives",
    "owns_model_weights",
    "replicable_by_competitors",
    "investor_fundable",
    "nudges_enabled",
    "completed_modules",
    "completed_keys",
)
EXPORT_COLUMNS = (*COLUMNS, "level", "level_name")
# Written by the export, accepted and ignored by the import (the level is recomputed).
IGNORED_COLUMNS = frozenset(EXPORT_COLUMNS) - frozenset(COLUMNS)

AMOUNT_FIELDS = ("annual_compensation", "monthly_recurring_revenue", "monthly_api_cost")
BOOLEAN_FIELDS = (
    "can_explain_concepts",
    "can_implement_from_scratch",
    "deployed_at_scale",
    "leads_initiatives",
    "owns_model_weights",
    "replicable_by_competitors",
    "investor_fundable",
)
TRUE_WORDS = frozenset({"yes", "true", "1"})
FALSE_WORDS = frozenset({"no", "false", "0"})
LIST_SEPARATOR = ";"
MAX_AMOUNT = 2**63 - 1  # PositiveBigIntegerField
EMAIL_MAX_LENGTH = User._meta.get_field("email").max_length
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

BATCH_SIZE = 1000
UPDATE_BATCH_SIZE = 250
EXPORT_CHUNK_SIZE = 1000
# An import reads at most this much of its file (a larger file is refused, never read whole)
# and at most this many rows.
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 100_000

# ASCII digits only: int() would take other scripts' digits, and "²" not at all.
_AMOUNT_RE = re.compile(r"^\$?(\d{1,3}(,\d{3})+|\d+)$", re.ASCII)


@dataclass
class RowError:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


class RowChange(NamedTuple):
    """One row of an import preview: what the import does (or did) to that learner."""

    line: int
    email: str
    action: str  # "create", "update" or "unchanged"
    description: str


@dataclass
class ImportReport:
    """The outcome of an import (or, with ``dry_run``, of its preview).

    ``rows`` counts the data rows of the file (blank lines skipped); ``created``,
    ``updated`` and ``unchanged`` count rows by what they do (all 0 when there are errors);
    ``changes`` has one entry per row in file order; nothing was written unless ``ok`` and
    not ``dry_run``.
    """

    rows: int
    created: int
    updated: int
    errors: list[RowError]
    dry_run: bool
    changes: list[RowChange]
    unchanged: int = 0
    cohorts_created: list[str] = field(default_factory=list)
    levels_changed: int = 0  # 0 on a dry run: levels are recomputed only when writing

    @property
    def ok(self) -> bool:
        return not self.errors


# -- export ---------------------------------------------------------------------------------


def roster_export(
    learners_queryset, stream: IO[str], *, chunk_size: int = EXPORT_CHUNK_SIZE
) -> int:
    """Write the learners of ``learners_queryset`` as roster CSV to ``stream``.

    Returns the number of learners written. Rows keep the queryset's order (by email when
    it has none). Only keys of the learner's own track that are ticked by hand are listed.
    """
    curriculum = curriculum_rules()
    listed_keys = _hand_ticked_keys(curriculum)
    queryset = learners_queryset.select_related("user", "track", "cohort")
    if not queryset.ordered:
        queryset = queryset.order_by("user__email", "pk")
    writer = csv.writer(stream)
    writer.writerow(EXPORT_COLUMNS)
    written = 0
    for chunk in _batched(queryset.iterator(chunk_size=chunk_size), chunk_size):
        progress = progress_by_learner([learner.pk for learner in chunk])
        for learner in chunk:
            track = learner.track.slug if learner.track_id else ""
            row = _export_row(
                learner,
                track=track,
                modules=sorted(progress[learner.pk].completed_modules),
                keys=sorted(
                    code
                    for code in progress[learner.pk].completed_keys
                    if listed_keys.get(code) == track
                ),
                level_name=curriculum.level_name(learner.level),
            )
            writer.writerow([_guard(cell) for cell in row])
            written += 1
    return written


def _export_row(
    learner: Learner, *, track: str, modules: list[int], keys: list[str], level_name: str
) -> list[str]:
    user = learner.user
    submitted = learner.assessment_submitted_at is not None
    answers = {name: _format_value(getattr(learner, name)) for name in PROFILE_FIELDS}
    if not submitted:  # stale answers do not count until the self-assessment is submitted
        answers = dict.fromkeys(PROFILE_FIELDS, "")
    values = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "track": track,
        "cohort": learner.cohort.name if learner.cohort_id else "",
        "timezone": learner.timezone,
        **answers,
        "nudges_enabled": _format_value(learner.nudges_enabled),
        "completed_modules": LIST_SEPARATOR.join(str(number) for number in modules),
        "completed_keys": LIST_SEPARATOR.join(keys),
        "level": str(learner.level),
        "level_name": level_name,
    }
    return [values[column] for column in EXPORT_COLUMNS]


def _format_value(value) -> str:
    if value is None:
        return ""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def _guard(cell: str) -> str:
    """Keep a spreadsheet from running the cell as a formula (OWASP "CSV injection").

    Cells that are only quotes in front of a formula start get one more quote, so that
    ``_unguard`` gives back exactly the original value.
    """
    if cell.lstrip("'").startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def _unguard(cell: str) -> str:
    if cell.startswith("'") and cell.lstrip("'").startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


def _hand_ticked_keys(curriculum: CurriculumRules) -> dict[str, str]:
    """Code -> track slug of every key ticked by hand (module-linked keys excluded)."""
    return {
        key.code: slug
        for slug, rules in curriculum.tracks.items()
        for keys in rules.keys.values()
        for key in keys
        if not key.module_linked
    }


def _batched(iterable: Iterable, size: int) -> Iterator[list]:
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


# -- import ---------------------------------------------------------------------------------


@dataclass
class _Row:
    """A validated row."""

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


@dataclass
class _Plan:
    """What writing one row does."""

    row: _Row
    user: User | None  # the existing user, if any
    learner: Learner | None  # the existing learner, if any
    action: str
    changes: list[str]
    user_fields: dict = field(default_factory=dict)
    learner_fields: dict = field(default_factory=dict)
    new_modules: set[int] = field(default_factory=set)
    new_keys: set[str] = field(default_factory=set)


class _Curriculum:
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


def roster_import(
    source: str | bytes | Path | IO, *, dry_run: bool = False, recorded_by: User | None = None
) -> ImportReport:
    """Import a roster CSV: all rows or none. See the module docstring for what it does.

    ``source`` is the CSV itself (``str`` or ``bytes``), a ``Path`` to a file, or an open file
    (text or binary, e.g. an uploaded file). Bytes are read as UTF-8 (a BOM is allowed).
    A file larger than ``MAX_FILE_BYTES`` or longer than ``MAX_ROWS`` rows is an error (and is
    never read whole).
    Returns the report; it raises only on database failures, never on bad input.
    """
    errors: list[RowError] = []
    records = _read_records(source, errors)
    if errors:
        return _failed(0, errors, dry_run)
    header_line, header = records[0] if records else (1, [])
    columns = _read_header(header_line, header, errors)
    data = [(line, cells) for line, cells in records[1:] if any(cell.strip() for cell in cells)]
    if errors:
        return _failed(len(data), errors, dry_run)

    curriculum = _Curriculum()
    values_by_row = []
    for line, cells in data:
        if len(cells) > len(header):
            errors.append(
                RowError(
                    line,
                    header[-1] if header else "email",
                    f"the row has {len(cells)} cells but the header has {len(header)} columns",
                )
            )
            continue
        cells = cells + [""] * (len(header) - len(cells))
        nul = [name for name, index in columns.items() if "\x00" in cells[index]]
        if nul:
            # A binary file, or a corrupt one; no database stores text with NUL characters.
            errors.extend(
                RowError(line, name, "contains a NUL character (is this a binary file?)")
                for name in nul
            )
            continue
        values_by_row.append(
            (line, {name: _unguard(cells[index].strip()) for name, index in columns.items()})
        )

    emails = {values["email"].lower() for _, values in values_by_row if values["email"]}
    users = _users_by_email(emails)
    rows: list[_Row] = []
    first_line_of: dict[str, int] = {}
    for line, values in values_by_row:
        row = _parse_row(line, values, curriculum, users, first_line_of, errors)
        if row is not None:
            rows.append(row)
    if errors:
        errors.sort(key=lambda error: (error.line, _column_order(error.column)))
        return _failed(len(data), errors, dry_run)

    plans, new_cohorts = _plan(rows, users, curriculum)
    report = ImportReport(
        rows=len(data),
        created=sum(plan.action == "create" for plan in plans),
        updated=sum(plan.action == "update" for plan in plans),
        unchanged=sum(plan.action == "unchanged" for plan in plans),
        errors=[],
        dry_run=dry_run,
        changes=[
            RowChange(plan.row.line, plan.row.email, plan.action, "; ".join(plan.changes))
            for plan in plans
        ],
        cohorts_created=sorted(new_cohorts),
    )
    if not dry_run:
        with transaction.atomic():
            learner_ids = _write(plans, new_cohorts, curriculum, recorded_by)
            # A batch at a time: a recompute filtered by ten thousand ids is slow on PostgreSQL.
            for start in range(0, len(learner_ids), BATCH_SIZE):
                batch = learner_ids[start : start + BATCH_SIZE]
                learners_touch(learner_ids=batch)
                report.levels_changed += learners_recompute(learner_ids=batch).changed
    return report


def _failed(rows: int, errors: list[RowError], dry_run: bool) -> ImportReport:
    return ImportReport(rows=rows, created=0, updated=0, errors=errors, dry_run=dry_run, changes=[])


def _column_order(column: str) -> int:
    return EXPORT_COLUMNS.index(column) if column in EXPORT_COLUMNS else len(EXPORT_COLUMNS)


def _read_records(source, errors: list[RowError]) -> list[tuple[int, list[str]]]:
    """(first line number, cells) of every record of the file, the header first."""
    if isinstance(source, Path):
        with source.open("rb") as file:
            source = file.read(MAX_FILE_BYTES + 1)
    elif not isinstance(source, str | bytes):
        source = source.read(MAX_FILE_BYTES + 1)
    if len(source) > MAX_FILE_BYTES:
        errors.append(
            RowError(
                1,
                "file",
                f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB: "
                "split it into smaller files",
            )
        )
        return []
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = source[: error.start].count(b"\n") + 1
            errors.append(RowError(line, "file", "the file is not UTF-8 text"))
            return []
    source = source.removeprefix("\ufeff")
    # Strict: an unclosed quote is an error, not a cell that swallows the rest of the file.
    reader = csv.reader(io.StringIO(source, newline=""), strict=True)
    records = []
    line = 1
    try:
        for cells in reader:
            if len(records) > MAX_ROWS:  # the header and MAX_ROWS rows already read
                errors.append(
                    RowError(line, "file", f"more than {MAX_ROWS:,} rows: split the file")
                )
                break
            records.append((line, cells))
            line = reader.line_num + 1
    except csv.Error as error:
        errors.append(RowError(line, "file", f"this is not valid CSV ({error})"))
    if not records and not errors:
        errors.append(RowError(1, "file", "the file is empty: it needs a header row"))
    return records


def _read_header(line: int, header: list[str], errors: list[RowError]) -> dict[str, int]:
    columns: dict[str, int] = {}
    if any("\x00" in raw for raw in header):
        errors.append(
            RowError(
                line,
                "file",
                "the header contains NUL characters: save the file as UTF-8 CSV "
                "(it may be UTF-16, or not a CSV file at all)",
            )
        )
        return columns
    for index, raw in enumerate(header):
        name = raw.strip().lower()
        if name in columns:
            errors.append(RowError(line, name, "this column appears twice in the header"))
        elif name in COLUMNS:
            columns[name] = index
        elif name not in IGNORED_COLUMNS:
            errors.append(
                RowError(line, raw.strip() or f"#{index + 1}", "unknown column in the header")
            )
    for name in COLUMNS:
        if name not in columns:
            errors.append(RowError(line, name, "this column is missing from the header"))
    return columns


def _users_by_email(emails: set[str]) -> dict[str, User]:
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


def _existing_learner(user: User | None) -> Learner | None:
    if user is None:
        return None
    try:
        return user.learner
    except Learner.DoesNotExist:
        return None


def _parse_row(
    line: int,
    values: dict[str, str],
    curriculum: _Curriculum,
    users: dict[str, User],
    first_line_of: dict[str, int],
    errors: list[RowError],
) -> _Row | None:
    found: list[RowError] = []

    def error(column: str, message: str) -> None:
        found.append(RowError(line, column, message))

    email = values["email"].lower()
    if not email:
        error("email", "an email address is required")
    elif len(email) > EMAIL_MAX_LENGTH:
        error("email", f"longer than {EMAIL_MAX_LENGTH} characters")
    else:
        try:
            validate_email(email)
        except ValidationError:
            error("email", f"“{values['email']}” is not a valid email address")
        else:
            if email in first_line_of:
                error("email", f"{email} is already on line {first_line_of[email]}")
            else:
                first_line_of[email] = line

    for name, limit in (("first_name", 150), ("last_name", 150), ("cohort", 120)):
        if len(values[name]) > limit:
            error(name, f"longer than {limit} characters")

    track = None
    if values["track"]:
        track = curriculum.tracks.get(values["track"].lower())
        if track is None:
            error(
                "track",
                f"unknown track “{values['track']}” (one of: {', '.join(curriculum.tracks)})",
            )
    existing = _existing_learner(users.get(email))
    effective_track = track or (existing.track if existing and not values["track"] else None)

    tz = values["timezone"]
    if tz and tz not in available_timezones():
        error("timezone", f"“{tz}” is not a known IANA time zone (e.g. Europe/Paris)")

    nudges_enabled = _parse_boolean("nudges_enabled", values["nudges_enabled"], error)

    answers: dict = {}
    unreadable: set[str] = set()
    for name in PROFILE_FIELDS:
        raw = values[name]
        if name in AMOUNT_FIELDS:
            answers[name] = _parse_amount(name, raw, error)
        elif name in BOOLEAN_FIELDS:
            answers[name] = _parse_boolean(name, raw, error)
        elif not raw:
            answers[name] = None
        elif raw.lower() in SeenAs.values:
            answers[name] = raw.lower()
        else:
            answers[name] = None
            error(name, f"“{raw}” is not one of: {', '.join(SeenAs.values)}")
        if raw and answers[name] is None:
            unreadable.add(name)
    has_answers = any(values[name] for name in PROFILE_FIELDS)
    if has_answers:
        if effective_track is None:
            if not values["track"]:
                error("track", "the row answers the self-assessment, so it needs a track")
        else:
            for name, message in assessment_errors(effective_track, answers).items():
                if name in unreadable:
                    continue
                if name in TRACK_FIELDS.get(effective_track.slug, ()):
                    message = (
                        "needs an answer: the row answers part of the self-assessment "
                        "(leave every answer blank for a learner who has not submitted it)"
                    )
                else:
                    message = f"belongs to the other track, not {effective_track.slug}"
                error(name, message)

    modules = _parse_modules(values["completed_modules"], curriculum, error)
    keys = _parse_keys(
        values["completed_keys"],
        curriculum,
        effective_track,
        track_unreadable=bool(values["track"]) and track is None,
        error=error,
    )

    if found:
        errors.extend(found)
        return None
    return _Row(
        line=line,
        email=email,
        first_name=values["first_name"],
        last_name=values["last_name"],
        track=track,
        cohort=values["cohort"],
        timezone=tz,
        nudges_enabled=nudges_enabled,
        answers={
            name: ("" if name == "seen_as" and value is None else value)
            for name, value in answers.items()
        },
        has_answers=has_answers,
        modules=modules,
        keys=keys,
    )


def _parse_boolean(column: str, raw: str, error) -> bool | None:
    word = raw.lower()
    if not word:
        return None
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    error(column, f"“{raw}” is not yes or no (also true/false, 1/0; blank for unknown)")
    return None


def _parse_amount(column: str, raw: str, error) -> int | None:
    if not raw:
        return None
    if raw.lstrip().startswith("-") and _AMOUNT_RE.match(raw.lstrip()[1:]):
        error(column, f"“{raw}” is negative: amounts are whole USD, 0 or more")
        return None
    if not _AMOUNT_RE.match(raw):
        error(column, f"“{raw}” is not a whole number of USD (e.g. 160000)")
        return None
    digits = raw.lstrip("$").replace(",", "").lstrip("0") or "0"
    # Checked before int(): Python refuses to convert more than 4,300 digits.
    if len(digits) > len(str(MAX_AMOUNT)) or int(digits) > MAX_AMOUNT:
        error(column, f"“{raw[:30]}{'…' if len(raw) > 30 else ''}” is too large")
        return None
    return int(digits)


def _split_list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(LIST_SEPARATOR) if part.strip()]


def _parse_modules(raw: str, curriculum: _Curriculum, error) -> set[int]:
    numbers: set[int] = set()
    known = sorted(curriculum.modules)
    span = f"{known[0]}-{known[-1]}" if known else "none"
    for part in _split_list(raw):
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


def _parse_keys(
    raw: str, curriculum: _Curriculum, track: Track | None, *, track_unreadable: bool, error
) -> set[str]:
    codes: set[str] = set()
    trackless: list[str] = []
    for part in _split_list(raw):
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


def _plan(
    rows: list[_Row], users: dict[str, User], curriculum: _Curriculum
) -> tuple[list[_Plan], set[str]]:
    """What each row changes, against the current data (used for the preview and to write)."""
    existing_cohorts = set(
        Cohort.objects.filter(name__in={row.cohort for row in rows if row.cohort}).values_list(
            "name", flat=True
        )
    )
    new_cohorts = {row.cohort for row in rows if row.cohort} - existing_cohorts
    learners = [learner for row in rows if (learner := _existing_learner(users.get(row.email)))]
    done_modules, done_keys = _completions([learner.pk for learner in learners])
    plans = []
    for row in rows:
        user = users.get(row.email)
        learner = _existing_learner(user)
        if learner is None:
            plans.append(_plan_new(row, user, new_cohorts))
        else:
            plans.append(
                _plan_update(row, user, learner, done_modules[learner.pk], done_keys[learner.pk])
            )
    return plans, new_cohorts


def _completions(learner_ids: list[int]) -> tuple[dict[int, set[int]], dict[int, set[str]]]:
    modules: dict[int, set[int]] = {}
    keys: dict[int, set[str]] = {}
    for start in range(0, len(learner_ids), BATCH_SIZE):
        for learner_id, done in progress_by_learner(
            learner_ids[start : start + BATCH_SIZE]
        ).items():
            modules[learner_id] = set(done.completed_modules)
            keys[learner_id] = set(done.completed_keys)
    return modules, keys


def _plan_new(row: _Row, user: User | None, new_cohorts: set[str]) -> _Plan:
    learner_fields = {
        "track": row.track,
        "cohort": row.cohort or None,
        "timezone": row.timezone or "UTC",
        "nudges_enabled": True if row.nudges_enabled is None else row.nudges_enabled,
        **row.answers,
        "submitted": row.has_answers,
    }
    changes = [
        ("new learner" if user is None else "learner profile for an existing user")
        + (f" on the {row.track.slug} track" if row.track else " without a track")
    ]
    changes.append("with a self-assessment" if row.has_answers else "no self-assessment yet")
    if row.cohort:
        changes.append(
            f"cohort {row.cohort}" + (" (new cohort)" if row.cohort in new_cohorts else "")
        )
    changes.extend(_progress_changes(row.modules, row.keys))
    user_fields = {}
    if user is not None:
        user_fields = {
            name: getattr(row, name)
            for name in ("first_name", "last_name")
            if getattr(row, name) and getattr(row, name) != getattr(user, name)
        }
    return _Plan(
        row=row,
        user=user,
        learner=None,
        action="create",
        changes=changes,
        user_fields=user_fields,
        learner_fields=learner_fields,
        new_modules=set(row.modules),
        new_keys=set(row.keys),
    )


def _plan_update(
    row: _Row, user: User, learner: Learner, done_modules: set[int], done_keys: set[str]
) -> _Plan:
    changes: list[str] = []
    user_fields = {
        name: getattr(row, name)
        for name in ("first_name", "last_name")
        if getattr(row, name) and getattr(row, name) != getattr(user, name)
    }
    changes.extend(f"{name} changed" for name in user_fields)
    learner_fields: dict = {}
    track_changes = row.track is not None and row.track.pk != learner.track_id
    if track_changes:
        learner_fields["track"] = row.track
        changes.append(f"track changed to {row.track.slug}")
    if row.has_answers:
        changed = [name for name, value in row.answers.items() if getattr(learner, name) != value]
        if learner.assessment_submitted_at is None:
            learner_fields.update(row.answers)
            learner_fields["submitted"] = True
        else:
            learner_fields.update({name: row.answers[name] for name in changed})
        if changed or learner.assessment_submitted_at is None:
            changes.append(
                "self-assessment submitted"
                if learner.assessment_submitted_at is None
                else f"self-assessment changed ({', '.join(changed)})"
            )
    elif track_changes and learner.assessment_submitted_at is not None:
        learner_fields.update({name: "" if name == "seen_as" else None for name in PROFILE_FIELDS})
        learner_fields["submitted"] = False
        changes.append("self-assessment cleared (it was for another track)")
    if row.cohort and (learner.cohort is None or learner.cohort.name != row.cohort):
        learner_fields["cohort"] = row.cohort
        changes.append(f"cohort changed to {row.cohort}")
    if row.timezone and row.timezone != learner.timezone:
        learner_fields["timezone"] = row.timezone
        changes.append(f"time zone changed to {row.timezone}")
    if row.nudges_enabled is not None and row.nudges_enabled != learner.nudges_enabled:
        learner_fields["nudges_enabled"] = row.nudges_enabled
        changes.append("nudges turned " + ("on" if row.nudges_enabled else "off"))
    new_modules = row.modules - done_modules
    new_keys = row.keys - done_keys
    changes.extend(_progress_changes(new_modules, new_keys, adds=True))
    return _Plan(
        row=row,
        user=user,
        learner=learner,
        action="update" if changes else "unchanged",
        changes=changes or ["no changes"],
        user_fields=user_fields,
        learner_fields=learner_fields,
        new_modules=new_modules,
        new_keys=new_keys,
    )


def _progress_changes(modules: set[int], keys: set[str], *, adds: bool = False) -> list[str]:
    changes = []
    verb = "adds " if adds else ""
    if modules:
        changes.append(
            f"{verb}module{'s' if len(modules) > 1 else ''} "
            + ", ".join(str(number) for number in sorted(modules))
        )
    if keys:
        changes.append(f"{verb}{len(keys)} key{'s' if len(keys) > 1 else ''}")
    return changes


def _write(
    plans: list[_Plan], new_cohorts: set[str], curriculum: _Curriculum, recorded_by
) -> list[int]:
    """Write the plans with bulk queries; returns the ids of the learners to recompute."""
    now = timezone.now()
    Cohort.objects.bulk_create(
        [Cohort(name=name) for name in sorted(new_cohorts)],
        batch_size=BATCH_SIZE,
        ignore_conflicts=True,
    )
    cohort_names = {
        value for plan in plans if isinstance(value := plan.learner_fields.get("cohort"), str)
    }
    cohorts = dict(Cohort.objects.filter(name__in=cohort_names).values_list("name", "pk"))

    new_users = [
        User(
            email=plan.row.email,
            first_name=plan.row.first_name,
            last_name=plan.row.last_name,
            password=make_password(None),
            date_joined=now,
        )
        for plan in plans
        if plan.user is None
    ]
    User.objects.bulk_create(new_users, batch_size=BATCH_SIZE)
    _fill_pks(new_users, User, "email")
    users_by_email = {user.email: user for user in new_users}
    changed_users: dict[tuple[str, ...], list[User]] = defaultdict(list)
    for plan in plans:
        if plan.user is None:
            plan.user = users_by_email[plan.row.email]
        elif plan.user_fields:
            for name, value in plan.user_fields.items():
                setattr(plan.user, name, value)
            changed_users[tuple(sorted(plan.user_fields))].append(plan.user)
    _bulk_update(User, changed_users)

    new_learners = []
    changed_learners: dict[tuple[str, ...], list[Learner]] = defaultdict(list)
    for plan in plans:
        if plan.learner is None:
            plan.learner = Learner(user=plan.user, created_at=now)
            new_learners.append(plan.learner)
        fields = _apply_learner_fields(plan.learner, plan.learner_fields, cohorts, now)
        if plan.learner.pk is not None and fields:
            changed_learners[tuple(sorted(fields))].append(plan.learner)
    Learner.objects.bulk_create(new_learners, batch_size=BATCH_SIZE)
    _fill_pks(new_learners, Learner, "user_id")
    _bulk_update(Learner, changed_learners)

    common = {
        "completed_at": now,
        "source": CompletionSource.IMPORT,
        "recorded_by_id": recorded_by.pk if recorded_by else None,
    }
    # Completions are written a slice at a time from generators: a roster of 10,000 learners
    # holds ~170,000 of them, too many ORM objects to build at once.
    modules = (
        ModuleProgress(learner_id=plan.learner.pk, module_id=curriculum.modules[number], **common)
        for plan in plans
        for number in sorted(plan.new_modules)
    )
    keys = (
        KeyCompletion(learner_id=plan.learner.pk, key_id=curriculum.keys[code][1], **common)
        for plan in plans
        for code in sorted(plan.new_keys)
    )
    for model, rows in ((ModuleProgress, modules), (KeyCompletion, keys)):
        for batch in _batched(rows, BATCH_SIZE):
            model.objects.bulk_create(batch, ignore_conflicts=True)
    return [plan.learner.pk for plan in plans if plan.action != "unchanged"]


def _bulk_update(model, groups: dict[tuple[str, ...], list]) -> None:
    """Update each group of rows on exactly the fields that changed for them.

    Django's bulk update is one ``CASE`` per field over the whole batch, which costs
    batch x rows on the database: small batches and only the changed fields keep it fast.
    """
    for fields, objects in groups.items():
        model.objects.bulk_update(objects, list(fields), batch_size=UPDATE_BATCH_SIZE)


def _apply_learner_fields(learner: Learner, fields: dict, cohorts: dict, now) -> list[str]:
    """Set ``fields`` on the (unsaved) learner; returns the model fields it touched."""
    touched = []
    for name, value in fields.items():
        if name == "submitted":
            learner.assessment_submitted_at = (
                (learner.assessment_submitted_at or now) if value else None
            )
            touched.append("assessment_submitted_at")
        elif name == "cohort":
            learner.cohort_id = cohorts[value] if value else None
            touched.append("cohort")
        else:
            setattr(learner, name, value)
            touched.append(name)
    return touched


def _fill_pks(objects: list, model, unique_field: str) -> None:
    """Primary keys after a bulk insert, for databases that do not return them."""
    missing = [obj for obj in objects if obj.pk is None]
    for start in range(0, len(missing), BATCH_SIZE):
        batch = missing[start : start + BATCH_SIZE]
        pks = dict(
            model.objects.filter(
                **{f"{unique_field}__in": [getattr(obj, unique_field) for obj in batch]}
            ).values_list(unique_field, "pk")
        )
        for obj in batch:
            obj.pk = pks[getattr(obj, unique_field)]
