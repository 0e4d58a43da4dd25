/*
 * internal.h — private to orchestrator/exec/: the pieces the driver is made
 * of (register.c, ingest.c, guard.c, progress.c). exec.h is the module's
 * contract; a run directory's files are the run module's (run/run.h).
 */
#ifndef XOVER_EXEC_INTERNAL_H
#define XOVER_EXEC_INTERNAL_H

#include "orchestrator/exec/exec.h"
#include "orchestrator/run/run.h"
#include "orchestrator/util/util.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stddef.h>
#include <sys/types.h>

/* ---- register.c: record a sweep's runs, pick those to do ---------------- */

/* A run picked by exec_register: strings are valid during the callback. */
typedef struct {
    size_t i;               /* its index in the plan */
    long long id;           /* runs.id */
    const char *key;
    const char *status;     /* as found in the database ("pending" if new) */
    const char *run_dir;    /* as found, or NULL */
    const char *job_id;     /* a scheduler's job id, or NULL */
    const char *started_at; /* its last start (ISO 8601 UTC), or NULL */
} exec_reg_run;
/* Called for every run to do, in plan order; returns 0, or -1 (no memory). */
typedef int (*exec_take_fn)(void *ctx, const exec_reg_run *r);

/* Open o->db_path for a backend: read-write, or for o->dry_run read-only,
 * and then *out is NULL when there is no database yet. XO_OK, or an exit
 * code with the message printed. */
int exec_open_db(const exec_options *o, db **out);
/* Record the sweep and all its runs in one transaction and hand `take` the
 * runs to do: neither done nor (unless o->retry_failed) failed, and matching
 * o->only; the others are counted in *skipped_done and *skipped_failed.
 * First the corpora of the runs to do are checked (exec_check_data).
 * Returns XO_OK, or an exit code with the message printed (nothing kept).
 * With o->dry_run nothing is written (d may be NULL): runs the database does
 * not have are handed over as "new", with id -1. */
int exec_register(db *d, const sweep_plan *p, const exec_options *o, exec_take_fn take, void *ctx,
                  size_t *skipped_done, size_t *skipped_failed);
/* A branch's fork step into the database (runs.fork_step), from what its
 * run directory holds: model.json's "fork_step" once it has trained, else
 * its trunk's forks.json (worker.json names the trunk, on Slurm). Nothing
 * for runs that are not branches. */
void exec_record_fork(db *d, long long run_id, const char *dir, const char *trunk_dir);
/* True when key matches one of o->only's prefixes (or there are none). */
int exec_matches_only(const exec_options *o, const char *key);

/* ---- ingest.c: a run's metrics, read incrementally ---------------------- */

typedef struct {
    long long step, tokens;     /* of the latest point */
    double train_loss, val_loss;  /* NaN until reported */
    double best_val_loss;         /* the lowest val_loss reported; NaN until one is */
    double epoch;
    size_t lines, bad_lines;
    int nonfinite;              /* a loss that is not finite was reported */
    char nonfinite_what[96];
    int overlong;               /* a line longer than INGEST_MAX_LINE: reading stopped there */
    char overlong_what[160];
} ingest_state;

/* The longest metrics line read. A trainer that writes more without a
 * newline (a runaway print, binary junk) fails its run: the driver would
 * otherwise hold and re-read the growing line on every poll (a 200 MB
 * line took 507 MB and 15 s of CPU). */
#define INGEST_MAX_LINE (1 << 20)

/* A worker killed by a signal (the OOM killer, a node's reboot, kill -9) or
 * told to stop from outside is retried from its checkpoint this many times
 * before its run is marked failed; errors it reports itself are not. Both
 * backends: the local driver (driver.c) and, on Slurm, `xover worker`
 * itself (slurm_worker.c), within the same array task. */
#define EXEC_SIGNAL_RETRIES 2

/* The plan's runs a Slurm task holds (slurm_local.c), for the local driver
 * to leave alone: loaded once (one squeue), saying so on stderr; with
 * o->take_over their tasks are cancelled instead and none is held. d may
 * be NULL (a dry run without a database: none). XO_OK, or an exit code. */
typedef struct exec_claims exec_claims;
int exec_slurm_claims_load(db *d, const sweep_plan *p, const exec_options *o, exec_claims **out);
int exec_claims_has(const exec_claims *c, const char *key); /* c may be NULL */
void exec_claims_free(exec_claims *c);

typedef struct ingest ingest;
/* Follow `path` (which may not exist yet): JSON Lines (re == NULL), or text
 * lines matched by the regex with named groups (step, tokens, epoch, flops
 * are the point's coordinates; every other group is a metric). */
ingest *ingest_new(const char *path, const pcre2_code *re);
/* Read the complete lines added since the last call and store their points
 * (idempotent: a point is keyed by run, name, step). A torn last line is
 * left for the next call, unless `final` (the writer has exited). Reads in
 * bounded chunks; at a line longer than INGEST_MAX_LINE it stops for good
 * and sets ingest_get(g)->overlong (the run is to fail). Returns 0; -1 when
 * the file cannot be read (or a line is too long); INGEST_EDB when the
 * database would not store the points (full, I/O): they are read again at
 * the next call. err says which. */
enum { INGEST_EDB = -2 };
int ingest_poll(ingest *g, db *d, long long run_id, int final, char *err, size_t errlen);
const ingest_state *ingest_get(const ingest *g);
/* The parsing half of ingest_poll, on bytes in memory (the fuzzer's entry):
 * parse the complete lines of buf (and a torn last one if final) into
 * points held until the next poll stores them. Returns the bytes consumed. */
size_t ingest_parse(ingest *g, const char *buf, size_t len, int final);
size_t ingest_npending(const ingest *g);
void ingest_free(ingest *g);

/* ---- guard.c: one driver per sweep, one worker per run ------------------ */

/* Take the driver lock of `sweep` on the database at db_path (the file
 * <db_path>.<sweep>.lock): an fd to keep until the driver ends (release it
 * with xo_unlock), or -1 with a message naming the holder (pid, host, since
 * when). The run lock, the other half, is rundir_lock (run/run.h). */
int guard_sweep_lock(const char *db_path, const char *sweep, char *err, size_t errlen);
/* The same, but -2 (err saying who holds it) when another process holds it,
 * -1 on other errors. */
int guard_sweep_try(const char *db_path, const char *sweep, char *err, size_t errlen);
/* In a forked worker, before exec: keep run_lock_fd open across exec (so
 * the worker holds the run lock while it lives) and die with the driver. */
void guard_worker(int run_lock_fd, pid_t driver);
/* True when path lies inside dir (textually: under dir/, no ".." part),
 * for paths built from a sweep's names and values (trainer.metrics_file). */
int guard_inside(const char *dir, const char *path);

/* ---- progress.c: the progress display on stderr -------------------------- */

typedef struct {
    int tty;              /* a block redrawn in place; else timestamped lines */
    int drawn;            /* lines of the block now on the screen */
    double t0;            /* when the sweep started (xo_now) */
    double last_draw, last_plain;
} progress;

/* What the sweep line counts. */
typedef struct {
    size_t done, running, failed, pending;
    double tok_s;
    double eta;                     /* seconds left (eta.c); < 0: from the FLOPs below */
    double done_flops, total_flops; /* the Slurm follower's ETA: the rest at the rate so far */
} progress_tally;

/* What a running run's row says. */
typedef struct {
    const ingest_state *st;
    long long total_steps; /* 0: unknown (an external trainer) */
    double tok_s;          /* over a moving window; 0: not measured yet */
    double eta;            /* seconds left; < 0: unknown */
    const char *job;       /* its scheduler job, or "2 threads"; NULL: none */
} progress_run;

/* Erase the block (on a terminal) so that a line can be printed. */
void progress_clear(progress *pg);
/* An event line: above the block on a terminal, timestamped elsewhere. */
void progress_event(progress *pg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The part of a running run's estimated FLOPs done, from its tokens so far. */
double progress_run_flops(const exec_estimate *est, const ingest_state *st);
/* "sweep NAME: N done, N running, N failed, N pending | R tok/s | ETA T". */
void progress_sweep_line(const progress *pg, const progress_tally *t, const char *sweep, char *buf, size_t n);
/* A running run's row of the block: key, its axes (cut between pairs only),
 * step N/total and %, its own tokens/s and ETA, the latest and best
 * val_loss; "-" for what is not measured yet. */
void progress_row(progress *pg, const char *key, const char *who, const progress_run *r);
/* Redraw when due: on a terminal the sweep line (line) then the rows (rows
 * calls progress_row), at most four times a second; elsewhere the sweep
 * line as an event every 30 s. */
void progress_draw(progress *pg, void (*line)(void *ctx, char *buf, size_t n), void (*rows)(void *ctx), void *ctx);

#endif
