/*
 * cmd_db.c — `xover db init [PATH]` and `xover db check`: create or upgrade
 * the results database, and check that it is sound.
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/db/db.h"
#include "orchestrator/exec/exec.h"

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
    /* a database some other tool wrote metrics to: its crossover cache made
     * again (an upgrade has just made it) */
    if (found > 0 && found == now && db_crossover_cache_rebuild(d)) {
        cli_warn("rebuilding the crossover cache: %s", db_errmsg(d));
        db_close(d);
        return XO_FAILED;
    }
    /* runs ingested before the item outcomes were kept: theirs from the
     * run directories (cheap when there are none to fill) */
    long long filled = 0;
    if (exec_backfill_outcomes(d, &filled, err, sizeof err)) {
        cli_warn("filling cloze outcomes: %s", err);
        db_close(d);
        return XO_FAILED;
    }
    if (filled) printf("cloze item outcomes read from the run directories of %lld runs\n", filled);
    db_close(d);
    return XO_OK;
}

static void shortfall(void *ctx, const char *key, long long in_db, long long in_file)
{
    int *n = ctx;
    if (!(*n)++) printf("SHORTFALL  done runs whose metrics.jsonl holds more points than the database:\n");
    printf("  %.12s  %lld of %lld points\n", key, in_db, in_file);
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
    /* A run recorded done with points missing (an ingest that failed on a
     * full disk, by an xover before issue 17) is damage too. */
    exec_points_report pr;
    int shorts = 0;
    if (exec_compare_points(d, shortfall, &shorts, &pr, err, sizeof err)) {
        db_close(d);
        return cli_error(XO_FAILED, "comparing with the run directories: %s", err);
    }
    printf("files      %lld done runs compared with their metrics.jsonl: %s", pr.checked,
           pr.short_runs ? "SHORTFALL (above)" : "every point is in the database");
    if (pr.unchecked) printf(" (%lld not here to compare)", pr.unchecked);
    printf("\n");
    db_close(d);
    if (pr.short_runs)
        return cli_error(XO_FAILED, "%s: %lld done runs lack metric points their metrics.jsonl holds", path,
                         pr.short_runs);
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
     "       or upgrade an existing one to this xover's schema; safe to repeat. On\n"
     "       an up-to-date database it computes the crossover cache again (the rows\n"
     "       the crossover view reads, which xover keeps as it stores points): for\n"
     "       a database whose metrics another tool wrote. Runs whose cloze item\n"
     "       outcomes (mc_correct) are not stored yet, ingested before the database\n"
     "       kept them, get them from their run directories' metrics.jsonl.\n"
     "check  run SQLite's integrity and foreign-key checks, count sweeps, runs by\n"
     "       status and metric points, and compare each done run's points with its\n"
     "       run directory's metrics.jsonl (where that is here). Exit 1 if the\n"
     "       database is damaged (cut off, malformed) or a done run lacks points its\n"
     "       file holds; 2 if PATH is no xover database (missing, not a regular file).\n\n"
     "The schema (tables sweeps, runs, sweep_runs, metrics; views run_final,\n"
     "run_best, curves, metric_series) is documented in schema.sql.\n"};
