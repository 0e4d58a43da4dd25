/*
 * db_xcache.c — the crossover cache (schema.sql, migration 6): the rows of
 * the crossover_by_seed view kept in the table crossover_cache, which the
 * crossover view reads. Computing crossover_by_seed reads every point of
 * every pair (minutes at 10,000 runs x 1,000 points); a pair's rows change
 * only when its points do, so they are recomputed where points are written:
 * db_ingest_metrics (the run's annealed cell; inside db_begin .. db_commit,
 * every cell stored to, once, at db_commit), db_rm_delete (the annealed
 * cells of the runs removed), and all of them when the views are made.
 *
 * The computation is the view's own SQL, not a copy: the annealed cells to
 * recompute go into crossover_scope, which makes crossover_runs (and so
 * every crossover view above it) list only their runs; the rows are
 * INSERTed from crossover_by_seed; the scope is emptied. All of it happens
 * in the caller's write transaction, so no reader sees a scope row or a
 * half-made cache.
 */
#include "orchestrator/db/db_impl.h"

#include <stdlib.h>
#include <string.h>

/* The cache's columns, crossover_by_seed's in its order. */
#define XCACHE_COLUMNS                                                                              \
    "mode, cell_id, seed, metric, better, x_axis, ar_seeds, mdm_seeds, verdict, crossover, "       \
    "bracket_lo, bracket_hi, x_start, x_end, final_gap, gap_se, ar_best, ar_best_x, ar_best_sd, "  \
    "mdm_best, mdm_best_x, mdm_best_sd, model, params, unique_tokens, quality, epochs, cell, "      \
    "one_pair, ar_best_at_edge, mdm_best_at_edge"

/* Annealed cells computed at once (a rebuild, a commit's flush): each
 * batch is one small query. */
#define XCACHE_BATCH "2"

int db_xcache_present(db *d)
{
    long long n = 0;
    /* the table, and the views that fill it: a database opened at an
     * older migration than its schema's last has no views, and its cache is
     * made when they are (db_schema_upgrade) */
    if (db_read_int(d, "SELECT count(*) FROM sqlite_master WHERE (type = 'table' AND name = 'crossover_cache') "
                       "OR (type = 'view' AND name = 'crossover_by_seed')",
                    &n))
        return 0;
    return n == 2;
}

int db_xcache_scope_run(db *d, long long run_id)
{
    sqlite3_stmt *st = db_stmt(d, ST_XCACHE_SCOPE_RUN,
                               "INSERT OR IGNORE INTO crossover_scope (acell) "
                               "SELECT acell FROM crossover_member WHERE run_id = ?1");
    if (!st) return DB_EIO;
    sqlite3_bind_int64(st, 1, run_id);
    return db_step_done(d, st, "scoping the crossover cache");
}

int db_xcache_forget_scope(db *d)
{
    /* cell_id and acell_id are the smallest run ids of sets that lie in one
     * annealed cell: every row of the scope's cells has its cell_id among
     * the scope's runs. Before a delete, so the runs are still there. */
    sqlite3_stmt *st = db_stmt(d, ST_XCACHE_FORGET,
                               "DELETE FROM crossover_cache WHERE cell_id IN (SELECT run_id FROM crossover_member "
                               "WHERE acell IN (SELECT acell FROM crossover_scope))");
    return st ? db_step_done(d, st, "clearing the crossover cache") : DB_EIO;
}

int db_xcache_compute_scope(db *d)
{
    long long n = 0;
    if (db_read_int(d, "SELECT count(*) FROM crossover_scope", &n)) return DB_EIO;
    if (n == 0) return DB_OK; /* an empty scope means every run: never here */
    sqlite3_stmt *st = db_stmt(d, ST_XCACHE_COMPUTE,
                               "INSERT INTO crossover_cache (" XCACHE_COLUMNS ") "
                               "SELECT " XCACHE_COLUMNS " FROM crossover_by_seed");
    if (!st) return DB_EIO;
    int rc = db_step_done(d, st, "computing the crossover cache");
    if (rc == DB_OK) rc = db_exec(d, "DELETE FROM crossover_scope");
    return rc;
}

int db_xcache_refresh_run(db *d, long long run_id)
{
    int rc = db_xcache_scope_run(d, run_id);
    if (rc == DB_OK) rc = db_xcache_forget_scope(d);
    if (rc == DB_OK) rc = db_xcache_compute_scope(d);
    return rc;
}

int db_xcache_flush(db *d)
{
    int rc = db_xcache_forget_scope(d);
    if (rc) return rc;
    /* In chunks of two annealed cells: the views' sorts and materialized
     * steps spill to temporary files once they outgrow SQLite's cache (a
     * 500-cell commit wrote 12 GB of them), while a pair's points fit. The
     * scope's other cells wait in a temporary table meanwhile. */
    if (db_exec(d, "CREATE TEMP TABLE IF NOT EXISTS xcache_wait (acell TEXT PRIMARY KEY);"
                   "DELETE FROM temp.xcache_wait;"
                   "INSERT INTO temp.xcache_wait SELECT acell FROM crossover_scope;"
                   "DELETE FROM crossover_scope"))
        return DB_EIO;
    for (;;) {
        long long n = 0;
        if (db_exec(d, "INSERT INTO crossover_scope SELECT acell FROM temp.xcache_wait ORDER BY acell "
                       "LIMIT " XCACHE_BATCH ";"
                       "DELETE FROM temp.xcache_wait WHERE acell IN (SELECT acell FROM crossover_scope)") ||
            db_read_int(d, "SELECT count(*) FROM crossover_scope", &n))
            return DB_EIO;
        if (n == 0) return DB_OK;
        if ((rc = db_xcache_compute_scope(d))) return rc;
    }
}

int db_xcache_rebuild(db *d)
{
    if (db_exec(d, "DELETE FROM crossover_cache; DELETE FROM crossover_scope")) return DB_EIO;
    long long any = 0;
    if (db_read_int(d, "SELECT EXISTS (SELECT 1 FROM metrics)", &any)) return DB_EIO;
    if (!any) return DB_OK; /* a new database: nothing to plan */
    /* Batches of annealed cells in order of their text: each batch starts
     * after the largest cell of the one before. */
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(d->h,
                                "INSERT INTO crossover_scope (acell) SELECT DISTINCT acell FROM crossover_member "
                                "WHERE ?1 IS NULL OR acell > ?1 ORDER BY acell LIMIT " XCACHE_BATCH,
                                -1, &st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return db_sqlite_fail(d, rc, "rebuilding the crossover cache");
    }
    char *last = NULL;
    int out = DB_OK;
    for (;;) {
        sqlite3_reset(st);
        db_bind_text(st, 1, last);
        if ((out = db_step_done(d, st, "rebuilding the crossover cache"))) break;
        if (sqlite3_changes(d->h) == 0) break;
        sqlite3_stmt *mx;
        if (sqlite3_prepare_v2(d->h, "SELECT max(acell) FROM crossover_scope", -1, &mx, NULL) != SQLITE_OK ||
            sqlite3_step(mx) != SQLITE_ROW) {
            sqlite3_finalize(mx);
            out = db_sqlite_fail(d, sqlite3_errcode(d->h), "rebuilding the crossover cache");
            break;
        }
        free(last);
        last = strdup((const char *)sqlite3_column_text(mx, 0));
        sqlite3_finalize(mx);
        if (!last) { out = db_fail(d, DB_EIO, "out of memory"); break; }
        if ((out = db_xcache_compute_scope(d))) break;
    }
    free(last);
    sqlite3_finalize(st);
    return out;
}

/* db.h: commit a db_begin transaction. It lives here, above db_util.c,
 * because a batch's commit is where the crossover cache of the cells whose
 * points it stored is computed, once for them all (db_ingest_metrics
 * scoped them). */
int db_commit(db *d)
{
    /* the crossover cache of the cells whose points this transaction
     * stored, computed once for them all (db_ingest_metrics scoped them) */
    int rc = d->batch && !sqlite3_get_autocommit(d->h) && db_xcache_present(d) ? db_xcache_flush(d) : DB_OK;
    d->batch = 0;
    return rc ? rc : db_exec(d, "COMMIT");
}

int db_crossover_cache_rebuild(db *d)
{
    if (d->mode == DB_READONLY) return db_fail(d, DB_EDENIED, "the database '%s' is open read-only", d->path);
    if (!db_xcache_present(d)) return DB_OK;
    if (db_exec(d, "BEGIN IMMEDIATE")) return DB_EIO;
    int rc = db_xcache_rebuild(d);
    if (rc == DB_OK && db_exec(d, "COMMIT")) rc = DB_EIO;
    if (rc) db_undo_keeping_error(d, NULL);
    return rc;
}
