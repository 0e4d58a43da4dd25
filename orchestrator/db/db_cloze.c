/*
 * db_cloze.c — cloze item outcomes (schema.sql, migration 8): stored as the
 * ingest reads them off metrics.jsonl (mc_correct), and read back beside
 * mc_acc and mc_acc_se for the paired comparison of two runs' accuracies.
 */
#include "orchestrator/db/db_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long db_outcomes_items(const char *text)
{
    if (!text || *text < '0' || *text > '9') return -1;
    char *end;
    unsigned long long n = strtoull(text, &end, 10);
    if (*end != ':' || n == 0 || n > 100000000ull || strlen(end + 1) != (n + 3) / 4) return -1;
    for (const char *h = end + 1; *h; h++)
        if (!((*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'f'))) return -1;
    return (long)n;
}

int db_ingest_outcomes(db *d, long long run_id, const db_outcome *rows, size_t n)
{
    if (d->mode == DB_READONLY)
        return db_fail(d, DB_EDENIED, "the database '%s' is open read-only", d->path);
    if (n == 0) return DB_OK;
    for (size_t i = 0; i < n; i++)
        if (rows[i].step < 0 || db_outcomes_items(rows[i].outcomes) < 0)
            return db_fail(d, DB_EINPUT, "outcomes %zu of run %lld: %s", i, run_id,
                           rows[i].step < 0 ? "negative step" : "not of the form N:HEX");
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->h,
        "INSERT INTO cloze_outcomes (run_id, step, items, outcomes) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (run_id, step) DO UPDATE SET items = excluded.items, outcomes = excluded.outcomes",
        -1, &st, NULL);
    if (rc != SQLITE_OK) return db_sqlite_fail(d, rc, "storing cloze outcomes");
    int own = sqlite3_get_autocommit(d->h);
    if ((rc = db_exec(d, own ? "BEGIN IMMEDIATE" : "SAVEPOINT outcomes"))) {
        sqlite3_finalize(st);
        return rc;
    }
    for (size_t i = 0; i < n && rc == DB_OK; i++) {
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_int64(st, 2, rows[i].step);
        sqlite3_bind_int64(st, 3, db_outcomes_items(rows[i].outcomes));
        sqlite3_bind_text(st, 4, rows[i].outcomes, -1, SQLITE_STATIC);
        int s = sqlite3_step(st);
        sqlite3_reset(st);
        if (s != SQLITE_DONE) {
            char what[120];
            snprintf(what, sizeof what, "storing cloze outcomes at step %lld of run %lld", rows[i].step, run_id);
            rc = db_sqlite_fail(d, s, what);
        }
    }
    sqlite3_finalize(st);
    if (rc) {
        db_undo_keeping_error(d, own ? "ROLLBACK" : "ROLLBACK TO outcomes; RELEASE outcomes");
        return rc;
    }
    rc = db_exec(d, own ? "COMMIT" : "RELEASE outcomes");
    if (rc && own) db_rollback(d);
    return rc;
}

int db_cloze_at(db *d, long long run_id, long long step, db_cloze *out)
{
    memset(out, 0, sizeof *out);
    out->step = -1;
    out->acc = out->se = NAN;
    /* Before migration 8 (a database read-only and not upgraded) there are
     * no outcomes, only the values. */
    int have_table = d->version >= 8;
    char sql[640];
    snprintf(sql, sizeof sql,
             "SELECT m.step, m.value, "
             "(SELECT value FROM metrics e WHERE e.run_id = m.run_id AND e.name = 'mc_acc_se' AND e.step = m.step), "
             "%s FROM metrics m WHERE m.run_id = ?1 AND m.name = 'mc_acc' AND %s "
             "ORDER BY m.step DESC LIMIT 1",
             have_table ? "(SELECT outcomes FROM cloze_outcomes o WHERE o.run_id = m.run_id AND o.step = m.step)"
                        : "NULL",
             step >= 0 ? "m.step = ?2" : "?2 < 0");
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->h, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) return db_sqlite_fail(d, rc, "reading mc_acc");
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, step);
    rc = sqlite3_step(st);
    int out_rc = DB_OK;
    if (rc == SQLITE_ROW) {
        out->step = sqlite3_column_int64(st, 0);
        if (sqlite3_column_type(st, 1) != SQLITE_NULL) out->acc = sqlite3_column_double(st, 1);
        if (sqlite3_column_type(st, 2) != SQLITE_NULL) out->se = sqlite3_column_double(st, 2);
        const char *t = (const char *)sqlite3_column_text(st, 3);
        if (t && !(out->outcomes = strdup(t))) out_rc = db_fail(d, DB_EIO, "out of memory");
        out->items = out->outcomes ? db_outcomes_items(out->outcomes) : -1;
    } else if (rc == SQLITE_DONE) {
        out_rc = DB_ENOTFOUND;
    } else {
        out_rc = db_sqlite_fail(d, rc, "reading mc_acc");
    }
    sqlite3_finalize(st);
    return out_rc;
}

void db_cloze_free(db_cloze *c)
{
    free(c->outcomes);
    c->outcomes = NULL;
}

int db_runs_without_outcomes(db *d, db_run_dir_fn fn, void *ctx)
{
    if (d->version < 8) return DB_OK; /* nothing to fill: the table is not there */
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->h,
        "SELECT r.id, r.key, r.run_dir "
        "FROM runs r WHERE r.run_dir IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM metrics m WHERE m.run_id = r.id AND m.name = 'mc_acc') "
        "AND NOT EXISTS (SELECT 1 FROM cloze_outcomes o WHERE o.run_id = r.id) ORDER BY r.id",
        -1, &st, NULL);
    if (rc != SQLITE_OK) return db_sqlite_fail(d, rc, "listing runs without outcomes");
    int out = DB_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(ctx, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
               (const char *)sqlite3_column_text(st, 2))) {
            out = db_fail(d, DB_EABORT, "stopped");
            break;
        }
    if (out == DB_OK && rc != SQLITE_DONE) out = db_sqlite_fail(d, rc, "listing runs without outcomes");
    sqlite3_finalize(st);
    return out;
}
