/*
 * guard.c — the locks that keep a sweep's runs from being done twice.
 *
 * Two kinds, both open-file-description locks (fcntl F_OFD_SETLK), which the
 * kernel drops when the last descriptor of the open file goes away, however
 * its holder ended (kill -9 included), so there is no stale lock to clean:
 *
 *   the sweep lock   <db>.<sweep>.lock, held by a driver for its lifetime: a
 *                    second `xover run` of the same sweep on the same
 *                    database refuses, naming the first (pid, host, since).
 *   the run lock     <run_dir>/lock, taken by the driver before it starts a
 *                    worker and inherited by the worker across exec: while a
 *                    worker lives (even one whose driver was killed, finishing
 *                    its checkpoint) no other driver starts that run.
 *
 * Each lock file holds a line naming its holder, for the messages; the
 * lock itself, not the text, is what counts.
 */
#include "orchestrator/exec/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

/* Lock the whole of fd without waiting: 0, 1 when another holds it, -1. */
static int try_lock(int fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0) return 0;
    return errno == EAGAIN || errno == EACCES ? 1 : -1;
}

static void holder_text(char *buf, size_t n)
{
    char host[256];
    if (gethostname(host, sizeof host)) snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = 0;
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf, n, "pid %ld on host %s since %s\n", (long)getpid(), host, ts);
}

/* The holder line of a lock file, without its newline ("?" if unreadable). */
static void read_holder(int fd, char *buf, size_t n)
{
    ssize_t r = pread(fd, buf, n - 1, 0);
    if (r <= 0) {
        snprintf(buf, n, "a process that has not said who it is yet");
        return;
    }
    buf[r] = 0;
    buf[strcspn(buf, "\n")] = 0;
}

static int lock_file(const char *path, char *holder, size_t hn, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return snprintf(err, errlen, "cannot open the lock file %s: %s", path, strerror(errno)), -1;
    int rc = try_lock(fd);
    if (rc == 1) {
        read_holder(fd, holder, hn);
        close(fd);
        return -2;
    }
    if (rc < 0) {
        snprintf(err, errlen, "cannot lock %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    char text[512];
    holder_text(text, sizeof text);
    size_t len = strlen(text);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, len, 0) != (ssize_t)len) {
        /* The lock holds all the same; only the message would be poorer. */
    }
    return fd;
}

int guard_sweep_lock(const char *db_path, const char *sweep, char *err, size_t errlen)
{
    char path[4400], holder[512];
    snprintf(path, sizeof path, "%s.%s.lock", db_path, sweep);
    int fd = lock_file(path, holder, sizeof holder, err, errlen);
    if (fd == -2)
        snprintf(err, errlen,
                 "sweep %s is already being run on %s by xover %s; wait for it to end, or stop it "
                 "(its lock %s is released when it exits)",
                 sweep, db_path, holder, path);
    return fd < 0 ? -1 : fd;
}

/* A run directory's lock file: run_dir/lock. */
static void run_lock_path(const char *run_dir, char *path, size_t n) { snprintf(path, n, "%s/lock", run_dir); }

int guard_run_lock(const char *run_dir, char *err, size_t errlen)
{
    char path[4400], holder[512];
    run_lock_path(run_dir, path, sizeof path);
    int fd = lock_file(path, holder, sizeof holder, err, errlen);
    if (fd == -2) snprintf(err, errlen, "its directory %s is in use by xover %s", run_dir, holder);
    return fd;
}

void guard_unlock(int fd)
{
    if (fd >= 0) close(fd);
}

void guard_run_dir_remove_if_empty(const char *run_dir)
{
    char path[4400];
    run_lock_path(run_dir, path, sizeof path);
    unlink(path); /* a lock file is made again by whoever locks next */
    rmdir(run_dir);
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

int guard_is_run_dir_of(const char *dir, const char *key)
{
    const char *base = strrchr(dir, '/');
    base = base ? base + 1 : dir;
    return strlen(key) == 64 && !strcmp(base, key);
}
