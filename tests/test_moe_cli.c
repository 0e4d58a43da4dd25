/*
 * test_moe_cli.c — mixture of experts and training noise through the
 * orchestrator: the config fields (absent unless given, so earlier keys stay),
 * sweep axes and models: entries, `xover train` writing active parameters and
 * the balance loss, the run_axes view and runs.active_params (registered by
 * `xover run` equal to the trainer's count), and `xover crossover
 * --match-compute`.
 */
#include "tests/harness.h"
#include "orchestrator/analysis/analysis.h"
#include "orchestrator/db/db.h"
#include "orchestrator/run/run_config.h"
#include "orchestrator/sweep/sweep.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static json_t *resolved(const char *text, char *err, size_t n)
{
    json_t *c = json_loads(text, 0, NULL);
    if (c && run_config_resolve(c, err, n)) {
        json_decref(c);
        return NULL;
    }
    return c;
}

TEST(moe_and_noise_fields_are_absent_unless_given_and_checked)
{
    char err[256], k1[65], k2[65];
    const char *dense = "{\"objective\":\"ar\",\"model\":{\"layers\":1,\"dim\":16,\"heads\":2}}";
    json_t *c = resolved(dense, err, sizeof err);
    CHECK(c != NULL);
    /* nothing new is written: an earlier config resolves to the same text */
    CHECK(json_object_get(json_object_get(c, "model"), "experts") == NULL);
    CHECK(json_object_get(json_object_get(c, "train"), "input_mask") == NULL);
    char *text = run_config_canonical(c);
    CHECK(strstr(text, "experts") == NULL && strstr(text, "dropout") == NULL);
    free(text);
    /* ... and reads as the neutral values */
    CHECK(run_config_number(c, "model.experts") == 0);
    CHECK(run_config_number(c, "model.top_k") == 1);
    CHECK_NEAR(run_config_number(c, "train.aux_loss_weight"), 0.01, 1e-12);
    CHECK(run_config_number(c, "train.attn_dropout") == 0);
    CHECK(run_config_number(c, "train.lr") == 1e-3);
    CHECK(isnan(run_config_number(c, "train.nothing")));
    run_config_key(c, k1);
    json_decref(c);
    c = resolved("{\"objective\":\"ar\",\"model\":{\"layers\":1,\"dim\":16,\"heads\":2,\"experts\":4,"
                 "\"top_k\":2},\"train\":{\"input_mask\":0.1}}",
                 err, sizeof err);
    CHECK(c != NULL);
    run_config_key(c, k2);
    CHECK(strcmp(k1, k2) != 0);
    json_decref(c);
    CHECK(resolved("{\"objective\":\"ar\",\"model\":{\"layers\":1,\"dim\":16,\"heads\":2,\"experts\":2,"
                   "\"top_k\":3}}",
                   err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "model.top_k (3) must not exceed model.experts (2)");
    CHECK(resolved("{\"objective\":\"ar\",\"model\":{\"layers\":1,\"dim\":16,\"heads\":2,\"top_k\":2}}", err,
                   sizeof err) == NULL);
    CHECK_CONTAINS(err, "model.experts");
    CHECK(resolved("{\"objective\":\"ar\",\"model\":{\"layers\":1,\"dim\":16,\"heads\":2},"
                   "\"train\":{\"resid_dropout\":1}}",
                   err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "train.resid_dropout");
}

TEST(moe_and_noise_fields_are_sweep_axes_and_model_fields)
{
    const char *yaml = "sweep: sparse\n"
                       "data: {corpus: synthetic, vocab: 280}\n"
                       "models: {dense: {layers: 1, dim: 16, heads: 2},\n"
                       "         moe: {layers: 1, dim: 16, heads: 2, experts: 4, top_k: 2}}\n"
                       "train: {seq_len: 32, batch: 4, aux_loss_weight: 0.02}\n"
                       "grid: {objective: [ar, mdm], model: [dense, moe], input_mask: [0, 0.1],\n"
                       "       attn_dropout: [0, 0.2]}\n";
    char err[512];
    sweep *s = sweep_parse("t.yaml", yaml, strlen(yaml), err, sizeof err);
    CHECK(s != NULL);
    if (!s) return (void)fprintf(stderr, "%s\n", err);
    sweep_plan *p = sweep_expand(s, 0, err, sizeof err), *q = sweep_expand(s, SWEEP_SLOW_KEYS, err, sizeof err);
    CHECK(p && q);
    CHECK_INT(sweep_plan_count(p), 16);
    int moe = 0, masked = 0;
    for (size_t i = 0; i < sweep_plan_count(p); i++) {
        char a[65], b[65], k[65];
        sweep_plan_key(p, i, a);
        sweep_plan_key(q, i, b);
        CHECK_STR(a, b); /* the fast keys are the slow ones */
        json_t *c = sweep_plan_config(p, i, err, sizeof err);
        run_config_key(c, k);
        CHECK_STR(a, k);
        moe += run_config_number(c, "model.experts") == 4 && run_config_number(c, "model.top_k") == 2;
        masked += run_config_number(c, "train.input_mask") > 0;
        CHECK_NEAR(run_config_number(c, "train.aux_loss_weight"), 0.02, 1e-12);
        double v;
        CHECK_INT(sweep_plan_number(p, i, "model.experts", &v), 0);
        CHECK(v == run_config_number(c, "model.experts"));
        json_decref(c);
    }
    CHECK_INT(moe, 8);
    CHECK_INT(masked, 8);
    sweep_plan_free(p);
    sweep_plan_free(q);
    sweep_free(s);
    /* a typo still gets its did-you-mean */
    const char *bad = "sweep: b\nmodels: {xs: {layers: 1, dim: 16, heads: 2}}\n"
                      "grid: {objective: [ar], model: [xs], attn_droput: [0, 0.1]}\n";
    s = sweep_parse("b.yaml", bad, strlen(bad), err, sizeof err);
    sweep_plan *r = s ? sweep_expand(s, 0, err, sizeof err) : NULL;
    CHECK(r == NULL);
    CHECK_CONTAINS(err, "attn_dropout");
    sweep_plan_free(r);
    sweep_free(s);
}

static const char *CFG =
    "{\"objective\":\"%s\",\"seed\":1,\"model\":{\"layers\":1,\"dim\":16,\"heads\":2,\"experts\":4,\"top_k\":2},"
    "\"data\":{\"corpus\":\"synthetic\",\"vocab\":280,\"val_tokens\":600,\"unique_tokens\":3000},"
    "\"train\":{\"seq_len\":32,\"batch\":4,\"epochs\":1,\"lr\":0.003,\"eval_every\":0.5,"
    "\"capacity_factor\":1.0,\"input_mask\":0.1,\"attn_dropout\":0.1,\"resid_dropout\":0.1,"
    "\"token_dropout\":0.1}}";

TEST(train_cli_moe_with_noise_writes_active_params_and_balance_loss)
{
    char text[1024], cfg[512], out[512], cache[512];
    snprintf(text, sizeof text, CFG, "ar");
    harness_path(cfg, sizeof cfg, "run.json");
    harness_write(cfg, text);
    harness_path(out, sizeof out, "run");
    harness_path(cache, sizeof cache, "cache");
    const char *argv[] = {harness_xover(), "train", "--config", cfg, "--out", out, "--cache", cache, NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    harness_proc_free(&p);
    char path[1024];
    snprintf(path, sizeof path, "%s/model.json", out);
    json_t *info = json_load_file(path, 0, NULL);
    CHECK(info != NULL);
    long long params = json_integer_value(json_object_get(info, "params"));
    long long active = json_integer_value(json_object_get(info, "active_params"));
    CHECK_INT(json_integer_value(json_object_get(info, "experts")), 4);
    /* 4 experts of 3*48*16 weights, 2 active; routers 4*16 */
    CHECK_INT(params - active, 2 * 3 * 48 * 16);
    double fpt = json_number_value(json_object_get(info, "flops_per_token"));
    CHECK_NEAR(fpt, 6.0 * (4 * 16 * 16 + 2 * 3 * 48 * 16 + 4 * 16 + 280 * 16) + 12.0 * 16 * 32, 1e-6);
    json_decref(info);
    snprintf(path, sizeof path, "%s/metrics.jsonl", out);
    char *m = harness_slurp(path, NULL);
    CHECK_CONTAINS(m, "\"aux_loss\":");
    CHECK_CONTAINS(m, "\"moe_dropped\":");
    CHECK_CONTAINS(m, "\"val_loss\":");
    free(m);
}

static long long add_run(db *d, long long sweep, const char *objective, const char *model, double epochs,
                         long long params, long long active, const char *extra)
{
    char config[512], key[128];
    snprintf(config, sizeof config,
             "{\"data\":{\"quality\":\"all\",\"unique_tokens\":1000},\"model\":{\"name\":\"%s\"%s},"
             "\"objective\":\"%s\",\"seed\":0,\"train\":{\"epochs\":%g,\"lr\":0.002}}",
             model, extra, objective, epochs);
    snprintf(key, sizeof key, "%s-%s-%g", objective, model, epochs);
    db_run_spec s = {.key = key, .config = config, .objective = objective, .model = model,
                     .params = params, .unique_tokens = 1000, .quality = "all", .epochs = epochs,
                     .seed = 0, .active_params = active};
    long long id = -1;
    /* finished: a pair with a run still to train is 'unfinished' */
    if (db_run_put(d, &s, &id) || db_sweep_link(d, sweep, id) || db_run_finished(d, id, "done", NULL, NULL, 0))
        fprintf(stderr, "run: %s\n", db_errmsg(d));
    return id;
}

/* val_loss against flops: AR falls to 4 at 3e9 FLOPs then rises; the MDM
 * falls linearly from `start` by `rate` per 1e9 FLOPs. */
static void add_curve(db *d, long long id, int ar, double start, double rate, double fend)
{
    db_metric m[64];
    int n = 0;
    for (int i = 0; i <= 40; i++) {
        double f = fend * i / 40, x = f / 1e9;
        double v = ar ? 6 - 2 * fmin(x, 3) / 3 + 0.2 * fmax(0, x - 3) : start - rate * x;
        m[n++] = (db_metric){"val_loss", i, i * 100, i / 4.0, f, v};
    }
    if (db_ingest_metrics(d, id, m, (size_t)n)) fprintf(stderr, "ingest: %s\n", db_errmsg(d));
}

TEST(crossover_match_compute_pairs_models_at_equal_flops_and_run_axes_reads_them)
{
    char path[4096], err[512];
    harness_path(path, sizeof path, "x.db");
    db *d = db_open(path, DB_WRITE, err, sizeof err);
    CHECK(d != NULL);
    long long sw;
    CHECK_INT(db_sweep_put(d, "m", "sweep: m\n", "h", &sw), DB_OK);
    /* AR: a dense model; MDM: a dense one and a mixture of experts trained
     * longer. The ordinary pairing finds nothing (models and epochs differ). */
    long long a = add_run(d, sw, "ar", "dense", 10, 1000, -1, "");
    long long m1 = add_run(d, sw, "mdm", "dense", 40, 1000, -1, "");
    long long m2 = add_run(d, sw, "mdm", "moe", 40, 3000, 1200, ",\"experts\":4");
    add_curve(d, a, 1, 0, 0, 8e9);
    add_curve(d, m1, 0, 6, 0.5, 8e9); /* below AR's best 4.0 from 4e9 */
    add_curve(d, m2, 0, 7, 1.5, 4e9); /* meets AR's curve at 1.2e9 */
    long long v = -1;
    CHECK_INT(db_query_int(d, "SELECT active_params FROM run_axes WHERE model = 'moe'", &v), DB_OK);
    CHECK_INT(v, 1200);
    CHECK_INT(db_query_int(d, "SELECT active_params FROM run_axes WHERE key = 'ar-dense-10'", &v), DB_OK);
    CHECK_INT(v, 1000); /* dense: its params */
    CHECK_INT(db_query_int(d, "SELECT experts * 10 + coalesce(top_k, 0) FROM run_axes WHERE model = 'moe'", &v),
              DB_OK);
    CHECK_INT(v, 41);
    CHECK_INT(db_query_int(d, "SELECT count(*) FROM run_axes WHERE experts = 0 AND top_k IS NULL "
                              "AND input_mask = 0 AND attn_dropout = 0",
                           &v),
              DB_OK);
    CHECK_INT(v, 2);
    db_close(d);

    const char *argv[] = {harness_xover(), "crossover", "--match-compute", "--db", path, "--format", "json", NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    json_t *rows = json_loads(p.out, 0, NULL);
    CHECK(json_is_array(rows) && json_array_size(rows) == 2);
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *r = json_array_get(rows, i);
        const char *mm = json_string_value(json_object_get(r, "mdm_model"));
        CHECK_STR(json_string_value(json_object_get(r, "ar_model")), "dense");
        CHECK_STR(json_string_value(json_object_get(r, "x_axis")), "flops");
        CHECK_STR(json_string_value(json_object_get(r, "verdict")), "crossover");
        double x = json_number_value(json_object_get(r, "crossover"));
        if (mm && !strcmp(mm, "moe")) {
            CHECK_INT(json_integer_value(json_object_get(r, "mdm_active_params")), 1200);
            CHECK_NEAR(x, 1.2e9, 1e5);
        } else {
            CHECK_NEAR(x, 4e9, 1e5);
        }
        CHECK_INT(json_integer_value(json_object_get(r, "ar_active_params")), 1000);
    }
    json_decref(rows);
    harness_proc_free(&p);
    /* the ordinary pairing: no pair */
    const char *argv2[] = {harness_xover(), "crossover", "--db", path, "--format", "json", NULL};
    p = harness_run(argv2, NULL);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "[]");
    harness_proc_free(&p);
    const char *argv3[] = {harness_xover(), "crossover", "--match-compute", "--x", "tokens", "--db", path, NULL};
    p = harness_run(argv3, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "--x must be flops");
    harness_proc_free(&p);
}

TEST(run_registers_active_params_that_match_the_trainers_model_json)
{
    char yaml[256], dbp[256], runs[256], err[512];
    harness_path(yaml, sizeof yaml, "s.yaml");
    harness_path(dbp, sizeof dbp, "s.db");
    harness_path(runs, sizeof runs, "runs");
    harness_write(yaml, "sweep: s\n"
                        "data: {corpus: synthetic, vocab: 280, val_tokens: 600, unique_tokens: 2000}\n"
                        "models: {moe: {layers: 1, dim: 16, heads: 2, experts: 3, top_k: 2}}\n"
                        "train: {seq_len: 32, batch: 4, epochs: 0.5, eval_every: 1 epoch}\n"
                        "grid: {objective: [ar], model: [moe]}\n");
    const char *argv[] = {harness_xover(), "run", yaml, "--db", dbp, "--runs-dir", runs, "-j", "1", NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    harness_proc_free(&p);
    db *d = db_open(dbp, DB_READONLY, err, sizeof err);
    CHECK(d != NULL);
    long long act = -1, params = -1;
    CHECK_INT(db_query_int(d, "SELECT active_params FROM runs", &act), DB_OK);
    CHECK_INT(db_query_int(d, "SELECT params FROM run_axes WHERE experts = 3 AND top_k = 2", &params), DB_OK);
    db_close(d);
    /* what the trainer itself counted */
    const char *find[] = {"find", runs, "-name", "model.json", NULL};
    harness_proc f = harness_run(find, NULL);
    char *nl = strchr(f.out, '\n');
    if (nl) *nl = 0;
    json_t *j = json_load_file(f.out, 0, NULL);
    CHECK(j != NULL);
    CHECK_INT(act, json_integer_value(json_object_get(j, "active_params")));
    CHECK_INT(params, json_integer_value(json_object_get(j, "params")));
    CHECK(act < params);
    json_decref(j);
    harness_proc_free(&f);
}

TEST(pair_axes_read_absent_fields_as_their_stand_in_values)
{
    an_pair p;
    memset(&p, 0, sizeof p);
    p.cell = "{\"model\":{\"name\":\"xs\",\"layers\":2},\"train\":{\"lr\":0.002,\"attn_dropout\":0.1}}";
    p.active_params = 1234;
    db_value v;
    char buf[64];
    CHECK_INT(an_pair_axis(&p, "model.experts", &v, buf, sizeof buf), 0);
    CHECK(v.type == DB_INT && v.i == 0);
    CHECK_INT(an_pair_axis(&p, "model.top_k", &v, buf, sizeof buf), 0);
    CHECK(v.type == DB_INT && v.i == 1);
    CHECK_INT(an_pair_axis(&p, "train.aux_loss_weight", &v, buf, sizeof buf), 0);
    CHECK(v.type == DB_REAL && fabs(v.d - 0.01) < 1e-12);
    CHECK_INT(an_pair_axis(&p, "train.attn_dropout", &v, buf, sizeof buf), 0);
    CHECK(v.type == DB_REAL && fabs(v.d - 0.1) < 1e-12);
    CHECK_INT(an_pair_axis(&p, "active_params", &v, buf, sizeof buf), 0);
    CHECK(v.type == DB_INT && v.i == 1234);
    CHECK_INT(an_pair_axis(&p, "train.nothing", &v, buf, sizeof buf), -1);
}
