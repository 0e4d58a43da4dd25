/*
 * test_models_layers.c — each layer's forward against a double-precision
 * reference, and its backward against central finite differences of that
 * reference (method: tests/test_models_ref.h).
 */
#include "tests/harness.h"
#include "tests/test_models_ref.h"

#define TOL 2e-3 /* relative, against float arithmetic */

typedef struct {
    double *x, *w, *r, *out;
    const int32_t *tg;
    const float *wt;
    int B, T, N, C, OC, H, causal;
    int32_t excl;
} lctx;

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static double max_diff(const float *a, const double *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(a[i] - b[i]) > m) m = fabs(a[i] - b[i]);
    return m;
}

static double f_rmsnorm(void *p)
{
    lctx *c = p;
    ref_rmsnorm(c->out, c->x, c->w, c->N, c->C);
    return dot(c->r, c->out, (size_t)c->N * c->C);
}

TEST(layer_rmsnorm_matches_reference_and_finite_differences)
{
    model_rng g;
    model_rng_seed(&g, 1);
    int N = 5, C = 12;
    double x[60], w[12], r[60], out[60];
    ref_fill(&g, x, 60, 1.5);
    ref_fill(&g, w, 12, 1.0);
    ref_fill(&g, r, 60, 1.0);
    float *xf = ref_tof(x, 60), *wf = ref_tof(w, 12), *rf = ref_tof(r, 60);
    float yf[60], rstd[5], dx[60] = {0}, dw[12] = {0};
    layer_rmsnorm_forward(yf, rstd, xf, wf, N, C);
    ref_tod(x, xf, 60), ref_tod(w, wf, 12);
    lctx c = {.x = x, .w = w, .r = r, .out = out, .N = N, .C = C};
    f_rmsnorm(&c);
    CHECK(max_diff(yf, out, 60) < 1e-5);
    layer_rmsnorm_backward(dx, dw, rf, xf, wf, rstd, N, C);
    CHECK(fd_check("rmsnorm dx", f_rmsnorm, &c, x, dx, 60, 1) < TOL);
    CHECK(fd_check("rmsnorm dw", f_rmsnorm, &c, w, dw, 12, 1) < TOL);
    free(xf), free(wf), free(rf);
}

static double f_linear(void *p)
{
    lctx *c = p;
    ref_linear(c->out, c->x, c->w, c->N, c->C, c->OC, 0);
    return dot(c->r, c->out, (size_t)c->N * c->OC);
}

TEST(layer_linear_matches_reference_and_finite_differences)
{
    model_rng g;
    model_rng_seed(&g, 2);
    int N = 4, C = 10, OC = 6;
    double x[40], W[60], r[24], out[24];
    ref_fill(&g, x, 40, 1), ref_fill(&g, W, 60, 1), ref_fill(&g, r, 24, 1);
    float *xf = ref_tof(x, 40), *Wf = ref_tof(W, 60), *rf = ref_tof(r, 24);
    float y[24], dx[40], dW[60] = {0};
    layer_linear_forward(y, xf, Wf, N, C, OC, 0);
    lctx c = {.x = x, .w = W, .r = r, .out = out, .N = N, .C = C, .OC = OC};
    f_linear(&c);
    CHECK(max_diff(y, out, 24) < 1e-5);
    layer_linear_backward(dx, dW, rf, xf, Wf, N, C, OC, 0);
    CHECK(fd_check("linear dx", f_linear, &c, x, dx, 40, 1) < TOL);
    CHECK(fd_check("linear dW", f_linear, &c, W, dW, 60, 1) < TOL);
    /* accumulate mode adds onto what is there */
    float y2[24];
    for (int i = 0; i < 24; i++) y2[i] = 1.0f;
    layer_linear_forward(y2, xf, Wf, N, C, OC, 1);
    CHECK_NEAR(y2[5], y[5] + 1.0f, 1e-5);
    free(xf), free(Wf), free(rf);
}

/* The attention scale f_rope applies (the test sets it). */
static double rope_scale = 1;

static double f_rope(void *p)
{
    lctx *c = p;
    ref_rope(c->out, c->x, c->B, c->T, c->C, c->H, rope_scale);
    return dot(c->r, c->out, (size_t)c->B * c->T * 3 * c->C);
}

/* At attn_scale 1 (the usual attention) and at 2.5 (model.attn_scale). */
TEST(layer_rope_matches_reference_and_finite_differences)
{
    static const float scales[2] = {1.0f, 2.5f};
    for (int k = 0; k < 2; k++) {
        model_rng g;
        model_rng_seed(&g, 3);
        int B = 2, T = 5, C = 12, H = 2, n = B * T * 3 * C;
        double *x = malloc(sizeof(double) * n), *r = malloc(sizeof(double) * n), *out = malloc(sizeof(double) * n);
        ref_fill(&g, x, n, 1), ref_fill(&g, r, n, 1);
        float *q = ref_tof(x, n), *d = ref_tof(r, n), cs[5 * 6];
        layer_rope_table(cs, T, C / H);
        layer_rope_forward(q, cs, B, T, C, H, scales[k]);
        lctx c = {.x = x, .r = r, .out = out, .B = B, .T = T, .C = C, .H = H};
        rope_scale = scales[k];
        f_rope(&c);
        double fwd = max_diff(q, out, n);
        layer_rope_backward(d, cs, B, T, C, H, scales[k]);
        double worst = fd_check("rope", f_rope, &c, x, d, n, 1);
        free(x), free(r), free(out), free(q), free(d);
        CHECK(fwd < 1e-5);
        CHECK(worst < TOL);
    }
}

static double f_attn(void *p)
{
    lctx *c = p;
    ref_attention(c->out, c->x, c->B, c->T, c->C, c->H, c->causal);
    return dot(c->r, c->out, (size_t)c->B * c->T * c->C);
}

/* T = 70 exercises the causal row blocks (32 + 32 + 6). */
static void check_attention(int B, int T, int C, int H, int causal, size_t stride, int *ok)
{
    model_rng g;
    model_rng_seed(&g, 4 + causal + T);
    int n = B * T * 3 * C, no = B * T * C;
    double *x = malloc(sizeof(double) * n), *r = malloc(sizeof(double) * no), *out = malloc(sizeof(double) * no);
    ref_fill(&g, x, n, 1.5), ref_fill(&g, r, no, 1);
    float *qkv = ref_tof(x, n), *rf = ref_tof(r, no), *y = malloc(sizeof(float) * no);
    float *att = malloc(sizeof(float) * B * H * T * T), *dqkv = malloc(sizeof(float) * n);
    float *scratch = malloc(sizeof(float) * T * T);
    layer_attention_forward(y, att, NULL, qkv, B, T, C, H, causal);
    lctx c = {.x = x, .r = r, .out = out, .B = B, .T = T, .C = C, .H = H, .causal = causal};
    f_attn(&c);
    *ok = max_diff(y, out, no) < 1e-5;
    /* probabilities: rows sum to 1, nothing above the diagonal when causal */
    for (int i = 0; i < T && *ok; i++) {
        double s = 0;
        for (int j = 0; j < T; j++) {
            s += att[i * T + j];
            if (causal && j > i && att[i * T + j] != 0) *ok = 0;
        }
        if (fabs(s - 1) > 1e-5) *ok = 0;
    }
    layer_attention_backward(dqkv, scratch, rf, qkv, att, NULL, B, T, C, H, causal);
    if (*ok) *ok = fd_check(causal ? "attention causal" : "attention bidir", f_attn, &c, x, dqkv, n, stride) < TOL;
    free(x), free(r), free(out), free(qkv), free(rf), free(y), free(att), free(dqkv), free(scratch);
}

TEST(layer_attention_causal_and_bidirectional_gradients)
{
    int ok;
    check_attention(2, 7, 12, 3, 1, 1, &ok);
    CHECK(ok);
    check_attention(2, 7, 12, 3, 0, 1, &ok);
    CHECK(ok);
    check_attention(1, 70, 8, 2, 1, 5, &ok);
    CHECK(ok);
    check_attention(1, 70, 8, 2, 0, 5, &ok);
    CHECK(ok);
}

static double f_swiglu(void *p)
{
    lctx *c = p;
    ref_swiglu(c->out, c->x, c->N, c->C);
    return dot(c->r, c->out, (size_t)c->N * c->C);
}

TEST(layer_swiglu_matches_reference_and_finite_differences)
{
    model_rng g;
    model_rng_seed(&g, 5);
    int N = 3, F = 11;
    double x[66], r[33], out[33];
    ref_fill(&g, x, 66, 4), ref_fill(&g, r, 33, 1);
    float *h = ref_tof(x, 66), *rf = ref_tof(r, 33), y[33], dh[66];
    layer_swiglu_forward(y, h, N, F);
    lctx c = {.x = x, .r = r, .out = out, .N = N, .C = F};
    f_swiglu(&c);
    CHECK(max_diff(y, out, 33) < 1e-5);
    layer_swiglu_backward(dh, rf, h, N, F);
    CHECK(fd_check("swiglu", f_swiglu, &c, x, dh, 66, 1) < TOL);
    free(h), free(rf);
}

static double f_head(void *p)
{
    lctx *c = p;
    return ref_head(c->x, c->w, c->tg, c->wt, c->N, c->C, c->OC, c->excl);
}

static void check_head(int N, int C, int V, int32_t excl, size_t stride, int *ok)
{
    model_rng g;
    model_rng_seed(&g, 6 + N);
    double *x = malloc(sizeof(double) * N * C), *W = malloc(sizeof(double) * V * C);
    ref_fill(&g, x, (size_t)N * C, 1), ref_fill(&g, W, (size_t)V * C, 1);
    int32_t *tg = malloc(sizeof(int32_t) * N);
    float *wt = malloc(sizeof(float) * N), *nll = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) {
        tg[i] = i % 3 == 1 ? -1 : (int32_t)model_rng_below(&g, V);
        if (tg[i] == excl) tg[i] = (excl + 1) % V;
        wt[i] = (float)(0.5 + model_rng_uniform(&g));
    }
    float *xf = ref_tof(x, (size_t)N * C), *Wf = ref_tof(W, (size_t)V * C);
    float *dx = malloc(sizeof(float) * N * C), *dW = calloc((size_t)V * C, sizeof(float));
    float *scratch = malloc(sizeof(float) * layer_head_scratch(C, V));
    double loss = layer_head_forward_backward(dx, dW, nll, scratch, xf, Wf, tg, wt, N, C, V, excl);
    lctx c = {.x = x, .w = W, .tg = tg, .wt = wt, .N = N, .C = C, .OC = V, .excl = excl};
    double want = f_head(&c);
    *ok = fabs(loss - want) < 1e-5 * (1 + fabs(want));
    /* nll: unscored rows 0; forward-only call gives the same loss */
    for (int i = 0; i < N && *ok; i++)
        if (tg[i] < 0 && nll[i] != 0) *ok = 0;
    double loss2 = layer_head_forward_backward(NULL, NULL, NULL, scratch, xf, Wf, tg, wt, N, C, V, excl);
    if (loss2 != loss) *ok = 0;
    if (excl >= 0)
        for (int k = 0; k < C; k++)
            if (dW[excl * C + k] != 0) *ok = 0; /* the excluded logit takes no gradient */
    if (*ok) *ok = fd_check("head dx", f_head, &c, x, dx, (size_t)N * C, stride) < TOL;
    if (*ok) *ok = fd_check("head dW", f_head, &c, W, dW, (size_t)V * C, 1) < TOL;
    free(x), free(W), free(tg), free(wt), free(nll), free(xf), free(Wf), free(dx), free(dW), free(scratch);
}

TEST(layer_head_cross_entropy_gradients_with_excluded_logit)
{
    int ok;
    check_head(6, 10, 13, -1, 1, &ok);
    CHECK(ok);
    check_head(6, 10, 13, 4, 1, &ok);
    CHECK(ok);
    check_head(300, 8, 9, 2, 7, &ok); /* several chunks of gathered rows */
    CHECK(ok);
}

static double f_embed(void *p)
{
    lctx *c = p;
    double s = 0;
    for (int i = 0; i < c->N; i++)
        for (int k = 0; k < c->C; k++) s += c->r[i * c->C + k] * c->w[c->tg[i] * c->C + k];
    return s;
}

TEST(layer_embedding_gradient_accumulates_repeated_tokens)
{
    model_rng g;
    model_rng_seed(&g, 7);
    int N = 6, C = 4;
    int32_t tok[6] = {1, 3, 1, 0, 3, 1};
    double W[20], r[24];
    ref_fill(&g, W, 20, 1), ref_fill(&g, r, 24, 1);
    float *Wf = ref_tof(W, 20), *rf = ref_tof(r, 24), out[24], dW[20] = {0};
    layer_embed_forward(out, tok, Wf, N, C);
    CHECK(out[2 * 4 + 3] == Wf[1 * 4 + 3]);
    layer_embed_backward(dW, rf, tok, N, C);
    lctx c = {.w = W, .r = r, .tg = tok, .N = N, .C = C};
    CHECK(fd_check("embedding", f_embed, &c, W, dW, 20, 1) < TOL);
    CHECK(dW[2 * 4] == 0); /* token 2 never appears */
    free(Wf), free(rf);
}
