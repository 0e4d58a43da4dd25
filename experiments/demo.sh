#!/bin/sh
# The main job on the embedded default (grows as the sweep and crossover work lands).
set -eu
./build/xover --version
