# fastapi_sentient — run `make help` for the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# `make test` fails below this line coverage of fastapi_sentient (in-process suite; the
# integration tests' subprocesses are not measured). Set a few points under the measured
# figure; raise it when coverage rises.
COVERAGE_FLOOR := 88

.DEFAULT_GOAL := help
.PHONY: help install hooks run test test-fast test-wheels test-lowest lint fmt bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[all]' --group dev --group bench
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the package with every extra and the dev tools

hooks: $(STAMP) ## install the git pre-commit hook (the same ruff and mypy as `make lint`)
	$(BIN)/pre-commit install

run: $(STAMP) ## serve the example app on 127.0.0.1:8000 (SQLite, single node, no keys needed)
	mkdir -p var
	SENTIENT_DATABASE_URL=$${SENTIENT_DATABASE_URL-sqlite+aiosqlite:///./var/example.db} \
	$(BIN)/uvicorn example_app.main:app --host 127.0.0.1 --port 8000 --timeout-graceful-shutdown 30

lint: $(STAMP) ## ruff (lint + format check) and mypy --strict on the package
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(STAMP) ## format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(STAMP) lint ## lint, then the whole suite (real PostgreSQL, Redis, uvicorn, Prometheus) with a coverage floor
	$(BIN)/python -m pytest -q --cov=fastapi_sentient --cov-report=term \
		--cov-fail-under=$(COVERAGE_FLOOR)

test-fast: $(STAMP) ## the suite without the slow multi-process tests
	$(BIN)/python -m pytest -q -m "not integration"

test-wheels: $(STAMP) ## build the wheel; serve a smoke app from fresh venvs: no extras, each alone, all
	$(BIN)/python .ci/wheels.py --uv $(BIN)/uv

test-lowest: $(STAMP) ## the non-integration suite on the lowest versions pyproject.toml allows
	UV=$(BIN)/uv .ci/lowest

bench: $(STAMP) ## side-by-side benchmarks against bare FastAPI and the peers
	$(BIN)/python -m bench

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage var
