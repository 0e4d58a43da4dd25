/*
 * test_sweep.c — the sweep language: expansion (grid, zip, exclude,
 * include, derive, seeds) and keys.
 */
#include "tests/harness.h"
#include "orchestrator/run/run_config.h"
#include "orchestrator/sweep/internal.h"
#include "orchestrator/sweep/sweep.h"

#include <stdlib.h>

static sweep *parse(const char *yaml, char *err, size_t n)
{
    return sweep_parse("t.yaml", yaml, strlen(yaml), err, n);
}

#define HEAD                                                                  \
    "sweep: t\n"                                                              \
    "models: {xs: {layers: 1, dim: 16, heads: 2}, s: {layers: 2, dim: 32, heads: 2}}\n"

/* The index of the run whose axis values (in axis order) are `vals`. */
static long find_run(const sweep_plan *p, const char *const *vals)
{
    const sweep *s = sweep_plan_sweep(p);
    for (size_t i = 0; i < sweep_plan_count(p); i++) {
        size_t a;
        for (a = 0; a < sweep_naxes(s); a++)
            if (strcmp(sweep_plan_axis_text(p, i, a), vals[a])) break;
        if (a == sweep_naxes(s)) return (long)i;
    }
    return -1;
}

TEST(sweep_grid_cross_product_in_order)
{
    char err[512] = "";
    sweep *s = parse(HEAD "grid: {objective: [ar, mdm], model: [xs, s], unique_tokens: [25k, 100k, 400k]}\n", err,
                     sizeof err);
    CHECK(s);
    sweep_plan *p = sweep_expand(s, 0, err, sizeof err);
    CHECK(p);
    CHECK_INT(sweep_plan_count(p), 12);
    CHECK_INT(sweep_naxes(s), 3);
    /* first axis outermost, last innermost */
    CHECK_STR(sweep_plan_axis_text(p, 0, 0), "ar");
    CHECK_STR(sweep_plan_axis_text(p, 1, 2), "100k");
    CHECK_STR(sweep_plan_axis_text(p, 11, 0), "mdm");
    CHECK_STR(sweep_plan_axis_text(p, 11, 2), "400k");
    double u;
    CHECK_INT(sweep_plan_number(p, 2, "data.unique_tokens", &u), 0);
    CHECK_NEAR(u, 400000, 0);
    CHECK_INT(sweep_plan_number(p, 3, "model.dim", &u), 0);
    CHECK_NEAR(u, 32, 0);
    json_t *cfg = sweep_plan_config(p, 3, err, sizeof err);
    CHECK(cfg);
    CHECK_STR(json_string_value(json_object_get(json_object_get(cfg, "model"), "name")), "s");
    CHECK_INT(json_integer_value(json_object_get(json_object_get(cfg, "data"), "unique_tokens")), 25000);
    char hex[65], want[65];
    sweep_plan_key(p, 3, hex);
    run_config_key(cfg, want);
    CHECK_STR(hex, want);
    json_decref(cfg);
    sweep_plan_free(p);
    sweep_free(s);
}

TEST(sweep_zip_exclude_include_derive_seeds)
{
    char err[512] = "";
    const char *y = HEAD
        "data: {quality: {high: {degrade: 0}, low: {degrade: 0.5}}}\n"
        "grid:\n"
        "  objective: [ar, mdm]\n"
        "  model: [xs, s]\n"
        "  unique_tokens: [25k, 100k]\n"
        "  quality: [high, low]\n"
        "  total_tokens: [1M, 2M]\n"
        "zip:\n"
        "  - {lr: [1e-3, 2e-3], warmup_frac: [0.01, 0.05]}\n"
        "exclude:\n"
        "  - {model: s, unique_tokens: 25k}\n"
        "  - {quality: low, objective: [ar]}\n"
        "include:\n"
        "  - {model: s, unique_tokens: 400k, quality: high, total_tokens: 4M, lr: 1e-3, warmup_frac: 0.01}\n"
        "derive:\n"
        "  epochs: total_tokens / unique_tokens\n"
        "seeds: 2\n";
    sweep *s = parse(y, err, sizeof err);
    if (!s) fprintf(stderr, "%s\n", err);
    CHECK(s);
    sweep_plan *p = sweep_expand(s, 0, err, sizeof err);
    if (!p) fprintf(stderr, "%s\n", err);
    CHECK(p);
    /* 2*2*2*2*2 grid axes * 2 zipped * 2 seeds = 128; excluded: model s &
     * 25k = 32, quality low & ar = 32, both = 8: 56 -> 72; include adds
     * objective(2) x seeds(2) = 4. */
    CHECK_INT(sweep_plan_grid(p), 128);
    CHECK_INT(sweep_plan_excluded(p), 56);
    CHECK_INT(sweep_plan_included(p), 4);
    CHECK_INT(sweep_plan_count(p), 76);
    CHECK_INT(sweep_naxes(s), 8);
    CHECK_STR(sweep_axis_name(s, 5), "lr");
    CHECK_STR(sweep_axis_name(s, 7), "seed");
    /* zipped values move together */
    for (size_t i = 0; i < sweep_plan_count(p); i++) {
        int lr1 = !strcmp(sweep_plan_axis_text(p, i, 5), "1e-3");
        int w1 = !strcmp(sweep_plan_axis_text(p, i, 6), "0.01");
        CHECK_INT(lr1, w1);
        /* nothing excluded survives */
        CHECK(!(!strcmp(sweep_plan_axis_text(p, i, 1), "s") && !strcmp(sweep_plan_axis_text(p, i, 2), "25k")));
        CHECK(!(!strcmp(sweep_plan_axis_text(p, i, 3), "low") && !strcmp(sweep_plan_axis_text(p, i, 0), "ar")));
    }
    /* derive: epochs = total / unique */
    const char *v1[] = {"mdm", "xs", "25k", "low", "2M", "2e-3", "0.05", "1"};
    long r = find_run(p, v1);
    CHECK(r >= 0);
    double e;
    CHECK_INT(sweep_plan_number(p, (size_t)r, "train.epochs", &e), 0);
    CHECK_NEAR(e, 80, 1e-12);
    json_t *cfg = sweep_plan_config(p, (size_t)r, err, sizeof err);
    CHECK(cfg);
    json_t *data = json_object_get(cfg, "data");
    CHECK_STR(json_string_value(json_object_get(data, "quality")), "low");
    CHECK_NEAR(json_number_value(json_object_get(json_object_get(data, "quality_spec"), "degrade")), 0.5, 0);
    CHECK_NEAR(json_number_value(json_object_get(json_object_get(cfg, "train"), "warmup_frac")), 0.05, 0);
    CHECK_INT(json_integer_value(json_object_get(cfg, "seed")), 1);
    /* a free axis used by derive stays out of the config */
    CHECK(!json_object_get(cfg, "total_tokens") && !json_object_get(json_object_get(cfg, "train"), "total_tokens"));
    json_decref(cfg);
    /* the included run, outside the grid's values */
    const char *v2[] = {"ar", "s", "400k", "high", "4M", "1e-3", "0.01", "0"};
    r = find_run(p, v2);
    CHECK(r >= 0);
    CHECK_INT(sweep_plan_number(p, (size_t)r, "train.epochs", &e), 0);
    CHECK_NEAR(e, 10, 1e-12);
    sweep_plan_free(p);
    sweep_free(s);
}

TEST(sweep_zip_of_grid_axes_and_seed_list)
{
    char err[512] = "";
    sweep *s = parse(HEAD "grid: {objective: [ar, mdm], lr: [1e-3, 2e-3, 4e-3], model: xs, batch: [8, 16, 32]}\n"
                          "zip: [[lr, batch]]\nseeds: [3, 7]\n",
                     err, sizeof err);
    CHECK(s);
    sweep_plan *p = sweep_expand(s, 0, err, sizeof err);
    CHECK(p);
    CHECK_INT(sweep_plan_count(p), 2 * 3 * 2);
    for (size_t i = 0; i < sweep_plan_count(p); i++) {
        double lr, b, seed;
        CHECK_INT(sweep_plan_number(p, i, "train.lr", &lr), 0);
        CHECK_INT(sweep_plan_number(p, i, "train.batch", &b), 0);
        CHECK_NEAR(b, 8 * (lr / 1e-3), 1e-9);
        json_t *cfg = sweep_plan_config(p, i, err, sizeof err);
        CHECK(cfg);
        seed = (double)json_integer_value(json_object_get(cfg, "seed"));
        json_decref(cfg);
        CHECK(seed == 3 || seed == 7);
    }
    sweep_plan_free(p);
    sweep_free(s);
}

TEST(sweep_derive_chain_config_fields_and_rounding)
{
    char err[512] = "";
    sweep *s = parse(HEAD "train: {seq_len: 64, batch: 4}\n"
                          "grid: {objective: ar, model: [xs, s], unique_tokens: [1000, 3000]}\n"
                          "derive:\n"
                          "  steps: 2 * (unique_tokens + 200) / (seq_len * batch)\n"
                          "  checkpoint_every: steps / 3\n"
                          "  val_tokens: dim * 1k - -5\n",
                     err, sizeof err);
    if (!s) fprintf(stderr, "%s\n", err);
    CHECK(s);
    sweep_plan *p = sweep_expand(s, 0, err, sizeof err);
    CHECK(p);
    CHECK_INT(sweep_plan_count(p), 4);
    const char *v[] = {"ar", "s", "3000"};
    long r = find_run(p, v);
    CHECK(r >= 0);
    json_t *cfg = sweep_plan_config(p, (size_t)r, err, sizeof err);
    CHECK(cfg);
    /* steps = 6400/256 = 25; checkpoint_every = 25/3 rounded = 8 */
    CHECK_INT(json_integer_value(json_object_get(json_object_get(cfg, "train"), "checkpoint_every")), 8);
    CHECK_INT(json_integer_value(json_object_get(json_object_get(cfg, "data"), "val_tokens")), 32005);
    json_decref(cfg);
    sweep_plan_free(p);
    sweep_free(s);
}

static void keys_of(const char *yaml, char keys[][65], size_t *n, int flags)
{
    char err[512] = "";
    sweep *s = parse(yaml, err, sizeof err);
    if (!s) { fprintf(stderr, "%s\n", err); *n = 0; return; }
    sweep_plan *p = sweep_expand(s, flags, err, sizeof err);
    if (!p) { fprintf(stderr, "%s\n", err); sweep_free(s); *n = 0; return; }
    *n = sweep_plan_count(p);
    for (size_t i = 0; i < *n; i++) sweep_plan_key(p, i, keys[i]);
    sweep_plan_free(p);
    sweep_free(s);
}

static int cmp_key(const void *a, const void *b) { return strcmp(a, b); }

TEST(sweep_keys_stable_under_key_order_and_number_spelling)
{
    const char *a = "sweep: a\n"
                    "models: {xs: {layers: 1, dim: 16, heads: 2}}\n"
                    "train: {lr: 1e-3, batch: 8, epochs: 2}\n"
                    "data: {vocab: 300, val_tokens: 10k}\n"
                    "grid: {objective: [ar, mdm], unique_tokens: [25k, 1.5M]}\n";
    const char *b = "grid:\n  unique_tokens: [1500000, 25000]\n  objective: [mdm, ar]\n"
                    "data: {val_tokens: 10_000, vocab: 3e2}\n"
                    "train: {epochs: 2.0, batch: 8, lr: 0.001}\n"
                    "models:\n  xs: {heads: 2, dim: 16, layers: 1}\n"
                    "sweep: another-name\n";
    char ka[8][65], kb[8][65];
    size_t na, nb;
    keys_of(a, ka, &na, 0);
    keys_of(b, kb, &nb, 0);
    CHECK_INT(na, 4);
    CHECK_INT(nb, 4);
    qsort(ka, na, 65, cmp_key);
    qsort(kb, nb, 65, cmp_key);
    for (size_t i = 0; i < na; i++) CHECK_STR(ka[i], kb[i]);
    /* and a hand-written partial config of one of them has the same key */
    json_error_t je;
    json_t *cfg = json_loads("{\"objective\":\"mdm\",\"model\":{\"name\":\"xs\",\"layers\":1,\"dim\":16,\"heads\":2},"
                             "\"data\":{\"vocab\":300,\"val_tokens\":10000,\"unique_tokens\":25000},"
                             "\"train\":{\"lr\":0.001,\"batch\":8,\"epochs\":2}}", 0, &je);
    CHECK(cfg);
    char err[256];
    CHECK_INT(run_config_resolve(cfg, err, sizeof err), 0);
    char k[65];
    run_config_key(cfg, k);
    json_decref(cfg);
    int found = 0;
    for (size_t i = 0; i < na; i++) found |= !strcmp(ka[i], k);
    CHECK(found);
}

TEST(sweep_fast_keys_equal_slow_keys)
{
    const char *y = HEAD
        "data: {quality: {high: {degrade: 0}, low: {degrade: 0.5}}, cloze: {items: 10}}\n"
        "train: {eval_every: 500 steps}\n"
        "grid: {objective: [ar, mdm], model: [xs, s], quality: [high, low], unique_tokens: [10k, 20k, 40k],\n"
        "       total: [100k, 300k], lr: [1e-3, 3e-3]}\n"
        "derive: {epochs: total / unique_tokens, warmup_frac: 0.01 * epochs / 10}\n"
        "exclude: [{lr: 3e-3, model: xs}]\n"
        "seeds: 3\n";
    static char fast[600][65], slow[600][65];
    size_t nf, ns;
    keys_of(y, fast, &nf, 0);
    keys_of(y, slow, &ns, SWEEP_SLOW_KEYS);
    CHECK_INT(nf, 2 * 2 * 2 * 3 * 2 * 2 * 3 - 72);
    CHECK_INT(nf, ns);
    for (size_t i = 0; i < nf; i++) CHECK_STR(fast[i], slow[i]);
    /* and the fast path was really used */
    char err[512];
    sweep *s = parse(y, err, sizeof err);
    CHECK(s);
    sweep_plan *p = sweep_expand(s, 0, err, sizeof err);
    CHECK(p);
    CHECK_INT(p->fast, 1);
    sweep_plan_free(p);
    sweep_free(s);
}

TEST(sweep_identical_runs_are_merged)
{
    /* epochs = t / u: 200k/100k and 400k/200k both give 2 epochs, but the
     * unique budgets differ; 100k/50k and 200k/100k... only the same config
     * merges: a free axis that does not change the result. */
    char err[512] = "";
    sweep *s = parse(HEAD "grid: {objective: ar, model: xs, unique_tokens: 50k, scale: [1, 2, 3]}\n"
                          "derive: {epochs: scale / scale * 4}\n",
                     err, sizeof err);
    CHECK(s);
    sweep_plan *p = sweep_expand(s, 0, err, sizeof err);
    CHECK(p);
    CHECK_INT(sweep_plan_count(p), 1);
    CHECK_INT(sweep_plan_merged(p), 2);
    sweep_plan_free(p);
    sweep_free(s);
}

TEST(sweep_number_suffixes)
{
    static const struct { const char *s; double v; } ok[] = {
        {"25k", 25000}, {"1.5M", 1500000}, {"2B", 2e9}, {"1e-3", 1e-3}, {"3.2e4", 32000},
        {"1_000_000", 1e6}, {"0.5", 0.5}, {"-2", -2}, {"4K", 4000}, {"1.1k", 1100},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double v = -1;
        CHECK_INT(sw_parse_number(ok[i].s, &v), 0);
        CHECK_NEAR(v, ok[i].v, 0);
    }
    static const char *const bad[] = {"", "k", "25x", "inf", "nan", "0x10", "1e", "25kk", "1.5 M"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v;
        CHECK(sw_parse_number(bad[i], &v) != 0);
    }
}

TEST(sweep_expression_evaluator)
{
    static const struct { const char *e; double v; } cases[] = {
        {"1 + 2 * 3", 7}, {"(1 + 2) * 3", 9}, {"10 / 4", 2.5}, {"-3 + 5", 2}, {"2 * -(1 + 1)", -4},
        {"1M / 25k", 40}, {"1e3 - 1", 999}, {"8 - 2 - 1", 5}, {"64 / 4 / 2", 8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[128];
        int pos;
        sw_expr *e = sw_expr_parse(cases[i].e, err, sizeof err, &pos);
        CHECK(e);
        CHECK_NEAR(sw_expr_eval(e, NULL), cases[i].v, 1e-12);
        sw_expr_free(e);
    }
    char err[128];
    int pos = -1;
    CHECK(sw_expr_parse("a + * b", err, sizeof err, &pos) == NULL);
    CHECK_INT(pos, 4);
    CHECK(sw_expr_parse("(a + b", err, sizeof err, &pos) == NULL);
    CHECK_INT(pos, 6);
    sw_expr *e = sw_expr_parse("x / y", err, sizeof err, &pos);
    CHECK(e);
    double v[2] = {1, 0};
    CHECK(!isfinite(sw_expr_eval(e, v)));
    sw_expr_free(e);
}

TEST(sweep_eval_every_units)
{
    static const struct { const char *text, *unit; double every; } cases[] = {
        {"1 epoch", "epoch", 1}, {"2.5 epochs", "epoch", 2.5}, {"500 steps", "step", 500},
        {"4 per doubling", "log", 4}, {"3", "epoch", 3},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char y[512], err[512];
        snprintf(y, sizeof y, HEAD "train: {eval_every: %s}\ngrid: {objective: [ar], model: [xs]}\n",
                 cases[k].text);
        sweep *s = parse(y, err, sizeof err);
        CHECK(s);
        sweep_plan *p = sweep_expand(s, 0, err, sizeof err);
        CHECK(p);
        json_t *c = sweep_plan_config(p, 0, err, sizeof err);
        CHECK(c);
        json_t *tr = json_object_get(c, "train");
        const char *unit = json_string_value(json_object_get(tr, "eval_unit"));
        double every = json_number_value(json_object_get(tr, "eval_every"));
        int ok = unit && !strcmp(unit, cases[k].unit) && every == cases[k].every;
        if (!ok) fprintf(stderr, "    '%s' gave %s %g\n", cases[k].text, unit ? unit : "?", every);
        json_decref(c);
        sweep_plan_free(p);
        sweep_free(s);
        CHECK(ok);
    }
    char y[512], err[512];
    snprintf(y, sizeof y, HEAD "train: {eval_every: 4 per fortnight}\ngrid: {objective: [ar], model: [xs]}\n");
    sweep *s = parse(y, err, sizeof err);
    CHECK(s == NULL);
    CHECK_CONTAINS(err, "t.yaml:3:");
    CHECK_CONTAINS(err, "'4 per doubling'");
}
