/*
 * db.h — the results database (schema.sql), the only module that includes
 * sqlite3.h. Nothing here exposes SQLite types.
 *
 * One `db` handle is one SQLite connection; use it from one thread. The sweep
 * driver is the only writer (DESIGN.md); readers (xover sql, export, analysis)
 * open read-only and may run at the same time thanks to WAL.
 *
 * Errors: functions return DB_OK (0) or a negative DB_E* code; the message,
 * naming the offending value or file, is in db_errmsg(db). db_open() has no
 * handle to fail on, so it writes its message into the caller's buffer.
 *
 * Typical driver use:
 *     char err[512];
 *     db *d = db_open("xover.db", DB_WRITE, err, sizeof err);
 *     if (!d) return cli_error(XO_USAGE, "%s", err);
 *     long long sw, run;
 *     db_sweep_put(d, "budget", yaml, yaml_sha256_hex, &sw);
 *     db_begin(d);                                  // one transaction per plan
 *     for each planned run: db_run_put(d, &spec, &run); db_sweep_link(d, sw, run);
 *     db_commit(d);
 *     db_run_started(d, run, host, pid, now);       // status running, attempts+1
 *     db_ingest_metrics(d, run, rows, n);           // as metrics.jsonl grows
 *     db_run_finished(d, run, "done", NULL, NULL, now);
 *     db_close(d);
 */
#ifndef XOVER_DB_H
#define XOVER_DB_H

#include <stddef.h>

typedef struct db db;

/* Return codes. */
enum {
    DB_OK = 0,
    DB_ENOTFOUND = -1, /* no such sweep/run */
    DB_EINPUT = -2,    /* bad argument or bad SQL from the caller (usage error) */
    DB_EDENIED = -3,   /* a read-only connection was asked to write */
    DB_EIO = -4,       /* SQLite failed: disk full, locked too long, corrupt, ... */
    DB_EABORT = -5,    /* a callback asked to stop */
    DB_ETIMEOUT = -6   /* a query ran past db_set_timeout's limit and was stopped */
};

/* The version of the SQLite library actually linked. */
const char *db_sqlite_version(void);

/* ---- opening ---------------------------------------------------------- */

enum {
    DB_WRITE = 0,    /* read-write: create the file if missing, migrate it to the
                        newest schema; WAL, busy_timeout, foreign keys on */
    DB_READONLY = 1  /* read-only (SQLITE_OPEN_READONLY); the file must exist.
                        Every statement goes through an authorizer that refuses
                        writes, ATTACH, writing PRAGMAs and the functions that
                        hand out or take raw pointers (fts3_tokenizer), and
                        load_extension (DB_EDENIED). */
};

/* Open `path`. Returns NULL with a message in err (naming path) when the file
 * is missing (DB_READONLY), is not a regular file (a FIFO would block the
 * open), is not an SQLite file, is an SQLite database that
 * is not xover's, was written by a newer xover (user_version above
 * db_schema_version()), or cannot be migrated. A DB_READONLY open of an OLDER
 * schema succeeds (see db_version); a DB_WRITE open upgrades it. */
db *db_open(const char *path, int mode, char *err, size_t errlen);
/* db_open(path, DB_READONLY) for `xover db check`, which must tell damage
 * from a wrong path: *damaged is 1 when it fails because the file is an
 * SQLite database that cannot be read whole (cut off, malformed). */
db *db_open_check(const char *path, char *err, size_t errlen, int *damaged);
void db_close(db *d);
const char *db_errmsg(const db *d);
/* Rows this connection has inserted, changed or deleted since it opened: a
 * writer's cheap "anything new?" (the live report rewrites only then). */
long long db_total_changes(db *d);
/* SQLite's data_version: it changes when another connection (another
 * process: the driver) commits to the database. -1 on error. */
long long db_data_version(db *d);

/* The newest schema version this build knows (the last migration section
 * of schema.sql). */
int db_schema_version(void);
/* The schema version of the open database, and the version it had when
 * db_open found it (0 for a file db_open just created). */
int db_version(const db *d);
int db_version_found(const db *d);

/* Open with an explicit schema text (schema.sql's format: "-- @migration N:"
 * sections, then an optional "-- @views:" section) and apply its migrations
 * only up to `upto` (0 = all); its views only when that is the last one.
 * For tests and tools that need a database in an older shape (the text of an
 * older schema.sql, e.g. tests/fixtures/schema-5.sql); mode is DB_WRITE. */
db *db_open_schema(const char *path, const char *schema, int upto, char *err, size_t errlen);

/* Run statements that return no rows (DDL, maintenance) on a DB_WRITE
 * handle. For tests and tools; the driver uses the functions below. */
int db_exec(db *d, const char *sql);

/* Explicit transactions, so that many calls commit at once (planning 10^5
 * runs is one transaction, not 10^5). Functions below that write are atomic
 * on their own and may also be called inside db_begin/db_commit. Inside
 * them, the crossover cache (schema.sql, migration 6) of the runs whose
 * points are stored is computed once, by db_commit, which can then fail
 * (and the caller rolls back); until then this handle's crossover views see
 * only those runs. */
int db_begin(db *d);
int db_commit(db *d);
int db_rollback(db *d);

/* Compute the crossover cache (schema.sql, migration 6) again from every
 * run's points, in one transaction: for a database whose metrics a tool
 * other than xover wrote. xover keeps it current itself. */
int db_crossover_cache_rebuild(db *d);

/* ---- sweeps and runs -------------------------------------------------- */

/* Register sweep `name` with its YAML text and the text's SHA-256 (hex), or
 * update the text/hash of an existing sweep of that name. *id is its id. */
int db_sweep_put(db *d, const char *name, const char *yaml, const char *yaml_hash,
                 long long *id);
/* The id of sweep `name`; DB_ENOTFOUND if there is none. */
int db_sweep_id(db *d, const char *name, long long *id);

/* A run as planned. Strings may be NULL (stored as NULL) except key and
 * config; numbers use -1 (integers) or NaN (reals) for "unknown" (NULL). */
typedef struct {
    const char *key;       /* SHA-256 hex of the canonical config */
    const char *config;    /* the resolved config, JSON text */
    const char *objective; /* "ar" | "mdm" | an external trainer's label */
    const char *model;
    long long params;
    long long unique_tokens;
    const char *quality;
    double epochs;
    long long seed;
    const char *run_dir;   /* NULL leaves an existing value alone */
    long long active_params; /* parameters a token uses (mixture of experts); <= 0 =
                                unknown, which leaves an existing value alone */
    const char *role;      /* 'run' (NULL), 'trunk' or 'branch' (schema 5) */
    long long parent_id;   /* a branch's trunk (runs.id); <= 0 = none */
} db_run_spec;

/* Insert the run with status 'pending', or, if a run with that key exists,
 * refresh its config and axes (its status, attempts and metrics are kept:
 * a run done in one sweep stays done in the next). *id is the run's id. */
int db_run_put(db *d, const db_run_spec *spec, long long *id);

/* Record the optimizer step a branch forks from its trunk at (runs.fork_step,
 * schema 5), once the trainer has worked it out. */
int db_run_set_fork(db *d, long long run_id, long long fork_step);

/* Record that sweep `sweep_id` includes run `run_id` (idempotent). */
int db_sweep_link(db *d, long long sweep_id, long long run_id);

/* The five statuses, in this order (indexes for db_status_counts). */
enum { DB_PENDING, DB_RUNNING, DB_DONE, DB_FAILED, DB_INTERRUPTED, DB_NSTATUS };
extern const char *const db_status_names[DB_NSTATUS];
/* The index of a status name, or -1 if it is not one. */
int db_status_index(const char *status);

/* Set some fields of a run. `set` is a mask of DB_SET_* bits naming the
 * fields to write; the others are left alone. NULL strings and times of 0
 * write NULL. Times are Unix seconds (gettimeofday), stored as ISO-8601 UTC. */
enum {
    DB_SET_STATUS = 1 << 0,
    DB_SET_ATTEMPTS = 1 << 1,
    DB_SET_ERROR = 1 << 2,
    DB_SET_LOG_TAIL = 1 << 3,
    DB_SET_HOST = 1 << 4, /* host and pid together */
    DB_SET_STARTED = 1 << 5,
    DB_SET_FINISHED = 1 << 6,
    DB_SET_BUILD = 1 << 7,
    DB_SET_RUN_DIR = 1 << 8,
    DB_SET_JOB = 1 << 9
};
typedef struct {
    unsigned set;
    const char *status; /* one of db_status_names */
    int attempts;
    const char *error;
    const char *log_tail;
    const char *host;
    long long pid;
    double started_at;
    double finished_at;
    const char *build_id;
    const char *run_dir;
    const char *job_id;
} db_run_update;
/* DB_ENOTFOUND if no run has that id; DB_EINPUT for a bad status. */
int db_run_set(db *d, long long run_id, const db_run_update *u);

/* Shorthands. started: status 'running', attempts + 1, host, pid, started_at
 * = now, finished_at, error and log_tail cleared. finished: the final
 * status ('done', 'failed' or 'interrupted'), error and log tail (NULL
 * for none), finished_at = now. */
int db_run_started(db *d, long long run_id, const char *host, long long pid, double now);
int db_run_finished(db *d, long long run_id, const char *status, const char *error,
                    const char *log_tail, double now);

/* A run as read back. Strings are NULL when the column is; integers -1 and
 * reals NaN when unknown. Everything is valid only during the callback. */
typedef struct {
    long long id;
    const char *key, *config, *status;
    const char *objective, *model, *quality;
    long long params, unique_tokens, seed;
    double epochs;
    int attempts;
    const char *error, *log_tail, *host;
    long long pid;
    const char *started_at, *finished_at; /* ISO-8601 text */
    const char *build_id, *run_dir, *job_id;
} db_run_info;
/* Return nonzero to stop (the caller then gets DB_EABORT). */
typedef int (*db_run_fn)(void *ctx, const db_run_info *run);

/* The runs of a sweep, by id, optionally only those with `status` (NULL =
 * all). DB_ENOTFOUND if the sweep does not exist. */
int db_sweep_runs(db *d, long long sweep_id, const char *status, db_run_fn fn, void *ctx);
/* The run with `key`; DB_ENOTFOUND if none. */
int db_run_by_key(db *d, const char *key, db_run_fn fn, void *ctx);
/* Runs per status, of one sweep (sweep_id > 0) or of the whole database (0). */
int db_status_counts(db *d, long long sweep_id, long long counts[DB_NSTATUS]);

/* ---- metrics ---------------------------------------------------------- */

/* One metric point. tokens < 0 and NaN epoch/flops mean unknown; a value
 * that is not finite is stored as NULL. */
typedef struct {
    const char *name;
    long long step;
    long long tokens;
    double epoch;
    double flops;
    double value;
} db_metric;

/* Store n points of run `run_id` in one transaction (a savepoint inside an
 * open db_begin). A point already stored under (run, name, step) is replaced,
 * so ingesting the same lines again changes nothing and a corrected value
 * wins. All or nothing: on error no row of the batch is kept. When the
 * points include what the crossover reads (a metric, an _se, early_stop),
 * the crossover cache of the run's pairs is recomputed in the same
 * transaction (inside db_begin: at db_commit). */
int db_ingest_metrics(db *d, long long run_id, const db_metric *rows, size_t n);

/* The largest step stored for (run, name), or -1 when there is none: where
 * an incremental ingest can resume. */
int db_metric_last_step(db *d, long long run_id, const char *name, long long *step);

/* Each run (with `status`; NULL = all) and how many metric points the
 * database holds of it: fn(ctx, key, run_dir or NULL, points), in id order;
 * a nonzero return stops (DB_EABORT). For comparing with run directories. */
typedef int (*db_points_fn)(void *ctx, const char *key, const char *run_dir, long long points);
int db_run_points(db *d, const char *status, db_points_fn fn, void *ctx);

/* ---- cloze item outcomes (db_cloze.c; schema.sql, migration 8) --------- */

/* One evaluation's item outcomes: "N:HEX" as metrics.jsonl's mc_correct
 * (schema.sql, cloze_outcomes, says how to read it). */
typedef struct {
    long long step;
    const char *outcomes;
} db_outcome;
/* N of an "N:HEX" text, or -1 when the text is not of that form (N >= 1,
 * (N + 3) / 4 lowercase hex digits). */
long db_outcomes_items(const char *text);
/* Store n evaluations' outcomes of run `run_id`, all or nothing; a row
 * already stored under (run, step) is replaced (a re-ingest changes
 * nothing). A text not of the form: DB_EINPUT. */
int db_ingest_outcomes(db *d, long long run_id, const db_outcome *rows, size_t n);

/* A run's mc_acc at one evaluation, with what sits beside it. */
typedef struct {
    long long step;  /* the evaluation's step */
    double acc, se;  /* mc_acc and mc_acc_se (NaN unknown) */
    long items;      /* N of outcomes, -1 without them */
    char *outcomes;  /* "N:HEX" (malloc'd; NULL: none recorded) */
} db_cloze;
/* Run `run_id`'s mc_acc at `step` (step < 0: its last evaluation with one)
 * into *out (free with db_cloze_free). DB_ENOTFOUND when there is none. */
int db_cloze_at(db *d, long long run_id, long long step, db_cloze *out);
void db_cloze_free(db_cloze *c);
/* A run's final checkpoint scored again (`xover eval --cloze`;
 * schema.sql, cloze_rescored). */
typedef struct {
    long long run_id;
    const char *item_set;  /* an_item_set of the items' config */
    long items;
    long long step;
    int draws;             /* -1: none (AR) */
    double acc, se;
    const char *outcomes;  /* "N:HEX" */
    double cpu_s;
    const char *build_id;
} db_rescored;
/* Store one, replacing the row of the same (run, item_set, items). */
int db_rescored_put(db *d, const db_rescored *r);
/* 1 when run_id has a row for (item_set, items), else 0; -1 on error. */
int db_rescored_has(db *d, long long run_id, const char *item_set, long items);
/* Each re-scoring of run_id at checkpoint step `step`: fn(ctx, item_set,
 * items) by items, most first; nonzero stops. */
typedef int (*db_set_fn)(void *ctx, const char *item_set, long items);
int db_rescored_sets(db *d, long long run_id, long long step, db_set_fn fn, void *ctx);
/* The re-scoring of (run_id, item_set, items) into *out (acc, se, items,
 * outcomes, step; free with db_cloze_free); DB_ENOTFOUND when none. */
int db_rescored_get(db *d, long long run_id, const char *item_set, long items, db_cloze *out);
/* The run directory of run_id into *dir (malloc'd; NULL when it has none). */
int db_run_dir(db *d, long long run_id, char **dir);

/* Each run with a run directory, mc_acc points and no outcomes stored (a
 * run ingested before migration 8): fn(ctx, id, key, run_dir) in id order;
 * nonzero stops (DB_EABORT). */
typedef int (*db_run_dir_fn)(void *ctx, long long run_id, const char *key, const char *run_dir);
int db_runs_without_outcomes(db *d, db_run_dir_fn fn, void *ctx);

/* ---- generic queries -------------------------------------------------- */

typedef enum { DB_NULL, DB_INT, DB_REAL, DB_TEXT, DB_BLOB } db_type;
/* One cell. s/len for DB_TEXT (NUL-terminated too) and DB_BLOB. */
typedef struct {
    db_type type;
    long long i;
    double d;
    const char *s;
    size_t len;
} db_value;

/* Where a query's rows go. columns() is called once before the rows (also
 * for a query with no rows); row() for each row. Pointers are valid only
 * during the call. A nonzero return stops the query (DB_EABORT). */
typedef struct {
    int (*columns)(void *ctx, int ncol, const char *const *names);
    int (*row)(void *ctx, int ncol, const db_value *vals);
    void *ctx;
} db_sink;

/* Run ONE SQL statement and stream its rows to sink. On a DB_READONLY handle a
 * write is refused with DB_EDENIED and a message naming what was refused.
 * Bad SQL, or more than one statement: DB_EINPUT with SQLite's message. */
int db_query(db *d, const char *sql, const db_sink *sink);

/* Stop any later db_query that runs longer than `seconds` (0 = no limit,
 * the default): it fails with DB_ETIMEOUT and a message saying so. For
 * queries a user types (xover sql), where a runaway recursive CTE would
 * otherwise never end. */
void db_set_timeout(db *d, double seconds);

/* Evaluate a one-value query (e.g. "SELECT count(*) FROM metrics") into *out. */
int db_query_int(db *d, const char *sql, long long *out);

/* ---- what the commands read and rm deletes (db_read.c) ----------------
 *
 * Listings meant to be shown as they are (xover status, show) stream
 * through a db_sink with their columns named; the rest come back typed. */

/* One sweep and its runs counted per status: what `xover ls` and `xover
 * status` show. Valid only during the callback. */
typedef struct {
    const char *name;
    const char *updated_at;      /* when it was last (re)registered */
    long long runs;
    long long status[DB_NSTATUS]; /* by db_status_names */
} db_summary;
typedef int (*db_summary_fn)(void *ctx, const db_summary *s);
/* Every sweep, in name order. */
int db_sweep_summaries(db *d, db_summary_fn fn, void *ctx);

/* The runs of a sweep that are not done, by status then key: key (12
 * digits), status, objective, model, unique_tokens, quality, epochs, seed,
 * attempts, step (the last one recorded), error (its first 100 characters,
 * on one line). */
int db_sweep_unfinished(db *d, long long sweep_id, const db_sink *sink);

/* The final (run_final) and best (run_best) point of each metric of the run
 * with `key`, by metric name: name, step, tokens, epoch, value; and name,
 * better, step, epoch, value. */
int db_run_final_metrics(db *d, const char *key, const db_sink *sink);
int db_run_best_metrics(db *d, const char *key, const db_sink *sink);

/* The runs whose key starts with `prefix`: *n = 0, 1, or 2 for "more than
 * one"; key receives the first. */
int db_run_key_prefix(db *d, const char *prefix, char key[65], int *n);

/* Over the done runs whose last attempt has a start and an end: the FLOPs
 * their metrics report (each run's largest), their wall time, and how many
 * they are. */
int db_done_speed(db *d, double *flops, double *seconds, long long *nruns);
/* The same per done run: its config (JSON text), the FLOPs it trained, its
 * wall time; fn returns nonzero to stop. */
typedef int (*db_speed_fn)(void *ctx, const char *config, double flops, double seconds);
int db_done_speeds(db *d, db_speed_fn fn, void *ctx);

/* Every run's key and status (a db_status_names index, -1 for none). */
typedef int (*db_key_status_fn)(void *ctx, const char *key, int status);
int db_run_statuses(db *d, db_key_status_fn fn, void *ctx);

/* `xover export`: every metric point with its run's axes (run_id, key,
 * objective, model, params, unique_tokens, quality, epochs, seed, status,
 * name, step, tokens, epoch, flops, value) by run, metric and step; with
 * `where` (the user's SQL condition on the runs table, or NULL) only the
 * points of the runs it selects. With count non-NULL, only *count = how
 * many points that is (which also checks `where`); otherwise the rows go to
 * sink. A bad condition: DB_EINPUT with SQLite's message. */
int db_export(db *d, const char *where, long long *count, const db_sink *sink);

/* What `xover rm` deletes: the runs of sweep sweep_id (> 0) that no other
 * sweep lists, and the sweep; or (sweep_id 0) the run with `key`; with
 * their metric points and links. db_rm_count counts them. db_rm_delete, in
 * one write transaction, first tells fn each run (id, key, run_dir; run_dir
 * may be NULL), then deletes them: exactly those. fn returning nonzero
 * deletes nothing (DB_EABORT). *deleted = the runs deleted. The caller holds
 * the locks that keep drivers away (exec_rm). */
int db_rm_count(db *d, long long sweep_id, const char *key, long long *runs, long long *points);
typedef int (*db_rm_fn)(void *ctx, long long run_id, const char *key, const char *run_dir);
int db_rm_delete(db *d, long long sweep_id, const char *key, db_rm_fn fn, void *ctx,
                 long long *deleted);

/* The names of the sweeps that list run `run_id`, in name order. */
typedef int (*db_name_fn)(void *ctx, const char *name);
int db_run_sweep_names(db *d, long long run_id, db_name_fn fn, void *ctx);

/* ---- health ----------------------------------------------------------- */

typedef struct {
    int ok;                   /* integrity and foreign keys both fine */
    char problems[1024];      /* the first problems found, one per line */
    long long sweeps, runs, metrics, series;
    long long status[DB_NSTATUS];
} db_report;
/* PRAGMA integrity_check and foreign_key_check, then the counts. A database
 * that is damaged is reported in r (ok = 0), not as an error; DB_EIO only if
 * the checks themselves could not run. */
int db_check(db *d, db_report *r);

/* ---- crossover analysis (db_crossover.c; the rule: db_schema.c) -------- */

/* The direction of metric `name` by THE rule, schema.sql's metric_rule view
 * (read from the compiled-in schema text, so no database is needed): 1 when
 * lower is better (today: a name ending in loss, nll, elbo or ppl, any case),
 * 0 when higher is better. */
int db_metric_lower_better(const char *name);
/* 1 when `name` is a training signal by the same rule (lr, grad_norm,
 * train_loss, early_stop, ...): never a "best", never crossed; 0 for a
 * metric. */
int db_metric_is_signal(const char *name);
/* What series `name` is by the same rule: a metric (with a direction), a
 * training signal, or an error (NAME_se: the standard error of series NAME,
 * read beside it, never a metric of its own). */
typedef enum { DB_KIND_METRIC, DB_KIND_SIGNAL, DB_KIND_ERROR } db_metric_kind;
db_metric_kind db_metric_kind_of(const char *name);

/* The metric name of the row an early-stopped run writes at its stop step
 * (docs/run-config.md, schema.sql: THE EARLY_STOP ROW): value S = the planned number
 * of steps. It is a marker, never a series of db_crossover_series. */
#define DB_EARLY_STOP "early_stop"

/* One (run, metric) series of an AR or MDM run, for the crossover analysis.
 * `cell` is the run's config without objective, seed and
 * train.early_stop_margin (crossover_runs.cell): runs with one cell differ
 * only in those. Arrays hold n points in step order; unknown
 * tokens/epoch/flops and non-finite values are NaN. stop_step is the step of
 * the run's early_stop row (of several, the largest; -1 when it has none),
 * stop_total its value S (NaN unknown) and stop_tokens/epoch/flops the x of
 * the stop point (NaN unknown). Everything is valid only during the
 * callback. */
typedef struct {
    long long run_id;
    const char *cell, *objective, *model, *quality, *status, *metric;
    long long params, unique_tokens, seed;
    double epochs;
    size_t n;
    const long long *step;
    const double *tokens, *epoch, *flops, *value;
    long long active_params; /* run_axes.active_params (schema 3; -1 when unknown) */
    long long stop_step;
    double stop_total, stop_tokens, stop_epoch, stop_flops;
    /* The standard error of each value: the run's metric NAME_se at the
     * same step (DB_SE_SUFFIX; NaN where it wrote none). */
    const double *se;
    /* Annealed branches (schema 5): 'run', 'trunk' or 'branch', and a
     * branch's trunk (-1 otherwise). */
    const char *role;
    long long parent_id;
    /* The run's config as JSON (for cells other than crossover_runs.cell). */
    const char *config;
} db_series;
typedef int (*db_series_fn)(void *ctx, const db_series *s);

/* A metric named NAME DB_SE_SUFFIX ("val_loss_se") is the standard error of
 * metric NAME at the same step, not a learning curve of its own: the
 * crossover reads it beside NAME (db_series.se) and never as a series. */
#define DB_SE_SUFFIX "_se"

/* Every series of every AR and MDM run, of one sweep (sweep_id > 0) or of
 * the whole database (0), of one metric (NULL = all but DB_EARLY_STOP and
 * the NAME_se errors), by run id then metric name. A run with no point of
 * the metric (not started yet; a branch that was never trained) comes once
 * with n = 0 (metric = the one asked for, NULL for all), so its status is
 * seen. Needs schema version 2 (the crossover views): on an older database
 * it fails with DB_EINPUT and a message saying how to upgrade. */
int db_crossover_series(db *d, long long sweep_id, const char *metric, db_series_fn fn,
                        void *ctx);

/* The YAML text of sweep `name` into *yaml (malloc'd; the caller frees).
 * DB_ENOTFOUND if there is no such sweep. */
int db_sweep_yaml(db *d, const char *name, char **yaml);

/* The names of every sweep, in name order. */
int db_sweep_names(db *d, db_name_fn fn, void *ctx);

#endif
