/*
 * cmd_collect.c — `xover collect SWEEP`: ingest what a sweep's Slurm tasks
 * wrote in their run directories and record how they ended (after
 * `xover run --backend slurm --no-wait`, or a driver that stopped
 * following). Idempotent (orchestrator/exec/slurm_collect.c).
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/exec/exec.h"

int cmd_collect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"wait", no_argument, 0, 'w'}, {"db", required_argument, 0, 'd'}, {0, 0, 0, 0}};
    const char *dbopt = NULL;
    int wait = 0, c;
    while ((c = cli_getopt("collect", argc, argv, "wd:", opts)) != -1) {
        if (c == 'w') wait = 1;
        else if (c == 'd') dbopt = optarg;
        else return XO_USAGE;
    }
    if (optind + 1 != argc) return cli_usage_error("collect", "expected one sweep (its name or its YAML file)");
    return exec_slurm_collect(cli_db_path(dbopt), argv[optind], wait);
}

const cli_command cmd_collect_def = {"collect", cmd_collect, "ingest what a sweep's Slurm tasks wrote, and how they ended",
     "usage: xover collect SWEEP [--wait] [--db PATH]\n\n"
     "For the runs of SWEEP (its name or YAML file) submitted with\n"
     "`xover run --backend slurm` and not yet ended: ingest the metrics their run\n"
     "directories hold, and record which started, finished, failed or were interrupted,\n"
     "with the scheduler's reason (squeue, or sacct when the cluster keeps accounting).\n"
     "Safe to repeat: nothing is stored twice. Exit 1 when some run failed.\n\n"
     "  --wait      keep following until every task has ended (as `xover run` does)\n"
     "  --db PATH   the database (default: $XOVER_DB, else ./xover.db)\n"};
