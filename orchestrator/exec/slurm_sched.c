/*
 * slurm_sched.c — the Slurm backend's conversation with the scheduler:
 * sbatch, squeue, sacct and scancel, each run with fork/exec and argv only
 * (never a shell), their output parsed from fixed formats ('|'-separated
 * fields chosen with -o / --format). Also the small run-directory files the
 * backend reads and writes (status).
 *
 * squeue is asked about every task of the user's jobs (-r expands arrays,
 * -t all includes tasks that ended within the controller's MinJobAge), and
 * the answer is filtered to our array jobs: asking with -j instead fails
 * outright as soon as one job id has been forgotten. Tasks squeue no longer
 * knows are looked up with sacct, which only works when the cluster keeps
 * accounting; otherwise the status files have the last word.
 */
#include "orchestrator/exec/internal_slurm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- running a command ---------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
} growbuf;

static int gb_read(int fd, growbuf *g)
{
    char tmp[4096];
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
    if (r <= 0) return 0;
    char *b = xo_grow(g->buf, &g->cap, g->len + (size_t)r + 1, 1, 4096);
    if (!b) return 0;
    g->buf = b;
    memcpy(g->buf + g->len, tmp, (size_t)r);
    g->len += (size_t)r;
    g->buf[g->len] = 0;
    return 1;
}

int sl_capture(char *const argv[], char **out, char **errtxt, int *status, char *err, size_t errlen)
{
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC)) {
        snprintf(err, errlen, "cannot create a pipe: %s", strerror(errno));
        return -1;
    }
    if (pipe2(pe, O_CLOEXEC)) {
        snprintf(err, errlen, "cannot create a pipe: %s", strerror(errno));
        close(po[0]);
        close(po[1]);
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(errno));
        close(po[0]); close(po[1]); close(pe[0]); close(pe[1]);
        return -1;
    }
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0) dup2(in, 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        signal(SIGINT, SIG_IGN); /* Ctrl-C is the driver's to handle */
        execvp(argv[0], argv);
        dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    growbuf go = {0}, ge = {0};
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int k = 0; k < 2; k++) {
            if (fds[k].fd < 0 || !fds[k].revents) continue;
            if (!gb_read(fds[k].fd, k ? &ge : &go)) {
                close(fds[k].fd);
                fds[k].fd = -1;
                open_fds--;
            }
        }
    }
    for (int k = 0; k < 2; k++)
        if (fds[k].fd >= 0) close(fds[k].fd);
    int ws;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    if (!go.buf) go.buf = calloc(1, 1);
    if (!ge.buf) ge.buf = calloc(1, 1);
    if (out) *out = go.buf;
    else free(go.buf);
    if (errtxt) *errtxt = ge.buf;
    else free(ge.buf);
    return 0;
}

/* The first line of a command's message, for an error. */
static void first_line(const char *text, char *buf, size_t n)
{
    while (text && (*text == ' ' || *text == '\n')) text++;
    size_t l = text ? strcspn(text, "\n") : 0;
    if (l >= n) l = n - 1;
    if (l) memcpy(buf, text, l);
    buf[l] = 0;
}

/* ---- states ----------------------------------------------------------------- */

static int state_in(const char *state, const char *const *list)
{
    for (; *list; list++)
        if (!strncmp(state, *list, strlen(*list))) return 1;
    return 0;
}

int sl_state_ended(const char *state)
{
    static const char *const ended[] = {"COMPLETED", "FAILED",    "TIMEOUT",  "CANCELLED", "PREEMPTED", "NODE_FAIL",
                                        "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "REVOKED", NULL};
    return state_in(state, ended);
}

int sl_state_interrupts(const char *state)
{
    static const char *const list[] = {"TIMEOUT", "PREEMPTED", "CANCELLED", "DEADLINE", NULL};
    return state_in(state, list);
}

/* ---- squeue and sacct ------------------------------------------------------ */

static void table_add(sl_table *t, const char *id, const char *state, const char *reason, const char *node)
{
    for (size_t k = 0; k < t->n; k++)
        if (!strcmp(t->t[k].id, id)) return; /* squeue's word beats sacct's */
    sl_task *nt = xo_grow(t->t, &t->cap, t->n + 1, sizeof *nt, 64);
    if (!nt) return;
    t->t = nt;
    sl_task *k = &t->t[t->n++];
    snprintf(k->id, sizeof k->id, "%s", id);
    snprintf(k->state, sizeof k->state, "%s", state);
    snprintf(k->reason, sizeof k->reason, "%s", reason && *reason ? reason : "None");
    snprintf(k->node, sizeof k->node, "%s", node ? node : "");
}

static int ours(const char *id, const char *const *jobs, size_t njobs)
{
    size_t l = strcspn(id, "_");
    for (size_t k = 0; k < njobs; k++)
        if (strlen(jobs[k]) == l && !strncmp(id, jobs[k], l)) return 1;
    return 0;
}

/* Parse "id|state|reason|node" lines into t (only our jobs' tasks). */
static void parse_lines(sl_table *t, char *text, const char *const *jobs, size_t njobs)
{
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *f[4] = {line, NULL, NULL, NULL};
        for (int k = 1; k < 4 && f[k - 1]; k++) {
            char *bar = strchr(f[k - 1], '|');
            if (bar) *bar = 0, f[k] = bar + 1;
        }
        if (!f[1] || !strchr(f[0], '_') || !ours(f[0], jobs, njobs)) continue;
        /* sacct says "CANCELLED by 0": keep the first word */
        f[1][strcspn(f[1], " ")] = 0;
        table_add(t, f[0], f[1], f[2], f[3]);
    }
}

void sl_query(sl_table *t, const char *const *jobs, size_t njobs)
{
    t->n = 0;
    t->answered = 0;
    if (!njobs) return;
    char uid[32], err[256];
    snprintf(uid, sizeof uid, "%ld", (long)getuid());
    char *sq[] = {"squeue", "-h", "-r", "-t", "all", "-u", uid, "-o", "%i|%T|%r|%N", NULL};
    char *out = NULL;
    int st;
    if (sl_capture(sq, &out, NULL, &st, err, sizeof err) || st != 0) {
        free(out);
        return;
    }
    t->answered = 1;
    parse_lines(t, out, jobs, njobs);
    free(out);
    /* Jobs squeue no longer lists at all: ask accounting, if any. */
    size_t have = 0;
    char list[4096] = "";
    for (size_t k = 0; k < njobs; k++) {
        int listed = 0;
        for (size_t i = 0; i < t->n && !listed; i++)
            listed = !strncmp(t->t[i].id, jobs[k], strlen(jobs[k])) && t->t[i].id[strlen(jobs[k])] == '_';
        if (listed) continue;
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", have++ ? "," : "", jobs[k]);
    }
    if (!have) return;
    char *sa[] = {"sacct", "-n", "-P", "-X", "-j", list, "--format=JobID,State,Reason,NodeList", NULL};
    if (sl_capture(sa, &out, NULL, &st, err, sizeof err) == 0 && st == 0) parse_lines(t, out, jobs, njobs);
    free(out);
}

const sl_task *sl_find(const sl_table *t, const char *task_id)
{
    for (size_t k = 0; k < t->n; k++)
        if (!strcmp(t->t[k].id, task_id)) return &t->t[k];
    return NULL;
}

void sl_table_free(sl_table *t)
{
    free(t->t);
    t->t = NULL;
    t->n = t->cap = 0;
}

/* ---- sbatch and scancel ----------------------------------------------------- */

int sl_submit(char *const *args, size_t nargs, const char *script, char *jobid, size_t jlen, char *err,
              size_t errlen)
{
    char **argv = calloc(nargs + 4, sizeof *argv);
    if (!argv) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t a = 0;
    argv[a++] = "sbatch";
    argv[a++] = "--parsable";
    for (size_t k = 0; k < nargs; k++) argv[a++] = args[k];
    argv[a++] = (char *)script;
    char *out = NULL, *etext = NULL, msg[512];
    int st, rc = sl_capture(argv, &out, &etext, &st, err, errlen);
    free(argv);
    if (rc) return -1;
    /* --parsable prints "jobid" or "jobid;cluster". */
    size_t l = strspn(out, "0123456789");
    if (st != 0 || !l) {
        first_line(etext && *etext ? etext : out, msg, sizeof msg);
        if (st == 127) snprintf(err, errlen, "cannot run sbatch: is Slurm installed and on PATH? (%s)", msg);
        else snprintf(err, errlen, "sbatch refused the job (exit %d): %s", st, *msg ? msg : "no message");
        free(out);
        free(etext);
        return -1;
    }
    if (l >= jlen) l = jlen - 1;
    memcpy(jobid, out, l);
    jobid[l] = 0;
    free(out);
    free(etext);
    return 0;
}

int sl_cancel(const char *const *jobs, size_t njobs, char *err, size_t errlen)
{
    char **argv = calloc(njobs + 2, sizeof *argv);
    if (!argv) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    argv[0] = "scancel";
    for (size_t k = 0; k < njobs; k++) argv[k + 1] = (char *)jobs[k];
    char *etext = NULL, msg[512];
    int st, rc = sl_capture(argv, NULL, &etext, &st, err, errlen);
    free(argv);
    if (rc) return -1;
    if (st != 0) {
        first_line(etext, msg, sizeof msg);
        if (st == 127) snprintf(err, errlen, "cannot run scancel: is Slurm installed and on PATH? (%s)", msg);
        else snprintf(err, errlen, "scancel failed (exit %d): %s", st, *msg ? msg : "no message");
        free(etext);
        return -1;
    }
    free(etext);
    return 0;
}

/* ---- times ------------------------------------------------------------------ */

/* ISO-8601 UTC as the database writes it ("2026-01-02T03:04:05.678Z") to
 * Unix seconds; 0 when it does not parse. */
double sl_iso_seconds(const char *iso)
{
    struct tm tm = {0};
    double sec;
    if (!iso || sscanf(iso, "%d-%d-%dT%d:%d:%lfZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                       &sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm) + sec;
}
