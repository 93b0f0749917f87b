# mesascope: `make demo` runs the main job, `make test` the whole suite. Each installs what it
# needs into .venv (CPU-only JAX) the first time, and again only when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench install clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/mesascope demo

# The suite runs in two processes (the CI machine has two cores), one test file per process at a
# time, so module-scoped fixtures are built once; tests/conftest.py sets its compilation cache.
test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider --timeout 600 --durations=30 -n 2 --dist loadfile

bench: $(STAMP)
	$(BIN)/python bench/world_throughput.py
	$(BIN)/python bench/ppo_throughput.py
	$(BIN)/python bench/gym_vector.py

clean:
	rm -rf $(VENV) mesascope.db mesascope.db-* mesascope_artifacts
