/*
 * parse.c — a sweep's YAML into a checked `sweep`: the sections that set
 * every run's defaults (data, models, train, trainer). The axes, exclude,
 * include and derive sections are read in axes.c.
 *
 * libyaml's document API keeps the start mark of every node, so every
 * message can name file:line:column. Nothing is run until the whole file
 * has been checked: a sweep either loads completely or not at all.
 */
#include "orchestrator/sweep/internal.h"

#include "orchestrator/cli/cli.h"
#include "orchestrator/run/run_config.h"
#include "orchestrator/util/util.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- sections ---------------------------------------------------------- */

static int read_tiers(sp_ctx *c, yaml_node_t *q)
{
    sweep *sw = c->sw;
    if (q->type == YAML_SCALAR_NODE) {
        json_object_set_new(json_object_get(sw->base, "data"), "quality", json_string(sp_text(q)));
        sp_record(c, "data.quality", q);
        return 0;
    }
    if (sp_want(c, q, YAML_MAPPING_NODE, "data.quality")) return -1;
    if (sp_check_keys(c, q, "data.quality", NULL)) return -1;
    static const char *const spec_keys[] = {"degrade", "top", NULL};
    for (yaml_node_pair_t *p = q->data.mapping.pairs.start; p < q->data.mapping.pairs.top; p++) {
        yaml_node_t *k = sp_node(c, p->key), *v = sp_node(c, p->value);
        char what[160];
        snprintf(what, sizeof what, "data.quality.%s", sp_text(k));
        json_t *spec = json_object();
        sw_tier *nt = realloc(sw->tiers, (sw->ntiers + 1) * sizeof *nt);
        if (!nt || !spec) { json_decref(spec); return sp_err(c, k, "out of memory"); }
        sw->tiers = nt;
        sw->tiers[sw->ntiers++] = (sw_tier){.name = strdup(sp_text(k)), .spec = spec};
        if (v->type == YAML_SCALAR_NODE && !*sp_text(v)) continue; /* `high:` = no transform */
        if (sp_want(c, v, YAML_MAPPING_NODE, what) || sp_check_keys(c, v, what, spec_keys)) return -1;
        for (yaml_node_pair_t *r = v->data.mapping.pairs.start; r < v->data.mapping.pairs.top; r++) {
            yaml_node_t *rk = sp_node(c, r->key), *rv = sp_node(c, r->value);
            char w2[200];
            snprintf(w2, sizeof w2, "%s.%s", what, sp_text(rk));
            json_t *x = sp_field_value(c, rv, w2, JSON_REAL);
            if (!x) return -1;
            json_object_set_new(spec, sp_text(rk), x);
        }
        /* Ranges and the rule between the two fields are run_config's
         * (a copy: the spec keeps only what the sweep wrote, as keys do). */
        json_t *trial = json_deep_copy(spec);
        char why[300];
        int bad = !trial || run_config_resolve_section(trial, "quality_spec", what, why, sizeof why);
        json_decref(trial);
        if (bad) return sp_err(c, v, "%s", trial ? why : "out of memory");
    }
    if (!sw->ntiers) return sp_err(c, q, "data.quality: define at least one tier, e.g. {high: {degrade: 0}}");
    return 0;
}

/* data: / train: — fields of that section of every run's config. */
static int read_section(sp_ctx *c, yaml_node_t *n, const char *sec)
{
    if (sp_want(c, n, YAML_MAPPING_NODE, sec)) return -1;
    json_t *defs = json_object_get(c->defaults, sec);
    const char *known[64];
    size_t nk = 0;
    const char *k;
    json_t *x;
    json_object_foreach(defs, k, x) if (nk < 61) known[nk++] = k;
    if (!strcmp(sec, "train")) known[nk++] = "anneal_at"; /* not a field of every run: anneal.c */
    known[nk] = NULL;
    if (sp_check_keys(c, n, sec, known)) return -1;
    json_t *out = json_object_get(c->sw->base, sec);
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = sp_node(c, p->key), *v = sp_node(c, p->value);
        const char *key = sp_text(kn);
        char path[160];
        snprintf(path, sizeof path, "%s.%s", sec, key);
        if (!strcmp(sec, "data") && !strcmp(key, "quality")) {
            if (read_tiers(c, v)) return -1;
            continue;
        }
        if (!strcmp(sec, "train") && !strcmp(key, "anneal_at")) {
            if (sp_read_anneal(c, v)) return -1;
            continue;
        }
        int t = sp_field_type(c, path);
        json_t *val = NULL;
        if (t == JSON_OBJECT) {
            /* cloze: {items: 200, ...}: numbers with suffixes inside too */
            if (sp_want(c, v, YAML_MAPPING_NODE, path)) return -1;
            /* its keys: the defaults and the fields absent unless given
             * (cloze.pool_tokens), which run_config_fill_absent writes into
             * a section by its name */
            json_t *sub = json_pack("{s:O}", key, json_object_get(defs, key));
            run_config_fill_absent(sub);
            const char *sk[16];
            size_t ns = 0;
            json_object_foreach(json_object_get(sub, key), k, x) if (ns < 15) sk[ns++] = k;
            sk[ns] = NULL;
            int bad = sp_check_keys(c, v, path, sk);
            json_decref(sub);
            if (bad) return -1;
            val = json_object();
            for (yaml_node_pair_t *r = v->data.mapping.pairs.start; r < v->data.mapping.pairs.top; r++) {
                char p2[200];
                snprintf(p2, sizeof p2, "%s.%s", path, sp_text(sp_node(c, r->key)));
                json_t *e = sp_field_value(c, sp_node(c, r->value), p2, JSON_INTEGER);
                if (!e) { json_decref(val); return -1; }
                json_object_set_new(val, sp_text(sp_node(c, r->key)), e);
                sp_record(c, p2, sp_node(c, r->value));
            }
        } else if (!strcmp(path, "train.eval_every") && v->type == YAML_SCALAR_NODE &&
                   strchr(sp_text(v), ' ')) {
            /* "1 epoch", "500 steps": the interval and its unit in one;
             * "4 per doubling": four evaluations per doubling of the epochs
             * seen (eval_unit "log", docs/run-config.md). */
            char num[64], unit[32], rest[32] = "";
            int got = sscanf(sp_text(v), "%63s %31s %31s", num, unit, rest);
            double d;
            if (got == 3 && !strcmp(unit, "per") && !strcmp(rest, "doubling")) {
                strcpy(unit, "log");
            } else {
                size_t ul = strlen(unit);
                if (ul > 1 && unit[ul - 1] == 's') unit[--ul] = 0;
                if (got != 2 || (strcmp(unit, "epoch") && strcmp(unit, "step"))) unit[0] = 0;
            }
            if (!unit[0] || sw_parse_number(num, &d))
                return sp_err(c, v, "train.eval_every must be like '1 epoch', '500 steps' or '4 per doubling', not '%s'",
                              sp_text(v));
            json_object_set_new(out, "eval_unit", json_string(unit));
            val = json_real(d);
        } else {
            val = sp_field_value(c, v, path, t);
            if (!val) return -1;
        }
        json_object_set_new(out, key, val);
        sp_record(c, path, v);
    }
    return 0;
}

static int read_models(sp_ctx *c, yaml_node_t *n)
{
    sweep *sw = c->sw;
    if (sp_want(c, n, YAML_MAPPING_NODE, "models") || sp_check_keys(c, n, "models", NULL)) return -1;
    const char *known[16];
    size_t nk = 0;
    const char *k;
    json_t *x;
    json_object_foreach(json_object_get(c->defaults, "model"), k, x)
        if (strcmp(k, "name") && nk < 15) known[nk++] = k;
    known[nk] = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = sp_node(c, p->key), *v = sp_node(c, p->value);
        char what[160];
        snprintf(what, sizeof what, "models.%s", sp_text(kn));
        if (sp_want(c, v, YAML_MAPPING_NODE, what) || sp_check_keys(c, v, what, known)) return -1;
        json_t *obj = json_pack("{s:s}", "name", sp_text(kn));
        sw_model *nm = realloc(sw->models, (sw->nmodels + 1) * sizeof *nm);
        if (!nm || !obj) { json_decref(obj); return sp_err(c, kn, "out of memory"); }
        sw->models = nm;
        sw->models[sw->nmodels++] = (sw_model){strdup(sp_text(kn)), obj, (int)kn->start_mark.line + 1,
                                               (int)kn->start_mark.column + 1, {0}};
        for (yaml_node_pair_t *r = v->data.mapping.pairs.start; r < v->data.mapping.pairs.top; r++) {
            char p2[200];
            snprintf(p2, sizeof p2, "%s.%s", what, sp_text(sp_node(c, r->key)));
            json_t *e = sp_field_value(c, sp_node(c, r->value), p2, JSON_INTEGER);
            if (!e) return -1;
            json_object_set_new(obj, sp_text(sp_node(c, r->key)), e);
        }
        for (size_t f = 0; f < SW_NMODEL_FIELDS; f++) {
            json_t *fv = json_object_get(obj, sw_model_fields[f]);
            char fp[32];
            double absent = 0;
            snprintf(fp, sizeof fp, "model.%s", sw_model_fields[f]);
            run_config_absent_value(fp, &absent); /* top_k absent stands for 1 */
            sw->models[sw->nmodels - 1].f[f] = fv ? json_number_value(fv) : absent;
        }
        /* Check the size now (heads divide dim, ...) so the error points here. */
        json_t *trial = json_pack("{s:s, s:O}", "objective", "ar", "model", obj);
        char err[256];
        int bad = run_config_resolve(trial, err, sizeof err);
        json_decref(trial);
        if (bad) return sp_err(c, v, "%s: %s", what, err);
    }
    if (!sw->nmodels) return sp_err(c, n, "models: define at least one size, e.g. xs: {layers: 2, dim: 64, heads: 2}");
    return 0;
}

static int read_trainer(sp_ctx *c, yaml_node_t *n)
{
    sweep *sw = c->sw;
    sw->has_trainer = 1;
    if (n->type == YAML_SCALAR_NODE) {
        if (!strcmp(sp_text(n), "builtin") || !strcmp(sp_text(n), "xover")) {
            sw->has_trainer = 0;
            return 0;
        }
        return sp_err(c, n, "trainer must be 'builtin' or {command: [...], metrics: jsonl}, not '%s'", sp_text(n));
    }
    static const char *const keys[] = {"command", "metrics", "metrics_file", NULL};
    if (sp_want(c, n, YAML_MAPPING_NODE, "trainer") || sp_check_keys(c, n, "trainer", keys)) return -1;
    sw_trainer *t = &sw->trainer;
    t->line = (int)n->start_mark.line + 1;
    t->col = (int)n->start_mark.column + 1;
    t->metrics = SWEEP_METRICS_JSONL;
    json_t *tj = json_object();
    sw->trainer_json = tj;
    yaml_node_t *cmd = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = sp_text(sp_node(c, p->key));
        yaml_node_t *v = sp_node(c, p->value);
        if (!strcmp(k, "command")) {
            cmd = v;
            if (sp_want(c, v, YAML_SEQUENCE_NODE, "trainer.command")) return -1;
            size_t argc = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
            if (!argc) return sp_err(c, v, "trainer.command must name a program, e.g. [python3, train.py]");
            t->argv = calloc(argc + 1, sizeof *t->argv);
            if (!t->argv) return sp_err(c, v, "out of memory");
            json_t *a = json_array();
            json_object_set_new(tj, "command", a);
            for (size_t i = 0; i < argc; i++) {
                yaml_node_t *e = sp_node(c, v->data.sequence.items.start[i]);
                if (sp_want(c, e, YAML_SCALAR_NODE, "an argument of trainer.command")) return -1;
                t->argv[t->argc++] = strdup(sp_text(e));
                json_array_append_new(a, json_string(sp_text(e)));
            }
        } else if (!strcmp(k, "metrics_file")) {
            if (sp_want(c, v, YAML_SCALAR_NODE, "trainer.metrics_file")) return -1;
            t->metrics_file = strdup(sp_text(v));
            json_object_set_new(tj, "metrics_file", json_string(sp_text(v)));
        } else { /* metrics */
            if (v->type == YAML_SCALAR_NODE) {
                if (strcmp(sp_text(v), "jsonl"))
                    return sp_err(c, v, "trainer.metrics must be 'jsonl' or {regex: '...'}, not '%s'", sp_text(v));
                json_object_set_new(tj, "metrics", json_string("jsonl"));
                continue;
            }
            static const char *const mk[] = {"regex", NULL};
            if (sp_want(c, v, YAML_MAPPING_NODE, "trainer.metrics") || sp_check_keys(c, v, "trainer.metrics", mk))
                return -1;
            if (v->data.mapping.pairs.start == v->data.mapping.pairs.top)
                return sp_err(c, v, "trainer.metrics needs regex: '...'");
            yaml_node_t *re = sp_node(c, v->data.mapping.pairs.start[0].value);
            if (sp_want(c, re, YAML_SCALAR_NODE, "trainer.metrics.regex")) return -1;
            int ecode;
            PCRE2_SIZE eoff;
            pcre2_code *code = pcre2_compile((PCRE2_SPTR)sp_text(re), PCRE2_ZERO_TERMINATED, 0, &ecode,
                                             &eoff, NULL);
            if (!code) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(ecode, msg, sizeof msg);
                return sp_err(c, re, "trainer.metrics.regex does not compile at offset %zu: %s", (size_t)eoff,
                              (char *)msg);
            }
            uint32_t names = 0;
            pcre2_pattern_info(code, PCRE2_INFO_NAMECOUNT, &names);
            pcre2_code_free(code);
            if (!names)
                return sp_err(c, re, "trainer.metrics.regex needs named groups, e.g. 'step (?<step>\\d+) loss (?<train_loss>[\\d.]+)'");
            t->metrics = SWEEP_METRICS_REGEX;
            t->regex = strdup(sp_text(re));
            json_object_set_new(tj, "metrics", json_pack("{s:s}", "regex", t->regex));
        }
    }
    if (!cmd) return sp_err(c, n, "trainer needs a command, e.g. command: [python3, train.py, --lr, '{lr}']");
    if (!json_object_get(tj, "metrics")) json_object_set_new(tj, "metrics", json_string("jsonl"));
    return 0;
}

static int valid_sweep_name(const char *s)
{
    if (!*s || *s == '.' || strlen(s) > 100) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._-", *s)) return 0;
    return 1;
}

/* YAML collections nested deeper than this are refused. A sweep needs
 * five levels at most (include: [{axis: [v]}]). */
#define SWEEP_MAX_NESTING 64

/* Read the file once as a stream of events before loading it as a
 * document, for what yaml_parser_load does not check:
 *  - nesting: libyaml's scanner walks every open flow level for each token,
 *    so N nested '[' cost N^2 (100k took 29 s to reject); stopping at
 *    SWEEP_MAX_NESTING keeps every file's rejection linear;
 *  - a second document ('---' again): yaml_parser_load reads only the first
 *    and would silently drop the rest.
 * Returns 0, or -1 with "FILE:LINE:COL: ..." in err. */
static int prescan(const char *label, const char *text, size_t len, char *err, size_t errlen)
{
    yaml_parser_t yp;
    yaml_parser_initialize(&yp);
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    int depth = 0, docs = 0, rc = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&yp, &ev)) {
            snprintf(err, errlen, "%s:%d:%d: %s%s%s", label, (int)yp.problem_mark.line + 1,
                     (int)yp.problem_mark.column + 1, yp.problem ? yp.problem : "malformed YAML",
                     yp.context ? " " : "", yp.context ? yp.context : "");
            rc = -1;
            break;
        }
        yaml_event_type_t t = ev.type;
        int line = (int)ev.start_mark.line + 1, col = (int)ev.start_mark.column + 1;
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT) break;
        if (t == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
            snprintf(err, errlen, "%s:%d:%d: a second YAML document starts here; a sweep file holds one "
                     "(put each sweep in a file of its own)", label, line, col);
            rc = -1;
            break;
        }
        if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
            if (++depth > SWEEP_MAX_NESTING) {
                snprintf(err, errlen, "%s:%d:%d: lists and mappings nested more than %d deep", label, line,
                         col, SWEEP_MAX_NESTING);
                rc = -1;
                break;
            }
        } else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
            depth--;
        }
    }
    yaml_parser_delete(&yp);
    return rc;
}

static const char *const top_keys[] = {"sweep", "description", "data", "models", "train", "grid", "zip",
                                       "exclude", "include", "derive", "seeds", "trainer", "resources", NULL};

sweep *sweep_parse(const char *label, const char *text, size_t len, char *err, size_t errlen)
{
    sp_ctx c = {.file = label, .err = err, .errlen = errlen};
    sweep *sw = calloc(1, sizeof *sw);
    if (!sw) { snprintf(err, errlen, "out of memory"); return NULL; }
    c.sw = sw;
    sw->path = strdup(label);
    sw->model_axis = (size_t)-1;
    sw->base = json_pack("{s:{}, s:{}}", "data", "train");
    c.defaults = sp_defaults_config();
    if (!c.defaults) { snprintf(err, errlen, "internal error: the default run config does not resolve"); goto fail; }

    if (prescan(label, text, len, err, errlen)) goto fail;
    yaml_parser_t yp;
    yaml_parser_initialize(&yp);
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    if (!yaml_parser_load(&yp, &c.doc)) {
        snprintf(err, errlen, "%s:%d:%d: %s%s%s", label, (int)yp.problem_mark.line + 1,
                 (int)yp.problem_mark.column + 1, yp.problem ? yp.problem : "malformed YAML",
                 yp.context ? " " : "", yp.context ? yp.context : "");
        yaml_parser_delete(&yp);
        goto fail;
    }
    yaml_parser_delete(&yp);
    c.have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&c.doc);
    if (!root) { snprintf(err, errlen, "%s:1:1: the file is empty; a sweep needs at least 'sweep: NAME'", label); goto fail; }
    if (sp_want(&c, root, YAML_MAPPING_NODE, "a sweep file") || sp_check_keys(&c, root, "sweep file", top_keys))
        goto fail;

    /* Sections in dependency order, whatever order the file has them in:
     * tiers and models before the axes that name them. */
    static const char *const order[] = {"sweep", "description", "data", "models", "train", "trainer", "resources",
                                        NULL};
    for (const char *const *sec = order; *sec; sec++) {
        yaml_node_t *v = sp_section(&c, root, *sec);
        if (!v) continue;
        int bad = 0;
        if (!strcmp(*sec, "sweep")) {
            if (sp_want(&c, v, YAML_SCALAR_NODE, "sweep")) goto fail;
            if (!valid_sweep_name(sp_text(v))) {
                sp_err(&c, v, "sweep name '%s' must be letters, digits, '.', '_' or '-' (it names a directory)", sp_text(v));
                goto fail;
            }
            sw->name = strdup(sp_text(v));
        } else if (!strcmp(*sec, "description")) {
            if (sp_want(&c, v, YAML_SCALAR_NODE, "description")) goto fail;
            sw->description = strdup(sp_text(v));
        } else if (!strcmp(*sec, "data") || !strcmp(*sec, "train")) {
            bad = read_section(&c, v, *sec);
        } else if (!strcmp(*sec, "models")) {
            bad = read_models(&c, v);
        } else if (!strcmp(*sec, "resources")) {
            bad = sp_read_resources(&c, v);
        } else {
            bad = read_trainer(&c, v);
        }
        if (bad) goto fail;
    }
    if (!sw->name) { sp_err(&c, root, "missing 'sweep: NAME' (the name of the sweep's directory under runs/)"); goto fail; }
    if (sp_read_axes(&c, root)) goto fail;
    if (sp_check_base(&c, root)) goto fail;
    if (sp_check_anneal(&c, root)) goto fail;

    for (size_t i = 0; i < c.npos; i++) free(c.pos[i].path);
    free(c.pos);
    sp_free_names(&c);
    json_decref(c.defaults);
    yaml_document_delete(&c.doc);
    return sw;
fail:
    if (!c.failed && !*err) snprintf(err, errlen, "%s: cannot read the sweep", label);
    for (size_t i = 0; i < c.npos; i++) free(c.pos[i].path);
    free(c.pos);
    sp_free_names(&c);
    json_decref(c.defaults);
    if (c.have_doc) yaml_document_delete(&c.doc);
    sweep_free(sw);
    return NULL;
}

sweep *sweep_load(const char *path, char *err, size_t errlen)
{
    size_t n;
    char *buf = xo_read_file(path, &n);
    if (!buf) {
        snprintf(err, errlen, "cannot open sweep '%s': %s", path, strerror(errno));
        return NULL;
    }
    sweep *s = sweep_parse(path, buf, n, err, errlen);
    free(buf);
    return s;
}

void sweep_free(sweep *s)
{
    if (!s) return;
    free(s->path);
    free(s->name);
    free(s->description);
    json_decref(s->base);
    for (size_t i = 0; i < s->nmodels; i++) {
        free(s->models[i].name);
        json_decref(s->models[i].obj);
    }
    free(s->models);
    for (size_t i = 0; i < s->ntiers; i++) {
        free(s->tiers[i].name);
        json_decref(s->tiers[i].spec);
    }
    free(s->tiers);
    for (size_t a = 0; a < s->naxes; a++) {
        sw_axis *ax = &s->axes[a];
        free(ax->name);
        free(ax->path);
        for (size_t v = 0; v < ax->nvals; v++) {
            free(ax->vals[v].text);
            if (ax->json) json_decref(ax->json[v]);
        }
        free(ax->vals);
        free(ax->json);
    }
    free(s->axes);
    for (size_t d = 0; d < s->ndims; d++) free(s->dims[d].axes);
    free(s->dims);
    for (size_t e = 0; e < s->nexcl; e++) {
        for (size_t m = 0; m < s->excl[e].n; m++) free(s->excl[e].m[m].allowed);
        free(s->excl[e].m);
    }
    free(s->excl);
    free(s->incl);
    for (size_t d = 0; d < s->nderives; d++) {
        sw_derive *dv = &s->derives[d];
        free(dv->name);
        free(dv->path);
        free(dv->text);
        sw_expr_free(dv->expr);
        free(dv->src);
        free(dv->src_idx);
        free(dv->src_const);
    }
    free(s->derives);
    for (int i = 0; i < s->trainer.argc; i++) free(s->trainer.argv[i]);
    free(s->trainer.argv);
    free(s->trainer.regex);
    free(s->trainer.metrics_file);
    json_decref(s->trainer_json);
    free(s->anneal.pts);
    free(s->res.model);
    free(s);
}

const char *sweep_name(const sweep *s) { return s->name; }
const char *sweep_description(const sweep *s) { return s->description ? s->description : ""; }
const char *sweep_path(const sweep *s) { return s->path; }
size_t sweep_naxes(const sweep *s) { return s->naxes; }
const char *sweep_axis_name(const sweep *s, size_t a) { return s->axes[a].name; }
size_t sweep_axis_nvalues(const sweep *s, size_t a) { return s->axes[a].nvals; }
size_t sweep_nderived(const sweep *s) { return s->nderives; }
const char *sweep_derived_name(const sweep *s, size_t d) { return s->derives[d].name; }

sweep_trainer_info sweep_trainer(const sweep *s)
{
    sweep_trainer_info t = {0};
    if (!s->has_trainer) return t;
    t.external = 1;
    t.argc = s->trainer.argc;
    t.argv = (const char *const *)s->trainer.argv;
    t.metrics = s->trainer.metrics;
    t.regex = s->trainer.regex;
    t.metrics_file = s->trainer.metrics_file;
    return t;
}
