# The two commands of the quick start: `make bake` and `make test`.
# Everything they need (a venv, a BuildKit engine, a registry, base images) is
# installed and started by the targets below; see docs/engine.md.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: bake plan test test-unit test-app test-e2e test-scale runner2 lint golden engine ready buildkitd bases seed locks venv host-tools profiles bench bench-plan bench-lock clean

# The venv holds oh-builder (editable, with dev tools) and the sample app with the
# versions its poetry.lock pins, for the app's host tests.
$(STAMP): pyproject.toml app/pyproject.toml app/poetry.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python tests/tools/lock_constraints.py app/poetry.lock >$(VENV)/app-constraints.txt
	$(BIN)/python -m pip install -q -e '.[dev]' -e ./app -c $(VENV)/app-constraints.txt
	@touch $@

# tmux and Chromium on the host, for the app's tests, and a static busybox, for the
# wrappers' host tests (Debian/Ubuntu, as root).
host-tools:
	@command -v tmux >/dev/null && command -v chromium >/dev/null && command -v busybox >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tmux chromium fonts-dejavu-core busybox-static >/dev/null)

venv: $(STAMP)

# Profile sources that are fetched, not committed (OpenHands V0's, pinned by sha256).
profiles: venv
	$(BIN)/python profiles/fetch.py openhands-v0

# Docker Engine, buildx, the registry, arm64 emulation and the BuildKit daemon, in order.
engine:
	bash tests/engine/engine.sh

bases: engine
	bash tests/engine/bases.sh

# What bake and test need, with the slow first-time parts side by side: buildkitd's Go
# build, the debootstraps of the bases and pip (each script prefixes its lines).
ready:
	OH_ENGINE_BUILDKITD=skip bash tests/engine/engine.sh
	$(MAKE) --no-print-directory -j3 -Oline venv seed buildkitd

seed:
	bash tests/engine/bases.sh

buildkitd:
	bash tests/engine/buildkitd.sh

# The repository's lock files follow the stand-in bases made on this machine
# (tests/engine/locks.sh says why); a no-op when they already match.
locks: venv profiles bases
	OH_BUILDER=$(BIN)/oh-builder bash tests/engine/locks.sh

plan: venv
	$(BIN)/oh-builder plan

# The builder `make bake` builds on: the BuildKit daemon `make engine` starts (no local
# unpack of every pushed image). BUILDER=default builds on dockerd's own BuildKit.
BUILDER ?= oh-buildkitd
bake: ready locks
	$(BIN)/oh-builder bake --push --builder $(BUILDER)

# verify results land in $(RESULTS); tests/tools/compat_table.py turns them into a table.
RESULTS ?= /var/log/oh-builder/e2e/results
test: ready host-tools profiles locks
	OH_E2E_RESULTS=$(RESULTS) $(BIN)/pytest --durations=15 tests --ignore=tests/scale

test-unit: venv
	$(BIN)/pytest -q tests/unit

test-app: venv host-tools
	$(BIN)/pytest tests/app

test-e2e: ready profiles locks
	OH_E2E_RESULTS=$(RESULTS) $(BIN)/pytest tests/e2e

# Everything that ships is linted, the code that runs inside the images included: the
# package, the build tools (dockerfiles/context), the sample app, the wrappers and the
# setup script (shellcheck), the engine scripts and the tests; the CI workflow (zizmor).
SHELL_SCRIPTS := $(filter-out %.conf,$(wildcard wrappers/bin/* wrappers/*/bin/* wrappers/share/* tests/engine/*.sh)) .ci/run
# Beyond one machine (docs/ci.md): a second BuildKit daemon with state of its own
# stands in for a second CI runner; the two share only the registry.
RUNNER2 ?= oh-runner2
runner2: ready
	mkdir -p /var/log/oh-builder/$(RUNNER2)
	OH_ENGINE_DIR=/var/lib/oh-builder-engine/$(RUNNER2) OH_BUILDKITD_RUN_DIR=/run/oh-builder/$(RUNNER2) \
	  OH_ENGINE_LOG_DIR=/var/log/oh-builder/$(RUNNER2) OH_BUILDKITD_BUILDER=$(RUNNER2) \
	  bash tests/engine/buildkitd.sh

test-scale: runner2 profiles locks
	OH_E2E_RUNNER2=$(RUNNER2) $(BIN)/pytest --durations=15 tests/scale

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/shellcheck $(SHELL_SCRIPTS)
	$(BIN)/zizmor --offline --quiet .github/workflows

golden: venv
	UPDATE_GOLDEN=1 $(BIN)/pytest -q tests/unit/test_golden.py tests/unit/test_servers.py -k "golden or docs"

# Benchmarks (figures, not tests): legacy vs two-stage on this engine, scale, planning.
# Writes docs/benchmarks.md, docs/benchmarks.json, docs/img/benchmarks.png (~40 min).
bench: ready locks
	$(BIN)/python -m tests.bench.compare --out docs --builder $(BUILDER)

# Planning alone: 2,294 bases (seconds).
bench-plan: venv engine
	$(BIN)/python -m tests.bench.plan_scale 2294

# `oh-builder lock` for 2,294 bases against the local registry (seconds).
bench-lock: venv bases
	$(BIN)/python -m tests.bench.lock_scale 2294

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
