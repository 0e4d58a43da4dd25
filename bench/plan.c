/*
 * bench/plan.c — how fast xover plans and drives a sweep.
 *
 *  1. Planning a 1,000,000-run grid (parse, expand, derive, key every run):
 *     wall time and peak memory; targets under 2 s and 1 GB. For scale, the
 *     per-run slow path (build + resolve + canonical JSON + SHA-256) is timed
 *     on a sample and extrapolated.
 *  2. Orchestration overhead per run: `xover run` on a sweep of N runs whose
 *     external trainer exits at once, launch to ingested; target under 50 ms.
 *     Needs build/xover (make bench-build builds it).
 *
 * Usage: build/bench/plan [runs]   (default 1000000)
 */
#include "orchestrator/sweep/sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static long peak_rss_kb(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

static const char grid_yaml[] =
    "sweep: bench-plan\n"
    "data: {corpus: synthetic, vocab: 512, quality: {high: {degrade: 0}, low: {degrade: 0.5}}}\n"
    "models:\n"
    "  xs: {layers: 2, dim: 64, heads: 2}\n"
    "  s: {layers: 4, dim: 128, heads: 4}\n"
    "  m: {layers: 4, dim: 192, heads: 6}\n"
    "  l: {layers: 6, dim: 256, heads: 8}\n"
    "  xl: {layers: 8, dim: 320, heads: 10}\n"
    "train: {seq_len: 128, batch: 16, schedule: wsd}\n"
    "grid:\n"
    "  objective: [ar, mdm]\n"
    "  model: [xs, s, m, l, xl]\n"
    "  unique_tokens: [10k, 25k, 50k, 100k, 200k, 400k, 800k, 1.6M, 3.2M, 6.4M]\n"
    "  quality: [high, low]\n"
    "  total_tokens: [1M, 2M, 4M, 8M, 16M, 32M, 64M, 128M, 256M, 512M]\n"
    "  lr: [1e-4, 2e-4, 3e-4, 5e-4, 7e-4, 1e-3, 2e-3, 3e-3, 5e-3, 7e-3]\n"
    "derive:\n"
    "  epochs: total_tokens / unique_tokens\n";

static int bench_planning(long runs)
{
    /* seeds make up the rest of the requested count (grid above = 20,000) */
    long seeds = runs / 20000 > 0 ? runs / 20000 : 1;
    char yaml[4096];
    snprintf(yaml, sizeof yaml, "%sseeds: %ld\n", grid_yaml, seeds);
    char err[1024];
    long rss0 = peak_rss_kb();
    double t0 = now();
    sweep *s = sweep_parse("bench.yaml", yaml, strlen(yaml), err, sizeof err);
    if (!s) { fprintf(stderr, "%s\n", err); return 1; }
    sweep_plan *p = sweep_expand(s, 0, err, sizeof err);
    if (!p) { fprintf(stderr, "%s\n", err); return 1; }
    double t1 = now();
    long rss1 = peak_rss_kb();
    size_t n = sweep_plan_count(p);
    char key[65];
    sweep_plan_key(p, n - 1, key);
    printf("planning: %zu runs in %.3f s (%.2f us/run), peak RSS %.1f MB (%.1f MB before); last key %.12s\n", n,
           t1 - t0, 1e6 * (t1 - t0) / (double)n, rss1 / 1024.0, rss0 / 1024.0, key);
    printf("  targets: < 2 s and < 1024 MB: %s\n", t1 - t0 < 2 && rss1 < 1024 * 1024 ? "met" : "MISSED");
    sweep_plan_free(p);

    /* The slow path on a small sweep, for the ratio. */
    char small[4096];
    snprintf(small, sizeof small, "%sseeds: 1\n", grid_yaml);
    sweep_free(s);
    s = sweep_parse("bench.yaml", small, strlen(small), err, sizeof err);
    double t2 = now();
    p = s ? sweep_expand(s, SWEEP_SLOW_KEYS, err, sizeof err) : NULL;
    double t3 = now();
    if (!p) { fprintf(stderr, "%s\n", err); return 1; }
    double slow_per_run = (t3 - t2) / (double)sweep_plan_count(p);
    printf("  per-run JSON path (resolve + canonical + SHA-256): %.2f us/run -> %.1f s for %zu runs; "
           "the template path is %.0fx faster\n",
           1e6 * slow_per_run, slow_per_run * (double)n, n, slow_per_run * (double)n / (t1 - t0));
    sweep_plan_free(p);
    sweep_free(s);
    return 0;
}

int bench_overhead(int nruns); /* below */

int main(int argc, char **argv)
{
    long runs = argc > 1 ? atol(argv[1]) : 1000000;
    if (bench_planning(runs)) return 1;
    return bench_overhead(200);
}

/* ---- orchestration overhead ---------------------------------------------- */

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

static int run_cmd(char *const argv[], int quiet)
{
    fflush(stdout); /* or the child's freopen would write our buffer again */
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (quiet) {
            FILE *n = freopen("/dev/null", "w", stderr);
            (void)n;
            n = freopen("/dev/null", "w", stdout);
            (void)n;
        }
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int bench_overhead(int nruns)
{
    if (access("build/xover", X_OK)) {
        printf("overhead: skipped (build/xover is missing; run make bench-build)\n");
        return 0;
    }
    char dir[] = "/tmp/xover-bench-plan-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char yaml[8192], path[512], runs_dir[512], db[512], trainer[512];
    snprintf(trainer, sizeof trainer, "%s/trainer.sh", dir);
    /* One metrics line, then exit: the orchestration is all that is timed. */
    write_file(trainer, "#!/bin/sh\necho '{\"step\": 1, \"train_loss\": 1.5}'\n");
    chmod(trainer, 0755);
    /* axis i with nruns values, used by a placeholder so each run differs */
    size_t len = (size_t)snprintf(yaml, sizeof yaml,
                                  "sweep: overhead\nmodels: {xs: {layers: 1, dim: 16, heads: 2}}\n"
                                  "trainer: {command: [%s, '{i}'], metrics: jsonl}\n"
                                  "grid:\n  objective: ar\n  i: [",
                                  trainer);
    for (int i = 0; i < nruns && len < sizeof yaml - 16; i++)
        len += (size_t)snprintf(yaml + len, sizeof yaml - len, "%s%d", i ? ", " : "", i);
    snprintf(yaml + len, sizeof yaml - len, "]\n");
    snprintf(path, sizeof path, "%s/overhead.yaml", dir);
    write_file(path, yaml);
    snprintf(runs_dir, sizeof runs_dir, "%s/runs", dir);
    snprintf(db, sizeof db, "%s/x.db", dir);
    char *argv1[] = {"build/xover", "run", path, "-j", "2", "--runs-dir", runs_dir, "--db", db, NULL};
    double t0 = now();
    int rc = run_cmd(argv1, 1);
    double t1 = now();
    if (rc) {
        printf("overhead: xover run failed (exit %d); is the executor built?\n", rc);
        return 0;
    }
    /* A second run finds everything done: the fixed cost of a sweep. */
    double t2 = now();
    run_cmd(argv1, 1);
    double t3 = now();
    double per = ((t1 - t0) - (t3 - t2)) / nruns;
    printf("overhead: %d runs with a trainer that exits at once, 2 workers: %.2f s (%.1f ms/run of wall time, "
           "%.1f ms/run of worker time); a no-op rerun %.3f s\n",
           nruns, t1 - t0, 1e3 * per, 2e3 * per, t3 - t2);
    printf("  target: < 50 ms per run, launch to ingested: %s\n", 2e3 * per < 50 ? "met" : "MISSED");
    char *rm[] = {"/bin/rm", "-rf", dir, NULL};
    run_cmd(rm, 0);
    return 0;
}
