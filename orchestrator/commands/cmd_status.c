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

/* One row per sweep: runs, then the count of each status. */
static int status_row(void *ctx, const db_summary *s)
{
    const long long *n = s->status;
    db_value v[] = {{.type = DB_TEXT, .s = s->name, .len = strlen(s->name)},
                    {.type = DB_INT, .i = s->runs},
                    {.type = DB_INT, .i = n[DB_DONE]},        {.type = DB_INT, .i = n[DB_RUNNING]},
                    {.type = DB_INT, .i = n[DB_FAILED]},      {.type = DB_INT, .i = n[DB_INTERRUPTED]},
                    {.type = DB_INT, .i = n[DB_PENDING]}};
    return rowfmt_row(ctx, 7, v);
}

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
        /* pending runs with a Slurm job id are queued there: said apart */
        char sql[300];
        long long queued = 0;
        snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE status = 'pending' AND job_id IS NOT NULL AND "
                                  "(%lld <= 0 OR id IN (SELECT run_id FROM sweep_runs WHERE sweep_id = %lld))", id, id);
        if (db_query_int(d, sql, &queued)) queued = 0;
        for (int s = 0; s < DB_NSTATUS; s++) {
            printf(" %lld %s", counts[s], db_status_names[s]);
            if (s == DB_PENDING && queued) printf(" (%lld queued in Slurm)", queued);
            printf("%s", s + 1 < DB_NSTATUS ? "," : "\n");
        }
        if (!id || total > counts[DB_DONE]) {
            printf("\n");
            static const char *const cols[] = {"sweep", "runs", "done", "running", "failed",
                                               "interrupted", "pending"};
            rowfmt *f = rowfmt_new(ROWFMT_TABLE, stdout);
            db_sink sink = rowfmt_sink(f);
            int q = DB_OK;
            if (f && !id) q = rowfmt_columns(f, 7, cols) ? DB_OK : db_sweep_summaries(d, status_row, f);
            else if (f) q = db_sweep_unfinished(d, id, &sink);
            rc = exec_table_done(d, f, q);
        }
    }
    db_close(d);
    return rc;
}

const cli_command cmd_status_def = {"status", cmd_status, "where runs stand: the whole database, or one sweep's unfinished runs",
     "usage: xover status [SWEEP] [--db PATH]\n\n"
     "Without SWEEP: runs per status, and per sweep. With SWEEP (its name or its\n"
     "YAML file): its counts and every run not done yet, with its last step and,\n"
     "for failed runs, why. Runs submitted to Slurm show their task (job 1234_7);\n"
     "pending ones are 'queued' there, running ones run in a task.\n\n"
     "  --db PATH   the database (default: $XOVER_DB, else ./xover.db)\n"};
