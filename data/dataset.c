/*
 * dataset.c — a prepared data set: the split, the tokenizer and the
 * tokenized documents, built once and cached.
 *
 * Cache entry KEY (hex SHA-256 of the corpus identity, vocab, val_tokens and,
 * when there is one, the cloze pool's tokens) is two files in the cache
 * directory:
 *   KEY.bpe   the tokenizer (format in data.h)
 *   KEY.set   the tokenized set, binary, native little-endian, every section
 *             8-byte aligned:
 *     set_header (below)
 *     u64 train_off[n_train+1]   token offsets of training documents
 *     u64 text_off[n_train+1]    byte offsets of their text
 *     u64 val_off[n_val+n_cloze+1]  token offsets of held-out documents:
 *                                the validation ones, then the cloze pool's
 *     u64 hash[n_train]          content hashes (order and degrade seeds)
 *     f32 score[n_train]         quality scores
 *     i32 train_tok[], i32 val_tok[], char text[]
 * Training documents are stored in hash order; a run's document order is a
 * seeded permutation of them, computed when the run opens the set, so one
 * entry serves every order_seed. The file is mmap'd: opening it is cheap.
 */
#include "data/data.h"

#include <errno.h>
#include <fcntl.h>
#include <sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SET_MAGIC "XOVSET01"
/* The held-out pool reserves this many bytes per validation token: more
 * than any useful BPE vocabulary packs into a token of English. */
#define POOL_BYTES_PER_TOKEN 6

typedef struct {
    char magic[8];
    uint64_t vocab, val_tokens, n_train, n_val, train_ntok, val_ntok, text_bytes;
    uint64_t n_files, bytes_read, n_raw_docs, n_dup_docs, n_invalid_utf8, vocab_used;
    uint64_t n_cloze, cloze_tokens; /* the cloze pool (0, 0 in entries without one) */
    uint64_t reserved[2];
} set_header;

struct data_set {
    char key[65];
    char *cache_dir;
    data_corpus_spec corpus; /* copies: for data_set_split_note */
    data_tok *tok;
    void *map;
    size_t map_len;
    const set_header *h;
    const uint64_t *train_off, *text_off, *val_off, *hash;
    const float *score;
    const int32_t *train_tok, *val_tok;
    const char *text;
    int32_t *val_stream;
    int tok_cached, set_cached;
};

static void progress(const data_progress *p, const char *what, double done, double total)
{
    if (p && p->fn) p->fn(p->ctx, what, done, total);
}

static size_t al8(size_t n) { return (n + 7) & ~(size_t)7; }

/* Point the section pointers into the mapped file, checking every size. */
static int map_sections(data_set *ds, const char *path, char *err, size_t errlen)
{
    const char *b = ds->map;
    size_t len = ds->map_len;
    if (len < sizeof(set_header) || memcmp(b, SET_MAGIC, 8) != 0) goto bad;
    const set_header *h = ds->h = (const set_header *)b;
    if (h->n_train > len / 8 || h->n_val > len / 8 || h->n_cloze > len / 8 || h->train_ntok > len / 4 ||
        h->val_ntok > len / 4 || h->text_bytes > len)
        goto bad;
    size_t o = sizeof(set_header);
    ds->train_off = (const uint64_t *)(b + o);
    o += 8 * (h->n_train + 1);
    ds->text_off = (const uint64_t *)(b + o);
    o += 8 * (h->n_train + 1);
    ds->val_off = (const uint64_t *)(b + o);
    o += 8 * (h->n_val + h->n_cloze + 1);
    ds->hash = (const uint64_t *)(b + o);
    o += 8 * h->n_train;
    ds->score = (const float *)(b + o);
    o += al8(4 * h->n_train);
    ds->train_tok = (const int32_t *)(b + o);
    o += al8(4 * h->train_ntok);
    ds->val_tok = (const int32_t *)(b + o);
    o += al8(4 * h->val_ntok);
    ds->text = b + o;
    o += h->text_bytes;
    if (o != len || ds->train_off[h->n_train] != h->train_ntok ||
        ds->val_off[h->n_val + h->n_cloze] != h->val_ntok || ds->text_off[h->n_train] != h->text_bytes)
        goto bad;
    return 0;
bad:
    snprintf(err, errlen, "cache file %s is damaged (delete it to rebuild)", path);
    return -1;
}

static int map_file(data_set *ds, const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        snprintf(err, errlen, "cache file %s is empty", path);
        close(fd);
        return -1;
    }
    ds->map_len = (size_t)st.st_size;
    ds->map = mmap(NULL, ds->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (ds->map == MAP_FAILED) {
        ds->map = NULL;
        snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno));
        return -1;
    }
    return map_sections(ds, path, err, errlen);
}

typedef struct {
    int32_t *v;
    size_t n, cap;
} ivec;

/* Build the set from the corpus and write both cache files. */
static int build(data_set *ds, const data_set_spec *spec, const char *tok_path,
                 const char *set_path, const data_progress *prog, char *err, size_t errlen)
{
    int rc = -1;
    data_corpus *c = data_corpus_load(&spec->corpus, prog, err, errlen);
    if (!c) return -1;
    size_t n = c->n_docs;
    data_hash_index *order = malloc(n * sizeof *order);
    const char **tdocs = NULL;
    size_t *tlens = NULL;
    unsigned char *is_val = calloc(n, 1);
    ivec tt = {0}, vt = {0};
    uint64_t *train_off = NULL, *text_off = NULL, *val_off = NULL, *hash = NULL;
    float *score = NULL;
    char *text = NULL;
    unsigned char *used_id = NULL;
    data_scorer *sc = NULL;
    if (!order || !is_val) goto oom;
    for (size_t i = 0; i < n; i++)
        order[i] = (data_hash_index){data_hash64(c->text + c->off[i], c->off[i + 1] - c->off[i], 2), i};
    qsort(order, n, sizeof *order, data_cmp_hash_index);

    /* The held-out pool: a prefix of the hash order. */
    uint64_t want_bytes = spec->val_tokens * POOL_BYTES_PER_TOKEN, got = 0;
    size_t pool = 0;
    while (pool < n && got < want_bytes) {
        size_t i = order[pool++].i;
        got += c->off[i + 1] - c->off[i];
    }
    char note[512];
    data_corpus_split_note(&spec->corpus, n, c->off[n], note, sizeof note);
    if (pool * 2 > n) {
        snprintf(err, errlen, "corpus '%s' is too small for val_tokens %llu: holding out about "
                 "%llu bytes for validation would take %zu of its %zu documents (it needs at least "
                 "twice as many as it holds out); %s; or lower data.val_tokens",
                 spec->corpus.source, (unsigned long long)spec->val_tokens,
                 (unsigned long long)want_bytes, pool, n, note);
        goto done;
    }

    /* The tokenizer: loaded if a concurrent process already wrote it. */
    if (access(tok_path, R_OK) == 0) {
        ds->tok = data_tok_load(tok_path, err, errlen);
        if (!ds->tok) goto done;
        ds->tok_cached = 1;
    } else {
        size_t nt = n - pool, k = 0, bytes = 0;
        tdocs = malloc((nt + 1) * sizeof *tdocs);
        tlens = malloc((nt + 1) * sizeof *tlens);
        if (!tdocs || !tlens) goto oom;
        for (size_t j = pool; j < n && bytes < DATA_TOK_TRAIN_MAX; j++, k++) {
            size_t i = order[j].i;
            tdocs[k] = c->text + c->off[i];
            tlens[k] = c->off[i + 1] - c->off[i];
            bytes += tlens[k];
        }
        ds->tok = data_tok_train(tdocs, tlens, k, spec->vocab, prog, err, errlen);
        if (!ds->tok) goto done;
        if (data_tok_save(ds->tok, tok_path, err, errlen) != 0) goto done;
    }

    /* Validation: held-out documents in hash order until val_tokens. */
    size_t n_val = 0;
    uint64_t stream = 0;
    if (!(val_off = malloc((n + 1) * sizeof *val_off))) goto oom; /* the cloze pool may pass the pool */
    val_off[0] = 0;
    for (size_t j = 0; j < pool && stream < spec->val_tokens; j++) {
        size_t i = order[j].i;
        if (data_tok_encode(ds->tok, c->text + c->off[i], c->off[i + 1] - c->off[i], &vt.v, &vt.n,
                            &vt.cap) != 0)
            goto oom;
        val_off[++n_val] = vt.n;
        is_val[i] = 1;
        stream = vt.n + n_val; /* each document is followed by EOS */
    }
    if (stream < spec->val_tokens) {
        snprintf(err, errlen, "the held-out documents of corpus '%s' give only %llu tokens, short "
                 "of val_tokens %llu (%s); lower data.val_tokens", spec->corpus.source,
                 (unsigned long long)stream, (unsigned long long)spec->val_tokens, note);
        goto done;
    }

    /* The cloze pool: the documents after the validation ones in hash
     * order, whole, until cloze_tokens tokens (EOS not counted: items never
     * cross documents), counted exactly with the tokenizer. They leave the
     * training split, so no budget of any tier holds them; the tokenizer is
     * the one the set has without a pool (its merges may have counted some
     * of them: bytes statistics, never the model), so the validation tokens
     * are the same as without one. */
    size_t n_cloze = 0, first_cloze = vt.n;
    for (size_t j = n_val; j < n && vt.n - first_cloze < spec->cloze_tokens; j++) {
        size_t i = order[j].i;
        if (data_tok_encode(ds->tok, c->text + c->off[i], c->off[i + 1] - c->off[i], &vt.v, &vt.n,
                            &vt.cap) != 0)
            goto oom;
        val_off[n_val + ++n_cloze] = vt.n;
        is_val[i] = 1;
    }
    if (vt.n - first_cloze < spec->cloze_tokens || (n - n_val - n_cloze) < n_val + n_cloze) {
        snprintf(err, errlen, "corpus '%s' is too small for data.cloze.pool_tokens %llu: the pool "
                 "would take %zu documents (%zu tokens) after the %zu validation ones, leaving %zu "
                 "of its %zu documents for training (it needs at least as many as it holds out); "
                 "%s; or lower data.cloze.pool_tokens", spec->corpus.source,
                 (unsigned long long)spec->cloze_tokens, n_cloze, vt.n - first_cloze, n_val,
                 n - n_val - n_cloze, n, note);
        goto done;
    }

    /* Training: everything else, in hash order, tokenized and scored. */
    size_t n_train = n - n_val - n_cloze, t = 0;
    train_off = malloc((n_train + 1) * sizeof *train_off);
    text_off = malloc((n_train + 1) * sizeof *text_off);
    hash = malloc((n_train + 1) * sizeof *hash);
    score = malloc((n_train + 1) * sizeof *score);
    text = malloc(c->off[n] + 1);
    used_id = calloc((size_t)spec->vocab, 1);
    if (!train_off || !text_off || !hash || !score || !text || !used_id) goto oom;
    if (!(sc = data_scorer_new(err, errlen))) goto done;
    train_off[0] = text_off[0] = 0;
    uint64_t tbytes = 0, done_bytes = 0, total_bytes = c->off[n];
    for (size_t j = 0; j < n; j++) {
        size_t i = order[j].i;
        size_t len = c->off[i + 1] - c->off[i];
        done_bytes += len;
        if (is_val[i]) continue;
        const char *p = c->text + c->off[i];
        if (data_tok_encode(ds->tok, p, len, &tt.v, &tt.n, &tt.cap) != 0) goto oom;
        memcpy(text + tbytes, p, len);
        tbytes += len;
        hash[t] = order[j].h;
        score[t] = (float)data_score(sc, p, len, NULL);
        t++;
        train_off[t] = tt.n;
        text_off[t] = tbytes;
        if ((t & 255) == 0) progress(prog, "tokenizing and scoring", (double)done_bytes, (double)total_bytes);
    }
    progress(prog, "tokenizing and scoring", (double)total_bytes, (double)total_bytes);
    uint64_t vocab_used = 0;
    for (size_t k = 0; k < tt.n; k++) used_id[tt.v[k]] = 1;
    used_id[DATA_TOK_EOS] = 1; /* EOS separates the training documents */
    for (int k = 0; k < spec->vocab; k++) vocab_used += used_id[k];

    set_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, SET_MAGIC, 8);
    h.vocab = (uint64_t)spec->vocab;
    h.val_tokens = spec->val_tokens;
    h.n_train = n_train;
    h.n_val = n_val;
    h.n_cloze = n_cloze;
    h.cloze_tokens = spec->cloze_tokens;
    h.train_ntok = tt.n;
    h.val_ntok = vt.n;
    h.text_bytes = tbytes;
    h.n_files = c->n_files;
    h.bytes_read = c->bytes_read;
    h.n_raw_docs = c->n_raw_docs;
    h.n_dup_docs = c->n_dup_docs;
    h.n_invalid_utf8 = c->n_invalid_utf8;
    h.vocab_used = vocab_used;
    static const char zeros[8];
    const void *parts[] = {&h, train_off, text_off, val_off, hash, score, zeros, tt.v, zeros,
                           vt.v, zeros, text};
    size_t lens[] = {sizeof h, 8 * (n_train + 1), 8 * (n_train + 1), 8 * (n_val + n_cloze + 1),
                     8 * n_train, 4 * n_train, al8(4 * n_train) - 4 * n_train, 4 * tt.n,
                     al8(4 * tt.n) - 4 * tt.n, 4 * vt.n, al8(4 * vt.n) - 4 * vt.n, tbytes};
    if (data_write_atomic(set_path, parts, lens, sizeof lens / sizeof *lens, err, errlen) != 0)
        goto done;
    rc = 0;
    goto done;
oom:
    snprintf(err, errlen, "out of memory preparing corpus '%s'", spec->corpus.source);
done:
    data_scorer_free(sc);
    data_corpus_free(c);
    free(order);
    free(tdocs);
    free(tlens);
    free(is_val);
    free(tt.v);
    free(vt.v);
    free(train_off);
    free(text_off);
    free(val_off);
    free(hash);
    free(score);
    free(text);
    free(used_id);
    return rc;
}

data_set *data_set_open(const data_set_spec *spec, const char *cache_dir,
                        const data_progress *prog, char *err, size_t errlen)
{
    if (spec->vocab < DATA_TOK_MIN_VOCAB) {
        snprintf(err, errlen, "vocab %d is too small: it must be at least %d", spec->vocab,
                 DATA_TOK_MIN_VOCAB);
        return NULL;
    }
    if (spec->val_tokens == 0) {
        snprintf(err, errlen, "val_tokens must be at least 1");
        return NULL;
    }
    char ident[65];
    if (data_corpus_identity(&spec->corpus, ident, err, errlen) != 0) return NULL;
    data_set *ds = calloc(1, sizeof *ds);
    if (!ds || !(ds->cache_dir = strdup(cache_dir)) || !(ds->corpus.source = strdup(spec->corpus.source)) ||
        !(ds->corpus.separator = strdup(spec->corpus.separator ? spec->corpus.separator : ""))) {
        data_set_close(ds);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char buf[256];
    /* Without a cloze pool the key is what it always was: old entries stay. */
    int k = snprintf(buf, sizeof buf, "xover-set-2|%s|%d|%llu", ident, spec->vocab,
                     (unsigned long long)spec->val_tokens);
    if (spec->cloze_tokens)
        k += snprintf(buf + k, sizeof buf - (size_t)k, "|cloze=%llu",
                      (unsigned long long)spec->cloze_tokens);
    SHA2_CTX ctx;
    SHA256Init(&ctx);
    SHA256Update(&ctx, (const uint8_t *)buf, (size_t)k);
    SHA256End(&ctx, ds->key);

    char tok_path[4200], set_path[4200], lock_path[4200];
    snprintf(tok_path, sizeof tok_path, "%s/%s.bpe", cache_dir, ds->key);
    snprintf(set_path, sizeof set_path, "%s/%s.set", cache_dir, ds->key);
    snprintf(lock_path, sizeof lock_path, "%s/%s.lock", cache_dir, ds->key);
    if (data_mkdirs(cache_dir, err, errlen) != 0) goto fail;

    int have = access(tok_path, R_OK) == 0 && access(set_path, R_OK) == 0;
    if (!have) {
        /* Only one process builds an entry; the others wait, then find it. */
        int lock = data_lock(lock_path, err, errlen);
        if (lock < 0) goto fail;
        have = access(tok_path, R_OK) == 0 && access(set_path, R_OK) == 0;
        int rc = have ? 0 : build(ds, spec, tok_path, set_path, prog, err, errlen);
        data_unlock(lock);
        if (rc != 0) goto fail;
    }
    if (have) {
        ds->set_cached = 1;
        ds->tok_cached = 1;
    }
    if (!ds->tok && !(ds->tok = data_tok_load(tok_path, err, errlen))) goto fail;
    if (map_file(ds, set_path, err, errlen) != 0) goto fail;
    if (ds->h->vocab != (uint64_t)spec->vocab || data_tok_vocab(ds->tok) != spec->vocab ||
        ds->h->cloze_tokens != spec->cloze_tokens) {
        snprintf(err, errlen, "cache entry %s does not match vocab %d and cloze pool %llu "
                 "(delete it to rebuild)", ds->key, spec->vocab, (unsigned long long)spec->cloze_tokens);
        goto fail;
    }

    /* The validation stream: documents each followed by EOS, cut to length. */
    uint64_t V = spec->val_tokens, w = 0;
    if (!(ds->val_stream = malloc(V * sizeof *ds->val_stream))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < ds->h->n_val && w < V; i++) {
        for (uint64_t t = ds->val_off[i]; t < ds->val_off[i + 1] && w < V; t++)
            ds->val_stream[w++] = ds->val_tok[t];
        if (w < V) ds->val_stream[w++] = DATA_TOK_EOS;
    }
    if (w != V) {
        snprintf(err, errlen, "cache entry %s has too few validation tokens (delete it to rebuild)",
                 ds->key);
        goto fail;
    }
    return ds;
fail:
    data_set_close(ds);
    return NULL;
}

void data_set_close(data_set *ds)
{
    if (!ds) return;
    if (ds->map) munmap(ds->map, ds->map_len);
    data_tok_free(ds->tok);
    free(ds->val_stream);
    free(ds->cache_dir);
    free((char *)ds->corpus.source);
    free((char *)ds->corpus.separator);
    free(ds);
}

const data_tok *data_set_tokenizer(const data_set *ds) { return ds->tok; }
const char *data_set_key(const data_set *ds) { return ds->key; }
const char *data_set_cache_dir(const data_set *ds) { return ds->cache_dir; }

void data_set_info_get(const data_set *ds, data_set_info *o)
{
    const set_header *h = ds->h;
    memset(o, 0, sizeof *o);
    o->n_files = h->n_files;
    o->bytes_read = h->bytes_read;
    o->n_raw_docs = h->n_raw_docs;
    o->n_dup_docs = h->n_dup_docs;
    o->n_invalid_utf8 = h->n_invalid_utf8;
    o->n_train_docs = h->n_train;
    o->n_val_docs = h->n_val;
    o->train_bytes = h->text_bytes;
    o->train_tokens = h->train_ntok + h->n_train;
    o->val_tokens = h->val_tokens;
    o->n_cloze_docs = h->n_cloze;
    o->cloze_tokens = h->val_ntok - ds->val_off[h->n_val];
    o->vocab_used = h->vocab_used;
    o->tokenizer_cached = ds->tok_cached;
    o->set_cached = ds->set_cached;
}

void data_set_split_note(const data_set *ds, char *buf, size_t len)
{
    const set_header *h = ds->h;
    data_corpus_split_note(&ds->corpus, h->n_raw_docs - h->n_dup_docs, h->bytes_read, buf, len);
}

const int32_t *data_set_val(const data_set *ds, size_t *n)
{
    *n = ds->h->val_tokens;
    return ds->val_stream;
}

size_t data_set_n_val_docs(const data_set *ds) { return ds->h->n_val; }

const int32_t *data_set_val_doc(const data_set *ds, size_t i, size_t *n)
{
    *n = ds->val_off[i + 1] - ds->val_off[i];
    return ds->val_tok + ds->val_off[i];
}

size_t data_set_n_cloze_docs(const data_set *ds) { return ds->h->n_cloze; }

const int32_t *data_set_cloze_doc(const data_set *ds, size_t i, size_t *n)
{
    return data_set_val_doc(ds, ds->h->n_val + i, n);
}

size_t data_set_n_train(const data_set *ds) { return ds->h->n_train; }

const int32_t *data_set_train_doc(const data_set *ds, size_t i, size_t *n)
{
    *n = ds->train_off[i + 1] - ds->train_off[i];
    return ds->train_tok + ds->train_off[i];
}

const char *data_set_train_text(const data_set *ds, size_t i, size_t *len)
{
    *len = ds->text_off[i + 1] - ds->text_off[i];
    return ds->text + ds->text_off[i];
}

uint64_t data_set_train_hash(const data_set *ds, size_t i) { return ds->hash[i]; }
float data_set_train_score(const data_set *ds, size_t i) { return ds->score[i]; }
