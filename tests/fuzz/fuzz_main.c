/*
 * fuzz_main.c — the libFuzzer entry point of one target, chosen at compile
 * time with -DFUZZ_TARGET=fuzz_sweep (see `make fuzz`).
 */
#include "tests/fuzz/targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return FUZZ_TARGET(data, size); }
