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
 * was not finite) is stored as NULL. The string field mc_correct, the
 * cloze items' outcomes ("N:HEX"), is kept beside them (cloze_outcomes,
 * keyed by run and step like the points). A regex line gives the same through
 * named groups; without a step group the line's ordinal is its step.
 */
#include "orchestrator/exec/internal.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Points parsed but not yet stored. */
typedef struct {
    db_metric *rows;
    char **names;
    size_t n, cap;
    db_outcome *outs; /* mc_correct of the lines read, their texts owned */
    size_t nout, outcap;
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
    free(g->pending.outs);
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

/* An evaluation's item outcomes; a text not of the form is not kept (the
 * database would refuse the whole batch for it). */
static int add_outcome(batch *b, long long step, const char *text)
{
    if (db_outcomes_items(text) < 0) return -1;
    db_outcome *o = xo_grow(b->outs, &b->outcap, b->nout + 1, sizeof *o, 16);
    if (!o) return -1;
    b->outs = o;
    char *t = strdup(text);
    if (!t) return -1;
    b->outs[b->nout++] = (db_outcome){step, t};
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
        if (!strcmp(k, "mc_correct") && json_is_string(v)) {
            add_outcome(b, step, json_string_value(v));
            continue;
        }
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
    while (pos < len && !g->st.overlong) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - (buf + pos)) : len - pos;
        if (l > INGEST_MAX_LINE) { /* complete or not: no metrics line is this long */
            g->st.overlong = 1;
            break;
        }
        if (!nl && !final) break; /* torn: the writer is mid-line */
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
    for (size_t i = 0; i < b->nout; i++) free((char *)b->outs[i].outcomes);
    b->nout = 0;
}

/* Bytes read at a time: more than a line may hold, so that a chunk read
 * from a line's start always ends at least one line or finds it too long. */
#define INGEST_CHUNK (4 * INGEST_MAX_LINE)

int ingest_poll(ingest *g, db *d, long long run_id, int final, char *err, size_t errlen)
{
    if (g->st.overlong) return 0; /* said once, when found; nothing more is read */
    FILE *f = fopen(g->path, "rb");
    if (!f) return errno == ENOENT ? 0 : (snprintf(err, errlen, "cannot read %s: %s", g->path, strerror(errno)), -1);
    if (fseek(f, 0, SEEK_END) || ftell(f) < g->offset) {
        /* The file was truncated (a fresh attempt): start over. */
        g->offset = 0;
        g->ordinal = 0;
    }
    long end = ftell(f);
    char *buf = NULL;
    int rc = 0;
    while (rc == 0 && end > g->offset) {
        size_t len = (size_t)(end - g->offset);
        if (len > INGEST_CHUNK) len = INGEST_CHUNK;
        int last = g->offset + (long)len == end;
        if (!buf && !(buf = malloc(INGEST_CHUNK + 1))) {
            snprintf(err, errlen, "out of memory reading %s", g->path);
            rc = -1;
            break;
        }
        if (fseek(f, g->offset, SEEK_SET) || fread(buf, 1, len, f) != len) {
            snprintf(err, errlen, "cannot read %s", g->path);
            rc = -1;
            break;
        }
        buf[len] = 0;
        long long ordinal = g->ordinal;
        size_t pos = ingest_parse(g, buf, len, final && last);
        /* Points, then outcomes: a failure of either reads the lines
         * again next time, and storing them twice changes nothing. */
        if ((g->pending.n && db_ingest_metrics(d, run_id, g->pending.rows, g->pending.n)) ||
            (g->pending.nout && db_ingest_outcomes(d, run_id, g->pending.outs, g->pending.nout))) {
            snprintf(err, errlen, "storing metrics of %s: %s", g->path, db_errmsg(d));
            g->ordinal = ordinal; /* read these lines again next time */
            rc = INGEST_EDB;
        } else {
            g->offset += (long)pos;
        }
        drop_pending(g);
        if (rc == 0 && g->st.overlong) {
            const char *base = strrchr(g->path, '/');
            snprintf(g->st.overlong_what, sizeof g->st.overlong_what,
                     "%.80s: a line longer than %d bytes, at byte %ld: not metrics", base ? base + 1 : g->path,
                     INGEST_MAX_LINE, g->offset);
            snprintf(err, errlen, "%s", g->st.overlong_what);
            rc = -1;
        }
        if (last || pos == 0) break; /* all read, or a torn line at the end */
    }
    free(buf);
    fclose(f);
    return rc;
}

/* ---- a file's points, for `xover db check` ------------------------------- */

typedef struct {
    uint64_t name;  /* hash of the metric's name */
    long long step;
} point_id;

static int cmp_point(const void *a, const void *b)
{
    const point_id *x = a, *y = b;
    if (x->name != y->name) return x->name < y->name ? -1 : 1;
    return (x->step > y->step) - (x->step < y->step);
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The distinct (name, step) points a JSON Lines metrics file holds, as
 * ingest_poll would store them after its writer has exited; -1 with err
 * when it cannot be read (or has a line too long to be metrics). */
static long long file_points(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) return snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno)), -1;
    ingest *g = ingest_new(path, NULL);
    char *buf = malloc(INGEST_CHUNK + 1);
    point_id *pts = NULL;
    size_t n = 0, cap = 0, have = 0;
    long long out = -1;
    if (!g || !buf) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    for (;;) {
        size_t r = fread(buf + have, 1, INGEST_CHUNK - have, f);
        have += r;
        int last = r == 0 || feof(f);
        size_t used = ingest_parse(g, buf, have, last);
        if (g->st.overlong) {
            snprintf(err, errlen, "%s: a line longer than %d bytes", path, INGEST_MAX_LINE);
            goto done;
        }
        for (size_t k = 0; k < g->pending.n; k++) {
            point_id *np = xo_grow(pts, &cap, n + 1, sizeof *np, 1024);
            if (!np) {
                snprintf(err, errlen, "out of memory");
                goto done;
            }
            pts = np;
            pts[n++] = (point_id){name_hash(g->pending.rows[k].name), g->pending.rows[k].step};
        }
        drop_pending(g);
        memmove(buf, buf + used, have - used);
        have -= used;
        if (last) break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "cannot read %s", path);
        goto done;
    }
    qsort(pts, n, sizeof *pts, cmp_point);
    out = 0;
    for (size_t k = 0; k < n; k++) out += k == 0 || cmp_point(&pts[k - 1], &pts[k]) != 0;
done:
    free(pts);
    free(buf);
    ingest_free(g);
    fclose(f);
    return out;
}

typedef struct {
    exec_points_report *r;
    void (*shortfall)(void *ctx, const char *key, long long in_db, long long in_file);
    void *ctx;
    char *err;
    size_t errlen;
} compare_ctx;

static int compare_run(void *ctx, const char *key, const char *run_dir, long long in_db)
{
    compare_ctx *c = ctx;
    run_path path = rundir_path(run_dir ? run_dir : "", RUN_METRICS);
    if (!run_dir || !rundir_is_run_of(run_dir, key) || access(path.s, R_OK) != 0) {
        c->r->unchecked++; /* its directory is elsewhere, or it reports in another form */
        return 0;
    }
    long long in_file = file_points(path.s, c->err, c->errlen);
    if (in_file < 0) return 1;
    c->r->checked++;
    if (in_db < in_file) {
        c->r->short_runs++;
        c->shortfall(c->ctx, key, in_db, in_file);
    }
    return 0;
}

int exec_compare_points(db *d, void (*shortfall)(void *ctx, const char *key, long long in_db, long long in_file),
                        void *ctx, exec_points_report *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    compare_ctx c = {r, shortfall, ctx, err, errlen};
    err[0] = 0;
    int rc = db_run_points(d, "done", compare_run, &c);
    if (rc == DB_EABORT && err[0]) return -1;
    if (rc) return snprintf(err, errlen, "%s", db_errmsg(d)), -1;
    return 0;
}

/* ---- outcomes of runs ingested before they were kept (xover db init) ---- */

typedef struct {
    db *d;
    long long runs;
    char *err;
    size_t errlen;
} backfill_ctx;

/* Read the mc_correct of every line of run_dir's metrics.jsonl and store
 * them (the points are in the database already and are left alone). */
static int backfill_run(void *ctx, long long run_id, const char *key, const char *run_dir)
{
    backfill_ctx *c = ctx;
    run_path path = rundir_path(run_dir, RUN_METRICS);
    if (!rundir_is_run_of(run_dir, key) || access(path.s, R_OK) != 0) return 0; /* elsewhere */
    FILE *f = fopen(path.s, "rb");
    if (!f) return 0;
    ingest *g = ingest_new(path.s, NULL);
    char *buf = malloc(INGEST_CHUNK + 1);
    size_t have = 0, stored = 0;
    int rc = 0;
    if (!g || !buf) {
        snprintf(c->err, c->errlen, "out of memory");
        rc = 1;
    }
    while (!rc) {
        size_t r = fread(buf + have, 1, INGEST_CHUNK - have, f);
        have += r;
        int last = r == 0 || feof(f);
        size_t used = ingest_parse(g, buf, have, last);
        if (g->st.overlong) break; /* not metrics past here: what was read is kept */
        if (g->pending.nout && db_ingest_outcomes(c->d, run_id, g->pending.outs, g->pending.nout)) {
            snprintf(c->err, c->errlen, "storing the outcomes of %s: %s", path.s, db_errmsg(c->d));
            rc = 1;
        }
        stored += g->pending.nout;
        drop_pending(g);
        memmove(buf, buf + used, have - used);
        have -= used;
        if (last) break;
    }
    if (!rc && stored) c->runs++;
    free(buf);
    ingest_free(g);
    fclose(f);
    return rc;
}

int exec_backfill_outcomes(db *d, long long *runs, char *err, size_t errlen)
{
    backfill_ctx c = {d, 0, err, errlen};
    err[0] = 0;
    int rc = db_runs_without_outcomes(d, backfill_run, &c);
    *runs = c.runs;
    if (rc == DB_EABORT && err[0]) return -1;
    if (rc) return snprintf(err, errlen, "%s", db_errmsg(d)), -1;
    return 0;
}
