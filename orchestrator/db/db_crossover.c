/*
 * db_crossover.c — what the crossover analysis reads: AR and MDM runs with
 * their cell (schema.sql, crossover_runs), each (run, metric) series as plain
 * arrays, and the sweeps' YAML for the report. The analysis itself is in
 * orchestrator/analysis/, on arrays; the same definition in SQL is the
 * crossover view of schema.sql.
 */
#include "orchestrator/db/db_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing set of arrays for one series. */
typedef struct {
    size_t n, cap;
    long long *step;
    double *tokens, *epoch, *flops, *value, *se;
} points;

static int points_push(points *p, long long step, double tokens, double epoch, double flops,
                       double value, double se)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        long long *s = realloc(p->step, cap * sizeof *s);
        if (s) p->step = s;
        double **arrs[] = {&p->tokens, &p->epoch, &p->flops, &p->value, &p->se};
        int ok = s != NULL;
        for (int i = 0; i < 5 && ok; i++) {
            double *a = realloc(*arrs[i], cap * sizeof **arrs[i]);
            if (a) *arrs[i] = a;
            else ok = 0;
        }
        if (!ok) return -1;
        p->cap = cap;
    }
    p->step[p->n] = step;
    p->tokens[p->n] = tokens;
    p->epoch[p->n] = epoch;
    p->flops[p->n] = flops;
    p->value[p->n] = value;
    p->se[p->n] = se;
    p->n++;
    return 0;
}

static void points_free(points *p)
{
    free(p->step);
    free(p->tokens);
    free(p->epoch);
    free(p->flops);
    free(p->value);
    free(p->se);
}

static double col_real(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static long long col_int(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
}

static char *dup_col(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? strdup(s) : NULL;
}

/* One run's row copied out of the runs statement, so the metrics statement
 * can step while we hold it. */
typedef struct {
    long long id, params, unique_tokens, seed, active_params, stop_step, parent_id;
    double epochs, stop_total, stop_tokens, stop_epoch, stop_flops;
    char *cell, *objective, *model, *quality, *status, *role, *config;
} run_row;

static void run_row_free(run_row *r)
{
    free(r->cell);
    free(r->objective);
    free(r->model);
    free(r->quality);
    free(r->status);
    free(r->role);
    free(r->config);
}

/* Stream the metric rows of one run, calling fn once per metric name. */
static int run_series(db *d, sqlite3_stmt *ms, const run_row *r, const char *metric,
                      db_series_fn fn, void *ctx)
{
    sqlite3_reset(ms);
    sqlite3_bind_int64(ms, 1, r->id);
    db_bind_text(ms, 2, metric);
    points p = {0};
    char *name = NULL;
    int rc, out = DB_OK, any = 0;
    for (;;) {
        rc = sqlite3_step(ms);
        const char *nm = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(ms, 0) : NULL;
        /* A series ends where the name changes; a run with none at all is
         * reported once, empty, so its status still counts. */
        int flush = name && (rc != SQLITE_ROW || !nm || strcmp(nm, name) != 0);
        int empty = !any && rc != SQLITE_ROW;
        if (flush || empty) {
            db_series s = {r->id, r->cell, r->objective, r->model, r->quality, r->status,
                           empty ? metric : name, r->params, r->unique_tokens, r->seed, r->epochs,
                           p.n, p.step, p.tokens, p.epoch, p.flops, p.value, r->active_params,
                           r->stop_step, r->stop_total, r->stop_tokens, r->stop_epoch,
                           r->stop_flops, p.se, r->role ? r->role : "run", r->parent_id, r->config};
            if (fn(ctx, &s)) { out = db_fail(d, DB_EABORT, "stopped"); break; }
            free(name);
            name = NULL;
            p.n = 0;
        }
        if (rc != SQLITE_ROW) break;
        any = 1;
        if (!name && !(name = strdup(nm ? nm : ""))) { out = db_fail(d, DB_EIO, "out of memory"); break; }
        if (points_push(&p, sqlite3_column_int64(ms, 1), col_real(ms, 2), col_real(ms, 3),
                        col_real(ms, 4), col_real(ms, 5), col_real(ms, 6))) {
            out = db_fail(d, DB_EIO, "out of memory");
            break;
        }
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW && out == DB_OK)
        out = db_sqlite_fail(d, rc, "reading metrics");
    sqlite3_reset(ms);
    free(name);
    points_free(&p);
    return out;
}

int db_crossover_series(db *d, long long sweep_id, const char *metric, db_series_fn fn,
                        void *ctx)
{
    if (d->version < 2)
        return db_fail(d, DB_EINPUT, "'%s' has schema version %d, without the crossover views; "
                       "'xover db init %s' upgrades it", d->path, d->version, d->path);
    sqlite3_stmt *rs = NULL, *ms = NULL;
    /* The run's early_stop row (the stop of the largest step, as
     * crossover_curves takes it) rides along: the hold is computed from it
     * per x axis by the analysis. */
#define STOP_COLS ", e.step, e.value, e.tokens, e.epoch, e.flops "
#define STOP_JOIN                                                                      \
    "LEFT JOIN metrics e ON e.run_id = c.run_id AND e.name = '" DB_EARLY_STOP "' "     \
    "AND e.step = (SELECT max(step) FROM metrics WHERE run_id = c.run_id AND name = '" \
    DB_EARLY_STOP "') "
    /* Active parameters come with schema 3 (as in run_axes), a run's role
     * and trunk with schema 5; before them, unknown and 'run'. */
    char sql[2048];
    snprintf(sql, sizeof sql,
        "SELECT c.run_id, c.cell, c.objective, c.model, c.params, c.unique_tokens, c.quality, "
        "c.epochs, c.seed, c.status, %s" STOP_COLS ", %s, r.config "
        "FROM crossover_runs c JOIN runs r ON r.id = c.run_id " STOP_JOIN "WHERE ?1 <= 0 OR c.run_id IN "
        "(SELECT run_id FROM sweep_runs WHERE sweep_id = ?1) ORDER BY c.run_id",
        d->version >= 3 ? "coalesce(r.active_params, CASE WHEN coalesce(json_extract(r.config, "
                          "'$.model.experts'), 0) = 0 THEN r.params END)" : "NULL",
        d->version >= 5 ? "r.role, r.parent_id" : "'run', NULL");
    int rc = sqlite3_prepare_v2(d->h, sql, -1, &rs, NULL);
#undef STOP_COLS
#undef STOP_JOIN
    /* A series and, beside each point, its standard error (NAME_se at the
     * same step); the _se names are never series of their own. */
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(d->h,
            "SELECT m.name, m.step, m.tokens, m.epoch, m.flops, m.value, e.value FROM metrics m "
            "LEFT JOIN metrics e ON e.run_id = m.run_id AND e.step = m.step "
            "AND e.name = m.name || '" DB_SE_SUFFIX "' "
            "WHERE m.run_id = ?1 AND (?2 IS NULL OR m.name = ?2) AND m.name <> '" DB_EARLY_STOP "' "
            "AND m.name NOT LIKE '%\\" DB_SE_SUFFIX "' ESCAPE '\\' "
            "ORDER BY m.name, m.step", -1, &ms, NULL);
    if (rc != SQLITE_OK) {
        int out = db_sqlite_fail(d, rc, "preparing the crossover query");
        sqlite3_finalize(rs);
        sqlite3_finalize(ms);
        return out;
    }
    sqlite3_bind_int64(rs, 1, sweep_id);
    int out = DB_OK;
    /* The runs are few (one row each); copy them first so the one read
     * transaction per statement stays simple. */
    run_row *runs = NULL;
    size_t n = 0, cap = 0;
    while ((rc = sqlite3_step(rs)) == SQLITE_ROW) {
        if (n == cap) {
            size_t c2 = cap ? cap * 2 : 64;
            run_row *t = realloc(runs, c2 * sizeof *t);
            if (!t) { out = db_fail(d, DB_EIO, "out of memory"); break; }
            runs = t;
            cap = c2;
        }
        run_row *r = &runs[n++];
        r->id = sqlite3_column_int64(rs, 0);
        r->cell = dup_col(rs, 1);
        r->objective = dup_col(rs, 2);
        r->model = dup_col(rs, 3);
        r->params = col_int(rs, 4);
        r->unique_tokens = col_int(rs, 5);
        r->quality = dup_col(rs, 6);
        r->epochs = col_real(rs, 7);
        r->seed = col_int(rs, 8);
        r->status = dup_col(rs, 9);
        r->active_params = col_int(rs, 10);
        r->stop_step = col_int(rs, 11);
        r->stop_total = col_real(rs, 12);
        r->stop_tokens = col_real(rs, 13);
        r->stop_epoch = col_real(rs, 14);
        r->stop_flops = col_real(rs, 15);
        r->role = dup_col(rs, 16);
        r->parent_id = col_int(rs, 17);
        r->config = dup_col(rs, 18);
        if (!r->cell || !r->objective || !r->config) { out = db_fail(d, DB_EIO, "out of memory"); break; }
    }
    if (out == DB_OK && rc != SQLITE_DONE) out = db_sqlite_fail(d, rc, "reading runs");
    for (size_t i = 0; i < n && out == DB_OK; i++) out = run_series(d, ms, &runs[i], metric, fn, ctx);
    for (size_t i = 0; i < n; i++) run_row_free(&runs[i]);
    free(runs);
    sqlite3_finalize(rs);
    sqlite3_finalize(ms);
    return out;
}

int db_sweep_yaml(db *d, const char *name, char **yaml)
{
    *yaml = NULL;
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(d->h, "SELECT yaml FROM sweeps WHERE name = ?1", -1, &st, NULL);
    if (rc != SQLITE_OK) return db_sqlite_fail(d, rc, "reading a sweep");
    db_bind_text(st, 1, name);
    int out = DB_OK;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(st, 0);
        if (!(*yaml = strdup(s ? s : ""))) out = db_fail(d, DB_EIO, "out of memory");
    } else if (rc == SQLITE_DONE) {
        out = db_fail(d, DB_ENOTFOUND, "no sweep named '%s' in '%s'", name, d->path);
    } else {
        out = db_sqlite_fail(d, rc, "reading a sweep");
    }
    sqlite3_finalize(st);
    return out;
}

int db_sweep_names(db *d, db_name_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(d->h, "SELECT name FROM sweeps ORDER BY name", -1, &st, NULL);
    if (rc != SQLITE_OK) return db_sqlite_fail(d, rc, "reading sweeps");
    int out = DB_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (fn(ctx, (const char *)sqlite3_column_text(st, 0))) {
            out = db_fail(d, DB_EABORT, "stopped");
            break;
        }
    }
    if (out == DB_OK && rc != SQLITE_DONE) out = db_sqlite_fail(d, rc, "reading sweeps");
    sqlite3_finalize(st);
    return out;
}
