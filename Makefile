# Quick start: `make run` builds the model on the offline demo data; `make test` runs the suite.
VENV ?= .venv
PYTHON ?= python3
BIN := $(abspath $(VENV))/bin

export PATH := $(BIN):$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: setup run test test-fast lint format

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

run: setup
	dvc repro

# One worker per core; each test module runs whole on one worker (its fixtures run once), in
# collection order (tests/conftest.py puts the longest first).
PYTEST_WORKERS ?= -n auto --dist loadscope --no-loadscope-reorder

test: setup
	pytest $(PYTEST_WORKERS)

test-fast: setup
	pytest $(PYTEST_WORKERS) -m "not slow"

lint: setup
	ruff check .
	ruff format --check .

format: setup
	ruff check --fix .
	ruff format .
