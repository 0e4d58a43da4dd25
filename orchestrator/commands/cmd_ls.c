/*
 * cmd_ls.c — `xover ls`: the sweeps in the database and how far each is.
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/exec/exec.h"

#include <stdio.h>

int cmd_ls(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'}, {0, 0, 0, 0}};
    const char *dbopt = NULL;
    int c;
    while ((c = cli_getopt("ls", argc, argv, "d:", opts)) != -1) {
        if (c == 'd') dbopt = optarg;
        else return XO_USAGE;
    }
    if (optind < argc) return cli_usage_error("ls", "unexpected argument '%s'", argv[optind]);
    char err[1024];
    db *d = db_open(cli_db_path(dbopt), DB_READONLY, err, sizeof err);
    if (!d) return cli_error(XO_USAGE, "%s", err);
    int rc = exec_print_query(d,
        "SELECT s.name AS sweep, count(r.id) AS runs, sum(r.status = 'done') AS done,"
        " printf('%.0f%%', 100.0 * sum(r.status = 'done') / max(count(r.id), 1)) AS progress,"
        " sum(r.status = 'running') AS running, sum(r.status = 'failed') AS failed,"
        " sum(r.status IN ('pending', 'interrupted')) AS todo, s.updated_at AS updated"
        " FROM sweeps s LEFT JOIN sweep_runs sr ON sr.sweep_id = s.id LEFT JOIN runs r ON r.id = sr.run_id"
        " GROUP BY s.id ORDER BY s.name", stdout);
    db_close(d);
    return rc;
}

const cli_command cmd_ls_def = {"ls", cmd_ls, "list the sweeps and their progress",
     "usage: xover ls [--db PATH]\n\n"
     "One line per sweep: runs, done, progress, running, failed, still to do, and\n"
     "when it was last run.\n\n"
     "  --db PATH   the database (default: $XOVER_DB, else ./xover.db)\n"};
