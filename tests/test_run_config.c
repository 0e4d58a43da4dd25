/*
 * test_run_config.c — the resolved run config: defaults, checks, keys.
 */
#include "tests/harness.h"
#include "orchestrator/run/run_config.h"

#include <stdlib.h>

static json_t *parse(const char *text)
{
    json_error_t e;
    return json_loads(text, 0, &e);
}

TEST(run_config_fills_defaults)
{
    json_t *c = parse("{\"objective\":\"mdm\",\"model\":{\"layers\":2,\"dim\":64,\"heads\":2}}");
    char err[256] = "";
    CHECK_INT(run_config_resolve(c, err, sizeof err), 0);
    json_t *train = json_object_get(c, "train");
    CHECK_NEAR(json_number_value(json_object_get(train, "lr")), 1e-3, 0);
    CHECK_STR(json_string_value(json_object_get(train, "schedule")), "wsd");
    CHECK_STR(json_string_value(json_object_get(json_object_get(c, "data"), "corpus")), "fortunes");
    CHECK_INT(json_integer_value(json_object_get(json_object_get(json_object_get(c, "data"), "cloze"), "candidates")), 4);
    /* degrade/top stay absent unless given */
    CHECK(json_object_get(json_object_get(json_object_get(c, "data"), "quality_spec"), "degrade") == NULL);
    json_decref(c);
}

TEST(run_config_errors_name_the_field)
{
    static const struct { const char *json, *msg; } cases[] = {
        {"{\"model\":{\"layers\":2,\"dim\":64,\"heads\":2}}", "missing field objective"},
        {"{\"objective\":\"gpt\",\"model\":{\"layers\":2,\"dim\":64,\"heads\":2}}", "objective must be one of ar|mdm"},
        {"{\"objective\":\"ar\",\"model\":{\"layers\":2,\"dim\":64}}", "missing field model.heads"},
        {"{\"objective\":\"ar\",\"model\":{\"layers\":2,\"dim\":64,\"heads\":0}}", "model.heads must be between 1"},
        {"{\"objective\":\"ar\",\"model\":{\"layers\":2,\"dim\":64,\"heads\":3}}", "divisible by model.heads"},
        {"{\"objective\":\"ar\",\"model\":{\"layers\":2,\"dim\":64,\"heads\":2},\"train\":{\"lr\":\"x\"}}", "train.lr must be a number"},
        {"{\"objective\":\"ar\",\"model\":{\"layers\":2,\"dim\":64,\"heads\":2},\"train\":{\"lrr\":1}}", "unknown field train.lrr"},
        {"{\"objective\":\"ar\",\"model\":{\"layers\":2.5,\"dim\":64,\"heads\":2}}", "model.layers must be a whole number"},
        {"{\"objective\":\"ar\",\"model\":{\"layers\":2,\"dim\":64,\"heads\":2},\"data\":{\"quality_spec\":{\"degrade\":2}}}", "data.quality_spec.degrade must be between 0 and 1"},
        {"{\"objective\":\"ar\",\"model\":{\"layers\":2,\"dim\":64,\"heads\":2,\"init_std\":0}}", "model.init_std must be between 1e-06 and 10"},
        {"{\"objective\":\"ar\",\"model\":{\"layers\":2,\"dim\":64,\"heads\":2,\"attn_scale\":\"big\"}}", "model.attn_scale must be a number"},
        {"{\"objective\":\"mdm\",\"model\":{\"layers\":2,\"dim\":64,\"heads\":2},\"train\":{\"mask_eps\":1}}", "train.mask_eps must be between 1e-06 and 0.99"},
        {"[1]", "must be a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *c = parse(cases[i].json);
        CHECK(c != NULL);
        char err[256] = "";
        int rc = run_config_resolve(c, err, sizeof err);
        json_decref(c);
        CHECK_INT(rc, -1);
        CHECK_CONTAINS(err, cases[i].msg);
    }
}

TEST(run_config_key_ignores_order_and_spelling)
{
    json_t *a = parse("{\"objective\":\"ar\",\"seed\":0,\"model\":{\"layers\":2,\"dim\":64,\"heads\":2},"
                      "\"train\":{\"lr\":0.001,\"epochs\":12}}");
    json_t *b = parse("{\"train\":{\"epochs\":12.0,\"lr\":1e-3},\"model\":{\"heads\":2,\"dim\":64,\"layers\":2},"
                      "\"objective\":\"ar\"}");
    json_t *c = parse("{\"objective\":\"mdm\",\"model\":{\"layers\":2,\"dim\":64,\"heads\":2},"
                      "\"train\":{\"lr\":0.001,\"epochs\":12}}");
    char err[256];
    CHECK_INT(run_config_resolve(a, err, sizeof err), 0);
    CHECK_INT(run_config_resolve(b, err, sizeof err), 0);
    CHECK_INT(run_config_resolve(c, err, sizeof err), 0);
    char ka[65], kb[65], kc[65];
    run_config_key(a, ka);
    run_config_key(b, kb);
    run_config_key(c, kc);
    CHECK_INT(strlen(ka), 64);
    CHECK_STR(ka, kb);
    CHECK(strcmp(ka, kc) != 0);
    char *s = run_config_canonical(b);
    CHECK_CONTAINS(s, "\"epochs\":12,");
    CHECK_CONTAINS(s, "{\"data\":{");
    free(s);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

TEST(run_config_known_sha256)
{
    /* SHA-256("{}") is a published constant; an empty object hashes to it. */
    json_t *o = json_object();
    char k[65];
    run_config_key(o, k);
    CHECK_STR(k, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    json_decref(o);
}

/* A quality tier's `top` keeps the best share of the documents: 0 keeps
 * none. The run config, `xover data` and the sweep language once checked
 * it apart and disagreed (`xover data`: (0, 1]; run configs and sweeps:
 * [0, 1], and a run with top 0 then trained on every document). One field
 * table now checks all three. */
TEST(run_config_top_must_be_above_zero_for_runs_data_and_sweeps)
{
    char err[256] = "";
    json_t *c = parse("{\"objective\":\"ar\",\"model\":{\"layers\":2,\"dim\":64,\"heads\":2},"
                      "\"data\":{\"quality_spec\":{\"top\":0}}}");
    CHECK_INT(run_config_resolve(c, err, sizeof err), -1);
    CHECK_CONTAINS(err, "data.quality_spec.top must be between");
    json_decref(c);
    c = parse("{\"objective\":\"ar\",\"model\":{\"layers\":2,\"dim\":64,\"heads\":2},"
              "\"data\":{\"quality_spec\":{\"top\":0.25}}}");
    CHECK_INT(run_config_resolve(c, err, sizeof err), 0);
    json_decref(c);

    char spec[512], sweep[512], db[512], cache[512];
    harness_path(spec, sizeof spec, "spec.json");
    harness_path(sweep, sizeof sweep, "s.yaml");
    harness_path(db, sizeof db, "x.db");
    harness_path(cache, sizeof cache, "cache");
    harness_write(spec, "{\"data\": {\"corpus\": \"synthetic:300\", \"vocab\": 280, \"val_tokens\": 1000, "
                        "\"quality\": {\"best\": {\"top\": 0}}}}");
    const char *data_argv[] = {harness_xover(), "data", "prepare", spec, "--cache", cache, NULL};
    harness_proc p = harness_run(data_argv, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "data.quality.best.top must be between");
    harness_proc_free(&p);

    harness_write(sweep, "sweep: s\n"
                         "data: {corpus: synthetic, vocab: 280, quality: {best: {top: 0}}}\n"
                         "models: {xs: {layers: 1, dim: 16, heads: 2}}\n"
                         "grid: {objective: [ar], model: [xs], quality: [best]}\n");
    const char *plan_argv[] = {harness_xover(), "plan", sweep, "--db", db, NULL};
    p = harness_run(plan_argv, NULL);
    CHECK_INT(p.status, 2);
    /* the sweep reader checks a tier with run_config's ranges, and names
     * it as the sweep wrote it, at its place in the file */
    CHECK_CONTAINS(p.err, "s.yaml:2:55: data.quality.best.top must be between");
    harness_proc_free(&p);
}

TEST(run_config_read_types_every_field_with_the_tables_defaults)
{
    char err[256] = "";
    run_cfg rc;
    /* a partial config reads: what is given, else the defaults, else what
     * an absent field stands for */
    json_t *c = parse("{\"seed\":7,\"data\":{\"vocab\":300,\"cloze\":{\"items\":5}},\"train\":{\"lr\":0.5}}");
    CHECK_INT(run_config_read(c, &rc, err, sizeof err), 0);
    CHECK_INT(rc.seed, 7);
    CHECK_INT(rc.data.vocab, 300);
    CHECK_INT(rc.data.cloze.items, 5);
    CHECK_INT(rc.data.cloze.candidates, 4);
    CHECK_NEAR(rc.train.lr, 0.5, 0);
    CHECK_NEAR(rc.train.beta2, 0.95, 0);
    CHECK_STR(rc.data.corpus, "fortunes");
    CHECK_STR(rc.train.schedule, "wsd");
    CHECK_STR(rc.objective, "");
    CHECK_INT(rc.model.top_k, 1);                     /* absent: stands for 1 */
    CHECK_NEAR(rc.train.aux_loss_weight, 0.01, 0);    /* absent: stands for 0.01 */
    CHECK_NEAR(rc.data.quality_spec.top, 1, 0);       /* absent: all documents */
    CHECK_NEAR(rc.data.quality_spec.degrade, 0, 0);
    json_decref(c);
    /* the same numbers run_config_number gives, field by field, once resolved */
    c = parse("{\"objective\":\"mdm\",\"model\":{\"layers\":2,\"dim\":64,\"heads\":2,\"experts\":4,\"top_k\":2}}");
    CHECK_INT(run_config_resolve(c, err, sizeof err), 0);
    CHECK_INT(run_config_read(c, &rc, err, sizeof err), 0);
    CHECK_STR(rc.objective, "mdm");
    CHECK_INT(rc.model.experts, (long long)run_config_number(c, "model.experts"));
    CHECK_INT(rc.model.top_k, 2);
    CHECK_INT(rc.data.unique_tokens, (long long)run_config_number(c, "data.unique_tokens"));
    CHECK_NEAR(rc.train.early_stop_margin, run_config_number(c, "train.early_stop_margin"), 0);
    CHECK_NEAR(rc.train.epochs, run_config_number(c, "train.epochs"), 0);
    json_decref(c);
    /* a value given is checked as resolving checks it */
    c = parse("{\"data\":{\"cloze\":{\"items\":-1}}}");
    CHECK_INT(run_config_read(c, &rc, err, sizeof err), -1);
    CHECK_CONTAINS(err, "data.cloze.items must be between 0");
    json_decref(c);
    /* a section resolves alone, named as its caller says */
    c = parse("{\"degrade\":0.5,\"top\":0.5}");
    CHECK_INT(run_config_resolve_section(c, "quality_spec", "data.quality.low", err, sizeof err), -1);
    CHECK_STR(err, "data.quality.low takes degrade or top, not both");
    json_decref(c);
}

/* The plateau probes' fields are absent unless given: a config without them
 * keeps its key, and their absence stands for the model's defaults. */
TEST(run_config_plateau_fields_are_absent_unless_given)
{
    char err[256] = "", k1[65], k2[65];
    json_t *c = parse("{\"objective\":\"mdm\",\"model\":{\"layers\":2,\"dim\":64,\"heads\":2}}");
    CHECK_INT(run_config_resolve(c, err, sizeof err), 0);
    CHECK(json_object_get(json_object_get(c, "model"), "init_std") == NULL);
    CHECK(json_object_get(json_object_get(c, "model"), "attn_scale") == NULL);
    CHECK(json_object_get(json_object_get(c, "train"), "mask_eps") == NULL);
    CHECK_NEAR(run_config_number(c, "model.init_std"), 0.02, 0);
    CHECK_NEAR(run_config_number(c, "model.attn_scale"), 1, 0);
    CHECK_NEAR(run_config_number(c, "train.mask_eps"), 0.001, 0);
    run_config_key(c, k1);
    json_decref(c);
    c = parse("{\"objective\":\"mdm\",\"model\":{\"layers\":2,\"dim\":64,\"heads\":2,\"init_std\":0.1,"
              "\"attn_scale\":4},\"train\":{\"mask_eps\":0.1}}");
    CHECK_INT(run_config_resolve(c, err, sizeof err), 0);
    run_cfg rc;
    CHECK_INT(run_config_read(c, &rc, err, sizeof err), 0);
    CHECK_NEAR(rc.model.init_std, 0.1, 0);
    CHECK_NEAR(rc.model.attn_scale, 4, 0);
    CHECK_NEAR(rc.train.mask_eps, 0.1, 0);
    run_config_key(c, k2);
    CHECK(strcmp(k1, k2) != 0);
    json_decref(c);
}
