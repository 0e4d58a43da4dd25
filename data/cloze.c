/*
 * cloze.c — multiple-choice cloze items from held-out documents: the data
 * set's cloze pool when it has one (data.cloze.pool_tokens), else the
 * validation documents.
 *
 * Each held-out document of L tokens offers floor(L / (C + M))
 * non-overlapping windows. Items take windows in a seeded order; an item's
 * distractors are the continuations (the M tokens after the context) of
 * windows from other documents, so every candidate is real text of the
 * same kind and only the context tells them apart. Candidates differ from
 * each other; the true one is put at a seeded position.
 */
#include "data/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t doc, off;
} window;

/* Document d of the items' source: the cloze pool, or the validation set. */
static const int32_t *source_doc(const data_set *ds, int pooled, size_t d, size_t *L)
{
    return pooled ? data_set_cloze_doc(ds, d, L) : data_set_val_doc(ds, d, L);
}

void data_cloze_free(data_cloze *c)
{
    free(c->context);
    free(c->cands);
    free(c->answer);
    memset(c, 0, sizeof *c);
}

int data_cloze_build(const data_set *ds, size_t items, int C, int K, int M, uint64_t seed,
                     data_cloze *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (items == 0) return 0;
    if (C < 1 || M < 1 || K < 2) {
        snprintf(err, errlen, "cloze needs context >= 1, length >= 1 and candidates >= 2 "
                 "(got %d, %d, %d)", C, M, K);
        return -1;
    }
    int pooled = data_set_n_cloze_docs(ds) > 0;
    size_t W = (size_t)C + (size_t)M, nv = pooled ? data_set_n_cloze_docs(ds) : data_set_n_val_docs(ds);
    size_t nw = 0, cap = 0, ntok = 0;
    window *w = NULL;
    size_t docs_with = 0;
    for (size_t d = 0; d < nv; d++) {
        size_t L;
        source_doc(ds, pooled, d, &L);
        ntok += L;
        if (L >= W) docs_with++;
        for (size_t o = 0; o + W <= L; o += W) {
            if (nw == cap) {
                cap = cap ? cap * 2 : 256;
                window *nw2 = realloc(w, cap * sizeof *w);
                if (!nw2) {
                    free(w);
                    snprintf(err, errlen, "out of memory");
                    return -1;
                }
                w = nw2;
            }
            w[nw++] = (window){d, o};
        }
    }
    if (nw < items || docs_with < 2) {
        /* What would do: the source's tokens per window, with a margin. */
        double per = nw ? (double)ntok / (double)nw : (double)W * 4;
        snprintf(err, errlen, "cloze: %zu items of context %d + length %d tokens need that many "
                 "windows in at least 2 held-out documents, but %s offer %zu windows in %zu "
                 "documents (%zu tokens); %s (about %.0f tokens would do) or lower data.cloze.items "
                 "(final_items)",
                 items, C, M, pooled ? "the cloze pool's documents" : "the validation documents",
                 nw, docs_with, ntok, pooled ? "raise data.cloze.pool_tokens" : "set data.cloze.pool_tokens",
                 per * (double)items * 1.1);
        free(w);
        return -1;
    }
    size_t *perm = data_permutation(nw, seed ^ 0x636c6f7a65ULL); /* "cloze" */
    out->context = malloc(items * (size_t)C * sizeof(int32_t));
    out->cands = malloc(items * (size_t)K * (size_t)M * sizeof(int32_t));
    out->answer = malloc(items * sizeof(int32_t));
    if (!perm || !out->context || !out->cands || !out->answer) {
        free(perm);
        free(w);
        data_cloze_free(out);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    out->n_items = items;
    out->C = C;
    out->K = K;
    out->M = M;
    uint64_t rng = seed * 0x9e3779b97f4a7c15ULL + 77;
    for (size_t i = 0; i < items; i++) {
        window it = w[perm[i]];
        size_t L;
        const int32_t *doc = source_doc(ds, pooled, it.doc, &L);
        memcpy(out->context + i * (size_t)C, doc + it.off, (size_t)C * sizeof(int32_t));
        int ans = (int)data_rand_below(&rng, (uint64_t)K);
        out->answer[i] = ans;
        int32_t *cand = out->cands + i * (size_t)K * (size_t)M;
        memcpy(cand + (size_t)ans * M, doc + it.off + C, (size_t)M * sizeof(int32_t));
        for (int k = 0; k < K; k++) {
            if (k == ans) continue;
            /* A continuation from another document, unlike those chosen so far
             * (given up after a few tries on a tiny, repetitive set). */
            for (int tries = 0; tries < 64; tries++) {
                window o = w[data_rand_below(&rng, nw)];
                if (o.doc == it.doc) {
                    tries--; /* always possible: at least 2 documents have windows */
                    continue;
                }
                const int32_t *od = source_doc(ds, pooled, o.doc, &L) + o.off + C;
                memcpy(cand + (size_t)k * M, od, (size_t)M * sizeof(int32_t));
                int dup = 0;
                for (int j = 0; j < K && !dup; j++)
                    if (j != k && (j < k || j == ans) &&
                        !memcmp(cand + (size_t)j * M, od, (size_t)M * sizeof(int32_t)))
                        dup = 1;
                if (!dup) break;
            }
        }
    }
    free(perm);
    free(w);
    return 0;
}
