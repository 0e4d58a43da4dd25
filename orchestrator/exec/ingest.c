/*
 * ingest.c — a run's metrics into the database while the run is writing
 * them.
 *
 * The file is read from a byte offset that advances only past complete
 * lines, so a line the trainer is half-way through writing is left for the
 * next poll. Points are keyed by (run, name, step) in the database, so
 * reading a file again from the start (a new driver, a resumed run that
 * rewrites steps after its checkpoint) stores nothing twice.
 *
 * A JSON line is {"step": N, "tokens": T, "epoch": E, "flops": F, "name":
 * value, ...}: every other numeric field is a metric; null (a value that
 * was not finite) is stored as NULL. A regex line gives the same through
 * named groups; without a step group the line's ordinal is its step.
 */
#include "orchestrator/exec/internal.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Points parsed but not yet stored. */
typedef struct {
    db_metric *rows;
    char **names;
    size_t n, cap;
} batch;

struct ingest {
    batch pending;
    char *path;
    const pcre2_code *re;
    pcre2_match_data *md;
    long offset;
    long long ordinal;
    ingest_state st;
};

static void drop_pending(ingest *g);

ingest *ingest_new(const char *path, const pcre2_code *re)
{
    ingest *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->path = strdup(path);
    g->re = re;
    if (re) g->md = pcre2_match_data_create_from_pattern(re, NULL);
    g->st.step = -1;
    g->st.tokens = -1;
    g->st.train_loss = g->st.val_loss = g->st.best_val_loss = g->st.epoch = NAN;
    if (!g->path || (re && !g->md)) {
        ingest_free(g);
        return NULL;
    }
    return g;
}

void ingest_free(ingest *g)
{
    if (!g) return;
    free(g->path);
    if (g->md) pcre2_match_data_free(g->md);
    drop_pending(g);
    free(g->pending.rows);
    free(g->pending.names);
    free(g);
}

const ingest_state *ingest_get(const ingest *g) { return &g->st; }

static int add_row(batch *b, const char *name, long long step, long long tokens, double epoch, double flops,
                   double value)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        db_metric *r = realloc(b->rows, cap * sizeof *r);
        if (r) b->rows = r;
        char **nm = realloc(b->names, cap * sizeof *nm);
        if (nm) b->names = nm;
        if (!r || !nm) return -1;
        b->cap = cap;
    }
    b->names[b->n] = strdup(name);
    if (!b->names[b->n]) return -1;
    b->rows[b->n] = (db_metric){b->names[b->n], step, tokens, epoch, flops, value};
    b->n++;
    return 0;
}

static int is_loss(const char *name)
{
    size_t l = strlen(name);
    return l >= 4 && !strcmp(name + l - 4, "loss");
}

static void note_point(ingest *g, const char *name, long long step, long long tokens, double epoch, double value)
{
    ingest_state *s = &g->st;
    if (step >= s->step) {
        s->step = step;
        if (tokens >= 0) s->tokens = tokens;
        if (isfinite(epoch)) s->epoch = epoch;
    }
    if (!strcmp(name, "train_loss")) s->train_loss = value;
    if (!strcmp(name, "val_loss")) {
        s->val_loss = value;
        if (isfinite(value) && !(value >= s->best_val_loss)) s->best_val_loss = value;
    }
    if (is_loss(name) && !isfinite(value) && !s->nonfinite) {
        s->nonfinite = 1;
        snprintf(s->nonfinite_what, sizeof s->nonfinite_what, "%s is not finite at step %lld", name, step);
    }
}

/* A coordinate as an integer: -1 (unknown) when it is not finite or out of
 * range, as a trainer's "tokens": 1e300 would be (converting such a double
 * is undefined behaviour; found by fuzzing). */
static long long to_ll(double x)
{
    return isfinite(x) && x > -9.2e18 && x < 9.2e18 ? (long long)x : -1;
}

static double num_of(json_t *v) { return json_is_number(v) ? json_number_value(v) : NAN; }

static void parse_json_line(ingest *g, batch *b, const char *line, size_t len)
{
    json_error_t e;
    json_t *o = json_loadb(line, len, 0, &e);
    json_t *stepv = o ? json_object_get(o, "step") : NULL;
    if (!json_is_object(o) || !json_is_integer(stepv)) {
        /* Not a metrics line (a message, a torn write from a killed run). */
        g->st.bad_lines++;
        json_decref(o);
        return;
    }
    long long step = json_integer_value(stepv);
    json_t *tv = json_object_get(o, "tokens");
    long long tokens = json_is_number(tv) ? to_ll(json_number_value(tv)) : -1;
    double epoch = num_of(json_object_get(o, "epoch"));
    double flops = num_of(json_object_get(o, "flops"));
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (!strcmp(k, "step") || !strcmp(k, "tokens") || !strcmp(k, "epoch") || !strcmp(k, "flops")) continue;
        if (!json_is_number(v) && !json_is_null(v)) continue; /* labels, events */
        double x = json_is_null(v) ? NAN : json_number_value(v);
        if (add_row(b, k, step, tokens, epoch, flops, x) == 0) note_point(g, k, step, tokens, epoch, x);
    }
    g->st.lines++;
    json_decref(o);
}

static void parse_regex_line(ingest *g, batch *b, const char *line, size_t len)
{
    int rc = pcre2_match(g->re, (PCRE2_SPTR)line, len, 0, 0, g->md, NULL);
    if (rc < 0) return; /* not a metrics line: ordinary output */
    uint32_t count = 0, esize = 0;
    PCRE2_SPTR table;
    pcre2_pattern_info(g->re, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(g->re, PCRE2_INFO_NAMEENTRYSIZE, &esize);
    pcre2_pattern_info(g->re, PCRE2_INFO_NAMETABLE, &table);
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(g->md);
    long long step = ++g->ordinal, tokens = -1;
    double epoch = NAN, flops = NAN;
    char names[32][64];
    double vals[32];
    size_t nv = 0;
    for (uint32_t i = 0; i < count; i++) {
        PCRE2_SPTR ent = table + i * esize;
        int grp = (ent[0] << 8) | ent[1];
        const char *name = (const char *)ent + 2;
        if (grp >= rc || ov[2 * grp] == PCRE2_UNSET) continue;
        char buf[64];
        size_t l = ov[2 * grp + 1] - ov[2 * grp];
        if (l >= sizeof buf) l = sizeof buf - 1;
        memcpy(buf, line + ov[2 * grp], l);
        buf[l] = 0;
        char *end;
        double x = strtod(buf, &end);
        if (end == buf) x = NAN;
        if (!strcmp(name, "step")) step = to_ll(x < 0 ? NAN : x);
        else if (!strcmp(name, "tokens")) tokens = to_ll(x);
        else if (!strcmp(name, "epoch")) epoch = x;
        else if (!strcmp(name, "flops")) flops = x;
        else if (nv < 32) {
            snprintf(names[nv], sizeof names[nv], "%s", name);
            vals[nv++] = x;
        }
    }
    if (step < 0) { /* a step group that is no count: not a point */
        g->st.bad_lines++;
        return;
    }
    for (size_t i = 0; i < nv; i++)
        if (add_row(b, names[i], step, tokens, epoch, flops, vals[i]) == 0)
            note_point(g, names[i], step, tokens, epoch, vals[i]);
    g->st.lines++;
}

size_t ingest_parse(ingest *g, const char *buf, size_t len, int final)
{
    batch *b = &g->pending;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        if (!nl && !final) break; /* torn: the writer is mid-line */
        size_t l = nl ? (size_t)(nl - (buf + pos)) : len - pos;
        if (l && buf[pos + l - 1] == '\r') l--;
        if (l) {
            if (g->re) parse_regex_line(g, b, buf + pos, l);
            else parse_json_line(g, b, buf + pos, l);
        }
        pos += (nl ? (size_t)(nl - (buf + pos)) + 1 : len - pos);
    }
    return pos;
}

size_t ingest_npending(const ingest *g) { return g->pending.n; }

static void drop_pending(ingest *g)
{
    batch *b = &g->pending;
    for (size_t i = 0; i < b->n; i++) free(b->names[i]);
    b->n = 0;
}

int ingest_poll(ingest *g, db *d, long long run_id, int final, char *err, size_t errlen)
{
    FILE *f = fopen(g->path, "rb");
    if (!f) return errno == ENOENT ? 0 : (snprintf(err, errlen, "cannot read %s: %s", g->path, strerror(errno)), -1);
    if (fseek(f, 0, SEEK_END) || ftell(f) < g->offset) {
        /* The file was truncated (a fresh attempt): start over. */
        g->offset = 0;
        g->ordinal = 0;
    }
    long end = ftell(f);
    if (end <= g->offset) {
        fclose(f);
        return 0;
    }
    size_t len = (size_t)(end - g->offset);
    char *buf = malloc(len + 1);
    if (!buf || fseek(f, g->offset, SEEK_SET) || fread(buf, 1, len, f) != len) {
        free(buf);
        fclose(f);
        snprintf(err, errlen, "cannot read %s", g->path);
        return -1;
    }
    fclose(f);
    buf[len] = 0;
    long long ordinal = g->ordinal;
    size_t pos = ingest_parse(g, buf, len, final);
    int rc = 0;
    if (g->pending.n && db_ingest_metrics(d, run_id, g->pending.rows, g->pending.n)) {
        snprintf(err, errlen, "storing metrics of %s: %s", g->path, db_errmsg(d));
        g->ordinal = ordinal; /* read these lines again next time */
        rc = -1;
    } else {
        g->offset += (long)pos;
    }
    drop_pending(g);
    free(buf);
    return rc;
}
