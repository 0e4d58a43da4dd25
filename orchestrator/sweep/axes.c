/*
 * axes.c — the parts of a sweep that say which runs there are: grid, zip,
 * seeds, exclude, include, derive, and the external trainer's placeholders.
 *
 * Each axis lands somewhere in the run config (sp_resolve_name): a plain
 * field (lr -> train.lr), a model size (model -> config.model) or a quality
 * tier (quality -> data.quality + data.quality_spec). An axis that is not a
 * config field ("free", e.g. total_tokens) is accepted only when a derive
 * expression or a trainer placeholder consumes it: otherwise a typo such as
 * `learnig_rate` would silently make runs that differ in nothing.
 */
#include "orchestrator/sweep/internal.h"

#include "orchestrator/cli/cli.h"
#include "orchestrator/run/run_config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VALUES 65535

static int pos_line(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }
static int pos_col(const yaml_node_t *n) { return (int)n->start_mark.column + 1; }

static size_t find_axis(const sweep *sw, const char *name)
{
    for (size_t a = 0; a < sw->naxes; a++)
        if (!strcmp(sw->axes[a].name, name)) return a;
    return (size_t)-1;
}

static const char **axis_names(const sweep *sw, const char *extra)
{
    const char **v = calloc(sw->naxes + sw->nderives + 2, sizeof *v);
    if (!v) return NULL;
    size_t n = 0;
    for (size_t a = 0; a < sw->naxes; a++) v[n++] = sw->axes[a].name;
    if (extra) v[n++] = extra;
    return v;
}

/* Add value node `n` to axis `ax` (checked for the axis's type). */
static int add_value(sp_ctx *c, sw_axis *ax, const yaml_node_t *n)
{
    sweep *sw = c->sw;
    if (ax->nvals >= MAX_VALUES) return sp_err(c, n, "axis '%s' has more than %d values", ax->name, MAX_VALUES);
    char what[200];
    snprintf(what, sizeof what, "a value of axis '%s'", ax->name);
    if (sp_want(c, n, YAML_SCALAR_NODE, what)) return -1;
    sw_value v = {.text = strdup(sp_text(n)), .line = pos_line(n), .col = pos_col(n), .ref = -1};
    json_t *j = NULL;
    if (ax->tgt == T_MODEL) {
        for (size_t m = 0; m < sw->nmodels; m++)
            if (!strcmp(sw->models[m].name, v.text)) v.ref = (int)m;
        if (v.ref < 0) {
            const char **names = calloc(sw->nmodels + 1, sizeof *names);
            for (size_t m = 0; names && m < sw->nmodels; m++) names[m] = sw->models[m].name;
            const char *hint = names ? cli_did_you_mean(v.text, names) : NULL;
            if (!sw->nmodels)
                sp_err(c, n, "model '%s' is not defined: there is no models: section", v.text);
            else if (hint)
                sp_err(c, n, "model '%s' is not defined in models:; did you mean '%s'?", v.text, hint);
            else
                sp_err(c, n, "model '%s' is not defined in models:, which defines %s%s (define it there, e.g. "
                       "%s: {layers: 2, dim: 64, heads: 2})",
                       v.text, sw->models[0].name, sw->nmodels > 1 ? ", ..." : "", v.text);
            free(names);
            free(v.text);
            return -1;
        }
    } else if (ax->tgt == T_QUALITY) {
        for (size_t t = 0; t < sw->ntiers; t++)
            if (!strcmp(sw->tiers[t].name, v.text)) v.ref = (int)t;
        if (v.ref < 0) {
            const char **names = calloc(sw->ntiers + 1, sizeof *names);
            for (size_t t = 0; names && t < sw->ntiers; t++) names[t] = sw->tiers[t].name;
            const char *hint = names ? cli_did_you_mean(v.text, names) : NULL;
            if (hint) sp_err(c, n, "quality tier '%s' is not defined in data.quality; did you mean '%s'?", v.text, hint);
            else sp_err(c, n, "quality tier '%s' is not defined in data.quality", v.text);
            free(names);
            free(v.text);
            return -1;
        }
    } else if (ax->tgt == T_FIELD) {
        j = sp_field_value(c, n, what, ax->ftype);
        if (!j) { free(v.text); return -1; }
        v.is_num = json_is_number(j);
        v.num = json_number_value(j);
    } else {
        double d;
        if (!sp_quoted(n) && !sw_parse_number(v.text, &d)) {
            v.is_num = 1;
            v.num = d;
            j = json_real(d);
        } else {
            j = json_string(v.text);
        }
    }
    sw_value *nv = realloc(ax->vals, (ax->nvals + 1) * sizeof *nv);
    json_t **nj = realloc(ax->json, (ax->nvals + 1) * sizeof *nj);
    if (nv) ax->vals = nv;
    if (nj) ax->json = nj;
    if (!nv || !nj) { free(v.text); json_decref(j); return sp_err(c, n, "out of memory"); }
    ax->vals[ax->nvals] = v;
    ax->json[ax->nvals] = j;
    ax->nvals++;
    return 0;
}

static sw_axis *new_axis(sp_ctx *c, const yaml_node_t *key, const char *name)
{
    sweep *sw = c->sw;
    size_t prev = find_axis(sw, name);
    if (prev != (size_t)-1) {
        sp_err(c, key, "axis '%s' is already defined at line %d", name, sw->axes[prev].line);
        return NULL;
    }
    sw_axis *na = realloc(sw->axes, (sw->naxes + 1) * sizeof *na);
    if (!na) { sp_err(c, key, "out of memory"); return NULL; }
    sw->axes = na;
    sw_axis *ax = &sw->axes[sw->naxes];
    memset(ax, 0, sizeof *ax);
    ax->name = strdup(name);
    ax->line = pos_line(key);
    ax->col = pos_col(key);
    ax->dim = -1;
    int ft;
    ax->tgt = sp_resolve_name(c, name, &ax->path, &ft);
    ax->ftype = ft;
    sw->naxes++;
    if (ax->tgt == T_FREE && ft == JSON_OBJECT) {
        sp_err(c, key, "'%s' is a section of the config, not an axis; vary one of its fields instead", name);
        return NULL;
    }
    if (ax->tgt == T_MODEL) sw->model_axis = sw->naxes - 1;
    for (size_t a = 0; a + 1 < sw->naxes; a++) {
        int same = (ax->tgt == T_MODEL || ax->tgt == T_QUALITY) ? sw->axes[a].tgt == ax->tgt
                   : ax->path && sw->axes[a].path && !strcmp(ax->path, sw->axes[a].path);
        if (same) {
            sp_err(c, key, "axis '%s' sets the same field as axis '%s' (line %d)", name, sw->axes[a].name,
                   sw->axes[a].line);
            return NULL;
        }
    }
    return ax;
}

static int add_dim(sp_ctx *c, const size_t *axes, size_t n)
{
    sweep *sw = c->sw;
    sw_dim *nd = realloc(sw->dims, (sw->ndims + 1) * sizeof *nd);
    if (!nd) return sp_err_at(c, 1, 1, "out of memory");
    sw->dims = nd;
    sw_dim *d = &sw->dims[sw->ndims];
    d->axes = malloc(n * sizeof *d->axes);
    if (!d->axes) return sp_err_at(c, 1, 1, "out of memory");
    memcpy(d->axes, axes, n * sizeof *axes);
    d->naxes = n;
    d->len = sw->axes[axes[0]].nvals;
    for (size_t i = 0; i < n; i++) {
        sw->axes[axes[i]].dim = (int)sw->ndims;
        sw->axes[axes[i]].ngrid = sw->axes[axes[i]].nvals;
    }
    sw->ndims++;
    return 0;
}

/* An axis with its values from node `vals` (a list, or one value). */
static int read_axis(sp_ctx *c, const yaml_node_t *key, const yaml_node_t *vals, size_t *out)
{
    sw_axis *ax = new_axis(c, key, sp_text(key));
    if (!ax) return -1;
    *out = c->sw->naxes - 1;
    if (vals->type == YAML_SEQUENCE_NODE) {
        size_t n = (size_t)(vals->data.sequence.items.top - vals->data.sequence.items.start);
        if (!n) return sp_err(c, vals, "axis '%s' has no values", ax->name);
        for (size_t i = 0; i < n; i++)
            if (add_value(c, &c->sw->axes[*out], sp_node(c, vals->data.sequence.items.start[i]))) return -1;
        return 0;
    }
    return add_value(c, ax, vals);
}

static int read_grid(sp_ctx *c, yaml_node_t *grid, yaml_node_t *zip)
{
    sweep *sw = c->sw;
    if (grid) {
        if (sp_want(c, grid, YAML_MAPPING_NODE, "grid") || sp_check_keys(c, grid, "grid", NULL)) return -1;
        for (yaml_node_pair_t *p = grid->data.mapping.pairs.start; p < grid->data.mapping.pairs.top; p++) {
            size_t a;
            if (read_axis(c, sp_node(c, p->key), sp_node(c, p->value), &a)) return -1;
        }
    }
    size_t ngrid_axes = sw->naxes;
    /* zip groups: which grid axes are tied together, and new tied axes. */
    size_t *group_of = calloc(ngrid_axes + 1, sizeof *group_of); /* 0 = none, else group+1 */
    if (!group_of) return sp_err(c, grid, "out of memory");
    size_t ngroups = 0;
    int rc = 0;
    if (zip) {
        yaml_node_t *one[1] = {zip};
        yaml_node_t **groups = one;
        size_t ng = 1;
        yaml_node_t **tmp = NULL;
        if (zip->type == YAML_SEQUENCE_NODE) {
            ng = (size_t)(zip->data.sequence.items.top - zip->data.sequence.items.start);
            tmp = calloc(ng + 1, sizeof *tmp);
            if (!tmp) { free(group_of); return sp_err(c, zip, "out of memory"); }
            for (size_t g = 0; g < ng; g++) tmp[g] = sp_node(c, zip->data.sequence.items.start[g]);
            groups = tmp;
        } else if (zip->type != YAML_MAPPING_NODE) {
            free(group_of);
            return sp_err(c, zip, "zip must be a list of groups, e.g. [[lr, warmup_frac]], not %s", sp_kind(zip));
        }
        for (size_t g = 0; g < ng && !rc; g++) {
            yaml_node_t *gn = groups[g];
            size_t members[256], nm = 0;
            if (gn->type == YAML_SEQUENCE_NODE) {
                /* [a, b]: grid axes varied together instead of crossed */
                for (yaml_node_item_t *it = gn->data.sequence.items.start; it < gn->data.sequence.items.top && !rc; it++) {
                    yaml_node_t *nn = sp_node(c, *it);
                    if ((rc = sp_want(c, nn, YAML_SCALAR_NODE, "a zip group's axis name"))) break;
                    size_t a = find_axis(sw, sp_text(nn));
                    if (a == (size_t)-1 || a >= ngrid_axes) {
                        const char **names = axis_names(sw, NULL);
                        const char *hint = names ? cli_did_you_mean(sp_text(nn), names) : NULL;
                        if (hint) rc = sp_err(c, nn, "zip: '%s' is not an axis of grid; did you mean '%s'?", sp_text(nn), hint);
                        else rc = sp_err(c, nn, "zip: '%s' is not an axis of grid", sp_text(nn));
                        free(names);
                        break;
                    }
                    if (group_of[a]) { rc = sp_err(c, nn, "zip: axis '%s' is already in a zip group", sp_text(nn)); break; }
                    if (nm == 256) { rc = sp_err(c, nn, "zip: too many axes in one group"); break; }
                    group_of[a] = ngroups + 1;
                    members[nm++] = a;
                }
            } else if (gn->type == YAML_MAPPING_NODE) {
                /* {a: [...], b: [...]}: new axes, varied together */
                if ((rc = sp_check_keys(c, gn, "zip", NULL))) break;
                for (yaml_node_pair_t *p = gn->data.mapping.pairs.start; p < gn->data.mapping.pairs.top && !rc; p++) {
                    if (nm == 256) { rc = sp_err(c, gn, "zip: too many axes in one group"); break; }
                    rc = read_axis(c, sp_node(c, p->key), sp_node(c, p->value), &members[nm++]);
                }
            } else {
                rc = sp_err(c, gn, "a zip group must be a list of grid axes or a mapping of axes to values, not %s", sp_kind(gn));
            }
            if (rc) break;
            if (nm < 2) { rc = sp_err(c, gn, "a zip group needs at least two axes"); break; }
            for (size_t i = 1; i < nm; i++) {
                sw_axis *a0 = &sw->axes[members[0]], *ai = &sw->axes[members[i]];
                if (ai->nvals != a0->nvals) {
                    rc = sp_err_at(c, ai->line, ai->col,
                                   "zip: axes of one group need as many values each: '%s' has %zu, '%s' has %zu",
                                   a0->name, a0->nvals, ai->name, ai->nvals);
                    break;
                }
            }
            if (rc) break;
            if (gn->type == YAML_MAPPING_NODE) {
                rc = add_dim(c, members, nm);
            } else {
                ngroups++;
                /* grid-axis groups take the place of their first axis below */
            }
        }
        free(tmp);
        if (rc) { free(group_of); return -1; }
    }
    /* The grid's own dimensions, in the order written; a zip group of grid
     * axes sits where its first axis was. Dims made by zip mappings above
     * came first in the array; move them after the grid's by rebuilding. */
    size_t nzipmap = sw->ndims;
    sw_dim *zipdims = sw->dims;
    sw->dims = NULL;
    sw->ndims = 0;
    for (size_t a = 0; a < ngrid_axes && !rc; a++) {
        if (!group_of[a]) { rc = add_dim(c, &a, 1); continue; }
        size_t g = group_of[a], first = (size_t)-1, members[256], nm = 0;
        for (size_t b = 0; b < ngrid_axes; b++)
            if (group_of[b] == g) {
                if (first == (size_t)-1) first = b;
                members[nm++] = b;
            }
        if (first == a) rc = add_dim(c, members, nm);
    }
    for (size_t d = 0; d < nzipmap && !rc; d++) rc = add_dim(c, zipdims[d].axes, zipdims[d].naxes);
    for (size_t d = 0; d < nzipmap; d++) free(zipdims[d].axes);
    free(zipdims);
    free(group_of);
    return rc;
}

static int read_seeds(sp_ctx *c, yaml_node_t *seeds)
{
    sweep *sw = c->sw;
    size_t prev = find_axis(sw, "seed");
    if (prev != (size_t)-1)
        return sp_err(c, seeds, "seeds: the grid already has a 'seed' axis (line %d); give one or the other",
                      sw->axes[prev].line);
    sw_axis *ax = new_axis(c, seeds, "seed");
    if (!ax) return -1;
    size_t a = sw->naxes - 1;
    if (seeds->type == YAML_SCALAR_NODE) {
        /* seeds: 3 means seeds 0, 1, 2 */
        double n;
        if (sw_parse_number(sp_text(seeds), &n) || n < 1 || n != floor(n) || n > MAX_VALUES)
            return sp_err(c, seeds, "seeds must be a count (e.g. 3 for seeds 0, 1, 2) or a list of seeds, not '%s'",
                          sp_text(seeds));
        for (int s = 0; s < (int)n; s++) {
            sw_value v = {.is_num = 1, .num = s, .line = pos_line(seeds), .col = pos_col(seeds), .ref = -1};
            char buf[16];
            snprintf(buf, sizeof buf, "%d", s);
            v.text = strdup(buf);
            sw_value *nv = realloc(ax->vals, (ax->nvals + 1) * sizeof *nv);
            json_t **nj = realloc(ax->json, (ax->nvals + 1) * sizeof *nj);
            if (nv) ax->vals = nv;
            if (nj) ax->json = nj;
            if (!nv || !nj) { free(v.text); return sp_err(c, seeds, "out of memory"); }
            ax->vals[ax->nvals] = v;
            ax->json[ax->nvals++] = json_integer(s);
        }
    } else {
        if (sp_want(c, seeds, YAML_SEQUENCE_NODE, "seeds")) return -1;
        yaml_node_item_t *it;
        for (it = seeds->data.sequence.items.start; it < seeds->data.sequence.items.top; it++)
            if (add_value(c, ax, sp_node(c, *it))) return -1;
        if (!ax->nvals) return sp_err(c, seeds, "seeds: the list is empty");
    }
    return add_dim(c, &a, 1);
}

/* The index of the value node `n` among axis a's values, or -1. Numbers
 * compare by value, so 25k matches 25000. */
static int find_value(sp_ctx *c, const sw_axis *ax, const yaml_node_t *n, size_t limit)
{
    (void)c;
    const char *s = sp_text(n);
    double d;
    int num = !sw_parse_number(s, &d);
    for (size_t v = 0; v < limit; v++) {
        if (ax->vals[v].is_num ? (num && ax->vals[v].num == d) : !strcmp(ax->vals[v].text, s)) return (int)v;
    }
    return -1;
}

static int unknown_axis(sp_ctx *c, const yaml_node_t *k, const char *section)
{
    const char **names = axis_names(c->sw, NULL);
    const char *hint = names ? cli_did_you_mean(sp_text(k), names) : NULL;
    if (hint) sp_err(c, k, "%s: '%s' is not an axis of this sweep; did you mean '%s'?", section, sp_text(k), hint);
    else sp_err(c, k, "%s: '%s' is not an axis of this sweep", section, sp_text(k));
    free(names);
    return -1;
}

static int read_exclude(sp_ctx *c, yaml_node_t *ex)
{
    sweep *sw = c->sw;
    if (sp_want(c, ex, YAML_SEQUENCE_NODE, "exclude")) return -1;
    for (yaml_node_item_t *it = ex->data.sequence.items.start; it < ex->data.sequence.items.top; it++) {
        yaml_node_t *e = sp_node(c, *it);
        if (sp_want(c, e, YAML_MAPPING_NODE, "an exclude entry") || sp_check_keys(c, e, "exclude", NULL)) return -1;
        sw_pattern *np = realloc(sw->excl, (sw->nexcl + 1) * sizeof *np);
        if (!np) return sp_err(c, e, "out of memory");
        sw->excl = np;
        sw_pattern *pat = &sw->excl[sw->nexcl++];
        size_t n = (size_t)(e->data.mapping.pairs.top - e->data.mapping.pairs.start);
        pat->m = calloc(n ? n : 1, sizeof *pat->m);
        pat->n = 0;
        if (!pat->m) return sp_err(c, e, "out of memory");
        for (yaml_node_pair_t *p = e->data.mapping.pairs.start; p < e->data.mapping.pairs.top; p++) {
            yaml_node_t *k = sp_node(c, p->key), *v = sp_node(c, p->value);
            size_t a = find_axis(sw, sp_text(k));
            if (a == (size_t)-1) return unknown_axis(c, k, "exclude");
            sw_axis *ax = &sw->axes[a];
            sw_match *m = &pat->m[pat->n++];
            m->axis = a;
            m->allowed = calloc(ax->nvals, 1);
            if (!m->allowed) return sp_err(c, v, "out of memory");
            yaml_node_t *single[1] = {v};
            yaml_node_t **vals = single;
            size_t nv = 1;
            yaml_node_t *list[64];
            if (v->type == YAML_SEQUENCE_NODE) {
                nv = 0;
                for (yaml_node_item_t *j = v->data.sequence.items.start; j < v->data.sequence.items.top && nv < 64; j++)
                    list[nv++] = sp_node(c, *j);
                vals = list;
            }
            for (size_t j = 0; j < nv; j++) {
                if (sp_want(c, vals[j], YAML_SCALAR_NODE, "an exclude value")) return -1;
                int idx = find_value(c, ax, vals[j], ax->ngrid);
                if (idx < 0) {
                    char list_s[256] = "";
                    for (size_t q = 0; q < ax->ngrid && strlen(list_s) < 200; q++) {
                        if (q) strcat(list_s, ", ");
                        strncat(list_s, ax->vals[q].text, 40);
                    }
                    return sp_err(c, vals[j], "exclude: '%s' is not a value of axis '%s' (%s)", sp_text(vals[j]),
                                  ax->name, list_s);
                }
                m->allowed[idx] = 1;
            }
        }
    }
    return 0;
}

static int read_include(sp_ctx *c, yaml_node_t *in)
{
    sweep *sw = c->sw;
    if (sp_want(c, in, YAML_SEQUENCE_NODE, "include")) return -1;
    size_t n = (size_t)(in->data.sequence.items.top - in->data.sequence.items.start);
    sw->incl = malloc((n ? n : 1) * (sw->naxes ? sw->naxes : 1) * sizeof *sw->incl);
    if (!sw->incl) return sp_err(c, in, "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *e = sp_node(c, in->data.sequence.items.start[i]);
        if (sp_want(c, e, YAML_MAPPING_NODE, "an include entry") || sp_check_keys(c, e, "include", NULL)) return -1;
        uint16_t *row = &sw->incl[sw->nincl * sw->naxes];
        for (size_t a = 0; a < sw->naxes; a++) row[a] = 0xFFFF; /* every grid value */
        for (yaml_node_pair_t *p = e->data.mapping.pairs.start; p < e->data.mapping.pairs.top; p++) {
            yaml_node_t *k = sp_node(c, p->key), *v = sp_node(c, p->value);
            size_t a = find_axis(sw, sp_text(k));
            if (a == (size_t)-1) return unknown_axis(c, k, "include");
            sw_axis *ax = &sw->axes[a];
            if (sp_want(c, v, YAML_SCALAR_NODE, "an include value")) return -1;
            int idx = find_value(c, ax, v, ax->nvals);
            if (idx < 0) {
                /* a value outside the grid: only this entry's runs get it */
                if (add_value(c, ax, v)) return -1;
                idx = (int)ax->nvals - 1;
            }
            row[a] = (uint16_t)idx;
        }
        /* Axes zipped together are given all or none. */
        for (size_t d = 0; d < sw->ndims; d++) {
            sw_dim *dm = &sw->dims[d];
            size_t given = 0;
            for (size_t j = 0; j < dm->naxes; j++) given += row[dm->axes[j]] != 0xFFFF;
            if (given && given < dm->naxes) {
                for (size_t j = 0; j < dm->naxes; j++)
                    if (row[dm->axes[j]] == 0xFFFF)
                        return sp_err(c, e, "include: axis '%s' is zipped with the axes this entry names; give it too",
                                      sw->axes[dm->axes[j]].name);
            }
        }
        sw->nincl++;
    }
    return 0;
}

/* ---- derive ---------------------------------------------------------- */

static size_t find_derive(const sweep *sw, size_t n, const char *name)
{
    for (size_t d = 0; d < n; d++)
        if (!strcmp(sw->derives[d].name, name)) return d;
    return (size_t)-1;
}

/* Where name `nm` of an expression takes its value from. */
static int resolve_source(sp_ctx *c, sw_derive *dv, size_t i, const char *nm, int line, int col)
{
    sweep *sw = c->sw;
    size_t a = find_axis(sw, nm);
    size_t d = find_derive(sw, sw->nderives, nm);
    char *path = NULL;
    int ft = 0;
    sw_target t = (a == (size_t)-1 && d == (size_t)-1) ? sp_resolve_name(c, nm, &path, &ft) : T_FREE;
    if (t == T_FIELD) {
        for (size_t b = 0; b < sw->naxes && a == (size_t)-1; b++)
            if (sw->axes[b].path && !strcmp(sw->axes[b].path, path)) a = b;
        for (size_t e = 0; e < sw->nderives && d == (size_t)-1; e++)
            if (sw->derives[e].path && !strcmp(sw->derives[e].path, path)) d = e;
    }
    if (a != (size_t)-1) {
        sw_axis *ax = &sw->axes[a];
        for (size_t v = 0; v < ax->nvals; v++)
            if (!ax->vals[v].is_num) {
                free(path);
                return sp_err_at(c, line, col, "derive %s: axis '%s' is not numeric ('%s' at line %d)", dv->name,
                                 ax->name, ax->vals[v].text, ax->vals[v].line);
            }
        ax->used = 1;
        dv->src[i] = SRC_AXIS;
        dv->src_idx[i] = a;
    } else if (d != (size_t)-1) {
        dv->src[i] = SRC_DERIVE;
        dv->src_idx[i] = d;
    } else if (t == T_FIELD && (ft == JSON_INTEGER || ft == JSON_REAL)) {
        if (!strncmp(path, "model.", 6)) {
            dv->src[i] = SRC_MODEL_FIELD;
            for (size_t f = 0; f < SW_NMODEL_FIELDS; f++)
                if (!strcmp(path + 6, sw_model_fields[f])) dv->src_idx[i] = f;
        } else {
            /* a field no axis varies: the sweep's section value or the default */
            const char *dot = strchr(path, '.');
            json_t *v = NULL;
            if (dot) {
                char sec[32];
                snprintf(sec, sizeof sec, "%.*s", (int)(dot - path), path);
                v = json_object_get(json_object_get(sw->base, sec), dot + 1);
                if (!v) v = json_object_get(json_object_get(c->defaults, sec), dot + 1);
            } else {
                v = json_object_get(c->defaults, path);
            }
            dv->src[i] = SRC_CONST;
            dv->src_const[i] = json_number_value(v);
        }
    } else {
        const char *const *fields = sp_field_names(c);
        size_t nf = 0;
        while (fields && fields[nf]) nf++;
        const char **cands = calloc(sw->naxes + sw->nderives + nf + 1, sizeof *cands);
        size_t n = 0;
        for (size_t b = 0; cands && b < sw->naxes; b++) cands[n++] = sw->axes[b].name;
        for (size_t e = 0; cands && e < sw->nderives; e++) cands[n++] = sw->derives[e].name;
        for (size_t f = 0; cands && f < nf; f++) cands[n++] = fields[f];
        const char *hint = cands ? cli_did_you_mean(nm, cands) : NULL;
        if (t == T_FIELD)
            sp_err_at(c, line, col, "derive %s: '%s' is not a number", dv->name, nm);
        else if (hint)
            sp_err_at(c, line, col, "derive %s: unknown name '%s'; did you mean '%s'?", dv->name, nm, hint);
        else
            sp_err_at(c, line, col, "derive %s: unknown name '%s' (expected an axis, a derived parameter or a config field)",
                      dv->name, nm);
        free(cands);
        free(path);
        return -1;
    }
    free(path);
    return 0;
}

static int read_derive(sp_ctx *c, yaml_node_t *dn)
{
    sweep *sw = c->sw;
    if (sp_want(c, dn, YAML_MAPPING_NODE, "derive") || sp_check_keys(c, dn, "derive", NULL)) return -1;
    size_t n = (size_t)(dn->data.mapping.pairs.top - dn->data.mapping.pairs.start);
    sw->derives = calloc(n ? n : 1, sizeof *sw->derives);
    if (!sw->derives) return sp_err(c, dn, "out of memory");
    yaml_node_t **vnodes = calloc(n ? n : 1, sizeof *vnodes);
    if (!vnodes) return sp_err(c, dn, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        yaml_node_t *k = sp_node(c, dn->data.mapping.pairs.start[i].key);
        yaml_node_t *v = sp_node(c, dn->data.mapping.pairs.start[i].value);
        vnodes[i] = v;
        sw_derive *dv = &sw->derives[sw->nderives++];
        dv->name = strdup(sp_text(k));
        dv->line = pos_line(v);
        dv->col = pos_col(v);
        int ft;
        dv->tgt = sp_resolve_name(c, dv->name, &dv->path, &ft);
        dv->ftype = ft;
        if (dv->tgt == T_MODEL || dv->tgt == T_QUALITY || ft == JSON_STRING || ft == JSON_OBJECT) {
            rc = sp_err(c, k, "derive: '%s' is not a numeric field; derive computes numbers", dv->name);
            break;
        }
        size_t a = find_axis(sw, dv->name);
        for (size_t b = 0; b < sw->naxes && a == (size_t)-1 && dv->path; b++)
            if (sw->axes[b].path && !strcmp(sw->axes[b].path, dv->path)) a = b;
        if (a != (size_t)-1) {
            rc = sp_err(c, k, "derive: '%s' is already set by axis '%s' (line %d)", dv->name, sw->axes[a].name,
                        sw->axes[a].line);
            break;
        }
        if ((rc = sp_want(c, v, YAML_SCALAR_NODE, "a derive expression"))) break;
        dv->text = strdup(sp_text(v));
        char msg[200];
        int epos = 0;
        dv->expr = sw_expr_parse(dv->text, msg, sizeof msg, &epos);
        int off = sp_quoted(v) ? 1 : 0;
        if (!dv->expr) {
            /* Quote a long expression's start only: the message must stay a line. */
            int cut = strlen(dv->text) > 60;
            rc = sp_err_at(c, dv->line, dv->col + off + epos, "derive %s: %s in '%.*s%s'", dv->name, msg,
                           cut ? 57 : 60, dv->text, cut ? "..." : "");
            break;
        }
        size_t nn = sw_expr_nnames(dv->expr);
        dv->src = calloc(nn + 1, sizeof *dv->src);
        dv->src_idx = calloc(nn + 1, sizeof *dv->src_idx);
        dv->src_const = calloc(nn + 1, sizeof *dv->src_const);
        if (!dv->src || !dv->src_idx || !dv->src_const) { rc = sp_err(c, v, "out of memory"); break; }
    }
    for (size_t i = 0; i < sw->nderives && !rc; i++) {
        sw_derive *dv = &sw->derives[i];
        int off = sp_quoted(vnodes[i]) ? 1 : 0;
        for (size_t j = 0; j < sw_expr_nnames(dv->expr) && !rc; j++) {
            const char *nm = sw_expr_name(dv->expr, j);
            if (!strcmp(nm, dv->name)) {
                rc = sp_err_at(c, dv->line, dv->col + off + sw_expr_name_pos(dv->expr, j),
                               "derive %s: an expression cannot use its own name", dv->name);
                break;
            }
            rc = resolve_source(c, dv, j, nm, dv->line, dv->col + off + sw_expr_name_pos(dv->expr, j));
        }
    }
    free(vnodes);
    if (rc) return -1;
    /* Evaluation order: each derive after the derives it uses. */
    size_t nd = sw->nderives;
    sw_derive *sorted = calloc(nd ? nd : 1, sizeof *sorted);
    size_t *newidx = calloc(nd ? nd : 1, sizeof *newidx);
    uint8_t *done = calloc(nd ? nd : 1, 1);
    if (!sorted || !newidx || !done) { free(sorted); free(newidx); free(done); return sp_err(c, dn, "out of memory"); }
    size_t ns = 0;
    while (ns < nd) {
        int progress = 0;
        for (size_t i = 0; i < nd; i++) {
            if (done[i]) continue;
            int ready = 1;
            for (size_t j = 0; j < sw_expr_nnames(sw->derives[i].expr); j++)
                if (sw->derives[i].src[j] == SRC_DERIVE && !done[sw->derives[i].src_idx[j]]) ready = 0;
            if (!ready) continue;
            done[i] = 1;
            newidx[i] = ns;
            sorted[ns++] = sw->derives[i];
            progress = 1;
        }
        if (!progress) {
            size_t i = 0;
            while (done[i]) i++;
            /* Leave every derive in place for sweep_free, then fail. */
            sp_err_at(c, sw->derives[i].line, sw->derives[i].col,
                      "derive %s: the expressions depend on each other in a cycle", sw->derives[i].name);
            free(sorted);
            free(newidx);
            free(done);
            return -1;
        }
    }
    for (size_t i = 0; i < nd; i++)
        for (size_t j = 0; j < sw_expr_nnames(sorted[i].expr); j++)
            if (sorted[i].src[j] == SRC_DERIVE) sorted[i].src_idx[j] = newidx[sorted[i].src_idx[j]];
    free(sw->derives);
    sw->derives = sorted;
    free(newidx);
    free(done);
    return 0;
}

/* ---- trainer placeholders ------------------------------------------- */

static int check_placeholders(sp_ctx *c, yaml_node_t *root)
{
    sweep *sw = c->sw;
    if (!sw->has_trainer) return 0;
    yaml_node_t *tn = sp_section(c, root, "trainer");
    yaml_node_t *cmd = sp_section(c, tn, "command");
    yaml_node_t *mf = sp_section(c, tn, "metrics_file");
    size_t nargs = (size_t)(cmd->data.sequence.items.top - cmd->data.sequence.items.start);
    for (size_t i = 0; i <= nargs; i++) {
        yaml_node_t *an = i < nargs ? sp_node(c, cmd->data.sequence.items.start[i]) : mf;
        if (!an) continue;
        const char *s = sp_text(an);
        for (const char *p = s; *p; p++) {
            if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) { p++; continue; }
            if (*p == '}') return sp_err(c, an, "trainer: unmatched '}' in '%s' (write '}}' for a literal one)", s);
            if (*p != '{') continue;
            const char *end = strchr(p, '}');
            if (!end) return sp_err(c, an, "trainer: unclosed '{' in '%s' (write '{{' for a literal one)", s);
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(end - p - 1), p + 1);
            p = end;
            if (!strcmp(name, "run_dir") || !strcmp(name, "key") || !strcmp(name, "config")) continue;
            size_t a = find_axis(sw, name);
            if (a != (size_t)-1) {
                sw->axes[a].used = 1;
                if (sw->axes[a].tgt == T_FREE) sw->axes[a].param = 1;
                continue;
            }
            size_t d = find_derive(sw, sw->nderives, name);
            if (d != (size_t)-1) {
                if (sw->derives[d].tgt == T_FREE) sw->derives[d].param = 1;
                continue;
            }
            char *path = NULL;
            int ft;
            sw_target t = sp_resolve_name(c, name, &path, &ft);
            free(path);
            if (t == T_FIELD || t == T_MODEL || t == T_QUALITY) continue;
            const char *const *fields = sp_field_names(c);
            const char *hint = fields ? cli_did_you_mean(name, fields) : NULL;
            const char **an2 = axis_names(sw, NULL);
            if (!hint && an2) hint = cli_did_you_mean(name, an2);
            if (hint) sp_err(c, an, "trainer: unknown placeholder '{%s}'; did you mean '{%s}'?", name, hint);
            else sp_err(c, an, "trainer: unknown placeholder '{%s}' (expected an axis, a derived parameter, a config field, {run_dir}, {key} or {config})", name);
            free(an2);
            return -1;
        }
    }
    return 0;
}

/* ---- the whole ------------------------------------------------------- */

static int implicit_axis(sp_ctx *c, const char *name, const char *value, int ref)
{
    sweep *sw = c->sw;
    sw_axis *na = realloc(sw->axes, (sw->naxes + 1) * sizeof *na);
    if (!na) return sp_err_at(c, 1, 1, "out of memory");
    sw->axes = na;
    sw_axis *ax = &sw->axes[sw->naxes];
    memset(ax, 0, sizeof *ax);
    ax->name = strdup(name);
    ax->tgt = !strcmp(name, "model") ? T_MODEL : T_QUALITY;
    ax->vals = calloc(1, sizeof *ax->vals);
    ax->json = calloc(1, sizeof *ax->json);
    if (!ax->vals || !ax->json) return sp_err_at(c, 1, 1, "out of memory");
    ax->vals[0] = (sw_value){.text = strdup(value), .ref = ref, .line = 1, .col = 1};
    ax->nvals = 1;
    ax->line = ax->col = 1;
    if (ax->tgt == T_MODEL) sw->model_axis = sw->naxes;
    size_t a = sw->naxes++;
    return add_dim(c, &a, 1);
}

int sp_read_axes(sp_ctx *c, yaml_node_t *root)
{
    sweep *sw = c->sw;
    yaml_node_t *grid = sp_section(c, root, "grid");
    yaml_node_t *seeds = sp_section(c, root, "seeds");
    if (read_grid(c, grid, sp_section(c, root, "zip"))) return -1;
    if (seeds && read_seeds(c, seeds)) return -1;
    if (sw->model_axis == (size_t)-1) {
        if (sw->nmodels > 1)
            return sp_err(c, sp_section(c, root, "models"),
                          "models: defines %zu sizes but no axis picks one; add e.g. model: [%s, %s] to grid",
                          sw->nmodels, sw->models[0].name, sw->models[1].name);
        if (sw->nmodels == 0)
            return sp_err(c, root, "no model: add a models: section, e.g. models: {xs: {layers: 2, dim: 64, heads: 2}}");
        if (implicit_axis(c, "model", sw->models[0].name, 0)) return -1;
    }
    if (sw->ntiers && find_axis(sw, "quality") == (size_t)-1) {
        if (sw->ntiers > 1)
            return sp_err(c, sp_section(c, sp_section(c, root, "data"), "quality"),
                          "data.quality defines %zu tiers but no axis picks one; add e.g. quality: [%s, %s] to grid",
                          sw->ntiers, sw->tiers[0].name, sw->tiers[1].name);
        if (implicit_axis(c, "quality", sw->tiers[0].name, 0)) return -1;
    }
    int has_objective = 0;
    for (size_t a = 0; a < sw->naxes; a++)
        if (sw->axes[a].path && !strcmp(sw->axes[a].path, "objective")) has_objective = 1;
    if (!has_objective)
        return sp_err(c, grid ? grid : root, "no objective: add 'objective: [ar, mdm]' (or one of them) to grid");
    yaml_node_t *dn = sp_section(c, root, "derive");
    if (dn && read_derive(c, dn)) return -1;
    if (check_placeholders(c, root)) return -1;
    /* free derives must feed something too */
    for (size_t d = 0; d < sw->nderives; d++) {
        sw_derive *dv = &sw->derives[d];
        if (dv->tgt != T_FREE || dv->param) continue;
        int used = 0;
        for (size_t e = 0; e < sw->nderives && !used; e++)
            for (size_t j = 0; j < sw_expr_nnames(sw->derives[e].expr); j++)
                if (sw->derives[e].src[j] == SRC_DERIVE && sw->derives[e].src_idx[j] == d) used = 1;
        if (!used) {
            const char *const *fields = sp_field_names(c);
            const char *hint = fields ? cli_did_you_mean(dv->name, fields) : NULL;
            return sp_err_at(c, dv->line, dv->col,
                             "derive: '%s' is not a run-config field and nothing uses it%s%s%s", dv->name,
                             hint ? "; did you mean '" : "", hint ? hint : "", hint ? "'?" : "");
        }
    }
    for (size_t a = 0; a < sw->naxes; a++) {
        sw_axis *ax = &sw->axes[a];
        if (ax->tgt != T_FREE || ax->used) continue;
        const char *const *fields = sp_field_names(c);
        const char *hint = fields ? cli_did_you_mean(ax->name, fields) : NULL;
        if (hint)
            return sp_err_at(c, ax->line, ax->col,
                             "axis '%s' is not a run-config field; did you mean '%s'? (an axis that is not a field "
                             "must be used by a derive expression or a trainer placeholder)", ax->name, hint);
        return sp_err_at(c, ax->line, ax->col,
                         "axis '%s' is not a run-config field and no derive expression or trainer placeholder uses it",
                         ax->name);
    }
    yaml_node_t *ex = sp_section(c, root, "exclude");
    if (ex && read_exclude(c, ex)) return -1;
    yaml_node_t *in = sp_section(c, root, "include");
    if (in && read_include(c, in)) return -1;
    return 0;
}

/* Range errors in the data/train sections, found by resolving a trial
 * config and pointing at the field its message names. */
int sp_check_base(sp_ctx *c, yaml_node_t *root)
{
    sweep *sw = c->sw;
    json_t *trial = json_deep_copy(sw->base);
    json_object_set_new(trial, "objective", json_string("ar"));
    json_object_set(trial, "model", sw->models[0].obj);
    char err[512];
    int bad = run_config_resolve(trial, err, sizeof err);
    json_decref(trial);
    if (!bad) return 0;
    size_t best = (size_t)-1, bestlen = 0;
    for (size_t i = 0; i < c->npos; i++) {
        size_t l = strlen(c->pos[i].path);
        if (strstr(err, c->pos[i].path) && l > bestlen) { best = i; bestlen = l; }
    }
    if (best != (size_t)-1) return sp_err_at(c, c->pos[best].line, c->pos[best].col, "%s", err);
    return sp_err(c, root, "%s", err);
}
