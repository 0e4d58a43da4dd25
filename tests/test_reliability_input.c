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

/* A corpus that does not exist, is empty, or is smaller than a run's budget
 * was accepted by `xover plan`; every run then failed at its start (exit
 * 1). Checked at plan time now, once per distinct data, naming the run's
 * axis values (exit 2, nothing recorded); the cache it fills is what the
 * runs then read. */
TEST(reliability_plan_checks_corpora_once)
{
    char cache[512], empty[512], db[512], runs[512], path[512];
    harness_path(cache, sizeof cache, "cache");
    harness_path(empty, sizeof empty, "empty.txt");
    harness_path(db, sizeof db, "t.db");
    harness_path(runs, sizeof runs, "runs");
    harness_path(path, sizeof path, "t.yaml");
    setenv("XOVER_CACHE", cache, 1);
    harness_write(empty, "");
    const char *head = "sweep: t\n"
                       "data: {vocab: 300, val_tokens: 2k}\n"
                       "models: {xs: {layers: 1, dim: 16, heads: 2}}\n"
                       "train: {seq_len: 16, batch: 2}\n";
    char yaml[2048], empty_grid[700];
    snprintf(empty_grid, sizeof empty_grid, "{objective: ar, corpus: ['%s'], unique_tokens: [2k]}", empty);
    struct {
        const char *grid, *msg;
    } bad[] = {
        {"{objective: ar, corpus: [synthetic, nosuch.txt], unique_tokens: [2k]}",
         "t.yaml: run corpus=nosuch.txt: corpus 'nosuch.txt': no such file"},
        {empty_grid, "empty.txt is empty"},
        {"{objective: [ar, mdm], corpus: [synthetic], unique_tokens: [2k, 100M]}",
         "t.yaml: run objective=ar unique_tokens=100M: unique_tokens 100000000 exceeds the training split"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(yaml, sizeof yaml, "%sgrid: %s\n", head, bad[i].grid);
        harness_write(path, yaml);
        const char *pl[] = {harness_xover(), "plan", path, "--db", db, NULL};
        harness_proc r = harness_run(pl, NULL);
        if (r.status != 2) fprintf(stderr, "case %zu: plan exit %d: %s\n", i, r.status, r.err);
        CHECK_INT(r.status, 2);
        CHECK_CONTAINS(r.err, bad[i].msg);
        harness_proc_free(&r);
        const char *rn[] = {harness_xover(), "run", path, "--db", db, "--runs-dir", runs, NULL};
        r = harness_run(rn, NULL);
        CHECK_INT(r.status, 2);
        CHECK_CONTAINS(r.err, bad[i].msg);
        harness_proc_free(&r);
        /* nothing recorded: no sweep, no run */
        const char *q[] = {harness_xover(), "sql", "SELECT count(*) FROM sweeps", "--db", db, "--format", "csv", NULL};
        r = harness_run(q, NULL);
        CHECK(r.status != 0 || strstr(r.out, "\n0\n"));
        harness_proc_free(&r);
    }
    /* a good plan fills the cache; its runs read it and add nothing to it */
    snprintf(yaml, sizeof yaml, "%sgrid: {objective: [ar, mdm], unique_tokens: [1k, 2k]}\n"
             "derive: {epochs: 2k / unique_tokens}\n", head);
    harness_write(path, yaml);
    const char *pl[] = {harness_xover(), "plan", path, "--db", db, NULL};
    harness_proc r = harness_run(pl, NULL);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    const char *ls[] = {"sh", "-c", "ls -l --time-style=+%s.%N \"$0\" | sort", cache, NULL};
    harness_proc before = harness_run(ls, NULL);
    CHECK(strstr(before.out, ".set"));
    const char *rn[] = {harness_xover(), "run", path, "--db", db, "--runs-dir", runs, "-j", "2", NULL};
    r = harness_run(rn, NULL);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    harness_proc after = harness_run(ls, NULL);
    CHECK_STR(after.out, before.out);
    harness_proc_free(&before);
    harness_proc_free(&after);
}

/* A metrics line without a newline was re-read whole on every poll (a
 * 200 MB line: 507 MB of memory, 15 s of CPU) for as long as the trainer
 * kept writing. Past INGEST_MAX_LINE (1 MiB) the run now fails, saying so,
 * and its worker is stopped. */
TEST(reliability_overlong_metrics_line_fails_the_run)
{
    char tr[512], path[512], db[512], runs[512];
    harness_path(tr, sizeof tr, "junk_trainer.py");
    harness_path(path, sizeof path, "t.yaml");
    harness_path(db, sizeof db, "t.db");
    harness_path(runs, sizeof runs, "runs");
    /* one good line, then 3 MB of junk (with or without a newline), then it
     * would go on living for 60 s */
    harness_write(tr, "import sys, time\n"
                      "print('{\"step\": 1, \"train_loss\": 2.5}', flush=True)\n"
                      "sys.stdout.write('x' * 3000000 + ('\\n' if sys.argv[1] == 'nl' else ''))\n"
                      "sys.stdout.flush()\n"
                      "time.sleep(60)\n");
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "sweep: junk\n"
             "models: {xs: {layers: 1, dim: 16, heads: 2}}\n"
             "grid: {objective: ar, end: [nl, none]}\n"
             "trainer: {command: [python3, '%s', '{end}'], metrics: jsonl}\n",
             tr);
    harness_write(path, yaml);
    const char *argv[] = {harness_xover(), "run", path, "--db", db, "--runs-dir", runs, "-j", "2", NULL};
    harness_proc r = harness_run(argv, NULL);
    CHECK_INT(r.status, 1);
    CHECK_CONTAINS(r.err, "a line longer than 1048576 bytes");
    harness_proc_free(&r);
    const char *q[] = {harness_xover(), "sql",
                       "SELECT count(*), sum(error = 'stdout: a line longer than 1048576 bytes, at byte 31: not metrics'), "
                       "(SELECT count(*) FROM metrics) FROM runs WHERE status = 'failed'",
                       "--db", db, "--format", "csv", NULL};
    r = harness_run(q, NULL);
    CHECK_INT(r.status, 0);
    if (!strstr(r.out, "\n2,2,2\n")) {
        const char *e[] = {harness_xover(), "sql", "SELECT status, error FROM runs", "--db", db, NULL};
        harness_proc p = harness_run(e, NULL);
        fprintf(stderr, "%s", p.out);
        harness_proc_free(&p);
    }
    CHECK_CONTAINS(r.out, "\n2,2,2\n"); /* both failed with the reason; each kept its good point */
    harness_proc_free(&r);
}
