/*
 * test_reliability.c — kill -9, at random (seeded) moments, of the sweep
 * driver and of its workers; after each series the sweep is finished and
 * compared with an uninterrupted one: every run done once, attempt counts
 * that match the workers' own logs, PRAGMA integrity_check ok, no metric
 * point duplicated or missing, every value bit for bit the same.
 *
 * 20 trials each by default; XOVER_KILL_TRIALS=N and XOVER_KILL_SEED=S run
 * the long version by hand (docs/reliability.md).
 */
#include "tests/reliability.h"

static char g_db[512], g_runs[512], g_ref_db[512], g_ref_runs[512], g_sweep[512];

static void setup(const char *grid)
{
    harness_path(g_db, sizeof g_db, "k.db");
    harness_path(g_runs, sizeof g_runs, "runs");
    harness_path(g_ref_db, sizeof g_ref_db, "ref.db");
    harness_path(g_ref_runs, sizeof g_ref_runs, "ref-runs");
    harness_path(g_sweep, sizeof g_sweep, "rel.yaml");
    rel_write_sweep("rel.yaml", "rel", grid);
}

/* The sweep's length grows with the number of trials (the long version),
 * so that the kills keep landing mid-sweep. */
static void setup_scaled(const char *fmt, long ktokens, long trials)
{
    char grid[256];
    snprintf(grid, sizeof grid, fmt, ktokens * (trials > 20 ? trials : 20) / 20);
    setup(grid);
}

/* The uninterrupted sweep every interrupted one must equal. */
static char *reference(void)
{
    harness_proc r = rel_run(g_sweep, g_ref_db, g_ref_runs, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    int ok = r.status == 0;
    harness_proc_free(&r);
    return ok ? rel_dump_metrics(g_ref_db) : NULL;
}

/* Worker starts per run, from the runs' own logs: key -> count. */
typedef struct {
    char key[65];
    long long attempts;
    int starts, resumed;
} run_row;

static int read_runs(run_row *rows, int max)
{
    char *t = helper_qtext(g_db, "SELECT key, attempts FROM runs ORDER BY key");
    if (!t) return -1;
    int n = 0;
    for (char *line = t; *line && n < max;) {
        char *nl = strchr(line, '\n');
        *nl = 0;
        if (sscanf(line, "%64s %lld", rows[n].key, &rows[n].attempts) == 2) {
            char log[1024];
            snprintf(log, sizeof log, "%s/rel/%s/log", g_runs, rows[n].key);
            rows[n].starts = rel_count_lines(log, "xover train --config");
            rows[n].resumed = rel_count_lines(log, "resuming from step");
            n++;
        }
        line = nl + 1;
    }
    free(t);
    return n;
}

/* What must hold once the sweep has been finished after the kills; sets
 * g_final_ok when all of it does. */
static int g_final_ok;
static void check_final(const char *ref, int nruns)
{
    g_final_ok = 0;
    char *integrity = helper_qtext(g_db, "PRAGMA integrity_check");
    int intact = integrity && !strcmp(integrity, "ok \n");
    if (!intact) fprintf(stderr, "integrity_check: %s\n", integrity ? integrity : "(cannot run)");
    free(integrity);
    CHECK(intact);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'done'"), nruns);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs"), nruns);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM metrics"),
              helper_qint(g_db, "SELECT count(*) FROM (SELECT DISTINCT run_id, name, step FROM metrics)"));
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM metrics"), helper_qint(g_ref_db, "SELECT count(*) FROM metrics"));
    char *got = rel_dump_metrics(g_db);
    if (!got || !ref) free(got);
    CHECK(got && ref);
    int same = !strcmp(got, ref);
    if (!same) fprintf(stderr, "metrics differ from the uninterrupted sweep's\n");
    free(got);
    CHECK(same);
    /* every run directory says done, like the database */
    char status[1024];
    run_row rows[16];
    int n = read_runs(rows, 16);
    CHECK_INT(n, nruns);
    for (int i = 0; i < n; i++) {
        snprintf(status, sizeof status, "%s/rel/%s/status", g_runs, rows[i].key);
        char *s = harness_slurp(status, NULL);
        int done = s && !strncmp(s, "done\n", 5);
        free(s);
        CHECK(done);
    }
    g_final_ok = 1;
}

TEST(reliability_driver_kill9_at_random_moments)
{
    long trials = rel_env_long("XOVER_KILL_TRIALS", 20);
    setup_scaled("objective: [ar, mdm], unique_tokens: [4k, 8k], total_tokens: [%ldk]", 192, trials);
    char *ref = reference();
    CHECK(ref);
    uint64_t rng = (uint64_t)rel_env_long("XOVER_KILL_SEED", 1);
    char log[512];
    harness_path(log, sizeof log, "drivers.log");
    int live = 0, orphans_checked = 0;
    for (long t = 0; t < trials; t++) {
        pid_t pid = rel_spawn(g_sweep, g_db, g_runs, NULL, log);
        CHECK(pid > 0);
        long delay = 100 + (long)(rel_rand(&rng) % 700);
        pid_t worker = 0;
        if (t == 0) {
            /* The first time, wait for a worker, to see it die with its driver. */
            for (int i = 0; i < 400 && worker <= 0; i++) {
                rel_sleep_ms(10);
                worker = (pid_t)helper_qint(g_db, "SELECT pid FROM runs WHERE status = 'running' AND pid > 0 LIMIT 1");
            }
        } else {
            rel_sleep_ms(delay);
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == 0) live++;
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        if (worker > 0) {
            /* Workers die with their driver (PR_SET_PDEATHSIG: SIGTERM, so
             * they checkpoint first). */
            int gone = 0;
            for (int i = 0; i < 1000 && !(gone = !rel_alive(worker)); i++) rel_sleep_ms(10);
            CHECK(gone);
            orphans_checked++;
        }
    }
    fprintf(stderr, "driver kill: %ld trials, %d killed mid-sweep, seed %ld\n", trials, live,
            rel_env_long("XOVER_KILL_SEED", 1));
    CHECK(live >= 1);
    CHECK_INT(orphans_checked, trials > 0);
    harness_proc r = rel_run(g_sweep, g_db, g_runs, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    check_final(ref, 4);
    if (!g_final_ok) {
        free(ref);
        return;
    }
    free(ref);
    /* Attempts: each worker start is counted once; a kill can fall between
     * a worker's start and its driver recording it (or the other way
     * round), so each side is bounded by the other plus the kills. */
    run_row rows[16];
    int n = read_runs(rows, 16);
    for (int i = 0; i < n; i++) {
        CHECK(rows[i].attempts >= 1);
        CHECK(rows[i].starts >= 1);
        CHECK(rows[i].attempts <= rows[i].starts + trials);
        CHECK(rows[i].starts <= rows[i].attempts + trials);
    }
}

TEST(reliability_worker_kill9_resumes_bit_exact)
{
    long trials = rel_env_long("XOVER_KILL_TRIALS", 20);
    setup_scaled("objective: [ar, mdm], unique_tokens: [4k], total_tokens: [%ldk]", 320, trials);
    char *ref = reference();
    CHECK(ref);
    uint64_t rng = (uint64_t)rel_env_long("XOVER_KILL_SEED", 1) ^ 0x5eed;
    char log[512];
    harness_path(log, sizeof log, "drivers.log");
    pid_t driver = 0;
    long kills = 0, drivers = 0;
    int st;
    for (int guard = 0; kills < trials && guard < 20000; guard++) {
        if (!driver) {
            /* Runs killed more often than the driver retries have failed:
             * the next driver retries them, from their checkpoints too. */
            driver = rel_spawn(g_sweep, g_db, g_runs, "--retry-failed", log);
            drivers++;
        }
        rel_sleep_ms(20 + (long)(rel_rand(&rng) % 150));
        if (waitpid(driver, &st, WNOHANG) == driver) {
            driver = 0;
            if (helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'done'") == 2) break; /* all done */
            continue;
        }
        /* A running worker that has begun its log (so the attempt and the
         * log agree); pick one of those at random. The pid and the attempt
         * count are read in one query, and the log after it: the log's
         * starts only grow, so starts == attempts then means THIS pid has
         * logged its start. (Reading the log first raced with a restart:
         * the pid could belong to a newer attempt not yet logged.) */
        run_row rows[4];
        int n = read_runs(rows, 4);
        if (n <= 0) continue;
        int i = (int)(rel_rand(&rng) % (uint64_t)n);
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT pid * 1000000 + attempts FROM runs WHERE key = '%s' AND status = 'running'",
                 rows[i].key);
        long long pa = helper_qint(g_db, sql);
        pid_t w = (pid_t)(pa / 1000000);
        long long attempts = pa % 1000000;
        char runlog[1024];
        snprintf(runlog, sizeof runlog, "%s/rel/%s/log", g_runs, rows[i].key);
        if (w <= 0 || rel_count_lines(runlog, "xover train --config") != attempts) continue;
        char *cmd = rel_cmdline(w);
        int ours = strstr(cmd, " train ") && strstr(cmd, rows[i].key);
        free(cmd);
        if (ours && kill(w, SIGKILL) == 0) kills++;
    }
    if (driver) waitpid(driver, &st, 0);
    fprintf(stderr, "worker kill: %ld kills, %ld driver runs\n", kills, drivers);
    CHECK(kills >= 1);
    harness_proc r = rel_run(g_sweep, g_db, g_runs, "--retry-failed");
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    check_final(ref, 2);
    if (!g_final_ok) {
        free(ref);
        return;
    }
    free(ref);
    /* No driver was killed: every attempt is exactly one worker start, and
     * every start after the first resumed from a checkpoint. */
    run_row rows[4];
    int n = read_runs(rows, 4);
    long long total = 0, resumed = 0;
    for (int i = 0; i < n; i++) {
        CHECK_INT(rows[i].attempts, rows[i].starts);
        total += rows[i].attempts;
        resumed += rows[i].resumed;
    }
    CHECK(total >= 2 + 1); /* at least one kill made a second attempt */
    CHECK(resumed >= 1);   /* ... which resumed from a checkpoint */
    char *drv = harness_slurp(log, NULL);
    CHECK_CONTAINS(drv, "killed by signal 9");
    CHECK_CONTAINS(drv, "from its checkpoint");
    free(drv);
}
