/* Fuzz the query and rules parsers: arbitrary text must parse or fail with
 * a positioned message, never crash or leak; whatever parses must print to
 * text that parses and prints the same (the EXPLAIN round trip). */
#include "query/ast.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SRC "<fuzz>"

static void check_positioned(int rc)
{
	unsigned line, col;
	if (rc == DL_EINVAL && sscanf(dl_errmsg(), SRC ":%u:%u: ", &line, &col) != 2) {
		fprintf(stderr, "unpositioned error: %s\n", dl_errmsg());
		abort();
	}
}

static void check_query_print(const dl_query *q)
{
	dl_buf b1 = DL_BUF_INIT, b2 = DL_BUF_INIT;
	dl_arena a = DL_ARENA_INIT;
	dl_query *q2;
	if (dl_query_print(&b1, q) != 0)
		abort();
	if (dl_query_parse(&q2, &a, b1.data, b1.len, SRC) != 0) {
		fprintf(stderr, "printed query does not parse: %s\n%s\n", b1.data, dl_errmsg());
		abort();
	}
	if (dl_query_print(&b2, q2) != 0 || strcmp(b1.data, b2.data) != 0) {
		fprintf(stderr, "print is not stable:\n%s\n%s\n", b1.data, b2.data);
		abort();
	}
	dl_buf_free(&b1);
	dl_buf_free(&b2);
	dl_arena_free(&a);
}

static void check_rules_print(const dl_ruleset *rs)
{
	dl_buf b1 = DL_BUF_INIT, b2 = DL_BUF_INIT;
	dl_arena a = DL_ARENA_INIT;
	dl_ruleset *rs2;
	if (dl_rules_print(&b1, rs) != 0)
		abort();
	if (dl_rules_parse_text(&rs2, &a, b1.data, b1.len, SRC) != 0) {
		fprintf(stderr, "printed rules do not parse: %s\n%s\n", b1.data, dl_errmsg());
		abort();
	}
	if (dl_rules_print(&b2, rs2) != 0 || strcmp(b1.data, b2.data) != 0) {
		fprintf(stderr, "rules print is not stable:\n%s\n%s\n", b1.data, b2.data);
		abort();
	}
	dl_buf_free(&b1);
	dl_buf_free(&b2);
	dl_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 16384)
		return 0;
	const char *text = (const char *)data;
	dl_arena a = DL_ARENA_INIT;
	dl_query *q = NULL;
	dl_ruleset *rs = NULL;
	int rc = dl_query_parse(&q, &a, text, size, SRC);
	if (rc == 0)
		check_query_print(q);
	else
		check_positioned(rc);
	/* the same bytes as a rule set */
	rc = dl_rules_parse_text(&rs, &a, text, size, SRC);
	if (rc == 0)
		check_rules_print(rs);
	else
		check_positioned(rc);
	if (q && rs)
		dl_query_check_rules(q, rs);
	dl_arena_free(&a);
	return 0;
}
