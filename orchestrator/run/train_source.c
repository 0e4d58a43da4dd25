/*
 * train_source.c — a run's data, from its resolved config to the arrays the
 * trainer reads: data_set (cached tokenizer and tokens) -> quality tier ->
 * budget of U tokens -> epoch iterator; validation windows; cloze items.
 *
 * On a cache hit this is a few stats, one tokenizer file parse and an mmap,
 * plus O(U) copying: cheap enough for every run of a sweep to call at start.
 */
#include "orchestrator/run/train_source.h"

#include "data/data.h"
#include "orchestrator/run/run_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct train_source {
    data_set *ds;
    data_tier *tier;
    int32_t *budget;
    uint64_t U;
    data_epochs ep;
    int seq_len;
    size_t n_val_seqs;
    data_cloze cloze;
    train_source_cloze cloze_view;
};

/* ---- progress on stderr ---- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void train_source_progress_init(train_source_progress *p)
{
    memset(p, 0, sizeof *p);
    p->t0 = now();
    p->tty = isatty(2);
}

void train_source_progress_fn(void *ctx, const char *what, double done, double total)
{
    train_source_progress *p = ctx;
    double t = now();
    /* Quiet for the first second: fast work shows nothing. */
    if (t - p->t0 < 1.0) return;
    int new_stage = strncmp(p->stage, what, sizeof p->stage - 1) != 0;
    if (new_stage) {
        if (p->tty && p->shown) fputc('\n', stderr);
        snprintf(p->stage, sizeof p->stage, "%s", what);
        p->stage_t0 = t;
        p->last = 0;
    }
    if (p->tty) {
        if (!new_stage && t - p->last < 0.1) return;
        p->last = t;
        double frac = total > 0 ? done / total : 0;
        if (frac > 1) frac = 1;
        char bar[31];
        int fill = (int)(frac * 30);
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        double el = t - p->stage_t0;
        if (total > 0 && frac > 0.01)
            fprintf(stderr, "\r%-28s [%s] %3.0f%%  ETA %.0fs   ", what, bar, 100 * frac,
                    el / frac - el);
        else
            fprintf(stderr, "\r%-28s [%s] %.0fs   ", what, bar, el);
    } else {
        if (!new_stage && t - p->last < 2.0) return;
        p->last = t;
        if (total > 0)
            fprintf(stderr, "xover: %s: %.0f%%\n", what, 100 * (done / total > 1 ? 1 : done / total));
        else
            fprintf(stderr, "xover: %s...\n", what);
    }
    p->shown = 1;
}

void train_source_progress_end(train_source_progress *p)
{
    if (p->tty && p->shown) fputc('\n', stderr);
    p->shown = 0;
}

const char *train_source_cache_dir(const char *opt)
{
    if (opt && *opt) return opt;
    const char *env = getenv("XOVER_CACHE");
    if (env && *env) return env;
    return ".cache/xover";
}

/* ---- reading the config ---- */

int train_source_read_config(const json_t *cfg, train_source_config *c, char *err, size_t errlen)
{
    run_cfg rc;
    if (run_config_read(cfg, &rc, err, errlen)) return -1;
    memset(c, 0, sizeof *c);
    c->set.corpus = (data_corpus_spec){rc.data.corpus, rc.data.separator, rc.data.text_field};
    c->set.vocab = (int)rc.data.vocab;
    c->set.val_tokens = (uint64_t)rc.data.val_tokens;
    c->unique_tokens = (uint64_t)rc.data.unique_tokens;
    c->order_seed = (uint64_t)rc.data.order_seed;
    c->seq_len = (int)rc.train.seq_len;
    c->seed = (uint64_t)rc.seed;
    c->quality = (data_quality){rc.data.quality_spec.degrade, rc.data.quality_spec.top};
    c->set.cloze_tokens = (uint64_t)rc.data.cloze.pool_tokens;
    c->cloze_items = (size_t)rc.data.cloze.items;
    c->cloze_final_items = (size_t)rc.data.cloze.final_items;
    c->cloze_context = (int)rc.data.cloze.context;
    c->cloze_candidates = (int)rc.data.cloze.candidates;
    c->cloze_length = (int)rc.data.cloze.length;
    return 0;
}

/* ---- the source ---- */

train_source *train_source_open(const json_t *run_config, const char *cache_dir, char *err,
                                size_t errlen)
{
    train_source_config c;
    if (train_source_read_config(run_config, &c, err, errlen) != 0) return NULL;
    train_source *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    train_source_progress pr;
    train_source_progress_init(&pr);
    data_progress prog = {train_source_progress_fn, &pr};
    cache_dir = train_source_cache_dir(cache_dir);

    s->seq_len = c.seq_len;
    s->U = c.unique_tokens;
    if (!(s->ds = data_set_open(&c.set, cache_dir, &prog, err, errlen))) goto fail;
    if (!(s->tier = data_tier_open(s->ds, &c.quality, c.order_seed, &prog, err, errlen))) goto fail;
    if (!(s->budget = data_budget(s->ds, s->tier, c.unique_tokens, NULL, err, errlen))) goto fail;
    if (data_epochs_init(&s->ep, s->budget, c.unique_tokens, c.seq_len, c.seed, err, errlen) != 0)
        goto fail;
    s->n_val_seqs = c.set.val_tokens / (uint64_t)c.seq_len;
    if (s->n_val_seqs == 0) {
        snprintf(err, errlen, "data.val_tokens (%llu) is less than one sequence of train.seq_len %d",
                 (unsigned long long)c.set.val_tokens, c.seq_len);
        goto fail;
    }
    /* The final evaluation's items; the others score a prefix of them (an
     * item does not depend on how many follow it: data/cloze.c). */
    size_t n_final = c.cloze_final_items ? c.cloze_final_items : c.cloze_items;
    if (n_final < c.cloze_items) n_final = c.cloze_items;
    if (data_cloze_build(s->ds, n_final, c.cloze_context, c.cloze_candidates,
                         c.cloze_length, c.order_seed, &s->cloze, err, errlen) != 0)
        goto fail;
    s->cloze_view = (train_source_cloze){c.cloze_items, s->cloze.n_items, s->cloze.C, s->cloze.K,
                                         s->cloze.M, s->cloze.context, s->cloze.cands, s->cloze.answer};
    train_source_progress_end(&pr);
    return s;
fail:
    train_source_progress_end(&pr);
    train_source_close(s);
    return NULL;
}

void train_source_close(train_source *s)
{
    if (!s) return;
    data_cloze_free(&s->cloze);
    data_epochs_free(&s->ep);
    free(s->budget);
    data_tier_free(s->tier);
    data_set_close(s->ds);
    free(s);
}

int train_source_vocab(const train_source *s) { return data_tok_vocab(data_set_tokenizer(s->ds)); }
int32_t train_source_eos(const train_source *s) { (void)s; return DATA_TOK_EOS; }
int32_t train_source_mask(const train_source *s) { (void)s; return DATA_TOK_MASK; }
size_t train_source_seqs_per_epoch(const train_source *s) { return s->ep.n_seqs; }

void train_source_next_batch(train_source *s, int32_t *tokens, int B)
{
    data_epochs_next(&s->ep, tokens, B);
}

double train_source_epoch(const train_source *s) { return data_epochs_epoch(&s->ep); }

void train_source_get_position(const train_source *s, uint64_t pos[2])
{
    pos[0] = s->ep.epoch;
    pos[1] = s->ep.index;
}

int train_source_set_position(train_source *s, const uint64_t pos[2])
{
    if (pos[1] >= s->ep.n_seqs) return -1;
    s->ep.epoch = pos[0];
    s->ep.index = pos[1];
    return 0;
}

const int32_t *train_source_val(const train_source *s, size_t *n_seqs)
{
    size_t n;
    const int32_t *v = data_set_val(s->ds, &n);
    *n_seqs = s->n_val_seqs;
    return v; /* windows are consecutive: row i is v[i*seq_len .. +seq_len) */
}

train_source_cloze train_source_cloze_items(const train_source *s) { return s->cloze_view; }

char *train_source_decode(const train_source *s, const int32_t *ids, size_t n)
{
    return data_tok_decode(data_set_tokenizer(s->ds), ids, n, NULL);
}

int32_t *train_source_encode(const train_source *s, const char *text, size_t *n)
{
    int32_t *out = NULL;
    size_t cap = 0;
    *n = 0;
    if (data_tok_encode(data_set_tokenizer(s->ds), text, strlen(text), &out, n, &cap) != 0) {
        free(out);
        *n = 0;
        return NULL;
    }
    if (!out) out = malloc(sizeof *out); /* empty text: an empty, freeable array */
    return out;
}

const data_set *train_source_data_set(const train_source *s) { return s->ds; }

/* ---- a cloze pool for a run trained without it (xover eval --cloze) ---- */

/* FNV-1a of a token array: a document's identity, checked in full on a
 * match. */
static uint64_t tok_hash(const int32_t *t, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint32_t)t[i]) * 1099511628211ull;
    return h ^ n;
}

typedef struct {
    uint64_t h;
    const int32_t *t;
    size_t n;
} doc_id;

static int cmp_doc_id(const void *a, const void *b)
{
    const doc_id *x = a, *y = b;
    return (x->h > y->h) - (x->h < y->h);
}

/* Is document t[0..n) among ids[0..k) (sorted)? */
static int doc_in(const doc_id *ids, size_t k, const int32_t *t, size_t n)
{
    doc_id key = {tok_hash(t, n), t, n};
    const doc_id *hit = bsearch(&key, ids, k, sizeof *ids, cmp_doc_id);
    if (!hit) return 0;
    /* equal hashes sit together: compare each in full */
    while (hit > ids && hit[-1].h == key.h) hit--;
    for (; hit < ids + k && hit->h == key.h; hit++)
        if (hit->n == n && !memcmp(hit->t, t, n * sizeof *t)) return 1;
    return 0;
}

int train_source_pool_disjoint(const json_t *run_config, uint64_t pool_tokens, const char *cache_dir,
                               char *why, size_t whylen)
{
    train_source_config c;
    if (train_source_read_config(run_config, &c, why, whylen) != 0) return -1;
    cache_dir = train_source_cache_dir(cache_dir);
    train_source_progress pr;
    train_source_progress_init(&pr);
    data_progress prog = {train_source_progress_fn, &pr};
    data_set_spec pooled = c.set;
    pooled.cloze_tokens = pool_tokens;
    data_set *ds0 = NULL, *dsp = NULL;
    data_tier *tier = NULL;
    int32_t *budget = NULL;
    doc_id *ids = NULL;
    int rc = -1;
    size_t nb = 0, nv0, nvp, overlap_train = 0, overlap_val = 0;
    if (!(ds0 = data_set_open(&c.set, cache_dir, &prog, why, whylen))) goto done;
    if (!(dsp = data_set_open(&pooled, cache_dir, &prog, why, whylen))) goto done;
    /* One tokenizer: the two sets tokenize the validation text alike (the
     * pool is cut after the tokenizer is trained: data.h); otherwise token
     * comparison proves nothing, and nothing is claimed. */
    const int32_t *v0 = data_set_val(ds0, &nv0), *vp = data_set_val(dsp, &nvp);
    if (nv0 != nvp || memcmp(v0, vp, nv0 * sizeof *v0) != 0) {
        snprintf(why, whylen, "the data set with a cloze pool of %llu tokens tokenizes the validation text "
                 "otherwise than the run's: its documents cannot be matched against the run's training tokens",
                 (unsigned long long)pool_tokens);
        rc = 0;
        goto done;
    }
    if (!(tier = data_tier_open(ds0, &c.quality, c.order_seed, &prog, why, whylen))) goto done;
    if (!(budget = data_budget(ds0, tier, c.unique_tokens, &nb, why, whylen))) goto done;
    /* The run's training documents (its budget's, clean: a degraded copy
     * is the same document) and its validation documents. */
    nv0 = data_set_n_val_docs(ds0);
    if (!(ids = malloc((nb + nv0 + 1) * sizeof *ids))) {
        snprintf(why, whylen, "out of memory");
        goto done;
    }
    for (size_t j = 0; j < nb; j++) {
        size_t n;
        const int32_t *t = data_set_train_doc(ds0, tier->doc[j], &n);
        ids[j] = (doc_id){tok_hash(t, n), t, n};
    }
    qsort(ids, nb, sizeof *ids, cmp_doc_id);
    doc_id *vids = ids + nb;
    for (size_t j = 0; j < nv0; j++) {
        size_t n;
        const int32_t *t = data_set_val_doc(ds0, j, &n);
        vids[j] = (doc_id){tok_hash(t, n), t, n};
    }
    qsort(vids, nv0, sizeof *vids, cmp_doc_id);
    size_t np = data_set_n_cloze_docs(dsp);
    for (size_t i = 0; i < np; i++) {
        size_t n;
        const int32_t *t = data_set_cloze_doc(dsp, i, &n);
        overlap_train += doc_in(ids, nb, t, n);
        overlap_val += doc_in(vids, nv0, t, n);
    }
    if (overlap_train || overlap_val)
        snprintf(why, whylen, "%zu of the pool's %zu documents are in the run's training budget (of %zu documents)"
                 " and %zu in its validation set", overlap_train, np, nb, overlap_val);
    else
        snprintf(why, whylen, "none of the pool's %zu documents is among the run's %zu training documents or "
                 "its %zu validation documents", np, nb, nv0);
    rc = overlap_train || overlap_val ? 0 : 1;
done:
    train_source_progress_end(&pr);
    free(ids);
    free(budget);
    data_tier_free(tier);
    data_set_close(dsp);
    data_set_close(ds0);
    return rc;
}
