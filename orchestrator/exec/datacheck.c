/*
 * datacheck.c — before a sweep runs (and when it is planned): does every
 * corpus its runs read exist, hold documents, and give each run its
 * unique-token budget and validation set? Without this a missing or small
 * corpus was found by every run at its start, each failing with exit 1.
 *
 * One run per distinct data (sweep_plan_data_groups) is opened as
 * `xover train` would open it (train_source_open). That prepares, or finds,
 * the corpus's cached tokenizer and tokens, which the runs then reuse: a
 * large corpus is read once, here, not once here and again per run.
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/exec/internal.h"
#include "orchestrator/run/train_source.h"

#include <stdlib.h>

int exec_check_data(const sweep_plan *p, const unsigned char *only)
{
    const sweep *s = sweep_plan_sweep(p);
    if (sweep_trainer(s).external) return XO_OK; /* its data is its own */
    size_t n = 0;
    size_t *reps = sweep_plan_data_groups(p, only, &n);
    if (!reps) return cli_error(XO_FAILED, "out of memory");
    int rc = XO_OK;
    for (size_t k = 0; k < n && rc == XO_OK; k++) {
        char err[1024], who[512];
        json_t *cfg = sweep_plan_config(p, reps[k], err, sizeof err);
        train_source *src = cfg ? train_source_open(cfg, NULL, err, sizeof err) : NULL;
        if (!src) {
            exec_describe_run(p, reps[k], who, sizeof who);
            rc = cli_error(XO_USAGE, "%s: %s%s%s%s", sweep_path(s), *who ? "run " : "", who, *who ? ": " : "", err);
        }
        train_source_close(src);
        json_decref(cfg);
    }
    free(reps);
    return rc;
}
