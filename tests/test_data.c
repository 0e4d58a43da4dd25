/*
 * test_data.c — the tokenizer (round trip, determinism, agreement with a
 * naive BPE, the file) and corpus ingestion (formats, separators, errors).
 */
#include "tests/harness.h"
#include "data/data.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <zlib.h>

/* n synthetic documents as arrays for data_tok_train (freed by free_docs). */
static void synth_docs(size_t n, char ***docs, size_t **lens)
{
    *docs = malloc(n * sizeof **docs);
    *lens = malloc(n * sizeof **lens);
    for (size_t i = 0; i < n; i++) (*docs)[i] = data_synthetic_doc(i, &(*lens)[i]);
}

static void free_docs(size_t n, char **docs, size_t *lens)
{
    for (size_t i = 0; i < n; i++) free(docs[i]);
    free(docs);
    free(lens);
}

static int roundtrip(const data_tok *t, const char *s, size_t n)
{
    int32_t *ids = NULL;
    size_t k = 0, cap = 0, dl = 0;
    if (data_tok_encode(t, s, n, &ids, &k, &cap) != 0) return 0;
    for (size_t i = 0; i < k; i++)
        if (ids[i] < 0 || ids[i] >= data_tok_vocab(t) || ids[i] == DATA_TOK_EOS ||
            ids[i] == DATA_TOK_MASK) {
            free(ids);
            return 0;
        }
    char *back = data_tok_decode(t, ids, k, &dl);
    int ok = back && dl == n && memcmp(back, s, n) == 0;
    free(back);
    free(ids);
    return ok;
}

TEST(data_tok_roundtrip_random_bytes)
{
    char **docs;
    size_t *lens, n = 300;
    synth_docs(n, &docs, &lens);
    char err[256];
    data_tok *t = data_tok_train((const char *const *)docs, lens, n, 400, NULL, err, sizeof err);
    CHECK(t != NULL);
    uint64_t rng = 42;
    char buf[5000];
    for (int trial = 0; trial < 200; trial++) {
        size_t len = (size_t)data_rand_below(&rng, sizeof buf);
        for (size_t i = 0; i < len; i++) {
            /* Mix arbitrary bytes with spaces and letters so that pre-tokens of
             * every kind (and invalid UTF-8 runs) occur. */
            uint64_t r = data_splitmix64(&rng);
            buf[i] = (r & 3) == 0 ? ' ' : (r & 3) == 1 ? (char)('a' + (r >> 8) % 26) : (char)(r >> 16);
        }
        CHECK(roundtrip(t, buf, len));
    }
    CHECK(roundtrip(t, "", 0));
    CHECK(roundtrip(t, "\0\0\xff\xfe", 4));
    /* Long runs are single regex matches: cut into pieces, still exact. */
    size_t big = 300000;
    char *run = malloc(big);
    memset(run, '=', big / 3);
    memset(run + big / 3, ' ', big / 3);
    for (size_t i = 2 * (big / 3); i < big; i++) run[i] = (char)(0x80 + i % 64); /* continuation bytes */
    CHECK(roundtrip(t, run, big));
    free(run);
    data_tok_free(t);
    free_docs(n, docs, lens);
}

TEST(data_tok_roundtrip_real_text)
{
    /* The one tokenizer test on real English: a fortunes file. */
    char err[256];
    size_t len;
    char *text = data_read_file(DATA_FORTUNES_DIR "/fortunes", &len, err, sizeof err);
    CHECK(text != NULL);
    const char *docs[1] = {text};
    data_tok *t = data_tok_train(docs, &len, 1, 600, NULL, err, sizeof err);
    CHECK(t != NULL);
    CHECK(roundtrip(t, text, len));
    int32_t *ids = NULL;
    size_t k = 0, cap = 0;
    CHECK_INT(data_tok_encode(t, text, len, &ids, &k, &cap), 0);
    CHECK(k < len / 2); /* 600 ids compress English at least 2x */
    free(ids);
    const char *multi = "Größe — naïve café, 東京 🙂 \r\n\ttabs  and   spaces' don't 12345";
    CHECK(roundtrip(t, multi, strlen(multi)));
    data_tok_free(t);
    free(text);
}

/* A naive BPE: recount every pair over every word at every step. */
typedef struct {
    int32_t **w;
    size_t *wl, nw, cap;
} word_list;

static int collect_fn(void *ctx, const char *s, size_t k)
{
    word_list *c = ctx;
    if (c->nw == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->w = realloc(c->w, c->cap * sizeof *c->w);
        c->wl = realloc(c->wl, c->cap * sizeof *c->wl);
    }
    int32_t *a = malloc((k + 1) * sizeof *a);
    for (size_t i = 0; i < k; i++) a[i] = (unsigned char)s[i];
    c->w[c->nw] = a;
    c->wl[c->nw++] = k;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int naive_bpe(const char *const *docs, const size_t *lens, size_t n, int merges,
                     int32_t *out)
{
    char err[256];
    data_pretok *p = data_pretok_new(err, sizeof err);
    word_list c = {0};
    for (size_t i = 0; i < n; i++) data_pretok_each(p, docs[i], lens[i], collect_fn, &c);
    int m = 0;
    for (; m < merges; m++) {
        size_t tot = 0, k = 0;
        for (size_t i = 0; i < c.nw; i++) tot += c.wl[i] ? c.wl[i] - 1 : 0;
        uint64_t *keys = malloc((tot + 1) * sizeof *keys);
        for (size_t i = 0; i < c.nw; i++)
            for (size_t j = 0; j + 1 < c.wl[i]; j++)
                keys[k++] = ((uint64_t)(uint32_t)c.w[i][j] << 32) | (uint32_t)c.w[i][j + 1];
        qsort(keys, k, sizeof *keys, cmp_u64);
        uint64_t best = 0;
        size_t bestc = 0;
        for (size_t a = 0; a < k;) {
            size_t b = a;
            while (b < k && keys[b] == keys[a]) b++;
            if (b - a > bestc) bestc = b - a, best = keys[a]; /* ascending: ties keep the smaller */
            a = b;
        }
        free(keys);
        if (!bestc) break;
        int32_t A = (int32_t)(best >> 32), B = (int32_t)(uint32_t)best, id = 258 + m;
        out[2 * m] = A;
        out[2 * m + 1] = B;
        for (size_t i = 0; i < c.nw; i++) {
            size_t o = 0;
            for (size_t j = 0; j < c.wl[i];) {
                if (j + 1 < c.wl[i] && c.w[i][j] == A && c.w[i][j + 1] == B) c.w[i][o++] = id, j += 2;
                else c.w[i][o++] = c.w[i][j++];
            }
            c.wl[i] = o;
        }
    }
    for (size_t i = 0; i < c.nw; i++) free(c.w[i]);
    free(c.w);
    free(c.wl);
    data_pretok_free(p);
    return m;
}

TEST(data_bpe_training_deterministic_and_matches_naive)
{
    char **docs;
    size_t *lens, n = 120;
    synth_docs(n, &docs, &lens);
    /* Add some odd text so merges are not all about the tiny grammar. */
    free(docs[0]);
    docs[0] = strdup("zzz zzz zzz aaaa aaaa 12 12 12 ... ... !!!! ééé ééé ééé");
    lens[0] = strlen(docs[0]);
    char err[256];
    int V = 258 + 120;
    data_tok *a = data_tok_train((const char *const *)docs, lens, n, V, NULL, err, sizeof err);
    data_tok *b = data_tok_train((const char *const *)docs, lens, n, V, NULL, err, sizeof err);
    CHECK(a && b);
    int32_t ref[2 * 120];
    CHECK_INT(naive_bpe((const char *const *)docs, lens, n, 120, ref), 120);
    for (int m = 0; m < 120; m++) {
        int32_t x, y, x2, y2;
        data_tok_merge(a, 258 + m, &x, &y);
        data_tok_merge(b, 258 + m, &x2, &y2);
        CHECK_INT(x, x2);
        CHECK_INT(y, y2);
        CHECK_INT(x, ref[2 * m]);
        CHECK_INT(y, ref[2 * m + 1]);
    }
    data_tok_free(a);
    data_tok_free(b);
    free_docs(n, docs, lens);
}

TEST(data_tok_save_load_and_errors)
{
    char **docs;
    size_t *lens, n = 200;
    synth_docs(n, &docs, &lens);
    char err[256], path[4096];
    data_tok *t = data_tok_train((const char *const *)docs, lens, n, 320, NULL, err, sizeof err);
    CHECK(t != NULL);
    harness_path(path, sizeof path, "tok.bpe");
    CHECK_INT(data_tok_save(t, path, err, sizeof err), 0);
    data_tok *u = data_tok_load(path, err, sizeof err);
    CHECK(u != NULL);
    CHECK_INT(data_tok_vocab(u), 320);
    const char *s = "The old river sings quietly near a bright garden.";
    int32_t *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0, cx = 0, cy = 0;
    data_tok_encode(t, s, strlen(s), &x, &nx, &cx);
    data_tok_encode(u, s, strlen(s), &y, &ny, &cy);
    CHECK_INT(nx, ny);
    CHECK(memcmp(x, y, nx * sizeof *x) == 0);
    size_t pl;
    const char *piece = data_tok_piece(u, DATA_TOK_EOS, &pl);
    CHECK(pl == 7 && memcmp(piece, "<|eos|>", 7) == 0);
    piece = data_tok_piece(u, 258, &pl); /* the first merge: two bytes */
    CHECK_INT(pl, 2);
    free(x);
    free(y);
    data_tok_free(u);

    char *text = harness_slurp(path, NULL);
    CHECK(text && strncmp(text, "xover-bpe 1\nvocab 320\neos 256\nmask 257\nmerges 62\n", 49) == 0);
    free(text);
    harness_write(path, "xover-bpe 1\nvocab 260\neos 256\nmask 257\nmerges 2\n97 98\n999 3\n");
    CHECK(data_tok_load(path, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "invalid ids");
    harness_write(path, "hello\n");
    CHECK(data_tok_load(path, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "not an xover-bpe 1 tokenizer");

    CHECK(data_tok_train((const char *const *)docs, lens, n, 100, NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "vocab 100 is too small");
    const char *tiny[1] = {"ab ab"};
    size_t tl = 5;
    CHECK(data_tok_train(tiny, &tl, 1, 300, NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "supports only");
    data_tok_free(t);
    free_docs(n, docs, lens);
}

/* ---- corpora ---- */

static void write_gz(const char *path, const char *text, size_t cut)
{
    gzFile g = gzopen(path, "wb");
    gzwrite(g, text, (unsigned)strlen(text));
    gzclose(g);
    if (cut) {
        size_t n;
        char *raw = harness_slurp(path, &n);
        FILE *f = fopen(path, "wb");
        fwrite(raw, 1, n - cut, f);
        fclose(f);
        free(raw);
    }
}

static char *doc_str(const data_corpus *c, size_t i)
{
    static char buf[4096];
    size_t n = c->off[i + 1] - c->off[i];
    snprintf(buf, sizeof buf, "%.*s", (int)n, c->text + c->off[i]);
    return buf;
}

TEST(data_corpus_directory_formats_and_dedupe)
{
    char d[2048], p[4096];
    harness_path(d, sizeof d, "corp");
    mkdir(d, 0777);
    snprintf(p, sizeof p, "%s/a.txt", d);
    harness_write(p, "first doc\nline two\n\n\nsecond doc\n\n   \n\nfirst doc\nline two\n");
    snprintf(p, sizeof p, "%s/b.jsonl", d);
    harness_write(p, "{\"body\": \"json one\"}\n\n{\"body\": \"json two\", \"x\": 1}\n");
    snprintf(p, sizeof p, "%s/c.txt.gz", d);
    write_gz(p, "zipped one\n\nzipped \xff\xfe two\n", 0);
    snprintf(p, sizeof p, "%s/index.dat", d); /* skipped: not a text name */
    harness_write(p, "\x01\x02\x03");
    snprintf(p, sizeof p, "%s/sub", d);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/sub/plain", d);
    harness_write(p, "nested doc");

    data_corpus_spec spec = {d, NULL, "body"};
    char err[512];
    data_corpus *c = data_corpus_load(&spec, NULL, err, sizeof err);
    if (!c) fprintf(stderr, "%s\n", err);
    CHECK(c != NULL);
    CHECK_INT(c->n_files, 4);
    CHECK_INT(c->n_raw_docs, 8);
    CHECK_INT(c->n_dup_docs, 1);
    CHECK_INT(c->n_docs, 7);
    CHECK_INT(c->n_invalid_utf8, 1);
    CHECK_STR(doc_str(c, 0), "first doc\nline two");
    CHECK_STR(doc_str(c, 1), "second doc");
    CHECK_STR(doc_str(c, 2), "json one");
    CHECK_STR(doc_str(c, 3), "json two");
    CHECK_STR(doc_str(c, 4), "zipped one");
    CHECK_STR(doc_str(c, 5), "zipped \xff\xfe two");
    CHECK_STR(doc_str(c, 6), "nested doc");
    data_corpus_free(c);
}

TEST(data_corpus_custom_separator_and_glob)
{
    char p[4096], g[4096];
    harness_path(p, sizeof p, "f1");
    harness_write(p, "one\n%\ntwo\n  indented\n%\n\nthree\n%\n");
    harness_path(p, sizeof p, "f2");
    harness_write(p, "four\n%\nfive");
    harness_path(g, sizeof g, "f*");
    data_corpus_spec spec = {g, "^%$", NULL};
    char err[512];
    data_corpus *c = data_corpus_load(&spec, NULL, err, sizeof err);
    CHECK(c != NULL);
    CHECK_INT(c->n_docs, 5);
    CHECK_STR(doc_str(c, 1), "two\n  indented");
    CHECK_STR(doc_str(c, 4), "five");
    data_corpus_free(c);
    spec.separator = "(unclosed";
    CHECK(data_corpus_load(&spec, NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "bad separator pattern '(unclosed'");
}

TEST(data_corpus_bad_input_gives_clear_errors)
{
    char p[4096], err[512];
    data_corpus_spec spec = {p, NULL, NULL};

    harness_path(p, sizeof p, "trunc.txt.gz");
    write_gz(p, "some text that is long enough to compress into several bytes of deflate data "
                "and some more words to be sure", 12);
    CHECK(data_corpus_load(&spec, NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "truncated gzip");
    CHECK_CONTAINS(err, "trunc.txt.gz");

    harness_path(p, sizeof p, "empty.txt");
    harness_write(p, "");
    CHECK(data_corpus_load(&spec, NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "empty.txt is empty");

    harness_path(p, sizeof p, "junk.bin");
    FILE *f = fopen(p, "wb");
    uint64_t r = 9;
    for (int i = 0; i < 4096; i++) fputc((int)(data_splitmix64(&r) & 0xff), f);
    fclose(f);
    CHECK(data_corpus_load(&spec, NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "junk.bin looks binary");

    harness_path(p, sizeof p, "blank.txt");
    harness_write(p, "\n\n   \n\n");
    CHECK(data_corpus_load(&spec, NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "has no documents");

    harness_path(p, sizeof p, "bad.jsonl");
    harness_write(p, "{\"text\": \"ok\"}\n{\"text\": oops}\n");
    CHECK(data_corpus_load(&spec, NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "bad.jsonl:2:");
    harness_write(p, "{\"text\": \"ok\"}\n{\"other\": \"x\"}\n");
    CHECK(data_corpus_load(&spec, NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "bad.jsonl:2: the record has no string field \"text\"");

    spec.source = "no-such-corpus";
    CHECK(data_corpus_load(&spec, NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "corpus 'no-such-corpus': no such file, directory or named corpus");
    spec.source = "/nonexistent/*.txt";
    CHECK(data_corpus_load(&spec, NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "matches no files");
    spec.source = "synthetic:abc";
    CHECK(data_corpus_load(&spec, NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "synthetic:N needs a document count");
}

TEST(data_synthetic_is_deterministic)
{
    size_t a, b, c;
    char *x = data_synthetic_doc(17, &a), *y = data_synthetic_doc(17, &b), *z = data_synthetic_doc(18, &c);
    CHECK(a == b && memcmp(x, y, a) == 0);
    CHECK(a != c || memcmp(x, z, a) != 0);
    CHECK(x[0] >= 'A' && x[0] <= 'Z');
    CHECK(x[a - 1] == '.' || x[a - 1] == '!');
    free(x);
    free(y);
    free(z);
    data_corpus_spec spec = {"synthetic:50", NULL, NULL};
    char err[256], h1[65], h2[65];
    CHECK_INT(data_corpus_identity(&spec, h1, err, sizeof err), 0);
    spec.source = "synthetic:51";
    CHECK_INT(data_corpus_identity(&spec, h2, err, sizeof err), 0);
    CHECK(strcmp(h1, h2) != 0);
}
