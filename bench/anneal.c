/*
 * bench/anneal.c — annealed branches (docs/sweep.md), measured in one run
 * with the release binary on a tiny MDM (2 layers, dim 64) and 5k tokens of
 * the synthetic corpus, six points 10, 20, 40, 80, 160, 320 epochs with
 * 20% cooldowns:
 *
 *   cost   training CPU of the six annealed points as one trunk and six
 *          branches, against six separate warmup-stable-decay runs of the
 *          same configs (target <= 0.65; the steps alone give 382/630 =
 *          0.606); both sweeps on 2 workers, CPU summed over the workers;
 *   wall   wall time of the family on 2 workers against its trunk alone on
 *          one thread (target <= 1.2) and against the 320-epoch standalone
 *          run alone (what one run costs without the other five points).
 *          The last branch's cooldown can only start where the trunk ends,
 *          so with one thread per run 1/(1 - 0.2) = 1.25 would be the floor;
 *          the driver's hand-over (README, "Sweeps") gives that branch, and
 *          the trunk whenever no branch can run, the idle core, which is
 *          what brings the family under it.
 *
 * The machine's load average is printed before and after: other work on
 * the cores inflates the wall times. Usage: build/bench/anneal [XOVER]
 * (default build/xover).
 */
#include "orchestrator/db/db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *g_xover = "build/xover";
static char g_dir[256];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double child_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

/* Run argv (xover ...) quietly; its wall and CPU seconds (its children's
 * included). Exits on failure. */
static void run(const char *const *argv, double *wall, double *cpu)
{
    double c0 = child_cpu(), t0 = now();
    fflush(stdout); /* the child's freopen would print what is buffered */
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        char log[512];
        snprintf(log, sizeof log, "%s/log", g_dir);
        if (!freopen(log, "a", stdout) || !freopen(log, "a", stderr)) _exit(127);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    *wall = now() - t0;
    *cpu = child_cpu() - c0;
    if (!WIFEXITED(st) || WEXITSTATUS(st)) {
        fprintf(stderr, "bench/anneal: %s %s failed (exit %d); see %s/log\n", argv[0], argv[1] ? argv[1] : "",
                WIFEXITED(st) ? WEXITSTATUS(st) : -1, g_dir);
        exit(1);
    }
}

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f)) {
        fprintf(stderr, "bench/anneal: cannot write %s\n", path);
        exit(1);
    }
}

#define COMMON                                                                                      \
    "data: {corpus: synthetic, vocab: 300, val_tokens: 2k, unique_tokens: 5k}\n"                    \
    "models: {s: {layers: 2, dim: 64, heads: 4}}\n"
/* The family's settings, spelled out so that the separate runs get the
 * very configs the branches reproduce (anneal_at would add them). */
#define TRAIN                                                                                       \
    "seq_len: 64, batch: 16, lr: 2e-3, decay_frac: 0.2, warmup_epochs: 3.2, log_every: 0.64, "      \
    "cooldown_evals: 4, eval_every: 3 per doubling, eval_draws: 2"

static void sweep_run(const char *file, const char *db, const char *jobs, double *wall, double *cpu)
{
    char yaml[512], dbp[512], runs[512];
    snprintf(yaml, sizeof yaml, "%s/%s", g_dir, file);
    snprintf(dbp, sizeof dbp, "%s/%s", g_dir, db);
    snprintf(runs, sizeof runs, "%s/runs", g_dir);
    const char *argv[] = {g_xover, "run", yaml, "--db", dbp, "--runs-dir", runs, "-j", jobs, NULL};
    run(argv, wall, cpu);
}

/* Train one run config alone (one BLAS thread, as a worker does). */
static void train_alone(const char *json, const char *out, double *wall)
{
    char cfg[512], dir[512];
    snprintf(cfg, sizeof cfg, "%s/%s.json", g_dir, out);
    snprintf(dir, sizeof dir, "%s/%s", g_dir, out);
    write_file(strrchr(cfg, '/') + 1, json);
    const char *argv[] = {g_xover, "train", "--config", cfg, "--out", dir, NULL};
    double cpu;
    run(argv, wall, &cpu);
}

/* The first value of a one-row query on a database, as text (malloc'd). */
static int first_text(void *ctx, int ncol, const db_value *v)
{
    char **out = ctx;
    if (ncol > 0 && v[0].type == DB_TEXT && !*out) *out = strdup(v[0].s);
    return 0;
}

static char *query_text(const char *dbfile, const char *sql)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, dbfile);
    db *d = db_open(path, DB_READONLY, err, sizeof err);
    char *out = NULL;
    db_sink sink = {NULL, first_text, &out};
    if (!d || db_query(d, sql, &sink)) fprintf(stderr, "bench/anneal: %s\n", d ? db_errmsg(d) : err);
    db_close(d);
    return out;
}

static void load(const char *when)
{
    double l[3];
    if (getloadavg(l, 3) == 3) printf("load average %s: %.2f %.2f %.2f (2 cores)\n", when, l[0], l[1], l[2]);
}

int main(int argc, char **argv)
{
    if (argc > 1) g_xover = argv[1];
    if (access(g_xover, X_OK)) {
        fprintf(stderr, "bench/anneal: %s: not found (make first)\n", g_xover);
        return 1;
    }
    snprintf(g_dir, sizeof g_dir, "/tmp/xover-bench-anneal-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    setenv("XOVER_CACHE", g_dir, 1);
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    load("before");
    write_file("family.yaml", "sweep: family\n" COMMON "train: {" TRAIN ", anneal_at: [10, 20, 40, 80, 160, 320]}\n"
                              "grid: {objective: [mdm]}\n");
    write_file("separate.yaml", "sweep: separate\n" COMMON "train: {" TRAIN "}\n"
                                "grid: {objective: [mdm], epochs: [10, 20, 40, 80, 160, 320]}\n");
    /* Prepare the data once (tokenizer, caches), outside the timings. */
    write_file("warm.yaml", "sweep: warm\n" COMMON "train: {" TRAIN ", epochs: 0.1}\ngrid: {objective: [mdm]}\n");
    double w, c;
    sweep_run("warm.yaml", "warm.db", "1", &w, &c);

    double fam_wall, fam_cpu, sep_wall, sep_cpu;
    sweep_run("family.yaml", "family.db", "2", &fam_wall, &fam_cpu);
    sweep_run("separate.yaml", "separate.db", "2", &sep_wall, &sep_cpu);

    /* The trunk alone, and the longest point as a run of its own: their
     * configs are the family's trunk and 320-epoch branch without
     * branch_of (the standalone run it reproduces). */
    char *trunk_cfg = query_text("family.db", "SELECT config FROM runs WHERE role = 'trunk'");
    char *long_cfg = query_text("family.db", "SELECT json_remove(config, '$.train.branch_of') FROM runs "
                                             "WHERE role = 'branch' ORDER BY epochs DESC LIMIT 1");
    if (!trunk_cfg || !long_cfg) return 1;
    double trunk_wall, long_wall;
    train_alone(trunk_cfg, "trunk-alone", &trunk_wall);
    train_alone(long_cfg, "longest-alone", &long_wall);
    load("after");

    printf("\n%-44s %9s %9s\n", "", "wall s", "CPU s");
    printf("%-44s %9.1f %9.1f\n", "family: trunk + 6 branches, 2 workers", fam_wall, fam_cpu);
    printf("%-44s %9.1f %9.1f\n", "6 separate runs (10..320 epochs), 2 workers", sep_wall, sep_cpu);
    printf("%-44s %9.1f\n", "trunk alone (0-256 epochs), 1 worker", trunk_wall);
    printf("%-44s %9.1f\n", "320-epoch run alone, 1 worker", long_wall);
    printf("\ncost of 6 annealed points, branches / separate runs (CPU): %.3f  (target <= 0.65; steps: 382/630 = 0.606)\n",
           fam_cpu / sep_cpu);
    printf("wall on 2 cores, family / trunk alone:                     %.3f  (target <= 1.2; 1.25 without the hand-over)\n",
           fam_wall / trunk_wall);
    printf("wall on 2 cores, family / the 320-epoch run alone:         %.3f\n", fam_wall / long_wall);
    free(trunk_cfg);
    free(long_cfg);
    const char *rm[] = {"/bin/rm", "-rf", g_dir, NULL};
    double rw, rc;
    run(rm, &rw, &rc);
    return 0;
}
