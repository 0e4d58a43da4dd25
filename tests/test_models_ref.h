/*
 * test_models_ref.h — double-precision reference implementations of the
 * transformer's layers and of the whole model, and a central finite
 * difference checker, for the gradient tests (test_models_layers.c,
 * test_models.c).
 *
 * Method: every backward is checked against central finite differences
 * (h = 1e-5) of a DOUBLE-precision reference of the same function, written
 * here independently as plain loops (no BLAS, no vector code, libm exp). The
 * float backward under test receives dout = r for a fixed random r, and the
 * reference loss is sum(r * out) (or the weighted cross-entropy for the
 * head), so the two compute the same gradient; the double FD has error
 * ~1e-9, far below the float tolerance we allow (a few 1e-4 relative).
 */
#ifndef XOVER_TEST_MODELS_REF_H
#define XOVER_TEST_MODELS_REF_H

#include "models/internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline void ref_fill(model_rng *r, double *x, size_t n, double s)
{
    for (size_t i = 0; i < n; i++) x[i] = (model_rng_uniform(r) * 2 - 1) * s;
}
static inline float *ref_tof(const double *x, size_t n)
{
    float *f = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) f[i] = (float)x[i];
    return f;
}
static inline void ref_tod(double *x, const float *f, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = f[i];
}

static inline void ref_rmsnorm(double *out, const double *x, const double *w, int N, int C)
{
    for (int i = 0; i < N; i++) {
        double ss = 0;
        for (int c = 0; c < C; c++) ss += x[i * C + c] * x[i * C + c];
        double r = 1.0 / sqrt(ss / C + 1e-5);
        for (int c = 0; c < C; c++) out[i * C + c] = x[i * C + c] * r * w[c];
    }
}

static inline void ref_linear(double *out, const double *x, const double *W, int N, int C, int OC, int acc)
{
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            double s = acc ? out[i * OC + o] : 0;
            for (int c = 0; c < C; c++) s += x[i * C + c] * W[o * C + c];
            out[i * OC + o] = s;
        }
}

/* RoPE (rotate-half, base 10000) on q and k of qkv[N,3C], q scaled by
 * attn_scale / sqrt(D). */
static inline void ref_rope(double *out, const double *in, int B, int T, int C, int H, double attn_scale)
{
    int D = C / H, h2 = D / 2;
    for (int n = 0; n < B * T; n++) {
        int t = n % T;
        for (int j = 0; j < 3 * C; j++) out[n * 3 * C + j] = in[n * 3 * C + j];
        for (int part = 0; part < 2; part++)
            for (int h = 0; h < H; h++) {
                const double *q = in + n * 3 * C + part * C + h * D;
                double *o = out + n * 3 * C + part * C + h * D;
                double sc = part == 0 ? attn_scale / sqrt((double)D) : 1.0;
                for (int i = 0; i < h2; i++) {
                    double th = t * pow(10000.0, -2.0 * i / D), c = cos(th), s = sin(th);
                    o[i] = (q[i] * c - q[i + h2] * s) * sc;
                    o[i + h2] = (q[i + h2] * c + q[i] * s) * sc;
                }
            }
    }
}

static inline void ref_attention(double *out, const double *qkv, int B, int T, int C, int H, int causal)
{
    int D = C / H;
    double *p = malloc(sizeof(double) * T);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++) {
                const double *q = qkv + (b * T + i) * 3 * C + h * D;
                int len = causal ? i + 1 : T;
                double mx = -1e300, sum = 0;
                for (int j = 0; j < len; j++) {
                    const double *k = qkv + (b * T + j) * 3 * C + C + h * D;
                    double s = 0;
                    for (int d = 0; d < D; d++) s += q[d] * k[d];
                    p[j] = s;
                    if (s > mx) mx = s;
                }
                for (int j = 0; j < len; j++) sum += (p[j] = exp(p[j] - mx));
                for (int d = 0; d < D; d++) {
                    double s = 0;
                    for (int j = 0; j < len; j++) s += p[j] / sum * qkv[(b * T + j) * 3 * C + 2 * C + h * D + d];
                    out[(b * T + i) * C + h * D + d] = s;
                }
            }
    free(p);
}

static inline void ref_swiglu(double *g, const double *h, int N, int F)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < F; j++) {
            double a = h[i * 2 * F + j], u = h[i * 2 * F + F + j];
            g[i * F + j] = a / (1 + exp(-a)) * u;
        }
}

/* sum_i w_i CE_i over rows with target >= 0, `excluded` left out. */
static inline double ref_head(const double *x, const double *W, const int32_t *tg, const float *w, int N,
                       int C, int V, int32_t excluded)
{
    double *lg = malloc(sizeof(double) * V), loss = 0;
    for (int i = 0; i < N; i++) {
        if (tg[i] < 0) continue;
        double mx = -1e300, sum = 0;
        for (int v = 0; v < V; v++) {
            double s = 0;
            for (int c = 0; c < C; c++) s += x[i * C + c] * W[v * C + c];
            lg[v] = s;
            if (v != excluded && s > mx) mx = s;
        }
        for (int v = 0; v < V; v++)
            if (v != excluded) sum += exp(lg[v] - mx);
        loss += (w ? w[i] : 1.0) * (mx + log(sum) - lg[tg[i]]);
    }
    free(lg);
    return loss;
}

/* The mixture-of-experts feed-forward in double (models.h's definition):
 * ADDS sum_r p_ie * SwiGLU_e(x_i) onto out for each accepted choice and
 * returns the balance loss E * sum_e f_e P_e. Choices: the k largest
 * probabilities, ties to the lower index; cap > 0 accepts an expert's
 * choices in rank then token order up to cap. *dropped (may be NULL)
 * counts the rest; *margin (may be NULL) receives the smallest gap between
 * a chosen and an unchosen probability of one token (routing ties are
 * where finite differences would cross a discontinuity). */
static inline double ref_moe(double *out, const double *x, const double *wr, const double *w13,
                             const double *w2, int N, int C, int F, int E, int k, int cap,
                             long *dropped, double *margin)
{
    double *p = malloc(sizeof(double) * N * E), *h = malloc(sizeof(double) * 2 * F);
    double *g = malloc(sizeof(double) * F);
    int *ch = malloc(sizeof(int) * N * k), *cnt = calloc(E, sizeof(int)), *acc = calloc(E, sizeof(int));
    double mg = 1e300;
    for (int i = 0; i < N; i++) {
        double mx = -1e300, sum = 0;
        for (int e = 0; e < E; e++) {
            double s = 0;
            for (int c = 0; c < C; c++) s += x[i * C + c] * wr[e * C + c];
            p[i * E + e] = s;
            if (s > mx) mx = s;
        }
        for (int e = 0; e < E; e++) sum += (p[i * E + e] = exp(p[i * E + e] - mx));
        for (int e = 0; e < E; e++) p[i * E + e] /= sum;
        for (int r = 0; r < k; r++) {
            int best = -1;
            for (int e = 0; e < E; e++) {
                int taken = 0;
                for (int q = 0; q < r; q++) taken |= ch[i * k + q] == e;
                if (!taken && (best < 0 || p[i * E + e] > p[i * E + best])) best = e;
            }
            ch[i * k + r] = best;
            cnt[best]++;
        }
        for (int e = 0; e < E; e++) {
            int taken = 0;
            for (int q = 0; q < k; q++) taken |= ch[i * k + q] == e;
            if (!taken && fabs(p[i * E + ch[i * k + k - 1]] - p[i * E + e]) < mg)
                mg = fabs(p[i * E + ch[i * k + k - 1]] - p[i * E + e]);
        }
    }
    double aux = 0;
    for (int e = 0; e < E; e++) {
        double pe = 0;
        for (int i = 0; i < N; i++) pe += p[i * E + e];
        aux += (double)cnt[e] / ((double)N * k) * pe / N;
    }
    aux *= E;
    long drop = 0;
    for (int r = 0; r < k; r++)
        for (int i = 0; i < N; i++) {
            int e = ch[i * k + r];
            if (cap > 0 && acc[e] >= cap) { drop++; continue; }
            acc[e]++;
            const double *W13 = w13 + (size_t)e * 2 * F * C, *W2 = w2 + (size_t)e * C * F;
            for (int o = 0; o < 2 * F; o++) {
                double s = 0;
                for (int c = 0; c < C; c++) s += x[i * C + c] * W13[o * C + c];
                h[o] = s;
            }
            for (int j = 0; j < F; j++) g[j] = h[j] / (1 + exp(-h[j])) * h[F + j];
            for (int c = 0; c < C; c++) {
                double s = 0;
                for (int j = 0; j < F; j++) s += g[j] * W2[c * F + j];
                out[i * C + c] += p[i * E + e] * s;
            }
        }
    if (dropped) *dropped = drop;
    if (margin) *margin = E > k ? mg : 1.0;
    free(p), free(h), free(g), free(ch), free(cnt), free(acc);
    return aux;
}

/* Training noise for the reference model: the float model's own masks
 * (read from its activations after a noisy forward), NULL = none. */
typedef struct {
    const float *tokmask, *resmask; /* [N]; per layer [2][batch*seq_len*C] */
    int cap;                        /* experts' capacity (0 = none) */
} ref_noise;

/* The whole model in double: params in the float model's layout (pd is a
 * double copy of model_params, same offsets); with experts, the loss
 * includes aux_weight * the mean balance loss, as the float gradient does. */
static inline double ref_model_loss_ex(const model *m, const double *pd, const int32_t *in,
                                       const int32_t *tg, const float *w, int B, int T, int causal,
                                       const ref_noise *nz)
{
    const model_config *c = &m->cfg;
    int L = c->layers, C = c->dim, F = c->hidden, H = c->heads, V = c->vocab, N = B * T;
    int E = c->experts, K = c->top_k;
    size_t NC = (size_t)c->batch * c->seq_len * C;
#define P(field) (pd + (m->p.field - m->params))
    double *x = malloc(sizeof(double) * N * C), *ln = malloc(sizeof(double) * N * C);
    double *qkv = malloc(sizeof(double) * N * 3 * C), *qr = malloc(sizeof(double) * N * 3 * C);
    double *att = malloc(sizeof(double) * N * C), *h13 = malloc(sizeof(double) * N * 2 * F);
    double *g = malloc(sizeof(double) * N * F), *y = malloc(sizeof(double) * N * C);
    double aux = 0;
    const float *tm = nz ? nz->tokmask : NULL, *rm = nz ? nz->resmask : NULL;
    for (int i = 0; i < N; i++)
        for (int k = 0; k < C; k++) x[i * C + k] = P(wte)[in[i] * C + k] * (tm ? tm[i] : 1.0);
    for (int l = 0; l < L; l++) {
        const float *m1 = rm ? rm + (size_t)l * 2 * NC : NULL, *m2 = rm ? m1 + NC : NULL;
        ref_rmsnorm(ln, x, P(ln1) + l * C, N, C);
        ref_linear(qkv, ln, P(wqkv) + (size_t)l * 3 * C * C, N, C, 3 * C, 0);
        ref_rope(qr, qkv, B, T, C, H, c->attn_scale);
        ref_attention(att, qr, B, T, C, H, causal);
        ref_linear(y, att, P(wo) + (size_t)l * C * C, N, C, C, 0);
        for (int i = 0; i < N * C; i++) x[i] += y[i] * (m1 ? m1[i] : 1.0);
        ref_rmsnorm(ln, x, P(ln2) + l * C, N, C);
        if (E) {
            for (int i = 0; i < N * C; i++) y[i] = 0;
            aux += ref_moe(y, ln, P(wr) + (size_t)l * E * C, P(w13) + (size_t)l * E * 2 * F * C,
                           P(w2) + (size_t)l * E * C * F, N, C, F, E, K, nz ? nz->cap : 0, NULL, NULL);
        } else {
            ref_linear(h13, ln, P(w13) + (size_t)l * 2 * F * C, N, C, 2 * F, 0);
            ref_swiglu(g, h13, N, F);
            ref_linear(y, g, P(w2) + (size_t)l * C * F, N, F, C, 0);
        }
        for (int i = 0; i < N * C; i++) x[i] += y[i] * (m2 ? m2[i] : 1.0);
    }
    ref_rmsnorm(ln, x, P(lnf), N, C);
    double loss = ref_head(ln, P(whead), tg, w, N, C, V, c->objective == MODEL_MDM ? c->mask_id : -1);
#undef P
    free(x), free(ln), free(qkv), free(qr), free(att), free(h13), free(g), free(y);
    return loss + (E ? (double)c->aux_weight * aux / L : 0.0);
}

static inline double ref_model_loss(const model *m, const double *pd, const int32_t *in, const int32_t *tg,
                                    const float *w, int B, int T, int causal)
{
    return ref_model_loss_ex(m, pd, in, tg, w, B, T, causal, NULL);
}

/* Central differences of f over x[idx] for the listed indices, against the
 * analytic gradient g[idx]. Returns the worst error relative to
 * (|numeric| + 1e-2 * max|numeric|); prints the worst offender. */
typedef double (*ref_fn)(void *ctx);
static inline double fd_check(const char *what, ref_fn f, void *ctx, double *x, const float *g, size_t n,
                       size_t stride)
{
    const double h = 1e-5;
    double *num = malloc(sizeof(double) * n), gmax = 0;
    for (size_t i = 0; i < n; i += stride) {
        double keep = x[i];
        x[i] = keep + h;
        double fp = f(ctx);
        x[i] = keep - h;
        double fm = f(ctx);
        x[i] = keep;
        num[i] = (fp - fm) / (2 * h);
        if (fabs(num[i]) > gmax) gmax = fabs(num[i]);
    }
    double worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i += stride) {
        double e = fabs(num[i] - g[i]) / (fabs(num[i]) + 1e-2 * gmax + 1e-12);
        if (e > worst) worst = e, wi = i;
    }
    if (worst > 1e-3)
        fprintf(stderr, "%s: worst at %zu: analytic %.9g numeric %.9g (max |g| %.3g)\n", what, wi,
                g[wi], num[wi], gmax);
    free(num);
    return worst;
}

/* ---- the whole model against the reference ----
 * A tiny model both objectives' tests share, the context of the loss that
 * central differences take (test_models_moe.c adds its noise masks), and
 * the gradient checked against them (test_models.c, and
 * test_models_plateau.c with a scaled attention). */
static inline model_config ref_tiny(model_objective obj)
{
    model_config c = {.layers = 2, .dim = 16, .heads = 2, .hidden = 24, .vocab = 11,
                      .seq_len = 6, .batch = 2, .objective = obj, .mask_id = 10};
    return c;
}

typedef struct {
    const model *m;
    double *pd;
    const int32_t *in, *tg;
    const float *w;
    int B, T, causal;
    ref_noise nz; /* the training noise's masks; all zero: none */
} ref_mctx;

static inline double ref_f_model(void *p)
{
    ref_mctx *c = p;
    return ref_model_loss_ex(c->m, c->pd, c->in, c->tg, c->w, c->B, c->T, c->causal, &c->nz);
}

/* m's weights made larger than at init (each plus U(-0.3, 0.3) from *g,
 * seeded 9 here and left for the caller's batch), so that every path
 * carries a visible gradient; the parameters, their count in *n. */
static inline float *ref_enlarge_weights(model *m, model_rng *g, size_t *n)
{
    float *p = model_params(m, n);
    model_rng_seed(g, 9);
    for (size_t i = 0; i < *n; i++) p[i] += (float)((model_rng_uniform(g) - 0.5) * 0.6);
    return p;
}

/* cfg's model at seed 42, its weights made larger than at init so every
 * path carries a visible gradient, on a fixed batch: the worst gradient
 * error against central differences, and |loss - reference loss|. */
static inline void ref_check_model_grad(model_config cfg, const char *what, double *worst, double *dloss)
{
    char err[256];
    model *m = model_create(&cfg, 42, err, sizeof err);
    size_t n;
    model_rng g;
    float *p = ref_enlarge_weights(m, &g, &n);
    int B = cfg.batch, T = cfg.seq_len, causal = cfg.objective == MODEL_AR;
    int32_t tok[12], in[12], tg[12];
    float w[12];
    for (int i = 0; i < 12; i++) tok[i] = (int32_t)model_rng_below(&g, 10);
    if (causal)
        model_ar_batch(tok, B, T, in, tg, w);
    else {
        model_rng r;
        model_rng_seed(&r, 5);
        model_mdm_batch(&r, tok, B, T, cfg.mask_id, in, tg, w, NULL);
    }
    double loss = model_forward_backward(m, in, tg, w, B, T, causal);
    double *pd = malloc(sizeof(double) * n);
    ref_tod(pd, p, n);
    ref_mctx c = {m, pd, in, tg, w, B, T, causal, {NULL, NULL, 0}};
    *dloss = fabs(loss - ref_f_model(&c));
    *worst = fd_check(what, ref_f_model, &c, pd, model_grads(m, NULL), n, 3);
    free(pd);
    model_free(m);
}

#endif
