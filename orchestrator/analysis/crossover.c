/*
 * crossover.c — the crossover on plain arrays: seeds aggregated into one
 * curve per side, best-so-far, interpolation, the crossover point, and the
 * power-law fit. Every formula is written in the same order as the crossover
 * view of schema.sql, so the two agree to the last bits (floating point is
 * not associative: (b1 - b0) * (x - x0) / (x1 - x0) is not b1 * ... ).
 */
#include "orchestrator/analysis/analysis.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const xaxis_names[] = {"tokens", "epochs", "flops"};
static const char *const verdict_names[] = {"crossover", "mdm_ahead", "none", "no_overlap",
                                            "inconclusive", "unfinished"};

const char *an_xaxis_name(an_xaxis x) { return xaxis_names[x]; }
const char *an_verdict_name(int v) { return verdict_names[v]; }
const char *an_interval_name(int iv) { return iv == AN_IV_SEEDS ? "seeds" : iv == AN_IV_EVAL ? "eval" : NULL; }

int an_xaxis_parse(const char *name)
{
    for (int i = 0; i < 3; i++)
        if (name && strcmp(name, xaxis_names[i]) == 0) return i;
    return -1;
}

/* ---- aggregation -------------------------------------------------------- */

typedef struct {
    double x, y, se;
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
        p[k++] = (pt){s->x[i], s->y[i], s->se ? s->se[i] : NAN, s->step ? s->step[i] : (long long)i};
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
    free(c->se);
    free(c->best_se);
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
    out->se = malloc((cap ? cap : 1) * sizeof(double));
    out->best_se = malloc((cap ? cap : 1) * sizeof(double));
    double *v = malloc((seeds ? (size_t)seeds : 1) * sizeof *v);
    if (!out->x || !out->mean || !out->sd || !out->best || !out->se || !out->best_se || !v) {
        free(v);
        goto done;
    }
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
        out->se[k] = seeds == 1 ? p[0][j].se : NAN;
        double prev = k ? out->best[k - 1] : mean;
        /* The best-so-far and the se of the point it comes from (the
         * earliest of equal values, like the value itself). */
        int improves = k == 0 || (lower_better ? mean < prev : mean > prev);
        out->best[k] = improves ? mean : prev;
        out->best_se[k] = improves ? out->se[k] : out->best_se[k - 1];
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

double an_best_se_at(const an_curve *c, double x)
{
    if (c->n == 0 || !(x >= c->x[0]) || !(x <= an_curve_end(c))) return NAN;
    if (x > c->x[c->n - 1]) return c->best_se[c->n - 1];
    size_t lo = 0, hi = c->n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi + 1) / 2;
        if (c->x[mid] <= x) lo = mid;
        else hi = mid - 1;
    }
    size_t i0 = lo, i1 = c->x[lo] == x ? lo : lo + 1;
    double x0 = c->x[i0], x1 = c->x[i1], b0 = c->best_se[i0], b1 = c->best_se[i1];
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

/* Everything but the bests unknown, no interval, no seeds. */
static void result_init(const an_curve *ar, const an_curve *mdm, int lower_better, an_result *r)
{
    r->verdict = AN_NO_OVERLAP;
    r->crossover = r->bracket_lo = r->bracket_hi = r->x_start = r->x_end = r->final_gap = NAN;
    r->gap_se = r->gap_lo = r->gap_hi = r->seed_cross_min = r->seed_cross_max = NAN;
    r->interval = AN_IV_NONE;
    r->paired = r->seeds_crossed = 0;
    r->ar_best_at_edge = r->mdm_best_at_edge = -1;
    side_best(ar, lower_better, &r->ar_best, &r->ar_best_x, &r->ar_best_sd);
    side_best(mdm, lower_better, &r->mdm_best, &r->mdm_best_x, &r->mdm_best_sd);
}

/* The points the training comparison looks at: every knot of either side
 * inside the common range [lo, hi], once, in order, into xs, with the MDM
 * advantage at each into adv (both need room for ar->n + mdm->n). Returns
 * how many (0: no overlap). an_crossover and the gap plots (an_pair_gaps)
 * both read it, so what a plot shows is what the verdict used. */
static size_t training_adv(const an_curve *ar, const an_curve *mdm, int lower_better, double *xs,
                           double *adv)
{
    if (ar->n == 0 || mdm->n == 0) return 0;
    /* A held side ends at its hold; hi need then not be a knot, and x_end
     * (the last point returned) is the last knot inside [lo, hi]. */
    double lo = fmax(ar->x[0], mdm->x[0]), hi = fmin(an_curve_end(ar), an_curve_end(mdm));
    if (lo > hi) return 0;
    size_t n = 0;
    for (size_t i = 0; i < ar->n; i++)
        if (ar->x[i] >= lo && ar->x[i] <= hi) xs[n++] = ar->x[i];
    for (size_t i = 0; i < mdm->n; i++)
        if (mdm->x[i] >= lo && mdm->x[i] <= hi) xs[n++] = mdm->x[i];
    qsort(xs, n, sizeof *xs, cmp_double);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!m || xs[m - 1] != xs[i]) xs[m++] = xs[i];
    for (size_t i = 0; i < m; i++) {
        double a = an_best_at(ar, xs[i]), mm = an_best_at(mdm, xs[i]);
        adv[i] = lower_better ? a - mm : mm - a;
    }
    return m;
}

void an_crossover(const an_curve *ar, const an_curve *mdm, int lower_better, an_result *r)
{
    result_init(ar, mdm, lower_better, r);
    double *xs = malloc((ar->n + mdm->n + 1) * sizeof *xs);
    double *adv = malloc((ar->n + mdm->n + 1) * sizeof *adv);
    if (!xs || !adv) { free(xs); free(adv); return; }
    size_t n = training_adv(ar, mdm, lower_better, xs, adv);
    if (n == 0) {
        free(xs);
        free(adv);
        return;
    }
    long bad = -1; /* the last point where MDM is not ahead */
    for (size_t i = 0; i < n; i++)
        if (adv[i] <= 0) bad = (long)i;
    r->x_start = xs[0];
    r->x_end = xs[n - 1];
    r->final_gap = adv[n - 1];
    double sa = an_best_se_at(ar, r->x_end), sm = an_best_se_at(mdm, r->x_end);
    r->gap_se = sqrt(sa * sa + sm * sm); /* not hypot: the view computes it so, to the bit */
    if (bad == (long)n - 1) {
        r->verdict = AN_NONE;
    } else if (bad < 0) {
        r->verdict = AN_MDM_AHEAD;
        r->crossover = xs[0];
    } else {
        double x = xs[bad], xn = xs[bad + 1], a = adv[bad], an = adv[bad + 1];
        r->verdict = AN_CROSSOVER;
        r->crossover = x + (xn - x) * -a / (an - a);
        r->bracket_lo = x; /* the crossing is somewhere between these two */
        r->bracket_hi = xn;
    }
    free(xs);
    free(adv);
}

/* AR's best at budgets <= x: the best-so-far of its last point <= x, held
 * past its last point up to its end; NaN before its first. *se gets the se
 * of that point. */
static double step_best(const an_curve *c, double x, double *se)
{
    *se = NAN;
    if (c->n == 0 || !(x >= c->x[0]) || !(x <= an_curve_end(c))) return NAN;
    size_t lo = 0, hi = c->n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi + 1) / 2;
        if (c->x[mid] <= x) lo = mid;
        else hi = mid - 1;
    }
    *se = c->best_se[lo];
    return c->best[lo];
}

/* The points the annealed comparison looks at: the MDM's budgets inside
 * the common range, with the MDM advantage at each (AR: its best at budgets
 * up to it) into xs and adv, and the evaluation error of the last one into
 * *se_last. Returns how many; an_crossover_annealed and an_pair_gaps read it. */
static size_t annealed_adv(const an_curve *ar, const an_curve *mdm, int lower_better, double *xs,
                           double *adv, double *se_last)
{
    *se_last = NAN;
    if (ar->n == 0 || mdm->n == 0) return 0;
    double lo = fmax(ar->x[0], mdm->x[0]), hi = fmin(an_curve_end(ar), an_curve_end(mdm));
    size_t n = 0;
    for (size_t i = 0; i < mdm->n; i++) {
        if (!(mdm->x[i] >= lo && mdm->x[i] <= hi)) continue;
        double se, a = step_best(ar, mdm->x[i], &se), m = mdm->mean[i];
        xs[n] = mdm->x[i];
        adv[n++] = lower_better ? a - m : m - a;
        *se_last = sqrt(se * se + mdm->se[i] * mdm->se[i]);
    }
    return n;
}

void an_crossover_annealed(const an_curve *ar, const an_curve *mdm, int lower_better, an_result *r)
{
    result_init(ar, mdm, lower_better, r);
    double *xs = malloc((mdm->n + 1) * sizeof *xs), *adv = malloc((mdm->n + 1) * sizeof *adv);
    if (!xs || !adv) { free(xs); free(adv); return; }
    size_t n = annealed_adv(ar, mdm, lower_better, xs, adv, &r->gap_se);
    long bad = -1, last = (long)n - 1;
    /* A best at the edge of its grid (crossover_by_seed's edge flags) */
    r->ar_best_at_edge = ar->n > 0 && r->ar_best_x == ar->x[0];
    r->mdm_best_at_edge = mdm->n >= 2 && r->mdm_best_x == mdm->x[mdm->n - 1];
    for (size_t i = 0; i < n; i++)
        if (adv[i] <= 0) bad = (long)i;
    if (n) {
        r->x_start = xs[0];
        r->x_end = xs[last];
        r->final_gap = adv[last];
        if (bad == last) {
            r->verdict = AN_NONE;
        } else if (bad < 0) {
            r->verdict = AN_MDM_AHEAD;
            r->crossover = r->x_start;
        } else {
            r->verdict = AN_CROSSOVER;
            r->crossover = xs[bad + 1];
            r->bracket_lo = xs[bad];
            r->bracket_hi = xs[bad + 1];
        }
    }
    free(xs);
    free(adv);
}

size_t an_pair_gaps(const an_pair *p, double *x, double *adv)
{
    double se;
    return p->annealed ? annealed_adv(&p->ar, &p->mdm, p->lower_better, x, adv, &se)
                       : training_adv(&p->ar, &p->mdm, p->lower_better, x, adv);
}

/* ---- intervals and verdicts ------------------------------------------------ */

double an_t975(int df)
{
    static const double t[31] = {1.959964, 12.706205, 4.302653, 3.182446, 2.776445, 2.570582,
                                 2.446912, 2.364624, 2.306004, 2.262157, 2.228139, 2.200985,
                                 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816,
                                 2.100922, 2.093024, 2.085963, 2.079614, 2.073873, 2.068658,
                                 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.045230,
                                 2.042272};
    if (df <= 0) return t[0];
    if (df <= 30) return t[df];
    /* Cornish-Fisher: within 1e-4 of the quantile beyond 30 */
    double z = t[0], d = df;
    return z + (z * z * z + z) / (4 * d) + (5 * z * z * z * z * z + 16 * z * z * z + 3 * z) / (96 * d * d);
}

void an_judge(an_result *r, const double *gaps, const double *crosses, int n, int finished)
{
    r->paired = n;
    r->seeds_crossed = 0;
    r->seed_cross_min = r->seed_cross_max = NAN;
    for (int i = 0; i < n; i++) {
        if (isnan(crosses[i])) continue;
        r->seeds_crossed++;
        r->seed_cross_min = fmin(r->seed_cross_min, crosses[i]); /* fmin skips the NaN start */
        r->seed_cross_max = fmax(r->seed_cross_max, crosses[i]);
    }
    r->interval = AN_IV_NONE;
    r->gap_lo = r->gap_hi = NAN;
    int k = 0;
    double sum = 0, ss = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(gaps[i])) sum += gaps[i], k++;
    if (k >= 2) {
        double mean = sum / k;
        for (int i = 0; i < n; i++)
            if (!isnan(gaps[i])) ss += (gaps[i] - mean) * (gaps[i] - mean);
        double h = an_t975(k - 1) * sqrt(ss / (k - 1)) / sqrt((double)k);
        r->gap_lo = mean - h;
        r->gap_hi = mean + h;
        r->interval = AN_IV_SEEDS;
    } else if (!isnan(r->gap_se) && !isnan(r->final_gap)) {
        r->gap_lo = r->final_gap - an_t975(0) * r->gap_se;
        r->gap_hi = r->final_gap + an_t975(0) * r->gap_se;
        r->interval = AN_IV_EVAL;
    }
    if (r->verdict == AN_NO_OVERLAP) return;
    if (!finished) {
        r->verdict = AN_UNFINISHED;
        return;
    }
    if (r->interval == AN_IV_NONE) return; /* no error known: the point verdict */
    if (r->gap_lo > 0 && r->final_gap > 0 && (r->verdict == AN_CROSSOVER || r->verdict == AN_MDM_AHEAD))
        return;
    if (r->gap_hi < 0 && r->verdict == AN_NONE) return;
    r->verdict = AN_INCONCLUSIVE;
}

/* ---- the power law ------------------------------------------------------ */

int an_powerlaw_fit(const double *u, const double *c, int n, an_fit *f)
{
    memset(f, 0, sizeof *f);
    f->a = f->k = f->r2 = f->se_k = NAN;
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
    if (k > 2) f->se_k = sqrt(fmax(ssres, 0) / (k - 2) / sxx);
    return 0;
}

static int same_str(const char *a, const char *b) { return !strcmp(a ? a : "", b ? b : ""); }

static int cmp_dbl(const void *a, const void *b) { return cmp_double(a, b); }

/* A small fixed generator for the bootstrap (splitmix64): the same
 * resamples every time, so the interval is reproducible. */
static uint64_t boot_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#define AN_BOOT 2000

/* The bootstrap of k over seeds for the group's pairs g[0..k): every pair's
 * seeds are resampled with one draw of seed indices into the union of the
 * group's seeds; a resample's crossover at U is the mean of the drawn seeds'
 * own crossovers there (those that crossed); k of the fit over those. */
static int boot_k(const an_pair *const *g, int k, double *lo, double *hi)
{
    long long seeds[64];
    int ns = 0;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < g[i]->nseed; j++) {
            int have = 0;
            for (int m = 0; m < ns; m++) have |= seeds[m] == g[i]->seed[j];
            if (!have && ns < 64) seeds[ns++] = g[i]->seed[j];
        }
    if (ns < 2) return -1;
    double *ks = malloc(AN_BOOT * sizeof *ks), *u = malloc(k * sizeof *u), *c = malloc(k * sizeof *c);
    int nk = 0;
    uint64_t st = 0x5eed;
    int draw[64];
    for (int b = 0; ks && u && c && b < AN_BOOT; b++) {
        for (int j = 0; j < ns; j++) draw[j] = (int)(boot_next(&st) % (uint64_t)ns);
        int m = 0;
        for (int i = 0; i < k; i++) {
            double sum = 0;
            int cnt = 0;
            for (int j = 0; j < ns; j++)
                for (int q = 0; q < g[i]->nseed; q++)
                    if (g[i]->seed[q] == seeds[draw[j]] && !isnan(g[i]->seed_cross[q]))
                        sum += g[i]->seed_cross[q], cnt++;
            if (cnt) u[m] = (double)g[i]->unique_tokens, c[m++] = sum / cnt;
        }
        an_fit f;
        if (an_powerlaw_fit(u, c, m, &f) == 0) ks[nk++] = f.k;
    }
    int rc = -1;
    if (ks && nk >= AN_BOOT / 2) {
        qsort(ks, (size_t)nk, sizeof *ks, cmp_dbl);
        *lo = ks[(int)floor(0.025 * (nk - 1))];
        *hi = ks[(int)ceil(0.975 * (nk - 1))];
        rc = 0;
    }
    free(ks);
    free(u);
    free(c);
    return rc;
}

void an_edge_notes(const an_pairs *ps, char *ar, size_t ar_len, char *mdm, size_t mdm_len)
{
    int na = 0, nm = 0;
    for (size_t i = 0; i < ps->n; i++) {
        na += ps->p[i].res.ar_best_at_edge == 1;
        nm += ps->p[i].res.mdm_best_at_edge == 1;
    }
    ar[0] = mdm[0] = 0;
    if (na)
        snprintf(ar, ar_len,
                 "* AR's best is its smallest annealed budget in %d pair%s: its minimum may lie below the "
                 "grid, so AR's best is overstated and the crossover may be an artefact. Anneal AR from "
                 "a smaller budget (train.anneal_at: 2 per doubling from 2.5) to bracket it.",
                 na, na == 1 ? "" : "s");
    if (nm)
        snprintf(mdm, mdm_len,
                 "* MDM still improving at the largest budget in %d pair%s: its best lies at or beyond "
                 "the grid's end, so the final gap may understate it.",
                 nm, nm == 1 ? "" : "s");
}

/* The budget group of a pair (malloc'd JSON): its cell without
 * data.unique_tokens, train.epochs and the fields derived from the plan's
 * length, train.warmup_epochs and train.log_every (the crossover_efficiency
 * view says why; the two drop the same fields): the pairs of one budget
 * sweep, which a fit and the data-efficiency multiplier take together. */
static char *budget_group(const an_pair *p)
{
    json_t *c = json_loads(p->cell, 0, NULL), *tr = json_object_get(c, "train");
    json_object_del(json_object_get(c, "data"), "unique_tokens");
    json_object_del(tr, "epochs");
    json_object_del(tr, "warmup_epochs");
    json_object_del(tr, "log_every");
    char *s = c ? json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS) : strdup(p->cell);
    json_decref(c);
    return s;
}

size_t an_fit_pairs(const an_pairs *ps, an_fit_row *out)
{
    size_t n = ps->n, rows = 0;
    char *used = calloc(n + 1, 1), **grp = calloc(n + 1, sizeof *grp);
    double *u = malloc((n + 1) * sizeof *u), *c = malloc((n + 1) * sizeof *c);
    const an_pair **g = malloc((n + 1) * sizeof *g);
    int ok = used && grp && u && c && g;
    for (size_t i = 0; ok && i < n; i++) ok = (grp[i] = budget_group(&ps->p[i])) != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        if (used[i]) continue;
        const an_pair *p = &ps->p[i];
        int k = 0, budgets = 0, total = 0, seeds = 0;
        double seen = -1, seen_all = -1;
        /* Pairs are sorted by metric, model, U: a group's U come in order. */
        for (size_t j = i; j < n; j++) {
            const an_pair *q = &ps->p[j];
            if (used[j] || !same_str(q->model, p->model) || !same_str(q->quality, p->quality) ||
                !same_str(q->metric, p->metric) || strcmp(grp[j], grp[i]))
                continue;
            used[j] = 1;
            if (q->unique_tokens > 0 && (double)q->unique_tokens != seen_all)
                total++, seen_all = (double)q->unique_tokens;
            if (isnan(q->res.crossover) || q->unique_tokens <= 0) continue;
            g[k] = q;
            u[k] = (double)q->unique_tokens;
            c[k++] = q->res.crossover;
            if (q->nseed > seeds) seeds = q->nseed;
            if (u[k - 1] != seen) budgets++, seen = u[k - 1];
        }
        an_fit_row *r = &out[rows++];
        memset(r, 0, sizeof *r);
        r->first = p;
        r->budgets = budgets;
        r->budgets_total = total;
        r->k_lo = r->k_hi = NAN;
        if (an_powerlaw_fit(u, c, k, &r->fit)) {
            snprintf(r->why, sizeof r->why, "%d of %d unique budget%s crossed; the fit needs two", budgets, total,
                     total == 1 ? "" : "s");
            continue;
        }
        if (seeds >= 2 && boot_k(g, k, &r->k_lo, &r->k_hi) == 0) {
            r->interval = 1;
        } else if (!isnan(r->fit.se_k)) {
            double h = an_t975(r->fit.n - 2) * r->fit.se_k;
            r->k_lo = r->fit.k - h;
            r->k_hi = r->fit.k + h;
            r->interval = 2;
        } else {
            snprintf(r->why, sizeof r->why, "no interval: one seed and two budgets (a line through two points)");
        }
    }
    for (size_t i = 0; grp && i < n; i++) free(grp[i]);
    free(grp);
    free(used);
    free(u);
    free(c);
    free(g);
    return rows;
}

/* ---- the data-efficiency multiplier --------------------------------------- */

double an_equivalent_budget(const double *u, const double *b, int n, double y)
{
    for (int i = 0; i + 1 < n; i++) {
        double b0 = b[i], b1 = b[i + 1];
        if (isnan(b0) || isnan(b1) || !(u[i] > 0) || !(u[i + 1] > 0)) continue;
        if (!((y >= b0 && y <= b1) || (y <= b0 && y >= b1))) continue;
        if (b1 == b0) return u[i];
        double l0 = log(u[i]), l1 = log(u[i + 1]);
        return exp(l0 + (l1 - l0) * (y - b0) / (b1 - b0));
    }
    return NAN;
}

/* One row: the equivalent of pair g[i]'s value on the other side's curve. */
static void eff_row(const an_pair *const *g, int k, int i, int dir, an_eff_row *r)
{
    double u[256], b[256], own, ratio;
    const an_pair *p = g[i];
    memset(r, 0, sizeof *r);
    r->pair = p;
    r->direction = dir;
    r->u = (double)p->unique_tokens;
    r->ratio_lo = r->ratio_hi = NAN;
    for (int j = 0; j < k; j++) {
        u[j] = (double)g[j]->unique_tokens;
        b[j] = dir == AN_AR_EQUIVALENT ? g[j]->res.ar_best : g[j]->res.mdm_best;
    }
    own = dir == AN_AR_EQUIVALENT ? p->res.mdm_best : p->res.ar_best;
    r->u_eq = an_equivalent_budget(u, b, k, own);
    ratio = dir == AN_AR_EQUIVALENT ? r->u_eq / r->u : r->u / r->u_eq;
    r->ratio = ratio;
    r->status = isnan(r->u_eq) ? AN_EFF_BEYOND : AN_EFF_OK;
    /* Each paired seed on its own: the seed's bests at every budget. */
    double lr[64];
    int m = 0;
    for (int q = 0; q < p->nseed && m < 64; q++) {
        long long s = p->seed[q];
        /* a budget where this seed is not paired leaves a gap in its curve */
        for (int j = 0; j < k; j++) {
            b[j] = NAN;
            for (int t = 0; t < g[j]->nseed; t++)
                if (g[j]->seed[t] == s)
                    b[j] = dir == AN_AR_EQUIVALENT ? g[j]->seed_ar_best[t] : g[j]->seed_mdm_best[t];
        }
        double y = dir == AN_AR_EQUIVALENT ? p->seed_mdm_best[q] : p->seed_ar_best[q];
        double ue = an_equivalent_budget(u, b, k, y);
        if (!isnan(ue)) lr[m++] = log(dir == AN_AR_EQUIVALENT ? ue / r->u : r->u / ue);
    }
    r->seeds = m;
    if (m >= 2) {
        double sum = 0, ss = 0;
        for (int q = 0; q < m; q++) sum += lr[q];
        double mean = sum / m;
        for (int q = 0; q < m; q++) ss += (lr[q] - mean) * (lr[q] - mean);
        double h = an_t975(m - 1) * sqrt(ss / (m - 1)) / sqrt((double)m);
        r->ratio_lo = exp(mean - h);
        r->ratio_hi = exp(mean + h);
    }
}

size_t an_efficiency(const an_pairs *ps, an_eff_row *out)
{
    size_t n = ps->n, rows = 0;
    char **grp = calloc(n + 1, sizeof *grp);
    char *used = calloc(n + 1, 1);
    const an_pair **g = malloc((n + 1) * sizeof *g);
    int ok = grp && used && g;
    for (size_t i = 0; ok && i < n; i++) ok = (grp[i] = budget_group(&ps->p[i])) != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        if (used[i]) continue;
        int k = 0;
        /* Pairs sort by metric, model, U: a group's budgets come in order. */
        for (size_t j = i; j < n && k < 256; j++) {
            if (used[j] || strcmp(grp[j], grp[i]) || !same_str(ps->p[j].metric, ps->p[i].metric)) continue;
            if (k && ps->p[j].unique_tokens == g[k - 1]->unique_tokens) continue; /* one pair per U */
            used[j] = 1;
            g[k++] = &ps->p[j];
        }
        if (k < 2) continue;
        for (int dir = AN_AR_EQUIVALENT; dir <= AN_MDM_EQUIVALENT; dir++)
            for (int q = 0; q < k; q++) eff_row(g, k, q, dir, &out[rows++]);
    }
    for (size_t i = 0; grp && i < n; i++) free(grp[i]);
    free(grp);
    free(used);
    free(g);
    return rows;
}

/* ---- the paired difference of two accuracies ---- */

int an_paired_acc(const double *ar, const double *mdm, size_t n, an_paired *out)
{
    *out = (an_paired){n, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    if (n < 2) return -1;
    double sa = 0, sm = 0, sd = 0, disc = 0;
    for (size_t i = 0; i < n; i++) {
        sa += ar[i], sm += mdm[i], sd += mdm[i] - ar[i];
        disc += ar[i] != mdm[i];
    }
    double mean = sd / (double)n, ss = 0;
    for (size_t i = 0; i < n; i++) {
        double e = mdm[i] - ar[i] - mean;
        ss += e * e;
    }
    out->ar = sa / (double)n;
    out->mdm = sm / (double)n;
    out->diff = mean;
    out->se = sqrt(ss / (double)(n - 1)) / sqrt((double)n);
    out->lo = mean - an_t975(0) * out->se; /* normal: n is in the hundreds */
    out->hi = mean + an_t975(0) * out->se;
    out->discordant = disc / (double)n;
    return 0;
}

long an_mc_unhex(const char *text, double *ok, size_t cap)
{
    char *end;
    if (!text || *text < '0' || *text > '9') return -1;
    unsigned long long n = strtoull(text, &end, 10);
    if (*end != ':' || n > cap || strlen(end + 1) != (n + 3) / 4) return -1;
    const char *hex = end + 1;
    for (size_t i = 0; i < n; i++) {
        char c = hex[i / 4];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        ok[i] = (d >> (i % 4)) & 1;
    }
    return (long)n;
}
