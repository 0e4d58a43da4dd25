/*
 * fields.c — the bottom of the sweep reader: YAML nodes with their
 * positions (every message names file:line:column), and the run config's
 * fields as a sweep may name them (an axis `lr` is train.lr). parse.c,
 * axes.c and anneal.c read their sections with these; nothing here calls
 * back up into them.
 */
#include "orchestrator/sweep/internal.h"

#include "orchestrator/cli/cli.h"
#include "orchestrator/run/run_config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- YAML helpers ------------------------------------------------------ */

yaml_node_t *sp_node(sp_ctx *c, int idx) { return yaml_document_get_node(&c->doc, idx); }

int sp_errv(sp_ctx *c, int line, int col, const char *fmt, va_list ap)
{
    if (c->failed) return -1;
    c->failed = 1;
    char msg[768];
    vsnprintf(msg, sizeof msg, fmt, ap);
    snprintf(c->err, c->errlen, "%s:%d:%d: %s", c->file, line, col, msg);
    return -1;
}

int sp_err_at(sp_ctx *c, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sp_errv(c, line, col, fmt, ap);
    va_end(ap);
    return -1;
}

int sp_err(sp_ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sp_errv(c, n ? (int)n->start_mark.line + 1 : 1, n ? (int)n->start_mark.column + 1 : 1, fmt, ap);
    va_end(ap);
    return -1;
}

const char *sp_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a single value";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

int sp_want(sp_ctx *c, const yaml_node_t *n, yaml_node_type_t t, const char *what)
{
    if (n->type == t) return 0;
    const char *exp = t == YAML_SCALAR_NODE ? "a single value" : t == YAML_SEQUENCE_NODE ? "a list" : "a mapping";
    return sp_err(c, n, "%s must be %s, not %s", what, exp, sp_kind(n));
}

const char *sp_text(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

int sp_quoted(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && (n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                                           n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE);
}

/* Check the keys of mapping `n` against `known` (NULL-terminated); also
 * rejects duplicate keys, which YAML parsers silently collapse. */
int sp_check_keys(sp_ctx *c, yaml_node_t *n, const char *section, const char *const *known)
{
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = sp_node(c, p->key);
        if (k->type != YAML_SCALAR_NODE) return sp_err(c, k, "%s: keys must be names", section);
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++)
            if (!strcmp(sp_text(sp_node(c, q->key)), sp_text(k)))
                return sp_err(c, k, "%s: '%s' is given twice", section, sp_text(k));
        if (!known) continue;
        int ok = 0;
        for (const char *const *w = known; *w && !ok; w++) ok = !strcmp(*w, sp_text(k));
        if (!ok) {
            const char *hint = cli_did_you_mean(sp_text(k), known);
            if (hint)
                return sp_err(c, k, "%s: unknown key '%s'; did you mean '%s'?", section, sp_text(k), hint);
            char list[512] = "";
            for (const char *const *w = known; *w; w++) {
                if (strlen(list) + strlen(*w) + 3 >= sizeof list) break;
                if (*list) strcat(list, ", ");
                strcat(list, *w);
            }
            return sp_err(c, k, "%s: unknown key '%s' (expected one of: %s)", section, sp_text(k), list);
        }
    }
    return 0;
}

void sp_record(sp_ctx *c, const char *path, const yaml_node_t *n)
{
    sp_pos *np = realloc(c->pos, (c->npos + 1) * sizeof *np);
    if (!np) return;
    c->pos = np;
    c->pos[c->npos].path = strdup(path);
    c->pos[c->npos].line = (int)n->start_mark.line + 1;
    c->pos[c->npos].col = (int)n->start_mark.column + 1;
    c->npos++;
}

/* ---- config fields ----------------------------------------------------- */

/* The field list comes from run_config.c itself: a default config resolved
 * once, so a field added there is known here without a second table. */
json_t *sp_defaults_config(void)
{
    json_t *d = json_pack("{s:s, s:{s:i, s:i, s:i}}", "objective", "ar", "model", "layers", 1,
                          "dim", 2, "heads", 1);
    char err[256];
    if (!d || run_config_resolve(d, err, sizeof err)) {
        json_decref(d);
        return NULL;
    }
    run_config_fill_absent(d); /* fields absent unless given are axes too */
    /* ... and those whose absence stands for no number */
    json_object_set_new(json_object_get(d, "train"), "warmup_epochs", json_real(0));
    json_object_set_new(json_object_get(d, "train"), "log_every", json_real(1));
    return d;
}

const char *const sw_model_fields[SW_NMODEL_FIELDS] = {"layers", "dim", "heads", "hidden", "experts",
                                                          "top_k"};

static const char *const sections[] = {"model", "data", "train", NULL};

/* The type of the config field at `path`, or -1 when there is none
 * (JSON_OBJECT is 0). */
int sp_field_type(sp_ctx *c, const char *path)
{
    char sec[64];
    const char *dot = strchr(path, '.');
    json_t *v;
    if (!dot) {
        v = json_object_get(c->defaults, path);
    } else {
        size_t n = (size_t)(dot - path);
        if (n >= sizeof sec) return -1;
        memcpy(sec, path, n);
        sec[n] = 0;
        v = json_object_get(json_object_get(c->defaults, sec), dot + 1);
    }
    if (!v) return -1;
    if (json_is_integer(v)) return JSON_INTEGER;
    if (json_is_real(v)) return JSON_REAL;
    if (json_is_string(v)) return JSON_STRING;
    return JSON_OBJECT;
}

/* Map an axis / derive name to where it lands in the config. */
sw_target sp_resolve_name(sp_ctx *c, const char *name, char **path, int *ftype)
{
    *path = NULL;
    *ftype = -1;
    if (!strcmp(name, "model") || !strcmp(name, "model.name")) return T_MODEL;
    if (!strcmp(name, "quality") || !strcmp(name, "data.quality")) {
        if (c->sw->ntiers) return T_QUALITY;
        *path = strdup("data.quality");
        *ftype = JSON_STRING;
        return T_FIELD;
    }
    char buf[160];
    if (strchr(name, '.')) {
        snprintf(buf, sizeof buf, "%s", name);
    } else if (json_object_get(c->defaults, name)) {
        snprintf(buf, sizeof buf, "%s", name);
    } else {
        buf[0] = 0;
        for (const char *const *s = sections; *s && !buf[0]; s++)
            if (json_object_get(json_object_get(c->defaults, *s), name))
                snprintf(buf, sizeof buf, "%s.%s", *s, name);
    }
    int t = buf[0] ? sp_field_type(c, buf) : -1;
    if (t == JSON_INTEGER || t == JSON_REAL || t == JSON_STRING) {
        *path = strdup(buf);
        *ftype = t;
        return T_FIELD;
    }
    if (t == JSON_OBJECT) *ftype = JSON_OBJECT; /* e.g. "data": not an axis */
    return T_FREE;
}

/* Every name an axis or derive may use, for "did you mean". */
const char *const *sp_field_names(sp_ctx *c)
{
    if (c->field_names) return (const char *const *)c->field_names;
    size_t n = 0, cap = 128;
    char **v = calloc(cap, sizeof *v);
    if (!v) return NULL;
    const char *k;
    json_t *x;
    json_object_foreach(c->defaults, k, x) if (!json_is_object(x) && n < cap - 1) v[n++] = strdup(k);
    for (const char *const *s = sections; *s; s++)
        json_object_foreach(json_object_get(c->defaults, *s), k, x)
            if (!json_is_object(x) && strcmp(k, "name") && n < cap - 1) v[n++] = strdup(k);
    if (n < cap - 1) v[n++] = strdup("model");
    v[n] = NULL;
    c->field_names = v;
    return (const char *const *)v;
}

/* A scalar as the JSON a field of type ftype wants. */
json_t *sp_field_value(sp_ctx *c, const yaml_node_t *n, const char *what, int ftype)
{
    if (sp_want(c, n, YAML_SCALAR_NODE, what)) return NULL;
    const char *s = sp_text(n);
    if (ftype == JSON_STRING) return json_string(s);
    double v;
    if (sw_parse_number(s, &v)) {
        sp_err(c, n, "%s must be a number (e.g. 25k, 1.5M, 1e-3), not '%s'", what, s);
        return NULL;
    }
    if (ftype == JSON_INTEGER) {
        if (v != floor(v) || fabs(v) > 9.0e15) {
            sp_err(c, n, "%s must be a whole number, not '%s'", what, s);
            return NULL;
        }
        return json_integer((json_int_t)v);
    }
    return json_real(v);
}

/* ---- the sweep being read ---------------------------------------------- */

yaml_node_t *sp_section(sp_ctx *c, yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++)
        if (!strcmp(sp_text(sp_node(c, p->key)), key)) return sp_node(c, p->value);
    return NULL;
}

void sp_free_names(sp_ctx *c)
{
    if (!c->field_names) return;
    for (char **v = c->field_names; *v; v++) free(*v);
    free(c->field_names);
    c->field_names = NULL;
}

