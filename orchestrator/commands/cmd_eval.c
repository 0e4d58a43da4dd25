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
                                         {0, 0, 0, 0}};
    const char *run = NULL, *cache = NULL;
    long long draws = 0, seed = -1, repeat = 1, threads = 1;
    int c;
    cli_reset_getopt();
    while ((c = cli_getopt("eval", argc, argv, "", opts)) != -1) {
        switch (c) {
        case 'r': run = optarg; break;
        case 'C': cache = optarg; break;
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
    if (!run) return cli_usage_error("eval", "--run is required");
    if (draws < 0 || draws > 100000) return cli_usage_error("eval", "--draws must be 1..100000, not %lld", draws);
    if (repeat < 1 || repeat > 1000) return cli_usage_error("eval", "--repeat must be 1..1000, not %lld", repeat);
    if (threads < 1 || threads > 1024) return cli_usage_error("eval", "--threads must be 1..1024, not %lld", threads);

    char path[4200], err[8192];
    snprintf(path, sizeof path, "%s", rundir_path(run, RUN_CONFIG).s);
    json_error_t je;
    json_t *cfg = json_load_file(path, 0, &je);
    if (!cfg) return cli_error(XO_USAGE, "%s: %s", path, je.text);
    if (run_config_resolve(cfg, err, sizeof err)) {
        json_decref(cfg);
        return cli_error(XO_USAGE, "%s: %s", path, err);
    }
    model_eval_opts eo = {(int)run_config_number(cfg, "train.eval_draws"),
                          !strcmp(json_string_value(json_object_get(json_object_get(cfg, "train"),
                                                                    "eval_estimator")) ?: "", "bernoulli"),
                          (uint64_t)run_config_number(cfg, "train.eval_seed")};
    if (draws > 0) eo.draws = (int)draws;
    if (seed >= 0) eo.seed = (uint64_t)seed;
    model_config mc;
    snprintf(path, sizeof path, "%s", rundir_path(run, RUN_CHECKPOINT).s);
    if (model_ckpt_config(path, &mc, err, sizeof err)) {
        json_decref(cfg);
        return cli_error(XO_USAGE, "%s", err);
    }
    /* The checkpoint holds the layout; the attention's scale is the run's. */
    mc.attn_scale = (float)run_config_number(cfg, "model.attn_scale");
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
     "                  [--threads N] [--cache DIR]\n\n"
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
     "  --cache DIR    tokenizer and token caches (default $XOVER_CACHE or .cache/xover)\n"};
