/*
 * test_cli.c — the dispatcher: help, version, unknown commands and options.
 */
#include "tests/harness.h"
#include "orchestrator/cli/cli.h"
#include "orchestrator/util/util.h"

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
