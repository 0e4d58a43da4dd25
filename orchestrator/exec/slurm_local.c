/*
 * slurm_local.c — what the local driver (`xover run` without --backend
 * slurm) must know of the Slurm backend: the runs of its plan that a Slurm
 * task holds (queued, running, or requeued to run again).
 *
 * A local driver that trained such a run would race the task for it (the
 * task then fails on the run's lock, "directory in use") and leave the
 * database naming a Slurm job for a run it trained itself. So it leaves
 * them to Slurm, saying so, unless told --take-over: then their tasks are
 * cancelled (scancel of those tasks alone), waited for, and the runs are
 * trained here; a run started locally has its job id cleared and its host
 * set, so the database says who ran what.
 */
#include "orchestrator/exec/internal_slurm.h"

#include "orchestrator/cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct exec_claims {
    char (*keys)[65]; /* sorted */
    size_t n;
};

typedef struct {
    long long id;
    char key[65];
    char *job, *dir;
} held;

typedef struct {
    held *h;
    size_t n;
} helds;

static int found_fn(void *ctx, const db_run_info *r)
{
    helds *hs = ctx;
    const char *st = r->status ? r->status : "pending";
    if (!r->job_id || !strcmp(st, "done") || !strcmp(st, "failed")) return 0;
    held *x = &hs->h[hs->n];
    x->id = r->id;
    snprintf(x->key, sizeof x->key, "%s", r->key);
    x->job = strdup(r->job_id);
    x->dir = r->run_dir ? strdup(r->run_dir) : NULL;
    hs->n += x->job != NULL;
    return 0;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* scancel the tasks (ids "1234_5") and wait until the scheduler says they
 * ended (their trainers checkpoint on SIGTERM). */
static int cancel_tasks(const char **ids, size_t n)
{
    char err[1024];
    if (sl_cancel(ids, n, err, sizeof err)) return cli_error(XO_FAILED, "--take-over: %s", err);
    char (*arrays)[64] = calloc(n, sizeof *arrays);
    const char **jobs = calloc(n, sizeof *jobs);
    if (!arrays || !jobs) {
        free(arrays);
        free(jobs);
        return cli_error(XO_FAILED, "out of memory");
    }
    for (size_t k = 0; k < n; k++) {
        snprintf(arrays[k], sizeof arrays[k], "%.*s", (int)strcspn(ids[k], "_"), ids[k]);
        jobs[k] = arrays[k];
    }
    sl_table t = {0};
    for (double t0 = xo_now(); xo_now() - t0 < 600;) {
        sl_query(&t, jobs, n);
        size_t live = 0;
        for (size_t k = 0; k < n; k++) {
            const sl_task *tk = sl_find(&t, ids[k]);
            live += tk && !sl_state_ended(tk->state);
        }
        if (!live || !t.answered) break;
        struct timespec ts = {0, 300 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    sl_table_free(&t);
    free(arrays);
    free(jobs);
    return XO_OK;
}

/* Which of hs's runs a task holds: live[k] = 1. -1 when squeue cannot
 * answer. */
static int find_live(const helds *hs, unsigned char *live)
{
    char (*arrays)[64] = calloc(hs->n, sizeof *arrays);
    const char **jobs = calloc(hs->n, sizeof *jobs);
    size_t nj = 0;
    for (size_t k = 0; arrays && jobs && k < hs->n; k++) {
        snprintf(arrays[nj], sizeof arrays[nj], "%.*s", (int)strcspn(hs->h[k].job, "_"), hs->h[k].job);
        int dup = 0;
        for (size_t m = 0; m < nj && !dup; m++) dup = !strcmp(arrays[m], arrays[nj]);
        if (!dup) jobs[nj] = arrays[nj], nj++;
    }
    sl_table t = {0};
    if (nj) sl_query(&t, jobs, nj);
    int answered = t.answered;
    for (size_t k = 0; k < hs->n; k++) {
        const sl_task *tk = sl_find(&t, hs->h[k].job);
        live[k] = !answered || (tk && !sl_state_ended(tk->state));
    }
    sl_table_free(&t);
    free(arrays);
    free(jobs);
    return answered || !nj ? 0 : -1;
}

/* Adopt a submission in flight (its driver died: slurm_adopt.c). */
static int adopt(db *d, const sweep_plan *p, helds *hs)
{
    sl_claim *cl = calloc(hs->n ? hs->n : 1, sizeof *cl);
    if (!cl) return cli_error(XO_FAILED, "out of memory");
    for (size_t k = 0; k < hs->n; k++) cl[k] = (sl_claim){hs->h[k].id, hs->h[k].key, hs->h[k].dir, &hs->h[k].job};
    char err[1024];
    int bad = sl_adopt(d, sweep_name(sweep_plan_sweep(p)), cl, hs->n, err, sizeof err);
    free(cl);
    if (bad) return cli_error(XO_FAILED, "%s", err);
    size_t w = 0; /* a submission that never reached Slurm leaves no job id */
    for (size_t k = 0; k < hs->n; k++) {
        if (hs->h[k].job) hs->h[w++] = hs->h[k];
        else free(hs->h[k].dir);
    }
    hs->n = w;
    return XO_OK;
}

/* Say which runs are left to Slurm, or cancel their tasks (take_over). */
static int settle(const sweep_plan *p, const exec_options *o, helds *hs, const unsigned char *live, int answered,
                  exec_claims *c)
{
    const char **ids = calloc(hs->n ? hs->n : 1, sizeof *ids);
    if (!ids) return cli_error(XO_FAILED, "out of memory");
    size_t nl = 0;
    for (size_t k = 0; k < hs->n; k++)
        if (live[k]) ids[nl++] = hs->h[k].job;
    int rc = XO_OK;
    const char *name = sweep_name(sweep_plan_sweep(p));
    if (nl && o->take_over && !answered) {
        /* no scheduler here to cancel with (a database brought from a cluster) */
        fprintf(stderr, "sweep %s: --take-over: %zu runs were submitted to Slurm (task %s%s), which does not answer "
                        "here: running them here without cancelling anything\n", name, nl, ids[0], nl > 1 ? ", ..." : "");
    } else if (nl && o->take_over) {
        fprintf(stderr, "sweep %s: --take-over: cancelling the Slurm tasks of %zu runs (%s%s) to run them here\n",
                name, nl, ids[0], nl > 1 ? ", ..." : "");
        rc = cancel_tasks(ids, nl);
    } else if (nl) {
        fprintf(stderr, "sweep %s: %zu runs are %s in Slurm (task %s%s): left to it; `xover collect %s` follows "
                        "them, `xover run --take-over` cancels their tasks and runs them here\n",
                name, nl, answered ? "queued or running" : "submitted (squeue does not answer: maybe still)", ids[0],
                nl > 1 ? ", ..." : "", name);
        for (size_t k = 0; k < hs->n; k++)
            if (live[k]) memcpy(c->keys[c->n++], hs->h[k].key, 65);
        qsort(c->keys, c->n, sizeof *c->keys, cmp_key);
    }
    free(ids);
    return rc;
}

int exec_slurm_claims_load(db *d, const sweep_plan *p, const exec_options *o, exec_claims **out)
{
    *out = NULL;
    if (!d) return XO_OK; /* a dry run with no database yet */
    size_t n = sweep_plan_count(p);
    helds hs = {calloc(n ? n : 1, sizeof(held)), 0};
    exec_claims *c = calloc(1, sizeof *c);
    unsigned char *live = calloc(n ? n : 1, 1);
    int rc = hs.h && c && live ? XO_OK : cli_error(XO_FAILED, "out of memory");
    for (size_t i = 0; rc == XO_OK && i < n; i++) {
        char key[65];
        sweep_plan_key(p, i, key);
        db_run_by_key(d, key, found_fn, &hs);
    }
    if (rc == XO_OK && hs.n && !o->dry_run) rc = adopt(d, p, &hs);
    if (rc == XO_OK && hs.n) {
        c->keys = calloc(hs.n, sizeof *c->keys);
        if (!c->keys) rc = cli_error(XO_FAILED, "out of memory");
    }
    if (rc == XO_OK && hs.n) {
        int answered = find_live(&hs, live) == 0;
        rc = settle(p, o, &hs, live, answered, c);
    }
    for (size_t k = 0; hs.h && k < hs.n; k++) free(hs.h[k].job), free(hs.h[k].dir);
    free(hs.h);
    free(live);
    if (rc) {
        exec_claims_free(c);
        return rc;
    }
    *out = c;
    return XO_OK;
}

int exec_claims_has(const exec_claims *c, const char *key)
{
    return c && c->n && bsearch(key, c->keys, c->n, sizeof *c->keys, cmp_key) != NULL;
}

void exec_claims_free(exec_claims *c)
{
    if (!c) return;
    free(c->keys);
    free(c);
}
