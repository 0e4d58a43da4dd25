/*
 * tensors.c — the parameters as named tensors, for exporting a model to
 * other tools (models.h, "named tensors"). The checkpoint stores the ten
 * padded blocks of model.c's layout; here each block is cut into the
 * per-layer (and per-expert) matrices a reader expects, under Hugging Face
 * Llama's names, which describe this architecture exactly (RMSNorm, RoPE
 * rotating half-dimension pairs, SwiGLU, no biases, untied head).
 */
#include "models/internal.h"

#include <stdio.h>

typedef struct {
    model_tensor *out;
    size_t cap, n;
} tlist;

static void add(tlist *t, const float *data, int64_t rows, int64_t cols, const char *fmt, int a, int b)
{
    if (t->n < t->cap) {
        model_tensor *x = &t->out[t->n];
        snprintf(x->name, sizeof x->name, fmt, a, b);
        x->ndim = cols ? 2 : 1;
        x->shape[0] = rows;
        x->shape[1] = cols;
        x->data = data;
    }
    t->n++;
}

/* One SwiGLU feed-forward: w13 is [2F, C] (the gate's F rows, then the up
 * projection's), w2 is [C, F]. */
static void ffn(tlist *t, const float *w13, const float *w2, int64_t C, int64_t F, const char *prefix, int l,
                int e)
{
    char fmt[MODEL_TENSOR_NAME];
    const char *const part[3] = {"gate", "up", "down"};
    for (int i = 0; i < 3; i++) {
        snprintf(fmt, sizeof fmt, "%s.%s_proj.weight", prefix, part[i]);
        if (i < 2) add(t, w13 + i * F * C, F, C, fmt, l, e);
        else add(t, w2, C, F, fmt, l, e);
    }
}

size_t model_tensor_list(const model *m, model_tensor *out, size_t cap)
{
    const model_config *c = &m->cfg;
    const model_tensors *p = &m->p;
    int64_t C = c->dim, F = c->hidden, V = c->vocab, E = c->experts;
    tlist t = {out, cap, 0};
    add(&t, p->wte, V, C, "model.embed_tokens.weight", 0, 0);
    for (int l = 0; l < c->layers; l++) {
        add(&t, p->ln1 + l * C, C, 0, "model.layers.%d.input_layernorm.weight", l, 0);
        /* wqkv is [3C, C] per layer: q's rows, then k's, then v's. */
        const float *qkv = p->wqkv + l * 3 * C * C;
        add(&t, qkv, C, C, "model.layers.%d.self_attn.q_proj.weight", l, 0);
        add(&t, qkv + C * C, C, C, "model.layers.%d.self_attn.k_proj.weight", l, 0);
        add(&t, qkv + 2 * C * C, C, C, "model.layers.%d.self_attn.v_proj.weight", l, 0);
        add(&t, p->wo + l * C * C, C, C, "model.layers.%d.self_attn.o_proj.weight", l, 0);
        add(&t, p->ln2 + l * C, C, 0, "model.layers.%d.post_attention_layernorm.weight", l, 0);
        if (E == 0) {
            ffn(&t, p->w13 + l * 2 * F * C, p->w2 + l * C * F, C, F, "model.layers.%d.mlp", l, 0);
            continue;
        }
        add(&t, p->wr + l * E * C, E, C, "model.layers.%d.mlp.router.weight", l, 0);
        for (int e = 0; e < E; e++)
            ffn(&t, p->w13 + (l * E + e) * 2 * F * C, p->w2 + (l * E + e) * C * F, C, F,
                "model.layers.%d.mlp.experts.%d", l, e);
    }
    add(&t, p->lnf, C, 0, "model.norm.weight", 0, 0);
    add(&t, p->whead, V, C, "lm_head.weight", 0, 0);
    return t.n;
}
