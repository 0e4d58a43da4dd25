/*
 * cmd_export_model.c — `xover export-model RUN -o DIR`: a trained run's
 * model as safetensors weights, config and tokenizer (docs/export.md; the
 * files are the run module's, run/export_model.c).
 *
 * A command of its own rather than a format of `xover export`: that one
 * writes the database's metric points to a file, this one reads a run's
 * checkpoint and data and writes a directory; they share no option but
 * --format and -o.
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/db/db.h"
#include "orchestrator/exec/exec.h"
#include "orchestrator/run/run.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int take_run_dir(void *ctx, const db_run_info *r)
{
    snprintf(ctx, PATH_MAX, "%s", r->run_dir ? r->run_dir : "");
    return 0;
}

/* RUN is a run directory, or a run key (a prefix will do) whose directory
 * the database knows. */
static int find_run_dir(const char *run, const char *dbopt, char dir[PATH_MAX], char key[65])
{
    struct stat sb;
    run_path cfg = rundir_path(run, RUN_CONFIG);
    key[0] = 0;
    if (stat(run, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        if (stat(cfg.s, &sb) != 0) return cli_error(XO_USAGE, "%s is not a run directory (it has no config.json)", run);
        char st[PATH_MAX + 32];
        snprintf(st, sizeof st, "%s/model.safetensors", run);
        if (stat(st, &sb) == 0) return cli_error(XO_USAGE, "%s is a model export, not a run directory", run);
        snprintf(dir, PATH_MAX, "%s", run);
        /* A sweep's run directory is named by its key. */
        const char *base = strrchr(run, '/');
        base = base ? base + 1 : run;
        if (strlen(base) == 64 && strspn(base, "0123456789abcdef") == 64) memcpy(key, base, 65);
        return XO_OK;
    }
    const char *path = cli_db_path(dbopt);
    if (strspn(run, "0123456789abcdef") != strlen(run) || stat(path, &sb) != 0)
        return cli_error(XO_USAGE, "'%s' is neither a run directory nor a run key in %s", run, path);
    char err[1024];
    db *d = db_open(path, DB_READONLY, err, sizeof err);
    if (!d) return cli_error(XO_USAGE, "%s", err);
    int rc = exec_find_run(d, run, key);
    dir[0] = 0;
    if (rc == XO_OK && db_run_by_key(d, key, take_run_dir, dir)) rc = cli_error(XO_FAILED, "%s", db_errmsg(d));
    db_close(d);
    if (rc == XO_OK && !dir[0]) rc = cli_error(XO_USAGE, "run %.12s has not started: it has no run directory", key);
    return rc;
}

int cmd_export_model(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, 0, 'f'},
                                         {"output", required_argument, 0, 'o'},
                                         {"db", required_argument, 0, 'd'},
                                         {"cache", required_argument, 0, 'C'},
                                         {0, 0, 0, 0}};
    const char *format = "safetensors", *out = NULL, *dbopt = NULL, *cache = NULL;
    int c;
    cli_reset_getopt();
    while ((c = cli_getopt("export-model", argc, argv, "f:o:", opts)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 'o': out = optarg; break;
        case 'd': dbopt = optarg; break;
        case 'C': cache = optarg; break;
        default: return XO_USAGE;
        }
    }
    if (strcmp(format, "safetensors") != 0)
        return cli_usage_error("export-model", "--format must be safetensors (the only one), not '%s'", format);
    if (argc - optind != 1) return cli_usage_error("export-model", "expected one RUN (a run directory or a run key)");
    if (!out || !*out) return cli_usage_error("export-model", "-o DIR is required");
    char dir[PATH_MAX], key[65], err[8192];
    int rc = find_run_dir(argv[optind], dbopt, dir, key);
    if (rc != XO_OK) return rc;
    run_export_opts o = {dir, out, cache, key};
    rc = run_export_model(&o, err, sizeof err);
    if (rc != XO_OK) return cli_error(rc, "%s", err);
    return XO_OK;
}

const cli_command cmd_export_model_def = {"export-model", cmd_export_model,
     "write a trained run's model as safetensors, config and tokenizer for other tools",
     "usage: xover export-model RUN -o DIR [--format safetensors] [--db PATH] [--cache DIR]\n\n"
     "RUN is a run directory (runs/SWEEP/KEY, or a `xover train --out`) or a run key\n"
     "(any unambiguous prefix) whose directory the database knows. DIR gets, from the\n"
     "run's last checkpoint:\n"
     "  model.safetensors      the weights, unpadded, under Hugging Face Llama's names\n"
     "                         (model.layers.0.self_attn.q_proj.weight [dim, dim], ...)\n"
     "  config.json            the shape (hidden_size, num_hidden_layers, ...), and under\n"
     "                         \"xover\" the objective, attention, special ids and run config\n"
     "  tokenizer.json         the byte-level BPE: vocab + merges (Hugging Face's format)\n"
     "  val_batch.safetensors  one validation batch, the rows xover scores and its loss,\n"
     "                         to check a reimplementation against\n"
     "DIR is written as a whole or not at all; an earlier export there is replaced.\n"
     "docs/export.md loads it in PyTorch (docs/load_export.py).\n\n"
     "  -f, --format F     safetensors (the default and only format)\n"
     "  -o, --output DIR   the export directory (new, empty, or an earlier export)\n"
     "  --db PATH          the database, for a run key (default: $XOVER_DB, else ./xover.db)\n"
     "  --cache DIR        tokenizer and token caches (default $XOVER_CACHE or .cache/xover)\n"};
