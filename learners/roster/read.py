"""Reading a roster file: the records of the CSV and its header."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .columns import COLUMNS, IGNORED_COLUMNS, MAX_FILE_BYTES, MAX_ROWS, RowError


def read_records(source, errors: list[RowError]) -> list[tuple[int, list[str]]]:
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


def read_header(line: int, header: list[str], errors: list[RowError]) -> dict[str, int]:
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
