/*
 * bench/tokenizer.c — BPE training time and encoding throughput, 1 thread.
 *
 * Text: 10 MB of gcide entries (every k-th entry, so all letters of the
 * dictionary appear) plus all of fortunes, falling back to whichever is
 * installed. Targets (issue 4): training a 4,096 vocabulary on 10 MB in
 * under 30 s; encoding at least 10 MB/s. Also shown, from the same run: the
 * pre-tokenizer alone (the PCRE2 JIT pass), so encode/pretokenize says what
 * share of encoding the BPE itself costs.
 *
 *   build/bench/tokenizer [MB] [VOCAB]
 */
#include "data/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int count_piece(void *ctx, const char *p, size_t n)
{
    (void)p;
    (void)n;
    (*(size_t *)ctx)++;
    return 0;
}

int main(int argc, char **argv)
{
    size_t want = (size_t)((argc > 1 ? atof(argv[1]) : 10.0) * 1e6);
    int vocab = argc > 2 ? atoi(argv[2]) : 4096;
    char err[512];
    data_corpus_spec fs = {"fortunes", NULL, NULL}, gs = {"gcide", NULL, NULL};
    data_corpus *f = data_corpus_load(&fs, NULL, err, sizeof err);
    if (!f) fprintf(stderr, "bench: no fortunes: %s\n", err);
    data_corpus *g = data_corpus_load(&gs, NULL, err, sizeof err);
    if (!g) fprintf(stderr, "bench: no gcide: %s\n", err);
    if (!f && !g) return 1;

    size_t cap = 1 << 16, n = 0, bytes = 0;
    const char **docs = malloc(cap * sizeof *docs);
    size_t *lens = malloc(cap * sizeof *lens);
    if (f)
        for (size_t i = 0; i < f->n_docs && bytes < want; i++) {
            if (n == cap) break;
            docs[n] = f->text + f->off[i];
            lens[n] = f->off[i + 1] - f->off[i];
            bytes += lens[n++];
        }
    if (g) {
        size_t gbytes = g->off[g->n_docs];
        size_t step = gbytes > want - bytes ? gbytes / (want - bytes) : 1;
        for (size_t i = 0; i < g->n_docs && bytes < want; i += step ? step : 1) {
            if (n == cap) {
                cap *= 2;
                docs = realloc(docs, cap * sizeof *docs);
                lens = realloc(lens, cap * sizeof *lens);
            }
            docs[n] = g->text + g->off[i];
            lens[n] = g->off[i + 1] - g->off[i];
            bytes += lens[n++];
        }
    }
    printf("text: %zu documents, %.2f MB (%s%s%s)\n", n, bytes / 1e6, f ? "fortunes" : "",
           f && g ? " + " : "", g ? "gcide sample" : "");

    double t0 = now();
    data_tok *t = data_tok_train(docs, lens, n, vocab, NULL, err, sizeof err);
    double train_s = now() - t0;
    if (!t) {
        fprintf(stderr, "bench: %s\n", err);
        return 1;
    }
    printf("train vocab %d: %.2f s  (target < 30 s: %s)\n", vocab, train_s,
           train_s < 30 ? "ok" : "MISSED");

    data_pretok *pre = data_pretok_new(err, sizeof err);
    size_t pieces = 0;
    t0 = now();
    for (size_t i = 0; i < n; i++) data_pretok_each(pre, docs[i], lens[i], count_piece, &pieces);
    double pre_s = now() - t0;

    int32_t *out = NULL;
    size_t nt = 0, ocap = 0;
    t0 = now();
    for (size_t i = 0; i < n; i++) data_tok_encode(t, docs[i], lens[i], &out, &nt, &ocap);
    double enc_s = now() - t0;
    /* A second pass with the word cache warm, as when a sweep re-encodes. */
    size_t nt2 = 0;
    t0 = now();
    for (size_t i = 0; i < n; i++) data_tok_encode(t, docs[i], lens[i], &out, &nt2, &ocap);
    double enc2_s = now() - t0;

    double mbps = bytes / 1e6 / enc_s;
    printf("pre-tokenize: %.1f MB/s (%zu pieces)\n", bytes / 1e6 / pre_s, pieces);
    printf("encode: %.1f MB/s cold cache, %.1f MB/s warm  (target >= 10 MB/s: %s)\n", mbps,
           bytes / 1e6 / enc2_s, mbps >= 10 ? "ok" : "MISSED");
    printf("encode / pre-tokenize time ratio: %.2f; %.2f bytes per token\n", enc_s / pre_s,
           (double)bytes / (double)nt);

    /* Round trip over all of it. */
    size_t dl;
    char *back = data_tok_decode(t, out, nt, &dl);
    size_t pos = 0;
    int same = back != NULL && dl == bytes;
    for (size_t i = 0; same && i < n; pos += lens[i], i++)
        same = memcmp(back + pos, docs[i], lens[i]) == 0;
    printf("round trip: %s\n", same ? "exact" : "MISMATCH");

    free(back);
    free(out);
    data_pretok_free(pre);
    data_tok_free(t);
    free(docs);
    free(lens);
    data_corpus_free(f);
    data_corpus_free(g);
    return same ? 0 : 1;
}
