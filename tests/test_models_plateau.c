/*
 * test_models_plateau.c — the knobs of the MDM-plateau probes
 * (model_config.attn_scale, init_std, mask_eps): their gradient against the
 * double-precision reference, their defaults bit-identical to the model
 * before they existed, and their checks.
 */
#include "tests/harness.h"
#include "tests/test_models_ref.h"

static model_config tiny(model_objective obj) { return ref_tiny(obj); }

/* The whole model's gradient at attn_scale 3 against central differences of
 * the double reference (which scales the logits as the model should). */
static void check_scaled_grad(model_objective obj, double *worst, double *dloss)
{
    model_config cfg = ref_tiny(obj);
    cfg.attn_scale = 3.0f;
    ref_check_model_grad(cfg, obj == MODEL_AR ? "scaled ar" : "scaled mdm", worst, dloss);
}

TEST(plateau_attn_scale_gradient_matches_finite_differences)
{
    double worst, dl;
    check_scaled_grad(MODEL_MDM, &worst, &dl);
    CHECK(dl < 1e-4);
    CHECK(worst < 3e-3);
    check_scaled_grad(MODEL_AR, &worst, &dl);
    CHECK(dl < 1e-4);
    CHECK(worst < 3e-3);
}

/* The scale changes the loss (the knob reaches the pass), the unscaled
 * model's does not change with an explicit 1. */
TEST(plateau_attn_scale_reaches_the_forward)
{
    char err[256];
    int32_t in[12], tg[12];
    float w[12];
    int32_t tok[12] = {1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1};
    model_ar_batch(tok, 2, 6, in, tg, w);
    double loss[3];
    const float scales[3] = {0.0f, 1.0f, 8.0f};
    for (int k = 0; k < 3; k++) {
        model_config cfg = tiny(MODEL_AR);
        cfg.attn_scale = scales[k];
        model *m = model_create(&cfg, 7, err, sizeof err);
        CHECK(m != NULL);
        size_t n;
        float *p = model_params(m, &n);
        for (size_t i = 0; i < n; i++) p[i] *= 4; /* attention visibly not uniform */
        loss[k] = model_forward(m, in, tg, 2, 6, 1, w, NULL);
        model_free(m);
    }
    CHECK(loss[0] == loss[1]);
    CHECK(fabs(loss[2] - loss[0]) > 1e-3);
}

/* Written out, the defaults train exactly as the model did before the
 * knobs: the same parameters at init and after MDM steps, bit for bit. */
TEST(plateau_knobs_at_their_defaults_are_bit_identical)
{
    char err[256];
    model_config a = {.layers = 2, .dim = 16, .heads = 2, .vocab = 40, .seq_len = 16, .batch = 4,
                      .objective = MODEL_MDM, .mask_id = 39};
    model_config b = a;
    b.attn_scale = 1.0f, b.init_std = 0.02, b.mask_eps = MODEL_MDM_EPS;
    model *ma = model_create(&a, 3, err, sizeof err), *mb = model_create(&b, 3, err, sizeof err);
    CHECK(ma && mb);
    size_t n;
    float *pa = model_params(ma, &n), *pb = model_params(mb, NULL);
    CHECK(memcmp(pa, pb, sizeof(float) * n) == 0);
    int32_t tok[64];
    model_rng g;
    model_rng_seed(&g, 4);
    model_optim o = model_optim_default();
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < 64; i++) tok[i] = (int32_t)model_rng_below(&g, 39);
        model_step_stats sa, sb;
        CHECK_INT(model_train_step(ma, tok, &o, 1e-2f, &sa, err, sizeof err), 0);
        CHECK_INT(model_train_step(mb, tok, &o, 1e-2f, &sb, err, sizeof err), 0);
        CHECK(sa.loss == sb.loss && sa.grad_norm == sb.grad_norm);
    }
    CHECK(memcmp(pa, pb, sizeof(float) * n) == 0);
    model_free(ma);
    model_free(mb);
}

/* init_std scales every matrix (the output projections too, which keep
 * their 1/sqrt(2L)); the norm weights stay 1. */
TEST(plateau_init_std_scales_the_matrices)
{
    char err[256];
    model_config a = tiny(MODEL_AR), b = a;
    b.init_std = 0.1;
    model *ma = model_create(&a, 5, err, sizeof err), *mb = model_create(&b, 5, err, sizeof err);
    CHECK(ma && mb);
    size_t n;
    const float *pa = model_params(ma, &n), *pb = model_params(mb, NULL);
    size_t ones = 0, scaled = 0;
    for (size_t i = 0; i < n; i++) {
        if (pa[i] == 1.0f) {
            CHECK(pb[i] == 1.0f);
            ones++;
        } else if (pa[i] != 0) {
            CHECK_NEAR(pb[i], 5.0 * pa[i], 1e-6 * fabs(pb[i]));
            scaled++;
        }
    }
    CHECK_INT(ones, (size_t)(a.dim + 2 * a.layers * a.dim)); /* lnf, ln1, ln2 */
    CHECK(scaled > n / 2);
    model_free(ma);
    model_free(mb);
}

/* mask_eps bounds the training t from below, stratified as before, with
 * weights 1/t; model_mdm_batch is the same function at MODEL_MDM_EPS. */
TEST(plateau_mask_eps_bounds_the_masking_rate)
{
    enum { B = 32, T = 64 };
    static int32_t tok[B * T], in[B * T], tg[B * T], in2[B * T], tg2[B * T];
    static float w[B * T], w2[B * T];
    float t[B], t2[B];
    for (int i = 0; i < B * T; i++) tok[i] = i % 5;
    model_rng r, r2;
    model_rng_seed(&r, 8);
    model_mdm_batch_eps(&r, 0.25, tok, B, T, 9, in, tg, w, t);
    float lo = 1, hi = 0;
    for (int b = 0; b < B; b++) {
        CHECK(t[b] >= 0.25f && t[b] < 1.0f);
        lo = t[b] < lo ? t[b] : lo;
        hi = t[b] > hi ? t[b] : hi;
        for (int j = 0; j < T; j++) {
            size_t i = (size_t)b * T + j;
            if (in[i] == 9) CHECK_NEAR(w[i], 1.0 / (t[b] * B * T), 1e-9);
        }
    }
    CHECK_NEAR(hi - lo, 0.75 * (B - 1) / B, 1e-5); /* stratified over [0.25, 1) */
    model_rng_seed(&r, 8);
    model_rng_seed(&r2, 8);
    model_mdm_batch(&r, tok, B, T, 9, in, tg, w, t);
    model_mdm_batch_eps(&r2, MODEL_MDM_EPS, tok, B, T, 9, in2, tg2, w2, t2);
    CHECK(memcmp(in, in2, sizeof in) == 0 && memcmp(w, w2, sizeof w) == 0 && memcmp(t, t2, sizeof t) == 0);
    CHECK(model_rng_next(&r) == model_rng_next(&r2));
}

/* A training step uses the config's mask_eps: the same seed and tokens
 * give another loss at eps 0.5 than at the default. */
TEST(plateau_mask_eps_reaches_the_training_step)
{
    char err[256];
    double loss[2];
    for (int k = 0; k < 2; k++) {
        model_config c = {.layers = 1, .dim = 16, .heads = 2, .vocab = 40, .seq_len = 16, .batch = 4,
                          .objective = MODEL_MDM, .mask_id = 39, .mask_eps = k ? 0.5 : 0};
        model *m = model_create(&c, 3, err, sizeof err);
        CHECK(m != NULL);
        int32_t tok[64];
        for (int i = 0; i < 64; i++) tok[i] = (int32_t)(i * 7 % 39);
        model_optim o = model_optim_default();
        model_step_stats st;
        CHECK_INT(model_train_step(m, tok, &o, 1e-3f, &st, err, sizeof err), 0);
        loss[k] = st.loss;
        model_free(m);
    }
    CHECK(loss[0] != loss[1]);
}

TEST(plateau_knobs_out_of_range_are_rejected_by_name)
{
    static const struct { float scale; double init, eps; const char *msg; } cases[] = {
        {-1.0f, 0, 0, "model.attn_scale must be in (0, 1000], not -1"},
        {2000.0f, 0, 0, "model.attn_scale"},
        {0, -0.5, 0, "model.init_std must be in (0, 10], not -0.5"},
        {0, NAN, 0, "model.init_std"},
        {0, 0, 1.0, "train.mask_eps must be in (0, 1), not 1"},
        {0, 0, -1e-3, "train.mask_eps"},
    };
    char err[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        model_config c = tiny(MODEL_MDM);
        c.attn_scale = cases[i].scale, c.init_std = cases[i].init, c.mask_eps = cases[i].eps;
        CHECK_INT(model_config_check(&c, err, sizeof err), -1);
        CHECK_CONTAINS(err, cases[i].msg);
        CHECK(model_create(&c, 0, err, sizeof err) == NULL);
    }
    model_config c = tiny(MODEL_MDM); /* 0 stands for each default */
    CHECK_INT(model_config_check(&c, err, sizeof err), 0);
    CHECK(c.attn_scale == 1.0f && c.init_std == MODEL_INIT_STD && c.mask_eps == MODEL_MDM_EPS);
}
