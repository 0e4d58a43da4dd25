/*
 * internal_slurm.h — private to orchestrator/exec/, like internal.h: the
 * pieces of the Slurm backend (slurm.c submits, slurm_script.c builds what
 * it writes, slurm_follow.c follows,
 * collects and cancels, slurm_sched.c talks to sbatch/squeue/sacct/scancel,
 * slurm_worker.c is `xover worker`). exec.h is the module's contract.
 *
 * What a run directory holds beyond the local backend's files (run/run.h
 * names them; their content is this backend's):
 *   worker.json   written by the driver at submission: what `xover worker`
 *                 runs and where its metrics go:
 *                 {"key", "argv": [...], "stdout": path|null,
 *                  "metrics": path, "regex": text|null}
 *   attempt.json  written by the worker when an attempt starts (a requeued
 *                 task starts a new one, and so does each of the worker's
 *                 own retries): {"job_id", "host", "pid", "started" (Unix
 *                 seconds), "restarts" (Slurm's), "retry" (the worker's),
 *                 "starts" (this worker's trainer starts, oldest first),
 *                 "retry_why", "requeue_why" (why, when one)}
 *   status        as for local runs, plus "pending" (submitted, not started).
 */
#ifndef XOVER_EXEC_INTERNAL_SLURM_H
#define XOVER_EXEC_INTERNAL_SLURM_H

#include "orchestrator/exec/internal.h"

/* ---- slurm_sched.c: the scheduler's commands ---------------------------- */

/* Run argv (fork/exec, never a shell) and capture its stdout and stderr
 * (malloc'd, NUL-terminated; either may be NULL to discard). *status is the
 * exit code, 128+signal, or 127 when the program cannot be run. 0, or -1
 * when no process could be started (err says why). */
int sl_capture(char *const argv[], char **out, char **errtxt, int *status, char *err, size_t errlen);

/* One array task as the scheduler sees it. */
typedef struct {
    char id[64];      /* "1234_7" */
    char state[32];   /* PENDING, RUNNING, COMPLETED, FAILED, TIMEOUT, ... */
    char reason[128]; /* squeue %r / sacct Reason, "None" when none */
    char node[128];
} sl_task;

typedef struct {
    sl_task *t;
    size_t n, cap;
    int answered;     /* squeue ran and answered (else: status files only) */
} sl_table;

/* The tasks of array jobs `jobs` (array job ids, no "_N"): squeue (every
 * task it still knows, finished ones too), then sacct for those squeue has
 * forgotten (when accounting is on). Replaces t's content. Never fails: a
 * scheduler that cannot be asked leaves t->answered = 0. */
void sl_query(sl_table *t, const char *const *jobs, size_t njobs);
const sl_task *sl_find(const sl_table *t, const char *task_id);
void sl_table_free(sl_table *t);

/* A state in which the task's process has ended for good (it may still be
 * requeued by hand). Live: PENDING, RUNNING, REQUEUED, SUSPENDED, ... */
int sl_state_ended(const char *state);
/* Ended states that mean "stopped from outside, may resume from the
 * checkpoint": TIMEOUT, PREEMPTED, CANCELLED, DEADLINE. */
int sl_state_interrupts(const char *state);

/* sbatch --parsable ARGS... SCRIPT: the job id into jobid. 0, or -1 with
 * sbatch's own message in err. */
int sl_submit(char *const *args, size_t nargs, const char *script, char *jobid, size_t jlen, char *err,
              size_t errlen);
/* scancel JOB...: 0, or -1 with scancel's message in err. */
int sl_cancel(const char *const *jobs, size_t njobs, char *err, size_t errlen);

/* ISO-8601 UTC as the database stores times ("2026-01-02T03:04:05.678Z")
 * to Unix seconds; 0 when it does not parse. */
double sl_iso_seconds(const char *iso);

/* ---- slurm_script.c: what a submission writes ----------------------------- */

/* The first control character of s, or NULL. */
const char *sl_first_control(const char *s);
/* 0, or XO_USAGE with a message when value (named by what) holds a
 * control character: values that reach a job script or its run list must
 * be one line. */
int sl_one_line(const char *what, const char *value);
/* Every such value of the options, checked before anything is written. */
int sl_check_one_line(const exec_options *o, const exec_slurm_options *so);
/* text quoted for sh ('...'). */
void sl_sh_quote(FILE *f, const char *text);
/* Run i's directory gets config.json, worker.json (the trainer's argv:
 * `self train ...` for the built-in one; naming trunk_dir for a branch)
 * and status "pending". 0, or -1 with err. */
int sl_prepare_dir(const sweep_plan *p, size_t i, const char *key, const char *dir, const char *self,
                   const char *trunk_dir, char *err, size_t errlen);
/* sbatch's argv (owned strings; *nargs of them) for an array of n tasks of
 * sweep, submission `token`: name, comment, array, CPUs, the named
 * options, the time limit (so->time, else timeout in minutes rounded up)
 * and the SIGUSR1 warning before it, memory, output, --requeue, then
 * --sbatch-arg's. NULL when out of memory. */
char **sl_sbatch_args(const exec_slurm_options *so, const char *sweep, const char *slurmdir, size_t n,
                      double timeout, const char *token, size_t *nargs);
/* The job script (malloc'd): a comment saying how it was submitted (and,
 * by_hand, the options as #SBATCH lines), then `cd CWD; exec SELF worker
 * --list LIST --index $SLURM_ARRAY_TASK_ID --max-requeues K`. */
char *sl_script_text(const char *sweep, size_t n, char *const *args, size_t nargs, const char *cwd, const char *self,
                     const char *list, int max_requeues, int by_hand);

/* ---- slurm_adopt.c: a submission whose driver died ------------------------ */

/* A run's job id while its submission is in flight: "submitting:TOKEN_i". */
#define SL_TOKEN_PREFIX "submitting:"
/* A new submission token ("<unix seconds>-<8 hex digits>") into tok. */
void sl_token_new(char *tok, size_t n);
int sl_is_token(const char *job_id);

/* A run as sl_adopt sees it: its job id (malloc'd, rewritten in place). */
typedef struct {
    long long id;
    const char *key;
    const char *dir;    /* its run directory, or NULL */
    char **job_id;
} sl_claim;
/* Resolve every "submitting:" job id among c: the array found by its name
 * (xover-SWEEP) and comment (xover:TOKEN) is adopted (ids "JOBID_i", in the
 * database and in c), a submission found nowhere leaves its runs with no
 * job id. 0, or -1 with err when squeue does not answer (or the database
 * refuses the write). Call with the sweep lock held. */
int sl_adopt(db *d, const char *sweep, sl_claim *c, size_t n, char *err, size_t errlen);

/* ---- slurm_follow.c: following submitted runs ---------------------------- */

/* One run the follower watches. */
typedef struct {
    long long id;
    char key[65];
    char *dir;
    char job[64];       /* "1234_7" */
    char who[200];      /* the run's axes, for messages */
    exec_estimate est;
    ingest *ing;
    pcre2_code *re;     /* a regex trainer's metrics pattern */
    char *metrics;      /* the metrics file */
    double stamp;       /* attempt.json "started" of the attempt followed */
    double ended_at;    /* when the scheduler first said the task ended
                           while the status file had no final word */
    double tok_t, tok_s;
    long long tok_last;
    int running, finished;
    char final[16];     /* done, failed, interrupted, pending */
} sl_run;

/* Load what the follower needs from DIR/worker.json (metrics path, regex):
 * 0, or -1 with err. */
int sl_run_load(sl_run *r, char *err, size_t errlen);
void sl_run_free(sl_run *r);

typedef struct {
    const char *sweep;  /* its name, for messages */
    int wait;           /* follow until every run ended (else one pass) */
    int quiet_start;    /* no "following" line */
    size_t skipped_done, skipped_failed;
} sl_follow_opts;

/* Follow runs until they end (or one pass): ingest their metrics, record
 * starts, ends and the scheduler's reasons in the database, show progress.
 * Returns an XO_* code: OK when every run is done, FAILED when some failed
 * or were interrupted, INTERRUPTED after Ctrl-C (the jobs keep running). */
int sl_follow(db *d, sl_run *runs, size_t n, const sl_follow_opts *o);

#endif
