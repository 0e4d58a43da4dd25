/*
 * rundir.c — the files of a run directory (the list is in run.h): their
 * names, the status file, the metrics lines, checkpoint rotation, the log,
 * the run lock, and the chores around them (mkdir -p, atomic writes, tails
 * for failure reports, removal).
 */
#include "orchestrator/run/run.h"
#include "orchestrator/util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const names[RUN_NFILES] = {
    [RUN_CONFIG] = "config.json",
    [RUN_MODEL] = "model.json",
    [RUN_METRICS] = "metrics.jsonl",
    [RUN_CHECKPOINT] = "checkpoint",
    [RUN_CHECKPOINT_PREV] = "checkpoint.prev",
    [RUN_CHECKPOINT_BAD] = "checkpoint.bad",
    [RUN_CHECKPOINT_PREV_BAD] = "checkpoint.prev.bad",
    [RUN_LOG] = "log",
    [RUN_STATUS] = "status",
    [RUN_LOCK] = "lock",
    [RUN_STDOUT] = "stdout",
    [RUN_WORKER] = "worker.json",
    [RUN_ATTEMPT] = "attempt.json",
    [RUN_FORKS] = "forks",
    [RUN_FORKS_JSON] = "forks.json",
    [RUN_WAITING] = "waiting",
    [RUN_THREADS] = "threads",
    [RUN_THREADS_NOW] = "threads.now",
};

const char *rundir_name(run_file f) { return f >= 0 && f < RUN_NFILES ? names[f] : ""; }

run_path rundir_path(const char *dir, run_file f)
{
    run_path p;
    if (snprintf(p.s, sizeof p.s, "%s/%s", dir, rundir_name(f)) >= (int)sizeof p.s) p.s[0] = 0;
    return p;
}

/* ---- threads (the driver's hand-over) ------------------------------------------ */

int rundir_write_threads(const char *dir, run_file f, int n)
{
    char text[32];
    snprintf(text, sizeof text, "%d\n", n);
    return xo_write_atomic(rundir_path(dir, f).s, text, strlen(text));
}

int rundir_read_threads(const char *dir, run_file f)
{
    FILE *fp = fopen(rundir_path(dir, f).s, "r");
    if (!fp) return 0;
    int n = 0;
    char extra;
    if (fscanf(fp, "%d %c", &n, &extra) != 1) n = 0;
    fclose(fp);
    return n >= 1 && n <= 256 ? n : 0;
}

/* ---- status ---------------------------------------------------------------- */

/* On a full disk the atomic write has no room for its temporary file, and
 * the status file would go on saying "running" after the run has stopped.
 * Overwriting the file where it is needs no new block (the old text's block
 * holds the new one, a few hundred bytes); if even that fails, the file is
 * removed: no word is better than a wrong one. 0, or -1. */
static int overwrite_in_place(const char *path, const char *text, size_t len)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    int ok = fd >= 0 && pwrite(fd, text, len, 0) == (ssize_t)len && ftruncate(fd, (off_t)len) == 0;
    if (fd >= 0) close(fd);
    if (!ok) unlink(path);
    return ok ? 0 : -1;
}

int rundir_set_status(const char *dir, const char *word, const char *reason)
{
    int has_reason = reason && *reason;
    size_t n = strlen(word) + (has_reason ? strlen(reason) + 1 : 0) + 2;
    char *text = malloc(n);
    if (!text) return -1;
    snprintf(text, n, "%s\n%s%s", word, has_reason ? reason : "", has_reason ? "\n" : "");
    run_path path = rundir_path(dir, RUN_STATUS);
    int rc = xo_write_atomic(path.s, text, strlen(text));
    int e = errno;
    if (rc && xo_no_space(e)) rc = overwrite_in_place(path.s, text, strlen(text));
    free(text);
    errno = e;
    return rc;
}

int rundir_status(const char *dir, char *word, size_t wlen, char *reason, size_t rlen)
{
    word[0] = 0;
    if (reason) reason[0] = 0;
    char *text = xo_read_file(rundir_path(dir, RUN_STATUS).s, NULL);
    if (!text) return -1;
    size_t l = strcspn(text, "\n");
    snprintf(word, wlen, "%.*s", (int)l, text);
    if (reason && text[l] == '\n') {
        const char *r = text + l + 1;
        snprintf(reason, rlen, "%.*s", (int)strcspn(r, "\n"), r);
    }
    free(text);
    return 0;
}

/* ---- metrics.jsonl ------------------------------------------------------------ */

void rundir_metrics_line_label(FILE *f, const run_point *p, const run_value *v, size_t n, const char *label,
                               const char *text)
{
    fprintf(f, "{\"step\":%llu,\"tokens\":%.0f,\"epoch\":%.9g,\"flops\":%.9g", (unsigned long long)p->step,
            p->tokens, p->epoch, p->flops);
    for (size_t i = 0; i < n; i++)
        fprintf(f, v[i].whole ? ",\"%s\":%.0f" : ",\"%s\":%.9g", v[i].name, v[i].value);
    if (label && text) fprintf(f, ",\"%s\":\"%s\"", label, text);
    fputs("}\n", f);
}

void rundir_metrics_line(FILE *f, const run_point *p, const run_value *v, size_t n)
{
    rundir_metrics_line_label(f, p, v, n, NULL, NULL);
}

int rundir_eval_setup(const char *ckpt, const json_t *cfg, model_config *mc, model_eval_opts *eo, char *err,
                      size_t errlen)
{
    if (model_ckpt_config(ckpt, mc, err, errlen)) return -1;
    mc->attn_scale = (float)run_config_number(cfg, "model.attn_scale");
    if (eo) {
        const char *est = json_string_value(json_object_get(json_object_get(cfg, "train"), "eval_estimator"));
        *eo = (model_eval_opts){(int)run_config_number(cfg, "train.eval_draws"), est && !strcmp(est, "bernoulli"),
                                (uint64_t)run_config_number(cfg, "train.eval_seed")};
    }
    return 0;
}

char *rundir_mc_correct_hex(const unsigned char *ok, size_t n)
{
    char *hex = malloc(n / 4 + 24); /* "N:" (at most 21) + a digit per 4 + NUL */
    if (!hex) return NULL;
    size_t k = (size_t)sprintf(hex, "%zu:", n);
    for (size_t i = 0; i < n; i += 4) {
        int d = 0;
        for (size_t j = 0; j < 4 && i + j < n; j++) d |= (ok[i + j] ? 1 : 0) << j;
        hex[k++] = "0123456789abcdef"[d];
    }
    hex[k] = 0;
    return hex;
}

int rundir_cut_metrics(const char *dir, long long max_step, char *note, size_t notelen)
{
    run_path path = rundir_path(dir, RUN_METRICS);
    note[0] = 0;
    FILE *f = fopen(path.s, "r");
    if (!f) return errno == ENOENT ? 0 : -1;
    char *out = NULL, *line = NULL, first[96] = "";
    size_t outlen = 0, cap = 0;
    long long lineno = 0, first_no = 0, bad = 0, bad_before_kept = 0;
    FILE *mem = open_memstream(&out, &outlen);
    ssize_t n;
    while (mem && (n = getline(&line, &cap, f)) > 0) {
        lineno++;
        json_t *o = json_loads(line, 0, NULL);
        json_t *s = o ? json_object_get(o, "step") : NULL;
        if (json_is_integer(s) && json_integer_value(s) <= max_step && line[n - 1] == '\n') {
            fputs(line, mem);
            bad_before_kept = bad; /* those lay among the lines kept */
        } else if (!json_is_integer(s) && !bad++) {
            first_no = lineno;
            snprintf(first, sizeof first, "%.*s", (int)strcspn(line, "\n"), line);
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    if (!mem) return -1;
    fclose(mem);
    /* A torn last line is what a killed writer leaves: expected. A line
     * that is not metrics before the checkpoint's step is damage, and the
     * points it held are gone from the file: said, not dropped silently. */
    if (bad_before_kept)
        snprintf(note, notelen, "dropped %lld line%s of %s that %s not metrics, before the checkpoint's step %lld "
                 "(the first, line %lld: '%s'); the database keeps what it ingested of them",
                 bad_before_kept, bad_before_kept > 1 ? "s" : "", path.s, bad_before_kept > 1 ? "are" : "is",
                 max_step, first_no, first);
    int rc = xo_write_atomic(path.s, out ? out : "", out ? outlen : 0);
    int e = errno;
    free(out);
    errno = e;
    return rc;
}

/* ---- checkpoints ------------------------------------------------------------- */

int rundir_save_checkpoint(const char *dir, const model *m, const model_ckpt_state *st, const char *text,
                           char *err, size_t errlen)
{
    run_path ck = rundir_path(dir, RUN_CHECKPOINT), prev = rundir_path(dir, RUN_CHECKPOINT_PREV);
    /* A crash between the two renames leaves only checkpoint.prev, which
     * rundir_load_checkpoint takes. */
    if (rename(ck.s, prev.s) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot keep the previous checkpoint as %s: %s", prev.s, strerror(errno));
        return -1;
    }
    return model_save_text(m, ck.s, st, text, err, errlen);
}

int rundir_load_checkpoint(const char *dir, model *m, model_ckpt_state *st, char text[MODEL_CKPT_TEXT], char *lost,
                           size_t lostlen)
{
    static const run_file cands[2][2] = {{RUN_CHECKPOINT, RUN_CHECKPOINT_BAD},
                                         {RUN_CHECKPOINT_PREV, RUN_CHECKPOINT_PREV_BAD}};
    lost[0] = 0;
    for (int i = 0; i < 2; i++) {
        run_path p = rundir_path(dir, cands[i][0]), bad = rundir_path(dir, cands[i][1]);
        if (access(p.s, F_OK) != 0) continue;
        char err[1024];
        /* model_load changes nothing in m when it fails: falling back is safe */
        if (model_load_text(m, p.s, st, text, MODEL_CKPT_TEXT, err, sizeof err) == 0) return 0;
        rename(p.s, bad.s);
        size_t at = strlen(lost);
        if (snprintf(lost + at, lostlen - at, "%s%s (kept as %s)", at ? "; " : "", err, bad.s) < 0) lost[at] = 0;
    }
    return 1;
}

/* ---- the log ------------------------------------------------------------------- */

FILE *rundir_open_log(const char *dir) { return fopen(rundir_path(dir, RUN_LOG).s, "a"); }

void rundir_log(FILE *log, const char *fmt, ...)
{
    if (!log) return;
    time_t t = time(NULL);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", localtime(&t));
    fprintf(log, "%s ", ts);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(log, fmt, ap);
    va_end(ap);
    fputc('\n', log);
    fflush(log);
}

/* ---- the run lock ---------------------------------------------------------------- */

int rundir_lock(const char *dir, char *err, size_t errlen)
{
    char holder[512];
    int fd = xo_lock_file(rundir_path(dir, RUN_LOCK).s, holder, sizeof holder, err, errlen);
    if (fd == -2) snprintf(err, errlen, "its directory %s is in use by xover %s", dir, holder);
    return fd;
}

void rundir_remove_if_empty(const char *dir)
{
    unlink(rundir_path(dir, RUN_LOCK).s); /* a lock file is made again by whoever locks next */
    rmdir(dir);
}

int rundir_is_run_of(const char *dir, const char *key)
{
    const char *base = strrchr(dir, '/');
    base = base ? base + 1 : dir;
    return strlen(key) == 64 && !strcmp(base, key);
}

/* ---- file chores ------------------------------------------------------------------ */

int rundir_mkdirs(const char *path, char *err, size_t errlen)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        snprintf(err, errlen, "path too long: %s", path);
        return -1;
    }
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p) continue;
        char c = *p;
        *p = 0;
        if (mkdir(buf, 0777) && errno != EEXIST) {
            int e = errno; /* kept for the caller (xo_no_space) */
            snprintf(err, errlen, "cannot create directory %s: %s", buf, strerror(e));
            errno = e;
            return -1;
        }
        *p = c;
        if (!c) break;
    }
    return 0;
}

int rundir_write(const char *path, const char *text, size_t len, char *err, size_t errlen)
{
    if (xo_write_atomic(path, text, len) == 0) return 0;
    int e = errno; /* kept for the caller (xo_no_space) */
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
    errno = e;
    return -1;
}

static char *read_tail_bytes(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long end = ftell(f);
    long start = end > (long)max ? end - (long)max : 0;
    fseek(f, start, SEEK_SET);
    char *buf = malloc((size_t)(end - start) + 1);
    size_t n = buf ? fread(buf, 1, (size_t)(end - start), f) : 0;
    fclose(f);
    if (!buf) return NULL;
    buf[n] = 0;
    *len = n;
    return buf;
}

char *rundir_tail(const char *path, int lines)
{
    size_t n;
    char *buf = read_tail_bytes(path, 4096, &n);
    if (!buf) return NULL;
    while (n && buf[n - 1] == '\n') buf[--n] = 0;
    if (!n) {
        free(buf);
        return NULL;
    }
    size_t i = n;
    int seen = 0;
    while (i > 0) {
        if (buf[i - 1] == '\n' && ++seen == lines) break;
        i--;
    }
    char *out = strdup(buf + i);
    free(buf);
    return out;
}

char *rundir_last_line(const char *path)
{
    char *t = rundir_tail(path, 1);
    if (t && strlen(t) > 300) t[300] = 0;
    return t;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int rundir_remove(const char *path) { return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS); }
