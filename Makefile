# The two commands of the quick start: `make bake` and `make test`.
# Everything they need (a venv, a BuildKit engine, a registry, base images) is
# installed and started by the targets below; see docs/engine.md.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: bake plan test test-unit test-e2e lint golden engine bases venv bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

venv: $(STAMP)

engine:
	bash tests/engine/engine.sh

bases: engine
	bash tests/engine/bases.sh

plan: venv
	$(BIN)/oh-builder plan

bake: venv bases
	$(BIN)/oh-builder bake --push

test: venv bases
	$(BIN)/pytest tests

test-unit: venv
	$(BIN)/pytest -q tests/unit

test-e2e: venv bases
	$(BIN)/pytest tests/e2e

lint: venv
	$(BIN)/ruff check builder tests
	$(BIN)/ruff format --check builder tests
	$(BIN)/mypy

golden: venv
	UPDATE_GOLDEN=1 $(BIN)/pytest -q tests/unit/test_golden.py

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
