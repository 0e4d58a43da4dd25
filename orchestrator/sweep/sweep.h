/*
 * sweep.h — the sweep language: a YAML file that describes many runs, and
 * its expansion into a plan of resolved run configs (docs/sweep.md is the
 * user's page; docs/run-config.md the config each run gets).
 *
 *   sweep *s = sweep_load("experiments/smoke.yaml", err, sizeof err);
 *   sweep_plan *p = sweep_expand(s, 0, err, sizeof err);
 *   for (size_t i = 0; i < sweep_plan_count(p); i++) { sweep_plan_key(p, i, hex); ... }
 *
 * Every error message of sweep_load names "file:line:column: what was
 * expected" (with a "did you mean" where a known name is close). Expansion
 * errors (a derived value out of range, ...) name the YAML position too.
 * A plan holds a few dozen bytes per run, not a JSON tree: a run's config
 * is built when asked for, so a million-run grid plans in about a second.
 */
#ifndef XOVER_SWEEP_H
#define XOVER_SWEEP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sweep sweep;
typedef struct sweep_plan sweep_plan;

/* ---- the sweep -------------------------------------------------------- */

sweep *sweep_load(const char *path, char *err, size_t errlen);
/* Parse YAML text; `label` names it in messages (a path, or "<stdin>"). */
sweep *sweep_parse(const char *label, const char *text, size_t len, char *err, size_t errlen);
void sweep_free(sweep *s);

const char *sweep_name(const sweep *s);
const char *sweep_description(const sweep *s); /* "" when none */
const char *sweep_path(const sweep *s);

/* Axes: grid, zip and seed axes, in the order the plan varies them. */
size_t sweep_naxes(const sweep *s);
const char *sweep_axis_name(const sweep *s, size_t a);
size_t sweep_axis_nvalues(const sweep *s, size_t a);
size_t sweep_nderived(const sweep *s);
const char *sweep_derived_name(const sweep *s, size_t d);

/* The trainer runs are given to. */
enum { SWEEP_METRICS_JSONL = 1, SWEEP_METRICS_REGEX = 2 };
typedef struct {
    int external;              /* 0: the built-in trainer (`xover train`) */
    int argc;
    const char *const *argv;   /* argument templates with {placeholders} */
    int metrics;               /* SWEEP_METRICS_* */
    const char *regex;         /* SWEEP_METRICS_REGEX: PCRE2 with named groups */
    const char *metrics_file;  /* template of a file the trainer writes; NULL = its stdout */
} sweep_trainer_info;
sweep_trainer_info sweep_trainer(const sweep *s);

/* A config field named as the sweep language names it — an axis name
 * ("lr", "unique_tokens", "corpus", "model", "quality") or a dotted path
 * ("train.lr") — resolved to the dotted path of the run config it lands on
 * ("train.lr", "data.unique_tokens", "data.corpus", "model.name",
 * "data.quality") into path. Returns 0, or -1 when it names no config
 * field; then hint (when not NULL) holds the closest name the language
 * knows, or "". For commands that take fields by name (xover table
 * --where), so they accept what a sweep file accepts. */
int sweep_field_path(const char *name, char *path, size_t n, char *hint, size_t hn);

/* ---- resources (the Slurm backend's requests; docs/sweep.md) ------------ */

/* What run i's task asks Slurm for, from the sweep's resources: section
 * (its model size's entry, else the section's own): time in seconds (0:
 * none given), mem as written ("4G"; NULL: none), cpus (0: none). No
 * effect on run keys nor on the local backend. */
typedef struct {
    double time;
    const char *mem;  /* points into the sweep */
    int cpus;
} sweep_resources;
int sweep_has_resources(const sweep *s);

/* ---- the plan --------------------------------------------------------- */

enum {
    /* Build and hash each run's JSON config one by one instead of the fast
     * template (the tests compare the two). */
    SWEEP_SLOW_KEYS = 1,
};

sweep_plan *sweep_expand(const sweep *s, int flags, char *err, size_t errlen);
void sweep_plan_free(sweep_plan *p);

size_t sweep_plan_count(const sweep_plan *p);     /* runs, distinct keys */
size_t sweep_plan_grid(const sweep_plan *p);      /* grid combinations before exclude */
size_t sweep_plan_excluded(const sweep_plan *p);  /* dropped by exclude */
size_t sweep_plan_included(const sweep_plan *p);  /* added by include */
size_t sweep_plan_merged(const sweep_plan *p);    /* identical to an earlier run */
const sweep *sweep_plan_sweep(const sweep_plan *p);

/* The run key: lowercase hex SHA-256 (65 bytes with the NUL). */
void sweep_plan_key(const sweep_plan *p, size_t i, char hex[65]);
/* Run i's value of axis a as written in the YAML ("25k"), and of derived d. */
const char *sweep_plan_axis_text(const sweep_plan *p, size_t i, size_t a);
double sweep_plan_derived(const sweep_plan *p, size_t i, size_t d);
/* A numeric config field of run i by dotted path ("train.epochs",
 * "data.unique_tokens", "model.dim") without building the config. Returns 0
 * and sets *out, or -1 when the field is not a number. */
int sweep_plan_number(const sweep_plan *p, size_t i, const char *path, double *out);

/* Runs that differ only in what does not reach their data (the data
 * section, the quality tier, train.seq_len) share their corpus, tokens and
 * budget: one run index per distinct combination, in plan order, in a
 * malloc'd array of *n; NULL when out of memory. Only runs i with only[i]
 * count when only is not NULL. For checking each corpus once, not once
 * per run. */
size_t *sweep_plan_data_groups(const sweep_plan *p, const unsigned char *only, size_t *n);

/* Run i's resolved config (docs/run-config.md): what config.json holds.
 * NULL with a message on error. Caller decrefs. */
json_t *sweep_plan_config(const sweep_plan *p, size_t i, char *err, size_t errlen);
/* What the key is the SHA-256 of (canonical form): the resolved config for
 * the built-in trainer; {"config": ..., "params": {...}, "trainer": {...}}
 * for an external one, so its command and free parameters count too. */
json_t *sweep_plan_document(const sweep_plan *p, size_t i, char *err, size_t errlen);

/* Annealed branches (train.anneal_at; docs/sweep.md): each run of the grid
 * becomes a TRUNK followed by one BRANCH per point, all runs of the plan. */
enum { SWEEP_RUN = 0, SWEEP_TRUNK = 1, SWEEP_BRANCH = 2 };
int sweep_plan_role(const sweep_plan *p, size_t i);
/* A branch's trunk (its index in the plan); i itself otherwise. */
size_t sweep_plan_parent(const sweep_plan *p, size_t i);
/* The epochs run i trains, from *from to *to: a trunk from 0 to the fork of
 * its largest point, a branch from its fork to its budget (train.epochs),
 * an ordinary run from 0 to its epochs. Approximate: steps are whole. */
void sweep_plan_span(const sweep_plan *p, size_t i, double *from, double *to);
/* Run i's resources (above). */
void sweep_plan_resources(const sweep_plan *p, size_t i, sweep_resources *r);

/* External trainer: argv for run i, each argument's {placeholders}
 * substituted (an axis, a derived parameter, a config field by name or
 * dotted path, {run_dir}, {key}, {config}; "{{" is a literal "{"). A value
 * never splits into more arguments. NULL-terminated, malloc'd; free with
 * sweep_argv_free. Also substitutes the metrics_file template into
 * *metrics_file (malloc'd; NULL when the trainer reports on stdout). */
char **sweep_plan_argv(const sweep_plan *p, size_t i, const char *run_dir, const char *key,
                       char **metrics_file, char *err, size_t errlen);
void sweep_argv_free(char **argv);

#endif
