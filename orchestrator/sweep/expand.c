/*
 * expand.c — a sweep into its plan: the grid's cross product (zip groups
 * counting as one dimension), minus exclude, plus include, with derived
 * parameters evaluated per run, keys computed (keys.c) and runs that resolve
 * to the same config merged. Also what the plan answers about a run.
 *
 * A run is a row of value indices (two bytes per axis) and its derived
 * values; nothing else is kept per run, so a million runs cost tens of MB.
 */
#include "orchestrator/sweep/internal.h"

#include "orchestrator/run/anneal.h"
#include "orchestrator/run/run_config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GRID 50000000ull

static int excluded(const sweep *sw, const uint16_t *row)
{
    for (size_t e = 0; e < sw->nexcl; e++) {
        const sw_pattern *pat = &sw->excl[e];
        size_t m;
        for (m = 0; m < pat->n; m++)
            if (!pat->m[m].allowed[row[pat->m[m].axis]]) break;
        if (m == pat->n) return 1;
    }
    return 0;
}

/* The value of expression name j of derive x for a run. */
static double source_value(const sweep *sw, const sw_derive *x, size_t j, const uint16_t *row, const double *dv)
{
    switch (x->src[j]) {
    case SRC_AXIS: return sw->axes[x->src_idx[j]].vals[row[x->src_idx[j]]].num;
    case SRC_DERIVE: return dv[x->src_idx[j]];
    case SRC_MODEL_FIELD: {
        const sw_axis *ma = &sw->axes[sw->model_axis];
        return sw->models[ma->vals[row[sw->model_axis]].ref].f[x->src_idx[j]];
    }
    case SRC_CONST: return x->src_const[j];
    }
    return NAN;
}

static int derive_row(const sweep *sw, const uint16_t *row, double *dv, char *err, size_t errlen)
{
    double vals[64];
    for (size_t d = 0; d < sw->nderives; d++) {
        const sw_derive *x = &sw->derives[d];
        size_t nn = sw_expr_nnames(x->expr);
        double *v = nn <= 64 ? vals : malloc(nn * sizeof *v);
        if (!v) { snprintf(err, errlen, "out of memory"); return -1; }
        for (size_t j = 0; j < nn; j++) v[j] = source_value(sw, x, j, row, dv);
        double r = sw_expr_eval(x->expr, v);
        if (v != vals) free(v);
        if (!isfinite(r)) {
            char who[256] = "";
            size_t len = 0;
            for (size_t a = 0; a < sw->naxes && len + 1 < sizeof who; a++)
                if (sw->axes[a].nvals > 1)
                    len += (size_t)snprintf(who + len, sizeof who - len, "%s%s=%s", len ? " " : "",
                                            sw->axes[a].name, sw->axes[a].vals[row[a]].text);
            snprintf(err, errlen, "%s:%d:%d: derive %s = %s has no finite value (division by zero?) for run %s",
                     sw->path, x->line, x->col, x->name, x->text, len ? who : "the only run");
            return -1;
        }
        /* A count is a whole number: 400k / 3 epochs rounds. */
        if (x->tgt == T_FIELD && x->ftype == JSON_INTEGER) r = nearbyint(r);
        dv[d] = r;
    }
    return 0;
}

/* Append grid combinations matching `fixed` (0xFFFF = every grid value of
 * that axis) to the plan. With check_excl, exclude patterns apply. */
static int enumerate(sweep_plan *p, const uint16_t *fixed, int check_excl, int record, char *err, size_t errlen)
{
    const sweep *sw = p->sw;
    size_t na = sw->naxes, nd = sw->ndims;
    size_t digit[256] = {0};
    if (nd > 256) { snprintf(err, errlen, "%s: too many axes", sw->path); return -1; }
    /* dims fixed by an include entry do not vary */
    size_t len[256];
    for (size_t d = 0; d < nd; d++) len[d] = fixed && fixed[sw->dims[d].axes[0]] != 0xFFFF ? 1 : sw->dims[d].len;
    size_t lin = 0;
    for (;;) {
        uint16_t *row = &p->idx[p->n * na];
        for (size_t d = 0; d < nd; d++)
            for (size_t k = 0; k < sw->dims[d].naxes; k++) {
                size_t a = sw->dims[d].axes[k];
                row[a] = fixed && fixed[a] != 0xFFFF ? fixed[a] : (uint16_t)digit[d];
            }
        if (check_excl && excluded(sw, row)) {
            p->nexcluded++;
            if (record) p->combo_run[lin] = -1;
        } else {
            if (derive_row(sw, row, &p->dv[p->n * sw->nderives], err, errlen)) return -1;
            if (record) p->combo_run[lin] = (int32_t)p->n;
            p->n++;
        }
        lin++;
        size_t d = nd;
        while (d-- > 0) {
            if (++digit[d] < len[d]) break;
            digit[d] = 0;
        }
        if (d == (size_t)-1) break;
    }
    return 0;
}

/* Drop runs whose key an earlier run has (derive can make two rows equal). */
static int merge_duplicates(sweep_plan *p)
{
    const sweep *sw = p->sw;
    size_t cap = 16;
    while (cap < p->n * 2) cap *= 2;
    uint32_t *tab = malloc(cap * sizeof *tab);
    if (!tab) return -1;
    memset(tab, 0xFF, cap * sizeof *tab);
    size_t out = 0;
    for (size_t i = 0; i < p->n; i++) {
        uint64_t h;
        memcpy(&h, p->key[i], sizeof h);
        size_t slot = (size_t)h & (cap - 1);
        int dup = 0;
        while (tab[slot] != 0xFFFFFFFFu) {
            if (!memcmp(p->key[tab[slot]], p->key[i], 32)) { dup = 1; break; }
            slot = (slot + 1) & (cap - 1);
        }
        if (dup) { p->nmerged++; continue; }
        if (out != i) {
            memcpy(p->key[out], p->key[i], 32);
            memcpy(&p->idx[out * sw->naxes], &p->idx[i * sw->naxes], sw->naxes * sizeof *p->idx);
            memcpy(&p->dv[out * sw->nderives], &p->dv[i * sw->nderives], sw->nderives * sizeof *p->dv);
        }
        tab[slot] = (uint32_t)out++;
    }
    p->n = out;
    free(tab);
    return 0;
}

/* ---- annealed runs: each trunk followed by its branches ------------------ */

/* The plan's members (anneal.c says what they are): for every row, its
 * trunk, then one branch per point with the key anneal_branch_key gives. */
static void unhex(const char *hex, uint8_t out[32])
{
    for (int k = 0; k < 32; k++) {
        unsigned v;
        sscanf(hex + 2 * k, "%2x", &v);
        out[k] = (uint8_t)v;
    }
}

int sw_anneal_expand(sweep_plan *p, char *err, size_t errlen)
{
    size_t cap = 0;
    for (size_t r = 0; r < p->n; r++) {
        json_t *t = sw_run_document(p, r, 1, err, errlen);
        if (!t) return -1;
        size_t n = anneal_npoints(t);
        json_decref(t);
        cap += 1 + n;
    }
    p->m_row = malloc(cap * sizeof *p->m_row);
    p->m_point = malloc(cap * sizeof *p->m_point);
    p->m_parent = malloc(cap * sizeof *p->m_parent);
    p->m_epochs = malloc(cap * sizeof *p->m_epochs);
    p->m_key = malloc(cap * sizeof *p->m_key);
    if (!p->m_row || !p->m_point || !p->m_parent || !p->m_epochs || !p->m_key) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t m = 0;
    for (size_t r = 0; r < p->n; r++) {
        json_t *t = sw_run_document(p, r, 1, err, errlen);
        if (!t) return -1;
        char tkey[65];
        sweep_plan_key(p, r, tkey); /* p->nm is still 0: row r's key */
        size_t trunk = m, n = anneal_npoints(t);
        p->m_row[m] = r;
        p->m_point[m] = -1;
        p->m_parent[m] = trunk;
        p->m_epochs[m] = anneal_point(t, n - 1);
        memcpy(p->m_key[m], p->key[r], 32);
        m++;
        for (size_t k = 0; k < n; k++, m++) {
            char bkey[65];
            if (anneal_branch_key(t, tkey, anneal_point(t, k), bkey, err, errlen)) {
                json_decref(t);
                return -1;
            }
            p->m_row[m] = r;
            p->m_point[m] = (int32_t)k;
            p->m_parent[m] = trunk;
            p->m_epochs[m] = anneal_point(t, k);
            unhex(bkey, p->m_key[m]);
        }
        json_decref(t);
    }
    p->nm = m;
    return 0;
}

/* ---- the plan --------------------------------------------------------- */

sweep_plan *sweep_expand(const sweep *sw, int flags, char *err, size_t errlen)
{
    err[0] = 0;
    sweep_plan *p = calloc(1, sizeof *p);
    if (!p) { snprintf(err, errlen, "out of memory"); return NULL; }
    p->sw = sw;
    unsigned long long grid = 1;
    for (size_t d = 0; d < sw->ndims; d++) {
        grid *= sw->dims[d].len;
        if (grid > MAX_GRID) {
            snprintf(err, errlen, "%s: the grid has more than %llu combinations; split the sweep", sw->path, MAX_GRID);
            free(p);
            return NULL;
        }
    }
    unsigned long long inc = 0;
    for (size_t i = 0; i < sw->nincl; i++) {
        unsigned long long k = 1;
        for (size_t d = 0; d < sw->ndims; d++)
            if (sw->incl[i * sw->naxes + sw->dims[d].axes[0]] == 0xFFFF) k *= sw->dims[d].len;
        inc += k;
    }
    if (grid + inc > MAX_GRID) {
        snprintf(err, errlen, "%s: the sweep has more than %llu runs; split it", sw->path, MAX_GRID);
        free(p);
        return NULL;
    }
    size_t cap = (size_t)(grid + inc);
    p->ngrid = (size_t)grid;
    p->idx = malloc((cap ? cap : 1) * (sw->naxes ? sw->naxes : 1) * sizeof *p->idx);
    p->dv = malloc((cap ? cap : 1) * (sw->nderives ? sw->nderives : 1) * sizeof *p->dv);
    p->combo_run = malloc((grid ? grid : 1) * sizeof *p->combo_run);
    if (!p->idx || !p->dv || !p->combo_run) {
        snprintf(err, errlen, "out of memory planning %zu runs", cap);
        sweep_plan_free(p);
        return NULL;
    }
    if (enumerate(p, NULL, 1, 1, err, errlen)) goto fail;
    p->ngridruns = p->n;
    for (size_t i = 0; i < sw->nincl; i++)
        if (enumerate(p, &sw->incl[i * sw->naxes], 0, 0, err, errlen)) goto fail;
    p->nincluded = p->n - p->ngridruns;
    p->key = malloc((p->n ? p->n : 1) * sizeof *p->key);
    if (!p->key) { snprintf(err, errlen, "out of memory"); goto fail; }
    if (p->n == 0) {
        snprintf(err, errlen, "%s: exclude removes every run of the sweep", sw->path);
        goto fail;
    }
    if (sw_compute_keys(p, flags, err, errlen)) goto fail;
    free(p->combo_run);
    p->combo_run = NULL;
    if (merge_duplicates(p)) { snprintf(err, errlen, "out of memory"); goto fail; }
    if (sw->anneal.on && sw_anneal_expand(p, err, errlen)) goto fail;
    return p;
fail:
    if (!err[0]) snprintf(err, errlen, "%s: cannot plan the sweep", sw->path);
    sweep_plan_free(p);
    return NULL;
}

/* ---- runs that share their data ------------------------------------ */

/* Whether an axis or derived parameter reaches what train_source_open
 * reads: the data section, the quality tier, the window length. */
static int feeds_data(sw_target tgt, const char *path)
{
    return tgt == T_QUALITY ||
           (tgt == T_FIELD && path && (!strncmp(path, "data.", 5) || !strcmp(path, "train.seq_len")));
}

/* Runs i and j agree on every axis and derived value that feeds the data. */
static int same_data(const sweep_plan *p, size_t i, size_t j)
{
    const sweep *sw = p->sw;
    for (size_t a = 0; a < sw->naxes; a++)
        if (feeds_data(sw->axes[a].tgt, sw->axes[a].path) && p->idx[i * sw->naxes + a] != p->idx[j * sw->naxes + a])
            return 0;
    for (size_t d = 0; d < sw->nderives; d++)
        if (feeds_data(sw->derives[d].tgt, sw->derives[d].path) &&
            memcmp(&p->dv[i * sw->nderives + d], &p->dv[j * sw->nderives + d], sizeof *p->dv))
            return 0;
    return 1;
}

static uint64_t data_hash(const sweep_plan *p, size_t i)
{
    const sweep *sw = p->sw;
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the values that feed the data */
    for (size_t a = 0; a < sw->naxes; a++)
        if (feeds_data(sw->axes[a].tgt, sw->axes[a].path)) h = (h ^ p->idx[i * sw->naxes + a]) * 1099511628211ull;
    for (size_t d = 0; d < sw->nderives; d++)
        if (feeds_data(sw->derives[d].tgt, sw->derives[d].path)) {
            uint64_t bits;
            memcpy(&bits, &p->dv[i * sw->nderives + d], sizeof bits);
            h = (h ^ bits) * 1099511628211ull;
        }
    return h;
}

size_t *sweep_plan_data_groups(const sweep_plan *p, const unsigned char *only, size_t *n)
{
    size_t cap = 16;
    while (cap < p->n * 2) cap *= 2;
    size_t *tab = malloc(cap * sizeof *tab), *out = malloc((p->n ? p->n : 1) * sizeof *out);
    if (!tab || !out) {
        free(tab);
        free(out);
        return NULL;
    }
    memset(tab, 0xFF, cap * sizeof *tab);
    *n = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (only && !only[i]) continue;
        size_t slot = (size_t)data_hash(p, i) & (cap - 1);
        while (tab[slot] != (size_t)-1 && !same_data(p, tab[slot], i)) slot = (slot + 1) & (cap - 1);
        if (tab[slot] != (size_t)-1) continue;
        tab[slot] = i;
        out[(*n)++] = i;
    }
    free(tab);
    return out;
}

/* ---- external trainer argv ------------------------------------------ */

/* Where a bare placeholder name ({lr}) is looked for, in this order. */
static const char *const sections[] = {"data", "train", "model", NULL};

static char *value_text(json_t *v)
{
    if (json_is_string(v)) return strdup(json_string_value(v));
    if (!v) return NULL;
    return run_config_canonical(v);
}

/* The text placeholder `name` stands for in run i. */
static char *placeholder(const sweep_plan *p, size_t i, json_t *doc, const char *name, const char *run_dir,
                         const char *key)
{
    const sweep *sw = p->sw;
    char buf[4200];
    if (!strcmp(name, "run_dir")) return strdup(run_dir);
    if (!strcmp(name, "key")) return strdup(key);
    if (!strcmp(name, "config")) {
        snprintf(buf, sizeof buf, "%s/config.json", run_dir);
        return strdup(buf);
    }
    json_t *cfg = sw->has_trainer ? json_object_get(doc, "config") : doc;
    for (size_t a = 0; a < sw->naxes; a++)
        if (!strcmp(sw->axes[a].name, name)) {
            const sw_axis *ax = &sw->axes[a];
            if (ax->tgt == T_FREE || ax->tgt == T_MODEL || ax->tgt == T_QUALITY)
                return strdup(ax->vals[p->idx[i * sw->naxes + a]].text);
            break;
        }
    for (size_t d = 0; d < sw->nderives; d++)
        if (!strcmp(sw->derives[d].name, name) && sw->derives[d].tgt == T_FREE) {
            json_t *r = json_real(p->dv[i * sw->nderives + d]);
            char *s = value_text(r);
            json_decref(r);
            return s;
        }
    /* a config field: dotted path, top-level name or a section's field */
    json_t *v = NULL;
    if (strchr(name, '.')) {
        char sec[64];
        const char *dot = strchr(name, '.');
        snprintf(sec, sizeof sec, "%.*s", (int)(dot - name), name);
        v = json_object_get(json_object_get(cfg, sec), dot + 1);
    } else {
        v = json_object_get(cfg, name);
        if (!strcmp(name, "model") || !strcmp(name, "quality")) v = NULL;
        for (const char *const *s = sections; *s && !v; s++) v = json_object_get(json_object_get(cfg, *s), name);
    }
    return value_text(v);
}

static char *substitute(const sweep_plan *p, size_t i, json_t *doc, const char *tmpl, const char *run_dir,
                        const char *key)
{
    size_t cap = strlen(tmpl) + 64, len = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    for (const char *c = tmpl; *c; c++) {
        const char *piece = c;
        size_t plen = 1;
        char *val = NULL;
        if ((c[0] == '{' && c[1] == '{') || (c[0] == '}' && c[1] == '}')) {
            c++;
        } else if (*c == '{') {
            const char *end = strchr(c, '}');
            if (!end) { free(out); return NULL; }
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(end - c - 1), c + 1);
            val = placeholder(p, i, doc, name, run_dir, key);
            if (!val) { free(out); return NULL; }
            piece = val;
            plen = strlen(val);
            c = end;
        }
        if (len + plen + 1 > cap) {
            cap = (len + plen + 1) * 2;
            char *n = realloc(out, cap);
            if (!n) { free(out); free(val); return NULL; }
            out = n;
        }
        memcpy(out + len, piece, plen);
        len += plen;
        free(val);
    }
    out[len] = 0;
    return out;
}

char **sweep_plan_argv(const sweep_plan *p, size_t i, const char *run_dir, const char *key, char **metrics_file,
                       char *err, size_t errlen)
{
    const sweep *sw = p->sw;
    if (metrics_file) *metrics_file = NULL;
    if (!sw->has_trainer) {
        snprintf(err, errlen, "%s: the sweep uses the built-in trainer", sw->path);
        return NULL;
    }
    json_t *doc = sw_run_document(p, i, 1, err, errlen);
    if (!doc) return NULL;
    char **argv = calloc((size_t)sw->trainer.argc + 1, sizeof *argv);
    int ok = argv != NULL;
    for (int k = 0; ok && k < sw->trainer.argc; k++) {
        argv[k] = substitute(p, i, doc, sw->trainer.argv[k], run_dir, key);
        ok = argv[k] != NULL;
    }
    if (ok && metrics_file && sw->trainer.metrics_file) {
        *metrics_file = substitute(p, i, doc, sw->trainer.metrics_file, run_dir, key);
        ok = *metrics_file != NULL;
    }
    json_decref(doc);
    if (!ok) {
        snprintf(err, errlen, "%s: cannot substitute the trainer's placeholders", sw->path);
        sweep_argv_free(argv);
        return NULL;
    }
    return argv;
}

void sweep_argv_free(char **argv)
{
    if (!argv) return;
    for (char **a = argv; *a; a++) free(*a);
    free(argv);
}
