/*
 * reliability.h — helpers shared by tests/test_reliability*.c: tiny sweeps,
 * drivers started in the background (to be killed), database dumps to
 * compare an interrupted sweep with an uninterrupted one.
 */
#ifndef XOVER_TESTS_RELIABILITY_H
#define XOVER_TESTS_RELIABILITY_H

#include "tests/harness.h"
#include "tests/helpers.h"
#include "orchestrator/db/db.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REL_UNUSED __attribute__((unused))

/* A sweep of tiny built-in runs on the synthetic corpus, checkpointing every
 * 10 steps. grid is the body of its grid: mapping. */
static REL_UNUSED void rel_write_sweep(const char *file, const char *name, const char *grid)
{
    char path[1024], text[2048];
    harness_path(path, sizeof path, file);
    snprintf(text, sizeof text,
             "sweep: %s\n"
             "data: {corpus: synthetic, vocab: 300, val_tokens: 4k}\n"
             "models: {xxs: {layers: 1, dim: 16, heads: 2}}\n"
             "train: {seq_len: 32, batch: 8, lr: 3e-3, eval_every: 1 epoch, eval_draws: 2, checkpoint_every: 10}\n"
             "grid: {%s}\n"
             "derive: {epochs: total_tokens / unique_tokens}\n"
             "seeds: 1\n",
             name, grid);
    harness_write(path, text);
}

/* Start `xover run SWEEP --db DB --runs-dir RUNS -j 2 [extra]` in the
 * background, stdout and stderr appended to log. Returns its pid. */
static REL_UNUSED pid_t rel_spawn(const char *sweep, const char *dbp, const char *runs, const char *extra,
                                  const char *log)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int in = open("/dev/null", O_RDONLY);
        if (fd < 0 || in < 0) _exit(127);
        dup2(in, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        const char *argv[] = {harness_xover(), "run", sweep, "--db", dbp, "--runs-dir", runs, "-j", "2", extra, NULL};
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static REL_UNUSED harness_proc rel_run(const char *sweep, const char *dbp, const char *runs, const char *extra)
{
    const char *argv[] = {harness_xover(), "run", sweep, "--db", dbp, "--runs-dir", runs, "-j", "2", extra, NULL};
    return harness_run(argv, NULL);
}

/* Every metric point (run key, name, step, tokens, value), in order. */
static REL_UNUSED char *rel_dump_metrics(const char *dbp)
{
    return helper_qtext(dbp, "SELECT r.key, m.name, m.step, m.tokens, m.value FROM metrics m "
                            "JOIN runs r ON r.id = m.run_id ORDER BY r.key, m.name, m.step");
}

/* How many lines of a file contain needle (0 when it cannot be read). */
static REL_UNUSED int rel_count_lines(const char *path, const char *needle)
{
    char *t = harness_slurp(path, NULL);
    if (!t) return 0;
    int n = 0;
    for (char *line = t; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        if (strstr(line, needle)) n++;
        line = nl ? nl + 1 : NULL;
    }
    free(t);
    return n;
}

static REL_UNUSED uint64_t rel_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static REL_UNUSED long rel_env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : dflt;
}

static REL_UNUSED void rel_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {}
}

/* True while process pid exists and is not a zombie. */
static REL_UNUSED int rel_alive(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    char *t = harness_slurp(path, NULL);
    if (!t) return 0;
    char *rp = strrchr(t, ')');
    int alive = rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
    free(t);
    return alive;
}

/* The command line of pid with NULs as spaces ("" if gone). Caller frees. */
static REL_UNUSED char *rel_cmdline(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    size_t n = 0;
    char *t = harness_slurp(path, &n);
    if (!t) return strdup("");
    for (size_t i = 0; i < n; i++)
        if (!t[i]) t[i] = ' ';
    return t;
}

#endif
