/*
 * cmd_rm.c — `xover rm SWEEP|KEY [--yes]`: delete a sweep (with the runs no
 * other sweep shares, their metrics and run directories) or one run. Asks
 * first; without a terminal to ask on, --yes is required. The deleting is
 * exec_rm's, under the driver's locks.
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/exec/exec.h"

#include <stdio.h>
#include <unistd.h>

typedef struct {
    int yes;
    int code; /* the exit code when the deletion was not confirmed */
} asking;

static int confirm(void *ctx, const char *what)
{
    asking *a = ctx;
    if (a->yes) return 1;
    if (!isatty(0)) {
        fprintf(stderr, "xover rm: would delete %s; pass --yes to confirm without a terminal\n", what);
        a->code = XO_USAGE;
        return 0;
    }
    fprintf(stderr, "delete %s? [y/N] ", what);
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return 0;
    return line[0] == 'y' || line[0] == 'Y';
}

int cmd_rm(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, 0, 'd'}, {"yes", no_argument, 0, 'y'}, {0, 0, 0, 0}};
    const char *dbopt = NULL;
    asking a = {0, XO_OK};
    int c;
    while ((c = cli_getopt("rm", argc, argv, "d:y", opts)) != -1) {
        if (c == 'd') dbopt = optarg;
        else if (c == 'y') a.yes = 1;
        else return XO_USAGE;
    }
    if (argc - optind != 1) return cli_usage_error("rm", "expected one sweep name or run key");
    int rc = exec_rm(cli_db_path(dbopt), argv[optind], confirm, &a);
    return rc != XO_OK ? rc : a.code;
}

const cli_command cmd_rm_def = {"rm", cmd_rm, "delete a sweep or a run, with its metrics and run directories",
     "usage: xover rm SWEEP|KEY [--yes] [--db PATH]\n\n"
     "Delete a sweep (by name or YAML file) with the runs no other sweep uses, or one\n"
     "run (by key prefix): their rows, metric points and run directories. Asks\n"
     "first; without a terminal, --yes is required. Refuses, naming the process,\n"
     "while a driver runs the sweep (or any sweep that lists the run) or a worker\n"
     "still trains one of the runs: nothing is deleted then.\n\n"
     "  -y, --yes   do not ask\n"
     "  --db PATH   the database (default: $XOVER_DB, else ./xover.db)\n"};
