/*
 * util.h — the small utilities under every module of the orchestrator:
 *   files    writing files so that a crash or a full disk never leaves a
 *            half-written one behind (every file xover writes for people or
 *            for other processes goes through here), and reading whole files;
 *   textbuf  a growing text buffer for SVG and HTML;
 *   version  the version and build id recorded with every run.
 * Nothing here knows of runs, sweeps or the database.
 */
#ifndef XOVER_UTIL_H
#define XOVER_UTIL_H

#include <stddef.h>
#include <stdio.h>

/* Write data to path atomically: a temporary file in the same directory,
 * written in full, fsync'd, then renamed over path; readers see the old file
 * or the new one, never a mix. The file gets mode 0666 less the umask.
 * Returns 0, or -1 with errno set and no temporary file left behind. */
int xo_write_atomic(const char *path, const void *data, size_t len);

/* Read a whole file into a NUL-terminated buffer (caller frees); NULL with
 * errno set when it cannot be read. *len (if given) gets the byte count. */
char *xo_read_file(const char *path, size_t *len);
/* The same for the rest of an open stream (stdin for `xover sql -`). */
char *xo_read_stream(FILE *f, size_t *len);

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
