/*
 * cmd_plan.c — `xover plan SWEEP.yaml`: the runs a sweep expands into, what
 * the database already has of them, and what the rest will cost. Reads the
 * database (if there is one); writes nothing.
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/exec/exec.h"
#include "orchestrator/sweep/sweep.h"
#include "orchestrator/util/util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    size_t n, nnew, ndone, nfailed, nother;
    double tokens, flops;          /* of the runs not done */
    double all_tokens, all_flops;
} totals;

static const char *status_of(const exec_statuses *st, const char *key)
{
    const char *s = exec_status_of(st, key);
    return s ? s : "new";
}

static void count(totals *t, const char *status, const exec_estimate *e)
{
    t->n++;
    t->all_tokens += e->tokens;
    t->all_flops += e->flops;
    if (!strcmp(status, "done")) { t->ndone++; return; }
    if (!strcmp(status, "new")) t->nnew++;
    else if (!strcmp(status, "failed")) t->nfailed++;
    else t->nother++;
    t->tokens += e->tokens;
    t->flops += e->flops;
}

static const char *role_name(int role)
{
    return role == SWEEP_TRUNK ? "trunk" : role == SWEEP_BRANCH ? "branch" : "run";
}

/* "0-256" (a trunk), "256-320" (a branch): the epochs a run trains. */
static void span_text(const sweep_plan *p, size_t i, char *buf, size_t n)
{
    double from, to;
    sweep_plan_span(p, i, &from, &to);
    snprintf(buf, n, "%.4g-%.4g", from, to);
}

static int print_table(const sweep_plan *p, const exec_statuses *st, totals *t)
{
    const sweep *s = sweep_plan_sweep(p);
    size_t na = sweep_naxes(s), nd = sweep_nderived(s), n = sweep_plan_count(p);
    /* Only axes that vary are worth a column. */
    int *show = calloc(na + 1, sizeof *show);
    int *width = calloc(na + nd + 1, sizeof *width);
    if (!show || !width) { free(show); free(width); return cli_error(XO_FAILED, "out of memory"); }
    for (size_t a = 0; a < na; a++) {
        show[a] = sweep_axis_nvalues(s, a) > 1;
        width[a] = (int)strlen(sweep_axis_name(s, a));
    }
    for (size_t d = 0; d < nd; d++) {
        width[na + d] = (int)strlen(sweep_derived_name(s, d));
        if (width[na + d] < 8) width[na + d] = 8;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < na; a++) {
            int l = (int)strlen(sweep_plan_axis_text(p, i, a));
            if (show[a] && l > width[a]) width[a] = l;
        }
    int nw = snprintf(NULL, 0, "%zu", n);
    /* Annealed branches: which run is a trunk, which a branch, and the
     * stretch of epochs each trains. */
    int roles = n > 0 && sweep_plan_role(p, 0) != SWEEP_RUN;
    printf("%*s  %-12s", nw, "#", "key");
    for (size_t a = 0; a < na; a++)
        if (show[a]) printf("  %-*s", width[a], sweep_axis_name(s, a));
    for (size_t d = 0; d < nd; d++) printf("  %*s", width[na + d], sweep_derived_name(s, d));
    if (roles) printf("  %-6s  %-12s  %-11s", "role", "trunk", "epochs");
    printf("  %8s  %8s  %s\n", "tokens", "FLOPs", "status");
    for (size_t i = 0; i < n; i++) {
        char key[65], tok[32], fl[32];
        sweep_plan_key(p, i, key);
        const char *status = status_of(st, key);
        exec_estimate e;
        exec_estimate_run(p, i, &e);
        count(t, status, &e);
        exec_human(e.tokens, tok, sizeof tok);
        exec_human(e.flops, fl, sizeof fl);
        printf("%*zu  %.12s", nw, i + 1, key);
        for (size_t a = 0; a < na; a++)
            if (show[a]) printf("  %-*s", width[a], sweep_plan_axis_text(p, i, a));
        for (size_t d = 0; d < nd; d++) printf("  %*.4g", width[na + d], sweep_plan_derived(p, i, d));
        if (roles) {
            char of[65] = "", span[64];
            int role = sweep_plan_role(p, i);
            if (role == SWEEP_BRANCH) sweep_plan_key(p, sweep_plan_parent(p, i), of);
            span_text(p, i, span, sizeof span);
            printf("  %-6s  %-12.12s  %-11s", role_name(role), of, span);
        }
        printf("  %8s  %8s  %s\n", tok, fl, status);
    }
    free(show);
    free(width);
    return XO_OK;
}

static int print_json_runs(const sweep_plan *p, const exec_statuses *st, totals *t)
{
    const sweep *s = sweep_plan_sweep(p);
    size_t na = sweep_naxes(s), nd = sweep_nderived(s), n = sweep_plan_count(p);
    printf("\"runs\": [");
    for (size_t i = 0; i < n; i++) {
        char key[65];
        sweep_plan_key(p, i, key);
        const char *status = status_of(st, key);
        exec_estimate e;
        exec_estimate_run(p, i, &e);
        count(t, status, &e);
        json_t *axes = json_object(), *der = json_object();
        for (size_t a = 0; a < na; a++)
            json_object_set_new(axes, sweep_axis_name(s, a), json_string(sweep_plan_axis_text(p, i, a)));
        for (size_t d = 0; d < nd; d++)
            json_object_set_new(der, sweep_derived_name(s, d), json_real(sweep_plan_derived(p, i, d)));
        json_t *run = json_pack("{s:s, s:o, s:o, s:s, s:f, s:f, s:f}", "key", key, "axes", axes, "derived", der,
                                "status", status, "params", e.params, "tokens", e.tokens, "flops", e.flops);
        int role = sweep_plan_role(p, i);
        if (run && role != SWEEP_RUN) {
            /* the trunk a branch forks from, and the epochs each trains */
            char of[65];
            double from, to;
            sweep_plan_key(p, sweep_plan_parent(p, i), of);
            sweep_plan_span(p, i, &from, &to);
            json_object_set_new(run, "role", json_string(role_name(role)));
            json_object_set_new(run, "trunk", role == SWEEP_BRANCH ? json_string(of) : json_null());
            json_object_set_new(run, "epochs_from", json_real(from));
            json_object_set_new(run, "epochs_to", json_real(to));
        }
        char *text = run ? json_dumps(run, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(run);
        if (!text) return cli_error(XO_FAILED, "out of memory");
        printf("%s\n  %s", i ? "," : "", text);
        free(text);
    }
    printf("\n]");
    return XO_OK;
}

/* The corpora of the runs not done yet (exec_check_data). */
static int check_data(const sweep_plan *p, const exec_statuses *st)
{
    size_t n = sweep_plan_count(p);
    unsigned char *todo = malloc(n + 1);
    if (!todo) return cli_error(XO_FAILED, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char key[65];
        sweep_plan_key(p, i, key);
        todo[i] = strcmp(status_of(st, key), "done") != 0;
    }
    int rc = exec_check_data(p, todo);
    free(todo);
    return rc;
}

/* The time a plan's runs not yet done would take. */
typedef struct {
    double cpu, wall;   /* CPU seconds; wall seconds on the workers */
    size_t at_shape;    /* runs timed at their own model shape's measured speed */
    size_t shapes;      /* model shapes with a measured speed */
} plan_time;

static plan_time estimate_time(const sweep_plan *p, const exec_statuses *st, db *d, double speed, long long jobs,
                               const totals *t)
{
    /* Each run not done at its model shape's measured speed when runs of
     * that shape have finished, else at the overall one. */
    plan_time pt = {0};
    exec_speeds *speeds = exec_speeds_load(d);
    for (size_t i = 0; i < t->n; i++) {
        char key[65];
        sweep_plan_key(p, i, key);
        if (!strcmp(status_of(st, key), "done")) continue;
        exec_estimate e;
        exec_estimate_run(p, i, &e);
        int own;
        pt.cpu += e.flops / exec_speed_for(speeds, p, i, speed, &own);
        pt.at_shape += own;
    }
    pt.shapes = exec_speeds_shapes(speeds);
    exec_speeds_free(speeds);
    double slots = (double)jobs < (double)(t->n - t->ndone) ? (double)jobs : (double)(t->n - t->ndone);
    pt.wall = slots > 0 ? pt.cpu / slots : 0;
    return pt;
}

static void print_summary_json(const sweep_plan *p, const totals *t, const plan_time *pt, double speed,
                               long long measured_runs, long long jobs)
{
    json_t *sum = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:I, s:I}", "runs",
        (json_int_t)t->n, "grid", (json_int_t)sweep_plan_grid(p), "excluded", (json_int_t)sweep_plan_excluded(p),
        "included", (json_int_t)sweep_plan_included(p), "merged", (json_int_t)sweep_plan_merged(p), "new",
        (json_int_t)t->nnew, "done", (json_int_t)t->ndone, "failed", (json_int_t)t->nfailed, "other",
        (json_int_t)t->nother, "tokens_to_train", t->tokens, "flops_to_train", t->flops, "flops_per_s", speed,
        "cpu_seconds", pt->cpu, "wall_seconds", pt->wall, "jobs", (json_int_t)jobs, "speed_measured_runs",
        (json_int_t)measured_runs);
    json_object_set_new(sum, "runs_at_their_shapes_speed", json_integer((json_int_t)pt->at_shape));
    printf(",\n\"summary\": ");
    json_dumpf(sum, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(sum);
    printf("}\n");
}

static void print_summary_text(const sweep_plan *p, const sweep *s, const totals *t, const plan_time *pt,
                               double speed, long long measured_runs, long long jobs)
{
    char a[32], b[32], sp[32], w[32], cpus[32];
    printf("\nsweep %s: %zu runs (%zu grid combinations, %zu excluded, %zu included, %zu merged as identical)\n",
           sweep_name(s), t->n, sweep_plan_grid(p), sweep_plan_excluded(p), sweep_plan_included(p),
           sweep_plan_merged(p));
    size_t ntrunk = 0;
    for (size_t i = 0; i < t->n; i++) ntrunk += sweep_plan_role(p, i) == SWEEP_TRUNK;
    if (ntrunk)
        printf("annealed: %zu trunk%s and %zu branches, each branch its trunk's state at its fork plus a "
               "cooldown (docs/sweep.md)\n", ntrunk, ntrunk == 1 ? "" : "s", t->n - ntrunk);
    printf("status: %zu new, %zu done, %zu failed, %zu pending/running/interrupted\n", t->nnew, t->ndone, t->nfailed,
           t->nother);
    exec_human(t->tokens, a, sizeof a);
    exec_human(t->flops, b, sizeof b);
    exec_human(speed, sp, sizeof sp);
    xo_duration(pt->wall, w, sizeof w);
    xo_duration(pt->cpu, cpus, sizeof cpus);
    printf("to train: %zu runs, %s tokens, %s FLOPs: about %s on %lld workers (%s CPU) at %sFLOP/s per worker",
           t->n - t->ndone, a, b, w, jobs, cpus, sp);
    if (measured_runs) printf(" (measured on %lld finished runs)\n", measured_runs);
    else printf(" (assumed: no finished run to measure yet)\n");
    if (pt->at_shape)
        printf("  %zu of the runs to train at the speed measured for their model shape (%zu shape%s measured)\n",
               pt->at_shape, pt->shapes, pt->shapes == 1 ? "" : "s");
}

int cmd_plan(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, 0, 'f'}, {"db", required_argument, 0, 'd'},
        {"jobs", required_argument, 0, 'j'}, {0, 0, 0, 0}};
    const char *format = "table", *dbopt = NULL;
    long long jobs = 0;
    int c;
    while ((c = cli_getopt("plan", argc, argv, "f:d:j:", opts)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 'd': dbopt = optarg; break;
        case 'j':
            if (cli_parse_long("plan", "-j", optarg, &jobs)) return XO_USAGE;
            break;
        default: return XO_USAGE;
        }
    }
    int json = !strcmp(format, "json");
    if (!json && strcmp(format, "table"))
        return cli_usage_error("plan", "--format must be table or json, not '%s'", format);
    if (optind != argc - 1) return cli_usage_error("plan", "expected one sweep file");
    if (jobs <= 0) jobs = sysconf(_SC_NPROCESSORS_ONLN) > 0 ? sysconf(_SC_NPROCESSORS_ONLN) : 1;

    char err[1024];
    sweep *s = sweep_load(argv[optind], err, sizeof err);
    if (!s) return cli_error(XO_USAGE, "%s", err);
    sweep_plan *p = sweep_expand(s, 0, err, sizeof err);
    if (!p) {
        sweep_free(s);
        return cli_error(XO_USAGE, "%s", err);
    }
    /* The database is optional here: no file means every run is new. */
    const char *path = cli_db_path(dbopt);
    db *d = NULL;
    if (access(path, F_OK) == 0) {
        d = db_open(path, DB_READONLY, err, sizeof err);
        if (!d) {
            sweep_plan_free(p);
            sweep_free(s);
            return cli_error(XO_USAGE, "%s", err);
        }
    }
    exec_statuses *st = exec_statuses_load(d, err, sizeof err);
    long long measured_runs = 0;
    double speed = d ? exec_measured_speed(d, &measured_runs) : 0;
    if (speed <= 0) speed = EXEC_DEFAULT_FLOPS_PER_S;
    int rc = XO_OK;
    totals t = {0};
    if (!st) {
        rc = cli_error(XO_FAILED, "%s", err);
    } else if ((rc = check_data(p, st)) != XO_OK) {
        /* a corpus that cannot feed the runs: said, nothing listed */
    } else if (json) {
        printf("{\"sweep\": ");
        json_t *name = json_string(sweep_name(s));
        json_dumpf(name, stdout, JSON_ENCODE_ANY);
        json_decref(name);
        printf(",\n");
        rc = print_json_runs(p, st, &t);
    } else {
        rc = print_table(p, st, &t);
    }
    if (rc == XO_OK) {
        plan_time pt = estimate_time(p, st, d, speed, jobs, &t);
        if (json) print_summary_json(p, &t, &pt, speed, measured_runs, jobs);
        else print_summary_text(p, s, &t, &pt, speed, measured_runs, jobs);
    }
    exec_statuses_free(st);
    db_close(d);
    sweep_plan_free(p);
    sweep_free(s);
    return rc;
}

const cli_command cmd_plan_def = {"plan", cmd_plan, "show the runs a sweep expands into, their status and their cost",
     "usage: xover plan SWEEP.yaml [--format table|json] [--db PATH] [-j N]\n\n"
     "Expand the sweep (grid x zip, minus exclude, plus include, with derive and\n"
     "seeds) and list its runs: the axes that vary, derived parameters, the run\n"
     "key's first 12 hex digits, estimated training tokens and FLOPs, and the\n"
     "status the database has for it (new when it has none); with train.anneal_at,\n"
     "each trunk and its branches, the trunk a branch forks from and the epochs\n"
     "each trains (docs/sweep.md). Then the counts and the estimated time at the\n"
     "training speed measured on finished runs (or an assumed 60 GFLOP/s per worker\n"
     "when there are none; a run that stops early, train.early_stop_margin, costs\n"
     "less than estimated). Nothing is written to the database. The corpora of the\n"
     "runs not done are checked first (they exist, hold documents, and give each run\n"
     "its unique_tokens): a corpus is tokenized into the cache once, here, and the\n"
     "runs reuse it. A corpus that cannot is exit 2.\n\n"
     "  --format F    table (default) or json\n"
     "  --db PATH     the database (default: $XOVER_DB, else ./xover.db); none is fine\n"
     "  -j, --jobs N  workers to estimate the wall time for (default: one per core)\n"};
