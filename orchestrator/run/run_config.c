/*
 * run_config.c — check and complete a run config (docs/run-config.md).
 *
 * One table lists every field with its type, default and range (made from
 * run_config.h's lists), so the documentation, the defaults, the checks and
 * the typed view cannot drift apart from each other: a field is added
 * there and on the doc page, nowhere else.
 */
#include "orchestrator/run/run_config.h"

#include <math.h>
#include <sha2.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { F_INT, F_REAL, F_STR, F_OBJ, F_LIST } field_type; /* F_LIST: increasing reals in min..max */

typedef struct {
    const char *section; /* NULL = top level */
    const char *name;
    field_type type;
    int required;
    double def_num;      /* default for F_INT / F_REAL; -1 = absent unless given (any type) */
    const char *def_str; /* default for F_STR; for F_OBJ a JSON text; for a
                            number absent unless given, the value its absence
                            stands for (NULL: none) */
    double min, max;     /* inclusive range for numbers */
    const char *choices; /* F_STR: "a|b|c", or NULL for any string */
    size_t offset;       /* of its member in run_cfg */
} field;

/* The table, made from run_config.h's lists: one entry macro per section,
 * for the section's name and where its members sit in run_cfg. */
#define ENTRY(sec, member, name, type, req, dn, ds, mn, mx, ch) \
    {sec, #name, F_##type, req, dn, ds, mn, mx, ch, offsetof(run_cfg, member)},
#define TOP(name, ...) ENTRY(NULL, name, name, __VA_ARGS__)
#define MODEL(name, ...) ENTRY("model", model.name, name, __VA_ARGS__)
#define DATA(name, ...) ENTRY("data", data.name, name, __VA_ARGS__)
#define QUALITY_SPEC(name, ...) ENTRY("quality_spec", data.quality_spec.name, name, __VA_ARGS__)
#define CLOZE(name, ...) ENTRY("cloze", data.cloze.name, name, __VA_ARGS__)
#define TRAIN(name, ...) ENTRY("train", train.name, name, __VA_ARGS__)
static const field fields[] = {
    RUN_CONFIG_TOP(TOP) RUN_CONFIG_MODEL(MODEL) RUN_CONFIG_DATA(DATA) RUN_CONFIG_QUALITY_SPEC(QUALITY_SPEC)
    RUN_CONFIG_CLOZE(CLOZE) RUN_CONFIG_TRAIN(TRAIN)
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* "parent.name" (or "name"), for messages: cut short if it does not fit. */
static void path_of(char *buf, size_t n, const char *parent, const char *name)
{
    int w = parent && *parent ? snprintf(buf, n, "%s.%s", parent, name) : snprintf(buf, n, "%s", name);
    if (w < 0) buf[0] = 0;
}

/* A short rendering of a JSON value for error messages. */
static void show_value(char *buf, size_t n, const json_t *v)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(buf, n, "%.60s%s", s ? s : "?", s && strlen(s) > 60 ? "..." : "");
    free(s);
}

static int check_field(const field *f, json_t *v, const char *path, char *err, size_t errlen)
{
    char shown[80];
    show_value(shown, sizeof shown, v);
    switch (f->type) {
    case F_INT:
    case F_REAL: {
        if (!json_is_number(v)) {
            snprintf(err, errlen, "%s must be a number, not %s", path, shown);
            return -1;
        }
        double x = json_number_value(v);
        if (!isfinite(x) || x < f->min || x > f->max) {
            snprintf(err, errlen, "%s must be between %g and %g, not %s", path, f->min, f->max, shown);
            return -1;
        }
        if (f->type == F_INT && x != floor(x)) {
            snprintf(err, errlen, "%s must be a whole number, not %s", path, shown);
            return -1;
        }
        return 0;
    }
    case F_STR:
        if (!json_is_string(v)) {
            snprintf(err, errlen, "%s must be a string, not %s", path, shown);
            return -1;
        }
        if (f->choices) {
            const char *s = json_string_value(v), *c = f->choices;
            size_t len = strlen(s);
            while (c && *c) {
                const char *bar = strchr(c, '|');
                size_t clen = bar ? (size_t)(bar - c) : strlen(c);
                if (clen == len && strncmp(c, s, len) == 0) return 0;
                c = bar ? bar + 1 : NULL;
            }
            snprintf(err, errlen, "%s must be one of %s, not %s", path, f->choices, shown);
            return -1;
        }
        return 0;
    case F_OBJ:
        if (!json_is_object(v)) {
            snprintf(err, errlen, "%s must be an object, not %s", path, shown);
            return -1;
        }
        return 0;
    case F_LIST: {
        if (!json_is_array(v) || json_array_size(v) == 0) {
            snprintf(err, errlen, "%s must be a non-empty list of numbers, not %s", path, shown);
            return -1;
        }
        size_t i;
        json_t *e;
        double prev = -INFINITY;
        json_array_foreach(v, i, e) {
            double x = json_number_value(e);
            if (!json_is_number(e) || !isfinite(x) || x < f->min || x > f->max) {
                snprintf(err, errlen, "%s must hold numbers between %g and %g, not %s", path, f->min, f->max, shown);
                return -1;
            }
            if (x <= prev) {
                snprintf(err, errlen, "%s must be in increasing order without repeats, not %s", path, shown);
                return -1;
            }
            prev = x;
        }
        return 0;
    }
    }
    return 0;
}

static int section_rules(const json_t *obj, const char *section, const char *path, char *err, size_t errlen);

/* An absolute warmup (train.warmup_epochs) replaces the relative one: an
 * absent warmup_frac then resolves to 0, not to its default. */
static void absolute_warmup(json_t *train)
{
    if (json_object_get(train, "warmup_epochs") && !json_object_get(train, "warmup_frac"))
        json_object_set_new(train, "warmup_frac", json_integer(0));
}

/* Resolve the object `obj` whose fields are those with section `section`
 * (its sections first, then its own rules); `path` is its dotted name for
 * messages. */
static int resolve_object(json_t *obj, const char *section, const char *path,
                          char *err, size_t errlen)
{
    /* Unknown keys first: a typo should not be mistaken for a missing field. */
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        int known = 0;
        for (size_t i = 0; i < NFIELDS && !known; i++)
            known = same(fields[i].section, section) && strcmp(fields[i].name, key) == 0;
        if (!known) {
            char p[128];
            path_of(p, sizeof p, path, key);
            snprintf(err, errlen, "unknown field %s", p);
            return -1;
        }
    }
    if (section && !strcmp(section, "train")) absolute_warmup(obj);
    for (size_t i = 0; i < NFIELDS; i++) {
        const field *f = &fields[i];
        if (!same(f->section, section)) continue;
        char p[128];
        path_of(p, sizeof p, path, f->name);
        json_t *v = json_object_get(obj, f->name);
        if (!v) {
            if (f->required) {
                snprintf(err, errlen, "missing field %s", p);
                return -1;
            }
            /* Optional fields with default -1 are "absent unless given". */
            if (f->def_num < 0 || f->type == F_LIST) continue;
            switch (f->type) {
            case F_LIST: break;
            case F_INT: v = json_integer((json_int_t)f->def_num); break;
            case F_REAL: v = json_real(f->def_num); break;
            case F_STR: v = json_string(f->def_str); break;
            case F_OBJ: v = json_loads(f->def_str, 0, NULL); break;
            }
            if (!v || json_object_set_new(obj, f->name, v)) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
        }
        if (check_field(f, v, p, err, errlen)) return -1;
        if (f->type == F_INT && json_is_real(v))
            json_object_set_new(obj, f->name, json_integer((json_int_t)json_real_value(v)));
        if (f->type == F_OBJ && resolve_object(v, f->name, p, err, errlen)) return -1;
    }
    return section ? section_rules(obj, section, path, err, errlen) : 0;
}

/* The fields of annealed branches (docs/sweep.md): a trunk (anneal_at) and
 * a branch (branch_of) need a warmup-stable-decay schedule with a decay and
 * an absolute warmup. */
static int check_family(const json_t *train, const json_t *at, const json_t *of, char *err, size_t errlen)
{
    const char *what = at ? "train.anneal_at" : "train.branch_of";
    const char *sched = json_string_value(json_object_get(train, "schedule"));
    if (at && of) {
        snprintf(err, errlen, "a run is a trunk (train.anneal_at) or a branch (train.branch_of), not both");
        return -1;
    }
    if (strcmp(sched, "wsd") || json_number_value(json_object_get(train, "decay_frac")) <= 0) {
        snprintf(err, errlen, "%s needs schedule wsd with decay_frac > 0 (a branch is a cooldown)", what);
        return -1;
    }
    if (!json_object_get(train, "warmup_epochs")) {
        /* a warmup of warmup_frac would differ with each branch's length */
        snprintf(err, errlen, "%s needs an absolute warmup: train.warmup_epochs", what);
        return -1;
    }
    if (at) {
        double last = json_number_value(json_array_get(at, json_array_size(at) - 1));
        double epochs = json_number_value(json_object_get(train, "epochs"));
        if (epochs != last) {
            snprintf(err, errlen, "train.epochs (%.17g) must be the largest point of train.anneal_at (%.17g)", epochs,
                     last);
            return -1;
        }
        return 0;
    }
    const char *k = json_string_value(of);
    size_t n = strspn(k, "0123456789abcdef");
    if (n != 64 || k[n]) {
        snprintf(err, errlen, "train.branch_of must be a run key (64 lowercase hex digits), not \"%.80s\"", k);
        return -1;
    }
    if (json_object_get(train, "early_stop_margin")) {
        snprintf(err, errlen, "a branch does not stop early: train.early_stop_margin belongs to its trunk");
        return -1;
    }
    return 0;
}

static int train_rules(const json_t *obj, char *err, size_t errlen)
{
    double warm = json_number_value(json_object_get(obj, "warmup_frac"));
    double decay = json_number_value(json_object_get(obj, "decay_frac"));
    if (warm + decay > 1.0) {
        snprintf(err, errlen, "train.warmup_frac + train.decay_frac must not exceed 1 (%g + %g)", warm, decay);
        return -1;
    }
    if (json_object_get(obj, "warmup_epochs") && warm != 0) {
        snprintf(err, errlen, "give train.warmup_frac or train.warmup_epochs, not both (warmup_frac is %g)", warm);
        return -1;
    }
    const json_t *at = json_object_get(obj, "anneal_at"), *of = json_object_get(obj, "branch_of");
    if ((at || of) && check_family(obj, at, of, err, errlen)) return -1;
    if (json_integer_value(json_object_get(obj, "cooldown_evals")) > 0 &&
        (strcmp(json_string_value(json_object_get(obj, "schedule")), "wsd") || decay <= 0)) {
        snprintf(err, errlen, "train.cooldown_evals needs a final decay (schedule wsd, decay_frac > 0)");
        return -1;
    }
    return 0;
}

/* A cloze pool that cannot hold the items asked of it, whatever the corpus:
 * each item takes a window of context + length tokens of its own. Said at
 * plan time; what the corpus's documents actually offer is known only once
 * the data set is built (data/cloze.c says it then). */
static int cloze_rules(const json_t *obj, const char *path, char *err, size_t errlen)
{
    json_t *pool = json_object_get(obj, "pool_tokens");
    if (!pool) return 0;
    double items = json_number_value(json_object_get(obj, "items"));
    json_t *fi = json_object_get(obj, "final_items");
    if (fi && json_number_value(fi) > items) items = json_number_value(fi);
    double w = json_number_value(json_object_get(obj, "context")) + json_number_value(json_object_get(obj, "length"));
    if (json_number_value(pool) < items * w) {
        snprintf(err, errlen, "%s.pool_tokens (%.0f) cannot hold %.0f items of %.0f tokens each "
                 "(context + length): it needs at least %.0f tokens, and more since items never "
                 "cross documents", path, json_number_value(pool), items, w, items * w);
        return -1;
    }
    return 0;
}

/* The rules across the fields of one section that the table cannot say. */
static int section_rules(const json_t *obj, const char *section, const char *path, char *err, size_t errlen)
{
    if (!strcmp(section, "model")) {
        json_int_t dim = json_integer_value(json_object_get(obj, "dim"));
        json_int_t heads = json_integer_value(json_object_get(obj, "heads"));
        if (dim % heads != 0) {
            snprintf(err, errlen, "model.dim (%lld) must be divisible by model.heads (%lld)", (long long)dim,
                     (long long)heads);
            return -1;
        }
        if ((dim / heads) % 2 != 0) {
            snprintf(err, errlen, "model.dim / model.heads (%lld) must be even for rotary positions",
                     (long long)(dim / heads));
            return -1;
        }
        json_t *e = json_object_get(obj, "experts"), *k = json_object_get(obj, "top_k");
        double experts = e ? json_number_value(e) : 0, top_k = k ? json_number_value(k) : 1;
        if (top_k > (experts > 1 ? experts : 1)) {
            if (experts > 0)
                snprintf(err, errlen, "model.top_k (%g) must not exceed model.experts (%g)", top_k, experts);
            else
                snprintf(err, errlen, "model.top_k (%g) needs model.experts >= %g (a dense model routes nothing)",
                         top_k, top_k);
            return -1;
        }
    } else if (!strcmp(section, "quality_spec")) {
        if (json_object_get(obj, "degrade") && json_object_get(obj, "top")) {
            snprintf(err, errlen, "%s takes degrade or top, not both", path);
            return -1;
        }
    } else if (!strcmp(section, "train")) {
        return train_rules(obj, err, errlen);
    } else if (!strcmp(section, "cloze")) {
        return cloze_rules(obj, path, err, errlen);
    }
    return 0;
}

int run_config_resolve_section(json_t *obj, const char *section, const char *path, char *err, size_t errlen)
{
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "%s must be an object", path);
        return -1;
    }
    return resolve_object(obj, section, path, err, errlen);
}

int run_config_resolve(json_t *cfg, char *err, size_t errlen)
{
    if (!json_is_object(cfg)) {
        snprintf(err, errlen, "a run config must be a JSON object");
        return -1;
    }
    return resolve_object(cfg, NULL, "", err, errlen);
}

/* The field of a dotted path "section.name" (or a top-level name). */
static const field *field_of(const char *path)
{
    const char *dot = strchr(path, '.');
    for (size_t i = 0; i < NFIELDS; i++) {
        const field *f = &fields[i];
        if (dot ? f->section && strlen(f->section) == (size_t)(dot - path) &&
                      !strncmp(f->section, path, (size_t)(dot - path)) && !strcmp(f->name, dot + 1)
                : !f->section && !strcmp(f->name, path))
            return f;
    }
    return NULL;
}

/* A field absent unless given that stands for a value when absent. */
static int stands_for(const field *f, double *v)
{
    if (!f || (f->type != F_INT && f->type != F_REAL) || f->def_num >= 0 || !f->def_str) return 0;
    *v = strtod(f->def_str, NULL);
    return 1;
}

double run_config_number(const json_t *cfg, const char *path)
{
    const char *dot = strchr(path, '.');
    const json_t *v;
    if (dot) {
        char sec[64];
        snprintf(sec, sizeof sec, "%.*s", (int)(dot - path), path);
        v = json_object_get(json_object_get(cfg, sec), dot + 1);
    } else {
        v = json_object_get(cfg, path);
    }
    if (json_is_number(v)) return json_number_value(v);
    const field *f = field_of(path);
    double d;
    if (stands_for(f, &d)) return d;
    if (f && (f->type == F_INT || f->type == F_REAL) && f->def_num >= 0) return f->def_num;
    return NAN;
}

int run_config_absent_value(const char *path, double *v)
{
    return stands_for(field_of(path), v) ? 0 : -1;
}

void run_config_fill_absent(json_t *cfg)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        const field *f = &fields[i];
        double d;
        if (!f->section || !stands_for(f, &d)) continue;
        json_t *sec = json_object_get(cfg, f->section);
        if (!json_is_object(sec) || json_object_get(sec, f->name)) continue;
        json_object_set_new(sec, f->name, f->type == F_INT ? json_integer((json_int_t)d) : json_real(d));
    }
}

/* ---- the typed view --------------------------------------------------------- */

/* The section field named `section` (model, data, quality_spec, ...). */
static const field *section_field(const char *section)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (fields[i].type == F_OBJ && !strcmp(fields[i].name, section)) return &fields[i];
    return NULL;
}

/* The object of `section` in cfg (NULL when absent), and its dotted path. */
static const json_t *section_in(const json_t *cfg, const char *section, char *path, size_t n)
{
    if (!section) {
        path[0] = 0;
        return cfg;
    }
    const field *s = section_field(section);
    char parent[128];
    const json_t *up = s ? section_in(cfg, s->section, parent, sizeof parent) : NULL;
    path_of(path, n, s ? parent : "", section);
    return json_object_get(up, section);
}

int run_config_read(const json_t *cfg, run_cfg *rc, char *err, size_t errlen)
{
    memset(rc, 0, sizeof *rc);
    for (size_t i = 0; i < NFIELDS; i++) {
        const field *f = &fields[i];
        char sp[128], p[160];
        const json_t *obj = section_in(cfg, f->section, sp, sizeof sp);
        json_t *v = json_object_get(obj, f->name);
        path_of(p, sizeof p, sp, f->name);
        if (v && check_field(f, v, p, err, errlen)) return -1;
        char *m = (char *)rc + f->offset;
        double d = 0;
        switch (f->type) {
        case F_INT:
        case F_REAL:
            if (v) d = json_number_value(v);
            else if (!stands_for(f, &d)) d = f->def_num >= 0 ? f->def_num : 0;
            if (f->type == F_INT) *(long long *)m = (long long)d;
            else *(double *)m = d;
            break;
        case F_STR: *(const char **)m = v ? json_string_value(v) : f->def_str ? f->def_str : ""; break;
        case F_LIST: *(const json_t **)m = v; break;
        case F_OBJ: break; /* a section: its fields are entries of their own */
        }
    }
    return 0;
}

/* Integral reals become integers so that 12, 12.0 and 1.2e1 hash alike. */
static json_t *normalised(const json_t *v)
{
    if (json_is_real(v)) {
        double x = json_real_value(v);
        if (x == floor(x) && fabs(x) < 9007199254740992.0) return json_integer((json_int_t)x);
        return json_real(x);
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e) json_object_set_new(o, k, normalised(e));
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) json_array_append_new(a, normalised(e));
        return a;
    }
    return json_deep_copy(v);
}

char *run_config_canonical(const json_t *cfg)
{
    json_t *n = normalised(cfg);
    char *s = json_dumps(n, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    json_decref(n);
    return s;
}

void run_config_key(const json_t *cfg, char key[65])
{
    char *s = run_config_canonical(cfg);
    SHA2_CTX ctx;
    SHA256Init(&ctx);
    if (s) SHA256Update(&ctx, (const uint8_t *)s, strlen(s));
    SHA256End(&ctx, key);
    free(s);
}
