/*
 * eval_cloze.c — `xover eval --cloze N`: a trained run's final checkpoint
 * scored again on N cloze items of a held-out pool, without retraining,
 * recorded in the database (schema.sql, cloze_rescored), so that the
 * crossover tables can resolve small mc_acc gaps (README, "Cloze accuracy
 * and its error"). For one run (--run) or for exactly the annealed points
 * the annealed crossover table names (--sweep NAME --annealed).
 *
 * The pool must be held out from the run: a run trained with the same
 * data.cloze.pool_tokens never saw it (data.h); a run trained with another
 * (most: none) is scored only when train_source_pool_disjoint proves that
 * no document of the pool is in its training budget or validation set.
 */
#include "models/models.h"
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/run/run.h"
#include "orchestrator/run/run_config.h"
#include "orchestrator/run/train_source.h"
#include "orchestrator/util/util.h"

#include <cblas.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The run's config with its cloze set to N items of a pool of P tokens
 * (every evaluation's and the last's), resolved. NULL with err. */
static json_t *cloze_config(const char *run_dir, long long n, long long pool, long long *own_pool, char *err,
                            size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s", rundir_path(run_dir, RUN_CONFIG).s);
    json_error_t je;
    json_t *cfg = json_load_file(path, 0, &je);
    if (!cfg) return snprintf(err, errlen, "%s: %s", path, je.text), NULL;
    if (run_config_resolve(cfg, err, errlen)) {
        json_decref(cfg);
        return NULL;
    }
    json_t *data = json_object_get(cfg, "data"), *cl = json_object_get(data, "cloze");
    json_t *own = json_object_get(cl, "pool_tokens"); /* absent: no pool */
    *own_pool = json_is_number(own) ? (long long)json_number_value(own) : 0;
    if (!json_is_object(cl)) json_object_set_new(data, "cloze", cl = json_object());
    json_object_set_new(cl, "pool_tokens", json_integer(pool > 0 ? pool : *own_pool));
    json_object_set_new(cl, "items", json_integer(n));
    json_object_set_new(cl, "final_items", json_integer(n));
    return cfg;
}

int eval_cloze_run(db *d, long long run_id, const char *run_dir, const eval_cloze_opts *o, char *err, size_t errlen)
{
    long long own = 0;
    json_t *cfg = cloze_config(run_dir, o->items, o->pool_tokens, &own, err, errlen);
    if (!cfg) return XO_USAGE;
    long long pool = o->pool_tokens > 0 ? o->pool_tokens : own;
    int rc = XO_USAGE;
    char *set = NULL, *text = NULL, *hex = NULL;
    train_source *src = NULL;
    model *m = NULL;
    unsigned char *ok = NULL;
    if (pool <= 0) {
        snprintf(err, errlen, "%s was trained without a cloze pool: give one with --pool-tokens P (its documents "
                 "must lie outside the run's training budget and validation set, which is checked)", run_dir);
        goto done;
    }
    if (!(text = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS)) || !(set = an_item_set(text))) {
        snprintf(err, errlen, "out of memory");
        rc = XO_FAILED;
        goto done;
    }
    if (o->skip_done) {
        int has = db_rescored_has(d, run_id, set, (long)o->items);
        if (has < 0) {
            snprintf(err, errlen, "%s", db_errmsg(d));
            rc = XO_FAILED;
            goto done;
        }
        if (has) {
            rc = EVAL_CLOZE_SKIPPED;
            goto done;
        }
    }
    /* Held out from this run? Its own pool is (data.h); another must be proven. */
    if (pool != own) {
        char why[512];
        /* the run as it trained: its own pool (or none) */
        json_t *as_run = json_deep_copy(cfg), *cl = json_object_get(json_object_get(as_run, "data"), "cloze");
        if (own > 0) json_object_set_new(cl, "pool_tokens", json_integer(own));
        else json_object_del(cl, "pool_tokens");
        int dis = as_run ? train_source_pool_disjoint(as_run, (uint64_t)pool, o->cache, why, sizeof why) : -1;
        if (!as_run) snprintf(why, sizeof why, "out of memory");
        json_decref(as_run);
        if (dis < 0) {
            snprintf(err, errlen, "%s: %s", run_dir, why);
            goto done;
        }
        if (dis == 0) {
            snprintf(err, errlen, "refusing to score %s on a cloze pool of %lld tokens: %s (it was trained with "
                     "data.cloze.pool_tokens %lld); scoring it there would count text it trained on",
                     run_dir, pool, why, own);
            goto done;
        }
        if (o->verbose) printf("pool       %lld tokens, held out from the run: %s\n", pool, why);
    }
    model_eval_opts eo;
    model_config mc;
    char ck[4200];
    snprintf(ck, sizeof ck, "%s", rundir_path(run_dir, RUN_CHECKPOINT).s);
    if (rundir_eval_setup(ck, cfg, &mc, &eo, err, errlen)) goto done;
    if (o->draws > 0) eo.draws = (int)o->draws;
    if (!(src = train_source_open(cfg, o->cache, err, errlen))) goto done;
    model_ckpt_state st;
    rc = XO_FAILED;
    if (!(m = model_create(&mc, 0, err, errlen)) || model_load(m, ck, &st, err, errlen)) goto done;
    train_source_cloze q = train_source_cloze_items(src);
    model_cloze mq = {q.n_final, q.C, q.K, q.M, q.context, q.cands, q.answer};
    if (!(ok = malloc(q.n_final ? q.n_final : 1))) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    double c0 = xo_clock(CLOCK_PROCESS_CPUTIME_ID), t0 = xo_now();
    long right = model_mc_correct(m, &mq, &eo, ok, err, errlen);
    double cpu = xo_clock(CLOCK_PROCESS_CPUTIME_ID) - c0, wall = xo_now() - t0;
    if (right < 0) goto done;
    if (!(hex = rundir_mc_correct_hex(ok, q.n_final))) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    int mdm = mc.objective == MODEL_MDM;
    db_rescored r = {run_id, set, (long)q.n_final, (long long)model_step(m), mdm ? eo.draws : -1,
                     (double)right / (double)q.n_final, model_mc_se((size_t)right, q.n_final), hex, cpu,
                     xover_build_id()};
    if (db_rescored_put(d, &r)) {
        snprintf(err, errlen, "recording the result: %s", db_errmsg(d));
        goto done;
    }
    char dr[32] = "";
    if (mdm) snprintf(dr, sizeof dr, ", %d mask draws", eo.draws);
    printf("mc_acc %.4f  se %.4f  on %zu items (pool of %lld tokens%s), step %lld: %.1f s (%.1f s CPU)\n",
           r.acc, r.se, q.n_final, pool, dr, r.step, wall, cpu);
    fflush(stdout);
    rc = XO_OK;
done:
    free(ok);
    free(hex);
    model_free(m);
    train_source_close(src);
    free(set);
    free(text);
    json_decref(cfg);
    return rc;
}
