/*
 * train_loop.c — the training loop: one run from its resolved config to a
 * finished run directory (run.h, run_train). `xover train` parses its
 * arguments and calls run_train; the executors launch `xover train`.
 *
 * The shape, top to bottom in this file:
 *
 *   run_train      load the config, open the run directory, then
 *     setup        open the data, build the model, write model.json
 *     resume       load the newest good checkpoint, cut metrics.jsonl back
 *     train        the loop: step, evaluate when due, checkpoint when due
 *       train_step       one optimizer step and its train line
 *       evaluate         validation loss (and cloze accuracy), one line
 *       early_stop       whether the run has overfit past its margin
 *       checkpoint       the model, the data position and the run state
 *       trunk_at_step    a trunk's fork checkpoints and its family's rule
 *     finish       the final status
 *
 * Everything a resumed run needs besides the model and its data position is
 * the run state below; the checkpoint keeps it by name, so a resumed run's
 * metrics and checkpoint equal an uninterrupted run's bit for bit.
 *
 * Annealed branches (run/anneal.h): a trunk trains at the constant rate
 * after its warmup and, at each branch's fork step, writes the checkpoint
 * that branch starts from, then (with an early-stopping margin) waits for
 * the branches' annealed values (trunk_at_step); a branch whose directory
 * has no checkpoint starts from that one (resume). Warmup, decay, train-line
 * cadence and the cooldown's evaluations are sized from the config alone,
 * so a branch is bit for bit the standalone run of its length.
 *
 * The run's last evaluation, at its planned last step, uses
 * train.final_eval_draws mask draws (evaluate(tr, &opts)), and every
 * evaluation line carries the estimate's standard error (val_loss_se).
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/run/anneal.h"
#include "orchestrator/run/fault.h"
#include "orchestrator/run/run.h"
#include "orchestrator/util/util.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

/* ---- the train settings of a config --------------------------------------- */

enum { EVAL_EPOCH, EVAL_STEP, EVAL_LOG };

typedef struct {
    model_config mc;
    model_optim opt;
    model_schedule sched;
    double lr, decay, min_frac, epochs, eval_every; /* the warmup: anneal_warmup_steps */
    double stop_margin; /* early stopping: nats above the best val_loss; 0 = off */
    int eval_unit;      /* EVAL_EPOCH, EVAL_STEP or EVAL_LOG */
    uint64_t seed, ckpt_every;
    model_eval_opts eval;
    model_eval_opts final_eval; /* at the last step: train.final_eval_draws */
} train_cfg;

/* The config in the trainer's terms, the model checked. */
static int read_train_cfg(const run_cfg *c, train_cfg *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->mc = (model_config){.layers = (int)c->model.layers, .dim = (int)c->model.dim, .heads = (int)c->model.heads,
                           .hidden = (int)c->model.hidden, .vocab = (int)c->data.vocab,
                           .seq_len = (int)c->train.seq_len, .batch = (int)c->train.batch,
                           .objective = strcmp(c->objective, "mdm") ? MODEL_AR : MODEL_MDM,
                           .mask_id = 0,
                           .experts = (int)c->model.experts,
                           .top_k = (int)c->model.top_k,
                           .capacity_factor = (float)c->train.capacity_factor,
                           .aux_weight = (float)c->train.aux_loss_weight,
                           .input_mask = (float)c->train.input_mask,
                           .token_dropout = (float)c->train.token_dropout,
                           .attn_dropout = (float)c->train.attn_dropout,
                           .resid_dropout = (float)c->train.resid_dropout,
                           .attn_scale = (float)c->model.attn_scale,
                           .init_std = c->model.init_std,
                           .mask_eps = c->train.mask_eps};
    /* The [MASK] id is the data's (setup()); input masking needs one now
     * only to pass the check, which setup() repeats with the real id. */
    if (t->mc.input_mask > 0) t->mc.mask_id = t->mc.vocab - 1;
    if (model_config_check(&t->mc, err, errlen)) return -1;
    t->opt = (model_optim){(float)c->train.beta1, (float)c->train.beta2, (float)c->train.adam_eps,
                           (float)c->train.weight_decay, (float)c->train.clip};
    t->sched = strcmp(c->train.schedule, "cosine") ? MODEL_SCHED_WSD : MODEL_SCHED_COSINE;
    t->lr = c->train.lr;
    t->decay = c->train.decay_frac;
    t->min_frac = c->train.min_lr_frac;
    t->epochs = c->train.epochs;
    t->eval_every = c->train.eval_every;
    t->eval_unit = !strcmp(c->train.eval_unit, "step") ? EVAL_STEP : !strcmp(c->train.eval_unit, "log") ? EVAL_LOG
                                                                                                         : EVAL_EPOCH;
    t->seed = (uint64_t)c->seed;
    t->ckpt_every = (uint64_t)c->train.checkpoint_every;
    t->stop_margin = c->train.early_stop_margin;
    t->eval = (model_eval_opts){(int)c->train.eval_draws, strcmp(c->train.eval_estimator, "bernoulli") == 0,
                                (uint64_t)c->train.eval_seed};
    /* The point a crossover is decided on gets more draws: the same masks
     * as every evaluation (the same seed) and more of them. */
    t->final_eval = t->eval;
    if (c->train.final_eval_draws > t->final_eval.draws) t->final_eval.draws = (int)c->train.final_eval_draws;
    return 0;
}

/* ---- the run state, kept in the checkpoint by name --------------------------- */

typedef struct {
    /* Early stopping (train.early_stop_margin): the best val_loss so far and
     * whether the run has stopped, so a resumed run neither forgets its best
     * nor trains past its stop. */
    double best_val_loss;
    int have_best, stopped;
    /* The train line reports means over the steps since the previous one:
     * the sums of that window (a mixture of experts' balance loss and
     * dropped share too) and its number of steps. */
    double loss_sum, aux_sum, dropped_sum;
    uint64_t window_steps;
} run_state;

enum { S_REAL, S_FLAG, S_COUNT };
static const struct {
    const char *name;
    size_t off;
    int kind;
} state_fields[] = {
    {"best_val_loss", offsetof(run_state, best_val_loss), S_REAL},
    {"have_best", offsetof(run_state, have_best), S_FLAG},
    {"stopped", offsetof(run_state, stopped), S_FLAG},
    {"window_loss_sum", offsetof(run_state, loss_sum), S_REAL},
    {"window_aux_sum", offsetof(run_state, aux_sum), S_REAL},
    {"window_dropped_sum", offsetof(run_state, dropped_sum), S_REAL},
    {"window_steps", offsetof(run_state, window_steps), S_COUNT},
};
#define NSTATE (sizeof state_fields / sizeof state_fields[0])

/* The state as the checkpoint's text: a JSON object, reals with 17
 * significant digits (which read back to the same double, bit for bit). */
static int state_to_text(const run_state *s, char *text, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < NSTATE; i++) {
        const char *p = (const char *)s + state_fields[i].off;
        json_t *v = state_fields[i].kind == S_REAL ? json_real(*(const double *)p)
                    : state_fields[i].kind == S_FLAG ? json_boolean(*(const int *)p)
                                                     : json_integer((json_int_t) * (const uint64_t *)p);
        if (!v || json_object_set_new(o, state_fields[i].name, v)) {
            json_decref(o);
            return -1; /* out of memory, or a real that is not finite */
        }
    }
    char *t = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(o);
    int fits = t && strlen(t) < n;
    if (fits) strcpy(text, t);
    free(t);
    return fits ? 0 : -1;
}

static int state_from_text(const char *text, run_state *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return snprintf(err, errlen, "its run state is not a JSON object (%s)", je.text), -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        size_t i = 0;
        while (i < NSTATE && strcmp(state_fields[i].name, k)) i++;
        int kind = i < NSTATE ? state_fields[i].kind : -1;
        if (kind < 0 || (kind == S_REAL && !json_is_number(v)) || (kind == S_FLAG && !json_is_boolean(v)) ||
            (kind == S_COUNT && !(json_is_integer(v) && json_integer_value(v) >= 0))) {
            json_decref(o);
            return snprintf(err, errlen, "its run state has %s field '%s' (written by another xover build?)",
                            kind < 0 ? "an unknown" : "a mistyped", k),
                   -1;
        }
        char *p = (char *)s + state_fields[i].off;
        if (kind == S_REAL) *(double *)p = json_number_value(v);
        else if (kind == S_FLAG) *(int *)p = json_is_true(v);
        else *(uint64_t *)p = (uint64_t)json_integer_value(v);
    }
    json_decref(o);
    return 0;
}

/* Checkpoints written before the run state had names (models' formats 1
 * and 2) kept it in numbered slots; they still resume, read here and only
 * here: 0 loss sum, 1 steps, 2 aux sum, 3 dropped sum, 4 best val_loss,
 * 5 have best, 6 stopped. */
static void state_from_slots(const double *x, run_state *s)
{
    *s = (run_state){.loss_sum = x[0], .window_steps = (uint64_t)x[1], .aux_sum = x[2], .dropped_sum = x[3],
                     .best_val_loss = x[4], .have_best = x[5] != 0, .stopped = x[6] != 0};
}

/* ---- the trainer -------------------------------------------------------------- */

typedef struct {
    const char *dir; /* the run directory */
    FILE *log;
    const json_t *json; /* the resolved config */
    char key[65];       /* its key */
    run_cfg rc;    /* the resolved config (strings point into its JSON) */
    train_cfg cfg; /* the same in the trainer's terms */
    fault_plan faults;
    train_source *src;
    model *m;
    int threads; /* the model's (results do not depend on them) */
    struct stat threads_seen; /* RUN_THREADS as last looked at (st_ino 0: none) */
    FILE *metrics;
    int32_t *tokens; /* one batch */
    /* sizes, fixed by setup() */
    int B, T;
    double tokens_per_step, flops_per_token, steps_per_epoch;
    uint64_t total, eval_iv, log_iv;
    uint64_t warmup_steps, decay_steps, cooldown_evals; /* of the schedule */
    /* annealed branches: a trunk's family, a branch's fork step */
    int trunk, branch;
    anneal_family fam;
    uint64_t fork;
    /* where the run stands */
    uint64_t step;         /* optimizer steps done (the model's) */
    run_state state;       /* the rest of what a checkpoint keeps */
    model_step_stats last; /* of the latest step */
    float lr;              /* of the latest step */
    double val;            /* the latest val_loss (NaN without validation) */
    /* progress on stderr */
    int tty;
    uint64_t step0;
    double t0, last_print;
    char err[8192];
} trainer;

static run_point point(const trainer *tr)
{
    double seen = (double)tr->step * tr->tokens_per_step;
    return (run_point){tr->step, seen, train_source_epoch(tr->src), seen * tr->flops_per_token};
}

/* 0, or an exit code with tr->err saying why. */
static int fail(trainer *tr, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(trainer *tr, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tr->err, sizeof tr->err, fmt, ap);
    va_end(ap);
    return code;
}

/* A write of the run directory failed with errno e: tr->err says what and
 * why; the exit code is RUN_EXIT_NO_SPACE when the disk is full (the run is
 * to resume once there is space), else XO_FAILED. */
static int fail_write(trainer *tr, int e, const char *what, const char *path)
{
    if (path) snprintf(tr->err, sizeof tr->err, "cannot %s %s: %s", what, path, strerror(e));
    return xo_no_space(e) ? RUN_EXIT_NO_SPACE : XO_FAILED;
}

/* Whether to evaluate after tr->step. Units "epoch" and "step": every
 * eval_iv steps. Unit "log": eval_every evaluations per doubling of the
 * epochs seen, from the first epoch on (1, 2^(1/n), 2^(2/n), ... epochs), so
 * one run samples both AR's early minimum (~10 epochs) and the MDM's late
 * one (hundreds of epochs) densely without evaluating every epoch. The last
 * step always evaluates (a trunk's is its last branch's fork: not an end),
 * and train.cooldown_evals more spread through the final decay. */
static int eval_due(const trainer *tr)
{
    uint64_t step = tr->step;
    if (step == tr->total && !tr->trunk) return 1;
    if (anneal_cooldown_due(step, tr->total, tr->decay_steps, tr->cooldown_evals)) return 1;
    if (tr->cfg.eval_unit != EVAL_LOG) return step % tr->eval_iv == 0;
    double spe = tr->steps_per_epoch < 1 ? 1 : tr->steps_per_epoch;
    double now = (double)step / spe, before = (double)(step - 1) / spe;
    if (now < 1) return 0;
    if (before < 1) return 1;
    double n = tr->cfg.eval_every;
    return floor(n * log2(now) + 1e-9) > floor(n * log2(before) + 1e-9);
}

/* Open the data, build the model, fix the sizes, write model.json. */
static int setup(trainer *tr, const char *key)
{
    train_cfg *t = &tr->cfg;
    t->mc.vocab = train_source_vocab(tr->src);
    t->mc.mask_id = train_source_mask(tr->src);
    size_t spe = train_source_seqs_per_epoch(tr->src);
    train_source_cloze q = train_source_cloze_items(tr->src);
    if (q.n_final > 0 && q.C + q.M > t->mc.seq_len)
        return fail(tr, XO_USAGE, "data.cloze context + length (%d + %d) must fit in train.seq_len (%d)", q.C, q.M,
                    t->mc.seq_len);
    if (spe == 0) return fail(tr, XO_USAGE, "the training data holds no full sequence of %d tokens", t->mc.seq_len);
    if (!(tr->m = model_create(&t->mc, t->seed, tr->err, sizeof tr->err))) return XO_USAGE;
    if (model_set_threads(tr->m, tr->threads, tr->err, sizeof tr->err)) return XO_FAILED;

    const model_config *mc = model_get_config(tr->m);
    tr->B = mc->batch, tr->T = mc->seq_len;
    tr->tokens_per_step = (double)tr->B * tr->T;
    tr->flops_per_token = model_flops_per_token(mc);
    tr->steps_per_epoch = (double)spe / tr->B;
    tr->total = (uint64_t)ceil(t->epochs * (double)spe / tr->B - 1e-9);
    if (tr->total < 1) tr->total = 1;
    tr->eval_iv = (uint64_t)llround(t->eval_unit == EVAL_STEP ? t->eval_every : t->eval_every * spe / tr->B);
    if (tr->eval_iv < 1) tr->eval_iv = 1;
    /* A trunk trains to its last fork at the constant rate; every run's
     * warmup, decay and train-line cadence as anneal.h says, the same for
     * the runs of a family (about 500 train lines a run by default). */
    tr->trunk = anneal_is_trunk(tr->json), tr->branch = anneal_is_branch(tr->json);
    if (tr->trunk && anneal_family_open(tr->json, key, tr->dir, spe, tr->B, &tr->fam, tr->err, sizeof tr->err))
        return XO_USAGE;
    if (tr->trunk) tr->total = tr->fam.total;
    tr->warmup_steps = anneal_warmup_steps(tr->json, tr->total, spe, tr->B);
    tr->decay_steps = tr->trunk ? 0 : anneal_decay_steps(tr->total, t->decay);
    tr->cooldown_evals = (uint64_t)tr->rc.train.cooldown_evals;
    tr->fork = tr->branch ? anneal_fork_step(tr->total, t->decay) : 0;
    tr->log_iv = anneal_log_interval(tr->json, tr->total, spe, tr->B);
    if (!(tr->tokens = malloc(sizeof(int32_t) * (size_t)tr->B * tr->T))) return fail(tr, XO_FAILED, "out of memory");

    /* model.json: sizes and costs, for the orchestrator and for people. */
    size_t ne, np = model_param_count(mc, &ne), nact = model_active_param_count(mc);
    json_t *info = json_pack("{s:s, s:s, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:i, s:i, s:i, s:i, s:i, s:i, s:i, "
                             "s:i, s:i, s:i}",
                             "key", key, "objective", mc->objective == MODEL_MDM ? "mdm" : "ar", "params",
                             (json_int_t)np, "non_embedding_params", (json_int_t)ne, "active_params",
                             (json_int_t)nact, "flops_per_token", tr->flops_per_token, "tokens_per_step",
                             (json_int_t)tr->tokens_per_step, "total_steps", (json_int_t)tr->total,
                             "seqs_per_epoch", (json_int_t)spe, "vocab", mc->vocab, "mask_id", (int)mc->mask_id,
                             "layers", mc->layers, "dim", mc->dim, "heads", mc->heads, "hidden", mc->hidden,
                             "experts", mc->experts, "top_k", mc->top_k, "seq_len", tr->T, "batch", tr->B);
    if (info) json_object_set_new(info, "role", json_string(tr->trunk ? "trunk" : tr->branch ? "branch" : "run"));
    if (info && tr->branch) json_object_set_new(info, "fork_step", json_integer((json_int_t)tr->fork));
    char *text = info ? json_dumps(info, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(info);
    run_path path = rundir_path(tr->dir, RUN_MODEL);
    int bad = !text || xo_write_atomic(path.s, text, strlen(text));
    int e = text ? errno : ENOMEM;
    free(text);
    if (bad) return fail_write(tr, e, "write", path.s);
    rundir_log(tr->log,
               "%s model: %zu params (%zu non-embedding, %zu active), %.3g FLOPs/token; %llu steps of %d x %d "
               "tokens, %zu sequences per epoch",
               mc->objective == MODEL_MDM ? "mdm" : "ar", np, ne, nact, tr->flops_per_token,
               (unsigned long long)tr->total, tr->B, tr->T, spe);
    return 0;
}

/* Continue from the newest good checkpoint, if any: the model, the data
 * position and the run state; then cut metrics.jsonl back to the
 * checkpoint's step and open it for appending. */
static int resume(trainer *tr)
{
    model_ckpt_state ck = {{0, 0}, {0}};
    char text[MODEL_CKPT_TEXT] = "", lost[3000];
    int found = rundir_load_checkpoint(tr->dir, tr->m, &ck, text, lost, sizeof lost) == 0;
    const char *from = tr->branch ? "its fork" : "scratch";
    if (*lost) {
        const char *then = found ? "resuming from the previous checkpoint" : "no good checkpoint left: starting from ";
        char at[48] = "";
        if (found) snprintf(at, sizeof at, " (step %llu)", (unsigned long long)model_step(tr->m));
        rundir_log(tr->log, "%s; %s%s%s", lost, then, found ? "" : from, at);
        fprintf(stderr, "xover: %s; %s%s%s\n", lost, then, found ? "" : from, at);
    }
    /* A branch without a checkpoint of its own starts from its trunk's fork. */
    if (!found && tr->branch) {
        if (anneal_load_fork(tr->json, tr->key, tr->dir, tr->fork, tr->m, &ck, text, sizeof text, tr->err,
                             sizeof tr->err))
            return XO_FAILED;
        char tdir[PATH_MAX];
        anneal_trunk_dir(tr->json, tr->dir, tdir, sizeof tdir);
        rundir_log(tr->log, "forking from %s (step %llu)", tdir, (unsigned long long)tr->fork);
        found = 2;
    }
    tr->step = model_step(tr->m);
    if (found) {
        run_path ckpath = rundir_path(tr->dir, RUN_CHECKPOINT);
        if (train_source_set_position(tr->src, ck.data_pos))
            return fail(tr, XO_FAILED, "checkpoint %s: its data position does not fit this data", ckpath.s);
        if (!text[0]) state_from_slots(ck.extra, &tr->state);
        else if (state_from_text(text, &tr->state, tr->err, sizeof tr->err)) {
            char why[sizeof tr->err];
            snprintf(why, sizeof why, "%s", tr->err);
            return fail(tr, XO_FAILED, "checkpoint %s: %s", ckpath.s, why);
        }
        if (found == 1) rundir_log(tr->log, "resuming from step %llu", (unsigned long long)tr->step);
    }
    run_path mpath = rundir_path(tr->dir, RUN_METRICS);
    char note[400];
    if (rundir_cut_metrics(tr->dir, tr->step == 0 ? -1 : (long long)tr->step, note, sizeof note))
        return fail_write(tr, errno, "rewrite", mpath.s);
    if (*note) {
        rundir_log(tr->log, "%s", note);
        fprintf(stderr, "xover: %s\n", note);
    }
    if (!(tr->metrics = fopen(mpath.s, "a"))) return fail_write(tr, errno, "open", mpath.s);
    return 0;
}

/* One optimizer step, and a train line when one is due. */
static int train_step(trainer *tr)
{
    const train_cfg *t = &tr->cfg;
    fault_target ft = {tr->m, tr->metrics, NULL};
    tr->lr = model_lr_steps(t->sched, tr->step, tr->total, (float)t->lr, tr->warmup_steps, tr->decay_steps,
                            t->min_frac);
    train_source_next_batch(tr->src, tr->tokens, tr->B);
    fault_strike(&tr->faults, FAULT_BEFORE_STEP, tr->step + 1, &ft);
    if (model_train_step(tr->m, tr->tokens, &t->opt, tr->lr, &tr->last, tr->err, sizeof tr->err)) return XO_FAILED;
    tr->step++;
    fault_strike(&tr->faults, FAULT_AFTER_STEP, tr->step, &ft);

    run_state *s = &tr->state;
    s->loss_sum += tr->last.loss;
    s->window_steps++;
    int moe = t->mc.experts > 0;
    if (moe) {
        double dropped, aux = model_moe_aux(tr->m, &dropped);
        s->aux_sum += aux;
        s->dropped_sum += dropped;
    }
    if (tr->step % tr->log_iv == 0 || (tr->step == tr->total && !tr->trunk)) {
        double n = (double)s->window_steps;
        run_value v[] = {{"train_loss", s->loss_sum / n, 0},   {"lr", tr->lr, 0},
                         {"grad_norm", tr->last.grad_norm, 0}, {"aux_loss", s->aux_sum / n, 0},
                         {"moe_dropped", s->dropped_sum / n, 0}};
        run_point p = point(tr);
        rundir_metrics_line(tr->metrics, &p, v, moe ? 5 : 3);
        s->loss_sum = s->aux_sum = s->dropped_sum = 0;
        s->window_steps = 0;
    }
    return 0;
}

/* Evaluate with eval options eo and append the eval line: val_loss (into
 * tr->val) and its standard error val_loss_se, and mc_acc with its standard
 * error mc_acc_se when the data has cloze items (at the final evaluation,
 * eo == &tr->cfg.final_eval, of a run or branch, all data.cloze.final_items
 * of them).
 * mc_acc_se is the binomial error over items (model_mc_se): unlike
 * val_loss_se it includes the items' own sampling, which is what decides
 * whether two accuracies differ; for the MDM the mask draws' noise is inside
 * each item's outcome.
 * val_loss_se is the error of val_loss as a measurement of this model on
 * these windows: the MDM's mask draws' noise (model_val_loss_se's mc_se), 0
 * for AR, whose loss is exact. Every run of a pair is scored on the same
 * windows, so their own sampling error is not part of a gap's error. With
 * one draw the draws' noise cannot be told from the windows' and the error
 * over windows, a bound from above, stands in. */
static int evaluate(trainer *tr, const model_eval_opts *eo)
{
    char *hex = NULL; /* mc_correct */
    size_t nval;
    const int32_t *val = train_source_val(tr->src, &nval);
    run_value v[4];
    size_t k = 0;
    tr->val = NAN;
    if (nval > 0) {
        double se_windows, se_draws;
        double x = model_val_loss_se(tr->m, val, nval, eo, &se_windows, &se_draws);
        if (!isfinite(x))
            return fail(tr, XO_FAILED, "non-finite validation loss at step %llu", (unsigned long long)tr->step);
        tr->val = x;
        v[k++] = (run_value){"val_loss", x, 0};
        double se = isnan(se_draws) ? se_windows : se_draws;
        if (isfinite(se)) v[k++] = (run_value){"val_loss_se", se, 0};
    }
    train_source_cloze q = train_source_cloze_items(tr->src);
    /* A trunk's last step is its last fork, not an end: no point of a
     * crossover, so not worth the final items. */
    size_t items = eo == &tr->cfg.final_eval && !tr->trunk ? q.n_final : q.n_items;
    if (items > 0) {
        model_cloze mq = {items, q.C, q.K, q.M, q.context, q.cands, q.answer};
        double t0 = xo_now(), c0 = xo_clock(CLOCK_PROCESS_CPUTIME_ID);
        unsigned char *ok = malloc(items);
        if (!ok) return fail(tr, XO_FAILED, "out of memory");
        long right = model_mc_correct(tr->m, &mq, eo, ok, tr->err, sizeof tr->err);
        if (right >= 0 && !(hex = rundir_mc_correct_hex(ok, items))) {
            free(ok);
            return fail(tr, XO_FAILED, "out of memory");
        }
        free(ok);
        if (right < 0) return XO_FAILED;
        /* What the cloze costs, for sizing data.cloze (docs/run-config.md). */
        rundir_log(tr->log, "step %llu: mc_acc %.4f on %zu items (%d mask draws) in %.1f s (%.1f s of CPU)",
                   (unsigned long long)tr->step, (double)right / (double)items, items,
                   model_get_config(tr->m)->objective == MODEL_MDM ? eo->draws : 0, xo_now() - t0,
                   xo_clock(CLOCK_PROCESS_CPUTIME_ID) - c0);
        v[k++] = (run_value){"mc_acc", (double)right / (double)items, 0};
        double se = model_mc_se((size_t)right, items);
        if (isfinite(se)) v[k++] = (run_value){"mc_acc_se", se, 0};
    }
    run_point p = point(tr);
    if (k) rundir_metrics_line_label(tr->metrics, &p, v, k, "mc_correct", hex);
    free(hex);
    return 0;
}

/* After an evaluation: keep the best val_loss, or stop the run once it is
 * more than train.early_stop_margin above it (never at the last step). A
 * trunk's margin is its family's rule instead (trunk_at_step). */
static void early_stop(trainer *tr)
{
    run_state *s = &tr->state;
    double margin = tr->trunk ? 0 : tr->cfg.stop_margin;
    if (isfinite(tr->val) && (!s->have_best || tr->val < s->best_val_loss)) {
        s->best_val_loss = tr->val, s->have_best = 1;
    } else if (margin > 0 && s->have_best && tr->val > s->best_val_loss + margin && tr->step < tr->total) {
        /* The line's value is the planned length, so the crossover knows
         * how far this run's best-so-far stands (docs/run-config.md). */
        run_value v = {"early_stop", (double)tr->total, 1};
        run_point p = point(tr);
        rundir_metrics_line(tr->metrics, &p, &v, 1);
        rundir_log(tr->log, "stopping early at step %llu of %llu: val_loss %.4f is more than %g above the best, %.4f",
                   (unsigned long long)tr->step, (unsigned long long)tr->total, tr->val, margin, s->best_val_loss);
        s->stopped = 1;
    }
}

/* metrics.jsonl to disk: before every checkpoint, so that no checkpoint is
 * ever ahead of the metrics it implies, and at the end. */
static int flush_metrics(trainer *tr)
{
    if (fflush(tr->metrics) == 0 && fsync(fileno(tr->metrics)) == 0) return 0;
    return fail_write(tr, errno, "write", rundir_path(tr->dir, RUN_METRICS).s);
}

/* What a checkpoint keeps besides the model: the data position and the run
 * state's text. */
static int ckpt_state(trainer *tr, model_ckpt_state *ck, char text[MODEL_CKPT_TEXT])
{
    memset(ck, 0, sizeof *ck);
    train_source_get_position(tr->src, ck->data_pos);
    if (state_to_text(&tr->state, text, MODEL_CKPT_TEXT)) return fail(tr, XO_FAILED, "cannot encode the run state");
    return 0;
}

/* Checkpoint: the model, the data position, the run state. */
static int checkpoint(trainer *tr)
{
    model_ckpt_state ck;
    char text[MODEL_CKPT_TEXT];
    if (ckpt_state(tr, &ck, text)) return XO_FAILED;
    int rc = flush_metrics(tr);
    if (rc) return rc;
    if (rundir_save_checkpoint(tr->dir, tr->m, &ck, text, tr->err, sizeof tr->err))
        return fail_write(tr, errno, NULL, NULL); /* tr->err says it; the previous checkpoint is whole */
    run_path ckpath = rundir_path(tr->dir, RUN_CHECKPOINT);
    fault_target ft = {tr->m, tr->metrics, ckpath.s};
    fault_strike(&tr->faults, FAULT_AFTER_CHECKPOINT, tr->step, &ft);
    return 0;
}

/* A progress line on stderr: redrawn 4 times a second on a terminal, every
 * 10 s in a log. */
static void progress(trainer *tr)
{
    double el = xo_now() - tr->t0;
    if (!(el - tr->last_print >= (tr->tty ? 0.25 : 10.0) || tr->step == tr->total || tr->state.stopped)) return;
    double rate = (double)(tr->step - tr->step0) * tr->tokens_per_step / (el > 0 ? el : 1e-9);
    char eta[32];
    xo_duration((double)(tr->total - tr->step) * tr->tokens_per_step / rate, eta, sizeof eta);
    fprintf(stderr, "%s%llu/%llu steps  loss %.4f  %.0f tok/s  epoch %.2f  ETA %s%s", tr->tty ? "\r" : "",
            (unsigned long long)tr->step, (unsigned long long)tr->total, tr->last.loss, rate,
            train_source_epoch(tr->src), eta, tr->tty ? "   " : "\n");
    tr->last_print = el;
}

/* A trunk at tr->step, before it trains past it: the fork checkpoints of
 * the branches forking here (its state now is theirs), then, with an
 * early-stopping margin, the family's rule (anneal_wait_gate): a stop
 * writes the early_stop line here and says so in forks.json. A signal while
 * waiting checkpoints; the loop then ends as for any signal. */
static int trunk_at_step(trainer *tr)
{
    model_ckpt_state ck;
    char text[MODEL_CKPT_TEXT], why[512];
    if (ckpt_state(tr, &ck, text)) return XO_FAILED;
    if (anneal_write_forks(&tr->fam, tr->step, tr->m, &ck, text, tr->err, sizeof tr->err)) return XO_FAILED;
    if (tr->state.stopped || tr->step >= tr->total) return 0;
    int g = anneal_wait_gate(&tr->fam, tr->step, tr->log, &stop_signal, why, sizeof why);
    if (g == ANNEAL_GO) return 0;
    if (g == ANNEAL_STOP) {
        /* The line's value is the planned length, as for any early stop. */
        run_value v = {"early_stop", (double)tr->total, 1};
        run_point p = point(tr);
        rundir_metrics_line(tr->metrics, &p, &v, 1);
        rundir_log(tr->log, "stopping early at step %llu of %llu: %s", (unsigned long long)tr->step,
                   (unsigned long long)tr->total, why);
        tr->state.stopped = 1;
        if (anneal_family_write(&tr->fam, (long long)tr->step, tr->err, sizeof tr->err)) return XO_FAILED;
    }
    return checkpoint(tr);
}

/* The driver's word on threads (RUN_THREADS, cores handed over as other
 * runs finish or start): looked at before the first step and after every
 * step (read only when the file has changed), applied when it differs from
 * the model's, and answered in RUN_THREADS_NOW once the model uses them.
 * The results do not depend on the thread count: this changes only how
 * fast. */
static void follow_threads(trainer *tr, int first)
{
    struct stat st;
    if (stat(rundir_path(tr->dir, RUN_THREADS).s, &st)) st.st_ino = 0;
    int changed = st.st_ino != tr->threads_seen.st_ino || st.st_mtim.tv_sec != tr->threads_seen.st_mtim.tv_sec ||
                  st.st_mtim.tv_nsec != tr->threads_seen.st_mtim.tv_nsec;
    tr->threads_seen = st;
    int n = (changed || first) && st.st_ino ? rundir_read_threads(tr->dir, RUN_THREADS) : 0;
    if (n > 0 && n != model_threads(tr->m)) {
        char err[256];
        if (model_set_threads(tr->m, n, err, sizeof err)) rundir_log(tr->log, "threads: %s", err);
        else rundir_log(tr->log, "step %llu: %d threads, on the driver's word", (unsigned long long)tr->step, n);
    }
    if (first || n > 0) rundir_write_threads(tr->dir, RUN_THREADS_NOW, model_threads(tr->m));
}

/* The loop: until the planned end, a stop signal or an early stop.
 * Evaluations at step 0, when due and at the last step; checkpoints at
 * every evaluation (or every train.checkpoint_every steps), at the end and
 * on a stop signal. */
static int train(trainer *tr)
{
    int rc;
    if (tr->step == 0) {
        if ((rc = evaluate(tr, &tr->cfg.eval))) return rc;
        rundir_log(tr->log, "step 0: val_loss %.4f", tr->val);
        if (isfinite(tr->val)) tr->state.best_val_loss = tr->val, tr->state.have_best = 1;
    }
    tr->tty = cli_stderr_is_tty();
    tr->t0 = xo_now();
    tr->step0 = tr->step;
    follow_threads(tr, 1);
    for (;;) {
        if (tr->trunk && (rc = trunk_at_step(tr))) return rc;
        if (tr->step >= tr->total || stop_signal || tr->state.stopped) break;
        if ((rc = train_step(tr))) return rc;
        int evaled = eval_due(tr);
        if (evaled) {
            const model_eval_opts *eo = tr->step == tr->total ? &tr->cfg.final_eval : &tr->cfg.eval;
            if ((rc = evaluate(tr, eo))) return rc;
            rundir_log(tr->log, "step %llu: train_loss %.4f val_loss %.4f epoch %.3f", (unsigned long long)tr->step,
                       tr->last.loss, tr->val, train_source_epoch(tr->src));
            early_stop(tr);
        }
        int due = tr->cfg.ckpt_every ? tr->step % tr->cfg.ckpt_every == 0 : evaled;
        if ((due || tr->step == tr->total || stop_signal) && (rc = checkpoint(tr))) return rc;
        progress(tr);
        follow_threads(tr, 0);
    }
    if (tr->tty) fputc('\n', stderr);
    return 0;
}

/* The final word: interrupted (with a checkpoint at this step) or done. */
static int finish(trainer *tr)
{
    int rc;
    if (stop_signal && tr->step < tr->total) {
        char why[64];
        snprintf(why, sizeof why, "signal %d at step %llu", (int)stop_signal, (unsigned long long)tr->step);
        /* The loop checkpointed at this step before leaving, unless no step
         * ran since the start. */
        if (tr->step == tr->step0 && (rc = checkpoint(tr))) return rc;
        rundir_set_status(tr->dir, "interrupted", why);
        rundir_log(tr->log, "interrupted: %s", why);
        return XO_INTERRUPTED;
    }
    if ((rc = flush_metrics(tr))) return rc;
    rundir_set_status(tr->dir, "done", NULL);
    if (tr->state.stopped && tr->trunk) {
        rundir_log(tr->log, "done: stopped early after %llu of %llu steps", (unsigned long long)tr->step,
                   (unsigned long long)tr->total);
        fprintf(stderr, "xover: stopped early after %llu of %llu steps: the annealed values of its branches rose "
                        "more than %g (train.early_stop_margin)\n",
                (unsigned long long)tr->step, (unsigned long long)tr->total, tr->cfg.stop_margin);
    } else if (tr->state.stopped) {
        rundir_log(tr->log, "done: stopped early after %llu of %llu steps", (unsigned long long)tr->step,
                   (unsigned long long)tr->total);
        fprintf(stderr,
                "xover: stopped early after %llu of %llu steps: val_loss rose more than %g above its best "
                "(%.4f; train.early_stop_margin)\n",
                (unsigned long long)tr->step, (unsigned long long)tr->total, tr->cfg.stop_margin,
                tr->state.best_val_loss);
    } else {
        rundir_log(tr->log, "done: %llu steps", (unsigned long long)tr->step);
    }
    return XO_OK;
}

/* ---- run_train ------------------------------------------------------------------ */

/* The run config at path, resolved and read; its key. 0, or an exit code
 * with the message printed. */
static int load_config(const char *path, json_t **cfg, run_cfg *rc, train_cfg *t, char key[65])
{
    json_error_t je;
    char err[8192];
    *cfg = json_load_file(path, 0, &je);
    if (!*cfg) return cli_error(XO_USAGE, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    if (!json_is_object(*cfg)) return cli_error(XO_USAGE, "%s: a run config is a JSON object", path);
    if (run_config_resolve(*cfg, err, sizeof err) || run_config_read(*cfg, rc, err, sizeof err) ||
        read_train_cfg(rc, t, err, sizeof err))
        return cli_error(XO_USAGE, "%s: %s", path, err);
    run_config_key(*cfg, key);
    return 0;
}

/* Make the run directory ready: created, not another run's, config.json
 * written (if absent), the log open, status running. 0, or an exit code
 * with the message printed. */
static int open_run_dir(trainer *tr, const json_t *cfg, const char *key, const char *config_path)
{
    const char *dir = tr->dir;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) return cli_error(XO_FAILED, "cannot create %s: %s", dir, strerror(errno));
    /* A checkpoint of another run must not be resumed with this config. */
    json_t *old = json_load_file(rundir_path(dir, RUN_MODEL).s, 0, NULL);
    const char *old_key = json_string_value(json_object_get(old, "key"));
    if (old && access(rundir_path(dir, RUN_CHECKPOINT).s, F_OK) == 0 && strcmp(old_key ? old_key : "", key) != 0) {
        int rc = cli_error(XO_USAGE, "%s holds a checkpoint of another run (key %.12s, this config is %.12s)", dir,
                           old_key ? old_key : "", key);
        json_decref(old);
        return rc;
    }
    json_decref(old);
    run_path path = rundir_path(dir, RUN_CONFIG);
    if (access(path.s, F_OK) != 0) {
        char *text = json_dumps(cfg, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (!text || xo_write_atomic(path.s, text, strlen(text))) cli_warn("cannot write %s", path.s);
        free(text);
    }
    tr->log = rundir_open_log(dir);
    if (rundir_set_status(dir, "running", NULL)) {
        int e = errno;
        cli_warn("cannot write %s: %s", rundir_path(dir, RUN_STATUS).s, strerror(e));
    }
    rundir_log(tr->log, "xover train --config %s --out %s (key %s)", config_path, dir, key);
    if (fault_plan_from_env(dir, &tr->faults, tr->err, sizeof tr->err)) {
        rundir_set_status(dir, "failed", tr->err);
        return cli_error(XO_USAGE, "%s", tr->err);
    }
    return 0;
}

static int run(trainer *tr, const json_t *cfg, const char *key, const char *cache)
{
    int rc;
    tr->json = cfg;
    memcpy(tr->key, key, 65);
    rundir_log(tr->log, "opening data (%s)", tr->rc.data.corpus);
    if (!(tr->src = train_source_open(cfg, cache, tr->err, sizeof tr->err))) return XO_USAGE;
    if ((rc = setup(tr, key)) || (rc = resume(tr))) return rc;
    if (tr->trunk) {
        /* What its branches and the drivers read (anneal.h); a `waiting`
         * left by a killed attempt is not this one's. */
        unlink(rundir_path(tr->dir, RUN_WAITING).s);
        if (anneal_family_write(&tr->fam, tr->state.stopped ? (long long)tr->step : -1, tr->err, sizeof tr->err))
            return XO_FAILED;
    }
    if ((rc = train(tr))) return rc;
    return finish(tr);
}

int run_train(const run_train_opts *o)
{
    trainer *tr = calloc(1, sizeof *tr);
    if (!tr) return cli_error(XO_FAILED, "out of memory");
    tr->dir = o->dir;
    tr->threads = o->threads > 0 ? o->threads : 1;
    json_t *cfg = NULL;
    char key[65];
    int rc = load_config(o->config, &cfg, &tr->rc, &tr->cfg, key);
    if (!rc) rc = open_run_dir(tr, cfg, key, o->config);
    if (!rc) {
        struct sigaction sa, old_int, old_term;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        stop_signal = 0;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        rc = run(tr, cfg, key, o->cache);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        if (rc == RUN_EXIT_NO_SPACE) {
            /* Not the run's fault: it resumes from its last checkpoint once
             * there is space. */
            rundir_set_status(tr->dir, "interrupted", tr->err);
            rundir_log(tr->log, "interrupted: %s", tr->err);
            cli_error(XO_FAILED, "%s (the run resumes from its last checkpoint once there is space)", tr->err);
        } else if (rc != XO_OK && rc != XO_INTERRUPTED) {
            rundir_set_status(tr->dir, "failed", tr->err);
            rundir_log(tr->log, "failed: %s", tr->err);
            cli_error(rc, "%s", tr->err);
        }
    }
    if (tr->metrics) fclose(tr->metrics);
    if (tr->log) fclose(tr->log);
    free(tr->tokens);
    model_free(tr->m);
    train_source_close(tr->src);
    anneal_family_free(&tr->fam);
    json_decref(cfg);
    free(tr);
    return rc;
}
