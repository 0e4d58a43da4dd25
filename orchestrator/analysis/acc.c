/*
 * acc.c — the cloze accuracy beside a pair's loss: each side's mc_acc at
 * the points the pair's best columns name, and the gap MDM - AR with its
 * 95% interval, paired over the items when both sides were scored on the
 * same ones (analysis.h, an_acc, says what is read and how it is judged).
 */
#include "orchestrator/analysis/analysis.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *an_item_set(const char *config)
{
    /* What decides the items (train_source.c, data/cloze.c): the data set
     * (its documents, tokenizer, validation and pool cut) and the cloze
     * windows' shape; never the budget, the tier, the seed or the
     * objective. */
    static const char *const data_keys[] = {"corpus", "separator", "text_field", "vocab", "val_tokens",
                                            "order_seed", NULL};
    static const char *const cloze_keys[] = {"pool_tokens", "context", "candidates", "length", NULL};
    json_t *c = json_loads(config ? config : "", 0, NULL);
    if (!json_is_object(c)) {
        json_decref(c);
        return NULL;
    }
    json_t *data = json_object_get(c, "data"), *cloze = json_object_get(data, "cloze");
    json_t *out = json_object(), *oc = json_object();
    for (int i = 0; data_keys[i]; i++) {
        json_t *v = json_object_get(data, data_keys[i]);
        if (v) json_object_set(out, data_keys[i], v);
    }
    for (int i = 0; cloze_keys[i]; i++) {
        json_t *v = json_object_get(cloze, cloze_keys[i]);
        if (v) json_object_set(oc, cloze_keys[i], v);
    }
    json_object_set_new(out, "cloze", oc);
    char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(out);
    json_decref(c);
    return s;
}

/* One side's runs read: each run's mc_acc and se, and its outcomes. */
typedef struct {
    int n;
    db_cloze c[AN_ACC_RUNS];
} side_acc;

static void side_free(side_acc *s)
{
    for (int i = 0; i < s->n; i++) db_cloze_free(&s->c[i]);
    s->n = 0;
}

/* Read the runs; 0 with s->n = the runs that have mc_acc there, or a DB_E*
 * code. */
static int side_read(db *d, const long long *run, const long long *step, int n, side_acc *s, int *all)
{
    s->n = 0;
    *all = 1;
    for (int i = 0; i < n; i++) {
        int rc = db_cloze_at(d, run[i], step[i], &s->c[s->n]);
        if (rc == DB_ENOTFOUND || (rc == DB_OK && isnan(s->c[s->n].acc))) {
            db_cloze_free(&s->c[s->n]);
            *all = 0;
            continue;
        }
        if (rc) return rc;
        s->n++;
    }
    return DB_OK;
}

/* The items' outcomes of a side, each item's mean over its runs, into
 * ok[0..items); -1 when a run has none or another number of them. */
static int side_items(const side_acc *s, long items, double *ok, double *tmp)
{
    for (long i = 0; i < items; i++) ok[i] = 0;
    for (int k = 0; k < s->n; k++) {
        if (s->c[k].items != items || an_mc_unhex(s->c[k].outcomes, tmp, (size_t)items) != items) return -1;
        for (long i = 0; i < items; i++) ok[i] += tmp[i] / s->n;
    }
    return 0;
}

static double mean_of(const side_acc *s, int se)
{
    double sum = 0;
    for (int k = 0; k < s->n; k++) sum += se ? s->c[k].se : s->c[k].acc;
    return s->n ? sum / s->n : NAN;
}

/* Pair p's acc from sides a and m (both with runs). */
static int judge_acc(an_acc *acc, const side_acc *a, const side_acc *m)
{
    acc->have = 1;
    acc->ar = mean_of(a, 0);
    acc->mdm = mean_of(m, 0);
    acc->gap = acc->mdm - acc->ar;
    acc->ar_seeds = a->n;
    acc->mdm_seeds = m->n;
    acc->ar_items = a->c[0].items;
    acc->mdm_items = m->c[0].items;
    long n = acc->ar_items;
    /* Paired only on one item set: the same description on both sides and
     * the same number of items in every run. */
    int same = n > 1 && acc->ar_set && acc->mdm_set && !strcmp(acc->ar_set, acc->mdm_set);
    for (int k = 0; same && k < a->n; k++) same = a->c[k].items == n;
    for (int k = 0; same && k < m->n; k++) same = m->c[k].items == n;
    if (same) {
        double *oa = malloc((size_t)n * sizeof *oa), *om = malloc((size_t)n * sizeof *om),
               *t = malloc((size_t)n * sizeof *t);
        an_paired pr;
        if (!oa || !om || !t) {
            free(oa), free(om), free(t);
            return -1;
        }
        if (side_items(a, n, oa, t) == 0 && side_items(m, n, om, t) == 0 &&
            an_paired_acc(oa, om, (size_t)n, &pr) == 0) {
            acc->paired = 1;
            acc->gap = pr.diff;
            acc->se = pr.se;
            acc->lo = pr.lo;
            acc->hi = pr.hi;
        }
        free(oa), free(om), free(t);
        if (acc->paired) return 0;
    }
    acc->paired = 0;
    double sa = mean_of(a, 1), sm = mean_of(m, 1);
    acc->se = sqrt(sa * sa + sm * sm); /* NaN when a side has no se */
    acc->lo = acc->gap - an_t975(0) * acc->se; /* normal */
    acc->hi = acc->gap + an_t975(0) * acc->se;
    return 0;
}

/* The item sets the first run was re-scored on at its point, most items
 * first. */
typedef struct {
    int n;
    char *set[8];
    long items[8];
} sets;

static int on_set(void *ctx, const char *item_set, long items)
{
    sets *s = ctx;
    if (s->n == 8) return 1;
    if (!(s->set[s->n] = strdup(item_set))) return 1;
    s->items[s->n++] = items;
    return 0;
}

/* Read every run of both sides from one re-scoring: the item set with the
 * most items that every run was re-scored on at its point (its final
 * checkpoint: the annealed points are branches' ends). 1 with a and m
 * filled and acc's sets set to it, 0 when there is none, a DB_E* code. */
static int read_rescored(db *d, an_acc *acc, side_acc *a, side_acc *m)
{
    sets s = {0};
    int rc = db_rescored_sets(d, acc->ar_run[0], acc->ar_step[0], on_set, &s), found = 0;
    if (rc == DB_EABORT) rc = DB_OK; /* more than 8: the first 8 */
    for (int k = 0; rc == DB_OK && !found && k < s.n; k++) {
        int all = 1;
        a->n = m->n = 0;
        for (int side = 0; all && side < 2; side++) {
            side_acc *x = side ? m : a;
            const long long *run = side ? acc->mdm_run : acc->ar_run, *step = side ? acc->mdm_step : acc->ar_step;
            int n = side ? acc->nmdm : acc->nar;
            for (int i = 0; all && i < n; i++) {
                int r = db_rescored_get(d, run[i], s.set[k], s.items[k], &x->c[x->n]);
                if (r == DB_OK && x->c[x->n].step == step[i] && !isnan(x->c[x->n].acc)) { x->n++; continue; }
                db_cloze_free(&x->c[x->n]);
                all = 0;
                if (r != DB_OK && r != DB_ENOTFOUND) rc = r;
            }
        }
        if (all && rc == DB_OK) {
            char *sa = strdup(s.set[k]), *sm = strdup(s.set[k]);
            if (!sa || !sm) {
                free(sa), free(sm);
                rc = DB_EIO;
                break;
            }
            free(acc->ar_set), free(acc->mdm_set);
            acc->ar_set = sa, acc->mdm_set = sm;
            acc->rescored = found = 1;
        } else {
            side_free(a);
            side_free(m);
        }
    }
    for (int k = 0; k < s.n; k++) free(s.set[k]);
    return rc ? rc : found;
}

int an_acc_attach(db *d, an_pairs *ps, char *err, size_t errlen)
{
    side_acc *a = calloc(1, sizeof *a), *m = calloc(1, sizeof *m);
    int rc = a && m ? DB_OK : DB_EIO;
    for (size_t i = 0; rc == DB_OK && i < ps->n; i++) {
        an_acc *acc = &ps->p[i].acc;
        acc->have = 0;
        acc->gap = acc->lo = acc->hi = acc->se = acc->ar = acc->mdm = NAN;
        if (acc->nar == 0 || acc->nmdm == 0) continue;
        int all_a, all_m, re = 0;
        /* annealed points are branches' final checkpoints: re-scored ones
         * first (xover eval --cloze) */
        if (ps->p[i].annealed && (re = read_rescored(d, acc, a, m)) < 0) rc = re;
        else if (re == 1) rc = judge_acc(acc, a, m) ? DB_EIO : DB_OK;
        else if ((rc = side_read(d, acc->ar_run, acc->ar_step, acc->nar, a, &all_a)) == DB_OK &&
                 (rc = side_read(d, acc->mdm_run, acc->mdm_step, acc->nmdm, m, &all_m)) == DB_OK && a->n && m->n &&
                 judge_acc(acc, a, m))
            rc = DB_EIO;
        side_free(a);
        side_free(m);
    }
    if (rc == DB_EIO && (!a || !m)) snprintf(err, errlen, "out of memory");
    else if (rc) snprintf(err, errlen, "reading mc_acc: %s", db_errmsg(d));
    free(a);
    free(m);
    return rc;
}

void an_acc_gap_text(const an_acc *a, char *buf, size_t n)
{
    char how[96];
    buf[0] = 0;
    if (!a->have) return;
    if (a->paired) snprintf(how, sizeof how, "paired, %ld items", a->ar_items);
    else if (a->ar_items == a->mdm_items && a->ar_items > 0) snprintf(how, sizeof how, "unpaired, %ld items", a->ar_items);
    else if (a->ar_items > 0 && a->mdm_items > 0)
        snprintf(how, sizeof how, "unpaired, %ld AR / %ld MDM items", a->ar_items, a->mdm_items);
    else snprintf(how, sizeof how, "unpaired: no item outcomes");
    if (a->rescored) snprintf(how + strlen(how), sizeof how - strlen(how), ", re-scored");
    if (isnan(a->lo)) snprintf(buf, n, "%+.3f (%s)", a->gap, how);
    else snprintf(buf, n, "%+.3f [%+.3f, %+.3f] (%s)", a->gap, a->lo, a->hi, how);
}
