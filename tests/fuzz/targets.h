/*
 * targets.h — the fuzz targets' entry functions. Each takes any bytes and
 * must neither crash, leak, hang nor trip a sanitizer. Two callers:
 * tests/fuzz/fuzz_main.c (libFuzzer, `make fuzz`) and
 * tests/test_fuzz_replay.c (replays tests/fuzz/corpus/<target>/ in `make test`).
 */
#ifndef XOVER_FUZZ_TARGETS_H
#define XOVER_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

int fuzz_sweep(const uint8_t *data, size_t size);     /* sweep YAML parser, validator, planner */
int fuzz_expr(const uint8_t *data, size_t size);      /* derive-expression parser and evaluator */
int fuzz_metrics(const uint8_t *data, size_t size);   /* metrics lines: JSONL, and regex + lines */
int fuzz_corpus(const uint8_t *data, size_t size);    /* corpus ingestion: text, JSONL, gzip */
int fuzz_tokenizer(const uint8_t *data, size_t size); /* BPE training, encode/decode round trip, file loader */

typedef struct {
    const char *name;
    int (*fn)(const uint8_t *, size_t);
} fuzz_target;
extern const fuzz_target fuzz_targets[];

#endif
