/*
 * query.c — what status, ls, show and rm share: finding a sweep or a run
 * from what the user typed, and printing a query as a table.
 */
#include "orchestrator/exec/exec.h"

#include "orchestrator/cli/cli.h"
#include "orchestrator/cli/rowfmt.h"

#include <stdio.h>
#include <string.h>

int exec_print_query(db *d, const char *sql, FILE *out)
{
    rowfmt *f = rowfmt_new(ROWFMT_TABLE, out);
    if (!f) return cli_error(XO_FAILED, "out of memory");
    db_sink sink = rowfmt_sink(f);
    int rc = db_query(d, sql, &sink);
    int bad = rowfmt_finish(f);
    rowfmt_free(f);
    if (rc) return cli_error(XO_FAILED, "%s", db_errmsg(d));
    return bad ? cli_error(XO_FAILED, "cannot write the table") : XO_OK;
}

int exec_find_sweep(db *d, const char *arg, long long *id, char *name, size_t namelen)
{
    const char *nm = arg;
    sweep *s = NULL;
    size_t l = strlen(arg);
    if ((l > 5 && !strcmp(arg + l - 5, ".yaml")) || (l > 4 && !strcmp(arg + l - 4, ".yml"))) {
        char err[1024];
        s = sweep_load(arg, err, sizeof err);
        if (!s) return cli_error(XO_USAGE, "%s", err);
        nm = sweep_name(s);
    }
    snprintf(name, namelen, "%s", nm);
    int rc = db_sweep_id(d, nm, id);
    sweep_free(s);
    if (rc == DB_ENOTFOUND) return cli_error(XO_USAGE, "no sweep named '%s' in the database (xover ls lists them)", name);
    if (rc) return cli_error(XO_FAILED, "%s", db_errmsg(d));
    return XO_OK;
}

typedef struct {
    char key[65];
    int n;
} keyhits;

static int key_row(void *ctx, int ncol, const db_value *v)
{
    keyhits *k = ctx;
    if (ncol >= 1 && v[0].type == DB_TEXT) {
        if (!k->n) snprintf(k->key, sizeof k->key, "%s", v[0].s);
        k->n++;
    }
    return 0;
}

int exec_find_run(db *d, const char *prefix, char key[65])
{
    size_t l = strlen(prefix);
    if (!l || l > 64 || strspn(prefix, "0123456789abcdef") != l)
        return cli_error(XO_USAGE, "'%s' is not a run key (lowercase hex, a prefix will do)", prefix);
    char sql[256];
    /* prefix is checked hex above, so it can sit in the SQL text */
    snprintf(sql, sizeof sql, "SELECT key FROM runs WHERE key >= '%s' AND key < '%s~' ORDER BY key LIMIT 2", prefix,
             prefix);
    keyhits k = {"", 0};
    db_sink sink = {NULL, key_row, &k};
    if (db_query(d, sql, &sink)) return cli_error(XO_FAILED, "%s", db_errmsg(d));
    if (!k.n) return cli_error(XO_USAGE, "no run has a key starting with %s", prefix);
    if (k.n > 1) return cli_error(XO_USAGE, "more than one run has a key starting with %s; give more digits", prefix);
    memcpy(key, k.key, 65);
    return XO_OK;
}
