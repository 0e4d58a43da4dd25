/*
 * cmd_rm.c — `xover rm SWEEP|KEY [--yes]`: delete a sweep (with the runs no
 * other sweep shares, their metrics and run directories) or one run. Asks
 * first; without a terminal to ask on, --yes is required.
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/exec/exec.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char **dirs;
    size_t n, cap;
} dirlist;

static int dir_row(void *ctx, int ncol, const db_value *v)
{
    dirlist *l = ctx;
    if (ncol < 1 || v[0].type != DB_TEXT) return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **d = realloc(l->dirs, cap * sizeof *d);
        if (!d) return 1;
        l->dirs = d;
        l->cap = cap;
    }
    l->dirs[l->n++] = strdup(v[0].s);
    return 0;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int confirm(const char *what, int yes)
{
    if (yes) return 1;
    if (!isatty(0)) {
        fprintf(stderr, "xover rm: would delete %s; pass --yes to confirm without a terminal\n", what);
        return 0;
    }
    fprintf(stderr, "delete %s? [y/N] ", what);
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return 0;
    return line[0] == 'y' || line[0] == 'Y';
}

/* A run directory's last part is its run key: 64 lowercase hex digits. */
static int is_run_dir_name(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/') b--;
    if (n - b != 64) return 0;
    for (size_t k = b; k < n; k++)
        if (!strchr("0123456789abcdef", dir[k])) return 0;
    return 1;
}

int cmd_rm(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, 0, 'd'}, {"yes", no_argument, 0, 'y'}, {0, 0, 0, 0}};
    const char *dbopt = NULL;
    int yes = 0, c;
    while ((c = cli_getopt("rm", argc, argv, "d:y", opts)) != -1) {
        if (c == 'd') dbopt = optarg;
        else if (c == 'y') yes = 1;
        else return XO_USAGE;
    }
    if (argc - optind != 1) return cli_usage_error("rm", "expected one sweep name or run key");
    const char *arg = argv[optind];
    char err[1024];
    db *d = db_open(cli_db_path(dbopt), DB_WRITE, err, sizeof err);
    if (!d) return cli_error(XO_USAGE, "%s", err);
    /* A sweep if one has that name (or it is a YAML file), else a run key. */
    long long sid = 0;
    char name[256], key[65], where[512];
    int is_sweep = db_sweep_id(d, arg, &sid) == DB_OK;
    int rc = XO_OK;
    if (!is_sweep && strstr(arg, ".y")) {
        rc = exec_find_sweep(d, arg, &sid, name, sizeof name);
        is_sweep = rc == XO_OK;
    }
    if (rc == XO_OK && !is_sweep) rc = exec_find_run(d, arg, key);
    if (rc != XO_OK) {
        db_close(d);
        return rc;
    }
    /* The runs to delete: a sweep's runs that no other sweep lists. */
    if (is_sweep)
        snprintf(where, sizeof where,
                 "id IN (SELECT run_id FROM sweep_runs WHERE sweep_id = %lld)"
                 " AND id NOT IN (SELECT run_id FROM sweep_runs WHERE sweep_id <> %lld)", sid, sid);
    else
        snprintf(where, sizeof where, "key = '%s'", key); /* key: hex from the database */
    char sql[1024];
    long long nruns = 0, npoints = 0;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE %s", where);
    db_query_int(d, sql, &nruns);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM metrics WHERE run_id IN (SELECT id FROM runs WHERE %s)", where);
    db_query_int(d, sql, &npoints);
    char what[512];
    if (is_sweep)
        snprintf(what, sizeof what, "sweep '%s' with %lld runs only it uses (%lld metric points) and their directories",
                 arg, nruns, npoints);
    else
        snprintf(what, sizeof what, "run %.12s (%lld metric points) and its directory", key, npoints);
    if (!confirm(what, yes)) {
        db_close(d);
        return yes || isatty(0) ? XO_OK : XO_USAGE;
    }
    dirlist dirs = {0};
    snprintf(sql, sizeof sql, "SELECT run_dir FROM runs WHERE %s AND run_dir IS NOT NULL", where);
    db_sink sink = {NULL, dir_row, &dirs};
    if (db_query(d, sql, &sink)) rc = cli_error(XO_FAILED, "%s", db_errmsg(d));
    if (rc == XO_OK && db_begin(d)) rc = cli_error(XO_FAILED, "%s", db_errmsg(d));
    if (rc == XO_OK) {
        snprintf(sql, sizeof sql, "DELETE FROM runs WHERE %s", where);
        int bad = db_exec(d, sql);
        if (!bad && is_sweep) {
            snprintf(sql, sizeof sql, "DELETE FROM sweeps WHERE id = %lld", sid);
            bad = db_exec(d, sql);
        }
        if (bad || db_commit(d)) {
            rc = cli_error(XO_FAILED, "%s", db_errmsg(d));
            db_rollback(d);
        }
    }
    /* Directories only once the database no longer points at them, and only
     * directories that are runs' (named by a run key): a database's run_dir
     * column is data, and data must not choose what gets deleted. */
    for (size_t i = 0; i < dirs.n; i++) {
        if (rc == XO_OK && !is_run_dir_name(dirs.dirs[i])) {
            cli_warn("not removing %s: not a run directory (its name is not a run key)", dirs.dirs[i]);
            free(dirs.dirs[i]);
            continue;
        }
        if (rc == XO_OK && access(dirs.dirs[i], F_OK) == 0 && nftw(dirs.dirs[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS))
            cli_warn("cannot remove %s", dirs.dirs[i]);
        free(dirs.dirs[i]);
    }
    free(dirs.dirs);
    if (rc == XO_OK) printf("deleted %s\n", what);
    db_close(d);
    return rc;
}

const cli_command cmd_rm_def = {"rm", cmd_rm, "delete a sweep or a run, with its metrics and run directories",
     "usage: xover rm SWEEP|KEY [--yes] [--db PATH]\n\n"
     "Delete a sweep (by name or YAML file) with the runs no other sweep uses, or one\n"
     "run (by key prefix): their rows, metric points and run directories. Asks\n"
     "first; without a terminal, --yes is required.\n\n"
     "  -y, --yes   do not ask\n"
     "  --db PATH   the database (default: $XOVER_DB, else ./xover.db)\n"};
