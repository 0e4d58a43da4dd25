/*
 * commands.h — what the commands share (git's builtin.h): each command's
 * entry in the command table, and pairs_query.
 *
 * pairs_query (commands/pairs_query.c): what `xover crossover`, `xover table`
 * and `xover plot` share: the options that choose the AR/MDM pairs (--db, --sweep, --metric,
 * --x) and reading those pairs from the results database.
 *
 *     pairs_query q = PAIRS_QUERY_INIT;
 *     static const struct option opts[] = {PAIRS_QUERY_OPTIONS, {"rows", ...}, {0, 0, 0, 0}};
 *     while ((c = cli_getopt(...)) != -1) {
 *         if (pairs_query_option(&q, c, optarg)) continue;
 *         switch (c) { ... }
 *     }
 *     an_pairs ps;
 *     int code = pairs_query_load(&q, x, 0, &ps);
 *     if (code) return code;
 */
#ifndef XOVER_COMMANDS_H
#define XOVER_COMMANDS_H

#include "orchestrator/analysis/analysis.h"
#include "orchestrator/cli/cli.h"

/* One entry per command, defined in commands/cmd_NAME.c. */
extern const cli_command cmd_help_def;
extern const cli_command cmd_version_def;
extern const cli_command cmd_db_def;
extern const cli_command cmd_sql_def;
extern const cli_command cmd_export_def;
extern const cli_command cmd_export_model_def;
extern const cli_command cmd_data_def;
extern const cli_command cmd_plan_def;
extern const cli_command cmd_train_def;
extern const cli_command cmd_sample_def;
extern const cli_command cmd_eval_def;
extern const cli_command cmd_run_def;
extern const cli_command cmd_status_def;
extern const cli_command cmd_ls_def;
extern const cli_command cmd_show_def;
extern const cli_command cmd_collect_def;
extern const cli_command cmd_cancel_def;
extern const cli_command cmd_worker_def;
extern const cli_command cmd_rm_def;
extern const cli_command cmd_crossover_def;
extern const cli_command cmd_table_def;
extern const cli_command cmd_plot_def;
extern const cli_command cmd_report_def;

typedef struct {
    const char *db;     /* --db, NULL: cli_db_path's default */
    const char *sweep;  /* --sweep, NULL: every sweep */
    const char *metric; /* --metric */
    const char *x;      /* --x as given, NULL when not; each command parses it */
    int annealed;       /* --annealed: the annealed points of trunks' branches */
} pairs_query;

#define PAIRS_QUERY_INIT {NULL, NULL, "val_loss", NULL, 0}

/* The long options pairs_query_option takes, for a command's option table. */
#define PAIRS_QUERY_OPTIONS                                                  \
    {"db", required_argument, 0, 'd'}, {"sweep", required_argument, 0, 's'}, \
        {"metric", required_argument, 0, 'm'}, {"x", required_argument, 0, 'x'},       \
        {"annealed", no_argument, 0, 'A'}

/* Take option c (from cli_getopt) with its argument into q: 1 when it is one
 * of PAIRS_QUERY_OPTIONS, 0 when it is the command's own. */
int pairs_query_option(pairs_query *q, int c, const char *arg);

/* Read q's pairs against x (matched: compute-matched pairs, against FLOPs;
 * q->annealed: annealed pairs, an_pairs_load_annealed) into out. XO_OK, or an exit code with the message printed (out is then
 * empty): XO_USAGE for a database that cannot be opened or a sweep it does
 * not know, XO_FAILED when reading fails. */
int pairs_query_load(const pairs_query *q, an_xaxis x, int matched, an_pairs *out);

/* XO_OK when `metric` is a metric by schema.sql's metric_rule; else the
 * usage error printed (a training signal, or a NAME_se standard error) and
 * XO_USAGE. pairs_query_load checks it; a command that takes metrics of its
 * own (report's --metric) calls it on each. */
int pairs_query_check_metric(const char *metric);

/* THE way crossover, table, plot and report say there is nothing to show
 * (no AR/MDM pair for the metric, the x axis, the sweep, the --where): this
 * note on stderr, naming what was asked; the command still exits 0 and
 * writes what an empty result is in its output (a table's header, csv's
 * header line, json's [], no plot files, a report page that says so).
 * extra qualifies the pairs (" that pass --where"), or NULL. */
void pairs_query_say_empty(const char *cmd, const pairs_query *q, const char *xname, const char *extra);

/* An axis as --rows, --cols (table, plot, report) and table's --where name
 * it (commands/axis_names.c, the one resolution of these names): a typed
 * axis (model, params, active_params, unique_tokens, quality, epochs,
 * metric) or a config field as a sweep file names it (lr, train.lr, corpus,
 * dim: sweep.h's sweep_field_path), into out as an_pair_axis reads it
 * ("train.lr", "data.corpus"; model.name reads as "model"). A dotted path
 * the sweep language does not know (an external trainer's field) is taken
 * when a pair of ps has it, or as given when ps is NULL (the pairs are not
 * read yet). Otherwise XO_USAGE with the error printed for command cmd,
 * naming option opt, the name, what is accepted and the closest name. */
int axis_resolve(const char *cmd, const an_pairs *ps, const char *opt, const char *name, char *out, size_t n);

/* Pairs for a person to read (commands/pairs_reading.c). */
struct rowfmt;
/* The default table of `xover crossover` into f (md or table): human units
 * (12.2M tokens, 304 epochs), the columns that tell these pairs apart
 * (model, unique tokens, and quality, epochs and any config field that
 * differs between pairs of one model and quality, by its short name: lr,
 * corpus; analysis.h's an_varied), and only result columns that carry
 * information (seeds, the bracket, the interval when some pair has one).
 * No pair: the header alone. Returns 0, or -1 when out of memory or writing fails. */
int pairs_print_reading(const an_pairs *ps, struct rowfmt *f);
/* For reading: the crossover column (col) as the two evaluations it falls
 * between or the verdict in words, the final_gap column with its interval.
 * 1 with the text in buf, 0 for any other column (then use the number). */
int pairs_reading_cell(const an_pair *p, int col, char *buf, size_t n);
/* The footnote under a reading table of annealed pairs whose best lies at
 * the edge of its grid (an_result.ar_best_at_edge, mdm_best_at_edge): which
 * pairs, what it means and what to do, on stderr. Nothing when none is. */
void pairs_edge_note(const an_pairs *ps);

/* ---- eval_cloze.c: a checkpoint scored again on more cloze items ---- */

typedef struct {
    long long items;       /* N items */
    long long pool_tokens; /* the pool (0: the run's own data.cloze.pool_tokens) */
    long long draws;       /* the MDM's mask draws (0: the run's train.eval_draws) */
    const char *cache;     /* tokenizer and token caches (NULL: the default) */
    int skip_done;         /* leave a run already scored on these items alone */
    int verbose;           /* say why the pool is held out */
} eval_cloze_opts;
enum { EVAL_CLOZE_SKIPPED = 100 };
/* Score run run_id (its directory run_dir, its final checkpoint) on o's
 * items and record it (db_rescored_put); a line on stdout. XO_OK,
 * EVAL_CLOZE_SKIPPED (skip_done and already scored), XO_USAGE (a pool not
 * proven held out: refused; no pool; a bad run directory) or XO_FAILED,
 * with err. */
int eval_cloze_run(db *d, long long run_id, const char *run_dir, const eval_cloze_opts *o, char *err, size_t errlen);

#endif
