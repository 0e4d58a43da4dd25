/*
 * slurm_script.c — what a submission writes, in memory and in run
 * directories, for slurm.c: the sbatch argv, the job script, a run's
 * config.json / worker.json / status, and the checks that keep every value
 * that reaches them one line of text.
 *
 * Every sbatch option goes on sbatch's argv (never through a shell); the
 * script itself only quotes three absolute paths. The options also appear,
 * quoted, in the script's comment lines (and, for --write-script, as
 * #SBATCH lines), and the run directories are lines of the list file: a
 * newline in any of them would end a comment (and run what follows) or
 * split a line, so values with control characters are refused before
 * anything is written (sl_one_line).
 */
#include "orchestrator/util/util.h"
#include "orchestrator/exec/internal_slurm.h"

#include "orchestrator/cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 0 when `value` (what `what` names) holds no control character; else a
 * usage error showing it with the character escaped. A newline in a value
 * echoed into the job script's comments would end the comment, and the
 * rest of the value would run as a command on the compute node. */
const char *sl_first_control(const char *s)
{
    while (*s && (unsigned char)*s >= 0x20 && *s != 0x7f) s++;
    return *s ? s : NULL;
}

int sl_one_line(const char *what, const char *value)
{
    const char *p = sl_first_control(value);
    if (!p) return 0;
    char shown[300];
    size_t k = 0;
    for (const char *q = value; *q && k + 5 < sizeof shown; q++) {
        unsigned char ch = (unsigned char)*q;
        if (ch == '\n') k += (size_t)snprintf(shown + k, sizeof shown - k, "\\n");
        else if (ch < 0x20 || ch == 0x7f) k += (size_t)snprintf(shown + k, sizeof shown - k, "\\x%02x", ch);
        else shown[k++] = (char)ch;
    }
    shown[k] = 0;
    return cli_error(XO_USAGE,
                     "%s '%s' holds a control character (byte 0x%02x): values that reach a Slurm job "
                     "script or its run list must be one line of text", what, shown, (unsigned char)*p);
}

/* Every value the job script or the run list will hold, checked before
 * the database or any file is touched. */
int sl_check_one_line(const exec_options *o, const exec_slurm_options *so)
{
    char cwd[PATH_MAX], self[PATH_MAX];
    if ((o->runs_dir && sl_one_line("--runs-dir", o->runs_dir)) ||
        (so->partition && sl_one_line("--partition", so->partition)) ||
        (so->account && sl_one_line("--account", so->account)) || (so->qos && sl_one_line("--qos", so->qos)) ||
        (so->constraint && sl_one_line("--constraint", so->constraint)) ||
        (so->time && sl_one_line("--time", so->time)) || (so->mem && sl_one_line("--mem", so->mem)))
        return XO_USAGE;
    for (size_t k = 0; k < so->nsbatch_args; k++) {
        if (sl_one_line("--sbatch-arg", so->sbatch_args[k])) return XO_USAGE;
        /* an #SBATCH line ends at a blank; sbatch reads quotes its own way */
        if (so->write_script && so->sbatch_args[k][strcspn(so->sbatch_args[k], " \t'\"\\")])
            return cli_error(XO_USAGE, "--write-script: --sbatch-arg '%s' holds a blank or a quote, which an "
                                       "#SBATCH line cannot carry; submit without --write-script", so->sbatch_args[k]);
    }
    if (so->write_script && sl_one_line("--write-script", so->write_script)) return XO_USAGE;
    if (getcwd(cwd, sizeof cwd) && sl_one_line("the current directory", cwd)) return XO_USAGE;
    ssize_t n = o->self_exe ? -1 : readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) self[n] = 0;
    if ((o->self_exe || n > 0) && sl_one_line("the xover binary's path", o->self_exe ? o->self_exe : self))
        return XO_USAGE;
    return XO_OK;
}

/* 'text' quoted for sh: inside single quotes, ' becomes '\''. */
void sl_sh_quote(FILE *f, const char *text)
{
    fputc('\'', f);
    for (const char *p = text; *p; p++) {
        if (*p == '\'') fputs("'\\''", f);
        else fputc(*p, f);
    }
    fputc('\'', f);
}

/* The run's directory gets config.json, worker.json and status "pending".
 * A branch's worker.json names its trunk's directory: the worker waits
 * there for the fork checkpoint (slurm_worker.c). */
int sl_prepare_dir(const sweep_plan *p, size_t i, const char *key, const char *dir, const char *self,
                   const char *trunk_dir, char *err, size_t errlen)
{
    if (rundir_mkdirs(dir, err, errlen)) return -1;
    json_t *cfg = sweep_plan_config(p, i, err, errlen);
    if (!cfg) return -1;
    char *text = json_dumps(cfg, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(cfg);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    run_path cfgpath = rundir_path(dir, RUN_CONFIG);
    int bad = rundir_write(cfgpath.s, text, strlen(text), err, errlen);
    free(text);
    if (bad) return -1;

    const sweep *s = sweep_plan_sweep(p);
    sweep_trainer_info tr = sweep_trainer(s);
    json_t *argv = json_array(), *w = json_object();
    run_path metrics, outp = rundir_path(dir, RUN_STDOUT);
    const char *stdout_path = NULL;
    if (tr.external) {
        char *mfile = NULL;
        char **av = sweep_plan_argv(p, i, dir, key, &mfile, err, errlen);
        if (!av) {
            json_decref(argv);
            json_decref(w);
            return -1;
        }
        for (char **a = av; *a; a++) json_array_append_new(argv, json_string(*a));
        sweep_argv_free(av);
        if (mfile && !guard_inside(dir, mfile)) {
            /* as for local runs: the file read must stay inside the run */
            snprintf(err, errlen, "trainer.metrics_file resolves to %.800s, which is outside the run directory",
                     mfile);
            free(mfile);
            json_decref(argv);
            json_decref(w);
            return -1;
        }
        snprintf(metrics.s, sizeof metrics.s, "%s", mfile ? mfile : outp.s);
        if (!tr.metrics_file) stdout_path = outp.s;
        free(mfile);
    } else {
        json_array_append_new(argv, json_string(self));
        json_array_append_new(argv, json_string("train"));
        json_array_append_new(argv, json_string("--config"));
        json_array_append_new(argv, json_string(cfgpath.s));
        json_array_append_new(argv, json_string("--out"));
        json_array_append_new(argv, json_string(dir));
        metrics = rundir_path(dir, RUN_METRICS);
    }
    json_object_set_new(w, "key", json_string(key));
    json_object_set_new(w, "argv", argv);
    json_object_set_new(w, "stdout", stdout_path ? json_string(stdout_path) : json_null());
    json_object_set_new(w, "metrics", json_string(metrics.s));
    json_object_set_new(w, "regex", tr.external && tr.metrics == SWEEP_METRICS_REGEX ? json_string(tr.regex) : json_null());
    if (trunk_dir) json_object_set_new(w, "trunk", json_string(trunk_dir));
    text = json_dumps(w, JSON_INDENT(2));
    json_decref(w);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    bad = rundir_write(rundir_path(dir, RUN_WORKER).s, text, strlen(text), err, errlen);
    free(text);
    if (bad) return -1;
    /* A fresh word, so that an old final status or attempt is not read as
     * this submission's. */
    run_path attempt = rundir_path(dir, RUN_ATTEMPT);
    if (unlink(attempt.s) && errno != ENOENT) {
        snprintf(err, errlen, "cannot remove %.900s: %s", attempt.s, strerror(errno));
        return -1;
    }
    if (rundir_set_status(dir, "pending", "submitted to Slurm")) {
        snprintf(err, errlen, "cannot write %s/status", dir);
        return -1;
    }
    return 0;
}

/* A Slurm time limit ("30", "30:00", "2:00:00", "1-0", "1-2:30", ...) in
 * seconds; 0 when it is none of those (cmd_run.c checks the form). */
static double time_seconds(const char *t)
{
    long v[4] = {0};
    int nv = 0, days = -1;
    const char *p = t;
    if (strchr(t, '-')) {
        days = atoi(t);
        p = strchr(t, '-') + 1;
    }
    for (char *end; nv < 3 && *p; nv++) {
        v[nv] = strtol(p, &end, 10);
        p = *end == ':' ? end + 1 : end;
        if (!*end) {
            nv++;
            break;
        }
    }
    if (days >= 0) /* D-H, D-H:M, D-H:M:S */
        return days * 86400.0 + v[0] * 3600.0 + (nv > 1 ? v[1] * 60.0 : 0) + (nv > 2 ? v[2] : 0);
    if (nv == 1) return v[0] * 60.0;               /* M */
    if (nv == 2) return v[0] * 60.0 + v[1];        /* M:S */
    return v[0] * 3600.0 + v[1] * 60.0 + v[2];     /* H:M:S */
}

/* How long before a task's time limit Slurm warns it (SIGUSR1) to stop at
 * a checkpoint and requeue: a quarter of the limit, from 10 s to 90 s (90
 * when the limit is the partition's, unknown here). Slurm sends the signal
 * up to 60 s early: limits under a few minutes are for tests. */
static int signal_lead(double limit)
{
    if (!(limit > 0)) return 90;
    double lead = limit / 4;
    return lead < 10 ? 10 : lead > 90 ? 90 : (int)lead;
}

/* Build the sbatch argv (owned strings) for an array of n tasks. */
char **sl_sbatch_args(const exec_slurm_options *so, const char *sweep, const char *slurmdir, size_t n,
                          double timeout, const char *token, size_t *nargs)
{
    char **a = calloc(24 + so->nsbatch_args, sizeof *a);
    if (!a) return NULL;
    size_t k = 0;
    char buf[4400];
    /* The name and comment find the array again if this driver dies before
     * recording its id (slurm_adopt.c). */
    snprintf(buf, sizeof buf, "--job-name=xover-%s", sweep);
    a[k++] = strdup(buf);
    snprintf(buf, sizeof buf, "--comment=xover:%s", token);
    a[k++] = strdup(buf);
    if (so->array_parallelism > 0) snprintf(buf, sizeof buf, "--array=0-%zu%%%d", n - 1, so->array_parallelism);
    else snprintf(buf, sizeof buf, "--array=0-%zu", n - 1);
    a[k++] = strdup(buf);
    snprintf(buf, sizeof buf, "--cpus-per-task=%d", so->cpus_per_run > 0 ? so->cpus_per_run : 1);
    a[k++] = strdup(buf);
    const struct {
        const char *opt, *val;
    } named[] = {{"partition", so->partition}, {"account", so->account}, {"qos", so->qos},
                 {"constraint", so->constraint}};
    for (size_t m = 0; m < sizeof named / sizeof *named; m++)
        if (named[m].val) {
            snprintf(buf, sizeof buf, "--%s=%s", named[m].opt, named[m].val);
            a[k++] = strdup(buf);
        }
    if (so->exclusive) a[k++] = strdup("--exclusive");
    double limit = 0;
    if (so->time) {
        snprintf(buf, sizeof buf, "--time=%s", so->time);
        a[k++] = strdup(buf);
        limit = time_seconds(so->time);
    } else if (timeout > 0) {
        /* --timeout in whole minutes, rounded up: Slurm's unit (said, by
         * cmd_run.c, when that changes it) */
        long long minutes = (long long)((timeout + 59) / 60);
        snprintf(buf, sizeof buf, "--time=%lld", minutes);
        a[k++] = strdup(buf);
        limit = 60.0 * (double)minutes;
    }
    /* Near the limit the worker checkpoints and requeues its task. */
    snprintf(buf, sizeof buf, "--signal=B:USR1@%d", signal_lead(limit));
    a[k++] = strdup(buf);
    if (so->mem) {
        snprintf(buf, sizeof buf, "--mem=%s", so->mem);
        a[k++] = strdup(buf);
    }
    if (snprintf(buf, sizeof buf, "--output=%s/%%A_%%a.out", slurmdir) < (int)sizeof buf) a[k++] = strdup(buf);
    a[k++] = strdup("--open-mode=append"); /* a requeued task adds to its output */
    a[k++] = strdup("--requeue");          /* node failure, preemption: run again, resume */
    for (size_t m = 0; m < so->nsbatch_args; m++) a[k++] = strdup(so->sbatch_args[m]);
    for (size_t m = 0; m < k; m++)
        if (!a[m]) {
            for (size_t j = 0; j < k; j++) free(a[j]);
            free(a);
            return NULL;
        }
    *nargs = k;
    return a;
}

/* The job script (malloc'd, NUL-terminated), or NULL (out of memory). */
char *sl_script_text(const char *sweep, size_t n, char *const *args, size_t nargs, const char *cwd,
                         const char *self, const char *list, int max_requeues, int by_hand)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    fprintf(f, "#!/bin/sh\n");
    /* For `sbatch SCRIPT` by hand (--write-script): the options as
     * directives (checked to hold no blank nor quote: write_script_ok). */
    for (size_t k = 0; by_hand && k < nargs; k++) fprintf(f, "#SBATCH %s\n", args[k]);
    fprintf(f, "# xover: sweep %s, %zu runs as one Slurm job array (xover run --backend slurm).\n", sweep, n);
    fprintf(f, "# Submitted with these options, on sbatch's command line:\n#   sbatch --parsable");
    for (size_t k = 0; k < nargs; k++) {
        fputs(" ", f);
        sl_sh_quote(f, args[k]);
    }
    fprintf(f, " THIS_SCRIPT\n");
    fprintf(f, "# Task i runs `xover worker` on the run directory on line i+1 of\n#   %s\n", list);
    fprintf(f, "# Workers write only their run directory (shared filesystem); the waiting\n"
               "# `xover run`, or `xover collect %s`, ingests it into the database.\n", sweep);
    fprintf(f, "cd ");
    sl_sh_quote(f, cwd);
    fprintf(f, " || exit 1\nexec ");
    sl_sh_quote(f, self);
    fprintf(f, " worker --list ");
    sl_sh_quote(f, list);
    fprintf(f, " --index \"$SLURM_ARRAY_TASK_ID\" --max-requeues %d\n", max_requeues);
    if (fclose(f)) {
        free(text);
        return NULL;
    }
    return text;
}

