/*
 * run.h — the run module's contract: one run, from its resolved config to a
 * finished run directory. Commands and the executors (exec/) use it; it uses
 * models/, data/ (through train_source.h) and util/, and nothing above it.
 *
 *   rundir.c       a run directory's files: their names, the status file,
 *                  the metrics lines, checkpoint rotation, the run lock, the
 *                  log. No other code in xover spells a run directory's file
 *                  names or formats.
 *   train_loop.c   the training loop behind `xover train` (run_train).
 *   run_config.h   the resolved run config (docs/run-config.md); its own
 *                  header because the sweep module resolves configs too.
 *   train_source.h a run's data: the glue between data/ and models/.
 *   fault.h        test-only fault injection, private to this folder.
 */
#ifndef XOVER_RUN_H
#define XOVER_RUN_H

#include "models/models.h"
#include "orchestrator/run/run_config.h"
#include "orchestrator/run/train_source.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- rundir.c: the files of a run directory ------------------------------
 *
 * A run directory (runs/<sweep>/<key>/, or any --out of `xover train`):
 *
 *   config.json    the resolved run config (docs/run-config.md).
 *   model.json     {"key", "objective", "params", "non_embedding_params",
 *                   "active_params", "flops_per_token", "tokens_per_step",
 *                   "total_steps", "seqs_per_epoch", "vocab", "mask_id",
 *                   "layers", "dim", "heads", "hidden", "experts", "top_k",
 *                   "seq_len", "batch"}; written atomically when training
 *                   starts. flops_per_token counts ACTIVE parameters.
 *   metrics.jsonl  one JSON object per line (rundir_metrics_line); EVERY line
 *                  has "step" (optimizer steps done), "tokens" (training
 *                  tokens seen), "epoch" (epochs over the unique tokens,
 *                  fractional) and "flops" (cumulative training FLOPs), plus
 *                  either "train_loss" (mean over the steps since the
 *                  previous train line), "lr", "grad_norm" (and for a
 *                  mixture of experts "aux_loss" and "moe_dropped", means
 *                  over the same steps), or "val_loss" (nats/token) and,
 *                  with cloze items, "mc_acc", its standard error
 *                  "mc_acc_se" and "mc_correct", the items' outcomes: a
 *                  string "N:HEX", N items, hex digit k of HEX holding items
 *                  4k..4k+3 (item 4k+j in bit 1<<j; 1 = right), or
 *                  "early_stop" (the planned
 *                  number of steps, on the line of the step a run stopped).
 *   checkpoint     models' checkpoint (atomic, CRC-checked) with the run's
 *                  state by name (train_loop.c).
 *   checkpoint.prev the checkpoint before it: a resume whose checkpoint fails
 *                  its checks sets it aside as checkpoint.bad (or
 *                  checkpoint.prev.bad) and takes the next good one.
 *   log            human-readable lines, appended (the trainer's stderr too).
 *   status         the run's word on its first line: pending | running |
 *                  done | failed | interrupted; a reason, if any, on the
 *                  second. Written atomically, by rundir_set_status only.
 *   lock           the run lock (rundir_lock), held while a worker lives.
 *   stdout         an external trainer's standard output.
 *   worker.json    (Slurm) what `xover worker` runs; exec/internal_slurm.h.
 *   attempt.json   (Slurm) the attempt now running; exec/internal_slurm.h.
 *   forks/, forks.json, waiting
 *                  a trunk's, for its annealed branches (anneal.h).
 *   threads, threads.now
 *                  the local driver's word on how many threads the trainer
 *                  is to use (cores handed over as runs finish), and the
 *                  trainer's answer once it uses them; one number each.
 */

typedef enum {
    RUN_CONFIG,
    RUN_MODEL,
    RUN_METRICS,
    RUN_CHECKPOINT,
    RUN_CHECKPOINT_PREV,
    RUN_CHECKPOINT_BAD,      /* checkpoint, set aside */
    RUN_CHECKPOINT_PREV_BAD, /* checkpoint.prev, set aside */
    RUN_LOG,
    RUN_STATUS,
    RUN_LOCK,
    RUN_STDOUT,
    RUN_WORKER,
    RUN_ATTEMPT,
    RUN_FORKS,      /* a trunk's directory of its branches' fork checkpoints (anneal.h) */
    RUN_FORKS_JSON, /* a trunk's list of its branches and where they fork */
    RUN_WAITING,    /* a trunk waiting for a branch's annealed value: that branch's key */
    RUN_THREADS,    /* the driver's word: threads the trainer is to use (hand-over) */
    RUN_THREADS_NOW,/* the trainer's answer: threads it uses now */
    RUN_NFILES
} run_file;

/* A thread count in RUN_THREADS or RUN_THREADS_NOW: written atomically (0
 * or -1 with errno), read back as 1..256 (0: no file, or not such a
 * number). */
int rundir_write_threads(const char *dir, run_file f, int n);
int rundir_read_threads(const char *dir, run_file f);

/* The file's name in its run directory ("metrics.jsonl"). */
const char *rundir_name(run_file f);

/* A path in a run directory, by value: rundir_path(dir, RUN_LOG).s. One size
 * holds any directory name the system takes (PATH_MAX) and any file name
 * above; a directory too long for it gives "" (so opening it fails, and
 * nothing is written to a cut-off path). */
typedef struct {
    char s[PATH_MAX + 32];
} run_path;
run_path rundir_path(const char *dir, run_file f);

/* The status file: write `word` and, when reason is neither NULL nor "",
 * the reason on a second line ("done\n", "failed\nwhy\n"). Atomic; on a full
 * disk, where that cannot be, overwritten in place, else removed, so that it
 * never goes on saying what is no longer so. 0, or -1 with errno set. The
 * one writer of status files in xover. */
int rundir_set_status(const char *dir, const char *word, const char *reason);
/* Read it back: the word and the reason ("" when none). 0, or -1 (no file;
 * word and reason are ""). */
int rundir_status(const char *dir, char *word, size_t wlen, char *reason, size_t rlen);

/* A point of a run: the four columns every metrics line starts with. */
typedef struct {
    uint64_t step;
    double tokens, epoch, flops;
} run_point;
/* A named value of a metrics line; `whole` ones print as integers. */
typedef struct {
    const char *name;
    double value;
    int whole;
} run_value;
/* Append one line to a metrics.jsonl stream: the point, then the values
 * (%.9g, or %.0f when whole), then a newline. */
void rundir_metrics_line(FILE *f, const run_point *p, const run_value *v, size_t n);
/* The same with a label: "label":"text" after the values (text printed as
 * is: the caller's, never needing escapes, such as mc_correct's hex). */
void rundir_metrics_line_label(FILE *f, const run_point *p, const run_value *v, size_t n, const char *label,
                               const char *text);
/* What evaluating a trained run needs, for the commands that load one
 * (eval, eval --cloze, sample): the model's layout from the checkpoint at
 * ckpt with the run's attention scale (the checkpoint does not hold it),
 * and the evaluation options of its resolved config cfg (train.eval_draws,
 * eval_estimator, eval_seed). eo may be NULL. 0, or -1 with err. */
int rundir_eval_setup(const char *ckpt, const json_t *cfg, model_config *mc, model_eval_opts *eo, char *err,
                      size_t errlen);
/* The items' outcomes ok[0..n) as mc_correct's text, "N:" and hex (hex
 * digit k holds items 4k..4k+3, item 4k+j in bit 1<<j), so that two runs
 * scored on the same items can be compared item by item; malloc'd, NULL
 * when out of memory. The trainer's eval lines and `xover eval --cloze`
 * write it alike. */
char *rundir_mc_correct_hex(const unsigned char *ok, size_t n);
/* Cut metrics.jsonl back to its complete lines whose step is <= max_step
 * (-1: none), atomically: what a resumed run must not repeat or contradict.
 * note gets "" or, when lines that are not metrics lay among the lines
 * kept (damage, not a torn end), what was dropped, to be logged. 0, or -1
 * with errno set. */
int rundir_cut_metrics(const char *dir, long long max_step, char *note, size_t notelen);

/* Save a checkpoint of m with st and the caller's text (models.h
 * model_save_text): the current one becomes checkpoint.prev, then the new
 * one is written (atomic, CRC-checked), so a checkpoint damaged later costs
 * one checkpoint interval, not the run. 0, or -1 with err. */
int rundir_save_checkpoint(const char *dir, const model *m, const model_ckpt_state *st, const char *text,
                           char *err, size_t errlen);
/* Load the newest good checkpoint (checkpoint, else checkpoint.prev) into m,
 * st and text[MODEL_CKPT_TEXT]: 0 when one loaded, 1 when there is none to
 * resume (start from scratch). Each one that fails its checks (checksum,
 * size, model config) is set aside as .bad; `lost` gets what was set aside
 * and why, "" when nothing was. m is unchanged unless one loads. */
int rundir_load_checkpoint(const char *dir, model *m, model_ckpt_state *st, char text[MODEL_CKPT_TEXT], char *lost,
                           size_t lostlen);

/* The log: opened for appending (NULL if it cannot be), one line per call,
 * each stamped with the local time. */
FILE *rundir_open_log(const char *dir);
void rundir_log(FILE *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The run lock (the file `lock`, util.h's xo_lock_file): taken by the
 * driver before it starts a worker and inherited by the worker across exec,
 * so while a worker lives (even one whose driver was killed, finishing its
 * checkpoint) no other driver starts the run. Returns the descriptor to
 * keep, -2 when another process holds it (err names the holder), -1 on
 * error. Release with xo_unlock. */
int rundir_lock(const char *dir, char *err, size_t errlen);
/* Remove a run directory that holds nothing but its released lock file. */
void rundir_remove_if_empty(const char *dir);
/* True when dir names the directory of run `key` (its last part is the
 * key): a run_dir read back from a database is used, written to and
 * removed only then. */
int rundir_is_run_of(const char *dir, const char *key);

/* File chores for run directories and the files around them. */
int rundir_mkdirs(const char *path, char *err, size_t errlen); /* mkdir -p */
/* Write a file atomically (util.h xo_write_atomic); 0, or -1 with err
 * naming the file. */
int rundir_write(const char *path, const char *text, size_t len, char *err, size_t errlen);
/* The last `lines` lines of a file (at most its last 4 KB), malloc'd; NULL
 * if none. For failure reports. */
char *rundir_tail(const char *path, int lines);
/* The last non-empty line of a file (at most 300 bytes), malloc'd; NULL if
 * none. */
char *rundir_last_line(const char *path);
/* Remove a directory tree. 0, or -1. */
int rundir_remove(const char *path);

/* ---- train_loop.c: training one run -------------------------------------- */

typedef struct {
    const char *config;   /* the run config (JSON), resolved by run_config.h */
    const char *dir;      /* the run directory (created if missing) */
    const char *cache;    /* tokenizer and token caches; NULL: the default */
    int threads;          /* the model's threads (model_set_threads); 0 = 1 */
} run_train_opts;

/* `xover train`'s exit code when a write of the run directory found its
 * disk full (ENOSPC, EDQUOT): the run is interrupted, its last checkpoint
 * whole, and resumes once there is space (EX_TEMPFAIL's value). */
#define RUN_EXIT_NO_SPACE 75

/* Train the run into its directory, resuming from its checkpoint when there
 * is one (bit for bit: a resumed run's metrics and checkpoint equal an
 * uninterrupted run's). SIGINT/SIGTERM checkpoint and stop. Messages go to
 * stderr and the run's log. Returns an exit code: XO_OK done, XO_FAILED
 * (non-finite loss, I/O), XO_USAGE (bad config or data), XO_INTERRUPTED
 * (checkpoint written), RUN_EXIT_NO_SPACE (a full disk; interrupted).
 *
 * For tests: XOVER_TRAIN_STOP_AT=N raises SIGTERM right after step N;
 * XOVER_FAULT injects crashes, hangs, NaNs, damaged checkpoints and metrics,
 * and a full disk at chosen steps (fault.h). */
int run_train(const run_train_opts *o);

/* ---- export_model.c: a trained model for other tools ------------------------ */

typedef struct {
    const char *run_dir; /* the run directory: its config.json and checkpoint */
    const char *out;     /* the export directory (new, empty, or an earlier export) */
    const char *cache;   /* tokenizer and token caches; NULL: the default */
    const char *key;     /* the run's key, recorded in the export ("" / NULL: none) */
} run_export_opts;

/* Write the run's model to o->out as safetensors weights, config.json,
 * tokenizer.json and a validation batch with xover's loss on it
 * (docs/export.md; the layout in export_model.c), atomically as a whole.
 * Prints one line on stderr. Returns XO_OK, XO_USAGE (not a trained run
 * directory, an -o that holds other files) or XO_FAILED (writing), with err. */
int run_export_model(const run_export_opts *o, char *err, size_t errlen);

#endif
