/*
 * test_fuzz_replay.c — every input of the committed fuzz corpora
 * (tests/fuzz/corpus/<target>/: seeds and the corpus the fuzzers grew) and
 * every input that once crashed a target (tests/fuzz/crashers/<target>/)
 * fed through the same entry functions libFuzzer calls, under this build's
 * ASan and UBSan. `make fuzz` builds the fuzzers themselves (clang); this
 * needs only gcc. docs/reliability.md has the figures.
 */
#include "tests/harness.h"

/* The targets are compiled into this test rather than into the library:
 * they are test code. */
#include "tests/fuzz/targets.c"

#include <dirent.h>

/* Feed every regular file of dir to fn; returns how many (-1: no dir). */
static int replay_dir(const char *dir, int (*fn)(const uint8_t *, size_t))
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len = 0;
        char *data = harness_slurp(path, &len);
        if (!data) continue;
        fn((const uint8_t *)data, len);
        free(data);
        n++;
    }
    closedir(d);
    return n;
}

static int replay(const char *target)
{
    int (*fn)(const uint8_t *, size_t) = NULL;
    for (const fuzz_target *t = fuzz_targets; t->name; t++)
        if (!strcmp(t->name, target)) fn = t->fn;
    if (!fn) return -1;
    char dir[256];
    snprintf(dir, sizeof dir, "tests/fuzz/corpus/%s", target);
    int n = replay_dir(dir, fn);
    snprintf(dir, sizeof dir, "tests/fuzz/crashers/%s", target);
    int c = replay_dir(dir, fn);
    return n < 0 ? -1 : n + (c > 0 ? c : 0);
}

TEST(fuzz_replay_sweep) { CHECK(replay("sweep") >= 4); }
TEST(fuzz_replay_expr) { CHECK(replay("expr") >= 4); }
TEST(fuzz_replay_metrics) { CHECK(replay("metrics") >= 4); }
TEST(fuzz_replay_corpus) { CHECK(replay("corpus") >= 5); }
TEST(fuzz_replay_tokenizer) { CHECK(replay("tokenizer") >= 4); }

/* The crashers found so far, replayed by name so a lost file is noticed. */
TEST(fuzz_replay_metrics_huge_tokens_is_not_ub)
{
    /* {"tokens": 1e300}: converting it to long long was undefined. */
    static const char in[] = "\x02{\"step\": 1, \"tokens\": 1e300, \"train_loss\": 1}\n";
    CHECK_INT(fuzz_metrics((const uint8_t *)in, sizeof in - 1), 0);
    static const char re[] = "\x03step (?<step>[-\\d.e]+) loss (?<loss>\\S+)\nstep 1e300 loss 1\nstep -5 loss 2\n";
    CHECK_INT(fuzz_metrics((const uint8_t *)re, sizeof re - 1), 0);
}
