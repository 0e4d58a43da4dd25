/*
 * test_export_model.c — `xover export-model`: the export of a dense AR run
 * and of a mixture-of-experts MDM run read back by numpy (tests/check_export.py
 * checks names, shapes and values against the checkpoint, and recomputes
 * xover's validation loss); a run found by its key; what it refuses; and
 * model_val_rows against model_val_loss.
 */
#include "tests/harness.h"
#include "tests/helpers.h"
#include "models/models.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *CFG =
    "{\"objective\":\"%s\",\"seed\":2,\"model\":{\"layers\":2,\"dim\":16,\"heads\":2%s},"
    "\"data\":{\"corpus\":\"synthetic\",\"vocab\":280,\"val_tokens\":600,\"unique_tokens\":2000},"
    "\"train\":{\"seq_len\":32,\"batch\":4,\"epochs\":1,\"lr\":0.003,\"eval_every\":1,\"eval_draws\":3}}";

/* Train a run into DIR/run (returns its path in run[n]). */
static int train(const char *obj, const char *model_extra, char *run, size_t n)
{
    char cfg[512], cache[512], text[1024];
    snprintf(text, sizeof text, CFG, obj, model_extra);
    harness_path(cfg, sizeof cfg, "run.json");
    harness_path(cache, sizeof cache, "cache");
    harness_path(run, n, "run");
    harness_write(cfg, text);
    const char *argv[] = {harness_xover(), "train", "--config", cfg, "--out", run, "--cache", cache, NULL};
    harness_proc p = harness_run(argv, NULL);
    int st = p.status;
    if (st) fprintf(stderr, "%s", p.err);
    harness_proc_free(&p);
    return st;
}

static harness_proc export(const char *run, const char *out, const char *extra)
{
    char cache[512];
    harness_path(cache, sizeof cache, "cache");
    const char *argv[] = {harness_xover(), "export-model", run, "-o", out, "--cache", cache, extra, NULL};
    return harness_run(argv, NULL);
}

/* Debian's interpreter: its numpy is python3-numpy (.ci/deps test). */
static harness_proc check_with_numpy(const char *out, const char *run)
{
    char ckpt[600];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint", run);
    const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    const char *argv[] = {py, "tests/check_export.py", out, ckpt, NULL};
    return harness_run(argv, NULL);
}

static void export_and_check(const char *obj, const char *model_extra, const char *want_tensors)
{
    char run[512], out[512];
    CHECK_INT(train(obj, model_extra, run, sizeof run), 0);
    harness_path(out, sizeof out, "export");
    harness_proc p = export(run, out, NULL);
    if (p.status) fprintf(stderr, "%s", p.err);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.err, "val_loss on its validation batch");
    harness_proc_free(&p);
    p = check_with_numpy(out, run);
    if (p.status) fprintf(stderr, "check_export.py: %s%s", p.out, p.err);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, want_tensors);
    harness_proc_free(&p);
}

TEST(export_model_dense_ar_read_back_by_numpy)
{
    /* 2 layers: embed, 2 x (2 norms, q k v o, gate up down), norm, head */
    export_and_check("ar", "", "export ok: 21 tensors");
}

TEST(export_model_experts_mdm_read_back_by_numpy)
{
    /* 2 layers of 3 experts: embed, 2 x (2 norms, q k v o, router, 3 x 3), norm, head */
    export_and_check("mdm", ",\"experts\":3,\"top_k\":2", "export ok: 35 tensors");
}

TEST(export_model_refuses_foreign_directories_and_replaces_its_own)
{
    char run[512], out[512], notes[600], p2[600];
    CHECK_INT(train("ar", "", run, sizeof run), 0);
    harness_path(out, sizeof out, "out");
    mkdir(out, 0777);
    snprintf(notes, sizeof notes, "%s/notes.txt", out);
    harness_write(notes, "mine");
    harness_proc p = export(run, out, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "notes.txt, which is not part of a model export");
    harness_proc_free(&p);
    char *kept = harness_slurp(notes, NULL);
    CHECK_STR(kept, "mine");
    free(kept);
    unlink(notes);
    /* an earlier export is replaced whole, and nothing is left beside it */
    p = export(run, out, NULL);
    CHECK_INT(p.status, 0);
    harness_proc_free(&p);
    char slash[600];
    snprintf(slash, sizeof slash, "%s/", out);
    p = export(run, slash, NULL);
    CHECK_INT(p.status, 0);
    harness_proc_free(&p);
    const char *ls[] = {"/bin/sh", "-c", "ls -A \"$0\" | tr '\\n' ' '", harness_tmpdir(), NULL};
    p = harness_run(ls, NULL);
    CHECK_STR(p.out, "cache out run run.json ");
    harness_proc_free(&p);
    /* what is not a trained run, or not a format */
    p = export(out, out, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "is a model export, not a run directory");
    harness_proc_free(&p);
    char cache[512];
    harness_path(cache, sizeof cache, "cache");
    p = export(cache, out, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "is not a run directory (it has no config.json)");
    harness_proc_free(&p);
    snprintf(p2, sizeof p2, "%s/checkpoint", run);
    rename(p2, notes);
    p = export(run, out, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "has no checkpoint");
    harness_proc_free(&p);
    p = export(run, out, "--format=onnx");
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "--format must be safetensors");
    harness_proc_free(&p);
    p = export("no-such-run", out, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "neither a run directory nor a run key");
    harness_proc_free(&p);
}

TEST(export_model_finds_a_run_by_its_key)
{
    char sweep[512], db[512], runs[512], out[512], cache[512];
    harness_path(sweep, sizeof sweep, "s.yaml");
    harness_path(db, sizeof db, "x.db");
    harness_path(runs, sizeof runs, "runs");
    harness_path(out, sizeof out, "export");
    harness_path(cache, sizeof cache, "cache");
    harness_write(sweep, "sweep: ex\n"
                         "data: {corpus: synthetic, vocab: 280, val_tokens: 600, unique_tokens: 2000}\n"
                         "models: {t: {layers: 1, dim: 16, heads: 2}}\n"
                         "train: {seq_len: 32, batch: 4, epochs: 1, lr: 3e-3}\n"
                         "grid: {objective: [ar], model: [t]}\n");
    const char *run[] = {harness_xover(), "run", sweep, "--db", db, "--runs-dir", runs, NULL};
    setenv("XOVER_CACHE", cache, 1);
    harness_proc p = harness_run(run, NULL);
    CHECK_INT(p.status, 0);
    harness_proc_free(&p);
    char *key = helper_qtext(db, "SELECT substr(key, 1, 10) FROM runs");
    CHECK(key && strlen(key) >= 10);
    key[10] = 0;
    const char *ex[] = {harness_xover(), "export-model", key, "--db", db, "-o", out, NULL};
    p = harness_run(ex, NULL);
    unsetenv("XOVER_CACHE");
    if (p.status) fprintf(stderr, "%s", p.err);
    CHECK_INT(p.status, 0);
    harness_proc_free(&p);
    char cfgp[600];
    snprintf(cfgp, sizeof cfgp, "%s/config.json", out);
    char *cfg = harness_slurp(cfgp, NULL);
    CHECK_CONTAINS(cfg, "\"run_key\": \"");
    CHECK_CONTAINS(cfg, key);
    free(cfg);
    free(key);
}

/* The rows model_val_rows lays out give model_val_loss when scored. */
TEST(export_model_val_rows_reproduce_val_loss)
{
    char err[256];
    for (int obj = 0; obj < 2; obj++) {
        model_config c = {.layers = 1, .dim = 16, .heads = 2, .vocab = 40, .seq_len = 12, .batch = 3,
                          .objective = (model_objective)obj, .mask_id = 39};
        model *m = model_create(&c, 5, err, sizeof err);
        CHECK(m != NULL);
        int32_t seqs[5 * 12];
        for (int i = 0; i < 5 * 12; i++) seqs[i] = (i * 7 + i / 12) % 39;
        model_eval_opts o = {4, 0, 99};
        size_t R = model_val_rows(model_get_config(m), seqs, 5, &o, NULL, NULL, NULL);
        CHECK_INT(R, obj ? 20 : 5);
        int32_t in[20 * 12], tg[20 * 12];
        float w[20 * 12];
        CHECK_INT(model_val_rows(model_get_config(m), seqs, 5, &o, in, tg, w), R);
        /* score the rows 1 at a time (the model's batch is 3) */
        double sum = 0;
        for (size_t r = 0; r < R; r++)
            sum += model_forward(m, in + r * 12, tg + r * 12, 1, 12, obj == 0, w + r * 12, NULL);
        CHECK_NEAR(sum, model_val_loss(m, seqs, 5, &o), 1e-5);
        model_free(m);
    }
}
