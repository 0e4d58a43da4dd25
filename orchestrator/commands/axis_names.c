/*
 * axis_names.c — the one resolution of the axis names that table, plot and
 * report take (--rows, --cols, table's --where): a typed axis, or a config
 * field as a sweep file names it (commands.h, axis_resolve).
 */
#include "orchestrator/commands/commands.h"

#include "orchestrator/cli/cli.h"
#include "orchestrator/sweep/sweep.h"

#include <stdio.h>
#include <string.h>

int axis_resolve(const char *cmd, const an_pairs *ps, const char *opt, const char *name, char *out, size_t n)
{
    static const char *const typed[] = {"model", "params", "active_params", "unique_tokens", "quality",
                                        "epochs", "metric", NULL};
    /* config paths that are typed axes too: the typed one reads the column */
    static const struct { const char *path, *axis; } as_typed[] = {
        {"model.name", "model"}, {"data.quality", "quality"}, {"data.unique_tokens", "unique_tokens"},
        {"train.epochs", "epochs"}};
    for (int i = 0; typed[i]; i++)
        if (!strcmp(name, typed[i])) return snprintf(out, n, "%s", name), XO_OK;
    char path[160], hint[160];
    if (sweep_field_path(name, path, sizeof path, hint, sizeof hint) == 0) {
        snprintf(out, n, "%s", path);
        for (size_t i = 0; i < sizeof as_typed / sizeof *as_typed; i++)
            if (!strcmp(path, as_typed[i].path)) snprintf(out, n, "%s", as_typed[i].axis);
        return XO_OK;
    }
    /* A field of an external trainer's config is known when a pair has it;
     * with no pairs to ask (ps NULL: they are not read yet) a dotted path
     * is taken as given. */
    if (strchr(name, '.') && !ps) return snprintf(out, n, "%s", name), XO_OK;
    db_value v;
    char buf[64];
    for (size_t i = 0; strchr(name, '.') && i < ps->n; i++)
        if (an_pair_axis(&ps->p[i], name, &v, buf, sizeof buf) == 0) return snprintf(out, n, "%s", name), XO_OK;
    return cli_usage_error(cmd, "%s '%s': not an axis nor a field of the run config (model, params, "
                           "unique_tokens, quality, epochs, or a config field as a sweep names it: lr, "
                           "train.lr, model.dim)%s%s%s", opt, name, *hint ? "; did you mean '" : "", hint,
                           *hint ? "'?" : "");
}
