# loanlake: the two set-up commands are `make demo` and `make test`. Each one sets itself up.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SANDBOX_ENV := .sandbox/env
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONPATH := $(CURDIR)/plugins:$(CURDIR)

.PHONY: help setup system-deps demo test test-ui test-e2e lint sandbox sandbox-down airflow bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

system-deps: ## Debian packages: mysqlclient's build deps, Chromium and chromedriver for the UI test (when missing; needs root)
	@bash scripts/system-deps.sh

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@$(MAKE) --no-print-directory system-deps
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	@touch $@

setup: $(STAMP) ## create .venv and install the pinned requirements

demo: $(STAMP) ## run every DAG against the sandbox, in pipeline order, and print what landed where
	$(PY) -m sandbox.demo

test: $(STAMP) lint ## lint, then every test (unit, DAG integrity, integration, browser) but fault injection
	$(PY) -m pytest --ignore=tests/e2e/test_fault_injection.py

test-e2e: $(STAMP) ## fault injection: the pipeline clean, then with every task failing once, compared (~5 min)
	$(PY) -m pytest tests/e2e/test_fault_injection.py

test-ui: $(STAMP) ## only the real-browser check of the Airflow UI (also part of make test); refreshes docs/images/airflow-ui.png
	$(PY) -m pytest tests/e2e/test_airflow_ui.py

lint: $(STAMP) ## ruff, sqlfluff and bandit (no high-severity finding)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/sqlfluff lint include sandbox/sql --disable-progress-bar
	$(VENV)/bin/bandit -c pyproject.toml -r dags plugins include/lambda sandbox -lll -q

sandbox: $(STAMP) ## the sandbox in the foreground (Ctrl-C stops it)
	$(PY) -m sandbox up --foreground

sandbox-down: $(STAMP) ## stop a sandbox started with `python -m sandbox up`
	$(PY) -m sandbox down

airflow: $(STAMP) ## airflow standalone pointed at the sandbox (port and credentials printed)
	@bash scripts/airflow-standalone.sh

bench: $(STAMP) ## every benchmark; figures printed as ratios against baselines measured in the same run
	$(PY) -m benchmarks

clean: ## remove the venv and local state
	-$(PY) -m sandbox down
	rm -rf $(VENV) .sandbox .airflow
