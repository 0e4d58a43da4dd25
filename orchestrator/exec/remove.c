/*
 * remove.c — `xover rm` under the driver's rules. The driver is the one
 * writer of a sweep: it holds the sweep lock (guard.c) while it lives, and
 * each run's lock (run/run.h rundir_lock) while a worker trains it. rm deletes only under the same
 * locks: the lock of every sweep whose runs it deletes, and the lock of
 * every run directory it removes. While a driver holds one it refuses,
 * naming the holder, and deletes nothing; and while it holds them no driver
 * can start the runs it is deleting.
 */
#include "orchestrator/exec/internal.h"

#include "orchestrator/cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What rm holds and what it will delete. */
typedef struct {
    const char *db_path;
    int *locks;          /* sweep and run locks, released at the end */
    size_t nlocks, caplocks;
    char **keys, **dirs; /* the runs to delete (dirs[i] may be NULL) */
    size_t nruns, capruns;
    int refused;         /* an XO_* code once a lock was refused */
    char what[300];      /* "sweep 'x'", "run 0123456789ab": for messages */
} rm_state;

static int hold(rm_state *s, int fd)
{
    int *l = xo_grow(s->locks, &s->caplocks, s->nlocks + 1, sizeof *l, 8);
    if (!l) {
        xo_unlock(fd);
        return -1;
    }
    s->locks = l;
    s->locks[s->nlocks++] = fd;
    return 0;
}

/* Take the lock of sweep `name`, or refuse naming its holder. */
static int lock_sweep(void *ctx, const char *name)
{
    rm_state *s = ctx;
    char err[1024];
    int fd = guard_sweep_lock(s->db_path, name, err, sizeof err);
    if (fd < 0) {
        s->refused = cli_error(XO_FAILED, "cannot delete %s: %s", s->what, err);
        return 1;
    }
    return hold(s, fd) ? (s->refused = cli_error(XO_FAILED, "out of memory"), 1) : 0;
}

/* One run to delete (db_rm_delete, inside its transaction): remember it,
 * and take the lock of its directory, which a worker still training it
 * holds (its driver gone, or a Slurm task). Directories that are not a
 * run's (the run_dir column is data) are never locked nor removed. */
static int take_run(void *ctx, long long run_id, const char *key, const char *run_dir)
{
    (void)run_id;
    rm_state *s = ctx;
    /* keys and dirs side by side, one capacity: capruns moves once both grew */
    size_t ck = s->capruns, cd = s->capruns;
    char **k = xo_grow(s->keys, &ck, s->nruns + 1, sizeof *k, 16);
    if (k) s->keys = k;
    char **d = k ? xo_grow(s->dirs, &cd, s->nruns + 1, sizeof *d, 16) : NULL;
    if (!d) return (s->refused = cli_error(XO_FAILED, "out of memory")), 1;
    s->dirs = d;
    s->capruns = cd;
    s->dirs[s->nruns] = run_dir ? strdup(run_dir) : NULL;
    if (!(s->keys[s->nruns] = strdup(key ? key : ""))) {
        free(s->dirs[s->nruns]);
        return (s->refused = cli_error(XO_FAILED, "out of memory")), 1;
    }
    const char *dir = s->dirs[s->nruns++];
    if (!dir || !rundir_is_run_of(dir, key) || access(dir, F_OK) != 0) return 0;
    char err[1024];
    int fd = rundir_lock(dir, err, sizeof err);
    if (fd == -2) s->refused = cli_error(XO_FAILED, "cannot delete %s: run %.12s is being trained: %s",
                                         s->what, key, err);
    else if (fd < 0) s->refused = cli_error(XO_FAILED, "cannot delete %s: %s", s->what, err);
    else if (hold(s, fd)) s->refused = cli_error(XO_FAILED, "out of memory");
    return s->refused != 0;
}

/* Directories only once the database no longer points at them, and only
 * directories that are runs' (named by the run's key): a database's run_dir
 * column is data, and data must not choose what gets deleted. */
static void remove_dirs(const rm_state *s)
{
    for (size_t i = 0; i < s->nruns; i++) {
        const char *dir = s->dirs[i];
        if (!dir) continue;
        if (!rundir_is_run_of(dir, s->keys[i])) {
            cli_warn("not removing %s: not a run directory (its name is not a run key)", dir);
            continue;
        }
        if (access(dir, F_OK) == 0 && rundir_remove(dir)) {
            cli_warn("cannot remove %s: %s", dir, strerror(errno));
            continue;
        }
        /* The sweep's folder (runs/SWEEP/) goes with its last run: rmdir
         * removes it only when nothing else is left in it (another sweep's
         * run, Slurm's scripts). */
        const char *slash = strrchr(dir, '/');
        if (slash && slash > dir) {
            char *parent = strndup(dir, (size_t)(slash - dir));
            if (parent) rmdir(parent);
            free(parent);
        }
    }
}

static void rm_state_free(rm_state *s)
{
    for (size_t i = 0; i < s->nlocks; i++) xo_unlock(s->locks[i]);
    for (size_t i = 0; i < s->nruns; i++) {
        free(s->keys[i]);
        free(s->dirs[i]);
    }
    free(s->locks);
    free(s->keys);
    free(s->dirs);
}

/* The id of the run with `key`. */
static int run_id_of(void *ctx, const db_run_info *r)
{
    *(long long *)ctx = r->id;
    return 0;
}

int exec_rm(const char *db_path, const char *arg, exec_confirm_fn confirm, void *ctx)
{
    char err[1024];
    db *d = db_open(db_path, DB_WRITE, err, sizeof err);
    if (!d) return cli_error(XO_USAGE, "%s", err);
    rm_state s = {.db_path = db_path};
    /* A sweep if one has that name (or it is a YAML file), else a run key. */
    long long sid = 0, run_id = -1;
    char name[256], key[65] = "";
    int is_sweep = db_sweep_id(d, arg, &sid) == DB_OK;
    int rc = XO_OK;
    if (is_sweep) {
        snprintf(name, sizeof name, "%s", arg);
    } else if (strstr(arg, ".y")) {
        rc = exec_find_sweep(d, arg, &sid, name, sizeof name);
        is_sweep = rc == XO_OK;
    }
    if (rc == XO_OK && !is_sweep) rc = exec_find_run(d, arg, key);
    if (rc == XO_OK && !is_sweep && db_run_by_key(d, key, run_id_of, &run_id))
        rc = cli_error(XO_FAILED, "%s", db_errmsg(d));
    if (rc != XO_OK) goto done;

    /* The locks first: what a driver is running is not even counted. */
    if (is_sweep) {
        snprintf(s.what, sizeof s.what, "sweep '%s'", name);
        lock_sweep(&s, name);
    } else {
        snprintf(s.what, sizeof s.what, "run %.12s", key);
        if (db_run_sweep_names(d, run_id, lock_sweep, &s) && !s.refused)
            s.refused = cli_error(XO_FAILED, "%s", db_errmsg(d));
    }
    if ((rc = s.refused)) goto done;

    long long nruns = 0, npoints = 0;
    if (db_rm_count(d, sid, is_sweep ? NULL : key, &nruns, &npoints)) {
        rc = cli_error(XO_FAILED, "%s", db_errmsg(d));
        goto done;
    }
    char what[512];
    if (is_sweep)
        snprintf(what, sizeof what, "sweep '%s' with %lld runs only it uses (%lld metric points) and their directories",
                 arg, nruns, npoints);
    else if (nruns > 1) /* a trunk: its annealed branches go with it */
        snprintf(what, sizeof what, "run %.12s and its %lld annealed branches (%lld metric points) and their directories",
                 key, nruns - 1, npoints);
    else
        snprintf(what, sizeof what, "run %.12s (%lld metric points) and its directory", key, npoints);
    if (!confirm(ctx, what)) goto done;

    long long deleted;
    if (db_rm_delete(d, sid, is_sweep ? NULL : key, take_run, &s, &deleted)) {
        rc = s.refused ? s.refused : cli_error(XO_FAILED, "%s", db_errmsg(d));
        goto done;
    }
    remove_dirs(&s);
    printf("deleted %s\n", what);
done:
    rm_state_free(&s);
    db_close(d);
    return rc;
}
