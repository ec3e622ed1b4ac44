"""Send throughput of ``nudges_send`` against a local aiosmtpd server (no Celery: one
process sending chunks one after the other, as one worker does).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_load \
        .venv/bin/python bench/nudge_send.py --emails 2000

Makes ``--emails`` verified learners with a pending nudge each (in bulk, prefix
``bench-send``), sends them in chunks of ``--chunk``, prints emails per second and SQL
statements per email, then deletes what it made. Needs a migrated database.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pyramid_site.settings.test")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    import logging

    import django

    django.setup()
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    from aiosmtpd.controller import Controller
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from learners.models import User
    from learners.nudges.models import Nudge
    from learners.nudges.services.sending import nudges_send
    from tests.learners.nudges.conftest import bulk_learners, free_port

    class Sink:
        count = 0

        async def handle_DATA(self, server, session, envelope):
            Sink.count += 1
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    statements = [0]

    def count(execute, sql, params, many, context):
        statements[0] += 1
        return execute(sql, params, many, context)

    try:
        for round_ in range(args.rounds):
            User.objects.filter(email__startswith="bench-send").delete()
            learners = bulk_learners(
                args.emails, signed_up_at=timezone.now(), prefix=f"bench-send{round_}-"
            )
            ids = [
                row.pk
                for row in Nudge.objects.bulk_create(
                    Nudge(learner=learner, kind="next_step", dedup_key="bench")
                    for learner in learners
                )
            ]
            Sink.count, statements[0] = 0, 0
            began = time.perf_counter()
            with connection.execute_wrapper(count):
                sent = sum(
                    nudges_send(nudge_ids=ids[i : i + args.chunk]).sent
                    for i in range(0, len(ids), args.chunk)
                )
            seconds = time.perf_counter() - began
            assert sent == Sink.count == args.emails, (sent, Sink.count)
            print(
                f"round {round_ + 1}: {sent} emails in {seconds:.2f}s = "
                f"{sent / seconds:.0f} emails/s; {statements[0] / sent:.2f} SQL statements "
                f"per email"
            )
    finally:
        User.objects.filter(email__startswith="bench-send").delete()
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
