/*
 * pass.c — the forward and backward passes, spread over the model's
 * threads with results that do not depend on how many there are.
 *
 * A batch is cut into shards of whole sequences, about m->shard_rows rows
 * each: a function of B and T only, never of the thread count. Each shard
 * runs the whole pass on its own rows — embedding, every layer, the head,
 * and the backward through every layer — and writes its weight gradients
 * into its own partial buffer (model_shard). Threads take shards in any
 * order; the partials are then summed in shard order. Every sgemm call
 * therefore has the same operands and shape whatever the thread count, and
 * every sum the same order, so one thread and eight give bit-identical
 * results. (Splitting one product across threads would not: OpenBLAS does
 * not promise that a row of C comes out the same when the call that
 * computes it covers other rows too, and on this machine it does not.)
 *
 * The exception is a mixture-of-experts feed-forward: its capacity couples
 * all the batch's tokens, so it runs on the whole batch, on the calling
 * thread, between two parallel regions; its gradients go straight into the
 * model's, which hold no shard partials for the experts and routers.
 *
 * Stages of a pass, in order (k):
 *   0               embedding
 *   1 + 2l, 2 + 2l  layer l: attention block (norm, qkv, RoPE, attention,
 *                   output projection, residual, second norm), feed-forward
 *   2L + 1          final norm, the head (and with gradients the final
 *                   norm's backward)
 *   then, with gradients, for l = L-1 .. 0: feed-forward backward,
 *                   attention-block backward
 * A parallel region runs a maximal run of per-shard stages for each shard.
 */
#include "models/internal.h"

#include <math.h>
#include <string.h>

/* Shards of a B x T batch of rows-row shards: at least one, at most one a
 * sequence (internal.h). */
int shards_for(int rows, int B, int T)
{
    long s = (long)B * T / (rows > 0 ? rows : MODEL_SHARD_ROWS);
    return (int)(s < 1 ? 1 : s > B ? B : s);
}

int shard_count(const model *m, int B, int T) { return shards_for(m->shard_rows, B, T); }

/* Per-layer tensors sit at full-size strides; a smaller B or T uses the
 * first B*T rows of each, and a shard its rows within those. */
#define LAYER(ptr, l, per) ((ptr) + (size_t)(l) * (per))

typedef struct {
    model *m;
    const int32_t *inputs, *targets;
    const float *weights;
    float *nll;           /* per-row cross-entropy [B*T] */
    int B, T, causal;
    int train;            /* noise masks (already drawn) and expert capacity */
    int head;             /* run the head (0: hidden states only) */
    int grad;             /* and the backward */
    int S;                /* shards */
    int k0, k1;           /* the current region's stages */
    int cap;              /* expert capacity, 0 = none */
    double aux, dropped;  /* mixture of experts, summed over layers */
} pass;

/* Where one stage works: sequences [b0, b0+B), rows [r0, r0+N). */
typedef struct {
    int b0, B, N;
    size_t r0;
    const model_tensors *g; /* its weight gradients */
    float *head, *dp;       /* its scratch */
} shard;

static shard shard_of(const pass *p, int s)
{
    int b0 = (int)((long)s * p->B / p->S), b1 = (int)((long)(s + 1) * p->B / p->S);
    model_shard *ms = &p->m->shards[s];
    return (shard){b0, b1 - b0, (b1 - b0) * p->T, (size_t)b0 * p->T, &ms->g, ms->head, ms->dp};
}

static shard whole(const pass *p)
{
    model_shard *ms = &p->m->shards[0];
    return (shard){0, p->B, p->B * p->T, 0, &p->m->g, ms->head, ms->dp};
}

static int n_stages(const pass *p)
{
    int L = p->m->cfg.layers;
    return 2 * L + 2 + (p->grad ? 2 * L : 0);
}

/* The feed-forward stages of a mixture of experts run on the whole batch. */
static int batch_wide(const pass *p, int k)
{
    int L = p->m->cfg.layers;
    if (!p->m->cfg.experts || k == 0 || k == 2 * L + 1) return 0;
    if (k <= 2 * L) return (k - 1) % 2 == 1;
    return (k - (2 * L + 2)) % 2 == 0;
}

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

/* Full-size strides of the per-layer activations. */
typedef struct {
    size_t NC, Nr, R, natt;
} strides;

static strides strides_of(const model_config *c)
{
    size_t Nr = (size_t)c->batch * c->seq_len;
    return (strides){Nr * c->dim, Nr, Nr * (c->experts ? c->top_k : 1),
                     (size_t)c->batch * c->heads * c->seq_len * c->seq_len};
}

/* ---- forward stages ------------------------------------------------------- */

static void embed_forward(pass *p, const shard *s)
{
    model *m = p->m;
    int C = m->cfg.dim;
    float *res = m->a.res + s->r0 * C;
    layer_embed_forward(res, p->inputs + s->r0, m->p.wte, s->N, C);
    if (p->train && m->a.tokmask)
        for (int i = 0; i < s->N; i++)
            for (int k = 0; k < C; k++) res[(size_t)i * C + k] *= m->a.tokmask[s->r0 + i];
}

static void attn_forward(pass *p, const shard *s, int l)
{
    model *m = p->m;
    const model_config *c = &m->cfg;
    model_acts *a = &m->a;
    const model_tensors *w = &m->p;
    strides z = strides_of(c);
    int C = c->dim, H = c->heads, N = s->N, T = p->T;
    size_t r0 = s->r0, at0 = (size_t)s->b0 * H * T * T;
    float *res = LAYER(a->res, l, z.NC) + r0 * C, *ln1 = LAYER(a->ln1, l, z.NC) + r0 * C;
    float *qkv = LAYER(a->qkv, l, 3 * z.NC) + r0 * 3 * C, *att = LAYER(a->att, l, z.natt) + at0;
    float *atty = LAYER(a->atty, l, z.NC) + r0 * C, *mid = LAYER(a->mid, l, z.NC) + r0 * C;
    float *attd = p->train && a->attd ? LAYER(a->attd, l, z.natt) + at0 : NULL;
    float *rm = p->train && a->resmask ? LAYER(a->resmask, l, 2 * z.NC) + r0 * C : NULL;
    layer_rmsnorm_forward(ln1, LAYER(a->rstd1, l, z.Nr) + r0, res, LAYER(w->ln1, l, C), N, C);
    layer_linear_forward(qkv, ln1, LAYER(w->wqkv, l, 3 * C * C), N, C, 3 * C, 0);
    layer_rope_forward(qkv, a->rope, s->B, T, C, H, c->attn_scale);
    layer_attention_forward(atty, att, attd, qkv, s->B, T, C, H, p->causal);
    if (rm) {
        float *tmp = a->tmp + r0 * C;
        layer_linear_forward(tmp, atty, LAYER(w->wo, l, C * C), N, C, C, 0);
        add_masked(mid, res, tmp, rm, (size_t)N * C);
    } else {
        memcpy(mid, res, sizeof(float) * N * C); /* residual: the product adds onto it */
        layer_linear_forward(mid, atty, LAYER(w->wo, l, C * C), N, C, C, 1);
    }
    layer_rmsnorm_forward(LAYER(a->ln2, l, z.NC) + r0 * C, LAYER(a->rstd2, l, z.Nr) + r0, mid,
                          LAYER(w->ln2, l, C), N, C);
}

static void ffn_forward(pass *p, const shard *s, int l)
{
    model *m = p->m;
    const model_config *c = &m->cfg;
    model_acts *a = &m->a;
    const model_tensors *w = &m->p;
    strides z = strides_of(c);
    int C = c->dim, F = c->hidden, N = s->N, E = c->experts;
    size_t r0 = s->r0;
    float *mid = LAYER(a->mid, l, z.NC) + r0 * C, *ln2 = LAYER(a->ln2, l, z.NC) + r0 * C;
    float *out = LAYER(a->res, l + 1, z.NC) + r0 * C, *tmp = a->tmp + r0 * C;
    float *rm = p->train && a->resmask ? LAYER(a->resmask, l, 2 * z.NC) + z.NC + r0 * C : NULL;
    /* The feed-forward adds onto ffo: the residual, or zeros to be masked. */
    float *ffo = rm ? tmp : out;
    if (rm) memset(tmp, 0, sizeof(float) * N * C);
    else memcpy(out, mid, sizeof(float) * N * C);
    if (!E) {
        float *h13 = LAYER(a->h13, l, z.R * 2 * F) + r0 * 2 * F, *g = LAYER(a->g, l, z.R * F) + r0 * F;
        layer_linear_forward(h13, ln2, LAYER(w->w13, l, 2 * F * C), N, C, 2 * F, 0);
        layer_swiglu_forward(g, h13, N, F);
        layer_linear_forward(ffo, g, LAYER(w->w2, l, C * F), N, F, C, 1);
    } else { /* the whole batch (batch_wide) */
        layer_moe_cache mc = moe_cache(m, l);
        layer_moe_forward(ffo, &mc, ln2, LAYER(w->wr, l, (size_t)E * C),
                          LAYER(w->w13, l, (size_t)E * 2 * F * C), LAYER(w->w2, l, (size_t)E * C * F),
                          N, C, F, E, c->top_k, p->cap);
        p->aux += mc.aux;
        p->dropped += (double)mc.dropped;
    }
    if (rm) add_masked(out, mid, tmp, rm, (size_t)N * C);
}

/* The final norm; the head's loss per row into p->nll; with gradients the
 * head's and the final norm's backward, which start the shard's dres. */
static void final_stage(pass *p, const shard *s)
{
    model *m = p->m;
    const model_config *c = &m->cfg;
    model_acts *a = &m->a;
    strides z = strides_of(c);
    int C = c->dim, N = s->N, L = c->layers;
    size_t r0 = s->r0;
    float *x = LAYER(a->res, L, z.NC) + r0 * C, *lnf = a->lnf + r0 * C;
    layer_rmsnorm_forward(lnf, a->rstdf + r0, x, m->p.lnf, N, C);
    if (!p->head) return;
    int32_t excl = c->objective == MODEL_MDM ? c->mask_id : -1;
    const float *wt = p->weights ? p->weights + r0 : NULL;
    if (!p->grad) {
        head_rows(NULL, NULL, p->nll + r0, s->head, lnf, m->p.whead, p->targets + r0, wt, N, C,
                  c->vocab, excl, 0);
        return;
    }
    /* The norm weights' partials only ever accumulate: start them at 0. */
    memset(s->g->lnf, 0, sizeof(float) * C);
    memset(s->g->ln1, 0, sizeof(float) * L * C);
    memset(s->g->ln2, 0, sizeof(float) * L * C);
    float *dln = a->dln + r0 * C, *dres = a->dres + r0 * C;
    head_rows(dln, s->g->whead, p->nll + r0, s->head, lnf, m->p.whead, p->targets + r0, wt, N, C,
              c->vocab, excl, 1);
    memset(dres, 0, sizeof(float) * N * C);
    layer_rmsnorm_backward(dres, s->g->lnf, dln, x, m->p.lnf, a->rstdf + r0, N, C);
}

/* ---- backward stages -------------------------------------------------------- */

/* out = mid + ffn(ln2) (masked): dres flows through to mid unchanged; the
 * feed-forward's input gradient lands in dln. Weight gradients overwrite
 * the shard's partials (each is written once per pass); the experts'
 * accumulate into the model's (zeroed before the pass). */
static void ffn_backward(pass *p, const shard *s, int l)
{
    model *m = p->m;
    const model_config *c = &m->cfg;
    model_acts *a = &m->a;
    const model_tensors *w = &m->p, *g = s->g;
    strides z = strides_of(c);
    int C = c->dim, F = c->hidden, N = s->N, E = c->experts;
    size_t r0 = s->r0;
    float *ln2 = LAYER(a->ln2, l, z.NC) + r0 * C, *dres = a->dres + r0 * C, *tmp = a->tmp + r0 * C;
    float *dln = a->dln + r0 * C;
    const float *rm = p->train && a->resmask ? LAYER(a->resmask, l, 2 * z.NC) + z.NC + r0 * C : NULL;
    const float *dff = dres;
    if (rm) mul(tmp, dres, rm, (size_t)N * C), dff = tmp;
    if (!E) {
        float *h13 = LAYER(a->h13, l, z.R * 2 * F) + r0 * 2 * F, *gg = LAYER(a->g, l, z.R * F) + r0 * F;
        float *dg = a->dg + r0 * F, *dh13 = a->dh13 + r0 * 2 * F;
        linear_backward_beta(dg, LAYER(g->w2, l, C * F), dff, gg, LAYER(w->w2, l, C * F), N, F, C, 0,
                             0.0f);
        layer_swiglu_backward(dh13, dg, h13, N, F);
        linear_backward_beta(dln, LAYER(g->w13, l, 2 * F * C), dh13, ln2, LAYER(w->w13, l, 2 * F * C),
                             N, C, 2 * F, 0, 0.0f);
    } else { /* the whole batch (batch_wide) */
        layer_moe_cache mc = moe_cache(m, l);
        layer_moe_scratch ms = {a->dy, a->dg, a->dh13, a->dxg, a->dprobs};
        float aux_coef = c->aux_weight / c->layers; /* the loss adds aux_weight * mean aux */
        layer_moe_backward(dln, LAYER(g->wr, l, (size_t)E * C), LAYER(g->w13, l, (size_t)E * 2 * F * C),
                           LAYER(g->w2, l, (size_t)E * C * F), &ms, dff, ln2, &mc,
                           LAYER(w->wr, l, (size_t)E * C), LAYER(w->w13, l, (size_t)E * 2 * F * C),
                           LAYER(w->w2, l, (size_t)E * C * F), N, C, F, E, c->top_k, aux_coef);
    }
}

/* From the second norm back to the block's input: dres becomes the
 * gradient of the residual stream entering layer l. */
static void attn_backward(pass *p, const shard *s, int l)
{
    model *m = p->m;
    const model_config *c = &m->cfg;
    model_acts *a = &m->a;
    const model_tensors *w = &m->p, *g = s->g;
    strides z = strides_of(c);
    int C = c->dim, H = c->heads, N = s->N, T = p->T;
    size_t r0 = s->r0, at0 = (size_t)s->b0 * H * T * T;
    float *res = LAYER(a->res, l, z.NC) + r0 * C, *ln1 = LAYER(a->ln1, l, z.NC) + r0 * C;
    float *qkv = LAYER(a->qkv, l, 3 * z.NC) + r0 * 3 * C, *att = LAYER(a->att, l, z.natt) + at0;
    float *atty = LAYER(a->atty, l, z.NC) + r0 * C, *mid = LAYER(a->mid, l, z.NC) + r0 * C;
    float *dres = a->dres + r0 * C, *dln = a->dln + r0 * C, *tmp = a->tmp + r0 * C;
    float *datty = a->datty + r0 * C, *dqkv = a->dqkv + r0 * 3 * C;
    const float *attd = p->train && a->attd ? LAYER(a->attd, l, z.natt) + at0 : NULL;
    const float *rm = p->train && a->resmask ? LAYER(a->resmask, l, 2 * z.NC) + r0 * C : NULL;
    layer_rmsnorm_backward(dres, LAYER(g->ln2, l, C), dln, mid, LAYER(w->ln2, l, C),
                           LAYER(a->rstd2, l, z.Nr) + r0, N, C);
    /* mid = res + atty Wo^T (masked). */
    const float *dat = dres;
    if (rm) mul(tmp, dres, rm, (size_t)N * C), dat = tmp;
    linear_backward_beta(datty, LAYER(g->wo, l, C * C), dat, atty, LAYER(w->wo, l, C * C), N, C, C, 0,
                         0.0f);
    layer_attention_backward(dqkv, s->dp, datty, qkv, att, attd, s->B, T, C, H, p->causal);
    layer_rope_backward(dqkv, a->rope, s->B, T, C, H, c->attn_scale);
    linear_backward_beta(dln, LAYER(g->wqkv, l, 3 * C * C), dqkv, ln1, LAYER(w->wqkv, l, 3 * C * C), N,
                         C, 3 * C, 0, 0.0f);
    layer_rmsnorm_backward(dres, LAYER(g->ln1, l, C), dln, res, LAYER(w->ln1, l, C),
                           LAYER(a->rstd1, l, z.Nr) + r0, N, C);
    if (l == 0 && p->train && a->tokmask)
        for (int i = 0; i < N; i++)
            for (int k = 0; k < C; k++) dres[(size_t)i * C + k] *= a->tokmask[r0 + i];
}

/* ---- running a pass ------------------------------------------------------------ */

static void stage(pass *p, const shard *s, int k)
{
    int L = p->m->cfg.layers;
    if (k == 0) embed_forward(p, s);
    else if (k <= 2 * L) {
        int l = (k - 1) / 2;
        if ((k - 1) % 2 == 0) attn_forward(p, s, l);
        else ffn_forward(p, s, l);
    } else if (k == 2 * L + 1) final_stage(p, s);
    else {
        int j = k - (2 * L + 2), l = L - 1 - j / 2;
        if (j % 2 == 0) ffn_backward(p, s, l);
        else attn_backward(p, s, l);
    }
}

static void shard_item(void *ctx, int i)
{
    pass *p = ctx;
    shard s = shard_of(p, i);
    for (int k = p->k0; k < p->k1; k++) stage(p, &s, k);
}

static model_pool *pool_of(const model *m) { return m->tracing ? NULL : m->pool; }

/* Sums the shards' partials in shard order (one contiguous range of the
 * partials per thread, as the update after it takes its ranges), and
 * scatters the embedding gradient (a column block per item, every row in
 * order: the same sums as one pass over the rows). */
#define EMB_COLS 16

typedef struct {
    pass *p;
    int n_red; /* reduction items: one per thread */
} reduce_ctx;

static void reduce_range(model *m, int S, size_t lo, size_t hi)
{
    for (int i = 0; i < m->n_seg && lo < hi; i++) {
        const model_segment *seg = &m->seg[i];
        size_t a = lo > seg->pos ? lo : seg->pos, b = hi < seg->pos + seg->n ? hi : seg->pos + seg->n;
        if (a >= b) continue;
        float *dst = m->grads + seg->start + (a - seg->pos);
        memcpy(dst, m->shards[0].part + a, sizeof(float) * (b - a));
        for (int s = 1; s < S; s++) {
            const float *src = m->shards[s].part + a;
            for (size_t j = 0; j < b - a; j++) dst[j] += src[j];
        }
    }
}

static void reduce_item(void *ctx, int i)
{
    reduce_ctx *r = ctx;
    pass *p = r->p;
    model *m = p->m;
    if (i < r->n_red) {
        size_t lo = m->n_part * i / r->n_red & ~(size_t)15, hi = m->n_part * (i + 1) / r->n_red & ~(size_t)15;
        reduce_range(m, p->S, lo, i == r->n_red - 1 ? m->n_part : hi);
        return;
    }
    int C = m->cfg.dim, V = m->cfg.vocab, c0 = (i - r->n_red) * EMB_COLS;
    int c1 = c0 + EMB_COLS < C ? c0 + EMB_COLS : C;
    float *dwte = m->g.wte;
    for (int v = 0; v < V; v++) memset(dwte + (size_t)v * C + c0, 0, sizeof(float) * (c1 - c0));
    const float *dres = m->a.dres;
    for (int t = 0; t < p->B * p->T; t++) {
        float *d = dwte + (size_t)p->inputs[t] * C;
        const float *gr = dres + (size_t)t * C;
        for (int k = c0; k < c1; k++) d[k] += gr[k];
    }
}

static double run(pass *p)
{
    model *m = p->m;
    const model_config *c = &m->cfg;
    p->S = shard_count(m, p->B, p->T);
    if (p->S > m->max_shards) p->S = m->max_shards; /* B or T above the config's: never */
    p->aux = p->dropped = 0;
    p->cap = 0;
    if (c->experts && p->train && c->capacity_factor > 0) {
        p->cap = (int)ceil(c->capacity_factor * (double)p->B * p->T * c->top_k / c->experts);
        if (p->cap < 1) p->cap = 1;
    }
    if (p->grad && c->experts) /* the experts' and routers' gradients accumulate */
        memset(m->g.w13, 0, sizeof(float) * (size_t)(m->g.lnf - m->g.w13));
    int K = n_stages(p), k = 0;
    while (k < K) {
        if (batch_wide(p, k)) {
            shard w = whole(p);
            stage(p, &w, k++);
            continue;
        }
        int k1 = k + 1;
        while (k1 < K && !batch_wide(p, k1)) k1++;
        p->k0 = k, p->k1 = k1;
        pool_run(pool_of(m), shard_item, p, p->S);
        k = k1;
    }
    if (c->experts) {
        m->moe_aux = p->aux / c->layers;
        m->moe_dropped = p->dropped / ((double)c->layers * p->B * p->T * c->top_k);
    } else m->moe_aux = m->moe_dropped = 0;
    if (p->grad) {
        reduce_ctx r = {p, pool_ways(pool_of(m), m->n_part * (size_t)p->S)};
        pool_run(r.n_red > 1 ? pool_of(m) : NULL, reduce_item, &r, r.n_red + (c->dim + EMB_COLS - 1) / EMB_COLS);
    }
    if (!p->head) return 0;
    /* The loss in row order, as one pass over the rows would sum it. */
    double loss = 0;
    for (int i = 0; i < p->B * p->T; i++)
        if (p->targets[i] >= 0) loss += (double)(p->weights ? p->weights[i] : 1.0f) * p->nll[i];
    return loss;
}

void model_hidden(model *m, const int32_t *inputs, int B, int T, int causal)
{
    pass p = {.m = m, .inputs = inputs, .B = B, .T = T, .causal = causal};
    run(&p);
}

double model_moe_aux(const model *m, double *dropped)
{
    if (dropped) *dropped = m->moe_dropped;
    return m->moe_aux;
}

double model_forward(model *m, const int32_t *inputs, const int32_t *targets, int B, int T,
                     int causal, const float *weights, float *nll)
{
    pass p = {.m = m, .inputs = inputs, .targets = targets, .weights = weights,
              .nll = nll ? nll : m->a.nll, .B = B, .T = T, .causal = causal, .head = 1};
    return run(&p);
}

/* The dropout masks of one step, from noise_seed: a stream per kind and
 * layer, so a mask does not depend on which other noises are on. */
static void draw_noise(model *m, int B, int T, uint64_t noise_seed)
{
    const model_config *c = &m->cfg;
    model_acts *a = &m->a;
    strides z = strides_of(c);
    size_t N = (size_t)B * T;
    model_rng r;
    if (a->tokmask) {
        model_rng_seed2(&r, noise_seed, 1);
        layer_dropout_mask(a->tokmask, N, c->token_dropout, &r);
    }
    for (int l = 0; l < c->layers; l++) {
        if (a->attd) {
            model_rng_seed2(&r, noise_seed, 0x100 + (uint64_t)l);
            layer_dropout_mask(LAYER(a->attd, l, z.natt), (size_t)B * c->heads * T * T, c->attn_dropout, &r);
        }
        if (a->resmask)
            for (int h = 0; h < 2; h++) {
                model_rng_seed2(&r, noise_seed, 0x10000 + 2 * (uint64_t)l + h);
                layer_dropout_mask(LAYER(a->resmask, l, 2 * z.NC) + h * z.NC, N * c->dim, c->resid_dropout, &r);
            }
    }
}

static double forward_backward(model *m, const int32_t *inputs, const int32_t *targets,
                               const float *weights, int B, int T, int causal, int train)
{
    pass p = {.m = m, .inputs = inputs, .targets = targets, .weights = weights, .nll = m->a.nll,
              .B = B, .T = T, .causal = causal, .train = train, .head = 1, .grad = 1};
    return run(&p);
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
