/*
 * cmd_train.c — `xover train --config run.json --out RUNDIR`: train one run.
 *
 * The command the sweep driver launches for every run. The training loop
 * and what it writes to RUNDIR (a contract: config.json, model.json,
 * metrics.jsonl, checkpoint, log, status) are the run module's
 * (orchestrator/run/run.h, train_loop.c); this file parses the arguments.
 *
 * Exit codes: 0 done; 1 failed (non-finite loss, I/O); 2 bad usage, config or
 * data; 75 a full disk (interrupted, resumable: RUN_EXIT_NO_SPACE); 130
 * interrupted (checkpoint written).
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/run/run.h"

#include <stdlib.h>

int cmd_train(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"out", required_argument, 0, 'o'},
                                         {"cache", required_argument, 0, 'C'},
                                         {"threads", required_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    run_train_opts o = {.threads = 1};
    long long threads = 1;
    const char *env_threads = getenv("XOVER_THREADS");
    if (env_threads && *env_threads) {
        char *end;
        threads = strtoll(env_threads, &end, 10);
        if (*end || threads < 1 || threads > 256)
            return cli_usage_error("train", "XOVER_THREADS must be 1..256, not '%s'", env_threads);
        o.threads = (int)threads;
    }
    int c;
    cli_reset_getopt();
    while ((c = cli_getopt("train", argc, argv, "", opts)) != -1) {
        switch (c) {
        case 'c': o.config = optarg; break;
        case 'o': o.dir = optarg; break;
        case 'C': o.cache = optarg; break;
        case 'j':
            if (cli_parse_long("train", "--threads", optarg, &threads)) return XO_USAGE;
            if (threads < 1 || threads > 256) return cli_usage_error("train", "--threads must be 1..256, not %lld", threads);
            o.threads = (int)threads;
            break;
        default: return XO_USAGE;
        }
    }
    if (optind < argc) return cli_usage_error("train", "unexpected argument '%s'", argv[optind]);
    if (!o.config) return cli_usage_error("train", "--config is required");
    if (!o.dir) return cli_usage_error("train", "--out is required");
    return run_train(&o);
}

const cli_command cmd_train_def = {"train", cmd_train, "train one run (AR or MDM) from its config into a run directory",
     "usage: xover train --config run.json --out RUNDIR [--cache DIR] [--threads N]\n\n"
     "Train the run a resolved run config describes (docs/run-config.md) and write\n"
     "RUNDIR/metrics.jsonl (one JSON object per line: step, tokens, epoch, flops and\n"
     "train_loss/lr/grad_norm or val_loss/mc_acc), RUNDIR/checkpoint, RUNDIR/model.json\n"
     "(parameters, FLOPs per token), RUNDIR/log and RUNDIR/status (running, done,\n"
     "failed or interrupted). If RUNDIR/checkpoint exists the run resumes from it,\n"
     "bit for bit. Ctrl-C (or SIGTERM) checkpoints and exits 130; a full disk stops\n"
     "it at the failed write, its last checkpoint whole, status interrupted, exit 75.\n\n"
     "Annealed branches (docs/sweep.md): a trunk (train.anneal_at) writes each\n"
     "branch's fork checkpoint to RUNDIR/forks/; a branch (train.branch_of) with no\n"
     "checkpoint of its own starts from its trunk's, beside RUNDIR (../TRUNK_KEY).\n\n"
     "  --config FILE   the run config (JSON)\n"
     "  --out DIR       the run directory (created if missing)\n"
     "  --cache DIR     tokenizer and token caches (default $XOVER_CACHE or .cache/xover)\n"
     "  --threads N     threads for this run (default $XOVER_THREADS, else 1; a Slurm\n"
     "                  worker sets it to the task's CPUs). The batch's sequences are\n"
     "                  shared among them; the results are the same for any N.\n"};
