/*
 * cmd_sql.c — `xover sql "SELECT ..."`: one read-only query on the results
 * database, written as a table, CSV, JSON or Markdown.
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/db/db.h"
#include "orchestrator/util/util.h"
#include "orchestrator/cli/rowfmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a query may run unless --timeout says otherwise: long enough for
 * any honest query of a large results database, short enough that a
 * runaway recursive CTE ends on its own. */
#define SQL_DEFAULT_TIMEOUT 60.0

int cmd_sql(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"format", required_argument, 0, 'f'},
                                         {"timeout", required_argument, 0, 't'},
                                         {0, 0, 0, 0}};
    const unsigned formats = ROWFMT_ALL;
    const char *opt_db = NULL, *fmt_name = "table";
    double timeout = SQL_DEFAULT_TIMEOUT;
    int c;
    while ((c = cli_getopt("sql", argc, argv, "f:", opts)) != -1) {
        if (c == 'd') opt_db = optarg;
        else if (c == 'f') fmt_name = optarg;
        else if (c == 't') {
            if (!strcmp(optarg, "0")) timeout = 0; /* no limit */
            else if (cli_parse_duration("sql", "--timeout", optarg, 365 * 86400.0, &timeout)) return XO_USAGE;
        } else return XO_USAGE;
    }
    int kind = rowfmt_parse(fmt_name, formats);
    if (kind < 0) return rowfmt_bad_format("sql", fmt_name, formats);
    if (optind >= argc) return cli_usage_error("sql", "give the query: xover sql \"SELECT ...\"");
    if (argc - optind > 1)
        return cli_usage_error("sql", "one query, in one argument (quote it); '%s' is extra",
                               argv[optind + 1]);
    const char *path = cli_db_path(opt_db);

    char *from_stdin = NULL;
    const char *sql = argv[optind];
    if (!strcmp(sql, "-")) {
        if (!(sql = from_stdin = xo_read_stream(stdin, NULL))) return cli_error(XO_FAILED, "reading stdin failed");
    }

    char err[1024];
    db *d = db_open(path, DB_READONLY, err, sizeof err);
    if (!d) {
        free(from_stdin);
        return cli_error(XO_USAGE, "%s", err);
    }
    if (db_version(d) < db_schema_version())
        cli_warn("%s has schema version %d, older than this xover's %d: some views may be "
                 "missing; 'xover db init %s' upgrades it", path, db_version(d),
                 db_schema_version(), path);
    rowfmt *f = rowfmt_new((rowfmt_kind)kind, stdout);
    if (!f) {
        db_close(d);
        free(from_stdin);
        return cli_error(XO_FAILED, "out of memory");
    }
    db_sink sink = rowfmt_sink(f);
    db_set_timeout(d, timeout);
    int rc = db_query(d, sql, &sink), code = XO_OK;
    if (rc == DB_ETIMEOUT) {
        rowfmt_finish(f); /* the rows so far, then the message */
        code = cli_error(XO_FAILED, "%s (--timeout; give a longer one, or 0 for none)", db_errmsg(d));
    } else if (rc == DB_EDENIED) {
        code = cli_error(XO_USAGE, "%s; xover sql only reads (the sweep commands write the "
                         "database)", db_errmsg(d));
    } else if (rc) {
        code = cli_error(rc == DB_EIO ? XO_FAILED : XO_USAGE, "%s", db_errmsg(d));
    } else if (rowfmt_finish(f)) {
        code = cli_error(XO_FAILED, "writing the result failed");
    }
    rowfmt_free(f);
    db_close(d);
    free(from_stdin);
    return code;
}

const cli_command cmd_sql_def = {"sql", cmd_sql, "run a read-only SQL query on the results database",
     "usage: xover sql \"SELECT ...\" [--db PATH] [--format table|csv|json|jsonl|md]\n"
     "                 [--timeout DUR]\n\n"
     "Run one SQL statement on the results database, opened read-only: statements\n"
     "that write (INSERT, UPDATE, DELETE, CREATE, DROP, ATTACH, PRAGMA x = y), and\n"
     "functions that deal in raw pointers or load code (fts3_tokenizer,\n"
     "load_extension), are refused with exit code 2. Give - as the query to read it\n"
     "from stdin. A query still running after its time limit is stopped (exit 1).\n\n"
     "  --db PATH       the database (default: $XOVER_DB, else ./xover.db)\n"
     "  -f, --format F  table (default), csv, json (an array of objects), jsonl, md\n"
     "  --timeout DUR   stop the query after DUR (30s, 10m, 2h; default 60s; 0: never)\n\n"
     "Examples:\n"
     "  xover sql \"SELECT objective, unique_tokens, value FROM run_best\n"
     "             WHERE name = 'val_loss' ORDER BY value\"\n"
     "  xover sql \"SELECT status, count(*) FROM runs GROUP BY status\" --format md\n"};
