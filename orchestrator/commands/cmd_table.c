/*
 * cmd_table.c — `xover table --rows AXIS --cols AXIS --cell COLUMN`: the
 * crossover results pivoted, as the papers print them (unique tokens down,
 * model sizes across, the crossover in each cell).
 */
#include "orchestrator/analysis/analysis.h"
#include "orchestrator/cli/cli.h"
#include "orchestrator/db/db.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/cli/rowfmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMATS ((1u << ROWFMT_TABLE) | (1u << ROWFMT_CSV) | (1u << ROWFMT_JSON) | (1u << ROWFMT_MD))
#define MAX_WHERE 16

/* An axis value copied out, for sorting and matching (an_axis_key), with
 * numbers labelled as the table prints them. */
typedef an_axis_key key;

static void key_of(const an_pair *p, const char *axis, key *k)
{
    an_axis_key_of(p, axis, k);
    if (k->v.type == DB_INT || k->v.type == DB_REAL) rowfmt_cell(&k->v, k->text, sizeof k->text);
}

static int key_cmp(const key *a, const key *b) { return an_axis_key_cmp(a, b); }

static int key_cmp_v(const void *a, const void *b) { return key_cmp(a, b); }

/* The sorted distinct keys of `axis` over the selected pairs. */
static key *distinct(const an_pairs *ps, const char *sel, const char *axis, size_t *n)
{
    key *k = malloc((ps->n + 1) * sizeof *k);
    if (!k) return NULL;
    size_t m = 0;
    for (size_t i = 0; i < ps->n; i++)
        if (sel[i]) key_of(&ps->p[i], axis, &k[m++]);
    qsort(k, m, sizeof *k, key_cmp_v);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (!u || key_cmp(&k[u - 1], &k[i])) k[u++] = k[i];
    *n = u;
    return k;
}

/* --cell NAME: a column of the crossover view. crossover_tokens (and
 * _epochs, _flops, likewise for x_start, x_end, ar_best_x, mdm_best_x) also
 * picks the x axis. */
static int parse_cell(const char *cell, int *col, int *x)
{
    if ((*col = an_column_index(cell)) >= 0) return 0;
    const char *us = strrchr(cell, '_');
    if (!us) return -1;
    int ax = an_xaxis_parse(us + 1);
    char base[64];
    snprintf(base, sizeof base, "%.*s", (int)(us - cell), cell);
    static const char *const xcols[] = {"crossover", "x_start", "x_end", "ar_best_x",
                                        "mdm_best_x", NULL};
    for (int i = 0; ax >= 0 && xcols[i]; i++)
        if (!strcmp(base, xcols[i])) {
            *col = an_column_index(base);
            *x = ax;
            return 0;
        }
    return -1;
}

/* The options, checked; the axes as given (their labels) and resolved. */
typedef struct {
    pairs_query q;
    const char *rows, *cols, *cell, *fmt;
    const char *where[MAX_WHERE];
    int nwhere, kind, col, x;
    char rax[160], cax[160], wax[MAX_WHERE][160];
} table_opts;

static int table_options(int argc, char **argv, table_opts *o)
{
    static const struct option opts[] = {
        PAIRS_QUERY_OPTIONS,
        {"rows", required_argument, 0, 'r'},   {"cols", required_argument, 0, 'c'},
        {"cell", required_argument, 0, 'C'},   {"where", required_argument, 0, 'w'},
        {"format", required_argument, 0, 'f'}, {0, 0, 0, 0}};
    int c;
    while ((c = cli_getopt("table", argc, argv, "f:", opts)) != -1) {
        if (pairs_query_option(&o->q, c, optarg)) continue;
        switch (c) {
        case 'r': o->rows = optarg; break;
        case 'c': o->cols = optarg; break;
        case 'C': o->cell = optarg; break;
        case 'f': o->fmt = optarg; break;
        case 'w':
            if (o->nwhere == MAX_WHERE || !strchr(optarg, '=') || optarg[0] == '=')
                return cli_usage_error("table", "--where takes FIELD=VALUE (at most %d), not '%s'",
                                       MAX_WHERE, optarg);
            o->where[o->nwhere++] = optarg;
            break;
        default: return XO_USAGE;
        }
    }
    if (optind < argc) return cli_usage_error("table", "unexpected argument '%s'", argv[optind]);
    if ((o->kind = rowfmt_parse(o->fmt, FORMATS)) < 0) return rowfmt_bad_format("table", o->fmt, FORMATS);
    o->x = AN_TOKENS;
    if (o->q.x && (o->x = an_xaxis_parse(o->q.x)) < 0)
        return cli_usage_error("table", "--x must be tokens, epochs or flops, not '%s'", o->q.x);
    int xcell = o->x;
    if (parse_cell(o->cell, &o->col, &xcell)) {
        const char *hint = cli_did_you_mean(o->cell, (const char *const[]){
            "crossover_tokens", "crossover_epochs", "crossover_flops", "ar_best", "mdm_best",
            "final_gap", "verdict", "ar_best_x", "mdm_best_x", "x_end", "crossover", NULL});
        return cli_usage_error("table", "--cell '%s' is not a column of the crossover view%s%s%s",
                               o->cell, hint ? "; did you mean '" : "", hint ? hint : "",
                               hint ? "'?" : "");
    }
    if (o->q.x && xcell != o->x)
        return cli_usage_error("table", "--cell %s and --x %s disagree on the x axis", o->cell, o->q.x);
    o->x = xcell;
    return XO_OK;
}

/* Resolve the axes of --rows, --cols and every --where (axis_resolve). */
static int table_axes(const an_pairs *ps, table_opts *o)
{
    int code = axis_resolve("table", ps, "--rows", o->rows, o->rax, sizeof o->rax);
    if (!code) code = axis_resolve("table", ps, "--cols", o->cols, o->cax, sizeof o->cax);
    for (int w = 0; !code && w < o->nwhere; w++) {
        char name[160];
        const char *eq = strchr(o->where[w], '=');
        snprintf(name, sizeof name, "%.*s", (int)(eq - o->where[w]), o->where[w]);
        code = axis_resolve("table", ps, "--where", name, o->wax[w], sizeof o->wax[w]);
    }
    return code;
}

/* sel[i] = pair i passes every --where. */
static void table_select(const an_pairs *ps, const table_opts *o, char *sel)
{
    for (size_t i = 0; i < ps->n; i++) {
        sel[i] = 1;
        for (int w = 0; w < o->nwhere && sel[i]; w++) {
            const char *val = strchr(o->where[w], '=') + 1;
            key k;
            key_of(&ps->p[i], o->wax[w], &k);
            int num = k.v.type == DB_INT || k.v.type == DB_REAL;
            char *end;
            double d = strtod(val, &end);
            sel[i] = k.v.type != DB_NULL && (!strcmp(k.text, val) || (num && *val && !*end && d == k.num));
        }
    }
}

/* Place each selected pair at its (row, col): at[r * nc + c] = pair index.
 * Two pairs in one place are refused, naming the field they differ in. */
static int table_place(const an_pairs *ps, const table_opts *o, const char *sel, const key *rk, size_t nr,
                       const key *ck, size_t nc, long *at)
{
    for (size_t i = 0; i < nr * nc; i++) at[i] = -1;
    for (size_t i = 0; i < ps->n; i++) {
        if (!sel[i]) continue;
        key a, b;
        key_of(&ps->p[i], o->rax, &a);
        key_of(&ps->p[i], o->cax, &b);
        size_t r = 0, c = 0;
        while (key_cmp(&rk[r], &a)) r++;
        while (key_cmp(&ck[c], &b)) c++;
        if (at[r * nc + c] >= 0) {
            const an_pair *p = &ps->p[at[r * nc + c]], *q = &ps->p[i];
            char field[160];
            if (an_pairs_differing_field(p, q, field, sizeof field))
                return cli_usage_error("table", "two pairs fall in the cell %s=%s, %s=%s; choose one with "
                                       "--where or --sweep", o->rows, a.text, o->cols, b.text);
            key kp, kq;
            key_of(p, field, &kp);
            key_of(q, field, &kq);
            return cli_usage_error("table", "two pairs fall in the cell %s=%s, %s=%s: they differ in %s "
                                   "(%s and %s); choose one with --where %s=VALUE or --sweep, or make it "
                                   "--rows/--cols", o->rows, a.text, o->cols, b.text, field,
                                   kp.v.type == DB_NULL ? "absent" : kp.text,
                                   kq.v.type == DB_NULL ? "absent" : kq.text, field);
        }
        at[r * nc + c] = (long)i;
    }
    return XO_OK;
}

/* Write the pivot: the corner names the axes, a row per row key. */
static int table_write(const an_pairs *ps, const table_opts *o, const key *rk, size_t nr, const key *ck,
                       size_t nc, const long *at)
{
    rowfmt *f = rowfmt_new((rowfmt_kind)o->kind, stdout);
    int bad = !f, r6 = o->kind == ROWFMT_MD || o->kind == ROWFMT_TABLE;
    const char **names = calloc(nc + 1, sizeof *names);
    db_value *vals = calloc(nc + 1, sizeof *vals);
    char *texts = malloc((nc + 1) * 96); /* one row's reading cells */
    char corner[300];
    snprintf(corner, sizeof corner, "%s \\ %s", o->rows, o->cols);
    if (!names || !vals || !texts) bad = 1;
    if (!bad) {
        names[0] = corner;
        for (size_t c = 0; c < nc; c++) names[c + 1] = ck[c].text;
        bad = rowfmt_columns(f, (int)nc + 1, names);
    }
    db_value all[AN_NCOL];
    for (size_t r = 0; !bad && r < nr; r++) {
        vals[0] = (db_value){DB_TEXT, 0, 0, rk[r].text, strlen(rk[r].text)};
        for (size_t c = 0; c < nc; c++) {
            long i = at[r * nc + c];
            vals[c + 1] = (db_value){DB_NULL, 0, 0, NULL, 0};
            if (i < 0) continue;
            an_pair_row(&ps->p[i], all, r6);
            vals[c + 1] = all[o->col];
            /* For reading, words and brackets say more than one number. */
            char *t = texts + c * 96;
            if (r6 && pairs_reading_cell(&ps->p[i], o->col, t, 96))
                vals[c + 1] = (db_value){DB_TEXT, 0, 0, t, strlen(t)};
        }
        bad = rowfmt_row(f, (int)nc + 1, vals);
    }
    if (f && rowfmt_finish(f)) bad = 1;
    rowfmt_free(f);
    free(names);
    free(vals);
    free(texts);
    return bad ? cli_error(XO_FAILED, "writing the table failed") : XO_OK;
}

int cmd_table(int argc, char **argv)
{
    table_opts o = {.q = PAIRS_QUERY_INIT, .rows = "unique_tokens", .cols = "model",
                    .cell = "crossover_tokens", .fmt = "md"};
    int code = table_options(argc, argv, &o);
    if (code) return code;
    an_pairs ps;
    if ((code = pairs_query_load(&o.q, (an_xaxis)o.x, 0, &ps))) return code;
    char *sel = calloc(ps.n + 1, 1);
    key *rk = NULL, *ck = NULL;
    long *at = NULL;
    size_t nr = 0, nc = 0, nsel = 0;
    if (!sel) { code = cli_error(XO_FAILED, "out of memory"); goto out; }
    if ((code = table_axes(&ps, &o))) goto out;
    table_select(&ps, &o, sel);
    rk = distinct(&ps, sel, o.rax, &nr);
    ck = distinct(&ps, sel, o.cax, &nc);
    at = malloc((nr * nc + 1) * sizeof *at);
    if (!rk || !ck || !at) { code = cli_error(XO_FAILED, "out of memory"); goto out; }
    if ((code = table_place(&ps, &o, sel, rk, nr, ck, nc, at))) goto out;
    for (size_t i = 0; i < ps.n; i++) nsel += sel[i];
    if (nsel == 0)
        pairs_query_say_empty("table", &o.q, an_xaxis_name((an_xaxis)o.x), o.nwhere ? " that passes --where" : "");
    code = table_write(&ps, &o, rk, nr, ck, nc, at);
    if (code == XO_OK && (o.kind == ROWFMT_MD || o.kind == ROWFMT_TABLE)) pairs_edge_note(&ps);
out:
    free(sel);
    free(rk);
    free(ck);
    free(at);
    an_pairs_free(&ps);
    return code;
}

const cli_command cmd_table_def = {"table", cmd_table, "pivot the crossover results: one axis down, one across, one column in the cells",
     "usage: xover table [--rows AXIS] [--cols AXIS] [--cell COLUMN] [--metric M]\n"
     "                   [--x tokens|epochs|flops] [--where AXIS=VALUE]... [--sweep S]\n"
     "                   [--format md|csv|json|table] [--db PATH]\n\n"
     "The papers' tables: e.g. unique tokens down, model across, the crossover in\n"
     "tokens in each cell (the defaults). An empty cell has no pair. In md and table\n"
     "the crossover cell reads as the two evaluations it falls between ('256-320'),\n"
     "or the verdict: 'none' (MDM did not overtake AR within the budget),\n"
     "'inconclusive' (the final gap's 95% interval contains 0), 'unfinished' (a run\n"
     "still to train); final_gap carries its interval, marked '(eval error, 1 seed)'\n"
     "when it comes from the evaluation error of one seed (csv and json give the\n"
     "numbers: crossover, bracket_lo, bracket_hi, gap_lo, gap_hi, interval).\n"
     "Two pairs that fall in one cell are refused, naming the field they differ in\n"
     "and its two values. No pair to show: a note on stderr, the header alone, exit 0\n"
     "(as xover crossover).\n\n"
     "  --rows AXIS     default unique_tokens; --cols AXIS default model. An axis is\n"
     "                  model, params, unique_tokens, quality, epochs, or a field of\n"
     "                  the run config as a sweep file names it: lr or train.lr,\n"
     "                  corpus, dim or model.dim; a name that is neither is refused\n"
     "                  with the closest one\n"
     "  --cell COLUMN   a column of 'xover crossover' (default crossover_tokens):\n"
     "                  crossover, ar_best, mdm_best, final_gap, verdict, ar_best_x, ...;\n"
     "                  crossover_epochs / _flops (and ar_best_x_tokens, ...) pick the x axis\n"
     "  --where F=V     only pairs whose axis or field F (as for --rows: lr=2e-3,\n"
     "                  corpus=gcide) has value V, numbers compared as numbers\n"
     "                  (repeatable)\n"
     "  --annealed      the annealed points of trunks' branches (xover crossover --annealed)\n"
     "  --metric, --x, --sweep, --format, --db   as for xover crossover\n"};
