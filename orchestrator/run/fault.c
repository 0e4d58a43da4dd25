/*
 * fault.c — XOVER_FAULT, the worker's test-only fault injection (fault.h).
 */
#include "orchestrator/run/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const kinds[FAULT_NKINDS] = {
    "crash", "kill", "nan", "hang", "corrupt-checkpoint", "truncate-checkpoint", "torn-metrics", "enospc",
};

int fault_parse(const char *spec, const char *run_dir, fault_plan *f, char *err, size_t errlen)
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

int fault_due(const fault_plan *f, int kind, uint64_t step)
{
    for (int i = 0; i < f->n; i++) {
        if (f->kind[i] != kind || f->step[i] != step) continue;
        /* Once per run directory: the marker's exclusive creation decides. */
        char marker[4200];
        snprintf(marker, sizeof marker, "%s/.fault-%s-%llu", f->dir, kinds[kind], (unsigned long long)step);
        int fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) return 0;
        close(fd);
        fprintf(stderr, "xover: XOVER_FAULT: injecting %s at step %llu\n", kinds[kind], (unsigned long long)step);
        return 1;
    }
    return 0;
}

void fault_corrupt_file(const char *path)
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

void fault_truncate_file(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && truncate(path, sb.st_size / 2) != 0) perror("fault: truncate");
}

void fault_die(int sig)
{
    signal(sig, SIG_DFL);
    raise(sig);
    _exit(128 + sig);
}

void fault_hang(void)
{
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    for (;;) pause();
}
