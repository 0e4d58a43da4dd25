/*
 * helpers.c — what several test files share (see helpers.h).
 */
#include "tests/helpers.h"
#include "tests/harness.h"
#include "orchestrator/db/db.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

db *helper_open_db(const char *name, char *path, size_t n)
{
    char err[512];
    harness_path(path, n, name);
    db *d = db_open(path, DB_WRITE, err, sizeof err);
    if (!d) fprintf(stderr, "open: %s\n", err);
    return d;
}

long long helper_qint(const char *dbpath, const char *sql)
{
    char err[512];
    db *d = db_open(dbpath, DB_READONLY, err, sizeof err);
    if (!d) return -1000;
    long long v = -999;
    if (db_query_int(d, sql, &v)) v = -998;
    db_close(d);
    return v;
}

static int append_row(void *ctx, int ncol, const db_value *v)
{
    char **buf = ctx;
    char line[512];
    size_t k = 0;
    for (int c = 0; c < ncol; c++) {
        if (v[c].type == DB_NULL) k += (size_t)snprintf(line + k, sizeof line - k, "NULL ");
        else if (v[c].type == DB_INT) k += (size_t)snprintf(line + k, sizeof line - k, "%lld ", v[c].i);
        else if (v[c].type == DB_REAL) k += (size_t)snprintf(line + k, sizeof line - k, "%.17g ", v[c].d);
        else k += (size_t)snprintf(line + k, sizeof line - k, "%s ", v[c].s);
        if (k >= sizeof line) k = sizeof line - 1;
    }
    size_t a = *buf ? strlen(*buf) : 0;
    char *n = realloc(*buf, a + k + 2);
    if (!n) return 1;
    memcpy(n + a, line, k);
    n[a + k] = '\n';
    n[a + k + 1] = 0;
    *buf = n;
    return 0;
}

char *helper_qtext(const char *dbpath, const char *sql)
{
    char err[512];
    db *d = db_open(dbpath, DB_READONLY, err, sizeof err);
    if (!d) return NULL;
    char *buf = NULL;
    db_sink sink = {NULL, append_row, &buf};
    int rc = db_query(d, sql, &sink);
    db_close(d);
    if (rc) {
        free(buf);
        return NULL;
    }
    return buf ? buf : strdup("");
}

char *helper_dump_metrics(const char *dbpath)
{
    return helper_qtext(dbpath, "SELECT r.key, m.name, m.step, m.value FROM metrics m JOIN runs r ON r.id = m.run_id "
                                "ORDER BY r.key, m.name, m.step");
}

const char *helper_fake_trainer(void)
{
    static char path[1024];
    char cwd[512];
    if (!getcwd(cwd, sizeof cwd)) return "tests/fake_trainer.py";
    snprintf(path, sizeof path, "%s/tests/fake_trainer.py", cwd);
    return path;
}

const char *helper_old_schema(void)
{
    static char *text;
    if (!text) text = harness_slurp("tests/fixtures/schema-5.sql", NULL);
    return text;
}

/* ---- screenshots ----------------------------------------------------------- */

int helper_screenshot(const char *url, int w, int h, const char *png)
{
    char profile[4096], flag_profile[4200], flag_size[64], flag_out[4200];
    /* a profile of its own per shot: Chromium locks the one it runs with */
    static int shots;
    char name[64];
    snprintf(name, sizeof name, "chromium-shot-%d", shots++);
    harness_path(profile, sizeof profile, name);
    snprintf(flag_profile, sizeof flag_profile, "--user-data-dir=%s", profile);
    snprintf(flag_size, sizeof flag_size, "--window-size=%d,%d", w, h);
    snprintf(flag_out, sizeof flag_out, "--screenshot=%s", png);
    const char *argv[] = {"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                          "--no-first-run", "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", "--hide-scrollbars", "--force-device-scale-factor=1", flag_profile,
                          flag_size, flag_out, url, NULL};
    harness_proc p = harness_run(argv, NULL);
    int ok = p.status == 0 && access(png, R_OK) == 0;
    /* To look at the shots: XOVER_TEST_SHOTS=DIR keeps a copy of each. */
    const char *keep = getenv("XOVER_TEST_SHOTS");
    if (ok && keep) {
        char copy[4400];
        const char *base = strrchr(png, '/');
        snprintf(copy, sizeof copy, "%s/%d-%s", keep, shots, base ? base + 1 : png);
        const char *cp[] = {"cp", png, copy, NULL};
        harness_proc c = harness_run(cp, NULL);
        harness_proc_free(&c);
    }
    if (!ok)
        fprintf(stderr, "chromium --screenshot failed (status %d): it is required for this test; install it "
                "with 'apt-get install chromium' (.ci/deps test). %s\n", p.status, p.err);
    harness_proc_free(&p);
    return ok ? 0 : -1;
}

unsigned char *helper_png_rgba(const char *path, int *w, int *h)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path)) {
        fprintf(stderr, "%s: %s\n", path, im.message);
        return NULL;
    }
    im.format = PNG_FORMAT_RGBA;
    unsigned char *px = malloc(PNG_IMAGE_SIZE(im));
    if (!px || !png_image_finish_read(&im, NULL, px, 0, NULL)) {
        fprintf(stderr, "%s: %s\n", path, im.message);
        free(px);
        png_image_free(&im);
        return NULL;
    }
    *w = (int)im.width;
    *h = (int)im.height;
    return px;
}

long helper_count_color(const unsigned char *px, int w, int h, int x0, int y0, int x1, int y1, int r, int g,
                        int b, int tol)
{
    long n = 0;
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < h; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < w; x++) {
            const unsigned char *p = px + ((size_t)y * (size_t)w + (size_t)x) * 4;
            if (abs(p[0] - r) <= tol && abs(p[1] - g) <= tol && abs(p[2] - b) <= tol) n++;
        }
    return n;
}
