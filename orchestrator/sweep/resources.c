/*
 * resources.c — the sweep's `resources:` section: what each run's Slurm
 * task asks for (docs/sweep.md), by default and per model size:
 *
 *   resources:
 *     time: 30m            # the task's time limit: a duration, s/m/h/d
 *     mem: 2G              # memory (4000, 512M, 4G: sbatch --mem)
 *     cpus: 1              # CPUs, and the trainer's threads
 *     models:
 *       s: {time: 2h, mem: 8G, cpus: 2}
 *
 * It is the scheduler's business only: it reaches no run config, so it
 * changes no run key, and the local backend ignores it. Runs with the same
 * requests go to Slurm as one job array (orchestrator/exec/slurm.c).
 */
#include "orchestrator/sweep/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "90s", "30m", "2h", "1.5d" in seconds; -1 when it is not one. */
static double duration(const char *t)
{
    char *end;
    double v = strtod(t, &end);
    if (end == t || !(v > 0) || !isfinite(v) || strspn(t, "0123456789.") != (size_t)(end - t)) return -1;
    static const struct {
        const char *unit;
        double s;
    } units[] = {{"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
    for (size_t k = 0; k < 4; k++)
        if (!strcmp(end, units[k].unit)) return v * units[k].s <= 366 * 86400.0 ? v * units[k].s : -1;
    return -1;
}

/* One mapping of time / mem / cpus into r (what it sets, in r->set). */
static int read_requests(sp_ctx *c, yaml_node_t *n, const char *what, sw_res *r, int allow_models)
{
    static const char *const keys[] = {"time", "mem", "cpus", "models", NULL};
    static const char *const keys_m[] = {"time", "mem", "cpus", NULL};
    if (sp_want(c, n, YAML_MAPPING_NODE, what) || sp_check_keys(c, n, what, allow_models ? keys : keys_m)) return -1;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = sp_text(sp_node(c, p->key));
        yaml_node_t *v = sp_node(c, p->value);
        if (!strcmp(k, "models")) continue;
        if (sp_want(c, v, YAML_SCALAR_NODE, k)) return -1;
        const char *t = sp_text(v);
        if (!strcmp(k, "time")) {
            if ((r->time = duration(t)) < 0)
                return sp_err(c, v, "%s.time: '%s' is not a duration like 90s, 30m, 2h or 1d (at most 366d)", what, t);
            r->set |= SW_RES_TIME;
        } else if (!strcmp(k, "mem")) {
            size_t dg = strspn(t, "0123456789");
            if (!dg || dg > 12 || (t[dg] && (!strchr("KMGTkmgt", t[dg]) || t[dg + 1])))
                return sp_err(c, v, "%s.mem: '%s' is not a size like 4000, 512M or 4G", what, t);
            snprintf(r->mem, sizeof r->mem, "%s", t);
            r->set |= SW_RES_MEM;
        } else {
            char *end;
            long cpus = strtol(t, &end, 10);
            if (end == t || *end || cpus < 1 || cpus > 4096)
                return sp_err(c, v, "%s.cpus: '%s' is not a number of CPUs from 1 to 4096", what, t);
            r->cpus = (int)cpus;
            r->set |= SW_RES_CPUS;
        }
    }
    return 0;
}

int sp_read_resources(sp_ctx *c, yaml_node_t *n)
{
    sweep *sw = c->sw;
    sw->res.on = 1;
    if (read_requests(c, n, "resources", &sw->res.def, 1)) return -1;
    yaml_node_t *models = sp_section(c, n, "models");
    if (!models) return 0;
    if (sp_want(c, models, YAML_MAPPING_NODE, "resources.models") ||
        sp_check_keys(c, models, "resources.models", NULL))
        return -1;
    sw->res.model = calloc(sw->nmodels ? sw->nmodels : 1, sizeof *sw->res.model);
    if (!sw->res.model) return sp_err(c, models, "out of memory");
    for (yaml_node_pair_t *p = models->data.mapping.pairs.start; p < models->data.mapping.pairs.top; p++) {
        yaml_node_t *k = sp_node(c, p->key);
        size_t m = 0;
        while (m < sw->nmodels && strcmp(sw->models[m].name, sp_text(k))) m++;
        if (m == sw->nmodels)
            return sp_err(c, k, "resources.models: '%s' is not a size of the models: section", sp_text(k));
        char what[300];
        snprintf(what, sizeof what, "resources.models.%s", sp_text(k));
        if (read_requests(c, sp_node(c, p->value), what, &sw->res.model[m], 0)) return -1;
    }
    return 0;
}

int sweep_has_resources(const sweep *s)
{
    return s->res.on;
}

void sweep_plan_resources(const sweep_plan *p, size_t i, sweep_resources *r)
{
    const sweep *sw = p->sw;
    *r = (sweep_resources){0, NULL, 0};
    if (!sw->res.on) return;
    const sw_res *d = &sw->res.def, *m = NULL;
    if (sw->res.model && sw->model_axis != (size_t)-1) {
        const uint16_t *row = &p->idx[sw_row(p, i) * sw->naxes];
        m = &sw->res.model[sw->axes[sw->model_axis].vals[row[sw->model_axis]].ref];
    }
    /* the model's own request, else the section's */
    const sw_res *t = m && (m->set & SW_RES_TIME) ? m : d, *me = m && (m->set & SW_RES_MEM) ? m : d,
                 *cp = m && (m->set & SW_RES_CPUS) ? m : d;
    if (t->set & SW_RES_TIME) r->time = t->time;
    if (me->set & SW_RES_MEM) r->mem = me->mem;
    if (cp->set & SW_RES_CPUS) r->cpus = cp->cpus;
}
