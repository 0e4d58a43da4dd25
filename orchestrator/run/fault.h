/*
 * fault.h — test-only fault injection in the worker (`xover train`), so the
 * reliability tests can make a run crash, hang, report a non-finite loss,
 * damage its checkpoint or metrics, or hit a full disk at a chosen step.
 *
 * XOVER_FAULT is a comma-separated list of KIND@step:N (docs/reliability.md
 * says what state each one must end in):
 *   crash@step:N               abort() right after step N (killed by SIGABRT)
 *   kill@step:N                SIGKILL itself right after step N
 *   nan@step:N                 poison a parameter so step N's loss is NaN
 *   hang@step:N                stop responding after step N (ignores SIGTERM)
 *   corrupt-checkpoint@step:N  flip a byte of the checkpoint written at step N, then SIGKILL
 *   truncate-checkpoint@step:N cut that checkpoint to half its size, then SIGKILL
 *   torn-metrics@step:N        write half a metrics line after step N, then SIGKILL
 *   enospc@step:N              metrics.jsonl is on a full disk from step N (/dev/full)
 * Each fault fires once per run directory (a marker file .fault-KIND-N
 * records that it did), so the attempt that resumes after it runs clean.
 * XOVER_TRAIN_STOP_AT=N raises SIGTERM right after step N (every time), so
 * a test can place an interruption exactly.
 * Without those two variables nothing here does anything.
 *
 * Private to orchestrator/run/: the training loop calls fault_strike at
 * three moments of a step, and that is all it knows of faults.
 */
#ifndef XOVER_FAULT_H
#define XOVER_FAULT_H

#include "models/models.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
    FAULT_CRASH,
    FAULT_KILL,
    FAULT_NAN,
    FAULT_HANG,
    FAULT_CORRUPT_CKPT,
    FAULT_TRUNCATE_CKPT,
    FAULT_TORN_METRICS,
    FAULT_ENOSPC,
    FAULT_NKINDS
};

#define FAULT_MAX 8

typedef struct {
    int n;
    int kind[FAULT_MAX];
    uint64_t step[FAULT_MAX];
    uint64_t stop_at; /* XOVER_TRAIN_STOP_AT; 0 = none */
    char dir[4096];   /* the run directory, for the once-only markers */
} fault_plan;

/* Read XOVER_FAULT and XOVER_TRAIN_STOP_AT for the run in run_dir. 0, or -1
 * with a message (a malformed XOVER_FAULT). */
int fault_plan_from_env(const char *run_dir, fault_plan *f, char *err, size_t errlen);

/* The moments of a step at which faults strike. */
typedef enum {
    FAULT_BEFORE_STEP,      /* before optimizer step `step` runs: nan */
    FAULT_AFTER_STEP,       /* right after it: stop-at, crash, kill, hang, torn-metrics, enospc */
    FAULT_AFTER_CHECKPOINT  /* after the checkpoint at `step` is written: corrupt/truncate it */
} fault_moment;
/* What they strike. */
typedef struct {
    model *m;               /* nan poisons every parameter */
    FILE *metrics;          /* torn-metrics, enospc */
    const char *checkpoint; /* corrupt-checkpoint, truncate-checkpoint */
} fault_target;
/* Do what the plan says at this moment of step `step` (may not return). */
void fault_strike(const fault_plan *f, fault_moment when, uint64_t step, const fault_target *t);

#endif
