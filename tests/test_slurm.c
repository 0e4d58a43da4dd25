/*
 * test_slurm.c — the Slurm backend against a REAL single-node Slurm that
 * the tests share (tests/slurm_helpers.h). Recovery (issue 20: kills during
 * submission, requeues, cancel while following, the kill series) is in
 * test_slurm_recovery.c.
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
#include "tests/slurm_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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


/* ---- per-run resources (no cluster: --dry-run) ---------------------------------- */

/* The sweep's resources: section gives each run's task its time, memory
 * and CPUs, by model size; runs asking for the same go as one array; the
 * command line's options override it; --account, --qos, --constraint and
 * --exclusive reach sbatch. Run keys do not change. */
TEST(slurm_resources_by_model_size_become_one_array_per_shape)
{
    paths();
    char sweep[512], plain[512];
    harness_path(sweep, sizeof sweep, "res.yaml");
    harness_path(plain, sizeof plain, "plain.yaml");
    const char *body = "data: {corpus: synthetic, vocab: 300, val_tokens: 4k}\n"
                       "models: {xxs: {layers: 1, dim: 16, heads: 2}, xs: {layers: 1, dim: 32, heads: 2}}\n"
                       "train: {seq_len: 32, batch: 8, lr: 3e-3}\n"
                       "grid: {objective: [ar, mdm], model: [xxs, xs], unique_tokens: [4k], epochs: [2]}\n";
    char text[2048];
    snprintf(text, sizeof text, "sweep: res\n%s", body);
    harness_write(plain, text);
    snprintf(text, sizeof text, "sweep: res\n%sresources:\n  time: 90s\n  mem: 1G\n  models:\n"
                                "    xs: {time: 2h, mem: 4G, cpus: 2}\n", body);
    harness_write(sweep, text);
    const char *dv[] = {harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs,
                        "--dry-run", "--account", "acct", "--qos", "low", "--constraint", "avx2", "--exclusive", NULL};
    harness_proc r = harness_run(dv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "would submit 4 runs as 2 Slurm job arrays, one per resource shape");
    CHECK_CONTAINS(r.out, "'--array=0-1' '--cpus-per-task=1' '--account=acct' '--qos=low' '--constraint=avx2' "
                          "'--exclusive' '--time=2' '--signal=B:USR1@30' '--mem=1G'");
    CHECK_CONTAINS(r.out, "'--array=0-1' '--cpus-per-task=2' '--account=acct' '--qos=low' '--constraint=avx2' "
                          "'--exclusive' '--time=120' '--signal=B:USR1@90' '--mem=4G'");
    CHECK_CONTAINS(r.out, "-g1.sh");
    CHECK_CONTAINS(r.out, "-g2.sh");
    CHECK_CONTAINS(r.err, "time limits not in whole minutes are rounded up");
    /* the same runs (keys) as without the section */
    char *with = strdup(r.out);
    harness_proc_free(&r);
    const char *pv[] = {harness_xover(), "run", plain, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs,
                        "--dry-run", NULL};
    r = harness_run(pv, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "would submit 4 runs as one Slurm job array (");
    for (const char *p = strstr(r.out, "\n  "); p && p[3] != ' ' && p[3]; p = strstr(p + 1, "\n  ")) {
        char key[16];
        snprintf(key, sizeof key, "%.12s", p + 3);
        if (strspn(key, "0123456789abcdef") == 12) CHECK(strstr(with, key) != NULL);
    }
    free(with);
    harness_proc_free(&r);
    /* the command line overrides: one shape */
    const char *ov[] = {harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs,
                        "--dry-run", "--time", "30", "--mem", "8G", "--cpus-per-run", "1", NULL};
    r = harness_run(ov, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "would submit 4 runs as one Slurm job array (");
    CHECK_CONTAINS(r.out, "'--array=0-3' '--cpus-per-task=1' '--time=30' '--signal=B:USR1@90' '--mem=8G'");
    harness_proc_free(&r);
    /* mistakes, with where they are */
    snprintf(text, sizeof text, "sweep: res\n%sresources:\n  time: 30\n", body);
    harness_write(sweep, text);
    r = harness_run(dv, NULL);
    CHECK_INT(r.status, 2);
    CHECK_CONTAINS(r.err, "res.yaml:7:9: resources.time: '30' is not a duration like 90s, 30m, 2h or 1d");
    harness_proc_free(&r);
    snprintf(text, sizeof text, "sweep: res\n%sresources:\n  models:\n    xl: {mem: 2G}\n", body);
    harness_write(sweep, text);
    r = harness_run(dv, NULL);
    CHECK_INT(r.status, 2);
    CHECK_CONTAINS(r.err, "res.yaml:8:5: resources.models: 'xl' is not a size of the models: section");
    harness_proc_free(&r);
    CHECK(access(g_runs, F_OK) != 0);
}
