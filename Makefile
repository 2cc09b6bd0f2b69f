# Slotwise: `make run` starts everything, `make test` checks everything.
# Both create the virtual environment in .venv on first use (uv, installed into the venv, makes
# later installs take seconds) and reuse it afterwards.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv

.PHONY: run test lint bench loadtest notebooks clean help mutate mutate-ci translations translations-update axe

help:
	@echo "make run    set up, migrate, seed demo data on first run, start booking service + dashboard"
	@echo "make test   set up test dependencies, lint, run the test suite"
	@echo "make bench  run the benchmarks (figures go to benchmarks/RESULTS.md by hand)"
	@echo "make loadtest  Locust against slotwise serve (1, 2, 4 workers x 1, 2, 4, 8 users) on PostgreSQL + Redis"
	@echo "make notebooks  open the analysts' notebooks in JupyterLab"
	@echo "make mutate     mutation testing of the critical modules (slow; docs/mutation.md)"
	@echo "make mutate-ci  the quick form CI runs: the lifecycle state machine, with its floor"

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

$(VENV)/.installed-run: pyproject.toml | $(UV)
	$(UV) pip install --quiet --python $(BIN)/python -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(UV)
	$(UV) pip install --quiet --python $(BIN)/python -e '.[dev]'
	touch $@ $(VENV)/.installed-run

# The customer's languages: .po catalogues are in git, .mo files are compiled from them (the
# service also compiles missing or stale ones on start, so a bare clone works without this).
translations: $(VENV)/.installed-run
	$(BIN)/pybabel compile --statistics -d booking_service/core/translations -D messages

# After changing a customer template or message: new message ids into every catalogue, to translate.
translations-update: $(VENV)/.installed-run
	mkdir -p .cache
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --omit-header -o .cache/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete --width 110 -i .cache/messages.pot -d booking_service/core/translations -D messages

# axe-core (npm) for the accessibility tests, into .cache/axe; without npm the tests say so and skip.
AXE_VERSION := 4.10.2
axe: .cache/axe/node_modules/axe-core/axe.min.js

.cache/axe/node_modules/axe-core/axe.min.js:
	@if command -v npm >/dev/null 2>&1; then \
		mkdir -p .cache/axe && npm install --silent --no-audit --no-fund --prefix .cache/axe axe-core@$(AXE_VERSION); \
	else echo "npm not found: the accessibility tests will skip (apt-get install npm)"; fi

run: $(VENV)/.installed-run translations
	$(BIN)/slotwise up

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

# One pytest worker per core (pytest-xdist): most tests wait on a server, a browser or a database,
# so the suite takes about half the time it takes in one process. Each worker has its own
# PostgreSQL database. `PYTEST_WORKERS=0` runs everything in this one process.
PYTEST_WORKERS ?= auto

test: $(VENV)/.installed-dev lint translations axe
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench_planner.py
	$(BIN)/python benchmarks/bench_promote.py
	$(BIN)/python benchmarks/bench_booking.py
	$(BIN)/python benchmarks/bench_dashboard.py
	$(BIN)/python benchmarks/bench_dashboard_browser.py
	$(BIN)/python benchmarks/bench_calendars.py
	$(BIN)/python benchmarks/bench_deadlines.py

loadtest: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/loadtest.py

# Mutation testing (mutmut): each critical module with only the tests that exercise it.
# MODULES="lifecycle ics" picks some; docs/mutation.md has the scores and the survivors.
mutate: $(VENV)/.installed-dev
	$(BIN)/python tools/mutation.py $(MODULES)

mutate-ci: $(VENV)/.installed-dev
	$(BIN)/python tools/mutation.py --ci

notebooks: $(VENV)/.installed-run
	$(UV) pip install --quiet --python $(BIN)/python -e '.[notebooks]'
	$(BIN)/slotwise init-db
	$(BIN)/slotwise seed-demo --if-empty
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .cache
