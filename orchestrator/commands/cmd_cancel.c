/*
 * cmd_cancel.c — `xover cancel SWEEP`: scancel the sweep's Slurm job arrays
 * that still have tasks queued or running, then record their runs
 * (orchestrator/exec/slurm_collect.c).
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/exec/exec.h"

int cmd_cancel(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'}, {0, 0, 0, 0}};
    const char *dbopt = NULL;
    int c;
    while ((c = cli_getopt("cancel", argc, argv, "d:", opts)) != -1) {
        if (c == 'd') dbopt = optarg;
        else return XO_USAGE;
    }
    if (optind + 1 != argc) return cli_usage_error("cancel", "expected one sweep (its name or its YAML file)");
    return exec_slurm_cancel(cli_db_path(dbopt), argv[optind]);
}

const cli_command cmd_cancel_def = {"cancel", cmd_cancel, "cancel a sweep's Slurm job arrays",
     "usage: xover cancel SWEEP [--db PATH]\n\n"
     "scancel the job arrays of SWEEP that still have tasks queued or running, wait for\n"
     "them to stop (running trainers checkpoint on Slurm's SIGTERM), and record their\n"
     "runs: interrupted, or pending when they never started. `xover run SWEEP.yaml\n"
     "--backend slurm` later resubmits only what is not done, resuming checkpoints.\n\n"
     "  --db PATH   the database (default: $XOVER_DB, else ./xover.db)\n"};
