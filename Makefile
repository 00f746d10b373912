# Every target builds .venv from scratch when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint typecheck pytest simulate demo bench docs clean

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
test: lint typecheck pytest

## The BitMart simulator in the foreground (Ctrl-C stops it).
simulate: $(STAMP)
	@$(BIN)/bitmart-ws simulate

## The main job: stream spot and futures topics (public and private) from the embedded simulator.
demo: $(STAMP)
	@$(BIN)/bitmart-ws demo --seconds 5

## Throughput of update events next to the raw transport floor, measured in the same run.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.throughput

## The documentation site (MkDocs, API reference from the docstrings) into site/.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) site build *.egg-info src/*.egg-info .mypy_cache .pytest_cache .ruff_cache
