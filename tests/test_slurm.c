/*
 * test_slurm.c — the Slurm backend against a REAL single-node Slurm that
 * the first test starts (tests/slurm/start.sh: munged, slurmctld and slurmd
 * on this machine, as root) and the others share; its watchdog stops it
 * (tests/slurm/stop.sh, by pid) when the test runner exits, however.
 * When Slurm cannot start, the test FAILS, with the daemons' logs.
 *
 *   - a sweep of both objectives through --backend slurm: every run done,
 *     with the same metrics as the local backend; a second run submits
 *     nothing; collect is idempotent;
 *   - an array cancelled part way: a new `xover run` finishes the rest,
 *     resuming the interrupted run, repeating no finished one;
 *   - an external trainer: a failing task's reason, and a task requeued
 *     while it runs resumes from its checkpoint;
 *   - a trunk with two annealed branches: the branches' tasks wait for
 *     their fork checkpoints, and the results equal the local backend's.
 */
#include "tests/harness.h"
#include "tests/helpers.h"
#include "orchestrator/db/db.h"
#include "orchestrator/run/run.h"
#include "orchestrator/util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char g_db[512], g_runs[512];

/* ---- the cluster ----------------------------------------------------------- */

/* One cluster for every Slurm test of a run of the test binary: started by
 * the first test that needs it, owned by the runner process (its watchdog
 * stops it when the runner exits), reused by the next tests once their
 * predecessor's jobs are cancelled. Starting a cluster takes seconds;
 * sharing it keeps CI short. */
static char g_owner[32];

static int cluster_up(void)
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

static int cluster_start(void)
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
static void cluster_clear(void)
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

static void paths(void)
{
    harness_path(g_db, sizeof g_db, "s.db");
    harness_path(g_runs, sizeof g_runs, "runs");
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* `xover collect` until `sql` (on the database) is true; 0, or -1 after
 * `limit` seconds. */
static int collect_until(const char *sweep, const char *sql, double limit)
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
static char *replace(char *text, const char *from, const char *to)
{
    char *p = text ? strstr(text, from) : NULL;
    if (!p) return text;
    char *out = malloc(strlen(text) + strlen(to) + 1);
    if (out) sprintf(out, "%.*s%s%s", (int)(p - text), text, to, p + strlen(from));
    free(text);
    return out;
}

/* The smoke sweep with more tokens per run, so a run lasts a few seconds. */
static void write_long_sweep(const char *path)
{
    char *text = harness_slurp("experiments/smoke.yaml", NULL);
    text = replace(text, "sweep: smoke", "sweep: longer");
    text = replace(text, "total_tokens: [64k]", "total_tokens: [256k]");
    harness_write(path, text ? text : "");
    free(text);
}

/* Run `sweep` with the local backend into local.db; whether its metrics
 * equal those in g_db, point for point (and there are some). */
static int same_as_local(const char *sweep)
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
static int submit_fake(char *sweep, size_t n, const char *file, const char *name, const char *grid,
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

/* ---- a sweep of both objectives --------------------------------------------- */

static void sweep_matches_local(void)
{
    paths();
    const char *sv[] = {harness_xover(), "run", "experiments/smoke.yaml", "--backend", "slurm", "--db", g_db,
                        "--runs-dir", g_runs, "--cpus-per-run", "1", "--time", "10", NULL};
    harness_proc r = harness_run(sv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "submitted 4 runs as Slurm job array");
    CHECK_CONTAINS(r.err, "sweep smoke: 4 done, 0 failed, 0 interrupted");
    harness_proc_free(&r);

    /* every run done, by a Slurm task of one array, counted once */
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'done' AND attempts = 1"), 4);
    CHECK_INT(helper_qint(g_db, "SELECT count(DISTINCT objective) FROM runs"), 2);
    CHECK_INT(helper_qint(g_db, "SELECT count(DISTINCT substr(job_id, 1, instr(job_id, '_') - 1)) FROM runs"), 1);
    CHECK_INT(helper_qint(g_db, "SELECT count(DISTINCT job_id) FROM runs WHERE job_id GLOB '[0-9]*_[0-3]'"), 4);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE host IS NOT NULL AND pid > 0 AND run_dir LIKE '/%'"), 4);

    /* the same metrics as the local backend, point for point */
    CHECK(same_as_local("experiments/smoke.yaml"));

    /* the sbatch script is kept, runs `xover worker` with absolute paths */
    const char *ls[] = {"/bin/sh", "-c", "cat \"$0\"/smoke/slurm/array-*.sh", g_runs, NULL};
    harness_proc c = harness_run(ls, NULL);
    CHECK_CONTAINS(c.out, "#!/bin/sh");
    CHECK_CONTAINS(c.out, "' worker --list '/");
    CHECK_CONTAINS(c.out, "'--array=0-3'");
    CHECK_CONTAINS(c.out, "'--time=10'");
    harness_proc_free(&c);

    /* again: nothing to submit; collect changes nothing */
    long long points = helper_qint(g_db, "SELECT count(*) FROM metrics");
    r = harness_run(sv, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "nothing to run: 4 runs done");
    harness_proc_free(&r);
    const char *cv[] = {harness_xover(), "collect", "smoke", "--db", g_db, NULL};
    r = harness_run(cv, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "nothing to collect: 4 done");
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM metrics"), points);
    CHECK_INT(helper_qint(g_db, "SELECT sum(attempts) FROM runs"), 4);
}

TEST(slurm_sweep_of_both_objectives_matches_local_backend)
{
    WITH_SLURM(sweep_matches_local);
}

/* ---- cancel part way, then finish --------------------------------------------- */

static void cancel_then_finish(void)
{
    paths();
    char sweep[512];
    harness_path(sweep, sizeof sweep, "longer.yaml");
    write_long_sweep(sweep);
    /* one task at a time: cancel while the second runs */
    const char *sv[] = {harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs,
                        "--array-parallelism", "1", "--no-wait", NULL};
    harness_proc r = harness_run(sv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "submitted 4 runs");
    CHECK_CONTAINS(r.err, "xover collect longer");
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'pending' AND job_id IS NOT NULL"), 4);

    CHECK(collect_until("longer", "SELECT (SELECT count(*) FROM runs WHERE status = 'done') = 1 AND "
                                  "(SELECT count(*) FROM runs r WHERE status = 'running' AND "
                                  "EXISTS (SELECT 1 FROM metrics WHERE run_id = r.id AND step > 0))", 120) == 0);
    const char *xv[] = {harness_xover(), "cancel", "longer", "--db", g_db, NULL};
    r = harness_run(xv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "cancelled job");
    harness_proc_free(&r);
    /* one done, one interrupted part way (Slurm's reason recorded), the
     * two never started are pending again */
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'done'"), 1);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'interrupted' AND error LIKE '%slurm: CANCELLED%'"), 1);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'pending' AND attempts = 0 AND "
                      "error LIKE '%cancelled before it started%'"), 2);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'interrupted' AND attempts = 1 AND "
                      "(SELECT max(step) FROM metrics WHERE run_id = runs.id) BETWEEN 1 AND 999"), 1);
    /* nothing left to cancel */
    r = harness_run(xv, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "nothing to cancel");
    harness_proc_free(&r);

    /* a new run submits the three not done, and resumes the interrupted one */
    char done_before[32];
    snprintf(done_before, sizeof done_before, "%lld", helper_qint(g_db, "SELECT id FROM runs WHERE status = 'done'"));
    long long done_points = helper_qint(g_db, "SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.status = 'done'");
    const char *sv2[] = {harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs,
                         "--array-parallelism", "2", NULL};
    r = harness_run(sv2, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "submitted 3 runs");
    CHECK_CONTAINS(r.err, "1 done, 0 failed not retried");
    CHECK_CONTAINS(r.err, "sweep longer: 4 done, 0 failed");
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'done'"), 4);
    /* the finished run was not repeated: one attempt, its job id kept */
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT attempts = 1 AND job_id LIKE '%%\\_0' ESCAPE '\\' FROM runs WHERE id = %s",
             done_before);
    CHECK_INT(helper_qint(g_db, sql), 1);
    CHECK_INT(helper_qint(g_db, "SELECT count(DISTINCT substr(job_id, 1, instr(job_id, '_') - 1)) FROM runs"), 2);
    CHECK_INT(helper_qint(g_db, "SELECT sum(attempts) FROM runs"), 5);
    CHECK(helper_qint(g_db, "SELECT count(*) FROM metrics") > 4 * done_points / 2);
    /* the interrupted run resumed from its checkpoint */
    const char *lg[] = {"/bin/sh", "-c", "grep -l 'resuming from step' \"$0\"/longer/*/log | wc -l", g_runs, NULL};
    harness_proc c = harness_run(lg, NULL);
    CHECK_STR(c.out, "1\n");
    harness_proc_free(&c);

    /* and every metric equals an uninterrupted local run's */
    CHECK(same_as_local(sweep));
}

/* ---- annealed branches ------------------------------------------------------- */

static void trunk_with_branches(void)
{
    paths();
    char sweep[512];
    harness_path(sweep, sizeof sweep, "anneal.yaml");
    harness_write(sweep, "sweep: anneal\n"
                         "data: {corpus: synthetic, vocab: 300, val_tokens: 2k, unique_tokens: 4k}\n"
                         "models: {t: {layers: 1, dim: 16, heads: 2}}\n"
                         "train: {seq_len: 32, batch: 4, lr: 5e-3, anneal_at: [3, 6], decay_frac: 0.25, "
                         "warmup_epochs: 0.5, eval_every: 1 epoch, eval_draws: 2}\n"
                         "grid: {objective: [mdm]}\n");
    const char *sv[] = {harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs,
                        "--time", "10", NULL};
    harness_proc r = harness_run(sv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "submitted 3 runs as Slurm job array");
    CHECK_CONTAINS(r.err, "sweep anneal: 3 done, 0 failed, 0 interrupted");
    harness_proc_free(&r);
    /* one array: the trunk first, its branches after it, each done once,
     * beside the trunk, with the fork step it started from */
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE role = 'trunk' AND job_id GLOB '*_0'"), 1);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs b JOIN runs t ON t.id = b.parent_id WHERE "
                                "b.role = 'branch' AND b.status = 'done' AND b.attempts = 1 AND b.fork_step > 0 AND "
                                "b.run_dir = rtrim(t.run_dir, '0123456789abcdef') || b.key"), 2);
    /* a branch's task waited on its node for the fork (or found it there) */
    const char *ls[] = {"/bin/sh", "-c", "cat \"$0\"/anneal/*/log | grep -c 'forking from '", g_runs, NULL};
    harness_proc c = harness_run(ls, NULL);
    CHECK_STR(c.out, "2\n");
    harness_proc_free(&c);
    /* the same numbers as the local backend */
    CHECK(same_as_local(sweep));
}

TEST(slurm_trunk_with_two_branches_matches_local_backend)
{
    WITH_SLURM(trunk_with_branches);
}

TEST(slurm_cancel_part_way_then_run_finishes_the_rest)
{
    WITH_SLURM(cancel_then_finish);
}

/* ---- an external trainer: failure reason, requeue ------------------------------ */

static void external_fail_and_requeue(void)
{
    paths();
    char sweep[512];
    CHECK_INT(submit_fake(sweep, sizeof sweep, "ext.yaml", "ext", "objective: ar, lr: 1e-3, flag: [--ok, --fail]",
                          "'{flag}', "), 0);
    /* requeue the good run's task once it has made progress */
    CHECK(collect_until("ext", "SELECT count(*) FROM runs r WHERE status = 'running' AND "
                               "(SELECT max(step) FROM metrics WHERE run_id = r.id) >= 3", 60) == 0);
    char job[64] = "";
    {
        char err[512];
        db *d = db_open(g_db, DB_READONLY, err, sizeof err);
        CHECK(d != NULL);
        long long idx = -1;
        db_query_int(d, "SELECT CAST(substr(job_id, instr(job_id, '_') + 1) AS INTEGER) FROM runs "
                        "WHERE status = 'running'", &idx);
        long long jid = -1;
        db_query_int(d, "SELECT CAST(substr(job_id, 1, instr(job_id, '_') - 1) AS INTEGER) FROM runs "
                        "WHERE status = 'running'", &jid);
        db_close(d);
        snprintf(job, sizeof job, "%lld_%lld", jid, idx);
    }
    const char *rq[] = {"scontrol", "requeue", job, NULL};
    harness_proc r = harness_run(rq, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);

    const char *cv[] = {harness_xover(), "collect", "ext", "--wait", "--db", g_db, NULL};
    r = harness_run(cv, NULL);
    int st = r.status, announced = strstr(r.err, "requeued ") && strstr(r.err, "restart 1 by Slurm");
    if (!announced) fprintf(stderr, "%s", r.err);
    harness_proc_free(&r);
    CHECK_INT(st, 1); /* one run failed */
    CHECK(announced); /* the requeue is said in the progress lines */
    /* the failure's reason and log tail, from the worker */
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'failed' AND error LIKE "
                      "'exit code 3: error: this configuration is refused on purpose%' AND "
                      "log_tail LIKE '%refused on purpose%'"), 1);
    /* the requeued run: a second attempt that resumed, every step once */
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'done' AND attempts = 2"), 1);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM metrics WHERE name = 'train_loss'"), 30);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM metrics WHERE name = 'train_loss' AND "
                      "abs(value - 10.0 / (1 + 1e-3 * 1000 * step)) < 1e-12"), 30);
    const char *lg[] = {"/bin/sh", "-c", "grep -h 'resuming at step' \"$0\"/ext/*/log | wc -l", g_runs, NULL};
    harness_proc c = harness_run(lg, NULL);
    CHECK_STR(c.out, "1\n");
    harness_proc_free(&c);
}

TEST(slurm_external_trainer_failure_reason_and_requeue_resumes)
{
    WITH_SLURM(external_fail_and_requeue);
}

/* ---- without a cluster: usage errors, a missing sbatch ------------------------- */

static harness_proc xover(const char *a, const char *b, const char *c, const char *d, const char *e, const char *f)
{
    const char *argv[] = {harness_xover(), a, b, c, d, e, f, NULL};
    return harness_run(argv, NULL);
}

TEST(slurm_options_bad_usage_is_exit_2)
{
    paths();
    struct {
        const char *a[8];
        const char *msg;
    } cases[] = {
        {{"run", "experiments/smoke.yaml", "--backend", "pbs", NULL}, "--backend is local or slurm, not 'pbs'"},
        {{"run", "experiments/smoke.yaml", "--partition", "cpu", NULL}, "go with --backend slurm"},
        {{"run", "experiments/smoke.yaml", "--backend", "slurm", "--time", "2h"}, "--time expects a Slurm time limit"},
        {{"run", "experiments/smoke.yaml", "--backend", "slurm", "--mem", "lots"}, "--mem expects a size"},
        {{"run", "experiments/smoke.yaml", "--backend", "slurm", "-j", "2"}, "use --array-parallelism"},
        {{"run", "experiments/smoke.yaml", "--backend", "slurm", "--sbatch-arg", "qos"}, "expects an sbatch option"},
        {{"run", "experiments/smoke.yaml", "--backend", "slurm", "--time", "5", "--timeout", "2m"}, "give one"},
        {{"run", "experiments/smoke.yaml", "--backend", "slurm", "--take-over", NULL}, "--take-over is for the local"},
        {{"worker", NULL}, "expected a run directory or --list FILE"},
        {{"worker", "--index", "3", "somedir", NULL}, "--index goes with --list"},
        {{"collect", NULL}, "expected one sweep"},
        {{"cancel", "a", "b", NULL}, "expected one sweep"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *argv[10] = {harness_xover()};
        for (int m = 0; m < 8; m++) argv[m + 1] = cases[k].a[m];
        harness_proc r = harness_run(argv, NULL);
        int st = r.status, has = strstr(r.err, cases[k].msg) != NULL;
        if (st != 2 || !has) fprintf(stderr, "    case %zu: exit %d: %s", k, st, r.err);
        harness_proc_free(&r);
        CHECK_INT(st, 2);
        CHECK(has);
    }
    /* collect and cancel name a sweep the database must know */
    harness_proc r = xover("collect", "nosuch", "--db", g_db, NULL, NULL);
    CHECK_INT(r.status, 2);
    harness_proc_free(&r);
    r = xover("db", "init", g_db, NULL, NULL, NULL);
    harness_proc_free(&r);
    r = xover("cancel", "nosuch", "--db", g_db, NULL, NULL);
    CHECK_INT(r.status, 2);
    CHECK_CONTAINS(r.err, "no sweep named 'nosuch'");
    harness_proc_free(&r);
}

TEST(slurm_without_sbatch_fails_clearly_and_dry_run_lists)
{
    paths();
    /* dry run: the runs it would submit, the sbatch command and the
     * script; nothing written. --timeout 30s rounds up to a minute, saying so */
    const char *dv[] = {harness_xover(), "run", "experiments/smoke.yaml", "--backend", "slurm", "--db", g_db,
                        "--runs-dir", g_runs, "--dry-run", "--timeout", "30s", NULL};
    harness_proc r = harness_run(dv, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "would submit 4 runs as one Slurm job array");
    CHECK_CONTAINS(r.out, "  sbatch --parsable '--job-name=xover-smoke' '--comment=xover:");
    CHECK_CONTAINS(r.out, "'--array=0-3'");
    CHECK_CONTAINS(r.out, "'--time=1' '--signal=B:USR1@15'");
    CHECK_CONTAINS(r.out, "#!/bin/sh\n");
    CHECK_CONTAINS(r.out, " worker --list '");
    CHECK_CONTAINS(r.err, "note: --timeout 30s: Slurm time limits are whole minutes, so each task gets --time=1 "
                          "(rounded up)");
    harness_proc_free(&r);
    CHECK(access(g_runs, F_OK) != 0);
    CHECK(access(g_db, F_OK) != 0);
    /* no sbatch on PATH: exit 1, saying so; the runs stay pending */
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    setenv("PATH", "/nonexistent", 1);
    const char *sv[] = {harness_xover(), "run", "experiments/smoke.yaml", "--backend", "slurm", "--db", g_db,
                        "--runs-dir", g_runs, NULL};
    r = harness_run(sv, NULL);
    if (saved) setenv("PATH", saved, 1);
    free(saved);
    CHECK_INT(r.status, 1);
    CHECK_CONTAINS(r.err, "cannot run sbatch");
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'pending' AND job_id IS NULL"), 4);
    const char *cv[] = {harness_xover(), "collect", "smoke", "--db", g_db, NULL};
    r = harness_run(cv, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "4 never submitted to Slurm");
    harness_proc_free(&r);
}

/* ---- a task killed hard: Slurm's word, then --retry-failed resumes ------------- */

static void killed_hard(void)
{
    paths();
    char sweep[512];
    CHECK_INT(submit_fake(sweep, sizeof sweep, "kill.yaml", "hard", "objective: ar, lr: 2e-3", ""), 0);
    CHECK(collect_until("hard", "SELECT count(*) FROM runs r WHERE status = 'running' AND "
                                "(SELECT max(step) FROM metrics WHERE run_id = r.id) >= 3", 60) == 0);
    /* SIGKILL the worker (as the OOM killer would): no final word from it */
    const char *kv[] = {"/bin/sh", "-c",
                        "kill -KILL $(sed 's/.*\"pid\": *\\([0-9]*\\).*/\\1/' \"$0\"/hard/*/attempt.json)", g_runs, NULL};
    harness_proc r = harness_run(kv, NULL);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    const char *cv[] = {harness_xover(), "collect", "hard", "--wait", "--db", g_db, NULL};
    r = harness_run(cv, NULL);
    CHECK_INT(r.status, 1);
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'failed' AND error LIKE 'slurm: FAILED%' AND "
                      "error LIKE '%the worker ended without a final status'"), 1);
    const char *st[] = {"/bin/sh", "-c", "head -n 1 \"$0\"/hard/*/status", g_runs, NULL};
    r = harness_run(st, NULL);
    CHECK_STR(r.out, "failed\n");
    harness_proc_free(&r);
    /* without --retry-failed nothing is submitted; with it the run resumes */
    const char *rv[] = {harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs, NULL};
    r = harness_run(rv, NULL);
    CHECK_INT(r.status, 1);
    CHECK_CONTAINS(r.out, "nothing to run: 0 runs done, 1 failed (--retry-failed reruns them)");
    harness_proc_free(&r);
    const char *fv[] = {harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs,
                        "--retry-failed", NULL};
    r = harness_run(fv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'done' AND attempts = 2 AND error IS NULL"), 1);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM metrics WHERE name = 'train_loss' AND "
                      "abs(value - 10.0 / (1 + 2e-3 * 1000 * step)) < 1e-12"), 30);
    const char *lg[] = {"/bin/sh", "-c", "grep -c 'resuming at step' \"$0\"/hard/*/log", g_runs, NULL};
    r = harness_run(lg, NULL);
    CHECK_STR(r.out, "1\n");
    harness_proc_free(&r);
}

TEST(slurm_task_killed_hard_fails_with_slurms_reason_then_resumes)
{
    WITH_SLURM(killed_hard);
}

/* ---- issue 20: the defects ---------------------------------------------------- */

/* A worker that finds its run directory in use names the run by its key
 * (it printed freed memory: the key pointed into worker.json's parsed
 * text, released before the message). No cluster needed. */
TEST(slurm_worker_finding_its_directory_in_use_names_the_run_key)
{
    char dir[512], wj[600], text[1200];
    const char *key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    harness_path(dir, sizeof dir, key);
    CHECK(mkdir(dir, 0777) == 0);
    snprintf(wj, sizeof wj, "%s/worker.json", dir);
    snprintf(text, sizeof text, "{\"key\": \"%s\", \"argv\": [\"true\"], \"metrics\": \"%s/metrics.jsonl\"}", key, dir);
    harness_write(wj, text);
    char err[512];
    int fd = rundir_lock(dir, err, sizeof err);
    CHECK(fd >= 0);
    const char *argv[] = {harness_xover(), "worker", dir, NULL};
    harness_proc r = harness_run(argv, NULL);
    xo_unlock(fd);
    int st = r.status;
    char expect[200];
    snprintf(expect, sizeof expect, "worker: run %s not started: ", key);
    int named = strstr(r.err, expect) != NULL;
    if (!named) fprintf(stderr, "    worker said: %s\n", r.err);
    harness_proc_free(&r);
    CHECK_INT(st, 1);
    CHECK(named);
}

/* A one-run sweep of the built-in trainer (the smoke sweep's first run). */
static void write_one_run(const char *path, const char *name)
{
    char *text = harness_slurp("experiments/smoke.yaml", NULL);
    char sw[64];
    snprintf(sw, sizeof sw, "sweep: %s", name);
    text = replace(text, "sweep: smoke", sw);
    text = replace(text, "objective: [ar, mdm]", "objective: [ar]");
    text = replace(text, "unique_tokens: [4k, 8k]", "unique_tokens: [4k]");
    harness_write(path, text ? text : "");
    free(text);
}

/* kill -9 of `xover train` inside a task: the worker retries it from its
 * checkpoint, as the local driver does (it was failed at once). */
static void trainer_killed_in_a_task(void)
{
    paths();
    char sweep[512];
    harness_path(sweep, sizeof sweep, "one.yaml");
    write_one_run(sweep, "one");
    setenv("XOVER_FAULT", "kill@step:120", 1); /* reaches the task: sbatch exports the environment */
    const char *sv[] = {harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs, NULL};
    harness_proc r = harness_run(sv, NULL);
    unsetenv("XOVER_FAULT");
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, ": killed by signal 9 (Killed); retry 1 of 2 from its checkpoint");
    CHECK_CONTAINS(r.err, "sweep one: 1 done, 0 failed, 0 interrupted");
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'done' AND attempts = 2"), 1);
    const char *lg[] = {"/bin/sh", "-c", "grep -c 'resuming from step' \"$0\"/one/*/log", g_runs, NULL};
    harness_proc c = harness_run(lg, NULL);
    CHECK_STR(c.out, "1\n");
    harness_proc_free(&c);
    CHECK(same_as_local(sweep));
}

TEST(slurm_trainer_killed_in_a_task_is_retried_from_its_checkpoint)
{
    WITH_SLURM(trainer_killed_in_a_task);
}

/* PATH with an sbatch that submits (the real one), prints the job id,
 * then kills its caller with SIGKILL: the driver dies between sbatch
 * returning and the job ids being recorded. Returns the old PATH. */
static char *sbatch_then_kill(void)
{
    char bin[512], sb[600];
    harness_path(bin, sizeof bin, "killbin");
    mkdir(bin, 0777);
    snprintf(sb, sizeof sb, "%s/sbatch", bin);
    harness_write(sb, "#!/bin/sh\n"
                      "PATH=$(echo \"$PATH\" | cut -d: -f2-)\n"
                      "out=$(sbatch \"$@\"); rc=$?\n"
                      "printf '%s\\n' \"$out\"\n"
                      "kill -KILL $PPID\n"
                      "exit $rc\n");
    chmod(sb, 0755);
    const char *old = getenv("PATH");
    char *saved = strdup(old ? old : "/usr/bin:/bin");
    char *np = malloc(strlen(bin) + strlen(saved) + 2);
    sprintf(np, "%s:%s", bin, saved);
    setenv("PATH", np, 1);
    free(np);
    return saved;
}

static long long arrays_named(const char *name)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "squeue -h -t all -n xover-%s -o %%F | sort -u | wc -l", name);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    harness_proc p = harness_run(argv, NULL);
    long long n = atoll(p.out);
    harness_proc_free(&p);
    return n;
}

/* kill -9 of the driver between sbatch and the job ids being saved: the
 * next `xover run` adopts the array (by its name and the token in its
 * comment) instead of submitting a second one; `xover cancel` sees it. */
static void killed_during_submission(void)
{
    paths();
    char sweep[512], text[1024];
    /* 1. the next `xover run` adopts and follows it */
    harness_path(sweep, sizeof sweep, "orphan.yaml");
    snprintf(text, sizeof text,
             "sweep: orphan\nmodels: {xs: {layers: 1, dim: 16, heads: 2}}\ngrid: {objective: ar, lr: [1e-3, 2e-3]}\n"
             "trainer: {command: ['%s', '{run_dir}', jsonl, '20', '{lr}', --sleep, '0.1']}\n", helper_fake_trainer());
    harness_write(sweep, text);
    const char *sv[] = {harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs, NULL};
    char *path = sbatch_then_kill();
    harness_proc r = harness_run(sv, NULL);
    setenv("PATH", path, 1);
    free(path);
    CHECK_INT(r.status, 128 + 9);
    harness_proc_free(&r);
    CHECK_INT(arrays_named("orphan"), 1);
    r = harness_run(sv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "adopted Slurm job array");
    CHECK(strstr(r.err, "submitted 2 runs") == NULL);
    CHECK_CONTAINS(r.err, "sweep orphan: 2 done, 0 failed, 0 interrupted");
    harness_proc_free(&r);
    CHECK_INT(arrays_named("orphan"), 1);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'done' AND attempts = 1 AND "
                                "job_id GLOB '[0-9]*_[01]'"), 2);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM metrics WHERE name = 'train_loss'"), 40);

    /* 2. `xover cancel` adopts a held array and cancels it */
    char sweep2[512];
    harness_path(sweep2, sizeof sweep2, "held.yaml");
    char *held = replace(replace(strdup(text), "sweep: orphan", "sweep: held"), "[1e-3, 2e-3]", "[3e-3, 4e-3]");
    harness_write(sweep2, held ? held : "");
    free(held);
    const char *hv[] = {harness_xover(), "run", sweep2, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs,
                        "--sbatch-arg=--hold", NULL};
    path = sbatch_then_kill();
    r = harness_run(hv, NULL);
    setenv("PATH", path, 1);
    free(path);
    CHECK_INT(r.status, 128 + 9);
    harness_proc_free(&r);
    const char *xv[] = {harness_xover(), "cancel", "held", "--db", g_db, NULL};
    r = harness_run(xv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "adopted Slurm job array");
    CHECK_CONTAINS(r.err, "cancelled job");
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs r JOIN sweep_runs sr ON sr.run_id = r.id JOIN sweeps s ON "
                                "s.id = sr.sweep_id WHERE s.name = 'held' AND r.status = 'pending' AND "
                                "r.error LIKE '%cancelled before it started%'"), 2);
}

TEST(slurm_driver_killed_during_submission_adopts_its_array)
{
    WITH_SLURM(killed_during_submission);
}

/* A local `xover run` leaves runs queued in Slurm to it; --take-over
 * cancels their tasks and trains them here, and the database says so
 * (no job id, this host). */
static void local_run_meets_slurm(void)
{
    paths();
    char sweep[512], text[1024];
    harness_path(sweep, sizeof sweep, "both.yaml");
    snprintf(text, sizeof text,
             "sweep: both\nmodels: {xs: {layers: 1, dim: 16, heads: 2}}\ngrid: {objective: ar, lr: [1e-3, 2e-3]}\n"
             "trainer: {command: ['%s', '{run_dir}', jsonl, '30', '{lr}', --sleep, '0.05']}\n", helper_fake_trainer());
    harness_write(sweep, text);
    /* held: queued in Slurm for as long as the test wants */
    const char *sv[] = {harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs,
                        "--no-wait", "--sbatch-arg=--hold", NULL};
    harness_proc r = harness_run(sv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    const char *lv[] = {harness_xover(), "run", sweep, "--db", g_db, "--runs-dir", g_runs, NULL};
    r = harness_run(lv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "runs are queued or running in Slurm");
    CHECK_CONTAINS(r.err, "--take-over");
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE job_id GLOB '[0-9]*_[01]' AND status <> 'done'"), 2);

    const char *tv[] = {harness_xover(), "run", sweep, "--db", g_db, "--runs-dir", g_runs, "--take-over", NULL};
    r = harness_run(tv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "--take-over: cancelling the Slurm tasks of 2 runs");
    harness_proc_free(&r);
    char host[256], sql[600];
    gethostname(host, sizeof host);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE status = 'done' AND job_id IS NULL AND host = '%s'", host);
    CHECK_INT(helper_qint(g_db, sql), 2);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM metrics WHERE name = 'train_loss'"), 60);
}

TEST(slurm_local_run_leaves_runs_queued_in_slurm_unless_taking_over)
{
    WITH_SLURM(local_run_meets_slurm);
}

/* ---- issue 20: requeue ------------------------------------------------------------ */

/* A run longer than its task's time limit (--time 1: a minute; 50 steps of
 * 1 s): warned by SIGUSR1 before the limit, the worker stops the trainer at
 * a checkpoint and requeues its task, which resumes there, until the run is
 * done; the follower says so. Every step once, with the values of an
 * uninterrupted run. */
static void requeued_at_the_time_limit(void)
{
    paths();
    char sweep[512], text[1024];
    harness_path(sweep, sizeof sweep, "limit.yaml");
    snprintf(text, sizeof text,
             "sweep: limit\nmodels: {xs: {layers: 1, dim: 16, heads: 2}}\ngrid: {objective: ar, lr: 1e-3}\n"
             "trainer: {command: ['%s', '{run_dir}', jsonl, '50', '{lr}', --sleep, '1']}\n", helper_fake_trainer());
    harness_write(sweep, text);
    const char *sv[] = {harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs,
                        "--time", "1", NULL};
    harness_proc r = harness_run(sv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "requeued ");
    CHECK_CONTAINS(r.err, "restart 1 by Slurm (checkpointed before the Slurm time limit; requeued (restart 1 of 3))");
    CHECK_CONTAINS(r.err, "sweep limit: 1 done, 0 failed, 0 interrupted");
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'done' AND attempts >= 2"), 1);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM metrics WHERE name = 'train_loss' AND "
                                "abs(value - 10.0 / (1 + 1e-3 * 1000 * step)) < 1e-12"), 50);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM metrics WHERE name = 'train_loss'"), 50);
    const char *ls[] = {"/bin/sh", "-c", "cat \"$0\"/limit/slurm/array-*.sh", g_runs, NULL};
    harness_proc c = harness_run(ls, NULL);
    CHECK_CONTAINS(c.out, "'--signal=B:USR1@15'");
    CHECK_CONTAINS(c.out, " --max-requeues 3\n");
    harness_proc_free(&c);
}

TEST(slurm_task_at_its_time_limit_checkpoints_and_requeues_itself)
{
    WITH_SLURM(requeued_at_the_time_limit);
}

/* ---- issue 20: day to day ----------------------------------------------------- */

/* `xover cancel` while `xover run --backend slurm` follows the sweep (it
 * refused on the sweep lock): the tasks stop, the follower records how
 * they ended, with no stale "(Resources)" reason. `xover status` shows the
 * queued run apart from the running one, with their job ids. */
static void cancel_while_following(void)
{
    paths();
    char sweep[512], text[1024], log[512];
    harness_path(sweep, sizeof sweep, "follow.yaml");
    harness_path(log, sizeof log, "follower.log");
    snprintf(text, sizeof text,
             "sweep: follow\nmodels: {xs: {layers: 1, dim: 16, heads: 2}}\ngrid: {objective: ar, lr: [1e-3, 2e-3]}\n"
             "trainer: {command: ['%s', '{run_dir}', jsonl, '300', '{lr}', --sleep, '0.1']}\n", helper_fake_trainer());
    harness_write(sweep, text);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "a", stderr);
        (void)f;
        f = freopen("/dev/null", "w", stdout);
        (void)f;
        execl(harness_xover(), harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs,
              "--array-parallelism", "1", (char *)NULL);
        _exit(127);
    }
    CHECK(pid > 0);
    int running = 0;
    for (int i = 0; i < 200 && !running; i++) {
        sleep_s(0.3);
        running = access(g_db, F_OK) == 0 &&
                  helper_qint(g_db, "SELECT count(*) FROM runs r WHERE status = 'running' AND "
                                    "(SELECT max(step) FROM metrics WHERE run_id = r.id) >= 3") == 1;
    }
    CHECK(running);
    const char *st[] = {harness_xover(), "status", "follow", "--db", g_db, NULL};
    harness_proc r = harness_run(st, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "1 running,");
    CHECK_CONTAINS(r.out, "1 pending (1 queued in Slurm)");
    CHECK_CONTAINS(r.out, " queued ");
    CHECK_CONTAINS(r.out, "_0 ");
    CHECK_CONTAINS(r.out, "_1 ");
    harness_proc_free(&r);

    const char *xv[] = {harness_xover(), "cancel", "follow", "--db", g_db, NULL};
    r = harness_run(xv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    int cst = r.status;
    CHECK_CONTAINS(r.err, "cancelled job");
    CHECK_CONTAINS(r.err, "its follower records how the runs ended");
    harness_proc_free(&r);
    int ws = 0;
    waitpid(pid, &ws, 0);
    CHECK_INT(cst, 0);
    CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 1); /* runs left interrupted and pending */
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'interrupted' AND error LIKE '%slurm: CANCELLED%'"), 1);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'pending' AND "
                                "error LIKE '%cancelled before it started%'"), 1);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE error LIKE '%Resources%'"), 0);
}

TEST(slurm_cancel_while_a_follower_runs_stops_the_tasks_and_it_records_them)
{
    WITH_SLURM(cancel_while_following);
}

/* --write-script DIR: the script (its options as #SBATCH lines) and run
 * list, nothing submitted; `sbatch SCRIPT` by hand, and `xover collect`
 * adopts the array by its comment. */
static void write_script_then_sbatch(void)
{
    paths();
    char sweep[512], text[1024], dir[512];
    harness_path(sweep, sizeof sweep, "byhand.yaml");
    harness_path(dir, sizeof dir, "scripts");
    snprintf(text, sizeof text,
             "sweep: byhand\nmodels: {xs: {layers: 1, dim: 16, heads: 2}}\ngrid: {objective: ar, lr: [5e-3, 6e-3]}\n"
             "trainer: {command: ['%s', '{run_dir}', jsonl, '20', '{lr}', --sleep, '0.05']}\n", helper_fake_trainer());
    harness_write(sweep, text);
    const char *sv[] = {harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs,
                        "--write-script", dir, NULL};
    harness_proc r = harness_run(sv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "wrote the job script of 2 runs, not submitted");
    harness_proc_free(&r);
    CHECK_INT(arrays_named("byhand"), 0);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cat %s/array-*.sh", dir);
    const char *cv[] = {"/bin/sh", "-c", cmd, NULL};
    r = harness_run(cv, NULL);
    CHECK_CONTAINS(r.out, "#SBATCH --array=0-1\n");
    CHECK_CONTAINS(r.out, "#SBATCH --comment=xover:");
    harness_proc_free(&r);
    snprintf(cmd, sizeof cmd, "sbatch %s/array-*.sh", dir);
    r = harness_run(cv, NULL);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    const char *wv[] = {harness_xover(), "collect", "byhand", "--wait", "--db", g_db, NULL};
    r = harness_run(wv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "adopted Slurm job array");
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'done' AND job_id GLOB '[0-9]*_[01]'"), 2);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM metrics WHERE name = 'train_loss'"), 40);
}

TEST(slurm_write_script_then_sbatch_by_hand_is_adopted)
{
    WITH_SLURM(write_script_then_sbatch);
}
