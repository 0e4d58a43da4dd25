/*
 * cmd_run.c — `xover run SWEEP.yaml`: plan the sweep and run what is not
 * done yet on worker processes (orchestrator/exec/driver.c), or, with
 * --backend slurm, as Slurm job arrays (orchestrator/exec/slurm.c).
 */
#include "orchestrator/analysis/analysis.h"
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/util/util.h"
#include "orchestrator/exec/exec.h"
#include "orchestrator/sweep/sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The longest --timeout: a year. Longer is a typo (or 1e999), and Slurm's
 * --time, which it becomes, is in minutes of a signed integer. */
#define RUN_MAX_TIMEOUT (365 * 86400.0)

/* Slurm's time limit formats: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS. */
static int slurm_time_ok(const char *s)
{
    if (!strcmp(s, "UNLIMITED") || !strcmp(s, "INFINITE")) return 1;
    const char *p = s;
    size_t d = strspn(p, "0123456789");
    if (!d) return 0;
    int days = p[d] == '-';
    if (days) p += d + 1;
    int parts = 0;
    for (;;) {
        size_t n = strspn(p, "0123456789");
        if (!n) return 0;
        parts++;
        p += n;
        if (!*p) break;
        if (*p++ != ':') return 0;
    }
    return parts <= 3;
}

/* What the command line asked for. The two lists' strings point into argv
 * (a comma list cut in place); only the arrays are allocated (run_args_free). */
typedef struct {
    exec_options o;
    exec_slurm_options so;
    int slurm, slurm_opt;
    const char *dbopt, *path;
    char **only;        /* grown as keys come: one --only a,b,c holds many */
    size_t nonly, cap_only;
    const char **sargs;
    an_live live;         /* --report DIR: the HTML report, kept current while it runs */
} run_args;

static void run_args_free(run_args *a)
{
    free(a->only);
    free(a->sargs);
}

/* One option of the Slurm backend's: XO_OK, XO_USAGE (said), or -1 when
 * `c` is not one of them. */
static int parse_slurm_option(int c, const char *arg, run_args *a)
{
    exec_slurm_options *so = &a->so;
    long long v;
    switch (c) {
    case 'P':
        if (!*arg) return cli_usage_error("run", "--partition expects a partition name");
        so->partition = arg;
        break;
    case 'T':
        if (!slurm_time_ok(arg))
            return cli_usage_error("run", "--time expects a Slurm time limit (minutes, HH:MM:SS, D-HH:MM), not '%s'",
                                   arg);
        so->time = arg;
        break;
    case 'C':
        if (cli_parse_long("run", "--cpus-per-run", arg, &v)) return XO_USAGE;
        if (v < 1 || v > 4096) return cli_usage_error("run", "--cpus-per-run expects 1 to 4096, not '%s'", arg);
        so->cpus_per_run = (int)v;
        break;
    case 'M': {
        size_t dg = strspn(arg, "0123456789");
        if (!dg || (arg[dg] && (strchr("KMGTkmgt", arg[dg]) == NULL || arg[dg + 1])))
            return cli_usage_error("run", "--mem expects a size like 4000, 512M or 4G, not '%s'", arg);
        so->mem = arg;
        break;
    }
    case 'A':
        if (cli_parse_long("run", "--array-parallelism", arg, &v)) return XO_USAGE;
        if (v < 1 || v > 1000000)
            return cli_usage_error("run", "--array-parallelism expects 1 to 1000000, not '%s'", arg);
        so->array_parallelism = (int)v;
        break;
    case 'S':
        if (arg[0] != '-')
            return cli_usage_error("run", "--sbatch-arg expects an sbatch option (like --qos=low), not '%s'", arg);
        a->sargs[so->nsbatch_args++] = arg;
        break;
    case 'W': so->no_wait = 1; break;
    case 'U': case 'K': case 'N': {
        const char *what = c == 'U' ? "--account" : c == 'K' ? "--qos" : "--constraint";
        if (!*arg) return cli_usage_error("run", "%s expects a value", what);
        *(c == 'U' ? &so->account : c == 'K' ? &so->qos : &so->constraint) = arg;
        break;
    }
    case 'E': so->exclusive = 1; break;
    case 'w':
        if (!*arg) return cli_usage_error("run", "--write-script expects a directory");
        so->write_script = arg;
        break;
    case 'Q':
        if (cli_parse_long("run", "--max-requeues", arg, &v)) return XO_USAGE;
        if (v < 0 || v > 1000) return cli_usage_error("run", "--max-requeues expects 0 to 1000, not '%s'", arg);
        so->max_requeues = (int)v;
        break;
    default: return -1;
    }
    a->slurm_opt = 1;
    return XO_OK;
}

/* --only a,b and --only a --only b, and keys after the sweep: hex prefixes. */
static int add_only_keys(run_args *a, char *list)
{
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        if (strspn(tok, "0123456789abcdef") != strlen(tok) || !*tok || strlen(tok) > 64)
            return cli_usage_error("run", "--only expects run keys (hex prefixes), not '%s'", tok);
        char **grown = xo_grow(a->only, &a->cap_only, a->nonly + 2, sizeof *grown, 16); /* and a NULL */
        if (!grown) return cli_error(XO_FAILED, "out of memory");
        a->only = grown;
        a->only[a->nonly++] = tok;
        a->only[a->nonly] = NULL;
    }
    return XO_OK;
}

static int parse_run_args(int argc, char **argv, run_args *a)
{
    static const struct option opts[] = {
        {"jobs", required_argument, 0, 'j'},     {"retry-failed", no_argument, 0, 'r'},
        {"timeout", required_argument, 0, 't'},  {"only", required_argument, 0, 'o'},
        {"dry-run", no_argument, 0, 'n'},        {"runs-dir", required_argument, 0, 'R'},
        {"db", required_argument, 0, 'd'},       {"backend", required_argument, 0, 'B'},
        {"partition", required_argument, 0, 'P'}, {"time", required_argument, 0, 'T'},
        {"cpus-per-run", required_argument, 0, 'C'}, {"mem", required_argument, 0, 'M'},
        {"array-parallelism", required_argument, 0, 'A'}, {"sbatch-arg", required_argument, 0, 'S'},
        {"no-wait", no_argument, 0, 'W'},        {"handover", required_argument, 0, 'H'},
        {"report", required_argument, 0, 'L'},   {"report-every", required_argument, 0, 'y'},
        {"take-over", no_argument, 0, 'X'},      {"max-requeues", required_argument, 0, 'Q'},
        {"write-script", required_argument, 0, 'w'}, {"account", required_argument, 0, 'U'},
        {"qos", required_argument, 0, 'K'},      {"constraint", required_argument, 0, 'N'},
        {"exclusive", no_argument, 0, 'E'},
        {0, 0, 0, 0}};
    exec_options *o = &a->o;
    int c, rc;
    while ((c = cli_getopt("run", argc, argv, "j:rt:o:nR:d:", opts)) != -1) {
        long long v;
        if ((rc = parse_slurm_option(c, optarg, a)) >= 0) {
            if (rc != XO_OK) return rc;
            continue;
        }
        switch (c) {
        case 'H':
            if (!strcmp(optarg, "off")) o->no_handover = 1;
            else if (!strcmp(optarg, "on")) o->no_handover = 0;
            else return cli_usage_error("run", "--handover is on or off, not '%s'", optarg);
            break;
        case 'L': a->live.outdir = optarg; break;
        case 'y':
            if (cli_parse_duration("run", "--report-every", optarg, 86400, &a->live.every)) return XO_USAGE;
            break;
        case 'B':
            if (!strcmp(optarg, "slurm")) a->slurm = 1;
            else if (strcmp(optarg, "local")) return cli_usage_error("run", "--backend is local or slurm, not '%s'", optarg);
            break;
        case 'j':
            if (cli_parse_long("run", "-j", optarg, &v) || v < 1 || v > 4096)
                return cli_usage_error("run", "-j expects a number of workers from 1 to 4096, not '%s'", optarg);
            o->jobs = (int)v;
            break;
        case 'r': o->retry_failed = 1; break;
        case 'X': o->take_over = 1; break;
        case 't':
            if (cli_parse_duration("run", "--timeout", optarg, RUN_MAX_TIMEOUT, &o->timeout)) return XO_USAGE;
            break;
        case 'o':
            if ((rc = add_only_keys(a, optarg)) != XO_OK) return rc;
            break;
        case 'n': o->dry_run = 1; break;
        case 'R': o->runs_dir = optarg; break;
        case 'd': a->dbopt = optarg; break;
        default: return XO_USAGE;
        }
    }
    if (a->live.outdir && a->slurm)
        return cli_usage_error("run", "--report is for the local backend (with Slurm, `xover report` after "
                                      "`xover collect`)");
    if (a->slurm_opt && !a->slurm)
        return cli_usage_error("run", "--partition, --account, --qos, --constraint, --exclusive, --time, "
                                      "--cpus-per-run, --mem, --array-parallelism, --sbatch-arg, --max-requeues, "
                                      "--write-script and --no-wait go with --backend slurm");
    if (a->slurm && o->jobs)
        return cli_usage_error("run", "-j is for the local backend; with Slurm use --array-parallelism");
    if (a->slurm && o->take_over)
        return cli_usage_error("run", "--take-over is for the local backend (it takes runs from Slurm)");
    if (a->slurm && a->so.time && o->timeout > 0)
        return cli_usage_error("run", "--time and --timeout both give the Slurm tasks' time limit: give one");
    if (a->slurm && o->timeout > 0 && fmod(o->timeout, 60) != 0) {
        /* Slurm's limits are whole minutes: said, never silently */
        char d[32];
        xo_duration(o->timeout, d, sizeof d);
        fprintf(stderr, "note: --timeout %s: Slurm time limits are whole minutes, so each task gets --time=%lld "
                        "(rounded up)\n", d, (long long)((o->timeout + 59) / 60));
    }
    /* Keys may also follow --only as plain arguments after the sweep. */
    if (optind >= argc) return cli_usage_error("run", "expected a sweep file");
    a->path = argv[optind++];
    for (; optind < argc; optind++) {
        if (!a->nonly) return cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
        if ((rc = add_only_keys(a, argv[optind])) != XO_OK) return rc;
    }
    a->so.sbatch_args = a->sargs;
    o->only = (const char *const *)a->only;
    o->nonly = a->nonly;
    o->db_path = cli_db_path(a->dbopt);
    return XO_OK;
}

int cmd_run(int argc, char **argv)
{
    run_args a = {.so = {.max_requeues = -1},
                  .live = {.every = 10, .o = {.x = AN_TOKENS, .rows = "unique_tokens", .cols = "model"}}};
    a.sargs = calloc((size_t)argc + 1, sizeof *a.sargs);
    if (!a.sargs) {
        run_args_free(&a);
        return cli_error(XO_FAILED, "out of memory");
    }
    int rc = parse_run_args(argc, argv, &a);
    if (rc != XO_OK) {
        run_args_free(&a);
        return rc;
    }
    char err[1024];
    sweep *s = sweep_load(a.path, err, sizeof err);
    sweep_plan *p = s ? sweep_expand(s, 0, err, sizeof err) : NULL;
    if (!p) {
        rc = cli_error(XO_USAGE, "%s", err);
    } else {
        a.o.yaml_text = xo_read_file(a.path, &a.o.yaml_len);
        if (a.live.outdir && !a.o.dry_run) { /* analysis/live.c */
            a.live.o.sweep = sweep_name(s);
            a.live.o.db_path = a.o.db_path;
            a.o.on_ingest = an_live_tick;
            a.o.on_ingest_ctx = &a.live;
        }
        rc = a.slurm ? exec_slurm_run(p, &a.o, &a.so) : exec_run(p, &a.o);
        if (a.o.on_ingest && rc != XO_USAGE && an_live_end(&a.live, a.o.db_path) == 0)
            fprintf(stderr, "report: %s/index.html\n", a.live.outdir);
        if (a.live.err[0]) cli_warn("--report %s: %s", a.live.outdir, a.live.err);
        free((char *)a.o.yaml_text);
    }
    sweep_plan_free(p);
    sweep_free(s);
    run_args_free(&a);
    return rc;
}

const cli_command cmd_run_def = {"run", cmd_run, "run a sweep's runs that are not done yet, on every core",
     "usage: xover run SWEEP.yaml [-j N] [--retry-failed] [--timeout DUR] [--only KEY...]\n"
     "                 [--handover on|off] [--take-over] [--report DIR [--report-every DUR]]\n"
     "                 [--dry-run] [--runs-dir DIR] [--db PATH]\n"
     "       xover run SWEEP.yaml --backend slurm [--partition P] [--account A] [--qos Q]\n"
     "                 [--constraint C] [--exclusive] [--time T] [--cpus-per-run N]\n"
     "                 [--mem M] [--array-parallelism K] [--max-requeues K] [--sbatch-arg ARG]...\n"
     "                 [--no-wait | --write-script DIR] [...]\n\n"
     "Plan the sweep, record it and its runs in the database, and run every run that\n"
     "is not done (pending, interrupted, or failed with --retry-failed) on N worker\n"
     "processes, each `xover train` (or the sweep's external trainer) on one core\n"
     "in its run directory DIR/<sweep>/<key>/ (config.json, metrics.jsonl,\n"
     "checkpoint, log, status). Metrics reach the database while runs train.\n"
     "When fewer runs than cores can run (a sweep's last long runs), the idle cores\n"
     "are handed to running runs as threads, and taken back when more runs can\n"
     "start; never more than N in all. A run's results do not depend on it.\n"
     "Ctrl-C stops launching and interrupts the running runs, which checkpoint and\n"
     "are marked interrupted (exit 130); the next `xover run` resumes them. A second\n"
     "Ctrl-C stops them at once. A run that crashes, times out or reports a\n"
     "non-finite loss is failed, with its reason and log tail; the sweep goes on.\n"
     "Exit 0 when every run is done, 1 when some failed.\n\n"
     "  -j, --jobs N       worker processes (default: one per core)\n"
     "  --retry-failed     rerun the runs that failed\n"
     "  --timeout DUR      fail a run attempt after DUR (90s, 30m, 2h; at most 365d);\n"
     "                     with --backend slurm: each task's time limit instead (whole\n"
     "                     minutes, rounded up, saying so), where the run is\n"
     "                     checkpointed and requeued, not failed\n"
     "  --only KEY...      only the runs whose key starts with KEY (repeatable, or a,b)\n"
     "  --handover on|off  hand idle cores to running runs (default on)\n"
     "  --report DIR       keep the HTML report of this sweep (as `xover report --sweep\n"
     "                     NAME DIR` writes it) current while it runs: rewritten\n"
     "                     atomically as metrics arrive, the page reloading itself;\n"
     "                     the last one, written when the run ends, does not reload\n"
     "  --report-every DUR at most one rewrite per DUR (default 10s; 2s, 1m, ...)\n"
     "  --take-over        runs queued or running in Slurm (--backend slurm) are left\n"
     "                     to it, saying so; with this, their tasks are cancelled and\n"
     "                     the runs trained here\n"
     "  -n, --dry-run      list what would run; run nothing\n"
     "  --runs-dir DIR     where run directories go (default: runs)\n"
     "  --db PATH          the database (default: $XOVER_DB, else ./xover.db)\n\n"
     "With --backend slurm the runs not done (and not still queued) become Slurm job\n"
     "arrays, one per resource shape (the sweep's resources:, usually one), submitted\n"
     "with sbatch; each task runs `xover worker` on one run directory (docs/slurm.md).\n"
     "The run directories (--runs-dir) must be on a filesystem the compute nodes share;\n"
     "the database stays here. The sbatch script is kept in DIR/<sweep>/slurm/. The\n"
     "driver then follows the tasks (squeue, sacct, status files) and ingests metrics\n"
     "as they arrive; Ctrl-C stops following, not the jobs.\n"
     "  --backend B             local (default) or slurm\n"
     "  --partition P           the Slurm partition\n"
     "  --account A, --qos Q, --constraint C, --exclusive\n"
     "                          sbatch's options of those names, for every array\n"
     "  --time T                each task's time limit (minutes, HH:MM:SS, D-HH:MM);\n"
     "                          default: --timeout rounded up to minutes, else none.\n"
     "                          Before it (a quarter of it, 10 to 90 s) Slurm sends\n"
     "                          SIGUSR1: the run checkpoints and its task requeues\n"
     "  --max-requeues K        ... at most K times in all (default 3; then the run is\n"
     "                          interrupted and `xover run` resubmits it). Preemption\n"
     "                          and node failure requeue too (sbatch --requeue)\n"
     "  --cpus-per-run N        CPUs (and trainer threads) per run (default 1)\n"
     "  --mem M                 memory per run (4000, 512M, 4G)\n"
     "                          (--time, --mem, --cpus-per-run override the sweep's\n"
     "                          resources: section, docs/sweep.md; runs asking for\n"
     "                          the same go as one array, one array per shape)\n"
     "  --array-parallelism K   at most K tasks at once\n"
     "  --sbatch-arg ARG        one more sbatch option, as is (repeatable): --qos=low\n"
     "  --no-wait               submit and return; `xover collect SWEEP` ingests later\n"
     "  --write-script DIR      prepare the runs and write the job script (its options\n"
     "                          as #SBATCH lines) and run list into DIR, without\n"
     "                          submitting: `sbatch` it yourself, and `xover collect`\n"
     "                          finds the array by its comment. --dry-run prints them\n"};
