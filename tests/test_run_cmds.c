/*
 * test_run_cmds.c — status, ls, show and rm on a sweep run with the fake
 * external trainer (fast: it exits at once).
 */
#include "tests/harness.h"
#include "tests/helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_db[512], g_runs[512], g_sweep[512];

static void setup(void)
{
    harness_path(g_db, sizeof g_db, "x.db");
    harness_path(g_runs, sizeof g_runs, "runs");
    harness_path(g_sweep, sizeof g_sweep, "s.yaml");
    char text[2048];
    snprintf(text, sizeof text,
             "sweep: cmds\n"
             "models: {xs: {layers: 1, dim: 16, heads: 2}}\n"
             "grid: {objective: ar, lr: [1e-3, 2e-3], flag: [--ok, --fail]}\n"
             "trainer: {command: ['%s', '{run_dir}', jsonl, '5', '{lr}', '{flag}']}\n",
             helper_fake_trainer());
    harness_write(g_sweep, text);
    const char *argv[] = {harness_xover(), "run", g_sweep, "--db", g_db, "--runs-dir", g_runs, NULL};
    harness_proc r = harness_run(argv, NULL);
    harness_proc_free(&r);
}

static harness_proc x(const char *cmd, const char *a1, const char *a2)
{
    const char *argv[] = {harness_xover(), cmd, "--db", g_db, a1, a2, NULL};
    return harness_run(argv, NULL);
}

TEST(run_cmds_ls_and_status)
{
    setup();
    harness_proc r = x("ls", NULL, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "cmds");
    CHECK_CONTAINS(r.out, "50%");
    harness_proc_free(&r);
    r = x("status", NULL, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "database: 4 runs: 0 pending, 0 running, 2 done, 2 failed, 0 interrupted");
    harness_proc_free(&r);
    r = x("status", g_sweep, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "sweep cmds: 4 runs");
    CHECK_CONTAINS(r.out, "exit code 3: error: this configuration is refused on purpose");
    harness_proc_free(&r);
    r = x("status", "nosuch", NULL);
    CHECK_INT(r.status, 2);
    CHECK_CONTAINS(r.err, "no sweep named 'nosuch'");
    harness_proc_free(&r);
}

TEST(run_cmds_show_by_prefix)
{
    setup();
    harness_proc r = x("status", "cmds", NULL);
    const char *row = strstr(r.out, " failed  ");
    CHECK(row);
    /* the failed run's key prefix is the first column of its row */
    const char *line = row;
    while (line > r.out && line[-1] != '\n') line--;
    char key[13];
    memcpy(key, line, 12);
    key[12] = 0;
    harness_proc_free(&r);
    r = x("show", key, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "status     failed (attempts 1)");
    CHECK_CONTAINS(r.out, "refused on purpose");
    CHECK_CONTAINS(r.out, "\"objective\": \"ar\"");
    harness_proc_free(&r);
    /* A prefix no run has (the failed run's, last digit changed): exit 2,
     * never a guess. (A one-digit prefix like "0" would depend on which
     * keys this sweep happens to hash to.) */
    key[11] = key[11] == '0' ? '1' : '0';
    r = x("show", key, NULL);
    CHECK_INT(r.status, 2);
    harness_proc_free(&r);
    r = x("show", "XYZ", NULL);
    CHECK_INT(r.status, 2);
    CHECK_CONTAINS(r.err, "is not a run key");
    harness_proc_free(&r);
}

TEST(run_cmds_rm_asks_then_deletes_rows_and_dirs)
{
    setup();
    /* no terminal and no --yes: nothing is deleted */
    harness_proc r = x("rm", "cmds", NULL);
    CHECK_INT(r.status, 2);
    CHECK_CONTAINS(r.err, "pass --yes");
    harness_proc_free(&r);
    r = x("ls", NULL, NULL);
    CHECK_CONTAINS(r.out, "cmds");
    harness_proc_free(&r);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/cmds", g_runs);
    struct stat st;
    r = x("rm", "cmds", "--yes");
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "deleted sweep 'cmds' with 4 runs");
    harness_proc_free(&r);
    r = x("status", NULL, NULL);
    CHECK_CONTAINS(r.out, "database: 0 runs");
    harness_proc_free(&r);
    /* the run directories are gone (the sweep's folder may remain, empty) */
    const char *la[] = {"/bin/sh", "-c", "ls \"$0\" 2>/dev/null | wc -l", dir, NULL};
    r = harness_run(la, NULL);
    CHECK_STR(r.out, "0\n");
    harness_proc_free(&r);
    (void)st;
}
