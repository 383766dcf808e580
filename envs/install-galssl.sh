#!/usr/bin/env bash
# The post-deploy script of every conda environment here: Snakemake runs envs/<env>.post-deploy.sh (a link to this
# file) once, inside the new environment, after creating it. It installs galssl (the `galssl` command the rules
# call) without dependencies, which the environment file pins. Snakemake runs it in its working directory: the
# repository root, unless GALSSL_ROOT names the checkout (for runs with --directory elsewhere).
set -euo pipefail
python -m pip install --no-deps --editable "${GALSSL_ROOT:-$PWD}"
