# Entry points for humans and CI: `make demo` and `make test` (plus `make test-floors` and
# `make test-matrix`, which .ci/run also runs).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck contracts unit docs package test-floors test-matrix bench soak clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,docs,release]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check autumn_async autumn_sync autumn_emulator tests benchmarks examples .ci
	$(BIN)/ruff format --check autumn_async autumn_sync autumn_emulator tests benchmarks examples .ci

typecheck: $(STAMP)
	$(BIN)/mypy --strict autumn_async autumn_sync autumn_emulator

# The import contracts of pyproject's [tool.importlinter] (docs/architecture.md).
contracts: $(STAMP)
	$(BIN)/lint-imports --no-cache

unit: $(STAMP)
	PYTHONASYNCIODEBUG=1 $(BIN)/pytest

# The documentation site: a broken reference or link fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir build/site

# Build the sdist and wheel twice (reproducible), twine check --strict, then install the wheel
# into a fresh venv and run the demo and quickstarts from it against the emulator's CLI.
package: $(STAMP)
	$(BIN)/python .ci/check_package.py

test: lint typecheck contracts unit docs package

# The whole suite at the lowest versions pyproject.toml allows (uv --resolution lowest-direct).
test-floors:
	.ci/test-floors

# The suite (pytest only) on every Python 3.11-3.13 found through pyenv; missing ones skipped.
test-matrix:
	.ci/test-matrix

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[speed]'
	$(BIN)/python benchmarks/run.py

soak: $(STAMP)
	$(BIN)/python benchmarks/soak.py --duration $${DURATION:-60}

clean:
	rm -rf $(VENV) .venvs build dist .mypy_cache .pytest_cache .ruff_cache .import_linter_cache
