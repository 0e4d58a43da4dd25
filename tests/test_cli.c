/*
 * test_cli.c — the dispatcher: help, version, unknown commands and options.
 */
#include "tests/harness.h"
#include "orchestrator/cli/cli.h"
#include "orchestrator/util/util.h"

#include <stdio.h>

TEST(cli_help_lists_commands)
{
    const char *argv[] = {harness_xover(), "--help", NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "usage: xover <command>");
    CHECK_CONTAINS(p.out, "version");
    harness_proc_free(&p);
}

TEST(cli_no_args_is_usage_error)
{
    const char *argv[] = {harness_xover(), NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 2);
    harness_proc_free(&p);
}

TEST(cli_version_names_linked_libraries)
{
    const char *argv[] = {harness_xover(), "--version", NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "xover " XOVER_VERSION);
    CHECK_CONTAINS(p.out, "SQLite   3.");
    CHECK_CONTAINS(p.out, "libyaml  0.");
    CHECK_CONTAINS(p.out, "PCRE2    10.");
    CHECK_CONTAINS(p.out, "OpenBLAS");
    harness_proc_free(&p);
}

TEST(cli_unknown_command_suggests)
{
    const char *argv[] = {harness_xover(), "verison", NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "did you mean 'version'?");
    harness_proc_free(&p);
}

TEST(cli_help_for_command_three_ways)
{
    const char *a1[] = {harness_xover(), "help", "version", NULL};
    const char *a2[] = {harness_xover(), "version", "--help", NULL};
    harness_proc p1 = harness_run(a1, NULL), p2 = harness_run(a2, NULL);
    CHECK_INT(p1.status, 0);
    CHECK_INT(p2.status, 0);
    CHECK_CONTAINS(p1.out, "usage: xover version");
    CHECK_STR(p1.out, p2.out);
    harness_proc_free(&p1);
    harness_proc_free(&p2);
}

TEST(cli_help_unknown_topic)
{
    const char *argv[] = {harness_xover(), "help", "hepl", NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "did you mean 'help'?");
    harness_proc_free(&p);
}

TEST(cli_did_you_mean_and_distance)
{
    const char *cands[] = {"format", "db", "runs", NULL};
    CHECK_INT(cli_edit_distance("kitten", "sitting"), 3);
    CHECK_INT(cli_edit_distance("d46", "d64"), 1); /* a transposition is one slip */
    CHECK_INT(cli_edit_distance("ca", "abc"), 3);  /* no edit twice (optimal string alignment) */
    CHECK_INT(cli_edit_distance("", "abc"), 3);
    CHECK_STR(cli_did_you_mean("fromat", cands), "format");
    CHECK_STR(cli_did_you_mean("form", cands), "format");
    CHECK(cli_did_you_mean("zzzzzzzz", cands) == NULL);
}

TEST(cli_parse_long_suffixes_and_errors)
{
    long long v;
    CHECK_INT(cli_parse_long("t", "--n", "25k", &v), 0);
    CHECK_INT(v, 25000);
    CHECK_INT(cli_parse_long("t", "--n", "1.5M", &v), 0);
    CHECK_INT(v, 1500000);
    CHECK_INT(cli_parse_long("t", "--n", "12", &v), 0);
    CHECK_INT(v, 12);
    CHECK_INT(cli_parse_long("t", "--n", "-3", &v), -1);
    CHECK_INT(cli_parse_long("t", "--n", "abc", &v), -1);
    CHECK_INT(cli_parse_long("t", "--n", "1.5", &v), -1);
}

/* The manual page `make install` installs: made from the command table, so
 * every command is in it with its options. */
TEST(cli_help_man_page_has_every_command)
{
    const char *argv[] = {harness_xover(), "help", "--man", NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    CHECK(strncmp(p.out, ".TH XOVER 1 ", 12) == 0);
    for (const cli_command *const *c = cli_commands; *c; c++) {
        char want[64];
        snprintf(want, sizeof want, "\n.SS xover %s\n.nf\n", (*c)->name);
        CHECK_CONTAINS(p.out, want);
    }
    /* options are typed with a minus, not a hyphen; no line starts a request by accident */
    CHECK_CONTAINS(p.out, "\\-\\-db PATH");
    CHECK(strstr(p.out, "\n.TP\n.B crossover\n") != NULL);
    harness_proc_free(&p);
}

/* The bash completion script: valid bash, and it completes a command, a
 * command's options and the database's sweep names, all asked of xover. */
TEST(cli_bash_completion_completes_commands_options_and_sweeps)
{
    const char *syntax[] = {"bash", "-n", "orchestrator/cli/completion.bash", NULL};
    harness_proc p = harness_run(syntax, NULL);
    CHECK_INT(p.status, 0);
    harness_proc_free(&p);
    char db[512], sweep[512];
    harness_path(db, sizeof db, "x.db");
    harness_path(sweep, sizeof sweep, "s.yaml");
    harness_write(sweep, "sweep: completed-sweep\nmodels: {xs: {layers: 1, dim: 16, heads: 2}}\n"
                         "grid: {objective: ar}\ntrainer: {command: ['true']}\n");
    const char *run[] = {harness_xover(), "run", sweep, "--db", db, "--runs-dir", harness_tmpdir(), NULL};
    p = harness_run(run, NULL);
    harness_proc_free(&p);
    const char *script =
        "source orchestrator/cli/completion.bash\n"
        "t() { COMP_WORDS=(\"$XO\" \"$@\"); COMP_CWORD=$#; _xover; echo \"$*:${COMPREPLY[*]}\"; }\n"
        "t cros; t crossover --swe; t crossover --db \"$DB\" --sweep comp; t status --db \"$DB\" comp; t data sta\n";
    char env_xo[600], env_db[600];
    snprintf(env_xo, sizeof env_xo, "XO=%s", harness_xover());
    snprintf(env_db, sizeof env_db, "DB=%s", db);
    const char *argv[] = {"env", env_xo, env_db, "bash", "-c", script, NULL};
    p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "cros:crossover\n");
    CHECK_CONTAINS(p.out, "crossover --swe:--sweep\n");
    CHECK_CONTAINS(p.out, "--sweep comp:completed-sweep\n");
    CHECK_CONTAINS(p.out, " comp:completed-sweep\n");
    CHECK_CONTAINS(p.out, "data sta:stats\n");
    harness_proc_free(&p);
}
