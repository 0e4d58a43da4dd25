/*
 * eval.c — what a trained model is measured by and what it can do:
 * validation loss (AR exact NLL; MDM ELBO by Monte Carlo over fixed masks),
 * multiple-choice cloze scoring, and sampling (AR left to right, MDM by
 * iterative unmasking).
 *
 * Every Monte Carlo draw takes its masks from a generator keyed by the eval
 * seed and the draw's identity (sequence, draw), never by its place in a
 * batch: the same seed gives the same estimate however the work is batched,
 * and successive evaluations of a run see the same masks.
 */
#include "models/internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Mask exactly l of the positions pos[0..np) of row (inputs/targets from
 * tokens), chosen uniformly by a partial Fisher-Yates shuffle; perm is
 * scratch of np ints. Weight w on each masked position. */
static void mask_exact(model_rng *r, const int32_t *tokens, int32_t *inputs, int32_t *targets,
                       float *weights, int first, int np, int l, int32_t mask_id, float w, int *perm)
{
    for (int i = 0; i < np; i++) perm[i] = first + i;
    for (int i = 0; i < l; i++) {
        int j = i + (int)model_rng_below(r, (uint64_t)(np - i));
        int tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
        int p = perm[i];
        inputs[p] = mask_id;
        targets[p] = tokens[p];
        weights[p] = w;
    }
}

/* The l (exact) or t (Bernoulli) of draw k of K, stratified by the
 * sequence's own offset u. */
static int strat_l(int k, int K, double u, int L)
{
    int l = 1 + (int)floor((k + u) / K * L);
    return l > L ? L : l;
}
static double strat_t(int k, int K, double u)
{
    return MODEL_MDM_EPS + (1 - MODEL_MDM_EPS) * ((k + u) / K);
}

/* Fill row b of the batch with draw k of sequence `seq` (masks over
 * positions [first, first+np), the rest left as given). */
static void mdm_draw(const model_eval_opts *o, uint64_t seq, int k, const int32_t *tokens, int T,
                     int first, int np, int32_t mask_id, int32_t *inputs, int32_t *targets,
                     float *weights, int *perm, double scale)
{
    model_rng r;
    model_rng_seed2(&r, o->seed, seq);
    double u = model_rng_uniform(&r);
    model_rng_seed2(&r, o->seed ^ 0x5eedULL, seq * 1000003ULL + (uint64_t)k);
    for (int j = 0; j < T; j++) {
        inputs[j] = tokens[j];
        targets[j] = -1;
        weights[j] = 0;
    }
    if (o->bernoulli) {
        double t = strat_t(k, o->draws, u);
        float w = (float)(scale / t);
        for (int j = first; j < first + np; j++)
            if (model_rng_uniform(&r) < t) {
                inputs[j] = mask_id;
                targets[j] = tokens[j];
                weights[j] = w;
            }
    } else {
        int l = strat_l(k, o->draws, u, np);
        mask_exact(&r, tokens, inputs, targets, weights, first, np, l, mask_id,
                   (float)(scale * np / l), perm);
    }
}

/* The validation loss; with y != NULL also each row's loss, y[s*K + k]
 * for draw k of sequence s (K = 1 for AR), whose mean is the loss. The
 * loss is summed exactly as before y existed, so it keeps its bits. */
static double val_loss(model *m, const int32_t *seqs, size_t n, const model_eval_opts *o,
                       double *y)
{
    const model_config *c = &m->cfg;
    int T = c->seq_len, Bm = c->batch;
    model_acts *a = &m->a;
    float *nll = y ? a->nll : NULL;
    if (n == 0) return NAN;
    double total = 0;
    if (c->objective == MODEL_AR) {
        double count = 0;
        for (size_t s0 = 0; s0 < n; s0 += (size_t)Bm) {
            int B = n - s0 < (size_t)Bm ? (int)(n - s0) : Bm;
            model_ar_batch(seqs + s0 * T, B, T, a->inputs, a->targets, a->weights);
            total += model_forward(m, a->inputs, a->targets, B, T, 1, NULL, nll);
            count += (double)B * (T - 1);
            for (int b = 0; y && b < B; b++) {
                double r = 0;
                for (int j = 0; j < T; j++) r += nll[(size_t)b * T + j];
                y[s0 + b] = r / (T - 1);
            }
        }
        return total / count;
    }
    int K = o->draws > 0 ? o->draws : 1;
    int *perm = malloc(sizeof(int) * T);
    if (!perm) return NAN;
    size_t items = n * (size_t)K, it = 0;
    while (it < items) {
        int B = 0;
        size_t first = it;
        for (; B < Bm && it < items; B++, it++) {
            size_t s = it / K;
            /* Position 0 stays visible and unscored: AR cannot predict it
             * (it has no prefix), so both objectives score the same T-1
             * tokens given the same first token. Scoring all T here would
             * charge the MDM for a token AR is never charged for (~0.01
             * nats/token at T = 128, the size of the gaps being measured). */
            mdm_draw(o, s, (int)(it % K), seqs + s * T, T, 1, T - 1, c->mask_id,
                     a->inputs + (size_t)B * T, a->targets + (size_t)B * T,
                     a->weights + (size_t)B * T, perm, 1.0 / (T - 1));
        }
        total += model_forward(m, a->inputs, a->targets, B, T, 0, a->weights, nll);
        for (int b = 0; y && b < B; b++) {
            double r = 0;
            for (int j = 0; j < T; j++)
                r += (double)a->weights[(size_t)b * T + j] * nll[(size_t)b * T + j];
            y[first + b] = r;
        }
    }
    free(perm);
    return total / (double)items;
}

size_t model_val_rows(const model_config *c, const int32_t *seqs, size_t n, const model_eval_opts *o,
                      int32_t *inputs, int32_t *targets, float *weights)
{
    int T = c->seq_len;
    size_t K = c->objective == MODEL_AR ? 1 : (size_t)(o->draws > 0 ? o->draws : 1), rows = n * K;
    if (!inputs || n == 0) return rows;
    if (c->objective == MODEL_AR) {
        /* model_val_loss: the mean CE over the n*(T-1) predictions. */
        model_ar_batch(seqs, (int)n, T, inputs, targets, weights);
        float w = (float)(1.0 / ((double)n * (T - 1)));
        for (size_t i = 0; i < n * (size_t)T; i++)
            if (targets[i] >= 0) weights[i] = w;
        return rows;
    }
    int *perm = malloc(sizeof(int) * T);
    if (!perm) return 0;
    /* The same draws as model_val_loss, its division by the n*K items folded
     * into the weights. */
    for (size_t it = 0; it < rows; it++) {
        size_t s = it / K, r = it * (size_t)T;
        mdm_draw(o, s, (int)(it % K), seqs + s * T, T, 1, T - 1, c->mask_id, inputs + r, targets + r,
                 weights + r, perm, 1.0 / ((double)(T - 1) * (double)rows));
    }
    free(perm);
    return rows;
}

double model_val_loss(model *m, const int32_t *seqs, size_t n, const model_eval_opts *o)
{
    return val_loss(m, seqs, n, o, NULL);
}

void model_draws_se(const double *y, size_t n, int K, double *se, double *mc_se)
{
    *se = *mc_se = NAN;
    if (K < 1 || n < 2) return;
    /* Window means v_s, draw (stratum) means c_k, the grand mean g. */
    double *c = calloc((size_t)K, sizeof *c);
    if (!c) return;
    double g = 0, ssw = 0, ssr = 0;
    for (size_t s = 0; s < n; s++)
        for (int k = 0; k < K; k++) c[k] += y[s * K + k] / (double)n;
    for (int k = 0; k < K; k++) g += c[k] / K;
    for (size_t s = 0; s < n; s++) {
        double v = 0;
        for (int k = 0; k < K; k++) v += y[s * K + k] / K;
        ssw += (v - g) * (v - g);
        for (int k = 0; k < K; k++) {
            double r = y[s * K + k] - v - c[k] + g;
            ssr += r * r;
        }
    }
    free(c);
    *se = sqrt(ssw / (double)(n - 1) / (double)n);
    if (K >= 2) *mc_se = sqrt(ssr / ((double)(n - 1) * (K - 1)) / ((double)n * K));
}

double model_val_loss_se(model *m, const int32_t *seqs, size_t n, const model_eval_opts *o,
                         double *se, double *mc_se)
{
    *se = *mc_se = NAN;
    int K = m->cfg.objective == MODEL_AR ? 1 : o->draws > 0 ? o->draws : 1;
    double *y = malloc((n * (size_t)K + 1) * sizeof *y);
    if (!y) return NAN;
    double v = val_loss(m, seqs, n, o, y);
    model_draws_se(y, n, K, se, mc_se);
    if (m->cfg.objective == MODEL_AR) *mc_se = 0; /* exact: no draws */
    free(y);
    return v;
}

int model_mc_scores(model *m, const model_cloze *q, const model_eval_opts *o, double *scores,
                    char *err, size_t errlen)
{
    const model_config *c = &m->cfg;
    int T = c->seq_len, Bm = c->batch, C = q->C, M = q->M, K = q->K;
    model_acts *a = &m->a;
    if (C < 1 || M < 1 || K < 1 || C + M > T)
        return snprintf(err, errlen,
                        "cloze items need context >= 1, candidates >= 1 and context + length "
                        "<= seq_len (%d); got %d + %d, %d candidates",
                        T, C, M, K),
               -1;
    size_t n = q->n_items * (size_t)K; /* (item, candidate) pairs */
    int32_t *tok = malloc(sizeof(int32_t) * T);
    int *perm = malloc(sizeof(int) * T);
    if (!tok || !perm) {
        free(tok);
        free(perm);
        return snprintf(err, errlen, "out of memory"), -1;
    }
    if (c->objective == MODEL_AR) {
        /* Sequences of C+M tokens; the candidate's tokens are the targets of
         * positions C-1 .. C+M-2. */
        int Tc = C + M;
        for (size_t p0 = 0; p0 < n; p0 += (size_t)Bm) {
            int B = n - p0 < (size_t)Bm ? (int)(n - p0) : Bm;
            for (int b = 0; b < B; b++) {
                size_t pi = p0 + b, item = pi / K;
                int32_t *in = a->inputs + (size_t)b * Tc, *tg = a->targets + (size_t)b * Tc;
                memcpy(in, q->context + item * C, sizeof(int32_t) * C);
                memcpy(in + C, q->cands + pi * M, sizeof(int32_t) * M);
                for (int j = 0; j < Tc; j++) tg[j] = j >= C - 1 && j + 1 < Tc ? in[j + 1] : -1;
            }
            model_forward(m, a->inputs, a->targets, B, Tc, 1, NULL, a->nll);
            for (int b = 0; b < B; b++) {
                double s = 0;
                for (int j = 0; j < Tc; j++) s += a->nll[(size_t)b * Tc + j];
                scores[p0 + b] = -s;
            }
        }
    } else {
        /* Full-length sequences: context, candidate, then [MASK] for the
         * unknown rest. Draw d of a pair masks exactly l of the M candidate
         * positions (weight M/l); all candidates of an item share the draws'
         * masks (common random numbers make the comparison sharper). */
        int D = o->draws > 0 ? o->draws : 1;
        size_t items = n * (size_t)D, it = 0;
        for (size_t i = 0; i < n; i++) scores[i] = 0;
        model_eval_opts eo = *o;
        eo.draws = D;
        eo.bernoulli = 0; /* exact l of M: the low-variance form */
        while (it < items) {
            int B = 0;
            size_t first = it;
            for (; B < Bm && it < items; B++, it++) {
                size_t pi = it / D, item = pi / K;
                int d = (int)(it % D);
                memcpy(tok, q->context + item * C, sizeof(int32_t) * C);
                memcpy(tok + C, q->cands + pi * M, sizeof(int32_t) * M);
                for (int j = C + M; j < T; j++) tok[j] = c->mask_id;
                mdm_draw(&eo, item, d, tok, T, C, M, c->mask_id, a->inputs + (size_t)B * T,
                         a->targets + (size_t)B * T, a->weights + (size_t)B * T, perm, 1.0);
            }
            model_forward(m, a->inputs, a->targets, B, T, 0, NULL, a->nll);
            for (int b = 0; b < B; b++) {
                double s = 0;
                for (int j = 0; j < T; j++)
                    s += (double)a->weights[(size_t)b * T + j] * a->nll[(size_t)b * T + j];
                scores[(first + b) / D] -= s / D;
            }
        }
    }
    free(tok);
    free(perm);
    return 0;
}

long model_mc_correct(model *m, const model_cloze *q, const model_eval_opts *o, unsigned char *correct,
                      char *err, size_t errlen)
{
    if (q->n_items == 0) return 0;
    double *s = malloc(sizeof(double) * q->n_items * (size_t)q->K);
    if (!s) return snprintf(err, errlen, "out of memory"), -1;
    if (model_mc_scores(m, q, o, s, err, errlen)) {
        free(s);
        return -1;
    }
    long right = 0;
    for (size_t i = 0; i < q->n_items; i++) {
        int ans = q->answer[i], best = 1;
        for (int k = 0; k < q->K; k++)
            if (k != ans && s[i * q->K + k] >= s[i * q->K + ans]) best = 0;
        if (correct) correct[i] = (unsigned char)best;
        right += best;
    }
    free(s);
    return right;
}

double model_mc_acc(model *m, const model_cloze *q, const model_eval_opts *o, char *err,
                    size_t errlen)
{
    if (q->n_items == 0) return 0;
    long right = model_mc_correct(m, q, o, NULL, err, errlen);
    return right < 0 ? -1 : (double)right / q->n_items;
}

double model_mc_se(size_t right, size_t n)
{
    if (n < 2 || right > n) return NAN;
    double p = (double)right / (double)n;
    return sqrt(p * (1 - p) / (double)(n - 1));
}

/* ---- sampling ------------------------------------------------------------- */

static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* Draw a token from logits[V] (modified): temperature, top-k, excluded id
 * never drawn. *conf = its probability under the distribution drawn from. */
static int32_t draw(float *logits, int V, int32_t excluded, const model_sample_opts *o,
                    model_rng *r, float *sorted, double *conf)
{
    if (excluded >= 0) logits[excluded] = -FLT_MAX;
    float temp = o->temperature > 0 ? o->temperature : 1.0f;
    float cut = -FLT_MAX;
    if (o->temperature > 0 && o->top_k > 0 && o->top_k < V) {
        memcpy(sorted, logits, sizeof(float) * V);
        qsort(sorted, V, sizeof(float), cmp_desc);
        cut = sorted[o->top_k - 1];
    }
    float mx = -FLT_MAX;
    int arg = 0;
    for (int v = 0; v < V; v++)
        if (logits[v] > mx) mx = logits[v], arg = v;
    double sum = 0;
    for (int v = 0; v < V; v++) {
        double e = (v == excluded || logits[v] < cut) ? 0 : exp((logits[v] - mx) / temp);
        sorted[v] = (float)e;
        sum += e;
    }
    if (o->temperature <= 0) {
        *conf = sorted[arg] / sum;
        return arg;
    }
    double u = model_rng_uniform(r) * sum, acc = 0;
    int pick = arg;
    for (int v = 0; v < V; v++) {
        if (sorted[v] == 0) continue;
        acc += sorted[v];
        pick = v;
        if (acc > u) break;
    }
    *conf = sorted[pick] / sum;
    return pick;
}

int model_sample(model *m, const int32_t *prompt, size_t np, int n, const model_sample_opts *o,
                 int32_t *out, char *err, size_t errlen)
{
    const model_config *c = &m->cfg;
    int T = c->seq_len, V = c->vocab, C = c->dim;
    model_acts *a = &m->a;
    if (n < 0) return snprintf(err, errlen, "cannot sample %d tokens", n), -1;
    for (size_t i = 0; i < np; i++)
        if (prompt[i] < 0 || prompt[i] >= V)
            return snprintf(err, errlen, "prompt token %d is outside the vocabulary", (int)prompt[i]), -1;
    float *logits = a->head, *sorted = a->head + V; /* the head scratch holds >= 2V floats */
    model_rng r;
    model_rng_seed2(&r, o->seed, 0x5a3);
    memcpy(out, prompt, sizeof(int32_t) * np);
    if (c->objective == MODEL_AR) {
        if (np == 0) return snprintf(err, errlen, "an AR model needs a prompt of at least one token"), -1;
        for (int s = 0; s < n; s++) {
            size_t len = np + s, w = len < (size_t)T ? len : (size_t)T;
            model_hidden(m, out + len - w, 1, (int)w, 1);
            layer_linear_forward(logits, a->lnf + (w - 1) * C, m->p.whead, 1, C, V, 0);
            double conf;
            out[len] = draw(logits, V, -1, o, &r, sorted, &conf);
        }
        return 0;
    }
    if (np + (size_t)n > (size_t)T)
        return snprintf(err, errlen, "prompt (%zu tokens) + %d new tokens exceed seq_len %d", np, n, T), -1;
    int32_t *seq = malloc(sizeof(int32_t) * T), *pick = malloc(sizeof(int32_t) * T);
    double *conf = malloc(sizeof(double) * T);
    if (!seq || !pick || !conf) {
        free(seq), free(pick), free(conf);
        return snprintf(err, errlen, "out of memory"), -1;
    }
    memcpy(seq, prompt, sizeof(int32_t) * np);
    for (int j = (int)np; j < T; j++) seq[j] = c->mask_id;
    int S = o->steps > 0 && o->steps < n ? o->steps : n, left = n;
    for (int s = 0; s < S && left > 0; s++) {
        int reveal = (left + (S - s) - 1) / (S - s);
        model_hidden(m, seq, 1, T, 0);
        for (int j = (int)np; j < (int)np + n; j++) {
            conf[j] = -1;
            if (seq[j] != c->mask_id) continue;
            layer_linear_forward(logits, a->lnf + (size_t)j * C, m->p.whead, 1, C, V, 0);
            pick[j] = draw(logits, V, c->mask_id, o, &r, sorted, &conf[j]);
        }
        for (int k = 0; k < reveal; k++) { /* most confident first */
            int best = -1;
            for (int j = (int)np; j < (int)np + n; j++)
                if (conf[j] >= 0 && (best < 0 || conf[j] > conf[best])) best = j;
            if (best < 0) break;
            seq[best] = pick[best];
            conf[best] = -1;
            left--;
        }
    }
    memcpy(out + np, seq + np, sizeof(int32_t) * n);
    free(seq), free(pick), free(conf);
    return 0;
}
