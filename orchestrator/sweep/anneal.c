/*
 * anneal.c — `train: {anneal_at: [10, 20, 40], decay_frac: 0.2}` in a sweep:
 * every run becomes a trunk and one branch per point (docs/sweep.md,
 * "Annealed branches"; orchestrator/run/anneal.h says what a trunk and a
 * branch config are).
 *
 * The sweep's rows stay what they were (axis values, derived values); each
 * row's document is its trunk's config, and the plan's runs are the
 * "members": each trunk followed by its branches, in point order, so that
 * everything that walks a plan (plan, run, register, Slurm) sees branches
 * as runs of their own.
 */
#include "orchestrator/sweep/internal.h"

#include "orchestrator/run/anneal.h"
#include "orchestrator/run/run_config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Evaluations spread through each branch's cooldown when the sweep does not
 * say (train.cooldown_evals): the annealed curve's last stretch is where a
 * crossing is decided, so it is never one straight line. */
#define DEFAULT_COOLDOWN_EVALS 4

/* ---- parsing ------------------------------------------------------------- */

int sp_read_anneal(sp_ctx *c, yaml_node_t *v)
{
    sw_anneal *an = &c->sw->anneal;
    an->line = (int)v->start_mark.line + 1;
    an->col = (int)v->start_mark.column + 1;
    an->from = 1;
    if (v->type == YAML_SCALAR_NODE) {
        /* "3 per doubling" or "3 per doubling from 10" */
        char num[64], w1[16], w2[16], w3[16], from[64], extra[8];
        int got = sscanf(sp_text(v), "%63s %15s %15s %15s %63s %7s", num, w1, w2, w3, from, extra);
        double n, f = 1;
        int ok = (got == 3 || got == 5) && !strcmp(w1, "per") && !strcmp(w2, "doubling") &&
                 !sw_parse_number(num, &n) && n > 0 && n <= 1000 && isfinite(n);
        if (ok && got == 5) ok = !strcmp(w3, "from") && !sw_parse_number(from, &f) && f > 0 && isfinite(f);
        if (!ok)
            return sp_err(c, v, "train.anneal_at must be a list of epochs ([10, 20, 40]) or like '2 per doubling' "
                                "or '2 per doubling from 10', not '%s'", sp_text(v));
        an->per_doubling = n;
        an->from = f;
        an->on = 1;
        return 0;
    }
    if (v->type != YAML_SEQUENCE_NODE)
        return sp_err(c, v, "train.anneal_at must be a list of epochs ([10, 20, 40]) or like '2 per doubling', not %s",
                      sp_kind(v));
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (!n) return sp_err(c, v, "train.anneal_at is empty: give at least one point (epochs)");
    an->pts = calloc(n, sizeof *an->pts);
    if (!an->pts) return sp_err(c, v, "out of memory");
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *e = sp_node(c, *it);
        double x;
        if (e->type != YAML_SCALAR_NODE || sw_parse_number(sp_text(e), &x) || !(x > 0) || x > 1e9)
            return sp_err(c, e, "train.anneal_at: a point is a number of epochs (> 0), not '%s'",
                          e->type == YAML_SCALAR_NODE ? sp_text(e) : sp_kind(e));
        if (an->npts && x <= an->pts[an->npts - 1])
            return sp_err(c, e, "train.anneal_at: points must increase (%s after %g)", sp_text(e), an->pts[an->npts - 1]);
        an->pts[an->npts++] = x;
    }
    an->on = 1;
    return 0;
}

int sp_check_anneal(sp_ctx *c, yaml_node_t *root)
{
    const sweep *sw = c->sw;
    const sw_anneal *an = &sw->anneal;
    (void)root;
    if (!an->on) return 0;
    if (sw->has_trainer)
        return sp_err_at(c, an->line, an->col, "train.anneal_at needs the built-in trainer: an external trainer "
                                               "cannot fork a branch from a trunk's checkpoint");
    if (!an->pts) return 0;
    /* An explicit list says every budget; epochs would be a second say. */
    int given = json_object_get(json_object_get(sw->base, "train"), "epochs") != NULL;
    for (size_t a = 0; a < sw->naxes && !given; a++) given = sw->axes[a].path && !strcmp(sw->axes[a].path, "train.epochs");
    for (size_t d = 0; d < sw->nderives && !given; d++)
        given = sw->derives[d].path && !strcmp(sw->derives[d].path, "train.epochs");
    if (given)
        return sp_err_at(c, an->line, an->col, "train.anneal_at lists every budget, so train.epochs must not be set too "
                                               "(or write anneal_at as 'N per doubling', which ends at epochs)");
    return 0;
}

/* ---- a run's trunk --------------------------------------------------------- */

static double round_sig(double x, int digits)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.*g", digits, x);
    return strtod(buf, NULL);
}

int sw_anneal_apply(const sweep *sw, json_t *cfg, const char *who, char *err, size_t errlen)
{
    const sw_anneal *an = &sw->anneal;
    json_t *tr = json_object_get(cfg, "train");
    if (!tr) {
        tr = json_object();
        json_object_set_new(cfg, "train", tr);
    }
    json_t *pts = json_array();
    if (!pts) return snprintf(err, errlen, "out of memory"), -1;
    if (an->pts) {
        for (size_t k = 0; k < an->npts; k++) json_array_append_new(pts, json_real(an->pts[k]));
    } else {
        /* From the run's epochs down, N per doubling, to `from`; four
         * significant digits (the largest point exactly as given). */
        double top = run_config_number(cfg, "train.epochs");
        double buf[4096];
        size_t n = 0;
        for (int k = 0; n < 4096; k++) {
            double x = k ? round_sig(top * pow(2, -k / an->per_doubling), 4) : top;
            if (x < an->from * (1 - 1e-12) && k) break;
            if (!n || x < buf[n - 1]) buf[n++] = x;
        }
        for (size_t k = n; k-- > 0;) json_array_append_new(pts, json_real(buf[k]));
    }
    size_t n = json_array_size(pts);
    double first = json_number_value(json_array_get(pts, 0)), last = json_number_value(json_array_get(pts, n - 1));
    json_object_set_new(tr, "anneal_at", pts);
    json_object_set_new(tr, "epochs", json_real(last));
    /* The warmup in epochs, the same for every branch: what warmup_frac
     * gives the longest, unless train.warmup_epochs says. */
    double warm;
    if (json_is_number(json_object_get(tr, "warmup_epochs"))) {
        warm = json_number_value(json_object_get(tr, "warmup_epochs"));
    } else {
        warm = round_sig(run_config_number(cfg, "train.warmup_frac") * last, 6);
        json_object_del(tr, "warmup_frac");
        json_object_set_new(tr, "warmup_epochs", json_real(warm));
    }
    /* Train lines at one cadence for the whole family (a window of losses
     * that depended on each run's length would make a branch differ from
     * its standalone run): about 500 over the longest run, as usual. */
    if (!json_object_get(tr, "log_every")) json_object_set_new(tr, "log_every", json_real(round_sig(last / 500, 4)));
    if (!json_object_get(tr, "cooldown_evals"))
        json_object_set_new(tr, "cooldown_evals", json_integer(DEFAULT_COOLDOWN_EVALS));
    double decay = run_config_number(cfg, "train.decay_frac");
    if (warm > (1 - decay) * first + 1e-9) {
        int one = !strcmp(who, "the only run");
        snprintf(err, errlen,
                 "%s:%d:%d: %s%s%sthe warmup (%g epochs) outlasts the stable phase of the %g-epoch point, which forks "
                 "after %g epochs: drop that point or set train.warmup_epochs", sw->path, an->line, an->col,
                 one ? "" : "run ", one ? "" : who, one ? "" : ": ", warm, first, (1 - decay) * first);
        return -1;
    }
    return 0;
}
