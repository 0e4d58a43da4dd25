/*
 * moe.c — the mixture-of-experts feed-forward layer: a softmax router, top-k
 * choices per token, capacity, the load-balancing loss, and E SwiGLU experts
 * whose products stay in sgemm by grouping each expert's tokens into one
 * contiguous block (gather, two products, scatter weighted by the gate).
 *
 * The grouped rows are ordered by expert, and within an expert in the order
 * the choices were accepted (choice rank, then token): the same batch always
 * gives the same blocks, so the layer is deterministic and its backward sums
 * in a fixed order.
 */
#include "models/internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

static void softmax_small(float *p, int E)
{
    float mx = -FLT_MAX, sum = 0;
    for (int e = 0; e < E; e++) mx = p[e] > mx ? p[e] : mx;
    for (int e = 0; e < E; e++) sum += (p[e] = scalar_exp(p[e] - mx));
    float inv = 1.0f / sum;
    for (int e = 0; e < E; e++) p[e] *= inv;
}

/* o[0..C) += w * v[0..C) */
static inline void axpy(float *o, const float *v, float w, int C)
{
    v8f wv = v8_set1(w);
    int c = 0;
    for (; c + 8 <= C; c += 8) v8_store(o + c, v8_load(o + c) + wv * v8_load(v + c));
    for (; c < C; c++) o[c] += w * v[c];
}

static inline float dotf(const float *a, const float *b, int C)
{
    v8f acc = v8_set1(0);
    int c = 0;
    for (; c + 8 <= C; c += 8) acc += v8_load(a + c) * v8_load(b + c);
    float s = v8_sum(acc);
    for (; c < C; c++) s += a[c] * b[c];
    return s;
}

void layer_moe_forward(float *out, layer_moe_cache *s, const float *x, const float *wr,
                       const float *w13, const float *w2, int N, int C, int F, int E, int k,
                       int cap)
{
    float *P = s->probs;
    int32_t *off = s->off;
    size_t NK = (size_t)N * k;

    /* Router probabilities and each token's k best experts. */
    layer_linear_forward(P, x, wr, N, C, E, 0);
    for (int i = 0; i < N; i++) {
        float *p = P + (size_t)i * E;
        softmax_small(p, E);
        int32_t *ch = s->choice + (size_t)i * k;
        for (int r = 0; r < k; r++) {
            int best = -1;
            for (int e = 0; e < E; e++) {
                int taken = 0;
                for (int q = 0; q < r; q++) taken |= ch[q] == e;
                if (!taken && (best < 0 || p[e] > p[best])) best = e;
            }
            ch[r] = best;
            s->gate[(size_t)i * k + r] = p[best];
        }
    }

    /* Balance loss from the choices before capacity: E * sum_e f_e P_e. */
    for (int e = 0; e <= E; e++) off[e] = 0;
    for (size_t j = 0; j < NK; j++) off[s->choice[j]]++;
    double aux = 0;
    for (int e = 0; e < E; e++) {
        double pe = 0;
        for (int i = 0; i < N; i++) pe += P[(size_t)i * E + e];
        aux += (double)off[e] / (double)NK * (pe / N);
    }
    s->aux = aux * E;

    /* Capacity: accept choices rank by rank, token by token, while the
     * expert has room. off[e] counts acceptances, then becomes the start. */
    for (int e = 0; e <= E; e++) off[e] = 0;
    long dropped = 0;
    for (int r = 0; r < k; r++)
        for (int i = 0; i < N; i++) {
            size_t j = (size_t)i * k + r;
            int e = s->choice[j];
            if (cap <= 0 || off[e] < cap) s->row[j] = off[e]++;
            else s->row[j] = -1, dropped++;
        }
    s->dropped = dropped;
    int32_t total = 0;
    for (int e = 0; e < E; e++) {
        int32_t c = off[e];
        off[e] = total;
        total += c;
    }
    off[E] = total;
    for (size_t j = 0; j < NK; j++) {
        if (s->row[j] < 0) continue;
        int32_t g = s->row[j] += off[s->choice[j]];
        int i = (int)(j / k);
        s->src[g] = i;
        memcpy(s->xg + (size_t)g * C, x + (size_t)i * C, sizeof(float) * C);
    }

    /* Each expert on its block of rows. */
    for (int e = 0; e < E; e++) {
        int n = off[e + 1] - off[e];
        if (n == 0) continue;
        size_t r0 = (size_t)off[e];
        float *h13 = s->h13 + r0 * 2 * F, *g = s->g + r0 * F;
        layer_linear_forward(h13, s->xg + r0 * C, w13 + (size_t)e * 2 * F * C, n, C, 2 * F, 0);
        layer_swiglu_forward(g, h13, n, F);
        layer_linear_forward(s->y + r0 * C, g, w2 + (size_t)e * C * F, n, F, C, 0);
    }

    /* Scatter back, weighted by the gates, in token then rank order. */
    for (int i = 0; i < N; i++)
        for (int r = 0; r < k; r++) {
            size_t j = (size_t)i * k + r;
            if (s->row[j] >= 0)
                axpy(out + (size_t)i * C, s->y + (size_t)s->row[j] * C, s->gate[j], C);
        }
}

void layer_moe_backward(float *dx, float *dwr, float *dw13, float *dw2, const layer_moe_scratch *t,
                        const float *dout, const float *x, const layer_moe_cache *s,
                        const float *wr, const float *w13, const float *w2, int N, int C, int F,
                        int E, int k, float aux_coef)
{
    const float *P = s->probs;
    float *dP = t->dprobs;
    size_t NK = (size_t)N * k;

    /* The balance loss: d aux / d p_ie = E * f_e / N (f_e held constant). */
    for (int e = 0; e < E; e++) dP[e] = 0;
    for (size_t j = 0; j < NK; j++) dP[s->choice[j]] += 1.0f;
    for (int e = 0; e < E; e++) dP[e] = (float)(aux_coef * E * (dP[e] / (double)NK) / N);
    for (int i = N - 1; i >= 1; i--) memcpy(dP + (size_t)i * E, dP, sizeof(float) * E);

    /* Through the gates: dy = gate * dout; d gate = dout . y. */
    for (int i = 0; i < N; i++)
        for (int r = 0; r < k; r++) {
            size_t j = (size_t)i * k + r;
            int32_t g = s->row[j];
            if (g < 0) continue;
            const float *d = dout + (size_t)i * C;
            float *dy = t->dy + (size_t)g * C, gate = s->gate[j];
            for (int c = 0; c < C; c++) dy[c] = gate * d[c];
            dP[(size_t)i * E + s->choice[j]] += dotf(d, s->y + (size_t)g * C, C);
        }

    /* Each expert's block. */
    for (int e = 0; e < E; e++) {
        int n = s->off[e + 1] - s->off[e];
        if (n == 0) continue;
        size_t r0 = (size_t)s->off[e];
        const float *W13 = w13 + (size_t)e * 2 * F * C, *W2 = w2 + (size_t)e * C * F;
        layer_linear_backward(t->dg + r0 * F, dw2 + (size_t)e * C * F, t->dy + r0 * C, s->g + r0 * F,
                              W2, n, F, C, 0);
        layer_swiglu_backward(t->dh13 + r0 * 2 * F, t->dg + r0 * F, s->h13 + r0 * 2 * F, n, F);
        layer_linear_backward(t->dxg + r0 * C, dw13 + (size_t)e * 2 * F * C, t->dh13 + r0 * 2 * F,
                              s->xg + r0 * C, W13, n, C, 2 * F, 0);
    }

    /* Gather the experts' input gradients back to their tokens. */
    memset(dx, 0, sizeof(float) * (size_t)N * C);
    for (int i = 0; i < N; i++)
        for (int r = 0; r < k; r++) {
            int32_t g = s->row[(size_t)i * k + r];
            if (g >= 0) axpy(dx + (size_t)i * C, t->dxg + (size_t)g * C, 1.0f, C);
        }

    /* Softmax backward, then the router's product. */
    for (int i = 0; i < N; i++) {
        const float *p = P + (size_t)i * E;
        float *d = dP + (size_t)i * E, dot = 0;
        for (int e = 0; e < E; e++) dot += p[e] * d[e];
        for (int e = 0; e < E; e++) d[e] = p[e] * (d[e] - dot);
    }
    layer_linear_backward(dx, dwr, dP, x, wr, N, C, E, 1);
}
