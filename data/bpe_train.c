/*
 * bpe_train.c — learning the BPE merges.
 *
 * The classic efficient algorithm (as in sentencepiece and HF tokenizers):
 *   1. pre-tokenize the training text and count each distinct word once;
 *   2. count adjacent symbol pairs over the distinct words, weighted by word
 *      frequency, remembering for each pair which words contain it;
 *   3. repeatedly take the most frequent pair from a max-heap (stale entries
 *      are skipped lazily), rewrite only the words that contain it, and
 *      update the counts of just the pairs those words gain or lose.
 * Work per merge is proportional to the words it touches, not to the corpus.
 * Ties go to the smaller (left, right) pair, so training is deterministic.
 */
#include "data/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- distinct words ---- */

typedef struct {
    uint64_t h;
    size_t off, len; /* into bytes */
    uint64_t count;
} wslot;

typedef struct {
    wslot *slot;
    size_t mask, n;
    char *bytes;
    size_t nbytes, capbytes;
    int oom;
} wmap;

static int wmap_grow(wmap *m)
{
    size_t cap = (m->mask + 1) * 2;
    wslot *ns = calloc(cap, sizeof *ns);
    if (!ns) return -1;
    for (size_t i = 0; i <= m->mask; i++) {
        if (!m->slot[i].h) continue;
        size_t j = (size_t)m->slot[i].h & (cap - 1);
        while (ns[j].h) j = (j + 1) & (cap - 1);
        ns[j] = m->slot[i];
    }
    free(m->slot);
    m->slot = ns;
    m->mask = cap - 1;
    return 0;
}

static int count_word(void *ctx, const char *p, size_t n)
{
    wmap *m = ctx;
    uint64_t h = data_hash64(p, n, 3) | 1;
    size_t i = (size_t)h & m->mask;
    while (m->slot[i].h) {
        wslot *s = &m->slot[i];
        if (s->h == h && s->len == n && !memcmp(m->bytes + s->off, p, n)) {
            s->count++;
            return 0;
        }
        i = (i + 1) & m->mask;
    }
    if (m->nbytes + n > m->capbytes) {
        size_t cap = m->capbytes ? m->capbytes * 2 : 1 << 20;
        while (cap < m->nbytes + n) cap *= 2;
        char *nb = realloc(m->bytes, cap);
        if (!nb) return m->oom = 1;
        m->bytes = nb;
        m->capbytes = cap;
    }
    memcpy(m->bytes + m->nbytes, p, n);
    m->slot[i] = (wslot){h, m->nbytes, n, 1};
    m->nbytes += n;
    if (++m->n * 2 > m->mask + 1 && wmap_grow(m) != 0) return m->oom = 1;
    return 0;
}

/* ---- pairs ---- */

typedef struct {
    int64_t count;
    int32_t a, b;
    int32_t *words; /* words that contained the pair when it was counted (may be stale) */
    uint32_t nw, capw;
    uint32_t stamp;  /* merge step that last touched it */
    int64_t before;  /* its count before that step */
} pair;

typedef struct {
    int64_t count;
    uint64_t key;
    uint32_t idx;
} hentry;

typedef struct {
    /* pair table: key -> index into p */
    uint64_t *key;
    uint32_t *val;
    size_t mask, n;
    pair *p;
    size_t np, capp;
    /* heap */
    hentry *heap;
    size_t nheap, capheap;
    /* pairs touched in the current step */
    uint32_t *touched;
    size_t ntouched, captouched;
    int oom;
} pairs;

static uint64_t pkey(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static int heap_less(const hentry *x, const hentry *y)
{
    /* "x is better": higher count, then smaller pair. */
    if (x->count != y->count) return x->count > y->count;
    return x->key < y->key;
}

static void heap_push(pairs *P, int64_t count, uint32_t idx)
{
    if (P->nheap == P->capheap) {
        size_t cap = P->capheap ? P->capheap * 2 : 1 << 16;
        hentry *nh = realloc(P->heap, cap * sizeof *nh);
        if (!nh) {
            P->oom = 1;
            return;
        }
        P->heap = nh;
        P->capheap = cap;
    }
    hentry e = {count, pkey(P->p[idx].a, P->p[idx].b), idx};
    size_t i = P->nheap++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!heap_less(&e, &P->heap[up])) break;
        P->heap[i] = P->heap[up];
        i = up;
    }
    P->heap[i] = e;
}

static hentry heap_pop(pairs *P)
{
    hentry top = P->heap[0], last = P->heap[--P->nheap];
    size_t i = 0, n = P->nheap;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        const hentry *bv = &last;
        if (l < n && heap_less(&P->heap[l], bv)) best = l, bv = &P->heap[l];
        if (r < n && heap_less(&P->heap[r], bv)) best = r;
        if (best == i) break;
        P->heap[i] = P->heap[best];
        i = best;
    }
    if (n) P->heap[i] = last;
    return top;
}

static uint32_t pair_get(pairs *P, int32_t a, int32_t b)
{
    uint64_t k = pkey(a, b) + 1;
    size_t i = (size_t)((k * 0x9e3779b97f4a7c15ULL) >> 17) & P->mask;
    while (P->key[i]) {
        if (P->key[i] == k) return P->val[i];
        i = (i + 1) & P->mask;
    }
    /* new pair */
    if (P->np == P->capp) {
        size_t cap = P->capp ? P->capp * 2 : 1 << 16;
        pair *np = realloc(P->p, cap * sizeof *np);
        if (!np) {
            P->oom = 1;
            return UINT32_MAX;
        }
        P->p = np;
        P->capp = cap;
    }
    uint32_t idx = (uint32_t)P->np++;
    P->p[idx] = (pair){0, a, b, NULL, 0, 0, UINT32_MAX, 0};
    P->key[i] = k;
    P->val[i] = idx;
    if (++P->n * 2 > P->mask + 1) {
        size_t cap = (P->mask + 1) * 2;
        uint64_t *nk = calloc(cap, sizeof *nk);
        uint32_t *nv = malloc(cap * sizeof *nv);
        if (!nk || !nv) {
            free(nk);
            free(nv);
            P->oom = 1;
            return idx;
        }
        for (size_t j = 0; j <= P->mask; j++) {
            if (!P->key[j]) continue;
            size_t t = (size_t)((P->key[j] * 0x9e3779b97f4a7c15ULL) >> 17) & (cap - 1);
            while (nk[t]) t = (t + 1) & (cap - 1);
            nk[t] = P->key[j];
            nv[t] = P->val[j];
        }
        free(P->key);
        free(P->val);
        P->key = nk;
        P->val = nv;
        P->mask = cap - 1;
    }
    return idx;
}

/* Add delta to pair (a, b) during step `step`; record word w as containing it. */
static void pair_add(pairs *P, int32_t a, int32_t b, int64_t delta, uint32_t step, int32_t w)
{
    uint32_t i = pair_get(P, a, b);
    if (P->oom) return;
    pair *p = &P->p[i];
    if (p->stamp != step) {
        p->stamp = step;
        p->before = p->count;
        if (P->ntouched == P->captouched) {
            size_t cap = P->captouched ? P->captouched * 2 : 1 << 12;
            uint32_t *nt = realloc(P->touched, cap * sizeof *nt);
            if (!nt) {
                P->oom = 1;
                return;
            }
            P->touched = nt;
            P->captouched = cap;
        }
        P->touched[P->ntouched++] = i;
    }
    p->count += delta;
    if (w >= 0 && (p->nw == 0 || p->words[p->nw - 1] != w)) {
        if (p->nw == p->capw) {
            uint32_t cap = p->capw ? p->capw * 2 : 4;
            int32_t *nw = realloc(p->words, cap * sizeof *nw);
            if (!nw) {
                P->oom = 1;
                return;
            }
            p->words = nw;
            p->capw = cap;
        }
        p->words[p->nw++] = w;
    }
}

/* After a step: push the pairs whose counts changed. */
static void flush_touched(pairs *P)
{
    for (size_t i = 0; i < P->ntouched; i++) {
        pair *p = &P->p[P->touched[i]];
        if (p->count != p->before && p->count > 0) heap_push(P, p->count, P->touched[i]);
    }
    P->ntouched = 0;
}

static void progress(const data_progress *p, const char *what, double done, double total)
{
    if (p && p->fn) p->fn(p->ctx, what, done, total);
}

data_tok *data_tok_train(const char *const *docs, const size_t *lens, size_t ndocs, int vocab,
                         const data_progress *prog, char *err, size_t errlen)
{
    if (vocab < DATA_TOK_MIN_VOCAB) {
        snprintf(err, errlen, "vocab %d is too small: it must be at least %d (256 bytes, EOS, "
                 "MASK and one merge)", vocab, DATA_TOK_MIN_VOCAB);
        return NULL;
    }
    int want = vocab - DATA_TOK_FIRST_MERGE;
    data_tok *result = NULL;
    data_pretok *pre = NULL;
    wmap m = {0};
    pairs P = {0};
    int32_t *sym = NULL, *merges = NULL;
    size_t *woff = NULL, *wlen = NULL;
    uint64_t *wcount = NULL;

    /* 1. distinct words */
    if (!(pre = data_pretok_new(err, errlen))) return NULL;
    m.mask = (1 << 16) - 1;
    if (!(m.slot = calloc(m.mask + 1, sizeof *m.slot))) goto oom;
    size_t total = 0, done = 0;
    for (size_t i = 0; i < ndocs; i++) total += lens[i];
    for (size_t i = 0; i < ndocs; i++) {
        data_pretok_each(pre, docs[i], lens[i], count_word, &m);
        if (m.oom) goto oom;
        done += lens[i];
        if ((i & 1023) == 0) progress(prog, "tokenizer: counting words", (double)done, (double)total);
    }

    /* 2. words as symbol arrays, and the initial pair counts */
    size_t nw = m.n;
    woff = malloc((nw + 1) * sizeof *woff);
    wlen = malloc((nw + 1) * sizeof *wlen);
    wcount = malloc((nw + 1) * sizeof *wcount);
    sym = malloc((m.nbytes + 1) * sizeof *sym);
    merges = malloc(sizeof(int32_t) * 2 * (size_t)want);
    if (!woff || !wlen || !wcount || !sym || !merges) goto oom;
    size_t w = 0, s = 0;
    for (size_t i = 0; i <= m.mask; i++) {
        if (!m.slot[i].h) continue;
        woff[w] = s;
        wlen[w] = m.slot[i].len;
        wcount[w] = m.slot[i].count;
        for (size_t k = 0; k < m.slot[i].len; k++) sym[s++] = (unsigned char)m.bytes[m.slot[i].off + k];
        w++;
    }
    free(m.slot);
    m.slot = NULL;
    free(m.bytes);
    m.bytes = NULL;

    P.mask = (1 << 16) - 1;
    P.key = calloc(P.mask + 1, sizeof *P.key);
    P.val = malloc((P.mask + 1) * sizeof *P.val);
    if (!P.key || !P.val) goto oom;
    for (size_t i = 0; i < nw; i++)
        for (size_t k = 0; k + 1 < wlen[i]; k++)
            pair_add(&P, sym[woff[i] + k], sym[woff[i] + k + 1], (int64_t)wcount[i], 0,
                     (int32_t)i);
    if (P.oom) goto oom;
    flush_touched(&P);
    if (P.oom) goto oom;

    /* 3. merges */
    int made = 0;
    while (made < want) {
        if ((made & 63) == 0) progress(prog, "tokenizer: merging", made, want);
        hentry top;
        int found = 0;
        while (P.nheap) {
            top = heap_pop(&P);
            if (P.p[top.idx].count == top.count && top.count > 0) {
                found = 1;
                break;
            }
        }
        if (!found) break;
        int32_t a = P.p[top.idx].a, b = P.p[top.idx].b, id = DATA_TOK_FIRST_MERGE + made;
        uint32_t step = (uint32_t)made + 1;
        merges[2 * made] = a;
        merges[2 * made + 1] = b;
        made++;
        /* The word list is not appended to during the step (new pairs contain
         * id, never (a, b)), but pair_add may move P.p: re-read it each time. */
        for (uint32_t k = 0; k < P.p[top.idx].nw; k++) {
            int32_t wi = P.p[top.idx].words[k];
            int32_t *ws = sym + woff[wi];
            size_t n = wlen[wi];
            size_t j = 0;
            while (j + 1 < n && !(ws[j] == a && ws[j + 1] == b)) j++;
            if (j + 1 >= n) continue; /* stale entry */
            int64_t f = (int64_t)wcount[wi];
            /* Remove the word's pairs, merge, add them back: simple and exact;
             * flush_touched only pushes pairs whose counts really changed. */
            for (size_t q = 0; q + 1 < n; q++) pair_add(&P, ws[q], ws[q + 1], -f, step, -1);
            size_t o = 0;
            for (size_t q = 0; q < n;) {
                if (q + 1 < n && ws[q] == a && ws[q + 1] == b) {
                    ws[o++] = id;
                    q += 2;
                } else {
                    ws[o++] = ws[q++];
                }
            }
            wlen[wi] = n = o;
            for (size_t q = 0; q + 1 < n; q++)
                pair_add(&P, ws[q], ws[q + 1], f, step,
                         (ws[q] == id || ws[q + 1] == id) ? wi : -1);
            if (P.oom) goto oom;
        }
        flush_touched(&P);
        if (P.oom) goto oom;
    }
    progress(prog, "tokenizer: merging", made, want);
    if (made < want) {
        snprintf(err, errlen, "the training text supports only %d merges, so a vocabulary of at "
                 "most %d; vocab %d is too large for it", made, DATA_TOK_FIRST_MERGE + made, vocab);
        goto done;
    }
    result = data_tok_from_merges(merges, made, err, errlen);
    goto done;
oom:
    snprintf(err, errlen, "out of memory training the tokenizer");
done:
    data_pretok_free(pre);
    free(m.slot);
    free(m.bytes);
    for (size_t i = 0; i < P.np; i++) free(P.p[i].words);
    free(P.p);
    free(P.key);
    free(P.val);
    free(P.heap);
    free(P.touched);
    free(sym);
    free(merges);
    free(woff);
    free(wlen);
    free(wcount);
    return result;
}
