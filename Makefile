# The two commands of the README: `make run` and `make test`. Each installs what it needs into
# .venv first, so a fresh machine needs only Python 3.11+ (and make).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install install-test lint

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("ProSync needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install -q -e .

install-test: $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[test]"

run: install
	$(BIN)/prosync serve --demo

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest
