/*
 * cmd_version.c — `xover --version`: our version and build commit, and the
 * versions of the libraries actually linked (not the headers we compiled
 * against), so a result can always be traced to the code that produced it.
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/db/db.h"
#include "orchestrator/util/util.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cblas.h>
#include <pcre2.h>
#include <stdio.h>
#include <yaml.h>

#include "commit.h" /* build/gen/commit.h, written by the Makefile */

int cmd_version(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) return cli_usage_error("version", "'version' takes no arguments");
    char pcre[64] = "?";
    pcre2_config(PCRE2_CONFIG_VERSION, pcre);
    printf("xover %s (commit %s)\n", XOVER_VERSION, XOVER_COMMIT);
    printf("  SQLite   %s\n", db_sqlite_version());
    printf("  libyaml  %s\n", yaml_get_version_string());
    printf("  PCRE2    %s\n", pcre);
    printf("  OpenBLAS %s\n", openblas_get_config());
    return XO_OK;
}

const cli_command cmd_version_def = {"version", cmd_version, "show the version, build commit and linked library versions",
     "usage: xover version   (or xover --version)\n\n"
     "Print xover's version and build commit, and the versions of SQLite, libyaml,\n"
     "PCRE2 and OpenBLAS actually linked into this binary.\n"};
