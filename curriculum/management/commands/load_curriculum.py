from django.core.management.base import BaseCommand, CommandError

from curriculum.seed import SEED_PATH, SeedError, read_seed
from curriculum.services import curriculum_load


class Command(BaseCommand):
    help = (
        "Load the curriculum from the framework document. Idempotent: keeps instructor "
        "edits unless --reset."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seed", default=str(SEED_PATH), help="Path of the document.")
        parser.add_argument(
            "--reset", action="store_true", help="Put every loaded field back to the document."
        )

    def handle(self, *args, seed, reset, **options):
        from pathlib import Path

        try:
            data = read_seed(Path(seed))
        except (OSError, SeedError) as exc:
            raise CommandError(f"Cannot read the curriculum from {seed}: {exc}") from exc
        report = curriculum_load(seed=data, reset=reset)
        self.stdout.write(f"Curriculum loaded: {report}.")
