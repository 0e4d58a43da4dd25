/*
 * layers.c — one forward and one backward function per layer of the
 * transformer (llm.c style: plain float arrays, row-major, N = B*T rows).
 *
 * Speed notes. Matrix products are cblas_sgemm calls (through mm(), which
 * can record them for the benchmark); everything else is a single pass over
 * memory written with 8-wide vector extensions, fusing what can be fused:
 * RoPE also applies the 1/sqrt(D) attention scale, the output head gathers
 * only the scored rows (half of them for the MDM), computes logits, softmax,
 * loss and the logit gradient for a chunk of rows while it is in cache, and
 * feeds it straight into the two backward products.
 */
#include "models/internal.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- sgemm, with an optional trace ------------------------------------- */

static model_gemm_call *trace_calls;
static size_t trace_cap, trace_n;
static int tracing;

void mm_trace_begin(model_gemm_call *calls, size_t cap)
{
    trace_calls = calls;
    trace_cap = cap;
    trace_n = 0;
    tracing = 1;
}

size_t mm_trace_end(void)
{
    tracing = 0;
    return trace_n;
}

void mm(char ta, char tb, int m, int n, int k, const float *A, int lda, const float *B, int ldb,
        float beta, float *C, int ldc)
{
    if (tracing) {
        if (trace_n < trace_cap)
            trace_calls[trace_n] = (model_gemm_call){ta, tb, m, n, k, lda, ldb, ldc, beta};
        trace_n++;
    }
    cblas_sgemm(CblasRowMajor, ta == 'T' ? CblasTrans : CblasNoTrans,
                tb == 'T' ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, A, lda, B, ldb, beta, C,
                ldc);
}

/* ---- embedding ----------------------------------------------------------- */

void layer_embed_forward(float *out, const int32_t *tok, const float *wte, int N, int C)
{
    for (int i = 0; i < N; i++)
        memcpy(out + (size_t)i * C, wte + (size_t)tok[i] * C, sizeof(float) * C);
}

void layer_embed_backward(float *dwte, const float *dout, const int32_t *tok, int N, int C)
{
    for (int i = 0; i < N; i++) {
        float *d = dwte + (size_t)tok[i] * C;
        const float *g = dout + (size_t)i * C;
        for (int c = 0; c < C; c++) d[c] += g[c];
    }
}

/* ---- RMSNorm --------------------------------------------------------------- */

#define RMS_EPS 1e-5f

void layer_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int N, int C)
{
    for (int i = 0; i < N; i++) {
        const float *xi = x + (size_t)i * C;
        float *oi = out + (size_t)i * C;
        v8f acc = v8_set1(0);
        int c = 0;
        for (; c + 8 <= C; c += 8) {
            v8f v = v8_load(xi + c);
            acc += v * v;
        }
        float ss = v8_sum(acc);
        for (; c < C; c++) ss += xi[c] * xi[c];
        float r = 1.0f / sqrtf(ss / C + RMS_EPS);
        rstd[i] = r;
        v8f rv = v8_set1(r);
        for (c = 0; c + 8 <= C; c += 8) v8_store(oi + c, v8_load(xi + c) * rv * v8_load(w + c));
        for (; c < C; c++) oi[c] = xi[c] * r * w[c];
    }
}

void layer_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x,
                            const float *w, const float *rstd, int N, int C)
{
    for (int i = 0; i < N; i++) {
        const float *xi = x + (size_t)i * C, *gi = dout + (size_t)i * C;
        float *dxi = dx + (size_t)i * C;
        float r = rstd[i];
        v8f rv = v8_set1(r), acc = v8_set1(0);
        int c = 0;
        for (; c + 8 <= C; c += 8) {
            v8f g = v8_load(gi + c), xv = v8_load(xi + c);
            acc += g * v8_load(w + c) * xv;
            v8_store(dw + c, v8_load(dw + c) + g * xv * rv);
        }
        float S = v8_sum(acc);
        for (; c < C; c++) {
            S += gi[c] * w[c] * xi[c];
            dw[c] += gi[c] * xi[c] * r;
        }
        float k = r * r * S / C;
        v8f kv = v8_set1(k);
        for (c = 0; c + 8 <= C; c += 8) {
            v8f d = rv * (v8_load(gi + c) * v8_load(w + c) - v8_load(xi + c) * kv);
            v8_store(dxi + c, v8_load(dxi + c) + d);
        }
        for (; c < C; c++) dxi[c] += r * (gi[c] * w[c] - xi[c] * k);
    }
}

/* ---- linear (no bias) ------------------------------------------------------ */

void layer_linear_forward(float *out, const float *x, const float *W, int N, int C, int OC,
                          int accumulate)
{
    mm('N', 'T', N, OC, C, x, C, W, C, accumulate ? 1.0f : 0.0f, out, OC);
}

void linear_backward_beta(float *dx, float *dW, const float *dout, const float *x, const float *W,
                          int N, int C, int OC, int dx_accumulate, float beta)
{
    mm('N', 'N', N, C, OC, dout, OC, W, C, dx_accumulate ? 1.0f : 0.0f, dx, C);
    mm('T', 'N', OC, C, N, dout, OC, x, C, beta, dW, C);
}

void layer_linear_backward(float *dx, float *dW, const float *dout, const float *x,
                           const float *W, int N, int C, int OC, int dx_accumulate)
{
    linear_backward_beta(dx, dW, dout, x, W, N, C, OC, dx_accumulate, 1.0f);
}

/* ---- RoPE ---------------------------------------------------------------- */

void layer_rope_table(float *cs, int T, int D)
{
    int h = D / 2;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < h; i++) {
            double theta = pow(10000.0, -2.0 * i / D);
            cs[(size_t)t * D + i] = (float)cos(t * theta);
            cs[(size_t)t * D + h + i] = (float)sin(t * theta);
        }
}

/* Rotate the D-vector q at position with table row cs by +angle (dir 1) or
 * -angle (dir -1), then scale. */
static inline void rope_rotate(float *q, const float *cs, int D, float dir, float scale)
{
    int h = D / 2, i = 0;
    const float *co = cs, *si = cs + h;
    v8f dv = v8_set1(dir), sv = v8_set1(scale);
    for (; i + 8 <= h; i += 8) {
        v8f a = v8_load(q + i), b = v8_load(q + h + i);
        v8f c = v8_load(co + i), s = v8_load(si + i) * dv;
        v8_store(q + i, (a * c - b * s) * sv);
        v8_store(q + h + i, (b * c + a * s) * sv);
    }
    for (; i < h; i++) {
        float a = q[i], b = q[h + i], c = co[i], s = si[i] * dir;
        q[i] = (a * c - b * s) * scale;
        q[h + i] = (b * c + a * s) * scale;
    }
}

static void rope_apply(float *qkv, const float *cs, int B, int T, int C, int H, float dir,
                       float attn_scale)
{
    int D = C / H;
    float scale = attn_scale / sqrtf((float)D); /* 1 / sqrtf(D) exactly when attn_scale is 1 */
    for (int n = 0; n < B * T; n++) {
        const float *row = cs + (size_t)(n % T) * D;
        float *q = qkv + (size_t)n * 3 * C;
        for (int h = 0; h < H; h++) {
            rope_rotate(q + h * D, row, D, dir, scale);
            rope_rotate(q + C + h * D, row, D, dir, 1.0f);
        }
    }
}

void layer_rope_forward(float *qkv, const float *cs, int B, int T, int C, int H, float attn_scale)
{
    rope_apply(qkv, cs, B, T, C, H, 1.0f, attn_scale);
}

void layer_rope_backward(float *dqkv, const float *cs, int B, int T, int C, int H, float attn_scale)
{
    /* The rotation is orthogonal: its transpose rotates by minus the angle
     * (the scale of q is its own transpose). */
    rope_apply(dqkv, cs, B, T, C, H, -1.0f, attn_scale);
}

/* ---- attention ------------------------------------------------------------ */

/* The largest of row[0..len). */
static float row_max(const float *row, int len)
{
    v8f mv = v8_set1(-FLT_MAX);
    int j = 0;
    for (; j + 8 <= len; j += 8) mv = v8_maxv(mv, v8_load(row + j));
    float mx = v8_max(mv);
    for (; j < len; j++) mx = row[j] > mx ? row[j] : mx;
    return mx;
}

/* Sum of exp(row[j] - mx) over row[0..len); with store, each exp replaces
 * its row[j]. The shared half of softmax and cross-entropy. */
static float row_exp_sum(float *row, int len, float mx, int store)
{
    v8f mb = v8_set1(mx), acc = v8_set1(0);
    int j = 0;
    for (; j + 8 <= len; j += 8) {
        v8f e = v8_exp(v8_load(row + j) - mb);
        acc += e;
        if (store) v8_store(row + j, e);
    }
    float sum = v8_sum(acc);
    for (; j < len; j++) {
        float e = scalar_exp(row[j] - mx);
        sum += e;
        if (store) row[j] = e;
    }
    return sum;
}

/* Softmax of row[0..len) in place; row[len..T) set to 0. */
static void softmax_row(float *row, int len, int T)
{
    float inv = 1.0f / row_exp_sum(row, len, row_max(row, len), 1);
    v8f iv = v8_set1(inv);
    int j = 0;
    for (; j + 8 <= len; j += 8) v8_store(row + j, v8_load(row + j) * iv);
    for (; j < len; j++) row[j] *= inv;
    if (len < T) memset(row + len, 0, sizeof(float) * (T - len));
}

/* Causal attention only needs, for query rows [r0, r1), the keys [0, r1):
 * the rows are taken in blocks so the products skip most of the upper
 * triangle. Bidirectional attention is one block. */
static int attn_block(int T, int causal)
{
    if (!causal || T < 64) return T;
    return T >= 256 ? 64 : 32;
}

void layer_dropout_mask(float *mask, size_t n, float p, model_rng *r)
{
    /* Two 32-bit draws per 64-bit number: drop when u < p * 2^32. */
    uint64_t lim = (uint64_t)((double)p * 4294967296.0);
    float keep = 1.0f / (1.0f - p);
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        uint64_t x = model_rng_next(r);
        mask[i] = (x >> 32) < lim ? 0.0f : keep;
        mask[i + 1] = (x & 0xffffffffu) < lim ? 0.0f : keep;
    }
    if (i < n) mask[i] = (model_rng_next(r) >> 32) < lim ? 0.0f : keep;
}

void layer_attention_forward(float *out, float *att, float *attd, const float *qkv, int B, int T,
                             int C, int H, int causal)
{
    int D = C / H, C3 = 3 * C, RB = attn_block(T, causal);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *Q = qkv + (size_t)b * T * C3 + h * D, *K = Q + C, *V = Q + 2 * C;
            float *P = att + ((size_t)b * H + h) * T * T;
            float *Pd = attd ? attd + ((size_t)b * H + h) * T * T : P;
            float *O = out + (size_t)b * T * C + h * D;
            for (int r0 = 0; r0 < T; r0 += RB) {
                int r1 = r0 + RB < T ? r0 + RB : T;
                int kk = causal ? r1 : T; /* keys that rows [r0,r1) can see */
                float *Pr = P + (size_t)r0 * T;
                mm('N', 'T', r1 - r0, kk, D, Q + (size_t)r0 * C3, C3, K, C3, 0.0f, Pr, T);
                for (int i = r0; i < r1; i++) softmax_row(P + (size_t)i * T, causal ? i + 1 : T, T);
                if (attd) /* the mask becomes the dropped probabilities */
                    for (int i = r0; i < r1; i++) {
                        const float *p = P + (size_t)i * T;
                        float *d = Pd + (size_t)i * T;
                        for (int j = 0; j < T; j++) d[j] *= p[j]; /* p is 0 past the row's keys */
                    }
                mm('N', 'N', r1 - r0, D, kk, Pd + (size_t)r0 * T, T, V, C3, 0.0f, O + (size_t)r0 * C, C);
            }
        }
}

void layer_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                              const float *att, const float *attd, int B, int T, int C, int H,
                              int causal)
{
    int D = C / H, C3 = 3 * C, RB = attn_block(T, causal);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *Q = qkv + (size_t)b * T * C3 + h * D, *K = Q + C, *V = Q + 2 * C;
            const float *P = att + ((size_t)b * H + h) * T * T;
            /* With dropout, out = Pd V with Pd = P * M: dPd = dO V^T, and
             * since P * dP = Pd * dPd, dS = Pd * dPd - P * rowdot(Pd, dPd). */
            const float *Pd = attd ? attd + ((size_t)b * H + h) * T * T : P;
            const float *dO = dout + (size_t)b * T * C + h * D;
            float *dQ = dqkv + (size_t)b * T * C3 + h * D, *dK = dQ + C, *dV = dQ + 2 * C;
            float *dS = scratch;
            /* dP = dO V^T over the visible keys, then dS = P (dP - rowdot(P, dP)). */
            for (int r0 = 0; r0 < T; r0 += RB) {
                int r1 = r0 + RB < T ? r0 + RB : T;
                int kk = causal ? r1 : T;
                float *dSr = dS + (size_t)r0 * T;
                mm('N', 'T', r1 - r0, kk, D, dO + (size_t)r0 * C, C, V, C3, 0.0f, dSr, T);
                for (int i = r0; i < r1; i++) {
                    const float *p = P + (size_t)i * T;
                    float *d = dS + (size_t)i * T;
                    int len = causal ? i + 1 : T, j = 0;
                    if (attd) {
                        const float *pd = Pd + (size_t)i * T;
                        float dot = 0;
                        for (j = 0; j < len; j++) dot += pd[j] * d[j];
                        for (j = 0; j < len; j++) d[j] = pd[j] * d[j] - p[j] * dot;
                        if (len < kk) memset(d + len, 0, sizeof(float) * (kk - len));
                        continue;
                    }
                    v8f acc = v8_set1(0);
                    for (; j + 8 <= len; j += 8) acc += v8_load(p + j) * v8_load(d + j);
                    float dot = v8_sum(acc);
                    for (; j < len; j++) dot += p[j] * d[j];
                    v8f dv = v8_set1(dot);
                    for (j = 0; j + 8 <= len; j += 8)
                        v8_store(d + j, v8_load(p + j) * (v8_load(d + j) - dv));
                    for (; j < len; j++) d[j] = p[j] * (d[j] - dot);
                    if (len < kk) memset(d + len, 0, sizeof(float) * (kk - len));
                }
            }
            /* dQ rows [r0,r1) = dS[r0:r1, :kk] K[:kk]. */
            for (int r0 = 0; r0 < T; r0 += RB) {
                int r1 = r0 + RB < T ? r0 + RB : T;
                int kk = causal ? r1 : T;
                mm('N', 'N', r1 - r0, D, kk, dS + (size_t)r0 * T, T, K, C3, 0.0f,
                   dQ + (size_t)r0 * C3, C3);
            }
            /* dK and dV: key block [c0,c1) is seen by query rows [c0, T) when
             * causal (all rows otherwise). */
            for (int c0 = 0; c0 < T; c0 += RB) {
                int c1 = c0 + RB < T ? c0 + RB : T;
                int q0 = causal ? c0 : 0;
                mm('T', 'N', c1 - c0, D, T - q0, dS + (size_t)q0 * T + c0, T, Q + (size_t)q0 * C3,
                   C3, 0.0f, dK + (size_t)c0 * C3, C3);
                mm('T', 'N', c1 - c0, D, T - q0, Pd + (size_t)q0 * T + c0, T, dO + (size_t)q0 * C, C,
                   0.0f, dV + (size_t)c0 * C3, C3);
            }
        }
}

/* ---- SwiGLU ---------------------------------------------------------------- */

static inline v8f v8_sigmoid(v8f a)
{
    return v8_set1(1.0f) / (v8_set1(1.0f) + v8_exp(-a));
}

void layer_swiglu_forward(float *g, const float *h, int N, int F)
{
    for (int i = 0; i < N; i++) {
        const float *a = h + (size_t)i * 2 * F, *u = a + F;
        float *gi = g + (size_t)i * F;
        int j = 0;
        for (; j + 8 <= F; j += 8) {
            v8f av = v8_load(a + j);
            v8_store(gi + j, av * v8_sigmoid(av) * v8_load(u + j));
        }
        for (; j < F; j++) gi[j] = a[j] / (1.0f + scalar_exp(-a[j])) * u[j];
    }
}

void layer_swiglu_backward(float *dh, const float *dg, const float *h, int N, int F)
{
    for (int i = 0; i < N; i++) {
        const float *a = h + (size_t)i * 2 * F, *u = a + F, *d = dg + (size_t)i * F;
        float *da = dh + (size_t)i * 2 * F, *du = da + F;
        int j = 0;
        for (; j + 8 <= F; j += 8) {
            v8f av = v8_load(a + j), s = v8_sigmoid(av), dv = v8_load(d + j);
            v8_store(du + j, dv * av * s);
            v8_store(da + j, dv * v8_load(u + j) * s * (v8_set1(1.0f) + av * (v8_set1(1.0f) - s)));
        }
        for (; j < F; j++) {
            float s = 1.0f / (1.0f + scalar_exp(-a[j]));
            du[j] = d[j] * a[j] * s;
            da[j] = d[j] * u[j] * s * (1.0f + a[j] * (1.0f - s));
        }
    }
}

/* ---- output head + cross-entropy --------------------------------------------- */

#define HEAD_CHUNK 128

size_t layer_head_scratch(int C, int V)
{
    /* logits, gathered x, gathered dx, row indices */
    return (size_t)HEAD_CHUNK * V + 2 * (size_t)HEAD_CHUNK * C + HEAD_CHUNK;
}

/* Softmax cross-entropy of one row of logits; with grad, the row becomes
 * w * (softmax - onehot) with 0 at the excluded id. Returns CE. */
static float ce_row(float *row, int V, int32_t tgt, int32_t excluded, float w, int grad)
{
    if (excluded >= 0) row[excluded] = -FLT_MAX;
    float lt = row[tgt];
    float mx = row_max(row, V);
    float sum = row_exp_sum(row, V, mx, grad);
    int j;
    if (excluded >= 0) sum -= grad ? row[excluded] : scalar_exp(-FLT_MAX);
    float ce = mx + logf(sum) - lt;
    if (grad) {
        v8f sc = v8_set1(w / sum);
        for (j = 0; j + 8 <= V; j += 8) v8_store(row + j, v8_load(row + j) * sc);
        for (; j < V; j++) row[j] *= w / sum;
        row[tgt] -= w;
        if (excluded >= 0) row[excluded] = 0.0f;
    }
    return ce;
}

/* The head's one pass; see head_rows and layer_head_forward_backward. */
static double head_impl(float *dx, float *dW, float *nll, float *scratch, const float *x,
                        const float *W, const int32_t *targets, const float *weights, int N, int C,
                        int V, int32_t excluded, int dW_fresh, int *scored)
{
    float *logits = scratch, *xg = logits + (size_t)HEAD_CHUNK * V, *dxg = xg + (size_t)HEAD_CHUNK * C;
    int32_t *idx = (int32_t *)(dxg + (size_t)HEAD_CHUNK * C);
    int grad = dx != NULL, total = 0;
    double loss = 0;
    if (grad) memset(dx, 0, sizeof(float) * (size_t)N * C);
    if (nll) memset(nll, 0, sizeof(float) * (size_t)N);
    int r = 0;
    while (r < N) {
        /* Gather the next chunk of scored rows. */
        int n = 0;
        for (; r < N && n < HEAD_CHUNK; r++)
            if (targets[r] >= 0) {
                idx[n] = r;
                memcpy(xg + (size_t)n * C, x + (size_t)r * C, sizeof(float) * C);
                n++;
            }
        if (n == 0) break;
        mm('N', 'T', n, V, C, xg, C, W, C, 0.0f, logits, V);
        for (int j = 0; j < n; j++) {
            int i = idx[j];
            float w = weights ? weights[i] : 1.0f;
            float ce = ce_row(logits + (size_t)j * V, V, targets[i], excluded, w, grad);
            if (nll) nll[i] = ce;
            loss += (double)w * ce;
        }
        if (grad) {
            mm('N', 'N', n, C, V, logits, V, W, C, 0.0f, dxg, C);
            for (int j = 0; j < n; j++)
                memcpy(dx + (size_t)idx[j] * C, dxg + (size_t)j * C, sizeof(float) * C);
            mm('T', 'N', V, C, n, logits, V, xg, C, dW_fresh && total == 0 ? 0.0f : 1.0f, dW, C);
        }
        total += n;
    }
    if (grad && dW_fresh && total == 0) memset(dW, 0, sizeof(float) * (size_t)V * C);
    if (scored) *scored = total;
    return loss;
}

double layer_head_forward_backward(float *dx, float *dW, float *nll, float *scratch,
                                   const float *x, const float *W, const int32_t *targets,
                                   const float *weights, int N, int C, int V, int32_t excluded)
{
    return head_impl(dx, dW, nll, scratch, x, W, targets, weights, N, C, V, excluded, 0, NULL);
}

int head_rows(float *dx, float *dW, float *nll, float *scratch, const float *x, const float *W,
              const int32_t *targets, const float *weights, int N, int C, int V, int32_t excluded,
              int dW_fresh)
{
    int scored;
    head_impl(dx, dW, nll, scratch, x, W, targets, weights, N, C, V, excluded, dW_fresh, &scored);
    return scored;
}
