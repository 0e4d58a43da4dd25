/*
 * test_cloze_paired.c — mc_acc beside the loss (#16 item 6): the items'
 * outcomes (mc_correct) ingested into cloze_outcomes and filled for runs
 * ingested before; the annealed crossover table's mc_acc columns with the
 * gap's interval PAIRED over the same items (computed here on its own from
 * the synthetic outcomes) and its unpaired fallback when the item counts
 * differ.
 */
#include "tests/harness.h"
#include "tests/helpers.h"
#include "orchestrator/analysis/analysis.h"
#include "orchestrator/db/db.h"
#include "orchestrator/exec/internal.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* "N:HEX" of outcomes ok[0..n) (run.h: digit k holds items 4k..4k+3). */
static void hex_of(const int *ok, int n, char *buf)
{
    int k = sprintf(buf, "%d:", n);
    for (int i = 0; i < n; i += 4) {
        int d = 0;
        for (int j = 0; j < 4 && i + j < n; j++) d |= ok[i + j] << j;
        buf[k++] = "0123456789abcdef"[d];
    }
    buf[k] = 0;
}

/* ---- ingest ------------------------------------------------------------------- */

TEST(cloze_outcomes_ingest_round_trip_and_reingest)
{
    char path[4096], dir[4096], file[4200];
    db *d = helper_open_db("o.db", path, sizeof path);
    CHECK(d);
    db_run_spec s = {.key = "k1", .config = "{}", .objective = "ar", .params = -1, .unique_tokens = -1,
                     .epochs = NAN, .seed = 0};
    long long id;
    CHECK_INT(db_run_put(d, &s, &id), DB_OK);
    harness_path(dir, sizeof dir, "m");
    mkdir(dir, 0777);
    snprintf(file, sizeof file, "%s/metrics.jsonl", dir);
    /* 6 items: 1,0,1,1 | 0,1 -> digits d (1+4+8) and 2; a malformed text is
     * not kept, its line's points are */
    CHECK_INT(harness_write(file,
        "{\"step\":10,\"tokens\":100,\"epoch\":1,\"flops\":1,\"val_loss\":4.0,\"mc_acc\":0.5,\"mc_correct\":\"6:d2\"}\n"
        "{\"step\":20,\"tokens\":200,\"epoch\":2,\"flops\":2,\"val_loss\":3.9,\"mc_acc\":0.5,\"mc_acc_se\":0.2,"
        "\"mc_correct\":\"8:f0\"}\n"
        "{\"step\":30,\"tokens\":300,\"epoch\":3,\"flops\":3,\"val_loss\":3.8,\"mc_acc\":0.6,\"mc_correct\":\"5:zz\"}\n"),
        0);
    char err[512];
    for (int round = 0; round < 2; round++) { /* a second driver reads it all again */
        ingest *g = ingest_new(file, NULL);
        CHECK(g);
        int rc = ingest_poll(g, d, id, 1, err, sizeof err);
        if (rc) fprintf(stderr, "%s\n", err);
        CHECK_INT(rc, 0);
        ingest_free(g);
    }
    db_close(d);
    char *rows = helper_qtext(path, "SELECT step, items, outcomes FROM cloze_outcomes ORDER BY step");
    CHECK(rows);
    CHECK_STR(rows, "10 6 6:d2 \n20 8 8:f0 \n"); /* helper_qtext: a space after each value */
    free(rows);
    CHECK_INT(helper_qint(path, "SELECT count(*) FROM metrics WHERE name = 'mc_acc'"), 3);
    /* read back beside mc_acc and mc_acc_se */
    d = db_open(path, DB_READONLY, err, sizeof err);
    CHECK(d);
    db_cloze c;
    CHECK_INT(db_cloze_at(d, id, 20, &c), DB_OK);
    CHECK_INT(c.items, 8);
    CHECK_STR(c.outcomes, "8:f0");
    CHECK_NEAR(c.acc, 0.5, 0);
    CHECK_NEAR(c.se, 0.2, 0);
    db_cloze_free(&c);
    CHECK_INT(db_cloze_at(d, id, -1, &c), DB_OK); /* the last evaluation: no outcomes kept */
    CHECK_INT(c.step, 30);
    CHECK_INT(c.items, -1);
    CHECK(c.outcomes == NULL);
    CHECK(isnan(c.se));
    db_cloze_free(&c);
    CHECK_INT(db_cloze_at(d, id, 25, &c), DB_ENOTFOUND);
    db_cloze_free(&c);
    double ok[8];
    CHECK_INT(an_mc_unhex("6:d2", ok, 8), 6);
    CHECK(ok[0] == 1 && ok[1] == 0 && ok[2] == 1 && ok[3] == 1 && ok[4] == 0 && ok[5] == 1);
    db_close(d);
    CHECK_INT(db_outcomes_items("6:d2"), 6);
    CHECK_INT(db_outcomes_items("6:d"), -1);
    CHECK_INT(db_outcomes_items("6:D2"), -1);
    CHECK_INT(db_outcomes_items(":d2"), -1);
}

/* A database of schema 5 whose run has mc_acc points but no outcomes (it
 * was ingested before they were kept): `xover db init` upgrades it and
 * reads the outcomes from the run's directory; a second init finds none
 * left to fill. */
TEST(cloze_outcomes_db_init_upgrades_and_fills_old_runs)
{
    const char *schema5 = helper_old_schema();
    CHECK(schema5);
    char path[4096], err[512], dir[4200], file[4300];
    harness_path(path, sizeof path, "old.db");
    db *d = db_open_schema(path, schema5, 5, err, sizeof err);
    CHECK(d);
    const char *key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    harness_path(dir, sizeof dir, key);
    mkdir(dir, 0777);
    snprintf(file, sizeof file, "%s/metrics.jsonl", dir);
    CHECK_INT(harness_write(file, "{\"step\":5,\"mc_acc\":0.25,\"mc_correct\":\"4:1\"}\n"), 0);
    db_run_spec s = {.key = key, .config = "{}", .objective = "mdm", .params = -1, .unique_tokens = -1,
                     .epochs = NAN, .seed = 0, .run_dir = dir};
    long long id;
    CHECK_INT(db_run_put(d, &s, &id), DB_OK);
    db_metric m = {"mc_acc", 5, -1, NAN, NAN, 0.25};
    CHECK_INT(db_ingest_metrics(d, id, &m, 1), DB_OK);
    db_close(d);
    const char *argv[] = {harness_xover(), "db", "init", path, NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "upgraded");
    CHECK_CONTAINS(p.out, "cloze item outcomes read from the run directories of 1 runs");
    harness_proc_free(&p);
    char *rows = helper_qtext(path, "SELECT run_id, step, items, outcomes FROM cloze_outcomes");
    CHECK(rows);
    char want[64];
    snprintf(want, sizeof want, "%lld 5 4 4:1 \n", id);
    CHECK_STR(rows, want);
    free(rows);
    p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    CHECK(strstr(p.out, "cloze item outcomes") == NULL);
    harness_proc_free(&p);
}

/* ---- the annealed table ---------------------------------------------------------- */

#define NI 40

/* A run of the cell (U 1000, cloze items) with this objective, seed,
 * budget E and train extras. */
static long long arun(db *d, const char *objective, double E, long long seed, const char *train)
{
    char config[512], key[160];
    snprintf(config, sizeof config,
             "{\"data\":{\"quality\":\"all\",\"unique_tokens\":1000,\"corpus\":\"synthetic\","
             "\"cloze\":{\"items\":%d,\"pool_tokens\":50000,\"context\":16,\"length\":4,\"candidates\":4}},"
             "\"model\":{\"name\":\"d\"},\"objective\":\"%s\",\"seed\":%lld,"
             "\"train\":{\"epochs\":%g,\"lr\":0.001%s}}", NI, objective, seed, E, train);
    snprintf(key, sizeof key, "%s-%g-%lld%s", objective, E, seed, train);
    db_run_spec s = {.key = key, .config = config, .objective = objective, .model = "d", .params = 1000,
                     .unique_tokens = 1000, .quality = "all", .epochs = E, .seed = seed};
    long long id = -1;
    if (db_run_put(d, &s, &id) || db_run_finished(d, id, "done", NULL, NULL, 0)) return -1;
    return id;
}

/* The outcomes of branch b (0..nb) of an objective: a fixed pseudo-random
 * pattern of n items, a different one per branch, right with chance q. */
static void pattern(int b, int mdm, int n, double q, int *ok)
{
    unsigned x = 2654435761u * (unsigned)(b + 1) + (mdm ? 97u : 13u);
    for (int i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        ok[i] = ((x >> 16) % 1000) < (unsigned)(q * 1000);
    }
}

/* A trunk with branches at budgets E[i], final val_loss y[i], and at each
 * branch's final step mc_acc (the share of pattern(i)'s items right),
 * mc_acc_se and the outcomes of n[i] items. */
static long long atrunk(db *d, const char *objective, int nb, const double *E, const double *y, const int *n,
                        const double *q)
{
    long long t = arun(d, objective, E[nb - 1], 0, ",\"anneal_at\":[1]");
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE runs SET role = 'trunk' WHERE id = %lld", t);
    if (t < 0 || db_exec(d, sql)) return -1;
    for (int i = 0; i < nb; i++) {
        char tr[64];
        snprintf(tr, sizeof tr, ",\"branch_of\":\"t%s\"", objective);
        long long b = arun(d, objective, E[i], 0, tr);
        snprintf(sql, sizeof sql, "UPDATE runs SET role = 'branch', parent_id = %lld WHERE id = %lld", t, b);
        if (b < 0 || db_exec(d, sql)) return -1;
        int ok[64], right = 0;
        pattern(i, !strcmp(objective, "mdm"), n[i], q[i], ok);
        for (int k = 0; k < n[i]; k++) right += ok[k];
        double p = (double)right / n[i], se = sqrt(p * (1 - p) / (n[i] - 1));
        long long step = 100 * (i + 1), tok = (long long)(1000 * E[i]);
        db_metric m[4] = {{"val_loss", step, tok, E[i], 6e3 * tok, y[i]},
                          {"val_loss_se", step, tok, E[i], 6e3 * tok, 0.005},
                          {"mc_acc", step, tok, E[i], 6e3 * tok, p},
                          {"mc_acc_se", step, tok, E[i], 6e3 * tok, se}};
        char hex[64];
        hex_of(ok, n[i], hex);
        db_outcome o = {step, hex};
        if (db_ingest_metrics(d, b, m, 4) || db_ingest_outcomes(d, b, &o, 1)) return -1;
    }
    return t;
}

static json_t *crossover_json(const char *path)
{
    const char *argv[] = {harness_xover(), "crossover", "--annealed", "--format", "json", "--db", path, NULL};
    harness_proc p = harness_run(argv, NULL);
    json_t *j = p.status == 0 ? json_loads(p.out, 0, NULL) : NULL;
    if (!j) fprintf(stderr, "crossover: %d %s\n", p.status, p.err);
    harness_proc_free(&p);
    return j;
}

static char *crossover_md(const char *path)
{
    const char *argv[] = {harness_xover(), "crossover", "--annealed", "--db", path, NULL};
    harness_proc p = harness_run(argv, NULL);
    char *out = p.status == 0 ? strdup(p.out) : NULL;
    harness_proc_free(&p);
    return out;
}

static double num(json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

/* The pair the table tests share: AR annealed at 10, 20, 40 epochs (best at
 * 20), the MDM at 10 ... 80 (best at 80), each branch with NI items but the
 * MDM's last, which has mdm_last_items. */
static const double QA[] = {0.3, 0.5, 0.4}, QM[] = {0.2, 0.3, 0.4, 0.6};
static int the_pair(db *d, int mdm_last_items)
{
    static const double Ea[] = {10, 20, 40}, ya[] = {4.2, 4.0, 4.1};
    static const double Em[] = {10, 20, 40, 80}, ym[] = {4.5, 4.2, 4.05, 3.9};
    const int na[] = {NI, NI, NI}, nm[] = {NI, NI, NI, mdm_last_items};
    return atrunk(d, "ar", 3, Ea, ya, na, QA) > 0 && atrunk(d, "mdm", 4, Em, ym, nm, QM) > 0 ? 0 : -1;
}

/* AR's best annealed point is its 20-epoch branch, the MDM's its 80-epoch
 * one: the mc_acc columns read exactly those two branches' outcomes (every
 * branch has its own pattern) and the gap's interval is the paired one,
 * computed here item by item. */
TEST(cloze_paired_interval_in_the_annealed_table)
{
    char path[4096];
    db *d = helper_open_db("p.db", path, sizeof path);
    CHECK(d);
    CHECK(the_pair(d, NI) == 0);
    db_close(d);
    /* by hand: AR's branch 1 against the MDM's branch 3 */
    int a[NI], m[NI];
    pattern(1, 0, NI, QA[1], a);
    pattern(3, 1, NI, QM[3], m);
    double sa = 0, sm = 0, sd = 0, ss = 0;
    for (int i = 0; i < NI; i++) sa += a[i], sm += m[i], sd += m[i] - a[i];
    double mean = sd / NI;
    for (int i = 0; i < NI; i++) ss += (m[i] - a[i] - mean) * (m[i] - a[i] - mean);
    double se = sqrt(ss / (NI - 1)) / sqrt(NI);
    CHECK(se > 0);
    json_t *j = crossover_json(path), *o = json_array_get(j, 0);
    CHECK(o && json_array_size(j) == 1);
    CHECK_NEAR(num(o, "ar_best_x"), 20000, 0);
    CHECK_NEAR(num(o, "mdm_best_x"), 80000, 0);
    CHECK_NEAR(num(o, "ar_mc_acc"), sa / NI, 1e-12);
    CHECK_NEAR(num(o, "mdm_mc_acc"), sm / NI, 1e-12);
    CHECK_NEAR(num(o, "mc_acc_gap"), mean, 1e-12);
    CHECK_NEAR(num(o, "mc_acc_gap_se"), se, 1e-12);
    CHECK_NEAR(num(o, "mc_acc_gap_lo"), mean - 1.959964 * se, 1e-12);
    CHECK_NEAR(num(o, "mc_acc_gap_hi"), mean + 1.959964 * se, 1e-12);
    CHECK_INT(json_integer_value(json_object_get(o, "mc_acc_paired")), 1);
    CHECK_INT(json_integer_value(json_object_get(o, "ar_mc_acc_items")), NI);
    CHECK_INT(json_integer_value(json_object_get(o, "mdm_mc_acc_items")), NI);
    /* paired is sharper than the two sides' errors together */
    double pa = sa / NI, pm = sm / NI;
    CHECK(se < sqrt(pa * (1 - pa) / (NI - 1) + pm * (1 - pm) / (NI - 1)));
    json_decref(j);
    char *md = crossover_md(path);
    CHECK(md);
    CHECK_CONTAINS(md, "| AR mc_acc |");
    CHECK_CONTAINS(md, "paired, 40 items)");
    char cell[64];
    snprintf(cell, sizeof cell, "%+.3f [%+.3f, %+.3f]", mean, mean - 1.959964 * se, mean + 1.959964 * se);
    CHECK_CONTAINS(md, cell);
    free(md);
    /* the report's annealed crossover table: the same columns */
    char out[4200], page[4300];
    snprintf(out, sizeof out, "%s.report", path);
    const char *rargv[] = {harness_xover(), "report", "--db", path, out, NULL};
    harness_proc pr = harness_run(rargv, NULL);
    CHECK_INT(pr.status, 0);
    harness_proc_free(&pr);
    snprintf(page, sizeof page, "%s/index.html", out);
    char *html = harness_slurp(page, NULL);
    CHECK(html != NULL);
    CHECK_CONTAINS(html, "mc_acc gap [95% interval]</th>");
    CHECK_CONTAINS(html, cell);
    CHECK_CONTAINS(html, "(paired, 40 items)</td>");
    free(html);
}

/* The MDM's best branch scored 44 items, AR's 40: not the same items, so
 * no pairing: the gap is the difference of the two accuracies and its
 * interval sqrt(se_AR^2 + se_MDM^2), said "unpaired". */
TEST(cloze_unpaired_when_the_item_counts_differ)
{
    char path[4096];
    db *d = helper_open_db("u.db", path, sizeof path);
    CHECK(d);
    CHECK(the_pair(d, 44) == 0);
    db_close(d);
    int a[64], m[64];
    pattern(1, 0, NI, QA[1], a);
    pattern(3, 1, 44, QM[3], m);
    double sa = 0, sm = 0;
    for (int i = 0; i < NI; i++) sa += a[i];
    for (int i = 0; i < 44; i++) sm += m[i];
    double pa = sa / NI, pm = sm / 44;
    double se = sqrt(pa * (1 - pa) / (NI - 1) + pm * (1 - pm) / (44 - 1));
    json_t *j = crossover_json(path), *o = json_array_get(j, 0);
    CHECK(o);
    CHECK_INT(json_integer_value(json_object_get(o, "mc_acc_paired")), 0);
    CHECK_NEAR(num(o, "mc_acc_gap"), pm - pa, 1e-12);
    CHECK_NEAR(num(o, "mc_acc_gap_se"), se, 1e-12);
    CHECK_NEAR(num(o, "mc_acc_gap_lo"), pm - pa - 1.959964 * se, 1e-12);
    CHECK_INT(json_integer_value(json_object_get(o, "mdm_mc_acc_items")), 44);
    json_decref(j);
    char *md = crossover_md(path);
    CHECK(md);
    CHECK_CONTAINS(md, "unpaired, 40 AR / 44 MDM items");
    free(md);
}

/* The item set: what decides the items, and nothing else. */
TEST(cloze_item_set_names_what_decides_the_items)
{
    const char *base = "{\"data\":{\"corpus\":\"c\",\"unique_tokens\":1000,\"quality\":\"all\","
                       "\"cloze\":{\"items\":100,\"pool_tokens\":5000,\"context\":32}},"
                       "\"objective\":\"ar\",\"seed\":1,\"train\":{\"epochs\":3}}";
    const char *other = "{\"data\":{\"corpus\":\"c\",\"unique_tokens\":2000,\"quality\":\"high\","
                        "\"cloze\":{\"items\":10,\"final_items\":400,\"pool_tokens\":5000,\"context\":32}},"
                        "\"objective\":\"mdm\",\"seed\":2,\"train\":{\"epochs\":9}}";
    const char *pool = "{\"data\":{\"corpus\":\"c\",\"cloze\":{\"pool_tokens\":6000,\"context\":32}}}";
    char *a = an_item_set(base), *b = an_item_set(other), *c = an_item_set(pool);
    CHECK(a && b && c);
    CHECK_STR(a, b);
    CHECK(strcmp(a, c) != 0);
    CHECK_STR(a, "{\"cloze\":{\"context\":32,\"pool_tokens\":5000},\"corpus\":\"c\"}");
    free(a), free(b), free(c);
    CHECK(an_item_set("not json") == NULL);
}

/* Re-scored outcomes (xover eval --cloze) of both best branches on one item
 * set win over the in-training ones; a set only one side has does not. */
TEST(cloze_rescored_outcomes_preferred_when_both_sides_have_them)
{
    char path[4096];
    db *d = helper_open_db("r.db", path, sizeof path);
    CHECK(d);
    CHECK(the_pair(d, NI) == 0);
    /* the two best branches: AR's 20-epoch (step 200), the MDM's 80 (step 400) */
    long long ar_b = -1, mdm_b = -1;
    CHECK_INT(db_query_int(d, "SELECT id FROM runs WHERE objective = 'ar' AND role = 'branch' AND epochs = 20",
                           &ar_b), DB_OK);
    CHECK_INT(db_query_int(d, "SELECT id FROM runs WHERE objective = 'mdm' AND role = 'branch' AND epochs = 80",
                           &mdm_b), DB_OK);
    int a[60], m[60];
    pattern(7, 0, 60, 0.5, a);
    pattern(8, 1, 60, 0.7, m);
    char ha[64], hm[64];
    hex_of(a, 60, ha);
    hex_of(m, 60, hm);
    double sa = 0, sm = 0;
    for (int i = 0; i < 60; i++) sa += a[i], sm += m[i];
    db_rescored ra = {ar_b, "{\"set\":1}", 60, 200, -1, sa / 60, 0.06, ha, 1.0, "test"};
    db_rescored rm = {mdm_b, "{\"set\":1}", 60, 400, 4, sm / 60, 0.06, hm, 9.0, "test"};
    /* the MDM alone on another set: not a pair's */
    db_rescored lone = {mdm_b, "{\"set\":2}", 80, 400, 4, 0.9, 0.03, "80:ffffffffffffffffffff", 9.0, "test"};
    CHECK_INT(db_rescored_put(d, &ra), DB_OK);
    CHECK_INT(db_rescored_put(d, &rm), DB_OK);
    CHECK_INT(db_rescored_put(d, &rm), DB_OK); /* again: one row */
    CHECK_INT(db_rescored_put(d, &lone), DB_OK);
    db_close(d);
    CHECK_INT(helper_qint(path, "SELECT count(*) FROM cloze_rescored"), 3);
    double mean = 0, ss = 0;
    for (int i = 0; i < 60; i++) mean += (double)(m[i] - a[i]) / 60;
    for (int i = 0; i < 60; i++) ss += (m[i] - a[i] - mean) * (m[i] - a[i] - mean);
    json_t *j = crossover_json(path), *o = json_array_get(j, 0);
    CHECK(o);
    CHECK_INT(json_integer_value(json_object_get(o, "mc_acc_rescored")), 1);
    CHECK_INT(json_integer_value(json_object_get(o, "mc_acc_paired")), 1);
    CHECK_INT(json_integer_value(json_object_get(o, "ar_mc_acc_items")), 60);
    CHECK_NEAR(num(o, "ar_mc_acc"), sa / 60, 1e-12);
    CHECK_NEAR(num(o, "mc_acc_gap"), mean, 1e-12);
    CHECK_NEAR(num(o, "mc_acc_gap_se"), sqrt(ss / 59) / sqrt(60), 1e-12);
    json_decref(j);
    char *md = crossover_md(path);
    CHECK(md);
    CHECK_CONTAINS(md, "paired, 60 items, re-scored)");
    free(md);
}

/* ---- xover eval --cloze ------------------------------------------------------- */

/* Train a tiny run into DIR/<key> with this cloze pool (0: none) and
 * register it in the database at dbpath; the run's directory in out. */
static int tiny_run(const char *dbpath, const char *key, long long pool, char *out, size_t n)
{
    char cfg[1024], cache[512], dir[512];
    harness_path(dir, sizeof dir, key);
    snprintf(out, n, "%s", dir);
    harness_path(cache, sizeof cache, "cache");
    char pooltxt[64] = "";
    if (pool) snprintf(pooltxt, sizeof pooltxt, ",\"pool_tokens\":%lld", pool);
    char text[1024];
    snprintf(text, sizeof text,
             "{\"objective\":\"mdm\",\"seed\":1,\"model\":{\"layers\":1,\"dim\":16,\"heads\":2},"
             "\"data\":{\"corpus\":\"%s\",\"vocab\":280,\"val_tokens\":600,\"unique_tokens\":%d,"
             "\"cloze\":{\"items\":4%s,\"context\":8,\"candidates\":3,\"length\":4}},"
             "\"train\":{\"seq_len\":32,\"batch\":4,\"epochs\":%s,\"lr\":0.003,\"eval_every\":0.5,"
             "\"eval_draws\":1,\"final_eval_draws\":1}}",
             /* without a pool: a budget of nearly all of a small corpus's
              * 144,814 training tokens (697 documents) */
             pool ? "synthetic" : "synthetic:700", pool ? 3000 : 140000, pooltxt, pool ? "0.5" : "0.02");
    snprintf(cfg, sizeof cfg, "%s.json", dir);
    if (harness_write(cfg, text)) return -1;
    const char *argv[] = {harness_xover(), "train", "--config", cfg, "--out", dir, "--cache", cache, NULL};
    harness_proc p = harness_run(argv, NULL);
    int st = p.status;
    if (st) fprintf(stderr, "train: %s\n", p.err);
    harness_proc_free(&p);
    if (st) return -1;
    char err[512];
    db *d = db_open(dbpath, DB_WRITE, err, sizeof err);
    if (!d) return -1;
    db_run_spec s = {.key = key, .config = text, .objective = "mdm", .params = -1, .unique_tokens = -1,
                     .epochs = NAN, .seed = 1, .run_dir = dir};
    long long id;
    int rc = db_run_put(d, &s, &id);
    db_close(d);
    return rc ? -1 : 0;
}

static harness_proc eval_cloze(const char *dbpath, const char *dir, const char *pool)
{
    char cache[512];
    harness_path(cache, sizeof cache, "cache");
    const char *argv[] = {harness_xover(), "eval", "--cloze", "10", "--run", dir, "--cache", cache, "--db", dbpath,
                          pool ? "--pool-tokens" : NULL, pool, NULL};
    return harness_run(argv, NULL);
}

/* A run trained without a pool and a budget that takes in most of the
 * corpus: the pool's documents are in its training tokens, so scoring it
 * there is refused (exit 2, saying how many overlap) and nothing is
 * recorded; without --pool-tokens it is a usage error too. */
TEST(cloze_eval_refuses_a_pool_that_overlaps_the_training_tokens)
{
    char dbpath[1024], dir[1024];
    harness_path(dbpath, sizeof dbpath, "e.db");
    const char *key = "aaaa456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    CHECK_INT(tiny_run(dbpath, key, 0, dir, sizeof dir), 0);
    harness_proc p = eval_cloze(dbpath, dir, "3000");
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "refusing to score");
    CHECK_CONTAINS(p.err, "in the run's training budget");
    harness_proc_free(&p);
    p = eval_cloze(dbpath, dir, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "trained without a cloze pool");
    harness_proc_free(&p);
    CHECK_INT(helper_qint(dbpath, "SELECT count(*) FROM cloze_rescored"), 0);
}

/* A run trained with a pool of 6000 tokens: scored on its own pool, and on
 * the first 3000 tokens of it (proven held out: those documents are after
 * the validation ones, never in its training split), one row each; again,
 * the same rows with the same numbers (the masks are the run's eval seed's). */
TEST(cloze_eval_rescoring_is_recorded_and_idempotent)
{
    char dbpath[1024], dir[1024];
    harness_path(dbpath, sizeof dbpath, "i.db");
    const char *key = "bbbb456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    CHECK_INT(tiny_run(dbpath, key, 6000, dir, sizeof dir), 0);
    char *first = NULL;
    for (int round = 0; round < 2; round++) {
        harness_proc p = eval_cloze(dbpath, dir, NULL);
        if (p.status) fprintf(stderr, "%s", p.err);
        CHECK_INT(p.status, 0);
        CHECK_CONTAINS(p.out, "on 10 items (pool of 6000 tokens");
        harness_proc_free(&p);
        p = eval_cloze(dbpath, dir, "3000");
        if (p.status) fprintf(stderr, "%s", p.err);
        CHECK_INT(p.status, 0);
        CHECK_CONTAINS(p.out, "held out from the run: none of the pool's");
        harness_proc_free(&p);
        char *now = helper_qtext(dbpath, "SELECT item_set, step, mc_acc, mc_acc_se, outcomes FROM cloze_rescored "
                                         "ORDER BY item_set");
        CHECK(now);
        if (first) {
            CHECK_STR(now, first);
            free(now);
        } else {
            first = now;
        }
    }
    free(first);
    CHECK_INT(helper_qint(dbpath, "SELECT count(*) FROM cloze_rescored"), 2);
    CHECK_INT(helper_qint(dbpath, "SELECT count(DISTINCT item_set) FROM cloze_rescored WHERE items = 10"), 2);
    char *rows = helper_qtext(dbpath, "SELECT items, draws, length(outcomes) FROM cloze_rescored");
    CHECK(rows);
    CHECK_STR(rows, "10 1 6 \n10 1 6 \n"); /* "10:" and 3 hex digits; the run's eval_draws */
    free(rows);
}

/* End to end: an annealed pair whose best branches are real tiny runs
 * (trained with a pool of 6000 tokens, their metrics ingested).
 * `xover eval --sweep s --annealed --cloze 12` scores exactly those two
 * runs, a line each; again, it skips both; the annealed table then reads
 * the re-scored outcomes, paired over the 12 items. */
TEST(cloze_eval_sweep_scores_the_annealed_tables_points_once)
{
    char dbpath[1024], err[512];
    harness_path(dbpath, sizeof dbpath, "s.db");
    const char *key[2] = {"eeee456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                          "ffff456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"};
    const char *obj[2] = {"ar", "mdm"};
    char dir[2][1024], cache[512];
    harness_path(cache, sizeof cache, "cache");
    db *d = helper_open_db("s.db", dbpath, sizeof dbpath);
    CHECK(d);
    long long sw;
    CHECK_INT(db_sweep_put(d, "s", "sweep: s\n", "0", &sw), DB_OK);
    for (int k = 0; k < 2; k++) {
        char cfg[1024], text[1024], dbcfg[1100];
        harness_path(dir[k], sizeof dir[k], key[k]);
        snprintf(text, sizeof text,
                 "{\"objective\":\"%s\",\"seed\":1,\"model\":{\"layers\":1,\"dim\":16,\"heads\":2},"
                 "\"data\":{\"corpus\":\"synthetic\",\"vocab\":280,\"val_tokens\":600,\"unique_tokens\":3000,"
                 "\"cloze\":{\"items\":4,\"pool_tokens\":6000,\"context\":8,\"candidates\":3,\"length\":4}},"
                 "\"train\":{\"seq_len\":32,\"batch\":4,\"epochs\":0.5,\"lr\":0.003,\"eval_every\":0.5,"
                 "\"eval_draws\":1,\"final_eval_draws\":1}}", obj[k]);
        snprintf(cfg, sizeof cfg, "%s.json", dir[k]);
        CHECK_INT(harness_write(cfg, text), 0);
        const char *argv[] = {harness_xover(), "train", "--config", cfg, "--out", dir[k], "--cache", cache, NULL};
        harness_proc p = harness_run(argv, NULL);
        CHECK_INT(p.status, 0);
        harness_proc_free(&p);
        /* in the database: a trunk, and this run as its one branch */
        long long t, b;
        snprintf(dbcfg, sizeof dbcfg, "%.*s,\"anneal_at\":[1]}}", (int)strlen(text) - 2, text);
        char tkey[80];
        snprintf(tkey, sizeof tkey, "trunk-%s", obj[k]);
        db_run_spec ts = {.key = tkey, .config = dbcfg, .objective = obj[k], .params = -1, .unique_tokens = 3000,
                          .epochs = 0.5, .seed = 1};
        CHECK_INT(db_run_put(d, &ts, &t), DB_OK);
        snprintf(dbcfg, sizeof dbcfg, "%.*s,\"branch_of\":\"x\"}}", (int)strlen(text) - 2, text);
        db_run_spec bs = {.key = key[k], .config = dbcfg, .objective = obj[k], .params = -1, .unique_tokens = 3000,
                          .epochs = 0.5, .seed = 1, .run_dir = dir[k]};
        CHECK_INT(db_run_put(d, &bs, &b), DB_OK);
        char sql[256];
        snprintf(sql, sizeof sql, "UPDATE runs SET role = 'trunk', status = 'done' WHERE id = %lld; "
                 "UPDATE runs SET role = 'branch', parent_id = %lld, status = 'done' WHERE id = %lld", t, t, b);
        CHECK_INT(db_exec(d, sql), DB_OK);
        CHECK_INT(db_sweep_link(d, sw, t), DB_OK);
        CHECK_INT(db_sweep_link(d, sw, b), DB_OK);
        char metrics[1200];
        snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", dir[k]);
        ingest *g = ingest_new(metrics, NULL);
        CHECK(g);
        int rc = ingest_poll(g, d, b, 1, err, sizeof err);
        ingest_free(g);
        CHECK_INT(rc, 0);
    }
    db_close(d);
    const char *argv[] = {harness_xover(), "eval", "--sweep", "s", "--annealed", "--cloze", "12", "--cache", cache,
                          "--db", dbpath, NULL};
    harness_proc p = harness_run(argv, NULL);
    if (p.status) fprintf(stderr, "%s", p.err);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "[1/2] ");
    CHECK_CONTAINS(p.out, "[2/2] ");
    CHECK_CONTAINS(p.out, "2 scored, 0 already scored, 0 refused of 2 points");
    harness_proc_free(&p);
    p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "0 scored, 2 already scored, 0 refused of 2 points");
    harness_proc_free(&p);
    CHECK_INT(helper_qint(dbpath, "SELECT count(*) FROM cloze_rescored WHERE items = 12"), 2);
    json_t *j = crossover_json(dbpath), *o = json_array_get(j, 0);
    CHECK(o);
    CHECK_INT(json_integer_value(json_object_get(o, "mc_acc_rescored")), 1);
    CHECK_INT(json_integer_value(json_object_get(o, "mc_acc_paired")), 1);
    CHECK_INT(json_integer_value(json_object_get(o, "ar_mc_acc_items")), 12);
    CHECK_NEAR(num(o, "ar_mc_acc"), helper_qint(dbpath, "SELECT round(r.mc_acc * 12) FROM cloze_rescored r "
                                                         "JOIN runs u ON u.id = r.run_id WHERE u.objective = 'ar'") / 12.0,
               1e-9);
    json_decref(j);
}
