/*
 * test_crossover.c — the crossover on hand-made curves with known answers,
 * computed twice: by the analysis module (on arrays, what `xover crossover`
 * prints) and by the crossover view of schema.sql. Every case checks both
 * against the known answer, so the two agree by construction of the test.
 */
#include "tests/harness.h"
#include "tests/helpers.h"
#include "orchestrator/analysis/analysis.h"
#include "orchestrator/db/db.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>

static db *open_db(const char *name)
{
    char path[4096], err[512];
    harness_path(path, sizeof path, name);
    db *d = db_open(path, DB_WRITE, err, sizeof err);
    if (!d) fprintf(stderr, "open: %s\n", err);
    return d;
}

/* A run of cell (model, U, quality, lr) with this objective and seed, and
 * train.early_stop_margin `margin` unless it is NaN (absent). */
static long long run_margin(db *d, const char *objective, const char *model, long long U,
                            const char *quality, long long seed, double margin)
{
    char config[512], key[128], train[96];
    if (isnan(margin)) snprintf(train, sizeof train, "{\"lr\":0.001}");
    else snprintf(train, sizeof train, "{\"early_stop_margin\":%g,\"lr\":0.001}", margin);
    snprintf(config, sizeof config,
             "{\"data\":{\"quality\":\"%s\",\"unique_tokens\":%lld},\"model\":{\"dim\":64,"
             "\"name\":\"%s\"},\"objective\":\"%s\",\"seed\":%lld,\"train\":%s}",
             quality, U, model, objective, seed, train);
    int k = snprintf(key, sizeof key, "%s-%s-%lld-%s-%lld", objective, model, U, quality, seed);
    if (!isnan(margin)) snprintf(key + k, sizeof key - (size_t)k, "-m%g", margin);
    db_run_spec s = {.key = key, .config = config, .objective = objective, .model = model,
                     .params = 1000, .unique_tokens = U, .quality = quality, .epochs = 10,
                     .seed = seed};
    long long id = -1;
    if (db_run_put(d, &s, &id)) fprintf(stderr, "run_put: %s\n", db_errmsg(d));
    /* finished: a pair with a run still to train is 'unfinished' */
    else if (db_run_finished(d, id, "done", NULL, NULL, 0)) fprintf(stderr, "finished: %s\n", db_errmsg(d));
    return id;
}

static long long run(db *d, const char *objective, const char *model, long long U,
                     const char *quality, long long seed)
{
    return run_margin(d, objective, model, U, quality, seed, NAN);
}

/* Points (x[i], y[i]) of `metric`: tokens = x, epoch = x / 1000, flops = 6e3 x. */
static int curve(db *d, long long id, const char *metric, int n, const double *x,
                 const double *y)
{
    db_metric m[64];
    for (int i = 0; i < n; i++)
        m[i] = (db_metric){metric, i * 10, (long long)x[i], x[i] / 1000, 6e3 * x[i], y[i]};
    return db_ingest_metrics(d, id, m, (size_t)n);
}

/* The early_stop row of a run that stopped at `step` (at x, axes as in
 * curve()) of `planned` steps. */
static int stop(db *d, long long id, long long step, double x, double planned)
{
    db_metric m = {"early_stop", step, (long long)x, x / 1000, 6e3 * x, planned};
    return db_ingest_metrics(d, id, &m, 1);
}

#define N(a) ((int)(sizeof a / sizeof *a))

/* One crossover row as the view computes it. */
typedef struct {
    int found;
    char verdict[32];
    double v[11]; /* crossover x_start x_end final_gap ar_best ar_best_x ar_best_sd mdm_best mdm_best_x mdm_best_sd; seeds */
    long long ar_seeds, mdm_seeds;
} view_row;

static int on_view(void *ctx, int n, const db_value *v)
{
    view_row *r = ctx;
    r->found++;
    snprintf(r->verdict, sizeof r->verdict, "%s", v[0].type == DB_TEXT ? v[0].s : "?");
    for (int i = 1; i < n - 2 && i <= 10; i++)
        r->v[i - 1] = v[i].type == DB_REAL ? v[i].d : v[i].type == DB_INT ? (double)v[i].i : NAN;
    r->ar_seeds = v[n - 2].i;
    r->mdm_seeds = v[n - 1].i;
    return 0;
}

static view_row view(db *d, const char *model, const char *metric, const char *x)
{
    view_row r;
    memset(&r, 0, sizeof r);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT verdict, crossover, x_start, x_end, final_gap, ar_best, ar_best_x, ar_best_sd,"
             " mdm_best, mdm_best_x, mdm_best_sd, ar_seeds, mdm_seeds FROM crossover"
             " WHERE model = '%s' AND metric = '%s' AND x_axis = '%s'", model, metric, x);
    db_sink sink = {NULL, on_view, &r};
    if (db_query(d, sql, &sink)) fprintf(stderr, "view: %s\n", db_errmsg(d));
    return r;
}

static const an_pair *find(const an_pairs *ps, const char *model)
{
    for (size_t i = 0; i < ps->n; i++)
        if (!strcmp(ps->p[i].model, model)) return &ps->p[i];
    return NULL;
}

static int same(double a, double b)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return fabs(a - b) <= 1e-12 * fmax(1, fabs(a));
}

static int on_hold(void *ctx, int n, const db_value *v)
{
    (void)n;
    double *h = ctx;
    *h = v[0].type == DB_REAL ? v[0].d : v[0].type == DB_INT ? (double)v[0].i : NAN;
    return 0;
}

/* crossover_curves.hold of one side (NaN for NULL). */
static double view_hold(db *d, const char *model, const char *metric, const char *x,
                        const char *objective)
{
    double h = -1;
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT max(hold) FROM crossover_curves WHERE model = '%s' AND metric = '%s'"
             " AND x_axis = '%s' AND objective = '%s'", model, metric, x, objective);
    db_sink sink = {NULL, on_hold, &h};
    if (db_query(d, sql, &sink)) fprintf(stderr, "hold: %s\n", db_errmsg(d));
    return h;
}

/* Equal to the last bit (or both NaN). */
static int same_bits(double a, double b) { return isnan(a) ? isnan(b) : a == b; }

/* The view's row for `model` equals the analysis module's pair, field by
 * field, and each side's hold in crossover_curves equals the module's. */
static int agree(db *d, const an_pairs *ps, const char *model, const char *metric, const char *x)
{
    const an_pair *p = find(ps, model);
    view_row v = view(d, model, metric, x);
    if (!p || v.found != 1) {
        fprintf(stderr, "%s: pair %s, %d view rows\n", model, p ? "found" : "missing", v.found);
        return 0;
    }
    const an_result *r = &p->res;
    double c[10] = {r->crossover, r->x_start, r->x_end, r->final_gap, r->ar_best, r->ar_best_x,
                    r->ar_best_sd, r->mdm_best, r->mdm_best_x, r->mdm_best_sd};
    int ok = !strcmp(v.verdict, an_verdict_name(r->verdict)) && v.ar_seeds == p->ar.seeds &&
             v.mdm_seeds == p->mdm.seeds;
    for (int i = 0; i < 10; i++)
        if (!same(c[i], v.v[i])) {
            fprintf(stderr, "%s: field %d: C %.17g, SQL %.17g\n", model, i, c[i], v.v[i]);
            ok = 0;
        }
    if (!ok) fprintf(stderr, "%s: verdict C %s SQL %s\n", model, an_verdict_name(r->verdict), v.verdict);
    double ha = view_hold(d, model, metric, x, "ar"), hm = view_hold(d, model, metric, x, "mdm");
    if (!same_bits(p->ar.hold, ha) || !same_bits(p->mdm.hold, hm)) {
        fprintf(stderr, "%s: hold C %.17g/%.17g, SQL %.17g/%.17g\n", model, p->ar.hold,
                p->mdm.hold, ha, hm);
        ok = 0;
    }
    return ok;
}

static const double X11[] = {0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000};

TEST(crossover_found_none_and_back_and_forth)
{
    db *d = open_db("x.db");
    CHECK(d);
    /* found: AR is U-shaped (best 2.5 at 300, overfitting after); MDM keeps
     * improving and passes 2.5 between 700 (2.6) and 800 (2.4): at 750. */
    double ar[] = {5, 4, 3, 2.5, 2.6, 2.8, 3, 3.2, 3.4, 3.6, 3.8};
    double mdm[] = {5.5, 5, 4.5, 4, 3.5, 3, 2.8, 2.6, 2.4, 2.3, 2.2};
    CHECK_INT(curve(d, run(d, "ar", "found", 1000, "high", 0), "val_loss", 11, X11, ar), 0);
    CHECK_INT(curve(d, run(d, "mdm", "found", 1000, "high", 0), "val_loss", 11, X11, mdm), 0);
    /* none: MDM ends at 2.6, above AR's best. */
    double mdm_none[] = {5.5, 5, 4.5, 4, 3.5, 3.2, 3, 2.9, 2.8, 2.7, 2.6};
    CHECK_INT(curve(d, run(d, "ar", "none", 1000, "high", 0), "val_loss", 11, X11, ar), 0);
    CHECK_INT(curve(d, run(d, "mdm", "none", 1000, "high", 0), "val_loss", 11, X11, mdm_none), 0);
    /* back and forth: MDM ahead over (50, 250), behind again, ahead for good
     * from 350: the crossover is 350, not the first crossing. */
    double x6[] = {0, 100, 200, 300, 400, 500};
    double ar_bf[] = {4, 3, 3, 2, 2, 2}, mdm_bf[] = {4.5, 2.5, 2.5, 2.5, 1.5, 1.5};
    CHECK_INT(curve(d, run(d, "ar", "backforth", 1000, "high", 0), "val_loss", 6, x6, ar_bf), 0);
    CHECK_INT(curve(d, run(d, "mdm", "backforth", 1000, "high", 0), "val_loss", 6, x6, mdm_bf), 0);
    /* ahead from the start. */
    double mdm_lead[] = {4.9, 3.9, 2.9, 2.4, 2.4, 2.4, 2.4, 2.4, 2.4, 2.4, 2.4};
    CHECK_INT(curve(d, run(d, "ar", "lead", 1000, "high", 0), "val_loss", 11, X11, ar), 0);
    CHECK_INT(curve(d, run(d, "mdm", "lead", 1000, "high", 0), "val_loss", 11, X11, mdm_lead), 0);
    /* no overlap: AR measured up to 400, MDM from 500. */
    CHECK_INT(curve(d, run(d, "ar", "apart", 1000, "high", 0), "val_loss", 5, X11, ar), 0);
    CHECK_INT(curve(d, run(d, "mdm", "apart", 1000, "high", 0), "val_loss", 6, X11 + 5, mdm + 5), 0);
    /* Not pairs: an AR run alone, and an external trainer's label. */
    CHECK_INT(curve(d, run(d, "ar", "alone", 1000, "high", 0), "val_loss", 11, X11, ar), 0);
    CHECK_INT(curve(d, run(d, "gpt", "found", 1000, "high", 0), "val_loss", 11, X11, mdm), 0);

    an_pairs ps;
    char err[512];
    CHECK_INT(an_pairs_load(d, 0, "val_loss", AN_TOKENS, &ps, err, sizeof err), 0);
    CHECK_INT(ps.n, 5);
    const an_pair *p = find(&ps, "found");
    CHECK(p);
    CHECK_STR(an_verdict_name(p->res.verdict), "crossover");
    CHECK_NEAR(p->res.crossover, 750, 1e-9);
    CHECK_NEAR(p->res.ar_best, 2.5, 1e-12);
    CHECK_NEAR(p->res.ar_best_x, 300, 0);
    CHECK_NEAR(p->res.mdm_best, 2.2, 1e-12);
    CHECK_NEAR(p->res.mdm_best_x, 1000, 0);
    CHECK_NEAR(p->res.final_gap, 0.3, 1e-12);
    CHECK(isnan(p->res.ar_best_sd));
    CHECK(p->lower_better);
    CHECK(agree(d, &ps, "found", "val_loss", "tokens"));

    p = find(&ps, "none");
    CHECK(p);
    CHECK_STR(an_verdict_name(p->res.verdict), "none");
    CHECK(isnan(p->res.crossover));
    CHECK_NEAR(p->res.final_gap, -0.1, 1e-12);
    CHECK(agree(d, &ps, "none", "val_loss", "tokens"));

    p = find(&ps, "backforth");
    CHECK(p);
    CHECK_STR(an_verdict_name(p->res.verdict), "crossover");
    CHECK_NEAR(p->res.crossover, 350, 1e-9);
    CHECK(agree(d, &ps, "backforth", "val_loss", "tokens"));

    p = find(&ps, "lead");
    CHECK(p);
    CHECK_STR(an_verdict_name(p->res.verdict), "mdm_ahead");
    CHECK_NEAR(p->res.crossover, 0, 0);
    CHECK(agree(d, &ps, "lead", "val_loss", "tokens"));

    p = find(&ps, "apart");
    CHECK(p);
    CHECK_STR(an_verdict_name(p->res.verdict), "no_overlap");
    CHECK(isnan(p->res.crossover) && isnan(p->res.x_start));
    CHECK_NEAR(p->res.ar_best, 2.5, 1e-12);
    CHECK(agree(d, &ps, "apart", "val_loss", "tokens"));
    CHECK(find(&ps, "alone") == NULL);
    an_pairs_free(&ps);

    /* Against epochs (tokens / 1000 here) the same crossover, rescaled. */
    CHECK_INT(an_pairs_load(d, 0, "val_loss", AN_EPOCHS, &ps, err, sizeof err), 0);
    CHECK_NEAR(find(&ps, "found")->res.crossover, 0.75, 1e-12);
    CHECK(agree(d, &ps, "found", "val_loss", "epochs"));
    CHECK(agree(d, &ps, "backforth", "val_loss", "epochs"));
    an_pairs_free(&ps);
    db_close(d);
}

TEST(crossover_different_grids_interpolate)
{
    db *d = open_db("g.db");
    CHECK(d);
    /* AR every 100 (best 3 from 200 on); MDM every 250: its best-so-far,
     * interpolated, is 3.5 at 750 and 2.0 at 1000, so it reaches 3 at
     * 750 + 250 * 0.5 / 1.5 = 833.33... */
    double ar[] = {5, 4, 3, 3.5, 4, 4.2, 4.4, 4.6, 4.8, 5, 5.2};
    double xm[] = {0, 250, 500, 750, 1000}, mdm[] = {6, 5, 4, 3.5, 2.0};
    CHECK_INT(curve(d, run(d, "ar", "grid", 1000, "high", 0), "val_loss", 11, X11, ar), 0);
    CHECK_INT(curve(d, run(d, "mdm", "grid", 1000, "high", 0), "val_loss", 5, xm, mdm), 0);
    /* And grids that do not even share their ends: AR to 1000, MDM 50..850. */
    double xm2[] = {50, 450, 850}, mdm2[] = {6, 3.2, 2.4};
    CHECK_INT(curve(d, run(d, "ar", "ends", 1000, "high", 0), "val_loss", 11, X11, ar), 0);
    CHECK_INT(curve(d, run(d, "mdm", "ends", 1000, "high", 0), "val_loss", 3, xm2, mdm2), 0);

    an_pairs ps;
    char err[512];
    CHECK_INT(an_pairs_load(d, 0, NULL, AN_TOKENS, &ps, err, sizeof err), 0);
    CHECK_INT(ps.n, 2);
    const an_pair *p = find(&ps, "grid");
    CHECK_STR(an_verdict_name(p->res.verdict), "crossover");
    CHECK_NEAR(p->res.crossover, 750 + 250 * 0.5 / 1.5, 1e-9);
    CHECK_NEAR(an_best_at(&p->mdm, 875), 2.75, 1e-12);
    CHECK(isnan(an_best_at(&p->mdm, 1001)));
    CHECK(agree(d, &ps, "grid", "val_loss", "tokens"));
    /* Common range [50, 850]; MDM best-so-far 3.2 at 450, 2.4 at 850: it
     * passes AR's 3 at 450 + 400 * 0.2 / 0.8 = 550. */
    p = find(&ps, "ends");
    CHECK_NEAR(p->res.x_start, 50, 0);
    CHECK_NEAR(p->res.x_end, 850, 0);
    CHECK_NEAR(p->res.crossover, 550, 1e-9);
    CHECK_NEAR(p->res.final_gap, 0.6, 1e-12);
    CHECK(agree(d, &ps, "ends", "val_loss", "tokens"));
    an_pairs_free(&ps);
    db_close(d);
}

TEST(crossover_seeds_aggregated_mean_and_sd)
{
    db *d = open_db("s.db");
    CHECK(d);
    /* Two AR seeds at 2.5 +- 0.2 around the "found" AR curve, two MDM seeds
     * at +- 0.1: the means are the found curves (crossover 750), the sd at
     * AR's best is sqrt(2 * 0.2^2 / 1). A third MDM seed measured only up to
     * 500 shortens the MDM curve to [0, 500] and joins its mean there. */
    double ar[] = {5, 4, 3, 2.5, 2.6, 2.8, 3, 3.2, 3.4, 3.6, 3.8};
    double mdm[] = {5.5, 5, 4.5, 4, 3.5, 3, 2.8, 2.6, 2.4, 2.3, 2.2};
    double a0[11], a1[11], m0[11], m1[11];
    for (int i = 0; i < 11; i++)
        a0[i] = ar[i] - 0.2, a1[i] = ar[i] + 0.2, m0[i] = mdm[i] - 0.1, m1[i] = mdm[i] + 0.1;
    CHECK_INT(curve(d, run(d, "ar", "seeds", 1000, "high", 0), "val_loss", 11, X11, a0), 0);
    CHECK_INT(curve(d, run(d, "ar", "seeds", 1000, "high", 1), "val_loss", 11, X11, a1), 0);
    CHECK_INT(curve(d, run(d, "mdm", "seeds", 1000, "high", 0), "val_loss", 11, X11, m0), 0);
    CHECK_INT(curve(d, run(d, "mdm", "seeds", 1000, "high", 1), "val_loss", 11, X11, m1), 0);

    an_pairs ps;
    char err[512];
    CHECK_INT(an_pairs_load(d, 0, "val_loss", AN_TOKENS, &ps, err, sizeof err), 0);
    CHECK_INT(ps.n, 1); /* one pair, not four */
    const an_pair *p = &ps.p[0];
    CHECK_INT(p->ar.seeds, 2);
    CHECK_INT(p->mdm.seeds, 2);
    CHECK_NEAR(p->ar.mean[3], 2.5, 1e-12);
    CHECK_NEAR(p->res.crossover, 750, 1e-9);
    CHECK_NEAR(p->res.ar_best_sd, sqrt(2 * 0.04), 1e-12);
    CHECK_NEAR(p->res.mdm_best_sd, sqrt(2 * 0.01), 1e-12);
    CHECK(agree(d, &ps, "seeds", "val_loss", "tokens"));
    an_pairs_free(&ps);

    double m2[] = {5.5, 5, 4.5, 4, 3.5, 3};
    CHECK_INT(curve(d, run(d, "mdm", "seeds", 1000, "high", 2), "val_loss", 6, X11, m2), 0);
    CHECK_INT(an_pairs_load(d, 0, "val_loss", AN_TOKENS, &ps, err, sizeof err), 0);
    p = &ps.p[0];
    CHECK_INT(p->mdm.seeds, 3);
    CHECK_INT(p->mdm.n, 6);
    CHECK_NEAR(p->res.x_end, 500, 0);
    /* the seed means say none, but two paired seeds (t = 12.7 with one
     * degree of freedom) cannot rule out the other side: inconclusive */
    CHECK(p->res.final_gap < 0);
    CHECK_INT(p->res.paired, 2);
    CHECK_STR(an_verdict_name(p->res.verdict), "inconclusive");
    CHECK(agree(d, &ps, "seeds", "val_loss", "tokens"));
    an_pairs_free(&ps);
    db_close(d);
}

TEST(crossover_higher_better_metric)
{
    db *d = open_db("h.db");
    CHECK(d);
    /* mc_acc improves upward: AR peaks at 0.5 (x 200) then falls; MDM
     * reaches 0.5 at 300 (a tie is not ahead) and 0.55 at 400. Ahead from 300. */
    double x5[] = {0, 100, 200, 300, 400};
    double ar[] = {0.25, 0.4, 0.5, 0.45, 0.42}, mdm[] = {0.25, 0.3, 0.4, 0.5, 0.55};
    CHECK_INT(curve(d, run(d, "ar", "acc", 1000, "high", 0), "mc_acc", 5, x5, ar), 0);
    CHECK_INT(curve(d, run(d, "mdm", "acc", 1000, "high", 0), "mc_acc", 5, x5, mdm), 0);
    /* A lower-better metric of the same runs, in the other direction. */
    double l_ar[] = {3, 2, 1, 1.5, 2}, l_mdm[] = {3, 2.5, 2, 1.8, 1.6};
    CHECK_INT(curve(d, run(d, "ar", "acc", 1000, "high", 0), "val_nll", 5, x5, l_ar), 0);
    CHECK_INT(curve(d, run(d, "mdm", "acc", 1000, "high", 0), "val_nll", 5, x5, l_mdm), 0);

    an_pairs ps;
    char err[512];
    CHECK_INT(an_pairs_load(d, 0, NULL, AN_TOKENS, &ps, err, sizeof err), 0);
    CHECK_INT(ps.n, 2);
    const an_pair *p = &ps.p[0]; /* mc_acc sorts first */
    CHECK_STR(p->metric, "mc_acc");
    CHECK(!p->lower_better);
    CHECK_STR(an_verdict_name(p->res.verdict), "crossover");
    CHECK_NEAR(p->res.crossover, 300, 1e-12);
    CHECK_NEAR(p->res.ar_best, 0.5, 0);
    CHECK_NEAR(p->res.ar_best_x, 200, 0);
    CHECK_NEAR(p->res.final_gap, 0.05, 1e-12);
    CHECK(agree(d, &ps, "acc", "mc_acc", "tokens"));
    p = &ps.p[1];
    CHECK_STR(p->metric, "val_nll");
    CHECK(p->lower_better);
    CHECK_STR(an_verdict_name(p->res.verdict), "none");
    CHECK_NEAR(p->res.final_gap, -0.6, 1e-12);
    an_pairs_free(&ps);
    /* THE rule, in C and in the view, for a few names. */
    CHECK(db_metric_lower_better("val_loss") && db_metric_lower_better("VAL_ELBO") &&
          db_metric_lower_better("ppl") && !db_metric_lower_better("mc_acc") &&
          !db_metric_lower_better("loss_scale"));
    long long n = -1;
    CHECK_INT(db_query_int(d, "SELECT count(*) FROM crossover WHERE metric = 'mc_acc' AND "
                              "better = 'max'", &n), 0);
    CHECK_INT(n, 3); /* tokens, epochs, flops */
    db_close(d);
}

TEST(crossover_fit_recovers_a_known_exponent)
{
    /* On arrays: c = 3 * u^2.174 exactly, then with noise. */
    double u[] = {25e3, 50e3, 100e3, 200e3, 400e3}, c[5];
    for (int i = 0; i < 5; i++) c[i] = 3 * pow(u[i], 2.174);
    an_fit f;
    CHECK_INT(an_powerlaw_fit(u, c, 5, &f), 0);
    CHECK_NEAR(f.k, 2.174, 1e-9);
    CHECK_NEAR(f.a, 3, 1e-6);
    CHECK_NEAR(f.r2, 1, 1e-12);
    CHECK_INT(f.n, 5);
    double noise[] = {1.1, 0.9, 1.05, 0.95, 1.0};
    for (int i = 0; i < 5; i++) c[i] *= noise[i];
    CHECK_INT(an_powerlaw_fit(u, c, 5, &f), 0);
    CHECK(fabs(f.k - 2.174) < 0.1 && f.r2 < 1 && f.r2 > 0.99);
    CHECK_INT(an_powerlaw_fit(u, c, 1, &f), -1); /* one budget fits nothing */

    /* Through the database and the CLI: AR flat at 1 over [0, 2C]; MDM falls
     * linearly from 2 to 0 over the same range, so it passes AR at C(U). */
    db *d = open_db("f.db");
    CHECK(d);
    for (int i = 0; i < 4; i++) {
        double C = 0.5 * pow(u[i], 1.5), x[] = {0, 2 * C}, a[] = {1, 1}, m[] = {2, 0};
        CHECK_INT(curve(d, run(d, "ar", "xs", (long long)u[i], "high", 0), "val_loss", 2, x, a), 0);
        CHECK_INT(curve(d, run(d, "mdm", "xs", (long long)u[i], "high", 0), "val_loss", 2, x, m), 0);
    }
    db_close(d);
    char path[4096];
    harness_path(path, sizeof path, "f.db");
    const char *argv[] = {harness_xover(), "crossover", "--fit", "--format", "json", "--db", path, NULL};
    harness_proc pr = harness_run(argv, NULL);
    CHECK_INT(pr.status, 0);
    json_t *j = json_loads(pr.out, 0, NULL);
    CHECK(json_is_array(j) && json_array_size(j) == 1);
    json_t *o = json_array_get(j, 0);
    CHECK_NEAR(json_real_value(json_object_get(o, "k")), 1.5, 1e-6);
    CHECK_NEAR(json_real_value(json_object_get(o, "a")), 0.5, 1e-4);
    CHECK_NEAR(json_real_value(json_object_get(o, "r2")), 1, 1e-9);
    CHECK_INT(json_integer_value(json_object_get(o, "budgets")), 4);
    json_decref(j);
    harness_proc_free(&pr);
}

/* ---- early-stopped runs: the hold ---------------------------------------------- */

/* agree() on every x axis. */
static int agree_all(db *d, const char *model, const char *metric)
{
    int ok = 1;
    for (int x = AN_TOKENS; x <= AN_FLOPS; x++) {
        an_pairs ps;
        char err[512];
        if (an_pairs_load(d, 0, metric, (an_xaxis)x, &ps, err, sizeof err)) {
            fprintf(stderr, "load: %s\n", err);
            return 0;
        }
        if (!agree(d, &ps, model, metric, an_xaxis_name((an_xaxis)x))) ok = 0;
        an_pairs_free(&ps);
    }
    return ok;
}

static const double X6[] = {0, 100, 200, 300, 400, 500};
static const double AR6[] = {5, 4, 3, 2.5, 2.6, 3.2}; /* best 2.5 at 300, overfitting after */
static const double MDM11[] = {5.5, 5, 4.5, 4, 3.5, 3, 2.8, 2.6, 2.4, 2.3, 2.2};

/* Pairs whose AR side (margin 0.5) stopped at step 50 (x 500) of `planned`
 * steps (0: did not stop), MDM as in the "found" case: it passes AR's 2.5 at
 * 750, after AR's last point. */
static void held_pair(db *d, const char *model, double planned)
{
    long long a = run_margin(d, "ar", model, 1000, "high", 0, 0.5);
    curve(d, a, "val_loss", 6, X6, AR6);
    if (planned > 0) stop(d, a, 50, 500, planned);
    curve(d, run(d, "mdm", model, 1000, "high", 0), "val_loss", 11, X11, MDM11);
}

TEST(crossover_early_stop_holds_the_best_so_far)
{
    db *d = open_db("e.db");
    CHECK(d);
    held_pair(d, "held", 120);  /* hold 500 * 120 / 50 = 1200, past MDM's end */
    held_pair(d, "ran", 0);     /* the same points, no early_stop row */
    held_pair(d, "short", 85);  /* hold 850: no knot there */
    /* mc_acc of the held pair: AR peaks at 0.5 (x 200); MDM passes it
     * between 700 (0.49) and 800 (0.52), at 700 + 100 * 0.01 / 0.03. */
    double acc_ar[] = {0.25, 0.4, 0.5, 0.45, 0.42, 0.4};
    double acc_mdm[] = {0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.48, 0.49, 0.52, 0.55, 0.56};
    CHECK_INT(curve(d, run_margin(d, "ar", "held", 1000, "high", 0, 0.5), "mc_acc", 6, X6, acc_ar), 0);
    CHECK_INT(curve(d, run(d, "mdm", "held", 1000, "high", 0), "mc_acc", 11, X11, acc_mdm), 0);
    /* MDM stopped instead (at 500 of 100 steps: hold 1000), AR ran to 1000:
     * MDM passes 2.5 between 300 (2.8) and 400 (2.45), and AR's points to
     * 1000 are compared against MDM's held 2.3. */
    double ar11[] = {5, 4, 3, 2.5, 2.6, 2.8, 3, 3.2, 3.4, 3.6, 3.8};
    double mdm6[] = {5.5, 4.5, 3.5, 2.8, 2.45, 2.3};
    CHECK_INT(curve(d, run(d, "ar", "mheld", 1000, "high", 0), "val_loss", 11, X11, ar11), 0);
    long long m = run_margin(d, "mdm", "mheld", 1000, "high", 0, 0.5);
    CHECK_INT(curve(d, m, "val_loss", 6, X6, mdm6), 0);
    CHECK_INT(stop(d, m, 50, 500, 100), 0);
    /* The trainer prints epochs to 9 digits: a stop at a third of the run
     * reads 0.333333333 epochs, whose hold 0.999999999 would fall short of
     * the MDM's last point, 1 epoch. The 1e-6 stretch reaches it. */
    long long g = run_margin(d, "ar", "digits", 1000, "high", 0, 0.5);
    CHECK_INT(curve(d, g, "val_loss", 6, X6, AR6), 0);
    db_metric third = {"early_stop", 50, 333, 0.333333333, 2e6, 150};
    CHECK_INT(db_ingest_metrics(d, g, &third, 1), 0);
    CHECK_INT(curve(d, run(d, "mdm", "digits", 1000, "high", 0), "val_loss", 11, X11, MDM11), 0);

    an_pairs ps;
    char err[512];
    CHECK_INT(an_pairs_load(d, 0, NULL, AN_TOKENS, &ps, err, sizeof err), 0);
    CHECK_INT(ps.n, 6); /* early_stop is no metric of its own */
    const an_pair *p = find(&ps, "held");
    CHECK(p && !strcmp(p->metric, "mc_acc"));
    CHECK_STR(an_verdict_name(p->res.verdict), "crossover");
    CHECK_NEAR(p->res.crossover, 700 + 100 * 0.01 / 0.03, 1e-9);
    CHECK_NEAR(p->res.x_end, 1000, 0);
    CHECK_NEAR(p->ar.hold, 1200 * 1.000001, 0);

    for (size_t i = 0; i < ps.n; i++)
        if (!strcmp(ps.p[i].model, "held") && !strcmp(ps.p[i].metric, "val_loss")) p = &ps.p[i];
    CHECK_STR(p->metric, "val_loss");
    CHECK_STR(an_verdict_name(p->res.verdict), "crossover");
    CHECK_NEAR(p->res.crossover, 750, 1e-9);
    CHECK_NEAR(p->res.x_start, 0, 0);
    CHECK_NEAR(p->res.x_end, 1000, 0); /* MDM's last point: the earlier end */
    CHECK_NEAR(p->res.final_gap, 0.3, 1e-12);
    CHECK_NEAR(p->res.ar_best, 2.5, 0);
    CHECK_NEAR(p->res.ar_best_x, 300, 0);
    CHECK_NEAR(p->ar.hold, 1200 * 1.000001, 0);
    CHECK(isnan(p->mdm.hold));
    CHECK_INT(p->ar.n, 6); /* no synthetic point in the curve */
    CHECK_NEAR(an_best_at(&p->ar, 1100), 2.5, 0);
    CHECK_NEAR(an_best_at(&p->ar, 1200), 2.5, 0);
    CHECK(isnan(an_best_at(&p->ar, 1201)));
    CHECK(isnan(an_best_at(&p->mdm, 1001)));

    /* Without the early_stop row the same points give another verdict. */
    p = find(&ps, "ran");
    CHECK(p);
    CHECK(isnan(p->ar.hold));
    CHECK_STR(an_verdict_name(p->res.verdict), "none");
    CHECK_NEAR(p->res.x_end, 500, 0);
    CHECK_NEAR(p->res.final_gap, -0.5, 1e-12);
    CHECK(isnan(an_best_at(&p->ar, 501)));

    /* A hold between knots: the range ends at 850, x_end at MDM's 800. */
    p = find(&ps, "short");
    CHECK(p);
    CHECK_NEAR(p->ar.hold, 850 * 1.000001, 0);
    CHECK_STR(an_verdict_name(p->res.verdict), "crossover");
    CHECK_NEAR(p->res.crossover, 750, 1e-9);
    CHECK_NEAR(p->res.x_end, 800, 0);
    CHECK_NEAR(p->res.final_gap, 0.1, 1e-12);

    p = find(&ps, "mheld");
    CHECK(p);
    CHECK_NEAR(p->mdm.hold, 1000 * 1.000001, 0);
    CHECK(isnan(p->ar.hold));
    CHECK_STR(an_verdict_name(p->res.verdict), "crossover");
    CHECK_NEAR(p->res.crossover, 300 + 100 * 0.3 / 0.35, 1e-9);
    CHECK_NEAR(p->res.x_end, 1000, 0);
    CHECK_NEAR(p->res.final_gap, 0.2, 1e-12);
    an_pairs_free(&ps);

    /* The same on epochs (x / 1000) and FLOPs (6e3 x): the hold scales. */
    CHECK_INT(an_pairs_load(d, 0, "val_loss", AN_EPOCHS, &ps, err, sizeof err), 0);
    CHECK_NEAR(find(&ps, "held")->ar.hold, 0.5 * 120 / 50 * 1.000001, 0);
    CHECK_NEAR(find(&ps, "held")->res.crossover, 0.75, 1e-12);
    CHECK_NEAR(find(&ps, "held")->res.x_end, 1, 0);
    CHECK(find(&ps, "digits")->ar.hold < 1.000001 && 0.333333333 * 150 / 50 < 1);
    CHECK_NEAR(find(&ps, "digits")->res.x_end, 1, 0);
    CHECK_STR(an_verdict_name(find(&ps, "digits")->res.verdict), "crossover");
    an_pairs_free(&ps);
    CHECK_INT(an_pairs_load(d, 0, "val_loss", AN_FLOPS, &ps, err, sizeof err), 0);
    CHECK_NEAR(find(&ps, "held")->ar.hold, 3e6 * 120 / 50 * 1.000001, 0);
    CHECK_NEAR(find(&ps, "held")->res.crossover, 4.5e6, 1e-3);
    CHECK_STR(an_verdict_name(find(&ps, "ran")->res.verdict), "none");
    an_pairs_free(&ps);

    /* The SQL view says the same, on every axis. */
    const char *models[] = {"held", "ran", "short", "mheld", "digits"};
    for (int i = 0; i < 5; i++) CHECK(agree_all(d, models[i], "val_loss"));
    CHECK(agree_all(d, "held", "mc_acc"));
    long long n = -1;
    CHECK_INT(db_query_int(d, "SELECT count(*) FROM crossover_curves WHERE metric = 'early_stop'",
                           &n), 0);
    CHECK_INT(n, 0);
    db_close(d);
}

TEST(crossover_early_stop_holds_only_when_every_seed_stopped)
{
    db *d = open_db("e2.db");
    CHECK(d);
    /* Two AR seeds at +-0.2 around AR6 (their mean is AR6), both measured to
     * 500; only seed 0 stopped. One seed ran on: no hold. */
    double a0[6], a1[6];
    for (int i = 0; i < 6; i++) a0[i] = AR6[i] - 0.2, a1[i] = AR6[i] + 0.2;
    long long s0 = run_margin(d, "ar", "two", 1000, "high", 0, 0.5);
    long long s1 = run_margin(d, "ar", "two", 1000, "high", 1, 0.5);
    CHECK_INT(curve(d, s0, "val_loss", 6, X6, a0), 0);
    CHECK_INT(curve(d, s1, "val_loss", 6, X6, a1), 0);
    CHECK_INT(stop(d, s0, 50, 500, 120), 0);
    CHECK_INT(curve(d, run(d, "mdm", "two", 1000, "high", 0), "val_loss", 11, X11, MDM11), 0);

    an_pairs ps;
    char err[512];
    CHECK_INT(an_pairs_load(d, 0, "val_loss", AN_TOKENS, &ps, err, sizeof err), 0);
    CHECK_INT(ps.n, 1);
    CHECK_INT(ps.p[0].ar.seeds, 2);
    CHECK(isnan(ps.p[0].ar.hold));
    CHECK_STR(an_verdict_name(ps.p[0].res.verdict), "none");
    CHECK_NEAR(ps.p[0].res.x_end, 500, 0);
    an_pairs_free(&ps);
    CHECK(agree_all(d, "two", "val_loss"));

    /* Seed 1 stops too, at 110 planned steps (hold 1100): the side holds
     * to the smaller hold, 1100. */
    CHECK_INT(stop(d, s1, 50, 500, 110), 0);
    CHECK_INT(an_pairs_load(d, 0, "val_loss", AN_TOKENS, &ps, err, sizeof err), 0);
    CHECK_NEAR(ps.p[0].ar.hold, 1100 * 1.000001, 0);
    CHECK_STR(an_verdict_name(ps.p[0].res.verdict), "crossover");
    CHECK_NEAR(ps.p[0].res.crossover, 750, 1e-9);
    CHECK_NEAR(ps.p[0].res.x_end, 1000, 0);
    an_pairs_free(&ps);
    CHECK(agree_all(d, "two", "val_loss"));
    db_close(d);
}

TEST(crossover_early_stop_margin_is_left_out_of_the_cell)
{
    db *d = open_db("e3.db");
    CHECK(d);
    /* AR with a margin, MDM seed 0 without one, MDM seed 1 with another:
     * one pair, one cell, for ordinary and compute-matched pairs alike. */
    held_pair(d, "margin", 120);
    long long m1 = run_margin(d, "mdm", "margin", 1000, "high", 1, 0.3);
    CHECK_INT(curve(d, m1, "val_loss", 11, X11, MDM11), 0);
    long long n = -1;
    CHECK_INT(db_query_int(d, "SELECT count(DISTINCT cell_id) FROM crossover_runs", &n), 0);
    CHECK_INT(n, 1);
    CHECK_INT(db_query_int(d, "SELECT count(*) FROM crossover_runs WHERE cell LIKE "
                              "'%early_stop_margin%'", &n), 0);
    CHECK_INT(n, 0);

    an_pairs ps;
    char err[512];
    CHECK_INT(an_pairs_load(d, 0, "val_loss", AN_TOKENS, &ps, err, sizeof err), 0);
    CHECK_INT(ps.n, 1);
    CHECK_INT(ps.p[0].ar.seeds, 1);
    CHECK_INT(ps.p[0].mdm.seeds, 2);
    CHECK(!strstr(ps.p[0].cell, "early_stop_margin"));
    CHECK_STR(an_verdict_name(ps.p[0].res.verdict), "crossover");
    an_pairs_free(&ps);
    CHECK(agree_all(d, "margin", "val_loss"));

    CHECK_INT(an_pairs_load_matched(d, 0, "val_loss", &ps, err, sizeof err), 0);
    CHECK_INT(ps.n, 1);
    CHECK_INT(ps.p[0].mdm.seeds, 2);
    CHECK_NEAR(ps.p[0].ar.hold, 3e6 * 120 / 50 * 1.000001, 0);
    CHECK_STR(an_verdict_name(ps.p[0].res.verdict), "crossover");
    CHECK_NEAR(ps.p[0].res.crossover, 4.5e6, 1e-3);
    an_pairs_free(&ps);
    db_close(d);
}

/* The x of the last point of the n-th polyline in svg whose stroke is color
 * and which is dashed (best-so-far) or not (mean), and its point count. */
static int last_point(const char *svg, const char *color, int dashed, double *x)
{
    char want[64];
    snprintf(want, sizeof want, "stroke=\"%s\"", color);
    for (const char *p = strstr(svg, "<polyline"); p; p = strstr(p + 1, "<polyline")) {
        const char *end = strstr(p, "/>"), *pts = strstr(p, "points=\"");
        const char *c = strstr(p, want), *dash = strstr(p, "stroke-dasharray");
        if (!end || !pts || !c || c > end || (dash && dash < end) != dashed) continue;
        int n = 0;
        for (const char *q = pts + 8; *q != '"';) {
            char *e;
            double v = strtod(q, &e);
            if (e == q) break;
            *x = v, n++;
            q = strchr(e, ' ');
            if (!q) break;
            q++;
        }
        return n;
    }
    return -1;
}

TEST(crossover_early_stop_plot_and_cli)
{
    char path[4096];
    harness_path(path, sizeof path, "cli.db");
    db *d = open_db("cli.db");
    CHECK(d);
    held_pair(d, "held", 120);
    an_pairs ps;
    char err[512];
    CHECK_INT(an_pairs_load(d, 0, "val_loss", AN_TOKENS, &ps, err, sizeof err), 0);
    CHECK_INT(ps.n, 1);
    char *svg = an_svg_pair(&ps.p[0]);
    an_pairs_free(&ps);
    db_close(d);
    CHECK(svg);
    /* AR's best-so-far goes on flat past its 6 points to the hold (1200),
     * clipped to the x range (MDM's end, 1000); its mean does not. */
    double ar_best = 0, ar_mean = 0, mdm_best = 0;
    int nb = last_point(svg, "#1f5fa8", 1, &ar_best), nm = last_point(svg, "#1f5fa8", 0, &ar_mean);
    int nmdm = last_point(svg, "#e0701a", 1, &mdm_best);
    free(svg);
    CHECK_INT(nb, 7);
    CHECK_INT(nm, 6);
    CHECK_INT(nmdm, 11);
    CHECK_NEAR(ar_best, mdm_best, 0);
    CHECK(ar_mean < ar_best);

    const char *argv[] = {harness_xover(), "crossover", "--format", "csv", "--db", path, NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, ",crossover,750.0,0.0,1000.0,");
    harness_proc_free(&p);
    const char *argv2[] = {harness_xover(), "crossover", "--db", path, NULL};
    p = harness_run(argv2, NULL);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "crossover");
    CHECK_CONTAINS(p.out, "750");
    harness_proc_free(&p);
}

TEST(crossover_early_stop_database_of_schema_3_upgrades)
{
    /* A database written before migration 4 with an early-stopped AR run:
     * its cell still holds the margin, so no pair. Opened for writing, it
     * upgrades: one pair, held, the view and the module agree. */
    char path[4096], err[512];
    harness_path(path, sizeof path, "old.db");
    CHECK(helper_old_schema());
    db *d = db_open_schema(path, helper_old_schema(), 3, err, sizeof err);
    CHECK(d);
    held_pair(d, "held", 120);
    long long n = -1;
    CHECK_INT(db_query_int(d, "SELECT count(*) FROM crossover", &n), 0);
    CHECK_INT(n, 0);
    db_close(d);
    d = db_open(path, DB_WRITE, err, sizeof err);
    CHECK(d);
    CHECK_INT(db_version_found(d), 3);
    CHECK(db_version(d) >= 4); /* upgraded past migration 4, to the latest */
    CHECK_INT(db_query_int(d, "SELECT count(*) FROM crossover WHERE verdict = 'crossover'", &n), 0);
    CHECK_INT(n, 3); /* tokens, epochs, flops */
    CHECK(agree_all(d, "held", "val_loss"));
    db_close(d);
}
