/*
 * driver.h — private to the local driver (driver.c) and its progress view
 * (driver_view.c): the driver's state and a job per run it runs.
 */
#ifndef XOVER_EXEC_DRIVER_H
#define XOVER_EXEC_DRIVER_H

#include "orchestrator/exec/internal.h"

#include <sys/types.h>

typedef struct {
    size_t i;          /* run index in the plan */
    long long id;      /* in the database */
    char key[65];
    char *dir;
    char *status;      /* as found in the database */
    pid_t pid;         /* 0 = not running */
    double started, term_at, kill_at;
    int timed_out, nonfinite, finished;
    ingest *ing;
    exec_estimate est;
    exec_rate rate;    /* this attempt's progress, for tokens/s (eta.c) */
    double tok_s;      /* over a moving window */
    long long total_steps; /* from its model.json (0 until the trainer writes it) */
    double tokens_per_step;
    int lock_fd;       /* the run lock (rundir_lock) while its worker runs; -1 */
    int waiting;       /* to launch at wait_until: a retry, or a locked directory */
    double wait_until;
    int retries;       /* automatic retries after a worker died by a signal */
    int role;          /* SWEEP_RUN, SWEEP_TRUNK or SWEEP_BRANCH */
    long trunk;        /* a branch: its trunk's job, or -1 when the trunk is not run here */
    char *trunk_dir;   /* a branch whose trunk is not run here: the trunk's directory */
    int blocked;       /* a branch waiting for its fork */
    int dir_known;     /* the directory came from the database (a resumed run) */
    int held;          /* a trunk stopped because it waits for a branch not run here */
    char held_for[65];
    exec_share sh;     /* its threads (handover.c) while its worker runs */
} job;

typedef struct {
    const sweep_plan *p;
    const exec_options *o;
    db *d;
    pcre2_code *re;
    char host[256];
    char build[64];
    job *jobs;         /* the runs this invocation will run */
    size_t njobs, next;
    size_t running, ndone, nfailed, ninterrupted, nwaiting;
    size_t nblocked, nstuck;  /* branches waiting for their fork; never to get it here */
    size_t last_trunk;        /* the job of the last trunk taken, (size_t)-1 */
    int lock_fd;       /* the sweep lock (guard.c) */
    size_t skipped_done, skipped_failed, skipped_busy;
    exec_claims *claims; /* runs a Slurm task holds: left to it (slurm_local.c) */
    double total_flops, done_flops;
    double flops_per_core;     /* FLOP/s of one worker: measured on done runs, else assumed */
    int cores;                 /* -j */
    exec_eta_run *eta_runs;    /* sweep_eta()'s scratch, one per job */
    progress pg;
    int stopping;      /* 1 after the first Ctrl-C, 2 after the second */
    char halted[800];  /* why the sweep stopped: a database or a disk that takes no more ("" if not) */
    int db_broken;     /* the database refused a write: stop reading metrics into it */
    size_t nunstarted; /* runs that could not start for want of space (still to do) */
    int extra;         /* cores running runs hold beyond one each (handover.c) */
    exec_share *shares; /* balance()'s scratch, one per job */
    size_t *share_job;
    int starved;       /* a run could start but no core is free */
} driver;

/* ---- driver_view.c: what the progress display shows -------------------- */

/* The run's axes that vary (and a branch's budget), "objective=ar epochs=10". */
void driver_describe_run(const driver *dr, size_t i, char *buf, size_t n);
/* The run's planned steps and tokens per step, from its model.json. */
void driver_read_model_info(job *j);
/* Tokens the run has left. */
double driver_remaining_tokens(const job *j);
/* progress_draw's two callbacks (ctx: the driver). */
void driver_sweep_line(void *ctx, char *buf, size_t n);
void driver_run_rows(void *ctx);

#endif
