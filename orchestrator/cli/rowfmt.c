/*
 * rowfmt.c — typed rows → table, CSV, JSON, JSON Lines, Markdown.
 *
 * CSV and JSON stream row by row, so an export of millions of rows needs no
 * memory; table and Markdown must see every row to size the columns, so
 * they keep the cell texts until rowfmt_finish().
 */
#include "orchestrator/cli/rowfmt.h"

#include "orchestrator/cli/cli.h"
#include "orchestrator/util/util.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"table", "csv", "json", "jsonl", "md", NULL};

struct rowfmt {
    rowfmt_kind kind;
    FILE *out;
    int ncol;
    char **names;     /* column names */
    char **keys;      /* JSON: the names already encoded as JSON strings */
    long long rows;   /* rows written or kept */
    int oom;
    /* table / md: every cell's text, row-major, and which columns are numbers */
    char **cells;
    size_t ncells, cap;
    unsigned char *numeric; /* 1 numbers only, 0 unknown yet (all NULL), 2 text seen */
};

const char *rowfmt_name(rowfmt_kind k) { return kind_names[k]; }

int rowfmt_parse(const char *name, unsigned allowed)
{
    for (int k = 0; kind_names[k]; k++)
        if ((allowed & (1u << k)) && name && strcmp(name, kind_names[k]) == 0) return k;
    return -1;
}

int rowfmt_bad_format(const char *cmd, const char *name, unsigned allowed)
{
    const char *cands[8];
    char list[64] = "";
    size_t n = 0;
    for (int k = 0; kind_names[k]; k++) {
        if (!(allowed & (1u << k))) continue;
        cands[n++] = kind_names[k];
        if (list[0]) strcat(list, ", ");
        strcat(list, kind_names[k]);
    }
    cands[n] = NULL;
    const char *hint = cli_did_you_mean(name, cands);
    if (hint)
        return cli_usage_error(cmd, "unknown format '%s' (one of %s); did you mean '%s'?", name,
                               list, hint);
    return cli_usage_error(cmd, "unknown format '%s' (one of %s)", name, list);
}

/* ---- cell text -------------------------------------------------------- */

/* The fewest significant digits (15..17) that read back as d: 0.1 stays
 * "0.1" instead of %.17g's "0.10000000000000001". */
static int real_digits(double d)
{
    char buf[40];
    for (int p = 15; p < 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, d);
        if (strtod(buf, NULL) == d) return p;
    }
    return 17;
}

static void real_text(double d, char *buf, size_t n)
{
    if (isnan(d)) { snprintf(buf, n, "NaN"); return; }
    if (isinf(d)) { snprintf(buf, n, d > 0 ? "Inf" : "-Inf"); return; }
    snprintf(buf, n, "%.*g", real_digits(d), d);
    if (!strpbrk(buf, ".e") && strlen(buf) + 3 <= n) strcat(buf, ".0");
}

static char *blob_text(const db_value *v)
{
    char *s = malloc(v->len * 2 + 4);
    if (!s) return NULL;
    char *p = s;
    *p++ = 'X';
    *p++ = '\'';
    for (size_t i = 0; i < v->len; i++) p += sprintf(p, "%02X", (unsigned char)v->s[i]);
    *p++ = '\'';
    *p = 0;
    return s;
}

enum { ESC_NONE, ESC_TABLE, ESC_MD };

/* A malloc'd text for a cell. Table and md cells must stay on one line. */
static char *cell_text(const db_value *v, int esc)
{
    char num[64];
    switch (v->type) {
    case DB_NULL: return strdup("");
    case DB_INT: snprintf(num, sizeof num, "%lld", v->i); return strdup(num);
    case DB_REAL: real_text(v->d, num, sizeof num); return strdup(num);
    case DB_BLOB: return blob_text(v);
    case DB_TEXT: break;
    }
    if (esc == ESC_NONE) return strndup(v->s, v->len);
    char *s = malloc(v->len * 2 + 1), *p = s;
    if (!s) return NULL;
    for (size_t i = 0; i < v->len; i++) {
        char c = v->s[i];
        if (c == '\n') { *p++ = '\\'; *p++ = 'n'; }
        else if (c == '\r') { *p++ = '\\'; *p++ = 'r'; }
        else if (c == '\t') { *p++ = '\\'; *p++ = 't'; }
        else if (c == '|' && esc == ESC_MD) { *p++ = '\\'; *p++ = '|'; }
        else *p++ = c;
    }
    *p = 0;
    return s;
}

char *rowfmt_cell(const db_value *v, char *buf, size_t n)
{
    char *s = cell_text(v, ESC_NONE);
    snprintf(buf, n, "%s", s ? s : "");
    free(s);
    return buf;
}

/* Display width: one column per UTF-8 code point. */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) w++;
    return w;
}

/* ---- JSON (through jansson) ------------------------------------------ */

/* Text that is not valid UTF-8 (SQLite does not check) with each bad byte
 * replaced by U+FFFD, so the JSON stays valid. */
static json_t *json_text(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    if (j) return j;
    char *t = malloc(len * 3 + 1), *p = t;
    if (!t) return NULL;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        int ok = k > 0 && i + k <= len && c != 0xC0 && c != 0xC1 && c < 0xF5;
        for (size_t m = 1; ok && m < k; m++) ok = ((unsigned char)s[i + m] & 0xC0) == 0x80;
        if (ok && k > 1) { /* overlongs and surrogates are invalid too */
            json_t *one = json_stringn(s + i, k);
            ok = one != NULL;
            json_decref(one);
        }
        if (ok) {
            memcpy(p, s + i, k);
            p += k;
            i += k;
        } else {
            memcpy(p, "\xEF\xBF\xBD", 3);
            p += 3;
            i++;
        }
    }
    j = json_stringn(t, (size_t)(p - t));
    free(t);
    return j;
}

/* Write one value as JSON. Reals get their own precision (jansson's is per
 * dump), so each is as short as it can be and still exact. */
static int json_write(FILE *out, const db_value *v)
{
    json_t *j = NULL;
    size_t flags = JSON_ENCODE_ANY | JSON_COMPACT;
    switch (v->type) {
    case DB_NULL: fputs("null", out); return 0;
    case DB_INT: j = json_integer(v->i); break;
    case DB_REAL:
        if (!isfinite(v->d)) { fputs("null", out); return 0; } /* JSON has no NaN/Inf */
        j = json_real(v->d);
        flags |= JSON_REAL_PRECISION(real_digits(v->d));
        break;
    case DB_TEXT: j = json_text(v->s, v->len); break;
    case DB_BLOB: {
        char *hex = blob_text(v);
        if (!hex) return -1;
        j = json_string(hex);
        free(hex);
        break;
    }
    }
    if (!j) return -1;
    int rc = json_dumpf(j, out, flags);
    json_decref(j);
    return rc;
}

/* ---- the formatter ---------------------------------------------------- */

rowfmt *rowfmt_new(rowfmt_kind kind, FILE *out)
{
    rowfmt *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->kind = kind;
    f->out = out;
    return f;
}

static void csv_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n") && s[0] != ' ' && (!*s || s[strlen(s) - 1] != ' ')) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"') fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

int rowfmt_columns(rowfmt *f, int n, const char *const *names)
{
    f->ncol = n;
    f->names = calloc((size_t)n + 1, sizeof *f->names);
    f->keys = calloc((size_t)n + 1, sizeof *f->keys);
    f->numeric = calloc((size_t)n + 1, 1);
    if (!f->names || !f->keys || !f->numeric) return f->oom = -1;
    for (int i = 0; i < n; i++) {
        f->names[i] = strdup(names[i]);
        json_t *k = json_string(names[i]);
        f->keys[i] = k ? json_dumps(k, JSON_ENCODE_ANY) : NULL;
        json_decref(k);
        if (!f->names[i] || !f->keys[i]) return f->oom = -1;
    }
    if (f->kind == ROWFMT_CSV) {
        for (int i = 0; i < n; i++) {
            if (i) fputc(',', f->out);
            csv_field(f->out, names[i]);
        }
        fputc('\n', f->out);
    } else if (f->kind == ROWFMT_JSON) {
        fputc('[', f->out);
    }
    return 0;
}

int rowfmt_row(rowfmt *f, int n, const db_value *v)
{
    if (f->oom) return -1;
    if (n > f->ncol) n = f->ncol;
    switch (f->kind) {
    case ROWFMT_CSV:
        for (int i = 0; i < n; i++) {
            if (i) fputc(',', f->out);
            char *s = cell_text(&v[i], ESC_NONE);
            if (!s) return f->oom = -1;
            csv_field(f->out, s);
            free(s);
        }
        fputc('\n', f->out);
        break;
    case ROWFMT_JSON:
    case ROWFMT_JSONL:
        if (f->kind == ROWFMT_JSON) fputs(f->rows ? ",\n" : "\n", f->out);
        fputc('{', f->out);
        for (int i = 0; i < n; i++) {
            fprintf(f->out, "%s%s: ", i ? ", " : "", f->keys[i]);
            if (json_write(f->out, &v[i])) return f->oom = -1;
        }
        fputs(f->kind == ROWFMT_JSON ? "}" : "}\n", f->out);
        break;
    case ROWFMT_TABLE:
    case ROWFMT_MD:
        if (f->ncells + (size_t)f->ncol > f->cap) { /* a row of no columns needs nothing */
            char **c = xo_grow(f->cells, &f->cap, f->ncells + (size_t)f->ncol, sizeof *c, 256);
            if (!c) return f->oom = -1;
            f->cells = c;
        }
        for (int i = 0; i < f->ncol; i++) {
            char *s = i < n ? cell_text(&v[i], f->kind == ROWFMT_MD ? ESC_MD : ESC_TABLE)
                            : strdup("");
            if (!s) return f->oom = -1;
            f->cells[f->ncells++] = s;
            if (i < n && (v[i].type == DB_INT || v[i].type == DB_REAL)) {
                if (!f->numeric[i]) f->numeric[i] = 1;
            } else if (i < n && v[i].type != DB_NULL) {
                f->numeric[i] = 2;
            }
        }
        break;
    }
    f->rows++;
    return 0;
}

static void pad(FILE *out, size_t n)
{
    while (n--) fputc(' ', out);
}

static void put_aligned(FILE *out, const char *s, size_t w, int right)
{
    size_t sw = width(s);
    if (right) pad(out, w - sw);
    fputs(s, out);
    if (!right) pad(out, w - sw);
}

/* Table and Markdown: size the columns, then write everything. */
static void write_grid(rowfmt *f)
{
    int n = f->ncol, md = f->kind == ROWFMT_MD;
    if (n == 0) return;
    size_t *w = calloc((size_t)n, sizeof *w);
    char **hdr = calloc((size_t)n, sizeof *hdr);
    if (!w || !hdr) { f->oom = -1; free(w); free(hdr); return; }
    for (int i = 0; i < n; i++) {
        db_value name = {.type = DB_TEXT, .s = f->names[i], .len = strlen(f->names[i])};
        hdr[i] = cell_text(&name, md ? ESC_MD : ESC_TABLE);
        if (!hdr[i]) { f->oom = -1; goto out; }
        w[i] = width(hdr[i]);
        if (md && w[i] < 3) w[i] = 3; /* a Markdown rule needs at least --- */
    }
    for (size_t c = 0; c < f->ncells; c++) {
        size_t cw = width(f->cells[c]);
        if (cw > w[c % (size_t)n]) w[c % (size_t)n] = cw;
    }
    /* The header. */
    for (int i = 0; i < n; i++) {
        int right = f->numeric[i] == 1;
        fputs(md ? (i ? " | " : "| ") : (i ? "  " : ""), f->out);
        /* The last table column is not padded: no trailing blanks. */
        if (!md && i == n - 1 && !right) fputs(hdr[i], f->out);
        else put_aligned(f->out, hdr[i], w[i], right);
    }
    fputs(md ? " |\n" : "\n", f->out);
    /* The rule: dashes; Markdown marks numeric columns right-aligned. */
    for (int i = 0; i < n; i++) {
        fputs(md ? (i ? " | " : "| ") : (i ? "  " : ""), f->out);
        for (size_t k = 0; k < w[i]; k++)
            fputc(md && f->numeric[i] == 1 && k == w[i] - 1 ? ':' : '-', f->out);
    }
    fputs(md ? " |\n" : "\n", f->out);
    for (size_t c = 0; c < f->ncells; c++) {
        int i = (int)(c % (size_t)n), right = f->numeric[i] == 1;
        fputs(md ? (i ? " | " : "| ") : (i ? "  " : ""), f->out);
        if (!md && i == n - 1 && !right) fputs(f->cells[c], f->out);
        else put_aligned(f->out, f->cells[c], w[i], right);
        if (i == n - 1) fputs(md ? " |\n" : "\n", f->out);
    }
out:
    for (int i = 0; i < n; i++) free(hdr[i]);
    free(hdr);
    free(w);
}

int rowfmt_finish(rowfmt *f)
{
    if (f->kind == ROWFMT_TABLE || f->kind == ROWFMT_MD) write_grid(f);
    else if (f->kind == ROWFMT_JSON) fputs(f->rows ? "\n]\n" : "]\n", f->out);
    if (fflush(f->out) != 0 || ferror(f->out)) return -1;
    return f->oom ? -1 : 0;
}

void rowfmt_free(rowfmt *f)
{
    if (!f) return;
    for (int i = 0; i < f->ncol; i++) {
        if (f->names) free(f->names[i]);
        if (f->keys) free(f->keys[i]);
    }
    for (size_t c = 0; c < f->ncells; c++) free(f->cells[c]);
    free(f->cells);
    free(f->names);
    free(f->keys);
    free(f->numeric);
    free(f);
}

static int sink_columns(void *ctx, int n, const char *const *names)
{
    return rowfmt_columns(ctx, n, names);
}

static int sink_row(void *ctx, int n, const db_value *v) { return rowfmt_row(ctx, n, v); }

db_sink rowfmt_sink(rowfmt *f) { return (db_sink){sink_columns, sink_row, f}; }
