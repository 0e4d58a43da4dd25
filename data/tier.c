/*
 * tier.c — quality tiers and unique-token budgets over a prepared set.
 *
 * Every tier lists training documents in ONE order, the order_seed
 * permutation of the hash-ordered training split, and a budget is the first
 * U tokens of that list: budgets of a tier nest by construction.
 *   top q:     the best ceil(q * n) documents by quality score (ties broken
 *              by content hash), in that same order.
 *   degrade p: all documents; exactly round(p * n) of them, chosen by a
 *              seeded permutation, replaced by their corrupted and re-encoded
 *              text (same clean tokenizer). The budget is re-cut to U tokens
 *              after corruption, so it stays U tokens.
 * The corrupted documents are cached next to the set (KEY.deg-XXXX).
 */
#include "data/data.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEG_MAGIC "XOVDEG01"

static size_t al8sz(size_t n) { return (n + 7) & ~(size_t)7; }

static void progress(const data_progress *p, const char *what, double done, double total)
{
    if (p && p->fn) p->fn(p->ctx, what, done, total);
}

typedef struct {
    float s;
    uint64_t h;
    size_t i;
} scored;

static int cmp_scored(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Build (or load) the degraded documents: for each chosen document index,
 * its corrupted tokens. */
static int degrade_docs(data_set *ds, data_tier *t, double p, uint64_t order_seed,
                        const size_t *chosen, size_t nbad, const data_progress *prog, char *err,
                        size_t errlen)
{
    char path[4300], lock_path[4320];
    uint64_t pb;
    double noise = DATA_DEGRADE_NOISE;
    memcpy(&pb, &p, 8);
    uint64_t id = data_hash64(&pb, 8, order_seed) ^ data_hash64(&noise, 8, 17);
    snprintf(path, sizeof path, "%s/%s.deg-%016llx", data_set_cache_dir(ds), data_set_key(ds),
             (unsigned long long)id);
    snprintf(lock_path, sizeof lock_path, "%s.lock", path);

    size_t len = 0;
    char *buf = NULL;
    if (access(path, R_OK) != 0) {
        int lock = data_lock(lock_path, err, errlen);
        if (lock < 0) return -1;
        if (access(path, R_OK) != 0) {
            /* Build it: indices ascending, for a canonical file. */
            size_t n_tr = data_set_n_train(ds);
            unsigned char *is_bad = calloc(n_tr ? n_tr : 1, 1);
            uint64_t *idx = malloc((nbad + 1) * 8), *off = malloc((nbad + 1) * 8);
            int32_t *tok = NULL;
            size_t ntok = 0, cap = 0, k = 0;
            int rc = -1;
            if (!is_bad || !idx || !off) goto oom_build;
            for (size_t j = 0; j < nbad; j++) is_bad[chosen[j]] = 1;
            off[0] = 0;
            for (size_t i = 0; i < n_tr; i++) {
                if (!is_bad[i]) continue;
                size_t tl, dl;
                const char *txt = data_set_train_text(ds, i, &tl);
                char *d = data_degrade_doc(txt, tl, noise, data_set_train_hash(ds, i) ^ order_seed, &dl);
                if (!d) goto oom_build;
                int e = data_tok_encode(data_set_tokenizer(ds), d, dl, &tok, &ntok, &cap);
                free(d);
                if (e != 0) goto oom_build;
                idx[k] = i;
                off[++k] = ntok;
                if ((k & 255) == 0) progress(prog, "degrading documents", (double)k, (double)nbad);
            }
            {
                uint64_t hdr[2] = {nbad, ntok};
                static const char zeros[8];
                const void *parts[] = {DEG_MAGIC, hdr, idx, off, tok ? (const void *)tok : zeros,
                                       zeros};
                size_t lens[] = {8, 16, 8 * nbad, 8 * (nbad + 1), 4 * ntok, (ntok & 1) ? 4 : 0};
                rc = data_write_atomic(path, parts, lens, 6, err, errlen);
            }
            goto done_build;
        oom_build:
            snprintf(err, errlen, "out of memory degrading documents");
        done_build:
            free(is_bad);
            free(idx);
            free(off);
            free(tok);
            if (rc != 0) {
                data_unlock(lock);
                return -1;
            }
        }
        data_unlock(lock);
    }
    if (!(buf = data_read_file(path, &len, err, errlen))) return -1;
    uint64_t hdr[2];
    if (len < 24 || memcmp(buf, DEG_MAGIC, 8) != 0) goto bad;
    memcpy(hdr, buf + 8, 16);
    if (hdr[0] != nbad || hdr[1] > len / 4 || len != al8sz(24 + 16 * nbad + 8 + 4 * hdr[1])) goto bad;
    const uint64_t *idx = (const uint64_t *)(buf + 24);
    const uint64_t *off = idx + nbad;
    const int32_t *tok = (const int32_t *)(off + nbad + 1);
    /* Map document index -> position in the tier's order. */
    size_t n_tr = data_set_n_train(ds);
    size_t *pos = malloc((n_tr ? n_tr : 1) * sizeof *pos);
    if (!pos) {
        free(buf);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t j = 0; j < t->n_docs; j++) pos[t->doc[j]] = j;
    for (size_t k = 0; k < nbad; k++) {
        if (idx[k] >= n_tr || off[k + 1] < off[k] || off[k + 1] > hdr[1]) {
            free(pos);
            goto bad;
        }
        size_t j = pos[idx[k]], n = off[k + 1] - off[k];
        t->bad[j] = 1;
        t->ntok[j] = n;
        if (!(t->tok[j] = malloc((n ? n : 1) * sizeof(int32_t)))) {
            free(pos);
            free(buf);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        memcpy(t->tok[j], tok + off[k], n * sizeof(int32_t));
    }
    free(pos);
    free(buf);
    return 0;
bad:
    free(buf);
    snprintf(err, errlen, "cache file %s is damaged (delete it to rebuild)", path);
    return -1;
}

data_tier *data_tier_open(data_set *ds, const data_quality *q, uint64_t order_seed,
                          const data_progress *prog, char *err, size_t errlen)
{
    double top = q->top, p = q->degrade;
    if (!(top > 0 && top <= 1) || !(p >= 0 && p <= 1)) {
        snprintf(err, errlen, "quality tier needs 0 < top <= 1 and 0 <= degrade <= 1 (got top %g, "
                 "degrade %g)", top, p);
        return NULL;
    }
    if (top < 1 && p > 0) {
        snprintf(err, errlen, "a quality tier takes degrade or top, not both");
        return NULL;
    }
    size_t n = data_set_n_train(ds);
    data_tier *t = calloc(1, sizeof *t);
    size_t *perm = data_permutation(n, order_seed ^ 0x6f72646572ULL); /* "order" */
    unsigned char *keep = malloc(n ? n : 1);
    if (!t || !perm || !keep) goto oom;
    memset(keep, 1, n);
    if (top < 1) {
        scored *sv = malloc((n ? n : 1) * sizeof *sv);
        if (!sv) goto oom;
        for (size_t i = 0; i < n; i++)
            sv[i] = (scored){data_set_train_score(ds, i), data_set_train_hash(ds, i), i};
        qsort(sv, n, sizeof *sv, cmp_scored);
        size_t k = (size_t)ceil(top * (double)n - 1e-9);
        if (k < 1) k = 1;
        memset(keep, 0, n);
        for (size_t j = 0; j < k && j < n; j++) keep[sv[j].i] = 1;
        free(sv);
    }
    if (!(t->doc = malloc((n ? n : 1) * sizeof *t->doc))) goto oom;
    for (size_t j = 0; j < n; j++)
        if (keep[perm[j]]) t->doc[t->n_docs++] = perm[j];

    if (p > 0) {
        size_t nbad = (size_t)floor(p * (double)n + 0.5);
        t->bad = calloc(n ? n : 1, 1);
        t->tok = calloc(n ? n : 1, sizeof *t->tok);
        t->ntok = calloc(n ? n : 1, sizeof *t->ntok);
        size_t *pick = data_permutation(n, order_seed ^ 0x6465677261646aULL); /* "degrade" */
        if (!t->bad || !t->tok || !t->ntok || !pick) {
            free(pick);
            goto oom;
        }
        int rc = degrade_docs(ds, t, p, order_seed, pick, nbad, prog, err, errlen);
        free(pick);
        if (rc != 0) goto fail;
    }
    for (size_t j = 0; j < t->n_docs; j++) {
        size_t len;
        if (t->bad && t->bad[j])
            len = t->ntok[j];
        else
            data_set_train_doc(ds, t->doc[j], &len);
        t->tokens += len + 1;
    }
    free(perm);
    free(keep);
    return t;
oom:
    snprintf(err, errlen, "out of memory building a quality tier");
fail:
    free(perm);
    free(keep);
    data_tier_free(t);
    return NULL;
}

void data_tier_free(data_tier *t)
{
    if (!t) return;
    if (t->tok)
        for (size_t j = 0; j < t->n_docs; j++) free(t->tok[j]);
    free(t->tok);
    free(t->ntok);
    free(t->bad);
    free(t->doc);
    free(t);
}

int32_t *data_budget(const data_set *ds, const data_tier *t, uint64_t U, size_t *n_docs,
                     char *err, size_t errlen)
{
    if (U == 0 || U > t->tokens) {
        /* Too few tokens is often too few documents: a file whose documents
         * the separator did not find. */
        char note[512];
        data_set_split_note(ds, note, sizeof note);
        snprintf(err, errlen, "unique_tokens %llu %s: this corpus and quality tier have %llu "
                 "training tokens (%zu documents, counting one EOS after each); %s",
                 (unsigned long long)U, U ? "exceeds the training split" : "must be positive",
                 (unsigned long long)t->tokens, t->n_docs, note);
        return NULL;
    }
    int32_t *out = malloc(U * sizeof *out);
    if (!out) {
        snprintf(err, errlen, "out of memory for %llu tokens", (unsigned long long)U);
        return NULL;
    }
    uint64_t w = 0;
    size_t j = 0;
    for (; j < t->n_docs && w < U; j++) {
        size_t len;
        const int32_t *d = t->bad && t->bad[j] ? t->tok[j] : data_set_train_doc(ds, t->doc[j], &len);
        if (t->bad && t->bad[j]) len = t->ntok[j];
        size_t take = len < U - w ? len : (size_t)(U - w);
        memcpy(out + w, d, take * sizeof *out);
        w += take;
        if (w < U) out[w++] = DATA_TOK_EOS;
    }
    if (n_docs) *n_docs = j;
    return out;
}
