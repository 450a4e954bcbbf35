# Firebell: two commands get a newcomer from clone to a running pipeline.
#   make run    bootstrap, then Azurite + the devhost on http://127.0.0.1:7071
#   make test   bootstrap, then the whole suite (tests start their own in-memory Azurite)
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP_PY := $(VENV)/.installed
STAMP_NODE := node_modules/.installed
# checkov (infra checks) clashes with the project's pins, so it lives in a venv of its own.
VENV_INFRA := .venv-infra
STAMP_INFRA := $(VENV_INFRA)/.installed

.PHONY: run test bench chaos demo lint bootstrap clean

bootstrap: $(STAMP_PY) $(STAMP_NODE) $(STAMP_INFRA) local.settings.json

$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null || { echo "Firebell needs Python 3.11 ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP_PY): $(VENV)/bin/python requirements.txt requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(STAMP_NODE): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(STAMP_INFRA): requirements-infra.txt
	@command -v $(PYTHON) >/dev/null || { echo "Firebell needs Python 3.11 ($(PYTHON) not found)"; exit 1; }
	@echo "Installing checkov into $(VENV_INFRA) for the infra/ checks (about a minute, once)"
	@test -x $(VENV_INFRA)/bin/python || $(PYTHON) -m venv $(VENV_INFRA)
	$(VENV_INFRA)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-infra.txt
	@touch $@

local.settings.json:
	cp local.settings.example.json $@

run: $(STAMP_PY) $(STAMP_NODE) local.settings.json
	$(PY) -m devhost --azurite .azurite

test: bootstrap
	$(PY) -m pytest

bench: bootstrap
	$(PY) -m bench

# Delivery chaos and kill -9 through the devhost; `python -m chaos SUITE …` runs some, `--size fast` the small ones.
chaos: bootstrap
	$(PY) -m chaos

demo: bootstrap
	$(PY) -m devhost.demo

lint: bootstrap
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q tests/infra

clean:
	rm -rf $(VENV) $(VENV_INFRA) node_modules .azurite .pytest_cache test-artifacts
