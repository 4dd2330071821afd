# EHCP demand and capacity planning toolkit. `make` alone lists the targets.
# Every target that runs Python first builds the virtual environment (.venv) if it is missing
# or older than pyproject.toml, so a fresh clone needs nothing else.

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CONFIG ?= configs/leeds.yaml
export MPLBACKEND := agg
export PYTHONHASHSEED := 0

.DEFAULT_GOAL := help
.PHONY: help install run test lint typecheck pytest bench bench-forecast bench-simulate bench-engine-instructions bench-batch notebooks clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the package with its test tools

run: $(STAMP) ## the main job on the embedded DfE data (CONFIG=configs/leeds.yaml: Leeds)
	$(VENV)/bin/ehcp run --config $(CONFIG)

lint: $(STAMP) ## ruff over the package, tests and benchmarks
	$(VENV)/bin/ruff check forecasting tests benchmarks

typecheck: $(STAMP) ## mypy over the package
	$(VENV)/bin/mypy forecasting

pytest: $(STAMP) ## the test suite alone (doctests, notebooks and property tests included)
	$(PY) -m pytest -n 2 --dist loadgroup -q

test: lint typecheck pytest ## lint, type-check and run every test

bench: bench-forecast bench-simulate ## every benchmark

bench-forecast: $(STAMP) ## rolling-origin backtest of every model over every LA
	$(PY) benchmarks/bench_forecast.py

bench-simulate: $(STAMP) ## the simulator against SimPy on the Leeds-scale pipeline
	$(PY) benchmarks/bench_simulate.py

bench-engine-instructions: $(STAMP) ## the event loop's instructions per visit, counted by callgrind (needs valgrind)
	$(PY) benchmarks/engine_instructions.py

bench-batch: $(STAMP) ## the quarterly batch over all LAs with 1 and 2 workers, and a projection
	$(PY) benchmarks/bench_batch.py

notebooks: $(STAMP) ## execute every notebook and render HTML under reports/notebooks/
	$(PY) -m forecasting.notebooks --out reports/notebooks

clean: ## remove the virtual environment and caches (never data/raw)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis data/interim
