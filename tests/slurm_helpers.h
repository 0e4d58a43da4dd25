/*
 * slurm_helpers.h — what the Slurm tests (test_slurm.c, test_slurm_recovery.c)
 * share: the single-node test cluster and the helpers around it. Static, as
 * tests/reliability.h: each test file has its own copy.
 *
 * One cluster serves every Slurm test of a run of the test binary: started
 * by the first test that needs it (tests/slurm/start.sh: munged, slurmctld
 * and slurmd on this machine, as root), owned by the runner process (its
 * watchdog stops it, tests/slurm/stop.sh, when the runner exits), reused by
 * the next tests once their predecessor's jobs are cancelled. Starting one
 * takes seconds; sharing it keeps CI short. When Slurm cannot start, the
 * test FAILS, with the daemons' logs.
 */
#ifndef XOVER_TESTS_SLURM_HELPERS_H
#define XOVER_TESTS_SLURM_HELPERS_H

#include "tests/harness.h"
#include "tests/helpers.h"
#include "orchestrator/db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SL_UNUSED __attribute__((unused))

static char g_db[512], g_runs[512];

/* ---- the cluster ----------------------------------------------------------- */

static char g_owner[32];

static SL_UNUSED int cluster_up(void)
{
    char conf[600];
    const char *base = getenv("TMPDIR");
    snprintf(conf, sizeof conf, "%s/xover-slurm/%s/slurm.conf", base && *base ? base : "/tmp", g_owner);
    if (access(conf, R_OK) != 0) return 0;
    setenv("SLURM_CONF", conf, 1);
    const char *argv[] = {"sinfo", "-h", "-N", "-o", "%T", NULL};
    harness_proc p = harness_run(argv, NULL);
    int up = p.status == 0 && !strncmp(p.out, "idle", 4);
    harness_proc_free(&p);
    return up;
}

static SL_UNUSED int cluster_start(void)
{
    snprintf(g_owner, sizeof g_owner, "%ld", harness_runner_pid());
    if (cluster_up()) return 0;
    const char *argv[] = {"sh", "tests/slurm/start.sh", g_owner, NULL};
    harness_proc p = harness_run(argv, NULL);
    int ok = p.status == 0 && p.out[0] == '/';
    if (ok) {
        p.out[strcspn(p.out, "\n")] = 0;
        setenv("SLURM_CONF", p.out, 1);
    } else {
        fprintf(stderr, "    Slurm did not start (exit %d):\n%s%s\n", p.status, p.out, p.err);
    }
    harness_proc_free(&p);
    return ok ? 0 : -1;
}

/* Leave the cluster as the next test wants it: no job queued or running. */
static SL_UNUSED void cluster_clear(void)
{
    const char *cv[] = {"scancel", "--quiet", "--user=root", NULL};
    harness_proc p = harness_run(cv, NULL);
    harness_proc_free(&p);
    for (int i = 0; i < 200; i++) {
        const char *qv[] = {"squeue", "-h", "-o", "%i", NULL};
        p = harness_run(qv, NULL);
        int empty = p.status != 0 || !p.out[0];
        harness_proc_free(&p);
        if (empty) break;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Run a test body on the shared cluster, whatever the body does. */
#define WITH_SLURM(body)                                                        \
    do {                                                                        \
        int up_ = cluster_start() == 0;                                         \
        if (up_) body();                                                        \
        if (up_) cluster_clear();                                               \
        CHECK(up_);                                                             \
    } while (0)

/* ---- helpers ------------------------------------------------------------------ */

static SL_UNUSED void paths(void)
{
    harness_path(g_db, sizeof g_db, "s.db");
    harness_path(g_runs, sizeof g_runs, "runs");
}

static SL_UNUSED void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* `xover collect` until `sql` (on the database) is true; 0, or -1 after
 * `limit` seconds. */
static SL_UNUSED int collect_until(const char *sweep, const char *sql, double limit)
{
    for (double t = 0; t < limit; t += 0.3) {
        const char *argv[] = {harness_xover(), "collect", sweep, "--db", g_db, NULL};
        harness_proc p = harness_run(argv, NULL);
        harness_proc_free(&p);
        if (helper_qint(g_db, sql) == 1) return 0;
        sleep_s(0.3);
    }
    return -1;
}

/* text with the first `from` replaced by `to` (malloc'd; text is freed). */
static SL_UNUSED char *replace(char *text, const char *from, const char *to)
{
    char *p = text ? strstr(text, from) : NULL;
    if (!p) return text;
    char *out = malloc(strlen(text) + strlen(to) + 1);
    if (out) sprintf(out, "%.*s%s%s", (int)(p - text), text, to, p + strlen(from));
    free(text);
    return out;
}

/* The smoke sweep with more tokens per run, so a run lasts a few seconds. */
static SL_UNUSED void write_long_sweep(const char *path)
{
    char *text = harness_slurp("experiments/smoke.yaml", NULL);
    text = replace(text, "sweep: smoke", "sweep: longer");
    text = replace(text, "total_tokens: [64k]", "total_tokens: [256k]");
    harness_write(path, text ? text : "");
    free(text);
}

/* Run `sweep` with the local backend into local.db; whether its metrics
 * equal those in g_db, point for point (and there are some). */
static SL_UNUSED int same_as_local(const char *sweep)
{
    char local_db[512], local_runs[512];
    harness_path(local_db, sizeof local_db, "local.db");
    harness_path(local_runs, sizeof local_runs, "local-runs");
    const char *lv[] = {harness_xover(), "run", sweep, "--db", local_db, "--runs-dir", local_runs, "-j", "2", NULL};
    harness_proc r = harness_run(lv, NULL);
    if (r.status) fprintf(stderr, "    local run: exit %d: %s", r.status, r.err);
    int ok = r.status == 0;
    harness_proc_free(&r);
    char *a = ok ? helper_dump_metrics(local_db) : NULL, *b = helper_dump_metrics(g_db);
    int same = a && b && strlen(a) > 1000 && !strcmp(a, b);
    free(a);
    free(b);
    return same;
}

/* Write the test's `file`: a sweep `name` over `grid` of fake-trainer runs
 * of 30 steps of 0.15 s, the trainer given `args` after its lr; submit it to
 * Slurm with --no-wait. Returns the submit's exit status. */
static SL_UNUSED int submit_fake(char *sweep, size_t n, const char *file, const char *name, const char *grid,
                       const char *args)
{
    char text[2048];
    harness_path(sweep, n, file);
    snprintf(text, sizeof text,
             "sweep: %s\n"
             "models: {xs: {layers: 1, dim: 16, heads: 2}}\n"
             "grid: {%s}\n"
             "trainer: {command: ['%s', '{run_dir}', jsonl, '30', '{lr}', %s--sleep, '0.15']}\n",
             name, grid, helper_fake_trainer(), args);
    harness_write(sweep, text);
    const char *sv[] = {harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs,
                        "--no-wait", NULL};
    harness_proc r = harness_run(sv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    int st = r.status;
    harness_proc_free(&r);
    return st;
}

static SL_UNUSED long long arrays_named(const char *name)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "squeue -h -t all -n xover-%s -o %%F | sort -u | wc -l", name);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    harness_proc p = harness_run(argv, NULL);
    long long n = atoll(p.out);
    harness_proc_free(&p);
    return n;
}


#endif
