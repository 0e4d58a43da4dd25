/*
 * register.c — what every backend does before it runs anything: record the
 * sweep and each of its runs in the database (one transaction), and pick the
 * runs to do: not done, not failed unless retrying, and matching --only.
 * The local driver and the Slurm backend differ only in what they do with
 * the runs picked, which they say through a callback. A dry run only reads:
 * the database is opened read-only (if there is one) and nothing is
 * recorded.
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/exec/internal.h"
#include "orchestrator/run/anneal.h"
#include "orchestrator/run/run_config.h"

#include <sha2.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The database's view of one run, copied out of the callback's lifetime. */
typedef struct {
    long long id;
    char *status, *run_dir, *job_id, *started_at;
} found;

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static int found_fn(void *ctx, const db_run_info *r)
{
    found *f = ctx;
    f->id = r->id;
    f->status = dup_or_null(r->status);
    f->run_dir = dup_or_null(r->run_dir);
    f->job_id = dup_or_null(r->job_id);
    f->started_at = dup_or_null(r->started_at);
    return 0;
}

static void found_free(found *f)
{
    free(f->status);
    free(f->run_dir);
    free(f->job_id);
    free(f->started_at);
}

void exec_record_fork(db *d, long long run_id, const char *dir, const char *trunk_dir)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/model.json", dir);
    json_t *m = json_load_file(path, 0, NULL);
    json_t *f = json_object_get(m, "fork_step");
    long long step = json_is_integer(f) ? json_integer_value(f) : -1;
    json_decref(m);
    if (step < 0) {
        json_t *w = NULL;
        if (!trunk_dir) {
            snprintf(path, sizeof path, "%s/worker.json", dir);
            w = json_load_file(path, 0, NULL);
            trunk_dir = json_string_value(json_object_get(w, "trunk"));
        }
        const char *slash = strrchr(dir, '/');
        long long stopped;
        if (trunk_dir) anneal_fork_state(trunk_dir, slash ? slash + 1 : dir, 0, &step, &stopped);
        json_decref(w);
    }
    if (step >= 0) db_run_set_fork(d, run_id, step);
}

int exec_matches_only(const exec_options *o, const char *key)
{
    if (!o->nonly) return 1;
    for (size_t k = 0; k < o->nonly; k++)
        if (!strncmp(key, o->only[k], strlen(o->only[k]))) return 1;
    return 0;
}

/* Every --only prefix must name a run of the sweep: a typo is an error, not
 * a sweep that silently does nothing. */
static int check_only(const sweep_plan *p, const exec_options *o)
{
    size_t n = sweep_plan_count(p);
    for (size_t k = 0; k < o->nonly; k++) {
        size_t hits = 0;
        char key[65];
        for (size_t i = 0; i < n && !hits; i++) {
            sweep_plan_key(p, i, key);
            hits += !strncmp(key, o->only[k], strlen(o->only[k]));
        }
        if (!hits)
            return cli_error(XO_USAGE, "--only %s: no run of sweep %s has a key starting so", o->only[k],
                             sweep_name(sweep_plan_sweep(p)));
    }
    return XO_OK;
}

/* Register run i of the plan; its id in *id. parent_id is a branch's
 * trunk's id (registered before it: the plan lists each trunk before its
 * branches). Returns XO_OK or an exit code. */
static int put_run(db *d, const sweep_plan *p, size_t i, long long sweep_id, const char *key, long long parent_id,
                   long long *id)
{
    char err[1024];
    json_t *cfg = sweep_plan_config(p, i, err, sizeof err);
    if (!cfg) return cli_error(XO_USAGE, "%s", err);
    char *text = run_config_canonical(cfg);
    exec_estimate e;
    exec_estimate_run(p, i, &e);
    json_t *data = json_object_get(cfg, "data");
    db_run_spec spec = {
        .key = key,
        .config = text,
        .objective = json_string_value(json_object_get(cfg, "objective")),
        .model = json_string_value(json_object_get(json_object_get(cfg, "model"), "name")),
        .params = e.params > 0 ? (long long)e.params : -1,
        .unique_tokens = (long long)json_integer_value(json_object_get(data, "unique_tokens")),
        .quality = json_string_value(json_object_get(data, "quality")),
        .epochs = json_number_value(json_object_get(json_object_get(cfg, "train"), "epochs")),
        .seed = (long long)json_integer_value(json_object_get(cfg, "seed")),
        .run_dir = NULL,
        .active_params = e.active_params > 0 ? (long long)e.active_params : -1,
        .role = sweep_plan_role(p, i) == SWEEP_TRUNK ? "trunk" : sweep_plan_role(p, i) == SWEEP_BRANCH ? "branch" : "run",
        .parent_id = sweep_plan_role(p, i) == SWEEP_BRANCH ? parent_id : -1,
    };
    int bad = !text || db_run_put(d, &spec, id) || db_sweep_link(d, sweep_id, *id);
    free(text);
    json_decref(cfg);
    return bad ? cli_error(XO_FAILED, "%s", db_errmsg(d)) : XO_OK;
}

int exec_open_db(const exec_options *o, db **out)
{
    char err[1024];
    *out = NULL;
    if (o->dry_run && access(o->db_path, F_OK) != 0) return XO_OK; /* every run is new */
    *out = db_open(o->db_path, o->dry_run ? DB_READONLY : DB_WRITE, err, sizeof err);
    return *out ? XO_OK : cli_error(XO_USAGE, "%s", err);
}

/* Whether a run with status st is to do; the others are counted. */
static int to_do(const exec_options *o, const char *key, const char *st, size_t *skipped_done,
                 size_t *skipped_failed)
{
    if (!strcmp(st, "done")) return (*skipped_done)++, 0;
    if (!strcmp(st, "failed") && !o->retry_failed) return (*skipped_failed)++, 0;
    return exec_matches_only(o, key);
}

/* The runs to do as the database has them now (d may be NULL: no database
 * yet), read only: todo[i] = 1 for each. With take (a dry run), each is
 * also handed over as exec_register would hand it. */
static int pick(db *d, const sweep_plan *p, const exec_options *o, unsigned char *todo, exec_take_fn take,
                void *ctx, size_t *skipped_done, size_t *skipped_failed)
{
    size_t n = sweep_plan_count(p), nd = 0, nf = 0;
    for (size_t i = 0; i < n; i++) {
        char key[65];
        sweep_plan_key(p, i, key);
        found f = {.id = -1};
        if (d) db_run_by_key(d, key, found_fn, &f);
        const char *st = f.status ? f.status : "new";
        int rc = XO_OK;
        todo[i] = (unsigned char)to_do(o, key, st, &nd, &nf);
        if (todo[i] && take) {
            exec_reg_run r = {i, f.id, key, st, f.run_dir, f.job_id, f.started_at};
            if (take(ctx, &r)) rc = cli_error(XO_FAILED, "out of memory");
        }
        found_free(&f);
        if (rc) return rc;
    }
    if (take) *skipped_done += nd, *skipped_failed += nf;
    return XO_OK;
}

/* Record the sweep and every run of the plan in one transaction; hand
 * `take` the runs to do as the database has them inside it. */
static int record(db *d, const sweep_plan *p, const exec_options *o, exec_take_fn take, void *ctx,
                  size_t *skipped_done, size_t *skipped_failed)
{
    const sweep *s = sweep_plan_sweep(p);
    char hash[65];
    SHA256Data((const uint8_t *)(o->yaml_text ? o->yaml_text : ""), o->yaml_len, hash);
    long long sweep_id;
    if (db_sweep_put(d, sweep_name(s), o->yaml_text ? o->yaml_text : "", hash, &sweep_id))
        return cli_error(XO_FAILED, "%s", db_errmsg(d));
    if (db_begin(d)) return cli_error(XO_FAILED, "%s", db_errmsg(d));
    size_t n = sweep_plan_count(p), trunk_i = (size_t)-1;
    long long trunk_id = -1;
    int rc = XO_OK;
    for (size_t i = 0; i < n && rc == XO_OK; i++) {
        char key[65];
        sweep_plan_key(p, i, key);
        long long id;
        rc = put_run(d, p, i, sweep_id, key, sweep_plan_parent(p, i) == trunk_i ? trunk_id : -1, &id);
        if (rc) break;
        if (sweep_plan_role(p, i) == SWEEP_TRUNK) trunk_i = i, trunk_id = id;
        found f = {0};
        db_run_by_key(d, key, found_fn, &f);
        const char *st = f.status ? f.status : "pending";
        if (to_do(o, key, st, skipped_done, skipped_failed)) {
            exec_reg_run r = {i, id, key, st, f.run_dir, f.job_id, f.started_at};
            if (take(ctx, &r)) rc = cli_error(XO_FAILED, "out of memory");
        }
        found_free(&f);
    }
    if (rc) {
        db_rollback(d);
        return rc;
    }
    if (db_commit(d)) return cli_error(XO_FAILED, "%s", db_errmsg(d));
    return XO_OK;
}

/* In three steps, so that bad input changes nothing: which runs are to do
 * (reading), whether their corpora can feed them (exec_check_data, which
 * may tokenize a corpus for minutes: outside any transaction, which would
 * keep other writers waiting), and only then the record. */
int exec_register(db *d, const sweep_plan *p, const exec_options *o, exec_take_fn take, void *ctx,
                  size_t *skipped_done, size_t *skipped_failed)
{
    int rc = check_only(p, o);
    if (rc) return rc;
    unsigned char *todo = calloc(sweep_plan_count(p) + 1, 1);
    if (!todo) return cli_error(XO_FAILED, "out of memory");
    rc = pick(d, p, o, todo, o->dry_run ? take : NULL, ctx, skipped_done, skipped_failed);
    if (rc == XO_OK) rc = exec_check_data(p, todo);
    free(todo);
    if (rc == XO_OK && !o->dry_run) rc = record(d, p, o, take, ctx, skipped_done, skipped_failed);
    return rc;
}
