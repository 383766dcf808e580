# The two commands a new user types (README): `make run` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
CORES  ?= 4
BIN    := $(VENV)/bin
# Rules call the `galssl` CLI: put the venv first on PATH for Snakemake's jobs.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install run test clean

$(BIN)/galssl: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[test]"
	touch $(BIN)/galssl

install: $(BIN)/galssl

## Install (once) and run the whole default DAG offline on the mock sky.
run: install
	$(BIN)/snakemake -c$(CORES) all

## Install (once) and run the test suite, including the small end-to-end workflow.
test: install
	$(BIN)/python -m pytest -q

clean:
	rm -rf results logs .snakemake
