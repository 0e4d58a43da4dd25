/*
 * varied.c — what tells pairs apart (analysis.h): the config fields beyond
 * the typed axes (model, unique tokens, quality, epochs) in which the pairs
 * shown differ, and each pair named by them ("corpus=jargon, lr=0.002").
 *
 * Every place that shows pairs to a person names them this one way: the
 * default table of `xover crossover` (a column per field), the report's
 * tables, the titles of the plots. Without it, a sweep over corpora or a
 * train field gives rows and plots that look the same.
 *
 * A field a run's config leaves out reads as what its absence stands for
 * (run_config_fill_absent: train.input_mask 0 for runs made before it
 * existed), so an old run and a new one at the default are not told apart
 * by it.
 */
#include "orchestrator/analysis/analysis.h"
#include "orchestrator/run/run_config.h"
#include "orchestrator/util/util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A pair's cell parsed, with the stand-ins of absent fields (NULL when the
 * cell is not JSON). */
static json_t *cell_config(const an_pair *p)
{
    json_t *c = json_loads(p->cell, 0, NULL);
    if (c) run_config_fill_absent(c);
    return c;
}

/* Fields the typed columns already show: never listed as a difference of
 * their own. */
static int typed_path(const char *path)
{
    static const char *const typed[] = {"model.name", "data.unique_tokens", "data.quality", "train.epochs",
                                        NULL};
    for (int i = 0; typed[i]; i++)
        if (!strcmp(path, typed[i])) return 1;
    return 0;
}

/* Append every leaf path of JSON object o (prefix "" at the top) to *v,
 * unless *v has it already (the configs of a sweep share most paths). */
static int leaves(json_t *o, const char *prefix, char ***v, size_t *n, size_t *cap)
{
    const char *k;
    json_t *x;
    json_object_foreach(o, k, x) {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", k);
        if (json_is_object(x)) {
            if (leaves(x, path, v, n, cap)) return -1;
            continue;
        }
        int seen = 0;
        for (size_t i = 0; !seen && i < *n; i++) seen = !strcmp((*v)[i], path);
        if (seen) continue;
        char **t = xo_grow(*v, cap, *n + 1, sizeof *t, 64);
        if (!t) return -1;
        *v = t;
        if (!((*v)[(*n)++] = strdup(path))) return -1;
    }
    return 0;
}

static void free_paths(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* The value at dotted path in root (NULL when absent). */
static json_t *at_path(json_t *root, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *j = root;
    for (char *save = NULL, *t = strtok_r(buf, ".", &save); j && t; t = strtok_r(NULL, ".", &save))
        j = json_is_object(j) ? json_object_get(j, t) : NULL;
    return j;
}

/* 1e-3 and 0.001, 2 and 2.0 are one value. */
static int same_json(json_t *a, json_t *b)
{
    if (!a || !b) return a == b;
    if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
    return json_equal(a, b);
}

int an_pairs_differing_field(const an_pair *a, const an_pair *b, char *buf, size_t n)
{
    const char *hit = strcmp(a->quality, b->quality)       ? "quality"
                      : strcmp(a->model, b->model)           ? "model"
                      : a->unique_tokens != b->unique_tokens ? "unique_tokens"
                      : !(a->epochs == b->epochs || (isnan(a->epochs) && isnan(b->epochs))) ? "epochs"
                                                                                            : NULL;
    if (hit) {
        snprintf(buf, n, "%s", hit);
        return 0;
    }
    json_t *ja = cell_config(a), *jb = cell_config(b);
    char **v = NULL;
    size_t nv = 0, cap = 0;
    int rc = -1;
    if (ja && jb && leaves(ja, "", &v, &nv, &cap) == 0 && leaves(jb, "", &v, &nv, &cap) == 0)
        for (size_t i = 0; i < nv && rc; i++)
            if (!same_json(at_path(ja, v[i]), at_path(jb, v[i]))) {
                snprintf(buf, n, "%s", v[i]);
                rc = 0;
            }
    free_paths(v, nv);
    json_decref(ja);
    json_decref(jb);
    if (rc) snprintf(buf, n, "the config");
    return rc;
}

/* Whether field `path` differs between two pairs of one model and quality
 * (a model's own fields and a tier's spec go with its name: xs and s
 * differing in dim is not news). first[i]: the first pair of pair i's
 * model and quality; a field differs within the group when some pair's
 * value differs from that first one's (one pass, not every two pairs: a
 * live report does this on every rewrite). */
static int varies(const an_pairs *ps, json_t *const *cfg, const size_t *first, const char *path)
{
    for (size_t i = 0; i < ps->n; i++)
        if (first[i] != i && !same_json(at_path(cfg[i], path), at_path(cfg[first[i]], path))) return 1;
    return 0;
}

/* The name a reader sees for path k: its last part (lr, corpus), unless
 * another field shown ends the same, then the whole path. */
static char *short_name(char *const *paths, size_t n, size_t k)
{
    const char *dot = strrchr(paths[k], '.'), *last = dot ? dot + 1 : paths[k];
    for (size_t i = 0; i < n; i++) {
        const char *d = strrchr(paths[i], '.');
        if (i != k && !strcmp(d ? d + 1 : paths[i], last)) return strdup(paths[k]);
    }
    return strdup(last);
}

int an_varied_find(const an_pairs *ps, an_varied *out)
{
    memset(out, 0, sizeof *out);
    json_t **cfg = calloc(ps->n + 1, sizeof *cfg);
    size_t *first = calloc(ps->n + 1, sizeof *first);
    char **all = NULL;
    size_t nall = 0, cap = 0;
    int bad = !cfg || !first;
    for (size_t i = 0; !bad && i < ps->n; i++) {
        if ((cfg[i] = cell_config(&ps->p[i])) && leaves(cfg[i], "", &all, &nall, &cap)) bad = 1;
        for (first[i] = 0; first[i] < i; first[i]++) /* names only: cheap beside the JSON */
            if (!strcmp(ps->p[i].model, ps->p[first[i]].model) && !strcmp(ps->p[i].quality, ps->p[first[i]].quality))
                break;
    }
    if (!bad && !(out->path = calloc(nall + 1, sizeof *out->path))) bad = 1;
    for (size_t k = 0; !bad && k < nall; k++) {
        if (typed_path(all[k]) || !varies(ps, cfg, first, all[k])) continue;
        out->path[out->n++] = all[k];
        all[k] = NULL; /* now out's */
    }
    if (!bad && !(out->name = calloc(out->n + 1, sizeof *out->name))) bad = 1;
    for (size_t k = 0; !bad && k < out->n; k++)
        if (!(out->name[k] = short_name(out->path, out->n, k))) bad = 1;
    for (size_t i = 0; cfg && i < ps->n; i++) json_decref(cfg[i]);
    free(cfg);
    free(first);
    free_paths(all, nall);
    if (bad) an_varied_free(out);
    return bad ? -1 : 0;
}

void an_varied_free(an_varied *v)
{
    for (size_t k = 0; k < v->n; k++) {
        free(v->path ? v->path[k] : NULL);
        free(v->name ? v->name[k] : NULL);
    }
    free(v->path);
    free(v->name);
    memset(v, 0, sizeof *v);
}

/* A list of numbers (a family's resolved train.anneal_at) as a cell: each
 * %g, and a long one by its ends and length, "[10 14.14 ... 640] (13)" --
 * as compact JSON it printed every float's noise (14.140000000000001) and
 * widened the report's tables off the page. 0 when j is not such a list. */
static int numbers_text(json_t *j, char *buf, size_t n)
{
    size_t len = json_is_array(j) ? json_array_size(j) : 0, at = 0;
    for (size_t i = 0; i < len; i++)
        if (!json_is_number(json_array_get(j, i))) return 0;
    if (!len) return 0;
    for (size_t i = 0; i < len && at < n; i++) {
        int w;
        if (len > 4 && i == 2) {
            w = snprintf(buf + at, n - at, " …");
            i = len - 2; /* the loop's i++ takes it to the last */
        } else
            w = snprintf(buf + at, n - at, "%s%g", i ? " " : "[", json_number_value(json_array_get(j, i)));
        at = w < 0 ? n : at + (size_t)w;
    }
    if (at < n) snprintf(buf + at, n - at, len > 4 ? "] (%zu)" : "]", len);
    return 1;
}

/* The text of JSON value j as a table cell: a string as itself, a real as
 * %g (0.002, not 0.0020000000000000000416), a list of numbers as
 * numbers_text, anything else compact JSON. */
static void value_text(json_t *j, char *buf, size_t n)
{
    char *js = NULL;
    if (!j) snprintf(buf, n, "%s", "");
    else if (numbers_text(j, buf, n)) return;
    else if (json_is_string(j)) snprintf(buf, n, "%s", json_string_value(j));
    else if (json_is_real(j)) snprintf(buf, n, "%g", json_real_value(j));
    else snprintf(buf, n, "%s", (js = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT)) ? js : "");
    free(js);
}

void an_varied_value(const an_varied *v, size_t k, const an_pair *p, char *buf, size_t n)
{
    json_t *c = k < v->n ? cell_config(p) : NULL;
    value_text(c ? at_path(c, v->path[k]) : NULL, buf, n);
    json_decref(c);
}

/* Whether field k of v is one of skip's names (short or dotted). */
static int skipped(const an_varied *v, size_t k, const char *const *skip)
{
    for (size_t i = 0; skip && skip[i]; i++)
        if (!strcmp(skip[i], v->name[k]) || !strcmp(skip[i], v->path[k])) return 1;
    return 0;
}

void an_varied_label(const an_varied *v, const an_pair *p, const char *const *skip, char *buf, size_t n)
{
    json_t *c = v && v->n ? cell_config(p) : NULL;
    size_t len = 0;
    buf[0] = 0;
    for (size_t k = 0; c && k < v->n && len < n; k++) {
        if (skipped(v, k, skip)) continue;
        char val[160];
        value_text(at_path(c, v->path[k]), val, sizeof val);
        int w = snprintf(buf + len, n - len, "%s%s=%s", len ? ", " : "", v->name[k], val);
        len = w < 0 ? n : len + (size_t)w;
    }
    json_decref(c);
}
