/*
 * test_run_plan.c — `xover plan`: the table, JSON, and refusing bad sweeps.
 */
#include "tests/harness.h"

#include <jansson.h>
#include <stdlib.h>

static const char *sweep_text =
    "sweep: p\n"
    "models: {xs: {layers: 1, dim: 16, heads: 2}, s: {layers: 2, dim: 32, heads: 2}}\n"
    "grid: {objective: [ar, mdm], model: [xs, s], unique_tokens: [10k, 20k]}\n"
    "exclude: [{model: s, unique_tokens: 10k}]\n"
    "derive: {epochs: 40k / unique_tokens}\n";

TEST(plan_table_lists_runs_counts_and_cost)
{
    char path[512], db[512];
    harness_path(path, sizeof path, "p.yaml");
    harness_path(db, sizeof db, "none.db");
    CHECK_INT(harness_write(path, sweep_text), 0);
    const char *argv[] = {harness_xover(), "plan", path, "--db", db, NULL};
    harness_proc r = harness_run(argv, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "objective");
    CHECK_CONTAINS(r.out, "epochs");
    CHECK_CONTAINS(r.out, "sweep p: 6 runs (8 grid combinations, 2 excluded, 0 included");
    CHECK_CONTAINS(r.out, "status: 6 new, 0 done");
    CHECK_CONTAINS(r.out, "to train: 6 runs, 240k tokens");
    /* one line per run, each marked new */
    int lines = 0;
    for (const char *c = r.out; (c = strstr(c, "  new\n")); c++) lines++;
    CHECK_INT(lines, 6);
    harness_proc_free(&r);
}

TEST(plan_json_has_every_run_with_its_key)
{
    char path[512], db[512];
    harness_path(path, sizeof path, "p.yaml");
    harness_path(db, sizeof db, "none.db");
    CHECK_INT(harness_write(path, sweep_text), 0);
    const char *argv[] = {harness_xover(), "plan", path, "--format", "json", "--db", db, NULL};
    harness_proc r = harness_run(argv, NULL);
    CHECK_INT(r.status, 0);
    json_error_t e;
    json_t *j = json_loads(r.out, 0, &e);
    CHECK(j);
    json_t *runs = json_object_get(j, "runs");
    CHECK_INT(json_array_size(runs), 6);
    json_t *r0 = json_array_get(runs, 0);
    CHECK_INT(strlen(json_string_value(json_object_get(r0, "key"))), 64);
    CHECK_STR(json_string_value(json_object_get(json_object_get(r0, "axes"), "objective")), "ar");
    CHECK_NEAR(json_number_value(json_object_get(json_object_get(r0, "derived"), "epochs")), 4, 0);
    CHECK_NEAR(json_number_value(json_object_get(r0, "tokens")), 40000, 0);
    CHECK(json_number_value(json_object_get(r0, "flops")) > 0);
    CHECK_INT(json_integer_value(json_object_get(json_object_get(j, "summary"), "excluded")), 2);
    json_decref(j);
    harness_proc_free(&r);
}

TEST(plan_bad_sweep_exits_2_with_position)
{
    char path[512];
    harness_path(path, sizeof path, "bad.yaml");
    CHECK_INT(harness_write(path, "sweep: b\nmodels: {xs: {layers: 1, dim: 16, heads: 2}}\n"
                                  "grid: {objective: ar, modle: [xs]}\n"), 0);
    const char *argv[] = {harness_xover(), "plan", path, NULL};
    harness_proc r = harness_run(argv, NULL);
    CHECK_INT(r.status, 2);
    CHECK_CONTAINS(r.err, "bad.yaml:3:23: axis 'modle' is not a run-config field; did you mean 'model'?");
    harness_proc_free(&r);
    const char *a2[] = {harness_xover(), "plan", path, "--format", "xml", NULL};
    r = harness_run(a2, NULL);
    CHECK_INT(r.status, 2);
    harness_proc_free(&r);
}

TEST(plan_smoke_sweep_is_valid)
{
    const char *argv[] = {harness_xover(), "plan", "experiments/smoke.yaml", "--db", "/nonexistent/x.db", NULL};
    harness_proc r = harness_run(argv, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "sweep smoke:");
    harness_proc_free(&r);
}
