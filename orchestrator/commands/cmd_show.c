/*
 * cmd_show.c — `xover show KEY`: one run: status, axes, paths, why it
 * failed, its final and best metrics, and its config.
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/exec/exec.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

static int print_run(void *ctx, const db_run_info *r)
{
    (void)ctx;
    printf("run %s\n", r->key);
    printf("  status     %s (attempts %d)\n", r->status, r->attempts);
    printf("  axes       objective=%s model=%s unique_tokens=%lld quality=%s epochs=%g seed=%lld\n",
           r->objective ? r->objective : "-", r->model ? r->model : "-", r->unique_tokens,
           r->quality ? r->quality : "-", r->epochs, r->seed);
    if (r->params > 0) printf("  params     %lld\n", r->params);
    printf("  run dir    %s\n", r->run_dir ? r->run_dir : "(not started)");
    if (r->started_at) printf("  started    %s on %s (pid %lld)\n", r->started_at, r->host ? r->host : "?", r->pid);
    if (r->finished_at) printf("  finished   %s\n", r->finished_at);
    if (r->build_id) printf("  build      %s\n", r->build_id);
    if (r->error) printf("  error      %s\n", r->error);
    if (r->log_tail) printf("  log tail:\n%s\n", r->log_tail);
    json_error_t e;
    json_t *cfg = json_loads(r->config, 0, &e);
    char *pretty = cfg ? json_dumps(cfg, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    printf("  config:\n%s\n", pretty ? pretty : r->config);
    free(pretty);
    json_decref(cfg);
    return 0;
}

int cmd_show(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'}, {0, 0, 0, 0}};
    const char *dbopt = NULL;
    int c;
    while ((c = cli_getopt("show", argc, argv, "d:", opts)) != -1) {
        if (c == 'd') dbopt = optarg;
        else return XO_USAGE;
    }
    if (argc - optind != 1) return cli_usage_error("show", "expected one run key");
    char err[1024], key[65];
    db *d = db_open(cli_db_path(dbopt), DB_READONLY, err, sizeof err);
    if (!d) return cli_error(XO_USAGE, "%s", err);
    int rc = exec_find_run(d, argv[optind], key);
    if (rc == XO_OK && db_run_by_key(d, key, print_run, NULL)) rc = cli_error(XO_FAILED, "%s", db_errmsg(d));
    if (rc == XO_OK) {
        printf("\nfinal metrics:\n");
        rowfmt *f = rowfmt_new(ROWFMT_TABLE, stdout);
        db_sink sink = rowfmt_sink(f);
        rc = exec_table_done(d, f, f ? db_run_final_metrics(d, key, &sink) : DB_OK);
    }
    if (rc == XO_OK) {
        printf("\nbest:\n");
        rowfmt *f = rowfmt_new(ROWFMT_TABLE, stdout);
        db_sink sink = rowfmt_sink(f);
        rc = exec_table_done(d, f, f ? db_run_best_metrics(d, key, &sink) : DB_OK);
    }
    db_close(d);
    return rc;
}

const cli_command cmd_show_def = {"show", cmd_show, "one run: status, axes, paths, error, final and best metrics, config",
     "usage: xover show KEY [--db PATH]\n\n"
     "KEY is a run key or any unambiguous prefix of it (xover plan and xover status\n"
     "show 12 digits).\n\n"
     "  --db PATH   the database (default: $XOVER_DB, else ./xover.db)\n"};
