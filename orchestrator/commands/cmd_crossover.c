/*
 * cmd_crossover.c — `xover crossover`: where MDM overtakes AR, per pair, as
 * a table (the columns of the crossover view), or with --fit the power law
 * of the crossover against the unique-token budget, or with --match-compute
 * AR and MDM of any models compared at equal training FLOPs.
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

/* --fit: one line per (model, quality) with crossovers at two or more
 * budgets: crossover = a * U^k in log-log least squares. */
static int print_fit(const an_pairs *ps, rowfmt *f, int r6)
{
    static const char *const cols[] = {"metric", "x_axis", "model", "quality", "points",
                                       "budgets", "a", "k", "r2"};
    if (rowfmt_columns(f, 9, cols)) return -1;
    an_fit_row *fr = malloc((ps->n + 1) * sizeof *fr);
    if (!fr) return -1;
    size_t n = an_fit_pairs(ps, fr);
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        const an_pair *p = fr[i].first;
        const char *x = an_xaxis_name(p->xaxis);
        db_value v[9] = {{DB_TEXT, 0, 0, p->metric, strlen(p->metric)},
                         {DB_TEXT, 0, 0, x, strlen(x)},
                         {DB_TEXT, 0, 0, p->model, strlen(p->model)},
                         {DB_TEXT, 0, 0, p->quality, strlen(p->quality)},
                         {DB_INT, fr[i].fit.n, 0, NULL, 0},
                         {DB_INT, fr[i].budgets, 0, NULL, 0},
                         {DB_REAL, 0, fr[i].fit.a, NULL, 0},
                         {DB_REAL, 0, fr[i].fit.k, NULL, 0},
                         {DB_REAL, 0, fr[i].fit.r2, NULL, 0}};
        if (r6) {
            char b[32];
            for (int m = 6; m < 9; m++) snprintf(b, sizeof b, "%.6g", v[m].d), v[m].d = strtod(b, NULL);
        }
        rc = rowfmt_row(f, 9, v);
    }
    /* An empty table alone would leave the reader guessing why. */
    if (n == 0)
        fprintf(stderr, "xover: no fit: no model and quality has crossovers at two or more unique budgets "
                        "(the fit needs two; `xover crossover` shows which budgets crossed)\n");
    free(fr);
    return rc;
}

/* --match-compute: one row per (AR side, MDM side) of a matched group. */
#define NMATCH 21
static const char *const match_cols[NMATCH] = {
    "metric", "better", "x_axis", "ar_model", "mdm_model", "ar_active_params", "mdm_active_params",
    "unique_tokens", "quality", "ar_epochs", "mdm_epochs", "ar_seeds", "mdm_seeds", "verdict",
    "crossover", "final_gap", "ar_best", "ar_best_x", "mdm_best", "mdm_best_x", "cell"};

static int print_matched(const an_pairs *ps, rowfmt *f, int r6)
{
    int ncol = r6 ? NMATCH - 1 : NMATCH;
    if (rowfmt_columns(f, ncol, match_cols)) return -1;
    for (size_t i = 0; i < ps->n; i++) {
        const an_pair *p = &ps->p[i];
        db_value full[AN_NCOL], v[NMATCH];
        an_pair_row(p, full, r6); /* the shared columns, formatted alike */
        int at = 0;
        v[at++] = full[an_column_index("metric")];
        v[at++] = full[an_column_index("better")];
        v[at++] = full[an_column_index("x_axis")];
        v[at++] = (db_value){DB_TEXT, 0, 0, p->ar_model, strlen(p->ar_model)};
        v[at++] = full[an_column_index("model")];
        v[at++] = p->ar_active_params >= 0 ? (db_value){DB_INT, p->ar_active_params, 0, NULL, 0}
                                           : (db_value){DB_NULL, 0, 0, NULL, 0};
        v[at++] = p->active_params >= 0 ? (db_value){DB_INT, p->active_params, 0, NULL, 0}
                                        : (db_value){DB_NULL, 0, 0, NULL, 0};
        v[at++] = full[an_column_index("unique_tokens")];
        v[at++] = full[an_column_index("quality")];
        v[at++] = isnan(p->ar_epochs) ? (db_value){DB_NULL, 0, 0, NULL, 0}
                                      : (db_value){DB_REAL, 0, p->ar_epochs, NULL, 0};
        v[at++] = full[an_column_index("epochs")];
        v[at++] = full[an_column_index("ar_seeds")];
        v[at++] = full[an_column_index("mdm_seeds")];
        v[at++] = full[an_column_index("verdict")];
        v[at++] = full[an_column_index("crossover")];
        v[at++] = full[an_column_index("final_gap")];
        v[at++] = full[an_column_index("ar_best")];
        v[at++] = full[an_column_index("ar_best_x")];
        v[at++] = full[an_column_index("mdm_best")];
        v[at++] = full[an_column_index("mdm_best_x")];
        v[at++] = full[an_column_index("cell")];
        if (rowfmt_row(f, ncol, v)) return -1;
    }
    return 0;
}

int cmd_crossover(int argc, char **argv)
{
    static const struct option opts[] = {PAIRS_QUERY_OPTIONS,
                                         {"format", required_argument, 0, 'f'},
                                         {"fit", no_argument, 0, 'F'},
                                         {"match-compute", no_argument, 0, 'M'},
                                         {0, 0, 0, 0}};
    pairs_query q = PAIRS_QUERY_INIT;
    const char *fmt = "md";
    int fit = 0, match = 0, c;
    while ((c = cli_getopt("crossover", argc, argv, "f:", opts)) != -1) {
        if (pairs_query_option(&q, c, optarg)) continue;
        switch (c) {
        case 'f': fmt = optarg; break;
        case 'F': fit = 1; break;
        case 'M': match = 1; break;
        default: return XO_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("crossover", "unexpected argument '%s'", argv[optind]);
    int kind = rowfmt_parse(fmt, FORMATS);
    if (kind < 0) return rowfmt_bad_format("crossover", fmt, FORMATS);
    if (match && q.x && strcmp(q.x, "flops") != 0)
        return cli_usage_error("crossover", "--match-compute compares at equal FLOPs: --x must be flops, not '%s'",
                               q.x);
    if (match && fit)
        return cli_usage_error("crossover", "--match-compute and --fit do not go together");
    const char *xname = q.x ? q.x : match ? "flops" : "tokens";
    int x = an_xaxis_parse(xname);
    if (x < 0)
        return cli_usage_error("crossover", "--x must be tokens, epochs or flops, not '%s'", xname);

    an_pairs ps;
    int code = pairs_query_load(&q, (an_xaxis)x, match, &ps);
    if (code) return code;
    if (ps.n == 0)
        cli_warn("no AR/MDM pair has metric '%s' against %s%s%s", q.metric, xname,
                 q.sweep ? " in sweep " : "", q.sweep ? q.sweep : "");

    int r6 = kind == ROWFMT_MD || kind == ROWFMT_TABLE;
    rowfmt *f = rowfmt_new((rowfmt_kind)kind, stdout);
    int bad = !f;
    if (!bad && fit) {
        bad = print_fit(&ps, f, r6);
    } else if (!bad && match) {
        bad = print_matched(&ps, f, r6);
    } else if (!bad) {
        /* The cell's JSON is for SQL and the machine formats; in a table
         * for reading it drowns the rest. */
        int ncol = r6 ? AN_NCOL - 1 : AN_NCOL;
        bad = rowfmt_columns(f, ncol, an_columns);
        db_value v[AN_NCOL];
        for (size_t i = 0; !bad && i < ps.n; i++) {
            an_pair_row(&ps.p[i], v, r6);
            bad = rowfmt_row(f, ncol, v);
        }
    }
    if (f && rowfmt_finish(f)) bad = 1;
    rowfmt_free(f);
    an_pairs_free(&ps);
    return bad ? cli_error(XO_FAILED, "writing the table failed") : XO_OK;
}

const cli_command cmd_crossover_def = {"crossover", cmd_crossover, "where MDM overtakes AR: the crossover of every AR/MDM pair",
     "usage: xover crossover [--sweep S] [--metric M] [--x tokens|epochs|flops]\n"
     "                       [--format md|csv|json|table] [--fit] [--match-compute]\n"
     "                       [--db PATH]\n\n"
     "Pair each AR run with the MDM runs whose configs agree on everything but the\n"
     "objective, the seed and train.early_stop_margin; average each side over its\n"
     "seeds (mean and sd at every x all seeds measured); compare the best-so-far\n"
     "curves, linearly interpolated, over the x range both measured. A side whose\n"
     "every seed stopped early holds its best-so-far from its last point to where\n"
     "its runs would have ended. The crossover is the smallest x from which MDM\n"
     "is better to the end of that range (verdict crossover), x_start when MDM leads\n"
     "throughout (mdm_ahead), or none within the budget (none). Also: each side's\n"
     "best value and the earliest x reaching it (for AR, the onset of overfitting),\n"
     "and final_gap, MDM's advantage at the end (positive = MDM ahead). The same\n"
     "numbers as the SQL view: sqlite3 xover.db \"SELECT * FROM crossover\"; the\n"
     "definition in full is the comment on that view in schema.sql.\n\n"
     "  --sweep S      only the runs of sweep S (default: every run)\n"
     "  --metric M     the metric (default val_loss); lower-better if its name ends in\n"
     "                 loss, nll, elbo or ppl, higher-better otherwise (mc_acc): the\n"
     "                 rule is the metric_rule view\n"
     "  --x AXIS       tokens seen (default), epochs, or training flops (counted on\n"
     "                 active parameters: a mixture of experts' top_k experts)\n"
     "  --match-compute  compare at equal training FLOPs across models: pair every AR\n"
     "                 side with every MDM side whose configs agree on everything but\n"
     "                 objective, seed, train.early_stop_margin, model and\n"
     "                 train.epochs (x is flops); columns\n"
     "                 name each side's model and active parameters\n"
     "  -f, --format F md (default), table, csv or json (csv/json add the cell's config)\n"
     "  --fit          instead, fit crossover = a * U^k over the unique budgets U (least\n"
     "                 squares in log-log, with R^2), per model and quality; with --x\n"
     "                 flops this is the critical compute C_crit of Prabhudesai et al.\n"
     "  --db PATH      the database (default: $XOVER_DB, else ./xover.db)\n"};
