# The two commands of the README: `make run` and `make test`. Each installs what it needs into
# .venv first, so a fresh machine needs only Python 3.11+ (and make).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test soak install install-test lint browser curl pg15 chattr bench leftovers

# Debian's Chromium for the end-to-end tests (never a downloaded browser build).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

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

browser:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# curl: docs/api.md's CI example runs verbatim in the API's end-to-end test.
curl:
	@command -v curl >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq curl >/dev/null; }

# The benchmark's data set lives apart from the demo's; the first run generates it.
SCALE ?= 100k
RUNS ?= 20
BENCH_FLAGS ?=
bench: install-test browser
	PROSYNC_DATA_DIR=$(CURDIR)/.prosync-bench/$(SCALE) $(BIN)/prosync bench --scale $(SCALE) --runs $(RUNS) $(BENCH_FLAGS)

# Debian's PostgreSQL 15, the oldest supported version: the database tests run on it too.
PG15_BIN := /usr/lib/postgresql/15/bin
pg15:
	@test -x $(PG15_BIN)/postgres || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql-15 >/dev/null; }

# chattr (e2fsprogs): the storage fault tests make a folder immutable, the one thing that stops root.
chattr:
	@command -v chattr >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq e2fsprogs >/dev/null; }

# The whole suite on the embedded PostgreSQL 18, the database tests again on PostgreSQL 15, then
# the benchmark as a smoke check (it prints figures and fails only if it breaks); each pytest run
# spreads its test files over every core (pytest-xdist). Tests marked embedded_only build their own
# embedded PostgreSQL 18 on any pass, so the PostgreSQL 15 pass leaves them out. Last, nothing of
# ProSync's may be left running. The load run lasts a minute on PostgreSQL 18 and half a minute on
# 15 here; `make soak` runs it for five on both servers.
PYTEST := $(BIN)/python -m pytest -n auto --dist loadfile --durations=15
test: lint browser curl pg15 chattr
	$(PYTEST)
	PROSYNC_TEST_PG_BINDIR=$(PG15_BIN) PROSYNC_LOAD_SECONDS=30 $(PYTEST) -m 'not embedded_only' tests/db
	$(MAKE) bench SCALE=100k RUNS=1 BENCH_FLAGS="--no-docs --files 200 --large-mb 64"
	$(MAKE) leftovers

soak: install-test pg15
	PROSYNC_LOAD_SECONDS=300 $(BIN)/python -m pytest tests/db/tools/test_load.py
	PROSYNC_LOAD_SECONDS=300 PROSYNC_TEST_PG_BINDIR=$(PG15_BIN) $(BIN)/python -m pytest tests/db/tools/test_load.py

# Fails, naming them, if a PostgreSQL, Streamlit or `prosync` process of this checkout or of the test
# run's temporary folders is still running.
leftovers:
	@$(BIN)/python -m tests.leftovers
