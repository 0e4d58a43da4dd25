/*
 * fault.c — XOVER_FAULT, the worker's test-only fault injection (fault.h).
 */
#include "orchestrator/run/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const kinds[FAULT_NKINDS] = {
    "crash", "kill", "nan", "hang", "corrupt-checkpoint", "truncate-checkpoint", "torn-metrics", "enospc",
};

/* Parse an XOVER_FAULT spec (NULL or "" = no faults). */
static int fault_parse(const char *spec, const char *run_dir, fault_plan *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "%s", run_dir);
    if (!spec || !*spec) return 0;
    char *copy = strdup(spec), *save = NULL;
    if (!copy) return snprintf(err, errlen, "out of memory"), -1;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *at = strstr(tok, "@step:");
        int kind = -1;
        if (at) {
            *at = 0;
            for (int k = 0; k < FAULT_NKINDS; k++)
                if (!strcmp(tok, kinds[k])) kind = k;
        }
        char *end = NULL;
        unsigned long long step = at ? strtoull(at + 6, &end, 10) : 0;
        if (kind < 0 || !end || end == at + 6 || *end || step < 1 || f->n == FAULT_MAX) {
            if (at) *at = '@';
            snprintf(err, errlen,
                     "XOVER_FAULT: '%s' is not KIND@step:N (N >= 1, at most %d faults) with KIND one of crash, "
                     "kill, nan, hang, corrupt-checkpoint, truncate-checkpoint, torn-metrics, enospc",
                     tok, FAULT_MAX);
            free(copy);
            return -1;
        }
        f->kind[f->n] = kind;
        f->step[f->n++] = step;
    }
    free(copy);
    return 0;
}

int fault_plan_from_env(const char *run_dir, fault_plan *f, char *err, size_t errlen)
{
    if (fault_parse(getenv("XOVER_FAULT"), run_dir, f, err, errlen)) return -1;
    const char *stop = getenv("XOVER_TRAIN_STOP_AT");
    f->stop_at = stop ? strtoull(stop, NULL, 10) : 0;
    return 0;
}

/* True (once per run directory) when fault `kind` is due at `step`. */
static int fault_due(const fault_plan *f, int kind, uint64_t step)
{
    for (int i = 0; i < f->n; i++) {
        if (f->kind[i] != kind || f->step[i] != step) continue;
        /* Once per run directory: the marker's exclusive creation decides. */
        char marker[sizeof f->dir + 64];
        snprintf(marker, sizeof marker, "%s/.fault-%s-%llu", f->dir, kinds[kind], (unsigned long long)step);
        int fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) return 0;
        close(fd);
        fprintf(stderr, "xover: XOVER_FAULT: injecting %s at step %llu\n", kinds[kind], (unsigned long long)step);
        return 1;
    }
    return 0;
}

/* Damage a file in place: flip one byte in its middle, or cut it to half. */
static void corrupt_file(const char *path)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) || sb.st_size < 1) {
        if (fd >= 0) close(fd);
        return;
    }
    off_t at = sb.st_size / 2;
    unsigned char b = 0;
    if (pread(fd, &b, 1, at) == 1) {
        b ^= 0x5a;
        if (pwrite(fd, &b, 1, at) != 1) perror("fault: pwrite");
    }
    fsync(fd);
    close(fd);
}

static void truncate_file(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && truncate(path, sb.st_size / 2) != 0) perror("fault: truncate");
}

/* Die at once, as a killed or crashed process does: no cleanup. */
static void __attribute__((noreturn)) die(int sig)
{
    signal(sig, SIG_DFL);
    raise(sig);
    _exit(128 + sig);
}

/* Block until killed, whatever SIGTERM or SIGINT say. */
static void __attribute__((noreturn)) hang(void)
{
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    for (;;) pause();
}

static void strike_after_step(const fault_plan *f, uint64_t step, FILE *metrics)
{
    if (fault_due(f, FAULT_CRASH, step)) die(SIGABRT);
    if (fault_due(f, FAULT_KILL, step)) die(SIGKILL);
    if (fault_due(f, FAULT_HANG, step)) hang();
    if (fault_due(f, FAULT_TORN_METRICS, step)) {
        fprintf(metrics, "{\"step\":%llu,\"tokens\":12", (unsigned long long)step);
        fflush(metrics);
        die(SIGKILL);
    }
    if (fault_due(f, FAULT_ENOSPC, step)) {
        /* A real ENOSPC from the kernel: every later write of metrics.jsonl fails. */
        fflush(metrics);
        int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
        if (full >= 0) {
            dup2(full, fileno(metrics));
            close(full);
        }
    }
}

void fault_strike(const fault_plan *f, fault_moment when, uint64_t step, const fault_target *t)
{
    switch (when) {
    case FAULT_BEFORE_STEP:
        if (f->n && fault_due(f, FAULT_NAN, step)) {
            size_t n; /* every parameter: a single one may be an unused embedding row */
            float *w = model_params(t->m, &n);
            for (size_t k = 0; k < n; k++) w[k] = NAN;
        }
        break;
    case FAULT_AFTER_STEP:
        if (f->stop_at && step == f->stop_at) raise(SIGTERM);
        if (f->n) strike_after_step(f, step, t->metrics);
        break;
    case FAULT_AFTER_CHECKPOINT:
        if (!f->n) break;
        if (fault_due(f, FAULT_CORRUPT_CKPT, step)) corrupt_file(t->checkpoint), die(SIGKILL);
        if (fault_due(f, FAULT_TRUNCATE_CKPT, step)) truncate_file(t->checkpoint), die(SIGKILL);
        break;
    }
}
