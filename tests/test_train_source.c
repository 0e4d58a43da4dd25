/*
 * test_train_source.c — a run config's data section end to end on the
 * synthetic corpus: batches, epochs, positions, validation, cloze, caching.
 */
#include "tests/harness.h"
#include "orchestrator/run/train_source.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *CFG =
    "{\"seed\": 3, \"data\": {\"corpus\": \"synthetic:1500\", \"vocab\": 300, "
    "\"val_tokens\": 2048, \"unique_tokens\": 8000, \"cloze\": {\"items\": 10, "
    "\"context\": 16, \"candidates\": 4, \"length\": 4}}, \"train\": {\"seq_len\": 32}}";

static train_source *open_cfg(const char *text, char *err, size_t errlen)
{
    json_error_t je;
    json_t *cfg = json_loads(text, 0, &je);
    if (!cfg) {
        snprintf(err, errlen, "bad test JSON: %s", je.text);
        return NULL;
    }
    char dir[4096];
    harness_path(dir, sizeof dir, "cache");
    train_source *s = train_source_open(cfg, dir, err, errlen);
    json_decref(cfg);
    return s;
}

TEST(train_source_synthetic_end_to_end)
{
    char err[512] = "";
    train_source *s = open_cfg(CFG, err, sizeof err);
    if (!s) fprintf(stderr, "%s\n", err);
    CHECK(s != NULL);
    CHECK_INT(train_source_vocab(s), 300);
    CHECK_INT(train_source_eos(s), 256);
    CHECK_INT(train_source_mask(s), 257);
    CHECK_INT(train_source_seqs_per_epoch(s), 8000 / 32);

    int32_t batch[4 * 32];
    train_source_next_batch(s, batch, 4);
    int eos = 0;
    for (int i = 0; i < 4 * 32; i++) {
        CHECK(batch[i] >= 0 && batch[i] < 300);
        CHECK(batch[i] != 257); /* MASK never appears in data */
        eos += batch[i] == 256;
    }
    CHECK(eos > 0); /* synthetic documents are ~60 tokens: 4 sequences cross one */
    CHECK_NEAR(train_source_epoch(s), 4.0 / 250, 1e-12);

    size_t nv;
    const int32_t *val = train_source_val(s, &nv);
    CHECK_INT(nv, 2048 / 32);
    CHECK(val[0] >= 0 && val[nv * 32 - 1] < 300);

    train_source_cloze c = train_source_cloze_items(s);
    CHECK_INT(c.n_items, 10);
    CHECK_INT(c.C, 16);
    CHECK_INT(c.K, 4);
    CHECK_INT(c.M, 4);
    for (size_t i = 0; i < c.n_items; i++) CHECK(c.answer[i] >= 0 && c.answer[i] < 4);

    size_t n;
    int32_t *ids = train_source_encode(s, "The cat sees a river.", &n);
    CHECK(ids && n > 0);
    char *back = train_source_decode(s, ids, n);
    CHECK_STR(back, "The cat sees a river.");
    free(ids);
    free(back);
    train_source_close(s);
}

TEST(train_source_position_restores_batches)
{
    char err[512];
    train_source *a = open_cfg(CFG, err, sizeof err);
    train_source *b = open_cfg(CFG, err, sizeof err);
    CHECK(a && b);
    int32_t x[8 * 32], y[8 * 32];
    /* Run a across an epoch boundary, save, continue; b jumps to the save. */
    for (int i = 0; i < 40; i++) train_source_next_batch(a, x, 8); /* 320 > 250 sequences */
    uint64_t pos[2];
    train_source_get_position(a, pos);
    CHECK_INT(pos[0], 1);
    CHECK_INT(pos[1], 320 - 250);
    CHECK_INT(train_source_set_position(b, pos), 0);
    for (int i = 0; i < 5; i++) {
        train_source_next_batch(a, x, 8);
        train_source_next_batch(b, y, 8);
        CHECK(memcmp(x, y, sizeof x) == 0);
    }
    uint64_t bad[2] = {0, 250};
    CHECK(train_source_set_position(b, bad) != 0);
    train_source_close(a);
    train_source_close(b);
}

TEST(train_source_budget_too_large_says_how_many)
{
    char err[512] = "";
    train_source *s = open_cfg(
        "{\"data\": {\"corpus\": \"synthetic:200\", \"vocab\": 300, \"val_tokens\": 500, "
        "\"unique_tokens\": 100000000}, \"train\": {\"seq_len\": 16}}",
        err, sizeof err);
    CHECK(s == NULL);
    CHECK_CONTAINS(err, "unique_tokens 100000000 exceeds");
    CHECK_CONTAINS(err, "training tokens");
}

TEST(train_source_cache_is_reused_and_shared_by_concurrent_opens)
{
    /* Two processes prepare the same entry at once; both succeed, and a
     * third open finds it in the cache. */
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            char err[512];
            train_source *s = open_cfg(CFG, err, sizeof err);
            int ok = s != NULL;
            train_source_close(s);
            _exit(ok ? 0 : 1);
        }
    }
    for (int k = 0; k < 2; k++) {
        int st;
        CHECK(waitpid(kids[k], &st, 0) == kids[k]);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    char err[512];
    train_source *s = open_cfg(CFG, err, sizeof err);
    CHECK(s != NULL);
    data_set_info in;
    data_set_info_get(train_source_data_set(s), &in);
    CHECK(in.set_cached && in.tokenizer_cached);
    train_source_close(s);
}
