/*
 * cmd_eval.c — `xover eval --run RUNDIR [--draws N]`: evaluate a trained
 * run's checkpoint again on its validation windows, with as many MDM mask
 * draws as asked, and print the validation loss with its standard errors
 * and what one evaluation cost. With --repeat R it evaluates R times under
 * eval seeds S, S+1, ... (independent masks), so the spread of the R
 * estimates can be set beside the standard error each one reports.
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

/* The id of the run in directory run_dir (its name is the run's key). */
static int key_id(void *ctx, const db_run_info *r)
{
    *(long long *)ctx = r->id;
    return 0;
}

/* --cloze N --run RUNDIR: that run, recorded under its key. */
static int cloze_one(db *d, const char *run, const eval_cloze_opts *o)
{
    const char *base = strrchr(run, '/');
    char key[80];
    snprintf(key, sizeof key, "%s", base && base[1] ? base + 1 : base ? "" : run);
    long long id = -1;
    if (db_run_by_key(d, key, key_id, &id) || id < 0)
        return cli_error(XO_USAGE, "%s: no run with key '%s' in the database (a run directory is named by its "
                         "run's key)", run, key);
    char err[2048];
    int rc = eval_cloze_run(d, id, run, o, err, sizeof err);
    if (rc == EVAL_CLOZE_SKIPPED) return XO_OK;
    if (rc) return cli_error(rc, "%s", err);
    return XO_OK;
}

/* --cloze N --sweep NAME --annealed: every run the annealed table reads
 * mc_acc from (each pair's AR and MDM best annealed points, every seed),
 * one progress line each, those already scored on these items skipped. */
static int cloze_sweep(db *d, const char *sweep, const eval_cloze_opts *o)
{
    long long sid;
    if (db_sweep_id(d, sweep, &sid)) return cli_error(XO_USAGE, "no sweep named '%s' in the database", sweep);
    an_pairs ps;
    char err[2048];
    if (an_pairs_load_annealed(d, sid, "val_loss", AN_TOKENS, &ps, err, sizeof err))
        return cli_error(XO_FAILED, "%s", err);
    /* the points, each run once */
    long long *run = malloc((ps.n * 2 * AN_ACC_RUNS + 1) * sizeof *run);
    size_t n = 0;
    for (size_t i = 0; run && i < ps.n; i++) {
        const an_acc *a = &ps.p[i].acc;
        for (int k = 0; k < a->nar + a->nmdm; k++) {
            long long r = k < a->nar ? a->ar_run[k] : a->mdm_run[k - a->nar];
            size_t j = 0;
            while (j < n && run[j] != r) j++;
            if (j == n) run[n++] = r;
        }
    }
    an_pairs_free(&ps);
    if (!run) return cli_error(XO_FAILED, "out of memory");
    if (n == 0) fprintf(stderr, "xover eval: sweep '%s' has no annealed AR/MDM pair of val_loss: nothing to score\n",
                        sweep);
    int rc = XO_OK, refused = 0, scored = 0, skipped = 0;
    for (size_t i = 0; i < n && rc != XO_FAILED; i++) {
        char *dir = NULL;
        if (db_run_dir(d, run[i], &dir) || !dir) {
            free(dir);
            rc = cli_error(XO_FAILED, "run %lld has no run directory: %s", run[i], db_errmsg(d));
            break;
        }
        printf("[%zu/%zu] %s: ", i + 1, n, dir);
        fflush(stdout);
        int r = eval_cloze_run(d, run[i], dir, o, err, sizeof err);
        if (r == EVAL_CLOZE_SKIPPED) printf("already scored on these items\n"), skipped++;
        else if (r == XO_OK) scored++;
        else {
            printf("not scored\n");
            cli_error(r, "%s", err);
            if (r == XO_USAGE) refused++;
            rc = r == XO_USAGE && rc == XO_OK ? XO_USAGE : r;
        }
        fflush(stdout);
        free(dir);
    }
    free(run);
    printf("%d scored, %d already scored, %d refused of %zu points\n", scored, skipped, refused, n);
    return rc;
}

/* `repeat` evaluations with eval seeds seed, seed+1, ...: each line as it
 * is measured, then their spread. 0, or -1 with err set. */
static int evaluate_repeatedly(model *m, const int32_t *val, size_t nval, const model_eval_opts *eo, long long repeat,
                               char *err, size_t errlen)
{
    double sum = 0, ss = 0, t_all = 0, cpu_all = 0;
    double *v = malloc(sizeof(double) * (size_t)repeat);
    if (!v) return snprintf(err, errlen, "out of memory"), -1;
    for (long long i = 0; i < repeat; i++) {
        model_eval_opts o = *eo;
        o.seed = eo->seed + (uint64_t)i;
        /* CPU time too: on a shared machine the wall time says more about
         * the neighbours than about the evaluation */
        double se, mc_se, t0 = xo_clock(CLOCK_MONOTONIC), c0 = xo_clock(CLOCK_PROCESS_CPUTIME_ID);
        v[i] = model_val_loss_se(m, val, nval, &o, &se, &mc_se);
        double dt = xo_clock(CLOCK_MONOTONIC) - t0, dc = xo_clock(CLOCK_PROCESS_CPUTIME_ID) - c0;
        t_all += dt;
        cpu_all += dc;
        if (!isfinite(v[i])) {
            snprintf(err, errlen, "the validation loss is not finite (%g)", v[i]);
            free(v);
            return -1;
        }
        printf("val_loss   %.4f  se %.4f  (the mask draws' part %.4f)  %.2f s (%.2f s CPU)", v[i], se, mc_se,
               dt, dc);
        if (repeat > 1) printf("  [eval seed %llu]", (unsigned long long)o.seed);
        printf("\n");
        fflush(stdout);
        sum += v[i];
    }
    if (repeat > 1) {
        double mean = sum / (double)repeat;
        for (long long i = 0; i < repeat; i++) ss += (v[i] - mean) * (v[i] - mean);
        printf("spread     %lld estimates: mean %.4f, sd %.4f (what the mask draws' part predicts); "
               "%.2f s per evaluation (%.2f s CPU)\n", repeat, mean, sqrt(ss / (double)(repeat - 1)),
               t_all / (double)repeat, cpu_all / (double)repeat);
    }
    free(v);
    return 0;
}

int cmd_eval(int argc, char **argv)
{
    static const struct option opts[] = {{"run", required_argument, 0, 'r'},
                                         {"draws", required_argument, 0, 'd'},
                                         {"eval-seed", required_argument, 0, 'S'},
                                         {"repeat", required_argument, 0, 'R'},
                                         {"threads", required_argument, 0, 't'},
                                         {"cache", required_argument, 0, 'C'},
                                         {"cloze", required_argument, 0, 'c'},
                                         {"pool-tokens", required_argument, 0, 'P'},
                                         {"sweep", required_argument, 0, 's'},
                                         {"annealed", no_argument, 0, 'A'},
                                         {"db", required_argument, 0, 'D'},
                                         {0, 0, 0, 0}};
    const char *run = NULL, *cache = NULL, *sweep = NULL, *dbp = NULL;
    long long draws = 0, seed = -1, repeat = 1, threads = 1, cloze = 0, pool = 0;
    int annealed = 0;
    int c;
    cli_reset_getopt();
    while ((c = cli_getopt("eval", argc, argv, "", opts)) != -1) {
        switch (c) {
        case 'r': run = optarg; break;
        case 'C': cache = optarg; break;
        case 's': sweep = optarg; break;
        case 'A': annealed = 1; break;
        case 'D': dbp = optarg; break;
        case 'c':
            if (cli_parse_long("eval", "--cloze", optarg, &cloze)) return XO_USAGE;
            if (cloze < 2 || cloze > 10000000) return cli_usage_error("eval", "--cloze must be 2..10000000, not %lld", cloze);
            break;
        case 'P':
            if (cli_parse_long("eval", "--pool-tokens", optarg, &pool)) return XO_USAGE;
            if (pool < 1) return cli_usage_error("eval", "--pool-tokens must be positive, not %lld", pool);
            break;
        case 'd':
            if (cli_parse_long("eval", "--draws", optarg, &draws)) return XO_USAGE;
            break;
        case 'S':
            if (cli_parse_long("eval", "--eval-seed", optarg, &seed)) return XO_USAGE;
            break;
        case 'R':
            if (cli_parse_long("eval", "--repeat", optarg, &repeat)) return XO_USAGE;
            break;
        case 't':
            if (cli_parse_long("eval", "--threads", optarg, &threads)) return XO_USAGE;
            break;
        default: return XO_USAGE;
        }
    }
    if (optind < argc) return cli_usage_error("eval", "unexpected argument '%s'", argv[optind]);
    if (!cloze && (sweep || annealed || pool))
        return cli_usage_error("eval", "--sweep, --annealed and --pool-tokens go with --cloze N");
    if (cloze && !!run == !!sweep) return cli_usage_error("eval", "--cloze N scores --run RUNDIR or --sweep NAME --annealed");
    if (sweep && !annealed)
        return cli_usage_error("eval", "--sweep scores the points of the annealed crossover table: add --annealed");
    if (cloze && repeat != 1) return cli_usage_error("eval", "--repeat goes without --cloze");
    if (!run && !cloze) return cli_usage_error("eval", "--run is required");
    if (draws < 0 || draws > 100000) return cli_usage_error("eval", "--draws must be 1..100000, not %lld", draws);
    if (repeat < 1 || repeat > 1000) return cli_usage_error("eval", "--repeat must be 1..1000, not %lld", repeat);
    if (threads < 1 || threads > 1024) return cli_usage_error("eval", "--threads must be 1..1024, not %lld", threads);

    if (cloze) {
        openblas_set_num_threads((int)threads);
        const char *dpath = cli_db_path(dbp);
        char derr[1024];
        db *d = db_open(dpath, DB_WRITE, derr, sizeof derr);
        if (!d) return cli_error(XO_USAGE, "%s", derr);
        eval_cloze_opts o = {cloze, pool, draws, cache, sweep != NULL, run != NULL};
        int rc = sweep ? cloze_sweep(d, sweep, &o) : cloze_one(d, run, &o);
        db_close(d);
        return rc;
    }
    char path[4200], err[8192];
    snprintf(path, sizeof path, "%s", rundir_path(run, RUN_CONFIG).s);
    json_error_t je;
    json_t *cfg = json_load_file(path, 0, &je);
    if (!cfg) return cli_error(XO_USAGE, "%s: %s", path, je.text);
    if (run_config_resolve(cfg, err, sizeof err)) {
        json_decref(cfg);
        return cli_error(XO_USAGE, "%s: %s", path, err);
    }
    model_eval_opts eo;
    model_config mc;
    snprintf(path, sizeof path, "%s", rundir_path(run, RUN_CHECKPOINT).s);
    if (rundir_eval_setup(path, cfg, &mc, &eo, err, sizeof err)) {
        json_decref(cfg);
        return cli_error(XO_USAGE, "%s", err);
    }
    if (draws > 0) eo.draws = (int)draws;
    if (seed >= 0) eo.seed = (uint64_t)seed;
    openblas_set_num_threads((int)threads);
    train_source *src = train_source_open(cfg, cache, err, sizeof err);
    json_decref(cfg);
    if (!src) return cli_error(XO_USAGE, "%s", err);
    int rc = XO_FAILED;
    model *m = model_create(&mc, 0, err, sizeof err);
    model_ckpt_state st;
    size_t nval = 0;
    const int32_t *val = train_source_val(src, &nval);
    if (!m || model_load(m, path, &st, err, sizeof err)) goto done;
    if (nval < 2) {
        snprintf(err, sizeof err, "%s has %zu validation windows; a standard error needs two", run, nval);
        rc = XO_USAGE;
        goto done;
    }
    int mdm = mc.objective == MODEL_MDM;
    printf("run        %s (%s, step %llu)\n", run, mdm ? "mdm" : "ar", (unsigned long long)model_step(m));
    if (mdm) printf("draws      %d per window, %s, eval seed %llu%s\n", eo.draws,
                    eo.bernoulli ? "bernoulli" : "exact", (unsigned long long)eo.seed,
                    repeat > 1 ? " + i for repeat i" : "");
    printf("windows    %zu of %d tokens\n", nval, mc.seq_len);
    if (evaluate_repeatedly(m, val, nval, &eo, repeat, err, sizeof err)) goto done;
    rc = XO_OK;
    goto cleanup;
done:
    cli_error(rc, "%s", err);
cleanup:
    model_free(m);
    train_source_close(src);
    return rc;
}

const cli_command cmd_eval_def = {"eval", cmd_eval, "evaluate a run's checkpoint again: val_loss with its standard error",
     "usage: xover eval --run RUNDIR [--draws N] [--eval-seed S] [--repeat R]\n"
     "                  [--threads N] [--cache DIR]\n"
     "       xover eval --cloze N (--run RUNDIR | --sweep NAME --annealed)\n"
     "                  [--pool-tokens P] [--draws K] [--threads N] [--cache DIR] [--db PATH]\n\n"
     "Load RUNDIR's config and newest checkpoint and measure the validation loss on\n"
     "the run's validation windows, with its standard errors and the seconds one\n"
     "evaluation took. The MDM's loss is a Monte Carlo estimate over mask draws:\n"
     "  se                   over the windows (each window's mean over its draws is\n"
     "                       one observation): how well the loss is known for text\n"
     "                       like the validation set\n"
     "  the mask draws' part the noise of the draws alone: how much another set of\n"
     "                       masks would move this number (0 for AR, which is exact)\n\n"
     "  --draws N      MDM mask draws per window (default: the run's train.eval_draws)\n"
     "  --eval-seed S  the masks' seed (default: the run's train.eval_seed)\n"
     "  --repeat R     evaluate R times with eval seeds S, S+1, ..., and print the\n"
     "                 spread of the R estimates beside the standard errors\n"
     "  --threads N    BLAS threads (default 1)\n"
     "  --cache DIR    tokenizer and token caches (default $XOVER_CACHE or .cache/xover)\n\n"
     "With --cloze N, instead: score the run's final checkpoint on N 4-way cloze\n"
     "items of a held-out cloze pool (data.cloze.pool_tokens, docs/run-config.md),\n"
     "without retraining, and record mc_acc, its standard error and the items'\n"
     "outcomes in the database (table cloze_rescored; scoring the same run on the\n"
     "same items again replaces its row). `xover crossover --annealed` and the\n"
     "report then read these rather than the in-training mc_acc wherever both runs\n"
     "of a pair were scored on the same items, paired item by item: about 2,500\n"
     "items resolve a 0.02 gap (README, \"Cloze accuracy and its error\").\n"
     "The pool must be held out from the run. A run trained with the same\n"
     "pool_tokens never saw it; any other (runs trained without a pool) is scored\n"
     "only when no document of the pool is among the run's training budget or its\n"
     "validation documents, compared token by token: otherwise it is REFUSED (exit\n"
     "2), saying how many documents overlap.\n"
     "  --cloze N        items to score (all from the pool's documents)\n"
     "  --run RUNDIR     the run in RUNDIR (named by its key, as in the database)\n"
     "  --sweep NAME --annealed  every run the annealed crossover table of sweep NAME\n"
     "                   reads mc_acc from (each pair's AR and MDM best annealed\n"
     "                   points, every seed), a progress line each; runs already\n"
     "                   scored on these items are skipped, so it can be rerun\n"
     "  --pool-tokens P  the pool's size in tokens (default: the run's own\n"
     "                   data.cloze.pool_tokens; required for a run without one)\n"
     "  --draws K        the MDM's mask draws per candidate (default: the run's\n"
     "                   train.eval_draws); costly: about 5.5 ms per item and draw\n"
     "                   at the demo's d64 model\n"
     "  --db PATH        the database (default: $XOVER_DB, else ./xover.db)\n"};
