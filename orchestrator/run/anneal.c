/*
 * anneal.c — a trunk's branches and where they fork (anneal.h).
 */
#include "orchestrator/run/anneal.h"

#include "orchestrator/run/run_config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
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
    snprintf(buf, n, "%s/forks/%s", trunk_dir, branch_key);
}

void anneal_forks_json_path(const char *trunk_dir, char *buf, size_t n) { snprintf(buf, n, "%s/forks.json", trunk_dir); }

void anneal_waiting_path(const char *trunk_dir, char *buf, size_t n) { snprintf(buf, n, "%s/waiting", trunk_dir); }

int anneal_fork_state(const char *trunk_dir, const char *branch_key, int trunk_live, long long *fork_step,
                      long long *stopped_at)
{
    char path[4200];
    *fork_step = *stopped_at = -1;
    anneal_forks_json_path(trunk_dir, path, sizeof path);
    json_t *f = json_load_file(path, 0, NULL);
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
