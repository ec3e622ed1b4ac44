"""The roster CSV: the one code path for importing and exporting learners.

Modules: ``columns`` (the columns, the formula guard, limits), ``read`` (file and header),
``parse`` (validating a row), ``plan`` (what a row changes), ``write`` (bulk writes),
``importer`` (``roster_import``), ``export`` (``roster_export``).

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

from .columns import COLUMNS, EXPORT_COLUMNS, FORMULA_STARTS, MAX_FILE_BYTES, MAX_ROWS, RowError
from .export import roster_export
from .importer import ImportReport, RowChange, roster_import

__all__ = [
    "COLUMNS",
    "EXPORT_COLUMNS",
    "FORMULA_STARTS",
    "MAX_FILE_BYTES",
    "MAX_ROWS",
    "ImportReport",
    "RowChange",
    "RowError",
    "roster_export",
    "roster_import",
]
