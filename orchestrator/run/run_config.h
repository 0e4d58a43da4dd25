/*
 * run_config.h — the resolved run config (docs/run-config.md): the contract
 * between the sweep orchestrator that writes config.json and `xover train`
 * that reads it.
 */
#ifndef XOVER_RUN_CONFIG_H
#define XOVER_RUN_CONFIG_H

#include <jansson.h>
#include <stddef.h>

/* ---- the fields ----------------------------------------------------------
 *
 * Every field of a run config, once: its type, default and range. The
 * checks (run_config_resolve), the defaults, the typed view (run_cfg,
 * run_config_read) and the field list the sweep language accepts are all
 * made from these lists, so adding a field is one line here (and one on
 * docs/run-config.md).
 *
 *   X(name, TYPE, required, default, text, min, max, choices)
 *     TYPE     INT (a whole number), REAL, STR, LIST (increasing numbers
 *              in min..max), or OBJ (a section: its fields are the list
 *              of that name)
 *     default  for a number; -1 = absent unless given (below; a LIST is
 *              always, a STR with -1 too)
 *     text     STR: its default; OBJ: its default as JSON; a number absent
 *              unless given: the value its absence stands for (NULL: none)
 *     min, max a number's inclusive range
 *     choices  STR: "a|b|c", or NULL for any string
 *
 * Fields added after runs existed (model.experts, train.input_mask, ...) are
 * absent unless given, so every earlier config keeps its key; their absence
 * stands for a neutral value (docs/run-config.md).
 */
#define RUN_CONFIG_BIG 9.0e15

#define RUN_CONFIG_TOP(X)                                         \
    X(objective, STR, 1, 0, NULL, 0, 0, "ar|mdm")                 \
    X(seed, INT, 0, 0, NULL, 0, RUN_CONFIG_BIG, NULL)             \
    X(model, OBJ, 1, 0, NULL, 0, 0, NULL)                         \
    X(data, OBJ, 0, 0, "{}", 0, 0, NULL)                          \
    X(train, OBJ, 0, 0, "{}", 0, 0, NULL)

#define RUN_CONFIG_MODEL(X)                                       \
    X(name, STR, 0, 0, "", 0, 0, NULL)                            \
    X(layers, INT, 1, 0, NULL, 1, 1024, NULL)                     \
    X(dim, INT, 1, 0, NULL, 1, 65536, NULL)                       \
    X(heads, INT, 1, 0, NULL, 1, 1024, NULL)                      \
    X(hidden, INT, 0, 0, NULL, 0, 1 << 20, NULL)                  \
    X(experts, INT, 0, -1, "0", 0, 1024, NULL)                    \
    X(top_k, INT, 0, -1, "1", 1, 1024, NULL)                      \
    /* the plateau probes (models.h, model_config) */             \
    X(init_std, REAL, 0, -1, "0.02", 1e-6, 10, NULL)              \
    X(attn_scale, REAL, 0, -1, "1", 1e-3, 1e3, NULL)

#define RUN_CONFIG_DATA(X)                                        \
    X(corpus, STR, 0, 0, "fortunes", 0, 0, NULL)                  \
    X(separator, STR, 0, 0, "", 0, 0, NULL)                       \
    X(text_field, STR, 0, 0, "text", 0, 0, NULL)                  \
    X(vocab, INT, 0, 512, NULL, 259, 1 << 20, NULL)               \
    X(val_tokens, INT, 0, 50000, NULL, 1, RUN_CONFIG_BIG, NULL)   \
    X(unique_tokens, INT, 0, 50000, NULL, 1, RUN_CONFIG_BIG, NULL) \
    X(order_seed, INT, 0, 0, NULL, 0, RUN_CONFIG_BIG, NULL)       \
    X(quality, STR, 0, 0, "all", 0, 0, NULL)                      \
    X(quality_spec, OBJ, 0, 0, "{}", 0, 0, NULL)                  \
    X(cloze, OBJ, 0, 0, "{}", 0, 0, NULL)

/* A quality tier: at most one of the two (run_config_resolve); top keeps
 * the best share of the documents, so it must be above 0. */
#define RUN_CONFIG_QUALITY_SPEC(X)                                \
    X(degrade, REAL, 0, -1, "0", 0, 1, NULL)                      \
    X(top, REAL, 0, -1, "1", 1e-9, 1, NULL)

#define RUN_CONFIG_CLOZE(X)                                       \
    X(items, INT, 0, 0, NULL, 0, 1e6, NULL)                       \
    X(context, INT, 0, 32, NULL, 1, 1e5, NULL)                    \
    X(candidates, INT, 0, 4, NULL, 2, 100, NULL)                  \
    X(length, INT, 0, 8, NULL, 1, 1e5, NULL)                      \
    X(pool_tokens, INT, 0, -1, "0", 1, RUN_CONFIG_BIG, NULL)      \
    X(final_items, INT, 0, -1, "0", 1, 1e6, NULL)
/* pool_tokens: a held-out cloze pool of its own, after the validation
 * documents and never in any training budget (0: items from the validation
 * documents); final_items: the items of a run's last evaluation, where
 * final_eval_draws applies (absent, standing for 0: items), the first `items` of them at
 * every other evaluation (docs/run-config.md). At most a million items:
 * their outcomes (mc_correct, a hex digit per 4) keep a metrics line well
 * under the ingest's 1 MiB line limit. */

#define RUN_CONFIG_TRAIN(X)                                                  \
    X(seq_len, INT, 0, 128, NULL, 2, 1 << 16, NULL)                          \
    X(batch, INT, 0, 16, NULL, 1, 1 << 16, NULL)                             \
    X(epochs, REAL, 0, 1, NULL, 1e-9, 1e9, NULL)                             \
    X(lr, REAL, 0, 1e-3, NULL, 1e-12, 10, NULL)                              \
    X(min_lr_frac, REAL, 0, 0, NULL, 0, 1, NULL)                             \
    X(schedule, STR, 0, 0, "wsd", 0, 0, "wsd|cosine")                        \
    X(warmup_frac, REAL, 0, 0.02, NULL, 0, 1, NULL)                          \
    X(decay_frac, REAL, 0, 0.2, NULL, 0, 1, NULL)                            \
    X(weight_decay, REAL, 0, 0.1, NULL, 0, 10, NULL)                         \
    X(clip, REAL, 0, 1.0, NULL, 0, 1e9, NULL)                                \
    X(beta1, REAL, 0, 0.9, NULL, 0, 0.999999, NULL)                          \
    X(beta2, REAL, 0, 0.95, NULL, 0, 0.999999, NULL)                         \
    X(adam_eps, REAL, 0, 1e-8, NULL, 1e-30, 1, NULL)                         \
    X(eval_every, REAL, 0, 1, NULL, 1e-9, 1e12, NULL)                        \
    X(eval_unit, STR, 0, 0, "epoch", 0, 0, "epoch|step|log")                 \
    X(eval_draws, INT, 0, 8, NULL, 1, 1e6, NULL)                             \
    X(eval_estimator, STR, 0, 0, "exact", 0, 0, "exact|bernoulli")           \
    X(eval_seed, INT, 0, 1234, NULL, 0, RUN_CONFIG_BIG, NULL)                \
    X(checkpoint_every, INT, 0, 0, NULL, 0, RUN_CONFIG_BIG, NULL)            \
    X(capacity_factor, REAL, 0, -1, "0", 0, 1e6, NULL)                       \
    X(aux_loss_weight, REAL, 0, -1, "0.01", 0, 1e6, NULL)                    \
    X(input_mask, REAL, 0, -1, "0", 0, 0.99, NULL)                           \
    X(token_dropout, REAL, 0, -1, "0", 0, 0.99, NULL)                        \
    X(attn_dropout, REAL, 0, -1, "0", 0, 0.99, NULL)                         \
    X(resid_dropout, REAL, 0, -1, "0", 0, 0.99, NULL)                        \
    X(early_stop_margin, REAL, 0, -1, "0", 0, 1e6, NULL)                     \
    X(mask_eps, REAL, 0, -1, "0.001", 1e-6, 0.99, NULL)                      \
    /* annealed branches (docs/sweep.md, orchestrator/run/anneal.h) */      \
    X(warmup_epochs, REAL, 0, -1, NULL, 0, 1e9, NULL)                        \
    X(cooldown_evals, INT, 0, -1, "0", 0, 1e6, NULL)                         \
    X(log_every, REAL, 0, -1, NULL, 1e-9, 1e12, NULL)                        \
    X(anneal_at, LIST, 0, -1, NULL, 1e-9, 1e9, NULL)                         \
    X(branch_of, STR, 0, -1, NULL, 0, 0, NULL)                               \
    X(final_eval_draws, INT, 0, -1, "16", 1, 1e6, NULL)
/* final_eval_draws: the MDM's mask draws at a run's last evaluation (the
 * larger of it and eval_draws), where a crossover is decided: a smaller
 * standard error for one longer evaluation (docs/run-config.md). */

/* ---- the typed view --------------------------------------------------------
 *
 * run_cfg has one member per field of the lists above, by the same name in
 * the same nesting (rc.train.lr, rc.data.quality_spec.top). */
#define RUN_CONFIG_MEMBER_INT(n) long long n;
#define RUN_CONFIG_MEMBER_REAL(n) double n;
#define RUN_CONFIG_MEMBER_STR(n) const char *n;
#define RUN_CONFIG_MEMBER_LIST(n) const json_t *n; /* NULL when absent */
#define RUN_CONFIG_MEMBER_OBJ(n) /* a section: a struct of its own below */
#define RUN_CONFIG_MEMBER(name, type, ...) RUN_CONFIG_MEMBER_##type(name)

typedef struct {
    RUN_CONFIG_TOP(RUN_CONFIG_MEMBER)
    struct {
        RUN_CONFIG_MODEL(RUN_CONFIG_MEMBER)
    } model;
    struct {
        RUN_CONFIG_DATA(RUN_CONFIG_MEMBER)
        struct {
            RUN_CONFIG_QUALITY_SPEC(RUN_CONFIG_MEMBER)
        } quality_spec;
        struct {
            RUN_CONFIG_CLOZE(RUN_CONFIG_MEMBER)
        } cloze;
    } data;
    struct {
        RUN_CONFIG_TRAIN(RUN_CONFIG_MEMBER)
    } train;
} run_cfg;

/* Read cfg into *rc: each field its value, else what its absence stands
 * for, else its default (a missing required field reads as 0 or ""), so a
 * partial config reads too (a missing section: all defaults). Every field
 * present is checked as run_config_resolve checks it; unknown keys and the
 * rules across fields are resolve's alone. Strings point into cfg or are
 * static. 0, or -1 with a message naming the field in err. */
int run_config_read(const json_t *cfg, run_cfg *rc, char *err, size_t errlen);

/* ---- resolving ------------------------------------------------------------ */

/* Check every field of `cfg` (modified in place) and fill every default, so
 * that a partial config resolves to the full one. Unknown keys, wrong types
 * and out-of-range values are errors: returns 0 on success, -1 with a message
 * naming the field (e.g. "train.lr must be a positive number, not \"x\"")
 * in err. */
int run_config_resolve(json_t *cfg, char *err, size_t errlen);

/* Resolve one section alone, as run_config_resolve resolves it inside a
 * config: section is "data", "quality_spec", ...; path names it in
 * messages ("data.quality.high"). For `xover data`, which reads data
 * sections and quality tiers outside run configs. */
int run_config_resolve_section(json_t *obj, const char *section, const char *path, char *err, size_t errlen);

/* The number at dotted path `path` ("model.experts") of a resolved config:
 * its value, else what its absence stands for, else its default; NaN when
 * the path names no numeric field. */
double run_config_number(const json_t *cfg, const char *path);
/* What the absence of field `path` stands for, into *v: 0, or -1 when the
 * field is not one of those absent unless given. */
int run_config_absent_value(const char *path, double *v);
/* Write those stand-in values into a resolved config where absent (for
 * listing every field, e.g. the sweep's table of axes; never for a run's
 * own config, whose key would change). */
void run_config_fill_absent(json_t *cfg);

/* The canonical text of a resolved config: sorted keys, compact, numbers
 * normalised (integral reals print as integers). Caller frees. */
char *run_config_canonical(const json_t *cfg);

/* The run key: lowercase hex SHA-256 of the canonical text (65 bytes). */
void run_config_key(const json_t *cfg, char key[65]);

#endif
