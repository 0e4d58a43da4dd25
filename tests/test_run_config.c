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
