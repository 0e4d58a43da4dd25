/*
 * query.c — what status, ls, show and rm share: finding a sweep or a run
 * from what the user typed, and ending a table of rows from the database.
 */
#include "orchestrator/exec/exec.h"

#include "orchestrator/cli/cli.h"

#include <stdio.h>
#include <string.h>

int exec_table_done(db *d, rowfmt *f, int rc)
{
    int bad = f ? rowfmt_finish(f) : -1;
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

int exec_find_run(db *d, const char *prefix, char key[65])
{
    size_t l = strlen(prefix);
    if (!l || l > 64 || strspn(prefix, "0123456789abcdef") != l)
        return cli_error(XO_USAGE, "'%s' is not a run key (lowercase hex, a prefix will do)", prefix);
    int n = 0;
    if (db_run_key_prefix(d, prefix, key, &n)) return cli_error(XO_FAILED, "%s", db_errmsg(d));
    if (!n) return cli_error(XO_USAGE, "no run has a key starting with %s", prefix);
    if (n > 1) return cli_error(XO_USAGE, "more than one run has a key starting with %s; give more digits", prefix);
    return XO_OK;
}
