/*
 * test_sweep_errors.c — every kind of bad sweep is refused with
 * file:line:column and what was expected.
 */
#include "tests/harness.h"
#include "orchestrator/sweep/sweep.h"

#include <stdlib.h>

#define M "models: {xs: {layers: 1, dim: 16, heads: 2}}\n"

static const struct {
    const char *yaml;
    const char *msg; /* expected: "t.yaml:L:C: ..." prefix + substring */
} cases[] = {
    /* unknown keys, with did-you-mean */
    {"sweep: t\n" M "grdi: {objective: ar}\n", "t.yaml:3:1: sweep file: unknown key 'grdi'; did you mean 'grid'?"},
    {"sweep: t\n" M "train: {lr: 1e-3, bacth: 4}\ngrid: {objective: ar}\n",
     "t.yaml:3:19: train: unknown key 'bacth'; did you mean 'batch'?"},
    {"sweep: t\n" M "data: {vocab: 300, corpsu: synthetic}\ngrid: {objective: ar}\n",
     "t.yaml:3:20: data: unknown key 'corpsu'; did you mean 'corpus'?"},
    {"sweep: t\nmodels: {xs: {layers: 1, dims: 16, heads: 2}}\ngrid: {objective: ar}\n",
     "t.yaml:2:26: models.xs: unknown key 'dims'; did you mean 'dim'?"},
    {"sweep: t\n" M "grid: {objective: ar, learnig_rate: [1, 2]}\n",
     "t.yaml:3:23: axis 'learnig_rate' is not a run-config field"},
    /* wrong types */
    {"sweep: t\n" M "train: {lr: fast}\ngrid: {objective: ar}\n",
     "t.yaml:3:13: train.lr must be a number (e.g. 25k, 1.5M, 1e-3), not 'fast'"},
    {"sweep: t\n" M "train: {batch: 2.5}\ngrid: {objective: ar}\n", "t.yaml:3:16: train.batch must be a whole number"},
    {"sweep: t\n" M "grid: {objective: ar, unique_tokens: [10k, lots]}\n",
     "t.yaml:3:44: a value of axis 'unique_tokens' must be a number"},
    {"sweep: t\n" M "grid: [objective]\n", "t.yaml:3:7: grid must be a mapping, not a list"},
    {"sweep: [a]\n" M "grid: {objective: ar}\n", "t.yaml:1:8: sweep must be a single value, not a list"},
    {"sweep: t\n" M "grid: {objective: ar}\nseeds: many\n", "t.yaml:4:8: seeds must be a count"},
    /* range, found by run_config_resolve and pointed back at the YAML */
    {"sweep: t\n" M "train:\n  warmup_frac: 0.5\n  decay_frac: 0.7\ngrid: {objective: ar}\n",
     "t.yaml:4:16: train.warmup_frac + train.decay_frac must not exceed 1"},
    {"sweep: t\n" M "train: {lr: 100}\ngrid: {objective: ar}\n", "t.yaml:3:13: train.lr must be between"},
    {"sweep: t\n" M "grid: {objective: [ar, gpt]}\n", "t.yaml:3:24: run objective=gpt: objective must be one of ar|mdm"},
    {"sweep: t\nmodels: {xs: {layers: 1, dim: 16, heads: 3}}\ngrid: {objective: ar}\n",
     "t.yaml:2:14: models.xs: model.dim (16) must be divisible by model.heads (3)"},
    /* zip of unequal lengths */
    {"sweep: t\n" M "grid: {objective: ar, lr: [1e-3, 2e-3], batch: [4, 8, 16]}\nzip: [[lr, batch]]\n",
     "t.yaml:3:41: zip: axes of one group need as many values each: 'lr' has 2, 'batch' has 3"},
    {"sweep: t\n" M "grid: {objective: ar, lr: [1e-3, 2e-3]}\nzip: [[lr, bacth]]\n",
     "t.yaml:4:12: zip: 'bacth' is not an axis of grid"},
    /* derive */
    {"sweep: t\n" M "grid: {objective: ar, total: [1M]}\nderive: {epochs: total / uniq_tokens}\n",
     "t.yaml:4:26: derive epochs: unknown name 'uniq_tokens'; did you mean 'unique_tokens'?"},
    {"sweep: t\n" M "grid: {objective: ar}\nderive: {epochs: '2 * (3 + '}\n",
     "t.yaml:4:28: derive epochs: expression ends too early"},
    {"sweep: t\n" M "grid: {objective: [ar, mdm]}\nderive: {epochs: objective * 2}\n",
     "t.yaml:4:18: derive epochs: axis 'objective' is not numeric"},
    {"sweep: t\n" M "grid: {objective: ar, u: [0, 1]}\nderive: {epochs: 10 / u}\n",
     "t.yaml:4:18: derive epochs = 10 / u has no finite value (division by zero?) for run u=0"},
    {"sweep: t\n" M "grid: {objective: ar}\nderive: {a: b + 1, b: a + 1, epochs: a}\n",
     "t.yaml:4:13: derive a: the expressions depend on each other in a cycle"},
    {"sweep: t\n" M "grid: {objective: ar, lr: [1e-3]}\nderive: {lr: 2e-3}\n",
     "t.yaml:4:10: derive: 'lr' is already set by axis 'lr'"},
    /* models */
    {"sweep: t\n" M "grid: {objective: ar, model: [xs, xss]}\n",
     "t.yaml:3:35: model 'xss' is not defined in models:; did you mean 'xs'?"},
    {"sweep: t\nmodels: {d64: {layers: 1, dim: 16, heads: 2}, d32: {layers: 1, dim: 8, heads: 2}}\n"
     "grid: {objective: ar, model: [d46]}\n",
     "t.yaml:3:31: model 'd46' is not defined in models:; did you mean 'd64'?"},
    {"sweep: t\n" M "grid: {objective: ar, model: [large]}\n",
     "t.yaml:3:31: model 'large' is not defined in models:, which defines xs"},
    {"sweep: t\nmodels: {xs: {layers: 1, dim: 16, heads: 2}, s: {layers: 2, dim: 32, heads: 2}}\ngrid: {objective: ar}\n",
     "t.yaml:2:9: models: defines 2 sizes but no axis picks one"},
    {"sweep: t\n" "data: {quality: {high: {degrade: 0}}}\n" M "grid: {objective: ar, quality: [hihg]}\n",
     "t.yaml:4:33: quality tier 'hihg' is not defined in data.quality; did you mean 'high'?"},
    /* exclude / include */
    {"sweep: t\n" M "grid: {objective: [ar, mdm]}\nexclude: [{objectiv: ar}]\n",
     "t.yaml:4:12: exclude: 'objectiv' is not an axis of this sweep; did you mean 'objective'?"},
    {"sweep: t\n" M "grid: {objective: [ar, mdm], unique_tokens: [10k, 20k]}\nexclude: [{unique_tokens: 30k}]\n",
     "t.yaml:4:27: exclude: '30k' is not a value of axis 'unique_tokens' (10k, 20k)"},
    {"sweep: t\n" M "grid: {objective: ar}\ninclude: [{objective: mdm, lrr: 1}]\n",
     "t.yaml:4:28: include: 'lrr' is not an axis of this sweep"},
    /* trainer */
    {"sweep: t\n" M "grid: {objective: ar}\ntrainer: {command: [python3, t.py, '{lr}', '{lrr}']}\n",
     "t.yaml:4:44: trainer: unknown placeholder '{lrr}'; did you mean '{lr}'?"},
    {"sweep: t\n" M "grid: {objective: ar}\ntrainer: {command: [sh], metrics: {regex: 'loss (?<loss>[0-9.]+'}}\n",
     "t.yaml:4:43: trainer.metrics.regex does not compile"},
    {"sweep: t\n" M "grid: {objective: ar}\ntrainer: {command: [sh], metrics: {regex: 'loss ([0-9.]+)'}}\n",
     "t.yaml:4:43: trainer.metrics.regex needs named groups"},
    {"sweep: t\n" M "grid: {objective: ar}\ntrainer: {command: [sh], metrics: csv}\n",
     "t.yaml:4:35: trainer.metrics must be 'jsonl' or {regex: '...'}"},
    /* missing pieces, duplicates, malformed YAML */
    {M "grid: {objective: ar}\n", "t.yaml:1:1: missing 'sweep: NAME'"},
    {"sweep: t\n" M "grid: {model: xs}\n", "t.yaml:3:7: no objective: add 'objective: [ar, mdm]'"},
    {"sweep: t\n" M "grid: {objective: ar}\ngrid: {objective: mdm}\n", "t.yaml:4:1: sweep file: 'grid' is given twice"},
    {"sweep: t\n" M "grid: {objective: ar\n", "t.yaml:4:1: did not find expected ',' or '}'"},
    {"sweep: ../x\n" M "grid: {objective: ar}\n", "t.yaml:1:8: sweep name '../x' must be letters"},
    {"sweep: t\n" M "grid: {objective: ar, seed: [1]}\nseeds: 2\n",
     "t.yaml:4:8: seeds: the grid already has a 'seed' axis (line 3)"},
    {"sweep: t\n" M "grid: {objective: ar, data: [1]}\n", "t.yaml:3:23: 'data' is a section of the config, not an axis"},
};

TEST(sweep_every_validation_error_names_line_and_column)
{
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[1024] = "";
        sweep *s = sweep_parse("t.yaml", cases[i].yaml, strlen(cases[i].yaml), err, sizeof err);
        sweep_plan *p = NULL;
        if (s) p = sweep_expand(s, 0, err, sizeof err);
        if (p) {
            fprintf(stderr, "case %zu was accepted:\n%s", i, cases[i].yaml);
            sweep_plan_free(p);
            sweep_free(s);
            bad++;
            continue;
        }
        sweep_free(s);
        /* the position is the prefix, the message follows */
        const char *colon = strstr(cases[i].msg, ": ");
        size_t plen = (size_t)(colon - cases[i].msg);
        if (strncmp(err, cases[i].msg, plen) || !strstr(err, colon + 2)) {
            fprintf(stderr, "case %zu: got  %s\n         want %s\n", i, err, cases[i].msg);
            bad++;
        }
    }
    CHECK_INT(bad, 0);
}

TEST(sweep_load_names_a_missing_file)
{
    char err[512] = "";
    CHECK(sweep_load("/nonexistent/sweep.yaml", err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "cannot open sweep '/nonexistent/sweep.yaml'");
}
