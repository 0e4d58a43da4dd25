/*
 * exec.h — running a sweep's plan: what it will cost, what is already done,
 * and the driver that runs the rest on worker processes.
 *
 * The driver (exec_run) is the only writer of the results database: workers
 * (`xover train`, or an external trainer) write only their run directory,
 * runs/<sweep>/<key>/ = config.json, metrics.jsonl, checkpoint, log, and the
 * driver ingests what they write as it grows.
 */
#ifndef XOVER_EXEC_H
#define XOVER_EXEC_H

#include "orchestrator/cli/rowfmt.h"
#include "orchestrator/db/db.h"
#include "orchestrator/sweep/sweep.h"

#include <stddef.h>
#include <stdio.h>

/* ---- estimates ----------------------------------------------------------- */

/* The training speed assumed when the database has no finished run to
 * measure it from: FLOP/s of one worker (one thread), counted as
 * models' model_flops_per_token() x tokens. 60 GFLOP/s: the built-in
 * trainer measured 64 on the demo's 0.27M-parameter MDM and 86-102 on
 * bench/trainer's models, one thread each; 20 (the first guess) made
 * `make demo` look three times longer than it was. */
#define EXEC_DEFAULT_FLOPS_PER_S 6.0e10

typedef struct {
    double params; /* parameter count (0 when the config has no model) */
    double active_params; /* parameters a token uses (a mixture of experts: top_k experts) */
    double tokens; /* training tokens: epochs trained x unique_tokens (a trunk to
                      its last fork, a branch from its fork on) */
    double flops;  /* tokens x model_flops_per_token (active parameters) */
    double from_tokens; /* a branch's metrics start here: the tokens of its fork */
} exec_estimate;

/* Estimate run i of a plan from its config fields (no JSON built). */
void exec_estimate_run(const sweep_plan *p, size_t i, exec_estimate *e);

/* FLOP/s per worker measured over the finished runs of the database (the
 * flops of their last metric over their wall time); 0 when there are none.
 * *nruns receives how many runs the figure comes from. */
double exec_measured_speed(db *d, long long *nruns);

/* Measured speeds per model shape (layers, dim, heads, hidden, experts,
 * top_k, vocab, seq_len, batch): what a plan's runs of a shape that has
 * finished runs will take is estimated at that shape's FLOP/s. */
typedef struct exec_speeds exec_speeds;
exec_speeds *exec_speeds_load(db *d); /* NULL: none measured (or no database) */
/* FLOP/s for run i of p: its shape's, else `fallback`; *measured set to 1
 * when the shape's own. */
double exec_speed_for(const exec_speeds *s, const sweep_plan *p, size_t i, double fallback, int *measured);
size_t exec_speeds_shapes(const exec_speeds *s);
void exec_speeds_free(exec_speeds *s);

/* ---- data ---------------------------------------------------------------- */

/* Check, before anything runs, that the plan's corpora exist, hold
 * documents and give every run its unique_tokens and validation set (only
 * the runs i with only[i] != 0 when only is not NULL):
 * `xover train`'s own data preparation, once per distinct data. It
 * prepares (or finds) each corpus's cached tokens, which the runs reuse.
 * XO_OK, or XO_USAGE with a message naming the run's axis values. Sweeps
 * with an external trainer are not checked (their data is their own). */
int exec_check_data(const sweep_plan *p, const unsigned char *only);

/* ---- metrics files against the database (xover db check) ----------------- */

typedef struct {
    long long checked;    /* done runs compared with their run directory's metrics.jsonl */
    long long unchecked;  /* done runs whose metrics.jsonl is not here (another machine,
                             another form of metrics) */
    long long short_runs; /* checked runs of which the database holds fewer points */
} exec_points_report;
/* Compare each done run's metric points in the database with the distinct
 * (name, step) points of its metrics.jsonl, as ingest would store them;
 * shortfall(ctx, key, in_db, in_file) for each run the database holds
 * fewer of. 0, or -1 with err (a file that cannot be read, the database). */
int exec_compare_points(db *d, void (*shortfall)(void *ctx, const char *key, long long in_db, long long in_file),
                        void *ctx, exec_points_report *r, char *err, size_t errlen);

/* The cloze item outcomes (mc_correct) of runs ingested before the
 * database kept them (schema.sql, migration 8), read from their run
 * directories' metrics.jsonl; a run whose directory is not here is left
 * as it is. *runs: the runs filled. 0, or -1 with err. */
int exec_backfill_outcomes(db *d, long long *runs, char *err, size_t errlen);

/* ---- statuses ------------------------------------------------------------ */

/* Every run of the database by key, for looking up a plan's runs. */
typedef struct exec_statuses exec_statuses;
exec_statuses *exec_statuses_load(db *d, char *err, size_t errlen);
/* The status of the run with hex key (one of db_status_names), or NULL when
 * the database has no such run. */
const char *exec_status_of(const exec_statuses *s, const char *key);
void exec_statuses_free(exec_statuses *s);

/* "%.3g" with a k/M/G/T/P suffix: 1.2M, 3.4G. */
void exec_human(double v, char *buf, size_t n);

/* ---- reading the database back (query.c) ------------------------------- */

/* Finish and free table f, fed by a db listing that returned rc (f may be
 * NULL: rowfmt_new ran out of memory). XO_OK, or an XO_* code with the
 * message printed. Typical use:
 *     rowfmt *f = rowfmt_new(ROWFMT_TABLE, stdout);
 *     db_sink sink = rowfmt_sink(f);
 *     rc = exec_table_done(d, f, f ? db_run_best_metrics(d, key, &sink) : DB_OK); */
int exec_table_done(db *d, rowfmt *f, int rc);
/* The sweep a command-line argument names: a sweep name, or a YAML file
 * whose `sweep:` name is used. 0 and *id, or an XO_* code (message printed). */
int exec_find_sweep(db *d, const char *arg, long long *id, char *name, size_t namelen);
/* The one run whose key starts with hex `prefix`: 0 and its full key, or an
 * XO_* code (message printed: no such run, or ambiguous). */
int exec_find_run(db *d, const char *prefix, char key[65]);

/* ---- rm (remove.c) ------------------------------------------------------ */

/* Asked with a description of what is about to be deleted: nonzero to go
 * ahead. */
typedef int (*exec_confirm_fn)(void *ctx, const char *what);
/* `xover rm`: delete sweep `arg` (its name, or its YAML file) with the runs
 * no other sweep lists, or the run whose key starts with `arg`: their rows,
 * metric points and run directories. Under the driver's rules: it takes the
 * lock of every sweep concerned and of every run directory it removes, and
 * while a driver or a worker holds one it refuses, naming the holder, and
 * deletes nothing. XO_OK (also when confirm says no), or an XO_* code with
 * the message printed. */
int exec_rm(const char *db_path, const char *arg, exec_confirm_fn confirm, void *ctx);

/* ---- cores handed over (handover.c) -------------------------------------- */

/* A running run as the hand-over sees it. */
typedef struct {
    int threads;       /* granted: the driver's word (RUN_THREADS) */
    int have;          /* the trainer's answer (RUN_THREADS_NOW); 0 = none yet */
    int growable;      /* the built-in trainer (an external one keeps 1) */
    double remaining;  /* work left (tokens): who gets a free core first */
    double changed_at; /* when its grant last changed (seconds) */
} exec_share;

#define EXEC_HANDOVER_HOLD 1.0 /* seconds between two changes of one run's grant */

/* Cores the runs hold: each the larger of its grant and its answer. */
int exec_cores_used(const exec_share *s, size_t n);
/* New grants at time `now` for the n running runs on `cores` cores. starved:
 * a run is waiting for a core (one core is taken back, from the run with
 * the most, unless all have one); else free cores go, one at a time, to
 * the growable run with the most work left per thread. Never grants more
 * than `cores` in total. Returns how many grants changed. */
int exec_handover(exec_share *s, size_t n, int cores, int starved, double now);

/* ---- what the progress display says (eta.c) ------------------------------- */

/* A run's speed over a moving window of its own progress: samples of
 * (seconds, tokens) as its metrics arrive, the first being the baseline
 * (what a resumed run had done before never counts). */
#define EXEC_RATE_SAMPLES 64
#define EXEC_RATE_WINDOW 30.0 /* seconds */
typedef struct {
    double t[EXEC_RATE_SAMPLES], tok[EXEC_RATE_SAMPLES];
    int n, first;
} exec_rate;
void exec_rate_reset(exec_rate *r);
void exec_rate_add(exec_rate *r, double t, double tokens);
/* Tokens/s over the samples of the last `window` seconds (at least the last
 * two); 0 until there are two. */
double exec_rate_tok_s(const exec_rate *r, double window);

/* A run still to do, for the sweep's time left: its work in seconds on one
 * core (remaining tokens / its own speed per core; a run not started yet:
 * its planned tokens at the speed measured for its FLOPs). */
typedef struct {
    double work;
} exec_eta_run;
#define EXEC_THREAD_GAIN 0.85 /* each core past a run's first adds this much of one */
/* Seconds until the runs are done on `cores` workers: the running runs
 * first (in the order given), then the others as cores free up; with
 * handover, runs fewer than the cores share the idle ones. Consumes r[].work.
 * -1 when a run's work is unknown (NaN). */
double exec_sweep_eta(exec_eta_run *r, size_t n, int cores, int handover);

/* A run's label ("objective=ar unique_tokens=20k") in at most width
 * characters, cut only between two pairs: "objective=ar +1". */
void exec_fit_label(const char *in, size_t width, char *out, size_t n);

/* ---- the driver ---------------------------------------------------------- */

typedef struct {
    int jobs;                 /* worker processes; <= 0: one per core */
    int retry_failed;         /* rerun runs whose status is failed */
    double timeout;           /* seconds per run attempt; 0 = none */
    const char *const *only;  /* run key prefixes to restrict to (NULL = all) */
    size_t nonly;
    int dry_run;              /* say what would run, run nothing */
    const char *runs_dir;     /* "runs" when NULL */
    const char *db_path;
    const char *self_exe;     /* the xover binary workers run; NULL = /proc/self/exe */
    const char *yaml_text;    /* the sweep file, recorded in the database */
    size_t yaml_len;
    int no_handover;          /* keep every run on one thread (--handover off) */
    int take_over;            /* train runs whose Slurm task is queued or running here,
                                 cancelling the task (else they are left to Slurm) */
    /* Called in the local driver's loop after each round of ingest (about
     * every 100 ms) with the database it writes, when given: `xover run
     * --report` keeps its HTML report current so (analysis.h an_live_tick). */
    void (*on_ingest)(void *ctx, db *d);
    void *on_ingest_ctx;
} exec_options;

/* Run the plan. Returns an exit code: XO_OK when every run is done,
 * XO_FAILED when some failed, XO_USAGE on bad options, XO_INTERRUPTED
 * after Ctrl-C. Messages and progress go to stderr. */
int exec_run(const sweep_plan *p, const exec_options *o);

/* The run's axes that vary in its sweep, "objective=ar unique_tokens=4000". */
void exec_describe_run(const sweep_plan *p, size_t i, char *buf, size_t n);

/* ---- the Slurm backend (slurm*.c) ----------------------------------------
 *
 * The runs not done become job arrays (one per resource shape: the
 * sweep's resources: section), each task `xover worker` on one
 * run directory under o->runs_dir, which must be on a filesystem the compute
 * nodes share with the driver; the database stays with the driver, which
 * (or `xover collect`) ingests what the workers write. */

/* A task near its time limit requeues itself this many times by default
 * (--max-requeues). */
#define EXEC_MAX_REQUEUES 3

typedef struct {
    const char *partition;     /* NULL: the cluster's default */
    const char *account, *qos, *constraint; /* sbatch's; NULL: none given */
    int exclusive;             /* sbatch --exclusive */
    const char *time;          /* Slurm time limit ("30", "2:00:00", "1-0"); NULL: none given */
    const char *mem;           /* "4G"; NULL: none given */
    int cpus_per_run;          /* --cpus-per-task and trainer threads; 0 = 1 */
    /* time, mem and cpus_per_run override the sweep's resources: section
     * (sweep_plan_resources); runs that ask for the same go as one array */
    int array_parallelism;     /* at most this many tasks at once (%K); 0 = no limit */
    const char *const *sbatch_args; /* more sbatch options, passed as they are */
    size_t nsbatch_args;
    int no_wait;               /* submit and return */
    const char *write_script;  /* write the script (with #SBATCH lines) and run list into
                                  this directory, prepare the runs, do not submit */
    int max_requeues;          /* a task near its time limit checkpoints and requeues
                                  itself while restarted fewer times; < 0: default */
} exec_slurm_options;

/* Submit and (unless no_wait) follow until every task has ended. o's jobs
 * is not used; o->timeout becomes the time limit when so->time is NULL.
 * Returns like exec_run; XO_INTERRUPTED after Ctrl-C, which stops following
 * but not the jobs. */
int exec_slurm_run(const sweep_plan *p, const exec_options *o, const exec_slurm_options *so);
/* Ingest what the sweep's submitted runs wrote and record how their tasks
 * ended; once, or until every task has ended (wait). Idempotent. */
int exec_slurm_collect(const char *db_path, const char *sweep, int wait);
/* scancel the sweep's arrays that still have tasks queued or running, wait
 * for them to stop, record their runs (interrupted, or pending if they
 * never started). */
int exec_slurm_cancel(const char *db_path, const char *sweep);
/* `xover worker`: run the run directory `dir`, or line `index` (0-based;
 * < 0: $SLURM_ARRAY_TASK_ID) of the list file `list`. Warned by SIGUSR1
 * that the time limit is near, it stops the trainer at a checkpoint and
 * requeues its task, unless it has been restarted max_requeues times. */
int exec_worker(const char *dir, const char *list, long index, int max_requeues);

#endif
