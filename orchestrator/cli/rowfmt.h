/*
 * rowfmt.h — rows of typed cells written as an aligned text table, CSV,
 * JSON, JSON Lines or Markdown: the one place xover formats query results
 * (xover sql, xover export, and any command with --format).
 *
 *     rowfmt *f = rowfmt_new(ROWFMT_CSV, stdout);
 *     db_sink sink = rowfmt_sink(f);
 *     db_query(d, sql, &sink);            // or call rowfmt_columns/rowfmt_row
 *     int bad = rowfmt_finish(f);         // table/md are written here
 *     rowfmt_free(f);
 *
 * The formats:
 *   table  columns padded to their widest cell, numbers right-aligned, a
 *          dashed rule under the header; NULL is an empty cell
 *   csv    RFC 4180: a header line, fields quoted when they hold , " or a
 *          line break; NULL is an empty field
 *   json   one array of objects {"column": value}; NULL is null
 *   jsonl  one object per line
 *   md     a GitHub Markdown table ('|' in cells escaped)
 * Reals are written with the fewest digits that read back to the same
 * double (and always look like reals: 5.0, not 5). Line breaks inside a
 * cell are shown as \n in table and md. Blobs are written as X'hex'.
 */
#ifndef XOVER_ROWFMT_H
#define XOVER_ROWFMT_H

#include <stdio.h>

#include "orchestrator/db/db.h"

typedef enum { ROWFMT_TABLE, ROWFMT_CSV, ROWFMT_JSON, ROWFMT_JSONL, ROWFMT_MD } rowfmt_kind;
#define ROWFMT_ALL 0x1fu /* a mask of (1u << kind) for every format */

/* The kind named `name` among the `allowed` mask; -1 if none. */
int rowfmt_parse(const char *name, unsigned allowed);
/* Report a bad --format value for command `cmd`: the allowed names and a
 * "did you mean". Returns XO_USAGE. */
int rowfmt_bad_format(const char *cmd, const char *name, unsigned allowed);
const char *rowfmt_name(rowfmt_kind k);

typedef struct rowfmt rowfmt;
rowfmt *rowfmt_new(rowfmt_kind kind, FILE *out);
/* Returns 0, or -1 when out of memory. */
int rowfmt_columns(rowfmt *f, int n, const char *const *names);
int rowfmt_row(rowfmt *f, int n, const db_value *vals);
/* A db_sink that feeds f. */
db_sink rowfmt_sink(rowfmt *f);
/* Write what is buffered and the closing text; flush. Returns 0, or -1 if
 * writing failed (errno says why) or memory ran out. */
int rowfmt_finish(rowfmt *f);
void rowfmt_free(rowfmt *f);

/* The text form of one cell as table/csv/md write it, into buf (returns buf;
 * long text is cut to fit). */
char *rowfmt_cell(const db_value *v, char *buf, size_t n);

#endif
