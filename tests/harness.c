/*
 * harness.c — the test runner.
 *
 * Usage: xover_tests [--list] [--no-fork] [SUBSTRING...]
 * Runs every registered test whose name or file contains one of the
 * substrings (all tests when none is given), each in a forked child with its
 * own temporary directory, and ends with "N passed, N failed". The exit code
 * is 0 only when every selected test passed and at least one ran.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *name;
    const char *file;
    test_fn fn;
} test_case;

static test_case *g_tests;
static size_t g_ntests, g_cap;
static int g_failed_current; /* set in the child when a CHECK fails */
static char g_tmpdir[4096];

void harness_register(const char *name, const char *file, test_fn fn)
{
    if (g_ntests == g_cap) {
        g_cap = g_cap ? 2 * g_cap : 64;
        g_tests = realloc(g_tests, g_cap * sizeof *g_tests);
        if (!g_tests) abort();
    }
    g_tests[g_ntests++] = (test_case){name, file, fn};
}

void harness_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    g_failed_current = 1;
}

const char *harness_tmpdir(void) { return g_tmpdir; }

char *harness_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", g_tmpdir, name);
    return buf;
}

const char *harness_xover(void)
{
    const char *p = getenv("XOVER_BIN");
    return p && *p ? p : "build/asan/xover";
}

char *harness_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, 2 * cap + 1);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) return NULL;
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

int harness_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* Append what is readable on fd to *buf (growing it). Returns 0 at EOF. */
static int drain(int fd, char **buf, size_t *len, size_t *cap)
{
    char tmp[8192];
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r <= 0) return r < 0 && errno == EINTR ? 1 : 0;
    if (*len + (size_t)r + 1 > *cap) {
        while (*len + (size_t)r + 1 > *cap) *cap = *cap ? 2 * *cap : 8192;
        *buf = realloc(*buf, *cap);
        if (!*buf) abort();
    }
    memcpy(*buf + *len, tmp, (size_t)r);
    *len += (size_t)r;
    (*buf)[*len] = 0;
    return 1;
}

harness_proc harness_run(const char *const argv[], const char *stdin_text)
{
    harness_proc p = {-1, NULL, NULL};
    int in[2], out[2], err[2];
    if (pipe(in) || pipe(out) || pipe(err)) abort();
    pid_t pid = fork();
    if (pid < 0) abort();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(in[0]); close(in[1]); close(out[0]); close(out[1]);
        close(err[0]); close(err[1]);
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(in[0]); close(out[1]); close(err[1]);
    if (stdin_text) {
        /* Inputs in tests are small; a blocking write is fine. */
        size_t n = strlen(stdin_text), off = 0;
        signal(SIGPIPE, SIG_IGN);
        while (off < n) {
            ssize_t w = write(in[1], stdin_text + off, n - off);
            if (w <= 0) break;
            off += (size_t)w;
        }
    }
    close(in[1]);
    size_t olen = 0, ocap = 0, elen = 0, ecap = 0;
    p.out = calloc(1, 1);
    p.err = calloc(1, 1);
    ocap = ecap = 1;
    struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[0].fd >= 0 && fds[0].revents) {
            if (!drain(fds[0].fd, &p.out, &olen, &ocap)) {
                close(fds[0].fd); fds[0].fd = -1; open_fds--;
            }
        }
        if (fds[1].fd >= 0 && fds[1].revents) {
            if (!drain(fds[1].fd, &p.err, &elen, &ecap)) {
                close(fds[1].fd); fds[1].fd = -1; open_fds--;
            }
        }
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    p.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return p;
}

void harness_proc_free(harness_proc *p)
{
    free(p->out);
    free(p->err);
    p->out = p->err = NULL;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static int selected(const test_case *t, int argc, char **argv, int first)
{
    if (first >= argc) return 1;
    for (int i = first; i < argc; i++)
        if (strstr(t->name, argv[i]) || strstr(t->file, argv[i])) return 1;
    return 0;
}

static int cmp_case(const void *a, const void *b)
{
    const test_case *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : strcmp(x->name, y->name);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The runner's pid: what outlives one test (a shared Slurm test cluster
 * lives as long as this process). */
static long g_runner;
long harness_runner_pid(void)
{
    return g_runner;
}

int main(int argc, char **argv)
{
    int use_fork = 1, list = 0, first = 1;
    g_runner = (long)getpid();
    while (first < argc && argv[first][0] == '-') {
        if (!strcmp(argv[first], "--no-fork")) use_fork = 0;
        else if (!strcmp(argv[first], "--list")) list = 1;
        else {
            fprintf(stderr, "usage: %s [--list] [--no-fork] [SUBSTRING...]\n", argv[0]);
            return 2;
        }
        first++;
    }
    qsort(g_tests, g_ntests, sizeof *g_tests, cmp_case);
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    int passed = 0, failed = 0;
    for (size_t i = 0; i < g_ntests; i++) {
        test_case *t = &g_tests[i];
        if (!selected(t, argc, argv, first)) continue;
        if (list) { printf("%s (%s)\n", t->name, t->file); continue; }
        snprintf(g_tmpdir, sizeof g_tmpdir, "%s/xover-test-XXXXXX", base);
        if (!mkdtemp(g_tmpdir)) { perror("mkdtemp"); return 2; }
        fflush(stdout);
        fflush(stderr);
        double t0 = now();
        int ok;
        if (use_fork) {
            pid_t pid = fork();
            if (pid < 0) { perror("fork"); return 2; }
            if (pid == 0) {
                g_failed_current = 0;
                t->fn();
                fflush(stdout);
                /* exit() (not _exit) so LeakSanitizer checks this test. */
                exit(g_failed_current ? 1 : 0);
            }
            int st;
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
            ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
            if (WIFSIGNALED(st))
                fprintf(stderr, "    killed by signal %d\n", WTERMSIG(st));
        } else {
            g_failed_current = 0;
            t->fn();
            ok = !g_failed_current;
        }
        nftw(g_tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        printf("%s %s (%s) %.2fs\n", ok ? "ok  " : "FAIL", t->name, t->file, now() - t0);
        fflush(stdout);
        if (ok) passed++; else failed++;
    }
    if (list) return 0;
    printf("%d passed, %d failed\n", passed, failed);
    return (failed == 0 && passed > 0) ? 0 : 1;
}
