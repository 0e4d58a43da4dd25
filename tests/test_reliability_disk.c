/*
 * test_reliability_disk.c — full disks (issue 17). The database, or the run
 * directories, on a small tmpfs that fills during a sweep: nothing is
 * recorded done that is not whole, the driver stops and says why (exit 1),
 * and once there is space again `xover run` finishes every run with the
 * metrics of a sweep that never met a full disk, point for point.
 *
 * The tmpfs is mounted in a mount namespace of the test's own process
 * (unshare), so it disappears with the process however the test ends; the
 * processes the test starts see it. Mounting needs root (CAP_SYS_ADMIN):
 * without it the test FAILS, saying so; it does not skip.
 */
#include "tests/reliability.h"

#include <errno.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

/* Mount a tmpfs of `kb` KiB at dir, private to this process and its
 * children. 0, or -1 with the reason printed. */
static int private_tmpfs(const char *dir, int kb)
{
    char opts[64];
    snprintf(opts, sizeof opts, "size=%dk", kb);
    if (mkdir(dir, 0755) && errno != EEXIST) return perror(dir), -1;
    if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
        mount("tmpfs", dir, "tmpfs", 0, opts)) {
        fprintf(stderr, "    cannot mount a tmpfs at %s: %s (this test needs root: CAP_SYS_ADMIN)\n", dir,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* Fill the filesystem of dir with a file `name`, leaving about free_kb KiB. */
static int leave_free(const char *dir, const char *name, long free_kb)
{
    struct statvfs v;
    if (statvfs(dir, &v)) return -1;
    long long avail = (long long)v.f_bavail * (long long)v.f_frsize, want = avail - free_kb * 1024;
    if (want <= 0) return -1;
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    static char zeros[65536];
    for (long long w = 0; w < want;) {
        size_t n = want - w < (long long)sizeof zeros ? (size_t)(want - w) : sizeof zeros;
        if (fwrite(zeros, 1, n, f) != n) break;
        w += (long long)n;
    }
    return fclose(f);
}

/* `xover run experiments/smoke.yaml` into dbp and runs (4 runs, 3054 points). */
static harness_proc run_smoke(const char *dbp, const char *runs)
{
    return rel_run("experiments/smoke.yaml", dbp, runs, NULL);
}

/* The status files of a sweep's run directories, "word\n" each, sorted. */
static char *status_words(const char *runs)
{
    const char *argv[] = {"sh", "-c", "for f in \"$0\"/smoke/*/status; do head -n 1 \"$f\"; done | sort", runs, NULL};
    harness_proc p = harness_run(argv, NULL);
    char *out = p.out;
    p.out = NULL;
    harness_proc_free(&p);
    return out;
}

/* A sweep whose database fills up made the driver print "12 done, 0 failed"
 * and exit 0: every run done, 1,000-2,100 of ~19,000 points missing for
 * good, and `xover db check` said ok (finish() only warned when the final
 * ingest failed). */
TEST(reliability_database_disk_full_records_nothing_done_that_is_not_whole)
{
    char ref_db[512], ref_runs[512], mnt[512], dbp[600], runs[512], ballast[600];
    harness_path(ref_db, sizeof ref_db, "ref.db");
    harness_path(ref_runs, sizeof ref_runs, "ref-runs");
    harness_path(mnt, sizeof mnt, "small");
    harness_path(runs, sizeof runs, "runs");
    snprintf(dbp, sizeof dbp, "%s/x.db", mnt);
    snprintf(ballast, sizeof ballast, "%s/ballast", mnt);

    /* the sweep as it is with room enough */
    harness_proc r = run_smoke(ref_db, ref_runs);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    char *want = rel_dump_metrics(ref_db);
    CHECK(want && *want);

    /* the database on 8 MB with 600 KB free: it fills while metrics arrive */
    CHECK_INT(private_tmpfs(mnt, 8192), 0);
    CHECK_INT(leave_free(mnt, "ballast", 600), 0);
    r = run_smoke(dbp, runs);
    if (r.status != 1) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 1);
    CHECK_CONTAINS(r.err, "database or disk is full");
    CHECK_CONTAINS(r.err, "xover: error: the database cannot be written: ");
    harness_proc_free(&r);
    /* each run recorded done has every point of the undisturbed sweep */
    long long done = helper_qint(dbp, "SELECT count(*) FROM runs WHERE status = 'done'");
    CHECK(done >= 0 && done < 4);
    char *have = helper_qtext(dbp, "SELECT r.key, count(m.step) FROM runs r LEFT JOIN metrics m ON m.run_id = r.id "
                                   "WHERE r.status = 'done' GROUP BY r.key ORDER BY r.key");
    char *full = helper_qtext(ref_db, "SELECT r.key, count(m.step) FROM runs r LEFT JOIN metrics m ON m.run_id = r.id "
                                      "GROUP BY r.key ORDER BY r.key");
    CHECK(have && full);
    for (char *line = have; *line;) { /* every done line of `have` is a line of `full` */
        char *nl = strchr(line, '\n');
        *nl = 0;
        CHECK_CONTAINS(full, line);
        line = nl + 1;
    }
    free(have);
    free(full);
    /* no run directory says running: the workers were stopped and said so */
    char *words = status_words(runs);
    CHECK(words && !strstr(words, "running"));
    free(words);

    /* space again: the next run finishes every run, point for point */
    CHECK_INT(unlink(ballast), 0);
    r = run_smoke(dbp, runs);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    CHECK_INT(helper_qint(dbp, "SELECT count(*) FROM runs WHERE status = 'done'"), 4);
    char *got = rel_dump_metrics(dbp);
    CHECK(got);
    int same = !strcmp(got, want);
    free(got);
    free(want);
    CHECK(same);
    const char *check[] = {harness_xover(), "db", "check", "--db", dbp, NULL};
    r = harness_run(check, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "4 done runs compared with their metrics.jsonl: every point is in the database");
    harness_proc_free(&r);
    umount2(mnt, MNT_DETACH);
}

/* `xover db check` said ok about a database whose done runs missed points:
 * it now compares each done run with its metrics.jsonl. */
TEST(reliability_db_check_reports_a_done_run_missing_points)
{
    char dbp[512], runs[512];
    harness_path(dbp, sizeof dbp, "x.db");
    harness_path(runs, sizeof runs, "runs");
    harness_proc r = run_smoke(dbp, runs);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    char *key = helper_qtext(dbp, "SELECT key FROM runs ORDER BY key LIMIT 1");
    CHECK(key && strlen(key) >= 64);
    key[64] = 0;
    long long all = helper_qint(dbp, "SELECT count(*) FROM metrics");
    char err[512], sql[300];
    db *d = db_open(dbp, DB_WRITE, err, sizeof err);
    CHECK(d);
    snprintf(sql, sizeof sql, "DELETE FROM metrics WHERE step > 100 AND run_id = (SELECT id FROM runs WHERE key = '%s')",
             key);
    CHECK_INT(db_exec(d, sql), 0);
    db_close(d);
    long long left = helper_qint(dbp, "SELECT count(*) FROM metrics");
    CHECK(left < all);
    const char *check[] = {harness_xover(), "db", "check", "--db", dbp, NULL};
    r = harness_run(check, NULL);
    CHECK_INT(r.status, 1);
    CHECK_CONTAINS(r.out, "SHORTFALL");
    char line[64];
    snprintf(line, sizeof line, "  %.12s  ", key);
    CHECK_CONTAINS(r.out, line);
    CHECK_CONTAINS(r.err, "1 done runs lack metric points their metrics.jsonl holds");
    harness_proc_free(&r);
    free(key);
}

/* The run directories' disk fills: each worker stops at its failed write
 * with its last checkpoint intact. Before, each such run was `failed`
 * (--retry-failed needed) and its status file could still say running;
 * now it is `interrupted` with the reason, no new run starts, the driver
 * exits 1 naming the cause, and a plain `xover run` later finishes them. */
TEST(reliability_runs_disk_full_leaves_runs_resumable)
{
    char ref_db[512], ref_runs[512], mnt[512], dbp[512], runs[600], ballast[600];
    harness_path(ref_db, sizeof ref_db, "ref.db");
    harness_path(ref_runs, sizeof ref_runs, "ref-runs");
    harness_path(dbp, sizeof dbp, "x.db");
    harness_path(mnt, sizeof mnt, "small");
    snprintf(runs, sizeof runs, "%s/runs", mnt);
    snprintf(ballast, sizeof ballast, "%s/ballast", mnt);
    harness_proc r = run_smoke(ref_db, ref_runs);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    char *want = rel_dump_metrics(ref_db);
    CHECK(want && *want);

    /* each run directory takes about 380 KB (two 156 KB checkpoints) */
    CHECK_INT(private_tmpfs(mnt, 8192), 0);
    CHECK_INT(leave_free(mnt, "ballast", 600), 0);
    r = run_smoke(dbp, runs);
    if (r.status != 1) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 1);
    CHECK_CONTAINS(r.err, "No space left on device");
    harness_proc_free(&r);
    /* no status file goes on saying running (the atomic write has no room:
     * it is overwritten in place), none says failed */
    char *words = status_words(runs);
    CHECK(words);
    if (strstr(words, "running") || strstr(words, "failed")) fprintf(stderr, "status files:\n%s", words);
    CHECK(!strstr(words, "running") && !strstr(words, "failed"));
    free(words);
    CHECK_INT(helper_qint(dbp, "SELECT count(*) FROM runs WHERE status = 'failed'"), 0);
    CHECK(helper_qint(dbp, "SELECT count(*) FROM runs WHERE status = 'interrupted' AND "
                           "error LIKE '%No space left on device%'") >= 1);

    CHECK_INT(unlink(ballast), 0);
    r = run_smoke(dbp, runs);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    char *got = rel_dump_metrics(dbp);
    CHECK(got);
    int same = !strcmp(got, want);
    free(got);
    free(want);
    CHECK(same);
    umount2(mnt, MNT_DETACH);
}
