#!/bin/sh
# The main job on the embedded default (grows as the sweep and crossover work lands).
set -eu
./build/xover --version
# Until the crossover experiments land: the smoke sweep, planned, run, reported.
export XOVER_DB="${XOVER_DB:-demo.db}"
./build/xover plan experiments/smoke.yaml
./build/xover run experiments/smoke.yaml --runs-dir demo-runs
./build/xover status smoke
