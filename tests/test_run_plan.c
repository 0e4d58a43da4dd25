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

/* Once runs of a model shape have finished, `xover plan` estimates the runs
 * of that shape at the speed measured for it (and says how many); a shape
 * with no finished run falls back on the overall speed. */
TEST(plan_uses_the_speed_measured_per_model_shape)
{
    char done_yaml[512], plan_yaml[512], db[512], runs[512];
    harness_path(done_yaml, sizeof done_yaml, "d.yaml");
    harness_path(plan_yaml, sizeof plan_yaml, "q.yaml");
    harness_path(db, sizeof db, "d.db");
    harness_path(runs, sizeof runs, "runs");
    const char *head = "data: {corpus: synthetic, vocab: 300, val_tokens: 2k, unique_tokens: 4000}\n"
                       "train: {seq_len: 32, batch: 4, lr: 3e-3, eval_every: 1 epoch}\n";
    char text[1024];
    snprintf(text, sizeof text, "sweep: d\n%smodels: {xs: {layers: 1, dim: 16, heads: 2}}\n"
                                "grid: {objective: [ar], model: [xs], epochs: [1]}\n", head);
    CHECK_INT(harness_write(done_yaml, text), 0);
    snprintf(text, sizeof text, "sweep: q\n%smodels: {xs: {layers: 1, dim: 16, heads: 2}, s: {layers: 2, dim: 32, heads: 2}}\n"
                                "grid: {objective: [ar, mdm], model: [xs, s], epochs: [3]}\n", head);
    CHECK_INT(harness_write(plan_yaml, text), 0);
    const char *run[] = {harness_xover(), "run", done_yaml, "--db", db, "--runs-dir", runs, NULL};
    harness_proc r = harness_run(run, NULL);
    int ran = r.status;
    harness_proc_free(&r);
    CHECK_INT(ran, 0);
    const char *plan[] = {harness_xover(), "plan", plan_yaml, "--db", db, "--format", "json", NULL};
    r = harness_run(plan, NULL);
    int planned = r.status;
    json_t *j = planned ? NULL : json_loads(r.out, 0, NULL);
    harness_proc_free(&r);
    CHECK(j);
    json_t *sum = json_object_get(j, "summary");
    long long at_shape = json_integer_value(json_object_get(sum, "runs_at_their_shapes_speed"));
    long long measured = json_integer_value(json_object_get(sum, "speed_measured_runs"));
    json_decref(j);
    CHECK_INT(measured, 1);
    CHECK_INT(at_shape, 2); /* the two xs runs (ar and mdm share the shape); not the s ones */
    const char *plain[] = {harness_xover(), "plan", plan_yaml, "--db", db, NULL};
    r = harness_run(plain, NULL);
    int says = r.out && strstr(r.out, "2 of the runs to train at the speed measured for their model shape (1 shape "
                                      "measured)");
    harness_proc_free(&r);
    CHECK(says);
}
