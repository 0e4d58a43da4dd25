/*
 * internal.h — private to orchestrator/sweep/: the parsed sweep and its
 * plan, shared by parse.c, expr.c, expand.c and keys.c. Nothing outside the
 * module includes this file; sweep.h is the contract.
 */
#ifndef XOVER_SWEEP_INTERNAL_H
#define XOVER_SWEEP_INTERNAL_H

#include "orchestrator/sweep/sweep.h"

#include <jansson.h>
#include <sha2.h>
#include <stddef.h>
#include <stdint.h>

/* ---- numbers and values ------------------------------------------------ */

/* Parse "25k", "1.5M", "2B", "1e-3", "1_000" into *out. 0 on success. */
int sw_parse_number(const char *s, double *out);

/* One value of an axis, as written in the YAML. */
typedef struct {
    int is_num;
    double num;
    char *text; /* as spelled, for tables and messages */
    int line, col;
    int ref;    /* T_MODEL: index in models; T_QUALITY: index in tiers */
} sw_value;

/* ---- derive expressions (expr.c) -------------------------------------- */

typedef struct sw_expr sw_expr;
/* How deeply parentheses and signs may nest in one expression. */
#define SW_EXPR_MAX_DEPTH 256
/* Parse an arithmetic expression (+ - * / parentheses, unary minus, numbers
 * with suffixes, names). On error returns NULL with a message and the byte
 * offset of the offending token in *errpos. */
sw_expr *sw_expr_parse(const char *text, char *err, size_t errlen, int *errpos);
void sw_expr_free(sw_expr *e);
size_t sw_expr_nnames(const sw_expr *e);
const char *sw_expr_name(const sw_expr *e, size_t i);
int sw_expr_name_pos(const sw_expr *e, size_t i); /* byte offset in the text */
/* Evaluate with vals[i] the value of name i. Division by zero gives a
 * non-finite result, which the caller reports. */
double sw_expr_eval(const sw_expr *e, const double *vals);

/* ---- the parsed sweep ------------------------------------------------- */

/* Where an axis (or derived parameter) lands in the run config. */
typedef enum {
    T_FREE,    /* not a config field: feeds derive expressions / placeholders */
    T_FIELD,   /* a plain field, at `path` (e.g. "train.lr") */
    T_MODEL,   /* names a size of `models:` -> the whole config.model */
    T_QUALITY, /* names a tier of data.quality -> data.quality + quality_spec */
} sw_target;

typedef struct {
    char *name;
    sw_target tgt;
    char *path;    /* T_FIELD: dotted path in the config */
    int ftype;     /* T_FIELD: JSON_INTEGER, JSON_REAL or JSON_STRING */
    sw_value *vals;
    size_t nvals;  /* all values, grid ones first, then include-only ones */
    size_t ngrid;  /* values crossed by the grid */
    int dim;       /* the dimension (grid axis or zip group) it belongs to */
    int line, col;
    int used;      /* T_FREE: consumed by a derive or a placeholder */
    int param;     /* T_FREE with an external trainer: part of the run's key */
    json_t **json; /* per value: the JSON set into the config (T_FIELD) */
} sw_axis;

typedef enum { SRC_AXIS, SRC_DERIVE, SRC_MODEL_FIELD, SRC_CONST } sw_src_kind;

typedef struct {
    char *name;
    sw_target tgt;  /* T_FIELD or T_FREE */
    char *path;
    int ftype;
    sw_expr *expr;
    char *text;
    int line, col;
    /* how each name of the expression gets its value */
    sw_src_kind *src;
    size_t *src_idx;  /* axis / derive index, or model field number */
    double *src_const;
    int param;        /* external trainer placeholder uses it */
} sw_derive;

typedef struct {
    size_t *axes; /* axes that vary together (one for a plain grid axis) */
    size_t naxes;
    size_t len;
} sw_dim;

typedef struct {
    size_t axis;
    uint8_t *allowed; /* [nvals] */
} sw_match;

typedef struct {
    sw_match *m;
    size_t n;
} sw_pattern;

/* Model fields an expression may name ("dim"), in sw_model.f order. */
#define SW_NMODEL_FIELDS 6
extern const char *const sw_model_fields[SW_NMODEL_FIELDS];

typedef struct {
    char *name;
    json_t *obj; /* the model object, with its name */
    int line, col;
    double f[SW_NMODEL_FIELDS]; /* layers, dim, heads, hidden, experts, top_k */
} sw_model;

typedef struct {
    char *name;
    json_t *spec; /* the quality_spec object */
} sw_tier;

typedef struct {
    char **argv;  /* templates with {placeholders} */
    int argc;
    int metrics;  /* SWEEP_METRICS_JSONL or SWEEP_METRICS_REGEX */
    char *regex;
    char *metrics_file; /* template; NULL = the trainer's stdout */
    int line, col;
} sw_trainer;

/* train.anneal_at (anneal.c): the annealing points of every run, which
 * then becomes a trunk with one branch per point. */
typedef struct {
    int on;
    double *pts;          /* an explicit list (increasing), or NULL */
    size_t npts;
    double per_doubling;  /* "N per doubling": points down from each run's epochs */
    double from;          /* ... to at least this many epochs */
    int line, col;
} sw_anneal;

/* resources: (resources.c): a run's Slurm requests, by default and per
 * model size. */
enum { SW_RES_TIME = 1, SW_RES_MEM = 2, SW_RES_CPUS = 4 };
typedef struct {
    unsigned set;  /* SW_RES_* given */
    double time;   /* seconds */
    char mem[16];
    int cpus;
} sw_res;
typedef struct {
    int on;        /* the section is there */
    sw_res def;
    sw_res *model; /* [nmodels], or NULL */
} sw_resources;

struct sweep {
    char *path;
    char *name;
    char *description;
    json_t *base;     /* {data:{...}, train:{...}} from the sections */
    sw_model *models;
    size_t nmodels;
    sw_tier *tiers;
    size_t ntiers;
    sw_axis *axes;
    size_t naxes;
    sw_dim *dims;
    size_t ndims;
    sw_pattern *excl;
    size_t nexcl;
    uint16_t *incl;   /* [nincl * naxes] value indices */
    size_t nincl;
    sw_derive *derives; /* in evaluation order */
    size_t nderives;
    int has_trainer;
    sw_trainer trainer;
    json_t *trainer_json; /* the external trainer's part of the key */
    size_t model_axis;    /* index of the T_MODEL axis, or (size_t)-1 */
    sw_anneal anneal;
    sw_resources res;
};

/* ---- parsing (parse.c, axes.c) ----------------------------------------- */

#include <stdarg.h>
#include <yaml.h>

typedef struct {
    char *path;
    int line, col;
} sp_pos;

typedef struct {
    const char *file;
    yaml_document_t doc;
    int have_doc;
    char *err;
    size_t errlen;
    int failed;
    sweep *sw;
    json_t *defaults;   /* a resolved default config: the known fields */
    char **field_names; /* lazily built, for "did you mean" */
    sp_pos *pos;        /* where each section field was written */
    size_t npos;
} sp_ctx;

/* fields.c: YAML nodes with their positions, and the run config's fields
 * as a sweep names them. The lowest layer of the reader. */
yaml_node_t *sp_node(sp_ctx *c, int idx);
yaml_node_t *sp_section(sp_ctx *c, yaml_node_t *map, const char *key);
int sp_err(sp_ctx *c, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int sp_err_at(sp_ctx *c, int line, int col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int sp_want(sp_ctx *c, const yaml_node_t *n, yaml_node_type_t t, const char *what);
const char *sp_text(const yaml_node_t *n);
const char *sp_kind(const yaml_node_t *n);
int sp_quoted(const yaml_node_t *n);
int sp_check_keys(sp_ctx *c, yaml_node_t *n, const char *section, const char *const *known);
void sp_record(sp_ctx *c, const char *path, const yaml_node_t *n);
int sp_field_type(sp_ctx *c, const char *path);
sw_target sp_resolve_name(sp_ctx *c, const char *name, char **path, int *ftype);
const char *const *sp_field_names(sp_ctx *c);
json_t *sp_field_value(sp_ctx *c, const yaml_node_t *n, const char *what, int ftype);
void sp_free_names(sp_ctx *c);
/* The default run config with every field filled: the list of fields. */
json_t *sp_defaults_config(void);
/* axes.c: grid, exclude, include and derive; parse.c calls these. */
int sp_read_axes(sp_ctx *c, yaml_node_t *root);
int sp_read_resources(sp_ctx *c, yaml_node_t *v);
int sp_check_base(sp_ctx *c, yaml_node_t *root);
/* anneal.c: train.anneal_at's value, and the checks once every section is read. */
int sp_read_anneal(sp_ctx *c, yaml_node_t *v);
int sp_check_anneal(sp_ctx *c, yaml_node_t *root);

/* ---- the plan --------------------------------------------------------- */

struct sweep_plan {
    const sweep *sw;
    size_t n;
    uint16_t *idx;     /* [n * naxes] */
    double *dv;        /* [n * nderives] */
    uint8_t (*key)[32];
    size_t nexcluded;
    size_t nmerged;    /* runs identical to an earlier one (same key) */
    size_t ngrid;      /* grid combinations before exclusion */
    size_t ngridruns;  /* runs from the grid (they come first) */
    size_t nincluded;  /* runs added by include */
    int32_t *combo_run; /* grid combination -> run, -1 if excluded (while planning) */
    int fast;          /* keys came from the template (1) or per-run JSON (0) */
    /* With train.anneal_at each run above (a row) is a trunk; the plan's
     * runs ("members", what sweep_plan_count counts) are each trunk then
     * its branches. Without it there are none and a run is a row. */
    size_t nm;
    size_t *m_row;      /* the member's row */
    int32_t *m_point;   /* -1: the trunk; else the point's index */
    size_t *m_parent;   /* the trunk's member index (itself for a trunk) */
    double *m_epochs;   /* budget E; a trunk: its largest point */
    uint8_t (*m_key)[32];
};

/* keys.c: the document (config) of row r, which is a trunk's config when
 * the sweep anneals. */
json_t *sw_run_document(const sweep_plan *p, size_t r, int resolve, char *err, size_t errlen);
int sw_compute_keys(sweep_plan *p, int flags, char *err, size_t errlen);

/* anneal.c */
/* Turn a run's config (built from the sections, axes and derives, not yet
 * resolved) into its trunk's: the points, the absolute warmup, the dense
 * cooldown evaluations. `who` names the run in messages. */
int sw_anneal_apply(const sweep *sw, json_t *cfg, const char *who, char *err, size_t errlen);
/* Expand every row into its trunk and branches (the m_* arrays). */
int sw_anneal_expand(sweep_plan *p, char *err, size_t errlen);
/* The row of plan run i. */
size_t sw_row(const sweep_plan *p, size_t i);

#endif
