# Two entry points for humans and CI: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck contracts unit bench soak clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check autumn_async autumn_sync autumn_emulator tests benchmarks examples
	$(BIN)/ruff format --check autumn_async autumn_sync autumn_emulator tests benchmarks examples

typecheck: $(STAMP)
	$(BIN)/mypy --strict autumn_async autumn_sync autumn_emulator

# The import contracts of pyproject's [tool.importlinter] (docs/architecture.md).
contracts: $(STAMP)
	$(BIN)/lint-imports --no-cache

unit: $(STAMP)
	PYTHONASYNCIODEBUG=1 $(BIN)/pytest

test: lint typecheck contracts unit

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[speed]'
	$(BIN)/python benchmarks/run.py

soak: $(STAMP)
	$(BIN)/python benchmarks/soak.py --duration $${DURATION:-60}

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .import_linter_cache
