/*
 * test_crossover_cli.c — xover crossover / table / plot / report on a small
 * hand-made sweep: the CLI's JSON equals the SQL view's, the pivot tables,
 * the SVG files, and the HTML report as headless Chromium renders it.
 */
#include "tests/harness.h"
#include "tests/helpers.h"
#include "orchestrator/db/db.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <dirent.h>
#include <sys/stat.h>

extern const char xover_schema_sql[];

static long long add_run(db *d, long long sweep, const char *objective, const char *model,
                         long long U, const char *quality, long long seed)
{
    char config[512], key[128];
    snprintf(config, sizeof config,
             "{\"data\":{\"quality\":\"%s\",\"unique_tokens\":%lld},\"model\":{\"name\":\"%s\"},"
             "\"objective\":\"%s\",\"seed\":%lld,\"train\":{\"epochs\":10,\"lr\":0.002}}",
             quality, U, model, objective, seed);
    snprintf(key, sizeof key, "%s-%s-%lld-%s-%lld", objective, model, U, quality, seed);
    db_run_spec s = {.key = key, .config = config, .objective = objective, .model = model,
                     .params = !strcmp(model, "s") ? 4000 : 1000, .unique_tokens = U,
                     .quality = quality, .epochs = 10, .seed = seed};
    long long id = -1;
    /* finished: a pair with a run still to train is 'unfinished' */
    if (db_run_put(d, &s, &id) || db_sweep_link(d, sweep, id) || db_run_finished(d, id, "done", NULL, NULL, 0))
        fprintf(stderr, "run: %s\n", db_errmsg(d));
    return id;
}

/* 41 evaluations over 10 epochs. AR: val_loss U-shaped, best 4.0 at epoch
 * 3. MDM: falls by `rate` per epoch from 6, so it passes 4.0 at epoch
 * 2 / rate. mc_acc mirrors it upward when `acc` is set. */
static void add_curves(db *d, long long id, const char *objective, long long U, double rate,
                       double shift, int acc)
{
    db_metric m[82];
    int n = 0;
    for (int i = 0; i <= 40; i++) {
        double e = i / 4.0, v;
        if (!strcmp(objective, "ar")) v = 6 - 2 * fmin(e, 3) / 3 + 0.2 * fmax(0, e - 3);
        else v = 6 - rate * e;
        long long tok = (long long)(e * (double)U);
        m[n++] = (db_metric){"val_loss", i, tok, e, 6.0 * 1000 * (double)tok, v + shift};
        if (acc) m[n++] = (db_metric){"mc_acc", i, tok, e, 6.0 * 1000 * (double)tok, 1 - v / 8};
    }
    if (db_ingest_metrics(d, id, m, (size_t)n)) fprintf(stderr, "ingest: %s\n", db_errmsg(d));
}

/* The fixture: sweep "demo" with pairs (model, U, quality):
 *   xs 1000 high (2 seeds), xs 4000 high, s 1000 high, s 4000 high: crossover
 *   xs 1000 low: none within the budget (mc_acc not reported)
 * 5 val_loss pairs, 4 mc_acc pairs. Returns the database path. */
static const char *fixture(void)
{
    static char path[4096];
    char err[512];
    harness_path(path, sizeof path, "xover.db");
    db *d = db_open(path, DB_WRITE, err, sizeof err);
    if (!d) { fprintf(stderr, "%s\n", err); return NULL; }
    long long sw;
    db_sweep_put(d, "demo", "sweep: demo\ngrid: {objective: [ar, mdm], model: [xs, s]}\n",
                 "hash", &sw);
    const char *models[] = {"xs", "s"};
    long long Us[] = {1000, 4000};
    for (int mi = 0; mi < 2; mi++)
        for (int ui = 0; ui < 2; ui++) {
            double rate = mi ? 0.4 : 0.25;
            int seeds = mi == 0 && ui == 0 ? 2 : 1;
            for (int s = 0; s < seeds; s++) {
                add_curves(d, add_run(d, sw, "ar", models[mi], Us[ui], "high", s), "ar", Us[ui],
                           rate, 0.02 * s, 1);
                add_curves(d, add_run(d, sw, "mdm", models[mi], Us[ui], "high", s), "mdm",
                           Us[ui], rate, 0.02 * s, 1);
            }
        }
    add_curves(d, add_run(d, sw, "ar", "xs", 1000, "low", 0), "ar", 1000, 0.1, 0, 0);
    add_curves(d, add_run(d, sw, "mdm", "xs", 1000, "low", 0), "mdm", 1000, 0.1, 0, 0);
    db_run_finished(d, 1, "done", NULL, NULL, 1e9);
    db_close(d);
    return path;
}

static int starts_with(const char *s, const char *prefix)
{
    if (!strncmp(s, prefix, strlen(prefix))) return 1;
    fprintf(stderr, "got:\n%s", s);
    return 0;
}

/* Run the xover under test with the given arguments (up to the first NULL). */
static harness_proc run_xover(const char *const *args)
{
    const char *argv[32] = {harness_xover()};
    for (int i = 0; args[i] && i < 30; i++) argv[i + 1] = args[i];
    return harness_run(argv, NULL);
}
#define xover(...) run_xover((const char *const[]){__VA_ARGS__, NULL})

static int same_json(json_t *a, json_t *b, const char *where)
{
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        if (fabs(x - y) <= 1e-12 * fmax(1, fabs(x))) return 1;
    } else if (json_equal(a, b)) {
        return 1;
    }
    char *sa = json_dumps(a, JSON_ENCODE_ANY), *sb = json_dumps(b, JSON_ENCODE_ANY);
    fprintf(stderr, "%s: CLI %s, SQL %s\n", where, sa ? sa : "?", sb ? sb : "?");
    free(sa);
    free(sb);
    return 0;
}

/* xover crossover --format json and the view through xover sql: same rows,
 * same keys, same numbers. */
static int cli_equals_view(const char *path, const char *metric, const char *x, size_t rows)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT * FROM crossover WHERE metric = '%s' AND x_axis = '%s' "
             "ORDER BY metric, params, model, unique_tokens, quality, epochs, cell", metric, x);
    const char *argv[] = {harness_xover(), "crossover", "--metric", metric, "--x", x, "--format",
                          "json", "--db", path, NULL};
    harness_proc a = harness_run(argv, NULL),
                 b = xover("sql", sql, "--format", "json", "--db", path, NULL, NULL);
    json_t *ja = json_loads(a.out, 0, NULL), *jb = json_loads(b.out, 0, NULL);
    int ok = a.status == 0 && b.status == 0 && json_is_array(ja) && json_is_array(jb) &&
             json_array_size(ja) == rows && json_array_size(jb) == rows;
    if (!ok) fprintf(stderr, "status %d/%d, rows %zu/%zu: %s %s\n", a.status, b.status,
                     json_array_size(ja), json_array_size(jb), a.err, b.err);
    for (size_t i = 0; ok && i < rows; i++) {
        json_t *ra = json_array_get(ja, i), *rb = json_array_get(jb, i);
        const char *k;
        json_t *v;
        /* the view's columns, then the CLI's mc_acc ones (mc_acc at the
         * best points: tests/test_cloze_paired.c) */
        size_t extra = 0;
        json_object_foreach(ra, k, v) extra += !json_object_get(rb, k) && strstr(k, "mc_acc") != NULL;
        ok = json_object_size(ra) == json_object_size(rb) + extra;
        json_object_foreach(ra, k, v) {
            if (!json_object_get(rb, k) && strstr(k, "mc_acc")) continue;
            char where[128];
            snprintf(where, sizeof where, "%s/%s row %zu %s", metric, x, i, k);
            if (!same_json(v, json_object_get(rb, k), where)) ok = 0;
        }
    }
    json_decref(ja);
    json_decref(jb);
    harness_proc_free(&a);
    harness_proc_free(&b);
    return ok;
}

TEST(crossover_cli_json_equals_the_sql_view)
{
    const char *path = fixture();
    CHECK(path);
    CHECK(cli_equals_view(path, "val_loss", "tokens", 5));
    CHECK(cli_equals_view(path, "val_loss", "epochs", 5));
    CHECK(cli_equals_view(path, "val_loss", "flops", 5));
    CHECK(cli_equals_view(path, "mc_acc", "tokens", 4));

    /* The plain sqlite3 shell answers too, with the known crossovers:
     * xs passes AR's best (4.0) at epoch 8, s at epoch 5. */
    const char *argv[] = {"sqlite3", path,
                          "SELECT model, unique_tokens, quality, verdict, round(crossover, 6) "
                          "FROM crossover WHERE metric = 'val_loss' AND x_axis = 'epochs' "
                          "ORDER BY model, unique_tokens, quality", NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    CHECK_STR(p.out, "s|1000|high|crossover|5.0\ns|4000|high|crossover|5.0\n"
                     "xs|1000|high|crossover|8.0\nxs|1000|low|none|\nxs|4000|high|crossover|8.0\n");
    harness_proc_free(&p);

    /* md for reading: no cell column, the verdicts in words, human units;
     * seeds and the interval shown because one pair has two seeds. */
    p = xover("crossover", "--db", path, NULL, NULL, NULL, NULL, NULL);
    CHECK_INT(p.status, 0);
    CHECK(starts_with(p.out, "| model | unique tokens | quality | seeds | verdict   | crossover  | between     | "
                          "seeds crossed | AR best                   | MDM best                   | final gap | "
                          "95% interval             | AR mc_acc | MDM mc_acc | mc_acc gap (95%)                    |\n"));
    /* mc_acc at each side's best val_loss point (the fixture keeps no item
     * outcomes: unpaired, and no interval without mc_acc_se) */
    CHECK_CONTAINS(p.out, "| 0.500     | 0.562      | +0.062 (unpaired: no item outcomes) |");
    CHECK_CONTAINS(p.out, "| xs    | 1k            | high    | 2     | crossover | 8k tokens  | 8k to 8.25k | "
                          "2 of 2        | 4.010 ± 0.014 (3k tokens) |");
    CHECK_CONTAINS(p.out, "| xs    | 1k            | low     | 1     | none      |            |");
    CHECK(!strstr(p.out, "\"objective\""));
    harness_proc_free(&p);

    /* The fit: crossover in tokens = 8 U for xs, exactly linear: k = 1. */
    p = xover("crossover", "--fit", "--format", "csv", "--db", path, NULL, NULL);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "metric,x_axis,model,quality,points,budgets,a,k,r2,budgets_total,k_lo,k_hi,"
                          "interval,note\n");
    CHECK_CONTAINS(p.out, "val_loss,tokens,xs,high,2,2,8.0");
    CHECK(!strstr(p.err, "no fit"));
    harness_proc_free(&p);
    /* Nothing to fit: the header, and a line saying why. */
    p = xover("crossover", "--fit", "--metric", "nonesuch", "--db", path, NULL, NULL);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.err, "no fit: no model and quality has crossovers at two or more unique budgets");
    harness_proc_free(&p);

    /* Bad input: exit 2 with the reason. */
    p = xover("crossover", "--x", "steps", "--db", path, NULL, NULL, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "tokens, epochs or flops");
    harness_proc_free(&p);
    p = xover("crossover", "--sweep", "nope", "--db", path, NULL, NULL, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "no sweep named 'nope'");
    harness_proc_free(&p);
    p = xover("crossover", "--format", "jsonl", "--db", path, NULL, NULL, NULL);
    CHECK_INT(p.status, 2);
    harness_proc_free(&p);
}

TEST(crossover_cli_on_an_older_database_says_how_to_upgrade)
{
    char path[4096], err[512];
    harness_path(path, sizeof path, "old.db");
    db *d = db_open_schema(path, xover_schema_sql, 1, err, sizeof err);
    CHECK(d);
    db_run_spec s = {.key = "k", .config = "{\"objective\":\"ar\"}", .objective = "ar",
                     .params = -1, .unique_tokens = -1, .epochs = NAN, .seed = 0};
    long long id;
    CHECK_INT(db_run_put(d, &s, &id), DB_OK);
    db_close(d);
    harness_proc p = xover("crossover", "--db", path, NULL, NULL, NULL, NULL, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "schema version 1");
    CHECK_CONTAINS(p.err, "xover db init");
    harness_proc_free(&p);
    /* Opening it for writing adds the views and keeps the run. */
    d = db_open(path, DB_WRITE, err, sizeof err);
    CHECK(d);
    CHECK_INT(db_version_found(d), 1);
    CHECK(db_version(d) >= 2);
    long long n = -1;
    CHECK_INT(db_query_int(d, "SELECT count(*) FROM crossover_runs", &n), DB_OK);
    CHECK_INT(n, 1);
    CHECK_INT(db_query_int(d, "SELECT count(*) FROM crossover", &n), DB_OK);
    CHECK_INT(n, 0);
    db_close(d);
}

TEST(crossover_cli_table_pivots)
{
    const char *path = fixture();
    CHECK(path);
    harness_proc p = xover("table", "--where", "quality=high", "--cell", "crossover_epochs",
                           "--db", path, NULL, NULL);
    CHECK_INT(p.status, 0);
    /* models in order of size (xs 1000 params, s 4000), not of name; the
     * crossover as the two evaluations it falls between (MDM level with AR
     * at 8, ahead from the next evaluation, 8.25) */
    CHECK_STR(p.out, "| unique_tokens \\ model | xs        | s         |\n"
                     "| --------------------- | --------- | --------- |\n"
                     "| 1000                  | 8 to 8.25 | 5 to 5.25 |\n"
                     "| 4000                  | 8 to 8.25 | 5 to 5.25 |\n");
    harness_proc_free(&p);

    /* Any axes, any column; csv and json. quality down: 'none' for low. */
    p = xover("table", "--rows", "quality", "--cols", "unique_tokens", "--where", "model=xs",
              "--db", path, NULL, NULL);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "| high                    | 8k to 8.25k | 32k to 33k |");
    CHECK_CONTAINS(p.out, "| low                     | none        |            |");
    harness_proc_free(&p);
    const char *argv[] = {harness_xover(), "table", "--rows", "train.lr", "--cols", "model",
                          "--cell", "ar_best", "--where", "quality=high", "--where",
                          "unique_tokens=4000", "--format", "json", "--db", path, NULL};
    p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    json_t *j = json_loads(p.out, 0, NULL);
    CHECK(json_is_array(j) && json_array_size(j) == 1);
    CHECK_NEAR(json_number_value(json_object_get(json_array_get(j, 0), "xs")), 4.0, 1e-12);
    CHECK_STR(json_string_value(json_object_get(json_array_get(j, 0), "train.lr \\ model")),
              "0.002");
    json_decref(j);
    harness_proc_free(&p);

    /* Two pairs in one cell: an error naming the axis that differs. */
    p = xover("table", "--db", path, NULL, NULL, NULL, NULL, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "differ in quality");
    harness_proc_free(&p);
    p = xover("table", "--cell", "crossover_token", "--db", path, NULL, NULL, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "did you mean 'crossover_tokens'");
    harness_proc_free(&p);
    p = xover("table", "--rows", "colour", "--db", path, NULL, NULL, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "--rows 'colour': not an axis");
    harness_proc_free(&p);
}

/* Pairs that differ in a swept field (data.corpus, train.lr) besides the
 * fixed axes: the default output names that field, in its short form, so
 * two corpora's rows are told apart without --sweep; one seed and no
 * standard errors, so no seed, sd or interval columns. csv keeps every
 * column of the crossover view. */
/* A new database at `file` in the test's directory (its path into path)
 * with one sweep, `sweep`, whose id goes to *sw; NULL on failure. */
static db *sweep_db(char *path, size_t n, const char *file, const char *sweep, long long *sw)
{
    char err[512], yaml[128];
    harness_path(path, n, file);
    db *d = db_open(path, DB_WRITE, err, sizeof err);
    snprintf(yaml, sizeof yaml, "sweep: %s\n", sweep);
    if (d && db_sweep_put(d, sweep, yaml, "h", sw)) {
        db_close(d);
        return NULL;
    }
    return d;
}

/* One pair of model d64 at 50k unique tokens, 320 epochs, on `corpus`
 * with train fields `train` ("\"lr\":0.002", more after commas): AR's
 * val_loss falls to 4.0 by epoch 16 and stays; the MDM's falls linearly
 * from 6 to 3.9 + shift at epoch 320. Runs keyed by `tag`. */
static int add_d64_pair(db *d, long long sw, const char *tag, const char *corpus, const char *train, double shift)
{
    for (int o = 0; o < 2; o++) {
        const char *obj = o ? "mdm" : "ar";
        char config[512], key[64];
        snprintf(config, sizeof config,
                 "{\"data\":{\"corpus\":\"%s\",\"quality\":\"all\",\"unique_tokens\":50000},"
                 "\"model\":{\"dim\":64,\"name\":\"d64\"},\"objective\":\"%s\",\"seed\":0,"
                 "\"train\":{\"epochs\":320,%s}}", corpus, obj, train);
        snprintf(key, sizeof key, "%s-%s", obj, tag);
        db_run_spec sp = {.key = key, .config = config, .objective = obj, .model = "d64", .params = 267000,
                          .unique_tokens = 50000, .quality = "all", .epochs = 320, .seed = 0};
        long long id;
        if (db_run_put(d, &sp, &id) || db_sweep_link(d, sw, id)) return -1;
        db_metric m[41];
        for (int i = 0; i <= 40; i++) {
            double e = i * 8.0, v = o ? 6 - 2.1 * e / 320 + shift : 6 - 2 * fmin(e, 16) / 16;
            long long tok = (long long)(e * 50000);
            m[i] = (db_metric){"val_loss", i * 100, tok, e, 1.6e6 * (double)tok, v};
        }
        if (db_ingest_metrics(d, id, m, 41) || db_run_finished(d, id, "done", NULL, NULL, 0)) return -1;
    }
    return 0;
}

/* Two corpora x two learning rates of one model: four pairs, one seed,
 * no standard errors. Returns the database path. */
static const char *corpora_db(void)
{
    static char path[4096];
    long long sw;
    db *d = sweep_db(path, sizeof path, "corpora.db", "c", &sw);
    if (!d) return NULL;
    const char *corpora[] = {"fortunes", "gcide"};
    const double lrs[] = {0.002, 0.003};
    for (int c = 0; c < 2; c++)
        for (int l = 0; l < 2; l++) {
            char tag[32], train[64];
            snprintf(tag, sizeof tag, "%d-%d", c, l);
            snprintf(train, sizeof train, "\"lr\":%g", lrs[l]);
            if (add_d64_pair(d, sw, tag, corpora[c], train, c ? 0.3 : 0)) return NULL;
        }
    db_close(d);
    return path;
}

TEST(crossover_cli_default_output_names_what_differs)
{
    const char *path = corpora_db();
    CHECK(path);
    harness_proc p = xover("crossover", "--db", path, NULL, NULL, NULL, NULL, NULL);
    CHECK_INT(p.status, 0);
    CHECK(starts_with(p.out, "| model | unique tokens | corpus   | lr    | verdict   | crossover    | between        | "
                          "AR best             | MDM best           | final gap |\n"));
    CHECK_CONTAINS(p.out, "| d64   | 50k           | fortunes | 0.002 | crossover | 15.2M tokens | 15.2M to 15.6M | "
                          "4.000 (800k tokens) | 3.900 (16M tokens) | +0.100    |");
    CHECK_CONTAINS(p.out, "| d64   | 50k           | gcide    | 0.003 | none      |");
    CHECK(!strstr(p.out, "_sd") && !strstr(p.out, "seeds") && !strstr(p.out, "15194000"));
    harness_proc_free(&p);
    /* --x epochs: the crossover in epochs (MDM reaches AR's 4.0 at 304.8) */
    p = xover("crossover", "--x", "epochs", "--db", path, NULL, NULL, NULL);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "| 305 epochs | 304 to 312 |");
    harness_proc_free(&p);
    /* csv: every field of the view, the numbers as numbers */
    p = xover("crossover", "--format", "csv", "--db", path, NULL, NULL, NULL);
    CHECK_INT(p.status, 0);
    CHECK(starts_with(p.out, "metric,better,x_axis,mode,model,params,unique_tokens,quality,epochs,ar_seeds,mdm_seeds,"
                          "verdict,crossover,x_start,x_end,final_gap,ar_best,ar_best_x,ar_best_sd,mdm_best,"
                          "mdm_best_x,mdm_best_sd,bracket_lo,bracket_hi,gap_lo,gap_hi,gap_se,interval,"
                          "paired_seeds,seeds_crossed,seed_cross_min,seed_cross_max,ar_best_at_edge,"
                          "mdm_best_at_edge,cell\n"));
    CHECK_CONTAINS(p.out, "\"\"corpus\"\":\"\"gcide\"\"");
    harness_proc_free(&p);
}

/* xover table --where takes the names a sweep file takes (lr for
 * train.lr, corpus for data.corpus), refuses a field that names nothing
 * with the closest name, and names the field (and its two values) in which
 * two pairs of one cell differ. (Before: --where lr=... and --where foo=1
 * printed an empty table with exit 0.) */
TEST(crossover_cli_table_where_takes_sweep_names)
{
    const char *path = corpora_db();
    CHECK(path);
    harness_proc p = xover("table", "--where", "lr=2e-3", "--rows", "corpus", "--db", path, NULL);
    CHECK_INT(p.status, 0);
    CHECK_STR(p.out, "| corpus \\ model | d64            |\n"
                     "| -------------- | -------------- |\n"
                     "| fortunes       | 15.2M to 15.6M |\n"
                     "| gcide          | none           |\n");
    harness_proc_free(&p);
    p = xover("table", "--where", "train.lr=0.003", "--where", "data.corpus=gcide", "--cell", "verdict",
              "--db", path);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "| 50000                 | none |");
    harness_proc_free(&p);
    p = xover("table", "--where", "foo=1", "--db", path, NULL, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "--where 'foo': not an axis nor a field of the run config");
    CHECK_STR(p.out, "");
    harness_proc_free(&p);
    p = xover("table", "--where", "wieght_decay=0.1", "--db", path, NULL, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "did you mean 'weight_decay'?");
    harness_proc_free(&p);
    p = xover("table", "--rows", "corpuss", "--db", path, NULL, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "--rows 'corpuss'");
    CHECK_CONTAINS(p.err, "did you mean 'corpus'?");
    harness_proc_free(&p);
    /* four pairs on one cell: the first field they differ in, with values */
    p = xover("table", "--db", path, NULL, NULL, NULL, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "they differ in train.lr (0.002 and 0.003)");
    harness_proc_free(&p);
    p = xover("table", "--where", "lr=0.002", "--db", path, NULL, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "they differ in data.corpus (fortunes and gcide)");
    harness_proc_free(&p);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* Four pairs of one model, budget, tier and length: three corpora (as
 * experiments/demo-corpora.yaml: fortunes, jargon, foldoc) and fortunes
 * again with train.input_mask 0.5. The others leave input_mask out, as
 * runs made before it existed do: absent, it stands for 0. Returns the
 * database path. */
static const char *names_db(void)
{
    static char path[4096];
    long long sw;
    db *d = sweep_db(path, sizeof path, "names.db", "names", &sw);
    if (!d) return NULL;
    static const struct { const char *corpus, *train; double shift; } cells[] = {
        {"fortunes", "\"lr\":0.002", 0}, {"jargon", "\"lr\":0.002", 0.3}, {"foldoc", "\"lr\":0.002", -0.05},
        {"fortunes", "\"lr\":0.002,\"input_mask\":0.5", 0.1}};
    for (int c = 0; c < 4; c++) {
        char tag[32];
        snprintf(tag, sizeof tag, "%d", c);
        if (add_d64_pair(d, sw, tag, cells[c].corpus, cells[c].train, cells[c].shift)) return NULL;
    }
    db_close(d);
    return path;
}

/* Two families told apart by their resolved train.anneal_at (a 320- and a
 * 640-epoch plan's points): the column shows each list by its ends and
 * length, every number as %g. (Before: compact JSON with every float's
 * noise, "[10,14.140000000000001,20,...]", which pushed the report's tables
 * off the page.) */
TEST(crossover_cli_a_list_field_reads_as_its_ends_and_length)
{
    static char path[4096];
    long long sw;
    db *d = sweep_db(path, sizeof path, "lists.db", "lists", &sw);
    CHECK(d);
    CHECK_INT(add_d64_pair(d, sw, "a", "fortunes", "\"lr\":0.002,\"anneal_at\":[10,14.140000000000001,20,28.280000000000001,40]", 0), 0);
    CHECK_INT(add_d64_pair(d, sw, "b", "fortunes", "\"lr\":0.002,\"anneal_at\":[10,20]", 0.1), 0);
    db_close(d);
    harness_proc p = xover("crossover", "--db", path, NULL, NULL, NULL, NULL, NULL);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "anneal_at");
    CHECK_CONTAINS(p.out, "[10 14.14 … 40] (5)");
    CHECK_CONTAINS(p.out, "[10 20]");
    CHECK(!strstr(p.out, "14.140000000000001"));
    harness_proc_free(&p);
}

/* The cells of one markdown table row ("| a | b |"), trimmed, into
 * cell[max]; returns how many. */
static int md_cells(const char *line, char cell[][64], int max)
{
    int n = 0;
    const char *s = strchr(line, '|');
    while (s && s[1] && s[1] != '\n' && n < max) {
        const char *e = strchr(s + 1, '|');
        if (!e) break;
        const char *a = s + 1, *b = e;
        while (a < b && *a == ' ') a++;
        while (b > a && b[-1] == ' ') b--;
        snprintf(cell[n++], 64, "%.*s", (int)(b - a), a);
        s = e;
    }
    return n;
}

/* Pairs told apart only by the corpus, or only by a train field
 * (input_mask): the report names each by what varies among the pairs
 * shown — a column in its table, the plots' titles, the gap panels' line,
 * the captions — in the words of the crossover table (corpus=jargon,
 * input_mask=0.5), and xover plot's titles alike. (Before: the report's
 * four rows and four plot titles were the same text.) */
TEST(crossover_cli_report_names_pairs_by_what_varies)
{
    const char *path = names_db();
    CHECK(path);
    char out[4096], idx[4200], plots[4096];
    harness_path(out, sizeof out, "report");
    harness_proc p = xover("report", "--db", path, out, NULL, NULL, NULL, NULL);
    CHECK_INT(p.status, 0);
    harness_proc_free(&p);
    snprintf(idx, sizeof idx, "%s/index.html", out);
    char *html = harness_slurp(idx, NULL);
    CHECK(html);
    CHECK_CONTAINS(html, "<th>epochs</th><th class=\"varied\">corpus</th><th class=\"varied\">input_mask</th>"
                         "<th>seeds AR/MDM</th>");

    /* The crossover table's rows, and from them the name of each pair. */
    p = xover("crossover", "--db", path, NULL, NULL, NULL, NULL, NULL);
    CHECK_INT(p.status, 0);
    char cell[16][64];
    int nc = md_cells(p.out, cell, 16), ci = -1, mi = -1;
    for (int k = 0; k < nc; k++) {
        if (!strcmp(cell[k], "corpus")) ci = k;
        if (!strcmp(cell[k], "input_mask")) mi = k;
    }
    CHECK(ci >= 0 && mi == ci + 1);
    harness_path(plots, sizeof plots, "plots");
    harness_proc pl = xover("plot", "--db", path, "--out", plots, NULL, NULL, NULL);
    CHECK_INT(pl.status, 0);
    CHECK_INT(count(pl.out, ".svg\n"), 4); /* one panel: no grid */
    char *titles = NULL;
    size_t tlen = 0;
    for (char *line = pl.out, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = 0;
        char *svg = harness_slurp(line, NULL);
        CHECK(svg);
        char *t = strstr(svg, "<title>"), *te = t ? strstr(t, "</title>") : NULL;
        CHECK(te);
        titles = realloc(titles, tlen + (size_t)(te - t) + 2);
        tlen += (size_t)snprintf(titles + tlen, (size_t)(te - t) + 2, "%.*s\n", (int)(te - t - 7), t + 7);
        free(svg);
    }
    int rows = 0;
    const char *names[4] = {0};
    char labels[4][160];
    for (const char *line = strchr(p.out, '\n'); line && (line = strstr(line, "\n| d64")); line++) {
        nc = md_cells(line + 1, cell, 16);
        CHECK(nc > mi && rows < 4);
        char *label = labels[rows], row[256], title[300];
        snprintf(label, 160, "corpus=%s, input_mask=%s", cell[ci], cell[mi]);
        names[rows++] = label;
        /* the report's table row says what the crossover table says */
        snprintf(row, sizeof row, "<td class=\"varied\">%s</td><td class=\"varied\">%s</td>", cell[ci], cell[mi]);
        CHECK_CONTAINS(html, row);
        /* the pair's plot: its title, its gap panel's line, its caption */
        snprintf(title, sizeof title, "<title>val_loss: model d64, U = 50k unique tokens, quality all, "
                 "320 epochs · %s</title>", label);
        CHECK_INT(count(html, title), 1);
        snprintf(title, sizeof title, "<tspan font-weight=\"bold\">%s</tspan>: gap = ", label);
        CHECK_INT(count(html, title), 1);
        snprintf(title, sizeof title, "<figcaption>%s: <a href=", label);
        CHECK_INT(count(html, title), 1);
        /* and xover plot's title of it */
        snprintf(title, sizeof title, "· %s\n", label);
        CHECK_INT(count(titles, title), 1);
    }
    CHECK_INT(rows, 4);
    for (int a = 0; a < rows; a++)
        for (int b = a + 1; b < rows; b++) CHECK(strcmp(names[a], names[b]));
    CHECK_CONTAINS(html, "corpus=jargon, input_mask=0</title>");
    CHECK_CONTAINS(html, "corpus=fortunes, input_mask=0.5</title>");
    CHECK_CONTAINS(html, "corpus=foldoc, input_mask=0</title>");
    /* a fit per corpus and mask, never one across them */
    CHECK_INT(count(html, "<td class=\"n\">1 of 1</td>"), 2);
    CHECK_CONTAINS(html, "<td class=\"varied\">jargon</td><td class=\"varied\">0</td><td class=\"n\">0 of 1</td>");
    free(titles);
    harness_proc_free(&pl);
    harness_proc_free(&p);
    free(html);
    /* a grid's panel leaves out what its row already says (the corpus) */
    harness_path(plots, sizeof plots, "grid");
    p = xover("plot", "--db", path, "--rows", "data.corpus", "--cols", "model", "--out", plots);
    CHECK_INT(p.status, 0);
    snprintf(idx, sizeof idx, "%s/grid-val_loss-tokens.svg", plots);
    char *grid = harness_slurp(idx, NULL);
    CHECK(grid);
    CHECK_CONTAINS(grid, ">= jargon</text>");
    CHECK_CONTAINS(grid, ">U 50k · d64 · input_mask=0</text>");
    CHECK(!strstr(grid, "corpus="));
    free(grid);
    harness_proc_free(&p);
}

/* Nothing to show — another metric, or a --where no pair passes — is said
 * the same way by crossover, table, plot and report: a note on stderr, exit
 * 0, an empty result in the output's format. (Before: plot exited 2, table
 * said nothing, crossover warned, report was silent.) */
TEST(crossover_cli_empty_results_said_alike)
{
    const char *path = corpora_db();
    CHECK(path);
    char out[4096];
    harness_path(out, sizeof out, "plots");
    const char *const cmds[][8] = {
        {"crossover", "--metric", "mc_acc", NULL},
        {"crossover", "--metric", "mc_acc", "--format", "json", NULL},
        {"table", "--metric", "mc_acc", "--format", "csv", NULL},
        {"table", "--where", "lr=0.5", NULL},
        {"plot", "--metric", "mc_acc", "--out", out, NULL},
        {"report", "--metric", "mc_acc", out, NULL},
    };
    const char *const want_out[] = {"| model | unique tokens | verdict | crossover | AR best | MDM best | final gap |\n",
                                    "[]", "unique_tokens \\ model\n", "| unique_tokens \\ model |\n", "", NULL};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        const char *argv[16] = {harness_xover()};
        int n = 1;
        for (int k = 0; cmds[i][k]; k++) argv[n++] = cmds[i][k];
        argv[n++] = "--db";
        argv[n++] = path;
        harness_proc p = harness_run(argv, NULL);
        if (p.status) fprintf(stderr, "    %s: %s", cmds[i][0], p.err);
        CHECK_INT(p.status, 0);
        char note[64];
        snprintf(note, sizeof note, "xover %s: no AR/MDM pair of ", cmds[i][0]);
        CHECK_CONTAINS(p.err, note);
        CHECK_CONTAINS(p.err, ": nothing to show");
        if (want_out[i]) CHECK(starts_with(p.out, want_out[i]));
        harness_proc_free(&p);
    }
    char idx[4200];
    snprintf(idx, sizeof idx, "%s/index.html", out);
    char *html = harness_slurp(idx, NULL);
    CHECK(html && strstr(html, "No AR/MDM pair has reported mc_acc"));
    free(html);
}

TEST(crossover_cli_plot_writes_svg_per_pair_and_a_grid)
{
    const char *path = fixture();
    CHECK(path);
    char out[4096];
    harness_path(out, sizeof out, "plots");
    harness_proc p = xover("plot", "--db", path, "--out", out, "--where", NULL, NULL);
    CHECK_INT(p.status, 2); /* --where is table's, not plot's */
    harness_proc_free(&p);
    p = xover("plot", "--db", path, "--out", out, "--sweep", "demo", NULL, NULL);
    CHECK_INT(p.status, 0);
    CHECK_INT(count(p.out, ".svg\n"), 6); /* 5 pairs and the grid */
    CHECK_CONTAINS(p.err, "share a grid panel"); /* xs 1000 high and low */
    /* Each file is a whole SVG document with its labels and legend. */
    char *line = p.out;
    for (int i = 0; i < 6; i++) {
        char *nl = strchr(line, '\n');
        *nl = 0;
        char *svg = harness_slurp(line, NULL);
        CHECK(svg);
        CHECK(!strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39));
        CHECK_CONTAINS(svg, "</svg>\n");
        CHECK_CONTAINS(svg, "MDM (mean)");
        CHECK_CONTAINS(svg, "tokens seen");
        if (strstr(line, "xs-U1000-low")) CHECK_CONTAINS(svg, "no crossover within the budget");
        if (strstr(line, "xs-U4000-high")) CHECK_CONTAINS(svg, "crossover between 32k and 33k");
        if (strstr(line, "grid-")) {
            CHECK_INT(count(svg, "class=\"panel\""), 4);
            /* columns by model size (xs 1000 params, s 4000), as in xover table */
            char *xs = strstr(svg, "model = xs<"), *sm = strstr(svg, "model = s<");
            CHECK(xs && sm && xs < sm);
        }
        free(svg);
        line = nl + 1;
    }
    harness_proc_free(&p);
}

TEST(crossover_cli_report_renders_in_chromium)
{
    const char *path = fixture();
    CHECK(path);
    char out[4096], index[4200], profile[4096], url[4300], plots[4200];
    harness_path(out, sizeof out, "report");
    harness_path(profile, sizeof profile, "chromium-profile");
    CHECK(mkdir(profile, 0700) == 0);
    harness_proc p = xover("report", "--db", path, out, NULL, NULL, NULL, NULL);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "(11 plots)"); /* val_loss: grid + 5, mc_acc: grid + 4 */
    harness_proc_free(&p);
    snprintf(index, sizeof index, "%s/index.html", out);
    snprintf(url, sizeof url, "file://%s", index);

    char flag[4200];
    snprintf(flag, sizeof flag, "--user-data-dir=%s", profile);
    const char *argv[] = {"chromium", "--headless", "--no-sandbox", "--disable-gpu",
                          "--disable-quic", "--no-first-run", "--disable-background-networking",
                          "--disable-component-update", "--disable-sync", flag, "--dump-dom",
                          url, NULL};
    p = harness_run(argv, NULL);
    if (p.status != 0)
        fprintf(stderr, "chromium failed (status %d): it is required for this test; install "
                "it with 'apt-get install chromium' (.ci/deps test). %s\n", p.status, p.err);
    CHECK_INT(p.status, 0);
    /* What the browser built, not just the file's text: the parsed DOM. */
    CHECK_CONTAINS(p.out, "<h1>xover report</h1>");
    CHECK_INT(count(p.out, "<svg"), 11);
    CHECK_INT(count(p.out, "</svg>"), 11);
    CHECK_INT(count(p.out, "<table class=\"crossover\">"), 2);
    CHECK_INT(count(p.out, "<table class=\"status\">"), 1);
    CHECK_INT(count(p.out, "<table class=\"fit\">"), 2);
    CHECK_INT(count(p.out, "<tr class=\"crossover\">"), 8);
    CHECK_CONTAINS(p.out, "none within the budget");
    CHECK_CONTAINS(p.out, "sweep: demo\ngrid: {objective: [ar, mdm], model: [xs, s]}");
    CHECK_CONTAINS(p.out, "<td>demo</td><td class=\"n\">0</td><td class=\"n\">0</td>"
                          "<td class=\"n\">12</td>");
    /* every pair's plot has its gap panel; the page says what a gap's sign means */
    CHECK_INT(count(p.out, "<g class=\"gap-panel\">"), 9);
    CHECK_CONTAINS(p.out, "The sign of every gap on this page");
    CHECK(!strstr(p.out, "http-equiv=\"refresh\"")); /* only a live report reloads */
    /* only the typed axes vary: no more columns, titles as they were */
    CHECK(!strstr(p.out, "class=\"varied\"") && !strstr(p.out, "<tspan"));
    CHECK_CONTAINS(p.out, "<title>val_loss: model xs, U = 4k unique tokens, quality high, 10 epochs</title>");
    harness_proc_free(&p);

    /* The gap panel as Chromium draws it: the pair plot of xs at U 4000 (a
     * crossover, final gap +0.5) is 800 x 630, its gap panel's frame spans
     * x 64..786, y 404..544. The gap's colour (#7b3294) is there, in
     * quantity, and nowhere in the main plot above it; the zero line (#333)
     * crosses the panel at its middle (the range is symmetric). */
    char pairsvg[4600] = "", png[4300];
    snprintf(plots, sizeof plots, "%s/plots", out);
    DIR *dir = opendir(plots);
    CHECK(dir);
    for (struct dirent *e; (e = readdir(dir));)
        if (strstr(e->d_name, "pair-val_loss-tokens-xs-U4000-high"))
            snprintf(pairsvg, sizeof pairsvg, "file://%s/%s", plots, e->d_name);
    closedir(dir);
    CHECK(pairsvg[0]);
    harness_path(png, sizeof png, "pair.png");
    CHECK(helper_screenshot(pairsvg, 800, 630, png) == 0);
    int w, h;
    unsigned char *px = helper_png_rgba(png, &w, &h);
    CHECK(px && w == 800 && h == 630);
    long gap_px = helper_count_color(px, w, h, 64, 404, 786, 545, 0x7b, 0x32, 0x94, 40);
    long main_px = helper_count_color(px, w, h, 0, 60, 800, 372, 0x7b, 0x32, 0x94, 40);
    if (gap_px < 300 || main_px > 0) fprintf(stderr, "gap colour: %ld px in the gap panel, %ld above\n", gap_px, main_px);
    CHECK(gap_px >= 300);
    CHECK_INT(main_px, 0);
    long zero = 0;
    for (int y = 472; y <= 476; y++) zero = fmax(zero, helper_count_color(px, w, h, 64, y, 786, y + 1, 0x33, 0x33, 0x33, 24));
    if (zero < 500) fprintf(stderr, "zero line: %ld px\n", zero);
    CHECK(zero >= 500);
    /* the main plot above has its curves: AR's colour (#1f5fa8) */
    CHECK(helper_count_color(px, w, h, 64, 68, 786, 370, 0x1f, 0x5f, 0xa8, 40) >= 300);
    free(px);

    /* And on the page itself: the gap panels are drawn (the colour is
     * there), below the top of the page's first plot. */
    harness_path(png, sizeof png, "page.png");
    CHECK(helper_screenshot(url, 1400, 9000, png) == 0);
    px = helper_png_rgba(png, &w, &h);
    CHECK(px);
    CHECK(helper_count_color(px, w, h, 0, 0, w, h, 0x7b, 0x32, 0x94, 40) >= 9 * 200);
    free(px);

    /* The plots are also files beside the page; no temporary file is left. */
    snprintf(plots, sizeof plots, "%s/plots/grid-val_loss-tokens.svg", out);
    char *svg = harness_slurp(plots, NULL);
    CHECK(svg);
    free(svg);
    const char *dirs[] = {out, plots, NULL};
    plots[strlen(plots) - strlen("/grid-val_loss-tokens.svg")] = 0;
    for (int i = 0; dirs[i]; i++) {
        dir = opendir(dirs[i]);
        CHECK(dir);
        int files = 0, tmp = 0;
        for (struct dirent *e; (e = readdir(dir));) {
            files++;
            if (strstr(e->d_name, "tmp")) tmp++;
        }
        closedir(dir);
        CHECK_INT(tmp, 0);
        CHECK_INT(files, i == 0 ? 4 : 13); /* ., .., index.html, plots; ., .. and 11 SVGs */
    }

    /* A sweep that does not exist: exit 2. */
    p = xover("report", "--sweep", "nope", "--db", path, out, NULL, NULL);
    CHECK_INT(p.status, 2);
    harness_proc_free(&p);
}
