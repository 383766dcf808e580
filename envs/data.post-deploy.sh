#!/usr/bin/env bash
# Snakemake runs this once, inside the new environment, after creating it: install galssl (the `galssl` command
# the rules call) without dependencies, which the environment file pins. Snakemake runs it in its working
# directory: the repository root, unless GALSSL_ROOT names the checkout (for runs with --directory elsewhere).
set -euo pipefail
python -m pip install --no-deps --editable "${GALSSL_ROOT:-$PWD}"
