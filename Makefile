# The two commands: `make demo` runs the platform, `make test` runs every check.
# Each creates .venv from uv.lock when it is missing or stale (installing uv with pip if absent).

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := .tools/bin/uv
endif
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck pytest bench clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

demo: $(VENV)/.synced
	$(BIN)/pmo demo

test: lint typecheck pytest

lint: $(VENV)/.synced
	$(UV) lock --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.synced
	$(BIN)/mypy

pytest: $(VENV)/.synced
	$(BIN)/pytest

bench: $(VENV)/.synced
	$(BIN)/python bench/rls_overhead.py
	$(BIN)/python bench/provision.py

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
