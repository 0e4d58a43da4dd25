/*
 * cmd_status.c — `xover status [SWEEP]`: where runs stand. Without SWEEP,
 * the whole database by status and by sweep; with it (a name or its YAML
 * file), that sweep's counts and every run that is not done yet, with why
 * the failed ones failed.
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/exec/exec.h"

#include <stdio.h>
#include <string.h>

int cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'}, {0, 0, 0, 0}};
    const char *dbopt = NULL;
    int c;
    while ((c = cli_getopt("status", argc, argv, "d:", opts)) != -1) {
        if (c == 'd') dbopt = optarg;
        else return XO_USAGE;
    }
    if (argc - optind > 1) return cli_usage_error("status", "expected at most one sweep");
    char err[1024];
    db *d = db_open(cli_db_path(dbopt), DB_READONLY, err, sizeof err);
    if (!d) return cli_error(XO_USAGE, "%s", err);
    long long counts[DB_NSTATUS], id = 0;
    char name[256] = "";
    int rc = XO_OK;
    if (optind < argc) rc = exec_find_sweep(d, argv[optind], &id, name, sizeof name);
    if (rc == XO_OK && db_status_counts(d, id, counts)) rc = cli_error(XO_FAILED, "%s", db_errmsg(d));
    if (rc == XO_OK) {
        long long total = 0;
        for (int s = 0; s < DB_NSTATUS; s++) total += counts[s];
        printf("%s%s: %lld runs:", id ? "sweep " : "database", id ? name : "", total);
        for (int s = 0; s < DB_NSTATUS; s++) printf(" %lld %s%s", counts[s], db_status_names[s], s + 1 < DB_NSTATUS ? "," : "\n");
        char sql[1024];
        if (!id) {
            printf("\n");
            rc = exec_print_query(d,
                "SELECT s.name AS sweep, count(r.id) AS runs,"
                " sum(r.status = 'done') AS done, sum(r.status = 'running') AS running,"
                " sum(r.status = 'failed') AS failed, sum(r.status = 'interrupted') AS interrupted,"
                " sum(r.status = 'pending') AS pending"
                " FROM sweeps s LEFT JOIN sweep_runs sr ON sr.sweep_id = s.id LEFT JOIN runs r ON r.id = sr.run_id"
                " GROUP BY s.id ORDER BY s.name", stdout);
        } else if (total > counts[DB_DONE]) {
            printf("\n");
            snprintf(sql, sizeof sql,
                     "SELECT substr(r.key, 1, 12) AS key, r.status, r.objective, r.model, r.unique_tokens,"
                     " r.quality, r.epochs, r.seed, r.attempts,"
                     " (SELECT max(step) FROM metrics m WHERE m.run_id = r.id) AS step,"
                     " substr(replace(r.error, char(10), ' '), 1, 100) AS error"
                     " FROM sweep_runs sr JOIN runs r ON r.id = sr.run_id"
                     " WHERE sr.sweep_id = %lld AND r.status <> 'done' ORDER BY r.status, r.key", id);
            rc = exec_print_query(d, sql, stdout);
        }
    }
    db_close(d);
    return rc;
}

const cli_command cmd_status_def = {"status", cmd_status, "where runs stand: the whole database, or one sweep's unfinished runs",
     "usage: xover status [SWEEP] [--db PATH]\n\n"
     "Without SWEEP: runs per status, and per sweep. With SWEEP (its name or its\n"
     "YAML file): its counts and every run not done yet, with its last step and,\n"
     "for failed runs, why.\n\n"
     "  --db PATH   the database (default: $XOVER_DB, else ./xover.db)\n"};
