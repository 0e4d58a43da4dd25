/*
 * test_paired_seeds.c — with `seeds: n`, the AR and MDM runs of one seed are
 * a paired comparison: they see the same training data in the same order
 * (the epoch order is seeded by the run seed alone, never by the objective)
 * and are scored on the same validation windows, and every MDM run, of any
 * seed, on the same validation masks (train.eval_seed does not follow the
 * run seed). The crossover's interval over seeds (analysis.h) rests on it.
 */
#include "tests/harness.h"
#include "orchestrator/run/run_config.h"
#include "orchestrator/run/train_source.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *CFG =
    "{\"objective\": \"%s\", \"seed\": %d, \"model\": {\"layers\": 1, \"dim\": 16, \"heads\": 2},"
    " \"data\": {\"corpus\": \"synthetic:1500\", \"vocab\": 300, \"val_tokens\": 1024,"
    " \"unique_tokens\": 4000}, \"train\": {\"seq_len\": 32}}";

static json_t *config(const char *objective, int seed)
{
    char text[512], err[256];
    snprintf(text, sizeof text, CFG, objective, seed);
    json_t *c = json_loads(text, 0, NULL);
    if (c && run_config_resolve(c, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        json_decref(c);
        return NULL;
    }
    return c;
}

/* Three epochs of batches of the run config (objective, seed), and its
 * validation windows, into freshly allocated arrays. */
static int draw(const char *objective, int seed, int32_t **batches, size_t *nb, int32_t **val,
                size_t *nv, uint64_t *eval_seed)
{
    char dir[4096], err[512];
    harness_path(dir, sizeof dir, "cache");
    json_t *c = config(objective, seed);
    if (!c) return -1;
    *eval_seed = (uint64_t)run_config_number(c, "train.eval_seed");
    train_source *s = train_source_open(c, dir, err, sizeof err);
    json_decref(c);
    if (!s) return fprintf(stderr, "%s\n", err), -1;
    size_t per = train_source_seqs_per_epoch(s);
    *nb = 3 * per * 32;
    *batches = malloc(sizeof(int32_t) * *nb);
    for (size_t i = 0; *batches && i < 3 * per; i++) train_source_next_batch(s, *batches + i * 32, 1);
    const int32_t *v = train_source_val(s, nv);
    *val = malloc(sizeof(int32_t) * *nv * 32 + 1);
    if (*val) memcpy(*val, v, sizeof(int32_t) * *nv * 32);
    train_source_close(s);
    return *batches && *val ? 0 : -1;
}

TEST(paired_seeds_share_data_order_windows_and_masks)
{
    int32_t *b[3] = {0}, *v[3] = {0};
    size_t nb[3], nv[3];
    uint64_t es[3];
    const char *obj[3] = {"ar", "mdm", "mdm"};
    const int seed[3] = {3, 3, 4};
    for (int i = 0; i < 3; i++) CHECK(draw(obj[i], seed[i], &b[i], &nb[i], &v[i], &nv[i], &es[i]) == 0);
    /* AR and MDM of seed 3: the same batches, in the same order, over three
     * epochs (each reshuffled) */
    CHECK(nb[0] == nb[1] && memcmp(b[0], b[1], sizeof(int32_t) * nb[0]) == 0);
    /* another seed: another order (so the pairing above is not vacuous) */
    CHECK(nb[1] == nb[2] && memcmp(b[1], b[2], sizeof(int32_t) * nb[1]) != 0);
    /* every run: the same validation windows and the same eval seed */
    for (int i = 1; i < 3; i++) {
        CHECK(nv[i] == nv[0] && nv[0] > 0);
        CHECK(memcmp(v[i], v[0], sizeof(int32_t) * nv[0] * 32) == 0);
        CHECK(es[i] == es[0]);
    }
    for (int i = 0; i < 3; i++) free(b[i]), free(v[i]);
}
