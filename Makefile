# Firebell: two commands get a newcomer from clone to a running pipeline.
#   make run    bootstrap, then Azurite + the devhost on http://127.0.0.1:7071
#   make test   bootstrap, then the whole suite (tests start their own in-memory Azurite)
SHELL := /bin/bash
# Any Python >= 3.11 (3.11 is what Azure Functions runs Firebell on, and what CI runs); the newest found wins.
ifndef PYTHON
PYTHON := $(shell for p in python3.14 python3.13 python3.12 python3.11 python3; do \
             $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { command -v $$p; break; }; done)
endif
VENV := .venv
PY := $(VENV)/bin/python
STAMP_PY := $(VENV)/.installed
STAMP_NODE := node_modules/.installed
# checkov (infra checks) clashes with the project's pins, so it lives in a venv of its own.
VENV_INFRA := .venv-infra
STAMP_INFRA := $(VENV_INFRA)/.installed

.PHONY: run test bench chaos demo lint bootstrap clean lock

bootstrap: $(STAMP_PY) $(STAMP_NODE) $(STAMP_INFRA) local.settings.json

NEED_PYTHON = @test -n "$(PYTHON)" || { echo "Firebell needs Python 3.11 or newer (none found on PATH)"; exit 1; }

$(VENV)/bin/python:
	$(NEED_PYTHON)
	@echo "Creating $(VENV) with $(PYTHON) ($$($(PYTHON) --version))"
	$(PYTHON) -m venv $(VENV)

# Every requirement is pinned with its hashes (make lock), so pip installs exactly what CI tested.
$(STAMP_PY): $(VENV)/bin/python requirements.txt requirements-dev.txt
	@echo "Installing Firebell's Python dependencies into $(VENV) (about 30 s, once)"
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	@touch $@

$(STAMP_NODE): package.json package-lock.json
	@echo "Installing Azurite, the local Azure Storage emulator, into node_modules (about 20 s, once)"
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(STAMP_INFRA): requirements-infra.txt
	$(NEED_PYTHON)
	@echo "Installing checkov into $(VENV_INFRA) for the infra/ checks (about a minute, once)"
	@test -x $(VENV_INFRA)/bin/python || $(PYTHON) -m venv $(VENV_INFRA)
	$(VENV_INFRA)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-infra.txt
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

# Re-pin after editing a requirements*.in file: every transitive dependency, with hashes (pip-tools, in a venv of
# its own so it never touches the project's).
PIP_COMPILE := .venv-lock/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
               --no-emit-index-url --no-emit-find-links
lock:
	$(NEED_PYTHON)
	@test -x .venv-lock/bin/pip-compile || { $(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet pip-tools==7.7.0; }
	$(PIP_COMPILE) -o requirements.txt requirements.in
	$(PIP_COMPILE) -o requirements-dev.txt requirements-dev.in
	$(PIP_COMPILE) -o requirements-infra.txt requirements-infra.in

clean:
	rm -rf $(VENV) $(VENV_INFRA) .venv-lock node_modules .azurite .pytest_cache test-artifacts
