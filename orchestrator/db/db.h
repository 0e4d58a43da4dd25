/*
 * db.h — the results database: the only module that includes sqlite3.h.
 */
#ifndef XOVER_DB_H
#define XOVER_DB_H

/* The version of the SQLite library actually linked. */
const char *db_sqlite_version(void);

#endif
