import time

from django.core.management.base import BaseCommand

from learners.models import Learner
from learners.roster import roster_export


class Command(BaseCommand):
    help = "Export every learner as roster CSV (the import columns plus level and level_name)."

    def add_arguments(self, parser):
        parser.add_argument("--output", help="Write to this file instead of standard output.")

    def handle(self, *args, output, **options):
        started = time.perf_counter()
        if output:
            with open(output, "w", encoding="utf-8", newline="") as stream:
                count = roster_export(Learner.objects.all(), stream)
            self.stdout.write(
                f"Exported {count} learners to {output} ({time.perf_counter() - started:.2f}s)."
            )
        else:
            # The CSV goes to standard output; the summary to standard error.
            count = roster_export(Learner.objects.all(), self.stdout)
            self.stderr.write(f"Exported {count} learners.")
