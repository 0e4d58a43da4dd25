/*
 * test_models.c — the whole model: gradients of both objectives against a
 * double-precision reference (tests/test_models_ref.h), loss at
 * initialisation, the MDM masking and weights, bad configs, schedules.
 */
#include "tests/harness.h"
#include "tests/test_models_ref.h"

static model_config tiny(model_objective obj) { return ref_tiny(obj); }

static void check_model_grad(model_objective obj, double *worst, double *dloss)
{
    ref_check_model_grad(ref_tiny(obj), obj == MODEL_AR ? "model ar" : "model mdm", worst, dloss);
}

TEST(model_gradient_ar_matches_finite_differences)
{
    double worst, dl;
    check_model_grad(MODEL_AR, &worst, &dl);
    CHECK(dl < 1e-4);
    CHECK(worst < 3e-3);
}

TEST(model_gradient_mdm_matches_finite_differences)
{
    double worst, dl;
    check_model_grad(MODEL_MDM, &worst, &dl);
    CHECK(dl < 1e-4);
    CHECK(worst < 3e-3);
}

TEST(model_ar_loss_at_init_is_log_vocab)
{
    char err[256];
    model_config c = {.layers = 2, .dim = 32, .heads = 4, .vocab = 256, .seq_len = 32, .batch = 4,
                      .objective = MODEL_AR};
    model *m = model_create(&c, 1, err, sizeof err);
    CHECK(m != NULL);
    int32_t tok[128], in[128], tg[128];
    float w[128];
    model_rng g;
    model_rng_seed(&g, 3);
    for (int i = 0; i < 128; i++) tok[i] = (int32_t)model_rng_below(&g, 256);
    model_ar_batch(tok, 4, 32, in, tg, w);
    double loss = model_forward(m, in, tg, 4, 32, 1, w, NULL);
    CHECK_NEAR(loss, log(256.0), 0.05);
    model_free(m);
}

TEST(model_mdm_masks_fraction_t_with_weight_one_over_t)
{
    int B = 64, T = 512;
    int32_t *tok = malloc(sizeof(int32_t) * B * T), *in = malloc(sizeof(int32_t) * B * T),
            *tg = malloc(sizeof(int32_t) * B * T);
    float *w = malloc(sizeof(float) * B * T), t[64];
    for (int i = 0; i < B * T; i++) tok[i] = i % 7;
    model_rng r;
    model_rng_seed(&r, 11);
    model_mdm_batch(&r, tok, B, T, 9, in, tg, w, t);
    double wsum = 0;
    float ts[64];
    for (int b = 0; b < B; b++) {
        int masked = 0;
        for (int j = 0; j < T; j++) {
            size_t i = (size_t)b * T + j;
            if (in[i] == 9) {
                masked++;
                CHECK_INT(tg[i], tok[i]);
                CHECK_NEAR(w[i], 1.0 / (t[b] * B * T), 1e-9);
                wsum += w[i];
            } else {
                CHECK_INT(in[i], tok[i]);
                CHECK_INT(tg[i], -1);
                CHECK(w[i] == 0);
            }
        }
        /* masked fraction ~ t within 5 binomial standard deviations */
        double sd = sqrt(t[b] * (1 - t[b]) / T) + 1e-3;
        CHECK_NEAR((double)masked / T, t[b], 5 * sd);
        CHECK(t[b] >= MODEL_MDM_EPS && t[b] <= 1.0f);
        ts[b] = t[b];
    }
    /* The 1/t weights make the estimator unbiased: E[sum w] = 1. */
    CHECK_NEAR(wsum, 1.0, 0.05);
    /* Stratified: sorted, consecutive t are (1-eps)/B apart. */
    for (int i = 1; i < B; i++)
        for (int j = i; j > 0 && ts[j - 1] > ts[j]; j--) {
            float x = ts[j];
            ts[j] = ts[j - 1];
            ts[j - 1] = x;
        }
    for (int i = 1; i < B; i++) CHECK_NEAR(ts[i] - ts[i - 1], (1 - MODEL_MDM_EPS) / B, 1e-5);
    free(tok), free(in), free(tg), free(w);
}

TEST(model_config_rejects_bad_values_with_clear_errors)
{
    char err[256];
    model_config c = tiny(MODEL_AR);
    c.heads = 0;
    CHECK_INT(model_config_check(&c, err, sizeof err), -1);
    CHECK_CONTAINS(err, "model.heads");
    CHECK_CONTAINS(err, "0");
    c = tiny(MODEL_AR);
    c.dim = 18;
    c.heads = 4;
    CHECK_INT(model_config_check(&c, err, sizeof err), -1);
    CHECK_CONTAINS(err, "divisible");
    c = tiny(MODEL_AR);
    c.layers = 0;
    CHECK_INT(model_config_check(&c, err, sizeof err), -1);
    CHECK_CONTAINS(err, "model.layers");
    c = tiny(MODEL_MDM);
    c.mask_id = 11;
    CHECK_INT(model_config_check(&c, err, sizeof err), -1);
    CHECK_CONTAINS(err, "MASK");
    c = tiny(MODEL_AR);
    c.seq_len = 1;
    CHECK(model_create(&c, 0, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "seq_len");
    c = tiny(MODEL_AR);
    c.hidden = 0;
    CHECK_INT(model_config_check(&c, err, sizeof err), 0);
    CHECK_INT(c.hidden, model_default_hidden(16));
    CHECK_INT(model_default_hidden(128), 344);
    CHECK_INT(model_default_hidden(64), 176);
}

TEST(model_sizes_params_and_flops)
{
    model_config c = {.layers = 4, .dim = 128, .heads = 4, .vocab = 1024, .seq_len = 128, .batch = 16};
    size_t ne, total = model_param_count(&c, &ne);
    size_t blocks = 4 * (4 * 128 * 128 + 3 * 344 * 128 + 2 * 128) + 128;
    CHECK_INT(ne, blocks);
    CHECK_INT(total, blocks + 2 * 1024 * 128);
    double f = model_flops_per_token(&c);
    CHECK_NEAR(f, 6.0 * (4 * (4 * 128 * 128 + 3 * 344 * 128) + 1024 * 128) + 12.0 * 4 * 128 * 128, 1);
    CHECK(model_memory_bytes(&c) > 4 * sizeof(float) * total);
}

TEST(model_lr_schedules_warmup_stable_decay_and_cosine)
{
    /* 100 steps, 10 warmup, wsd decay over the last 20 to 0.1 * lr. */
    CHECK_NEAR(model_lr(MODEL_SCHED_WSD, 0, 100, 1.0f, 0.1, 0.2, 0.1), 0.1, 1e-6);
    CHECK_NEAR(model_lr(MODEL_SCHED_WSD, 9, 100, 1.0f, 0.1, 0.2, 0.1), 1.0, 1e-6);
    CHECK_NEAR(model_lr(MODEL_SCHED_WSD, 50, 100, 1.0f, 0.1, 0.2, 0.1), 1.0, 1e-6);
    CHECK_NEAR(model_lr(MODEL_SCHED_WSD, 79, 100, 1.0f, 0.1, 0.2, 0.1), 1.0, 1e-6);
    CHECK_NEAR(model_lr(MODEL_SCHED_WSD, 89, 100, 1.0f, 0.1, 0.2, 0.1), 0.55, 1e-6);
    CHECK_NEAR(model_lr(MODEL_SCHED_WSD, 99, 100, 1.0f, 0.1, 0.2, 0.1), 0.1, 1e-6);
    CHECK_NEAR(model_lr(MODEL_SCHED_COSINE, 10, 100, 1.0f, 0.1, 0.0, 0.0), 1.0, 1e-6);
    CHECK_NEAR(model_lr(MODEL_SCHED_COSINE, 55, 100, 1.0f, 0.1, 0.0, 0.0), 0.5, 1e-6);
    CHECK_NEAR(model_lr(MODEL_SCHED_COSINE, 100, 100, 1.0f, 0.1, 0.0, 0.0), 0.0, 1e-6);
}

TEST(model_rng_is_deterministic_and_uniform)
{
    model_rng a, b;
    model_rng_seed(&a, 77);
    model_rng_seed(&b, 77);
    for (int i = 0; i < 100; i++) CHECK(model_rng_next(&a) == model_rng_next(&b));
    model_rng_seed2(&a, 77, 1);
    model_rng_seed2(&b, 77, 2);
    CHECK(model_rng_next(&a) != model_rng_next(&b));
    double s = 0, s2 = 0;
    int counts[10] = {0};
    for (int i = 0; i < 20000; i++) {
        double u = model_rng_uniform(&a);
        CHECK(u >= 0 && u < 1);
        s += u;
        counts[model_rng_below(&a, 10)]++;
        double z = model_rng_normal(&a);
        s2 += z * z;
    }
    CHECK_NEAR(s / 20000, 0.5, 0.01);
    CHECK_NEAR(s2 / 20000, 1.0, 0.05);
    for (int k = 0; k < 10; k++) CHECK(counts[k] > 1800 && counts[k] < 2200);
}
