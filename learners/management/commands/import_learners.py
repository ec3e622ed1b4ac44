import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from learners.roster import roster_import


class Command(BaseCommand):
    help = (
        "Import learners from a roster CSV: all rows or none. Each bad row is reported by "
        "line and column, and the command exits with status 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The roster CSV (UTF-8, the columns of the export).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Validate and show what would change."
        )
        parser.add_argument(
            "--invite",
            action="store_true",
            help="Email each learner of the file who never had a password an invitation to "
            "set one (once per learner; never staff or erased addresses).",
        )

    def handle(self, *args, file, dry_run, invite=False, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file.")
        started = time.perf_counter()
        report = roster_import(path, dry_run=dry_run, invite=invite)
        for error in report.errors:
            self.stderr.write(str(error))
        if not report.ok:
            raise CommandError(
                f"{len(report.errors)} error(s) in {file}: nothing was imported.", returncode=1
            )
        if dry_run:
            for change in report.changes:
                self.stdout.write(
                    f"line {change.line}, {change.email}: {change.action} ({change.description})"
                )
        cohorts = (
            f"; new cohorts: {', '.join(report.cohorts_created)}" if report.cohorts_created else ""
        )
        self.stdout.write(
            f"{'Dry run, nothing written: would import' if dry_run else 'Imported'} "
            f"{report.rows} rows: {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged{cohorts}"
            + ("" if dry_run else f"; {report.levels_changed} levels changed")
            + (f"; {report.invited} invited" if invite and not dry_run else "")
            + f" ({time.perf_counter() - started:.2f}s)."
        )
