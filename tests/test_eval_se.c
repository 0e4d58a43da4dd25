/*
 * test_eval_se.c — the standard error of the validation loss (models/eval.c):
 * a hand-computed case, synthetic estimates whose standard errors are known,
 * and the model's own estimate keeping the loss's bits.
 */
#include "tests/harness.h"
#include "models/models.h"
#include "orchestrator/run/run_config.h"

#include <jansson.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Two windows, two draws: window means 2 and 4 (se = sd / sqrt 2 = 1); draw
 * means 1.5 and 4.5; residuals +-0.5, SS_res = 1 over (2-1)(2-1) = 1 degree
 * of freedom, so sigma^2 = 1 and mc_se = sqrt(1 / (2 * 2)) = 0.5. */
TEST(eval_se_by_hand)
{
    const double y[4] = {1, 3, 2, 6};
    double se, mc;
    model_draws_se(y, 2, 2, &se, &mc);
    CHECK_NEAR(se, 1.0, 1e-12);
    CHECK_NEAR(mc, 0.5, 1e-12);
    /* one draw: the windows' se, no draws' part; one window: nothing */
    model_draws_se(y, 4, 1, &se, &mc);
    CHECK_NEAR(se, sqrt(14.0 / 3 / 4), 1e-12); /* deviations -2, 0, -1, 3 from 3 */
    CHECK(isnan(mc));
    model_draws_se(y, 1, 2, &se, &mc);
    CHECK(isnan(se) && isnan(mc));
}

static double gauss(model_rng *r)
{
    double u = model_rng_uniform(r), v = model_rng_uniform(r);
    return sqrt(-2 * log(u > 0 ? u : 1e-300)) * cos(2 * M_PI * v);
}

/* y = a_s + f_k + e_sk: window effects a ~ N(0, tau^2), a fixed trend over
 * the draws f_k (the strata: more tokens masked, a higher loss) and noise
 * e ~ N(0, sigma^2). The mean's noise given the windows is sigma / sqrt(nK);
 * over windows, sqrt((tau^2 + sigma^2 / K) / n). Each estimate is checked
 * against the truth within 5% (the standard error of an SE estimated from
 * these degrees of freedom is under 2%), and against the spread of the mean
 * over 400 independent replications of the noise. */
TEST(eval_se_recovers_known_standard_errors)
{
    enum { n = 400, K = 8, REPS = 400 };
    const double tau = 0.3, sigma = 0.5;
    double *y = malloc(sizeof(double) * n * K), a[n], f[K];
    CHECK(y != NULL);
    model_rng r;
    model_rng_seed(&r, 2024);
    for (int s = 0; s < n; s++) a[s] = tau * gauss(&r);
    for (int k = 0; k < K; k++) f[k] = 3.0 + 0.3 * k;
    double sum = 0, ss = 0, mc_mean = 0;
    for (int rep = 0; rep < REPS; rep++) {
        double m = 0;
        for (int s = 0; s < n; s++)
            for (int k = 0; k < K; k++) m += y[s * K + k] = a[s] + f[k] + sigma * gauss(&r);
        m /= n * K;
        double se, mc;
        model_draws_se(y, n, K, &se, &mc);
        if (rep == 0) {
            /* the windows' se, with this sample's own window effects */
            double sa = 0, sa2 = 0;
            for (int s = 0; s < n; s++) sa += a[s];
            for (int s = 0; s < n; s++) sa2 += (a[s] - sa / n) * (a[s] - sa / n);
            double want = sqrt((sa2 / (n - 1) + sigma * sigma / K) / n);
            CHECK(fabs(se / want - 1) < 0.05);
        }
        mc_mean += mc / REPS;
        sum += m;
        ss += m * m;
    }
    double truth = sigma / sqrt((double)n * K);
    CHECK(fabs(mc_mean / truth - 1) < 0.05);
    /* the spread of the mean over independent draws (windows fixed) */
    double sd = sqrt((ss - sum * sum / REPS) / (REPS - 1));
    CHECK(fabs(sd / truth - 1) < 0.1);
    CHECK(fabs(mc_mean / sd - 1) < 0.1);
    free(y);
}

/* The model's estimate: the same loss to the bit as model_val_loss, a draws'
 * part of 0 for AR and of NaN with one MDM draw, and a draws' part that
 * shrinks with more draws. */
TEST(eval_se_of_a_model_keeps_the_loss_bits)
{
    char err[256];
    model_config c = {.layers = 1, .dim = 16, .heads = 2, .vocab = 12, .seq_len = 16, .batch = 4,
                      .objective = MODEL_MDM, .mask_id = 11};
    int32_t val[24 * 16];
    model_rng r;
    model_rng_seed(&r, 7);
    for (int i = 0; i < 24 * 16; i++) val[i] = (int32_t)model_rng_below(&r, 11);
    for (int obj = 0; obj < 2; obj++) {
        c.objective = obj ? MODEL_MDM : MODEL_AR;
        model *m = model_create(&c, 3, err, sizeof err);
        CHECK(m != NULL);
        model_eval_opts o = {4, 0, 99};
        double se, mc;
        double v = model_val_loss_se(m, val, 24, &o, &se, &mc);
        CHECK(v == model_val_loss(m, val, 24, &o));
        CHECK(se > 0 && isfinite(se));
        if (!obj) {
            CHECK(mc == 0);
        } else {
            CHECK(mc > 0 && mc <= se * 1.5);
            o.draws = 1;
            model_val_loss_se(m, val, 24, &o, &se, &mc);
            CHECK(isnan(mc) && se > 0);
            o.draws = 64;
            double mc64;
            model_val_loss_se(m, val, 24, &o, &se, &mc64);
            o.draws = 4;
            model_val_loss_se(m, val, 24, &o, &se, &mc);
            CHECK(mc64 < mc * 0.6); /* ~ 1/sqrt(16) of it, give or take */
        }
        model_free(m);
    }
}

/* train.final_eval_draws: absent unless given (an earlier config keeps its
 * key), read as 16 when absent, part of the key when given, checked. */
TEST(eval_se_final_eval_draws_is_absent_unless_given)
{
    char err[256], k1[65], k2[65];
    const char *base = "{\"objective\":\"mdm\",\"model\":{\"layers\":1,\"dim\":16,\"heads\":2}%s}";
    char text[256];
    snprintf(text, sizeof text, base, "");
    json_t *c = json_loads(text, 0, NULL);
    CHECK(c && run_config_resolve(c, err, sizeof err) == 0);
    CHECK(json_object_get(json_object_get(c, "train"), "final_eval_draws") == NULL);
    CHECK(run_config_number(c, "train.final_eval_draws") == 16);
    run_config_key(c, k1);
    json_decref(c);
    snprintf(text, sizeof text, base, ",\"train\":{\"final_eval_draws\":32}");
    c = json_loads(text, 0, NULL);
    CHECK(c && run_config_resolve(c, err, sizeof err) == 0);
    CHECK(run_config_number(c, "train.final_eval_draws") == 32);
    run_config_key(c, k2);
    CHECK(strcmp(k1, k2) != 0);
    json_decref(c);
    snprintf(text, sizeof text, base, ",\"train\":{\"final_eval_draws\":0}");
    c = json_loads(text, 0, NULL);
    CHECK(c && run_config_resolve(c, err, sizeof err) != 0);
    CHECK(strstr(err, "train.final_eval_draws") != NULL);
    json_decref(c);
}

/* ---- through `xover train` and `xover eval` ----------------------------------- */

/* `xover train` on config text into the test's directory `name`. */
static int train_text(const char *text, const char *name, char *out, size_t n)
{
    char cfg[512], cache[512];
    harness_path(cfg, sizeof cfg, "run.json");
    harness_path(out, n, name);
    harness_path(cache, sizeof cache, "cache");
    harness_write(cfg, text);
    const char *argv[] = {harness_xover(), "train", "--config", cfg, "--out", out, "--cache", cache, NULL};
    harness_proc p = harness_run(argv, NULL);
    int status = p.status;
    if (status) fprintf(stderr, "%s", p.err);
    harness_proc_free(&p);
    return status;
}

/* The eval lines of a run: val_loss and val_loss_se of each, in order. */
static int eval_lines(const char *dir, double *v, double *se, int max)
{
    char path[600];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    char *m = harness_slurp(path, NULL);
    int n = 0;
    for (const char *line = m; line && *line && n < max;) {
        json_t *j = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL);
        if (j && json_object_get(j, "val_loss")) {
            v[n] = json_number_value(json_object_get(j, "val_loss"));
            json_t *e = json_object_get(j, "val_loss_se");
            se[n++] = e ? json_number_value(e) : NAN;
        }
        json_decref(j);
        line = strchr(line, '\n');
        if (line) line++;
    }
    free(m);
    return n;
}

static const char *TRAIN_CFG =
    "{\"objective\":\"%s\",\"seed\":1,\"model\":{\"layers\":1,\"dim\":16,\"heads\":2},"
    "\"data\":{\"corpus\":\"synthetic\",\"vocab\":280,\"val_tokens\":1200,\"unique_tokens\":3000},"
    "\"train\":{\"seq_len\":32,\"batch\":4,\"epochs\":2,\"eval_every\":1,\"eval_draws\":2%s}}";

/* Every eval line carries val_loss_se (0 for AR); the MDM's last evaluation
 * uses train.final_eval_draws: the same run with final_eval_draws 2 (the
 * eval_draws) differs in that line's val_loss alone; and `xover eval` with
 * those draws on the final checkpoint gives that line's number again. */
TEST(eval_se_written_and_the_last_evaluation_uses_more_draws)
{
    char text[1024], a[512], b[512], c[512];
    double va[8], sa[8], vb[8], sb[8], vc[8], sc[8];
    snprintf(text, sizeof text, TRAIN_CFG, "mdm", ",\"final_eval_draws\":2");
    CHECK_INT(train_text(text, "two", a, sizeof a), 0);
    snprintf(text, sizeof text, TRAIN_CFG, "mdm", ",\"final_eval_draws\":24");
    CHECK_INT(train_text(text, "many", b, sizeof b), 0);
    int n = eval_lines(a, va, sa, 8);
    CHECK(n >= 3); /* step 0, each epoch, the last step */
    CHECK_INT(eval_lines(b, vb, sb, 8), n);
    for (int i = 0; i < n; i++) CHECK(sa[i] > 0 && isfinite(sa[i]) && sb[i] > 0);
    for (int i = 0; i < n - 1; i++) CHECK(va[i] == vb[i] && sa[i] == sb[i]);
    CHECK(va[n - 1] != vb[n - 1]);
    CHECK(sb[n - 1] < sa[n - 1]); /* 12 times the draws */

    /* xover eval with 24 draws on the final checkpoint: the same number */
    char cache[512];
    harness_path(cache, sizeof cache, "cache");
    const char *argv[] = {harness_xover(), "eval", "--run", b, "--draws", "24", "--cache", cache, NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    char want[64];
    snprintf(want, sizeof want, "val_loss   %.4f  se ", vb[n - 1]);
    CHECK_CONTAINS(p.out, want);
    CHECK_CONTAINS(p.out, "the mask draws' part");
    harness_proc_free(&p);

    /* AR: exact, so its error is 0 at every evaluation */
    snprintf(text, sizeof text, TRAIN_CFG, "ar", "");
    CHECK_INT(train_text(text, "ar", c, sizeof c), 0);
    int nc = eval_lines(c, vc, sc, 8);
    CHECK(nc >= 3);
    for (int i = 0; i < nc; i++) CHECK(sc[i] == 0);
}

/* Bad input to xover eval: exit 2 with the reason. */
TEST(eval_se_cli_bad_input)
{
    const char *argv[] = {harness_xover(), "eval", "--draws", "4", NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "--run is required");
    harness_proc_free(&p);
    const char *argv2[] = {harness_xover(), "eval", "--run", "/nonexistent", NULL};
    p = harness_run(argv2, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "/nonexistent/config.json");
    harness_proc_free(&p);
}

/* A run trained with the plateau probes' knobs: `xover eval` builds its
 * model with the run's model.attn_scale (the checkpoint holds the layout
 * only), so it gives the last evaluation's number again; `xover
 * export-model` refuses the scaled attention, which Llama has no name for. */
TEST(eval_se_uses_the_runs_attn_scale)
{
    const char *text =
        "{\"objective\":\"mdm\",\"seed\":1,\"model\":{\"layers\":1,\"dim\":16,\"heads\":2,\"attn_scale\":3,"
        "\"init_std\":0.1},\"data\":{\"corpus\":\"synthetic\",\"vocab\":280,\"val_tokens\":1200,"
        "\"unique_tokens\":3000},\"train\":{\"seq_len\":32,\"batch\":4,\"epochs\":2,\"lr\":0.01,\"eval_every\":1,"
        "\"eval_draws\":2,\"final_eval_draws\":2,\"mask_eps\":0.2}}";
    char dir[512], cache[512];
    double v[8], se[8];
    CHECK_INT(train_text(text, "scaled", dir, sizeof dir), 0);
    int n = eval_lines(dir, v, se, 8);
    CHECK(n >= 3);
    CHECK(v[n - 1] < v[0]); /* it trained */
    harness_path(cache, sizeof cache, "cache");
    const char *argv[] = {harness_xover(), "eval", "--run", dir, "--draws", "2", "--cache", cache, NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    char want[64];
    snprintf(want, sizeof want, "val_loss   %.4f  se ", v[n - 1]);
    CHECK_CONTAINS(p.out, want);
    harness_proc_free(&p);
    char out[600];
    snprintf(out, sizeof out, "%s.export", dir);
    const char *ex[] = {harness_xover(), "export-model", dir, "-o", out, "--cache", cache, NULL};
    p = harness_run(ex, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "model.attn_scale 3 is not a Llama attention");
    harness_proc_free(&p);
}
