/*
 * cmd_sample.c — `xover sample --run RUNDIR --prompt TEXT`: continue a prompt
 * with a trained run's model. The run directory supplies the config (for the
 * tokenizer, through train_source) and the checkpoint (for the weights). AR
 * models write left to right (temperature, top-k); MDM models unmask the new
 * positions over S steps, most confident first.
 */
#include "models/models.h"
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/run/run.h"

#include <cblas.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_sample(int argc, char **argv)
{
    static const struct option opts[] = {{"run", required_argument, 0, 'r'},
                                         {"prompt", required_argument, 0, 'p'},
                                         {"steps", required_argument, 0, 's'},
                                         {"temperature", required_argument, 0, 't'},
                                         {"top-k", required_argument, 0, 'k'},
                                         {"tokens", required_argument, 0, 'n'},
                                         {"seed", required_argument, 0, 'S'},
                                         {"cache", required_argument, 0, 'C'},
                                         {0, 0, 0, 0}};
    const char *run = NULL, *prompt = NULL, *cache = NULL;
    long long steps = 0, topk = 0, ntok = 32, seed = 0;
    double temp = 1.0;
    int c;
    cli_reset_getopt();
    while ((c = cli_getopt("sample", argc, argv, "", opts)) != -1) {
        switch (c) {
        case 'r': run = optarg; break;
        case 'p': prompt = optarg; break;
        case 'C': cache = optarg; break;
        case 's':
            if (cli_parse_long("sample", "--steps", optarg, &steps)) return XO_USAGE;
            break;
        case 'k':
            if (cli_parse_long("sample", "--top-k", optarg, &topk)) return XO_USAGE;
            break;
        case 'n':
            if (cli_parse_long("sample", "--tokens", optarg, &ntok)) return XO_USAGE;
            break;
        case 'S':
            if (cli_parse_long("sample", "--seed", optarg, &seed)) return XO_USAGE;
            break;
        case 't': {
            char *end;
            temp = strtod(optarg, &end);
            if (*end || end == optarg || !(temp >= 0) || temp > 100)
                return cli_usage_error("sample", "--temperature must be a number in 0..100, not '%s'", optarg);
            break;
        }
        default: return XO_USAGE;
        }
    }
    if (optind < argc) return cli_usage_error("sample", "unexpected argument '%s'", argv[optind]);
    if (!run) return cli_usage_error("sample", "--run is required");
    if (!prompt) return cli_usage_error("sample", "--prompt is required");
    if (ntok < 1 || ntok > 100000) return cli_usage_error("sample", "--tokens must be 1..100000, not %lld", ntok);

    char err[8192];
    run_path cpath = rundir_path(run, RUN_CONFIG), path = rundir_path(run, RUN_CHECKPOINT);
    json_error_t je;
    json_t *cfg = json_load_file(cpath.s, 0, &je);
    if (!cfg) return cli_error(XO_USAGE, "%s: %s", cpath.s, je.text);
    if (run_config_resolve(cfg, err, sizeof err)) {
        json_decref(cfg);
        return cli_error(XO_USAGE, "%s: %s", cpath.s, err);
    }
    model_config mc;
    if (rundir_eval_setup(path.s, cfg, &mc, NULL, err, sizeof err)) {
        json_decref(cfg);
        return cli_error(XO_USAGE, "%s", err);
    }
    mc.batch = 1; /* activations for one sequence are all sampling needs */
    openblas_set_num_threads(1);
    train_source *src = train_source_open(cfg, cache, err, sizeof err);
    json_decref(cfg);
    if (!src) return cli_error(XO_USAGE, "%s", err);
    int rc = XO_FAILED;
    model *m = model_create(&mc, 0, err, sizeof err);
    model_ckpt_state st;
    size_t np = 0;
    int32_t *ids = NULL, *out = NULL;
    char *text = NULL;
    if (!m || model_load(m, path.s, &st, err, sizeof err)) goto done;
    ids = train_source_encode(src, prompt, &np);
    if (!ids) {
        snprintf(err, sizeof err, "cannot encode the prompt");
        goto done;
    }
    if (mc.objective == MODEL_MDM && np + (size_t)ntok > (size_t)mc.seq_len) {
        rc = cli_usage_error("sample", "prompt (%zu tokens) + --tokens %lld exceed the model's seq_len %d", np, ntok,
                             mc.seq_len);
        goto cleanup;
    }
    out = malloc(sizeof(int32_t) * (np + (size_t)ntok));
    model_sample_opts so = {(float)temp, (int)topk, (int)steps, (uint64_t)seed};
    if (!out || model_sample(m, ids, np, (int)ntok, &so, out, err, sizeof err)) {
        rc = XO_USAGE;
        goto done;
    }
    text = train_source_decode(src, out, np + (size_t)ntok);
    if (!text) {
        snprintf(err, sizeof err, "cannot decode the sample");
        goto done;
    }
    printf("%s\n", text);
    rc = XO_OK;
    goto cleanup;
done:
    cli_error(rc, "%s", err);
cleanup:
    free(text);
    free(out);
    free(ids);
    model_free(m);
    train_source_close(src);
    return rc;
}

const cli_command cmd_sample_def = {"sample", cmd_sample, "continue a prompt with a trained run's model",
     "usage: xover sample --run RUNDIR --prompt TEXT [--tokens N] [--temperature T]\n"
     "                    [--top-k K] [--steps S] [--seed N] [--cache DIR]\n\n"
     "Load RUNDIR's checkpoint and tokenizer and continue TEXT by N tokens (default 32).\n"
     "AR models write left to right; MDM models start the N positions masked and\n"
     "unmask them over S steps (default N), most confident first.\n\n"
     "  --temperature T  0 = greedy (default 1)\n"
     "  --top-k K        sample among the K likeliest tokens (default all)\n"
     "  --steps S        MDM unmasking steps\n"
     "  --seed N         sampling seed (default 0)\n"};
