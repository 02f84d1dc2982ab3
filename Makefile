# The two commands: `make run` (a demo practice on http://127.0.0.1:5000) and `make test`.
# Both set up what is missing: Debian packages (when root), the virtual environment, the database.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := ADVISOR_ENV=development $(BIN)/flask --app advisor
HOST ?= 127.0.0.1
PORT ?= 5000

# Debian packages: what the app needs to run, and what the tests need on top.
# Pango and HarfBuzz's subsetter render packets (WeasyPrint; without libharfbuzz-subset0 fonts subset 5x slower),
# the Noto CJK fonts print Chinese names. The tests add PostgreSQL, Redis (packet jobs) and Chromium (browser).
RUN_PACKAGES := python3-venv libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk
TEST_PACKAGES := $(RUN_PACKAGES) postgresql redis-server chromium

.PHONY: run test install migrate seed clean system-run system-test

run: system-run install migrate seed
	$(FLASK) run --host $(HOST) --port $(PORT)

test: system-test install
	$(BIN)/ruff check .
	$(BIN)/pytest

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

migrate: install
	$(FLASK) db upgrade

seed: install
	$(FLASK) seed-demo --url http://$(HOST):$(PORT)

system-run:
	@scripts/system-packages.sh $(RUN_PACKAGES)

system-test:
	@scripts/system-packages.sh $(TEST_PACKAGES)

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
