/*
 * cmd_train.c — `xover train --config run.json --out RUNDIR`: train one run.
 *
 * This is the glue the design promises: it opens the run's data through
 * train_source.h, builds the model from models.h, and runs the loop. It is
 * the command the sweep driver launches for every run, so what it writes to
 * RUNDIR is a contract, kept simple:
 *
 *   config.json    the resolved run config (written only if absent).
 *   model.json     {"key", "objective", "params", "non_embedding_params",
 *                   "active_params", "flops_per_token", "tokens_per_step",
 *                   "total_steps", "seqs_per_epoch", "vocab", "mask_id",
 *                   "layers", "dim", "heads", "hidden", "experts", "top_k",
 *                   "seq_len", "batch"}; written atomically at the start.
 *                   flops_per_token counts ACTIVE parameters (models.h).
 *   metrics.jsonl  one JSON object per line; EVERY line has "step" (optimizer
 *                  steps done), "tokens" (training tokens seen), "epoch"
 *                  (epochs over the unique tokens, fractional) and "flops"
 *                  (cumulative training FLOPs, model_flops_per_token x
 *                  tokens), plus either
 *                    "train_loss" (mean over the steps since the previous
 *                    train line), "lr", "grad_norm" (and for a mixture of
 *                    experts "aux_loss", the balance loss, and "moe_dropped",
 *                    the share of expert choices dropped for capacity, both
 *                    means over the same steps)                 or
 *                    "val_loss" (nats/token) and, with cloze items, "mc_acc".
 *                  Evaluations happen at step 0, every eval interval and at
 *                  the last step; train lines about 500 times per run.
 *   checkpoint     models' binary checkpoint (atomic, CRC-checked), written at
 *                  every evaluation (or every train.checkpoint_every steps),
 *                  at the end, and on SIGINT/SIGTERM.
 *   checkpoint.prev the checkpoint before it: a resume whose checkpoint
 *                  fails its CRC or size check sets it aside as
 *                  checkpoint.bad and takes this one (or starts from
 *                  scratch), and says so in the log.
 *   log            human-readable lines (appended).
 *   status         one word on the first line: running | done | failed |
 *                  interrupted; a reason on the second for failed and
 *                  interrupted. Written atomically.
 *
 * Resuming: if RUNDIR/checkpoint exists (and model.json names the same run
 * key) training continues from it, and metrics.jsonl is first cut back to the
 * lines whose step is <= the checkpoint's, so a resumed run's metrics equal
 * an uninterrupted run's bit for bit.
 *
 * Exit codes: 0 done; 1 failed (non-finite loss, I/O); 2 bad usage, config or
 * data; 130 interrupted (checkpoint written).
 *
 * For tests: XOVER_TRAIN_STOP_AT=N raises SIGTERM right after step N, so an
 * interruption can be placed exactly.
 * XOVER_FAULT injects crashes, hangs, NaNs, damaged checkpoints and
 * metrics, and a full disk at chosen steps (orchestrator/run/fault.h).
 */
#include "models/models.h"
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/util/util.h"
#include "orchestrator/run/fault.h"
#include "orchestrator/run/run_config.h"
#include "orchestrator/run/train_source.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal;
static fault_plan g_fault; /* XOVER_FAULT (tests only; fault.h) */
static int g_threads = 1;  /* --threads: the model's threads (results do not depend on them) */
static void on_signal(int sig) { stop_signal = sig; }

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    char dir[4096];
    FILE *log;
} rundir;

static void path_in(const rundir *r, char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", r->dir, name);
}

/* Write a whole small text file atomically (files.h). */
static int write_atomic(const char *path, const char *text) { return xo_write_atomic(path, text, strlen(text)); }

static void logf_(rundir *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(rundir *r, const char *fmt, ...)
{
    if (!r->log) return;
    time_t t = time(NULL);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", localtime(&t));
    fprintf(r->log, "%s ", ts);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(r->log, fmt, ap);
    va_end(ap);
    fputc('\n', r->log);
    fflush(r->log);
}

static void set_status(rundir *r, const char *word, const char *reason)
{
    char path[4200], text[8400];
    path_in(r, path, sizeof path, "status");
    snprintf(text, sizeof text, "%s\n%s%s", word, reason ? reason : "", reason ? "\n" : "");
    if (write_atomic(path, text)) cli_warn("cannot write %s: %s", path, strerror(errno));
}

/* Keep the metrics lines with step <= max_step (all others are from after the
 * checkpoint we resume from, or torn). Rewritten atomically. */
static int cut_metrics(const char *path, long long max_step)
{
    FILE *f = fopen(path, "r");
    if (!f) return errno == ENOENT ? 0 : -1;
    char *out = NULL, *line = NULL;
    size_t outlen = 0, cap = 0;
    FILE *mem = open_memstream(&out, &outlen);
    ssize_t n;
    while (mem && (n = getline(&line, &cap, f)) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        json_t *s = o ? json_object_get(o, "step") : NULL;
        if (json_is_integer(s) && json_integer_value(s) <= max_step && line[n - 1] == '\n')
            fputs(line, mem);
        json_decref(o);
    }
    free(line);
    fclose(f);
    if (!mem) return -1;
    fclose(mem);
    int rc = write_atomic(path, out ? out : "");
    free(out);
    return rc;
}

/* One metrics line: the four columns every line carries, then the values. */
static void metric_line(FILE *m, uint64_t step, double tokens, double epoch, double flops,
                        const char *rest)
{
    fprintf(m, "{\"step\":%llu,\"tokens\":%.0f,\"epoch\":%.9g,\"flops\":%.9g%s}\n",
            (unsigned long long)step, tokens, epoch, flops, rest);
}

static int flush_file(FILE *f) { return fflush(f) != 0 || fsync(fileno(f)) != 0 ? -1 : 0; }

enum { EVAL_EPOCH, EVAL_STEP, EVAL_LOG };

typedef struct {
    model_config mc;
    model_optim opt;
    model_schedule sched;
    double lr, warmup, decay, min_frac, epochs, eval_every;
    double stop_margin; /* early stopping: nats above the best val_loss; 0 = off */
    int eval_unit; /* EVAL_EPOCH, EVAL_STEP or EVAL_LOG */
    uint64_t seed, ckpt_every;
    model_eval_opts eval;
} train_cfg;

static const json_t *sec(const json_t *c, const char *s) { return json_object_get(c, s); }
static double num(const json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }
static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Whether to evaluate after `step`. Units "epoch" and "step": every eval_iv
 * steps. Unit "log": eval_every evaluations per doubling of the epochs seen,
 * from the first epoch on (1, 2^(1/n), 2^(2/n), ... epochs), so one run
 * samples both AR's early minimum (~10 epochs) and the MDM's late one
 * (hundreds of epochs) densely without evaluating every epoch. */
static int eval_due(const train_cfg *t, uint64_t step, uint64_t eval_iv, double steps_per_epoch)
{
    if (t->eval_unit != EVAL_LOG) return step % eval_iv == 0;
    double spe = steps_per_epoch < 1 ? 1 : steps_per_epoch;
    double now = (double)step / spe, before = (double)(step - 1) / spe;
    if (now < 1) return 0;
    if (before < 1) return 1;
    return floor(t->eval_every * log2(now) + 1e-9) > floor(t->eval_every * log2(before) + 1e-9);
}

/* Read the resolved config into the trainer's terms and check the model. */
static int read_train_cfg(const json_t *c, train_cfg *t, char *err, size_t errlen)
{
    const json_t *m = sec(c, "model"), *tr = sec(c, "train"), *d = sec(c, "data");
    memset(t, 0, sizeof *t);
    t->mc = (model_config){.layers = (int)num(m, "layers"), .dim = (int)num(m, "dim"),
                           .heads = (int)num(m, "heads"), .hidden = (int)num(m, "hidden"),
                           .vocab = (int)num(d, "vocab"), .seq_len = (int)num(tr, "seq_len"),
                           .batch = (int)num(tr, "batch"),
                           .objective = strcmp(str(c, "objective"), "mdm") ? MODEL_AR : MODEL_MDM,
                           .mask_id = 0,
                           /* absent = the neutral value (run_config_number) */
                           .experts = (int)run_config_number(c, "model.experts"),
                           .top_k = (int)run_config_number(c, "model.top_k"),
                           .capacity_factor = (float)run_config_number(c, "train.capacity_factor"),
                           .aux_weight = (float)run_config_number(c, "train.aux_loss_weight"),
                           .input_mask = (float)run_config_number(c, "train.input_mask"),
                           .token_dropout = (float)run_config_number(c, "train.token_dropout"),
                           .attn_dropout = (float)run_config_number(c, "train.attn_dropout"),
                           .resid_dropout = (float)run_config_number(c, "train.resid_dropout")};
    /* The [MASK] id is the data's (train()); input masking needs one now
     * only to pass the check, which train() repeats with the real id. */
    if (t->mc.input_mask > 0) t->mc.mask_id = t->mc.vocab - 1;
    if (model_config_check(&t->mc, err, errlen)) return -1;
    t->opt = (model_optim){(float)num(tr, "beta1"), (float)num(tr, "beta2"), (float)num(tr, "adam_eps"),
                           (float)num(tr, "weight_decay"), (float)num(tr, "clip")};
    t->sched = strcmp(str(tr, "schedule"), "cosine") ? MODEL_SCHED_WSD : MODEL_SCHED_COSINE;
    t->lr = num(tr, "lr");
    t->warmup = num(tr, "warmup_frac");
    t->decay = num(tr, "decay_frac");
    t->min_frac = num(tr, "min_lr_frac");
    t->epochs = num(tr, "epochs");
    t->eval_every = num(tr, "eval_every");
    const char *unit = str(tr, "eval_unit");
    t->eval_unit = !strcmp(unit, "step") ? EVAL_STEP : !strcmp(unit, "log") ? EVAL_LOG : EVAL_EPOCH;
    t->seed = (uint64_t)num(c, "seed");
    t->ckpt_every = (uint64_t)num(tr, "checkpoint_every");
    t->stop_margin = run_config_number(c, "train.early_stop_margin");
    t->eval = (model_eval_opts){(int)num(tr, "eval_draws"), strcmp(str(tr, "eval_estimator"), "bernoulli") == 0,
                                (uint64_t)num(tr, "eval_seed")};
    return 0;
}

static void human_time(double s, char *buf, size_t n)
{
    if (!isfinite(s) || s < 0) snprintf(buf, n, "?");
    else if (s < 60) snprintf(buf, n, "%.0fs", s);
    else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, n, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

/* Checkpoints: the newest in RUNDIR/checkpoint, the one before it in
 * RUNDIR/checkpoint.prev. Each is written atomically and CRC-checked
 * (models/checkpoint.c); keeping the previous one means a checkpoint that
 * is damaged later (a bad disk, a truncating copy) costs one checkpoint
 * interval, not the run. */
static int save_checkpoint(const model *m, const char *ckpath, const model_ckpt_state *ck, char *err,
                           size_t errlen)
{
    char prev[4300];
    snprintf(prev, sizeof prev, "%s.prev", ckpath);
    /* A crash between the two renames leaves only checkpoint.prev, which
     * resume() takes. */
    if (rename(ckpath, prev) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot keep the previous checkpoint as %s: %s", prev, strerror(errno));
        return -1;
    }
    return model_save(m, ckpath, ck, err, errlen);
}

/* Load the newest good checkpoint into m: 0 (resumed), 1 (none: start from
 * scratch). A checkpoint that fails its checks (checksum, size, config) is
 * set aside as *.bad and the log says what was lost; model_load changes
 * nothing in m when it fails, so falling back is safe. */
static int resume(model *m, rundir *rd, const char *ckpath, model_ckpt_state *ck)
{
    char prev[4300], bad[4400], why[3000] = "";
    snprintf(prev, sizeof prev, "%s.prev", ckpath);
    const char *cands[2] = {ckpath, prev};
    for (int i = 0; i < 2; i++) {
        if (access(cands[i], F_OK) != 0) continue;
        char err[1024];
        if (model_load(m, cands[i], ck, err, sizeof err) == 0) {
            if (*why) {
                logf_(rd, "%s; resuming from the previous checkpoint (step %llu)", why,
                      (unsigned long long)model_step(m));
                fprintf(stderr, "xover: %s; resuming from the previous checkpoint (step %llu)\n", why,
                        (unsigned long long)model_step(m));
            }
            return 0;
        }
        snprintf(bad, sizeof bad, "%s.bad", cands[i]);
        rename(cands[i], bad);
        size_t at = strlen(why);
        if (snprintf(why + at, sizeof why - at, "%s%s (kept as %s)", at ? "; " : "", err, bad) < 0) why[at] = 0;
    }
    if (*why) {
        logf_(rd, "%s; no good checkpoint left: starting from scratch", why);
        fprintf(stderr, "xover: %s; no good checkpoint left: starting from scratch\n", why);
    }
    return 1;
}

/* XOVER_FAULT's faults that strike after an optimizer step (fault.h). */
static void inject_after_step(FILE *metrics, uint64_t step)
{
    if (!g_fault.n) return;
    if (fault_due(&g_fault, FAULT_CRASH, step)) fault_die(SIGABRT);
    if (fault_due(&g_fault, FAULT_KILL, step)) fault_die(SIGKILL);
    if (fault_due(&g_fault, FAULT_HANG, step)) fault_hang();
    if (fault_due(&g_fault, FAULT_TORN_METRICS, step)) {
        fprintf(metrics, "{\"step\":%llu,\"tokens\":12", (unsigned long long)step);
        fflush(metrics);
        fault_die(SIGKILL);
    }
    if (fault_due(&g_fault, FAULT_ENOSPC, step)) {
        /* A real ENOSPC from the kernel: every later write of metrics.jsonl fails. */
        fflush(metrics);
        int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
        if (full >= 0) {
            dup2(full, fileno(metrics));
            close(full);
        }
    }
}

/* Evaluate and append an eval line. Returns 0, or -1 (err). */
static int evaluate(model *m, train_source *src, const train_cfg *t, FILE *metrics, uint64_t step,
                    double tokens, double flops, double *val_out, char *err, size_t errlen)
{
    size_t nval;
    const int32_t *val = train_source_val(src, &nval);
    char rest[256] = "";
    size_t k = 0;
    *val_out = NAN;
    if (nval > 0) {
        double v = model_val_loss(m, val, nval, &t->eval);
        if (!isfinite(v)) return snprintf(err, errlen, "non-finite validation loss at step %llu", (unsigned long long)step), -1;
        *val_out = v;
        k += (size_t)snprintf(rest + k, sizeof rest - k, ",\"val_loss\":%.9g", v);
    }
    train_source_cloze q = train_source_cloze_items(src);
    if (q.n_items > 0) {
        model_cloze mq = {q.n_items, q.C, q.K, q.M, q.context, q.cands, q.answer};
        double acc = model_mc_acc(m, &mq, &t->eval, err, errlen);
        if (acc < 0) return -1;
        k += (size_t)snprintf(rest + k, sizeof rest - k, ",\"mc_acc\":%.9g", acc);
    }
    if (k) metric_line(metrics, step, tokens, train_source_epoch(src), flops, rest);
    return 0;
}

static int train(const json_t *cfg, const char *cfg_key, rundir *rd, const char *cache)
{
    char err[8192], path[4200];
    train_cfg t;
    if (read_train_cfg(cfg, &t, err, sizeof err)) {
        set_status(rd, "failed", err);
        return cli_error(XO_USAGE, "%s", err);
    }
    logf_(rd, "opening data (%s)", str(sec(cfg, "data"), "corpus"));
    train_source *src = train_source_open(cfg, cache, err, sizeof err);
    if (!src) {
        set_status(rd, "failed", err);
        logf_(rd, "failed: %s", err);
        return cli_error(XO_USAGE, "%s", err);
    }
    int rc = XO_FAILED;
    model *m = NULL;
    FILE *metrics = NULL;
    int32_t *tokens = NULL;
    t.mc.vocab = train_source_vocab(src);
    t.mc.mask_id = train_source_mask(src);
    size_t spe = train_source_seqs_per_epoch(src);
    train_source_cloze q = train_source_cloze_items(src);
    if (q.n_items > 0 && q.C + q.M > t.mc.seq_len) {
        snprintf(err, sizeof err, "data.cloze context + length (%d + %d) must fit in train.seq_len (%d)", q.C,
                 q.M, t.mc.seq_len);
        rc = XO_USAGE;
        goto fail;
    }
    if (spe == 0) {
        snprintf(err, sizeof err, "the training data holds no full sequence of %d tokens", t.mc.seq_len);
        rc = XO_USAGE;
        goto fail;
    }
    m = model_create(&t.mc, t.seed, err, sizeof err);
    if (!m) {
        rc = XO_USAGE;
        goto fail;
    }
    if (model_set_threads(m, g_threads, err, sizeof err)) {
        rc = XO_FAILED;
        goto fail;
    }
    const model_config *mc = model_get_config(m);
    int B = mc->batch, T = mc->seq_len;
    double tok_step = (double)B * T, fpt = model_flops_per_token(mc);
    uint64_t total = (uint64_t)ceil(t.epochs * (double)spe / B - 1e-9);
    if (total < 1) total = 1;
    uint64_t eval_iv = (uint64_t)llround(t.eval_unit == EVAL_STEP ? t.eval_every : t.eval_every * spe / B);
    if (eval_iv < 1) eval_iv = 1;
    double steps_per_epoch = (double)spe / B;
    uint64_t log_iv = total / 500 > 0 ? total / 500 : 1;

    /* model.json: sizes and costs, for the orchestrator and for people. */
    size_t ne, np = model_param_count(mc, &ne), nact = model_active_param_count(mc);
    json_t *info = json_pack("{s:s, s:s, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:i, s:i, s:i, s:i, s:i, s:i, s:i, "
                             "s:i, s:i, s:i}",
                             "key", cfg_key, "objective", mc->objective == MODEL_MDM ? "mdm" : "ar", "params",
                             (json_int_t)np, "non_embedding_params", (json_int_t)ne, "active_params",
                             (json_int_t)nact, "flops_per_token", fpt,
                             "tokens_per_step", (json_int_t)tok_step, "total_steps", (json_int_t)total, "seqs_per_epoch",
                             (json_int_t)spe, "vocab", mc->vocab, "mask_id", (int)mc->mask_id, "layers",
                             mc->layers, "dim", mc->dim, "heads", mc->heads, "hidden", mc->hidden, "experts",
                             mc->experts, "top_k", mc->top_k, "seq_len", T, "batch", B);
    char *info_text = info ? json_dumps(info, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(info);
    path_in(rd, path, sizeof path, "model.json");
    if (!info_text || write_atomic(path, info_text)) {
        free(info_text);
        snprintf(err, sizeof err, "cannot write %s: %s", path, strerror(errno));
        goto fail;
    }
    free(info_text);

    /* Resume from the checkpoint if there is one. */
    model_ckpt_state ck = {{0, 0}, {0}};
    char ckpath[4200], mpath[4200];
    path_in(rd, ckpath, sizeof ckpath, "checkpoint");
    path_in(rd, mpath, sizeof mpath, "metrics.jsonl");
    if (resume(m, rd, ckpath, &ck) == 0) {
        if (train_source_set_position(src, ck.data_pos)) {
            snprintf(err, sizeof err, "checkpoint %s: its data position does not fit this data", ckpath);
            goto fail;
        }
        logf_(rd, "resuming from step %llu", (unsigned long long)model_step(m));
    }
    uint64_t step = model_step(m);
    if (cut_metrics(mpath, step == 0 ? -1 : (long long)step)) {
        snprintf(err, sizeof err, "cannot rewrite %s: %s", mpath, strerror(errno));
        goto fail;
    }
    metrics = fopen(mpath, "a");
    tokens = malloc(sizeof(int32_t) * (size_t)B * T);
    if (!metrics || !tokens) {
        snprintf(err, sizeof err, "cannot open %s: %s", mpath, strerror(errno));
        goto fail;
    }
    logf_(rd, "%s model: %zu params (%zu non-embedding, %zu active), %.3g FLOPs/token; %llu steps of %d x %d "
              "tokens, %zu sequences per epoch",
          mc->objective == MODEL_MDM ? "mdm" : "ar", np, ne, nact, fpt, (unsigned long long)total, B, T, spe);
    /* Early stopping (train.early_stop_margin): the best val_loss so far and
     * whether the run has stopped survive checkpoints (extra[4..6]), so a
     * resumed run neither forgets its best nor trains past its stop. */
    double best_val = ck.extra[4];
    int have_best = ck.extra[5] != 0, stopped = ck.extra[6] != 0;
    double val = NAN;
    if (step == 0) {
        if (evaluate(m, src, &t, metrics, 0, 0, 0, &val, err, sizeof err)) goto fail;
        logf_(rd, "step 0: val_loss %.4f", val);
        if (isfinite(val)) best_val = val, have_best = 1;
    }
    /* The running train-loss window survives checkpoints (extra[0..1]; a
     * mixture of experts' balance loss and dropped share: extra[2..3]). */
    double wsum = ck.extra[0], wn = ck.extra[1], waux = ck.extra[2], wdrop = ck.extra[3];
    int tty = cli_stderr_is_tty();
    double t0 = now(), last_print = 0;
    uint64_t step0 = step;
    const char *stop_env = getenv("XOVER_TRAIN_STOP_AT");
    uint64_t stop_at = stop_env ? strtoull(stop_env, NULL, 10) : 0;
    model_step_stats st = {0, 0};
    while (step < total && !stop_signal && !stopped) {
        float lr = model_lr(t.sched, step, total, (float)t.lr, t.warmup, t.decay, t.min_frac);
        train_source_next_batch(src, tokens, B);
        if (fault_due(&g_fault, FAULT_NAN, step + 1)) {
            size_t np_; /* every parameter: a single one may be an unused embedding row */
            float *w = model_params(m, &np_);
            for (size_t k = 0; k < np_; k++) w[k] = NAN;
        }
        if (model_train_step(m, tokens, &t.opt, lr, &st, err, sizeof err)) goto fail;
        step++;
        if (stop_at && step == stop_at) raise(SIGTERM);
        inject_after_step(metrics, step);
        wsum += st.loss;
        wn += 1;
        if (mc->experts) {
            double dropped, aux = model_moe_aux(m, &dropped);
            waux += aux;
            wdrop += dropped;
        }
        double seen = step * tok_step, flops = seen * fpt;
        if (step % log_iv == 0 || step == total) {
            char rest[256];
            int k = snprintf(rest, sizeof rest, ",\"train_loss\":%.9g,\"lr\":%.9g,\"grad_norm\":%.9g", wsum / wn,
                             lr, st.grad_norm);
            if (mc->experts)
                snprintf(rest + k, sizeof rest - (size_t)k, ",\"aux_loss\":%.9g,\"moe_dropped\":%.9g", waux / wn,
                         wdrop / wn);
            metric_line(metrics, step, seen, train_source_epoch(src), flops, rest);
            wsum = wn = waux = wdrop = 0;
        }
        int evaled = 0;
        if (eval_due(&t, step, eval_iv, steps_per_epoch) || step == total) {
            if (evaluate(m, src, &t, metrics, step, seen, flops, &val, err, sizeof err)) goto fail;
            logf_(rd, "step %llu: train_loss %.4f val_loss %.4f epoch %.3f", (unsigned long long)step, st.loss,
                  val, train_source_epoch(src));
            evaled = 1;
            if (isfinite(val) && (!have_best || val < best_val)) {
                best_val = val, have_best = 1;
            } else if (t.stop_margin > 0 && have_best && val > best_val + t.stop_margin && step < total) {
                /* The line's value is the planned length, so the crossover
                 * knows how far this run's best-so-far stands (docs/run-config.md). */
                char rest[64];
                snprintf(rest, sizeof rest, ",\"early_stop\":%llu", (unsigned long long)total);
                metric_line(metrics, step, seen, train_source_epoch(src), flops, rest);
                logf_(rd, "stopping early at step %llu of %llu: val_loss %.4f is more than %g above the best, %.4f",
                      (unsigned long long)step, (unsigned long long)total, val, t.stop_margin, best_val);
                stopped = 1;
            }
        }
        int ckpt = t.ckpt_every ? step % t.ckpt_every == 0 : evaled;
        if (ckpt || step == total || stop_signal) {
            ck.extra[0] = wsum;
            ck.extra[1] = wn;
            ck.extra[2] = waux;
            ck.extra[3] = wdrop;
            ck.extra[4] = best_val;
            ck.extra[5] = have_best;
            ck.extra[6] = stopped;
            train_source_get_position(src, ck.data_pos);
            if (flush_file(metrics)) {
                snprintf(err, sizeof err, "cannot write %s: %s", mpath, strerror(errno));
                goto fail;
            }
            if (save_checkpoint(m, ckpath, &ck, err, sizeof err)) goto fail;
            if (fault_due(&g_fault, FAULT_CORRUPT_CKPT, step)) fault_corrupt_file(ckpath), fault_die(SIGKILL);
            if (fault_due(&g_fault, FAULT_TRUNCATE_CKPT, step)) fault_truncate_file(ckpath), fault_die(SIGKILL);
        }
        double el = now() - t0;
        if (el - last_print >= (tty ? 0.25 : 10.0) || step == total || stopped) {
            double rate = (step - step0) * tok_step / (el > 0 ? el : 1e-9);
            char eta[32];
            human_time((total - step) * tok_step / rate, eta, sizeof eta);
            fprintf(stderr, "%s%llu/%llu steps  loss %.4f  %.0f tok/s  epoch %.2f  ETA %s%s", tty ? "\r" : "",
                    (unsigned long long)step, (unsigned long long)total, st.loss, rate, train_source_epoch(src),
                    eta, tty ? "   " : "\n");
            last_print = el;
        }
    }
    if (tty) fputc('\n', stderr);
    if (stop_signal && step < total) {
        /* The loop checkpointed at this step before leaving. */
        char why[64];
        snprintf(why, sizeof why, "signal %d at step %llu", (int)stop_signal, (unsigned long long)step);
        if (step == step0) { /* no step ran since start: make sure a checkpoint exists */
            train_source_get_position(src, ck.data_pos);
            ck.extra[0] = wsum, ck.extra[1] = wn, ck.extra[2] = waux, ck.extra[3] = wdrop;
            if (flush_file(metrics) || save_checkpoint(m, ckpath, &ck, err, sizeof err)) goto fail;
        }
        set_status(rd, "interrupted", why);
        logf_(rd, "interrupted: %s", why);
        rc = XO_INTERRUPTED;
        goto out;
    }
    if (flush_file(metrics)) {
        snprintf(err, sizeof err, "cannot write %s: %s", mpath, strerror(errno));
        goto fail;
    }
    set_status(rd, "done", NULL);
    if (stopped) {
        logf_(rd, "done: stopped early after %llu of %llu steps", (unsigned long long)step,
              (unsigned long long)total);
        fprintf(stderr, "xover: stopped early after %llu of %llu steps: val_loss rose more than %g above its best "
                        "(%.4f; train.early_stop_margin)\n",
                (unsigned long long)step, (unsigned long long)total, t.stop_margin, best_val);
    }
    else logf_(rd, "done: %llu steps", (unsigned long long)step);
    rc = XO_OK;
    goto out;
fail:
    set_status(rd, "failed", err);
    logf_(rd, "failed: %s", err);
    cli_error(rc, "%s", err);
out:
    if (metrics) fclose(metrics);
    free(tokens);
    model_free(m);
    train_source_close(src);
    return rc;
}

int cmd_train(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"out", required_argument, 0, 'o'},
                                         {"cache", required_argument, 0, 'C'},
                                         {"threads", required_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    const char *config = NULL, *out = NULL, *cache = NULL;
    long long threads = 1;
    const char *env_threads = getenv("XOVER_THREADS");
    if (env_threads && *env_threads) {
        char *end;
        threads = strtoll(env_threads, &end, 10);
        if (*end || threads < 1 || threads > 256)
            return cli_usage_error("train", "XOVER_THREADS must be 1..256, not '%s'", env_threads);
    }
    int c;
    cli_reset_getopt();
    while ((c = cli_getopt("train", argc, argv, "", opts)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'o': out = optarg; break;
        case 'C': cache = optarg; break;
        case 'j':
            if (cli_parse_long("train", "--threads", optarg, &threads)) return XO_USAGE;
            if (threads < 1 || threads > 256) return cli_usage_error("train", "--threads must be 1..256, not %lld", threads);
            break;
        default: return XO_USAGE;
        }
    }
    if (optind < argc) return cli_usage_error("train", "unexpected argument '%s'", argv[optind]);
    if (!config) return cli_usage_error("train", "--config is required");
    if (!out) return cli_usage_error("train", "--out is required");

    json_error_t je;
    json_t *cfg = json_load_file(config, 0, &je);
    if (!cfg) return cli_error(XO_USAGE, "%s:%d:%d: %s", config, je.line, je.column, je.text);
    char err[8192];
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        return cli_error(XO_USAGE, "%s: a run config is a JSON object", config);
    }
    if (run_config_resolve(cfg, err, sizeof err)) {
        json_decref(cfg);
        return cli_error(XO_USAGE, "%s: %s", config, err);
    }
    train_cfg t;
    if (read_train_cfg(cfg, &t, err, sizeof err)) {
        json_decref(cfg);
        return cli_error(XO_USAGE, "%s: %s", config, err);
    }
    char key[65];
    run_config_key(cfg, key);

    rundir rd = {{0}, NULL};
    snprintf(rd.dir, sizeof rd.dir, "%s", out);
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        json_decref(cfg);
        return cli_error(XO_FAILED, "cannot create %s: %s", out, strerror(errno));
    }
    char path[4200];
    /* A checkpoint of another run must not be resumed with this config. */
    path_in(&rd, path, sizeof path, "model.json");
    json_t *old = json_load_file(path, 0, NULL);
    char ck[4200];
    path_in(&rd, ck, sizeof ck, "checkpoint");
    if (old && access(ck, F_OK) == 0 && strcmp(str(old, "key"), key) != 0) {
        json_decref(old);
        json_decref(cfg);
        return cli_error(XO_USAGE, "%s holds a checkpoint of another run (key %.12s, this config is %.12s)",
                         out, str(old, "key"), key);
    }
    json_decref(old);
    path_in(&rd, path, sizeof path, "config.json");
    if (access(path, F_OK) != 0) {
        char *text = json_dumps(cfg, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (!text || write_atomic(path, text)) cli_warn("cannot write %s", path);
        free(text);
    }
    path_in(&rd, path, sizeof path, "log");
    rd.log = fopen(path, "a");
    set_status(&rd, "running", NULL);
    logf_(&rd, "xover train --config %s --out %s (key %s)", config, out, key);
    if (fault_parse(getenv("XOVER_FAULT"), out, &g_fault, err, sizeof err)) {
        if (rd.log) fclose(rd.log);
        set_status(&rd, "failed", err);
        json_decref(cfg);
        return cli_error(XO_USAGE, "%s", err);
    }

    g_threads = (int)threads;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    stop_signal = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    int rc = train(cfg, key, &rd, cache);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (rd.log) fclose(rd.log);
    json_decref(cfg);
    return rc;
}

const cli_command cmd_train_def = {"train", cmd_train, "train one run (AR or MDM) from its config into a run directory",
     "usage: xover train --config run.json --out RUNDIR [--cache DIR] [--threads N]\n\n"
     "Train the run a resolved run config describes (docs/run-config.md) and write\n"
     "RUNDIR/metrics.jsonl (one JSON object per line: step, tokens, epoch, flops and\n"
     "train_loss/lr/grad_norm or val_loss/mc_acc), RUNDIR/checkpoint, RUNDIR/model.json\n"
     "(parameters, FLOPs per token), RUNDIR/log and RUNDIR/status (running, done,\n"
     "failed or interrupted). If RUNDIR/checkpoint exists the run resumes from it,\n"
     "bit for bit. Ctrl-C (or SIGTERM) checkpoints and exits 130.\n\n"
     "  --config FILE   the run config (JSON)\n"
     "  --out DIR       the run directory (created if missing)\n"
     "  --cache DIR     tokenizer and token caches (default $XOVER_CACHE or .cache/xover)\n"
     "  --threads N     threads for this run (default $XOVER_THREADS, else 1; a Slurm\n"
     "                  worker sets it to the task's CPUs). The batch's sequences are\n"
     "                  shared among them; the results are the same for any N.\n"};
