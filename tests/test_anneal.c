/*
 * test_anneal.c — annealed branches in the sweep language (docs/sweep.md):
 * train.anneal_at expands a run into a trunk and one branch per point, with
 * keys, configs, errors and `xover plan`'s listing. The trainer's side (a
 * branch equal to its standalone run, the dependency graph, kills) is in
 * test_anneal_run.c.
 */
#include "tests/harness.h"
#include "orchestrator/run/anneal.h"
#include "orchestrator/run/run_config.h"
#include "orchestrator/sweep/sweep.h"

#include <stdlib.h>

static sweep *parse(const char *yaml, char *err, size_t n)
{
    return sweep_parse("t.yaml", yaml, strlen(yaml), err, n);
}

#define HEAD                                                                                        \
    "sweep: t\n"                                                                                    \
    "models: {xs: {layers: 1, dim: 16, heads: 2}}\n"                                                \
    "data: {corpus: synthetic, unique_tokens: 20k}\n"

static const json_t *train_of(const json_t *cfg) { return json_object_get(cfg, "train"); }
static double tnum(const json_t *cfg, const char *k) { return json_number_value(json_object_get(train_of(cfg), k)); }

TEST(anneal_sweep_expands_each_run_into_a_trunk_then_its_branches)
{
    char err[512] = "";
    sweep *s = parse(HEAD "train: {anneal_at: [10, 20, 40, 80, 160, 320], decay_frac: 0.2, early_stop_margin: 0.5}\n"
                          "grid: {objective: [ar, mdm]}\n", err, sizeof err);
    CHECK(s);
    sweep_plan *p = sweep_expand(s, 0, err, sizeof err);
    if (!p) fprintf(stderr, "%s\n", err);
    CHECK(p);
    CHECK_INT(sweep_plan_count(p), 14);
    static const double pts[] = {10, 20, 40, 80, 160, 320};
    for (size_t r = 0; r < 2; r++) {
        size_t t = r * 7;
        CHECK_INT(sweep_plan_role(p, t), SWEEP_TRUNK);
        CHECK_INT(sweep_plan_parent(p, t), t);
        CHECK_STR(sweep_plan_axis_text(p, t, 0), r ? "mdm" : "ar");
        json_t *trunk = sweep_plan_config(p, t, err, sizeof err);
        CHECK(trunk);
        char tkey[65], k[65];
        sweep_plan_key(p, t, tkey);
        run_config_key(trunk, k);
        CHECK_STR(k, tkey);
        CHECK(anneal_is_trunk(trunk));
        CHECK_INT(anneal_npoints(trunk), 6);
        CHECK_NEAR(tnum(trunk, "epochs"), 320, 0);
        /* the absolute warmup: warmup_frac (default 0.02) of the largest point */
        CHECK_NEAR(tnum(trunk, "warmup_epochs"), 6.4, 1e-12);
        CHECK_NEAR(tnum(trunk, "warmup_frac"), 0, 0);
        CHECK_INT(json_integer_value(json_object_get(train_of(trunk), "cooldown_evals")), 4);
        CHECK_NEAR(tnum(trunk, "log_every"), 0.64, 1e-12); /* the largest point / 500 */
        CHECK_NEAR(tnum(trunk, "early_stop_margin"), 0.5, 0);
        double from, to;
        sweep_plan_span(p, t, &from, &to);
        CHECK_NEAR(from, 0, 0);
        CHECK_NEAR(to, 256, 1e-9);
        for (size_t b = 0; b < 6; b++) {
            size_t i = t + 1 + b;
            CHECK_INT(sweep_plan_role(p, i), SWEEP_BRANCH);
            CHECK_INT(sweep_plan_parent(p, i), t);
            CHECK_STR(sweep_plan_axis_text(p, i, 0), r ? "mdm" : "ar");
            double e;
            CHECK_INT(sweep_plan_number(p, i, "train.epochs", &e), 0);
            CHECK_NEAR(e, pts[b], 0);
            sweep_plan_span(p, i, &from, &to);
            CHECK_NEAR(from, 0.8 * pts[b], 1e-9);
            CHECK_NEAR(to, pts[b], 0);
            json_t *br = sweep_plan_config(p, i, err, sizeof err);
            CHECK(br);
            CHECK(anneal_is_branch(br));
            CHECK(!anneal_is_trunk(br));
            CHECK_STR(json_string_value(json_object_get(train_of(br), "branch_of")), tkey);
            CHECK_NEAR(tnum(br, "epochs"), pts[b], 0);
            CHECK_NEAR(tnum(br, "warmup_epochs"), 6.4, 1e-12);
            CHECK(!json_object_get(train_of(br), "early_stop_margin"));
            /* its key: the key of its config, which the trunk can compute too */
            char bkey[65], want[65];
            sweep_plan_key(p, i, bkey);
            run_config_key(br, want);
            CHECK_STR(bkey, want);
            CHECK_INT(anneal_branch_key(trunk, tkey, pts[b], want, err, sizeof err), 0);
            CHECK_STR(bkey, want);
            /* without branch_of it is the standalone run of that length, a run of its own */
            json_object_del(json_object_get(br, "train"), "branch_of");
            CHECK_INT(run_config_resolve(br, err, sizeof err), 0);
            run_config_key(br, want);
            CHECK(strcmp(bkey, want) != 0);
            json_decref(br);
        }
        json_decref(trunk);
    }
    sweep_plan_free(p);
    sweep_free(s);
}

TEST(anneal_points_per_doubling_end_at_the_runs_epochs)
{
    char err[512] = "";
    sweep *s = parse(HEAD "train: {anneal_at: 1 per doubling from 10, warmup_epochs: 1}\n"
                          "grid: {objective: [ar], epochs: [320, 40]}\n", err, sizeof err);
    CHECK(s);
    sweep_plan *p = sweep_expand(s, 0, err, sizeof err);
    CHECK(p);
    CHECK_INT(sweep_plan_count(p), 7 + 4);
    json_t *t = sweep_plan_config(p, 0, err, sizeof err);
    CHECK(t);
    static const double want[] = {10, 20, 40, 80, 160, 320};
    CHECK_INT(anneal_npoints(t), 6);
    for (size_t k = 0; k < 6; k++) CHECK_NEAR(anneal_point(t, k), want[k], 0);
    CHECK_NEAR(tnum(t, "warmup_epochs"), 1, 0); /* given: kept */
    json_decref(t);
    t = sweep_plan_config(p, 7, err, sizeof err);
    CHECK(t);
    CHECK_INT(anneal_npoints(t), 3); /* 10, 20, 40 */
    CHECK_NEAR(tnum(t, "epochs"), 40, 0);
    json_decref(t);
    sweep_plan_free(p);
    sweep_free(s);

    /* two per doubling: four significant digits, the top as given */
    s = parse(HEAD "train: {anneal_at: 2 per doubling from 2, epochs: 8, warmup_epochs: 0.5}\ngrid: {objective: [ar]}\n",
              err, sizeof err);
    CHECK(s);
    p = sweep_expand(s, 0, err, sizeof err);
    CHECK(p);
    t = sweep_plan_config(p, 0, err, sizeof err);
    CHECK(t);
    static const double w2[] = {2, 2.828, 4, 5.657, 8};
    CHECK_INT(anneal_npoints(t), 5);
    for (size_t k = 0; k < 5; k++) CHECK_NEAR(anneal_point(t, k), w2[k], 0);
    json_decref(t);
    sweep_plan_free(p);
    sweep_free(s);
}

TEST(anneal_sweep_errors_name_the_place)
{
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {HEAD "train: {anneal_at: [10, 20], epochs: 20}\n", "t.yaml:4:20: train.anneal_at lists every budget"},
        {HEAD "train: {anneal_at: [10, 10]}\n", "t.yaml:4:25: train.anneal_at: points must increase"},
        {HEAD "train: {anneal_at: [10, -1]}\n", "t.yaml:4:25: train.anneal_at: a point is a number of epochs"},
        {HEAD "train: {anneal_at: []}\n", "train.anneal_at is empty"},
        {HEAD "train: {anneal_at: 2 per fortnight}\n", "t.yaml:4:20: train.anneal_at must be a list of epochs"},
        {HEAD "train: {anneal_at: {a: 1}}\n", "train.anneal_at must be a list"},
        {HEAD "train: {anneal_at: [1, 50]}\n", "t.yaml:4:20: the warmup (1 epochs) outlasts the stable phase of the "
                                               "1-epoch point"},
        {HEAD "train: {anneal_at: [10, 20], schedule: cosine}\n", "train.anneal_at needs schedule wsd"},
        {HEAD "train: {anneal_at: [10, 20], decay_frac: 0}\n", "train.anneal_at needs schedule wsd with decay_frac > 0"},
        {HEAD "train: {anneal_at: [10, 20]}\ntrainer: {command: [x, '{run_dir}']}\n",
         "train.anneal_at needs the built-in trainer"},
        {HEAD "train: {warmup_epochs: 1, warmup_frac: 0.1}\n", "give train.warmup_frac or train.warmup_epochs, not both"},
        {HEAD "train: {cooldown_evals: 4, schedule: cosine}\n", "train.cooldown_evals needs a final decay"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char err[512] = "", yaml[1024];
        snprintf(yaml, sizeof yaml, "%sgrid: {objective: [ar]}\n", cases[k].yaml);
        sweep *s = parse(yaml, err, sizeof err);
        sweep_plan *p = s ? sweep_expand(s, 0, err, sizeof err) : NULL;
        if (p) fprintf(stderr, "    case %zu planned\n", k);
        CHECK(!p);
        CHECK_CONTAINS(err, cases[k].want);
        sweep_free(s);
    }
}

TEST(anneal_run_config_fields_checked)
{
    char err[512];
    const char *bad[][2] = {
        {"{\"objective\":\"ar\",\"model\":{\"layers\":1,\"dim\":16,\"heads\":2},\"train\":{\"anneal_at\":[10,20],"
         "\"warmup_epochs\":1}}",
         "train.epochs (1) must be the largest point of train.anneal_at (20)"},
        {"{\"objective\":\"ar\",\"model\":{\"layers\":1,\"dim\":16,\"heads\":2},\"train\":{\"anneal_at\":[20,10],"
         "\"epochs\":10}}", "train.anneal_at must be in increasing order"},
        {"{\"objective\":\"ar\",\"model\":{\"layers\":1,\"dim\":16,\"heads\":2},\"train\":{\"anneal_at\":[10],"
         "\"epochs\":10}}", "train.anneal_at needs an absolute warmup: train.warmup_epochs"},
        {"{\"objective\":\"ar\",\"model\":{\"layers\":1,\"dim\":16,\"heads\":2},\"train\":{\"branch_of\":\"abc\","
         "\"warmup_epochs\":1}}",
         "train.branch_of must be a run key"},
        {"{\"objective\":\"ar\",\"model\":{\"layers\":1,\"dim\":16,\"heads\":2},\"train\":{\"branch_of\":"
         "\"0000000000000000000000000000000000000000000000000000000000000000\",\"early_stop_margin\":0.5,"
         "\"warmup_epochs\":1}}",
         "a branch does not stop early"},
        {"{\"objective\":\"ar\",\"model\":{\"layers\":1,\"dim\":16,\"heads\":2},\"train\":{\"anneal_at\":[1],"
         "\"branch_of\":\"0000000000000000000000000000000000000000000000000000000000000000\"}}",
         "a trunk (train.anneal_at) or a branch (train.branch_of), not both"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        json_t *c = json_loads(bad[k][0], 0, NULL);
        CHECK(c);
        CHECK_INT(run_config_resolve(c, err, sizeof err), -1);
        CHECK_CONTAINS(err, bad[k][1]);
        json_decref(c);
    }
    /* fields absent unless given: a config without them keeps its key */
    json_t *c = json_loads("{\"objective\":\"ar\",\"model\":{\"layers\":1,\"dim\":16,\"heads\":2}}", 0, NULL);
    CHECK_INT(run_config_resolve(c, err, sizeof err), 0);
    const json_t *tr = json_object_get(c, "train");
    CHECK(!json_object_get(tr, "warmup_epochs") && !json_object_get(tr, "cooldown_evals") &&
          !json_object_get(tr, "anneal_at") && !json_object_get(tr, "branch_of"));
    json_decref(c);
}

TEST(anneal_step_arithmetic)
{
    /* 24 sequences per epoch, batches of 16: 1.5 steps an epoch */
    CHECK_INT(anneal_total_steps(10, 24, 16), 15);
    CHECK_INT(anneal_total_steps(320, 24, 16), 480);
    CHECK_INT(anneal_total_steps(0.001, 24, 16), 1);
    CHECK_INT(anneal_decay_steps(480, 0.2), 96);
    CHECK_INT(anneal_fork_step(480, 0.2), 384);
    CHECK_INT(anneal_fork_step(15, 0.2), 12);
    json_t *c = json_loads("{\"train\":{\"warmup_epochs\":3.2,\"warmup_frac\":0}}", 0, NULL);
    CHECK_INT(anneal_warmup_steps(c, 480, 24, 16), 4); /* 3.2 epochs = 4.8 steps */
    json_decref(c);
    c = json_loads("{\"train\":{\"warmup_frac\":0.01}}", 0, NULL);
    CHECK_INT(anneal_warmup_steps(c, 480, 24, 16), 4); /* floor(4.8) */
    json_decref(c);
}

TEST(anneal_plan_lists_trunks_and_branches_with_their_cost)
{
    char path[512], db[512];
    harness_path(path, sizeof path, "a.yaml");
    harness_path(db, sizeof db, "none.db");
    harness_write(path, HEAD "train: {anneal_at: [10, 20, 40], decay_frac: 0.25, warmup_epochs: 1}\n"
                             "grid: {objective: [ar, mdm]}\n");
    const char *argv[] = {harness_xover(), "plan", path, "--db", db, NULL};
    harness_proc r = harness_run(argv, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "role    trunk         epochs");
    CHECK_CONTAINS(r.out, "annealed: 2 trunks and 6 branches");
    /* a trunk trains to its last fork, each branch its cooldown: 30 + (2.5 + 5 + 10) epochs of 20k tokens */
    CHECK_CONTAINS(r.out, "0-30 ");
    CHECK_CONTAINS(r.out, "7.5-10 ");
    CHECK_CONTAINS(r.out, "30-40 ");
    CHECK_CONTAINS(r.out, "to train: 8 runs, 1.9M tokens");
    /* each branch row names its trunk's key */
    char *line = strstr(r.out, "\n1  ");
    CHECK(line);
    char tkey[13];
    memcpy(tkey, line + 4, 12);
    tkey[12] = 0;
    char want[64];
    snprintf(want, sizeof want, "branch  %s  7.5-10", tkey);
    CHECK_CONTAINS(r.out, want);
    harness_proc_free(&r);
    const char *jargv[] = {harness_xover(), "plan", path, "--db", db, "--format", "json", NULL};
    r = harness_run(jargv, NULL);
    CHECK_INT(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    CHECK(j);
    json_t *runs = json_object_get(j, "runs");
    CHECK_INT(json_array_size(runs), 8);
    CHECK_STR(json_string_value(json_object_get(json_array_get(runs, 0), "role")), "trunk");
    CHECK_STR(json_string_value(json_object_get(json_array_get(runs, 3), "role")), "branch");
    CHECK_STR(json_string_value(json_object_get(json_array_get(runs, 3), "trunk")),
              json_string_value(json_object_get(json_array_get(runs, 0), "key")));
    CHECK_NEAR(json_number_value(json_object_get(json_array_get(runs, 3), "epochs_from")), 30, 1e-9);
    CHECK_NEAR(json_number_value(json_object_get(json_array_get(runs, 3), "tokens")), 10 * 20000, 1e-3);
    json_decref(j);
    harness_proc_free(&r);
}

TEST(anneal_slurm_refuses_one_task_at_a_time_for_a_trunk_that_waits)
{
    char path[512], db[512], runs[512];
    harness_path(path, sizeof path, "es.yaml");
    harness_path(db, sizeof db, "es.db");
    harness_path(runs, sizeof runs, "runs");
    harness_write(path, HEAD "train: {anneal_at: [10, 20, 40], warmup_epochs: 1, early_stop_margin: 0.5}\n"
                             "grid: {objective: [ar]}\n");
    const char *argv[] = {harness_xover(), "run", path, "--backend", "slurm", "--array-parallelism", "1", "--db", db,
                          "--runs-dir", runs, NULL};
    harness_proc r = harness_run(argv, NULL);
    CHECK_INT(r.status, 2);
    CHECK_CONTAINS(r.err, "--array-parallelism 1: trunk ");
    CHECK_CONTAINS(r.err, "give 2 or more");
    harness_proc_free(&r);
}
