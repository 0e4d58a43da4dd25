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

static int known_axis(const an_pairs *ps, const char *axis)
{
    db_value v;
    char buf[64];
    static const char *const typed[] = {"model", "params", "unique_tokens", "quality", "epochs",
                                        "metric", NULL};
    for (int i = 0; typed[i]; i++)
        if (!strcmp(axis, typed[i])) return 1;
    for (size_t i = 0; i < ps->n; i++)
        if (an_pair_axis(&ps->p[i], axis, &v, buf, sizeof buf) == 0) return 1;
    return 0;
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

int cmd_table(int argc, char **argv)
{
    static const struct option opts[] = {
        PAIRS_QUERY_OPTIONS,
        {"rows", required_argument, 0, 'r'},   {"cols", required_argument, 0, 'c'},
        {"cell", required_argument, 0, 'C'},   {"where", required_argument, 0, 'w'},
        {"format", required_argument, 0, 'f'}, {0, 0, 0, 0}};
    pairs_query q = PAIRS_QUERY_INIT;
    const char *rows = "unique_tokens", *cols = "model", *cell = "crossover_tokens", *fmt = "md";
    const char *where[MAX_WHERE];
    int nwhere = 0, c;
    while ((c = cli_getopt("table", argc, argv, "f:", opts)) != -1) {
        if (pairs_query_option(&q, c, optarg)) continue;
        switch (c) {
        case 'r': rows = optarg; break;
        case 'c': cols = optarg; break;
        case 'C': cell = optarg; break;
        case 'f': fmt = optarg; break;
        case 'w':
            if (nwhere == MAX_WHERE || !strchr(optarg, '='))
                return cli_usage_error("table", "--where takes AXIS=VALUE (at most %d), not '%s'",
                                       MAX_WHERE, optarg);
            where[nwhere++] = optarg;
            break;
        default: return XO_USAGE;
        }
    }
    if (optind < argc) return cli_usage_error("table", "unexpected argument '%s'", argv[optind]);
    int kind = rowfmt_parse(fmt, FORMATS);
    if (kind < 0) return rowfmt_bad_format("table", fmt, FORMATS);
    const char *xname = q.x;
    int x = AN_TOKENS, col;
    if (xname && (x = an_xaxis_parse(xname)) < 0)
        return cli_usage_error("table", "--x must be tokens, epochs or flops, not '%s'", xname);
    int xcell = x;
    if (parse_cell(cell, &col, &xcell)) {
        const char *hint = cli_did_you_mean(cell, (const char *const[]){
            "crossover_tokens", "crossover_epochs", "crossover_flops", "ar_best", "mdm_best",
            "final_gap", "verdict", "ar_best_x", "mdm_best_x", "x_end", "crossover", NULL});
        return cli_usage_error("table", "--cell '%s' is not a column of the crossover view%s%s%s",
                               cell, hint ? "; did you mean '" : "", hint ? hint : "",
                               hint ? "'?" : "");
    }
    if (xname && xcell != x)
        return cli_usage_error("table", "--cell %s and --x %s disagree on the x axis", cell, xname);
    x = xcell;

    an_pairs ps;
    int code = pairs_query_load(&q, (an_xaxis)x, 0, &ps);
    if (code) return code;

    char *sel = calloc(ps.n + 1, 1);
    key *rk = NULL, *ck = NULL;
    size_t nr = 0, nc = 0;
    if (!sel) { code = cli_error(XO_FAILED, "out of memory"); goto out; }
    const char *axes[2] = {rows, cols};
    for (int a = 0; a < 2; a++)
        if (ps.n && !known_axis(&ps, axes[a])) {
            code = cli_usage_error("table", "'%s' is not an axis (model, params, unique_tokens, "
                                   "quality, epochs, or a config path like train.lr)", axes[a]);
            goto out;
        }
    for (size_t i = 0; i < ps.n; i++) {
        sel[i] = 1;
        for (int w = 0; w < nwhere && sel[i]; w++) {
            char ax[128];
            const char *eq = strchr(where[w], '=');
            snprintf(ax, sizeof ax, "%.*s", (int)(eq - where[w]), where[w]);
            key k;
            key_of(&ps.p[i], ax, &k);
            int num = k.v.type == DB_INT || k.v.type == DB_REAL;
            sel[i] = k.v.type != DB_NULL && (!strcmp(k.text, eq + 1) || (num && strtod(eq + 1, NULL) == k.num));
        }
    }
    rk = distinct(&ps, sel, rows, &nr);
    ck = distinct(&ps, sel, cols, &nc);
    if (!rk || !ck) { code = cli_error(XO_FAILED, "out of memory"); goto out; }

    /* Each (row, col) must hold at most one pair: several mean another
     * axis varies and the reader would not know which one is shown. */
    long *at = malloc((nr * nc + 1) * sizeof *at);
    if (!at) { code = cli_error(XO_FAILED, "out of memory"); goto out; }
    for (size_t i = 0; i < nr * nc; i++) at[i] = -1;
    for (size_t i = 0; i < ps.n && code == XO_OK; i++) {
        if (!sel[i]) continue;
        key a, b;
        key_of(&ps.p[i], rows, &a);
        key_of(&ps.p[i], cols, &b);
        size_t r = 0, q = 0;
        while (key_cmp(&rk[r], &a)) r++;
        while (key_cmp(&ck[q], &b)) q++;
        if (at[r * nc + q] >= 0) {
            const an_pair *o = &ps.p[at[r * nc + q]], *p = &ps.p[i];
            const char *diff = strcmp(o->quality, p->quality) ? "quality"
                             : strcmp(o->model, p->model) ? "model"
                             : o->unique_tokens != p->unique_tokens ? "unique_tokens"
                             : o->epochs != p->epochs ? "epochs" : "the config";
            code = cli_usage_error("table", "two pairs fall in the cell %s=%s, %s=%s: they differ "
                                   "in %s; choose one with --where AXIS=VALUE or --sweep, or make "
                                   "it --rows/--cols", rows, a.text, cols, b.text, diff);
        }
        at[r * nc + q] = (long)i;
    }
    if (code == XO_OK) {
        rowfmt *f = rowfmt_new((rowfmt_kind)kind, stdout);
        int bad = !f, r6 = kind == ROWFMT_MD || kind == ROWFMT_TABLE;
        const char **names = calloc(nc + 1, sizeof *names);
        db_value *vals = calloc(nc + 1, sizeof *vals);
        char *texts = malloc((nr * nc + 1) * 96); /* reading cells, alive until the table is written */
        char corner[300];
        snprintf(corner, sizeof corner, "%s \\ %s", rows, cols);
        if (!names || !vals || !texts) bad = 1;
        if (!bad) {
            names[0] = corner;
            for (size_t q = 0; q < nc; q++) names[q + 1] = ck[q].text;
            bad = rowfmt_columns(f, (int)nc + 1, names);
        }
        db_value all[AN_NCOL];
        for (size_t r = 0; !bad && r < nr; r++) {
            vals[0] = (db_value){DB_TEXT, 0, 0, rk[r].text, strlen(rk[r].text)};
            for (size_t q = 0; q < nc; q++) {
                long i = at[r * nc + q];
                vals[q + 1] = (db_value){DB_NULL, 0, 0, NULL, 0};
                if (i < 0) continue;
                an_pair_row(&ps.p[i], all, r6);
                vals[q + 1] = all[col];
                /* For reading, words and brackets say more than one number. */
                char *t = texts + (r * nc + q) * 96;
                if (r6 && pairs_reading_cell(&ps.p[i], col, t, 96))
                    vals[q + 1] = (db_value){DB_TEXT, 0, 0, t, strlen(t)};
            }
            bad = rowfmt_row(f, (int)nc + 1, vals);
        }
        if (f && rowfmt_finish(f)) bad = 1;
        rowfmt_free(f);
        free(names);
        free(vals);
        free(texts);
        if (bad) code = cli_error(XO_FAILED, "writing the table failed");
    }
    free(at);
out:
    free(sel);
    free(rk);
    free(ck);
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
     "numbers: crossover, bracket_lo, bracket_hi, gap_lo, gap_hi, interval).\n\n"
     "  --rows AXIS     default unique_tokens; --cols AXIS default model. An axis is\n"
     "                  model, params, unique_tokens, quality, epochs, or a path in\n"
     "                  the run config such as train.lr or model.dim\n"
     "  --cell COLUMN   a column of 'xover crossover' (default crossover_tokens):\n"
     "                  crossover, ar_best, mdm_best, final_gap, verdict, ar_best_x, ...;\n"
     "                  crossover_epochs / _flops (and ar_best_x_tokens, ...) pick the x axis\n"
     "  --where A=V     only pairs whose axis A has value V (repeatable)\n"
     "  --annealed      the annealed points of trunks' branches (xover crossover --annealed)\n"
     "  --metric, --x, --sweep, --format, --db   as for xover crossover\n"};
