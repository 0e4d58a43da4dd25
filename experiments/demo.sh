#!/bin/sh
# make demo: run experiments/demo.yaml, then print its crossover tables and
# write the HTML report. Re-running it trains nothing new (finished runs are
# kept in xover.db and runs/) and prints the tables again.
set -eu
xover=./build/xover
$xover --version | head -n 1
$xover plan experiments/demo.yaml
$xover run experiments/demo.yaml -j 2
echo
echo "Annealed crossover in validation loss: each point a branch cooled at its own"
echo "budget (x = epochs); the verdict with its 95% interval (one seed: from the"
echo "evaluation error alone) and the two budgets the crossover falls between:"
$xover crossover --sweep demo --metric val_loss --annealed --x epochs
echo
echo "In-training curves (the constant-rate trunks, x = training tokens seen):"
$xover crossover --sweep demo --metric val_loss
echo
echo "Crossover in 4-way cloze accuracy (mc_acc, higher is better):"
$xover crossover --sweep demo --metric mc_acc
$xover report --sweep demo report
echo
echo "Report: $(pwd)/report/index.html"
echo "Query the results: sqlite3 xover.db \"SELECT * FROM crossover\"   (or: $xover sql ...)"
echo "How sure across seeds: $xover run experiments/demo-seeds.yaml -j 2 (three paired seeds,"
echo "about three times this run), then $xover crossover --sweep demo-seeds --annealed --x epochs"
