# The two commands: `make run` (a demo practice on http://127.0.0.1:5000) and `make test`.
# Both set up what is missing: Debian packages (when root), the virtual environment, the database.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# Links sent out (upload links, password links) are built on EXTERNAL_URL, and only its host is answered.
FLASK := ADVISOR_ENV=development ADVISOR_EXTERNAL_URL=http://$(HOST):$(PORT) $(BIN)/flask --app advisor

# Debian packages: what the app needs to run, and what the tests need on top.
# Pango and HarfBuzz's subsetter render packets (WeasyPrint; without libharfbuzz-subset0 fonts subset 5x slower),
# the Noto CJK fonts print Chinese names. The tests add PostgreSQL, Redis (packet jobs) and Chromium (browser).
RUN_PACKAGES := python3-venv libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk
TEST_PACKAGES := $(RUN_PACKAGES) postgresql redis-server chromium

.PHONY: run test install install-test migrate seed clean system-run system-test

run: system-run install migrate seed
	$(FLASK) run --host $(HOST) --port $(PORT)

test: system-test install-test
	$(BIN)/ruff check .
	$(BIN)/pytest

# Two stamps: `make run` installs the app alone (seconds), `make test` the test tools on top (pytest, moto,
# Playwright…). Each reinstalls when pyproject.toml changes; after `make test`, `make run` needs nothing more.
install: $(VENV)/.installed-app

install-test: $(VENV)/.installed-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-app: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed-app

migrate: install
	$(FLASK) db upgrade

seed: install
	$(FLASK) seed-demo

system-run:
	@scripts/system-packages.sh $(RUN_PACKAGES)

system-test:
	@scripts/system-packages.sh $(TEST_PACKAGES)

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
