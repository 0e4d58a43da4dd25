/*
 * test_reliability_input.c — hostile input is refused with file:line:col and
 * exit code 2, in time linear in its size, never a crash (issue 17): deeply
 * nested derive expressions and YAML, a second YAML document, durations that
 * are not finite, corpora that cannot feed the plan.
 */
#include "tests/harness.h"

#include <stdlib.h>
#include <string.h>

/* `xover plan FILE` on yaml (written to the test's directory). */
static harness_proc plan_text(const char *yaml)
{
    char path[512], db[512];
    harness_path(path, sizeof path, "t.yaml");
    harness_path(db, sizeof db, "none.db");
    harness_write(path, yaml);
    const char *argv[] = {harness_xover(), "plan", path, "--db", db, NULL};
    return harness_run(argv, NULL);
}

/* A sweep whose derive: epochs is prefix + "1" + suffix, quoted. */
static char *deep_derive(const char *prefix, size_t nprefix, const char *suffix, size_t nsuffix)
{
    const char *head = "sweep: t\n"
                       "models: {xs: {layers: 1, dim: 16, heads: 2}}\n"
                       "grid: {objective: [ar], unique_tokens: [1k]}\n"
                       "derive: {epochs: \"";
    size_t n = strlen(head) + nprefix * strlen(prefix) + nsuffix * strlen(suffix) + 16;
    char *t = malloc(n), *p = t;
    p += sprintf(p, "%s", head);
    for (size_t i = 0; i < nprefix; i++) p += sprintf(p, "%s", prefix);
    *p++ = '1';
    for (size_t i = 0; i < nsuffix; i++) p += sprintf(p, "%s", suffix);
    sprintf(p, "\"}\n");
    return t;
}

/* 40k nested '(' (an 80 KB file) and 1M unary minus signs overflowed the
 * recursive descent parser's stack: SIGSEGV in `xover plan` and `run`. */
TEST(reliability_deep_derive_expression_is_refused_not_a_crash)
{
    char *t = deep_derive("(", 40000, ")", 40000);
    harness_proc r = plan_text(t);
    free(t);
    CHECK_INT(r.status, 2);
    /* derive's value starts at 4:18, quoted: the 257th '(' is at column 19 + 256 */
    CHECK_CONTAINS(r.err, "t.yaml:4:275: derive epochs: expression nested too deeply (more than 256");
    CHECK(strlen(r.err) < 400); /* the 80 KB expression is not echoed whole */
    harness_proc_free(&r);

    t = deep_derive("-", 1000000, "", 0);
    r = plan_text(t);
    free(t);
    CHECK_INT(r.status, 2);
    CHECK_CONTAINS(r.err, "t.yaml:4:275: derive epochs: expression nested too deeply");
    harness_proc_free(&r);

    /* at the bound itself it is still an expression: 256 '(' and 256 signs */
    t = deep_derive("(", 256, ")", 256);
    r = plan_text(t);
    free(t);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    t = deep_derive("-", 256, "", 0); /* = 1 */
    r = plan_text(t);
    free(t);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
}

/* 100k nested '[' took 29 s to reject: libyaml's scanner walks every open
 * flow level for each token (quadratic). Refused at the nesting bound,
 * naming where, rather than at the end of the file. */
TEST(reliability_deeply_nested_yaml_is_refused_at_the_bound)
{
    size_t n = 100000;
    char *t = malloc(n + 64);
    int k = sprintf(t, "sweep: t\ngrid: {seed: ");
    memset(t + k, '[', n);
    strcpy(t + k + n, "}\n");
    harness_proc r = plan_text(t);
    free(t);
    CHECK_INT(r.status, 2);
    /* grid's mapping is level 2; its 65th level is the 63rd '[', at column 14 + 62 */
    CHECK_CONTAINS(r.err, "t.yaml:2:76: lists and mappings nested more than 64 deep");
    harness_proc_free(&r);
}

/* yaml_parser_load reads the first document only: a second one (a pasted
 * sweep, a stray '---') was silently ignored. */
TEST(reliability_second_yaml_document_is_refused)
{
    harness_proc r = plan_text("sweep: a\n"
                               "models: {xs: {layers: 1, dim: 16, heads: 2}}\n"
                               "grid: {objective: ar}\n"
                               "---\n"
                               "sweep: b\n"
                               "grid: {objective: mdm}\n");
    CHECK_INT(r.status, 2);
    CHECK_CONTAINS(r.err, "t.yaml:4:1: a second YAML document starts here");
    harness_proc_free(&r);
    /* one document with explicit markers is fine */
    r = plan_text("---\n"
                  "sweep: a\n"
                  "models: {xs: {layers: 1, dim: 16, heads: 2}}\n"
                  "grid: {objective: ar}\n"
                  "...\n");
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
}

/* `--timeout 1e999` (inf), nan and huge values were taken: Slurm was given
 * --time=-9223372036854775808. */
TEST(reliability_non_finite_or_huge_timeout_is_refused)
{
    char path[512], db[512], runs[512];
    harness_path(path, sizeof path, "t.yaml");
    harness_path(db, sizeof db, "t.db");
    harness_path(runs, sizeof runs, "runs");
    harness_write(path, "sweep: t\nmodels: {xs: {layers: 1, dim: 16, heads: 2}}\ngrid: {objective: ar}\n");
    const char *bad[] = {"1e999", "nan", "inf", "-inf", "1e30", "400d", "0x10", "1e3", "0", "-5", "1.2.3", "5 m"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *argv[] = {harness_xover(), "run", path, "--db", db, "--runs-dir", runs, "--dry-run",
                              "--timeout", bad[i], NULL};
        harness_proc r = harness_run(argv, NULL);
        if (r.status != 2) fprintf(stderr, "--timeout %s: exit %d\n", bad[i], r.status);
        CHECK_INT(r.status, 2);
        CHECK_CONTAINS(r.err, "--timeout");
        CHECK_CONTAINS(r.err, bad[i]);
        harness_proc_free(&r);
    }
    const char *good[] = {"90", "90s", "1.5m", "2h", "365d"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        const char *argv[] = {harness_xover(), "run", path, "--db", db, "--runs-dir", runs, "--dry-run",
                              "--timeout", good[i], NULL};
        harness_proc r = harness_run(argv, NULL);
        CHECK_INT(r.status, 0);
        harness_proc_free(&r);
    }
}
