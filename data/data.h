/*
 * data.h — the data module's contract: corpora -> documents -> BPE tokens ->
 * nested unique-token budgets, epochs, quality tiers and cloze items.
 *
 * data/ knows nothing of models/, SQLite or the CLI. Every function that can
 * fail takes (char *err, size_t errlen) and on failure returns NULL / -1 with
 * a message naming the offending file or value; nothing here exits or prints
 * (long work reports through an optional data_progress callback).
 *
 * The pipeline, as data_set_open() runs it:
 *   1. Corpus: a named corpus (fortunes, gcide, foldoc, jargon, synthetic[:N]) or a file,
 *      directory or glob of .txt / .jsonl / .gz (.dz) files, split into
 *      documents by a PCRE2 separator; exact duplicate documents are dropped.
 *   2. Split: documents sorted by a 64-bit content hash. A held-out pool (a
 *      prefix of that order, about 6 bytes per validation token) is never
 *      seen by the tokenizer; its first val_tokens tokens (documents joined
 *      by EOS) are the validation set; the pool's unused documents and all
 *      the others form the training split, but for the cloze pool (when
 *      cloze_tokens > 0): the whole documents after the validation ones, up
 *      to cloze_tokens tokens, taken out of the training split once the
 *      tokenizer is trained. (Validation is counted in
 *      tokens, so a larger vocabulary takes a few more held-out documents.)
 *   3. Tokenizer: byte-level BPE trained on (at most DATA_TOK_TRAIN_MAX bytes
 *      of) the training split.
 *   4. Cache: tokenizer and tokenized set are files under the cache directory
 *      named by a SHA-256 of the config and the source files' identities
 *      (path, size, mtime), written atomically (temp + rename) under a lock,
 *      so concurrent processes may prepare the same entry safely.
 * Per run (cheap, from the cache): the order_seed order of the training
 * documents, a quality tier, the budget's first U tokens, the epoch iterator
 * over packed sequences, the validation stream and cloze items.
 */
#ifndef XOVER_DATA_H
#define XOVER_DATA_H

#include <stddef.h>
#include <stdint.h>

/* ---- progress ---------------------------------------------------------- */

/* Called now and then during long work: `what` names the stage ("reading",
 * "training tokenizer", ...), done/total its progress (total 0 = unknown).
 * The callee decides whether and how to show it. */
typedef struct {
    void (*fn)(void *ctx, const char *what, double done, double total);
    void *ctx;
} data_progress;

/* ---- small shared helpers (util.c) ------------------------------------- */

uint64_t data_hash64(const void *p, size_t n, uint64_t seed); /* fast, stable */
uint64_t data_splitmix64(uint64_t *state);                    /* seeded PRNG step */
/* Uniform integer in [0, n) from the PRNG state. */
uint64_t data_rand_below(uint64_t *state, uint64_t n);
/* A document's hash and index; data_cmp_hash_index orders them (qsort) by
 * hash, then index, so equal hashes keep their documents' order. */
typedef struct {
    uint64_t h;
    size_t i;
} data_hash_index;
int data_cmp_hash_index(const void *a, const void *b);
/* A seeded permutation of 0..n-1 (malloc'd; NULL if out of memory). */
size_t *data_permutation(size_t n, uint64_t seed);
/* Write `n` parts atomically to path (temp file in the same directory, fsync,
 * rename). Returns 0 or -1 with a message. */
int data_write_atomic(const char *path, const void *const *parts, const size_t *lens,
                      size_t n, char *err, size_t errlen);
/* Read a whole file, inflating gzip (and dictzip) when it starts with the gzip
 * magic. Errors: missing, unreadable, truncated or corrupt gzip. */
char *data_read_file(const char *path, size_t *len, char *err, size_t errlen);
/* mkdir -p */
int data_mkdirs(const char *dir, char *err, size_t errlen);
/* An exclusive advisory lock on path (created if missing): returns an fd to
 * pass to data_unlock, or -1 with a message. Blocks while another process
 * holds it. Only avoids duplicate work: correctness rests on atomic renames. */
int data_lock(const char *path, char *err, size_t errlen);
void data_unlock(int fd);

/* ---- corpora (corpus.c, synthetic.c) ----------------------------------- */

typedef struct {
    const char *source;     /* "fortunes" | "gcide" | "foldoc" | "jargon" | "synthetic[:N]" | file, dir or glob */
    const char *separator;  /* PCRE2 document separator; NULL or "" = the source's default */
    const char *text_field; /* field of .jsonl records; NULL = "text" */
} data_corpus_spec;

/* Documents: doc i is text[off[i] .. off[i+1]) (not NUL-terminated). */
typedef struct {
    size_t n_docs;
    char *text;
    size_t *off;
    /* what ingestion saw */
    size_t n_files;        /* source files read */
    size_t bytes_read;     /* bytes after decompression */
    size_t n_raw_docs;     /* documents before removing duplicates */
    size_t n_dup_docs;     /* exact duplicates removed */
    size_t n_invalid_utf8; /* documents with invalid UTF-8 (kept as bytes) */
} data_corpus;

#define DATA_SYNTHETIC_DEFAULT_DOCS 4000
#define DATA_FORTUNES_DIR "/usr/share/games/fortunes"
#define DATA_GCIDE_FILE "/usr/share/dictd/gcide.dict.dz"   /* dict-gcide: Webster 1913 + additions */
#define DATA_FOLDOC_FILE "/usr/share/dictd/foldoc.dict.dz" /* dict-foldoc: computing dictionary */
#define DATA_JARGON_FILE "/usr/share/dictd/jargon.dict.dz" /* dict-jargon: the Jargon File */

/* Read and split a corpus. Directories take their regular, non-hidden files
 * named *.txt, *.text, *.jsonl, *.gz, *.dz or without an extension
 * (recursively; symlinks and index files like fortune's *.dat are skipped);
 * a file or glob is taken as given. Each .jsonl line is one document (the
 * text_field string). Text is split by the separator (multiline PCRE2);
 * leading and trailing newlines of a document are dropped, blank documents
 * are skipped. Errors: no such corpus, empty file, binary file, truncated
 * gzip, bad JSON, no documents at all. */
data_corpus *data_corpus_load(const data_corpus_spec *spec, const data_progress *prog,
                              char *err, size_t errlen);
void data_corpus_free(data_corpus *c);
/* The separator actually used for the spec (its default if none given). */
const char *data_corpus_separator(const data_corpus_spec *spec);
/* For an error about a corpus too small for what was asked: what the
 * separator made of it ("the separator '\n\s*\n' (blank lines, the default
 * for files) split it into 1 document of 52113 bytes"), and, when that
 * separator was a file's default rather than one given or a named corpus's,
 * the fix to try ("; if its documents are separated otherwise, set
 * data.separator ..."). Into buf[len]. */
void data_corpus_split_note(const data_corpus_spec *spec, size_t n_docs, uint64_t bytes, char *buf,
                            size_t len);
/* SHA-256 (hex) of the spec and every source file's path, size and mtime: the
 * corpus part of cache keys. Cheap: it stats files, never reads them. */
int data_corpus_identity(const data_corpus_spec *spec, char hex[65], char *err, size_t errlen);

/* One synthetic English-like document (deterministic in idx), malloc'd;
 * NULL when out of memory. */
char *data_synthetic_doc(uint64_t idx, size_t *len);

/* ---- tokenizer (tokenizer.c, bpe_train.c) ------------------------------- */

/* Ids 0..255 are the bytes, 256 is EOS, 257 is MASK, 258.. are the merges in
 * the order they were learned; vocab = 258 + merges. Every byte string
 * encodes and decodes back exactly; EOS and MASK never come out of encode.
 *
 * File format (text, one item a line):
 *   xover-bpe 1
 *   vocab V
 *   eos 256
 *   mask 257
 *   merges M            (M = V - 258)
 *   A B                 (M lines: merge i joins ids A and B into id 258+i)
 */
#define DATA_TOK_EOS 256
#define DATA_TOK_MASK 257
#define DATA_TOK_FIRST_MERGE 258
#define DATA_TOK_MIN_VOCAB 259
#define DATA_TOK_TRAIN_MAX ((size_t)16 << 20)
/* Pre-tokens longer than this (long runs of blanks, symbols or undecodable
 * bytes) are cut into pieces of at most this many bytes. */
#define DATA_TOK_MAX_PIECE 256
/* GPT-2's pre-tokenization pattern (compiled UTF + UCP, invalid UTF-8
 * allowed; bytes it cannot match become pre-tokens of their own; pieces are
 * cut to DATA_TOK_MAX_PIECE bytes). */
#define DATA_TOK_PATTERN \
    "'(?:[sdmt]|ll|ve|re)| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

typedef struct data_tok data_tok;

/* The pre-tokenizer on its own: calls fn for each pre-token of text, in
 * order; the pre-tokens tile the text exactly. fn returning non-zero stops
 * the walk and is returned. */
typedef struct data_pretok data_pretok;
data_pretok *data_pretok_new(char *err, size_t errlen);
void data_pretok_free(data_pretok *p);
int data_pretok_each(data_pretok *p, const char *text, size_t len,
                     int (*fn)(void *ctx, const char *piece, size_t n), void *ctx);

/* A tokenizer from its merges (pairs[2*i], pairs[2*i+1] make id 258+i). */
data_tok *data_tok_from_merges(const int32_t *pairs, int n_merges, char *err, size_t errlen);

/* Train on docs[i] (lens[i] bytes each) to `vocab` ids in all. Deterministic:
 * the same documents give the same merges (ties go to the smaller pair). */
data_tok *data_tok_train(const char *const *docs, const size_t *lens, size_t n, int vocab,
                         const data_progress *prog, char *err, size_t errlen);
data_tok *data_tok_load(const char *path, char *err, size_t errlen);
int data_tok_save(const data_tok *t, const char *path, char *err, size_t errlen);
void data_tok_free(data_tok *t);
int data_tok_vocab(const data_tok *t);
/* The merge that made id (id >= 258): its two parts. */
void data_tok_merge(const data_tok *t, int32_t id, int32_t *a, int32_t *b);
/* The bytes of a token ("<|eos|>" / "<|mask|>" for the specials). */
const char *data_tok_piece(const data_tok *t, int32_t id, size_t *len);
/* Append the tokens of text to *out (grown with realloc; *n and *cap are its
 * length and capacity). Returns 0, or -1 when out of memory. Not thread-safe
 * (a per-tokenizer cache of pre-token words). */
int data_tok_encode(const data_tok *t, const char *text, size_t len, int32_t **out,
                    size_t *n, size_t *cap);
/* The bytes of ids (specials render as their pieces), malloc'd, NUL added. */
char *data_tok_decode(const data_tok *t, const int32_t *ids, size_t n, size_t *len);

/* ---- quality (quality.c, degrade.c) ------------------------------------ */

/* Gopher/C4-style heuristic rules, each a PCRE2 pattern plus a threshold.
 * A rule yields a value in [0, 1] (1 = the document passes cleanly); its
 * contribution to the score is value - 1; the score is their sum (0 = best).
 * A rule "fires" when its contribution is below zero. */
enum {
    DATA_RULE_WORDS,         /* word count within [min, max] */
    DATA_RULE_WORD_LEN,      /* mean word length within [3, 10] */
    DATA_RULE_SYMBOLS,       /* '#' and ellipses per word <= 0.1 */
    DATA_RULE_LINE_PUNCT,    /* share of lines ending in terminal punctuation */
    DATA_RULE_ALPHA_WORDS,   /* share of words with a letter >= 0.8 */
    DATA_RULE_DUP_LINES,     /* share of repeated lines <= 0.3 */
    DATA_RULE_DUP_NGRAMS,    /* share of repeated word 3-grams <= 0.2 */
    DATA_RULE_STOP_WORDS,    /* at least 2 English stop words */
    DATA_RULE_JUNK,          /* C4: no "lorem ipsum", curly braces, "javascript" */
    DATA_N_RULES
};

typedef struct {
    double value;        /* in [0, 1] */
    double contribution; /* value - 1 */
    double measure;      /* the raw statistic (count, ratio...) */
} data_rule_result;

typedef struct data_scorer data_scorer;
data_scorer *data_scorer_new(char *err, size_t errlen);
void data_scorer_free(data_scorer *s);
const char *data_rule_name(int rule);
const char *data_rule_about(int rule);
/* Score a document (any bytes); out[DATA_N_RULES] may be NULL. */
double data_score(data_scorer *s, const char *text, size_t len, data_rule_result *out);

/* The `degrade` corruption of one document: words shuffled within each
 * sentence, then each letter replaced by a random one with probability noise.
 * Deterministic in seed; malloc'd. */
#define DATA_DEGRADE_NOISE 0.05
char *data_degrade_doc(const char *text, size_t len, double noise, uint64_t seed,
                       size_t *out_len);

/* ---- prepared data sets (dataset.c, budget.c) --------------------------- */

typedef struct {
    data_corpus_spec corpus;
    int vocab;
    uint64_t val_tokens;
    uint64_t cloze_tokens; /* a cloze pool of its own after validation; 0 = none */
} data_set_spec;

/* A quality tier: at most one of degrade > 0 and top < 1. */
typedef struct {
    double degrade; /* share of training documents corrupted, 0 = none */
    double top;     /* keep the best `top` share by score, 1 = all */
} data_quality;

typedef struct data_set data_set;

/* Prepare (or find in cache_dir) the tokenizer and tokenized set. */
data_set *data_set_open(const data_set_spec *spec, const char *cache_dir,
                        const data_progress *prog, char *err, size_t errlen);
void data_set_close(data_set *ds);
const data_tok *data_set_tokenizer(const data_set *ds);
const char *data_set_key(const data_set *ds); /* hex SHA-256 of the cache entry */

typedef struct {
    size_t n_files, bytes_read, n_raw_docs, n_dup_docs, n_invalid_utf8;
    size_t n_train_docs, n_val_docs;
    uint64_t train_bytes, train_tokens; /* train_tokens counts one EOS per document */
    uint64_t val_tokens;                /* the validation stream, exactly spec.val_tokens */
    uint64_t vocab_used;                /* distinct ids in the training tokens */
    size_t n_cloze_docs;                /* the cloze pool: documents, tokens (EOS not counted) */
    uint64_t cloze_tokens;
    int tokenizer_cached, set_cached;   /* found in the cache rather than built */
} data_set_info;
void data_set_info_get(const data_set *ds, data_set_info *out);
/* data_corpus_split_note for the set's corpus, for errors about its size. */
void data_set_split_note(const data_set *ds, char *buf, size_t len);

/* The validation stream: val_tokens tokens (held-out documents each followed
 * by EOS, cut to length). Owned by ds. */
const int32_t *data_set_val(const data_set *ds, size_t *n);
/* Held-out documents used for validation (in hash order; the last one may be
 * only partly inside the validation stream). */
size_t data_set_n_val_docs(const data_set *ds);
const int32_t *data_set_val_doc(const data_set *ds, size_t i, size_t *n);
/* The cloze pool (spec.cloze_tokens > 0): the documents after the
 * validation ones in hash order, whole, until cloze_tokens tokens; never in
 * the training split (so in no budget of any tier), disjoint from the
 * validation set. */
size_t data_set_n_cloze_docs(const data_set *ds);
const int32_t *data_set_cloze_doc(const data_set *ds, size_t i, size_t *n);
/* Training documents (index in hash order): tokens (without EOS), raw text,
 * content hash and score. */
size_t data_set_n_train(const data_set *ds);
const int32_t *data_set_train_doc(const data_set *ds, size_t i, size_t *n);
uint64_t data_set_train_hash(const data_set *ds, size_t i);
const char *data_set_cache_dir(const data_set *ds);
const char *data_set_train_text(const data_set *ds, size_t i, size_t *len);
float data_set_train_score(const data_set *ds, size_t i);

/* A tier's training documents in the order_seed order: the document indices
 * (hash order), and for degrade, which of them are corrupted. */
typedef struct {
    size_t n_docs;
    size_t *doc;          /* doc[j]: training document index */
    unsigned char *bad;   /* bad[j]: document j was degraded (NULL if none) */
    int32_t **tok;        /* degraded tokens per document (NULL if clean) */
    size_t *ntok;
    uint64_t tokens;      /* sum over documents of (tokens + 1 EOS) */
} data_tier;

/* Build the tier (degrade prepares and caches the corrupted documents). */
data_tier *data_tier_open(data_set *ds, const data_quality *q, uint64_t order_seed,
                          const data_progress *prog, char *err, size_t errlen);
void data_tier_free(data_tier *t);
/* The budget: the tier's first U tokens (documents each followed by EOS, the
 * last one cut), malloc'd. Budgets of one tier nest. U larger than the tier
 * is an error that says how many tokens exist. *n_docs (may be NULL) gets
 * the number of documents it touches. */
int32_t *data_budget(const data_set *ds, const data_tier *t, uint64_t U, size_t *n_docs,
                     char *err, size_t errlen);

/* ---- epochs (epochs.c) -------------------------------------------------- */

/* Packed sequences over a token stream: sequence s is stream[s*L .. s*L+L)
 * (the last partial sequence is dropped); each epoch visits all of them in
 * an order drawn from (seed, epoch). The position is (epoch, index). */
typedef struct {
    const int32_t *stream;
    size_t n_seqs;
    int seq_len;
    uint64_t seed;
    uint64_t epoch, index; /* the position */
    size_t *order;         /* the current epoch's order */
    uint64_t order_epoch;  /* which epoch `order` belongs to (+1; 0 = none) */
} data_epochs;

int data_epochs_init(data_epochs *e, const int32_t *stream, size_t n, int seq_len,
                     uint64_t seed, char *err, size_t errlen);
void data_epochs_free(data_epochs *e);
void data_epochs_next(data_epochs *e, int32_t *out, int B);
double data_epochs_epoch(const data_epochs *e);
/* Which sequence the k-th of `epoch` is (for tests). */
size_t data_epochs_seq_at(data_epochs *e, uint64_t epoch, size_t k);

/* ---- cloze (cloze.c) ---------------------------------------------------- */

/* Multiple-choice items from the held-out documents (the set's cloze pool
 * when it has one, else the validation documents): item i takes a window of
 * C + M tokens from one document (context = the first C, the true
 * continuation = the next M) and K - 1 distractor continuations of M tokens
 * from other documents; the true one sits at answer[i]. Seeded. Arrays
 * malloc'd: context[i*C+c], cands[(i*K+k)*M+m], answer[i]. */
typedef struct {
    size_t n_items;
    int C, K, M;
    int32_t *context, *cands, *answer;
} data_cloze;

int data_cloze_build(const data_set *ds, size_t items, int C, int K, int M, uint64_t seed,
                     data_cloze *out, char *err, size_t errlen);
void data_cloze_free(data_cloze *c);

#endif
