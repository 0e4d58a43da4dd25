/*
 * lock.c — lock files that name their holder (see util.h).
 *
 * Open-file-description locks (fcntl F_OFD_SETLK), which the kernel drops
 * when the last descriptor of the open file goes away, however its holder
 * ended (kill -9 included), so there is no stale lock to clean. The file
 * holds a line naming the holder, for the messages; the lock itself, not
 * the text, is what counts.
 */
#include "orchestrator/util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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

/* The holder line of a lock file, without its newline. */
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

int xo_lock_file(const char *path, char *holder, size_t hn, char *err, size_t errlen)
{
    /* The holder's line is written into the file: a symbolic link there
     * (planted, or left over) would have us truncate and overwrite its
     * target, and a FIFO would block. Only a regular file is a lock. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
    if (fd < 0 && errno == ELOOP)
        return snprintf(err, errlen, "the lock file %s is not a regular file but a symbolic link: refusing to "
                        "follow it (remove it, if it is no lock of yours)", path), -1;
    if (fd < 0) return snprintf(err, errlen, "cannot open the lock file %s: %s", path, strerror(errno)), -1;
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        close(fd);
        return snprintf(err, errlen, "the lock file %s is not a regular file: refusing to use it", path), -1;
    }
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

void xo_unlock(int fd)
{
    if (fd >= 0) close(fd);
}
