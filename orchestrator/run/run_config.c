/*
 * run_config.c — check and complete a run config (docs/run-config.md).
 *
 * One table lists every field with its type, default and range, so the
 * documentation, the defaults and the checks cannot drift apart from each
 * other: a field is added here and on the doc page, nowhere else.
 */
#include "orchestrator/run/run_config.h"

#include <math.h>
#include <sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { F_INT, F_REAL, F_STR, F_OBJ } field_type;

typedef struct {
    const char *section; /* NULL = top level */
    const char *name;
    field_type type;
    int required;
    double def_num;      /* default for F_INT / F_REAL; -1 = absent unless given */
    const char *def_str; /* default for F_STR; for F_OBJ a JSON text; for a
                            number absent unless given, the value its absence
                            stands for (NULL: none) */
    double min, max;     /* inclusive range for numbers */
    const char *choices; /* F_STR: "a|b|c", or NULL for any string */
} field;

#define BIG 9.0e15
static const field fields[] = {
    {NULL, "objective", F_STR, 1, 0, NULL, 0, 0, "ar|mdm"},
    {NULL, "seed", F_INT, 0, 0, NULL, 0, BIG, NULL},
    {NULL, "model", F_OBJ, 1, 0, NULL, 0, 0, NULL},
    {NULL, "data", F_OBJ, 0, 0, "{}", 0, 0, NULL},
    {NULL, "train", F_OBJ, 0, 0, "{}", 0, 0, NULL},

    {"model", "name", F_STR, 0, 0, "", 0, 0, NULL},
    {"model", "layers", F_INT, 1, 0, NULL, 1, 1024, NULL},
    {"model", "dim", F_INT, 1, 0, NULL, 1, 65536, NULL},
    {"model", "heads", F_INT, 1, 0, NULL, 1, 1024, NULL},
    {"model", "hidden", F_INT, 0, 0, NULL, 0, 1 << 20, NULL},
    /* Fields added after runs existed are absent unless given and stand for
     * a neutral value when absent, so every earlier config keeps its key. */
    {"model", "experts", F_INT, 0, -1, "0", 0, 1024, NULL},
    {"model", "top_k", F_INT, 0, -1, "1", 1, 1024, NULL},

    {"data", "corpus", F_STR, 0, 0, "fortunes", 0, 0, NULL},
    {"data", "separator", F_STR, 0, 0, "", 0, 0, NULL},
    {"data", "text_field", F_STR, 0, 0, "text", 0, 0, NULL},
    {"data", "vocab", F_INT, 0, 512, NULL, 259, 1 << 20, NULL},
    {"data", "val_tokens", F_INT, 0, 50000, NULL, 1, BIG, NULL},
    {"data", "unique_tokens", F_INT, 0, 50000, NULL, 1, BIG, NULL},
    {"data", "order_seed", F_INT, 0, 0, NULL, 0, BIG, NULL},
    {"data", "quality", F_STR, 0, 0, "all", 0, 0, NULL},
    {"data", "quality_spec", F_OBJ, 0, 0, "{}", 0, 0, NULL},
    {"data", "cloze", F_OBJ, 0, 0, "{}", 0, 0, NULL},

    {"quality_spec", "degrade", F_REAL, 0, -1, NULL, 0, 1, NULL},
    {"quality_spec", "top", F_REAL, 0, -1, NULL, 0, 1, NULL},

    {"cloze", "items", F_INT, 0, 0, NULL, 0, 1e7, NULL},
    {"cloze", "context", F_INT, 0, 32, NULL, 1, 1e5, NULL},
    {"cloze", "candidates", F_INT, 0, 4, NULL, 2, 100, NULL},
    {"cloze", "length", F_INT, 0, 8, NULL, 1, 1e5, NULL},

    {"train", "seq_len", F_INT, 0, 128, NULL, 2, 1 << 16, NULL},
    {"train", "batch", F_INT, 0, 16, NULL, 1, 1 << 16, NULL},
    {"train", "epochs", F_REAL, 0, 1, NULL, 1e-9, 1e9, NULL},
    {"train", "lr", F_REAL, 0, 1e-3, NULL, 1e-12, 10, NULL},
    {"train", "min_lr_frac", F_REAL, 0, 0, NULL, 0, 1, NULL},
    {"train", "schedule", F_STR, 0, 0, "wsd", 0, 0, "wsd|cosine"},
    {"train", "warmup_frac", F_REAL, 0, 0.02, NULL, 0, 1, NULL},
    {"train", "decay_frac", F_REAL, 0, 0.2, NULL, 0, 1, NULL},
    {"train", "weight_decay", F_REAL, 0, 0.1, NULL, 0, 10, NULL},
    {"train", "clip", F_REAL, 0, 1.0, NULL, 0, 1e9, NULL},
    {"train", "beta1", F_REAL, 0, 0.9, NULL, 0, 0.999999, NULL},
    {"train", "beta2", F_REAL, 0, 0.95, NULL, 0, 0.999999, NULL},
    {"train", "adam_eps", F_REAL, 0, 1e-8, NULL, 1e-30, 1, NULL},
    {"train", "eval_every", F_REAL, 0, 1, NULL, 1e-9, 1e12, NULL},
    {"train", "eval_unit", F_STR, 0, 0, "epoch", 0, 0, "epoch|step|log"},
    {"train", "eval_draws", F_INT, 0, 8, NULL, 1, 1e6, NULL},
    {"train", "eval_estimator", F_STR, 0, 0, "exact", 0, 0, "exact|bernoulli"},
    {"train", "eval_seed", F_INT, 0, 1234, NULL, 0, BIG, NULL},
    {"train", "checkpoint_every", F_INT, 0, 0, NULL, 0, BIG, NULL},
    {"train", "capacity_factor", F_REAL, 0, -1, "0", 0, 1e6, NULL},
    {"train", "aux_loss_weight", F_REAL, 0, -1, "0.01", 0, 1e6, NULL},
    {"train", "input_mask", F_REAL, 0, -1, "0", 0, 0.99, NULL},
    {"train", "token_dropout", F_REAL, 0, -1, "0", 0, 0.99, NULL},
    {"train", "attn_dropout", F_REAL, 0, -1, "0", 0, 0.99, NULL},
    {"train", "resid_dropout", F_REAL, 0, -1, "0", 0, 0.99, NULL},
    {"train", "early_stop_margin", F_REAL, 0, -1, "0", 0, 1e6, NULL},
    /* The MDM's draws at a run's last evaluation (and an annealed branch's):
     * the point the crossover is decided on gets a smaller standard error
     * (README, "Evaluation error"). The last evaluation uses the larger of
     * this and eval_draws. */
    {"train", "final_eval_draws", F_INT, 0, -1, "16", 1, 1e6, NULL},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void path_of(char *buf, size_t n, const char *parent, const char *name)
{
    if (parent && *parent) snprintf(buf, n, "%s.%s", parent, name);
    else snprintf(buf, n, "%s", name);
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
    }
    return 0;
}

/* Resolve the object `obj` whose fields are those with section `section`;
 * `path` is its dotted name for messages. */
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
            /* Optional numbers with default -1 are "absent unless given". */
            if ((f->type == F_INT || f->type == F_REAL) && f->def_num < 0) continue;
            switch (f->type) {
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
    return 0;
}

int run_config_resolve(json_t *cfg, char *err, size_t errlen)
{
    if (!json_is_object(cfg)) {
        snprintf(err, errlen, "a run config must be a JSON object");
        return -1;
    }
    if (resolve_object(cfg, NULL, "", err, errlen)) return -1;

    /* Cross-field rules the table cannot say. */
    json_t *model = json_object_get(cfg, "model");
    json_int_t dim = json_integer_value(json_object_get(model, "dim"));
    json_int_t heads = json_integer_value(json_object_get(model, "heads"));
    if (dim % heads != 0) {
        snprintf(err, errlen, "model.dim (%lld) must be divisible by model.heads (%lld)",
                 (long long)dim, (long long)heads);
        return -1;
    }
    if ((dim / heads) % 2 != 0) {
        snprintf(err, errlen, "model.dim / model.heads (%lld) must be even for rotary positions",
                 (long long)(dim / heads));
        return -1;
    }
    double experts = run_config_number(cfg, "model.experts");
    double top_k = run_config_number(cfg, "model.top_k");
    if (top_k > (experts > 1 ? experts : 1)) {
        if (experts > 0)
            snprintf(err, errlen, "model.top_k (%g) must not exceed model.experts (%g)", top_k, experts);
        else
            snprintf(err, errlen, "model.top_k (%g) needs model.experts >= %g (a dense model routes nothing)",
                     top_k, top_k);
        return -1;
    }
    json_t *qs = json_object_get(json_object_get(cfg, "data"), "quality_spec");
    if (json_object_get(qs, "degrade") && json_object_get(qs, "top")) {
        snprintf(err, errlen, "data.quality_spec takes degrade or top, not both");
        return -1;
    }
    json_t *train = json_object_get(cfg, "train");
    double warm = json_number_value(json_object_get(train, "warmup_frac"));
    double decay = json_number_value(json_object_get(train, "decay_frac"));
    if (warm + decay > 1.0) {
        snprintf(err, errlen, "train.warmup_frac + train.decay_frac must not exceed 1 (%g + %g)",
                 warm, decay);
        return -1;
    }
    return 0;
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
