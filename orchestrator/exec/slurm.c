/*
 * slurm.c — `xover run --backend slurm`: the sweep's runs that are not done
 * become Slurm job arrays, one per resource shape (the sweep's resources:
 * section, docs/sweep.md; usually one), each task `xover worker` on one run
 * directory.
 *
 * The database never leaves the driver's machine: what the compute nodes
 * need is on the shared filesystem, under --runs-dir (absolute paths only):
 *
 *   RUNS/<sweep>/<key>/                config.json, worker.json, then what
 *                                      the worker writes (metrics.jsonl,
 *                                      checkpoint, log, status, attempt.json)
 *   RUNS/<sweep>/slurm/array-T.sh      the sbatch script, kept to read and to
 *                                      resubmit by hand (its header says how)
 *   RUNS/<sweep>/slurm/array-T.runs    its run directories, one per line:
 *                                      task i runs line i+1
 *   RUNS/<sweep>/slurm/%A_%a.out       Slurm's output of each task
 *
 * What those files hold is slurm_script.c's. The runs' job ids ("1234_7")
 * go to the database, so that `xover collect`, `xover cancel` and the next
 * `xover run` find the tasks again: a run whose task is still queued or
 * running, or ended with nobody watching, is followed, not submitted twice.
 * The intent is recorded before sbatch (slurm_adopt.c), so a driver killed
 * in between leaves no array the next command cannot see.
 *
 * exec_slurm_run is the sequence: register, adopt, mark what is live,
 * group by shape, resolve paths, then per shape place the runs, build the
 * submission, record the intent, sbatch, record the ids; then follow
 * (slurm_follow.c) unless --no-wait.
 */
#include "orchestrator/util/util.h"
#include "orchestrator/exec/internal_slurm.h"

#include "orchestrator/cli/cli.h"
#include "orchestrator/run/run_config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    size_t i;           /* in the plan */
    long long id;
    char key[65];
    char *status, *run_dir, *job_id; /* as found in the database */
    double started;     /* its last start, Unix seconds (0: none) */
    int live;           /* its task is still queued or running */
    int skip;           /* neither submitted nor followed (in use elsewhere) */
    size_t group;       /* its resource shape: one array per shape */
} cand;

typedef struct {
    cand *c;
    size_t n;
} cands;

static int found_dir(void *ctx, const db_run_info *r)
{
    *(char **)ctx = r->run_dir ? strdup(r->run_dir) : NULL;
    return 0;
}

/* A run to do becomes a candidate for the array (or for following, when
 * its task is still queued or running: mark_live). */
static int take_cand(void *ctx, const exec_reg_run *r)
{
    cands *cs = ctx;
    cand *x = &cs->c[cs->n];
    x->i = r->i;
    x->id = r->id;
    memcpy(x->key, r->key, 65);
    x->status = strdup(r->status);
    x->run_dir = r->run_dir ? strdup(r->run_dir) : NULL;
    x->job_id = r->job_id ? strdup(r->job_id) : NULL;
    x->started = sl_iso_seconds(r->started_at);
    if (!x->status || (r->run_dir && !x->run_dir) || (r->job_id && !x->job_id)) {
        free(x->status);
        free(x->run_dir);
        free(x->job_id);
        return -1;
    }
    cs->n++;
    return 0;
}

/* Register the sweep and its runs (exec_register, as the local driver
 * does) and pick the runs that are not done. */
static int register_plan(db *d, const sweep_plan *p, const exec_options *o, cand **out, size_t *nout,
                         size_t *skipped_done, size_t *skipped_failed)
{
    size_t n = sweep_plan_count(p);
    cands cs = {calloc(n ? n : 1, sizeof(cand)), 0};
    if (!cs.c) return cli_error(XO_FAILED, "out of memory");
    int rc = exec_register(d, p, o, take_cand, &cs, skipped_done, skipped_failed);
    if (rc) {
        for (size_t k = 0; k < cs.n; k++) free(cs.c[k].status), free(cs.c[k].run_dir), free(cs.c[k].job_id);
        free(cs.c);
        return rc;
    }
    *out = cs.c;
    *nout = cs.n;
    return XO_OK;
}

/* Which candidates' tasks are still queued or running, or have ended with
 * a final word no one recorded yet: followed, not submitted twice. */
static void mark_live(cand *c, size_t n)
{
    const char **jobs = calloc(n ? n : 1, sizeof *jobs);
    char (*ids)[64] = calloc(n ? n : 1, sizeof *ids);
    size_t nj = 0;
    for (size_t k = 0; jobs && ids && k < n; k++) {
        if (!c[k].job_id) continue;
        snprintf(ids[nj], sizeof ids[nj], "%.*s", (int)strcspn(c[k].job_id, "_"), c[k].job_id);
        int dup = 0;
        for (size_t m = 0; m < nj && !dup; m++) dup = !strcmp(ids[m], ids[nj]);
        if (!dup) jobs[nj] = ids[nj], nj++;
    }
    if (nj) {
        sl_table t = {0};
        sl_query(&t, jobs, nj);
        for (size_t k = 0; k < n; k++) {
            if (!c[k].job_id) continue;
            const sl_task *tk = sl_find(&t, c[k].job_id);
            c[k].live = tk && !sl_state_ended(tk->state);
            /* Ended while no follower watched (it was killed, or --no-wait)
             * with the worker's final word: to record, not to run again. */
            char word[32], why[64];
            if (!c[k].live && c[k].status && (!strcmp(c[k].status, "pending") || !strcmp(c[k].status, "running")) &&
                c[k].run_dir && rundir_is_run_of(c[k].run_dir, c[k].key) &&
                !rundir_status(c[k].run_dir, word, sizeof word, why, sizeof why) &&
                (!strcmp(word, "done") || !strcmp(word, "failed")))
                c[k].live = 1;
        }
        sl_table_free(&t);
    }
    free(jobs);
    free(ids);
}

/* The directory of branch k's trunk: a candidate's (the plan lists a trunk
 * just before its branches), else where the database has it, else its
 * place in this sweep's directory. Into buf (PATH_MAX + 400 bytes). */
static void trunk_dir_of(db *d, const sweep_plan *p, const cand *c, size_t k, const char *sdir, char *buf, size_t n)
{
    char tkey[65];
    sweep_plan_key(p, sweep_plan_parent(p, c[k].i), tkey);
    for (size_t m = k; m-- > 0;)
        if (!strcmp(c[m].key, tkey) && c[m].run_dir) {
            snprintf(buf, n, "%s", c[m].run_dir);
            return;
        }
    char *dir = NULL;
    if (d) db_run_by_key(d, tkey, found_dir, &dir); /* no database yet: a dry run */
    if (dir && dir[0] == '/' && rundir_is_run_of(dir, tkey)) snprintf(buf, n, "%s", dir);
    else snprintf(buf, n, "%s/%s", sdir, tkey);
    free(dir);
}

/* A trunk that stops early waits for its branches' results, which need a
 * second task beside it: one task at a time would wait forever. */
static int check_parallelism(const sweep_plan *p, const cand *c, size_t nc, const exec_slurm_options *so)
{
    for (size_t k = 0; k < nc && so->array_parallelism == 1; k++) {
        double m = 0;
        if (sweep_plan_role(p, c[k].i) == SWEEP_TRUNK && !sweep_plan_number(p, c[k].i, "train.early_stop_margin", &m) &&
            m > 0)
            return cli_error(XO_USAGE, "--array-parallelism 1: trunk %.12s stops early (train.early_stop_margin), "
                                       "waiting for its branches, which need a second task: give 2 or more", c[k].key);
    }
    return XO_OK;
}

static void free_cands(cand *c, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        free(c[k].status);
        free(c[k].run_dir);
        free(c[k].job_id);
    }
    free(c);
}

/* ---- one submission, step by step ----------------------------------------- */

/* What one `xover run --backend slurm` works with. */
typedef struct {
    const sweep_plan *p;
    const exec_options *o;
    const exec_slurm_options *so;
    const char *name;   /* the sweep's */
    db *d;
    cand *c;
    size_t nc, nsubmit, nlive, skipped_done, skipped_failed;
    int lock_fd;
    /* absolute paths: tasks run on other machines, from another directory */
    char self[PATH_MAX], cwd[PATH_MAX], runs[PATH_MAX], sdir[PATH_MAX + 300], slurmdir[PATH_MAX + 320];
    char base[PATH_MAX + 360], script[PATH_MAX + 400], list[PATH_MAX + 400];
    char token[64], jobid[64];
    /* the resource shapes of the runs to submit (one array each) */
    exec_slurm_options *shape;
    char (*shape_time)[32];
    size_t nshapes, cur;
} sub;

static int sub_end(sub *x, int rc)
{
    free(x->shape);
    free(x->shape_time);
    free_cands(x->c, x->nc);
    if (x->lock_fd >= 0) xo_unlock(x->lock_fd);
    db_close(x->d);
    return rc;
}

/* The binary, the working directory, --runs-dir and the sweep's slurm/
 * directory as absolute paths (--runs-dir is created unless a dry run). */
static int resolve_paths(sub *x)
{
    char err[1024];
    ssize_t sl = x->o->self_exe ? -1 : readlink("/proc/self/exe", x->self, sizeof x->self - 1);
    if (x->o->self_exe ? !realpath(x->o->self_exe, x->self) : sl <= 0)
        return cli_error(XO_FAILED, "cannot find the xover binary's own path: %s", strerror(errno));
    if (sl > 0) x->self[sl] = 0;
    if (!getcwd(x->cwd, sizeof x->cwd)) return cli_error(XO_FAILED, "cannot get the current directory: %s", strerror(errno));
    const char *runs_opt = x->o->runs_dir ? x->o->runs_dir : "runs";
    if (!x->o->dry_run && x->nsubmit && rundir_mkdirs(runs_opt, err, sizeof err))
        return cli_error(XO_USAGE, "--runs-dir: %s", err);
    int too_long = 0;
    if (!realpath(runs_opt, x->runs))
        too_long |= snprintf(x->runs, sizeof x->runs, "%s%s%s", runs_opt[0] == '/' ? "" : x->cwd,
                             runs_opt[0] == '/' ? "" : "/", runs_opt) >= (int)sizeof x->runs;
    too_long |= snprintf(x->sdir, sizeof x->sdir, "%s/%s", x->runs, x->name) >= (int)sizeof x->sdir;
    too_long |= snprintf(x->slurmdir, sizeof x->slurmdir, "%s/slurm", x->sdir) >= (int)sizeof x->slurmdir;
    /* Each submission's files are named by its time (and our pid). */
    char stamp[64];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    const char *into = x->slurmdir; /* --write-script DIR: there instead */
    char wdir[PATH_MAX];
    if (x->so->write_script) {
        if (!x->o->dry_run && rundir_mkdirs(x->so->write_script, err, sizeof err))
            return cli_error(XO_USAGE, "--write-script: %s", err);
        if (!realpath(x->so->write_script, wdir))
            too_long |= snprintf(wdir, sizeof wdir, "%s/%s", x->cwd, x->so->write_script) >= (int)sizeof wdir;
        if (sl_one_line("--write-script (resolved)", wdir)) return XO_USAGE;
        into = wdir;
    }
    too_long |= snprintf(x->base, sizeof x->base, "%s/array-%s-%ld", into, stamp, (long)getpid()) >=
                (int)sizeof x->base;
    if (too_long) return cli_error(XO_USAGE, "--runs-dir: the path %s/%s is too long", runs_opt, x->name);
    if (sl_one_line("--runs-dir (resolved)", x->runs)) return XO_USAGE; /* a symbolic link's target */
    return XO_OK;
}

/* The script and list files of shape x->cur: BASE.sh and BASE.runs, with
 * -gN before the extension when there are several shapes. */
static void shape_files(sub *x)
{
    char g[16] = "";
    if (x->nshapes > 1) snprintf(g, sizeof g, "-g%zu", (x->cur + 1) % 100000);
    snprintf(x->script, sizeof x->script, "%s%s.sh", x->base, g);
    snprintf(x->list, sizeof x->list, "%s%s.runs", x->base, g);
}

/* Minutes of a time limit in seconds, rounded up (Slurm's unit). */
static long long whole_minutes(double seconds)
{
    return (long long)ceil(seconds / 60 - 1e-9);
}

/* Group the runs to submit by what their tasks ask for: the command line's
 * --time / --timeout, --mem and --cpus-per-run, else the sweep's
 * resources: section (the run's model size's entry, else its own). One
 * array per distinct shape; x->shape[g] is the options array g is
 * submitted with. */
static int group_shapes(sub *x)
{
    x->shape = calloc(x->nc ? x->nc : 1, sizeof *x->shape);
    x->shape_time = calloc(x->nc ? x->nc : 1, sizeof *x->shape_time);
    if (!x->shape || !x->shape_time) return cli_error(XO_FAILED, "out of memory");
    int rounded = 0;
    for (size_t k = 0; k < x->nc; k++) {
        cand *c = &x->c[k];
        if (c->live) continue;
        sweep_resources r;
        sweep_plan_resources(x->p, c->i, &r);
        exec_slurm_options g = *x->so;
        char t[32] = "";
        if (!g.time && !(x->o->timeout > 0) && r.time > 0) {
            snprintf(t, sizeof t, "%lld", whole_minutes(r.time));
            rounded |= fmod(r.time, 60) != 0;
        }
        if (!g.mem) g.mem = r.mem;
        if (!g.cpus_per_run) g.cpus_per_run = r.cpus;
        size_t s = 0;
        while (s < x->nshapes && !(!strcmp(x->shape_time[s], t) && x->shape[s].cpus_per_run == g.cpus_per_run &&
                                   !(x->shape[s].mem ? !g.mem || strcmp(x->shape[s].mem, g.mem) : g.mem != NULL)))
            s++;
        if (s == x->nshapes) {
            x->shape[s] = g;
            snprintf(x->shape_time[s], sizeof x->shape_time[s], "%s", t);
            x->nshapes++;
        }
        c->group = s;
    }
    for (size_t s = 0; s < x->nshapes; s++)
        if (x->shape_time[s][0]) x->shape[s].time = x->shape_time[s];
    if (rounded)
        fprintf(stderr, "note: sweep %s: resources: time limits not in whole minutes are rounded up to minutes "
                        "(Slurm's unit)\n", x->name);
    return XO_OK;
}

/* Candidate k's run directory, decided: the one the database has if it is
 * the run's own and one line (its checkpoint is there), else beside its
 * trunk (a branch: its trunk reads its results there), else
 * RUNS/<sweep>/<key>. Returns it, or NULL (out of memory). */
static const char *place_run(sub *x, size_t k, char *tdir, size_t tlen)
{
    cand *c = &x->c[k];
    tdir[0] = 0;
    if (sweep_plan_role(x->p, c->i) == SWEEP_BRANCH) trunk_dir_of(x->d, x->p, x->c, k, x->sdir, tdir, tlen);
    if (sl_first_control(tdir)) tdir[0] = 0; /* a trunk's dir from the database: one line, or not used */
    const char *rd = c->run_dir;
    if (!rd || rd[0] != '/' || !rundir_is_run_of(rd, c->key) || sl_first_control(rd)) {
        char d2[PATH_MAX + 400];
        const char *slash = *tdir ? strrchr(tdir, '/') : NULL;
        if (slash) snprintf(d2, sizeof d2, "%.*s/%s", (int)(slash - tdir), tdir, c->key);
        else snprintf(d2, sizeof d2, "%s/%s", x->sdir, c->key);
        free(c->run_dir);
        c->run_dir = strdup(d2);
    }
    return c->run_dir;
}

/* Place every run to submit and prepare its directory (unless a dry run);
 * the run list's text into *text. A run whose directory another process
 * holds is skipped (followed instead, as a run still queued). XO_OK, or an
 * exit code with the message printed. */
static int place_runs(sub *x, char **text, size_t *len, size_t *ntask)
{
    char err[PATH_MAX + 1024], tdir[PATH_MAX + 400];
    FILE *lf = open_memstream(text, len);
    if (!lf) return cli_error(XO_FAILED, "out of memory");
    int rc = XO_OK;
    *ntask = 0;
    for (size_t k = 0; k < x->nc && rc == XO_OK; k++) {
        cand *c = &x->c[k];
        if (c->live || c->group != x->cur) continue;
        if (!place_run(x, k, tdir, sizeof tdir)) {
            rc = cli_error(XO_FAILED, "out of memory");
            break;
        }
        if (!x->o->dry_run) {
            int lk = rundir_lock(c->run_dir, err, sizeof err);
            if (lk == -2) {
                /* another driver's worker has it now (a run shared with another sweep) */
                cli_warn("run %.12s not submitted: %s", c->key, err);
                c->live = 1;
                c->skip = 1;
                continue;
            }
            xo_unlock(lk);
            if (sl_prepare_dir(x->p, c->i, c->key, c->run_dir, x->self, *tdir ? tdir : NULL, err, sizeof err)) {
                rc = cli_error(XO_FAILED, "run %.12s: %s", c->key, err);
                break;
            }
        }
        fprintf(lf, "%s\n", c->run_dir);
        (*ntask)++;
    }
    if (fclose(lf)) rc = rc ? rc : cli_error(XO_FAILED, "out of memory");
    if (rc) {
        free(*text);
        *text = NULL;
    }
    return rc;
}

/* Each submitted run's job id becomes PREFIX_i (i: its task), or NULL when
 * prefix is NULL; with `first`, also status pending, its directory and this
 * build. One transaction. */
static int record_jobs(sub *x, const char *prefix, int first)
{
    char build[64];
    snprintf(build, sizeof build, "%s", xover_build_id());
    if (db_begin(x->d)) return -1;
    size_t task = 0;
    for (size_t k = 0; k < x->nc; k++) {
        cand *c = &x->c[k];
        if (c->live || c->group != x->cur) continue;
        char jid[160];
        snprintf(jid, sizeof jid, "%s_%zu", prefix ? prefix : "", task++);
        db_run_update u = {.set = DB_SET_JOB, .job_id = prefix ? jid : NULL};
        if (first) {
            u.set |= DB_SET_STATUS | DB_SET_RUN_DIR | DB_SET_BUILD | DB_SET_ERROR | DB_SET_LOG_TAIL;
            u.status = "pending";
            u.run_dir = c->run_dir;
            u.build_id = build;
        }
        if (db_run_set(x->d, c->id, &u)) {
            db_rollback(x->d);
            return -1;
        }
        free(c->job_id);
        c->job_id = prefix ? strdup(jid) : NULL;
    }
    return db_commit(x->d) ? -1 : 0;
}

static void free_args(char **args, size_t nargs)
{
    for (size_t k = 0; args && k < nargs; k++) free(args[k]);
    free(args);
}

/* The sbatch arguments and the script for the runs to submit (placed and,
 * unless a dry run, prepared). XO_OK, or an exit code (message printed). */
static int build_submission(sub *x, char ***args, size_t *nargs, char **script, char **list, size_t *listlen,
                            size_t *ntask)
{
    int rc = place_runs(x, list, listlen, ntask);
    if (rc) return rc;
    if (!*ntask) return XO_OK; /* every one in use elsewhere */
    sl_token_new(x->token, sizeof x->token);
    shape_files(x);
    *args = sl_sbatch_args(&x->shape[x->cur], x->name, x->slurmdir, *ntask, x->o->timeout, x->token, nargs);
    int mr = x->so->max_requeues < 0 ? EXEC_MAX_REQUEUES : x->so->max_requeues;
    *script = *args ? sl_script_text(x->name, *ntask, *args, *nargs, x->cwd, x->self, x->list, mr,
                                  x->so->write_script != NULL) : NULL;
    if (!*script) {
        free_args(*args, *nargs);
        *args = NULL;
        free(*list);
        *list = NULL;
        return cli_error(XO_FAILED, "out of memory");
    }
    return XO_OK;
}

/* Write the list and the script, record the intent, sbatch, record the
 * ids (slurm_adopt.c says why in this order). */
static int submit_array(sub *x)
{
    char err[1024];
    if (rundir_mkdirs(x->slurmdir, err, sizeof err)) return cli_error(XO_FAILED, "%s", err);
    char **args = NULL, *script = NULL, *list = NULL;
    size_t nargs = 0, listlen = 0, ntask = 0;
    int rc = build_submission(x, &args, &nargs, &script, &list, &listlen, &ntask);
    if (rc || !ntask) return rc;
    if (rundir_write(x->list, list, listlen, err, sizeof err) ||
        rundir_write(x->script, script, strlen(script), err, sizeof err))
        rc = cli_error(XO_FAILED, "%s", err);
    char intent[128];
    snprintf(intent, sizeof intent, SL_TOKEN_PREFIX "%s", x->token);
    if (!rc && record_jobs(x, intent, 1)) rc = cli_error(XO_FAILED, "recording the submission: %s", db_errmsg(x->d));
    if (!rc && x->so->write_script) {
        /* Not submitted: whoever sbatches the script, the next xover command
         * adopts its array by its comment, as after a kill (slurm_adopt.c). */
        free_args(args, nargs);
        free(script);
        free(list);
        fprintf(stderr, "sweep %s: wrote the job script of %zu runs, not submitted:\n  %s\n  (run list %s)\n"
                        "submit it with `sbatch %s`; then `xover collect %s` finds the array by its comment "
                        "xover:%s and follows it (a later `xover run` submits the runs again if it was never "
                        "submitted)\n", x->name, ntask, x->script, x->list, x->script, x->name, x->token);
        return XO_OK;
    }
    if (!rc && sl_submit(args, nargs, x->script, x->jobid, sizeof x->jobid, err, sizeof err)) {
        rc = cli_error(XO_FAILED, "%s (the script is %s)", err, x->script);
        if (record_jobs(x, NULL, 0)) cli_warn("clearing the submission: %s", db_errmsg(x->d));
    }
    free_args(args, nargs);
    free(script);
    free(list);
    if (rc) return rc;
    /* Should this fail, the next xover command adopts the array by its token. */
    if (record_jobs(x, x->jobid, 0)) cli_warn("recording the job ids: %s", db_errmsg(x->d));
    fprintf(stderr, "sweep %s: submitted %zu runs as Slurm job array %s (%zu still queued or running, %zu done, "
                    "%zu failed not retried)\n  script: %s\n", x->name, ntask, x->jobid, x->nlive, x->skipped_done,
            x->skipped_failed, x->script);
    return XO_OK;
}

/* --dry-run: the runs, then the sbatch command and the script it would
 * submit; nothing written. */
static int dry_run_report(sub *x)
{
    char arrays[64];
    if (x->nshapes > 1) snprintf(arrays, sizeof arrays, "%zu Slurm job arrays, one per resource shape", x->nshapes);
    else snprintf(arrays, sizeof arrays, "one Slurm job array");
    printf("sweep %s: would submit %zu runs as %s (%zu still queued or running, %zu done, %zu failed not "
           "retried):\n", x->name, x->nsubmit, arrays, x->nlive, x->skipped_done, x->skipped_failed);
    for (size_t k = 0; k < x->nc; k++) {
        char who[256];
        exec_describe_run(x->p, x->c[k].i, who, sizeof who);
        printf("  %.12s  %-11s %s  %s\n", x->c[k].key,
               x->c[k].live ? "queued" : x->c[k].status ? x->c[k].status : "new", who,
               x->c[k].live ? x->c[k].job_id : "");
    }
    for (x->cur = 0; x->cur < x->nshapes; x->cur++) {
        char **args = NULL, *script = NULL, *list = NULL;
        size_t nargs = 0, listlen = 0, ntask = 0;
        int rc = build_submission(x, &args, &nargs, &script, &list, &listlen, &ntask);
        if (rc) return rc;
        printf("\nsbatch command (the --comment token is new at each submission):\n  sbatch --parsable");
        for (size_t k = 0; k < nargs; k++) {
            fputs(" ", stdout);
            sl_sh_quote(stdout, args[k]);
        }
        printf(" %s\n\nscript %s:\n%s\nrun list %s:\n%s", x->script, x->script, script, x->list, list);
        free_args(args, nargs);
        free(script);
        free(list);
    }
    return XO_OK;
}

/* Adopt what a dead driver submitted, then see which runs' tasks are still
 * queued or running (not to submit twice). */
static int adopt_and_mark(sub *x)
{
    sl_claim *cl = calloc(x->nc ? x->nc : 1, sizeof *cl);
    if (!cl) return cli_error(XO_FAILED, "out of memory");
    for (size_t k = 0; k < x->nc; k++)
        cl[k] = (sl_claim){x->c[k].id, x->c[k].key, x->c[k].run_dir, &x->c[k].job_id};
    char err[1024];
    int bad = x->o->dry_run ? 0 : sl_adopt(x->d, x->name, cl, x->nc, err, sizeof err);
    free(cl);
    if (bad) return cli_error(XO_FAILED, "%s", err);
    mark_live(x->c, x->nc);
    x->nsubmit = x->nlive = 0;
    for (size_t k = 0; k < x->nc; k++) x->c[k].live ? x->nlive++ : x->nsubmit++;
    return XO_OK;
}

/* Follow the submitted and the still queued runs until they end. */
static int follow_cands(sub *x)
{
    char err[1024];
    sl_run *follow = calloc(x->nc ? x->nc : 1, sizeof *follow);
    if (!follow) return cli_error(XO_FAILED, "out of memory");
    size_t nr = 0;
    int rc = XO_OK;
    for (size_t k = 0; k < x->nc; k++) {
        cand *c = &x->c[k];
        if (!c->job_id || !c->run_dir || c->skip || sl_is_token(c->job_id)) continue;
        sl_run *r = &follow[nr++];
        r->id = c->id;
        memcpy(r->key, c->key, 65);
        r->dir = strdup(c->run_dir);
        snprintf(r->job, sizeof r->job, "%s", c->job_id);
        exec_describe_run(x->p, c->i, r->who, sizeof r->who);
        exec_estimate_run(x->p, c->i, &r->est);
        if (c->live && c->status && !strcmp(c->status, "running") && c->started > 0) {
            r->stamp = c->started + 0.001; /* the database counts this attempt already */
            r->running = 1;
        }
        if (!r->dir || sl_run_load(r, err, sizeof err)) {
            rc = cli_error(XO_FAILED, "run %.12s: %s", r->key, r->dir ? err : "out of memory");
            break;
        }
    }
    if (rc == XO_OK) {
        sl_follow_opts fo = {.sweep = x->name, .wait = 1, .skipped_done = x->skipped_done,
                             .skipped_failed = x->skipped_failed};
        rc = sl_follow(x->d, follow, nr, &fo);
    }
    for (size_t k = 0; k < nr; k++) sl_run_free(&follow[k]);
    free(follow);
    return rc;
}

int exec_slurm_run(const sweep_plan *p, const exec_options *o, const exec_slurm_options *so)
{
    sub x = {.p = p, .o = o, .so = so, .name = sweep_name(sweep_plan_sweep(p)), .lock_fd = -1};
    char err[1024];
    if (sl_check_one_line(o, so)) return XO_USAGE;
    int rc = exec_open_db(o, &x.d);
    if (rc != XO_OK) return rc;
    rc = register_plan(x.d, p, o, &x.c, &x.nc, &x.skipped_done, &x.skipped_failed);
    if (rc != XO_OK) return sub_end(&x, rc);
    if ((rc = check_parallelism(p, x.c, x.nc, so))) return sub_end(&x, rc);
    if (!x.nc) {
        printf("sweep %s: nothing to run: %zu runs done, %zu failed%s\n", x.name, x.skipped_done, x.skipped_failed,
               x.skipped_failed ? " (--retry-failed reruns them)" : "");
        return sub_end(&x, x.skipped_failed ? XO_FAILED : XO_OK);
    }
    /* One driver per sweep and database, as for local runs: it is the
     * sweep's only writer while it submits and follows. */
    if (!o->dry_run && (x.lock_fd = guard_sweep_lock(o->db_path, x.name, err, sizeof err)) < 0)
        return sub_end(&x, cli_error(XO_FAILED, "%s", err));
    if ((rc = adopt_and_mark(&x)) || (rc = group_shapes(&x)) || (rc = resolve_paths(&x))) return sub_end(&x, rc);
    if (o->dry_run) return sub_end(&x, dry_run_report(&x));
    for (x.cur = 0; x.cur < x.nshapes; x.cur++) /* one array per resource shape */
        if ((rc = submit_array(&x))) return sub_end(&x, rc);
    if (so->write_script) return sub_end(&x, XO_OK);
    if (!x.nsubmit)
        fprintf(stderr, "sweep %s: nothing to submit: %zu runs still queued or running (%zu done, %zu failed "
                        "not retried)\n", x.name, x.nlive, x.skipped_done, x.skipped_failed);
    if (so->no_wait) {
        fprintf(stderr, "  follow with `xover collect %s` (ingests what the runs wrote), cancel with "
                        "`xover cancel %s`\n", x.name, x.name);
        return sub_end(&x, XO_OK);
    }
    return sub_end(&x, follow_cands(&x));
}
