/*
 * slurm_collect.c — `xover collect SWEEP` and `xover cancel SWEEP`: the
 * runs of a sweep that were submitted to Slurm (they have a job id), found
 * again from the database, then followed (slurm_follow.c) or cancelled.
 *
 * Collecting is idempotent: metrics are keyed by (run, name, step), a run
 * that has ended is not looked at again, and reading a run directory twice
 * records nothing new. The sweep's YAML, stored in the database, gives the
 * runs their descriptions and cost estimates, as in `xover run`.
 *
 * `xover cancel` also works while a follower (`xover run --backend slurm`,
 * `xover collect --wait`) holds the sweep lock: it then reads the database
 * read-only, cancels the tasks, and leaves the recording to the follower,
 * which sees them end.
 */
#include "orchestrator/exec/internal_slurm.h"

#include "orchestrator/cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    sl_run *runs;
    size_t n, cap;
    size_t done, failed, interrupted, unsubmitted;
    int any_interrupted_with_job;
} gathered;

static int gather_fn(void *ctx, const db_run_info *r)
{
    gathered *g = ctx;
    const char *st = r->status ? r->status : "pending";
    if (!strcmp(st, "done")) {
        g->done++;
        return 0;
    }
    if (!strcmp(st, "failed")) {
        g->failed++;
        return 0;
    }
    if (!r->job_id || !r->run_dir) {
        if (!strcmp(st, "interrupted")) g->interrupted++;
        else g->unsubmitted++;
        return 0;
    }
    sl_run *nr = xo_grow(g->runs, &g->cap, g->n + 1, sizeof *nr, 16);
    if (!nr) return 1;
    g->runs = nr;
    sl_run *x = &g->runs[g->n];
    memset(x, 0, sizeof *x);
    x->id = r->id;
    snprintf(x->key, sizeof x->key, "%s", r->key);
    x->dir = strdup(r->run_dir);
    snprintf(x->job, sizeof x->job, "%s", r->job_id);
    /* The attempt the database already counts is not a new one (its time
     * is stored to the millisecond). */
    if (!strcmp(st, "running") || !strcmp(st, "interrupted")) {
        double t = sl_iso_seconds(r->started_at);
        if (t > 0) x->stamp = t + 0.001;
        x->running = !strcmp(st, "running");
    }
    /* interrupted: only while its task may still come back (requeued) */
    snprintf(x->final, sizeof x->final, "%s", st);
    snprintf(x->who, sizeof x->who, "objective=%s model=%s unique_tokens=%lld", r->objective ? r->objective : "?",
             r->model ? r->model : "?", r->unique_tokens);
    if (!x->dir) return 1;
    g->n++;
    return 0;
}

static void free_gathered(gathered *g)
{
    for (size_t k = 0; k < g->n; k++) sl_run_free(&g->runs[k]);
    free(g->runs);
}

/* Descriptions and estimates from the sweep's stored YAML, when it still
 * expands; the db's columns otherwise. */
static void describe(db *d, const char *name, gathered *g)
{
    char *yaml = NULL, err[1024];
    if (db_sweep_yaml(d, name, &yaml) || !yaml) return;
    sweep *s = sweep_parse(name, yaml, strlen(yaml), err, sizeof err);
    sweep_plan *p = s ? sweep_expand(s, 0, err, sizeof err) : NULL;
    for (size_t i = 0; p && i < sweep_plan_count(p); i++) {
        char key[65];
        sweep_plan_key(p, i, key);
        for (size_t k = 0; k < g->n; k++)
            if (!strcmp(g->runs[k].key, key)) {
                exec_describe_run(p, i, g->runs[k].who, sizeof g->runs[k].who);
                exec_estimate_run(p, i, &g->runs[k].est);
            }
    }
    sweep_plan_free(p);
    sweep_free(s);
    free(yaml);
}

/* The distinct array job ids of the runs. */
static size_t array_ids(const gathered *g, char (*ids)[64], const char **jobs)
{
    size_t nj = 0;
    for (size_t k = 0; k < g->n; k++) {
        snprintf(ids[nj], sizeof ids[nj], "%.*s", (int)strcspn(g->runs[k].job, "_"), g->runs[k].job);
        int dup = 0;
        for (size_t m = 0; m < nj && !dup; m++) dup = !strcmp(ids[m], ids[nj]);
        if (!dup) jobs[nj] = ids[nj], nj++;
    }
    return nj;
}

/* Runs whose submission is in flight ("submitting:" job ids). */
typedef struct {
    sl_claim *c;
    size_t n, cap;
} claims;

static int claim_fn(void *ctx, const db_run_info *r)
{
    claims *cs = ctx;
    if (!sl_is_token(r->job_id)) return 0;
    sl_claim *nc = xo_grow(cs->c, &cs->cap, cs->n + 1, sizeof *nc, 16);
    if (!nc) return 1;
    cs->c = nc;
    sl_claim *x = &cs->c[cs->n];
    char **j = malloc(sizeof *j);
    *x = (sl_claim){r->id, strdup(r->key), r->run_dir ? strdup(r->run_dir) : NULL, j};
    if (j) *j = strdup(r->job_id);
    cs->n++;
    return !x->key || !j || !*j;
}

/* A submission whose driver died before recording its array: adopt it
 * (slurm_adopt.c) before anything reads the job ids. */
static int adopt(db *d, long long sid, const char *name)
{
    claims cs = {0};
    char err[1024];
    int rc = db_sweep_runs(d, sid, NULL, claim_fn, &cs) ? cli_error(XO_FAILED, "%s", db_errmsg(d)) : XO_OK;
    if (!rc && cs.n && sl_adopt(d, name, cs.c, cs.n, err, sizeof err)) rc = cli_error(XO_FAILED, "%s", err);
    for (size_t k = 0; k < cs.n; k++) {
        free((char *)cs.c[k].key);
        free((char *)cs.c[k].dir);
        if (cs.c[k].job_id) free(*cs.c[k].job_id);
        free(cs.c[k].job_id);
    }
    free(cs.c);
    return rc;
}

/* Open the database and gather the sweep's submitted, unfinished runs.
 * Interrupted runs are kept only while their task is live (requeued). */
static int gather(const char *db_path, const char *arg, db **dp, int *lock_fd, gathered *g, char *name,
                  size_t namelen, char *held, size_t heldlen)
{
    char err[1024];
    db *d = db_open(db_path, DB_WRITE, err, sizeof err);
    if (!d) return cli_error(XO_USAGE, "%s", err);
    long long sid;
    int rc = exec_find_sweep(d, arg, &sid, name, namelen);
    if (rc) {
        db_close(d);
        return rc;
    }
    /* The sweep's only writer while it records (as `xover run` is). With
     * `held` (cancel), a sweep another xover follows is read only: that one
     * records how its runs end. */
    if ((*lock_fd = guard_sweep_try(db_path, name, err, sizeof err)) < 0) {
        db_close(d);
        if (*lock_fd == -1 || !held) return cli_error(XO_FAILED, "%s", err);
        snprintf(held, heldlen, "%s", err);
        if (!(d = db_open(db_path, DB_READONLY, err, sizeof err))) return cli_error(XO_USAGE, "%s", err);
    }
    if ((*lock_fd >= 0 && (rc = adopt(d, sid, name))) || db_sweep_runs(d, sid, NULL, gather_fn, g)) {
        rc = rc ? rc : cli_error(XO_FAILED, "%s", db_errmsg(d));
        xo_unlock(*lock_fd);
        db_close(d);
        return rc;
    }
    /* Drop interrupted runs whose task has ended for good. */
    char (*ids)[64] = calloc(g->n + 1, sizeof *ids);
    const char **jobs = calloc(g->n + 1, sizeof *jobs);
    if (!ids || !jobs) {
        free(ids);
        free(jobs);
        xo_unlock(*lock_fd);
        db_close(d);
        return cli_error(XO_FAILED, "out of memory");
    }
    size_t nj = array_ids(g, ids, jobs);
    sl_table t = {0};
    int need = 0;
    for (size_t k = 0; k < g->n; k++) need |= !strcmp(g->runs[k].final, "interrupted");
    if (need) sl_query(&t, jobs, nj);
    size_t w = 0;
    for (size_t k = 0; k < g->n; k++) {
        sl_run *r = &g->runs[k];
        if (!strcmp(r->final, "interrupted")) {
            const sl_task *tk = sl_find(&t, r->job);
            if (!tk || sl_state_ended(tk->state)) {
                g->interrupted++;
                sl_run_free(r);
                continue;
            }
        }
        r->final[0] = 0;
        g->runs[w++] = *r;
    }
    g->n = w;
    sl_table_free(&t);
    free(ids);
    free(jobs);
    for (size_t k = 0; k < g->n; k++)
        if (sl_run_load(&g->runs[k], err, sizeof err)) {
            rc = cli_error(XO_FAILED, "run %.12s: %s", g->runs[k].key, err);
            xo_unlock(*lock_fd);
            db_close(d);
            return rc;
        }
    describe(d, name, g);
    *dp = d;
    return XO_OK;
}

int exec_slurm_collect(const char *db_path, const char *sweep_arg, int wait)
{
    gathered g = {0};
    db *d = NULL;
    int lock_fd = -1;
    char name[256];
    int rc = gather(db_path, sweep_arg, &d, &lock_fd, &g, name, sizeof name, NULL, 0);
    if (rc) {
        free_gathered(&g);
        return rc;
    }
    if (!g.n) {
        printf("sweep %s: nothing to collect: %zu done, %zu failed, %zu interrupted, %zu never submitted to Slurm\n",
               name, g.done, g.failed, g.interrupted, g.unsubmitted);
        free_gathered(&g);
        xo_unlock(lock_fd);
        db_close(d);
        return XO_OK;
    }
    sl_follow_opts fo = {.sweep = name, .wait = wait, .skipped_done = g.done, .skipped_failed = g.failed};
    rc = sl_follow(d, g.runs, g.n, &fo);
    free_gathered(&g);
    if (lock_fd >= 0) xo_unlock(lock_fd);
    db_close(d);
    return rc;
}

int exec_slurm_cancel(const char *db_path, const char *sweep_arg)
{
    gathered g = {0};
    db *d = NULL;
    int lock_fd = -1;
    char name[256], err[1024], held[1024] = "";
    int rc = gather(db_path, sweep_arg, &d, &lock_fd, &g, name, sizeof name, held, sizeof held);
    if (rc) {
        free_gathered(&g);
        return rc;
    }
    char (*ids)[64] = calloc(g.n + 1, sizeof *ids);
    const char **jobs = calloc(g.n + 1, sizeof *jobs);
    if (!ids || !jobs) {
        free(ids);
        free(jobs);
        free_gathered(&g);
        xo_unlock(lock_fd);
        db_close(d);
        return cli_error(XO_FAILED, "out of memory");
    }
    size_t nj = array_ids(&g, ids, jobs);
    /* Only arrays with a task still queued or running. */
    sl_table t = {0};
    if (nj) sl_query(&t, jobs, nj);
    if (nj && !t.answered) rc = cli_error(XO_FAILED, "squeue does not answer: cannot tell which jobs to cancel");
    size_t live = 0, w = 0;
    for (size_t j = 0; !rc && j < nj; j++) {
        int has = 0;
        for (size_t k = 0; k < t.n; k++) {
            size_t l = strlen(jobs[j]);
            if (!strncmp(t.t[k].id, jobs[j], l) && t.t[k].id[l] == '_' && !sl_state_ended(t.t[k].state)) {
                has = 1;
                live++;
            }
        }
        if (has) jobs[w++] = jobs[j];
    }
    if (!rc && !w) printf("sweep %s: nothing to cancel: no task of it is queued or running\n", name);
    if (!rc && w) {
        if (sl_cancel(jobs, w, err, sizeof err)) rc = cli_error(XO_FAILED, "%s", err);
        else {
            fprintf(stderr, "sweep %s: cancelled job%s", name, w > 1 ? "s" : "");
            for (size_t j = 0; j < w; j++) fprintf(stderr, " %s", jobs[j]);
            fprintf(stderr, " (%zu tasks queued or running); waiting for them to stop\n", live);
            /* Running trainers get SIGTERM, checkpoint and exit: wait for
             * that (Slurm's KillWait bounds it) before reading their word. */
            double t0 = xo_now();
            for (;;) {
                sl_query(&t, jobs, w);
                size_t still = 0;
                for (size_t k = 0; k < t.n; k++) still += !sl_state_ended(t.t[k].state);
                if (!still || !t.answered) break;
                if (xo_now() - t0 > 600) {
                    cli_warn("%zu tasks have not stopped after 10 minutes; `xover collect %s` records them later",
                             still, name);
                    break;
                }
                struct timespec ts = {0, 500 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
        }
    }
    sl_table_free(&t);
    free(ids);
    free(jobs);
    if (!rc && *held) {
        /* The follower records how they ended (it sees the scheduler's word). */
        fprintf(stderr, "sweep %s: its follower records how the runs ended (%s)\n", name, held);
    } else if (!rc && g.n) {
        /* Record how each run ended. */
        sl_follow_opts fo = {.sweep = name, .wait = 0, .skipped_done = g.done, .skipped_failed = g.failed};
        sl_follow(d, g.runs, g.n, &fo); /* the cancel itself succeeded */
    }
    free_gathered(&g);
    if (lock_fd >= 0) xo_unlock(lock_fd);
    db_close(d);
    return rc;
}
