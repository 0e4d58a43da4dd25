/*
 * guard.c — what keeps a sweep's runs from being done twice, and its files
 * inside their run directories.
 *
 * Two locks (util.h xo_lock_file: the kernel drops them however their
 * holder ended, kill -9 included, so there is no stale lock to clean):
 *
 *   the sweep lock   <db>.<sweep>.lock, held by a driver for its lifetime: a
 *                    second `xover run` of the same sweep on the same
 *                    database refuses, naming the first (pid, host, since).
 *   the run lock     <run_dir>/lock (run/run.h rundir_lock), taken by the
 *                    driver before it starts a worker and inherited by the
 *                    worker across exec (guard_worker): while a worker lives
 *                    (even one whose driver was killed, finishing its
 *                    checkpoint) no other driver starts that run.
 */
#include "orchestrator/exec/internal.h"

#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* The database's path with every symbolic link resolved, so that one
 * database has one lock whatever name it is given by (a --db through a
 * link used to get a lock of its own, and a second driver ran). A database
 * not made yet resolves through its directory. */
static void real_db_path(const char *db_path, char *out, size_t n)
{
    char buf[PATH_MAX];
    if (realpath(db_path, buf)) {
        snprintf(out, n, "%s", buf);
        return;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", db_path);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? db_path + (slash - dir) + 1 : db_path;
    if (slash) *slash = 0;
    if (realpath(slash ? (*dir ? dir : "/") : ".", buf)) snprintf(out, n, "%s/%s", strcmp(buf, "/") ? buf : "", base);
    else snprintf(out, n, "%s", db_path);
}

int guard_sweep_try(const char *db_path, const char *sweep, char *err, size_t errlen)
{
    char path[PATH_MAX + 300], holder[512], real[PATH_MAX + 8];
    real_db_path(db_path, real, sizeof real);
    snprintf(path, sizeof path, "%s.%s.lock", real, sweep);
    int fd = xo_lock_file(path, holder, sizeof holder, err, errlen);
    if (fd == -2)
        snprintf(err, errlen,
                 "sweep %s is already being run on %s by xover %s; wait for it to end, or stop it "
                 "(its lock %s is released when it exits)",
                 sweep, db_path, holder, path);
    return fd;
}

int guard_sweep_lock(const char *db_path, const char *sweep, char *err, size_t errlen)
{
    int fd = guard_sweep_try(db_path, sweep, err, errlen);
    return fd < 0 ? -1 : fd;
}

void guard_worker(int run_lock_fd, pid_t driver)
{
    /* Keep the run lock across exec (every other lock stays close-on-exec). */
    if (run_lock_fd >= 0) fcntl(run_lock_fd, F_SETFD, 0);
    /* A driver that dies, even by SIGKILL, takes its workers with it: they
     * get SIGTERM, checkpoint and exit, and the next driver resumes them.
     * A worker left running would finish unrecorded, or race the resume. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != driver) raise(SIGTERM); /* the driver died before prctl */
}

int guard_inside(const char *dir, const char *path)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    if (strncmp(path, dir, n) || path[n] != '/') return 0;
    /* No ".." component anywhere: dir/a/../../x would climb out. */
    for (const char *p = path; (p = strstr(p, "..")); p += 2)
        if ((p == path || p[-1] == '/') && (p[2] == '/' || p[2] == 0)) return 0;
    return 1;
}
