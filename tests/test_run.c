/*
 * test_run.c — `xover run`: a sweep end to end with the built-in trainer,
 * a second run doing nothing, --retry-failed, external trainers (JSON Lines
 * and regex), non-finite losses, timeouts, --only, --dry-run, Ctrl-C
 * then resume giving the metrics of an uninterrupted run, and a run two
 * sweeps share trained once.
 */
#include "tests/harness.h"
#include "tests/helpers.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char g_db[512], g_runs[512];

static void paths(void)
{
    harness_path(g_db, sizeof g_db, "x.db");
    harness_path(g_runs, sizeof g_runs, "runs");
}

static harness_proc xrun(const char *sweep, const char *a1, const char *a2, const char *a3)
{
    const char *argv[] = {harness_xover(), "run", sweep, "--db", g_db, "--runs-dir", g_runs, "-j", "2",
                          a1, a2, a3, NULL};
    return harness_run(argv, NULL);
}

static long long q(const char *sql) { return helper_qint(g_db, sql); }

TEST(run_smoke_end_to_end_then_nothing_to_do)
{
    paths();
    harness_proc r = xrun("experiments/smoke.yaml", NULL, NULL, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "sweep smoke: 4 done, 0 failed");
    harness_proc_free(&r);
    CHECK_INT(q("SELECT count(*) FROM runs WHERE status = 'done'"), 4);
    CHECK_INT(q("SELECT count(DISTINCT objective) FROM runs"), 2);
    /* both objectives have validation losses at several steps, in the db */
    CHECK(q("SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id "
            "WHERE r.objective = 'mdm' AND m.name = 'val_loss'") >= 4);
    CHECK(q("SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id "
            "WHERE r.objective = 'ar' AND m.name = 'val_loss'") >= 4);
    /* the final AR loss is below the initial one: it trained */
    CHECK_INT(q("SELECT count(*) FROM runs r WHERE r.objective = 'ar' AND "
                "(SELECT value FROM metrics WHERE run_id = r.id AND name = 'val_loss' ORDER BY step DESC LIMIT 1) < "
                "(SELECT value FROM metrics WHERE run_id = r.id AND name = 'val_loss' ORDER BY step LIMIT 1)"), 2);
    CHECK_INT(q("SELECT count(*) FROM sweep_runs"), 4);
    CHECK_INT(q("SELECT count(*) FROM runs WHERE run_dir LIKE '%/runs/smoke/' || key"), 4);
    long long points = q("SELECT count(*) FROM metrics");
    /* each run directory holds its config.json and final status */
    const char *la[] = {"/bin/sh", "-c", "cat \"$0\"/smoke/*/status | grep -c '^done$'; ls \"$0\"/smoke/*/config.json | wc -l",
                        g_runs, NULL};
    harness_proc c = harness_run(la, NULL);
    CHECK_STR(c.out, "4\n4\n");
    harness_proc_free(&c);

    /* a second run does nothing and changes nothing */
    r = xrun("experiments/smoke.yaml", NULL, NULL, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "nothing to run: 4 runs done, 0 failed");
    harness_proc_free(&r);
    CHECK_INT(q("SELECT sum(attempts) FROM runs"), 4);
    CHECK_INT(q("SELECT count(*) FROM metrics"), points);
}

static void write_sweep(const char *name, const char *body)
{
    char path[512];
    harness_path(path, sizeof path, name);
    char *text = malloc(strlen(body) + 2048);
    sprintf(text, body, helper_fake_trainer());
    harness_write(path, text);
    free(text);
}

TEST(run_external_jsonl_and_retry_failed_reruns_only_failed)
{
    paths();
    write_sweep("e.yaml", "sweep: ext\n"
                          "models: {xs: {layers: 1, dim: 16, heads: 2}}\n"
                          "grid: {objective: ar, lr: [1e-3, 2e-3], flag: [--ok, --fail]}\n"
                          "trainer: {command: ['%s', '{run_dir}', jsonl, '12', '{lr}', '{flag}']}\n");
    char sweep[512];
    harness_path(sweep, sizeof sweep, "e.yaml");
    harness_proc r = xrun(sweep, NULL, NULL, NULL);
    CHECK_INT(r.status, 1);
    CHECK_CONTAINS(r.err, "FAILED");
    harness_proc_free(&r);
    CHECK_INT(q("SELECT count(*) FROM runs WHERE status = 'done'"), 2);
    CHECK_INT(q("SELECT count(*) FROM runs WHERE status = 'failed' AND error LIKE "
                "'exit code 3: error: this configuration is refused on purpose%'"), 2);
    CHECK_INT(q("SELECT count(*) FROM runs WHERE status = 'failed' AND log_tail LIKE '%refused on purpose%'"), 2);
    /* 12 points per done run, the loss a function of (lr, step) */
    CHECK_INT(q("SELECT count(*) FROM metrics WHERE name = 'train_loss'"), 24);
    CHECK_INT(q("SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE m.step = 12 AND "
                "abs(m.value - 10.0 / (1 + json_extract(r.config, '$.train.lr') * 12000)) < 1e-12"), 2);
    CHECK_INT(q("SELECT count(*) FROM metrics WHERE tokens = step * 100"), 24);

    /* without --retry-failed: nothing to run, still a failure */
    r = xrun(sweep, NULL, NULL, NULL);
    CHECK_INT(r.status, 1);
    CHECK_CONTAINS(r.out, "nothing to run: 2 runs done, 2 failed (--retry-failed reruns them)");
    harness_proc_free(&r);
    /* --retry-failed reruns the two failed runs and nothing else */
    r = xrun(sweep, "--retry-failed", NULL, NULL);
    CHECK_INT(r.status, 1);
    harness_proc_free(&r);
    CHECK_INT(q("SELECT count(*) FROM runs WHERE status = 'failed' AND attempts = 2"), 2);
    CHECK_INT(q("SELECT count(*) FROM runs WHERE status = 'done' AND attempts = 1"), 2);
}

TEST(run_external_regex_metrics)
{
    paths();
    write_sweep("r.yaml", "sweep: rx\n"
                          "models: {xs: {layers: 1, dim: 16, heads: 2}}\n"
                          "grid: {objective: [ar, mdm], steps: [7, 9]}\n"
                          "trainer:\n"
                          "  command: ['%s', '{run_dir}', text, '{steps}', '0.002']\n"
                          "  metrics: {regex: 'step (?<step>\\d+) loss (?<train_loss>[\\d.]+)'}\n");
    char sweep[512];
    harness_path(sweep, sizeof sweep, "r.yaml");
    harness_proc r = xrun(sweep, NULL, NULL, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    CHECK_INT(q("SELECT count(*) FROM runs WHERE status = 'done'"), 4);
    CHECK_INT(q("SELECT count(*) FROM metrics WHERE name = 'train_loss'"), 2 * (7 + 9));
    CHECK_INT(q("SELECT count(*) FROM metrics WHERE abs(value - 10.0 / (1 + 2.0 * step)) < 1e-12"), 32);
    /* the free axis `steps` is part of the key: four distinct runs */
    CHECK_INT(q("SELECT count(DISTINCT key) FROM runs"), 4);
}

TEST(run_nonfinite_loss_and_timeout_fail_the_run)
{
    paths();
    write_sweep("n.yaml", "sweep: nan\n"
                          "models: {xs: {layers: 1, dim: 16, heads: 2}}\n"
                          "grid: {objective: ar, extra: ['--nan-at', '--sleep']}\n"
                          "trainer: {command: ['%s', '{run_dir}', jsonl, '40', '0.001', '{extra}', '5']}\n");
    char sweep[512];
    harness_path(sweep, sizeof sweep, "n.yaml");
    /* 4 s, not 1: under load (a load average of 10) the NaN run's Python
     * start alone took 1.5 s and it timed out before its NaN. The sleeping
     * run sleeps 5 s a step, so it cannot end before any timeout under 5 s. */
    harness_proc r = xrun(sweep, "--timeout", "4s", NULL);
    CHECK_INT(r.status, 1);
    harness_proc_free(&r);
    CHECK_INT(q("SELECT count(*) FROM runs WHERE status = 'failed' AND error = 'train_loss is not finite at step 5'"), 1);
    CHECK_INT(q("SELECT count(*) FROM runs WHERE status = 'failed' AND error = 'timed out after 4s'"), 1);
}

TEST(run_only_and_dry_run)
{
    paths();
    write_sweep("o.yaml", "sweep: only\n"
                          "models: {xs: {layers: 1, dim: 16, heads: 2}}\n"
                          "grid: {objective: ar, lr: [1e-3, 2e-3, 3e-3]}\n"
                          "trainer: {command: ['%s', '{run_dir}', jsonl, '3', '{lr}']}\n");
    char sweep[512];
    harness_path(sweep, sizeof sweep, "o.yaml");
    const char *pa[] = {harness_xover(), "plan", sweep, "--format", "json", "--db", g_db, NULL};
    harness_proc p = harness_run(pa, NULL);
    CHECK_INT(p.status, 0);
    const char *k = strstr(p.out, "\"key\":\"");
    CHECK(k);
    char prefix[9];
    memcpy(prefix, k + 7, 8);
    prefix[8] = 0;
    harness_proc_free(&p);
    harness_proc r = xrun(sweep, "--dry-run", NULL, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "would run 3 runs");
    harness_proc_free(&r);
    CHECK(access(g_db, F_OK) != 0); /* a dry run writes nothing (run_dry_run_writes_nothing) */
    r = xrun(sweep, "--only", prefix, NULL);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    CHECK_INT(q("SELECT count(*) FROM runs WHERE status = 'done'"), 1);
    char like[160];
    snprintf(like, sizeof like, "SELECT count(*) FROM runs WHERE status = 'done' AND key LIKE '%s%%'", prefix);
    CHECK_INT(q(like), 1);
    r = xrun(sweep, "--only", "ffffffffffff", NULL);
    CHECK_INT(r.status, 2);
    CHECK_CONTAINS(r.err, "no run of sweep only has a key starting so");
    harness_proc_free(&r);
    r = xrun(sweep, "--timeout", "soon", NULL);
    CHECK_INT(r.status, 2);
    harness_proc_free(&r);
}

/* One `--only a,b,c,...` holds many keys: the list was kept in an array of
 * argc entries, and 24 keys in one argument wrote past its end (a heap
 * overflow that a sweep's own `--only $(keys of one seed)` hit). */
TEST(run_only_takes_a_long_comma_list)
{
    paths();
    write_sweep("l.yaml", "sweep: long\n"
                          "models: {xs: {layers: 1, dim: 16, heads: 2}}\n"
                          "grid: {objective: ar, lr: [1e-3, 2e-3, 3e-3]}\n"
                          "trainer: {command: ['%s', '{run_dir}', jsonl, '3', '{lr}']}\n");
    char sweep[512];
    harness_path(sweep, sizeof sweep, "l.yaml");
    const char *pa[] = {harness_xover(), "plan", sweep, "--format", "json", "--db", g_db, NULL};
    harness_proc p = harness_run(pa, NULL);
    CHECK_INT(p.status, 0);
    const char *k = strstr(p.out, "\"key\":\"");
    CHECK(k);
    /* the first run's key, 24 times over in prefixes of 8..31 characters */
    char list[24 * 33] = "";
    for (int n = 8; k && n < 32; n++) {
        if (n > 8) strcat(list, ",");
        strncat(list, k + 7, (size_t)n);
    }
    harness_proc_free(&p);
    harness_proc r = xrun(sweep, "--dry-run", "--only", list);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "would run 1 runs");
    harness_proc_free(&r);
}

/* `xover run --dry-run` registered the sweep and its runs as pending: a
 * look that changed the database. It now opens it read-only (or not at
 * all when there is none) and says what it would do from what is there. */
TEST(run_dry_run_writes_nothing)
{
    paths();
    write_sweep("a.yaml", "sweep: a\n"
                          "models: {xs: {layers: 1, dim: 16, heads: 2}}\n"
                          "grid: {objective: ar, lr: [1e-3]}\n"
                          "trainer: {command: ['%s', '{run_dir}', jsonl, '3', '{lr}']}\n");
    write_sweep("b.yaml", "sweep: b\n"
                          "models: {xs: {layers: 1, dim: 16, heads: 2}}\n"
                          "grid: {objective: ar, lr: [1e-3, 2e-3]}\n"
                          "trainer: {command: ['%s', '{run_dir}', jsonl, '3', '{lr}']}\n");
    char a[512], b[512], wal[600];
    harness_path(a, sizeof a, "a.yaml");
    harness_path(b, sizeof b, "b.yaml");
    snprintf(wal, sizeof wal, "%s-wal", g_db);
    /* no database: none is created */
    harness_proc r = xrun(b, "--dry-run", NULL, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "would run 2 runs");
    harness_proc_free(&r);
    CHECK(access(g_db, F_OK) != 0);
    /* sweep a trains the run b shares with it; b's dry run sees it done */
    r = xrun(a, NULL, NULL, NULL);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    size_t n0 = 0, w0 = 0, n1 = 0, w1 = 0;
    char *db0 = harness_slurp(g_db, &n0), *wal0 = harness_slurp(wal, &w0);
    r = xrun(b, "--dry-run", NULL, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "would run 1 runs on 2 workers (1 done, 0 failed not retried)");
    CHECK_CONTAINS(r.out, " new ");
    harness_proc_free(&r);
    const char *slurm[] = {harness_xover(), "run", b, "--db", g_db, "--runs-dir", g_runs, "--backend", "slurm",
                           "--dry-run", NULL};
    r = harness_run(slurm, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "would submit 1 runs");
    harness_proc_free(&r);
    char *db1 = harness_slurp(g_db, &n1), *wal1 = harness_slurp(wal, &w1);
    int same = db0 && db1 && n0 == n1 && !memcmp(db0, db1, n0) && w0 == w1 && (!w0 || !memcmp(wal0, wal1, w0));
    free(db0);
    free(db1);
    free(wal0);
    free(wal1);
    CHECK(same);
    CHECK_INT(q("SELECT count(*) FROM sweeps WHERE name = 'b'"), 0);
    CHECK_INT(q("SELECT count(*) FROM runs"), 1);
}

/* Start `xover run` in the background with its output in files. */
static pid_t spawn_run_j(const char *sweep, const char *dbp, const char *runs, const char *jobs)
{
    char out[512];
    harness_path(out, sizeof out, "driver.log");
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(out, "a", stderr);
        (void)f;
        f = freopen("/dev/null", "w", stdout);
        (void)f;
        execl(harness_xover(), harness_xover(), "run", sweep, "--db", dbp, "--runs-dir", runs, "-j", jobs,
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

static pid_t spawn_run(const char *sweep, const char *dbp, const char *runs)
{
    return spawn_run_j(sweep, dbp, runs, "2");
}

static int count_lines(const char *path)
{
    size_t n;
    char *t = harness_slurp(path, &n);
    int lines = 0;
    for (size_t i = 0; t && i < n; i++) lines += t[i] == '\n';
    free(t);
    return lines;
}

TEST(run_ctrl_c_then_resume_equals_uninterrupted)
{
    paths();
    char sweep[512];
    harness_path(sweep, sizeof sweep, "c.yaml");
    CHECK_INT(harness_write(sweep, "sweep: cc\n"
                                   "data: {corpus: synthetic, vocab: 300, val_tokens: 2k}\n"
                                   "models: {xxs: {layers: 1, dim: 16, heads: 2}}\n"
                                   "train: {seq_len: 32, batch: 8, lr: 3e-3, eval_every: 50 steps, eval_draws: 1}\n"
                                   "grid: {objective: [ar, mdm], unique_tokens: [4k], epochs: [48]}\n"), 0);
    /* the uninterrupted reference */
    char ref_db[512], ref_runs[512];
    harness_path(ref_db, sizeof ref_db, "ref.db");
    harness_path(ref_runs, sizeof ref_runs, "ref-runs");
    const char *argv[] = {harness_xover(), "run", sweep, "--db", ref_db, "--runs-dir", ref_runs, "-j", "2", NULL};
    harness_proc r = harness_run(argv, NULL);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);

    /* interrupted once both runs have written some metrics */
    pid_t pid = spawn_run(sweep, g_db, g_runs);
    CHECK(pid > 0);
    char m1[1024], m2[1024];
    int waited = 0;
    for (;;) {
        snprintf(m1, sizeof m1, "%s/cc", g_runs);
        /* metrics files of both runs, whatever their keys */
        int ready = 0;
        const char *la[] = {"/bin/sh", "-c", "cat \"$0\"/*/metrics.jsonl 2>/dev/null | wc -l", m1, NULL};
        harness_proc c = harness_run(la, NULL);
        ready = atoi(c.out) >= 6;
        harness_proc_free(&c);
        if (ready || waited > 600) break;
        usleep(10000);
        waited++;
    }
    (void)m2;
    kill(pid, SIGINT);
    int ws;
    CHECK(waitpid(pid, &ws, 0) == pid);
    CHECK(WIFEXITED(ws));
    CHECK_INT(WEXITSTATUS(ws), 130);
    char drv[512];
    harness_path(drv, sizeof drv, "driver.log");
    long long interrupted = q("SELECT count(*) FROM runs WHERE status = 'interrupted'");
    long long done = q("SELECT count(*) FROM runs WHERE status = 'done'");
    CHECK_INT(interrupted + done, 2);
    CHECK(interrupted >= 1);
    CHECK(count_lines(drv) > 0);

    /* the next run resumes and ends with exactly the reference's metrics */
    r = xrun(sweep, NULL, NULL, NULL);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    CHECK_INT(q("SELECT count(*) FROM runs WHERE status = 'done'"), 2);
    CHECK(q("SELECT max(attempts) FROM runs") == 2);
    char *a = helper_dump_metrics(ref_db), *b = helper_dump_metrics(g_db);
    CHECK(a && b);
    CHECK(strlen(a) > 1000);
    int same = !strcmp(a, b);
    if (!same) fprintf(stderr, "reference:\n%.2000s\nresumed:\n%.2000s\n", a, b);
    free(a);
    free(b);
    CHECK(same);
}

/* Two sweeps share a run S of `s_ep` epochs. Sweep b (one worker) plans S
 * while it is still pending and first trains its own run L of `l_ep` epochs;
 * once L is running, sweep a trains S in a's directory (in the background
 * when `a_bg`). When b reaches S it must follow S to a's directory instead
 * of training it again in its own: wait there while a's worker holds it,
 * then skip it as done, leaving no empty directory in b's runs. Returns b's
 * driver log. */
static char *shared_run(int l_ep, int s_ep, int a_bg)
{
    paths();
    const char *common = "data: {corpus: synthetic, vocab: 300, val_tokens: 2k}\n"
                         "models: {xxs: {layers: 1, dim: 16, heads: 2}}\n"
                         "train: {seq_len: 32, batch: 8, lr: 3e-3, eval_every: 1 epoch, eval_draws: 1}\n";
    char a[512], b[512], text[1024];
    harness_path(a, sizeof a, "a.yaml");
    harness_path(b, sizeof b, "b.yaml");
    snprintf(text, sizeof text, "sweep: b\n%sgrid: {objective: [ar], unique_tokens: [4k], epochs: [%d, %d]}\n",
             common, l_ep, s_ep);
    if (harness_write(b, text)) return NULL;
    snprintf(text, sizeof text, "sweep: a\n%sgrid: {objective: [ar], unique_tokens: [4k], epochs: [%d]}\n",
             common, s_ep);
    if (harness_write(a, text)) return NULL;

    pid_t pb = spawn_run_j(b, g_db, g_runs, "1");
    for (int i = 0; i < 3000 && q("SELECT count(*) FROM runs WHERE status = 'running'") != 1; i++)
        usleep(10000);
    if (q("SELECT count(*) FROM runs WHERE status = 'running'") != 1) return NULL;
    int ws, ok = 1;
    if (a_bg) {
        pid_t pa = spawn_run_j(a, g_db, g_runs, "1");
        ok = waitpid(pa, &ws, 0) == pa && WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
    } else {
        harness_proc r = xrun(a, NULL, NULL, NULL);
        ok = r.status == 0;
        harness_proc_free(&r);
    }
    ok = waitpid(pb, &ws, 0) == pb && WIFEXITED(ws) && WEXITSTATUS(ws) == 0 && ok;
    char drv[512];
    harness_path(drv, sizeof drv, "driver.log");
    return ok ? harness_slurp(drv, NULL) : NULL;
}

/* S's directory under sweep `sw` exists (1) or not (0). */
static int s_dir_in(const char *sw, int s_ep)
{
    char sql[256], dir[1024];
    snprintf(sql, sizeof sql, "SELECT key FROM runs WHERE config LIKE '%%\"epochs\":%d,%%'", s_ep);
    char *key = helper_qtext(g_db, sql);
    if (!key || strlen(key) < 64) return free(key), -1;
    key[64] = 0;
    snprintf(dir, sizeof dir, "%s/%s/%s", g_runs, sw, key);
    free(key);
    struct stat st;
    return stat(dir, &st) == 0;
}

TEST(run_shared_run_done_by_another_sweep_is_skipped_cleanly)
{
    /* L (80 epochs) outlasts S (2): S is done before b reaches it */
    char *log = shared_run(80, 2, 0);
    CHECK(log != NULL);
    CHECK_CONTAINS(log, "done meanwhile by another driver");
    free(log);
    CHECK_INT(q("SELECT count(*) FROM runs WHERE status = 'done'"), 2);
    CHECK_INT(q("SELECT attempts FROM runs WHERE config LIKE '%\"epochs\":2,%'"), 1);
    CHECK_INT(s_dir_in("a", 2), 1);
    CHECK_INT(s_dir_in("b", 2), 0);
}

TEST(run_shared_run_still_training_elsewhere_is_waited_for_not_trained_twice)
{
    /* L (2 epochs) ends while a still trains S (160): b must wait for it */
    char *log = shared_run(2, 160, 1);
    CHECK(log != NULL);
    CHECK_CONTAINS(log, "waiting for");
    CHECK_CONTAINS(log, "done meanwhile by another driver");
    free(log);
    CHECK_INT(q("SELECT count(*) FROM runs WHERE status = 'done'"), 2);
    CHECK_INT(q("SELECT attempts FROM runs WHERE config LIKE '%\"epochs\":160,%'"), 1);
    CHECK_INT(s_dir_in("a", 160), 1);
    CHECK_INT(s_dir_in("b", 160), 0);
}
