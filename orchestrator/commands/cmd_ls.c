/*
 * cmd_ls.c — `xover ls`: the sweeps in the database and how far each is.
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/exec/exec.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* One row per sweep: runs, done, progress, running, failed, still to do
 * (pending or interrupted), last run. */
static int ls_row(void *ctx, const db_summary *s)
{
    const long long *n = s->status;
    char progress[16];
    /* rounded half up, as SQLite's printf did when this was a query */
    snprintf(progress, sizeof progress, "%.0f%%",
             floor(100.0 * (double)n[DB_DONE] / (double)(s->runs > 0 ? s->runs : 1) + 0.5));
    db_value v[] = {{.type = DB_TEXT, .s = s->name, .len = strlen(s->name)},
                    {.type = DB_INT, .i = s->runs},
                    {.type = DB_INT, .i = n[DB_DONE]},
                    {.type = DB_TEXT, .s = progress, .len = strlen(progress)},
                    {.type = DB_INT, .i = n[DB_RUNNING]},
                    {.type = DB_INT, .i = n[DB_FAILED]},
                    {.type = DB_INT, .i = n[DB_PENDING] + n[DB_INTERRUPTED]},
                    {.type = s->updated_at ? DB_TEXT : DB_NULL, .s = s->updated_at,
                     .len = s->updated_at ? strlen(s->updated_at) : 0}};
    return rowfmt_row(ctx, 8, v);
}

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
    static const char *const cols[] = {"sweep", "runs", "done", "progress", "running",
                                       "failed", "todo", "updated"};
    rowfmt *f = rowfmt_new(ROWFMT_TABLE, stdout);
    int rc = f && !rowfmt_columns(f, 8, cols) ? db_sweep_summaries(d, ls_row, f) : DB_OK;
    rc = exec_table_done(d, f, rc);
    db_close(d);
    return rc;
}

const cli_command cmd_ls_def = {"ls", cmd_ls, "list the sweeps and their progress",
     "usage: xover ls [--db PATH]\n\n"
     "One line per sweep: runs, done, progress, running, failed, still to do, and\n"
     "when it was last run.\n\n"
     "  --db PATH   the database (default: $XOVER_DB, else ./xover.db)\n"};
