import time

from django.core.management.base import BaseCommand

from learners.services import learners_recompute


class Command(BaseCommand):
    help = "Recompute every learner's level, in chunks; writes only levels that changed."

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=None)

    def handle(self, *args, chunk_size, **options):
        started = time.perf_counter()
        report = learners_recompute(chunk_size=chunk_size)
        self.stdout.write(
            f"Recomputed {report.learners} learners in {report.chunks} chunks: "
            f"{report.changed} changed level ({time.perf_counter() - started:.2f}s)."
        )
