"""Hostile roster files: malformed CSV, wrong encodings, huge files, formula cells, one bad
row among thousands. Each gets a clear error by line and column and writes nothing; exports
never hand a spreadsheet a formula, and what they write imports back unchanged."""

from __future__ import annotations

import csv
import io
import random
import re
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils.html import escape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from learners.models import (
    Cohort,
    KeyCompletion,
    Learner,
    LevelChange,
    ModuleProgress,
    User,
)
from learners.nudges.models import Nudge
from learners.roster import COLUMNS, EXPORT_COLUMNS, FORMULA_STARTS, roster_export, roster_import
from learners.roster import read as roster_read
from tests.factories import CohortFactory, LearnerFactory, UserFactory

pytestmark = pytest.mark.django_db

IMPORT_PAGE = "/admin/learners/learner/import/"
CHANGELIST = "/admin/learners/learner/"
ERROR_COLUMNS = {*EXPORT_COLUMNS, "file"}

ENGINEER = {
    "email": "ana@example.com",
    "first_name": "Ana",
    "last_name": "Lopez",
    "track": "engineer",
    "cohort": "Spring",
    "timezone": "Europe/Paris",
    "annual_compensation": "160000",
    "can_explain_concepts": "yes",
    "can_implement_from_scratch": "no",
    "deployed_at_scale": "no",
    "seen_as": "integrator",
    "leads_initiatives": "no",
    "nudges_enabled": "yes",
    "completed_modules": "1;2",
    "completed_keys": "engineer-2-01",
}
FOUNDER = {
    "email": "bo@example.com",
    "first_name": "Bo",
    "track": "founder",
    "timezone": "Asia/Tokyo",
    "monthly_recurring_revenue": "60000",
    "owns_model_weights": "no",
    "replicable_by_competitors": "yes",
    "investor_fundable": "no",
}
# A cell that makes its row wrong, the column it is in, and what the error says.
BAD_CELLS = [
    ("track", "pilot", "unknown track"),
    ("timezone", "Mars/Olympus_Mons", "time zone"),
    ("annual_compensation", "12x", "whole number"),
    ("annual_compensation", "-2", "negative"),
    ("annual_compensation", "9" * 5000, "too large"),
    ("annual_compensation", "١٦٠٠٠٠²", "whole number"),  # a superscript after Arabic-Indic digits
    ("can_explain_concepts", "maybe", "yes or no"),
    ("seen_as", "wizard", "not one of"),
    ("completed_modules", "²", "not a module number"),
    ("completed_modules", "1;" + "9" * 5000, "no module"),
    ("completed_modules", "-3", "not a module number"),
    ("completed_keys", "founder-1-01", "founder track"),
    ("completed_keys", "engineer-1-99", "unknown key"),
    ("email", "not-an-email", "not a valid email"),
    ("email", "ann\x00@example.com", "NUL"),
    ("first_name", "A" * 151, "longer than 150"),
    ("first_name", "An\x00n", "NUL"),
    ("cohort", "=cmd|' /C calc'!A0\x00", "NUL"),
    ("monthly_recurring_revenue", "60000", "not part of the engineer track"),
]


def csv_text(*rows: dict, columns=COLUMNS, newline: str = "\r\n") -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
    return out.getvalue()


def engineer(n: int = 0, **over) -> dict:
    return {**ENGINEER, "email": f"ana{n}@example.com", **over}


def founder(n: int = 0, **over) -> dict:
    return {**FOUNDER, "email": f"bo{n}@example.com", **over}


def written() -> tuple[int, ...]:
    """Every row an import could write."""
    return tuple(
        model.objects.count()
        for model in (User, Learner, Cohort, ModuleProgress, KeyCompletion, LevelChange, Nudge)
    )


def positions(report) -> list[tuple[int, str]]:
    return [(error.line, error.column) for error in report.errors]


def assert_refused(report, before: tuple[int, ...]) -> None:
    assert not report.ok
    assert report.created == report.updated == 0 and report.changes == []
    for error in report.errors:
        assert error.line >= 1 and error.column and error.message
    assert written() == before


@pytest.fixture
def instructor_client(client, db):
    user = UserFactory(email="instructor@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name="Instructors"))
    client.force_login(user)
    return client


# --- malformed CSV ---------------------------------------------------------------------------

GOOD = csv_text(engineer(1), founder(2))


@pytest.mark.parametrize(
    ("source", "expected", "says"),
    [
        pytest.param(
            GOOD + 'cy@example.com,"Cy,Ray,engineer\r\n' + csv_text(engineer(4)).split("\r\n")[1],
            [(4, "file")],
            "not valid CSV",
            id="quote-never-closed",
        ),
        pytest.param(
            GOOD + 'cy@example.com,"Cy"x,Ray\r\n',
            [(4, "file")],
            "not valid CSV",
            id="text-after-a-closing-quote",
        ),
        pytest.param(
            csv_text(engineer(1, email="a\x00@example.com"), founder(2)),
            [(2, "email")],
            "NUL",
            id="nul-in-email",
        ),
        pytest.param(
            csv_text(engineer(1), founder(2, last_name="Ray\x00\x00")),
            [(3, "last_name")],
            "NUL",
            id="nul-in-name",
        ),
        pytest.param(
            csv_text(engineer(1), columns=(*COLUMNS[:-1], "completed_keys\x00")),
            [(1, "file")],
            "NUL",
            id="nul-in-header",
        ),
        pytest.param(
            csv_text(engineer(1), columns=(*COLUMNS, "email")),
            [(1, "email")],
            "appears twice",
            id="duplicate-header-column",
        ),
        pytest.param(
            csv_text(engineer(1), columns=(*COLUMNS, "shoe_size")),
            [(1, "shoe_size")],
            "unknown column",
            id="extra-header-column",
        ),
        pytest.param(
            GOOD + "cy@example.com" + "," * len(COLUMNS) + "extra\r\n",
            [(4, "completed_keys")],
            "cells",
            id="extra-cells-in-a-row",
        ),
        pytest.param(
            "\r\n".join(GOOD.split("\r\n")[1:]),
            [(1, "email")],
            "missing from the header",
            id="no-header-row",
        ),
        pytest.param("", [(1, "file")], "empty", id="empty-file"),
        pytest.param(
            "\r\n".join(
                [
                    ",".join(COLUMNS),
                    ",".join(engineer(1).get(c, "") for c in COLUMNS),
                    ",".join(founder(2, timezone="Nowhere").get(c, "") for c in COLUMNS),
                ]
            ).replace("\r\n", "\r", 1),
            [(3, "timezone")],
            "time zone",
            id="mixed-line-endings-keep-line-numbers",
        ),
    ],
)
def test_malformed_csv_is_a_clear_error_by_line_and_column(curriculum, source, expected, says):
    before = written()

    report = roster_import(source)

    assert_refused(report, before)
    assert set(expected) <= set(positions(report))
    first = next(e for e in report.errors if (e.line, e.column) == expected[0])
    assert says in first.message


def test_mixed_line_endings_are_read_as_lines(curriculum):
    rows = [",".join(row.get(c, "") for c in COLUMNS) for row in (engineer(1), founder(2))]
    text = ",".join(COLUMNS) + "\r\n" + rows[0] + "\r" + rows[1] + "\n"

    report = roster_import(text)

    assert report.ok, report.errors
    assert set(User.objects.values_list("email", flat=True)) == {
        "ana1@example.com",
        "bo2@example.com",
    }


@pytest.mark.parametrize(
    ("data", "line"),
    [
        pytest.param(GOOD.replace("Lopez", "López").encode("latin-1"), 2, id="latin-1"),
        pytest.param(GOOD.encode("utf-16"), 1, id="utf-16-with-bom"),
        pytest.param(GOOD.encode("cp1252").replace(b"Ana", b"\x93Ana\x94"), 2, id="cp1252"),
        pytest.param(random.Random(7).randbytes(64 * 1024), 1, id="binary-garbage"),
    ],
)
def test_a_file_that_is_not_utf8_is_refused_with_the_line(curriculum, tmp_path, data, line):
    before = written()

    report = roster_import(data)

    assert_refused(report, before)
    assert positions(report) == [(line, "file")]
    assert "not UTF-8" in report.errors[0].message


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(GOOD.encode("utf-16-le"), id="utf-16-without-bom"),
        pytest.param(bytes(range(0, 32)) * 200 + bytes(range(0, 128)) * 50, id="ascii-controls"),
    ],
)
def test_utf8_decodable_garbage_is_refused_without_a_database_error(curriculum, data):
    """Valid UTF-8, but NUL characters everywhere: PostgreSQL would refuse to store them."""
    before = written()

    report = roster_import(data)

    assert_refused(report, before)
    assert positions(report) == [(1, "file")]
    assert "NUL" in report.errors[0].message


# --- huge files ------------------------------------------------------------------------------


class EndlessFile(io.RawIOBase):
    """A file that never ends: reading it whole would never return."""

    def __init__(self) -> None:
        self.delivered = 0

    def readable(self) -> bool:
        return True

    def read(self, size=-1) -> bytes:
        if size is None or size < 0:
            raise AssertionError("the import tried to read the whole endless file")
        chunk = (b"x@example.com" + b"," * (len(COLUMNS) - 1) + b"\n") * (size // 33 + 1)
        self.delivered += size
        return chunk[:size]


def test_an_endless_upload_is_refused_after_reading_at_most_the_cap(curriculum):
    stream = EndlessFile()
    before = written()

    report = roster_import(stream)

    assert_refused(report, before)
    assert positions(report) == [(1, "file")]
    assert "larger than 10 MB" in report.errors[0].message
    assert stream.delivered <= roster_read.MAX_FILE_BYTES + 1


def test_a_file_over_the_size_cap_is_refused_by_the_command(curriculum, tmp_path):
    path = tmp_path / "huge.csv"
    row = ",".join(engineer(0).get(c, "") for c in COLUMNS) + "\n"
    with path.open("w", encoding="utf-8") as file:
        file.write(",".join(COLUMNS) + "\n")
        file.write(row * (roster_read.MAX_FILE_BYTES // len(row) + 1))
    before = written()
    err = io.StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("import_learners", str(path), stdout=io.StringIO(), stderr=err)

    assert raised.value.returncode == 1
    assert "line 1, column file: the file is larger than 10 MB" in err.getvalue()
    assert written() == before


def test_a_file_over_the_row_cap_is_refused_before_any_row_is_checked(curriculum, monkeypatch):
    monkeypatch.setattr(roster_read, "MAX_ROWS", 50)
    before = written()

    report = roster_import(csv_text(*(engineer(n) for n in range(51))))

    assert_refused(report, before)
    assert positions(report) == [(52, "file")]
    assert "more than 50 rows" in report.errors[0].message


def test_exactly_the_row_cap_is_accepted(curriculum, monkeypatch):
    monkeypatch.setattr(roster_read, "MAX_ROWS", 50)

    report = roster_import(csv_text(*(engineer(n) for n in range(50))), dry_run=True)

    assert report.ok, report.errors[:3]
    assert report.created == 50


def _padded_roster(learners: int) -> str:
    """A valid roster of about 100 KB per learner, padded in the ignored ``level_name``
    column (the CSV module reads cells up to 128 KB)."""
    rows = [engineer(n, level_name="p" * 100_000) for n in range(learners)]
    return csv_text(*rows, columns=(*COLUMNS, "level_name"))


def _confirm_as_a_browser(client, page: str, content: str):
    """Post the confirm form as a browser does: with the encoding the form declares."""
    form = re.search(r'<form method="post" class="roster-confirm"[^>]*>', page).group(0)
    data = {"content": content, "confirm": "Confirm the import"}
    if 'enctype="multipart/form-data"' in form:
        return client.post(IMPORT_PAGE, data)
    body = urlencode({"content": content.replace("\n", "\r\n"), "confirm": data["confirm"]})
    return client.post(IMPORT_PAGE, body, content_type="application/x-www-form-urlencoded")


# 0.2, 2, 3 and 6 MB: the page takes files up to Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB
# by default) less a margin for the confirmation form.
@pytest.mark.parametrize(
    ("learners", "accepted"), [(2, True), (20, True), (30, False), (60, False)]
)
def test_an_upload_the_admin_previews_can_be_confirmed_or_is_refused_up_front(
    instructor_client, learners, accepted
):
    """A file the preview calls valid must import on confirmation; one too large for that
    is refused at the upload with a message, never with a bare 400 after the preview."""
    text = _padded_roster(learners)
    before = written()

    response = instructor_client.post(
        IMPORT_PAGE, {"file": SimpleUploadedFile("roster.csv", text.encode(), "text/csv")}
    )

    assert response.status_code == 200
    page = response.content.decode()
    if not accepted:
        assert response.context["report"] is None
        assert "larger than 2.5 MB" in page and "import_learners" in page
        assert written() == before
        return
    assert response.context["report"].ok, response.context["report"].errors[:3]
    assert written() == before
    content = response.context["form"].initial["content"]

    response = _confirm_as_a_browser(instructor_client, page, content)

    assert response.status_code == 302 and response["Location"] == CHANGELIST
    assert Learner.objects.filter(user__email__startswith="ana").count() == learners


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (GOOD.replace("Lopez", "López").encode("latin-1"), "not UTF-8"),
        (GOOD.encode("utf-16"), "not UTF-8"),
        (random.Random(3).randbytes(4096), "not UTF-8"),
    ],
)
def test_the_admin_refuses_a_wrong_encoding_with_a_message(instructor_client, data, says):
    before = written()

    response = instructor_client.post(
        IMPORT_PAGE, {"file": SimpleUploadedFile("roster.csv", data, "text/csv")}
    )

    assert response.status_code == 200
    assert says in response.content.decode()
    assert written() == before


def test_the_admin_shows_a_nul_byte_by_line_and_column(instructor_client):
    data = csv_text(engineer(1), founder(2, first_name="B\x00o")).encode()
    before = written()

    response = instructor_client.post(
        IMPORT_PAGE, {"file": SimpleUploadedFile("roster.csv", data, "text/csv")}
    )

    assert response.status_code == 200
    assert positions(response.context["report"]) == [(3, "first_name")]
    assert "Confirm the import" not in response.content.decode()
    assert written() == before


# --- thousands of rows with one bad row ------------------------------------------------------

ROWS = 3000


def _thousands(bad_index: int, column: str, value: str) -> str:
    rows = [engineer(n) if n % 2 else founder(n) for n in range(ROWS)]
    rows[bad_index] = engineer(bad_index, **{column: value})
    return csv_text(*rows)


@pytest.mark.slow
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    bad_index=st.integers(min_value=0, max_value=ROWS - 1),
    bad=st.sampled_from(BAD_CELLS),
)
def test_one_bad_row_among_thousands_writes_nothing_and_is_named(curriculum, bad_index, bad):
    column, value, says = bad
    text = _thousands(bad_index, column, value)
    before = written()

    report = roster_import(text)

    assert_refused(report, before)
    assert positions(report) == [(bad_index + 2, column)]
    assert says in report.errors[0].message


def test_one_bad_row_among_thousands_through_the_command(curriculum, tmp_path):
    path = tmp_path / "cohort.csv"
    path.write_text(_thousands(1234, "timezone", "Mars/Olympus_Mons"), encoding="utf-8")
    before = written()
    err = io.StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("import_learners", str(path), stdout=io.StringIO(), stderr=err)

    assert raised.value.returncode == 1
    assert err.getvalue().splitlines() == [
        "line 1236, column timezone: “Mars/Olympus_Mons” is not a known IANA time zone "
        "(e.g. Europe/Paris)"
    ]
    assert written() == before


def test_one_bad_row_among_thousands_through_the_admin(
    instructor_client, django_capture_on_commit_callbacks
):
    text = _thousands(2999, "completed_keys", "founder-1-01")
    before = written()

    response = instructor_client.post(
        IMPORT_PAGE, {"file": SimpleUploadedFile("roster.csv", text.encode(), "text/csv")}
    )
    page = response.content.decode()

    assert response.status_code == 200
    assert positions(response.context["report"]) == [(3001, "completed_keys")]
    assert "<td>3001</td><td>completed_keys</td>" in page
    assert "Confirm the import" not in page
    # Confirming the same content anyway writes nothing either (a file this large is
    # imported by a worker: its page says so).
    with django_capture_on_commit_callbacks(execute=True):
        response = instructor_client.post(IMPORT_PAGE, {"content": text, "confirm": "1"})
    response = instructor_client.get(response["Location"])
    assert "Nothing was imported" in response.content.decode()
    assert "<td>3001</td><td>completed_keys</td>" in response.content.decode()
    assert written() == before


def test_the_same_thousands_without_the_bad_row_would_import(curriculum):
    """The control for the tests above: only the bad cell makes those files wrong."""
    report = roster_import(_thousands(0, "first_name", "Fine"), dry_run=True)

    assert report.ok, report.errors[:3]
    assert report.created == ROWS


# --- any input: an answer, never an exception ------------------------------------------------

hostile_cell = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "=cmd|' /C calc'!A0",
            "+1",
            "-2",
            "@SUM(1)",
            "'=1",
            "<script>alert(1)</script>",
            '"><img src=x onerror=alert(1)>',
            "1e9",
            "NaN",
            "0001",
            "9" * 40,
            "²",
            "١",
            "yes",
            "engineer",
            "founder",
            "UTC",
            "1;2;3",
            "engineer-1-01",
            "a@example.com",
            '"',
            "\x00",
            "\r",
            "\n",
        ]
    ),
    st.text(max_size=40),
)


@pytest.mark.slow
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    base=st.sampled_from([engineer(1), founder(2), {"email": "new@example.com"}]),
    cells=st.dictionaries(st.sampled_from(COLUMNS), hostile_cell, max_size=4),
    newline=st.sampled_from(["\r\n", "\n", "\r"]),
)
def test_any_cells_give_a_report_never_an_exception(curriculum, base, cells, newline):
    text = csv_text({**base, **cells}, newline=newline)
    before = written()
    with transaction.atomic():
        report = roster_import(text)
        if report.ok:
            assert report.created + report.updated + report.unchanged == report.rows
        else:
            assert written() == before
            assert {error.column for error in report.errors} <= ERROR_COLUMNS
            assert all(error.line >= 1 for error in report.errors)
        transaction.set_rollback(True)


@pytest.mark.slow
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=2000) | st.text(max_size=2000).map(str.encode))
def test_any_bytes_after_a_header_give_a_report_never_an_exception(curriculum, data):
    source = (",".join(COLUMNS) + "\n").encode() + data
    before = written()
    with transaction.atomic():
        report = roster_import(source)
        if not report.ok:
            assert written() == before
        transaction.set_rollback(True)


# --- exports: formula cells are guarded, and round-trip ---------------------------------------

FORMULAS = [
    "=cmd|' /C calc'!A0",
    "+1",
    "-2",
    "@SUM(1)",
    '=HYPERLINK("https://evil.example","x")',
    "\t=1+1",
    "\r=1+1",
    "'=already quoted",
    "''+two quotes",
    "-",
]


def export_text() -> str:
    out = io.StringIO()
    roster_export(Learner.objects.all(), out)
    return out.getvalue()


def cells_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def assert_no_formula_cells(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), (cell, row)


def people() -> set[tuple]:
    return set(
        Learner.objects.values_list(
            "user__email", "user__first_name", "user__last_name", "cohort__name"
        )
    )


@pytest.mark.parametrize("formula", FORMULAS)
def test_formula_cells_are_guarded_in_exports_and_import_back_unchanged(curriculum, formula):
    cohort = CohortFactory(name=formula)
    LearnerFactory(
        engineer=True,
        user__email="=1+1@example.com" if formula.startswith("=") else "-x@example.com",
        user__first_name=formula,
        user__last_name=formula,
        cohort=cohort,
    )
    LearnerFactory(founder=True, user__first_name="Plain", cohort=cohort)
    expected = people()

    text = export_text()
    rows = cells_of(text)

    assert_no_formula_cells(rows)
    hostile = rows[1] if rows[1][1] != "Plain" else rows[2]
    for column in ("first_name", "last_name", "cohort"):
        cell = hostile[EXPORT_COLUMNS.index(column)]
        assert cell == "'" + formula
    # Importing the export changes nothing...
    report = roster_import(text)
    assert report.ok, report.errors
    assert report.unchanged == 2 and report.updated == 0
    # ...and into an empty database it gives back exactly the same people.
    User.objects.all().delete()
    Cohort.objects.all().delete()
    report = roster_import(text)
    assert report.ok and report.created == 2
    assert people() == expected


name_text = st.text(
    alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=40,
).filter(lambda text: text == text.strip())
formula_name = st.builds(
    lambda start, rest: (start + rest).strip() or start,
    st.sampled_from(["=", "+", "-", "@", "'=", "''-"]),
    name_text,
)


@pytest.mark.slow
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=formula_name | name_text, last=formula_name | name_text, cohort=formula_name)
def test_any_names_export_without_formulas_and_round_trip(curriculum, first, last, cohort):
    with transaction.atomic():
        LearnerFactory(
            engineer=True,
            user__email="round@example.com",
            user__first_name=first[:150],
            user__last_name=last[:150],
            cohort=Cohort.objects.create(name=cohort[:120]),
        )
        expected = people()
        text = export_text()
        assert_no_formula_cells(cells_of(text))
        User.objects.all().delete()
        Cohort.objects.all().delete()

        report = roster_import(text)

        assert report.ok, report.errors
        assert people() == expected
        transaction.set_rollback(True)


SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'


@pytest.mark.parametrize("valid", [True, False])
def test_the_import_preview_escapes_markup_from_the_file(instructor_client, valid):
    """Cells come back in the preview (changes, error messages, the hidden copy of the file)."""
    rows = [
        engineer(1, first_name=SCRIPT, last_name=ATTRIBUTE, cohort=SCRIPT),
        founder(2, email='"<script>alert(1)</script>"@example.com'),
    ]
    if not valid:
        rows.append(engineer(3, timezone=SCRIPT, seen_as=ATTRIBUTE))
    data = csv_text(*rows).encode()

    response = instructor_client.post(
        IMPORT_PAGE, {"file": SimpleUploadedFile("roster.csv", data, "text/csv")}
    )

    assert response.status_code == 200
    assert response.context["report"].ok is valid
    page = response.content.decode()
    for markup in (SCRIPT, ATTRIBUTE):
        assert markup not in page
    assert escape(SCRIPT) in page
