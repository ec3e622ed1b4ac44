"""Roster import: all rows or none (see the package docstring for what a row does)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NamedTuple

from django.db import transaction

from ..models import User
from ..onboarding.services import invitations_create
from ..services import learners_recompute, learners_touch
from .columns import BATCH_SIZE, RowError, column_order, unguard
from .parse import CurriculumIndex, ParsedRow, RowParser, users_by_email
from .plan import plan_rows, staff_row_errors
from .read import read_header, read_records
from .signals import learners_imported
from .write import write_plans


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
    invited: int = 0  # invitations recorded (sent after the commit); 0 on a dry run

    @property
    def ok(self) -> bool:
        return not self.errors


def roster_import(
    source: str | bytes | Path | IO,
    *,
    dry_run: bool = False,
    recorded_by: User | None = None,
    invite: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> ImportReport:
    """Import a roster CSV: all rows or none.

    ``source`` is the CSV itself (``str`` or ``bytes``), a ``Path`` to a file, or an open file
    (text or binary, e.g. an uploaded file). Bytes are read as UTF-8 (a BOM is allowed).
    A file larger than ``MAX_FILE_BYTES`` or longer than ``MAX_ROWS`` rows is an error (and is
    never read whole).
    Rows naming a staff or superuser account are errors unless ``recorded_by`` (who runs
    the import) is a superuser; the command runs as nobody, so it never changes them.
    With ``invite``, the file's learners who never had a password are invited to set one
    (``learners.onboarding``), once each, the emails sent after the commit.
    ``progress(step, done, total)`` is told how far the import got, for a progress bar.
    Returns the report; it raises only on database failures, never on bad input.
    """
    errors: list[RowError] = []
    records = read_records(source, errors)
    if errors:
        return _failed(0, errors, dry_run)
    header_line, header = records[0] if records else (1, [])
    columns = read_header(header_line, header, errors)
    data = [(line, cells) for line, cells in records[1:] if any(cell.strip() for cell in cells)]
    if errors:
        return _failed(len(data), errors, dry_run)

    values_by_row = _cells_by_column(data, header, columns, errors)
    curriculum = CurriculumIndex()
    emails = {values["email"].lower() for _, values in values_by_row if values["email"]}
    users = users_by_email(emails)
    parser = RowParser(curriculum, users)
    rows: list[ParsedRow] = []
    for line, values in values_by_row:
        row, found = parser.parse(line, values)
        errors.extend(found)
        if row is not None:
            rows.append(row)
    errors.extend(staff_row_errors(rows, users, recorded_by))
    if errors:
        errors.sort(key=lambda error: (error.line, column_order(error.column)))
        return _failed(len(data), errors, dry_run)

    plans, new_cohorts = plan_rows(rows, users)
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
            if progress:
                progress("writing", 0, len(plans))
            learner_ids = write_plans(plans, new_cohorts, curriculum, recorded_by)
            # A batch at a time: a recompute filtered by ten thousand ids is slow on PostgreSQL.
            for start in range(0, len(learner_ids), BATCH_SIZE):
                if progress:
                    progress("recomputing levels", start, len(learner_ids))
                batch = learner_ids[start : start + BATCH_SIZE]
                learners_touch(learner_ids=batch)
                report.levels_changed += learners_recompute(learner_ids=batch).changed
            if invite:
                report.invited = invitations_create(
                    learner_ids=[plan.learner.pk for plan in plans], created_by=recorded_by
                )
            # The apps that care (integrations: the platform events that arrived before these
            # learners) act on the new learners after the commit.
            learners_imported.send(
                sender=roster_import,
                emails=[plan.row.email for plan in plans if plan.action == "create"],
            )
    return report


def _cells_by_column(
    data: list[tuple[int, list[str]]],
    header: list[str],
    columns: dict[str, int],
    errors: list[RowError],
) -> list[tuple[int, dict[str, str]]]:
    """Each row's cells by column name (stripped, formula guard removed)."""
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
            (line, {name: unguard(cells[index].strip()) for name, index in columns.items()})
        )
    return values_by_row


def _failed(rows: int, errors: list[RowError], dry_run: bool) -> ImportReport:
    return ImportReport(rows=rows, created=0, updated=0, errors=errors, dry_run=dry_run, changes=[])
