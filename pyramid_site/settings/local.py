"""The embedded default: SQLite, in-process tasks, emails written to a folder."""

from .base import *  # noqa: F403
from .base import BASE_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-development-only-not-secret")
# Links in emails go to the host `make run` serves, where the student's session cookie is
# (a link to localhost would open the site signed out).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Emails are written to ./sent-emails unless EMAIL_URL says else.
if "EMAIL_URL" not in env:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(BASE_DIR / "sent-emails")
