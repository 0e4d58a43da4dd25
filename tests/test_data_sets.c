/*
 * test_data_sets.c — prepared sets on the synthetic corpus: the split,
 * nested budgets, epoch orders, quality tiers (top, degrade), cloze items.
 */
#include "tests/harness.h"
#include "data/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static data_set *open_synth(const char *source, int vocab, uint64_t val)
{
    char dir[4096], err[512];
    harness_path(dir, sizeof dir, "cache");
    data_set_spec spec = {{source, NULL, NULL}, vocab, val, 0};
    data_set *ds = data_set_open(&spec, dir, NULL, err, sizeof err);
    if (!ds) fprintf(stderr, "data_set_open: %s\n", err);
    return ds;
}

static uint64_t hash_ids(const int32_t *p, size_t n) { return data_hash64(p, n * sizeof *p, 99); }

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

TEST(data_validation_disjoint_from_training)
{
    data_set *ds = open_synth("synthetic:1500", 300, 3000);
    CHECK(ds != NULL);
    data_set_info in;
    data_set_info_get(ds, &in);
    CHECK_INT(in.n_train_docs + in.n_val_docs, 1500 - in.n_dup_docs);
    CHECK(in.n_val_docs > 0 && in.n_train_docs > in.n_val_docs);
    size_t nv;
    const int32_t *val = data_set_val(ds, &nv);
    CHECK_INT(nv, 3000);
    /* The validation stream is the held-out documents, EOS after each. */
    size_t w = 0;
    for (size_t i = 0; i < data_set_n_val_docs(ds) && w < nv; i++) {
        size_t n;
        const int32_t *d = data_set_val_doc(ds, i, &n);
        for (size_t k = 0; k < n && w < nv; k++, w++) CHECK_INT(val[w], d[k]);
        if (w < nv) CHECK_INT(val[w++], DATA_TOK_EOS);
    }
    CHECK_INT(w, nv);
    /* No held-out document is a training document (compare token content). */
    size_t nt = data_set_n_train(ds);
    uint64_t *th = malloc(nt * sizeof *th);
    for (size_t i = 0; i < nt; i++) {
        size_t n;
        const int32_t *d = data_set_train_doc(ds, i, &n);
        th[i] = hash_ids(d, n);
    }
    qsort(th, nt, sizeof *th, cmp_u64);
    for (size_t i = 0; i < data_set_n_val_docs(ds); i++) {
        size_t n;
        uint64_t h = hash_ids(data_set_val_doc(ds, i, &n), n);
        CHECK(bsearch(&h, th, nt, sizeof *th, cmp_u64) == NULL);
    }
    free(th);
    /* The split depends on content only: reopening (from cache) agrees. */
    data_set *again = open_synth("synthetic:1500", 300, 3000);
    CHECK(again != NULL);
    data_set_info in2;
    data_set_info_get(again, &in2);
    CHECK(in2.set_cached);
    CHECK_INT(in2.n_val_docs, in.n_val_docs);
    data_set_close(again);
    data_set_close(ds);
}

TEST(data_budgets_nest_and_too_large_is_an_error)
{
    data_set *ds = open_synth("synthetic:1500", 300, 2000);
    CHECK(ds != NULL);
    data_quality all = {0, 1};
    char err[512];
    data_tier *t = data_tier_open(ds, &all, 7, NULL, err, sizeof err);
    CHECK(t != NULL);
    size_t d1, d2, d3;
    int32_t *a = data_budget(ds, t, 1000, &d1, err, sizeof err);
    int32_t *b = data_budget(ds, t, 5000, &d2, err, sizeof err);
    int32_t *c = data_budget(ds, t, 20000, &d3, err, sizeof err);
    CHECK(a && b && c);
    CHECK(memcmp(a, b, 1000 * sizeof *a) == 0);
    CHECK(memcmp(b, c, 5000 * sizeof *b) == 0);
    CHECK(d1 < d2 && d2 < d3);
    int eos = 0;
    for (int i = 0; i < 20000; i++) eos += c[i] == DATA_TOK_EOS;
    CHECK(eos == (int)d3 || eos == (int)d3 - 1); /* EOS after every document but maybe the cut one */

    /* Another order seed: another order, same amount. */
    data_tier *t2 = data_tier_open(ds, &all, 8, NULL, err, sizeof err);
    int32_t *a2 = data_budget(ds, t2, 1000, NULL, err, sizeof err);
    CHECK(a2 && memcmp(a, a2, 1000 * sizeof *a) != 0);
    CHECK_INT(t2->tokens, t->tokens);

    CHECK(data_budget(ds, t, t->tokens + 1, NULL, err, sizeof err) == NULL);
    char want[64];
    snprintf(want, sizeof want, "have %llu training tokens", (unsigned long long)t->tokens);
    CHECK_CONTAINS(err, want);
    int32_t *full = data_budget(ds, t, t->tokens, &d1, err, sizeof err);
    CHECK(full != NULL);
    CHECK_INT(d1, t->n_docs);
    free(full);
    free(a);
    free(b);
    free(c);
    free(a2);
    data_tier_free(t);
    data_tier_free(t2);
    data_set_close(ds);
}

TEST(data_epoch_order_differs_per_epoch_repeats_per_seed)
{
    int32_t stream[1000];
    for (int i = 0; i < 1000; i++) stream[i] = i;
    data_epochs a, b, c;
    char err[256];
    CHECK_INT(data_epochs_init(&a, stream, 1000, 10, 5, err, sizeof err), 0);
    CHECK_INT(data_epochs_init(&b, stream, 1000, 10, 5, err, sizeof err), 0);
    CHECK_INT(data_epochs_init(&c, stream, 1000, 10, 6, err, sizeof err), 0);
    CHECK_INT(a.n_seqs, 100);
    int32_t x[300 * 10], y[300 * 10], z[300 * 10];
    data_epochs_next(&a, x, 300); /* three whole epochs */
    data_epochs_next(&b, y, 300);
    data_epochs_next(&c, z, 300);
    CHECK(memcmp(x, y, sizeof x) == 0);
    CHECK(memcmp(x, z, sizeof x) != 0);
    CHECK(memcmp(x, x + 1000, 1000 * sizeof *x) != 0);
    CHECK(memcmp(x + 1000, x + 2000, 1000 * sizeof *x) != 0);
    /* Each epoch visits every sequence once; sequences are packed spans. */
    for (int e = 0; e < 3; e++) {
        int seen[100] = {0};
        for (int s = 0; s < 100; s++) {
            const int32_t *q = x + (e * 100 + s) * 10;
            CHECK_INT(q[0] % 10, 0);
            for (int k = 1; k < 10; k++) CHECK_INT(q[k], q[0] + k);
            seen[q[0] / 10]++;
        }
        for (int s = 0; s < 100; s++) CHECK_INT(seen[s], 1);
    }
    CHECK_NEAR(data_epochs_epoch(&a), 3.0, 1e-12);
    data_epochs_next(&a, x, 25);
    CHECK_NEAR(data_epochs_epoch(&a), 3.25, 1e-12);
    data_epochs_free(&c);
    CHECK(data_epochs_init(&c, stream, 5, 10, 1, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "does not fill one sequence");
    data_epochs_free(&a);
    data_epochs_free(&b);
    data_epochs_free(&c);
}

TEST(data_degrade_changes_exactly_the_chosen_fraction)
{
    data_set *ds = open_synth("synthetic:1200", 300, 2000);
    CHECK(ds != NULL);
    char err[512];
    size_t nv0;
    const int32_t *val0 = data_set_val(ds, &nv0);
    int32_t *val_copy = malloc(nv0 * sizeof *val_copy);
    memcpy(val_copy, val0, nv0 * sizeof *val_copy);
    data_quality clean = {0, 1}, bad = {0.3, 1};
    data_tier *tc = data_tier_open(ds, &clean, 1, NULL, err, sizeof err);
    data_tier *td = data_tier_open(ds, &bad, 1, NULL, err, sizeof err);
    CHECK(tc && td);
    size_t n = data_set_n_train(ds);
    CHECK_INT(td->n_docs, n);
    size_t nbad = 0;
    for (size_t j = 0; j < n; j++) {
        CHECK_INT(td->doc[j], tc->doc[j]); /* same order */
        size_t len;
        const int32_t *clean_tok = data_set_train_doc(ds, td->doc[j], &len);
        if (td->bad[j]) {
            nbad++;
            CHECK(td->ntok[j] != len || memcmp(td->tok[j], clean_tok, len * sizeof(int32_t)) != 0);
        }
    }
    CHECK_INT(nbad, (size_t)floor(0.3 * (double)n + 0.5));
    /* The budget stays U tokens; validation and vocabulary are untouched. */
    int32_t *b = data_budget(ds, td, 8000, NULL, err, sizeof err);
    CHECK(b != NULL);
    for (int i = 0; i < 8000; i++) CHECK(b[i] >= 0 && b[i] < 300);
    size_t nv;
    CHECK(memcmp(data_set_val(ds, &nv), val_copy, nv0 * sizeof *val_copy) == 0);
    CHECK_INT(nv, nv0);
    /* Reopening finds the degraded documents in the cache, identical. */
    data_tier *td2 = data_tier_open(ds, &bad, 1, NULL, err, sizeof err);
    int32_t *b2 = data_budget(ds, td2, 8000, NULL, err, sizeof err);
    CHECK(b2 && memcmp(b, b2, 8000 * sizeof *b) == 0);
    free(b);
    free(b2);
    free(val_copy);
    data_tier_free(tc);
    data_tier_free(td);
    data_tier_free(td2);
    data_set_close(ds);
}

TEST(data_top_tier_keeps_the_best_scores)
{
    data_set *ds = open_synth("synthetic:1000", 300, 2000);
    CHECK(ds != NULL);
    char err[512];
    data_quality q = {0, 0.4};
    data_tier *t = data_tier_open(ds, &q, 0, NULL, err, sizeof err);
    CHECK(t != NULL);
    size_t n = data_set_n_train(ds);
    CHECK_INT(t->n_docs, (size_t)ceil(0.4 * (double)n - 1e-9));
    unsigned char *in = calloc(n, 1);
    float kept_min = 1e9f, dropped_max = -1e9f;
    for (size_t j = 0; j < t->n_docs; j++) in[t->doc[j]] = 1;
    for (size_t i = 0; i < n; i++) {
        float s = data_set_train_score(ds, i);
        if (in[i] && s < kept_min) kept_min = s;
        if (!in[i] && s > dropped_max) dropped_max = s;
    }
    CHECK(kept_min >= dropped_max);
    free(in);
    data_quality both = {0.2, 0.5};
    CHECK(data_tier_open(ds, &both, 0, NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "degrade or top, not both");
    data_tier_free(t);
    data_set_close(ds);
}

TEST(data_cloze_items_well_formed)
{
    data_set *ds = open_synth("synthetic:1000", 300, 4000);
    CHECK(ds != NULL);
    char err[512];
    data_cloze c, c2, c3;
    CHECK_INT(data_cloze_build(ds, 30, 12, 4, 5, 11, &c, err, sizeof err), 0);
    CHECK_INT(data_cloze_build(ds, 30, 12, 4, 5, 11, &c2, err, sizeof err), 0);
    CHECK_INT(data_cloze_build(ds, 30, 12, 4, 5, 12, &c3, err, sizeof err), 0);
    CHECK_INT(c.n_items, 30);
    CHECK(memcmp(c.context, c2.context, 30 * 12 * sizeof(int32_t)) == 0);
    CHECK(memcmp(c.answer, c2.answer, 30 * sizeof(int32_t)) == 0);
    CHECK(memcmp(c.context, c3.context, 30 * 12 * sizeof(int32_t)) != 0);
    int at[4] = {0};
    for (size_t i = 0; i < 30; i++) {
        int a = c.answer[i];
        CHECK(a >= 0 && a < 4);
        at[a]++;
        /* The context and the true continuation are consecutive tokens of one
         * held-out document. */
        int found = 0;
        for (size_t d = 0; d < data_set_n_val_docs(ds) && !found; d++) {
            size_t n;
            const int32_t *doc = data_set_val_doc(ds, d, &n);
            for (size_t o = 0; o + 17 <= n && !found; o++)
                found = !memcmp(doc + o, c.context + i * 12, 12 * sizeof(int32_t)) &&
                        !memcmp(doc + o + 12, c.cands + (i * 4 + (size_t)a) * 5, 5 * sizeof(int32_t));
        }
        CHECK(found);
        for (int k = 0; k < 4; k++) {
            const int32_t *ck = c.cands + (i * 4 + (size_t)k) * 5;
            for (int m = 0; m < 5; m++) CHECK(ck[m] >= 0 && ck[m] < 300 && ck[m] != DATA_TOK_MASK);
            if (k != a) CHECK(memcmp(ck, c.cands + (i * 4 + (size_t)a) * 5, 5 * sizeof(int32_t)) != 0);
        }
    }
    CHECK(at[0] && at[1] && at[2] && at[3]); /* the answer position varies */
    data_cloze_free(&c);
    data_cloze_free(&c2);
    data_cloze_free(&c3);
    CHECK(data_cloze_build(ds, 100000, 12, 4, 5, 1, &c, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "set data.cloze.pool_tokens (about");
    CHECK_CONTAINS(err, "or lower data.cloze.items");
    data_set_close(ds);
}

TEST(data_set_errors_name_the_problem)
{
    char dir[4096], err[512];
    harness_path(dir, sizeof dir, "cache");
    data_set_spec spec = {{"synthetic:50", NULL, NULL}, 300, 100000, 0};
    CHECK(data_set_open(&spec, dir, NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "too small for val_tokens 100000");
    spec.corpus.source = "missing-corpus";
    CHECK(data_set_open(&spec, dir, NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "missing-corpus");
}

/* A file split at blank lines by default: when its documents are separated
 * otherwise (a %-separated fortune file), it is one document, and the
 * errors about its size say so and name the fix; with the separator set,
 * it splits, and a budget it cannot fill says how it split. */
TEST(data_set_errors_say_what_the_separator_found)
{
    char dir[4096], file[4096], err[1024];
    harness_path(dir, sizeof dir, "cache");
    harness_path(file, sizeof file, "quotes.txt");
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    for (int i = 0; i < 2000; i++)
        fprintf(f, "Quote number %d says that %s.\n%%\n", i, i % 2 ? "time flies" : "less is more");
    fclose(f);
    data_set_spec spec = {{file, NULL, NULL}, 280, 2000, 0};
    CHECK(data_set_open(&spec, dir, NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "too small for val_tokens 2000");
    CHECK_CONTAINS(err, "the separator '\\n\\s*\\n' (blank lines, the default for files) split it into 1 document of");
    CHECK_CONTAINS(err, "set data.separator");
    spec.corpus.separator = "^%$";
    data_set *ds = data_set_open(&spec, dir, NULL, err, sizeof err);
    if (!ds) fprintf(stderr, "%s\n", err);
    CHECK(ds != NULL);
    data_quality all = {0, 1};
    data_tier *t = data_tier_open(ds, &all, 0, NULL, err, sizeof err);
    CHECK(t != NULL);
    CHECK(data_budget(ds, t, 1000000, NULL, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "exceeds the training split");
    CHECK_CONTAINS(err, "the separator '^%$' (data.separator) split it into 2000 documents");
    CHECK(strstr(err, "set data.separator") == NULL);
    data_tier_free(t);
    data_set_close(ds);
}

/* The dictd dictionaries (Debian's dict-jargon, dict-foldoc, dict-gcide) are
 * named corpora: one document per entry, each starting at its unindented
 * headword, none split at the blank lines inside an entry. */
TEST(data_named_dictd_corpus_splits_into_entries)
{
    char err[512];
    data_corpus_spec spec = {"jargon", NULL, NULL};
    data_corpus *c = data_corpus_load(&spec, NULL, err, sizeof err);
    if (!c) harness_fail(__FILE__, __LINE__, "jargon: %s", err);
    CHECK(c);
    CHECK(c->n_docs > 2000); /* about 2,300 entries */
    size_t indented = 0, with_blank_inside = 0;
    for (size_t i = 0; i < c->n_docs; i++) {
        const char *d = c->text + c->off[i];
        size_t n = c->off[i + 1] - c->off[i];
        if (n == 0 || d[0] == ' ' || d[0] == '\t') indented++;
        if (memmem(d, n, "\n\n", 2)) with_blank_inside++;
    }
    CHECK_INT(indented, 0);
    CHECK(with_blank_inside > c->n_docs / 2); /* entries keep their paragraphs */
    data_corpus_free(c);
    spec.source = "jargonn";
    CHECK(!data_corpus_load(&spec, NULL, err, sizeof err));
    CHECK_CONTAINS(err, "named corpora: fortunes, gcide, foldoc, jargon");
}
