# Every target builds .venv from scratch when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint typecheck pytest redis-server simulate demo bench bench-compare chaos soak docs clean

# Install chatter goes to stderr: `make demo | jq` sees only the demo's JSON lines.
$(STAMP): pyproject.toml
	@echo "installing bitmart-ws and its development extras into $(VENV)" >&2
	@{ test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); } >&2
	@$(BIN)/python -m pip install --quiet --upgrade pip >&2
	@$(BIN)/python -m pip install --quiet -e '.[dev]' >&2
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q

## The whole test suite: lint, strict typing, every test.
test: redis-server lint typecheck pytest

## The fan-out tests run a real redis-server: installed here when missing and possible (root + apt-get);
## otherwise those tests skip and say how to install it (CI sets BITMART_WS_REQUIRE_REDIS=1: a failure).
redis-server:
	@command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing redis-server (apt-get) for the fan-out tests" >&2; \
	    { apt-get update -q && apt-get install -y -q redis-server; } >&2 || echo "could not install redis-server" >&2; \
	  else \
	    echo "redis-server not found: the fan-out tests will skip (apt-get install -y redis-server)" >&2; \
	  fi; }

## The BitMart simulator in the foreground (Ctrl-C stops it).
simulate: $(STAMP)
	@$(BIN)/bitmart-ws simulate

## The main job: stream spot and futures topics (public and private) from the embedded simulator.
demo: $(STAMP)
	@$(BIN)/bitmart-ws demo --seconds 5

## Every figure of the client (update events, books, latency, memory, scaling, uvloop) next to its
## floor measured in the same run (~3 minutes; `.venv/bin/python -m benchmarks --quick` for a smoke run).
bench: $(STAMP) redis-server
	$(BIN)/python -m benchmarks
	@if command -v redis-server >/dev/null; then $(BIN)/python -m benchmarks.fanout; \
	 else echo "redis-server not found: the Redis publish row is skipped (apt-get install -y redis-server)"; fi

## The same firehose driven by the peers (Node bitmart-api, bitmart-python-sdk-api, ccxt pro), each
## installed on first use into ignored folders (benchmarks/.node, benchmarks/.peers); our ratio to each.
bench-compare: $(STAMP)
	$(BIN)/python -m benchmarks.compare

## Seeded chaos against the simulator: CHAOS_FAULTS faults (default 500), CHAOS_SEED replays a run.
chaos: $(STAMP)
	$(BIN)/python -m tests.reliability.chaos

## Reconnect cycles and messages at volume (SOAK_CYCLES, SOAK_MESSAGES): resources over time.
soak: $(STAMP)
	$(BIN)/python -m tests.reliability.soak

## The documentation site (MkDocs, API reference from the docstrings) into site/.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) site build *.egg-info src/*.egg-info .mypy_cache .pytest_cache .ruff_cache
