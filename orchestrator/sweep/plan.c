/*
 * plan.c — what a plan answers about its runs: keys, axis values, derived
 * values, the numbers of their configs, and for annealed sweeps each run's
 * role (trunk or branch), parent and span of epochs. The bottom of the
 * plan: expand.c builds a plan, keys.c and anneal.c fill it, and all of
 * them read it through these.
 *
 * Run i of a plan is a member when the sweep is annealed (p->nm members:
 * each trunk, then its branches; anneal.c), else a row; sw_row maps a
 * member to the row whose axis and derived values it has.
 */
#include "orchestrator/sweep/internal.h"

#include "orchestrator/run/run_config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t sw_row(const sweep_plan *p, size_t i) { return p->nm ? p->m_row[i] : i; }

void sweep_plan_free(sweep_plan *p)
{
    if (!p) return;
    free(p->idx);
    free(p->dv);
    free(p->key);
    free(p->combo_run);
    free(p->m_row);
    free(p->m_point);
    free(p->m_parent);
    free(p->m_epochs);
    free(p->m_key);
    free(p);
}

size_t sweep_plan_count(const sweep_plan *p) { return p->nm ? p->nm : p->n; }
size_t sweep_plan_grid(const sweep_plan *p) { return p->ngrid; }
size_t sweep_plan_excluded(const sweep_plan *p) { return p->nexcluded; }
size_t sweep_plan_included(const sweep_plan *p) { return p->nincluded; }
size_t sweep_plan_merged(const sweep_plan *p) { return p->nmerged; }
const sweep *sweep_plan_sweep(const sweep_plan *p) { return p->sw; }

void sweep_plan_key(const sweep_plan *p, size_t i, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *key = p->nm ? p->m_key[i] : p->key[i];
    for (int k = 0; k < 32; k++) {
        hex[2 * k] = digits[key[k] >> 4];
        hex[2 * k + 1] = digits[key[k] & 15];
    }
    hex[64] = 0;
}

const char *sweep_plan_axis_text(const sweep_plan *p, size_t i, size_t a)
{
    return p->sw->axes[a].vals[p->idx[sw_row(p, i) * p->sw->naxes + a]].text;
}

double sweep_plan_derived(const sweep_plan *p, size_t i, size_t d) { return p->dv[sw_row(p, i) * p->sw->nderives + d]; }

static const char *const sections[] = {"data", "train", "model", NULL};

int sweep_plan_number(const sweep_plan *p, size_t i, const char *path, double *out)
{
    const sweep *sw = p->sw;
    if (p->nm && !strcmp(path, "train.epochs")) {
        *out = p->m_epochs[i]; /* a branch's budget; a trunk's largest point */
        return 0;
    }
    i = sw_row(p, i);
    const uint16_t *row = &p->idx[i * sw->naxes];
    for (size_t a = 0; a < sw->naxes; a++) {
        const sw_axis *ax = &sw->axes[a];
        if (ax->tgt == T_FIELD && !strcmp(ax->path, path)) {
            if (!ax->vals[row[a]].is_num) return -1;
            *out = ax->vals[row[a]].num;
            return 0;
        }
    }
    for (size_t d = 0; d < sw->nderives; d++)
        if (sw->derives[d].path && !strcmp(sw->derives[d].path, path)) {
            *out = p->dv[i * sw->nderives + d];
            return 0;
        }
    if (!strncmp(path, "model.", 6) && sw->model_axis != (size_t)-1) {
        const sw_model *m = &sw->models[sw->axes[sw->model_axis].vals[row[sw->model_axis]].ref];
        for (size_t f = 0; f < SW_NMODEL_FIELDS; f++)
            if (!strcmp(path + 6, sw_model_fields[f])) {
                *out = m->f[f];
                return 0;
            }
        return -1;
    }
    /* Not varied: the sweep's section, else the default. */
    const char *dot = strchr(path, '.');
    if (!dot) return -1;
    int known = 0;
    for (const char *const *s = sections; *s; s++) known |= !strncmp(path, *s, (size_t)(dot - path));
    if (!known) return -1;
    char sec[32];
    snprintf(sec, sizeof sec, "%.*s", (int)(dot - path), path);
    json_t *v = json_object_get(json_object_get(sw->base, sec), dot + 1);
    if (v) {
        if (!json_is_number(v)) return -1;
        *out = json_number_value(v);
        return 0;
    }
    static json_t *defaults; /* resolved once; read-only afterwards */
    if (!defaults) {
        json_t *d = json_pack("{s:s, s:{s:i, s:i, s:i}}", "objective", "ar", "model", "layers", 1, "dim", 2, "heads", 1);
        char e[256];
        if (!d || run_config_resolve(d, e, sizeof e)) { json_decref(d); return -1; }
        run_config_fill_absent(d); /* what an absent model.experts, ... stands for */
        defaults = d;
    }
    v = json_object_get(json_object_get(defaults, sec), dot + 1);
    if (!v || !json_is_number(v)) return -1;
    *out = json_number_value(v);
    return 0;
}

int sweep_plan_role(const sweep_plan *p, size_t i)
{
    if (!p->nm) return SWEEP_RUN;
    return p->m_point[i] < 0 ? SWEEP_TRUNK : SWEEP_BRANCH;
}

size_t sweep_plan_parent(const sweep_plan *p, size_t i) { return p->nm ? p->m_parent[i] : i; }

void sweep_plan_span(const sweep_plan *p, size_t i, double *from, double *to)
{
    double decay = 0.2, epochs = 0;
    sweep_plan_number(p, i, "train.epochs", &epochs);
    sweep_plan_number(p, i, "train.decay_frac", &decay);
    *from = 0;
    *to = epochs;
    if (sweep_plan_role(p, i) == SWEEP_TRUNK) *to = (1 - decay) * epochs;
    else if (sweep_plan_role(p, i) == SWEEP_BRANCH) *from = (1 - decay) * epochs;
}
