/*
 * version.c — the build id every run records (runs.build_id): the version
 * and the commit the binary was built from (build/gen/commit.h, written by
 * the Makefile), so a result can be traced to the code that produced it.
 */
#include "orchestrator/util/util.h"

#include "commit.h"

const char *xover_build_id(void) { return XOVER_VERSION "+" XOVER_COMMIT; }
