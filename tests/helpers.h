/*
 * helpers.h — helpers that several test files share: reading a results
 * database (one number, rows as text, every metric point) and the path of
 * the fake external trainer. No TEST blocks: tests/helpers.c is compiled
 * into the test binary like every test file.
 */
#ifndef XOVER_TESTS_HELPERS_H
#define XOVER_TESTS_HELPERS_H

#include <stddef.h>

typedef struct db db;

/* A database `name` in the test's directory, opened for writing (created
 * when new), its path in path[n]; NULL with the error on stderr. */
db *helper_open_db(const char *name, char *path, size_t n);
/* The integer the query returns, read-only: -1000 when the database cannot
 * be opened, -998 when the query fails, -999 when it returns no row. */
long long helper_qint(const char *dbpath, const char *sql);

/* The rows of a query as text, one line each, values separated by spaces
 * ("" when none; NULL on error). Caller frees. */
char *helper_qtext(const char *dbpath, const char *sql);

/* Every metric point (run key, name, step, value) in a fixed order, to
 * compare two databases; NULL on error. Caller frees. */
char *helper_dump_metrics(const char *dbpath);

/* The absolute path of tests/fake_trainer.py (a sweep's trainer command
 * runs in the run's directory, so a relative path would not do). */
const char *helper_fake_trainer(void);

/* schema.sql as it was up to migration 5, when migrations still made the
 * views themselves (tests/fixtures/schema-5.sql): db_open_schema(path, it,
 * N) builds a database as xover of schema version N left it. NULL when the
 * file cannot be read (the tests run from the repository's top). */
const char *helper_old_schema(void);

/* Render `url` in headless Chromium in a w x h window into the PNG file
 * `png`. 0, or -1 with why printed (Chromium is a test dependency). With
 * XOVER_TEST_SHOTS=DIR in the environment, a copy of each shot goes to DIR,
 * to look at. */
int helper_screenshot(const char *url, int w, int h, const char *png);

/* The PNG file at path as 8-bit RGBA pixels, row after row (libpng):
 * malloc'd, *w * *h * 4 bytes; NULL (with why printed) on error. */
unsigned char *helper_png_rgba(const char *path, int *w, int *h);

/* How many pixels of the box [x0, x1) x [y0, y1) are within tol of the
 * colour (r, g, b) in every channel. */
long helper_count_color(const unsigned char *px, int w, int h, int x0, int y0, int x1, int y1, int r, int g,
                        int b, int tol);

#endif
