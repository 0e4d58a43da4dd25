/*
 * test_data_cli.c — `xover data prepare|stats|score|tokenize` on small
 * synthetic corpora and crafted files.
 */
#include "tests/harness.h"

#include <stdio.h>
#include <stdlib.h>

/* Run `xover data ARGS... --cache DIR`; the list ends with NULL. */
static harness_proc run_v(const char *const *args)
{
    char cache[4096];
    harness_path(cache, sizeof cache, "cache");
    const char *argv[24] = {harness_xover(), "data"};
    int n = 2;
    for (int i = 0; args[i] && n < 20; i++) argv[n++] = args[i];
    if (strcmp(args[0], "score") != 0) {
        argv[n++] = "--cache";
        argv[n++] = cache;
    }
    argv[n] = NULL;
    return harness_run(argv, NULL);
}
#define run(...) run_v((const char *const[]){__VA_ARGS__, NULL})

TEST(data_cli_stats_synthetic)
{
    harness_proc p = run("stats", "--corpus", "synthetic:800", "--vocab", "300", "--val-tokens",
                         "2k", "--budgets=1k,5k,100M");
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "corpus       synthetic:800");
    CHECK_CONTAINS(p.out, "documents    800 after dropping 0 exact duplicates");
    CHECK_CONTAINS(p.out, "vocab 300 = 256 bytes + EOS (id 256) + MASK (id 257) + 42 merges");
    CHECK_CONTAINS(p.out, "validation   2,000 tokens");
    CHECK_CONTAINS(p.out, "coverage ");
    CHECK_CONTAINS(p.out, "top:0.5 (0)");
    CHECK_CONTAINS(p.out, "degrade:0.5 (0)");
    CHECK_CONTAINS(p.out, "100M");
    harness_proc_free(&p);
}

/* The argument may be the corpus itself: a text file (split as a run
 * would split it), or a corpus name; a SPEC stays a SPEC. */
TEST(data_cli_stats_takes_a_corpus_path)
{
    char f[4096], spec[4096];
    harness_path(f, sizeof f, "quotes.txt");
    FILE *fp = fopen(f, "w");
    CHECK(fp != NULL);
    for (int i = 0; i < 1500; i++) fprintf(fp, "In quote %d the moral is %s.\n%%\n", i, i % 3 ? "patience" : "haste");
    fclose(fp);
    harness_proc p = run("stats", f, "--separator", "^%$", "--vocab", "280", "--val-tokens", "2k");
    if (p.status) fprintf(stderr, "%s", p.err);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "(separator ^%$)");
    CHECK_CONTAINS(p.out, "1500 documents");
    harness_proc_free(&p);
    /* without the separator, one document: the error says so */
    p = run("stats", f, "--vocab", "280", "--val-tokens", "2k");
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "split it into 1 document");
    CHECK_CONTAINS(p.err, "set data.separator");
    harness_proc_free(&p);
    p = run("stats", "synthetic:800", "--vocab", "300", "--val-tokens", "2k");
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "corpus       synthetic:800");
    harness_proc_free(&p);
    harness_path(spec, sizeof spec, "spec.txt");
    harness_write(spec, "{\"data\": {\"corpus\": \"synthetic:800\", \"vocab\": 300, \"val_tokens\": \"2k\"}}");
    p = run("stats", spec);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "corpus       synthetic:800");
    harness_proc_free(&p);
    p = run("stats", f, "--corpus", "fortunes");
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "give one");
    harness_proc_free(&p);
}

TEST(data_cli_prepare_spec_with_tiers_and_budgets)
{
    char spec[4096];
    harness_path(spec, sizeof spec, "spec.json");
    harness_write(spec,
                  "{\"data\": {\"corpus\": \"synthetic:600\", \"vocab\": [280, 300], "
                  "\"val_tokens\": \"1k\", \"quality\": {\"high\": {\"degrade\": 0}, "
                  "\"low\": {\"degrade\": 0.5}, \"best\": {\"top\": 0.3}}},"
                  " \"grid\": {\"unique_tokens\": [\"2k\", 4000]}}");
    harness_proc p = run("prepare", spec);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "corpus synthetic:600, vocab 280: prepared");
    CHECK_CONTAINS(p.out, "corpus synthetic:600, vocab 300: prepared");
    CHECK_CONTAINS(p.out, "tier low (degrade 0.5)");
    CHECK_CONTAINS(p.out, "tier best (top 0.3)");
    CHECK_CONTAINS(p.out, "budget 4000:");
    harness_proc_free(&p);
    /* Again: everything is in the cache. */
    p = run("prepare", spec);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "vocab 280: cached in");
    harness_proc_free(&p);
    /* A budget the corpus cannot fill: exit 2, saying how many exist. */
    p = run("prepare", "--corpus", "synthetic:600", "--vocab", "280", "--val-tokens", "1k",
            "--budgets", "50M");
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "unique_tokens 50000000 exceeds the training split");
    harness_proc_free(&p);
}

TEST(data_cli_score_reports_rules)
{
    char f[4096];
    harness_path(f, sizeof f, "docs.txt");
    harness_write(f, "The farmer walked to the market with his daughter and they sold apples.\n\n"
                     "buy now buy now buy now buy now buy now buy now\n\n"
                     "123 456 789 1011 1213\n");
    harness_proc p = run("score", f);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "3 documents");
    CHECK_CONTAINS(p.out, "dup_ngrams(");
    CHECK_CONTAINS(p.out, "alpha_words(");
    CHECK_CONTAINS(p.out, "\"The farmer walked to the market with his");
    CHECK_CONTAINS(p.out, "stop_words");
    harness_proc_free(&p);
}

TEST(data_cli_tokenize_shows_pieces)
{
    harness_proc p = run("tokenize", "--text", "The river\tsings.", "--corpus", "synthetic:400",
                         "--vocab", "300", "--val-tokens=1k");
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "\"\\t\"");
    CHECK_CONTAINS(p.out, "tokens for 16 bytes");
    harness_proc_free(&p);
    p = run("tokenize", "--ids", "--text", "ab", "--corpus", "synthetic:400", "--vocab", "300",
            "--val-tokens=1k");
    CHECK_INT(p.status, 0);
    CHECK_STR(p.out, "97 98\n");
    harness_proc_free(&p);
}

TEST(data_cli_bad_input_exit_2)
{
    harness_proc p = run("stats", "--corpus", "/no/such/dir");
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "corpus '/no/such/dir': no such file");
    harness_proc_free(&p);
    p = run("stat");
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "did you mean 'stats'?");
    harness_proc_free(&p);
    p = run("stats", "--vocabb", "3");
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "did you mean '--vocab'?");
    harness_proc_free(&p);
    p = run("tokenize", "--corpus", "synthetic:400");
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "needs --text TEXT or --file FILE");
    harness_proc_free(&p);
    char spec[4096];
    harness_path(spec, sizeof spec, "bad.json");
    harness_write(spec, "{\"data\": {\"corpus\": \"synthetic:300\", \"vocab\": \"many\"}}");
    p = run("prepare", spec);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "data.vocab");
    harness_proc_free(&p);
    harness_write(spec, "{\"data\": {\"corpus\": ");
    p = run("prepare", spec);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "bad.json:1:");
    harness_proc_free(&p);
}
