/*
 * commands.c — the table of xover's commands: one line each, in the order
 * `xover --help` lists them. Each command lives in orchestrator/cmd_NAME.c.
 */
#include "orchestrator/cli.h"

int cmd_help(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_sql(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_collect(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_crossover(int argc, char **argv);
int cmd_table(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_report(int argc, char **argv);

const cli_command cli_commands[] = {
    {"help", cmd_help, "show the commands, or one command's options",
     "usage: xover help [COMMAND]\n\n"
     "Without COMMAND, list xover's commands. With it, show that command's options.\n"},
    {"version", cmd_version, "show the version, build commit and linked library versions",
     "usage: xover version   (or xover --version)\n\n"
     "Print xover's version and build commit, and the versions of SQLite, libyaml,\n"
     "PCRE2 and OpenBLAS actually linked into this binary.\n"},
    {"db", cmd_db, "create, upgrade or check the results database",
     "usage: xover db init [PATH]\n"
     "       xover db check [--db PATH]\n\n"
     "init   create the results database at PATH (default: --db, $XOVER_DB, ./xover.db),\n"
     "       or upgrade an existing one to this xover's schema; safe to repeat.\n"
     "check  run SQLite's integrity and foreign-key checks and count sweeps, runs by\n"
     "       status, and metric points. Exit 1 if the database is damaged.\n\n"
     "The schema (tables sweeps, runs, sweep_runs, metrics; views run_final,\n"
     "run_best, curves, metric_series) is documented in schema.sql.\n"},
    {"sql", cmd_sql, "run a read-only SQL query on the results database",
     "usage: xover sql \"SELECT ...\" [--db PATH] [--format table|csv|json|jsonl|md]\n\n"
     "Run one SQL statement on the results database, opened read-only: statements\n"
     "that write (INSERT, UPDATE, DELETE, CREATE, DROP, ATTACH, PRAGMA x = y) are\n"
     "refused with exit code 2. Give - as the query to read it from stdin.\n\n"
     "  --db PATH       the database (default: $XOVER_DB, else ./xover.db)\n"
     "  -f, --format F  table (default), csv, json (an array of objects), jsonl, md\n\n"
     "Examples:\n"
     "  xover sql \"SELECT objective, unique_tokens, value FROM run_best\n"
     "             WHERE name = 'val_loss' ORDER BY value\"\n"
     "  xover sql \"SELECT status, count(*) FROM runs GROUP BY status\" --format md\n"},
    {"export", cmd_export, "export metric points with their run's axes as CSV or JSON Lines",
     "usage: xover export [--format csv|jsonl] [--runs WHERE] [--db PATH] [-o FILE]\n\n"
     "Write every metric point (run_id, key, objective, model, params, unique_tokens,\n"
     "quality, epochs, seed, status, name, step, tokens, epoch, flops, value), ordered\n"
     "by run, metric and step.\n\n"
     "  -f, --format F      csv (default) or jsonl (one JSON object per line)\n"
     "  --runs WHERE        only runs matching this SQL condition on the runs table,\n"
     "                      e.g. \"objective = 'mdm' AND status = 'done'\"\n"
     "  --db PATH           the database (default: $XOVER_DB, else ./xover.db)\n"
     "  -o, --output FILE   write FILE (atomically) instead of stdout\n"},
    {"data", cmd_data, "prepare, inspect, score and tokenize corpora",
     "usage: xover data prepare [SPEC] [--corpus C] [--vocab N] [--val-tokens N] [--cache DIR]\n"
     "       xover data stats [SPEC] [--corpus C] [--vocab N] [--budgets 25k,100k] [--tiers all,top:0.5,degrade:0.5]\n"
     "       xover data score FILE [--separator RE] [--text-field F] [--limit N]\n"
     "       xover data tokenize (--text TEXT | --file F) [--corpus C] [--vocab N] [--tokenizer FILE] [--ids]\n\n"
     "prepare   build the cached tokenizer, tokenized corpus and quality tiers a sweep\n"
     "          needs, so its runs only open them. SPEC is a JSON file with a \"data\"\n"
     "          object: a run config, or a sweep-like section where vocab and\n"
     "          unique_tokens may be lists, counts may be \"25k\", and quality may name\n"
     "          tiers: {\"high\": {\"degrade\": 0}, \"low\": {\"degrade\": 0.5}}. A \"grid\"\n"
     "          object's vocab / unique_tokens lists count too. Budgets are checked.\n"
     "stats     documents, bytes, tokens, bytes/token, vocabulary coverage, unigram\n"
     "          cross-entropy of validation, and tokens and documents per tier and budget.\n"
     "score     per-document quality score (0 = clean; each fired rule adds value-1)\n"
     "          and the rules that fired, for any file, directory, glob or corpus name.\n"
     "tokenize  show the tokens of TEXT under a corpus's tokenizer (prepared if needed)\n"
     "          or a saved tokenizer file (--tokenizer); --ids prints ids only.\n\n"
     "Corpora: fortunes (Debian package fortunes), gcide (dict-gcide), synthetic or\n"
     "synthetic:N (generated), or a file, directory or glob of .txt/.jsonl/.gz files.\n"
     "Common options: --separator RE (PCRE2, default a blank line; fortunes ^%$),\n"
     "--text-field F (.jsonl), --val-tokens N (default 50k), --order-seed N,\n"
     "--cache DIR (default $XOVER_CACHE or .cache/xover). Token ids: 0-255 bytes,\n"
     "256 EOS, 257 MASK, then merges.\n"},
    {"plan", cmd_plan, "show the runs a sweep expands into, their status and their cost",
     "usage: xover plan SWEEP.yaml [--format table|json] [--db PATH] [-j N]\n\n"
     "Expand the sweep (grid x zip, minus exclude, plus include, with derive and\n"
     "seeds) and list its runs: the axes that vary, derived parameters, the run\n"
     "key's first 12 hex digits, estimated training tokens and FLOPs, and the\n"
     "status the database has for it (new when it has none). Then the counts and\n"
     "the estimated time at the training speed measured on finished runs (or an\n"
     "assumed 60 GFLOP/s per worker when there are none; a run that stops early,\n"
     "train.early_stop_margin, costs less than estimated). Nothing is written.\n\n"
     "  --format F    table (default) or json\n"
     "  --db PATH     the database (default: $XOVER_DB, else ./xover.db); none is fine\n"
     "  -j, --jobs N  workers to estimate the wall time for (default: one per core)\n"},
    {"train", cmd_train, "train one run (AR or MDM) from its config into a run directory",
     "usage: xover train --config run.json --out RUNDIR [--cache DIR] [--threads N]\n\n"
     "Train the run a resolved run config describes (docs/run-config.md) and write\n"
     "RUNDIR/metrics.jsonl (one JSON object per line: step, tokens, epoch, flops and\n"
     "train_loss/lr/grad_norm or val_loss/mc_acc), RUNDIR/checkpoint, RUNDIR/model.json\n"
     "(parameters, FLOPs per token), RUNDIR/log and RUNDIR/status (running, done,\n"
     "failed or interrupted). If RUNDIR/checkpoint exists the run resumes from it,\n"
     "bit for bit. Ctrl-C (or SIGTERM) checkpoints and exits 130.\n\n"
     "  --config FILE   the run config (JSON)\n"
     "  --out DIR       the run directory (created if missing)\n"
     "  --cache DIR     tokenizer and token caches (default $XOVER_CACHE or .cache/xover)\n"
     "  --threads N     BLAS threads (default 1)\n"},
    {"sample", cmd_sample, "continue a prompt with a trained run's model",
     "usage: xover sample --run RUNDIR --prompt TEXT [--tokens N] [--temperature T]\n"
     "                    [--top-k K] [--steps S] [--seed N] [--cache DIR]\n\n"
     "Load RUNDIR's checkpoint and tokenizer and continue TEXT by N tokens (default 32).\n"
     "AR models write left to right; MDM models start the N positions masked and\n"
     "unmask them over S steps (default N), most confident first.\n\n"
     "  --temperature T  0 = greedy (default 1)\n"
     "  --top-k K        sample among the K likeliest tokens (default all)\n"
     "  --steps S        MDM unmasking steps\n"
     "  --seed N         sampling seed (default 0)\n"},
    {"run", cmd_run, "run a sweep's runs that are not done yet, on every core",
     "usage: xover run SWEEP.yaml [-j N] [--retry-failed] [--timeout DUR] [--only KEY...]\n"
     "                 [--dry-run] [--runs-dir DIR] [--db PATH]\n"
     "       xover run SWEEP.yaml --backend slurm [--partition P] [--time T] [--cpus-per-run N]\n"
     "                 [--mem M] [--array-parallelism K] [--sbatch-arg ARG]... [--no-wait] [...]\n\n"
     "Plan the sweep, record it and its runs in the database, and run every run that\n"
     "is not done (pending, interrupted, or failed with --retry-failed) on N worker\n"
     "processes, each `xover train` (or the sweep's external trainer) with one BLAS\n"
     "thread in its run directory DIR/<sweep>/<key>/ (config.json, metrics.jsonl,\n"
     "checkpoint, log, status). Metrics reach the database while runs train.\n"
     "Ctrl-C stops launching and interrupts the running runs, which checkpoint and\n"
     "are marked interrupted (exit 130); the next `xover run` resumes them. A second\n"
     "Ctrl-C stops them at once. A run that crashes, times out or reports a\n"
     "non-finite loss is failed, with its reason and log tail; the sweep goes on.\n"
     "Exit 0 when every run is done, 1 when some failed.\n\n"
     "  -j, --jobs N       worker processes (default: one per core)\n"
     "  --retry-failed     rerun the runs that failed\n"
     "  --timeout DUR      fail a run attempt after DUR (90s, 30m, 2h)\n"
     "  --only KEY...      only the runs whose key starts with KEY (repeatable, or a,b)\n"
     "  -n, --dry-run      list what would run; run nothing\n"
     "  --runs-dir DIR     where run directories go (default: runs)\n"
     "  --db PATH          the database (default: $XOVER_DB, else ./xover.db)\n\n"
     "With --backend slurm the runs not done (and not still queued) become ONE Slurm job\n"
     "array, submitted with sbatch; each task runs `xover worker` on one run directory.\n"
     "The run directories (--runs-dir) must be on a filesystem the compute nodes share;\n"
     "the database stays here. The sbatch script is kept in DIR/<sweep>/slurm/. The\n"
     "driver then follows the tasks (squeue, sacct, status files) and ingests metrics\n"
     "as they arrive; Ctrl-C stops following, not the jobs.\n"
     "  --backend B             local (default) or slurm\n"
     "  --partition P           the Slurm partition\n"
     "  --time T                each task's time limit (minutes, HH:MM:SS, D-HH:MM);\n"
     "                          default: --timeout rounded up to minutes, else none\n"
     "  --cpus-per-run N        CPUs (and BLAS threads) per run (default 1)\n"
     "  --mem M                 memory per run (4000, 512M, 4G)\n"
     "  --array-parallelism K   at most K tasks at once\n"
     "  --sbatch-arg ARG        one more sbatch option, as is (repeatable): --qos=low\n"
     "  --no-wait               submit and return; `xover collect SWEEP` ingests later\n"},
    {"status", cmd_status, "where runs stand: the whole database, or one sweep's unfinished runs",
     "usage: xover status [SWEEP] [--db PATH]\n\n"
     "Without SWEEP: runs per status, and per sweep. With SWEEP (its name or its\n"
     "YAML file): its counts and every run not done yet, with its last step and,\n"
     "for failed runs, why.\n\n"
     "  --db PATH   the database (default: $XOVER_DB, else ./xover.db)\n"},
    {"ls", cmd_ls, "list the sweeps and their progress",
     "usage: xover ls [--db PATH]\n\n"
     "One line per sweep: runs, done, progress, running, failed, still to do, and\n"
     "when it was last run.\n\n"
     "  --db PATH   the database (default: $XOVER_DB, else ./xover.db)\n"},
    {"show", cmd_show, "one run: status, axes, paths, error, final and best metrics, config",
     "usage: xover show KEY [--db PATH]\n\n"
     "KEY is a run key or any unambiguous prefix of it (xover plan and xover status\n"
     "show 12 digits).\n\n"
     "  --db PATH   the database (default: $XOVER_DB, else ./xover.db)\n"},
    {"collect", cmd_collect, "ingest what a sweep's Slurm tasks wrote, and how they ended",
     "usage: xover collect SWEEP [--wait] [--db PATH]\n\n"
     "For the runs of SWEEP (its name or YAML file) submitted with\n"
     "`xover run --backend slurm` and not yet ended: ingest the metrics their run\n"
     "directories hold, and record which started, finished, failed or were interrupted,\n"
     "with the scheduler's reason (squeue, or sacct when the cluster keeps accounting).\n"
     "Safe to repeat: nothing is stored twice. Exit 1 when some run failed.\n\n"
     "  --wait      keep following until every task has ended (as `xover run` does)\n"
     "  --db PATH   the database (default: $XOVER_DB, else ./xover.db)\n"},
    {"cancel", cmd_cancel, "cancel a sweep's Slurm job arrays",
     "usage: xover cancel SWEEP [--db PATH]\n\n"
     "scancel the job arrays of SWEEP that still have tasks queued or running, wait for\n"
     "them to stop (running trainers checkpoint on Slurm's SIGTERM), and record their\n"
     "runs: interrupted, or pending when they never started. `xover run SWEEP.yaml\n"
     "--backend slurm` later resubmits only what is not done, resuming checkpoints.\n\n"
     "  --db PATH   the database (default: $XOVER_DB, else ./xover.db)\n"},
    {"worker", cmd_worker, "run one run directory (what a Slurm array task runs)",
     "usage: xover worker RUNDIR\n"
     "       xover worker --list FILE [--index N]\n\n"
     "Run the trainer recorded in RUNDIR/worker.json (written by\n"
     "`xover run --backend slurm`), or in the directory on line N+1 of FILE (N defaults\n"
     "to $SLURM_ARRAY_TASK_ID). Records the attempt (RUNDIR/attempt.json), appends the\n"
     "trainer's output to RUNDIR/log, and writes only RUNDIR, never the database.\n"
     "One BLAS thread per CPU of the task ($SLURM_CPUS_PER_TASK). Exits with the\n"
     "trainer's exit code.\n"},
    {"rm", cmd_rm, "delete a sweep or a run, with its metrics and run directories",
     "usage: xover rm SWEEP|KEY [--yes] [--db PATH]\n\n"
     "Delete a sweep (by name or YAML file) with the runs no other sweep uses, or one\n"
     "run (by key prefix): their rows, metric points and run directories. Asks\n"
     "first; without a terminal, --yes is required.\n\n"
     "  -y, --yes   do not ask\n"
     "  --db PATH   the database (default: $XOVER_DB, else ./xover.db)\n"},
    {"crossover", cmd_crossover, "where MDM overtakes AR: the crossover of every AR/MDM pair",
     "usage: xover crossover [--sweep S] [--metric M] [--x tokens|epochs|flops]\n"
     "                       [--format md|csv|json|table] [--fit] [--match-compute]\n"
     "                       [--db PATH]\n\n"
     "Pair each AR run with the MDM runs whose configs agree on everything but the\n"
     "objective, the seed and train.early_stop_margin; average each side over its\n"
     "seeds (mean and sd at every x all seeds measured); compare the best-so-far\n"
     "curves, linearly interpolated, over the x range both measured. A side whose\n"
     "every seed stopped early holds its best-so-far from its last point to where\n"
     "its runs would have ended. The crossover is the smallest x from which MDM\n"
     "is better to the end of that range (verdict crossover), x_start when MDM leads\n"
     "throughout (mdm_ahead), or none within the budget (none). Also: each side's\n"
     "best value and the earliest x reaching it (for AR, the onset of overfitting),\n"
     "and final_gap, MDM's advantage at the end (positive = MDM ahead). The same\n"
     "numbers as the SQL view: sqlite3 xover.db \"SELECT * FROM crossover\".\n\n"
     "  --sweep S      only the runs of sweep S (default: every run)\n"
     "  --metric M     the metric (default val_loss); lower-better if its name ends in\n"
     "                 loss, nll, elbo or ppl, higher-better otherwise (mc_acc)\n"
     "  --x AXIS       tokens seen (default), epochs, or training flops (counted on\n"
     "                 active parameters: a mixture of experts' top_k experts)\n"
     "  --match-compute  compare at equal training FLOPs across models: pair every AR\n"
     "                 side with every MDM side whose configs agree on everything but\n"
     "                 objective, seed, train.early_stop_margin, model and\n"
     "                 train.epochs (x is flops); columns\n"
     "                 name each side's model and active parameters\n"
     "  -f, --format F md (default), table, csv or json (csv/json add the cell's config)\n"
     "  --fit          instead, fit crossover = a * U^k over the unique budgets U (least\n"
     "                 squares in log-log, with R^2), per model and quality; with --x\n"
     "                 flops this is the critical compute C_crit of Prabhudesai et al.\n"
     "  --db PATH      the database (default: $XOVER_DB, else ./xover.db)\n"},
    {"table", cmd_table, "pivot the crossover results: one axis down, one across, one column in the cells",
     "usage: xover table [--rows AXIS] [--cols AXIS] [--cell COLUMN] [--metric M]\n"
     "                   [--x tokens|epochs|flops] [--where AXIS=VALUE]... [--sweep S]\n"
     "                   [--format md|csv|json|table] [--db PATH]\n\n"
     "The papers' tables: e.g. unique tokens down, model across, the crossover in\n"
     "tokens in each cell (the defaults). An empty cell has no pair; 'none' means MDM\n"
     "did not overtake AR within the budget.\n\n"
     "  --rows AXIS     default unique_tokens; --cols AXIS default model. An axis is\n"
     "                  model, params, unique_tokens, quality, epochs, or a path in\n"
     "                  the run config such as train.lr or model.dim\n"
     "  --cell COLUMN   a column of 'xover crossover' (default crossover_tokens):\n"
     "                  crossover, ar_best, mdm_best, final_gap, verdict, ar_best_x, ...;\n"
     "                  crossover_epochs / _flops (and ar_best_x_tokens, ...) pick the x axis\n"
     "  --where A=V     only pairs whose axis A has value V (repeatable)\n"
     "  --metric, --x, --sweep, --format, --db   as for xover crossover\n"},
    {"plot", cmd_plot, "SVG plots: each pair's curves with the crossover, and a grid of them",
     "usage: xover plot [--sweep S] [--metric M] [--x tokens|epochs|flops] [--rows AXIS]\n"
     "                  [--cols AXIS] [--out DIR] [--db PATH]\n\n"
     "Write one SVG per AR/MDM pair (the metric against x for both objectives, seed sd\n"
     "as a band, best-so-far dashed, AR's best and the crossover marked) and one grid\n"
     "of small multiples (grid-METRIC-X.svg) with rows and columns over two axes. The\n"
     "x axis is logarithmic when it spans more than a decade and a half. Prints the\n"
     "files written.\n\n"
     "  --out DIR       where to write (default plots), created if missing\n"
     "  --rows, --cols  the grid's axes (default unique_tokens down, model across)\n"
     "  --metric, --x, --sweep, --db   as for xover crossover\n"},
    {"report", cmd_report, "a static HTML report: crossover tables, plots, run status, sweep YAML",
     "usage: xover report [--sweep S] [--metric M]... [--x tokens|epochs|flops]\n"
     "                    [--rows AXIS] [--cols AXIS] [--db PATH] OUTDIR\n\n"
     "Write OUTDIR/index.html, one page that opens from disk without a server: the\n"
     "runs' status, for each metric the crossover table, the fit when there are\n"
     "budgets to fit, the grid and every pair's plot (inline SVG; also written to\n"
     "OUTDIR/plots/), and the sweep YAML. Files are written atomically.\n\n"
     "  --metric M   a metric to show (repeatable; default val_loss and mc_acc)\n"
     "  --sweep, --x, --rows, --cols, --db   as for xover crossover and xover plot\n"},
    {0, 0, 0, 0},
};
