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

static db_value t_(const char *s)
{
    db_value v = {DB_NULL, 0, 0, NULL, 0};
    if (s) v.type = DB_TEXT, v.s = s, v.len = strlen(s);
    return v;
}

static db_value r_(double d, int r6)
{
    db_value v = {DB_NULL, 0, 0, NULL, 0};
    if (isnan(d)) return v;
    if (r6 && isfinite(d)) {
        char b[32];
        snprintf(b, sizeof b, "%.6g", d);
        d = strtod(b, NULL);
    }
    v.type = DB_REAL, v.d = d;
    return v;
}

static db_value i_(long long i)
{
    db_value v = {DB_INT, i, 0, NULL, 0};
    return v;
}

/* --fit: one line per (metric, model, quality): crossover = a * U^k over
 * the budgets that crossed, with R^2 and the interval of k; a group that
 * cannot be fitted says why in `note`. */
#define NFIT 14
static int print_fit(const an_pairs *ps, rowfmt *f, int r6)
{
    static const char *const cols[NFIT] = {"metric", "x_axis", "model", "quality", "points", "budgets",
                                           "a", "k", "r2", "budgets_total", "k_lo", "k_hi",
                                           "interval", "note"};
    static const char *const ivs[] = {NULL, "bootstrap", "fit"};
    if (rowfmt_columns(f, NFIT, cols)) return -1;
    an_fit_row *fr = malloc((ps->n + 1) * sizeof *fr);
    if (!fr) return -1;
    size_t n = an_fit_pairs(ps, fr);
    int rc = 0, fitted = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        const an_pair *p = fr[i].first;
        const an_fit_row *r = &fr[i];
        fitted += r->fit.n >= 2;
        db_value v[NFIT] = {t_(p->metric), t_(an_xaxis_name(p->xaxis)), t_(p->model), t_(p->quality),
                            i_(r->fit.n), i_(r->budgets), r_(r->fit.a, r6), r_(r->fit.k, r6),
                            r_(r->fit.r2, r6), i_(r->budgets_total), r_(r->k_lo, r6), r_(r->k_hi, r6),
                            t_(ivs[r->interval]), t_(r->why[0] ? r->why : NULL)};
        rc = rowfmt_row(f, NFIT, v);
    }
    /* An empty table alone would leave the reader guessing why. */
    if (fitted == 0)
        fprintf(stderr, "xover: no fit: no model and quality has crossovers at two or more unique budgets "
                        "(the fit needs two; `xover crossover` shows which budgets crossed)\n");
    free(fr);
    return rc;
}

/* --efficiency: per pair and direction, the other objective's equivalent
 * budget and the ratio (analysis.h, an_efficiency). */
#define NEFF 16
static int print_efficiency(const an_pairs *ps, rowfmt *f, int r6)
{
    /* the columns of the crossover_efficiency view, in its order */
    static const char *const cols[NEFF] = {"metric", "x_axis", "mode", "model", "quality", "direction",
                                           "unique_tokens", "value", "equivalent_tokens", "ratio",
                                           "ratio_lo", "ratio_hi", "seeds", "status", "epochs", "cell"};
    int ncol = r6 ? NEFF - 1 : NEFF;
    if (rowfmt_columns(f, ncol, cols)) return -1;
    an_eff_row *er = malloc((2 * ps->n + 1) * sizeof *er);
    if (!er) return -1;
    size_t n = an_efficiency(ps, er);
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        const an_eff_row *r = &er[i];
        const an_pair *p = r->pair;
        int ar_eq = r->direction == AN_AR_EQUIVALENT;
        db_value v[NEFF] = {t_(p->metric), t_(an_xaxis_name(p->xaxis)), t_(p->annealed ? "annealed" : "training"),
                            t_(p->model), t_(p->quality),
                            t_(ar_eq ? "ar_equivalent" : "mdm_equivalent"), i_((long long)r->u),
                            r_(ar_eq ? p->res.mdm_best : p->res.ar_best, r6), r_(r->u_eq, r6),
                            r_(r->ratio, r6), r_(r->ratio_lo, r6), r_(r->ratio_hi, r6), i_(r->seeds),
                            t_(r->status == AN_EFF_OK ? "ok" : "beyond the grid"), r_(p->epochs, r6),
                            t_(p->cell)};
        rc = rowfmt_row(f, ncol, v);
    }
    if (n == 0)
        fprintf(stderr, "xover: no efficiency: no AR/MDM pairs at two or more unique budgets that agree on "
                        "everything else (a budget sweep; epochs, warmup_epochs and log_every aside)\n");
    free(er);
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

/* csv and json: every column of the crossover view, and the cell; then,
 * when some pair has mc_acc at its best points (analysis.h, an_acc), the
 * mc_acc columns as plain numbers. */
#define NACC 11
static int print_view_rows(const an_pairs *ps, rowfmt *f)
{
    static const char *const acc_cols[NACC] = {
        "ar_mc_acc", "mdm_mc_acc", "mc_acc_gap", "mc_acc_gap_lo", "mc_acc_gap_hi", "mc_acc_gap_se",
        "mc_acc_paired", "ar_mc_acc_items", "mdm_mc_acc_items", "mc_acc_rescored", "mc_acc_seeds"};
    const char *cols[AN_NCOL + NACC];
    int acc = 0;
    for (size_t i = 0; i < ps->n; i++) acc |= ps->p[i].acc.have;
    int ncol = AN_NCOL + (acc ? NACC : 0);
    for (int i = 0; i < ncol; i++) cols[i] = i < AN_NCOL ? an_columns[i] : acc_cols[i - AN_NCOL];
    if (rowfmt_columns(f, ncol, cols)) return -1;
    db_value v[AN_NCOL + NACC];
    for (size_t i = 0; i < ps->n; i++) {
        const an_pair *p = &ps->p[i];
        const an_acc *a = &p->acc;
        an_pair_row(p, v, 0);
        db_value *w = v + AN_NCOL;
        if (acc && !a->have) {
            for (int k = 0; k < NACC; k++) w[k] = t_(NULL);
        } else if (acc) {
            db_value x[NACC] = {r_(a->ar, 0), r_(a->mdm, 0), r_(a->gap, 0), r_(a->lo, 0), r_(a->hi, 0),
                                r_(a->se, 0), i_(a->paired), a->ar_items > 0 ? i_(a->ar_items) : t_(NULL),
                                a->mdm_items > 0 ? i_(a->mdm_items) : t_(NULL),
                                i_(a->rescored), i_(a->ar_seeds < a->mdm_seeds ? a->ar_seeds : a->mdm_seeds)};
            memcpy(w, x, sizeof x);
        }
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
                                         {"efficiency", no_argument, 0, 'E'},
                                         {0, 0, 0, 0}};
    pairs_query q = PAIRS_QUERY_INIT;
    const char *fmt = "md";
    int fit = 0, match = 0, eff = 0, c;
    while ((c = cli_getopt("crossover", argc, argv, "f:", opts)) != -1) {
        if (pairs_query_option(&q, c, optarg)) continue;
        switch (c) {
        case 'f': fmt = optarg; break;
        case 'F': fit = 1; break;
        case 'M': match = 1; break;
        case 'E': eff = 1; break;
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
    if (match && (fit || eff || q.annealed))
        return cli_usage_error("crossover", "--match-compute goes with none of --fit, --efficiency, --annealed");
    if (fit && eff) return cli_usage_error("crossover", "--fit and --efficiency do not go together");
    const char *xname = q.x ? q.x : match ? "flops" : "tokens";
    int x = an_xaxis_parse(xname);
    if (x < 0)
        return cli_usage_error("crossover", "--x must be tokens, epochs or flops, not '%s'", xname);

    an_pairs ps;
    int code = pairs_query_load(&q, (an_xaxis)x, match, &ps);
    if (code) return code;
    if (ps.n == 0) pairs_query_say_empty("crossover", &q, xname, match ? " (models matched by FLOPs)" : NULL);

    int r6 = kind == ROWFMT_MD || kind == ROWFMT_TABLE;
    rowfmt *f = rowfmt_new((rowfmt_kind)kind, stdout);
    int bad = !f;
    if (!bad && fit) {
        bad = print_fit(&ps, f, r6);
    } else if (!bad && eff) {
        bad = print_efficiency(&ps, f, r6);
    } else if (!bad && match) {
        bad = print_matched(&ps, f, r6);
    } else if (!bad && r6) {
        bad = pairs_print_reading(&ps, f); /* for reading: human units, telling columns */
        if (!bad) pairs_edge_note(&ps);
    } else if (!bad) {
        bad = print_view_rows(&ps, f);
    }
    if (f && rowfmt_finish(f)) bad = 1;
    rowfmt_free(f);
    an_pairs_free(&ps);
    return bad ? cli_error(XO_FAILED, "writing the table failed") : XO_OK;
}

const cli_command cmd_crossover_def = {"crossover", cmd_crossover, "where MDM overtakes AR: the crossover of every AR/MDM pair",
     "usage: xover crossover [--sweep S] [--metric M] [--x tokens|epochs|flops] [--annealed]\n"
     "                       [--format md|csv|json|table] [--fit | --efficiency | --match-compute]\n"
     "                       [--db PATH]\n\n"
     "Pair each AR run with the MDM runs whose configs agree on everything but the\n"
     "objective, the seed and train.early_stop_margin; average each side over its\n"
     "seeds (mean and sd at every x all seeds measured); compare the best-so-far\n"
     "curves, linearly interpolated, over the x range both measured. A side whose\n"
     "every seed stopped early holds its best-so-far from its last point to where\n"
     "its runs would have ended. The crossover is the smallest x from which MDM\n"
     "is better to the end of that range; bracket_lo and bracket_hi are the two\n"
     "evaluations it falls between (the crossover x between them is interpolated).\n"
     "final_gap is MDM's advantage at the end (positive = MDM ahead), with its 95%\n"
     "interval gap_lo..gap_hi: over the paired seeds (interval 'seeds': a t interval\n"
     "of each seed's own final gap, AR and MDM of one seed sharing data order and\n"
     "validation masks), or with one seed from the evaluation error alone ('eval':\n"
     "final_gap +- 1.96 x the standard error the trainer records as val_loss_se).\n"
     "The verdict:\n"
     "  crossover     the interval is on MDM's side and MDM passed AR within the range\n"
     "  mdm_ahead     the same, MDM ahead from the start\n"
     "  none          the interval is on AR's side\n"
     "  inconclusive  the interval contains 0\n"
     "  unfinished    a run of the pair is still pending, running or interrupted\n"
     "  no_overlap    the two curves share no x\n"
     "Without any standard error (runs recorded before it), the point estimate\n"
     "decides, as before. seed_cross_min..max range over the seeds' own crossovers.\n"
     "The same numbers as the SQL view: sqlite3 xover.db \"SELECT * FROM crossover\"; the\n"
     "definition in full is the comment on that view in schema.sql.\n\n"
     "md and table are for reading: a row per pair, named by its model, unique tokens\n"
     "and whatever else differs between the pairs shown (quality, epochs, swept\n"
     "fields such as lr or corpus); the verdict; the crossover and the two\n"
     "evaluations it falls between in human units (12.2M tokens, 304 epochs); each\n"
     "side's best and where it came; the final gap and its interval. Seed columns\n"
     "and the interval appear only when some pair has them. csv and json keep every\n"
     "column of the crossover view as numbers, and the cell's config.\n"
     "mc_acc beside the loss (not with --metric mc_acc): each side's cloze accuracy\n"
     "at the points the AR best and MDM best columns name, and the gap MDM - AR with\n"
     "its 95% interval, PAIRED over the items when both sides were scored on the\n"
     "same ones (same item set, same count: \"paired, 4000 items\"), else from the\n"
     "two standard errors (\"unpaired\"); annealed points re-scored on more items\n"
     "(`xover eval --cloze`) are preferred (\"re-scored\"). With seeds, a side's\n"
     "outcome on an item is its seeds' mean. csv/json add ar_mc_acc, mdm_mc_acc,\n"
     "mc_acc_gap, mc_acc_gap_lo, mc_acc_gap_hi, mc_acc_gap_se, mc_acc_paired,\n"
     "ar_mc_acc_items, mdm_mc_acc_items, mc_acc_rescored, mc_acc_seeds when some\n"
     "pair has mc_acc.\n"
     "No pair to show (another --metric, --sweep or --x, no runs yet): a note on\n"
     "stderr and exit 0, with an empty result (md/table/csv: the header; json: []);\n"
     "table, plot and report do the same.\n\n"
     "  --sweep S      only the runs of sweep S (default: every run)\n"
     "  --metric M     the metric (default val_loss); lower-better if its name ends in\n"
     "                 loss, nll, elbo or ppl, higher-better otherwise (mc_acc): the\n"
     "                 rule is the metric_rule view\n"
     "  --x AXIS       tokens seen (default), epochs, or training flops (counted on\n"
     "                 active parameters: a mixture of experts' top_k experts)\n"
     "  --annealed     compare annealed points (train.anneal_at): x is each branch's\n"
     "                 budget, y its final value; the crossover is the smallest budget\n"
     "                 from which the MDM's annealed value beats AR's best annealed\n"
     "                 value at budgets <= it, to the largest budget both have.\n"
     "                 ar_best_at_edge 1: AR's best is its smallest budget (its minimum\n"
     "                 may lie below the grid: anneal from a smaller one, e.g.\n"
     "                 anneal_at: 2 per doubling from 2.5); mdm_best_at_edge 1: the\n"
     "                 MDM's best is its largest budget (still improving)\n"
     "  --match-compute  compare at equal training FLOPs across models: pair every AR\n"
     "                 side with every MDM side whose configs agree on everything but\n"
     "                 objective, seed, train.early_stop_margin, model and\n"
     "                 train.epochs (x is flops); columns\n"
     "                 name each side's model and active parameters\n"
     "  -f, --format F md (default) or table for reading, csv or json for machines\n"
     "  --fit          instead, fit crossover = a * U^k over the unique budgets U (least\n"
     "                 squares in log-log, with R^2 and k's 95% interval: a bootstrap\n"
     "                 over seeds, or the fit's standard error with one seed), per model\n"
     "                 and quality; with --x flops this is the critical compute C_crit\n"
     "                 of Prabhudesai et al. A group that cannot be fitted says why.\n"
     "  --efficiency   instead, the data-efficiency multiplier over a budget sweep: for\n"
     "                 each MDM pair at U the budget U_AR at which AR's best equals the\n"
     "                 MDM's (linear in ln U between measured budgets), ratio U_AR / U\n"
     "                 (ar_equivalent); and for each AR pair the MDM's equivalent,\n"
     "                 ratio U / U_MDM (mdm_equivalent). A ratio > 1: the MDM needs\n"
     "                 less data. Never extrapolated: 'beyond the grid'. The interval is\n"
     "                 over paired seeds (t interval of ln ratio). A budget sweep: pairs\n"
     "                 whose cells differ only in U, epochs, warmup_epochs, log_every.\n"
     "  --db PATH      the database (default: $XOVER_DB, else ./xover.db)\n"};
