/*
 * cli/output: query results as EDN, JSON, CSV or an aligned table.
 *
 * EDN (the default when stdout is not a terminal):
 *   - a relation prints as a set #{[...] ...}, or as a vector when the
 *     result is ordered (:order-by, :limit, :offset); one row per line;
 *   - scalar, collection and tuple find specs print as the value or a
 *     vector, and nil when there is no answer;
 *   - :keys / :strs / :syms rows print as maps with keyword, string or
 *     symbol keys;
 *   - entity ids are integers, instants #inst "...Z".
 * JSON: the same shapes with arrays for sets, vectors and lists, objects
 *   for maps; keywords become strings with their colon (":person/name"),
 *   symbols strings, instants "...Z" strings, uuids strings, bytes base64
 *   strings, NaN and infinities null, nil null.
 * CSV: a header row (the :keys names, or the find elements as written),
 *   then one record per row (a scalar or a tuple is one record; no answer,
 *   the header alone; a collection one record per value).  RFC 4180
 *   quoting: a field holding a comma, a quote or a line break is quoted and
 *   its quotes doubled; an empty string is "" while nil is an empty field.
 *   Strings are written raw, keywords with their colon, instants as
 *   RFC 3339, collections as EDN.  Records end with LF.
 * TABLE (the default on a terminal): the CSV cells aligned in columns
 *   under a header, numbers right-aligned, control characters shown as
 *   \n, \t..., fitted to the terminal width by narrowing the widest
 *   columns, a cut cell ending in "…"; then "(N rows)".
 */
#ifndef DL_CLI_OUTPUT_H
#define DL_CLI_OUTPUT_H

#include "datalite.h"
#include "query/exec.h"

#include <stdio.h>

typedef enum cli_format {
	CLI_FMT_EDN = 0,
	CLI_FMT_JSON,
	CLI_FMT_CSV,
	CLI_FMT_TABLE
} cli_format;

/* "edn", "json", "csv" or "table" -> *out; -1 for anything else. */
int cli_format_parse(cli_format *out, const char *name);
/* TABLE when f is a terminal, EDN otherwise. */
cli_format cli_format_default(FILE *f);
/* Columns of the terminal f writes to ($COLUMNS when set), or 0 when f is
 * not a terminal (0 means: do not fit). */
int cli_term_width(FILE *f);

/* Print result r to f.  term_width > 0 fits TABLE output to that many
 * columns.  Returns 0, DL_ENOMEM, or DL_EIO if writing failed. */
int cli_print_result(FILE *f, const dl_qresult *r, cli_format fmt, int term_width);

/* One value in a format (EDN text, JSON, or the CSV/TABLE cell text),
 * appended to b. */
int cli_format_value(dl_buf *b, const dl_value *v, cli_format fmt);

#endif
