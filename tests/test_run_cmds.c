/*
 * test_run_cmds.c — status, ls, show and rm on a sweep run with the fake
 * external trainer (fast: it exits at once).
 */
#include "tests/harness.h"
#include "tests/helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
    /* the run directories are gone, and the sweep's folder with them */
    CHECK(stat(dir, &st) != 0 && errno == ENOENT);
    CHECK(stat(g_runs, &st) == 0);
}

/* Start `xover run` of the sweep in the background, its output in log. */
static pid_t spawn_driver(const char *log)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd < 0) _exit(127);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(harness_xover(), harness_xover(), "run", g_sweep, "--db", g_db, "--runs-dir", g_runs, "-j",
              "2", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* `xover rm` of a sweep, or of one of its runs, while a driver runs it:
 * refused, naming the driver, and nothing deleted; the driver then records
 * every run. (It used to delete the running runs' rows and directories;
 * the driver then logged "no run with id" and reported them done.) */
TEST(run_cmds_rm_refuses_while_a_driver_runs_the_sweep)
{
    harness_path(g_db, sizeof g_db, "live.db");
    harness_path(g_runs, sizeof g_runs, "runs");
    harness_path(g_sweep, sizeof g_sweep, "live.yaml");
    char text[2048], log[512];
    snprintf(text, sizeof text,
             "sweep: live\n"
             "models: {xs: {layers: 1, dim: 16, heads: 2}}\n"
             "grid: {objective: ar, lr: [1e-3, 2e-3]}\n"
             "trainer: {command: ['%s', '{run_dir}', jsonl, '30', '{lr}', --sleep, '0.1']}\n",
             helper_fake_trainer());
    harness_write(g_sweep, text);
    harness_path(log, sizeof log, "driver.log");
    pid_t driver = spawn_driver(log);
    CHECK(driver > 0);
    int running = 0;
    for (int i = 0; i < 1000 && running < 2; i++) {
        usleep(10000);
        running = (int)helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'running'");
    }
    CHECK_INT(running, 2);
    char pid[64], key[16];
    snprintf(pid, sizeof pid, "pid %d ", (int)driver);
    char *k = helper_qtext(g_db, "SELECT substr(key, 1, 12) FROM runs ORDER BY key LIMIT 1");
    CHECK(k && strlen(k) >= 12);
    snprintf(key, sizeof key, "%.12s", k ? k : "");
    free(k);

    harness_proc r = x("rm", "live", "--yes");
    CHECK_INT(r.status, 1);
    CHECK_CONTAINS(r.err, "cannot delete sweep 'live'");
    CHECK_CONTAINS(r.err, pid);
    harness_proc_free(&r);
    r = x("rm", key, "--yes");
    CHECK_INT(r.status, 1);
    CHECK_CONTAINS(r.err, pid);
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs"), 2);

    int st;
    CHECK(waitpid(driver, &st, 0) == driver);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *out = harness_slurp(log, NULL);
    CHECK(out && !strstr(out, "no run with id"));
    free(out);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'done'"), 2);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM metrics"), 60);
    /* with the driver gone, rm may */
    r = x("rm", "live", "--yes");
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs"), 0);
}

/* A worker that outlived its driver (or a Slurm task) holds its run's
 * lock: rm of that run, or of its sweep, refuses, naming it. */
TEST(run_cmds_rm_refuses_a_run_a_worker_still_holds)
{
    setup();
    char *row = helper_qtext(g_db, "SELECT key, run_dir FROM runs WHERE status = 'done' ORDER BY key LIMIT 1");
    CHECK(row);
    char key[65] = "", dir[600] = "", lock[700];
    if (row) sscanf(row, "%64s %599s", key, dir);
    free(row);
    CHECK_INT((int)strlen(key), 64);
    snprintf(lock, sizeof lock, "%s/lock", dir);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    CHECK_INT(fcntl(fd, F_OFD_SETLK, &fl), 0);
    const char *holder = "pid 4242 on host elsewhere since 2025-01-01 00:00:00\n";
    CHECK(write(fd, holder, strlen(holder)) == (ssize_t)strlen(holder));

    char prefix[13];
    snprintf(prefix, sizeof prefix, "%.12s", key);
    harness_proc r = x("rm", prefix, "--yes");
    CHECK_INT(r.status, 1);
    CHECK_CONTAINS(r.err, "is being trained");
    CHECK_CONTAINS(r.err, "pid 4242");
    harness_proc_free(&r);
    r = x("rm", "cmds", "--yes");
    CHECK_INT(r.status, 1);
    CHECK_CONTAINS(r.err, "pid 4242");
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs"), 4);
    CHECK(access(dir, F_OK) == 0);

    close(fd); /* the worker ends */
    r = x("rm", prefix, "--yes");
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs"), 3);
    CHECK(access(dir, F_OK) != 0);
    /* the sweep's folder stays while it holds other runs */
    char *slash = strrchr(dir, '/');
    *slash = 0;
    CHECK(access(dir, F_OK) == 0);
}
