/*
 * pairs_query.c — the options and the loading that crossover, table and
 * plot share (commands.h).
 */
#include "orchestrator/commands/commands.h"

#include "orchestrator/cli/cli.h"

#include <stdio.h>
#include <string.h>

int pairs_query_option(pairs_query *q, int c, const char *arg)
{
    switch (c) {
    case 'd': q->db = arg; return 1;
    case 's': q->sweep = arg; return 1;
    case 'm': q->metric = arg; return 1;
    case 'x': q->x = arg; return 1;
    case 'A': q->annealed = 1; return 1;
    default: return 0;
    }
}

int pairs_query_check_metric(const char *metric)
{
    switch (db_metric_kind_of(metric)) {
    case DB_KIND_SIGNAL:
        return cli_error(XO_USAGE, "--metric %s: '%s' is a training signal, not a metric (schema.sql, metric_rule): "
                                   "only metrics such as val_loss and mc_acc cross", metric, metric);
    case DB_KIND_ERROR:
        return cli_error(XO_USAGE, "--metric %s: '%s' is a standard error, not a metric (schema.sql, metric_rule): "
                                   "it is read beside its metric (--metric %.*s)", metric, metric,
                         (int)(strlen(metric) - 3), metric);
    default: return XO_OK;
    }
}

int pairs_query_load(const pairs_query *q, an_xaxis x, int matched, an_pairs *out)
{
    out->p = NULL;
    out->n = 0;
    int code = pairs_query_check_metric(q->metric);
    if (code) return code;
    const char *path = cli_db_path(q->db);
    char err[1024];
    db *d = db_open(path, DB_READONLY, err, sizeof err);
    if (!d) return cli_error(XO_USAGE, "%s", err);
    long long sweep_id = 0;
    if (q->sweep && db_sweep_id(d, q->sweep, &sweep_id)) {
        db_close(d);
        return cli_error(XO_USAGE, "no sweep named '%s' in %s", q->sweep, path);
    }
    int rc = matched       ? an_pairs_load_matched(d, sweep_id, q->metric, out, err, sizeof err)
             : q->annealed ? an_pairs_load_annealed(d, sweep_id, q->metric, x, out, err, sizeof err)
                           : an_pairs_load(d, sweep_id, q->metric, x, out, err, sizeof err);
    db_close(d);
    if (rc) return cli_error(rc == DB_EIO ? XO_FAILED : XO_USAGE, "%s", err);
    return XO_OK;
}

void pairs_query_say_empty(const char *cmd, const pairs_query *q, const char *xname, const char *extra)
{
    fprintf(stderr, "xover %s: no AR/MDM pair%s of %s against %s%s%s%s%s: nothing to show (a pair is an AR and "
                    "an MDM run whose configs differ only in objective, seed and train.early_stop_margin, "
                    "both with points of the metric)\n",
            cmd, q->annealed ? " of annealed points" : "", q->metric ? q->metric : "any metric", xname,
            q->sweep ? " in sweep '" : "", q->sweep ? q->sweep : "", q->sweep ? "'" : "", extra ? extra : "");
}
