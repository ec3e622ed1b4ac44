"""The embedded default: SQLite, in-process tasks, emails written to a folder."""

from .base import *  # noqa: F403
from .base import BASE_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-development-only-not-secret")
# Emails are written to ./sent-emails unless EMAIL_URL says else.
if "EMAIL_URL" not in env:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(BASE_DIR / "sent-emails")
