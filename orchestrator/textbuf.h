/*
 * textbuf.h — a growing text buffer for the writers that build a whole
 * document in memory before writing it atomically (SVG plots, the HTML
 * report). Appends never fail loudly: an allocation failure sets `oom`, later
 * appends do nothing, and tb_take() returns NULL, so a writer checks once.
 */
#ifndef XOVER_TEXTBUF_H
#define XOVER_TEXTBUF_H

#include <stddef.h>

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

#endif
