/*
 * tokenizer.c — byte-level BPE: pre-tokenization, encoding, decoding and the
 * tokenizer file.
 *
 * Encoding splits text into pre-tokens with GPT-2's pattern (PCRE2, JIT) and
 * encodes each pre-token word on its own: repeatedly merge the adjacent pair
 * with the lowest merge rank, as GPT-2 does, which reproduces exactly what
 * training did to that word. Words repeat a lot in text, so each word's
 * tokens are cached in a hash table (cleared when it fills up).
 *
 * Round trip: the pre-tokens tile the input (bytes the pattern cannot match,
 * such as invalid UTF-8, become pre-tokens of their own) and every token
 * stands for a fixed byte string, so decode(encode(x)) == x for any bytes.
 */
#include "data/data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* ---- pre-tokenizer ---- */

struct data_pretok {
    pcre2_code *re;
    pcre2_match_data *md;
    int jit;
};

data_pretok *data_pretok_new(char *err, size_t errlen)
{
    data_pretok *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int ecode;
    PCRE2_SIZE eoff;
    p->re = pcre2_compile((PCRE2_SPTR)DATA_TOK_PATTERN, PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &ecode, &eoff, NULL);
    if (!p->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ecode, msg, sizeof msg);
        snprintf(err, errlen, "pre-tokenizer pattern does not compile: %s", (char *)msg);
        free(p);
        return NULL;
    }
    p->jit = pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE) == 0;
    p->md = pcre2_match_data_create_from_pattern(p->re, NULL);
    if (!p->md) {
        pcre2_code_free(p->re);
        free(p);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return p;
}

void data_pretok_free(data_pretok *p)
{
    if (!p) return;
    pcre2_match_data_free(p->md);
    pcre2_code_free(p->re);
    free(p);
}

/* Hand a piece to fn in chunks of at most DATA_TOK_MAX_PIECE bytes (cut
 * before a UTF-8 continuation byte where possible): BPE on one word costs
 * up to length x merges, and a megabyte of spaces or undecodable bytes is
 * one match. Training and encoding cut the same way, so they agree. */
static int emit(int (*fn)(void *, const char *, size_t), void *ctx, const char *p, size_t n)
{
    while (n > DATA_TOK_MAX_PIECE) {
        size_t k = DATA_TOK_MAX_PIECE;
        for (int back = 0; back < 3 && ((unsigned char)p[k] & 0xc0) == 0x80; back++) k--;
        int r = fn(ctx, p, k);
        if (r) return r;
        p += k;
        n -= k;
    }
    return n ? fn(ctx, p, n) : 0;
}

int data_pretok_each(data_pretok *p, const char *text, size_t len,
                     int (*fn)(void *ctx, const char *piece, size_t n), void *ctx)
{
    size_t pos = 0;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(p->md);
    while (pos < len) {
        int rc = p->jit ? pcre2_jit_match(p->re, (PCRE2_SPTR)text, len, pos, 0, p->md, NULL)
                        : pcre2_match(p->re, (PCRE2_SPTR)text, len, pos, 0, p->md, NULL);
        size_t s, e;
        if (rc < 0) {
            /* No match (or a matching limit hit): the rest is one piece. */
            s = e = len;
        } else {
            s = ov[0];
            e = ov[1];
        }
        int r;
        if (s > pos && (r = emit(fn, ctx, text + pos, s - pos)) != 0) return r;
        if (e > s && (r = emit(fn, ctx, text + s, e - s)) != 0) return r;
        if (e <= pos) break; /* cannot happen: the pattern never matches empty */
        pos = e;
    }
    return 0;
}

/* ---- the tokenizer ---- */

typedef struct {
    uint64_t h;
    uint32_t key_off, key_len, tok_off, tok_len;
} cache_slot;

#define CACHE_SLOTS (1u << 19)

struct data_tok {
    int vocab, n_merges;
    int32_t *pairs;      /* 2 per merge */
    char *piece;         /* bytes of every id, concatenated */
    size_t *piece_off;   /* vocab + 1 */
    uint64_t *rk_key;    /* merge rank table: key = (a << 32 | b) + 1, 0 = empty */
    int32_t *rk_val;
    size_t rk_mask;
    data_pretok *pre;
    /* the word cache (mutable state behind a const tokenizer) */
    cache_slot *slot;
    size_t n_cached;
    char *ckeys;
    size_t ckeys_n, ckeys_cap;
    int32_t *ctoks;
    size_t ctoks_n, ctoks_cap;
    int32_t *work;       /* scratch symbols for one word */
    size_t work_cap;
};

static uint64_t pair_key(int32_t a, int32_t b) { return (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1; }

static int32_t rank_of(const data_tok *t, int32_t a, int32_t b)
{
    uint64_t k = pair_key(a, b);
    size_t i = (size_t)((k * 0x9e3779b97f4a7c15ULL) >> 20) & t->rk_mask;
    while (t->rk_key[i]) {
        if (t->rk_key[i] == k) return t->rk_val[i];
        i = (i + 1) & t->rk_mask;
    }
    return -1;
}

data_tok *data_tok_from_merges(const int32_t *pairs, int n_merges, char *err, size_t errlen)
{
    data_tok *t = calloc(1, sizeof *t);
    if (!t) goto oom;
    t->n_merges = n_merges;
    t->vocab = DATA_TOK_FIRST_MERGE + n_merges;
    t->pairs = malloc(sizeof(int32_t) * 2 * (size_t)(n_merges ? n_merges : 1));
    t->piece_off = malloc(sizeof(size_t) * ((size_t)t->vocab + 1));
    size_t rk = 16;
    while (rk < (size_t)n_merges * 2) rk *= 2;
    t->rk_mask = rk - 1;
    t->rk_key = calloc(rk, sizeof *t->rk_key);
    t->rk_val = malloc(rk * sizeof *t->rk_val);
    if (!t->pairs || !t->piece_off || !t->rk_key || !t->rk_val) goto oom;
    if (n_merges) memcpy(t->pairs, pairs, sizeof(int32_t) * 2 * (size_t)n_merges);

    /* Piece lengths first, then the bytes. */
    size_t *len = malloc(sizeof(size_t) * (size_t)t->vocab);
    if (!len) goto oom;
    for (int i = 0; i < 256; i++) len[i] = 1;
    len[DATA_TOK_EOS] = 7;  /* "<|eos|>" */
    len[DATA_TOK_MASK] = 8; /* "<|mask|>" */
    for (int m = 0; m < n_merges; m++) {
        int32_t a = pairs[2 * m], b = pairs[2 * m + 1];
        int id = DATA_TOK_FIRST_MERGE + m;
        if (a < 0 || b < 0 || a >= id || b >= id || a == DATA_TOK_EOS || a == DATA_TOK_MASK ||
            b == DATA_TOK_EOS || b == DATA_TOK_MASK) {
            snprintf(err, errlen, "merge %d joins invalid ids %d and %d", m, a, b);
            free(len);
            data_tok_free(t);
            return NULL;
        }
        len[id] = len[a] + len[b];
    }
    size_t total = 0;
    for (int i = 0; i < t->vocab; i++) {
        t->piece_off[i] = total;
        total += len[i];
    }
    t->piece_off[t->vocab] = total;
    free(len);
    if (!(t->piece = malloc(total ? total : 1))) goto oom;
    for (int i = 0; i < 256; i++) t->piece[t->piece_off[i]] = (char)i;
    memcpy(t->piece + t->piece_off[DATA_TOK_EOS], "<|eos|>", 7);
    memcpy(t->piece + t->piece_off[DATA_TOK_MASK], "<|mask|>", 8);
    for (int m = 0; m < n_merges; m++) {
        int32_t a = pairs[2 * m], b = pairs[2 * m + 1];
        int id = DATA_TOK_FIRST_MERGE + m;
        size_t la = t->piece_off[a + 1] - t->piece_off[a];
        memcpy(t->piece + t->piece_off[id], t->piece + t->piece_off[a], la);
        memcpy(t->piece + t->piece_off[id] + la, t->piece + t->piece_off[b],
               t->piece_off[b + 1] - t->piece_off[b]);
        uint64_t k = pair_key(a, b);
        size_t i = (size_t)((k * 0x9e3779b97f4a7c15ULL) >> 20) & t->rk_mask;
        while (t->rk_key[i] && t->rk_key[i] != k) i = (i + 1) & t->rk_mask;
        if (t->rk_key[i]) {
            snprintf(err, errlen, "merge %d repeats the pair %d %d", m, a, b);
            data_tok_free(t);
            return NULL;
        }
        t->rk_key[i] = k;
        t->rk_val[i] = m;
    }
    if (!(t->pre = data_pretok_new(err, errlen))) {
        data_tok_free(t);
        return NULL;
    }
    if (!(t->slot = calloc(CACHE_SLOTS, sizeof *t->slot))) goto oom;
    return t;
oom:
    data_tok_free(t);
    snprintf(err, errlen, "out of memory building the tokenizer");
    return NULL;
}

void data_tok_free(data_tok *t)
{
    if (!t) return;
    free(t->pairs);
    free(t->piece);
    free(t->piece_off);
    free(t->rk_key);
    free(t->rk_val);
    data_pretok_free(t->pre);
    free(t->slot);
    free(t->ckeys);
    free(t->ctoks);
    free(t->work);
    free(t);
}

int data_tok_vocab(const data_tok *t) { return t->vocab; }

void data_tok_merge(const data_tok *t, int32_t id, int32_t *a, int32_t *b)
{
    int m = id - DATA_TOK_FIRST_MERGE;
    *a = m >= 0 && m < t->n_merges ? t->pairs[2 * m] : -1;
    *b = m >= 0 && m < t->n_merges ? t->pairs[2 * m + 1] : -1;
}

const char *data_tok_piece(const data_tok *t, int32_t id, size_t *len)
{
    if (id < 0 || id >= t->vocab) {
        *len = 0;
        return "";
    }
    *len = t->piece_off[id + 1] - t->piece_off[id];
    return t->piece + t->piece_off[id];
}

char *data_tok_decode(const data_tok *t, const int32_t *ids, size_t n, size_t *len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= 0 && ids[i] < t->vocab) total += t->piece_off[ids[i] + 1] - t->piece_off[ids[i]];
    char *out = malloc(total + 1);
    if (!out) return NULL;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->vocab) continue;
        size_t l = t->piece_off[ids[i] + 1] - t->piece_off[ids[i]];
        memcpy(out + w, t->piece + t->piece_off[ids[i]], l);
        w += l;
    }
    out[w] = 0;
    if (len) *len = w;
    return out;
}

/* BPE on one word into t->work; returns the number of tokens or -1. */
static long bpe_word(data_tok *t, const unsigned char *w, size_t n)
{
    if (n > t->work_cap) {
        size_t cap = n * 2;
        int32_t *nw = realloc(t->work, cap * sizeof *nw);
        if (!nw) return -1;
        t->work = nw;
        t->work_cap = cap;
    }
    int32_t *s = t->work;
    for (size_t i = 0; i < n; i++) s[i] = w[i];
    size_t len = n;
    while (len > 1) {
        int32_t best = -1;
        size_t at = 0;
        for (size_t i = 0; i + 1 < len; i++) {
            int32_t r = rank_of(t, s[i], s[i + 1]);
            if (r >= 0 && (best < 0 || r < best)) best = r, at = i;
        }
        if (best < 0) break;
        int32_t a = t->pairs[2 * best], b = t->pairs[2 * best + 1];
        int32_t id = DATA_TOK_FIRST_MERGE + best;
        /* Merge every occurrence, left to right, as training did. */
        size_t o = at;
        for (size_t i = at; i < len;) {
            if (i + 1 < len && s[i] == a && s[i + 1] == b) {
                s[o++] = id;
                i += 2;
            } else {
                s[o++] = s[i++];
            }
        }
        len = o;
    }
    return (long)len;
}

typedef struct {
    data_tok *t;
    int32_t **out;
    size_t *n, *cap;
} enc_ctx;

static int push_tokens(enc_ctx *c, const int32_t *toks, size_t k)
{
    if (*c->n + k > *c->cap) {
        size_t cap = *c->cap ? *c->cap : 1024;
        while (cap < *c->n + k) cap *= 2;
        int32_t *o = realloc(*c->out, cap * sizeof *o);
        if (!o) return -1;
        *c->out = o;
        *c->cap = cap;
    }
    memcpy(*c->out + *c->n, toks, k * sizeof *toks);
    *c->n += k;
    return 0;
}

static void cache_clear(data_tok *t)
{
    memset(t->slot, 0, CACHE_SLOTS * sizeof *t->slot);
    t->n_cached = 0;
    t->ckeys_n = 0;
    t->ctoks_n = 0;
}

static int encode_piece(void *ctx, const char *p, size_t n)
{
    enc_ctx *c = ctx;
    data_tok *t = c->t;
    if (n == 1) {
        int32_t id = (unsigned char)p[0];
        return push_tokens(c, &id, 1);
    }
    /* Long pieces (runs of spaces or symbols) are rare and rarely repeat:
     * encode them directly rather than filling the cache. */
    if (n > 64) {
        long k = bpe_word(t, (const unsigned char *)p, n);
        return k < 0 ? -1 : push_tokens(c, t->work, (size_t)k);
    }
    uint64_t h = data_hash64(p, n, 7) | 1;
    size_t i = (size_t)h & (CACHE_SLOTS - 1);
    while (t->slot[i].h) {
        cache_slot *s = &t->slot[i];
        if (s->h == h && s->key_len == n && !memcmp(t->ckeys + s->key_off, p, n))
            return push_tokens(c, t->ctoks + s->tok_off, s->tok_len);
        i = (i + 1) & (CACHE_SLOTS - 1);
    }
    long k = bpe_word(t, (const unsigned char *)p, n);
    if (k < 0) return -1;
    if (push_tokens(c, t->work, (size_t)k) != 0) return -1;
    /* Remember it, unless the cache is half full: then start afresh. */
    if (t->n_cached >= CACHE_SLOTS / 2) {
        cache_clear(t);
        i = (size_t)h & (CACHE_SLOTS - 1);
    }
    if (t->ckeys_n + n > t->ckeys_cap) {
        size_t cap = t->ckeys_cap ? t->ckeys_cap * 2 : 1 << 20;
        char *nk = realloc(t->ckeys, cap);
        if (!nk) return 0; /* caching is optional */
        t->ckeys = nk;
        t->ckeys_cap = cap;
    }
    if (t->ctoks_n + (size_t)k > t->ctoks_cap) {
        size_t cap = t->ctoks_cap ? t->ctoks_cap * 2 : 1 << 18;
        int32_t *nt = realloc(t->ctoks, cap * sizeof *nt);
        if (!nt) return 0;
        t->ctoks = nt;
        t->ctoks_cap = cap;
    }
    memcpy(t->ckeys + t->ckeys_n, p, n);
    memcpy(t->ctoks + t->ctoks_n, t->work, (size_t)k * sizeof(int32_t));
    t->slot[i] = (cache_slot){h, (uint32_t)t->ckeys_n, (uint32_t)n, (uint32_t)t->ctoks_n,
                              (uint32_t)k};
    t->ckeys_n += n;
    t->ctoks_n += (size_t)k;
    t->n_cached++;
    return 0;
}

int data_tok_encode(const data_tok *tc, const char *text, size_t len, int32_t **out, size_t *n,
                    size_t *cap)
{
    /* The cache is an implementation detail: encoding is logically const. */
    data_tok *t = (data_tok *)tc;
    enc_ctx c = {t, out, n, cap};
    return data_pretok_each(t->pre, text, len, encode_piece, &c) ? -1 : 0;
}

/* ---- the file ---- */

int data_tok_save(const data_tok *t, const char *path, char *err, size_t errlen)
{
    size_t cap = 128 + (size_t)t->n_merges * 24, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    n += (size_t)snprintf(buf + n, cap - n, "xover-bpe 1\nvocab %d\neos %d\nmask %d\nmerges %d\n",
                          t->vocab, DATA_TOK_EOS, DATA_TOK_MASK, t->n_merges);
    for (int m = 0; m < t->n_merges; m++)
        n += (size_t)snprintf(buf + n, cap - n, "%d %d\n", t->pairs[2 * m], t->pairs[2 * m + 1]);
    const void *parts[1] = {buf};
    int rc = data_write_atomic(path, parts, &n, 1, err, errlen);
    free(buf);
    return rc;
}

data_tok *data_tok_load(const char *path, char *err, size_t errlen)
{
    size_t len;
    char *buf = data_read_file(path, &len, err, errlen);
    if (!buf) return NULL;
    int vocab, eos, mask, merges, used = 0;
    if (sscanf(buf, "xover-bpe 1 vocab %d eos %d mask %d merges %d%n", &vocab, &eos, &mask,
               &merges, &used) != 4 || eos != DATA_TOK_EOS || mask != DATA_TOK_MASK ||
        merges < 0 || vocab != DATA_TOK_FIRST_MERGE + merges) {
        snprintf(err, errlen, "%s is not an xover-bpe 1 tokenizer file (bad header)", path);
        free(buf);
        return NULL;
    }
    int32_t *pairs = malloc(sizeof(int32_t) * 2 * (size_t)(merges ? merges : 1));
    if (!pairs) {
        free(buf);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char *p = buf + used;
    for (int m = 0; m < merges; m++) {
        char *e;
        errno = 0;
        long a = strtol(p, &e, 10);
        char *e2;
        long b = strtol(e, &e2, 10);
        if (e == p || e2 == e || errno || a < 0 || b < 0 || a > 1 << 30 || b > 1 << 30) {
            snprintf(err, errlen, "%s: merge line %d is malformed", path, m + 1);
            free(pairs);
            free(buf);
            return NULL;
        }
        pairs[2 * m] = (int32_t)a;
        pairs[2 * m + 1] = (int32_t)b;
        p = e2;
    }
    free(buf);
    char sub[200];
    data_tok *t = data_tok_from_merges(pairs, merges, sub, sizeof sub);
    free(pairs);
    if (!t) snprintf(err, errlen, "%s: %s", path, sub);
    return t;
}
