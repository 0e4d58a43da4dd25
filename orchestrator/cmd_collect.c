/*
 * cmd_collect.c — `xover collect SWEEP`: ingest what a sweep's Slurm tasks
 * wrote in their run directories and record how they ended (after
 * `xover run --backend slurm --no-wait`, or a driver that stopped
 * following). Idempotent (orchestrator/exec/slurm_collect.c).
 */
#include "orchestrator/cli.h"
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
