/*
 * test_anneal_run.c — annealed branches trained (docs/sweep.md): a branch
 * is bit for bit the standalone warmup-stable-decay run of its length; the
 * driver runs the dependency graph (no branch before its fork exists, a
 * trunk that fails leaves its later branches pending, kill -9 of the driver
 * or of a trunk or branch worker changes nothing); the early-stopping rule
 * of a family stops its trunk at the same step however the runs are
 * scheduled. The Slurm side is in test_slurm.c.
 */
#include "tests/reliability.h"

#include "orchestrator/run/anneal.h"

#include <jansson.h>
#include <dirent.h>
#include <sys/stat.h>

/* A family of tiny runs: 125 sequences per epoch in batches of 4 (31.25
 * steps an epoch), points 2, 3 and 5 epochs forking at steps 48, 71 and 118
 * with decay_frac 0.25; train lines every 3 steps (log_every 0.1), so the
 * forks at 71 and 118 fall inside a train-loss window; a warmup of 15
 * steps; evaluations 3 per doubling plus 4 through each cooldown; residual
 * dropout, so that the run's random stream matters too. */
static void write_family(const char *file, const char *name, const char *objectives, const char *extra)
{
    char path[1024], text[2048];
    harness_path(path, sizeof path, file);
    snprintf(text, sizeof text,
             "sweep: %s\n"
             "data: {corpus: synthetic, vocab: 300, val_tokens: 2k, unique_tokens: 4k}\n"
             "models: {t: {layers: 1, dim: 16, heads: 2}}\n"
             "train: {seq_len: 32, batch: 4, lr: 5e-3, anneal_at: [2, 3, 5], decay_frac: 0.25, warmup_epochs: 0.5,\n"
             "        log_every: 0.1, eval_every: 3 per doubling, eval_draws: 2, resid_dropout: 0.1%s}\n"
             "grid: {objective: [%s]}\n",
             name, extra, objectives);
    harness_write(path, text);
}

static harness_proc run_j(const char *sweep, const char *db, const char *runs, const char *jobs, const char *extra)
{
    const char *argv[] = {harness_xover(), "run", sweep, "--db", db, "--runs-dir", runs, "-j", jobs, extra, NULL};
    return harness_run(argv, NULL);
}

/* The metrics lines of a file with step in (lo, hi], in order. */
static char *lines_between(const char *path, long long lo, long long hi)
{
    char *t = harness_slurp(path, NULL), *out = calloc(1, t ? strlen(t) + 1 : 1);
    if (!t || !out) {
        free(t);
        return out;
    }
    for (char *l = t; *l;) {
        char *nl = strchr(l, '\n');
        if (!nl) break;
        long long step;
        if (sscanf(l, "{\"step\":%lld", &step) == 1 && step > lo && step <= hi) strncat(out, l, (size_t)(nl - l + 1));
        l = nl + 1;
    }
    free(t);
    return out;
}

/* How many XOVER_FAULT markers of `kind` the run directories under
 * RUNS/SWEEP/ hold: one per fault that fired (fault.c makes each once). */
static int count_fault_markers(const char *runs, const char *kind)
{
    char sweep_dir[1024], pat[64];
    snprintf(sweep_dir, sizeof sweep_dir, "%s/kill", runs);
    snprintf(pat, sizeof pat, ".fault-%s-", kind);
    int n = 0;
    DIR *d = opendir(sweep_dir);
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char run_dir[1400];
        snprintf(run_dir, sizeof run_dir, "%s/%s", sweep_dir, e->d_name);
        DIR *rd = opendir(run_dir);
        if (!rd) continue;
        for (struct dirent *f; (f = readdir(rd));)
            if (!strncmp(f->d_name, pat, strlen(pat))) n++;
        closedir(rd);
    }
    closedir(d);
    return n;
}

static int same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *x = harness_slurp(a, &na), *y = harness_slurp(b, &nb);
    int same = x && y && na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

TEST(anneal_branch_equals_the_standalone_run_bit_for_bit)
{
    char sweep[512], db[512], runs[512];
    harness_path(sweep, sizeof sweep, "fam.yaml");
    harness_path(db, sizeof db, "fam.db");
    harness_path(runs, sizeof runs, "runs");
    write_family("fam.yaml", "fam", "ar, mdm", "");
    harness_proc r = run_j(sweep, db, runs, "2", NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    CHECK_INT(helper_qint(db, "SELECT count(*) FROM runs WHERE status = 'done'"), 8);
    CHECK_INT(helper_qint(db, "SELECT count(*) FROM runs WHERE role = 'branch' AND parent_id IN "
                              "(SELECT id FROM runs WHERE role = 'trunk')"), 6);
    CHECK_INT(helper_qint(db, "SELECT count(*) FROM runs WHERE role = 'branch' AND fork_step IN (48, 71, 118)"), 6);
    char *rows = helper_qtext(db, "SELECT b.run_dir, b.fork_step, t.run_dir FROM runs b JOIN runs t ON t.id = b.parent_id "
                                  "ORDER BY b.id");
    CHECK(rows);
    int n = 0;
    for (char *line = rows; *line; n++) {
        char *nl = strchr(line, '\n');
        *nl = 0;
        char bdir[1024], tdir[1024];
        long long fork;
        if (sscanf(line, "%1023s %lld %1023s", bdir, &fork, tdir) != 3) break;
        line = nl + 1;
        /* the standalone run: the branch's config without branch_of */
        char cfgpath[1100], sa_cfg[512], sa_dir[512], name[64];
        snprintf(cfgpath, sizeof cfgpath, "%s/config.json", bdir);
        json_t *cfg = json_load_file(cfgpath, 0, NULL);
        if (!cfg) free(rows);
        CHECK(cfg);
        json_object_del(json_object_get(cfg, "train"), "branch_of");
        snprintf(name, sizeof name, "standalone-%d.json", n);
        harness_path(sa_cfg, sizeof sa_cfg, name);
        json_dump_file(cfg, sa_cfg, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        json_decref(cfg);
        snprintf(name, sizeof name, "standalone-%d", n);
        harness_path(sa_dir, sizeof sa_dir, name);
        const char *argv[] = {harness_xover(), "train", "--config", sa_cfg, "--out", sa_dir, NULL};
        harness_proc t = harness_run(argv, NULL);
        int ok = t.status == 0;
        if (!ok) fprintf(stderr, "%s", t.err);
        harness_proc_free(&t);
        if (!ok) free(rows);
        CHECK(ok);
        /* the same final checkpoint, byte for byte */
        char a[1100], b[1100];
        snprintf(a, sizeof a, "%s/checkpoint", bdir);
        snprintf(b, sizeof b, "%s/checkpoint", sa_dir);
        int same = same_file(a, b);
        if (!same) fprintf(stderr, "    %s differs from the standalone run's\n", a);
        /* the same metrics after the fork (train lines, the cooldown's
         * evaluations, the last one), and the trunk's up to it */
        snprintf(a, sizeof a, "%s/metrics.jsonl", bdir);
        snprintf(b, sizeof b, "%s/metrics.jsonl", sa_dir);
        char *x = lines_between(a, fork, 1000000), *y = lines_between(b, fork, 1000000);
        int after = x && y && strlen(x) > 200 && !strcmp(x, y);
        free(x);
        free(y);
        snprintf(a, sizeof a, "%s/metrics.jsonl", tdir);
        x = lines_between(a, -1, fork);
        y = lines_between(b, -1, fork);
        int before = x && y && *x && !strcmp(x, y);
        free(x);
        free(y);
        if (!same || !after || !before) free(rows);
        CHECK(same);
        CHECK(after);
        CHECK(before);
    }
    free(rows);
    CHECK_INT(n, 6);
    /* the branch's metrics continue the trunk's counts: from after its
     * fork, with the trunk's tokens per step */
    CHECK_INT(helper_qint(db, "SELECT count(*) FROM runs b WHERE b.role = 'branch' AND "
                              "(SELECT min(step) FROM metrics m WHERE m.run_id = b.id) > b.fork_step AND "
                              "(SELECT count(*) FROM metrics m WHERE m.run_id = b.id AND m.tokens <> m.step * 128) = 0"),
              6);
    /* dense evaluations through each cooldown: 4 of them, the last at the end */
    CHECK_INT(helper_qint(db, "SELECT count(*) FROM runs b WHERE b.role = 'branch' AND "
                              "(SELECT count(*) FROM metrics m WHERE m.run_id = b.id AND m.name = 'val_loss') >= 4 AND "
                              "(SELECT max(step) FROM metrics m WHERE m.run_id = b.id AND m.name = 'val_loss') = "
                              "(SELECT max(step) FROM metrics m WHERE m.run_id = b.id)"), 6);
}

/* The Unix time of an ISO-8601 UTC text of the database ("...T..:..:..sssZ"). */
static double iso_time(const char *iso)
{
    struct tm tm = {0};
    double frac = 0;
    int y, mo, d, h, mi;
    double s;
    if (sscanf(iso, "%d-%d-%dT%d:%d:%lfZ", &y, &mo, &d, &h, &mi, &s) != 6) return -1;
    tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d, tm.tm_hour = h, tm.tm_min = mi;
    tm.tm_sec = (int)s;
    frac = s - (int)s;
    return (double)timegm(&tm) + frac;
}

TEST(anneal_driver_starts_no_branch_before_its_fork_exists)
{
    char sweep[512], db[512], runs[512];
    harness_path(sweep, sizeof sweep, "dag.yaml");
    write_family("dag.yaml", "dag", "ar, mdm", "");
    static const char *const jobs[] = {"1", "2"};
    for (int k = 0; k < 2; k++) {
        char name[32];
        snprintf(name, sizeof name, "dag%d.db", k);
        harness_path(db, sizeof db, name);
        snprintf(name, sizeof name, "runs%d", k);
        harness_path(runs, sizeof runs, name);
        harness_proc r = run_j(sweep, db, runs, jobs[k], NULL);
        if (r.status) fprintf(stderr, "%s", r.err);
        CHECK_INT(r.status, 0);
        harness_proc_free(&r);
        char *rows = helper_qtext(db, "SELECT b.key, b.started_at, t.run_dir FROM runs b JOIN runs t "
                                      "ON t.id = b.parent_id ORDER BY b.id");
        CHECK(rows);
        int n = 0, ok = 1;
        for (char *line = rows; *line && ok; n++) {
            char *nl = strchr(line, '\n');
            *nl = 0;
            char key[65], started[64], tdir[1024], fork[1200];
            ok = sscanf(line, "%64s %63s %1023s", key, started, tdir) == 3;
            line = nl + 1;
            struct stat st;
            anneal_fork_path(tdir, key, fork, sizeof fork);
            ok = ok && stat(fork, &st) == 0;
            double made = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec * 1e-9;
            /* the database's times have millisecond precision */
            if (ok && iso_time(started) + 0.002 < made) {
                fprintf(stderr, "    branch %.12s started at %s, before its fork was written (%.3f)\n", key, started,
                        made);
                ok = 0;
            }
        }
        free(rows);
        CHECK(ok);
        CHECK_INT(n, 6);
    }
    /* the two schedules give the same numbers */
    char a[512], b[512];
    harness_path(a, sizeof a, "dag0.db");
    harness_path(b, sizeof b, "dag1.db");
    char *x = rel_dump_metrics(a), *y = rel_dump_metrics(b);
    int same = x && y && !strcmp(x, y);
    free(x);
    free(y);
    CHECK(same);
    /* `xover rm` of a trunk takes its branches (rows and directories) along */
    char *tkey = helper_qtext(b, "SELECT substr(key, 1, 16) FROM runs WHERE role = 'trunk' AND objective = 'ar'");
    CHECK(tkey);
    tkey[strcspn(tkey, " \n")] = 0;
    const char *rm[] = {harness_xover(), "rm", tkey, "--db", b, "--yes", NULL};
    harness_proc r = harness_run(rm, NULL);
    free(tkey);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "and its 3 annealed branches");
    harness_proc_free(&r);
    CHECK_INT(helper_qint(b, "SELECT count(*) FROM runs WHERE objective = 'ar'"), 0);
    CHECK_INT(helper_qint(b, "SELECT count(*) FROM runs WHERE objective = 'mdm'"), 4);
}

TEST(anneal_failed_trunk_leaves_later_branches_pending_then_resumes)
{
    char sweep[512], db[512], runs[512], ref_db[512], ref_runs[512];
    harness_path(sweep, sizeof sweep, "fail.yaml");
    harness_path(db, sizeof db, "fail.db");
    harness_path(runs, sizeof runs, "runs");
    harness_path(ref_db, sizeof ref_db, "ref.db");
    harness_path(ref_runs, sizeof ref_runs, "ref-runs");
    write_family("fail.yaml", "fail", "mdm", "");
    harness_proc r = run_j(sweep, ref_db, ref_runs, "2", NULL);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    /* the trunk's loss turns NaN at step 65: past the 2-epoch fork (48),
     * before the others (71, 118); the run fails (not retried) */
    setenv("XOVER_FAULT", "nan@step:65", 1);
    r = run_j(sweep, db, runs, "2", NULL);
    unsetenv("XOVER_FAULT");
    CHECK_INT(r.status, 1);
    CHECK_CONTAINS(r.err, "ended before writing the fork checkpoint");
    CHECK_CONTAINS(r.err, "2 not started");
    harness_proc_free(&r);
    CHECK_INT(helper_qint(db, "SELECT count(*) FROM runs WHERE role = 'trunk' AND status = 'failed'"), 1);
    CHECK_INT(helper_qint(db, "SELECT count(*) FROM runs WHERE role = 'branch' AND status = 'done' AND fork_step = 48"), 1);
    CHECK_INT(helper_qint(db, "SELECT count(*) FROM runs WHERE role = 'branch' AND status = 'pending'"), 2);
    /* retried, the trunk resumes from its checkpoint and the rest follows,
     * with the numbers of a run that never failed */
    r = run_j(sweep, db, runs, "2", "--retry-failed");
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    char *x = rel_dump_metrics(db), *y = rel_dump_metrics(ref_db);
    int same = x && y && !strcmp(x, y);
    free(x);
    free(y);
    CHECK(same);
}

TEST(anneal_kill9_of_the_driver_a_trunk_or_a_branch_loses_nothing)
{
    char sweep[512], db[512], runs[512], ref_db[512], ref_runs[512], log[512];
    harness_path(sweep, sizeof sweep, "kill.yaml");
    harness_path(db, sizeof db, "kill.db");
    harness_path(runs, sizeof runs, "runs");
    harness_path(ref_db, sizeof ref_db, "ref.db");
    harness_path(ref_runs, sizeof ref_runs, "ref-runs");
    harness_path(log, sizeof log, "drivers.log");
    /* AR with the family's early stop (a trunk that waits for branches)
     * and an MDM without, longer than the others so kills land mid-flight */
    write_family("kill.yaml", "kill", "ar, mdm", ", checkpoint_every: 10, early_stop_margin: 0.01");
    harness_proc r = run_j(sweep, ref_db, ref_runs, "2", NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    /* Workers killed by signal 9 right after a step: the trunks and the
     * 2-epoch branches at step 55 (past the first fork), the trunks and the
     * 3-epoch branches at 90 (the AR trunk has waited at 71 for a result),
     * the 5-epoch branches at 130; the driver retries them from their
     * checkpoints (or forks). Meanwhile the driver itself is killed at
     * seeded random moments and started again. */
    setenv("XOVER_FAULT", "kill@step:55,kill@step:90,kill@step:130", 1);
    uint64_t rng = (uint64_t)rel_env_long("XOVER_KILL_SEED", 1) ^ 0xa22ea1;
    int driver_kills = 0;
    for (int round = 0; round < 40; round++) {
        pid_t d = rel_spawn(sweep, db, runs, NULL, log);
        rel_sleep_ms(50 + (long)(rel_rand(&rng) % 400));
        int st;
        if (waitpid(d, &st, WNOHANG) == d) {
            if (WIFEXITED(st) && WEXITSTATUS(st) == 0) break;
            continue;
        }
        kill(d, SIGKILL);
        waitpid(d, &st, 0);
        driver_kills++;
        /* its workers die with it (a moment later): wait for their locks */
        rel_sleep_ms(200);
    }
    /* A last driver, never killed, finishes the sweep with the worker
     * faults still armed: how far the killed drivers got depends on the
     * machine's speed (under load none may reach step 55), so the faults
     * they did not reach fire here and this driver must retry them. */
    r = run_j(sweep, db, runs, "2", NULL);
    unsetenv("XOVER_FAULT");
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    char *drv = harness_slurp(log, NULL);
    int retried = (drv && strstr(drv, "killed by signal 9")) || strstr(r.err, "killed by signal 9");
    free(drv);
    harness_proc_free(&r);
    fprintf(stderr, "    %d driver kills, %d workers killed by their fault\n", driver_kills,
            count_fault_markers(runs, "kill"));
    CHECK(driver_kills >= 1);
    /* Every run longer than 55 steps passes step 55 once (a resume starts
     * at a checkpoint before it), so its marker exists whichever driver
     * was alive; and some driver saw a worker die by signal 9 and went on. */
    CHECK(count_fault_markers(runs, "kill") >= 2);
    CHECK(retried);
    CHECK_INT(helper_qint(db, "SELECT count(*) FROM runs WHERE status = 'done'"),
              helper_qint(ref_db, "SELECT count(*) FROM runs WHERE status = 'done'"));
    CHECK_INT(helper_qint(db, "SELECT count(*) FROM metrics"),
              helper_qint(db, "SELECT count(*) FROM (SELECT DISTINCT run_id, name, step FROM metrics)"));
    char *x = rel_dump_metrics(db), *y = rel_dump_metrics(ref_db);
    int same = x && y && !strcmp(x, y);
    if (!same) fprintf(stderr, "    metrics differ from the uninterrupted sweep's\n");
    free(x);
    free(y);
    CHECK(same);
    /* and every trained run's last checkpoint is the uninterrupted one's */
    char *keys = helper_qtext(ref_db, "SELECT key FROM runs WHERE error IS NULL ORDER BY key");
    CHECK(keys);
    int n = 0, ok = 1;
    for (char *k = keys; *k && ok; n++) {
        char *nl = strchr(k, '\n');
        *nl = 0;
        char a[1100], b[1100];
        k[64] = 0;
        snprintf(a, sizeof a, "%s/kill/%s/checkpoint", runs, k);
        snprintf(b, sizeof b, "%s/kill/%s/checkpoint", ref_runs, k);
        ok = same_file(a, b);
        if (!ok) fprintf(stderr, "    %s differs\n", a);
        k = nl + 1;
    }
    free(keys);
    CHECK(ok);
    CHECK(n >= 6);
}

TEST(anneal_early_stop_rule_reads_the_branches_and_ignores_timing)
{
    char sweep[512], path[512];
    harness_path(sweep, sizeof sweep, "stop.yaml");
    harness_path(path, sizeof path, "stop.yaml");
    /* AR on 2k tokens at a high rate overfits within a few epochs: points
     * 1..64 epochs, one per doubling, a margin of 0.02 nats */
    harness_write(path, "sweep: stop\n"
                        "data: {corpus: synthetic, vocab: 300, val_tokens: 2k, unique_tokens: 2k}\n"
                        "models: {t: {layers: 1, dim: 32, heads: 2}}\n"
                        "train: {seq_len: 32, batch: 4, lr: 1e-2, epochs: 64, anneal_at: 1 per doubling, "
                        "decay_frac: 0.2, warmup_epochs: 0.5, eval_every: 2 per doubling, eval_draws: 2, "
                        "early_stop_margin: 0.02}\n"
                        "grid: {objective: [ar]}\n");
    char db[2][512], runs[2][512];
    static const char *const jobs[] = {"1", "2"};
    for (int k = 0; k < 2; k++) {
        char name[32];
        snprintf(name, sizeof name, "stop%d.db", k);
        harness_path(db[k], sizeof db[k], name);
        snprintf(name, sizeof name, "runs%d", k);
        harness_path(runs[k], sizeof runs[k], name);
        harness_proc r = run_j(sweep, db[k], runs[k], jobs[k], NULL);
        if (r.status) fprintf(stderr, "%s", r.err);
        CHECK_INT(r.status, 0);
        harness_proc_free(&r);
    }
    /* The rule by hand on the annealed values: the first point k whose
     * value is more than the margin above the best of points 1..k. */
    char *vals = helper_qtext(db[0], "SELECT b.fork_step, (SELECT value FROM metrics m WHERE m.run_id = b.id AND "
                                     "m.name = 'val_loss' ORDER BY step DESC LIMIT 1) FROM runs b "
                                     "WHERE b.role = 'branch' ORDER BY b.epochs");
    CHECK(vals);
    long long forks[16];
    double v[16];
    int n = 0;
    for (char *l = vals; *l && n < 16; n++) {
        char *nl = strchr(l, '\n');
        *nl = 0;
        v[n] = NAN;
        sscanf(l, "%lld %lf", &forks[n], &v[n]);
        l = nl + 1;
    }
    free(vals);
    CHECK_INT(n, 7); /* 1, 2, 4, ..., 64 */
    int fired = -1;
    double best = INFINITY;
    for (int k = 0; k < n && fired < 0 && isfinite(v[k]); k++) {
        if (v[k] < best) best = v[k];
        else if (v[k] > best + 0.02) fired = k;
    }
    CHECK(fired >= 1 && fired + 2 < n); /* it fires, and leaves points out */
    /* the trunk stopped at the fork of the next point, which still ran;
     * the points after it were not trained, and say why */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT step FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.role = 'trunk' AND "
                              "m.name = 'early_stop'");
    CHECK_INT(helper_qint(db[0], sql), forks[fired + 1]);
    CHECK(isfinite(v[fired + 1]));
    CHECK(!isfinite(v[fired + 2]));
    CHECK_INT(helper_qint(db[0], "SELECT count(*) FROM runs WHERE role = 'branch' AND status = 'done' AND "
                                 "error LIKE 'not trained: its trunk stopped early%'"), n - fired - 2);
    /* the same with one worker (the trunk waits with its worker freed) and two */
    char *x = rel_dump_metrics(db[0]), *y = rel_dump_metrics(db[1]);
    int same = x && y && !strcmp(x, y);
    free(x);
    free(y);
    CHECK(same);
    /* a second run has nothing to do */
    harness_proc r = run_j(sweep, db[0], runs[0], "2", NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "nothing to run: 8 runs done");
    harness_proc_free(&r);
    /* The trunk alone (--only): at its first wait, for a branch this run
     * does not include, it is stopped, resumable, not retried; a full run
     * then finishes with the same numbers. */
    char *tkey = helper_qtext(db[0], "SELECT substr(key, 1, 16) FROM runs WHERE role = 'trunk'");
    CHECK(tkey);
    tkey[strcspn(tkey, " \n")] = 0;
    char odb[512], oruns[512];
    harness_path(odb, sizeof odb, "only.db");
    harness_path(oruns, sizeof oruns, "runs-only");
    const char *argv[] = {harness_xover(), "run", sweep, "--db", odb, "--runs-dir", oruns, "--only", tkey, NULL};
    r = harness_run(argv, NULL);
    free(tkey);
    CHECK_INT(r.status, 1);
    CHECK_CONTAINS(r.err, "which this `xover run` does not run");
    harness_proc_free(&r);
    CHECK_INT(helper_qint(odb, "SELECT count(*) FROM runs WHERE role = 'trunk' AND status = 'interrupted' AND "
                               "attempts = 1 AND error LIKE 'its early-stopping rule waits for branch %'"), 1);
    r = run_j(sweep, odb, oruns, "2", NULL);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    x = rel_dump_metrics(odb);
    y = rel_dump_metrics(db[0]);
    same = x && y && !strcmp(x, y);
    free(x);
    free(y);
    CHECK(same);
}
