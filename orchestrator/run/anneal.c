/*
 * anneal.c — a trunk's branches and where they fork (anneal.h).
 */
#include "orchestrator/run/anneal.h"

#include "orchestrator/run/run.h"
#include "orchestrator/run/run_config.h"
#include "orchestrator/util/util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static json_t *train_of(const json_t *cfg) { return json_object_get(cfg, "train"); }

int anneal_is_trunk(const json_t *cfg) { return json_is_array(json_object_get(train_of(cfg), "anneal_at")); }

int anneal_is_branch(const json_t *cfg) { return json_is_string(json_object_get(train_of(cfg), "branch_of")); }

size_t anneal_npoints(const json_t *trunk) { return json_array_size(json_object_get(train_of(trunk), "anneal_at")); }

double anneal_point(const json_t *trunk, size_t i)
{
    return json_number_value(json_array_get(json_object_get(train_of(trunk), "anneal_at"), i));
}

json_t *anneal_branch_config(const json_t *trunk, const char *trunk_key, double epochs, char *err, size_t errlen)
{
    if (!anneal_is_trunk(trunk)) {
        snprintf(err, errlen, "not a trunk config (no train.anneal_at)");
        return NULL;
    }
    json_t *b = json_deep_copy(trunk);
    json_t *tr = b ? train_of(b) : NULL;
    if (!tr) {
        json_decref(b);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    json_object_del(tr, "anneal_at");
    /* A branch never stops early: the trunk's margin is the family's rule
     * (docs/sweep.md), and a branch's last value is its annealed point. */
    json_object_del(tr, "early_stop_margin");
    json_object_set_new(tr, "epochs", json_real(epochs));
    json_object_set_new(tr, "branch_of", json_string(trunk_key));
    if (run_config_resolve(b, err, errlen)) {
        json_decref(b);
        return NULL;
    }
    return b;
}

int anneal_branch_key(const json_t *trunk, const char *trunk_key, double epochs, char key[65], char *err,
                      size_t errlen)
{
    json_t *b = anneal_branch_config(trunk, trunk_key, epochs, err, errlen);
    if (!b) return -1;
    run_config_key(b, key);
    json_decref(b);
    return 0;
}

uint64_t anneal_total_steps(double epochs, size_t seqs_per_epoch, int batch)
{
    /* This exact expression has sized every run since the first: keep it. */
    uint64_t total = (uint64_t)ceil(epochs * (double)seqs_per_epoch / batch - 1e-9);
    return total < 1 ? 1 : total;
}

uint64_t anneal_decay_steps(uint64_t total, double decay_frac) { return (uint64_t)floor(decay_frac * (double)total); }

uint64_t anneal_fork_step(uint64_t total, double decay_frac) { return total - anneal_decay_steps(total, decay_frac); }

uint64_t anneal_warmup_steps(const json_t *cfg, uint64_t total, size_t seqs_per_epoch, int batch)
{
    const json_t *tr = train_of(cfg), *w = json_object_get(tr, "warmup_epochs");
    if (json_is_number(w)) return (uint64_t)floor(json_number_value(w) * (double)seqs_per_epoch / batch + 1e-9);
    return (uint64_t)floor(json_number_value(json_object_get(tr, "warmup_frac")) * (double)total);
}

/* ---- a trunk's directory ---------------------------------------------------- */

void anneal_fork_path(const char *trunk_dir, const char *branch_key, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", rundir_path(trunk_dir, RUN_FORKS).s, branch_key);
}

int anneal_fork_state(const char *trunk_dir, const char *branch_key, int trunk_live, long long *fork_step,
                      long long *stopped_at)
{
    char path[PATH_MAX + 100];
    *fork_step = *stopped_at = -1;
    json_t *f = json_load_file(rundir_path(trunk_dir, RUN_FORKS_JSON).s, 0, NULL);
    json_t *st = json_object_get(f, "stopped_at");
    if (json_is_integer(st)) *stopped_at = json_integer_value(st);
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(f, "branches"), i, b)
        if (!strcmp(json_string_value(json_object_get(b, "key")) ? json_string_value(json_object_get(b, "key")) : "",
                    branch_key) && json_is_integer(json_object_get(b, "fork_step")))
            *fork_step = json_integer_value(json_object_get(b, "fork_step"));
    json_decref(f);
    anneal_fork_path(trunk_dir, branch_key, path, sizeof path);
    if (access(path, F_OK) == 0) return ANNEAL_FORK_READY;
    if (*stopped_at >= 0 && *fork_step > *stopped_at) return ANNEAL_FORK_NOT_NEEDED;
    return trunk_live ? ANNEAL_FORK_WAIT : ANNEAL_FORK_MISSING;
}

/* ---- the trainer's side ----------------------------------------------------------- */

int anneal_family_open(const json_t *trunk, const char *key, const char *dir, size_t seqs_per_epoch, int batch,
                       anneal_family *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "%s", dir);
    snprintf(f->key, sizeof f->key, "%s", key);
    f->n = anneal_npoints(trunk);
    f->b = calloc(f->n ? f->n : 1, sizeof *f->b);
    if (!f->b) return snprintf(err, errlen, "out of memory"), -1;
    double decay = json_number_value(json_object_get(train_of(trunk), "decay_frac"));
    f->margin = run_config_number(trunk, "train.early_stop_margin");
    for (size_t i = 0; i < f->n; i++) {
        anneal_branch *b = &f->b[i];
        b->epochs = anneal_point(trunk, i);
        if (anneal_branch_key(trunk, key, b->epochs, b->key, err, errlen)) {
            anneal_family_free(f);
            return -1;
        }
        b->total = anneal_total_steps(b->epochs, seqs_per_epoch, batch);
        b->fork = anneal_fork_step(b->total, decay);
        if (b->fork > f->total) f->total = b->fork;
    }
    if (f->total < 1) {
        anneal_family_free(f);
        return snprintf(err, errlen, "train.anneal_at: every point forks at step 0 (too few steps per epoch)"), -1;
    }
    return 0;
}

void anneal_family_free(anneal_family *f)
{
    free(f->b);
    f->b = NULL;
    f->n = 0;
}

int anneal_family_write(const anneal_family *f, long long stopped_at, char *err, size_t errlen)
{
    json_t *bs = json_array();
    for (size_t i = 0; bs && i < f->n; i++)
        json_array_append_new(bs, json_pack("{s:s, s:f, s:I, s:I}", "key", f->b[i].key, "epochs", f->b[i].epochs,
                                            "fork_step", (json_int_t)f->b[i].fork, "total_steps",
                                            (json_int_t)f->b[i].total));
    json_t *o = json_pack("{s:s, s:I, s:o, s:o}", "trunk", f->key, "total_steps", (json_int_t)f->total, "stopped_at",
                          stopped_at >= 0 ? json_integer(stopped_at) : json_null(), "branches", bs);
    char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(o);
    run_path path = rundir_path(f->dir, RUN_FORKS_JSON);
    int rc = text ? xo_write_atomic(path.s, text, strlen(text)) : -1;
    free(text);
    if (rc) snprintf(err, errlen, "cannot write %s: %s", path.s, strerror(errno));
    return rc;
}

/* Branch b's directory: beside its trunk's. */
static void branch_dir(const anneal_family *f, const anneal_branch *b, char *buf, size_t n)
{
    const char *slash = strrchr(f->dir, '/');
    snprintf(buf, n, "%.*s%s%s", slash ? (int)(slash - f->dir) : 0, f->dir, slash ? "/" : "", b->key);
}

/* Branch b's annealed val_loss, the value of its last step: 0 (done, *v
 * set), 1 (failed, or done without it: no value), 2 (not there yet). */
static int branch_result(const anneal_family *f, const anneal_branch *b, double *v)
{
    char dir[PATH_MAX], word[32], reason[8];
    branch_dir(f, b, dir, sizeof dir);
    rundir_status(dir, word, sizeof word, reason, sizeof reason);
    if (!strcmp(word, "failed")) return 1;
    if (strcmp(word, "done")) return 2;
    FILE *m = fopen(rundir_path(dir, RUN_METRICS).s, "r");
    char *line = NULL;
    size_t cap = 0;
    int found = 0;
    while (m && getline(&line, &cap, m) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        json_t *st = json_object_get(o, "step"), *val = json_object_get(o, "val_loss");
        if (json_is_integer(st) && (uint64_t)json_integer_value(st) == b->total && json_is_number(val))
            *v = json_number_value(val), found = 1;
        json_decref(o);
    }
    free(line);
    if (m) fclose(m);
    return found ? 0 : 1;
}

int anneal_gate(const anneal_family *f, uint64_t step, size_t *waiting_for, char *why, size_t whylen)
{
    if (f->margin <= 0 || step >= f->total) return ANNEAL_GO;
    int at_fork = 0;
    for (size_t i = 0; i < f->n; i++) at_fork |= f->b[i].fork == step;
    if (!at_fork) return ANNEAL_GO;
    double best = INFINITY;
    for (size_t i = 0; i < f->n && f->b[i].fork < step; i++) {
        double v;
        int r = branch_result(f, &f->b[i], &v);
        if (r == 2) {
            *waiting_for = i;
            return ANNEAL_WAIT;
        }
        if (r == 1) continue;
        if (v < best) best = v;
        else if (v > best + f->margin) {
            snprintf(why, whylen, "the %g-epoch branch's annealed val_loss %.4f is more than %g above the best "
                                  "annealed value, %.4f (train.early_stop_margin)", f->b[i].epochs, v, f->margin, best);
            return ANNEAL_STOP;
        }
    }
    return ANNEAL_GO;
}

int anneal_cooldown_due(uint64_t step, uint64_t total, uint64_t decay_steps, uint64_t n)
{
    if (!n || !decay_steps || step > total || step <= total - decay_steps) return 0;
    uint64_t start = total - decay_steps, k = step - start; /* 1..decay_steps */
    return (k * n) / decay_steps > ((k - 1) * n) / decay_steps;
}

uint64_t anneal_log_interval(const json_t *cfg, uint64_t total, size_t seqs_per_epoch, int batch)
{
    const json_t *e = json_object_get(train_of(cfg), "log_every");
    if (json_is_number(e)) {
        long long n = llround(json_number_value(e) * (double)seqs_per_epoch / batch);
        return n < 1 ? 1 : (uint64_t)n;
    }
    return total / 500 > 0 ? total / 500 : 1;
}

void anneal_trunk_dir(const json_t *branch, const char *dir, char *buf, size_t n)
{
    const char *of = json_string_value(json_object_get(train_of(branch), "branch_of"));
    const char *slash = strrchr(dir, '/');
    snprintf(buf, n, "%.*s%s%s", slash ? (int)(slash - dir) : 0, dir, slash ? "/" : "", of ? of : "");
}

/* ---- the loop's three moves ---------------------------------------------------------- */

int anneal_write_forks(const anneal_family *f, uint64_t step, const model *m, const model_ckpt_state *ck,
                       const char *text, char *err, size_t errlen)
{
    for (size_t i = 0; i < f->n; i++) {
        if (f->b[i].fork != step) continue;
        run_path dir = rundir_path(f->dir, RUN_FORKS);
        if (mkdir(dir.s, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create %s: %s", dir.s, strerror(errno));
            return -1;
        }
        char path[PATH_MAX + 100];
        anneal_fork_path(f->dir, f->b[i].key, path, sizeof path);
        if (access(path, F_OK) == 0) continue; /* an earlier attempt's: the same bytes */
        if (model_save_text(m, path, ck, text, err, errlen)) return -1;
    }
    return 0;
}

int anneal_wait_gate(const anneal_family *f, uint64_t step, FILE *log, volatile sig_atomic_t *stop, char *why,
                     size_t whylen)
{
    run_path wpath = rundir_path(f->dir, RUN_WAITING);
    size_t wi = 0, said = (size_t)-1;
    int g;
    while ((g = anneal_gate(f, step, &wi, why, whylen)) == ANNEAL_WAIT && !*stop) {
        if (said != wi) {
            char text[80];
            snprintf(text, sizeof text, "%s\n", f->b[wi].key);
            xo_write_atomic(wpath.s, text, strlen(text));
            rundir_log(log, "step %llu: waiting for the annealed value of the %g-epoch branch %.12s "
                            "(train.early_stop_margin)", (unsigned long long)step, f->b[wi].epochs, f->b[wi].key);
            said = wi;
        }
        struct timespec ts = {0, 200000000};
        nanosleep(&ts, NULL);
    }
    if (said != (size_t)-1) unlink(wpath.s);
    return *stop ? -1 : g;
}

int anneal_load_fork(const json_t *branch, const char *key, const char *dir, uint64_t fork, model *m,
                     model_ckpt_state *ck, char *text, size_t textlen, char *err, size_t errlen)
{
    char tdir[PATH_MAX], path[PATH_MAX + 100], why[1024];
    anneal_trunk_dir(branch, dir, tdir, sizeof tdir);
    anneal_fork_path(tdir, key, path, sizeof path);
    if (access(path, F_OK) != 0) {
        snprintf(err, errlen, "its fork checkpoint %s is not there: its trunk has not reached step %llu yet", path,
                 (unsigned long long)fork);
        return -1;
    }
    if (model_load_text(m, path, ck, text, textlen, why, sizeof why)) {
        snprintf(err, errlen, "fork checkpoint %s: %s", path, why);
        return -1;
    }
    if (model_step(m) != fork) {
        snprintf(err, errlen, "fork checkpoint %s is at step %llu, not this branch's fork step %llu", path,
                 (unsigned long long)model_step(m), (unsigned long long)fork);
        return -1;
    }
    return 0;
}
