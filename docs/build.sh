#!/usr/bin/env bash
# Build the documentation as CI does: the gallery at its reduced size, warnings as errors.
#   bash docs/build.sh            # incremental (keeps docs/_build and the gallery's cache)
#   bash docs/build.sh --clean    # from scratch: removes docs/_build, the generated API
#                                 # pages and the executed gallery first
# Needs the docs extra: python -m pip install ".[docs]"
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--clean" ]]; then
    rm -rf docs/_build docs/auto_examples docs/api/generated docs/gen_modules
fi
export DECONVKIT_DOCS_QUICK="${DECONVKIT_DOCS_QUICK:-1}"
export MPLBACKEND=Agg
# two cores, as on CI: the examples must not oversubscribe them
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" NUMBA_NUM_THREADS="${NUMBA_NUM_THREADS:-2}"
exec python -m sphinx -W --keep-going -b html docs docs/_build/html
