/*
 * keys.c — a run's config and its key.
 *
 * The slow path, authoritative: build the run's JSON, resolve it with
 * run_config_resolve(), hash run_config_canonical() of it. About 15 us a run
 * plus 2.5 us of SHA-256: fine for the runs being launched, too slow for
 * planning a million.
 *
 * The fast path gives the same keys. The canonical text of every run is the
 * same text with a few holes ("slots": the fields axes and derives set), so
 * the text is cut once into fixed segments around the slots, and each slot
 * value's canonical spelling is computed once per distinct value (resolving
 * a config with that value, which also checks its range). A run's text is
 * then a concatenation, and because runs are hashed in an order where the
 * slots late in the text vary fastest, the SHA-256 state before the first
 * slot that differs from the previous run is reused: most runs hash only the
 * last hundred bytes. A sample of runs is checked against the slow path;
 * any difference (a field whose resolved value depends on another, say)
 * makes the plan fall back to the slow path for every run.
 */
#include "orchestrator/sweep/internal.h"

#include "orchestrator/run/anneal.h"
#include "orchestrator/run/run_config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building a run's JSON ------------------------------------------- */

static void set_path(json_t *root, const char *path, json_t *v)
{
    const char *dot = strchr(path, '.');
    if (!dot) {
        json_object_set_new(root, path, v);
        return;
    }
    char sec[64];
    snprintf(sec, sizeof sec, "%.*s", (int)(dot - path), path);
    json_t *o = json_object_get(root, sec);
    if (!o) {
        o = json_object();
        json_object_set_new(root, sec, o);
    }
    set_path(o, dot + 1, v);
}

static json_t *get_path(json_t *root, const char *path)
{
    const char *dot = strchr(path, '.');
    if (!dot) return json_object_get(root, path);
    char sec[64];
    snprintf(sec, sizeof sec, "%.*s", (int)(dot - path), path);
    return get_path(json_object_get(root, sec), dot + 1);
}

static json_t *derived_json(const sw_derive *dv, double x)
{
    if (dv->ftype == JSON_INTEGER) return json_integer((json_int_t)nearbyint(x));
    return json_real(x);
}

/* "objective=ar model=xs lr=1e-3" for messages. */
static void describe(const sweep *sw, const uint16_t *row, char *buf, size_t n)
{
    buf[0] = 0;
    size_t len = 0;
    for (size_t a = 0; a < sw->naxes && len + 1 < n; a++) {
        if (sw->axes[a].nvals < 2) continue;
        len += (size_t)snprintf(buf + len, n - len, "%s%s=%s", len ? " " : "", sw->axes[a].name,
                                sw->axes[a].vals[row[a]].text);
    }
    if (!len) snprintf(buf, n, "the only run");
}

/* A resolve error for the run with `row`: point at the axis value or the
 * derive whose field the message names. */
static void run_error(const sweep *sw, const uint16_t *row, const char *msg, char *err, size_t errlen)
{
    int line = 0, col = 0;
    for (size_t a = 0; a < sw->naxes && !line; a++) {
        const sw_axis *ax = &sw->axes[a];
        const char *p = ax->tgt == T_MODEL ? "model." : ax->tgt == T_QUALITY ? "data.quality" : ax->path;
        if (p && strstr(msg, p)) { line = ax->vals[row[a]].line; col = ax->vals[row[a]].col; }
    }
    for (size_t d = 0; d < sw->nderives && !line; d++)
        if (sw->derives[d].path && strstr(msg, sw->derives[d].path)) {
            line = sw->derives[d].line;
            col = sw->derives[d].col;
        }
    char who[256];
    describe(sw, row, who, sizeof who);
    if (line) snprintf(err, errlen, "%s:%d:%d: run %s: %s", sw->path, line, col, who, msg);
    else snprintf(err, errlen, "%s: run %s: %s", sw->path, who, msg);
}

/* The document of the run with axis values `row` and derived values `dv`. */
static json_t *build(const sweep *sw, const uint16_t *row, const double *dv, int resolve, int document,
                     char *err, size_t errlen)
{
    json_t *cfg = json_deep_copy(sw->base);
    json_t *params = json_object();
    for (size_t a = 0; a < sw->naxes; a++) {
        const sw_axis *ax = &sw->axes[a];
        const sw_value *v = &ax->vals[row[a]];
        switch (ax->tgt) {
        case T_FIELD: set_path(cfg, ax->path, json_deep_copy(ax->json[row[a]])); break;
        case T_MODEL: json_object_set_new(cfg, "model", json_deep_copy(sw->models[v->ref].obj)); break;
        case T_QUALITY:
            set_path(cfg, "data.quality", json_string(sw->tiers[v->ref].name));
            set_path(cfg, "data.quality_spec", json_deep_copy(sw->tiers[v->ref].spec));
            break;
        case T_FREE:
            if (ax->param) json_object_set_new(params, ax->name, json_deep_copy(ax->json[row[a]]));
            break;
        }
    }
    for (size_t d = 0; d < sw->nderives; d++) {
        const sw_derive *x = &sw->derives[d];
        if (x->tgt == T_FIELD) set_path(cfg, x->path, derived_json(x, dv[d]));
        else if (x->param) json_object_set_new(params, x->name, json_real(dv[d]));
    }
    if (sw->anneal.on) {
        char who[256];
        describe(sw, row, who, sizeof who);
        if (sw_anneal_apply(sw, cfg, who, err, errlen)) {
            json_decref(cfg);
            json_decref(params);
            return NULL;
        }
    }
    if (resolve) {
        char msg[512];
        if (run_config_resolve(cfg, msg, sizeof msg)) {
            run_error(sw, row, msg, err, errlen);
            json_decref(cfg);
            json_decref(params);
            return NULL;
        }
    }
    if (!document || !sw->has_trainer) {
        json_decref(params);
        return cfg;
    }
    return json_pack("{s:o, s:o, s:O}", "config", cfg, "params", params, "trainer", sw->trainer_json);
}

json_t *sw_run_document(const sweep_plan *p, size_t r, int resolve, char *err, size_t errlen)
{
    const sweep *sw = p->sw;
    return build(sw, &p->idx[r * sw->naxes], &p->dv[r * sw->nderives], resolve, 1, err, errlen);
}

/* A branch's config: its trunk's (its row's document) made a branch. */
static json_t *member_config(const sweep_plan *p, size_t i, json_t *doc, char *err, size_t errlen)
{
    if (!doc || !p->nm || p->m_point[i] < 0) return doc;
    char tkey[65];
    sweep_plan_key(p, p->m_parent[i], tkey);
    json_t *b = anneal_branch_config(doc, tkey, p->m_epochs[i], err, errlen);
    json_decref(doc);
    return b;
}

json_t *sweep_plan_config(const sweep_plan *p, size_t i, char *err, size_t errlen)
{
    const sweep *sw = p->sw;
    size_t r = sw_row(p, i);
    json_t *doc = build(sw, &p->idx[r * sw->naxes], &p->dv[r * sw->nderives], 1, 0, err, errlen);
    return member_config(p, i, doc, err, errlen);
}

json_t *sweep_plan_document(const sweep_plan *p, size_t i, char *err, size_t errlen)
{
    return member_config(p, i, sw_run_document(p, sw_row(p, i), 1, err, errlen), err, errlen);
}

static void hash_text(const char *s, uint8_t out[32])
{
    SHA2_CTX ctx;
    SHA256Init(&ctx);
    SHA256Update(&ctx, (const uint8_t *)s, strlen(s));
    SHA256Final(out, &ctx);
}

static int slow_key(const sweep_plan *p, size_t i, uint8_t out[32], char *err, size_t errlen)
{
    json_t *doc = sw_run_document(p, i, 1, err, errlen);
    if (!doc) return -1;
    char *text = run_config_canonical(doc);
    json_decref(doc);
    if (!text) { snprintf(err, errlen, "out of memory"); return -1; }
    hash_text(text, out);
    free(text);
    return 0;
}

/* ---- the template ---------------------------------------------------- */

typedef struct {
    char *path;     /* in the document */
    int kind;       /* 0 axis, 1 derive */
    size_t who;     /* axis or derive index */
    char **frag;    /* axis: per value (interned) */
} slot;

typedef struct {
    uint64_t bits;
    char *frag;
} memo_ent;

typedef struct {
    memo_ent *e;
    size_t cap, n;
} memo;

typedef struct {
    sweep_plan *p;
    slot *slots;
    size_t nslots;
    char **seg;     /* nslots + 1 fixed segments */
    size_t *seglen;
    size_t nseg;
    memo *dmemo;    /* per derive */
    char *buf;      /* segment being built */
    size_t len, cap;
    int bad;
} tmpl;

static void buf_add(tmpl *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *b = realloc(t->buf, cap);
        if (!b) { t->bad = 1; return; }
        t->buf = b;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = 0;
}

static void end_segment(tmpl *t)
{
    /* seg has room for nslots + 1; each slot path occurs once at most */
    if (t->nseg > t->nslots) { t->bad = 1; return; }
    t->seg[t->nseg] = t->buf ? t->buf : strdup("");
    t->seglen[t->nseg++] = t->len;
    t->buf = NULL;
    t->len = t->cap = 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static size_t find_slot(const tmpl *t, const char *path, size_t upto)
{
    for (size_t s = 0; s < upto; s++)
        if (!strcmp(t->slots[s].path, path)) return s;
    return (size_t)-1;
}

/* Walk the canonical structure of `v`, cutting segments at slots. `order`
 * collects the slot indices in text order. */
static void walk(tmpl *t, json_t *v, const char *path, size_t nslots_all, size_t *order, size_t *norder)
{
    if (!json_is_object(v)) {
        char *s = run_config_canonical(v);
        if (!s) { t->bad = 1; return; }
        buf_add(t, s, strlen(s));
        free(s);
        return;
    }
    size_t n = json_object_size(v);
    char **keys = calloc(n ? n : 1, sizeof *keys);
    if (!keys) { t->bad = 1; return; }
    size_t k = 0;
    const char *key;
    json_t *x;
    json_object_foreach(v, key, x) keys[k++] = (char *)key;
    qsort(keys, n, sizeof *keys, cmp_str);
    buf_add(t, "{", 1);
    for (k = 0; k < n; k++) {
        if (k) buf_add(t, ",", 1);
        json_t *ks = json_string(keys[k]);
        char *kt = json_dumps(ks, JSON_ENCODE_ANY | JSON_COMPACT);
        json_decref(ks);
        if (!kt) { t->bad = 1; break; }
        buf_add(t, kt, strlen(kt));
        free(kt);
        buf_add(t, ":", 1);
        char sub[256];
        if (*path) snprintf(sub, sizeof sub, "%s.%s", path, keys[k]);
        else snprintf(sub, sizeof sub, "%s", keys[k]);
        size_t s = find_slot(t, sub, nslots_all);
        if (s != (size_t)-1) {
            end_segment(t);
            order[(*norder)++] = s;
        } else {
            walk(t, json_object_get(v, keys[k]), sub, nslots_all, order, norder);
        }
    }
    buf_add(t, "}", 1);
    free(keys);
}

/* The canonical spelling of the value at `path` in a resolved document. */
static char *fragment_of(json_t *doc, const char *path)
{
    json_t *v = get_path(doc, path);
    return v ? run_config_canonical(v) : NULL;
}

static char *derive_fragment(tmpl *t, size_t d, double x, const uint16_t *row, const double *dv0,
                             char *err, size_t errlen)
{
    sweep_plan *p = t->p;
    const sweep *sw = p->sw;
    memo *m = &t->dmemo[d];
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    if (m->n * 2 >= m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        memo_ent *e = calloc(cap, sizeof *e);
        if (!e) return NULL;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->e[i].frag) continue;
            size_t h = (size_t)((m->e[i].bits * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
            while (e[h].frag) h = (h + 1) & (cap - 1);
            e[h] = m->e[i];
        }
        free(m->e);
        m->e = e;
        m->cap = cap;
    }
    size_t h = (size_t)((bits * 0x9E3779B97F4A7C15ull) >> 20) & (m->cap - 1);
    while (m->e[h].frag) {
        if (m->e[h].bits == bits) return m->e[h].frag;
        h = (h + 1) & (m->cap - 1);
    }
    /* New value: resolve a config with it, which checks its range too. */
    double *dv = malloc((sw->nderives ? sw->nderives : 1) * sizeof *dv);
    if (!dv) return NULL;
    memcpy(dv, dv0, sw->nderives * sizeof *dv);
    dv[d] = x;
    json_t *doc = build(sw, row, dv, 1, 1, err, errlen);
    free(dv);
    if (!doc) return NULL;
    const sw_derive *x_d = &sw->derives[d];
    char path[200];
    if (x_d->tgt == T_FIELD) snprintf(path, sizeof path, "%s%s", sw->has_trainer ? "config." : "", x_d->path);
    else snprintf(path, sizeof path, "params.%s", x_d->name);
    char *f = fragment_of(doc, path);
    json_decref(doc);
    if (!f) return NULL;
    m->e[h].bits = bits;
    m->e[h].frag = f;
    m->n++;
    return f;
}

static void tmpl_free(tmpl *t)
{
    const sweep *sw = t->p->sw;
    for (size_t s = 0; s < t->nslots; s++) {
        if (t->slots[s].frag) {
            size_t nv = sw->axes[t->slots[s].who].nvals;
            for (size_t v = 0; v < nv; v++) free(t->slots[s].frag[v]);
            free(t->slots[s].frag);
        }
        free(t->slots[s].path);
    }
    free(t->slots);
    for (size_t s = 0; s < t->nseg; s++) free(t->seg[s]);
    free(t->seg);
    free(t->seglen);
    if (t->dmemo)
        for (size_t d = 0; d < sw->nderives; d++) {
            for (size_t i = 0; i < t->dmemo[d].cap; i++) free(t->dmemo[d].e[i].frag);
            free(t->dmemo[d].e);
        }
    free(t->dmemo);
    free(t->buf);
}

static int add_slot(tmpl *t, const char *path, int kind, size_t who)
{
    slot *ns = realloc(t->slots, (t->nslots + 1) * sizeof *ns);
    if (!ns) return -1;
    t->slots = ns;
    char full[256];
    snprintf(full, sizeof full, "%s%s", t->p->sw->has_trainer && strncmp(path, "params.", 7) ? "config." : "", path);
    t->slots[t->nslots++] = (slot){strdup(full), kind, who, NULL};
    return 0;
}

/* 1 = fast keys computed; 0 = this sweep needs the slow path; -1 = error. */
/* The order to hash runs in: grid runs by an odometer whose innermost
 * dimensions are those whose slots come last in the text, then the runs
 * include added. */
static size_t *hash_order(const sweep_plan *p, const tmpl *t)
{
    const sweep *sw = p->sw;
    size_t nd = sw->ndims, nder = sw->nderives;
    size_t *pos = malloc((nd + 1) * sizeof *pos);
    size_t *perm = malloc((nd + 1) * sizeof *perm);
    size_t *digit = calloc(nd + 1, sizeof *digit);
    size_t *stride = malloc((nd + 1) * sizeof *stride);
    uint8_t *dep = calloc((nder ? nder : 1) * (nd ? nd : 1), 1);
    size_t *order = malloc((p->n ? p->n : 1) * sizeof *order);
    if (!pos || !perm || !digit || !stride || !dep || !order) {
        free(pos); free(perm); free(digit); free(stride); free(dep); free(order);
        return NULL;
    }
    for (size_t k = 0; k < nder; k++) {
        const sw_derive *x = &sw->derives[k];
        for (size_t j = 0; j < sw_expr_nnames(x->expr); j++) {
            if (x->src[j] == SRC_AXIS) dep[k * nd + (size_t)sw->axes[x->src_idx[j]].dim] = 1;
            else if (x->src[j] == SRC_MODEL_FIELD) dep[k * nd + (size_t)sw->axes[sw->model_axis].dim] = 1;
            else if (x->src[j] == SRC_DERIVE)
                for (size_t d = 0; d < nd; d++) dep[k * nd + d] |= dep[x->src_idx[j] * nd + d];
        }
    }
    for (size_t d = 0; d < nd; d++) {
        pos[d] = (size_t)-1;
        for (size_t s = 0; s < t->nslots && pos[d] == (size_t)-1; s++) {
            const slot *sl = &t->slots[s];
            if (sl->kind == 0 ? (size_t)sw->axes[sl->who].dim == d : dep[sl->who * nd + d]) pos[d] = s;
        }
        perm[d] = d;
    }
    for (size_t i = 1; i < nd; i++) /* stable insertion sort by position */
        for (size_t j = i; j > 0 && pos[perm[j - 1]] > pos[perm[j]]; j--) {
            size_t tmp = perm[j];
            perm[j] = perm[j - 1];
            perm[j - 1] = tmp;
        }
    size_t st = 1;
    for (size_t d = nd; d-- > 0;) {
        stride[d] = st;
        st *= sw->dims[d].len;
    }
    size_t n = 0;
    for (size_t c = 0; c < p->ngrid; c++) {
        size_t lin = 0;
        for (size_t d = 0; d < nd; d++) lin += digit[d] * stride[d];
        if (p->combo_run[lin] >= 0) order[n++] = (size_t)p->combo_run[lin];
        for (size_t k = nd; k-- > 0;) {
            size_t d = perm[k];
            if (++digit[d] < sw->dims[d].len) break;
            digit[d] = 0;
        }
    }
    for (size_t i = p->ngridruns; i < p->n; i++) order[n++] = i;
    free(pos); free(perm); free(digit); free(stride); free(dep);
    return order;
}

static int fast_keys(sweep_plan *p, char *err, size_t errlen)
{
    size_t *order_runs = NULL, norder = p->n;
    const sweep *sw = p->sw;
    tmpl t = {.p = p};
    int rc = -1;
    char pbuf[200];
    for (size_t a = 0; a < sw->naxes; a++) {
        const sw_axis *ax = &sw->axes[a];
        if (ax->tgt == T_FIELD) add_slot(&t, ax->path, 0, a);
        else if (ax->tgt == T_MODEL) add_slot(&t, "model", 0, a);
        else if (ax->tgt == T_QUALITY) { add_slot(&t, "data.quality", 0, a); add_slot(&t, "data.quality_spec", 0, a); }
        else if (ax->param) { snprintf(pbuf, sizeof pbuf, "params.%s", ax->name); add_slot(&t, pbuf, 0, a); }
    }
    for (size_t d = 0; d < sw->nderives; d++) {
        const sw_derive *x = &sw->derives[d];
        if (x->tgt == T_FIELD) add_slot(&t, x->path, 1, d);
        else if (x->param) { snprintf(pbuf, sizeof pbuf, "params.%s", x->name); add_slot(&t, pbuf, 1, d); }
    }
    /* Slots inside other slots (a model axis and a dim axis): slow path. */
    for (size_t s = 0; s < t.nslots; s++)
        for (size_t u = 0; u < t.nslots; u++) {
            size_t l = strlen(t.slots[s].path);
            if (s != u && !strncmp(t.slots[s].path, t.slots[u].path, l) && t.slots[u].path[l] == '.') {
                rc = 0;
                goto out;
            }
        }
    json_t *doc0 = sw_run_document(p, 0, 1, err, errlen);
    if (!doc0) goto out;
    size_t *order = calloc(t.nslots + 1, sizeof *order), norder_s = 0;
    t.seg = calloc(t.nslots + 2, sizeof *t.seg);
    t.seglen = calloc(t.nslots + 2, sizeof *t.seglen);
    if (!order || !t.seg || !t.seglen) { json_decref(doc0); free(order); goto out; }
    walk(&t, doc0, "", t.nslots, order, &norder_s);
    end_segment(&t);
    json_decref(doc0);
    if (t.bad || norder_s != t.nslots || t.nseg != t.nslots + 1) { free(order); rc = 0; goto out; }
    /* Reorder slots to text order. */
    slot *sorted = malloc(t.nslots * sizeof *sorted);
    if (!sorted) { free(order); goto out; }
    for (size_t s = 0; s < t.nslots; s++) sorted[s] = t.slots[order[s]];
    free(t.slots);
    t.slots = sorted;
    free(order);

    /* Fragments of every axis value. */
    size_t na = sw->naxes, nd = sw->nderives;
    uint16_t *row = malloc((na ? na : 1) * sizeof *row);
    if (!row) goto out;
    for (size_t s = 0; s < t.nslots; s++) {
        slot *sl = &t.slots[s];
        if (sl->kind != 0) continue;
        const sw_axis *ax = &sw->axes[sl->who];
        sl->frag = calloc(ax->nvals, sizeof *sl->frag);
        if (!sl->frag) { free(row); goto out; }
        for (size_t v = 0; v < ax->nvals; v++) {
            memcpy(row, &p->idx[0], na * sizeof *row);
            row[sl->who] = (uint16_t)v;
            json_t *doc = build(sw, row, &p->dv[0], 1, 1, err, errlen);
            if (!doc) { free(row); goto out; }
            sl->frag[v] = fragment_of(doc, sl->path);
            json_decref(doc);
            if (!sl->frag[v]) { free(row); rc = 0; goto out; }
        }
    }
    order_runs = hash_order(p, &t);
    if (!order_runs) { free(row); goto out; }
    t.dmemo = calloc(nd ? nd : 1, sizeof *t.dmemo);
    const char **cur = calloc(t.nslots + 1, sizeof *cur);
    SHA2_CTX *before = malloc((t.nslots + 1) * sizeof *before);
    if (!t.dmemo || !cur || !before) { free(row); free(cur); free(before); goto out; }
    SHA256Init(&before[0]);
    SHA256Update(&before[0], (const uint8_t *)t.seg[0], t.seglen[0]);
    int first = 1;
    for (size_t r = 0; r < norder; r++) {
        size_t i = order_runs[r];
        const uint16_t *ri = &p->idx[i * na];
        const double *di = &p->dv[i * nd];
        size_t firstdiff = t.nslots;
        for (size_t s = 0; s < t.nslots; s++) {
            const slot *sl = &t.slots[s];
            const char *f;
            if (sl->kind == 0) {
                f = sl->frag[ri[sl->who]];
            } else {
                f = derive_fragment(&t, sl->who, di[sl->who], ri, di, err, errlen);
                if (!f) {
                    free(row); free(cur); free(before);
                    if (!*err) snprintf(err, errlen, "out of memory");
                    goto out;
                }
            }
            if (first || f != cur[s]) {
                if (firstdiff == t.nslots) firstdiff = s;
                cur[s] = f;
            }
        }
        first = 0;
        SHA2_CTX ctx = before[firstdiff];
        for (size_t s = firstdiff; s < t.nslots; s++) {
            before[s] = ctx;
            SHA256Update(&ctx, (const uint8_t *)cur[s], strlen(cur[s]));
            SHA256Update(&ctx, (const uint8_t *)t.seg[s + 1], t.seglen[s + 1]);
        }
        before[t.nslots] = ctx;
        SHA256Final(p->key[i], &ctx);
    }
    free(row);
    free(cur);
    free(before);
    rc = 1;
out:
    free(order_runs);
    tmpl_free(&t);
    return rc;
}

int sw_compute_keys(sweep_plan *p, int flags, char *err, size_t errlen)
{
    if (!p->n) return 0;
    err[0] = 0;
    /* A trunk's points may follow its epochs ("N per doubling"), which the
     * template cannot know: annealed sweeps (small ones) take the slow path. */
    if (!(flags & SWEEP_SLOW_KEYS) && !p->sw->anneal.on) {
        int rc = fast_keys(p, err, errlen);
        if (rc < 0) return -1;
        if (rc == 1) {
            /* Check a sample against the authoritative path. */
            int same = 1;
            for (size_t k = 0; k < 16 && same; k++) {
                size_t i = k == 15 ? p->n - 1 : (p->n - 1) * k / 15;
                uint8_t key[32];
                if (slow_key(p, i, key, err, errlen)) return -1;
                same = !memcmp(key, p->key[i], 32);
            }
            if (same) {
                p->fast = 1;
                return 0;
            }
        }
    }
    p->fast = 0;
    for (size_t i = 0; i < p->n; i++)
        if (slow_key(p, i, p->key[i], err, errlen)) return -1;
    return 0;
}
