/*
 * run_config.h — the resolved run config (docs/run-config.md): the contract
 * between the sweep orchestrator that writes config.json and `xover train`
 * that reads it.
 */
#ifndef XOVER_RUN_CONFIG_H
#define XOVER_RUN_CONFIG_H

#include <jansson.h>
#include <stddef.h>

/* Check every field of `cfg` (modified in place) and fill every default, so
 * that a partial config resolves to the full one. Unknown keys, wrong types
 * and out-of-range values are errors: returns 0 on success, -1 with a message
 * naming the field (e.g. "train.lr must be a positive number, not \"x\"")
 * in err. */
int run_config_resolve(json_t *cfg, char *err, size_t errlen);

/* Fields added after runs existed (model.experts, train.input_mask, ...) are
 * absent from a config unless given, so earlier configs keep their keys;
 * their absence stands for a neutral value (docs/run-config.md).
 *
 * The number at dotted path `path` ("model.experts") of a resolved config:
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
