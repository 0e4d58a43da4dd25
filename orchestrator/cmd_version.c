/*
 * cmd_version.c — `xover --version`: our version and build commit, and the
 * versions of the libraries actually linked (not the headers we compiled
 * against), so a result can always be traced to the code that produced it.
 */
#include "orchestrator/cli.h"
#include "orchestrator/db/db.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cblas.h>
#include <pcre2.h>
#include <stdio.h>
#include <yaml.h>

#include "commit.h" /* build/gen/commit.h, written by the Makefile */

const char *xover_build_id(void) { return XOVER_VERSION "+" XOVER_COMMIT; }

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
