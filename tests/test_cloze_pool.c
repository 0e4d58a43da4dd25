/*
 * test_cloze_pool.c — mc_acc that can resolve a small difference: the cloze
 * pool of its own (data.cloze.pool_tokens), disjoint from every training
 * budget and from the validation set; the items of the final evaluation
 * (data.cloze.final_items); mc_acc's standard error and the paired
 * difference of two accuracies on the same items, on hand-made numbers.
 */
#include "tests/harness.h"
#include "data/data.h"
#include "models/models.h"
#include "orchestrator/analysis/analysis.h"
#include "orchestrator/run/run_config.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static data_set *open_pool(const char *source, uint64_t val, uint64_t pool, char *err, size_t errlen)
{
    char dir[4096];
    harness_path(dir, sizeof dir, "cache");
    data_set_spec spec = {{source, NULL, NULL}, 300, val, pool};
    return data_set_open(&spec, dir, NULL, err, errlen);
}

static uint64_t hash_ids(const int32_t *p, size_t n) { return data_hash64(p, n * sizeof *p, 7); }

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int has(const uint64_t *sorted, size_t n, uint64_t h)
{
    return bsearch(&h, sorted, n, sizeof h, cmp_u64) != NULL;
}

/* The documents of a budget (EOS-separated; the last one may be cut) that
 * are whole cloze-pool documents: 0 is the answer, at any budget or tier. */
static size_t pool_docs_in(const int32_t *b, size_t U, const uint64_t *pool, size_t np)
{
    size_t hits = 0, start = 0;
    for (size_t i = 0; i <= U; i++)
        if (i == U || b[i] == DATA_TOK_EOS) {
            if (i > start && has(pool, np, hash_ids(b + start, i - start))) hits++;
            start = i + 1;
        }
    return hits;
}

TEST(cloze_pool_disjoint_from_training_and_validation)
{
    char err[1024];
    data_set *ds = open_pool("synthetic:1500", 3000, 6000, err, sizeof err);
    if (!ds) fprintf(stderr, "%s\n", err);
    CHECK(ds != NULL);
    data_set *plain = open_pool("synthetic:1500", 3000, 0, err, sizeof err);
    CHECK(plain != NULL);
    data_set_info in, pin;
    data_set_info_get(ds, &in);
    data_set_info_get(plain, &pin);
    size_t np = data_set_n_cloze_docs(ds);
    CHECK(np > 0 && np == in.n_cloze_docs);
    CHECK(in.cloze_tokens >= 6000);
    CHECK_INT(pin.n_cloze_docs, 0);
    /* The pool's documents left the training split, nothing else did. */
    CHECK_INT(in.n_train_docs + np, pin.n_train_docs);
    CHECK_INT(in.n_val_docs, pin.n_val_docs);
    /* The same tokenizer and validation stream as without a pool: val_loss
     * stays comparable with runs that had none. */
    size_t nv, pnv;
    const int32_t *v = data_set_val(ds, &nv), *pv = data_set_val(plain, &pnv);
    CHECK_INT(nv, pnv);
    CHECK(memcmp(v, pv, nv * sizeof *v) == 0);

    uint64_t *ph = malloc(np * sizeof *ph);
    size_t ptok = 0;
    for (size_t i = 0; i < np; i++) {
        size_t n;
        const int32_t *d = data_set_cloze_doc(ds, i, &n);
        ph[i] = hash_ids(d, n);
        ptok += n;
    }
    CHECK_INT(ptok, in.cloze_tokens);
    qsort(ph, np, sizeof *ph, cmp_u64);
    /* Not a training document, nor a validation one. */
    for (size_t i = 0; i < data_set_n_train(ds); i++) {
        size_t n;
        const int32_t *d = data_set_train_doc(ds, i, &n);
        CHECK(!has(ph, np, hash_ids(d, n)));
    }
    for (size_t i = 0; i < data_set_n_val_docs(ds); i++) {
        size_t n;
        const int32_t *d = data_set_val_doc(ds, i, &n);
        CHECK(!has(ph, np, hash_ids(d, n)));
    }
    /* ...and in no budget of any tier or order. The same check on the set
     * without a pool finds them (the check can fail). */
    data_quality tiers[] = {{0, 1}, {0, 0.5}, {0.3, 1}};
    uint64_t budgets[] = {2000, 20000, 0 /* the whole tier */};
    for (int t = 0; t < 3; t++)
        for (uint64_t seed = 0; seed < 2; seed++) {
            data_tier *tr = data_tier_open(ds, &tiers[t], seed, NULL, err, sizeof err);
            CHECK(tr != NULL);
            for (int b = 0; b < 3; b++) {
                uint64_t U = budgets[b] ? budgets[b] : tr->tokens;
                int32_t *bud = data_budget(ds, tr, U, NULL, err, sizeof err);
                CHECK(bud != NULL);
                CHECK_INT(pool_docs_in(bud, U, ph, np), 0);
                free(bud);
            }
            data_tier_free(tr);
        }
    data_quality all = {0, 1};
    data_tier *pt = data_tier_open(plain, &all, 0, NULL, err, sizeof err);
    int32_t *pb = data_budget(plain, pt, pt->tokens, NULL, err, sizeof err);
    CHECK(pool_docs_in(pb, pt->tokens, ph, np) > 0);
    free(pb);
    data_tier_free(pt);

    /* Items come from the pool's documents, none from validation. */
    data_cloze c;
    CHECK_INT(data_cloze_build(ds, 40, 10, 4, 4, 3, &c, err, sizeof err), 0);
    for (size_t i = 0; i < c.n_items; i++) {
        int found = 0;
        for (size_t d = 0; d < np && !found; d++) {
            size_t n;
            const int32_t *doc = data_set_cloze_doc(ds, d, &n);
            for (size_t o = 0; o + 14 <= n && !found; o++)
                found = !memcmp(doc + o, c.context + i * 10, 10 * sizeof(int32_t)) &&
                        !memcmp(doc + o + 10, c.cands + (i * 4 + (size_t)c.answer[i]) * 4, 4 * sizeof(int32_t));
        }
        CHECK(found);
    }
    /* An item does not depend on how many follow it: the first evaluations
     * score a prefix of the final one's items. */
    data_cloze few;
    CHECK_INT(data_cloze_build(ds, 10, 10, 4, 4, 3, &few, err, sizeof err), 0);
    CHECK(memcmp(few.context, c.context, 10 * 10 * sizeof(int32_t)) == 0);
    CHECK(memcmp(few.cands, c.cands, 10 * 4 * 4 * sizeof(int32_t)) == 0);
    CHECK(memcmp(few.answer, c.answer, 10 * sizeof(int32_t)) == 0);
    data_cloze_free(&few);
    data_cloze_free(&c);
    free(ph);
    data_set_close(plain);
    data_set_close(ds);
}

TEST(cloze_pool_too_small_is_a_clear_error)
{
    char err[1024];
    /* A pool larger than the corpus can give. */
    CHECK(open_pool("synthetic:300", 2000, 5000000, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "too small for data.cloze.pool_tokens 5000000");
    CHECK_CONTAINS(err, "lower data.cloze.pool_tokens");
    /* A pool too small for the items asked: how many windows it has, and
     * about how many tokens would do. */
    data_set *ds = open_pool("synthetic:1500", 3000, 2000, err, sizeof err);
    CHECK(ds != NULL);
    data_cloze c;
    CHECK_INT(data_cloze_build(ds, 5000, 10, 4, 4, 3, &c, err, sizeof err), -1);
    CHECK_CONTAINS(err, "5000 items");
    CHECK_CONTAINS(err, "the cloze pool's documents offer");
    CHECK_CONTAINS(err, "raise data.cloze.pool_tokens (about");
    data_set_close(ds);
    /* Without a pool, the validation documents run out and the error says
     * which field gives items a pool of their own. */
    ds = open_pool("synthetic:1500", 3000, 0, err, sizeof err);
    CHECK_INT(data_cloze_build(ds, 5000, 10, 4, 4, 3, &c, err, sizeof err), -1);
    CHECK_CONTAINS(err, "the validation documents offer");
    CHECK_CONTAINS(err, "set data.cloze.pool_tokens (about");
    data_set_close(ds);
    /* At plan time: a pool that cannot hold the items whatever the corpus. */
    json_t *cfg = json_loads("{\"objective\":\"ar\",\"model\":{\"layers\":1,\"dim\":16,\"heads\":2},"
                             "\"data\":{\"cloze\":{\"items\":100,\"final_items\":4000,\"pool_tokens\":100000}}}",
                             0, NULL);
    CHECK_INT(run_config_resolve(cfg, err, sizeof err), -1);
    CHECK_CONTAINS(err, "data.cloze.pool_tokens (100000) cannot hold 4000 items of 40 tokens");
    json_decref(cfg);
}

TEST(cloze_new_fields_absent_unless_given_keep_old_keys)
{
    char err[256];
    json_t *cfg = json_loads("{\"objective\":\"ar\",\"model\":{\"layers\":1,\"dim\":16,\"heads\":2},"
                             "\"data\":{\"cloze\":{\"items\":100}}}", 0, NULL);
    CHECK_INT(run_config_resolve(cfg, err, sizeof err), 0);
    json_t *cl = json_object_get(json_object_get(cfg, "data"), "cloze");
    CHECK(json_object_get(cl, "pool_tokens") == NULL);
    CHECK(json_object_get(cl, "final_items") == NULL);
    run_cfg rc;
    CHECK_INT(run_config_read(cfg, &rc, err, sizeof err), 0);
    CHECK_INT(rc.data.cloze.pool_tokens, 0);
    CHECK_INT(rc.data.cloze.final_items, 0);
    json_decref(cfg);
}

TEST(cloze_mc_se_of_hand_made_accuracies)
{
    /* 30 right of 100: the sample sd of thirty 1s and seventy 0s is
     * sqrt(100 * 0.3 * 0.7 / 99); over sqrt(100). */
    CHECK_NEAR(model_mc_se(30, 100), sqrt(0.21 / 99), 1e-12);
    CHECK_NEAR(model_mc_se(30, 100), 0.0460566, 1e-6);
    /* 2 of 4: outcomes 1,1,0,0, sd sqrt(1/3), se sqrt(1/3)/2 */
    CHECK_NEAR(model_mc_se(2, 4), sqrt(1.0 / 3) / 2, 1e-12);
    CHECK_NEAR(model_mc_se(0, 10), 0, 0);
    CHECK_NEAR(model_mc_se(10, 10), 0, 0);
    CHECK(isnan(model_mc_se(1, 1)));
    /* 4000 items near 0.5: the README's 0.0079 */
    CHECK_NEAR(model_mc_se(2000, 4000), 0.0079067, 1e-6);
}

TEST(cloze_paired_difference_of_hand_made_outcomes)
{
    double ar[] = {1, 1, 0, 0, 1, 0, 1, 0, 1, 1};
    double mdm[] = {1, 0, 1, 0, 1, 1, 1, 0, 1, 0};
    an_paired p;
    CHECK_INT(an_paired_acc(ar, mdm, 10, &p), 0);
    CHECK_NEAR(p.ar, 0.6, 1e-12);
    CHECK_NEAR(p.mdm, 0.6, 1e-12);
    CHECK_NEAR(p.diff, 0, 1e-12);
    /* d = 0,-1,1,0,0,1,0,0,0,-1: sum d^2 = 4, sd = sqrt(4/9), se = sd/sqrt(10) */
    CHECK_NEAR(p.se, sqrt(4.0 / 9) / sqrt(10), 1e-12);
    CHECK_NEAR(p.lo, -1.959964 * sqrt(4.0 / 9) / sqrt(10), 1e-9);
    CHECK_NEAR(p.hi, 1.959964 * sqrt(4.0 / 9) / sqrt(10), 1e-9);
    CHECK_NEAR(p.discordant, 0.4, 1e-12);
    /* The MDM right on 9 of 10: d = 0,-1,1,1,0,1,0,1,0,0, mean 0.3,
     * ss = 5 * 0.09 + 1.69 + 4 * 0.49 = 4.1 */
    double mdm2[] = {1, 0, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK_INT(an_paired_acc(ar, mdm2, 10, &p), 0);
    CHECK_NEAR(p.diff, 0.3, 1e-12);
    CHECK_NEAR(p.se, sqrt(4.1 / 9) / sqrt(10), 1e-12);
    CHECK_NEAR(p.discordant, 0.5, 1e-12);
    /* Identical outcomes: no error at all, where the two binomial errors
     * together would say sqrt(2) * 0.163. */
    CHECK_INT(an_paired_acc(ar, ar, 10, &p), 0);
    CHECK_NEAR(p.se, 0, 0);
    /* Seeds' means per item work alike. */
    double a3[] = {0.5, 1, 0}, m3[] = {1, 0.5, 0};
    CHECK_INT(an_paired_acc(a3, m3, 3, &p), 0);
    CHECK_NEAR(p.diff, 0, 1e-12);
    CHECK_NEAR(p.se, sqrt(0.5 / 2) / sqrt(3), 1e-12);
    CHECK_INT(an_paired_acc(a3, m3, 1, &p), -1);
    CHECK(isnan(p.se));
    /* mc_correct: "N:HEX", digit k holds items 4k..4k+3, item 4k+j in bit j */
    double ok[6];
    CHECK_INT(an_mc_unhex("6:d2", ok, 6), 6); /* d = 1101: items 0,2,3; 2 = 0010: item 5 */
    double want[] = {1, 0, 1, 1, 0, 1};
    for (int i = 0; i < 6; i++) CHECK_NEAR(ok[i], want[i], 0);
    CHECK_INT(an_mc_unhex("6:d", ok, 6), -1);
    CHECK_INT(an_mc_unhex("6:dz", ok, 6), -1);
    CHECK_INT(an_mc_unhex("6:d2", ok, 5), -1);
    CHECK_INT(an_mc_unhex("d2", ok, 6), -1);
}

/* ---- the trainer: final_items at the last evaluation, mc_acc_se, mc_correct */

TEST(cloze_train_scores_final_items_at_the_end_with_se_and_outcomes)
{
    char cfg[512], out[512], cache[512];
    harness_path(cfg, sizeof cfg, "run.json");
    harness_path(out, sizeof out, "run");
    harness_path(cache, sizeof cache, "cache");
    harness_write(cfg, "{\"objective\":\"mdm\",\"seed\":1,\"model\":{\"layers\":1,\"dim\":16,\"heads\":2},"
                       "\"data\":{\"corpus\":\"synthetic\",\"vocab\":280,\"val_tokens\":600,\"unique_tokens\":3000,"
                       "\"cloze\":{\"items\":4,\"final_items\":13,\"pool_tokens\":3000,\"context\":8,"
                       "\"candidates\":3,\"length\":4}},"
                       "\"train\":{\"seq_len\":32,\"batch\":4,\"epochs\":1,\"lr\":0.003,\"eval_every\":0.5,"
                       "\"eval_draws\":1,\"final_eval_draws\":2}}");
    const char *argv[] = {harness_xover(), "train", "--config", cfg, "--out", out, "--cache", cache, NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    harness_proc_free(&p);
    char path[1024];
    snprintf(path, sizeof path, "%s/metrics.jsonl", out);
    char *text = harness_slurp(path, NULL);
    CHECK(text != NULL);
    int evals = 0, finals = 0;
    for (char *l = text; *l;) {
        char *nl = strchr(l, '\n');
        *nl = 0;
        json_t *o = json_loads(l, 0, NULL);
        CHECK(o != NULL);
        json_t *acc = json_object_get(o, "mc_acc");
        if (acc) {
            const char *hex = json_string_value(json_object_get(o, "mc_correct"));
            CHECK(hex != NULL);
            double ok[13], right = 0;
            long n = an_mc_unhex(hex, ok, 13);
            CHECK(n == 4 || n == 13);
            for (long i = 0; i < n; i++) right += ok[i];
            CHECK_NEAR(json_number_value(acc), right / (double)n, 1e-9);
            CHECK_NEAR(json_number_value(json_object_get(o, "mc_acc_se")),
                       model_mc_se((size_t)right, (size_t)n), 1e-8);
            evals++;
            finals += n == 13;
        }
        json_decref(o);
        l = nl + 1;
    }
    CHECK(evals >= 3);  /* step 0, halfway, the end */
    CHECK_INT(finals, 1); /* only the last evaluation scores all 13 */
    free(text);
    snprintf(path, sizeof path, "%s/log", out);
    text = harness_slurp(path, NULL);
    CHECK_CONTAINS(text, "on 13 items (2 mask draws)");
    free(text);
}

/* A sweep writes the new fields with suffixes, and a pool that cannot hold
 * the items is an error at plan time, at the place it was written. (The
 * sweep's cloze keys were the defaults' alone: final_items and pool_tokens,
 * absent unless given, were unknown keys.) */
TEST(cloze_sweep_takes_pool_and_final_items_and_checks_them_when_planned)
{
    char path[1024], db[1024];
    harness_path(path, sizeof path, "cloze.yaml");
    harness_path(db, sizeof db, "cloze.db");
    const char *yaml = "sweep: c\n"
                       "data:\n"
                       "  corpus: synthetic\n"
                       "  cloze: {items: 100, final_items: 300, pool_tokens: %s}\n"
                       "models:\n"
                       "  d: {layers: 1, dim: 16, heads: 2}\n"
                       "grid:\n"
                       "  objective: [ar, mdm]\n";
    char text[512];
    snprintf(text, sizeof text, yaml, "30k");
    harness_write(path, text);
    const char *argv[] = {harness_xover(), "plan", path, "--db", db, NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    harness_proc_free(&p);
    snprintf(text, sizeof text, yaml, "10k");
    harness_write(path, text);
    p = harness_run(argv, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "cloze.yaml:4:");
    CHECK_CONTAINS(p.err, "data.cloze.pool_tokens (10000) cannot hold 300 items");
    harness_proc_free(&p);
    /* What the corpus gives is checked when planned too (the data check
     * opens each distinct data once): synthetic's 4000 documents cannot
     * give a pool of 300k tokens and keep a training split. */
    snprintf(text, sizeof text, yaml, "300k");
    harness_write(path, text);
    p = harness_run(argv, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "too small for data.cloze.pool_tokens 300000");
    harness_proc_free(&p);
}
