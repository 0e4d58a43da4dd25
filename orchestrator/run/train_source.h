/*
 * train_source.h — the glue between the data module and the trainer: what
 * `xover train` asks of a run's data. Implemented in train_source.c on top of
 * data/ (corpus -> tokenizer -> budget -> epoch iterator, validation set,
 * cloze items); used by train_loop.c to feed models/. Neither models/ nor
 * data/ includes this header: it is where the two meet.
 *
 * Tokens are int32 ids in [0, vocab). EOS is a real token of the vocabulary;
 * MASK (for the MDM) is also in the vocabulary, never appears in the data.
 */
#ifndef XOVER_TRAIN_SOURCE_H
#define XOVER_TRAIN_SOURCE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct train_source train_source;

/* Open the data a resolved run config describes (its "data" section, its
 * train.seq_len and its seed). cache_dir holds tokenizers and token caches
 * keyed by content hash (shared by every run; created if missing). Returns
 * NULL with a clear message in err on failure. Shows progress on stderr
 * when preparing takes more than a second. */
train_source *train_source_open(const json_t *run_config, const char *cache_dir,
                                char *err, size_t errlen);
void train_source_close(train_source *s);

int train_source_vocab(const train_source *s);     /* including EOS and MASK */
int32_t train_source_eos(const train_source *s);
int32_t train_source_mask(const train_source *s);
/* Training sequences (of seq_len tokens) in one epoch over the U tokens. */
size_t train_source_seqs_per_epoch(const train_source *s);

/* Fill tokens[B*seq_len] with the next B training sequences of the seeded
 * epoch order (reshuffled every epoch; crossing into the next epoch as
 * needed). Deterministic given the seed and the position. */
void train_source_next_batch(train_source *s, int32_t *tokens, int B);
/* Epochs consumed so far (fractional). */
double train_source_epoch(const train_source *s);
/* The data position, for checkpoints: restoring it continues the exact
 * sequence of batches. */
void train_source_get_position(const train_source *s, uint64_t pos[2]);
int train_source_set_position(train_source *s, const uint64_t pos[2]);

/* Validation: n sequences of seq_len tokens, row-major (owned by s). */
const int32_t *train_source_val(const train_source *s, size_t *n_seqs);

/* Cloze items: item i has a context of C tokens, K candidate continuations
 * of M tokens each, and the index of the true one. Arrays owned by s:
 *   context[i*C + c], cands[(i*K + k)*M + m], answer[i].
 * n_final items in all (data.cloze.final_items, else items), for the run's
 * last evaluation; every other evaluation scores the first n_items of them
 * (data.cloze.items; 0: none). */
typedef struct {
    size_t n_items, n_final;
    int C, K, M;
    const int32_t *context;
    const int32_t *cands;
    const int32_t *answer;
} train_source_cloze;
train_source_cloze train_source_cloze_items(const train_source *s);

/* Decode / encode text with the run's tokenizer (for `xover sample`).
 * Returned strings / arrays are malloc'd; caller frees. */
char *train_source_decode(const train_source *s, const int32_t *ids, size_t n);
int32_t *train_source_encode(const train_source *s, const char *text, size_t *n);

/* ---- additions for `xover data` and tests (the data engineer's) ---- */
#include "data/data.h"

/* The cache directory: opt if given, else $XOVER_CACHE, else .cache/xover
 * in the current directory. train_source_open(cfg, NULL, ...) uses this. */
const char *train_source_cache_dir(const char *opt);

/* The data-related fields of a run config (or of a partial one: a data
 * section alone), in the data module's terms: run_config_read, so with the
 * defaults and checks of run_config.h's field lists. Strings point into cfg
 * or are static. 0, or -1 with a message naming the field. */
typedef struct {
    data_set_spec set;
    data_quality quality;
    uint64_t unique_tokens, order_seed, seed;
    int seq_len;
    size_t cloze_items, cloze_final_items; /* final: 0 = cloze_items */
    int cloze_context, cloze_candidates, cloze_length;
} train_source_config;
int train_source_read_config(const json_t *run_config, train_source_config *c, char *err,
                             size_t errlen);

/* May run_config's run be scored on the cloze pool of pool_tokens tokens
 * (data.cloze.pool_tokens) although it was trained with another (or none)?
 * Only when no document of that pool is among the run's training documents
 * (its tier's budget of U tokens, in its order_seed order) or its
 * validation documents, compared token by token with the run's own data
 * set, whose tokenizer must tokenize the validation text alike. 1 proven
 * disjoint, 0 not (why says what overlaps, or why it cannot be proven),
 * -1 an error (why). */
int train_source_pool_disjoint(const json_t *run_config, uint64_t pool_tokens, const char *cache_dir,
                               char *why, size_t whylen);

/* The prepared data set behind a source (for stats). */
const data_set *train_source_data_set(const train_source *s);

/* Progress on stderr for data preparation: silent for the first second, then
 * a bar with ETA on a TTY, plain lines every 2 s otherwise. Pass
 * {train_source_progress_fn, &p} as a data_progress. */
typedef struct {
    double t0, stage_t0, last;
    char stage[64];
    int tty, shown;
} train_source_progress;
void train_source_progress_init(train_source_progress *p);
void train_source_progress_fn(void *ctx, const char *what, double done, double total);
void train_source_progress_end(train_source_progress *p);

#endif
