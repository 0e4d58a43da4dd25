/*
 * slurm_adopt.c — a submission the driver did not live to record.
 *
 * sbatch returns a job id, and only then can the driver write the tasks'
 * ids into the database: a driver killed in between (kill -9, a lost
 * session) used to leave an array running that no xover command could see,
 * and the next `xover run` submitted the same runs again. So the intent is
 * recorded first (as submitit records its job before it returns):
 *
 *   1. in one transaction, each run to submit gets the job id
 *      "submitting:TOKEN_i" (TOKEN: the submission's time and 32 random
 *      bits; i: its task index), status pending;
 *   2. sbatch gets --job-name=xover-SWEEP and --comment=xover:TOKEN;
 *   3. in one transaction, "submitting:TOKEN_i" becomes "JOBID_i".
 *
 * Whoever finds a "submitting:" id later (`xover run`, `collect`, `cancel`:
 * they hold the sweep lock, so the submitter is gone) looks for the array
 * by its name and comment — squeue (tasks it still knows), then sacct (when
 * the cluster keeps accounting), then the run directories' attempt.json
 * (a task that started names its array) — and adopts it: the ids become
 * the array's. Found nowhere while squeue answers: sbatch never took it,
 * and the runs are plain pending runs again (job id NULL).
 */
#include "orchestrator/exec/internal_slurm.h"

#include "orchestrator/cli/cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

void sl_token_new(char *tok, size_t n)
{
    unsigned int r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) r = (unsigned int)getpid() ^ (unsigned int)time(NULL);
    snprintf(tok, n, "%lld-%08x", (long long)time(NULL), r);
}

int sl_is_token(const char *job_id)
{
    return job_id && !strncmp(job_id, SL_TOKEN_PREFIX, strlen(SL_TOKEN_PREFIX));
}

/* The token of a "submitting:TOKEN_i" id into tok ("" when it is none). */
static void token_of(const char *job_id, char *tok, size_t n)
{
    tok[0] = 0;
    if (!sl_is_token(job_id)) return;
    const char *t = job_id + strlen(SL_TOKEN_PREFIX);
    const char *us = strrchr(t, '_');
    snprintf(tok, n, "%.*s", us ? (int)(us - t) : (int)strlen(t), t);
}

/* Look through "JOBID|COMMENT" lines for comment xover:tok. */
static int scan_lines(char *text, const char *tok, char *jobid, size_t jlen)
{
    char want[128];
    snprintf(want, sizeof want, "xover:%s", tok);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *bar = strchr(line, '|');
        if (!bar) continue;
        *bar = 0;
        if (strcmp(bar + 1, want)) continue;
        size_t l = strspn(line, "0123456789"); /* sacct's "1234_[0-3]", "1234_7": the array's id */
        if (!l) continue;
        snprintf(jobid, jlen, "%.*s", (int)l, line);
        return 1;
    }
    return 0;
}

/* A task of this submission that started names its array in attempt.json
 * (started no earlier than the token's time). */
static int from_attempts(const sl_claim *c, size_t n, const char *tok, char *jobid, size_t jlen)
{
    double t0 = (double)atoll(tok) - 1;
    char want[128];
    for (size_t k = 0; k < n; k++) {
        token_of(*c[k].job_id, want, sizeof want);
        if (strcmp(want, tok) || !c[k].dir) continue;
        json_t *a = json_load_file(rundir_path(c[k].dir, RUN_ATTEMPT).s, 0, NULL);
        const char *j = json_string_value(json_object_get(a, "job_id"));
        double started = json_number_value(json_object_get(a, "started"));
        size_t l = j ? strspn(j, "0123456789") : 0;
        if (l && j[l] == '_' && started >= t0) snprintf(jobid, jlen, "%.*s", (int)l, j);
        json_decref(a);
        if (l && *jobid) return 1;
    }
    return 0;
}

/* The array of submission `tok` of sweep `sweep`: 1 with its id, 0 when no
 * one knows it, -1 when squeue does not answer. */
static int find_array(const char *sweep, const char *tok, const sl_claim *c, size_t n, char *jobid, size_t jlen)
{
    char uid[32], name[300], err[256], *out = NULL;
    int st;
    snprintf(uid, sizeof uid, "%ld", (long)getuid());
    snprintf(name, sizeof name, "xover-%s", sweep);
    char *sq[] = {"squeue", "-h", "-u", uid, "-t", "all", "-n", name, "-o", "%F|%k", NULL};
    if (sl_capture(sq, &out, NULL, &st, err, sizeof err) || st != 0) {
        free(out);
        return -1;
    }
    int found = scan_lines(out, tok, jobid, jlen);
    free(out);
    out = NULL;
    if (found) return 1;
    /* Forgotten by squeue (MinJobAge): accounting, if the cluster keeps it. */
    char since[64];
    time_t t = (time_t)atoll(tok) - 60;
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%S", &tm);
    char *sa[] = {"sacct", "-n", "-P", "-X", "-S", since, "--name", name, "--format=JobID,Comment", NULL};
    if (sl_capture(sa, &out, NULL, &st, err, sizeof err) == 0 && st == 0) found = scan_lines(out, tok, jobid, jlen);
    free(out);
    return found ? 1 : from_attempts(c, n, tok, jobid, jlen);
}

/* Rewrite the ids of submission tok: to "JOBID_i", or NULL when jobid is
 * NULL (never submitted). One transaction. */
static int rewrite(db *d, sl_claim *c, size_t n, const char *tok, const char *jobid)
{
    char t[128];
    if (db_begin(d)) return -1;
    for (size_t k = 0; k < n; k++) {
        token_of(*c[k].job_id, t, sizeof t);
        if (strcmp(t, tok)) continue;
        char *nid = NULL;
        if (jobid && asprintf(&nid, "%s%s", jobid, strrchr(*c[k].job_id, '_')) < 0) nid = NULL;
        if (jobid && !nid) {
            db_rollback(d);
            return -1;
        }
        db_run_update u = {.set = DB_SET_JOB, .job_id = nid};
        if (db_run_set(d, c[k].id, &u)) {
            free(nid);
            db_rollback(d);
            return -1;
        }
        free(*c[k].job_id);
        *c[k].job_id = nid;
    }
    return db_commit(d) ? -1 : 0;
}

int sl_adopt(db *d, const char *sweep, sl_claim *c, size_t n, char *err, size_t errlen)
{
    for (size_t k = 0; k < n; k++) {
        char tok[128], jobid[64] = "";
        token_of(*c[k].job_id, tok, sizeof tok);
        if (!*tok) continue;
        int f = find_array(sweep, tok, c, n, jobid, sizeof jobid);
        if (f < 0) {
            snprintf(err, errlen, "run %.12s was being submitted to Slurm (submission %s) when its driver stopped, and "
                                  "squeue does not answer: cannot tell whether its array exists", c[k].key, tok);
            return -1;
        }
        if (rewrite(d, c, n, tok, f ? jobid : NULL)) {
            snprintf(err, errlen, "recording submission %s: %s", tok, db_errmsg(d));
            return -1;
        }
        if (f) fprintf(stderr, "sweep %s: adopted Slurm job array %s, submitted by a driver that stopped before "
                               "recording it (submission %s)\n", sweep, jobid, tok);
        else fprintf(stderr, "sweep %s: submission %s never reached Slurm: its runs are pending again\n", sweep, tok);
    }
    return 0;
}
