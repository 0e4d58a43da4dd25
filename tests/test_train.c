/*
 * test_train.c — training: overfitting one batch under both objectives,
 * determinism, bit-exact resume, checkpoint integrity, non-finite detection,
 * evaluation and sampling on a learnable pattern; then `xover train` and
 * `xover sample` end to end on the synthetic corpus.
 */
#include "tests/harness.h"
#include "models/models.h"

#include <stdlib.h>
#include <string.h>

static model_config small(model_objective obj, int B)
{
    model_config c = {.layers = 2, .dim = 32, .heads = 2, .vocab = 12, .seq_len = 16, .batch = B,
                      .objective = obj, .mask_id = 11};
    return c;
}

/* Sequences counting up mod 10 from a per-sequence start: x[j+1] = x[j]+1. */
static void pattern(int32_t *tok, int B, int T, model_rng *r)
{
    for (int b = 0; b < B; b++) {
        int s = (int)model_rng_below(r, 10);
        for (int j = 0; j < T; j++) tok[b * T + j] = (s + j) % 10;
    }
}

/* Overfit one fixed batch. The MDM case uses distinct tokens (a shuffled
 * 0..B*T-1), so that any one visible token pins down its sequence and, through
 * RoPE's relative offsets, every other position. A fully masked sequence has
 * no such anchor: with relative positions only, every position then sees the
 * same inputs, so no model of this family can predict it; those draws (a
 * 1/(T+1) share of t) are left out of the final measurement. */
static double overfit(model_objective obj, int B, int dim, int heads, int steps, float lr)
{
    char err[256];
    model_config c = {.layers = 2, .dim = dim, .heads = heads, .vocab = 72, .seq_len = 16, .batch = B,
                      .objective = obj, .mask_id = 71};
    model *m = model_create(&c, 3, err, sizeof err);
    int32_t tok[4 * 16];
    model_rng r;
    model_rng_seed(&r, 8);
    for (int i = 0; i < B * 16; i++) tok[i] = i;
    for (int i = B * 16 - 1; i > 0; i--) {
        int j = (int)model_rng_below(&r, (uint64_t)i + 1);
        int32_t x = tok[i];
        tok[i] = tok[j];
        tok[j] = x;
    }
    model_optim o = model_optim_default();
    o.weight_decay = 0;
    model_step_stats st = {0, 0};
    for (int s = 0; s < steps; s++)
        if (model_train_step(m, tok, &o, lr, &st, err, sizeof err)) return -1;
    double loss = 0;
    int32_t in[64], tg[64];
    float w[64];
    for (int k = 0; k < 16; k++) {
        if (obj == MODEL_AR) model_ar_batch(tok, B, 16, in, tg, w);
        else {
            int anchored;
            do {
                model_mdm_batch(&r, tok, B, 16, 71, in, tg, w, NULL);
                anchored = 1;
                for (int b = 0; b < B; b++) {
                    int vis = 0;
                    for (int j = 0; j < 16; j++) vis += in[b * 16 + j] != 71;
                    anchored &= vis > 0;
                }
            } while (!anchored);
        }
        loss += model_forward(m, in, tg, B, 16, obj == MODEL_AR, w, NULL) / 16;
    }
    model_free(m);
    return loss;
}

TEST(train_overfits_one_batch_ar)
{
    double l = overfit(MODEL_AR, 4, 32, 2, 300, 3e-3f);
    CHECK(l >= 0);
    CHECK(l < 0.05);
}

TEST(train_overfits_one_sequence_mdm)
{
    /* Slower to learn: from one visible token, every other position of its
     * sequence must be recalled through relative offsets. */
    double l = overfit(MODEL_MDM, 1, 64, 8, 1000, 1e-3f);
    CHECK(l >= 0);
    CHECK(l < 0.05);
}

static model *trained(model_objective obj, int steps, uint64_t seed, const char *ckpt_at, int ckpt_step)
{
    char err[256];
    model_config c = small(obj, 4);
    model *m = model_create(&c, seed, err, sizeof err);
    model_rng r;
    model_rng_seed(&r, 21);
    int32_t tok[64];
    model_optim o = model_optim_default();
    for (int s = 0; s < steps; s++) {
        pattern(tok, 4, 16, &r);
        model_train_step(m, tok, &o, 3e-3f, NULL, err, sizeof err);
        if (ckpt_at && s + 1 == ckpt_step) {
            model_ckpt_state st = {{(uint64_t)s + 1, 0}, {0}};
            memcpy(st.extra, &r, sizeof r); /* the data stream's state rides along */
            if (model_save(m, ckpt_at, &st, err, sizeof err)) return NULL;
        }
    }
    return m;
}

TEST(train_same_seed_same_result_different_seed_differs)
{
    model *a = trained(MODEL_MDM, 20, 5, NULL, 0), *b = trained(MODEL_MDM, 20, 5, NULL, 0);
    model *c = trained(MODEL_MDM, 20, 6, NULL, 0);
    size_t n;
    float *pa = model_params(a, &n), *pb = model_params(b, NULL), *pc = model_params(c, NULL);
    CHECK(memcmp(pa, pb, sizeof(float) * n) == 0);
    CHECK(memcmp(pa, pc, sizeof(float) * n) != 0);
    model_free(a), model_free(b), model_free(c);
}

static int resume_matches(model_objective obj)
{
    char path[512], err[256];
    harness_path(path, sizeof path, "ck");
    model *full = trained(obj, 30, 7, path, 13);
    /* A fresh process's view: a new model, loaded, continues with the same
     * data stream and RNG. */
    model_config c = small(obj, 4);
    model *m = model_create(&c, 999, err, sizeof err);
    model_ckpt_state st;
    if (model_load(m, path, &st, err, sizeof err)) return fprintf(stderr, "%s\n", err), 0;
    if (model_step(m) != 13 || st.data_pos[0] != 13) return 0;
    model_rng r;
    memcpy(&r, st.extra, sizeof r);
    int32_t tok[64];
    model_optim o = model_optim_default();
    for (int s = 13; s < 30; s++) {
        pattern(tok, 4, 16, &r);
        model_train_step(m, tok, &o, 3e-3f, NULL, err, sizeof err);
    }
    size_t n;
    float *pm = model_params(m, &n), *pf = model_params(full, NULL);
    int same = memcmp(pm, pf, sizeof(float) * n) == 0;
    model_free(m), model_free(full);
    return same;
}

TEST(train_resume_from_checkpoint_is_bit_exact)
{
    CHECK(resume_matches(MODEL_AR));
    CHECK(resume_matches(MODEL_MDM));
}

TEST(train_checkpoint_detects_corruption_and_config_mismatch)
{
    char path[512], err[256];
    harness_path(path, sizeof path, "ck");
    model *m = trained(MODEL_AR, 2, 1, path, 2);
    model_config c;
    CHECK_INT(model_ckpt_config(path, &c, err, sizeof err), 0);
    CHECK_INT(c.dim, 32);
    CHECK_INT(c.objective, MODEL_AR);
    size_t len;
    char *buf = harness_slurp(path, &len);
    buf[len / 2] ^= 0x10;
    FILE *f = fopen(path, "wb");
    fwrite(buf, 1, len, f);
    fclose(f);
    model_ckpt_state st;
    CHECK_INT(model_load(m, path, &st, err, sizeof err), -1);
    CHECK_CONTAINS(err, "checksum");
    buf[len / 2] ^= 0x10;
    f = fopen(path, "wb");
    fwrite(buf, 1, len / 3, f); /* truncated */
    fclose(f);
    CHECK_INT(model_load(m, path, &st, err, sizeof err), -1);
    free(buf);
    /* a different model config is refused */
    model *o = trained(MODEL_AR, 1, 1, path, 1);
    model_config c2 = small(MODEL_AR, 4);
    c2.dim = 16;
    model *m2 = model_create(&c2, 1, err, sizeof err);
    CHECK_INT(model_load(m2, path, &st, err, sizeof err), -1);
    CHECK_CONTAINS(err, "different model config");
    model_free(m), model_free(o), model_free(m2);
}

TEST(train_non_finite_loss_stops_naming_the_step)
{
    char err[256];
    model_config c = small(MODEL_AR, 4);
    model *m = model_create(&c, 1, err, sizeof err);
    int32_t tok[64] = {0};
    model_optim o = model_optim_default();
    CHECK_INT(model_train_step(m, tok, &o, 1e-3f, NULL, err, sizeof err), 0);
    size_t n;
    float *p = model_params(m, &n);
    p[n / 2] = NAN;
    float keep = p[0];
    CHECK_INT(model_train_step(m, tok, &o, 1e-3f, NULL, err, sizeof err), -1);
    CHECK_CONTAINS(err, "non-finite");
    CHECK_CONTAINS(err, "step 2");
    CHECK(p[0] == keep); /* parameters untouched */
    model_free(m);
}

/* Train on the counting pattern; AR and MDM must both learn it well enough
 * to pick the true continuation and to sample it. */
static model *pattern_model(model_objective obj, int steps)
{
    char err[256];
    model_config c = small(obj, 8);
    model *m = model_create(&c, 2, err, sizeof err);
    model_rng r;
    model_rng_seed(&r, 4);
    int32_t tok[128];
    model_optim o = model_optim_default();
    o.weight_decay = 0;
    for (int s = 0; s < steps; s++) {
        pattern(tok, 8, 16, &r);
        model_train_step(m, tok, &o, 1e-2f, NULL, err, sizeof err);
    }
    return m;
}

static double pattern_mc(model *m, model_eval_opts *eo)
{
    enum { N = 10, C = 5, K = 3, M = 3 };
    int32_t ctx[N * C], cands[N * K * M], ans[N];
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < C; j++) ctx[i * C + j] = (i + j) % 10;
        ans[i] = i % K;
        for (int k = 0; k < K; k++)
            for (int j = 0; j < M; j++) {
                int truth = (i + C + j) % 10;
                cands[(i * K + k) * M + j] = k == ans[i] ? truth : (truth + 3 + 2 * k) % 10;
            }
    }
    model_cloze q = {N, C, K, M, ctx, cands, ans};
    char err[256];
    return model_mc_acc(m, &q, eo, err, sizeof err);
}

TEST(train_eval_mc_and_sampling_learn_a_pattern)
{
    model_eval_opts eo = {4, 0, 77};
    model *ar = pattern_model(MODEL_AR, 150), *mdm = pattern_model(MODEL_MDM, 500);
    CHECK_NEAR(pattern_mc(ar, &eo), 1.0, 1e-9);
    CHECK(pattern_mc(mdm, &eo) >= 0.9);
    /* validation: the AR NLL is small; MDM ELBO (exact and Bernoulli) both
     * well below the uniform log(11), and repeatable with the same seed */
    int32_t val[4 * 16];
    model_rng r;
    model_rng_seed(&r, 99);
    pattern(val, 4, 16, &r);
    double a = model_val_loss(ar, val, 4, &eo);
    CHECK(a < 0.3);
    double e1 = model_val_loss(mdm, val, 4, &eo), e2 = model_val_loss(mdm, val, 4, &eo);
    model_eval_opts bo = {4, 1, 77};
    double b1 = model_val_loss(mdm, val, 4, &bo);
    CHECK(e1 == e2);
    CHECK(e1 < 1.5 && b1 < 1.5);
    eo.seed = 78;
    CHECK(model_val_loss(mdm, val, 4, &eo) != e1);
    /* sampling: greedy AR continues the count; MDM fills the gap */
    char err[256];
    int32_t prompt[3] = {4, 5, 6}, out[12];
    model_sample_opts so = {0, 0, 0, 1};
    CHECK_INT(model_sample(ar, prompt, 3, 9, &so, out, err, sizeof err), 0);
    for (int j = 0; j < 12; j++) CHECK_INT(out[j], (4 + j) % 10);
    so.steps = 3;
    CHECK_INT(model_sample(mdm, prompt, 3, 6, &so, out, err, sizeof err), 0);
    int right = 0;
    for (int j = 0; j < 9; j++) right += out[j] == (4 + j) % 10;
    CHECK(right >= 8);
    for (int j = 0; j < 9; j++) CHECK(out[j] != 11); /* no [MASK] left */
    /* temperature + top-k sampling stays in the vocabulary */
    so = (model_sample_opts){1.0f, 3, 0, 5};
    CHECK_INT(model_sample(ar, prompt, 3, 9, &so, out, err, sizeof err), 0);
    for (int j = 0; j < 12; j++) CHECK(out[j] >= 0 && out[j] < 12);
    model_free(ar), model_free(mdm);
}

/* The MDM's validation loss scores the tokens AR scores, 1..T-1 given token
 * 0, never token 0 itself. At T = 2 the estimator has one possible draw
 * (mask token 1, keep token 0), so the exact-l estimator must equal that
 * one forward, whatever the number of draws or the seed. */
TEST(train_mdm_val_loss_scores_the_tokens_ar_scores)
{
    char err[256];
    model_config c = {.layers = 1, .dim = 16, .heads = 2, .vocab = 12, .seq_len = 2, .batch = 3,
                      .objective = MODEL_MDM, .mask_id = 11};
    model *m = model_create(&c, 5, err, sizeof err);
    CHECK(m != NULL);
    int32_t val[3 * 2] = {4, 7, 0, 9, 3, 3};
    int32_t in[6], tg[6];
    float w[6];
    for (int b = 0; b < 3; b++) {
        in[2 * b] = val[2 * b], tg[2 * b] = -1, w[2 * b] = 0;
        in[2 * b + 1] = 11, tg[2 * b + 1] = val[2 * b + 1], w[2 * b + 1] = 1.0f / 3;
    }
    double want = model_forward(m, in, tg, 3, 2, 0, w, NULL);
    model_eval_opts opts[] = {{1, 0, 1}, {4, 0, 2}, {3, 0, 3}};
    for (int i = 0; i < 3; i++) CHECK_NEAR(model_val_loss(m, val, 3, &opts[i]), want, 1e-6);
    /* changing token 0 changes the context, so the loss: it is read, not scored */
    val[0] = 5;
    CHECK(fabs(model_val_loss(m, val, 3, &opts[0]) - want) > 1e-7);
    model_free(m);
}

/* ---- the command ----------------------------------------------------------- */

static const char *CFG =
    "{\"objective\":\"%s\",\"seed\":1,\"model\":{\"layers\":1,\"dim\":16,\"heads\":2},"
    "\"data\":{\"corpus\":\"synthetic\",\"vocab\":280,\"val_tokens\":600,\"unique_tokens\":3000,"
    "\"cloze\":{\"items\":6,\"context\":8,\"candidates\":3,\"length\":4}},"
    "\"train\":{\"seq_len\":32,\"batch\":4,\"epochs\":1.5,\"lr\":0.003,\"eval_every\":0.5%s}}";

static void write_cfg(const char *name, const char *obj, const char *extra, char *path, size_t n)
{
    char text[1024];
    snprintf(text, sizeof text, CFG, obj, extra);
    harness_path(path, n, name);
    harness_write(path, text);
}

static harness_proc train_cmd(const char *cfg, const char *out)
{
    char cache[512];
    harness_path(cache, sizeof cache, "cache");
    const char *argv[] = {harness_xover(), "train", "--config", cfg, "--out", out, "--cache", cache, NULL};
    return harness_run(argv, NULL);
}

static char *slurp_in(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return harness_slurp(p, NULL);
}

TEST(train_cli_writes_metrics_status_and_model_info)
{
    char cfg[512], out[512];
    write_cfg("run.json", "mdm", "", cfg, sizeof cfg);
    harness_path(out, sizeof out, "run");
    harness_proc p = train_cmd(cfg, out);
    CHECK_INT(p.status, 0);
    harness_proc_free(&p);
    char *status = slurp_in(out, "status"), *metrics = slurp_in(out, "metrics.jsonl");
    char *info = slurp_in(out, "model.json");
    CHECK_STR(status, "done\n");
    CHECK_CONTAINS(info, "\"non_embedding_params\"");
    CHECK_CONTAINS(info, "\"flops_per_token\"");
    CHECK_CONTAINS(metrics, "\"val_loss\"");
    CHECK_CONTAINS(metrics, "\"mc_acc\"");
    CHECK_CONTAINS(metrics, "\"train_loss\"");
    /* every line carries the four columns */
    int lines = 0;
    for (char *l = metrics; *l; lines++) {
        char *nl = strchr(l, '\n');
        CHECK(nl != NULL);
        *nl = 0;
        CHECK(strncmp(l, "{\"step\":", 8) == 0);
        CHECK_CONTAINS(l, "\"tokens\":");
        CHECK_CONTAINS(l, "\"epoch\":");
        CHECK_CONTAINS(l, "\"flops\":");
        l = nl + 1;
    }
    CHECK(lines > 5);
    free(status), free(metrics), free(info);
}

TEST(train_cli_interrupted_run_resumes_to_identical_metrics)
{
    char cfg[512], a[512], b[512];
    write_cfg("run.json", "mdm", "", cfg, sizeof cfg);
    harness_path(a, sizeof a, "a");
    harness_path(b, sizeof b, "b");
    harness_proc p = train_cmd(cfg, a);
    CHECK_INT(p.status, 0);
    harness_proc_free(&p);
    setenv("XOVER_TRAIN_STOP_AT", "7", 1);
    p = train_cmd(cfg, b);
    unsetenv("XOVER_TRAIN_STOP_AT");
    CHECK_INT(p.status, 130);
    harness_proc_free(&p);
    char *st = slurp_in(b, "status");
    CHECK(strncmp(st, "interrupted\n", 12) == 0);
    free(st);
    /* lines written after the checkpoint by a killed run are dropped */
    char mp[1024];
    snprintf(mp, sizeof mp, "%s/metrics.jsonl", b);
    FILE *f = fopen(mp, "a");
    fputs("{\"step\":999,\"tokens\":1,\"epoch\":1,\"flops\":1,\"train_loss\":9}\n{\"step\":8,\"tok", f);
    fclose(f);
    p = train_cmd(cfg, b);
    CHECK_INT(p.status, 0);
    harness_proc_free(&p);
    char *ma = slurp_in(a, "metrics.jsonl"), *mb = slurp_in(b, "metrics.jsonl");
    CHECK_STR(ma, mb);
    size_t la, lb;
    char pa[1024], pb[1024];
    snprintf(pa, sizeof pa, "%s/checkpoint", a);
    snprintf(pb, sizeof pb, "%s/checkpoint", b);
    char *ca = harness_slurp(pa, &la), *cb = harness_slurp(pb, &lb);
    CHECK(la == lb && memcmp(ca, cb, la) == 0);
    st = slurp_in(b, "status");
    CHECK_STR(st, "done\n");
    free(st), free(ma), free(mb), free(ca), free(cb);
}

/* --threads (and XOVER_THREADS, its default) change how fast, never what:
 * a run on 1 thread, and the same run on 3 threads stopped at step 7 then
 * resumed on 2, write identical metrics and checkpoints. The batch (8 x 64)
 * makes 2 shards, so the threads share real work. */
TEST(train_cli_threads_and_a_resume_on_other_threads_give_identical_runs)
{
    char cfg[512], a[512], b[512];
    harness_path(cfg, sizeof cfg, "run.json");
    harness_write(cfg, "{\"objective\":\"mdm\",\"seed\":1,\"model\":{\"layers\":1,\"dim\":16,\"heads\":2},"
                       "\"data\":{\"corpus\":\"synthetic\",\"vocab\":280,\"val_tokens\":600,\"unique_tokens\":6000},"
                       "\"train\":{\"seq_len\":64,\"batch\":8,\"epochs\":1.5,\"lr\":0.003,\"eval_every\":0.5}}");
    harness_path(a, sizeof a, "a");
    harness_path(b, sizeof b, "b");
    char cache[512];
    harness_path(cache, sizeof cache, "cache");
    const char *one[] = {harness_xover(), "train", "--config", cfg, "--out", a, "--cache", cache, "--threads", "1", NULL};
    harness_proc p = harness_run(one, NULL);
    CHECK_INT(p.status, 0);
    harness_proc_free(&p);
    const char *three[] = {harness_xover(), "train", "--config", cfg, "--out", b, "--cache", cache, "--threads", "3", NULL};
    setenv("XOVER_TRAIN_STOP_AT", "7", 1);
    p = harness_run(three, NULL);
    unsetenv("XOVER_TRAIN_STOP_AT");
    CHECK_INT(p.status, 130);
    harness_proc_free(&p);
    setenv("XOVER_THREADS", "2", 1);
    p = train_cmd(cfg, b);
    CHECK_INT(p.status, 0);
    harness_proc_free(&p);
    setenv("XOVER_THREADS", "two", 1);
    p = train_cmd(cfg, b);
    unsetenv("XOVER_THREADS");
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "XOVER_THREADS must be 1..256, not 'two'");
    harness_proc_free(&p);
    char *ma = slurp_in(a, "metrics.jsonl"), *mb = slurp_in(b, "metrics.jsonl");
    CHECK(ma && strstr(ma, "\"step\":10,"));
    CHECK_STR(ma, mb);
    size_t la, lb;
    char pa[1024], pb[1024];
    snprintf(pa, sizeof pa, "%s/checkpoint", a);
    snprintf(pb, sizeof pb, "%s/checkpoint", b);
    char *ca = harness_slurp(pa, &la), *cb = harness_slurp(pb, &lb);
    CHECK(ca && cb && la == lb && memcmp(ca, cb, la) == 0);
    free(ma), free(mb), free(ca), free(cb);
}

TEST(train_cli_rejects_bad_model_configs)
{
    static const struct {
        const char *model, *want;
    } bad[] = {
        {"{\"layers\":1,\"dim\":16,\"heads\":0}", "model.heads"},
        {"{\"layers\":1,\"dim\":18,\"heads\":4}", "divisible"},
        {"{\"dim\":16,\"heads\":2}", "model.layers"},
        {"{\"layers\":1,\"heads\":2}", "model.dim"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512], cfg[512], out[512];
        snprintf(text, sizeof text, "{\"objective\":\"ar\",\"model\":%s,\"data\":{\"corpus\":\"synthetic\"}}",
                 bad[i].model);
        harness_path(cfg, sizeof cfg, "bad.json");
        harness_write(cfg, text);
        harness_path(out, sizeof out, "run");
        harness_proc p = train_cmd(cfg, out);
        CHECK_INT(p.status, 2);
        CHECK_CONTAINS(p.err, bad[i].want);
        harness_proc_free(&p);
    }
    const char *argv[] = {harness_xover(), "train", "--out", "x", NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "--config");
    harness_proc_free(&p);
}

TEST(train_cli_sample_continues_a_prompt)
{
    char cfg[512], out[512], cache[512];
    write_cfg("run.json", "ar", "", cfg, sizeof cfg);
    harness_path(out, sizeof out, "run");
    harness_path(cache, sizeof cache, "cache");
    harness_proc p = train_cmd(cfg, out);
    CHECK_INT(p.status, 0);
    harness_proc_free(&p);
    const char *argv[] = {harness_xover(), "sample", "--run", out, "--prompt", "The cat", "--tokens", "8",
                          "--top-k", "5", "--cache", cache, NULL};
    p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    CHECK(strncmp(p.out, "The cat", 7) == 0);
    CHECK(strlen(p.out) > 9);
    harness_proc_free(&p);
    const char *argv2[] = {harness_xover(), "sample", "--run", out, "--cache", cache, NULL};
    p = harness_run(argv2, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "--prompt");
    harness_proc_free(&p);
}
