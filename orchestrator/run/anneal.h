/*
 * anneal.h — annealed branches (docs/sweep.md, "Annealed branches"): one
 * constant-rate TRUNK run and one BRANCH run per annealing point E, each
 * branch the trunk's state at its fork step plus its own linear cooldown.
 *
 * This is the one place that says how a trunk's config becomes its
 * branches' configs and where a branch forks, so that the sweep (which
 * plans the branches and their keys) and the trainer (which writes each
 * branch's fork checkpoint and trains it) cannot disagree:
 *
 *   trunk config   a run config with train.anneal_at = [E1, ..., En]
 *                  (increasing; train.epochs = En), an absolute warmup
 *                  (train.warmup_epochs) and train.decay_frac d
 *   branch config  the trunk's, with train.epochs = Ei, train.branch_of =
 *                  the trunk's key, and neither anneal_at nor
 *                  early_stop_margin. Without branch_of it is exactly the
 *                  standalone warmup-stable-decay run of Ei epochs that the
 *                  branch reproduces bit for bit.
 *   steps          a run of E epochs takes total(E) optimizer steps; its
 *                  decay is the last floor(d * total) of them and it forks
 *                  from the trunk at fork(E) = total - decay. The trunk
 *                  trains to fork(En).
 */
#ifndef XOVER_ANNEAL_H
#define XOVER_ANNEAL_H

#include "models/models.h"

#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* 1 when a resolved config is a trunk (train.anneal_at), a branch
 * (train.branch_of); 0 otherwise. */
int anneal_is_trunk(const json_t *cfg);
int anneal_is_branch(const json_t *cfg);

/* The number of annealing points of a trunk config and point i (epochs). */
size_t anneal_npoints(const json_t *trunk);
double anneal_point(const json_t *trunk, size_t i);

/* The resolved config of the branch at `epochs` (one of the trunk's points)
 * of the resolved trunk config `trunk` whose key is trunk_key. NULL with a
 * message in err. Caller decrefs. */
json_t *anneal_branch_config(const json_t *trunk, const char *trunk_key, double epochs, char *err,
                             size_t errlen);
/* The key of that branch (65 bytes): 0, or -1 with err. */
int anneal_branch_key(const json_t *trunk, const char *trunk_key, double epochs, char key[65], char *err,
                      size_t errlen);

/* ---- a trunk's directory: what its branches and the drivers read -------
 *
 * (names: run.h, RUN_FORKS, RUN_FORKS_JSON, RUN_WAITING)
 *   forks/KEY    the checkpoint branch KEY starts from, written when the
 *                trunk passes that branch's fork step and kept.
 *   forks.json   {"trunk": KEY, "total_steps": T, "stopped_at": S|null,
 *                 "branches": [{"key", "epochs", "fork_step",
 *                 "total_steps"}]}: written when the trunk starts, and
 *                again with stopped_at when it stops early (docs/sweep.md),
 *                after which branches forking later are not needed.
 *   waiting      while the trunk waits for a branch's annealed value (its
 *                early-stopping rule): that branch's key. A driver does not
 *                count a waiting trunk against its workers.
 * A branch's directory is beside its trunk's: dirname(trunk)/KEY.
 */
void anneal_fork_path(const char *trunk_dir, const char *branch_key, char *buf, size_t n);

/* Where branch `key` stands, from its trunk's directory. trunk_live is 1
 * while the trunk may still write (running, or to be run), 0 once it has
 * ended. *fork_step gets the branch's fork step when forks.json lists it
 * (else -1), *stopped_at the trunk's early stop (else -1). */
enum { ANNEAL_FORK_READY, ANNEAL_FORK_WAIT, ANNEAL_FORK_NOT_NEEDED, ANNEAL_FORK_MISSING };
int anneal_fork_state(const char *trunk_dir, const char *branch_key, int trunk_live, long long *fork_step,
                      long long *stopped_at);

/* ---- steps (the trainer's arithmetic, kept here so the sweep agrees) ---- */

/* Optimizer steps of a run of `epochs` epochs with seqs_per_epoch training
 * sequences in batches of `batch`: at least 1. */
uint64_t anneal_total_steps(double epochs, size_t seqs_per_epoch, int batch);
/* Steps of the final linear decay of a run of `total` steps. */
uint64_t anneal_decay_steps(uint64_t total, double decay_frac);
/* The step a branch of `total` steps forks from its trunk at. */
uint64_t anneal_fork_step(uint64_t total, double decay_frac);
/* Warmup steps of a resolved config for a run of `total` steps: an absolute
 * train.warmup_epochs when given, else train.warmup_frac of total. */
uint64_t anneal_warmup_steps(const json_t *cfg, uint64_t total, size_t seqs_per_epoch, int batch);

/* ---- the trainer's side ------------------------------------------------------ */

/* A trunk's branches in the trainer's terms, for a run with seqs_per_epoch
 * training sequences in batches of `batch`. */
typedef struct {
    char key[65];
    double epochs;
    uint64_t total, fork; /* its steps; the trunk's step it starts from */
} anneal_branch;
typedef struct {
    char dir[4096];       /* the trunk's run directory */
    char key[65];
    anneal_branch *b;     /* in point order */
    size_t n;
    uint64_t total;       /* the trunk's steps: the largest fork */
    double margin;        /* train.early_stop_margin: the family's rule; 0 = none */
} anneal_family;
/* 0, or -1 with err. Free with anneal_family_free. */
int anneal_family_open(const json_t *trunk, const char *key, const char *dir, size_t seqs_per_epoch, int batch,
                       anneal_family *f, char *err, size_t errlen);
void anneal_family_free(anneal_family *f);
/* Write forks.json (stopped_at < 0: not stopped). 0, or -1 with err. */
int anneal_family_write(const anneal_family *f, long long stopped_at, char *err, size_t errlen);

/* The early-stopping rule of a family with a margin (docs/sweep.md), at
 * step `step` of the trunk (GO unless it is a fork step), before it trains
 * past it: it needs the annealed
 * val_loss of every branch forking earlier. ANNEAL_GO: train on;
 * ANNEAL_STOP: stop here (why says so); ANNEAL_WAIT: a branch's result is
 * not there yet (*waiting_for is its index): call again later. Branches
 * that failed count as no value. */
enum { ANNEAL_GO, ANNEAL_STOP, ANNEAL_WAIT };
int anneal_gate(const anneal_family *f, uint64_t step, size_t *waiting_for, char *why, size_t whylen);

/* train.cooldown_evals: whether to evaluate after `step` of a run of
 * `total` steps whose last decay_steps decay, n times evenly through it
 * (the n-th at the last step). */
int anneal_cooldown_due(uint64_t step, uint64_t total, uint64_t decay_steps, uint64_t n);
/* Train lines every this many steps: train.log_every epochs when given,
 * else about 500 a run. */
uint64_t anneal_log_interval(const json_t *cfg, uint64_t total, size_t seqs_per_epoch, int batch);

/* A branch's trunk directory: beside its own (docs/sweep.md), named by
 * train.branch_of. */
void anneal_trunk_dir(const json_t *branch, const char *dir, char *buf, size_t n);

/* What the training loop does for a family (orchestrator/run/train_loop.c):
 *
 * A trunk at `step`: write the fork checkpoint of every branch forking
 * there (the model, ck and the run state's text: what the standalone run of
 * that branch holds at that step), unless an earlier attempt did. 0, or -1
 * with err. */
int anneal_write_forks(const anneal_family *f, uint64_t step, const model *m, const model_ckpt_state *ck,
                       const char *text, char *err, size_t errlen);
/* A trunk at `step`, before it trains past it: anneal_gate, waiting (the
 * `waiting` file written, a log line) while a branch's result is not
 * there. ANNEAL_GO or ANNEAL_STOP (why says why), or -1 once *stop is set. */
int anneal_wait_gate(const anneal_family *f, uint64_t step, FILE *log, volatile sig_atomic_t *stop, char *why,
                     size_t whylen);
/* A branch without a checkpoint of its own: load its trunk's fork
 * checkpoint into m, ck and text (MODEL_CKPT_TEXT bytes), checking it is at
 * step `fork`. 0, or -1 with err. */
int anneal_load_fork(const json_t *branch, const char *key, const char *dir, uint64_t fork, model *m,
                     model_ckpt_state *ck, char *text, size_t textlen, char *err, size_t errlen);

#endif
