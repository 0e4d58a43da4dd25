/*
 * model.c — the transformer as a whole: config checks, sizes, the four
 * allocations (parameters, gradients, AdamW moments, activations) carved into
 * named tensors, the forward and backward passes over the layers, AdamW and
 * the learning-rate schedules, and the two objectives' training batches.
 */
#include "models/internal.h"

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
    TAKE(dp, T * T);
    TAKE(head, layer_head_scratch((int)C, (int)V));
    TAKE(rope, T * D);
    TAKE(weights, N);
    TAKE(nll, N);
    TAKE(inputs, N);
    TAKE(targets, N);
#undef TAKE
    return off;
}

size_t model_memory_bytes(const model_config *cfg)
{
    model_config c = *cfg;
    if (!c.hidden) c.hidden = model_default_hidden(c.dim);
    return sizeof(float) * (4 * param_sizes(&c).total + carve_acts(&c, NULL, NULL));
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
    if (!m->params || !m->grads || !m->m || !m->v || !m->acts) {
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

    /* Initialisation, from its own stream of the seed. */
    size_t L = c.layers, C = c.dim, F = c.hidden, V = c.vocab, E = n_experts(&c);
    model_rng r;
    model_rng_seed2(&r, seed, 0x1417);
    double s = 0.02, so = 0.02 / sqrt(2.0 * L);
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
    free(m);
}

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

/* ---- forward and backward ---------------------------------------------------- */

/* Per-layer tensors sit at full-size strides; a smaller B or T uses the
 * first B*T rows of each. */
#define LAYER(ptr, l, per) ((ptr) + (size_t)(l) * (per))

/* Layer l's mixture-of-experts cache (its slices of the activations). */
static layer_moe_cache moe_cache(const model *m, int l)
{
    const model_config *c = &m->cfg;
    size_t N = (size_t)c->batch * c->seq_len, E = c->experts, K = c->top_k, R = N * K;
    size_t C = c->dim, F = c->hidden;
    const model_acts *a = &m->a;
    return (layer_moe_cache){LAYER(a->probs, l, N * E), LAYER(a->gate, l, N * K),
                             LAYER(a->choice, l, N * K), LAYER(a->row, l, N * K),
                             LAYER(a->src, l, R), LAYER(a->off, l, E + 1), LAYER(a->xg, l, R * C),
                             LAYER(a->h13, l, R * 2 * F), LAYER(a->g, l, R * F),
                             LAYER(a->y, l, R * C), 0, 0};
}

/* out = a + b * mask, elementwise over n */
static void add_masked(float *out, const float *a, const float *b, const float *mask, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i] * mask[i];
}

static void mul(float *out, const float *a, const float *mask, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] * mask[i];
}

/* The forward through the blocks. train: apply the noise masks already
 * drawn (draw_noise) and the experts' capacity. */
static void forward(model *m, const int32_t *inputs, int B, int T, int causal, int train)
{
    const model_config *c = &m->cfg;
    int C = c->dim, F = c->hidden, H = c->heads, N = B * T, E = c->experts, K = c->top_k;
    size_t NC = (size_t)c->batch * c->seq_len * C, Nr = (size_t)c->batch * c->seq_len;
    size_t R = Nr * (E ? K : 1), natt = (size_t)c->batch * H * c->seq_len * c->seq_len;
    model_acts *a = &m->a;
    const model_tensors *p = &m->p;
    int cap = 0;
    if (E && train && c->capacity_factor > 0) {
        cap = (int)ceil(c->capacity_factor * (double)N * K / E);
        if (cap < 1) cap = 1;
    }
    double aux = 0, dropped = 0;
    layer_embed_forward(a->res, inputs, p->wte, N, C);
    if (train && a->tokmask)
        for (int i = 0; i < N; i++)
            for (int k = 0; k < C; k++) a->res[(size_t)i * C + k] *= a->tokmask[i];
    for (int l = 0; l < c->layers; l++) {
        float *res = LAYER(a->res, l, NC), *ln1 = LAYER(a->ln1, l, NC), *qkv = LAYER(a->qkv, l, 3 * NC);
        float *att = LAYER(a->att, l, natt), *atty = LAYER(a->atty, l, NC), *mid = LAYER(a->mid, l, NC);
        float *ln2 = LAYER(a->ln2, l, NC), *h13 = LAYER(a->h13, l, R * 2 * F), *g = LAYER(a->g, l, R * F);
        float *out = LAYER(a->res, l + 1, NC);
        float *attd = train && a->attd ? LAYER(a->attd, l, natt) : NULL;
        float *rm = train && a->resmask ? LAYER(a->resmask, l, 2 * NC) : NULL;
        layer_rmsnorm_forward(ln1, LAYER(a->rstd1, l, Nr), res, LAYER(p->ln1, l, C), N, C);
        layer_linear_forward(qkv, ln1, LAYER(p->wqkv, l, 3 * C * C), N, C, 3 * C, 0);
        layer_rope_forward(qkv, a->rope, B, T, C, H);
        layer_attention_forward(atty, att, attd, qkv, B, T, C, H, causal);
        if (rm) {
            layer_linear_forward(a->tmp, atty, LAYER(p->wo, l, C * C), N, C, C, 0);
            add_masked(mid, res, a->tmp, rm, (size_t)N * C);
        } else {
            memcpy(mid, res, sizeof(float) * N * C); /* residual: the product adds onto it */
            layer_linear_forward(mid, atty, LAYER(p->wo, l, C * C), N, C, C, 1);
        }
        layer_rmsnorm_forward(ln2, LAYER(a->rstd2, l, Nr), mid, LAYER(p->ln2, l, C), N, C);
        /* The feed-forward adds onto ffo: the residual, or zeros to be masked. */
        float *ffo = rm ? a->tmp : out;
        if (rm) memset(a->tmp, 0, sizeof(float) * N * C);
        else memcpy(out, mid, sizeof(float) * N * C);
        if (!E) {
            layer_linear_forward(h13, ln2, LAYER(p->w13, l, 2 * F * C), N, C, 2 * F, 0);
            layer_swiglu_forward(g, h13, N, F);
            layer_linear_forward(ffo, g, LAYER(p->w2, l, C * F), N, F, C, 1);
        } else {
            layer_moe_cache mc = moe_cache(m, l);
            layer_moe_forward(ffo, &mc, ln2, LAYER(p->wr, l, (size_t)E * C),
                              LAYER(p->w13, l, (size_t)E * 2 * F * C), LAYER(p->w2, l, (size_t)E * C * F),
                              N, C, F, E, K, cap);
            aux += mc.aux;
            dropped += (double)mc.dropped;
        }
        if (rm) add_masked(out, mid, a->tmp, rm + NC, (size_t)N * C);
    }
    m->moe_aux = E ? aux / c->layers : 0;
    m->moe_dropped = E ? dropped / ((double)c->layers * N * K) : 0;
    layer_rmsnorm_forward(a->lnf, a->rstdf, LAYER(a->res, c->layers, NC), p->lnf, N, C);
}

void model_hidden(model *m, const int32_t *inputs, int B, int T, int causal)
{
    forward(m, inputs, B, T, causal, 0);
}

double model_moe_aux(const model *m, double *dropped)
{
    if (dropped) *dropped = m->moe_dropped;
    return m->moe_aux;
}

double model_forward(model *m, const int32_t *inputs, const int32_t *targets, int B, int T,
                     int causal, const float *weights, float *nll)
{
    const model_config *c = &m->cfg;
    model_hidden(m, inputs, B, T, causal);
    int32_t excl = c->objective == MODEL_MDM ? c->mask_id : -1;
    return layer_head_forward_backward(NULL, NULL, nll, m->a.head, m->a.lnf, m->p.whead, targets,
                                       weights, B * T, c->dim, c->vocab, excl);
}

/* The dropout masks of one step, from noise_seed: a stream per kind and
 * layer, so a mask does not depend on which other noises are on. */
static void draw_noise(model *m, int B, int T, uint64_t noise_seed)
{
    const model_config *c = &m->cfg;
    model_acts *a = &m->a;
    size_t N = (size_t)B * T, NC = (size_t)c->batch * c->seq_len * c->dim;
    size_t natt = (size_t)c->batch * c->heads * c->seq_len * c->seq_len;
    model_rng r;
    if (a->tokmask) {
        model_rng_seed2(&r, noise_seed, 1);
        layer_dropout_mask(a->tokmask, N, c->token_dropout, &r);
    }
    for (int l = 0; l < c->layers; l++) {
        if (a->attd) {
            model_rng_seed2(&r, noise_seed, 0x100 + (uint64_t)l);
            layer_dropout_mask(LAYER(a->attd, l, natt), (size_t)B * c->heads * T * T, c->attn_dropout, &r);
        }
        if (a->resmask)
            for (int h = 0; h < 2; h++) {
                model_rng_seed2(&r, noise_seed, 0x10000 + 2 * (uint64_t)l + h);
                layer_dropout_mask(LAYER(a->resmask, l, 2 * NC) + h * NC, N * c->dim, c->resid_dropout, &r);
            }
    }
}

static double forward_backward(model *m, const int32_t *inputs, const int32_t *targets,
                               const float *weights, int B, int T, int causal, int train)
{
    const model_config *c = &m->cfg;
    int C = c->dim, F = c->hidden, H = c->heads, N = B * T, E = c->experts, K = c->top_k;
    size_t NC = (size_t)c->batch * c->seq_len * C, Nr = (size_t)c->batch * c->seq_len;
    size_t R = Nr * (E ? K : 1), natt = (size_t)c->batch * H * c->seq_len * c->seq_len;
    model_acts *a = &m->a;
    const model_tensors *p = &m->p;
    model_tensors *g = &m->g;
    memset(m->grads, 0, sizeof(float) * m->n_params);
    forward(m, inputs, B, T, causal, train);
    int32_t excl = c->objective == MODEL_MDM ? c->mask_id : -1;
    /* The head's forward and backward in one pass: dlnf lands in dln. */
    double loss = layer_head_forward_backward(a->dln, g->whead, NULL, a->head, a->lnf, p->whead,
                                              targets, weights, N, C, c->vocab, excl);
    memset(a->dres, 0, sizeof(float) * N * C);
    layer_rmsnorm_backward(a->dres, g->lnf, a->dln, LAYER(a->res, c->layers, NC), p->lnf, a->rstdf,
                           N, C);
    layer_moe_scratch ms = {a->dy, a->dg, a->dh13, a->dxg, a->dprobs};
    float aux_coef = E ? c->aux_weight / c->layers : 0; /* the loss adds aux_weight * mean aux */
    for (int l = c->layers - 1; l >= 0; l--) {
        float *res = LAYER(a->res, l, NC), *ln1 = LAYER(a->ln1, l, NC), *qkv = LAYER(a->qkv, l, 3 * NC);
        float *att = LAYER(a->att, l, natt), *atty = LAYER(a->atty, l, NC), *mid = LAYER(a->mid, l, NC);
        float *ln2 = LAYER(a->ln2, l, NC), *h13 = LAYER(a->h13, l, R * 2 * F), *gg = LAYER(a->g, l, R * F);
        const float *attd = train && a->attd ? LAYER(a->attd, l, natt) : NULL;
        const float *rm = train && a->resmask ? LAYER(a->resmask, l, 2 * NC) : NULL;
        /* out = mid + ffn(ln2) (masked): dres flows through to mid unchanged. */
        const float *dff = a->dres;
        if (rm) mul(a->tmp, a->dres, rm + NC, (size_t)N * C), dff = a->tmp;
        if (!E) {
            layer_linear_backward(a->dg, LAYER(g->w2, l, C * F), dff, gg, LAYER(p->w2, l, C * F), N, F,
                                  C, 0);
            layer_swiglu_backward(a->dh13, a->dg, h13, N, F);
            layer_linear_backward(a->dln, LAYER(g->w13, l, 2 * F * C), a->dh13, ln2,
                                  LAYER(p->w13, l, 2 * F * C), N, C, 2 * F, 0);
        } else {
            layer_moe_cache mc = moe_cache(m, l);
            layer_moe_backward(a->dln, LAYER(g->wr, l, (size_t)E * C), LAYER(g->w13, l, (size_t)E * 2 * F * C),
                               LAYER(g->w2, l, (size_t)E * C * F), &ms, dff, ln2, &mc,
                               LAYER(p->wr, l, (size_t)E * C), LAYER(p->w13, l, (size_t)E * 2 * F * C),
                               LAYER(p->w2, l, (size_t)E * C * F), N, C, F, E, K, aux_coef);
        }
        layer_rmsnorm_backward(a->dres, LAYER(g->ln2, l, C), a->dln, mid, LAYER(p->ln2, l, C),
                               LAYER(a->rstd2, l, Nr), N, C);
        /* mid = res + atty Wo^T (masked). */
        const float *dat = a->dres;
        if (rm) mul(a->tmp, a->dres, rm, (size_t)N * C), dat = a->tmp;
        layer_linear_backward(a->datty, LAYER(g->wo, l, C * C), dat, atty, LAYER(p->wo, l, C * C),
                              N, C, C, 0);
        layer_attention_backward(a->dqkv, a->dp, a->datty, qkv, att, attd, B, T, C, H, causal);
        layer_rope_backward(a->dqkv, a->rope, B, T, C, H);
        layer_linear_backward(a->dln, LAYER(g->wqkv, l, 3 * C * C), a->dqkv, ln1,
                              LAYER(p->wqkv, l, 3 * C * C), N, C, 3 * C, 0);
        layer_rmsnorm_backward(a->dres, LAYER(g->ln1, l, C), a->dln, res, LAYER(p->ln1, l, C),
                               LAYER(a->rstd1, l, Nr), N, C);
    }
    if (train && a->tokmask)
        for (int i = 0; i < N; i++)
            for (int k = 0; k < C; k++) a->dres[(size_t)i * C + k] *= a->tokmask[i];
    layer_embed_backward(g->wte, a->dres, inputs, N, C);
    return loss;
}

double model_forward_backward(model *m, const int32_t *inputs, const int32_t *targets,
                              const float *weights, int B, int T, int causal)
{
    return forward_backward(m, inputs, targets, weights, B, T, causal, 0);
}

double model_forward_backward_noisy(model *m, const int32_t *inputs, const int32_t *targets,
                                    const float *weights, int B, int T, int causal,
                                    uint64_t noise_seed)
{
    draw_noise(m, B, T, noise_seed);
    return forward_backward(m, inputs, targets, weights, B, T, causal, 1);
}

/* ---- AdamW --------------------------------------------------------------------- */

model_optim model_optim_default(void) { return (model_optim){0.9f, 0.95f, 1e-8f, 0.1f, 1.0f}; }

static double grad_norm(const float *g, size_t n)
{
    double total = 0;
    for (size_t i = 0; i < n; i += 1024) {
        size_t e = i + 1024 < n ? i + 1024 : n, j = i;
        v8f acc = v8_set1(0);
        for (; j + 8 <= e; j += 8) {
            v8f v = v8_load(g + j);
            acc += v * v;
        }
        double s = v8_sum(acc);
        for (; j < e; j++) s += (double)g[j] * g[j];
        total += s;
    }
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

double model_update(model *m, const model_optim *o, float lr)
{
    double norm = grad_norm(m->grads, m->n_params);
    if (!isfinite(norm)) return norm;
    float scale = o->clip > 0 && norm > o->clip ? (float)(o->clip / norm) : 1.0f;
    m->step++;
    float bc1 = (float)(1.0 - pow(o->beta1, (double)m->step));
    float bc2 = (float)(1.0 - pow(o->beta2, (double)m->step));
    size_t nmat = param_sizes(&m->cfg).matrices;
    adamw(m->params, m->grads, m->m, m->v, nmat, lr, scale, o->beta1, o->beta2, o->eps,
          o->weight_decay, bc1, bc2);
    adamw(m->params + nmat, m->grads + nmat, m->m + nmat, m->v + nmat, m->n_params - nmat, lr, scale,
          o->beta1, o->beta2, o->eps, 0.0f, bc1, bc2);
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
    double u = model_rng_uniform(rng);
    for (int b = 0; b < B; b++) {
        double f = fmod(u + (double)b / B, 1.0);
        double t = MODEL_MDM_EPS + (1 - MODEL_MDM_EPS) * f;
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
        model_mdm_batch(&m->rng, tokens, B, T, c->mask_id, a->inputs, a->targets, a->weights, NULL);
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
        model_mdm_batch(&r, tokens, B, T, c->mask_id, a->inputs, a->targets, a->weights, NULL);
    mm_trace_begin(calls, cap);
    model_forward_backward_noisy(m, a->inputs, a->targets, a->weights, B, T, causal, 0);
    return mm_trace_end();
}
