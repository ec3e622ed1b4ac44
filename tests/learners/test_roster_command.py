"""The import_learners and export_learners commands: thin shells over learners.roster."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from learners.models import Learner, User
from learners.roster import roster_export
from tests.learners.test_roster import engineer, founder, roster

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text(roster(engineer(), founder()), encoding="utf-8")
    return path


@pytest.fixture
def bad_file(tmp_path):
    path = tmp_path / "bad.csv"
    rows = [engineer(), founder(track="pilot"), engineer(email="c@example.com", timezone="Mars")]
    path.write_text(roster(*rows), encoding="utf-8")
    return path


def test_import_writes_the_learners_and_prints_a_summary(curriculum, good_file):
    out, err = run("import_learners", str(good_file))

    assert "Imported 2 rows: 2 created, 0 updated, 0 unchanged; new cohorts: Spring" in out
    assert err == ""
    assert set(Learner.objects.values_list("user__email", flat=True)) == {
        "ana@example.com",
        "bo@example.com",
    }


def test_import_with_errors_prints_each_by_line_and_column_and_exits_with_status_1(
    curriculum, bad_file
):
    err = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("import_learners", str(bad_file), stdout=io.StringIO(), stderr=err)

    assert failure.value.returncode == 1
    assert "2 error(s)" in str(failure.value) and "nothing was imported" in str(failure.value)
    lines = err.getvalue().splitlines()
    assert lines[0].startswith("line 3, column track: unknown track “pilot”")
    assert lines[1].startswith("line 4, column timezone: “Mars” is not a known IANA time zone")
    assert not User.objects.exists()


def test_dry_run_previews_and_writes_nothing(curriculum, good_file):
    out, _ = run("import_learners", str(good_file), "--dry-run")

    assert "line 2, ana@example.com: create" in out
    assert "Dry run, nothing written: would import 2 rows: 2 created" in out
    assert not User.objects.exists()


def test_a_missing_file_is_an_error(curriculum, tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        run("import_learners", str(tmp_path / "nope.csv"))


def test_export_to_a_file_and_to_standard_output(curriculum, good_file, tmp_path):
    run("import_learners", str(good_file))
    expected = io.StringIO()
    roster_export(Learner.objects.all(), expected)

    target = tmp_path / "out.csv"
    out, _ = run("export_learners", "--output", str(target))
    assert "Exported 2 learners" in out
    assert target.read_bytes().decode("utf-8") == expected.getvalue()

    stdout, err = run("export_learners")
    assert stdout == expected.getvalue()
    assert "Exported 2 learners" in err


def test_exported_file_imports_back_unchanged_through_the_commands(curriculum, good_file, tmp_path):
    run("import_learners", str(good_file))
    first = tmp_path / "first.csv"
    run("export_learners", "--output", str(first))

    User.objects.all().delete()
    run("import_learners", str(first))
    second = tmp_path / "second.csv"
    run("export_learners", "--output", str(second))

    assert second.read_bytes() == first.read_bytes()
    out, _ = run("import_learners", str(second))
    assert "0 created, 0 updated, 2 unchanged" in out
