/*
 * test_train_eval.c — when `xover train` evaluates: eval_unit "log" gives
 * eval_every evaluations per doubling of the epochs seen, from epoch 1.
 */
#include "tests/harness.h"

#include <jansson.h>
#include <stdlib.h>

/* The epochs of the eval lines (those with val_loss) of a metrics file. */
static int eval_epochs(const char *metrics, double *out, int max)
{
    int n = 0;
    const char *line = metrics;
    while (line && *line && n < max) {
        json_t *j = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL);
        if (j && json_object_get(j, "val_loss")) out[n++] = json_number_value(json_object_get(j, "epoch"));
        json_decref(j);
        line = strchr(line, '\n');
        if (line) line++;
    }
    return n;
}

static int run_with(const char *unit, double every, double *epochs, int max)
{
    char cfg[512], out[512], cache[512], text[1024];
    snprintf(text, sizeof text,
             "{\"objective\":\"ar\",\"seed\":1,\"model\":{\"layers\":1,\"dim\":16,\"heads\":2},"
             "\"data\":{\"corpus\":\"synthetic\",\"vocab\":280,\"val_tokens\":600,\"unique_tokens\":3000},"
             "\"train\":{\"seq_len\":32,\"batch\":4,\"epochs\":8,\"eval_every\":%g,\"eval_unit\":\"%s\"}}",
             every, unit);
    harness_path(cfg, sizeof cfg, "run.json");
    harness_path(out, sizeof out, unit);
    harness_path(cache, sizeof cache, "cache");
    harness_write(cfg, text);
    const char *argv[] = {harness_xover(), "train", "--config", cfg, "--out", out, "--cache", cache, NULL};
    harness_proc p = harness_run(argv, NULL);
    int ok = p.status == 0;
    if (!ok) fprintf(stderr, "%s", p.err);
    harness_proc_free(&p);
    if (!ok) return -1;
    char mpath[600];
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", out);
    char *m = harness_slurp(mpath, NULL);
    int n = eval_epochs(m, epochs, max);
    free(m);
    return n;
}

TEST(train_eval_log_scale_doubles)
{
    double e[32];
    /* One evaluation per doubling: step 0, then just past epochs 1, 2, 4, 8. */
    int n = run_with("log", 1, e, 32);
    CHECK_INT(n, 5);
    CHECK_NEAR(e[0], 0, 0);
    for (int k = 0; k < 4; k++) {
        double want = (double)(1 << k);
        CHECK(e[k + 1] >= want - 1e-9);
        CHECK(e[k + 1] < want + 0.1);
    }
}

TEST(train_eval_log_scale_denser)
{
    double e[64];
    /* Two per doubling: 1, 1.41, 2, 2.83, 4, 5.66, 8 (+ step 0). */
    int n = run_with("log", 2, e, 64);
    CHECK_INT(n, 8);
    for (int i = 1; i < n; i++) {
        double want = pow(2.0, (i - 1) / 2.0);
        CHECK(e[i] >= want - 1e-9);
        CHECK(e[i] < want + 0.1);
    }
}

TEST(train_eval_every_epoch_is_linear)
{
    double e[32];
    int n = run_with("epoch", 2, e, 32);
    CHECK_INT(n, 5); /* 0, 2, 4, 6, 8 */
    for (int i = 1; i < n; i++) CHECK_NEAR(e[i], 2.0 * i, 0.1);
}
