/*
 * test_confidence.c — a crossover with confidence (analysis.h): t quantiles
 * and intervals computed by hand, a verdict of each kind, the evaluation
 * error of one seed, the bracketing evaluations, the crossover on annealed
 * points, the data-efficiency multiplier on synthetic power laws with a
 * known ratio, and the fit (its interval from one seed's fit or a bootstrap
 * over seeds; on annealed points). Each database case goes through the
 * loader (what `xover crossover` prints) and, where a CLI flag exists, the
 * CLI's JSON, with known answers.
 */
#include "tests/harness.h"
#include "tests/helpers.h"
#include "orchestrator/analysis/analysis.h"
#include "orchestrator/db/db.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A run of cell (model, U, epochs) with this objective and seed, `status`,
 * and extra train fields `train` ("" or ",\"k\":v"). */
static long long run(db *d, const char *objective, const char *model, long long U, double epochs,
                     long long seed, const char *status, const char *train)
{
    char config[512], key[160];
    snprintf(config, sizeof config,
             "{\"data\":{\"quality\":\"all\",\"unique_tokens\":%lld},\"model\":{\"name\":\"%s\"},"
             "\"objective\":\"%s\",\"seed\":%lld,\"train\":{\"epochs\":%g,\"lr\":0.001%s}}",
             U, model, objective, seed, epochs, train);
    snprintf(key, sizeof key, "%s-%s-%lld-%g-%lld%s", objective, model, U, epochs, seed, train);
    db_run_spec s = {.key = key, .config = config, .objective = objective, .model = model,
                     .params = 1000, .unique_tokens = U, .quality = "all", .epochs = epochs,
                     .seed = seed};
    long long id = -1;
    if (db_run_put(d, &s, &id)) fprintf(stderr, "run_put: %s\n", db_errmsg(d));
    else if (strcmp(status, "pending") && db_run_finished(d, id, status, NULL, NULL, 0))
        fprintf(stderr, "status: %s\n", db_errmsg(d));
    return id;
}

/* val_loss points (x[i] tokens, epoch x/U, flops 6e3 x), and with se
 * val_loss_se at the same steps. */
static int curve_u(db *d, long long id, double U, int n, const double *x, const double *y, const double *se)
{
    db_metric m[128];
    int k = 0;
    for (int i = 0; i < n; i++) {
        m[k++] = (db_metric){"val_loss", i * 10, (long long)x[i], x[i] / U, 6e3 * x[i], y[i]};
        if (se) m[k++] = (db_metric){"val_loss_se", i * 10, (long long)x[i], x[i] / U, 6e3 * x[i], se[i]};
    }
    return db_ingest_metrics(d, id, m, (size_t)k);
}

/* The same with epochs of 1000 tokens. */
static int curve(db *d, long long id, int n, const double *x, const double *y, const double *se)
{
    return curve_u(d, id, 1000, n, x, y, se);
}

static const an_pair *load(db *d, an_pairs *ps, int annealed)
{
    char err[512];
    int rc = annealed ? an_pairs_load_annealed(d, 0, "val_loss", AN_TOKENS, ps, err, sizeof err)
                      : an_pairs_load(d, 0, "val_loss", AN_TOKENS, ps, err, sizeof err);
    if (rc) {
        fprintf(stderr, "load: %s\n", err);
        return NULL;
    }
    return ps->n ? &ps->p[0] : NULL;
}

/* ---- the CLI and the SQL views, field by field --------------------------------- */

static int same_json(json_t *a, json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        return fabs(x - y) <= 1e-12 * fmax(1, fabs(x));
    }
    return json_equal(a, b);
}

/* A row's key: the values of `keys` (a NULL-terminated list), joined. */
static void row_key(json_t *r, const char *const *keys, char *buf, size_t n)
{
    buf[0] = 0;
    for (int i = 0; keys[i]; i++) {
        char *v = json_dumps(json_object_get(r, keys[i]), JSON_ENCODE_ANY);
        strncat(buf, v ? v : "?", n - strlen(buf) - 1);
        strncat(buf, "|", n - strlen(buf) - 1);
        free(v);
    }
}

/* `xover crossover ARGS --format json` and `xover sql SQL` give the same
 * rows (matched by `keys`), with the same columns and values; returns the
 * number of rows, -1 when they differ. */
static int cli_equals_sql(const char *path, const char *const *args, const char *sql,
                          const char *const *keys)
{
    const char *argv[16] = {harness_xover(), "crossover"};
    int k = 2;
    for (int i = 0; args[i]; i++) argv[k++] = args[i];
    argv[k++] = "--format", argv[k++] = "json", argv[k++] = "--db", argv[k++] = path, argv[k] = NULL;
    harness_proc a = harness_run(argv, NULL);
    const char *argv2[] = {harness_xover(), "sql", sql, "--format", "json", "--db", path, NULL};
    harness_proc b = harness_run(argv2, NULL);
    json_t *ja = json_loads(a.out, 0, NULL), *jb = json_loads(b.out, 0, NULL);
    int ok = a.status == 0 && b.status == 0 && json_is_array(ja) && json_is_array(jb) &&
             json_array_size(ja) == json_array_size(jb);
    if (!ok) fprintf(stderr, "status %d/%d, rows %zu/%zu: %s %s\n", a.status, b.status, json_array_size(ja),
                     json_array_size(jb), a.err, b.err);
    for (size_t i = 0; ok && i < json_array_size(ja); i++) {
        json_t *ra = json_array_get(ja, i), *rb = NULL;
        char ka[2048], kb[2048];
        row_key(ra, keys, ka, sizeof ka);
        for (size_t j = 0; !rb && j < json_array_size(jb); j++) {
            row_key(json_array_get(jb, j), keys, kb, sizeof kb);
            if (!strcmp(ka, kb)) rb = json_array_get(jb, j);
        }
        ok = rb && json_object_size(ra) == json_object_size(rb);
        if (!ok) fprintf(stderr, "row %s: %s in SQL\n", ka, rb ? "other columns" : "missing");
        const char *name;
        json_t *v;
        json_object_foreach(ra, name, v) {
            if (!ok) break;
            if (!same_json(v, json_object_get(rb, name))) {
                char *x = json_dumps(v, JSON_ENCODE_ANY), *y = json_dumps(json_object_get(rb, name), JSON_ENCODE_ANY);
                fprintf(stderr, "row %s, %s: CLI %s, SQL %s\n", ka, name, x ? x : "?", y ? y : "?");
                free(x);
                free(y);
                ok = 0;
            }
        }
    }
    int n = ok ? (int)json_array_size(ja) : -1;
    json_decref(ja);
    json_decref(jb);
    harness_proc_free(&a);
    harness_proc_free(&b);
    return n;
}

static const char *const PAIR_KEY[] = {"cell", "x_axis", NULL};
static const char *const EFF_KEY[] = {"cell", "direction", NULL};

/* ---- intervals and verdicts on plain numbers ---------------------------------- */

TEST(confidence_t_quantiles_and_an_interval_by_hand)
{
    /* Student's t, 97.5%, 1..9 degrees of freedom (2..10 seeds) */
    const double t[] = {12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624,
                        2.306004, 2.262157};
    for (int df = 1; df <= 9; df++) CHECK_NEAR(an_t975(df), t[df - 1], 1e-6);
    CHECK_NEAR(an_t975(30), 2.042272, 1e-6);
    CHECK_NEAR(an_t975(40), 2.021075, 2e-4);
    CHECK_NEAR(an_t975(120), 1.979930, 1e-4);
    /* three seeds' gaps 0.05, 0.03, 0.04: mean 0.04, sd 0.01,
     * half-width 4.302653 * 0.01 / sqrt 3 = 0.0248414 */
    an_result r = {.verdict = AN_CROSSOVER, .crossover = 5, .final_gap = 0.04, .gap_se = NAN};
    double gaps[] = {0.05, 0.03, 0.04}, cross[] = {4, NAN, 6};
    an_judge(&r, gaps, cross, 3, 1);
    CHECK_INT(r.interval, AN_IV_SEEDS);
    CHECK_NEAR(r.gap_lo, 0.04 - 0.0248414, 1e-7);
    CHECK_NEAR(r.gap_hi, 0.04 + 0.0248414, 1e-7);
    CHECK_STR(an_verdict_name(r.verdict), "crossover");
    CHECK_INT(r.paired, 3);
    CHECK_INT(r.seeds_crossed, 2);
    CHECK(r.seed_cross_min == 4 && r.seed_cross_max == 6);
}

TEST(confidence_a_verdict_of_each_kind)
{
    double g2[] = {0.05, 0.01}, c2[] = {5, 5};
    /* two seeds: mean 0.03, sd 0.0283, half-width 12.7 * 0.02 = 0.254: inconclusive */
    an_result r = {.verdict = AN_CROSSOVER, .crossover = 5, .final_gap = 0.03, .gap_se = NAN};
    an_judge(&r, g2, c2, 2, 1);
    CHECK_STR(an_verdict_name(r.verdict), "inconclusive");
    CHECK(r.crossover == 5); /* where the mean curves cross, still shown */
    /* on AR's side: none */
    double g3[] = {-0.05, -0.04, -0.06}, c3[] = {NAN, NAN, NAN};
    r = (an_result){.verdict = AN_NONE, .crossover = NAN, .final_gap = -0.05, .gap_se = NAN};
    an_judge(&r, g3, c3, 3, 1);
    CHECK_STR(an_verdict_name(r.verdict), "none");
    CHECK(r.gap_hi < 0);
    /* mdm_ahead stays when the interval is on MDM's side */
    double g4[] = {0.2, 0.21, 0.19}, c4[] = {0, 0, 0};
    r = (an_result){.verdict = AN_MDM_AHEAD, .crossover = 0, .final_gap = 0.2, .gap_se = NAN};
    an_judge(&r, g4, c4, 3, 1);
    CHECK_STR(an_verdict_name(r.verdict), "mdm_ahead");
    /* one seed: the evaluation error; 0.03 +- 1.96 * 0.01 is on MDM's side */
    r = (an_result){.verdict = AN_CROSSOVER, .crossover = 5, .final_gap = 0.03, .gap_se = 0.01};
    an_judge(&r, g2, c2, 1, 1);
    CHECK_INT(r.interval, AN_IV_EVAL);
    CHECK_NEAR(r.gap_lo, 0.03 - 1.959964 * 0.01, 1e-6);
    CHECK_STR(an_verdict_name(r.verdict), "crossover");
    r = (an_result){.verdict = AN_CROSSOVER, .crossover = 5, .final_gap = 0.015, .gap_se = 0.01};
    an_judge(&r, g2, c2, 1, 1);
    CHECK_STR(an_verdict_name(r.verdict), "inconclusive");
    /* no error known: the point verdict */
    r = (an_result){.verdict = AN_CROSSOVER, .crossover = 5, .final_gap = 0.015, .gap_se = NAN};
    an_judge(&r, g2, c2, 1, 1);
    CHECK_INT(r.interval, AN_IV_NONE);
    CHECK_STR(an_verdict_name(r.verdict), "crossover");
    /* a run still training: unfinished, whatever the numbers */
    r = (an_result){.verdict = AN_NONE, .crossover = NAN, .final_gap = -1.73, .gap_se = 0.01};
    an_judge(&r, g2, c2, 1, 0);
    CHECK_STR(an_verdict_name(r.verdict), "unfinished");
    /* no overlap stays what it is */
    r = (an_result){.verdict = AN_NO_OVERLAP, .crossover = NAN, .final_gap = NAN, .gap_se = NAN};
    an_judge(&r, g2, c2, 0, 0);
    CHECK_STR(an_verdict_name(r.verdict), "no_overlap");
}

/* ---- through the database ---------------------------------------------------------- */

static const double X5[] = {0, 1000, 2000, 3000, 4000};

/* One seed with val_loss_se: AR flat at 4.0 (se 0.01), MDM from 5 to 3.9
 * (se 0.02 at the end): it passes 4.0 between the evaluations at 3000 and
 * 4000; the final gap 0.1 +- 1.96 * hypot(0.01, 0.02) is on MDM's side. */
TEST(confidence_one_seed_interval_from_the_evaluation_error_and_brackets)
{
    char path[4096];
    db *d = helper_open_db("e.db", path, sizeof path);
    CHECK(d);
    double a[] = {4.5, 4.0, 4.2, 4.4, 4.6}, ase[] = {0.01, 0.01, 0.01, 0.01, 0.01};
    double m[] = {5.0, 4.6, 4.3, 4.05, 3.9}, mse[] = {0.02, 0.02, 0.02, 0.02, 0.02};
    CHECK_INT(curve(d, run(d, "ar", "d", 1000, 4, 0, "done", ""), 5, X5, a, ase), 0);
    long long mid = run(d, "mdm", "d", 1000, 4, 0, "done", "");
    CHECK_INT(curve(d, mid, 5, X5, m, mse), 0);
    an_pairs ps;
    const an_pair *p = load(d, &ps, 0);
    CHECK(p != NULL);
    CHECK_STR(an_verdict_name(p->res.verdict), "crossover");
    CHECK(p->res.bracket_lo == 3000 && p->res.bracket_hi == 4000);
    CHECK_NEAR(p->res.crossover, 3000 + 1000 * 0.05 / 0.15, 1e-9);
    CHECK_NEAR(p->res.final_gap, 0.1, 1e-12);
    CHECK_NEAR(p->res.gap_se, hypot(0.01, 0.02), 1e-12);
    CHECK_INT(p->res.interval, AN_IV_EVAL);
    CHECK_NEAR(p->res.gap_lo, 0.1 - 1.959964 * hypot(0.01, 0.02), 1e-6);
    an_pairs_free(&ps);

    /* The same numbers with a larger error: inconclusive. */
    double big[] = {0.06, 0.06, 0.06, 0.06, 0.06};
    db_metric se[5];
    for (int i = 0; i < 5; i++) se[i] = (db_metric){"val_loss_se", i * 10, (long long)X5[i], X5[i] / 1000, 6e3 * X5[i], big[i]};
    CHECK_INT(db_ingest_metrics(d, mid, se, 5), 0);
    p = load(d, &ps, 0);
    CHECK(p != NULL);
    CHECK_STR(an_verdict_name(p->res.verdict), "inconclusive");
    an_pairs_free(&ps);

    /* The MDM back to running: unfinished (today's 'none' at -1.73 would
     * have been a verdict on a run half trained). */
    CHECK_INT(db_run_started(d, mid, "h", 1, 0), 0);
    p = load(d, &ps, 0);
    CHECK(p != NULL);
    CHECK_STR(an_verdict_name(p->res.verdict), "unfinished");
    an_pairs_free(&ps);

    /* The CLI prints the same row, and the view agrees field by field. */
    db_close(d);
    CHECK_INT(cli_equals_sql(path, (const char *const[]){NULL},
                             "SELECT * FROM crossover WHERE mode = 'training' AND x_axis = 'tokens'", PAIR_KEY),
              1);
    const char *argv[] = {harness_xover(), "crossover", "--format", "json", "--db", path, NULL};
    harness_proc pr = harness_run(argv, NULL);
    CHECK_INT(pr.status, 0);
    json_t *j = json_loads(pr.out, 0, NULL), *o = json_array_get(j, 0);
    CHECK(o != NULL);
    CHECK_STR(json_string_value(json_object_get(o, "verdict")), "unfinished");
    CHECK_STR(json_string_value(json_object_get(o, "interval")), "eval");
    CHECK_NEAR(json_number_value(json_object_get(o, "bracket_lo")), 3000, 0);
    CHECK_NEAR(json_number_value(json_object_get(o, "bracket_hi")), 4000, 0);
    json_decref(j);
    harness_proc_free(&pr);
}

/* Three paired seeds: AR seed s flat at 4.0 + 0.01 s, MDM seed s ending
 * at 3.9 + 0.02 s - the seeds' final gaps 0.1, 0.09, 0.08: mean 0.09, sd
 * 0.01, interval 0.09 +- 4.302653 * 0.01 / sqrt 3; each seed crosses on its
 * own between 3000 and 4000. */
TEST(confidence_seeds_interval_and_each_seeds_crossover)
{
    char path[4096];
    db *d = helper_open_db("s.db", path, sizeof path);
    CHECK(d);
    for (int s = 0; s < 3; s++) {
        double a[5], m[5];
        const double m0[] = {5.0, 4.6, 4.3, 4.05, 3.9};
        for (int i = 0; i < 5; i++) a[i] = (i == 1 ? 4.0 : 4.4) + 0.01 * s, m[i] = m0[i] + 0.02 * s;
        CHECK_INT(curve(d, run(d, "ar", "d", 1000, 4, s, "done", ""), 5, X5, a, NULL), 0);
        CHECK_INT(curve(d, run(d, "mdm", "d", 1000, 4, s, "done", ""), 5, X5, m, NULL), 0);
    }
    an_pairs ps;
    const an_pair *p = load(d, &ps, 0);
    CHECK(p != NULL);
    CHECK_INT(p->nseed, 3);
    CHECK_INT(p->res.interval, AN_IV_SEEDS);
    CHECK_NEAR(p->res.gap_lo, 0.09 - 4.302653 * 0.01 / sqrt(3), 1e-6);
    CHECK_NEAR(p->res.gap_hi, 0.09 + 4.302653 * 0.01 / sqrt(3), 1e-6);
    CHECK_STR(an_verdict_name(p->res.verdict), "crossover");
    CHECK_INT(p->res.seeds_crossed, 3);
    /* seed 0: adv -0.05 at 3000, +0.1 at 4000; seed 2: -0.07, +0.08 */
    CHECK_NEAR(p->res.seed_cross_min, 3000 + 1000 * 0.05 / 0.15, 1e-6);
    CHECK_NEAR(p->res.seed_cross_max, 3000 + 1000 * 0.07 / 0.15, 1e-6);
    an_pairs_free(&ps);
    db_close(d);
    CHECK_INT(cli_equals_sql(path, (const char *const[]){"--x", "epochs", NULL},
                             "SELECT * FROM crossover WHERE mode = 'training' AND x_axis = 'epochs'", PAIR_KEY),
              1);
}

/* ---- annealed points ----------------------------------------------------------------- */

/* A trunk and its branches at budgets (epochs) E[i] with final values y[i]
 * (x = tokens = U E). Returns the trunk's id. A branch's metrics: one
 * evaluation mid-cooldown (worse), then its final one. */
static long long trunk_u(db *d, const char *objective, long long U, long long seed, int n, const double *E,
                         const double *y, const double *se, int stopped_after)
{
    long long t = run(d, objective, "d", U, E[n - 1], seed, "done", ",\"anneal_at\":[1]");
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE runs SET role = 'trunk' WHERE id = %lld", t);
    if (db_exec(d, sql)) return -1;
    for (int i = 0; i < n; i++) {
        char tr[64];
        snprintf(tr, sizeof tr, ",\"branch_of\":\"t%s%lld\"", objective, seed);
        int skipped = stopped_after >= 0 && i > stopped_after;
        long long b = run(d, objective, "d", U, E[i], seed, "done", tr);
        snprintf(sql, sizeof sql, "UPDATE runs SET role = 'branch', parent_id = %lld WHERE id = %lld", t, b);
        if (db_exec(d, sql)) return -1;
        if (skipped) continue; /* never trained: no metrics */
        double x[2] = {(double)U * E[i] * 0.9, (double)U * E[i]}, v[2] = {y[i] + 0.3, y[i]};
        double s2[2] = {se ? se[i] : NAN, se ? se[i] : NAN};
        if (curve_u(d, b, (double)U, 2, x, v, se ? s2 : NULL)) return -1;
    }
    if (stopped_after >= 0) {
        db_metric m = {"early_stop", 5, 100, 0.1, 6e5, 50};
        if (db_ingest_metrics(d, t, &m, 1)) return -1;
    }
    return t;
}

/* The same at U = 1000 (x = 1000 E). */
static long long trunk(db *d, const char *objective, long long seed, int n, const double *E, const double *y,
                       const double *se, int stopped_after)
{
    return trunk_u(d, objective, 1000, seed, n, E, y, se, stopped_after);
}

TEST(confidence_annealed_crossover_known_answer)
{
    char path[4096];
    db *d = helper_open_db("a.db", path, sizeof path);
    CHECK(d);
    /* AR annealed: 4.2, 4.0 (best, at 20), 4.1, 4.3; its trunk stopped after
     * 40, so 80 and 160 were never trained and it holds 4.0 from there.
     * MDM annealed: 4.6, 4.3, 4.05, 3.98, 3.95, 3.90 at 10..320 (AR's
     * budgets 10..80 and 160 too). At 80 (AR best 4.0): 3.98 < 4.0, ahead;
     * at 40: 4.05 > 4.0, not. Crossover: 80 epochs = 80000 tokens,
     * bracketed by 40000 and 80000; final gap at 320: 4.0 - 3.90 = 0.1. */
    double Ea[] = {10, 20, 40, 80, 160}, ya[] = {4.2, 4.0, 4.1, 4.3, 4.4};
    double Em[] = {10, 20, 40, 80, 160, 320}, ym[] = {4.6, 4.3, 4.05, 3.98, 3.95, 3.90};
    double sa[] = {0.0, 0.0, 0.0, 0.0, 0.0}, sm[] = {0.01, 0.01, 0.01, 0.01, 0.01, 0.01};
    CHECK(trunk(d, "ar", 0, 5, Ea, ya, sa, 2) > 0);
    CHECK(trunk(d, "mdm", 0, 6, Em, ym, sm, -1) > 0);
    an_pairs ps;
    const an_pair *p = load(d, &ps, 1);
    CHECK(p != NULL);
    CHECK_INT(ps.n, 1);
    CHECK(p->annealed);
    CHECK_INT(p->ar.n, 3);
    CHECK_INT(p->mdm.n, 6);
    CHECK_STR(an_verdict_name(p->res.verdict), "crossover");
    CHECK_NEAR(p->res.crossover, 80000, 0);
    CHECK_NEAR(p->res.bracket_lo, 40000, 0);
    CHECK_NEAR(p->res.bracket_hi, 80000, 0);
    CHECK_NEAR(p->res.x_end, 320000, 0);
    CHECK_NEAR(p->res.final_gap, 0.1, 1e-12);
    CHECK_NEAR(p->res.ar_best, 4.0, 0);
    CHECK_NEAR(p->res.ar_best_x, 20000, 0);
    CHECK_NEAR(p->res.gap_se, 0.01, 1e-12);
    CHECK_INT(p->res.interval, AN_IV_EVAL);
    an_pairs_free(&ps);
    /* The ordinary crossover leaves branches out: the two trunks have no
     * points of val_loss, so no pair. */
    CHECK(load(d, &ps, 0) == NULL);
    an_pairs_free(&ps);
    db_close(d);

    /* The CLI agrees. */
    const char *argv[] = {harness_xover(), "crossover", "--annealed", "--x", "epochs", "--format", "json",
                          "--db", path, NULL};
    harness_proc pr = harness_run(argv, NULL);
    CHECK_INT(pr.status, 0);
    json_t *j = json_loads(pr.out, 0, NULL), *o = json_array_get(j, 0);
    CHECK(o != NULL && json_array_size(j) == 1);
    CHECK_STR(json_string_value(json_object_get(o, "verdict")), "crossover");
    CHECK_NEAR(json_number_value(json_object_get(o, "crossover")), 80, 1e-9);
    CHECK_NEAR(json_number_value(json_object_get(o, "bracket_lo")), 40, 1e-9);
    CHECK_NEAR(json_number_value(json_object_get(o, "epochs")), 320, 0);
    json_decref(j);
    harness_proc_free(&pr);
    /* the view's annealed mode, field by field, on every axis */
    const char *ax[] = {"tokens", "epochs", "flops"};
    for (int i = 0; i < 3; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT * FROM crossover WHERE mode = 'annealed' AND x_axis = '%s'", ax[i]);
        CHECK_INT(cli_equals_sql(path, (const char *const[]){"--annealed", "--x", ax[i], NULL}, sql, PAIR_KEY), 1);
    }
    /* The report: the annealed table, and the annealed points drawn (here
     * alone: the trunks have no val_loss points of their own) */
    char out[4200], page[4300];
    snprintf(out, sizeof out, "%s.report", path);
    const char *rargv[] = {harness_xover(), "report", "--db", path, "--x", "epochs", out, NULL};
    pr = harness_run(rargv, NULL);
    if (pr.status) fprintf(stderr, "%s", pr.err);
    CHECK_INT(pr.status, 0);
    harness_proc_free(&pr);
    snprintf(page, sizeof page, "%s/index.html", out);
    char *html = harness_slurp(page, NULL);
    CHECK(html != NULL);
    CHECK_CONTAINS(html, "<h3>Annealed points: the comparison that counts</h3>");
    CHECK_CONTAINS(html, "annealed (one per budget)");
    CHECK_CONTAINS(html, "crossover between 40 and 80");
    free(html);
}

/* MDM's annealed value must stay ahead to the end: ahead at 80, behind at
 * 160, ahead at 320 gives the crossover at 320 (bracketed by 160, 320). */
TEST(confidence_annealed_crossover_must_stay_ahead)
{
    char path[4096];
    db *d = helper_open_db("b.db", path, sizeof path);
    CHECK(d);
    double E[] = {20, 80, 160, 320}, ya[] = {4.0, 4.2, 4.3, 4.4}, ym[] = {4.3, 3.99, 4.01, 3.9};
    CHECK(trunk(d, "ar", 0, 4, E, ya, NULL, -1) > 0);
    CHECK(trunk(d, "mdm", 0, 4, E, ym, NULL, -1) > 0);
    an_pairs ps;
    const an_pair *p = load(d, &ps, 1);
    CHECK(p != NULL);
    CHECK_STR(an_verdict_name(p->res.verdict), "crossover"); /* no se: the point verdict */
    CHECK_NEAR(p->res.crossover, 320000, 0);
    CHECK_NEAR(p->res.bracket_lo, 160000, 0);
    an_pairs_free(&ps);
    db_close(d);
}

/* A best at the edge of its annealed grid. U = 1000: AR's best is its
 * smallest budget (4.0 at 10, then 4.1 .. 4.3) and the MDM still improves
 * at its largest (3.9 at 80): both flagged. U = 2000: AR's best at 20 and
 * the MDM's at 20 (3.9, then 3.95, 3.97): neither. The C pairs, the CLI's
 * columns, the view (field by field), the reading table, `xover table`
 * and the footnote all say so. */
TEST(confidence_annealed_best_at_the_edge_of_the_grid)
{
    char path[4096];
    db *d = helper_open_db("edge.db", path, sizeof path);
    CHECK(d);
    double E[] = {10, 20, 40, 80};
    double ya0[] = {4.0, 4.1, 4.2, 4.3}, ym0[] = {4.5, 4.2, 4.05, 3.9};
    double ya1[] = {4.2, 4.0, 4.1, 4.3}, ym1[] = {4.5, 3.9, 3.95, 3.97};
    CHECK(trunk_u(d, "ar", 1000, 0, 4, E, ya0, NULL, -1) > 0);
    CHECK(trunk_u(d, "mdm", 1000, 0, 4, E, ym0, NULL, -1) > 0);
    CHECK(trunk_u(d, "ar", 2000, 0, 4, E, ya1, NULL, -1) > 0);
    CHECK(trunk_u(d, "mdm", 2000, 0, 4, E, ym1, NULL, -1) > 0);
    an_pairs ps;
    CHECK(load(d, &ps, 1) != NULL);
    CHECK_INT(ps.n, 2);
    CHECK_INT(ps.p[0].unique_tokens, 1000);
    CHECK_STR(an_verdict_name(ps.p[0].res.verdict), "crossover");
    CHECK_INT(ps.p[0].res.ar_best_at_edge, 1);
    CHECK_INT(ps.p[0].res.mdm_best_at_edge, 1);
    CHECK_INT(ps.p[1].res.ar_best_at_edge, 0);
    CHECK_INT(ps.p[1].res.mdm_best_at_edge, 0);
    an_pairs_free(&ps);
    /* training mode has no grid: no flag */
    CHECK(load(d, &ps, 0) == NULL);
    an_pairs_free(&ps);
    db_close(d);

    CHECK_INT(cli_equals_sql(path, (const char *const[]){"--annealed", NULL},
                             "SELECT * FROM crossover WHERE mode = 'annealed' AND x_axis = 'tokens'", PAIR_KEY),
              2);
    const char *sq[] = {harness_xover(), "sql", "SELECT unique_tokens, ar_best_at_edge, mdm_best_at_edge "
                        "FROM crossover WHERE mode = 'annealed' AND x_axis = 'epochs' ORDER BY 1",
                        "--format", "csv", "--db", path, NULL};
    harness_proc pr = harness_run(sq, NULL);
    CHECK_INT(pr.status, 0);
    CHECK(strstr(pr.out, "1000,1,1\n") && strstr(pr.out, "2000,0,0\n"));
    harness_proc_free(&pr);
    /* the reading table marks the bests, the footnote says what to do */
    const char *rd[] = {harness_xover(), "crossover", "--annealed", "--format", "md", "--db", path, NULL};
    pr = harness_run(rd, NULL);
    CHECK_INT(pr.status, 0);
    CHECK(strstr(pr.out, "smallest budget *") && strstr(pr.out, "largest budget *"));
    CHECK(strstr(pr.err, "Anneal AR from a smaller budget") && strstr(pr.err, "in 1 pair:"));
    CHECK(strstr(pr.err, "MDM still improving at the largest budget"));
    harness_proc_free(&pr);
    const char *tb[] = {harness_xover(), "table", "--annealed", "--rows", "model", "--cols", "unique_tokens",
                        "--cell", "crossover", "--format", "md", "--db", path, NULL};
    pr = harness_run(tb, NULL);
    if (pr.status) fprintf(stderr, "%s", pr.err);
    CHECK_INT(pr.status, 0);
    CHECK(strstr(pr.out, "(AR best at its smallest budget *)") != NULL);
    CHECK(strstr(pr.err, "Anneal AR from a smaller budget") != NULL);
    harness_proc_free(&pr);
    /* the report: the marked best and the note under the annealed table */
    char out[4096], html[4200];
    harness_path(out, sizeof out, "edge-report");
    const char *rp[] = {harness_xover(), "report", "--db", path, out, NULL};
    pr = harness_run(rp, NULL);
    CHECK_INT(pr.status, 0);
    harness_proc_free(&pr);
    snprintf(html, sizeof html, "%s/index.html", out);
    char *h = harness_slurp(html, NULL);
    CHECK(h != NULL);
    CHECK(strstr(h, "smallest annealed budget in 1 pair:") && strstr(h, "title=\"its smallest budget"));
    free(h);
}

/* `crossover --annealed --fit`: one annealed pair per unique budget U of
 * 1000..8000 tokens, AR's annealed best 4.0 at 20 epochs, the MDM's value
 * 4.3 before its crossing budget E_c and 3.95 from it: E_c = 20, 40, 88,
 * 160 epochs (88 a little off the line through 80), so crossovers of
 * U E_c tokens. A fifth budget (16000) never crosses. Least squares in
 * log-log, computed apart: on tokens k = 2.0137504, a = 0.0183619,
 * R² = 0.9993477, se(k) = 0.0363800; on epochs k is one less (R² =
 * 0.9974309). One seed: k's interval from the fit's own standard error,
 * k +- t(2) se(k). */
TEST(confidence_annealed_fit_known_answer)
{
    char path[4096];
    db *d = helper_open_db("af.db", path, sizeof path);
    CHECK(d);
    const long long U[] = {1000, 2000, 4000, 8000, 16000};
    const double Ec[] = {20, 40, 88, 160, INFINITY};
    double Ea[] = {10, 20, 40, 80, 160, 320}, ya[] = {4.2, 4.0, 4.1, 4.3, 4.4, 4.5};
    for (int i = 0; i < 5; i++) {
        double Em[7], ym[7];
        int n = 0;
        for (int j = 0; j < 6; j++) {
            if (Ea[j] > Ec[i] && (j == 0 || Ea[j - 1] < Ec[i])) Em[n++] = Ec[i]; /* E_c between two budgets */
            Em[n++] = Ea[j];
        }
        for (int j = 0; j < n; j++) ym[j] = Em[j] < Ec[i] ? 4.3 : 3.95;
        CHECK(trunk_u(d, "ar", U[i], 0, 6, Ea, ya, NULL, -1) > 0);
        CHECK(trunk_u(d, "mdm", U[i], 0, n, Em, ym, NULL, -1) > 0);
    }
    an_pairs ps;
    CHECK(load(d, &ps, 1) != NULL);
    CHECK_INT(ps.n, 5);
    for (int i = 0; i < 4; i++) {
        CHECK_STR(an_verdict_name(ps.p[i].res.verdict), "crossover");
        CHECK_NEAR(ps.p[i].res.crossover, (double)U[i] * Ec[i], 1e-9);
    }
    CHECK_STR(an_verdict_name(ps.p[4].res.verdict), "none");
    an_pairs_free(&ps);
    db_close(d);

    const char *ax[] = {"tokens", "epochs"};
    const double k[] = {2.0137503524, 1.0137503524}, r2[] = {0.9993476795, 0.9974309268};
    for (int i = 0; i < 2; i++) {
        const char *argv[] = {harness_xover(), "crossover", "--annealed", "--fit", "--x", ax[i], "--format", "json",
                              "--db", path, NULL};
        harness_proc pr = harness_run(argv, NULL);
        if (pr.status) fprintf(stderr, "%s", pr.err);
        CHECK_INT(pr.status, 0);
        json_t *j = json_loads(pr.out, 0, NULL), *o = json_array_get(j, 0);
        CHECK(o != NULL && json_array_size(j) == 1);
        CHECK_STR(json_string_value(json_object_get(o, "x_axis")), ax[i]);
        CHECK_INT(json_integer_value(json_object_get(o, "points")), 4);
        CHECK_INT(json_integer_value(json_object_get(o, "budgets")), 4);
        CHECK_INT(json_integer_value(json_object_get(o, "budgets_total")), 5);
        double kk = json_number_value(json_object_get(o, "k"));
        CHECK_NEAR(kk, k[i], 1e-9);
        CHECK_NEAR(json_number_value(json_object_get(o, "r2")), r2[i], 1e-9);
        if (i == 0) CHECK_NEAR(json_number_value(json_object_get(o, "a")), 0.0183619249, 1e-9);
        CHECK_STR(json_string_value(json_object_get(o, "interval")), "fit");
        CHECK_NEAR(json_number_value(json_object_get(o, "k_lo")), kk - 4.302653 * 0.0363800128, 1e-6);
        CHECK_NEAR(json_number_value(json_object_get(o, "k_hi")), kk + 4.302653 * 0.0363800128, 1e-6);
        json_decref(j);
        harness_proc_free(&pr);
    }
}

/* ---- the data-efficiency multiplier ---------------------------------------------------- */

/* AR's best at U: 3 + 20 U^-0.3; the MDM's: AR's at 3U. Budgets sqrt(2)
 * apart from 1000: U_AR / U = 3 wherever 3U is on the grid (within 1%,
 * from interpolating in ln U), beyond the grid otherwise; the reverse
 * direction (AR at U, the MDM matches it at U/3) likewise. */
static double ar_best(double u) { return 3 + 20 * pow(u, -0.3); }

TEST(confidence_efficiency_recovers_a_known_ratio)
{
    char path[4096];
    db *d = helper_open_db("f.db", path, sizeof path);
    CHECK(d);
    enum { NB = 13, NS = 3 };
    long long U[NB];
    for (int i = 0; i < NB; i++) U[i] = llround(1000 * pow(sqrt(2), i));
    for (int i = 0; i < NB; i++)
        for (int s = 0; s < NS; s++) {
            /* a seed's own offset: its ratio differs a little */
            double e = 0.002 * (s - 1), x[] = {0, 1000}, a[2], m[2];
            a[0] = a[1] = ar_best((double)U[i]) + e;
            a[0] += 1;
            m[1] = ar_best(3.0 * U[i]) - e;
            m[0] = m[1] + 1;
            CHECK_INT(curve(d, run(d, "ar", "d", U[i], 16e6 / U[i], s, "done", ""), 2, x, a, NULL), 0);
            CHECK_INT(curve(d, run(d, "mdm", "d", U[i], 16e6 / U[i], s, "done", ""), 2, x, m, NULL), 0);
        }
    an_pairs ps;
    CHECK(load(d, &ps, 0) != NULL);
    CHECK_INT(ps.n, NB);
    an_eff_row *er = malloc(2 * ps.n * sizeof *er);
    CHECK(er != NULL);
    size_t n = an_efficiency(&ps, er);
    CHECK_INT(n, 2 * NB);
    int ok = 0, beyond = 0;
    for (size_t i = 0; i < n; i++) {
        const an_eff_row *r = &er[i];
        int on_grid = r->direction == AN_AR_EQUIVALENT ? 3.0 * r->u <= (double)U[NB - 1]
                                                       : r->u / 3.0 >= (double)U[0];
        if (!on_grid) {
            CHECK_INT(r->status, AN_EFF_BEYOND);
            CHECK(isnan(r->ratio) && isnan(r->u_eq));
            beyond++;
            continue;
        }
        CHECK_INT(r->status, AN_EFF_OK);
        CHECK(fabs(r->ratio / 3 - 1) < 0.01);
        CHECK(r->seeds == NS && r->ratio_lo < r->ratio && r->ratio < r->ratio_hi);
        ok++;
    }
    CHECK_INT(ok, 2 * (NB - 4)); /* 3x is 3.2 grid steps: the last (first) 4 are beyond */
    CHECK_INT(beyond, 8);
    free(er);
    an_pairs_free(&ps);
    db_close(d);

    /* The CLI: the same rows, 'beyond the grid' in words. */
    const char *argv[] = {harness_xover(), "crossover", "--efficiency", "--format", "json", "--db", path, NULL};
    harness_proc pr = harness_run(argv, NULL);
    CHECK_INT(pr.status, 0);
    json_t *j = json_loads(pr.out, 0, NULL);
    CHECK(json_is_array(j) && json_array_size(j) == 2 * NB);
    json_t *o = json_array_get(j, 0);
    CHECK_STR(json_string_value(json_object_get(o, "direction")), "ar_equivalent");
    CHECK_INT(json_integer_value(json_object_get(o, "unique_tokens")), 1000);
    CHECK(fabs(json_number_value(json_object_get(o, "ratio")) / 3 - 1) < 0.01);
    o = json_array_get(j, NB - 1);
    CHECK_STR(json_string_value(json_object_get(o, "status")), "beyond the grid");
    CHECK(json_is_null(json_object_get(o, "ratio")));
    json_decref(j);
    harness_proc_free(&pr);
    /* the view, field by field */
    CHECK_INT(cli_equals_sql(path, (const char *const[]){"--efficiency", NULL},
                             "SELECT * FROM crossover_efficiency WHERE mode = 'training' AND x_axis = 'tokens'",
                             EFF_KEY),
              2 * NB);
}

/* A budget sweep at fixed tokens, as an annealed sweep resolves it: at
 * U = 1000, 2000, 4000 the epochs (16, 8, 4), train.warmup_epochs (1% of
 * them) and train.log_every (1/500 of them) differ, nothing else: one
 * budget group, so efficiency rows and a fit. A pair at U = 8000 that also
 * differs in weight_decay is a group of its own (one budget: no rows). Each
 * pair crosses between 1000 and 2000 tokens: AR flat at ar_best(U), the MDM
 * ending at AR's best at 1.5 U. */
TEST(confidence_budget_group_drops_the_fields_derived_from_the_length)
{
    char path[4096];
    db *d = helper_open_db("bg.db", path, sizeof path);
    CHECK(d);
    const long long U[] = {1000, 2000, 4000, 8000};
    for (int i = 0; i < 4; i++) {
        double E = 16000.0 / (double)U[i], x[] = {0, 1000, 2000}, a[3], m[3];
        char tr[128];
        snprintf(tr, sizeof tr, ",\"warmup_epochs\":%g,\"log_every\":%g%s", 0.01 * E, E / 500,
                 i == 3 ? ",\"weight_decay\":0.1" : "");
        a[0] = ar_best((double)U[i]) + 1, a[1] = a[2] = ar_best((double)U[i]);
        m[0] = a[1] + 2, m[1] = a[1] + 0.5, m[2] = ar_best(1.5 * (double)U[i]);
        CHECK_INT(curve(d, run(d, "ar", "d", U[i], E, 0, "done", tr), 3, x, a, NULL), 0);
        CHECK_INT(curve(d, run(d, "mdm", "d", U[i], E, 0, "done", tr), 3, x, m, NULL), 0);
    }
    an_pairs ps;
    CHECK(load(d, &ps, 0) != NULL);
    CHECK_INT(ps.n, 4);
    an_eff_row *er = malloc(2 * ps.n * sizeof *er);
    CHECK(er != NULL);
    size_t n = an_efficiency(&ps, er);
    CHECK_INT(n, 6); /* 3 budgets x 2 directions; the weight_decay pair alone */
    for (size_t i = 0; i < n; i++) {
        CHECK(er[i].pair->unique_tokens <= 4000);
        /* the MDM at 1000 matches AR at 1500 (within 2%: interpolated in ln U) */
        if (er[i].direction == AN_AR_EQUIVALENT && er[i].pair->unique_tokens == 1000)
            CHECK_NEAR(er[i].ratio, 1.5, 0.03);
    }
    free(er);
    an_pairs_free(&ps);
    db_close(d);
    CHECK_INT(cli_equals_sql(path, (const char *const[]){"--efficiency", NULL},
                             "SELECT * FROM crossover_efficiency WHERE mode = 'training' AND x_axis = 'tokens'",
                             EFF_KEY),
              6);
    const char *argv[] = {harness_xover(), "crossover", "--fit", "--format", "json", "--db", path, NULL};
    harness_proc pr = harness_run(argv, NULL);
    CHECK_INT(pr.status, 0);
    /* Two fit rows: the budget sweep's (three budgets, k fitted) and the
     * weight_decay pair's alone (a fit never pools pairs of another config). */
    json_t *j = json_loads(pr.out, 0, NULL);
    size_t fitted = 0, alone = 0;
    for (size_t i = 0; i < json_array_size(j); i++) {
        json_t *o = json_array_get(j, i);
        json_int_t nb = json_integer_value(json_object_get(o, "budgets"));
        if (nb >= 3 && isfinite(json_number_value(json_object_get(o, "k")))) fitted++;
        if (nb == 1) alone++;
    }
    CHECK_INT((long)json_array_size(j), 2);
    CHECK_INT((long)fitted, 1);
    CHECK_INT((long)alone, 1);
    json_decref(j);
    harness_proc_free(&pr);
}

TEST(confidence_equivalent_budget_is_never_extrapolated)
{
    double u[] = {1000, 2000, 4000}, b[] = {4.5, 4.2, 4.0};
    CHECK_NEAR(an_equivalent_budget(u, b, 3, 4.2), 2000, 1e-9);
    CHECK_NEAR(an_equivalent_budget(u, b, 3, 4.35), 1000 * sqrt(2), 1e-6); /* halfway in ln U */
    CHECK(isnan(an_equivalent_budget(u, b, 3, 3.9)));                   /* better than AR anywhere */
    CHECK(isnan(an_equivalent_budget(u, b, 3, 4.6)));
}

/* ---- the fit's interval ---------------------------------------------------------------- */

/* Crossovers c(U) = 0.5 U^1.5 (as test_crossover's fit) times a small
 * wobble, at four budgets: one seed gives k's interval from the fit's
 * standard error (it contains 1.5); a fifth budget that does not cross is
 * counted; a group with one crossing budget gets a row saying why. */
TEST(confidence_fit_interval_and_why_not)
{
    char path[4096];
    db *d = helper_open_db("k.db", path, sizeof path);
    CHECK(d);
    const double u[] = {1000, 2000, 4000, 8000}, wob[] = {1.02, 0.98, 1.01, 0.99};
    for (int i = 0; i < 4; i++) {
        double C = 0.5 * pow(u[i], 1.5) * wob[i], x[] = {0, 2 * C}, a[] = {1, 1}, m[] = {2, 0};
        CHECK_INT(curve(d, run(d, "ar", "xs", (long long)u[i], 1, 0, "done", ""), 2, x, a, NULL), 0);
        CHECK_INT(curve(d, run(d, "mdm", "xs", (long long)u[i], 1, 0, "done", ""), 2, x, m, NULL), 0);
    }
    double x[] = {0, 1e9}, a[] = {1, 1}, m[] = {3, 2};
    CHECK_INT(curve(d, run(d, "ar", "xs", 16000, 1, 0, "done", ""), 2, x, a, NULL), 0);
    CHECK_INT(curve(d, run(d, "mdm", "xs", 16000, 1, 0, "done", ""), 2, x, m, NULL), 0);
    CHECK_INT(curve(d, run(d, "ar", "lone", 1000, 1, 0, "done", ""), 2, x, a, NULL), 0);
    CHECK_INT(curve(d, run(d, "mdm", "lone", 1000, 1, 0, "done", ""), 2, x, (double[]){2, 0}, NULL), 0);
    an_pairs ps;
    CHECK(load(d, &ps, 0) != NULL);
    an_fit_row fr[16];
    size_t n = an_fit_pairs(&ps, fr);
    CHECK_INT(n, 2);
    const an_fit_row *xs = !strcmp(fr[0].first->model, "xs") ? &fr[0] : &fr[1];
    const an_fit_row *lone = xs == &fr[0] ? &fr[1] : &fr[0];
    CHECK_INT(xs->budgets, 4);
    CHECK_INT(xs->budgets_total, 5);
    CHECK_INT(xs->interval, 2);
    CHECK(xs->k_lo < 1.5 && 1.5 < xs->k_hi && xs->k_hi - xs->k_lo < 0.3);
    CHECK(fabs(xs->fit.k - 1.5) < 0.05 && xs->fit.r2 > 0.99);
    CHECK(lone->fit.n < 2);
    CHECK(strstr(lone->why, "1 of 1 unique budget crossed") != NULL);
    an_pairs_free(&ps);
    db_close(d);
}

/* mc_acc with its standard error mc_acc_se (the binomial error over the
 * cloze items, recorded beside it since #16): the accuracy's crossover gets
 * an 'eval' interval from the two sides' errors, in the view and the CLI
 * alike. AR ends at 0.50, the MDM at 0.53 (higher is better), each +-
 * 0.0079 (4000 items near 0.5): gap 0.03, se hypot(0.0079, 0.0079). */
TEST(confidence_mc_acc_interval_from_its_standard_error)
{
    char path[4096];
    db *d = helper_open_db("mc.db", path, sizeof path);
    CHECK(d);
    const double a[] = {0.25, 0.40, 0.48, 0.50, 0.50}, m[] = {0.25, 0.30, 0.42, 0.49, 0.53};
    for (int side = 0; side < 2; side++) {
        long long id = run(d, side ? "mdm" : "ar", "d", 1000, 4, 0, "done", "");
        db_metric pts[10];
        for (int i = 0; i < 5; i++) {
            double x = X5[i];
            pts[2 * i] = (db_metric){"mc_acc", i * 10, (long long)x, x / 1000, 6e3 * x, side ? m[i] : a[i]};
            pts[2 * i + 1] = (db_metric){"mc_acc_se", i * 10, (long long)x, x / 1000, 6e3 * x, 0.0079};
        }
        CHECK_INT(db_ingest_metrics(d, id, pts, 10), 0);
    }
    db_close(d);
    CHECK_INT(cli_equals_sql(path, (const char *const[]){"--metric", "mc_acc", NULL},
                             "SELECT * FROM crossover WHERE mode = 'training' AND x_axis = 'tokens' "
                             "AND metric = 'mc_acc'",
                             PAIR_KEY),
              1);
    const char *argv[] = {harness_xover(), "crossover", "--metric", "mc_acc", "--format", "json", "--db", path, NULL};
    harness_proc pr = harness_run(argv, NULL);
    CHECK_INT(pr.status, 0);
    json_t *j = json_loads(pr.out, 0, NULL), *o = json_array_get(j, 0);
    CHECK(o != NULL);
    CHECK_STR(json_string_value(json_object_get(o, "interval")), "eval");
    CHECK_NEAR(json_number_value(json_object_get(o, "final_gap")), 0.03, 1e-9);
    CHECK_NEAR(json_number_value(json_object_get(o, "gap_se")), hypot(0.0079, 0.0079), 1e-9);
    CHECK_NEAR(json_number_value(json_object_get(o, "gap_lo")), 0.03 - 1.959964 * hypot(0.0079, 0.0079), 1e-6);
    CHECK_STR(json_string_value(json_object_get(o, "verdict")), "crossover");
    json_decref(j);
    harness_proc_free(&pr);
}

/* With seeds, the bootstrap. Each of three seeds crosses on a power law of
 * its own, C_s(U) = 0.5 U0^1.5 (U / U0)^k_s w_s (U0 the budgets' geometric
 * middle; k_s = 1.46, 1.50, 1.54; w_s a few percent off 1), at four
 * budgets; a fifth budget crosses in no seed. Every resample's mean of the
 * seeds' crossings is a mixture of those power laws, so its k lies between
 * 1.46 and 1.54, and a resample that draws one seed three times (1 in 27,
 * about 74 of 2000; the 2.5th percentile is the 50th) has that seed's k
 * exactly: the interval is [1.46, 1.54]. The point fit is over the mean
 * curves' crossings, the seeds' harmonic mean (each MDM a straight line
 * from 2 to 2 - X / C_s, AR flat at 1): k = 1.500129, computed apart. */
static const double FIT_K[] = {1.46, 1.50, 1.54}, FIT_W[] = {1.02, 0.97, 1.01};

static double seed_cross(int s, double u)
{
    double u0 = sqrt(1000.0 * 8000.0);
    return 0.5 * pow(u0, 1.5) * pow(u / u0, FIT_K[s]) * FIT_W[s];
}

TEST(confidence_fit_bootstrap_over_seeds)
{
    char path[4096];
    db *d = helper_open_db("kb.db", path, sizeof path);
    CHECK(d);
    const double u[] = {1000, 2000, 4000, 8000};
    for (int i = 0; i < 4; i++)
        for (int s = 0; s < 3; s++) {
            double X = floor(pow(u[i], 1.5)), x[] = {0, X}, a[] = {1, 1}, m[] = {2, 2 - X / seed_cross(s, u[i])};
            CHECK_INT(curve(d, run(d, "ar", "xs", (long long)u[i], 1, s, "done", ""), 2, x, a, NULL), 0);
            CHECK_INT(curve(d, run(d, "mdm", "xs", (long long)u[i], 1, s, "done", ""), 2, x, m, NULL), 0);
        }
    for (int s = 0; s < 3; s++) {
        double x[] = {0, 1e9}, a[] = {1, 1}, m[] = {3, 2};
        CHECK_INT(curve(d, run(d, "ar", "xs", 16000, 1, s, "done", ""), 2, x, a, NULL), 0);
        CHECK_INT(curve(d, run(d, "mdm", "xs", 16000, 1, s, "done", ""), 2, x, m, NULL), 0);
    }
    an_pairs ps, again;
    CHECK(load(d, &ps, 0) != NULL);
    CHECK_INT(ps.n, 5);
    /* what the fit reads: each seed's own crossing, and the mean curves' */
    for (int i = 0; i < 4; i++) {
        const an_pair *p = &ps.p[i];
        double c[3], h = 0;
        for (int s = 0; s < 3; s++) c[s] = seed_cross(s, u[i]), h += 1 / c[s] / 3;
        CHECK_INT(p->nseed, 3);
        CHECK_INT(p->res.seeds_crossed, 3);
        CHECK_NEAR(p->res.seed_cross_min, fmin(c[0], fmin(c[1], c[2])), 1e-6);
        CHECK_NEAR(p->res.seed_cross_max, fmax(c[0], fmax(c[1], c[2])), 1e-6);
        CHECK_NEAR(p->res.crossover, 1 / h, 1e-6);
    }
    an_fit_row fr[8], fr2[8];
    CHECK_INT(an_fit_pairs(&ps, fr), 1);
    CHECK_INT(fr[0].budgets, 4);
    CHECK_INT(fr[0].budgets_total, 5);
    CHECK_INT(fr[0].interval, 1); /* a bootstrap over seeds, not the fit's se */
    CHECK_STR(fr[0].why, "");
    CHECK_NEAR(fr[0].fit.k, 1.5001293306, 1e-8);
    CHECK(fabs(fr[0].fit.k - 1.5) < 0.005 && fr[0].fit.r2 > 0.9999);
    CHECK_NEAR(fr[0].k_lo, 1.46, 1e-9);
    CHECK_NEAR(fr[0].k_hi, 1.54, 1e-9);
    CHECK(fr[0].k_lo < 1.5 && 1.5 < fr[0].k_hi);
    /* deterministic: the same interval, bit for bit, on a second load */
    CHECK(load(d, &again, 0) != NULL);
    CHECK_INT(an_fit_pairs(&again, fr2), 1);
    CHECK(fr2[0].k_lo == fr[0].k_lo && fr2[0].k_hi == fr[0].k_hi && fr2[0].fit.k == fr[0].fit.k);
    an_pairs_free(&again);
    db_close(d);

    /* The CLI prints that row (twice the same bytes), named a bootstrap. */
    const char *argv[] = {harness_xover(), "crossover", "--fit", "--format", "json", "--db", path, NULL};
    harness_proc pr = harness_run(argv, NULL), pr2 = harness_run(argv, NULL);
    CHECK_INT(pr.status, 0);
    CHECK_STR(pr.out, pr2.out);
    json_t *j = json_loads(pr.out, 0, NULL), *o = json_array_get(j, 0);
    CHECK(o != NULL && json_array_size(j) == 1);
    CHECK_STR(json_string_value(json_object_get(o, "interval")), "bootstrap");
    CHECK(json_is_null(json_object_get(o, "note")));
    CHECK_INT(json_integer_value(json_object_get(o, "budgets")), 4);
    CHECK_INT(json_integer_value(json_object_get(o, "budgets_total")), 5);
    CHECK_NEAR(json_number_value(json_object_get(o, "k")), fr[0].fit.k, 1e-12);
    CHECK_NEAR(json_number_value(json_object_get(o, "k_lo")), fr[0].k_lo, 1e-12);
    CHECK_NEAR(json_number_value(json_object_get(o, "k_hi")), fr[0].k_hi, 1e-12);
    json_decref(j);
    harness_proc_free(&pr);
    harness_proc_free(&pr2);
    an_pairs_free(&ps);
    /* The fit has no view; what it is fitted on has: the crossings and the
     * seeds' own, field by field. */
    CHECK_INT(cli_equals_sql(path, (const char *const[]){NULL},
                             "SELECT * FROM crossover WHERE mode = 'training' AND x_axis = 'tokens'", PAIR_KEY),
              5);
}
