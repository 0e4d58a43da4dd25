/*
 * test_train_resume.c — what a resumed `xover train` takes from its
 * checkpoint besides the model: the run state (the train-loss window, a
 * mixture of experts' balance-loss window, early stopping), kept by name;
 * and checkpoints written before it had names still resume, bit for bit.
 */
#include "tests/harness.h"
#include "models/models.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* About 1000 steps, so a train line covers 2 steps (one every total/500)
 * and a checkpoint after an odd step carries a window of one step. */
static const char *CFG =
    "{\"objective\":\"ar\",\"seed\":2,\"model\":{\"layers\":1,\"dim\":16,\"heads\":2,\"experts\":2},"
    "\"data\":{\"corpus\":\"synthetic\",\"vocab\":280,\"val_tokens\":600,\"unique_tokens\":1000},"
    "\"train\":{\"seq_len\":32,\"batch\":4,\"epochs\":130,\"lr\":0.01,\"eval_every\":10,"
    "\"early_stop_margin\":5}}";

/* `xover train` into the test's directory `name`; the exit status. */
static int train(const char *name, const char *stop_at, char *out, size_t n)
{
    char cfg[512], cache[512];
    harness_path(cfg, sizeof cfg, "run.json");
    harness_path(cache, sizeof cache, "cache");
    harness_path(out, n, name);
    harness_write(cfg, CFG);
    if (stop_at) setenv("XOVER_TRAIN_STOP_AT", stop_at, 1);
    const char *argv[] = {harness_xover(), "train", "--config", cfg, "--out", out, "--cache", cache, NULL};
    harness_proc p = harness_run(argv, NULL);
    unsetenv("XOVER_TRAIN_STOP_AT");
    int status = p.status;
    if (status && status != 130) fprintf(stderr, "%s", p.err);
    harness_proc_free(&p);
    return status;
}

static char *file_in(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return harness_slurp(p, NULL);
}

/* The checkpoint's run state, as the text it keeps. */
static int state_text(const char *dir, char *text, json_t **state)
{
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    model_config c;
    if (model_ckpt_config(path, &c, err, sizeof err)) return -1;
    model *m = model_create(&c, 0, err, sizeof err);
    model_ckpt_state st;
    int rc = m ? model_load_text(m, path, &st, text, MODEL_CKPT_TEXT, err, sizeof err) : -1;
    model_free(m);
    if (rc) return -1;
    *state = json_loads(text, 0, NULL);
    return *state ? 0 : -1;
}

TEST(train_resume_carries_the_loss_windows_by_name)
{
    char full[512], cut[512], text[MODEL_CKPT_TEXT];
    CHECK_INT(train("full", NULL, full, sizeof full), 0);
    CHECK_INT(train("cut", "501", cut, sizeof cut), 130);
    json_t *st = NULL;
    CHECK_INT(state_text(cut, text, &st), 0);
    /* the window holds step 501, and names what it holds */
    CHECK_INT(json_integer_value(json_object_get(st, "window_steps")), 1);
    CHECK(json_real_value(json_object_get(st, "window_loss_sum")) > 0);
    CHECK(json_real_value(json_object_get(st, "window_aux_sum")) > 0);
    CHECK(json_is_true(json_object_get(st, "have_best")));
    CHECK(json_is_false(json_object_get(st, "stopped")));
    json_decref(st);
    CHECK_INT(train("cut", NULL, cut, sizeof cut), 0);
    char *a = file_in(full, "metrics.jsonl"), *b = file_in(cut, "metrics.jsonl");
    CHECK_STR(b, a);
    free(a), free(b);
}

/* Before the run state had names, models' checkpoint formats 1 and 2 kept
 * it in numbered slots (extra[0..6]). Such a checkpoint, made here from a
 * new one, resumes to the same metrics as a run never interrupted. */
TEST(train_resumes_a_checkpoint_from_before_the_state_had_names)
{
    char full[512], old[512], text[MODEL_CKPT_TEXT], path[1024], err[256];
    CHECK_INT(train("full", NULL, full, sizeof full), 0);
    CHECK_INT(train("old", "501", old, sizeof old), 130);
    json_t *st = NULL;
    CHECK_INT(state_text(old, text, &st), 0);
    snprintf(path, sizeof path, "%s/checkpoint", old);
    model_config c;
    CHECK_INT(model_ckpt_config(path, &c, err, sizeof err), 0);
    model *m = model_create(&c, 0, err, sizeof err);
    model_ckpt_state ck;
    CHECK_INT(model_load(m, path, &ck, err, sizeof err), 0);
    static const char *const slots[7] = {"window_loss_sum", "window_steps", "window_aux_sum", "window_dropped_sum",
                                         "best_val_loss", "have_best", "stopped"};
    for (int i = 0; i < 7; i++) {
        json_t *v = json_object_get(st, slots[i]);
        ck.extra[i] = json_is_boolean(v) ? json_is_true(v) : json_number_value(v);
    }
    ck.extra[7] = 0;
    json_decref(st);
    CHECK_INT(model_save(m, path, &ck, err, sizeof err), 0); /* no text: format 2 (experts) */
    model_free(m);
    char *raw = harness_slurp(path, NULL);
    int32_t ver;
    memcpy(&ver, raw + 8, 4);
    free(raw);
    CHECK_INT(ver, 2);
    CHECK_INT(train("old", NULL, old, sizeof old), 0);
    char *a = file_in(full, "metrics.jsonl"), *b = file_in(old, "metrics.jsonl");
    CHECK_STR(b, a);
    free(a), free(b);
}
