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

/* The worker threads (pool.c). A region runs fn(ctx, i) for i in
 * [0, n_items), each item on whichever thread is free; items must write
 * disjoint memory. NULL or a pool of 1 runs them in order on the caller. */
typedef struct model_pool model_pool;
typedef void (*pool_fn)(void *ctx, int item);
model_pool *pool_create(void);
int pool_resize(model_pool *p, int n); /* total threads, the caller included */
int pool_size(const model_pool *p);
/* Threads worth waking for a memory-bound region over n floats: all of
 * them, or just the caller when the work is smaller than a wake-up costs
 * on a busy machine. */
int pool_ways(const model_pool *p, size_t n);
void pool_run(model_pool *p, pool_fn fn, void *ctx, int n_items);
void pool_free(model_pool *p);

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
    float *dres, *dln, *dqkv, *datty, *dh13, *dg, *head, *rope, *weights, *nll, *tmp;
    float *dy, *dxg, *dprobs; /* experts only */
    int32_t *inputs, *targets;
} model_acts;

/* A batch is cut into shards of whole sequences (pass.c): each shard's
 * weight gradients go to its own partial buffer, laid out like the
 * gradients of the tensors it owns (every tensor but the embedding and,
 * for a mixture of experts, the experts and routers), and are summed in
 * shard order. */
typedef struct {
    model_tensors g;   /* its partial gradients (wte, experts, routers NULL) */
    float *part;       /* the buffer behind g */
    float *head, *dp;  /* its scratch: the head's, attention's dS [T*T] */
} model_shard;

/* The parameter ranges whose gradients the shards own: [start, start+n)
 * of the parameters, at pos in a shard's partial buffer. */
typedef struct {
    size_t start, n, pos;
} model_segment;

#define MODEL_SHARD_ROWS 256 /* default rows (tokens) per shard */

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
    /* threads and shards (pass.c) */
    model_pool *pool;
    int tracing;               /* mm() records calls: run every region inline */
    int shard_rows;            /* target rows per shard */
    int max_shards;            /* shards allocated: model_shard_count(batch, seq_len) */
    model_shard *shards;
    float *shard_mem;          /* behind every shard's part, head and dp */
    model_segment seg[2];
    int n_seg;
    size_t n_part;             /* floats of one partial buffer */
    double *norm_blocks;       /* the gradient norm's per-block sums */
};

/* pass.c: shards of a B x T batch for a model, or for shards of about
 * `rows` rows (never depends on the threads). */
int shard_count(const model *m, int B, int T);
int shards_for(int rows, int B, int T);
/* (Re)allocate the shards for m->shard_rows; 0 or -1 (out of memory). */
int shards_alloc(model *m);
void shards_free(model *m);
size_t shards_bytes(const model_config *c, int shard_rows);

/* Final hidden states (after the last RMSNorm) into m->a.lnf for B x T. */
void model_hidden(model *m, const int32_t *inputs, int B, int T, int causal);
/* Linear backward with dW = beta * dW + dout^T x (beta 0 overwrites). */
void linear_backward_beta(float *dx, float *dW, const float *dout, const float *x, const float *W,
                          int N, int C, int OC, int dx_accumulate, float beta);
/* The head over N rows (layer_head_forward_backward) with the per-row CE
 * always stored in nll[N]; when dW_fresh, dW is overwritten rather than
 * added to (zeroed when no row is scored). Returns the scored rows. */
int head_rows(float *dx, float *dW, float *nll, float *scratch, const float *x, const float *W,
              const int32_t *targets, const float *weights, int N, int C, int V, int32_t excluded,
              int dW_fresh);

#endif
