/*
 * model.c — the transformer as a whole: config checks, sizes, the
 * allocations (parameters, gradients, AdamW moments, activations, and the
 * shards' partial gradients and scratch) carved into named tensors, the
 * model's threads, AdamW and the learning-rate schedules, and the two
 * objectives' training batches. The passes themselves are in pass.c.
 */
#include "models/internal.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- configuration --------------------------------------------------------- */

int model_default_hidden(int dim)
{
    long h = lround(8.0 * dim / 3.0);
    return (int)((h + 7) / 8 * 8);
}

int model_config_check(model_config *c, char *err, size_t errlen)
{
#define BAD(...) return snprintf(err, errlen, __VA_ARGS__), -1
    if (c->layers < 1 || c->layers > 256) BAD("model.layers must be in 1..256, not %d", c->layers);
    if (c->dim < 2 || c->dim > 16384) BAD("model.dim must be in 2..16384, not %d", c->dim);
    if (c->heads < 1) BAD("model.heads must be >= 1, not %d", c->heads);
    if (c->dim % c->heads)
        BAD("model.dim (%d) must be divisible by model.heads (%d)", c->dim, c->heads);
    if ((c->dim / c->heads) % 2)
        BAD("model.dim / model.heads (%d) must be even for RoPE", c->dim / c->heads);
    if (c->hidden == 0) c->hidden = model_default_hidden(c->dim);
    if (c->hidden < 1 || c->hidden > 65536) BAD("model.hidden must be in 1..65536, not %d", c->hidden);
    if (c->vocab < 2 || c->vocab > 1 << 24) BAD("data.vocab must be in 2..16777216, not %d", c->vocab);
    if (c->seq_len < 2 || c->seq_len > 65536) BAD("train.seq_len must be in 2..65536, not %d", c->seq_len);
    if (c->batch < 1 || c->batch > 1 << 20) BAD("train.batch must be in 1..1048576, not %d", c->batch);
    if (c->objective != MODEL_AR && c->objective != MODEL_MDM)
        BAD("objective must be \"ar\" or \"mdm\"");
    if (c->objective == MODEL_MDM && (c->mask_id < 0 || c->mask_id >= c->vocab))
        BAD("the [MASK] id %d is outside the vocabulary of %d", (int)c->mask_id, c->vocab);
    if (c->experts < 0 || c->experts > 1024)
        BAD("model.experts must be in 0..1024, not %d", c->experts);
    if (c->experts == 0) c->top_k = 0; /* dense: no routing */
    else if (c->top_k == 0) c->top_k = 1;
    if (c->experts > 0 && (c->top_k < 1 || c->top_k > c->experts))
        BAD("model.top_k must be in 1..model.experts (%d), not %d", c->experts, c->top_k);
    if (!(c->capacity_factor >= 0 && c->capacity_factor <= 1e6))
        BAD("train.capacity_factor must be >= 0, not %g", c->capacity_factor);
    if (!(c->aux_weight >= 0 && c->aux_weight <= 1e6))
        BAD("train.aux_loss_weight must be >= 0, not %g", c->aux_weight);
    const float noise[4] = {c->input_mask, c->token_dropout, c->attn_dropout, c->resid_dropout};
    static const char *const noise_name[4] = {"input_mask", "token_dropout", "attn_dropout",
                                              "resid_dropout"};
    for (int i = 0; i < 4; i++)
        if (!(noise[i] >= 0 && noise[i] < 1))
            BAD("train.%s must be in [0, 1), not %g", noise_name[i], noise[i]);
    if (c->input_mask > 0 && (c->mask_id < 0 || c->mask_id >= c->vocab))
        BAD("train.input_mask needs a [MASK] id inside the vocabulary of %d, not %d", c->vocab,
            (int)c->mask_id);
    /* The plateau probes: 0 stands for the default. */
    if (c->attn_scale == 0) c->attn_scale = 1.0f;
    if (c->init_std == 0) c->init_std = MODEL_INIT_STD;
    if (c->mask_eps == 0) c->mask_eps = MODEL_MDM_EPS;
    if (!(c->attn_scale > 0 && c->attn_scale <= 1e3))
        BAD("model.attn_scale must be in (0, 1000], not %g", c->attn_scale);
    if (!(c->init_std > 0 && c->init_std <= 10)) BAD("model.init_std must be in (0, 10], not %g", c->init_std);
    if (!(c->mask_eps > 0 && c->mask_eps < 1)) BAD("train.mask_eps must be in (0, 1), not %g", c->mask_eps);
    if ((double)c->batch * c->seq_len * c->dim * (c->experts ? c->top_k : 1) > 4e9)
        BAD("train.batch * train.seq_len * model.dim is too large (%g)",
            (double)c->batch * c->seq_len * c->dim);
    return 0;
#undef BAD
}

/* Tensors are padded to 16 floats (64 bytes) so each starts aligned. */
static size_t pad(size_t n) { return (n + 15) & ~(size_t)15; }

/* The router (wr) sits after the experts and before the norm weights, so a
 * dense model's layout (wr empty) is what it was before experts existed. */
typedef struct { size_t wte, whead, wqkv, wo, w13, w2, wr, lnf, ln1, ln2, total, matrices; } psizes;

static size_t n_experts(const model_config *c) { return c->experts > 0 ? (size_t)c->experts : 1; }

static psizes param_sizes(const model_config *c)
{
    size_t L = c->layers, C = c->dim, F = c->hidden, V = c->vocab, E = n_experts(c);
    psizes s = {pad(V * C), pad(V * C), pad(L * 3 * C * C), pad(L * C * C), pad(L * E * 2 * F * C),
                pad(L * E * C * F), pad(L * (size_t)c->experts * C), pad(C), pad(L * C), pad(L * C), 0, 0};
    s.matrices = s.wte + s.whead + s.wqkv + s.wo + s.w13 + s.w2 + s.wr;
    s.total = s.matrices + s.lnf + s.ln1 + s.ln2;
    return s;
}

/* Block parameters with `ffn` experts' feed-forwards counted. */
static size_t block_params(const model_config *c, size_t ffn)
{
    size_t L = c->layers, C = c->dim, F = c->hidden ? (size_t)c->hidden : (size_t)model_default_hidden(c->dim);
    size_t E = c->experts > 0 ? (size_t)c->experts : 0;
    return L * (3 * C * C + C * C + ffn * 3 * F * C + E * C + 2 * C) + C;
}

size_t model_param_count(const model_config *c, size_t *non_embedding)
{
    size_t blocks = block_params(c, n_experts(c));
    if (non_embedding) *non_embedding = blocks;
    return blocks + 2 * (size_t)c->vocab * c->dim;
}

size_t model_active_param_count(const model_config *c)
{
    size_t k = c->experts > 0 ? (size_t)(c->top_k > 0 ? c->top_k : 1) : 1;
    return block_params(c, k) + 2 * (size_t)c->vocab * c->dim;
}

double model_flops_per_token(const model_config *c)
{
    double L = c->layers, C = c->dim, V = c->vocab, T = c->seq_len;
    double F = c->hidden ? c->hidden : model_default_hidden(c->dim);
    double E = c->experts > 0 ? c->experts : 0, k = E > 0 ? (c->top_k > 0 ? c->top_k : 1) : 1;
    double matmul = L * (4 * C * C + 3 * C * F * k + E * C) + V * C;
    return 6 * matmul + 12 * L * C * T;
}

/* Carve the activations. With base == NULL only counts. */
static size_t carve_acts(const model_config *c, float *base, model_acts *a)
{
    size_t L = c->layers, C = c->dim, F = c->hidden, V = c->vocab, T = c->seq_len;
    size_t N = (size_t)c->batch * T, H = c->heads, D = C / H, off = 0;
    size_t E = c->experts > 0 ? (size_t)c->experts : 0, K = E ? (size_t)c->top_k : 1;
    size_t R = N * K; /* feed-forward rows: tokens x choices */
#define TAKE(field, n)                                            \
    do {                                                          \
        if (base) a->field = (void *)(base + off);                \
        off += pad(n);                                            \
    } while (0)
    TAKE(res, (L + 1) * N * C);
    TAKE(ln1, L * N * C);
    TAKE(rstd1, L * N);
    TAKE(qkv, L * N * 3 * C);
    TAKE(att, L * (size_t)c->batch * H * T * T);
    TAKE(atty, L * N * C);
    TAKE(mid, L * N * C);
    TAKE(ln2, L * N * C);
    TAKE(rstd2, L * N);
    TAKE(h13, L * R * 2 * F);
    TAKE(g, L * R * F);
    if (E) {
        TAKE(probs, L * N * E);
        TAKE(gate, L * N * K);
        TAKE(xg, L * R * C);
        TAKE(y, L * R * C);
        TAKE(choice, L * N * K);
        TAKE(row, L * N * K);
        TAKE(src, L * R);
        TAKE(off, L * (E + 1));
        TAKE(dy, R * C);
        TAKE(dxg, R * C);
        TAKE(dprobs, N * E);
    }
    if (c->token_dropout > 0) TAKE(tokmask, N);
    if (c->attn_dropout > 0) TAKE(attd, L * (size_t)c->batch * H * T * T);
    if (c->resid_dropout > 0) TAKE(resmask, L * 2 * N * C);
    TAKE(tmp, N * C);
    TAKE(lnf, N * C);
    TAKE(rstdf, N);
    TAKE(dres, N * C);
    TAKE(dln, N * C);
    TAKE(dqkv, N * 3 * C);
    TAKE(datty, N * C);
    TAKE(dh13, R * 2 * F);
    TAKE(dg, R * F);
    TAKE(head, layer_head_scratch((int)C, (int)V));
    TAKE(rope, T * D);
    TAKE(weights, N);
    TAKE(nll, N);
    TAKE(inputs, N);
    TAKE(targets, N);
#undef TAKE
    return off;
}

static void carve_params(const model_config *c, float *base, model_tensors *t)
{
    psizes s = param_sizes(c);
    t->wte = base;
    t->whead = t->wte + s.wte;
    t->wqkv = t->whead + s.whead;
    t->wo = t->wqkv + s.wqkv;
    t->w13 = t->wo + s.wo;
    t->w2 = t->w13 + s.w13;
    t->wr = t->w2 + s.w2;
    t->lnf = t->wr + s.wr;
    t->ln1 = t->lnf + s.lnf;
    t->ln2 = t->ln1 + s.ln1;
}

static float *alloc_floats(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, sizeof(float) * (n ? n : 1))) return NULL;
    return p;
}

/* ---- shards (see pass.c) --------------------------------------------------- */

/* The gradients the shards own: every tensor after the embedding, except a
 * mixture of experts' experts and routers (w13, w2, wr). The norm weights
 * come last, so a dense model's is one segment. */
static int segments(const model_config *c, model_segment *seg, size_t *n_part)
{
    psizes s = param_sizes(c);
    size_t whead = s.wte, w13 = whead + s.whead + s.wqkv + s.wo, lnf = s.matrices;
    if (!c->experts) {
        seg[0] = (model_segment){whead, s.total - whead, 0};
        *n_part = seg[0].n;
        return 1;
    }
    seg[0] = (model_segment){whead, w13 - whead, 0};
    seg[1] = (model_segment){lnf, s.total - lnf, w13 - whead};
    *n_part = seg[0].n + seg[1].n;
    return 2;
}

/* One shard's floats: its partial gradients and scratch, each padded. */
static size_t shard_floats(const model_config *c)
{
    model_segment seg[2];
    size_t n_part;
    segments(c, seg, &n_part);
    return pad(n_part) + pad(layer_head_scratch(c->dim, c->vocab)) + pad((size_t)c->seq_len * c->seq_len);
}

size_t shards_bytes(const model_config *c, int shard_rows)
{
    return sizeof(float) * shard_floats(c) * shards_for(shard_rows, c->batch, c->seq_len);
}

/* A gradient tensor's place in a shard's partial buffer (NULL: not owned). */
static float *remap(const model *m, float *part, const float *g)
{
    size_t off = (size_t)(g - m->grads);
    for (int i = 0; i < m->n_seg; i++)
        if (off >= m->seg[i].start && off < m->seg[i].start + m->seg[i].n)
            return part + m->seg[i].pos + (off - m->seg[i].start);
    return NULL;
}

void shards_free(model *m)
{
    free(m->shards);
    free(m->shard_mem);
    m->shards = NULL;
    m->shard_mem = NULL;
    m->max_shards = 0;
}

/* On failure the model keeps the shards it had. */
int shards_alloc(model *m)
{
    const model_config *c = &m->cfg;
    model_segment seg[2];
    size_t n_part;
    int n_seg = segments(c, seg, &n_part);
    int S = shard_count(m, c->batch, c->seq_len);
    size_t per = shard_floats(c);
    model_shard *shards = calloc((size_t)S, sizeof *shards);
    float *mem = alloc_floats(per * S);
    if (!shards || !mem) return free(shards), free(mem), -1;
    shards_free(m);
    m->shards = shards, m->shard_mem = mem, m->max_shards = S;
    m->n_seg = n_seg, m->n_part = n_part;
    memcpy(m->seg, seg, sizeof seg);
    /* Zeros once: the partials' padding is never written, and is summed. */
    memset(mem, 0, sizeof(float) * per * S);
    for (int s = 0; s < S; s++) {
        model_shard *sh = &shards[s];
        float *part = mem + per * s;
        sh->part = part;
        sh->head = part + pad(n_part);
        sh->dp = sh->head + pad(layer_head_scratch(c->dim, c->vocab));
        const model_tensors *g = &m->g;
        sh->g = (model_tensors){.whead = remap(m, part, g->whead), .lnf = remap(m, part, g->lnf),
                                .ln1 = remap(m, part, g->ln1), .ln2 = remap(m, part, g->ln2),
                                .wqkv = remap(m, part, g->wqkv), .wo = remap(m, part, g->wo),
                                .w13 = c->experts ? NULL : remap(m, part, g->w13),
                                .w2 = c->experts ? NULL : remap(m, part, g->w2)};
    }
    return 0;
}

size_t model_memory_bytes(const model_config *cfg)
{
    model_config c = *cfg;
    if (!c.hidden) c.hidden = model_default_hidden(c.dim);
    size_t n = param_sizes(&c).total;
    return sizeof(float) * (4 * n + carve_acts(&c, NULL, NULL)) + shards_bytes(&c, MODEL_SHARD_ROWS) +
           sizeof(double) * (n / 1024 + 1);
}

static void fill_normal(model_rng *r, float *p, size_t n, double std)
{
    for (size_t i = 0; i < n; i++) p[i] = (float)(model_rng_normal(r) * std);
}

model *model_create(const model_config *cfg, uint64_t seed, char *err, size_t errlen)
{
    model_config c = *cfg;
    if (model_config_check(&c, err, errlen)) return NULL;
    model *m = calloc(1, sizeof *m);
    if (!m) return snprintf(err, errlen, "out of memory"), NULL;
    m->cfg = c;
    m->n_params = param_sizes(&c).total;
    m->n_acts = carve_acts(&c, NULL, NULL);
    m->params = alloc_floats(m->n_params);
    m->grads = alloc_floats(m->n_params);
    m->m = alloc_floats(m->n_params);
    m->v = alloc_floats(m->n_params);
    m->acts = alloc_floats(m->n_acts);
    m->norm_blocks = malloc(sizeof(double) * (m->n_params / 1024 + 1));
    m->pool = pool_create();
    if (!m->params || !m->grads || !m->m || !m->v || !m->acts || !m->norm_blocks || !m->pool) {
        snprintf(err, errlen, "out of memory allocating a model of %zu MB",
                 model_memory_bytes(&c) >> 20);
        model_free(m);
        return NULL;
    }
    memset(m->params, 0, sizeof(float) * m->n_params);
    memset(m->grads, 0, sizeof(float) * m->n_params);
    memset(m->m, 0, sizeof(float) * m->n_params);
    memset(m->v, 0, sizeof(float) * m->n_params);
    memset(m->acts, 0, sizeof(float) * m->n_acts);
    carve_params(&c, m->params, &m->p);
    carve_params(&c, m->grads, &m->g);
    carve_acts(&c, m->acts, &m->a);
    layer_rope_table(m->a.rope, c.seq_len, c.dim / c.heads);
    m->shard_rows = MODEL_SHARD_ROWS;
    if (shards_alloc(m)) {
        snprintf(err, errlen, "out of memory allocating a model of %zu MB", model_memory_bytes(&c) >> 20);
        model_free(m);
        return NULL;
    }
    /* The model's threads each call sgemm: OpenBLAS must not start threads
     * of its own (they would be shared, and serialise the callers), and a
     * single-threaded OpenBLAS also picks its kernels independently of the
     * core count, which keeps the results the same on every machine size.
     * The setting is process-wide; a process that trains sets it anyway. */
    openblas_set_num_threads(1);

    /* Initialisation, from its own stream of the seed. */
    size_t L = c.layers, C = c.dim, F = c.hidden, V = c.vocab, E = n_experts(&c);
    model_rng r;
    model_rng_seed2(&r, seed, 0x1417);
    double s = c.init_std, so = c.init_std / sqrt(2.0 * L);
    fill_normal(&r, m->p.wte, V * C, s);
    fill_normal(&r, m->p.whead, V * C, s);
    fill_normal(&r, m->p.wqkv, L * 3 * C * C, s);
    fill_normal(&r, m->p.wo, L * C * C, so);
    fill_normal(&r, m->p.w13, L * E * 2 * F * C, s);
    fill_normal(&r, m->p.w2, L * E * C * F, so);
    fill_normal(&r, m->p.wr, L * (size_t)c.experts * C, s);
    for (size_t i = 0; i < C; i++) m->p.lnf[i] = 1.0f;
    for (size_t i = 0; i < L * C; i++) m->p.ln1[i] = m->p.ln2[i] = 1.0f;
    model_rng_seed2(&m->rng, seed, 0x7121);
    return m;
}

void model_free(model *m)
{
    if (!m) return;
    free(m->params);
    free(m->grads);
    free(m->m);
    free(m->v);
    free(m->acts);
    free(m->norm_blocks);
    shards_free(m);
    pool_free(m->pool);
    free(m);
}

int model_set_threads(model *m, int n, char *err, size_t errlen)
{
    if (n < 1 || n > MODEL_MAX_THREADS)
        return snprintf(err, errlen, "threads must be 1..%d, not %d", MODEL_MAX_THREADS, n), -1;
    if (pool_resize(m->pool, n))
        return snprintf(err, errlen, "cannot start %d threads", n), -1;
    return 0;
}

int model_threads(const model *m) { return pool_size(m->pool); }

int model_set_shard_rows(model *m, int rows, char *err, size_t errlen)
{
    if (rows < 1) return snprintf(err, errlen, "shard rows must be >= 1, not %d", rows), -1;
    int old = m->shard_rows;
    m->shard_rows = rows;
    if (shards_alloc(m)) {
        m->shard_rows = old;
        return snprintf(err, errlen, "out of memory for the shards"), -1;
    }
    return 0;
}

int model_shard_count(const model *m, int B, int T) { return shard_count(m, B, T); }

const model_config *model_get_config(const model *m) { return &m->cfg; }
uint64_t model_step(const model *m) { return m->step; }
model_rng *model_get_rng(model *m) { return &m->rng; }

float *model_params(model *m, size_t *n)
{
    if (n) *n = m->n_params;
    return m->params;
}

float *model_grads(model *m, size_t *n)
{
    if (n) *n = m->n_params;
    return m->grads;
}

/* ---- AdamW --------------------------------------------------------------------- */

model_optim model_optim_default(void) { return (model_optim){0.9f, 0.95f, 1e-8f, 0.1f, 1.0f}; }

/* The global norm sums each 1024-float block in its own partial and the
 * blocks in order; items compute the blocks' partials in parallel, so the
 * sum is the same for any thread count. The memory-bound regions (this
 * one and AdamW) take one contiguous range per thread: a thread then tends
 * to get the same range every step, still in its cache. */
#define NORM_BLOCK 1024

typedef struct {
    model *m;
    int n;
} norm_ctx;

static void norm_item(void *ctx, int item)
{
    norm_ctx *x = ctx;
    model *m = x->m;
    size_t n = m->n_params, nb = (n + NORM_BLOCK - 1) / NORM_BLOCK;
    size_t b0 = nb * item / x->n, b1 = nb * (item + 1) / x->n;
    for (size_t b = b0; b < b1; b++) {
        size_t i = b * NORM_BLOCK, e = i + NORM_BLOCK < n ? i + NORM_BLOCK : n, j = i;
        const float *g = m->grads;
        v8f acc = v8_set1(0);
        for (; j + 8 <= e; j += 8) {
            v8f v = v8_load(g + j);
            acc += v * v;
        }
        double s = v8_sum(acc);
        for (; j < e; j++) s += (double)g[j] * g[j];
        m->norm_blocks[b] = s;
    }
}

static double grad_norm(model *m)
{
    size_t nb = (m->n_params + NORM_BLOCK - 1) / NORM_BLOCK;
    norm_ctx x = {m, pool_ways(m->pool, m->n_params)};
    pool_run(m->pool, norm_item, &x, x.n);
    double total = 0;
    for (size_t b = 0; b < nb; b++) total += m->norm_blocks[b];
    return sqrt(total);
}

/* sqrtf without errno handling, so the loop vectorises. */
__attribute__((optimize("no-math-errno"))) static void adamw(float *p, const float *g, float *m,
                                                              float *v, size_t n, float lr,
                                                              float scale, float b1, float b2,
                                                              float eps, float wd, float bc1,
                                                              float bc2)
{
    float decay = 1.0f - lr * wd, a1 = 1.0f - b1, a2 = 1.0f - b2, step = lr / bc1;
    float rbc2 = 1.0f / sqrtf(bc2);
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * scale;
        float mi = b1 * m[i] + a1 * gi, vi = b2 * v[i] + a2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - step * mi / (sqrtf(vi) * rbc2 + eps);
    }
}

/* AdamW on one contiguous range of the parameters per thread (each
 * element is independent of the others); weight decay on the matrices. */
typedef struct {
    model *m;
    const model_optim *o;
    float lr, scale, bc1, bc2;
    size_t nmat;
    int n;
} adam_ctx;

static void adam_item(void *ctx, int item)
{
    adam_ctx *x = ctx;
    model *m = x->m;
    size_t lo = m->n_params * item / x->n & ~(size_t)15, hi = m->n_params * (item + 1) / x->n & ~(size_t)15;
    if (item == x->n - 1) hi = m->n_params;
    const model_optim *o = x->o;
    if (lo < x->nmat) {
        size_t e = hi < x->nmat ? hi : x->nmat;
        adamw(m->params + lo, m->grads + lo, m->m + lo, m->v + lo, e - lo, x->lr, x->scale, o->beta1,
              o->beta2, o->eps, o->weight_decay, x->bc1, x->bc2);
        lo = e;
    }
    if (lo < hi)
        adamw(m->params + lo, m->grads + lo, m->m + lo, m->v + lo, hi - lo, x->lr, x->scale, o->beta1,
              o->beta2, o->eps, 0.0f, x->bc1, x->bc2);
}

double model_update(model *m, const model_optim *o, float lr)
{
    double norm = grad_norm(m);
    if (!isfinite(norm)) return norm;
    float scale = o->clip > 0 && norm > o->clip ? (float)(o->clip / norm) : 1.0f;
    m->step++;
    float bc1 = (float)(1.0 - pow(o->beta1, (double)m->step));
    float bc2 = (float)(1.0 - pow(o->beta2, (double)m->step));
    size_t nmat = param_sizes(&m->cfg).matrices;
    adam_ctx x = {m, o, lr, scale, bc1, bc2, nmat, pool_ways(m->pool, m->n_params)};
    pool_run(m->pool, adam_item, &x, x.n);
    return norm;
}

float model_lr(model_schedule s, uint64_t step, uint64_t total, float lr, double warmup_frac,
               double decay_frac, double min_frac)
{
    if (total == 0) return lr;
    return model_lr_steps(s, step, total, lr, (uint64_t)floor(warmup_frac * total), (uint64_t)floor(decay_frac * total),
                          min_frac);
}

float model_lr_steps(model_schedule s, uint64_t step, uint64_t total, float lr, uint64_t warmup_steps,
                     uint64_t decay_steps, double min_frac)
{
    if (total == 0) return lr;
    double warm = (double)warmup_steps, x = (double)step;
    if (x < warm) return (float)(lr * (x + 1) / warm);
    double lo = min_frac * lr;
    if (s == MODEL_SCHED_COSINE) {
        double span = total - warm, f = span > 0 ? (x - warm) / span : 1;
        if (f > 1) f = 1;
        return (float)(lo + (lr - lo) * 0.5 * (1 + cos(M_PI * f)));
    }
    double dec = (double)decay_steps, start = total - dec;
    if (dec <= 0 || x < start) return lr;
    double f = (x - start + 1) / dec; /* reaches lo at the last step */
    if (f > 1) f = 1;
    return (float)(lr + (lo - lr) * f);
}

/* ---- objectives ----------------------------------------------------------------- */

void model_ar_batch(const int32_t *tokens, int B, int T, int32_t *inputs, int32_t *targets,
                    float *weights)
{
    float w = 1.0f / ((float)B * (T - 1));
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t i = (size_t)b * T + t;
            inputs[i] = tokens[i];
            targets[i] = t + 1 < T ? tokens[i + 1] : -1;
            weights[i] = t + 1 < T ? w : 0.0f;
        }
}

void model_mdm_batch(model_rng *rng, const int32_t *tokens, int B, int T, int32_t mask_id,
                     int32_t *inputs, int32_t *targets, float *weights, float *t_out)
{
    model_mdm_batch_eps(rng, MODEL_MDM_EPS, tokens, B, T, mask_id, inputs, targets, weights, t_out);
}

void model_mdm_batch_eps(model_rng *rng, double eps, const int32_t *tokens, int B, int T,
                         int32_t mask_id, int32_t *inputs, int32_t *targets, float *weights,
                         float *t_out)
{
    double u = model_rng_uniform(rng);
    for (int b = 0; b < B; b++) {
        double f = fmod(u + (double)b / B, 1.0);
        double t = eps + (1 - eps) * f;
        if (t_out) t_out[b] = (float)t;
        float w = (float)(1.0 / (t * B * T));
        for (int j = 0; j < T; j++) {
            size_t i = (size_t)b * T + j;
            int masked = model_rng_uniform(rng) < t;
            inputs[i] = masked ? mask_id : tokens[i];
            targets[i] = masked ? tokens[i] : -1;
            weights[i] = masked ? w : 0.0f;
        }
    }
}

void model_mask_inputs(model_rng *rng, int32_t *inputs, size_t n, double rate, int32_t mask_id)
{
    for (size_t i = 0; i < n; i++)
        if (model_rng_uniform(rng) < rate) inputs[i] = mask_id;
}

static int noisy(const model_config *c)
{
    return c->input_mask > 0 || c->token_dropout > 0 || c->attn_dropout > 0 || c->resid_dropout > 0;
}

int model_train_step(model *m, const int32_t *tokens, const model_optim *o, float lr,
                     model_step_stats *st, char *err, size_t errlen)
{
    const model_config *c = &m->cfg;
    int B = c->batch, T = c->seq_len, causal = c->objective == MODEL_AR;
    model_acts *a = &m->a;
    for (size_t i = 0; i < (size_t)B * T; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab) {
            snprintf(err, errlen, "token %d at position %zu of step %llu is outside the vocabulary (%d)",
                     (int)tokens[i], i, (unsigned long long)m->step + 1, c->vocab);
            return -1;
        }
    if (causal)
        model_ar_batch(tokens, B, T, a->inputs, a->targets, a->weights);
    else
        model_mdm_batch_eps(&m->rng, c->mask_eps, tokens, B, T, c->mask_id, a->inputs, a->targets,
                            a->weights, NULL);
    /* Noise: one draw of the run RNG seeds all of this step's, and only when
     * some noise is on, so a noiseless run's RNG sequence is unchanged. */
    uint64_t noise_seed = 0;
    if (noisy(c)) noise_seed = model_rng_next(&m->rng);
    if (c->input_mask > 0) {
        model_rng r;
        model_rng_seed2(&r, noise_seed, 0);
        model_mask_inputs(&r, a->inputs, (size_t)B * T, c->input_mask, c->mask_id);
    }
    double loss = model_forward_backward_noisy(m, a->inputs, a->targets, a->weights, B, T, causal, noise_seed);
    if (!isfinite(loss)) {
        snprintf(err, errlen, "non-finite training loss (%g) at step %llu", loss,
                 (unsigned long long)m->step + 1);
        return -1;
    }
    double norm = model_update(m, o, lr);
    if (!isfinite(norm)) {
        snprintf(err, errlen, "non-finite gradient norm (%g) at step %llu", norm,
                 (unsigned long long)m->step + 1);
        return -1;
    }
    if (st) *st = (model_step_stats){loss, norm};
    return 0;
}

size_t model_trace_gemms(model *m, const int32_t *tokens, model_gemm_call *calls, size_t cap)
{
    const model_config *c = &m->cfg;
    int B = c->batch, T = c->seq_len, causal = c->objective == MODEL_AR;
    model_acts *a = &m->a;
    model_rng r = m->rng; /* do not advance the run's RNG */
    if (causal)
        model_ar_batch(tokens, B, T, a->inputs, a->targets, a->weights);
    else
        model_mdm_batch_eps(&r, c->mask_eps, tokens, B, T, c->mask_id, a->inputs, a->targets, a->weights,
                            NULL);
    mm_trace_begin(calls, cap);
    m->tracing = 1; /* the trace is one list: every region on this thread */
    model_forward_backward_noisy(m, a->inputs, a->targets, a->weights, B, T, causal, 0);
    m->tracing = 0;
    return mm_trace_end();
}
