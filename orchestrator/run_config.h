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

/* The canonical text of a resolved config: sorted keys, compact, numbers
 * normalised (integral reals print as integers). Caller frees. */
char *run_config_canonical(const json_t *cfg);

/* The run key: lowercase hex SHA-256 of the canonical text (65 bytes). */
void run_config_key(const json_t *cfg, char key[65]);

#endif
