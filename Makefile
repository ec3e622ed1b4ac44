# The two commands of the README:  make run  (the site with demo data)  and  make test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint setup worker beat

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# Set up and start the site on the embedded default (SQLite, in-process tasks, emails
# written to ./sent-emails), with demo data.
run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --learners 200
	$(PY) manage.py runserver 127.0.0.1:8000

# pytest-xdist workers for the suite (each has its own test database and Redis database).
PYTEST_WORKERS ?= 2

# Everything CI checks: lint, format, import contracts, migrations, deploy check, the whole
# test suite (in random order, pytest-randomly; in parallel, pytest-xdist).
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=pyramid_site.settings.production \
	  DJANGO_SECRET_KEY=ci-throwaway-$$(date +%s)-$$RANDOM-abcdefghijklmnopqrstuvwxyz0123456789 \
	  DJANGO_ALLOWED_HOSTS=pyramid.example.com REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} \
	  $(PY) manage.py check --deploy --fail-level WARNING
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal --cov=curriculum --cov=learners --cov=pyramid_site --cov-report=term:skip-covered -p no:cacheprovider $(PYTEST_ARGS)

worker: $(STAMP)
	$(VENV)/bin/celery -A pyramid_site worker -l info

beat: $(STAMP)
	$(VENV)/bin/celery -A pyramid_site beat -l info
