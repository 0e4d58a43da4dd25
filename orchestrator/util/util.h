/*
 * util.h — the small utilities under every module of the orchestrator:
 *   files    writing files so that a crash or a full disk never leaves a
 *            half-written one behind (every file xover writes for people or
 *            for other processes goes through here), and reading whole files;
 *   lock     lock files that name their holder and die with it;
 *   clock    the time of day, and durations for people;
 *   grow     room in a dynamic array, grown by doubling;
 *   textbuf  a growing text buffer for SVG and HTML;
 *   version  the version and build id recorded with every run.
 * Nothing here knows of runs, sweeps or the database.
 */
#ifndef XOVER_UTIL_H
#define XOVER_UTIL_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

/* Write data to path atomically: a temporary file in the same directory,
 * written in full, fsync'd, then renamed over path; readers see the old file
 * or the new one, never a mix. The file gets mode 0666 less the umask.
 * Returns 0, or -1 with errno set and no temporary file left behind. */
int xo_write_atomic(const char *path, const void *data, size_t len);
/* Whether errno value e means a full disk (ENOSPC) or quota (EDQUOT): the
 * writes that fail so are to be retried once there is space, not failures
 * of the run. */
int xo_no_space(int e);

/* Read a whole file into a NUL-terminated buffer (caller frees); NULL with
 * errno set when it cannot be read. *len (if given) gets the byte count. */
char *xo_read_file(const char *path, size_t *len);
/* The same for the rest of an open stream (stdin for `xover sql -`). */
char *xo_read_stream(FILE *f, size_t *len);

/* ---- lock (util/lock.c) ---- */

/* Take an exclusive lock on the file at path (created if missing) without
 * waiting. The kernel drops it when the holder's last descriptor of the file
 * closes, however the holder ended, so no stale lock is left to clean; the
 * file holds a line naming the holder ("pid P on host H since T") for
 * messages. Returns the descriptor to keep (close-on-exec), -2 when another
 * process holds the lock (holder gets its line), or -1 with err. */
int xo_lock_file(const char *path, char *holder, size_t hn, char *err, size_t errlen);
/* Release a lock taken by xo_lock_file (fd < 0: nothing to do). */
void xo_unlock(int fd);

/* ---- clock (util/clock.c) ---- */

/* Unix time in seconds. */
double xo_now(void);
/* Clock id's reading in seconds: CLOCK_MONOTONIC for durations,
 * CLOCK_PROCESS_CPUTIME_ID for the CPU this process has used. */
double xo_clock(clockid_t id);
/* Seconds for people: "45s", "12m", "3.5h", "2.1d"; "?" when not finite or
 * negative (an ETA before any progress). */
void xo_duration(double s, char *buf, size_t n);

/* ---- grow: dynamic arrays (util/grow.c) ---- */

/* Room for at least `need` (>= 1) elements of `size` bytes in array p of
 * *cap elements: p itself when it has it, else p reallocated to `first`
 * elements (when *cap is 0), doubled until need fits, with *cap set.
 * NULL when the size would overflow or realloc fails: p is then untouched
 * and still the caller's, *cap unchanged. The usual append:
 *
 *     T *t = xo_grow(a->v, &a->cap, a->n + 1, sizeof *t, 16);
 *     if (!t) return -1;
 *     a->v = t;
 *     a->v[a->n++] = x;
 */
void *xo_grow(void *p, size_t *cap, size_t need, size_t size, size_t first);

/* ---- textbuf: a growing text buffer (util/textbuf.c) ---- */

typedef struct {
    char *s;    /* NUL-terminated text, or NULL while empty */
    size_t n;   /* bytes of text */
    size_t cap; /* bytes allocated */
    int oom;    /* an allocation failed: the text is incomplete */
} textbuf;

/* Append printf-formatted text. */
void tb_printf(textbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s with &, <, > and " escaped for XML and HTML. */
void tb_escape(textbuf *b, const char *s);
/* The text, handed to the caller (free it), or NULL after an allocation
 * failure (the buffer is freed). The buffer is empty afterwards. */
char *tb_take(textbuf *b);
/* Free the text. */
void tb_free(textbuf *b);

/* ---- version (util/version.c) ---- */
#define XOVER_VERSION "0.1.0"
/* "VERSION+COMMIT": the build that trained a run, recorded with it. */
const char *xover_build_id(void);

#endif
