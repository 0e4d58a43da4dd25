/*
 * targets.c — the fuzz targets. Each entry takes arbitrary bytes, drives one
 * input parser of xover through the same functions the commands use, and
 * abort()s when a property that must hold does not (an error without a
 * message, a tokenizer round trip that is not exact, pre-tokens that do not
 * tile their text). Sanitizers catch the rest.
 *
 * The first byte of some targets picks a mode, so one corpus covers the
 * variants of a parser (JSONL vs regex metrics, text vs JSONL vs gzip
 * corpora, trained vs loaded tokenizers).
 */
#include "tests/fuzz/targets.h"

#include "data/data.h"
#include "orchestrator/exec/internal.h"
#include "orchestrator/sweep/internal.h"
#include "orchestrator/sweep/sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

const fuzz_target fuzz_targets[] = {
    {"sweep", fuzz_sweep},         {"expr", fuzz_expr},           {"metrics", fuzz_metrics},
    {"corpus", fuzz_corpus},       {"tokenizer", fuzz_tokenizer}, {NULL, NULL},
};

static char *cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = 0;
    return s;
}

/* A failure must say why. */
static void need_message(const char *err)
{
    if (!err[0]) {
        fprintf(stderr, "fuzz: an error without a message\n");
        abort();
    }
}

/* ---- sweep YAML -------------------------------------------------------- */

int fuzz_sweep(const uint8_t *data, size_t size)
{
    if (size > 16384) return 0;
    char *text = cstr(data, size);
    char err[1024] = "";
    sweep *s = sweep_parse("fuzz.yaml", text, size, err, sizeof err);
    free(text);
    if (!s) {
        need_message(err);
        return 0;
    }
    /* Plan only grids small enough to stay fast: the planner's own limit
     * (50 M runs) is for users, not for a fuzzer's throughput. */
    double grid = 1;
    for (size_t a = 0; a < sweep_naxes(s); a++) grid *= (double)sweep_axis_nvalues(s, a);
    if (grid <= 2048) {
        err[0] = 0;
        sweep_plan *p = sweep_expand(s, 0, err, sizeof err);
        if (!p) need_message(err);
        for (size_t i = 0; p && i < sweep_plan_count(p) && i < 4; i++) {
            char key[65];
            sweep_plan_key(p, i, key);
            if (strlen(key) != 64) abort();
            json_t *c = sweep_plan_config(p, i, err, sizeof err);
            json_decref(c);
            json_t *d = sweep_plan_document(p, i, err, sizeof err);
            json_decref(d);
            for (size_t a = 0; a < sweep_naxes(s); a++) (void)sweep_plan_axis_text(p, i, a);
            for (size_t k = 0; k < sweep_nderived(s); k++) (void)sweep_plan_derived(p, i, k);
            if (sweep_trainer(s).external) {
                char *mf = NULL;
                char **argv = sweep_plan_argv(p, i, "runs/fuzz/k", key, &mf, err, sizeof err);
                if (!argv) need_message(err);
                sweep_argv_free(argv);
                free(mf);
            }
        }
        sweep_plan_free(p);
    }
    sweep_free(s);
    return 0;
}

/* ---- derive expressions ------------------------------------------------ */

int fuzz_expr(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *text = cstr(data, size);
    char err[512] = "";
    int pos = -1;
    sw_expr *e = sw_expr_parse(text, err, sizeof err, &pos);
    if (!e) {
        need_message(err);
        if (pos < 0 || (size_t)pos > strlen(text)) {
            fprintf(stderr, "fuzz: error position %d outside the text\n", pos);
            abort();
        }
        free(text);
        return 0;
    }
    size_t n = sw_expr_nnames(e);
    double *vals = malloc((n ? n : 1) * sizeof *vals);
    if (!vals) abort();
    for (size_t i = 0; i < n; i++) {
        const char *nm = sw_expr_name(e, i);
        int at = sw_expr_name_pos(e, i);
        if (!nm || !nm[0] || at < 0 || (size_t)at >= strlen(text) || strncmp(text + at, nm, strlen(nm))) {
            fprintf(stderr, "fuzz: name %zu is not where it is said to be\n", i);
            abort();
        }
        vals[i] = i % 3 == 0 ? 0.0 : (double)i * 1.5 - 4;
    }
    (void)sw_expr_eval(e, vals); /* any double, non-finite included: the caller reports those */
    for (size_t i = 0; i < n; i++) vals[i] = 1e308;
    (void)sw_expr_eval(e, vals);
    free(vals);
    sw_expr_free(e);
    free(text);
    return 0;
}

/* ---- metrics lines ----------------------------------------------------- */

/* Byte 0: bit 0 = regex mode, bit 1 = final (the writer exited). JSONL: the
 * rest are lines. Regex: the pattern up to the first newline, then lines. */
int fuzz_metrics(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536) return 0;
    int regex = data[0] & 1, final = (data[0] >> 1) & 1;
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;
    pcre2_code *re = NULL;
    if (regex) {
        const char *nl = memchr(buf, '\n', len);
        if (!nl || nl - buf > 256) return 0;
        int ec;
        PCRE2_SIZE eo;
        /* As the driver compiles trainer.metrics.regex. */
        re = pcre2_compile((PCRE2_SPTR)buf, (PCRE2_SIZE)(nl - buf), 0, &ec, &eo, NULL);
        if (!re) return 0;
        len -= (size_t)(nl - buf) + 1;
        buf = nl + 1;
    }
    ingest *g = ingest_new("/nonexistent/metrics.jsonl", re);
    if (!g) abort();
    size_t used = ingest_parse(g, buf, len, final);
    /* final: everything is consumed, unless a line was too long to read */
    if (used > len || (final && used != len && !ingest_get(g)->overlong)) {
        fprintf(stderr, "fuzz: consumed %zu of %zu bytes\n", used, len);
        abort();
    }
    const ingest_state *st = ingest_get(g);
    if (st->nonfinite && !st->nonfinite_what[0]) abort();
    /* A second pass over the unconsumed tail, as the next poll would. */
    (void)ingest_parse(g, buf + used, len - used, 1);
    ingest_free(g);
    pcre2_code_free(re);
    return 0;
}

/* ---- corpus ingestion -------------------------------------------------- */

static int write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int bad = n && fwrite(p, 1, n, f) != n;
    return fclose(f) || bad ? -1 : 0;
}

/* gzip-compress (the ingestion path for .gz corpora). */
static unsigned char *gzip_bytes(const uint8_t *p, size_t n, size_t *out)
{
    z_stream z = {0};
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    size_t cap = deflateBound(&z, n) + 64;
    unsigned char *o = malloc(cap);
    if (!o) abort();
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    z.next_out = o;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    *out = cap - z.avail_out;
    deflateEnd(&z);
    return o;
}

/* Byte 0 picks the file: 0 .txt with the default separator, 1 .jsonl, 2 .gz
 * (the rest compressed), 3 raw bytes named .gz (corrupt or truncated gzip),
 * 4 .txt with a separator regex given up to the first newline. */
int fuzz_corpus(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536) return 0;
    int mode = data[0] % 5;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    char sep[258] = "";
    if (mode == 4) {
        const uint8_t *nl = memchr(p, '\n', n);
        if (!nl || nl - p > 256) return 0;
        memcpy(sep, p, (size_t)(nl - p));
        sep[nl - p] = 0;
        if (strlen(sep) != (size_t)(nl - p)) return 0; /* a NUL in the pattern: YAML cannot say it */
        n -= (size_t)(nl - p) + 1;
        p = nl + 1;
    }
    char dir[] = "/tmp/xover-fuzz-corpus-XXXXXX";
    if (!mkdtemp(dir)) abort();
    static const char *const ext[] = {"txt", "jsonl", "gz", "gz", "txt"};
    char path[64];
    snprintf(path, sizeof path, "%s/c.%s", dir, ext[mode]);
    int rc;
    if (mode == 2) {
        size_t zn;
        unsigned char *z = gzip_bytes(p, n, &zn);
        rc = write_file(path, z, zn);
        free(z);
    } else {
        rc = write_file(path, p, n);
    }
    if (rc) abort();
    data_corpus_spec spec = {.source = path, .separator = mode == 4 ? sep : NULL, .text_field = NULL};
    char err[1024] = "";
    data_corpus *c = data_corpus_load(&spec, NULL, err, sizeof err);
    if (!c) {
        need_message(err);
    } else {
        /* Documents lie in the text, in order, none empty. */
        for (size_t i = 0; i < c->n_docs; i++)
            if (c->off[i + 1] <= c->off[i]) {
                fprintf(stderr, "fuzz: document %zu is empty or out of order\n", i);
                abort();
            }
        data_corpus_free(c);
    }
    unlink(path);
    rmdir(dir);
    return 0;
}

/* ---- tokenizer --------------------------------------------------------- */

static void round_trip(const data_tok *t, const char *text, size_t len)
{
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    if (data_tok_encode(t, text, len, &ids, &n, &cap)) abort();
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= data_tok_vocab(t) || ids[i] == DATA_TOK_EOS || ids[i] == DATA_TOK_MASK) {
            fprintf(stderr, "fuzz: encode gave id %d\n", ids[i]);
            abort();
        }
    size_t dl;
    char *back = data_tok_decode(t, ids, n, &dl);
    if (!back || dl != len || memcmp(back, text, len)) {
        fprintf(stderr, "fuzz: the round trip of %zu bytes is not exact\n", len);
        abort();
    }
    free(back);
    free(ids);
}

typedef struct {
    const char *text;
    size_t at;
} tiling;

static int tile(void *ctx, const char *piece, size_t n)
{
    tiling *t = ctx;
    if (piece != t->text + t->at || n == 0 || n > DATA_TOK_MAX_PIECE) abort();
    t->at += n;
    return 0;
}

/* Byte 0: 0 train on the rest (documents split at newlines) and round-trip
 * each; 1 round-trip the rest through a tokenizer trained on synthetic
 * text, and check that pre-tokens tile it; 2 load the rest as a tokenizer
 * file; 3 build a tokenizer from the rest as merge pairs. */
int fuzz_tokenizer(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 8192) return 0;
    int mode = data[0] % 4;
    const char *p = (const char *)data + 2;
    size_t n = size - 2;
    char err[512] = "";
    if (mode == 0) {
        const char *docs[64];
        size_t lens[64], nd = 0, at = 0;
        while (at <= n && nd < 64) {
            const char *nl = memchr(p + at, '\n', n - at);
            size_t l = nl ? (size_t)(nl - (p + at)) : n - at;
            docs[nd] = p + at;
            lens[nd++] = l;
            at += l + 1;
        }
        int vocab = DATA_TOK_MIN_VOCAB + data[1] % 48;
        data_tok *t = data_tok_train(docs, lens, nd, vocab, NULL, err, sizeof err);
        if (!t) {
            need_message(err);
            return 0;
        }
        if (data_tok_vocab(t) > vocab) abort();
        for (size_t i = 0; i < nd; i++) round_trip(t, docs[i], lens[i]);
        round_trip(t, p, n);
        data_tok_free(t);
    } else if (mode == 1) {
        static data_tok *fixed;
        static data_pretok *pt;
        if (!fixed) {
            const char *docs[32];
            size_t lens[32];
            char *own[32];
            for (int i = 0; i < 32; i++) {
                own[i] = data_synthetic_doc((uint64_t)i, &lens[i]);
                if (!own[i]) abort();
                docs[i] = own[i];
            }
            fixed = data_tok_train(docs, lens, 32, 400, NULL, err, sizeof err);
            for (int i = 0; i < 32; i++) free(own[i]);
            pt = data_pretok_new(err, sizeof err);
            if (!fixed || !pt) abort();
        }
        round_trip(fixed, p, n);
        tiling t = {p, 0};
        if (data_pretok_each(pt, p, n, tile, &t) || t.at != n) {
            fprintf(stderr, "fuzz: pre-tokens cover %zu of %zu bytes\n", t.at, n);
            abort();
        }
    } else if (mode == 2) {
        char dir[] = "/tmp/xover-fuzz-tok-XXXXXX";
        if (!mkdtemp(dir)) abort();
        char path[64];
        snprintf(path, sizeof path, "%s/tok", dir);
        if (write_file(path, p, n)) abort();
        data_tok *t = data_tok_load(path, err, sizeof err);
        if (!t) need_message(err);
        else {
            round_trip(t, "hello, world  of\xff bytes", 23);
            data_tok_free(t);
        }
        unlink(path);
        rmdir(dir);
    } else {
        size_t m = n / 8;
        int32_t *pairs = malloc((m ? m : 1) * 2 * sizeof *pairs);
        if (!pairs) abort();
        for (size_t i = 0; i < 2 * m; i++) {
            uint32_t v;
            memcpy(&v, p + 4 * i, 4);
            /* mostly plausible ids, sometimes anything */
            pairs[i] = (v & 0x80000000u) ? (int32_t)v : (int32_t)(v % (DATA_TOK_FIRST_MERGE + i / 2 + 2));
        }
        data_tok *t = data_tok_from_merges(pairs, (int)m, err, sizeof err);
        free(pairs);
        if (!t) need_message(err);
        else {
            round_trip(t, "aaaa bbbb abab \x01\x02\x03", 18);
            data_tok_free(t);
        }
    }
    return 0;
}
