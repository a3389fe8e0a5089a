# Developer commands. Both run on PostgreSQL: DATABASE_URL, else one installed from a wheel (gradingsite/devdb.py).
.DEFAULT_GOAL := help
.PHONY: help venv run test lint check clean manage token superuser

VENV := .venv
BIN := $(VENV)/bin
# The first of these that is Python 3.11 or newer (django-filter needs 3.11).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
# The whole suite runs on every core (pytest-xdist); name tests to run just those, serially.
PYTEST_ARGS ?= -n auto
PORT ?= 8000
# Runs a command with DATABASE_URL set: as given, or the embedded PostgreSQL (data in .pgdata/, kept
# between runs), started for the command and stopped after it unless another command still uses it.
DEVDB := $(BIN)/python -m gradingsite.devdb --

help:
	@echo "make run    - install into .venv, migrate, seed, serve http://127.0.0.1:8000 (PORT=...) with the worker beside it, on DATABASE_URL or an embedded PostgreSQL (.pgdata/)"
	@echo "make test   - install, find or start PostgreSQL (the embedded one last), run pytest (PYTEST_ARGS='-k name' to pick)"
	@echo "make token EMAIL=grace@hey.com      - print an access token for that user (for curl and scripts)"
	@echo "make superuser EMAIL=you@example.com - make an admin (signs in at /admin/ by emailed code)"
	@echo "make manage ARGS='seed --students 100' - any manage.py command, with make run's settings"
	@echo "make lint   - ruff check and ruff format --check"
	@echo "make check  - fail if a model change has no migration"
	@echo "make clean  - remove .venv, collected static files and caches"

# Re-installs only when a requirements file is newer than the stamp.
$(BIN)/.installed: requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed: none of python3, python3.13, python3.12, python3.11 on PATH is" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

# The worker runs beside the server and stops with it; result notices wait 10 s here (300 in production).
# All three on one database; Ctrl-C or a TERM to make stops them, then the embedded PostgreSQL.
run: venv
	exec $(DEVDB) sh -c '\
	export DEBUG=$${DEBUG:-1} RESULT_NOTIFY_DELAY_SECONDS=$${RESULT_NOTIFY_DELAY_SECONDS:-10}; \
	$(BIN)/python manage.py migrate --noinput && $(BIN)/python manage.py seed || exit; \
	$(BIN)/python manage.py worker & worker=$$!; \
	trap "kill $$worker 2>/dev/null; wait $$worker" EXIT INT TERM; \
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)'

# manage.py with make run's settings (DEBUG on, make run's database).
manage: venv
	DEBUG=$${DEBUG:-1} $(DEVDB) $(BIN)/python manage.py $(ARGS)

token: venv
	@test -n "$(EMAIL)" || { echo "usage: make token EMAIL=grace@hey.com" >&2; exit 2; }
	@DEBUG=$${DEBUG:-1} $(DEVDB) $(BIN)/python manage.py issue_token "$(EMAIL)"

superuser: venv
	@test -n "$(EMAIL)" || { echo "usage: make superuser EMAIL=you@example.com" >&2; exit 2; }
	DEBUG=$${DEBUG:-1} $(DEVDB) $(BIN)/python manage.py createsuperuser --email "$(EMAIL)" --noinput

test: venv
	.ci/with-postgres $(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check: venv
	DEBUG=$${DEBUG:-1} $(DEVDB) $(BIN)/python manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) .venv-tools staticfiles .pytest_cache .ruff_cache  # never .pgdata/: make run's data
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
