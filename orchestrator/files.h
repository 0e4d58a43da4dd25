/*
 * files.h — writing files so that a crash or a full disk never leaves a
 * half-written one behind: every file xover writes for people or for other
 * processes (configs, status, plots, reports, exports) goes through here.
 */
#ifndef XOVER_FILES_H
#define XOVER_FILES_H

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

#endif
