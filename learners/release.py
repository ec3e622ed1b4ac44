"""The release this process runs, for the keys of cached pages: a deploy that changes a
template or the code that fills it must never serve a body cached by the release before.

``settings.RELEASE`` (env ``RELEASE``, e.g. the commit a deploy ships) when set; otherwise a
digest of the project's code and templates, read once per process, so a deploy that forgets
to set it still changes the keys."""

from __future__ import annotations

import functools
import hashlib

from django.conf import settings

SOURCES = ("curriculum", "learners", "pyramid_site", "templates")
SUFFIXES = (".py", ".html", ".txt")


def release() -> str:
    return settings.RELEASE or _source_digest()


@functools.cache
def _source_digest() -> str:
    digest = hashlib.sha256()
    for top in SOURCES:
        for path in sorted((settings.BASE_DIR / top).rglob("*")):
            if path.suffix in SUFFIXES and path.is_file():
                digest.update(str(path.relative_to(settings.BASE_DIR)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
