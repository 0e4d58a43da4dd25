/*
 * estimate.c — what a plan will cost (tokens, FLOPs, time) and which of its
 * runs the database already has.
 */
#include "orchestrator/exec/exec.h"

#include "models/models.h"
#include "orchestrator/util/util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void exec_estimate_run(const sweep_plan *p, size_t i, exec_estimate *e)
{
    double layers = 0, dim = 0, heads = 0, hidden = 0, vocab = 0, seq = 0, batch = 0, u = 0;
    memset(e, 0, sizeof *e);
    if (sweep_plan_number(p, i, "model.layers", &layers) || sweep_plan_number(p, i, "model.dim", &dim) ||
        sweep_plan_number(p, i, "model.heads", &heads))
        return;
    sweep_plan_number(p, i, "model.hidden", &hidden);
    sweep_plan_number(p, i, "data.vocab", &vocab);
    sweep_plan_number(p, i, "train.seq_len", &seq);
    sweep_plan_number(p, i, "train.batch", &batch);
    sweep_plan_number(p, i, "data.unique_tokens", &u);
    double experts = 0, top_k = 1;
    sweep_plan_number(p, i, "model.experts", &experts);
    sweep_plan_number(p, i, "model.top_k", &top_k);
    model_config c = {.layers = (int)layers, .dim = (int)dim, .heads = (int)heads, .hidden = (int)hidden,
                      .vocab = (int)vocab, .seq_len = (int)seq, .batch = (int)batch,
                      .experts = (int)experts, .top_k = (int)top_k};
    if (!c.hidden && c.dim > 0) c.hidden = model_default_hidden(c.dim);
    e->params = (double)model_param_count(&c, NULL);
    e->active_params = (double)model_active_param_count(&c);
    /* What this run trains: a trunk up to its last fork, a branch from its
     * fork on (sweep_plan_span). */
    double from, to;
    sweep_plan_span(p, i, &from, &to);
    e->tokens = (to - from) * u;
    e->from_tokens = from * u;
    e->flops = e->tokens * model_flops_per_token(&c);
}

/* A run as the progress lines and listings name it: the axes that vary in
 * its sweep, and a trunk or branch by its role. */
void exec_describe_run(const sweep_plan *p, size_t i, char *buf, size_t n)
{
    const sweep *s = sweep_plan_sweep(p);
    size_t len = 0;
    buf[0] = 0;
    for (size_t a = 0; a < sweep_naxes(s) && len + 1 < n; a++) {
        if (sweep_axis_nvalues(s, a) < 2) continue;
        len += (size_t)snprintf(buf + len, n - len, "%s%s=%s", len ? " " : "", sweep_axis_name(s, a),
                                sweep_plan_axis_text(p, i, a));
    }
    /* a branch by its budget, so that the family's runs tell apart */
    int role = sweep_plan_role(p, i);
    double e = 0;
    if (role == SWEEP_BRANCH && sweep_plan_number(p, i, "train.epochs", &e) == 0 && len + 1 < n)
        snprintf(buf + len, n - len, "%sbranch@%g", len ? " " : "", e);
    else if (role == SWEEP_TRUNK && len + 1 < n)
        snprintf(buf + len, n - len, "%strunk", len ? " " : "");
}

double exec_measured_speed(db *d, long long *nruns)
{
    double flops, seconds;
    /* No database yet (a --dry-run before the first run): nothing measured. */
    if (!d || db_done_speed(d, &flops, &seconds, nruns) || *nruns <= 0 || seconds <= 0) {
        *nruns = 0;
        return 0;
    }
    return flops / seconds;
}

/* ---- speeds per model shape ------------------------------------------------ */

#define SHAPE_N 9
static const char *const shape_fields[SHAPE_N] = {"model.layers",  "model.dim",     "model.heads",
                                                 "model.hidden",  "model.experts", "model.top_k",
                                                 "data.vocab",    "train.seq_len", "train.batch"};

typedef struct {
    double v[SHAPE_N];
    double flops, seconds;
} shape_speed;

struct exec_speeds {
    shape_speed *s;
    size_t n, cap;
};

/* The defaults the model fills in, so that a config that names them and
 * one that does not are the same shape. */
static void normalise(double *v)
{
    if (v[3] == 0 && v[1] > 0) v[3] = model_default_hidden((int)v[1]);
    if (v[4] == 0) v[5] = 0;
    else if (v[5] == 0) v[5] = 1;
}

static int same_shape(const double *a, const double *b)
{
    for (int k = 0; k < SHAPE_N; k++)
        if (a[k] != b[k]) return 0;
    return 1;
}

static int add_speed(void *ctx, const char *config, double flops, double seconds)
{
    exec_speeds *x = ctx;
    json_t *c = config ? json_loads(config, 0, NULL) : NULL;
    if (!c) return 0;
    double v[SHAPE_N];
    for (int k = 0; k < SHAPE_N; k++) {
        char sec[16];
        const char *dot = strchr(shape_fields[k], '.');
        snprintf(sec, sizeof sec, "%.*s", (int)(dot - shape_fields[k]), shape_fields[k]);
        v[k] = json_number_value(json_object_get(json_object_get(c, sec), dot + 1));
    }
    json_decref(c);
    normalise(v);
    for (size_t i = 0; i < x->n; i++)
        if (same_shape(x->s[i].v, v)) {
            x->s[i].flops += flops, x->s[i].seconds += seconds;
            return 0;
        }
    shape_speed *ns = xo_grow(x->s, &x->cap, x->n + 1, sizeof *ns, 16);
    if (!ns) return 1;
    x->s = ns;
    shape_speed *e = &x->s[x->n++];
    memcpy(e->v, v, sizeof v);
    e->flops = flops, e->seconds = seconds;
    return 0;
}

exec_speeds *exec_speeds_load(db *d)
{
    if (!d) return NULL;
    exec_speeds *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    if (db_done_speeds(d, add_speed, x) || !x->n) {
        exec_speeds_free(x);
        return NULL;
    }
    return x;
}

double exec_speed_for(const exec_speeds *s, const sweep_plan *p, size_t i, double fallback, int *measured)
{
    *measured = 0;
    if (!s) return fallback;
    double v[SHAPE_N];
    for (int k = 0; k < SHAPE_N; k++) {
        v[k] = 0;
        sweep_plan_number(p, i, shape_fields[k], &v[k]);
    }
    normalise(v);
    for (size_t k = 0; k < s->n; k++)
        if (same_shape(s->s[k].v, v) && s->s[k].seconds > 0) {
            *measured = 1;
            return s->s[k].flops / s->s[k].seconds;
        }
    return fallback;
}

size_t exec_speeds_shapes(const exec_speeds *s) { return s ? s->n : 0; }

void exec_speeds_free(exec_speeds *s)
{
    if (!s) return;
    free(s->s);
    free(s);
}

/* ---- statuses ------------------------------------------------------------ */

typedef struct {
    char key[65];
    signed char status;
} status_ent;

struct exec_statuses {
    status_ent *e;
    size_t cap, n;
};

static size_t hash_key(const char *k)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 16 && k[i]; i++) h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return (size_t)h;
}

static int put(exec_statuses *s, const char *key, int status)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        status_ent *e = calloc(cap, sizeof *e);
        if (!e) return -1;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->e[i].key[0]) continue;
            size_t h = hash_key(s->e[i].key) & (cap - 1);
            while (e[h].key[0]) h = (h + 1) & (cap - 1);
            e[h] = s->e[i];
        }
        free(s->e);
        s->e = e;
        s->cap = cap;
    }
    size_t h = hash_key(key) & (s->cap - 1);
    while (s->e[h].key[0] && strcmp(s->e[h].key, key)) h = (h + 1) & (s->cap - 1);
    if (!s->e[h].key[0]) s->n++;
    snprintf(s->e[h].key, sizeof s->e[h].key, "%s", key);
    s->e[h].status = (signed char)status;
    return 0;
}

static int status_row(void *ctx, const char *key, int status)
{
    return put(ctx, key, status) ? 1 : 0;
}

exec_statuses *exec_statuses_load(db *d, char *err, size_t errlen)
{
    exec_statuses *s = calloc(1, sizeof *s);
    if (!s) { snprintf(err, errlen, "out of memory"); return NULL; }
    if (!d) return s;
    if (db_run_statuses(d, status_row, s)) {
        snprintf(err, errlen, "%s", db_errmsg(d));
        exec_statuses_free(s);
        return NULL;
    }
    return s;
}

const char *exec_status_of(const exec_statuses *s, const char *key)
{
    if (!s || !s->cap) return NULL;
    size_t h = hash_key(key) & (s->cap - 1);
    while (s->e[h].key[0]) {
        if (!strcmp(s->e[h].key, key))
            return s->e[h].status >= 0 && s->e[h].status < DB_NSTATUS ? db_status_names[s->e[h].status] : "?";
        h = (h + 1) & (s->cap - 1);
    }
    return NULL;
}

void exec_statuses_free(exec_statuses *s)
{
    if (!s) return;
    free(s->e);
    free(s);
}

void exec_human(double v, char *buf, size_t n)
{
    static const char suf[] = " kMGTPE";
    int k = 0;
    double a = fabs(v);
    while (a >= 999.5 && k < 6) { a /= 1000; v /= 1000; k++; }
    if (k) snprintf(buf, n, "%.3g%c", v, suf[k]);
    else snprintf(buf, n, "%.3g", v);
}
