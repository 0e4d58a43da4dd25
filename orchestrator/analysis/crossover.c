/*
 * crossover.c — the crossover on plain arrays: seeds aggregated into one
 * curve per side, best-so-far, interpolation, the crossover point, and the
 * power-law fit. Every formula is written in the same order as the crossover
 * view of schema.sql, so the two agree to the last bits (floating point is
 * not associative: (b1 - b0) * (x - x0) / (x1 - x0) is not b1 * ... ).
 */
#include "orchestrator/analysis/analysis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const xaxis_names[] = {"tokens", "epochs", "flops"};
static const char *const verdict_names[] = {"crossover", "mdm_ahead", "none", "no_overlap"};

const char *an_xaxis_name(an_xaxis x) { return xaxis_names[x]; }
const char *an_verdict_name(int v) { return verdict_names[v]; }

int an_xaxis_parse(const char *name)
{
    for (int i = 0; i < 3; i++)
        if (name && strcmp(name, xaxis_names[i]) == 0) return i;
    return -1;
}

/* ---- aggregation -------------------------------------------------------- */

typedef struct {
    double x, y;
    long long step;
} pt;

static int cmp_pt(const void *a, const void *b)
{
    const pt *p = a, *q = b;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    return (p->step > q->step) - (p->step < q->step);
}

/* One run's valid points sorted by x, one per x (the largest step). */
static pt *clean(const an_series *s, size_t *n)
{
    pt *p = malloc((s->n ? s->n : 1) * sizeof *p);
    if (!p) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (isnan(s->x[i]) || isnan(s->y[i]) || isinf(s->y[i])) continue;
        p[k++] = (pt){s->x[i], s->y[i], s->step ? s->step[i] : (long long)i};
    }
    qsort(p, k, sizeof *p, cmp_pt);
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        if (m && p[m - 1].x == p[i].x) p[m - 1] = p[i]; /* sorted by step: the later wins */
        else p[m++] = p[i];
    }
    *n = m;
    return p;
}

/* Index of x in sorted p[0..n), or -1. */
static long find_x(const pt *p, size_t n, double x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p[mid].x < x) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && p[lo].x == x ? (long)lo : -1;
}

void an_curve_free(an_curve *c)
{
    free(c->x);
    free(c->mean);
    free(c->sd);
    free(c->best);
    memset(c, 0, sizeof *c);
    c->hold = NAN;
}

int an_aggregate(const an_series *runs, int nrun, int lower_better, an_curve *out)
{
    memset(out, 0, sizeof *out);
    pt **p = calloc(nrun > 0 ? (size_t)nrun : 1, sizeof *p);
    size_t *np = calloc(nrun > 0 ? (size_t)nrun : 1, sizeof *np);
    int rc = -1, seeds = 0, held = 1;
    double hold = NAN;
    out->hold = NAN;
    if (!p || !np) goto done;
    /* Seeds: the runs with at least one point, kept in the given order. The
     * side holds when every seed stopped early with a known hold: at the
     * smallest (crossover_curves.hold). */
    for (int i = 0; i < nrun; i++) {
        size_t n;
        pt *c = clean(&runs[i], &n);
        if (!c) goto done;
        if (n == 0) { free(c); continue; }
        p[seeds] = c;
        np[seeds++] = n;
        if (!runs[i].stopped || isnan(runs[i].hold)) held = 0;
        else if (isnan(hold) || runs[i].hold < hold) hold = runs[i].hold;
    }
    held = held && seeds > 0;
    out->seeds = seeds;
    out->hold = held ? hold : NAN;
    size_t cap = seeds ? np[0] : 0;
    out->x = malloc((cap ? cap : 1) * sizeof(double));
    out->mean = malloc((cap ? cap : 1) * sizeof(double));
    out->sd = malloc((cap ? cap : 1) * sizeof(double));
    out->best = malloc((cap ? cap : 1) * sizeof(double));
    double *v = malloc((seeds ? (size_t)seeds : 1) * sizeof *v);
    if (!out->x || !out->mean || !out->sd || !out->best || !v) { free(v); goto done; }
    for (size_t j = 0; j < cap; j++) {
        double x = p[0][j].x;
        int all = 1;
        v[0] = p[0][j].y;
        for (int s = 1; s < seeds && all; s++) {
            long at = find_x(p[s], np[s], x);
            if (at < 0) all = 0;
            else v[s] = p[s][at].y;
        }
        if (!all) continue;
        double sum = 0, ss = 0;
        for (int s = 0; s < seeds; s++) sum += v[s];
        double mean = sum / seeds;
        for (int s = 0; s < seeds; s++) ss += (v[s] - mean) * (v[s] - mean);
        size_t k = out->n++;
        out->x[k] = x;
        out->mean[k] = mean;
        out->sd[k] = seeds > 1 ? sqrt(ss / (seeds - 1)) : NAN;
        double prev = k ? out->best[k - 1] : mean;
        out->best[k] = lower_better ? (mean < prev ? mean : prev) : (mean > prev ? mean : prev);
    }
    free(v);
    rc = 0;
done:
    for (int i = 0; p && i < seeds; i++) free(p[i]);
    free(p);
    free(np);
    if (rc) an_curve_free(out);
    return rc;
}

/* ---- comparing two sides --------------------------------------------------- */

double an_curve_end(const an_curve *c)
{
    /* fmax ignores a NaN hold: a side that does not hold ends at its last x. */
    return c->n ? fmax(c->x[c->n - 1], c->hold) : NAN;
}

double an_best_at(const an_curve *c, double x)
{
    if (c->n == 0 || !(x >= c->x[0]) || !(x <= an_curve_end(c))) return NAN;
    if (x > c->x[c->n - 1]) return c->best[c->n - 1]; /* held: flat to the hold */
    size_t lo = 0, hi = c->n - 1; /* the last knot <= x */
    while (lo < hi) {
        size_t mid = (lo + hi + 1) / 2;
        if (c->x[mid] <= x) lo = mid;
        else hi = mid - 1;
    }
    size_t i0 = lo, i1 = c->x[lo] == x ? lo : lo + 1;
    double x0 = c->x[i0], x1 = c->x[i1], b0 = c->best[i0], b1 = c->best[i1];
    if (x1 == x0) return b0;
    return b0 + (b1 - b0) * (x - x0) / (x1 - x0);
}

/* The best mean of a side over all its points, the earliest x reaching it. */
static void side_best(const an_curve *c, int lower_better, double *best, double *bx, double *bsd)
{
    *best = *bx = *bsd = NAN;
    for (size_t i = 0; i < c->n; i++) {
        double m = c->mean[i];
        if (i == 0 || (lower_better ? m < *best : m > *best)) {
            *best = m;
            *bx = c->x[i];
            *bsd = c->sd[i];
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void an_crossover(const an_curve *ar, const an_curve *mdm, int lower_better, an_result *r)
{
    r->verdict = AN_NO_OVERLAP;
    r->crossover = r->x_start = r->x_end = r->final_gap = NAN;
    side_best(ar, lower_better, &r->ar_best, &r->ar_best_x, &r->ar_best_sd);
    side_best(mdm, lower_better, &r->mdm_best, &r->mdm_best_x, &r->mdm_best_sd);
    if (ar->n == 0 || mdm->n == 0) return;
    /* A held side ends at its hold; hi need then not be a knot, and x_end
     * below is the last knot inside [lo, hi]. */
    double lo = fmax(ar->x[0], mdm->x[0]), hi = fmin(an_curve_end(ar), an_curve_end(mdm));
    if (lo > hi) return;

    /* Every knot of either side inside [lo, hi], once. */
    double *xs = malloc((ar->n + mdm->n) * sizeof *xs);
    double *adv = malloc((ar->n + mdm->n) * sizeof *adv);
    if (!xs || !adv) { free(xs); free(adv); return; }
    size_t n = 0;
    for (size_t i = 0; i < ar->n; i++)
        if (ar->x[i] >= lo && ar->x[i] <= hi) xs[n++] = ar->x[i];
    for (size_t i = 0; i < mdm->n; i++)
        if (mdm->x[i] >= lo && mdm->x[i] <= hi) xs[n++] = mdm->x[i];
    qsort(xs, n, sizeof *xs, cmp_double);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!m || xs[m - 1] != xs[i]) xs[m++] = xs[i];
    n = m;
    if (n == 0) { /* cannot happen (lo is a knot), but never read adv[-1] */
        free(xs);
        free(adv);
        return;
    }

    long bad = -1; /* the last point where MDM is not ahead */
    for (size_t i = 0; i < n; i++) {
        double a = an_best_at(ar, xs[i]), mm = an_best_at(mdm, xs[i]);
        adv[i] = lower_better ? a - mm : mm - a;
        if (adv[i] <= 0) bad = (long)i;
    }
    r->x_start = xs[0];
    r->x_end = xs[n - 1];
    r->final_gap = adv[n - 1];
    if (bad == (long)n - 1) {
        r->verdict = AN_NONE;
    } else if (bad < 0) {
        r->verdict = AN_MDM_AHEAD;
        r->crossover = xs[0];
    } else {
        double x = xs[bad], xn = xs[bad + 1], a = adv[bad], an = adv[bad + 1];
        r->verdict = AN_CROSSOVER;
        r->crossover = x + (xn - x) * -a / (an - a);
    }
    free(xs);
    free(adv);
}

/* ---- the power law ------------------------------------------------------ */

int an_powerlaw_fit(const double *u, const double *c, int n, an_fit *f)
{
    memset(f, 0, sizeof *f);
    f->a = f->k = f->r2 = NAN;
    double sx = 0, sy = 0, umin = INFINITY, umax = -INFINITY;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!(u[i] > 0) || !(c[i] > 0) || isinf(u[i]) || isinf(c[i])) continue;
        sx += log(u[i]);
        sy += log(c[i]);
        umin = fmin(umin, u[i]);
        umax = fmax(umax, u[i]);
        k++;
    }
    f->n = k;
    if (k < 2 || umin == umax) return -1;
    double mx = sx / k, my = sy / k, sxx = 0, sxy = 0, syy = 0;
    for (int i = 0; i < n; i++) {
        if (!(u[i] > 0) || !(c[i] > 0) || isinf(u[i]) || isinf(c[i])) continue;
        double dx = log(u[i]) - mx, dy = log(c[i]) - my;
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    f->k = sxy / sxx;
    f->a = exp(my - f->k * mx);
    /* R² = 1 - SS_res / SS_tot; with every c equal the line is exact. */
    double ssres = syy - f->k * sxy;
    f->r2 = syy > 0 ? 1 - fmax(ssres, 0) / syy : 1.0;
    return 0;
}

static int same_str(const char *a, const char *b) { return !strcmp(a ? a : "", b ? b : ""); }

size_t an_fit_pairs(const an_pairs *ps, an_fit_row *out)
{
    size_t n = ps->n, rows = 0;
    char *used = calloc(n + 1, 1);
    double *u = malloc((n + 1) * sizeof *u), *c = malloc((n + 1) * sizeof *c);
    for (size_t i = 0; used && u && c && i < n; i++) {
        if (used[i]) continue;
        const an_pair *p = &ps->p[i];
        int k = 0, budgets = 0;
        double seen = -1;
        /* Pairs are sorted by metric, model, U: a group's U come in order. */
        for (size_t j = i; j < n; j++) {
            const an_pair *q = &ps->p[j];
            if (used[j] || !same_str(q->model, p->model) || !same_str(q->quality, p->quality) ||
                !same_str(q->metric, p->metric))
                continue;
            used[j] = 1;
            if (isnan(q->res.crossover) || q->unique_tokens <= 0) continue;
            u[k] = (double)q->unique_tokens;
            c[k++] = q->res.crossover;
            if (u[k - 1] != seen) budgets++, seen = u[k - 1];
        }
        an_fit f;
        if (an_powerlaw_fit(u, c, k, &f)) continue;
        out[rows++] = (an_fit_row){p, budgets, f};
    }
    free(used);
    free(u);
    free(c);
    return rows;
}
