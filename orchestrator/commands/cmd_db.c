/*
 * cmd_db.c — `xover db init [PATH]` and `xover db check`: create or upgrade
 * the results database, and check that it is sound.
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/db/db.h"

#include <stdio.h>
#include <string.h>

static int db_init(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'}, {0, 0, 0, 0}};
    const char *opt_db = NULL;
    int c;
    while ((c = cli_getopt("db init", argc, argv, "", opts)) != -1) {
        if (c == 'd') opt_db = optarg;
        else return XO_USAGE;
    }
    if (argc - optind > 1) return cli_usage_error("db", "db init takes one PATH, not %d", argc - optind);
    if (optind < argc && opt_db)
        return cli_usage_error("db", "give the database as PATH or as --db, not both");
    const char *path = optind < argc ? argv[optind] : cli_db_path(opt_db);

    char err[1024];
    db *d = db_open(path, DB_WRITE, err, sizeof err);
    if (!d) return cli_error(XO_USAGE, "%s", err);
    int found = db_version_found(d), now = db_version(d);
    if (found == 0) printf("created %s (schema version %d)\n", path, now);
    else if (found < now) printf("upgraded %s from schema version %d to %d\n", path, found, now);
    else printf("%s is up to date (schema version %d)\n", path, now);
    db_close(d);
    return XO_OK;
}

static int db_checkcmd(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'}, {0, 0, 0, 0}};
    const char *opt_db = NULL;
    int c;
    while ((c = cli_getopt("db check", argc, argv, "", opts)) != -1) {
        if (c == 'd') opt_db = optarg;
        else return XO_USAGE;
    }
    if (optind < argc) return cli_usage_error("db", "unexpected argument '%s'", argv[optind]);
    const char *path = cli_db_path(opt_db);

    char err[1024];
    int damaged = 0;
    db *d = db_open_check(path, err, sizeof err, &damaged);
    if (!d) {
        /* Damage is what check is for (exit 1); a wrong path is usage (2). */
        if (damaged) {
            printf("database   %s\nintegrity  FAILED\n%s\n", path, err);
            return cli_error(XO_FAILED, "%s is damaged (see above)", path);
        }
        return cli_error(XO_USAGE, "%s", err);
    }
    db_report r;
    int rc = db_check(d, &r);
    if (rc) {
        int code = rc == DB_EIO ? XO_FAILED : XO_USAGE;
        cli_error(code, "checking %s: %s", path, db_errmsg(d));
        db_close(d);
        return code;
    }
    printf("database   %s\n", path);
    printf("schema     version %d%s\n", db_version(d),
           db_version(d) < db_schema_version() ? " (older than this xover's; "
                                                 "'xover db init' upgrades it)" : "");
    if (!r.ok) {
        printf("integrity  FAILED\n%s", r.problems);
        db_close(d);
        return cli_error(XO_FAILED, "%s is damaged (see above)", path);
    }
    printf("integrity  ok\n");
    printf("sweeps     %lld\n", r.sweeps);
    printf("runs       %lld", r.runs);
    for (int s = 0; s < DB_NSTATUS; s++)
        printf("%s%s %lld", s ? ", " : " (", db_status_names[s], r.status[s]);
    printf(")\n");
    printf("metrics    %lld points in %lld series\n", r.metrics, r.series);
    db_close(d);
    return XO_OK;
}

int cmd_db(int argc, char **argv)
{
    static const char *const subs[] = {"init", "check", NULL};
    if (argc < 2) return cli_usage_error("db", "db needs a subcommand: init or check");
    const char *sub = argv[1];
    if (!strcmp(sub, "init")) return db_init(argc - 1, argv + 1);
    if (!strcmp(sub, "check")) return db_checkcmd(argc - 1, argv + 1);
    const char *hint = cli_did_you_mean(sub, subs);
    if (hint) return cli_usage_error("db", "unknown subcommand '%s'; did you mean '%s'?", sub, hint);
    return cli_usage_error("db", "unknown subcommand '%s' (init or check)", sub);
}

const cli_command cmd_db_def = {"db", cmd_db, "create, upgrade or check the results database",
     "usage: xover db init [PATH]\n"
     "       xover db check [--db PATH]\n\n"
     "init   create the results database at PATH (default: --db, $XOVER_DB, ./xover.db),\n"
     "       or upgrade an existing one to this xover's schema; safe to repeat.\n"
     "check  run SQLite's integrity and foreign-key checks and count sweeps, runs by\n"
     "       status, and metric points. Exit 1 if the database is damaged (cut off,\n"
     "       malformed), 2 if PATH is no xover database (missing, not a regular file).\n\n"
     "The schema (tables sweeps, runs, sweep_runs, metrics; views run_final,\n"
     "run_best, curves, metric_series) is documented in schema.sql.\n"};
