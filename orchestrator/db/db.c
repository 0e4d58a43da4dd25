/*
 * db.c — opening, migrating and querying the results database.
 */
#include "orchestrator/db/db.h"

#include <sqlite3.h>

const char *db_sqlite_version(void) { return sqlite3_libversion(); }
