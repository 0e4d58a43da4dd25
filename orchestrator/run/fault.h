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
 * Without XOVER_FAULT nothing here does anything.
 */
#ifndef XOVER_FAULT_H
#define XOVER_FAULT_H

#include <stddef.h>
#include <stdint.h>

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
    char dir[4096]; /* the run directory, for the once-only markers */
} fault_plan;

/* Parse spec (NULL or "" = no faults). 0, or -1 with a message. */
int fault_parse(const char *spec, const char *run_dir, fault_plan *f, char *err, size_t errlen);
/* True (once per run directory) when fault `kind` is due at `step`; the
 * caller then does what the fault says, with the helpers below. */
int fault_due(const fault_plan *f, int kind, uint64_t step);
/* Damage a file in place: flip one byte in its middle, or cut it to half. */
void fault_corrupt_file(const char *path);
void fault_truncate_file(const char *path);
/* Die at once, as a killed or crashed process does: no cleanup. */
void fault_die(int sig) __attribute__((noreturn));
/* Block until killed, whatever SIGTERM or SIGINT say. */
void fault_hang(void) __attribute__((noreturn));

#endif
