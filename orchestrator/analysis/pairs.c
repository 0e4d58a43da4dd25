/*
 * pairs.c — AR/MDM pairs read from the results database: series grouped
 * by (metric, cell, objective), each side aggregated over its seeds, the
 * crossover computed; and a pair as a row of the crossover view's columns.
 */
#include "orchestrator/analysis/analysis.h"
#include "orchestrator/run/run_config.h"
#include "orchestrator/util/util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One run's series as loaded: x for the chosen axis, copied. In annealed
 * mode one rec gathers the final points of the branches of one trunk (one
 * seed of one side), one point per branch. */
typedef struct {
    char *cell, *objective, *model, *quality, *metric;
    char *group; /* matched compute: the cell without model and epochs */
    long long params, unique_tokens, active_params, seed;
    long long trunk; /* annealed: the trunk's run id */
    double epochs;
    int done;
    int stopped;  /* the run stopped early; hold: its x_hold on this axis */
    double hold;
    size_t n, cap;
    double *x, *y, *se;
    long long *step;
    long long *run; /* the run each point is of (annealed: a branch) */
    char *items;    /* an_item_set of its runs ("" when they differ; NULL unknown) */
} rec;

enum { MODE_RUNS, MODE_MATCHED, MODE_ANNEALED };

typedef struct {
    an_xaxis xaxis;
    int matched; /* MODE_MATCHED: recs grouped by `group` */
    int mode;
    rec *r;
    size_t n, cap;
    int oom;
    /* Cells (annealed: trunks) with a run still to finish: every pair of
     * such a cell is unfinished, whatever metric its pending runs lack. */
    char **open_cells;
    size_t nopen;
    long long *stopped_trunks; /* annealed: trunks that stopped early */
    size_t nstopped;
} loader;

static int status_finished(const char *st)
{
    return st && (!strcmp(st, "done") || !strcmp(st, "failed"));
}

static char *sdup(const char *s) { return s ? strdup(s) : strdup(""); }

static void rec_free(rec *r)
{
    free(r->cell);
    free(r->objective);
    free(r->model);
    free(r->quality);
    free(r->metric);
    free(r->group);
    free(r->x);
    free(r->y);
    free(r->se);
    free(r->step);
    free(r->run);
    free(r->items);
}

/* The config of a run as a cell: without objective, seed and the fields
 * `drop` (NULL-terminated dotted train.* names). Malloc'd JSON or NULL. */
static char *cell_without(const char *config, const char *const *drop)
{
    json_t *c = json_loads(config ? config : "{}", 0, NULL);
    if (!c) return NULL;
    json_object_del(c, "objective");
    json_object_del(c, "seed");
    for (int i = 0; drop[i]; i++) json_object_del(json_object_get(c, "train"), drop[i]);
    char *s = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(c);
    return s;
}

static const char *const ANNEAL_DROP[] = {"early_stop_margin", "epochs", "branch_of", "anneal_at", NULL};

static int note_open(loader *L, const char *cell)
{
    for (size_t i = 0; i < L->nopen; i++)
        if (!strcmp(L->open_cells[i], cell)) return 0;
    char **t = realloc(L->open_cells, (L->nopen + 1) * sizeof *t);
    if (!t) return -1;
    L->open_cells = t;
    if (!(t[L->nopen] = strdup(cell))) return -1;
    L->nopen++;
    return 0;
}

static int cell_open(const loader *L, const char *cell)
{
    for (size_t i = 0; i < L->nopen; i++)
        if (!strcmp(L->open_cells[i], cell)) return 1;
    return 0;
}

/* Room for one more point in r. */
static int rec_grow(rec *r)
{
    if (r->n < r->cap) return 0;
    size_t cap = r->cap ? r->cap * 2 : 8;
    double *x = realloc(r->x, cap * sizeof *x);
    if (x) r->x = x;
    double *y = realloc(r->y, cap * sizeof *y);
    if (y) r->y = y;
    double *e = realloc(r->se, cap * sizeof *e);
    if (e) r->se = e;
    long long *st = realloc(r->step, cap * sizeof *st);
    if (st) r->step = st;
    long long *ru = realloc(r->run, cap * sizeof *ru);
    if (ru) r->run = ru;
    if (!x || !y || !e || !st || !ru) return -1;
    r->cap = cap;
    return 0;
}

static rec *new_rec(loader *L)
{
    rec *t = xo_grow(L->r, &L->cap, L->n + 1, sizeof *t, 64);
    if (!t) return NULL;
    L->r = t;
    rec *r = &L->r[L->n++];
    memset(r, 0, sizeof *r);
    r->hold = NAN;
    return r;
}

/* The run a record is of, from its series: objective, model, quality,
 * metric, sizes and seed. -1 when a copy ran out of memory. */
static int rec_identity(rec *r, const db_series *s)
{
    r->objective = sdup(s->objective);
    r->model = sdup(s->model);
    r->quality = sdup(s->quality);
    r->metric = sdup(s->metric);
    r->params = s->params;
    r->active_params = s->active_params;
    r->unique_tokens = s->unique_tokens;
    r->seed = s->seed;
    return r->objective && r->model && r->quality && r->metric ? 0 : -1;
}

/* Note the item set of a run of rec r: the first one's, "" once two differ.
 * -1 when out of memory. */
static int note_items(rec *r, const char *config)
{
    char *k = an_item_set(config);
    if (!k) return 0; /* not JSON: unknown, as if absent */
    if (!r->items) { r->items = k; return 0; }
    if (strcmp(r->items, k) != 0) r->items[0] = 0;
    free(k);
    return 0;
}

/* Annealed mode: a branch's final point (its last finite value) joins the
 * rec of its trunk and metric; trunks are noted for their early stop and
 * their status. */
static int on_annealed(loader *L, const db_series *s)
{
    int fin = status_finished(s->status);
    if (!strcmp(s->role, "trunk")) {
        if (s->stop_step >= 0) {
            long long *t = realloc(L->stopped_trunks, (L->nstopped + 1) * sizeof *t);
            if (!t) return -1;
            L->stopped_trunks = t;
            t[L->nstopped++] = s->run_id;
        }
    } else if (strcmp(s->role, "branch") != 0) {
        return 0;
    }
    char *cell = cell_without(s->config, ANNEAL_DROP);
    if (!cell) return -1;
    if (!fin && note_open(L, cell)) { free(cell); return -1; }
    if (strcmp(s->role, "branch") != 0 || !s->metric) { free(cell); return 0; }
    rec *r = NULL;
    for (size_t i = 0; i < L->n && !r; i++)
        if (L->r[i].trunk == s->parent_id && !strcmp(L->r[i].metric, s->metric)) r = &L->r[i];
    if (!r) {
        if (!(r = new_rec(L))) { free(cell); return -1; }
        r->cell = cell;
        r->trunk = s->parent_id;
        r->done = 1;
        r->epochs = NAN;
        if (rec_identity(r, s)) return -1;
    } else {
        free(cell);
    }
    if (s->status && strcmp(s->status, "done") != 0) r->done = 0;
    const double *xs = L->xaxis == AN_TOKENS ? s->tokens : L->xaxis == AN_EPOCHS ? s->epoch : s->flops;
    for (size_t i = s->n; i-- > 0;) {
        if (isnan(s->value[i]) || isnan(xs[i])) continue;
        if (rec_grow(r)) return -1;
        r->x[r->n] = xs[i];
        r->y[r->n] = s->value[i];
        r->se[r->n] = s->se[i];
        r->step[r->n] = s->step[i];
        r->run[r->n] = s->run_id;
        r->n++;
        note_items(r, s->config);
        /* the largest budget with a point names the pair */
        if (r->n == 1 || s->epochs > r->epochs) r->epochs = s->epochs;
        break;
    }
    return 0;
}

static int on_series(void *ctx, const db_series *s)
{
    loader *L = ctx;
    if (L->mode == MODE_ANNEALED) {
        if (on_annealed(L, s)) { L->oom = 1; return 1; }
        return 0;
    }
    /* Branches are annealed points, not learning curves of their own. */
    if (!strcmp(s->role, "branch")) return 0;
    if (!status_finished(s->status) && note_open(L, s->cell)) { L->oom = 1; return 1; }
    if (!s->metric || s->n == 0) return 0; /* a run with no point yet: its status is noted */
    rec *r = new_rec(L);
    if (!r) { L->oom = 1; return 1; }
    const double *xs = L->xaxis == AN_TOKENS ? s->tokens : L->xaxis == AN_EPOCHS ? s->epoch : s->flops;
    r->cell = sdup(s->cell);
    int lost = rec_identity(r, s); /* checked below with the arrays */
    r->epochs = s->epochs;
    r->trunk = -1;
    r->done = s->status && strcmp(s->status, "done") == 0;
    /* x_hold = x_stop * S / s * 1.000001 (the stretch covers x_stop's 9
     * printed digits: schema.sql, migration 4), in the view's order of
     * operations (the same bits); no hold without a positive stop step. */
    const double xstop = L->xaxis == AN_TOKENS ? s->stop_tokens
                       : L->xaxis == AN_EPOCHS ? s->stop_epoch : s->stop_flops;
    r->stopped = s->stop_step >= 0;
    r->hold = s->stop_step > 0 ? xstop * s->stop_total / (double)s->stop_step * 1.000001 : NAN;
    r->n = r->cap = s->n;
    size_t k = s->n ? s->n : 1;
    r->x = malloc(k * sizeof *r->x);
    r->y = malloc(k * sizeof *r->y);
    r->se = malloc(k * sizeof *r->se);
    r->step = malloc(k * sizeof *r->step);
    r->run = malloc(k * sizeof *r->run);
    r->items = an_item_set(s->config);
    if (lost || !r->cell || !r->x || !r->y || !r->se || !r->step || !r->run) {
        L->oom = 1;
        return 1;
    }
    if (L->matched) {
        json_t *c = json_loads(r->cell, 0, NULL);
        json_object_del(c, "model");
        json_object_del(json_object_get(c, "train"), "epochs");
        r->group = c ? json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS) : strdup(r->cell);
        json_decref(c);
        if (!r->group) {
            L->oom = 1;
            return 1;
        }
    }
    memcpy(r->x, xs, s->n * sizeof *r->x);
    memcpy(r->y, s->value, s->n * sizeof *r->y);
    memcpy(r->se, s->se, s->n * sizeof *r->se);
    memcpy(r->step, s->step, s->n * sizeof *r->step);
    for (size_t i = 0; i < s->n; i++) r->run[i] = s->run_id;
    return 0;
}

static int cmp_rec(const void *a, const void *b)
{
    const rec *p = a, *q = b;
    int c = strcmp(p->metric, q->metric);
    if (!c) c = strcmp(p->cell, q->cell);
    if (!c) c = strcmp(p->objective, q->objective);
    if (!c) c = (p->seed > q->seed) - (p->seed < q->seed);
    return c;
}

static int cmp_str(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : ""); }

static int cmp_pair(const void *a, const void *b)
{
    const an_pair *p = a, *q = b;
    int c = strcmp(p->metric, q->metric);
    /* models smallest first (d32, d64, d128), not alphabetically */
    if (!c) c = (p->params > q->params) - (p->params < q->params);
    if (!c) c = cmp_str(p->model, q->model);
    if (!c) c = (p->unique_tokens > q->unique_tokens) - (p->unique_tokens < q->unique_tokens);
    if (!c) c = cmp_str(p->quality, q->quality);
    if (!c) c = (p->epochs > q->epochs) - (p->epochs < q->epochs);
    if (!c) c = strcmp(p->cell, q->cell);
    return c;
}

/* Aggregate recs [i, j) (one side) into c. */
static int side(const rec *r, size_t i, size_t j, int lower, an_curve *c, int *done)
{
    an_series *s = malloc((j - i + 1) * sizeof *s);
    if (!s) return -1;
    for (size_t k = i; k < j; k++) {
        s[k - i] = (an_series){r[k].n, r[k].x, r[k].y, r[k].step, r[k].stopped, r[k].hold, r[k].se};
        if (!r[k].done) *done = 0;
    }
    int rc = an_aggregate(s, (int)(j - i), lower, c);
    free(s);
    return rc;
}

static void pair_free(an_pair *p)
{
    free(p->cell);
    free(p->model);
    free(p->quality);
    free(p->metric);
    free(p->ar_model);
    free(p->seed);
    free(p->seed_ar_best);
    free(p->seed_mdm_best);
    free(p->seed_gap);
    free(p->seed_cross);
    free(p->acc.ar_set);
    free(p->acc.mdm_set);
    an_curve_free(&p->ar);
    an_curve_free(&p->mdm);
}

/* The pair's point result, and each paired seed's own (a seed in both
 * sides: recs sort by seed within a side), then the judgement. */
static int judge_pair(an_pair *p, const rec *recs, size_t a, size_t a_end, size_t m, size_t m_end)
{
    void (*cross)(const an_curve *, const an_curve *, int, an_result *) =
        p->annealed ? an_crossover_annealed : an_crossover;
    cross(&p->ar, &p->mdm, p->lower_better, &p->res);
    size_t most = a_end - a < m_end - m ? a_end - a : m_end - m;
    p->seed = malloc((most + 1) * sizeof *p->seed);
    p->seed_ar_best = malloc((most + 1) * sizeof(double));
    p->seed_mdm_best = malloc((most + 1) * sizeof(double));
    p->seed_gap = malloc((most + 1) * sizeof(double));
    p->seed_cross = malloc((most + 1) * sizeof(double));
    if (!p->seed || !p->seed_ar_best || !p->seed_mdm_best || !p->seed_gap || !p->seed_cross) return -1;
    for (size_t i = a, j = m; i < a_end && j < m_end;) {
        if (recs[i].seed != recs[j].seed) {
            if (recs[i].seed < recs[j].seed) i++;
            else j++;
            continue;
        }
        an_curve ca, cm;
        int dummy = 1;
        an_result r;
        if (side(recs, i, i + 1, p->lower_better, &ca, &dummy)) return -1;
        if (side(recs, j, j + 1, p->lower_better, &cm, &dummy)) { an_curve_free(&ca); return -1; }
        cross(&ca, &cm, p->lower_better, &r);
        an_curve_free(&ca);
        an_curve_free(&cm);
        int k = p->nseed++;
        p->seed[k] = recs[i].seed;
        p->seed_ar_best[k] = r.ar_best;
        p->seed_mdm_best[k] = r.mdm_best;
        p->seed_gap[k] = r.final_gap;
        p->seed_cross[k] = r.verdict == AN_CROSSOVER || r.verdict == AN_MDM_AHEAD ? r.crossover : NAN;
        i++, j++;
    }
    an_judge(&p->res, p->seed_gap, p->seed_cross, p->nseed, p->finished);
    return 0;
}

void an_pairs_free(an_pairs *ps)
{
    for (size_t i = 0; i < ps->n; i++) pair_free(&ps->p[i]);
    free(ps->p);
    ps->p = NULL;
    ps->n = 0;
}

/* Room for one more pair at out->p[out->n]; -1 when out of memory. */
static int pairs_grow(an_pairs *out, size_t *cap)
{
    an_pair *t = xo_grow(out->p, cap, out->n + 1, sizeof *t, 16);
    if (!t) return -1;
    out->p = t;
    return 0;
}

/* The runs and steps of recs [i, j) (one side, a seed each) at x (the
 * side's best): among a rec's points at x the largest step, as the curves
 * take it; a seed without a point there is left out. *set: the side's item
 * set (NULL when its seeds differ or one is unknown). */
static int acc_points(const rec *r, size_t i, size_t j, double x, long long *run, long long *step,
                      int *n, char **set)
{
    *n = 0;
    *set = NULL;
    int same = 1;
    const char *first = NULL; /* the item set of the first seed read */
    for (size_t k = i; k < j && *n < AN_ACC_RUNS; k++) {
        long at = -1;
        for (size_t q = 0; q < r[k].n; q++)
            if (r[k].x[q] == x && (at < 0 || r[k].step[q] > r[k].step[at])) at = (long)q;
        if (at < 0) continue;
        run[*n] = r[k].run[at];
        step[*n] = r[k].step[at];
        if ((*n)++ == 0) first = r[k].items;
        same &= r[k].items && r[k].items[0] && first && !strcmp(r[k].items, first);
    }
    if (same && *n && !(*set = strdup(first))) return -1;
    return 0;
}

/* Pair AR recs [a, a_end) with MDM recs [m, m_end) into p: named by r and
 * `cell`, and for a compute-matched pair (ar != NULL) also by the AR side's
 * model, size and epochs. Returns 1 for a pair, 0 when a side's seeds all
 * lack this x axis (no curve: not a pair), -1 when out of memory; on 0 and -1
 * p is left freed. */
static int pair_make(an_pair *p, const rec *recs, size_t a, size_t a_end, size_t m, size_t m_end,
                     const rec *r, const char *cell, const rec *ar, an_xaxis x, const loader *L)
{
    int annealed = L->mode == MODE_ANNEALED;
    memset(p, 0, sizeof *p);
    p->cell = sdup(cell);
    p->model = sdup(r->model);
    p->quality = sdup(r->quality);
    p->metric = sdup(r->metric);
    p->params = r->params;
    p->active_params = r->active_params;
    p->unique_tokens = r->unique_tokens;
    p->epochs = r->epochs;
    if (ar) {
        p->ar_model = sdup(ar->model);
        p->ar_params = ar->params;
        p->ar_active_params = ar->active_params;
        p->ar_epochs = ar->epochs;
    }
    p->lower_better = db_metric_lower_better(r->metric);
    p->xaxis = x;
    p->all_done = 1;
    p->finished = 1;
    p->annealed = annealed;
    int rc = 1;
    if (!p->cell || !p->model || (ar && !p->ar_model) || !p->quality || !p->metric ||
        side(recs, a, a_end, p->lower_better, &p->ar, &p->all_done) ||
        side(recs, m, m_end, p->lower_better, &p->mdm, &p->all_done))
        rc = -1;
    else if (p->ar.seeds == 0 || p->mdm.seeds == 0)
        rc = 0;
    if (rc == 1) {
        if (annealed) { /* named by the largest budget with a point, either side */
            p->epochs = NAN;
            for (size_t k = a; k < m_end; k++)
                if (k < a_end || k >= m)
                    if (recs[k].epochs > p->epochs || isnan(p->epochs)) p->epochs = recs[k].epochs;
        }
        for (size_t k = a; k < a_end; k++) p->finished &= !cell_open(L, recs[k].cell);
        for (size_t k = m; k < m_end; k++) p->finished &= !cell_open(L, recs[k].cell);
        if (judge_pair(p, recs, a, a_end, m, m_end)) rc = -1;
        /* mc_acc at the best points (an_acc_attach reads it): not of
         * mc_acc itself, nor across models */
        else if (!ar && strcmp(p->metric, "mc_acc") != 0 &&
                 (acc_points(recs, a, a_end, p->res.ar_best_x, p->acc.ar_run, p->acc.ar_step, &p->acc.nar,
                             &p->acc.ar_set) ||
                  acc_points(recs, m, m_end, p->res.mdm_best_x, p->acc.mdm_run, p->acc.mdm_step,
                             &p->acc.nmdm, &p->acc.mdm_set)))
            rc = -1;
    }
    if (rc != 1) pair_free(p);
    return rc;
}

/* Load every series of the sweep's metric into L (matched: with its group). */
static int load_recs(db *d, long long sweep_id, const char *metric, loader *L, an_pairs *out,
                     char *err, size_t errlen)
{
    out->p = NULL;
    out->n = 0;
    int rc = db_crossover_series(d, sweep_id, metric, on_series, L);
    if (L->oom) rc = DB_EIO, snprintf(err, errlen, "out of memory");
    else if (rc) snprintf(err, errlen, "%s", db_errmsg(d));
    return rc;
}

/* Free the recs; on success sort the pairs, on failure free them. */
static int finish(loader *L, an_pairs *out, int rc, int (*cmp)(const void *, const void *))
{
    for (size_t i = 0; i < L->n; i++) rec_free(&L->r[i]);
    free(L->r);
    for (size_t i = 0; i < L->nopen; i++) free(L->open_cells[i]);
    free(L->open_cells);
    free(L->stopped_trunks);
    if (rc) {
        an_pairs_free(out);
        return rc;
    }
    if (out->n) qsort(out->p, out->n, sizeof *out->p, cmp);
    return DB_OK;
}

/* The end of the group from rec i: equal metric and cell (matched: group). */
static size_t group_end(const loader *L, size_t i)
{
    size_t j = i;
    while (j < L->n && !strcmp(L->r[j].metric, L->r[i].metric) &&
           !strcmp(L->matched ? L->r[j].group : L->r[j].cell, L->matched ? L->r[i].group : L->r[i].cell))
        j++;
    return j;
}

/* The end of the AR recs at the start of group [i, j) (they sort first). */
static size_t ar_end(const rec *r, size_t i, size_t j)
{
    size_t k = i;
    while (k < j && !strcmp(r[k].objective, "ar")) k++;
    return k;
}

/* ---- compute-matched pairs ---------------------------------------------------- */

static int cmp_matched(const void *a, const void *b)
{
    const rec *p = a, *q = b;
    int c = strcmp(p->metric, q->metric);
    if (!c) c = strcmp(p->group, q->group);
    if (!c) c = strcmp(p->objective, q->objective);
    if (!c) c = strcmp(p->cell, q->cell);
    if (!c) c = (p->seed > q->seed) - (p->seed < q->seed);
    return c;
}

static int cmp_matched_pair(const void *a, const void *b)
{
    const an_pair *p = a, *q = b;
    int c = strcmp(p->metric, q->metric);
    if (!c) c = (p->unique_tokens > q->unique_tokens) - (p->unique_tokens < q->unique_tokens);
    if (!c) c = cmp_str(p->quality, q->quality);
    if (!c) c = strcmp(p->cell, q->cell);
    if (!c) c = cmp_str(p->ar_model, q->ar_model);
    if (!c) c = cmp_str(p->model, q->model);
    if (!c) c = (p->ar_epochs > q->ar_epochs) - (p->ar_epochs < q->ar_epochs);
    if (!c) c = (p->epochs > q->epochs) - (p->epochs < q->epochs);
    return c;
}

/* The end of the run of recs from i with the same cell (one side). */
static size_t side_end(const rec *r, size_t i, size_t j)
{
    size_t k = i;
    while (k < j && !strcmp(r[k].cell, r[i].cell)) k++;
    return k;
}

/* Pairs of every group of equal (metric, cell) — matched: (metric, group) —
 * whose recs sort AR first: each AR side (the recs of one cell) with each
 * MDM side. An ordinary group has one cell, so one pair, named by its AR
 * side; a matched one names the MDM side and the AR side's model. */
static int load_pairs(db *d, long long sweep_id, const char *metric, an_xaxis x, int mode,
                      an_pairs *out, char *err, size_t errlen)
{
    int matched = mode == MODE_MATCHED;
    loader L = {x, matched, mode, NULL, 0, 0, 0, NULL, 0, NULL, 0};
    int rc = load_recs(d, sweep_id, metric, &L, out, err, errlen);
    size_t cap = 0;
    /* Annealed: a side whose trunk stopped early holds its best to every
     * later budget (its later branches were never trained). */
    for (size_t i = 0; !rc && mode == MODE_ANNEALED && i < L.n; i++)
        for (size_t j = 0; j < L.nstopped; j++)
            if (L.r[i].trunk == L.stopped_trunks[j]) L.r[i].stopped = 1, L.r[i].hold = INFINITY;
    if (!rc && L.n) qsort(L.r, L.n, sizeof *L.r, matched ? cmp_matched : cmp_rec);
    for (size_t i = 0; !rc && i < L.n;) {
        size_t j = group_end(&L, i), k = ar_end(L.r, i, j);
        for (size_t a = i; !rc && a < k; a = side_end(L.r, a, k))
            for (size_t m = k; !rc && m < j; m = side_end(L.r, m, j)) {
                const rec *ra = &L.r[a], *rm = &L.r[m];
                int made = -1;
                if (pairs_grow(out, &cap) == 0)
                    made = pair_make(&out->p[out->n], L.r, a, side_end(L.r, a, k), m, side_end(L.r, m, j),
                                     matched ? rm : ra, matched ? rm->group : ra->cell, matched ? ra : NULL, x, &L);
                if (made < 0) rc = DB_EIO, snprintf(err, errlen, "out of memory");
                else out->n += (size_t)made;
            }
        i = j;
    }
    return finish(&L, out, rc, matched ? cmp_matched_pair : cmp_pair);
}

int an_pairs_load(db *d, long long sweep_id, const char *metric, an_xaxis x, an_pairs *out,
                  char *err, size_t errlen)
{
    int rc = load_pairs(d, sweep_id, metric, x, MODE_RUNS, out, err, errlen);
    if (!rc && (rc = an_acc_attach(d, out, err, errlen))) an_pairs_free(out);
    return rc;
}

int an_pairs_load_annealed(db *d, long long sweep_id, const char *metric, an_xaxis x, an_pairs *out,
                           char *err, size_t errlen)
{
    int rc = load_pairs(d, sweep_id, metric, x, MODE_ANNEALED, out, err, errlen);
    if (!rc && (rc = an_acc_attach(d, out, err, errlen))) an_pairs_free(out);
    return rc;
}

int an_pairs_load_matched(db *d, long long sweep_id, const char *metric, an_pairs *out,
                          char *err, size_t errlen)
{
    return load_pairs(d, sweep_id, metric, AN_FLOPS, MODE_MATCHED, out, err, errlen);
}

/* ---- rows ------------------------------------------------------------------ */

const char *const an_columns[AN_NCOL] = {
    "metric", "better", "x_axis", "mode", "model", "params", "unique_tokens", "quality", "epochs",
    "ar_seeds", "mdm_seeds", "verdict", "crossover", "x_start", "x_end", "final_gap",
    "ar_best", "ar_best_x", "ar_best_sd", "mdm_best", "mdm_best_x", "mdm_best_sd",
    "bracket_lo", "bracket_hi", "gap_lo", "gap_hi", "gap_se", "interval", "paired_seeds",
    "seeds_crossed", "seed_cross_min", "seed_cross_max", "ar_best_at_edge", "mdm_best_at_edge", "cell"};

int an_column_index(const char *name)
{
    for (int i = 0; i < AN_NCOL; i++)
        if (name && strcmp(name, an_columns[i]) == 0) return i;
    return -1;
}

static double round6(double v)
{
    if (!isfinite(v) || v == 0) return v;
    char buf[32];
    snprintf(buf, sizeof buf, "%.6g", v);
    return strtod(buf, NULL);
}

static db_value text(const char *s)
{
    db_value v = {DB_NULL, 0, 0, NULL, 0};
    if (s) v.type = DB_TEXT, v.s = s, v.len = strlen(s);
    return v;
}

static db_value integer(long long i)
{
    db_value v = {DB_NULL, 0, 0, NULL, 0};
    if (i >= 0) v.type = DB_INT, v.i = i;
    return v;
}

static db_value real(double d, int r6)
{
    db_value v = {DB_NULL, 0, 0, NULL, 0};
    if (!isnan(d)) v.type = DB_REAL, v.d = r6 ? round6(d) : d;
    return v;
}

void an_pair_row(const an_pair *p, db_value *v, int r6)
{
    const an_result *r = &p->res;
    int k = 0;
    v[k++] = text(p->metric);
    v[k++] = text(p->lower_better ? "min" : "max");
    v[k++] = text(an_xaxis_name(p->xaxis));
    v[k++] = text(p->annealed ? "annealed" : "training");
    v[k++] = text(p->model);
    v[k++] = integer(p->params);
    v[k++] = integer(p->unique_tokens);
    v[k++] = text(p->quality);
    v[k++] = real(p->epochs, r6);
    v[k++] = integer(p->ar.seeds);
    v[k++] = integer(p->mdm.seeds);
    v[k++] = text(an_verdict_name(r->verdict));
    v[k++] = real(r->crossover, r6);
    v[k++] = real(r->x_start, r6);
    v[k++] = real(r->x_end, r6);
    v[k++] = real(r->final_gap, r6);
    v[k++] = real(r->ar_best, r6);
    v[k++] = real(r->ar_best_x, r6);
    v[k++] = real(r->ar_best_sd, r6);
    v[k++] = real(r->mdm_best, r6);
    v[k++] = real(r->mdm_best_x, r6);
    v[k++] = real(r->mdm_best_sd, r6);
    v[k++] = real(r->bracket_lo, r6);
    v[k++] = real(r->bracket_hi, r6);
    v[k++] = real(r->gap_lo, r6);
    v[k++] = real(r->gap_hi, r6);
    v[k++] = real(r->gap_se, r6);
    v[k++] = text(an_interval_name(r->interval));
    v[k++] = integer(r->paired);
    v[k++] = integer(r->seeds_crossed);
    v[k++] = real(r->seed_cross_min, r6);
    v[k++] = real(r->seed_cross_max, r6);
    v[k++] = integer(r->ar_best_at_edge); /* -1 (training): NULL */
    v[k++] = integer(r->mdm_best_at_edge);
    v[k++] = text(p->cell);
}

int an_pair_axis(const an_pair *p, const char *axis, db_value *v, char *buf, size_t n)
{
    *v = (db_value){DB_NULL, 0, 0, NULL, 0};
    if (!strcmp(axis, "model")) { *v = text(p->model); return 0; }
    if (!strcmp(axis, "quality")) { *v = text(p->quality); return 0; }
    if (!strcmp(axis, "params")) { *v = integer(p->params); return 0; }
    if (!strcmp(axis, "active_params")) { *v = integer(p->active_params); return 0; }
    if (!strcmp(axis, "unique_tokens")) { *v = integer(p->unique_tokens); return 0; }
    if (!strcmp(axis, "epochs")) { *v = real(p->epochs, 0); return 0; }
    if (!strcmp(axis, "metric")) { *v = text(p->metric); return 0; }
    /* A dotted path into the cell's config: train.lr, model.dim, data.vocab. */
    json_t *root = json_loads(p->cell, 0, NULL);
    json_t *j = root;
    char path[256];
    snprintf(path, sizeof path, "%s", axis);
    for (char *save = NULL, *tok = strtok_r(path, ".", &save); j && tok;
         tok = strtok_r(NULL, ".", &save))
        j = json_is_object(j) ? json_object_get(j, tok) : NULL;
    int rc = 0;
    double absent;
    if (!j && root && run_config_absent_value(axis, &absent) == 0) {
        /* model.experts, train.input_mask, ...: absent stands for a value */
        json_decref(root);
        if (absent == floor(absent)) *v = integer((long long)absent);
        else *v = real(absent, 0);
        return 0;
    }
    if (!j || j == root) rc = -1;
    else if (json_is_integer(j)) *v = integer(json_integer_value(j));
    else if (json_is_real(j)) *v = real(json_real_value(j), 0);
    else if (json_is_string(j)) { snprintf(buf, n, "%s", json_string_value(j)); *v = text(buf); }
    else if (json_is_boolean(j)) { snprintf(buf, n, "%s", json_is_true(j) ? "true" : "false"); *v = text(buf); }
    else if (!json_is_null(j)) {
        char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(buf, n, "%s", s ? s : "");
        free(s);
        *v = text(buf);
    }
    json_decref(root);
    return rc;
}

/* ---- axis values as sort keys ------------------------------------------------ */

void an_axis_key_of(const an_pair *p, const char *axis, an_axis_key *k)
{
    char buf[sizeof k->text];
    memset(k, 0, sizeof *k);
    if (an_pair_axis(p, axis, &k->v, buf, sizeof buf) || k->v.type == DB_BLOB) k->v.type = DB_NULL;
    if (k->v.type == DB_INT || k->v.type == DB_REAL) {
        k->num = k->v.type == DB_INT ? (double)k->v.i : k->v.d;
    } else if (k->v.type == DB_TEXT) {
        snprintf(k->text, sizeof k->text, "%s", k->v.s);
        if (!strcmp(axis, "model")) k->order = (double)p->params; /* d32, d64, d128 */
    }
    k->v.s = k->v.type == DB_TEXT ? k->text : NULL; /* buf is gone after return */
    k->v.len = k->v.s ? strlen(k->text) : 0;
}

int an_axis_key_cmp(const an_axis_key *a, const an_axis_key *b)
{
    int an = a->v.type == DB_NULL, bn = b->v.type == DB_NULL;
    if (an != bn) return an - bn;
    int anum = a->v.type == DB_INT || a->v.type == DB_REAL, bnum = b->v.type == DB_INT || b->v.type == DB_REAL;
    if (anum && bnum) return (a->num > b->num) - (a->num < b->num);
    if (anum != bnum) return bnum - anum;
    if (a->order != b->order) return (a->order > b->order) - (a->order < b->order);
    return strcmp(a->text, b->text);
}

const an_pair *an_annealed_match(const an_pairs *ps, const an_pair *p)
{
    if (!ps || p->annealed || p->ar_model) return NULL;
    json_t *c = json_loads(p->cell, 0, NULL);
    json_t *tr = json_object_get(c, "train");
    if (!json_object_get(tr, "anneal_at")) { /* not a trunk pair */
        json_decref(c);
        return NULL;
    }
    /* the cell the loader gives an annealed pair: see ANNEAL_DROP */
    for (int i = 0; ANNEAL_DROP[i]; i++) json_object_del(tr, ANNEAL_DROP[i]);
    const an_pair *hit = NULL;
    /* compared as JSON values: the view and jansson write numbers alike
     * only mostly */
    for (size_t i = 0; !hit && i < ps->n; i++) {
        if (strcmp(ps->p[i].metric, p->metric)) continue;
        json_t *o = json_loads(ps->p[i].cell, 0, NULL);
        if (json_equal(o, c)) hit = &ps->p[i];
        json_decref(o);
    }
    json_decref(c);
    return hit;
}
