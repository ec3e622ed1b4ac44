"""The roster CSV's columns, its guard against spreadsheet formulas, and its limits."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from .. import assessment

IDENTITY_COLUMNS = ("email", "first_name", "last_name", "track", "cohort", "timezone")
PROGRESS_COLUMNS = ("nudges_enabled", "completed_modules", "completed_keys")
# PRODUCT.md's "Roster CSV columns": the answers are the self-assessment's questions.
COLUMNS = (*IDENTITY_COLUMNS, *assessment.FIELDS, *PROGRESS_COLUMNS)
EXPORT_COLUMNS = (*COLUMNS, "level", "level_name")
# Written by the export, accepted and ignored by the import (the level is recomputed).
IGNORED_COLUMNS = frozenset(EXPORT_COLUMNS) - frozenset(COLUMNS)

LIST_SEPARATOR = ";"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

BATCH_SIZE = 1000
UPDATE_BATCH_SIZE = 250
EXPORT_CHUNK_SIZE = 1000
# An import reads at most this much of its file (a larger file is refused, never read whole)
# and at most this many rows.
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 100_000


@dataclass
class RowError:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


def column_order(column: str) -> int:
    return EXPORT_COLUMNS.index(column) if column in EXPORT_COLUMNS else len(EXPORT_COLUMNS)


def guard(cell: str) -> str:
    """Keep a spreadsheet from running the cell as a formula (OWASP "CSV injection").

    Cells that are only quotes in front of a formula start get one more quote, so that
    ``unguard`` gives back exactly the original value.
    """
    if cell.lstrip("'").startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def unguard(cell: str) -> str:
    if cell.startswith("'") and cell.lstrip("'").startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


def batched(iterable: Iterable, size: int) -> Iterator[list]:
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk
