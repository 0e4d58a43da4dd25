/*
 * test_reliability_faults.c — XOVER_FAULT in the worker: each injected fault
 * ends in its documented state (docs/reliability.md) with a clear reason.
 * Faults that kill the worker are retried by the driver from the last good
 * checkpoint and end with the metrics of an undisturbed run, bit for bit;
 * a damaged checkpoint is detected by its checksum and the run says which
 * checkpoint it fell back to. Also: a second driver on a running sweep
 * refuses, naming the first; readers during a sweep never see "database
 * is locked".
 */
#include "tests/reliability.h"

#include <sys/stat.h>

static char g_db[512], g_runs[512], g_sweep[512];

/* One MDM run of 125 steps, checkpoints every 10. */
static void one_run(const char *tag)
{
    char name[64];
    snprintf(name, sizeof name, "%s.db", tag);
    harness_path(g_db, sizeof g_db, name);
    snprintf(name, sizeof name, "%s-runs", tag);
    harness_path(g_runs, sizeof g_runs, name);
    harness_path(g_sweep, sizeof g_sweep, "f.yaml");
    rel_write_sweep("f.yaml", "f", "objective: [mdm], unique_tokens: [4k], total_tokens: [32k]");
}

static char *g_ref;
static char g_key[65];

/* The undisturbed run: its metrics and key. */
static int reference(void)
{
    one_run("ref");
    harness_proc r = rel_run(g_sweep, g_db, g_runs, NULL);
    int ok = r.status == 0;
    harness_proc_free(&r);
    if (!ok) return -1;
    g_ref = rel_dump_metrics(g_db);
    char *k = helper_qtext(g_db, "SELECT key FROM runs");
    if (!k || strlen(k) < 65) {
        free(k);
        return -1;
    }
    memcpy(g_key, k, 64);
    g_key[64] = 0;
    free(k);
    return g_ref ? 0 : -1;
}

static char *run_file(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/f/%s/%s", g_runs, g_key, name);
    return harness_slurp(path, NULL);
}

static int run_file_exists(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/f/%s/%s", g_runs, g_key, name);
    return access(path, F_OK) == 0;
}

static int same_as_reference(void)
{
    char *got = rel_dump_metrics(g_db);
    int same = got && g_ref && !strcmp(got, g_ref);
    if (!same) fprintf(stderr, "metrics differ from the undisturbed run's\n");
    free(got);
    return same;
}

/* Faults that kill the worker: retried from the last good checkpoint. */
TEST(reliability_faults_that_kill_the_worker_are_retried_bit_exact)
{
    CHECK(reference() == 0);
    static const struct {
        const char *fault, *driver_says, *log_says;
    } cases[] = {
        {"crash@step:35", "killed by signal 6", "resuming from step 30"},
        {"kill@step:35", "killed by signal 9", "resuming from step 30"},
        {"torn-metrics@step:35", "killed by signal 9", "resuming from step 30"},
        {"corrupt-checkpoint@step:30", "killed by signal 9",
         "checksum mismatch (the file is corrupt or truncated) (kept as"},
        {"truncate-checkpoint@step:30", "killed by signal 9",
         "checksum mismatch (the file is corrupt or truncated) (kept as"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char tag[32];
        snprintf(tag, sizeof tag, "case%zu", c);
        one_run(tag);
        setenv("XOVER_FAULT", cases[c].fault, 1);
        harness_proc r = rel_run(g_sweep, g_db, g_runs, NULL);
        unsetenv("XOVER_FAULT");
        if (r.status) fprintf(stderr, "%s: %s", cases[c].fault, r.err);
        CHECK_INT(r.status, 0);
        CHECK_CONTAINS(r.err, "retrying");
        CHECK_CONTAINS(r.err, cases[c].driver_says);
        harness_proc_free(&r);
        CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'done'"), 1);
        CHECK_INT(helper_qint(g_db, "SELECT attempts FROM runs"), 2);
        CHECK(same_as_reference());
        char *log = run_file("log");
        CHECK_CONTAINS(log, "XOVER_FAULT: injecting");
        CHECK_CONTAINS(log, cases[c].log_says);
        if (strstr(cases[c].fault, "checkpoint")) {
            /* the damaged one is kept aside; the run went back to step 20 */
            CHECK_CONTAINS(log, "resuming from the previous checkpoint (step 20)");
            CHECK(run_file_exists("checkpoint.bad"));
        }
        free(log);
        /* metrics.jsonl ends with a complete line, and has no torn one */
        char *m = run_file("metrics.jsonl");
        CHECK(m && m[strlen(m) - 1] == '\n');
        CHECK(!strstr(m, "\"tokens\":12{") && !strstr(m, "\"tokens\":12\n"));
        free(m);
    }
    free(g_ref);
}

TEST(reliability_fault_nan_fails_the_run_with_its_reason)
{
    one_run("nan");
    setenv("XOVER_FAULT", "nan@step:7", 1);
    harness_proc r = rel_run(g_sweep, g_db, g_runs, NULL);
    unsetenv("XOVER_FAULT");
    CHECK_INT(r.status, 1);
    CHECK_CONTAINS(r.err, "FAILED");
    CHECK_CONTAINS(r.err, "non-finite training loss (nan) at step 7");
    CHECK(!strstr(r.err, "retrying")); /* an error the worker reports is not transient */
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'failed' AND attempts = 1 AND "
                             "error LIKE '%non-finite training loss%'"), 1);
    /* a malformed XOVER_FAULT is refused by the worker, naming it */
    setenv("XOVER_FAULT", "explode@step:3", 1);
    r = rel_run(g_sweep, g_db, g_runs, "--retry-failed");
    unsetenv("XOVER_FAULT");
    CHECK_INT(r.status, 1);
    CHECK_CONTAINS(r.err, "XOVER_FAULT: 'explode@step:3' is not KIND@step:N");
    harness_proc_free(&r);
}

TEST(reliability_fault_hang_is_killed_at_the_timeout)
{
    one_run("hang");
    setenv("XOVER_FAULT", "hang@step:5", 1);
    const char *argv[] = {harness_xover(), "run", g_sweep, "--db", g_db, "--runs-dir", g_runs, "--timeout", "2s", NULL};
    harness_proc r = harness_run(argv, NULL);
    unsetenv("XOVER_FAULT");
    CHECK_INT(r.status, 1);
    CHECK_CONTAINS(r.err, "timed out after 2s");
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'failed' AND error = 'timed out after 2s'"), 1);
}

/* A full disk is not the run's fault (issue 17): the run is interrupted,
 * not failed, the driver stops and says why (exit 1), and a plain `xover
 * run` later resumes it from its last checkpoint. */
TEST(reliability_fault_enospc_interrupts_then_resumes_from_its_checkpoint)
{
    CHECK(reference() == 0);
    one_run("full");
    setenv("XOVER_FAULT", "enospc@step:25", 1);
    harness_proc r = rel_run(g_sweep, g_db, g_runs, NULL);
    unsetenv("XOVER_FAULT");
    CHECK_INT(r.status, 1);
    CHECK_CONTAINS(r.err, "a run directory's disk is full");
    CHECK_CONTAINS(r.err, "No space left on device");
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'interrupted' AND "
                             "error LIKE '%metrics.jsonl: No space left on device%'"), 1);
    char *st = run_file("status");
    CHECK(st && !strncmp(st, "interrupted\n", 12));
    free(st);
    /* space is back: a plain run resumes from the step-20 checkpoint */
    r = rel_run(g_sweep, g_db, g_runs, NULL);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    char *log = run_file("log");
    CHECK_CONTAINS(log, "resuming from step 20");
    free(log);
    CHECK(same_as_reference());
    free(g_ref);
}

/* A damaged metrics line before the checkpoint's step was dropped on resume
 * without a word: the run's log now says what went. */
TEST(reliability_damaged_metrics_line_before_the_checkpoint_is_logged_on_resume)
{
    CHECK(reference() == 0);
    free(g_ref);
    char cfg[1024], dir[600], path[700];
    snprintf(cfg, sizeof cfg, "%s/f/%s/config.json", g_runs, g_key);
    harness_path(dir, sizeof dir, "alone");
    const char *train[] = {harness_xover(), "train", "--config", cfg, "--out", dir, NULL};
    setenv("XOVER_TRAIN_STOP_AT", "30", 1); /* SIGTERM after step 30: checkpoint there, exit 130 */
    harness_proc r = harness_run(train, NULL);
    unsetenv("XOVER_TRAIN_STOP_AT");
    CHECK_INT(r.status, 130);
    harness_proc_free(&r);
    /* damage the second line of metrics.jsonl */
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    char *m = harness_slurp(path, NULL);
    CHECK(m);
    char *l2 = strchr(m, '\n');
    CHECK(l2 && l2[1] == '{');
    l2[2] = '#';
    harness_write(path, m);
    free(m);
    r = harness_run(train, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "that is not metrics, before the checkpoint's step 30");
    harness_proc_free(&r);
    snprintf(path, sizeof path, "%s/log", dir);
    char *log = harness_slurp(path, NULL);
    CHECK_CONTAINS(log, "dropped 1 line of ");
    CHECK_CONTAINS(log, "that is not metrics, before the checkpoint's step 30 (the first, line 2: '{#");
    free(log);
}

static void flip_byte(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/f/%s/%s", g_runs, g_key, name);
    FILE *f = fopen(path, "r+b");
    if (!f) return;
    fseek(f, 100, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 100, SEEK_SET);
    fputc(c ^ 1, f);
    fclose(f);
}

TEST(reliability_no_good_checkpoint_restarts_from_scratch_and_says_so)
{
    CHECK(reference() == 0);
    char *before = run_file("metrics.jsonl");
    CHECK(before);
    flip_byte("checkpoint");
    flip_byte("checkpoint.prev");
    char dir[1024], cfg[1100];
    snprintf(dir, sizeof dir, "%s/f/%s", g_runs, g_key);
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    const char *argv[] = {harness_xover(), "train", "--config", cfg, "--out", dir, NULL};
    harness_proc r = harness_run(argv, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "no good checkpoint left: starting from scratch");
    harness_proc_free(&r);
    char *log = run_file("log");
    CHECK_CONTAINS(log, "checkpoint.prev: checksum mismatch");
    CHECK_CONTAINS(log, "no good checkpoint left: starting from scratch");
    free(log);
    CHECK(run_file_exists("checkpoint.bad") && run_file_exists("checkpoint.prev.bad"));
    /* trained again from step 0: the same metrics, byte for byte */
    char *after = run_file("metrics.jsonl");
    CHECK(after && !strcmp(before, after));
    free(before);
    free(after);
    free(g_ref);
}

TEST(reliability_second_driver_refuses_and_readers_never_see_locked)
{
    harness_path(g_db, sizeof g_db, "two.db");
    harness_path(g_runs, sizeof g_runs, "runs");
    harness_path(g_sweep, sizeof g_sweep, "two.yaml");
    rel_write_sweep("two.yaml", "two", "objective: [ar, mdm], unique_tokens: [4k], total_tokens: [160k]");
    char log[512];
    harness_path(log, sizeof log, "a.log");
    pid_t a = rel_spawn(g_sweep, g_db, g_runs, NULL, log);
    /* wait until the first driver has a worker (it holds the lock by then) */
    int running = 0;
    for (int i = 0; i < 1000 && !running; i++) {
        rel_sleep_ms(10);
        running = helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'running'") > 0;
    }
    CHECK(running);
    harness_proc b = rel_run(g_sweep, g_db, g_runs, NULL);
    CHECK_INT(b.status, 1);
    char host[256], who[1024];
    gethostname(host, sizeof host);
    snprintf(who, sizeof who, "is already being run on %s by xover pid %d on host %s", g_db, (int)a, host);
    CHECK_CONTAINS(b.err, who);
    harness_proc_free(&b);
    /* readers while it writes: xover sql and the sqlite3 shell */
    int reads = 0, st;
    while (waitpid(a, &st, WNOHANG) == 0 && reads < 400) {
        const char *x[] = {harness_xover(), "sql", "SELECT count(*) FROM metrics", "--db", g_db, NULL};
        harness_proc p = harness_run(x, NULL);
        CHECK_INT(p.status, 0);
        CHECK(!strstr(p.err, "locked") && !strstr(p.err, "busy"));
        harness_proc_free(&p);
        const char *s[] = {"sqlite3", g_db, "SELECT count(*) FROM metrics; SELECT count(*) FROM runs;", NULL};
        p = harness_run(s, NULL);
        if (p.status) fprintf(stderr, "sqlite3: %s", p.err);
        CHECK_INT(p.status, 0);
        CHECK(!strstr(p.err, "locked"));
        harness_proc_free(&p);
        reads += 2;
    }
    waitpid(a, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    fprintf(stderr, "readers: %d reads during the sweep\n", reads);
    CHECK(reads >= 2);
    /* the lock went with the first driver: a second one now may run */
    b = rel_run(g_sweep, g_db, g_runs, NULL);
    CHECK_INT(b.status, 0);
    CHECK_CONTAINS(b.out, "nothing to run: 2 runs done");
    harness_proc_free(&b);
}
