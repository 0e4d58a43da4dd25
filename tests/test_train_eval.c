/*
 * test_train_eval.c — when `xover train` evaluates: eval_unit "log" gives
 * eval_every evaluations per doubling of the epochs seen, from epoch 1; and
 * when it stops early: train.early_stop_margin.
 */
#include "tests/harness.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* `xover train` on config `text` into the test's directory `name` (its path
 * into out): the exit status, with the trainer's stderr shown on failure. */
static int train_text(const char *text, const char *name, char *out, size_t n)
{
    char cfg[512], cache[512];
    harness_path(cfg, sizeof cfg, "run.json");
    harness_path(out, n, name);
    harness_path(cache, sizeof cache, "cache");
    harness_write(cfg, text);
    const char *argv[] = {harness_xover(), "train", "--config", cfg, "--out", out, "--cache", cache, NULL};
    harness_proc p = harness_run(argv, NULL);
    int status = p.status;
    if (status) fprintf(stderr, "%s", p.err);
    harness_proc_free(&p);
    return status;
}

static int run_with(const char *unit, double every, double *epochs, int max)
{
    char out[512], text[1024];
    snprintf(text, sizeof text,
             "{\"objective\":\"ar\",\"seed\":1,\"model\":{\"layers\":1,\"dim\":16,\"heads\":2},"
             "\"data\":{\"corpus\":\"synthetic\",\"vocab\":280,\"val_tokens\":600,\"unique_tokens\":3000},"
             "\"train\":{\"seq_len\":32,\"batch\":4,\"epochs\":8,\"eval_every\":%g,\"eval_unit\":\"%s\"}}",
             every, unit);
    if (train_text(text, unit, out, sizeof out)) return -1;
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

/* ---- early stopping ---------------------------------------------------------- */

/* A tiny AR that overfits 1000 unique tokens within ~10 of its 60 epochs. */
static const char *STOP_CFG =
    "{\"objective\":\"ar\",\"seed\":1,\"model\":{\"layers\":1,\"dim\":16,\"heads\":2},"
    "\"data\":{\"corpus\":\"synthetic\",\"vocab\":280,\"val_tokens\":600,\"unique_tokens\":1000},"
    "\"train\":{\"seq_len\":32,\"batch\":4,\"epochs\":60,\"lr\":0.01,\"eval_every\":2%s}}";

static int train_dir(const char *extra, const char *name, char *out, size_t n)
{
    char text[1024];
    snprintf(text, sizeof text, STOP_CFG, extra);
    return train_text(text, name, out, n);
}

static char *file_in(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return harness_slurp(p, NULL);
}

TEST(train_early_stop_after_val_loss_rises_past_the_margin)
{
    char out[512], full[512];
    CHECK_INT(train_dir(",\"early_stop_margin\":0.05", "stop", out, sizeof out), 0);
    char *status = file_in(out, "status"), *metrics = file_in(out, "metrics.jsonl");
    CHECK_STR(status, "done\n");
    /* Walk the eval lines: the stop comes at the first one more than the
     * margin above the best before it, and the early_stop line, last, names
     * the planned number of steps. */
    double best = INFINITY, stop_val = NAN;
    long long stop_step = -1, early_step = -1, early_value = -1, last_step = -1, rises = 0;
    for (const char *l = metrics; l && *l;) {
        json_t *j = json_loads(l, JSON_DISABLE_EOF_CHECK, NULL);
        CHECK(j != NULL);
        long long step = json_integer_value(json_object_get(j, "step"));
        CHECK(early_step < 0); /* nothing after the early_stop line */
        json_t *v = json_object_get(j, "val_loss"), *e = json_object_get(j, "early_stop");
        if (v) {
            double x = json_number_value(v);
            if (x > best + 0.05 && stop_step < 0) stop_step = step, stop_val = x;
            if (x > best) rises++;
            if (x < best) best = x;
        }
        if (e) early_step = step, early_value = (long long)json_number_value(e);
        last_step = step;
        json_decref(j);
        l = strchr(l, '\n');
        if (l) l++;
    }
    json_t *info = json_load_file(strcat(strcpy(full, out), "/model.json"), 0, NULL);
    long long total = json_integer_value(json_object_get(info, "total_steps"));
    json_decref(info);
    CHECK(stop_step > 0);
    CHECK(stop_val > best + 0.05);
    CHECK_INT(early_step, stop_step);
    CHECK_INT(last_step, stop_step);
    CHECK_INT(early_value, total);
    CHECK(stop_step < total);
    CHECK(rises >= 1);
    /* Running it again resumes a stopped run: it stays stopped, same metrics. */
    CHECK_INT(train_dir(",\"early_stop_margin\":0.05", "stop", out, sizeof out), 0);
    char *again = file_in(out, "metrics.jsonl");
    CHECK_STR(again, metrics);
    /* Without the key the same run trains to the end. */
    CHECK_INT(train_dir("", "full", full, sizeof full), 0);
    char *fm = file_in(full, "metrics.jsonl");
    CHECK(strstr(fm, "early_stop") == NULL);
    char want[64];
    snprintf(want, sizeof want, "{\"step\":%lld,", total);
    CHECK_CONTAINS(fm, want);
    free(status), free(metrics), free(again), free(fm);
}

TEST(train_early_stop_survives_an_interruption)
{
    char a[512], b[512];
    CHECK_INT(train_dir(",\"early_stop_margin\":0.05", "a", a, sizeof a), 0);
    /* Interrupted after the best and before the stop: the resumed run must
     * remember its best, and stop where the uninterrupted one did. */
    setenv("XOVER_TRAIN_STOP_AT", "85", 1);
    int st = train_dir(",\"early_stop_margin\":0.05", "b", b, sizeof b);
    unsetenv("XOVER_TRAIN_STOP_AT");
    CHECK_INT(st, 130);
    CHECK_INT(train_dir(",\"early_stop_margin\":0.05", "b", b, sizeof b), 0);
    char *ma = file_in(a, "metrics.jsonl"), *mb = file_in(b, "metrics.jsonl");
    CHECK_CONTAINS(ma, "\"early_stop\"");
    CHECK_STR(mb, ma);
    free(ma), free(mb);
}
