/*
 * harness.h — the test harness: registration, checks and helpers.
 *
 * A test is a function declared with TEST(name). It registers itself before
 * main() runs, so a test file needs nothing but its TEST blocks. The runner
 * (tests/harness.c) runs every test in a forked child, so a crash, an abort
 * from a sanitizer or a leak found by LeakSanitizer fails that test alone and
 * names it; the run ends with the line "N passed, N failed".
 *
 * A CHECK that fails prints file:line and the expression, and returns from the
 * test: the rest of that test is skipped, the other tests still run.
 */
#ifndef XOVER_TESTS_HARNESS_H
#define XOVER_TESTS_HARNESS_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
void harness_register(const char *name, const char *file, test_fn fn);
void harness_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define TEST(name)                                                          \
    static void name(void);                                                 \
    __attribute__((constructor)) static void register_##name(void)         \
    {                                                                       \
        harness_register(#name, __FILE__, name);                            \
    }                                                                       \
    static void name(void)

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            harness_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);           \
            return;                                                         \
        }                                                                   \
    } while (0)

#define CHECK_INT(a, b)                                                     \
    do {                                                                    \
        long long a_ = (long long)(a), b_ = (long long)(b);                 \
        if (a_ != b_) {                                                     \
            harness_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a,  \
                         #b, a_, b_);                                       \
            return;                                                         \
        }                                                                   \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                               \
    do {                                                                    \
        double a_ = (double)(a), b_ = (double)(b);                          \
        if (!(fabs(a_ - b_) <= (tol))) {                                    \
            harness_fail(__FILE__, __LINE__, "%s ~ %s: %.10g vs %.10g (tol %g)", \
                         #a, #b, a_, b_, (double)(tol));                    \
            return;                                                         \
        }                                                                   \
    } while (0)

#define CHECK_STR(a, b)                                                     \
    do {                                                                    \
        const char *a_ = (a), *b_ = (b);                                    \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                            \
            harness_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"",  \
                         #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");   \
            return;                                                         \
        }                                                                   \
    } while (0)

/* True when haystack contains needle (NULL-safe). */
#define CHECK_CONTAINS(hay, needle)                                         \
    do {                                                                    \
        const char *h_ = (hay), *n_ = (needle);                             \
        if (!h_ || !strstr(h_, n_)) {                                       \
            harness_fail(__FILE__, __LINE__, "%s contains \"%s\"; it is: %s", \
                         #hay, n_, h_ ? h_ : "(null)");                     \
            return;                                                         \
        }                                                                   \
    } while (0)

/* A fresh empty directory for the running test, removed when it ends. */
const char *harness_tmpdir(void);
/* The pid of the test runner (the parent of every forked test): state shared
 * by several tests, such as the Slurm test cluster, lives as long as it. */
long harness_runner_pid(void);

/* Join the test's tmpdir and a name into a static-per-call buffer owned by
 * the caller (buf of size n). Returns buf. */
char *harness_path(char *buf, size_t n, const char *name);

/* The result of running a program. out and err are NUL-terminated and owned
 * by the struct; free them with harness_proc_free(). */
typedef struct {
    int status; /* exit code, or 128+signal if killed */
    char *out;
    char *err;
} harness_proc;

/* Run argv (argv[0] searched in PATH unless it has a '/') with optional
 * stdin text, capturing stdout and stderr. Never through a shell. */
harness_proc harness_run(const char *const argv[], const char *stdin_text);
void harness_proc_free(harness_proc *p);

/* Path of the xover binary under test (XOVER_BIN, set by the Makefile). */
const char *harness_xover(void);

/* Read a whole file; NULL if it cannot be read. Caller frees. */
char *harness_slurp(const char *path, size_t *len);

/* Write a whole file; returns 0 on success. */
int harness_write(const char *path, const char *text);

#endif
