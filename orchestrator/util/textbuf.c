/*
 * textbuf.c — a growing text buffer (see util.h).
 */
#include "orchestrator/util/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void tb_printf(textbuf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) { b->oom = 1; return; }
        if (b->s && b->n + (size_t)k < b->cap) { b->n += (size_t)k; return; }
        /* Grow geometrically so a document of n bytes costs O(n) copies. */
        size_t cap = (b->cap ? b->cap * 2 : 8192) + (size_t)k;
        char *t = realloc(b->s, cap);
        if (!t) { b->oom = 1; return; }
        b->s = t;
        b->cap = cap;
    }
}

void tb_escape(textbuf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': tb_printf(b, "&amp;"); break;
        case '<': tb_printf(b, "&lt;"); break;
        case '>': tb_printf(b, "&gt;"); break;
        case '"': tb_printf(b, "&quot;"); break;
        default: tb_printf(b, "%c", *s); break;
        }
    }
}

char *tb_take(textbuf *b)
{
    char *s = b->s;
    if (b->oom) { free(s); s = NULL; }
    *b = (textbuf){0};
    return s;
}

void tb_free(textbuf *b)
{
    free(b->s);
    *b = (textbuf){0};
}
