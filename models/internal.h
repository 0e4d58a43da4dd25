/*
 * internal.h — private to models/: what its .c files share and nobody else
 * may use (the module's contract is models.h). SIMD helpers are written with
 * GCC vector extensions, so they compile to AVX2/AVX-512 under -march=native
 * and to plain scalar code elsewhere, without intrinsics.
 */
#ifndef XOVER_MODELS_INTERNAL_H
#define XOVER_MODELS_INTERNAL_H

#include "models/models.h"

#include <string.h>

/* Without -march (the sanitizer build) GCC warns that 32-byte vectors passed
 * by value would use a different ABI with AVX; these helpers are static
 * inline, so no ABI is crossed. */
#pragma GCC diagnostic ignored "-Wpsabi"

/* 8 floats; the unaligned alias is for loads/stores through float*. */
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef float v8fu __attribute__((vector_size(32), aligned(4), may_alias));

static inline v8f v8_load(const float *p) { return *(const v8fu *)p; }
static inline void v8_store(float *p, v8f v) { *(v8fu *)p = v; }
static inline v8f v8_set1(float x) { return (v8f){x, x, x, x, x, x, x, x}; }
static inline float v8_sum(v8f v)
{
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}
static inline float v8_max(v8f v)
{
    float m = v[0];
    for (int i = 1; i < 8; i++) m = v[i] > m ? v[i] : m;
    return m;
}
static inline v8f v8_select(v8i m, v8f a, v8f b)
{
    return (v8f)((m & (v8i)a) | (~m & (v8i)b));
}
static inline v8f v8_maxv(v8f a, v8f b) { return v8_select(a > b, a, b); }
static inline v8f v8_minv(v8f a, v8f b) { return v8_select(a < b, a, b); }

/* exp(x) to about 2 ulp on [-87, 88] (clamped outside): Cephes' range
 * reduction x = n ln2 + r and a degree-6 polynomial, 2^n built in the
 * exponent bits. */
static inline v8f v8_exp(v8f x)
{
    x = v8_minv(v8_maxv(x, v8_set1(-87.3f)), v8_set1(88.3f));
    const v8f magic = v8_set1(12582912.0f); /* 1.5 * 2^23: round to integer */
    v8f t = x * v8_set1(1.44269504088896341f) + magic;
    v8f n = t - magic;
    v8f r = x - n * v8_set1(0.693359375f);
    r = r - n * v8_set1(-2.12194440e-4f);
    v8f p = v8_set1(1.9875691500e-4f);
    p = p * r + v8_set1(1.3981999507e-3f);
    p = p * r + v8_set1(8.3334519073e-3f);
    p = p * r + v8_set1(4.1665795894e-2f);
    p = p * r + v8_set1(1.6666665459e-1f);
    p = p * r + v8_set1(5.0000001201e-1f);
    p = p * (r * r) + r + v8_set1(1.0f);
    v8i ni = (v8i)t - (v8i){0x4B400000, 0x4B400000, 0x4B400000, 0x4B400000,
                             0x4B400000, 0x4B400000, 0x4B400000, 0x4B400000};
    /* 2^n in two halves so that n = 128 (x near 88.3) does not overflow. */
    v8i h = ni >> 1;
    v8f s1 = (v8f)((h + 127) << 23), s2 = (v8f)((ni - h + 127) << 23);
    return p * s1 * s2;
}
static inline float scalar_exp(float x)
{
    v8f v = v8_exp(v8_set1(x));
    return v[0];
}

/* Every sgemm of the module goes through here (row-major), so that the
 * benchmark can record the exact calls of a step. */
void mm(char ta, char tb, int m, int n, int k, const float *A, int lda, const float *B, int ldb,
        float beta, float *C, int ldc);
void mm_trace_begin(model_gemm_call *calls, size_t cap);
size_t mm_trace_end(void);

/* The model's layout, shared by model.c and the files that drive it. */
typedef struct {
    float *wte, *whead, *lnf;         /* V x C, V x C, C */
    float *ln1, *ln2;                 /* L x C each */
    float *wqkv, *wo, *w13, *w2;      /* L x 3C x C, L x C x C, L x E' x 2F x C, L x E' x C x F
                                         (E' = max(experts, 1)) */
    float *wr;                        /* L x E x C: the routers (none when dense) */
} model_tensors;

typedef struct {
    float *res;   /* (L+1) x N x C: residual stream entering each layer, then final */
    /* per layer; h13 and g have R = N (dense) or N*top_k (experts) rows */
    float *ln1, *rstd1, *qkv, *att, *atty, *mid, *ln2, *rstd2, *h13, *g;
    float *lnf, *rstdf;
    /* mixture of experts, per layer (NULL when dense) */
    float *probs, *gate, *xg, *y;
    int32_t *choice, *row, *src, *off;
    /* training noise masks (NULL when that noise is off): per token; per
     * layer [B,H,T,T] (mask, then dropped probabilities); per layer and
     * sublayer [2][N,C] */
    float *tokmask, *attd, *resmask;
    /* scratch shared by all layers */
    float *dres, *dln, *dqkv, *datty, *dh13, *dg, *dp, *head, *rope, *weights, *nll, *tmp;
    float *dy, *dxg, *dprobs; /* experts only */
    int32_t *inputs, *targets;
} model_acts;

struct model {
    model_config cfg;
    size_t n_params, n_acts;
    float *params, *grads, *m, *v, *acts;
    model_tensors p, g;
    model_acts a;
    uint64_t step;
    model_rng rng;
    /* the last forward's balance loss (mean over layers) and dropped share */
    double moe_aux, moe_dropped;
};

/* Final hidden states (after the last RMSNorm) into m->a.lnf for B x T. */
void model_hidden(model *m, const int32_t *inputs, int B, int T, int causal);

#endif
