/*
 * files.c — atomic writes and whole-file reads (see util.h).
 */
#include "orchestrator/util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int xo_write_atomic(const char *path, const void *data, size_t len)
{
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) return -1;
    /* The pid keeps two writers of one file (two workers) apart; rename is
     * atomic, so the last one wins whole. */
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) { free(tmp); return -1; }
    const char *p = data;
    size_t off = 0;
    int rc = 0;
    while (off < len) {
        ssize_t w = write(fd, p + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { if (w == 0) errno = EIO; rc = -1; break; }
        off += (size_t)w;
    }
    if (!rc && fsync(fd)) rc = -1;
    if (close(fd) && !rc) rc = -1;
    if (!rc && rename(tmp, path)) rc = -1;
    if (rc) {
        int e = errno;
        unlink(tmp);
        errno = e;
    }
    free(tmp);
    return rc;
}

int xo_no_space(int e) { return e == ENOSPC || e == EDQUOT; }

char *xo_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = xo_read_stream(f, len);
    int e = errno;
    fclose(f);
    errno = e;
    return buf;
}

char *xo_read_stream(FILE *f, size_t *len)
{
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
        if (n + 1 == cap) {
            char *t = realloc(buf, cap * 2);
            if (!t) { free(buf); buf = NULL; break; }
            buf = t;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    if (!buf) { errno = ENOMEM; return NULL; }
    if (bad) { free(buf); errno = EIO; return NULL; }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}
