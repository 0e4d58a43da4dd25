/*
 * rundir.c — the files of a run directory: created, written atomically,
 * tailed for failure reports, removed.
 */
#include "orchestrator/exec/internal.h"
#include "orchestrator/util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

int rd_mkdirs(const char *path, char *err, size_t errlen)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        snprintf(err, errlen, "path too long: %s", path);
        return -1;
    }
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p) continue;
        char c = *p;
        *p = 0;
        if (mkdir(buf, 0777) && errno != EEXIST) {
            snprintf(err, errlen, "cannot create directory %s: %s", buf, strerror(errno));
            return -1;
        }
        *p = c;
        if (!c) break;
    }
    return 0;
}

int rd_write_atomic(const char *path, const char *text, size_t len, char *err, size_t errlen)
{
    if (xo_write_atomic(path, text, len) == 0) return 0;
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return -1;
}

static char *read_tail_bytes(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long end = ftell(f);
    long start = end > (long)max ? end - (long)max : 0;
    fseek(f, start, SEEK_SET);
    char *buf = malloc((size_t)(end - start) + 1);
    size_t n = buf ? fread(buf, 1, (size_t)(end - start), f) : 0;
    fclose(f);
    if (!buf) return NULL;
    buf[n] = 0;
    *len = n;
    return buf;
}

char *rd_tail(const char *path, int lines)
{
    size_t n;
    char *buf = read_tail_bytes(path, 4096, &n);
    if (!buf) return NULL;
    while (n && buf[n - 1] == '\n') buf[--n] = 0;
    if (!n) { free(buf); return NULL; }
    size_t i = n;
    int seen = 0;
    while (i > 0) {
        if (buf[i - 1] == '\n' && ++seen == lines) break;
        i--;
    }
    char *out = strdup(buf + i);
    free(buf);
    return out;
}

char *rd_last_line(const char *path)
{
    char *t = rd_tail(path, 1);
    if (t && strlen(t) > 300) t[300] = 0;
    return t;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int rd_remove_tree(const char *path)
{
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

double rd_parse_duration(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) return -1;
    double mult = 1;
    if (*end == 's') end++;
    else if (*end == 'm') { mult = 60; end++; }
    else if (*end == 'h') { mult = 3600; end++; }
    else if (*end == 'd') { mult = 86400; end++; }
    if (*end) return -1;
    return v * mult;
}

double rd_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
}
