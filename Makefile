# The two commands a new user types (README): `make run` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
CORES  ?= 4
# Test processes (pytest-xdist): one test module per worker at a time (module fixtures such as the Slurm cluster
# start once), handed out in collection order (not largest module first), so the three end-to-end modules that
# tests/conftest.py puts first start at once. Three on 2 cores: the Slurm run mostly waits on its scheduler, and a
# 2-worker run left the cores idle 43% of the time. (--dist loadgroup does not group with pytest 9.2 and xdist 3.8.)
TEST_WORKERS ?= 3
BIN    := $(VENV)/bin
# Rules call the `galssl` CLI: put the venv first on PATH for Snakemake's jobs.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install run test rulegraph clean

$(BIN)/galssl: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[test,clip]"
	touch $(BIN)/galssl

install: $(BIN)/galssl

## Install (once) and run the whole default DAG offline on the mock sky.
run: install
	$(BIN)/snakemake -c$(CORES) all

## Install (once), lint the Python code (ruff.toml), and run the test suite, including the small end-to-end workflow.
test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=20

## Redraw the rule graph of the default DAG (docs/rulegraph.dot and .png; the figure needs Graphviz's `dot`).
rulegraph: install
	$(BIN)/python docs/rulegraph.py

clean:
	rm -rf results logs .snakemake
