/* `datalite edn` and `datalite demo`: EDN in, canonical EDN out. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

char *cli_read_file(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "error: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (n < cap)
			break;
		char *bigger = realloc(buf, cap * 2);
		if (!bigger) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = bigger;
		cap *= 2;
	}
	if (ferror(f)) {
		fprintf(stderr, "error: %s: %s\n", path, strerror(errno));
		free(buf);
		buf = NULL;
	}
	if (f != stdin)
		fclose(f);
	if (buf)
		*len = n;
	return buf;
}

/* Print every form of text, one per line. */
static int print_forms(FILE *out, const char *text, size_t len, const char *source)
{
	dl_edn_reader r;
	dl_edn_opts o = DL_EDN_OPTS_INIT;
	o.source = source;
	dl_edn_reader_init(&r, text, len, &o);
	dl_arena a = DL_ARENA_INIT;
	dl_buf b = DL_BUF_INIT;
	int rc;
	for (;;) {
		dl_value v;
		rc = dl_edn_reader_next(&r, &v, &a);
		if (rc == DL_ENOTFOUND) {
			rc = 0;
			break;
		}
		if (rc)
			break;
		b.len = 0;
		if ((rc = dl_edn_print(&b, &v)))
			break;
		fprintf(out, "%s\n", b.data);
		dl_arena_reset(&a);
	}
	dl_buf_free(&b);
	dl_arena_free(&a);
	return rc;
}

int cli_cmd_edn(const cli_command *self, int argc, char **argv)
{
	if (argc > 2)
		return cli_usage_error(self, "too many arguments");
	const char *path = argc == 2 ? argv[1] : "-";
	size_t len;
	char *text = cli_read_file(path, &len);
	if (!text)
		return CLI_EXIT_USER;
	int rc = print_forms(stdout, text, len, strcmp(path, "-") == 0 ? "<stdin>" : path);
	free(text);
	return rc ? cli_report_error(rc) : CLI_EXIT_OK;
}

static const char k_demo_edn[] =
	";; A few tickers with one-minute price bars, as EDN tx-data.\n"
	"[{:db/id \"nvda\" :symbol/ticker \"NVDA\" :symbol/name \"NVIDIA Corp.\"}\n"
	" {:db/id \"aapl\" :symbol/ticker \"AAPL\" :symbol/name \"Apple Inc.\"}\n"
	" {:price/symbol \"nvda\" :price/time #inst \"2026-11-02T14:30:00Z\"\n"
	"  :price/open 140.25 :price/high 141.5 :price/low 139.875 :price/close 141.0\n"
	"  :price/volume 1200000 :price/minute-of-day 570}\n"
	" {:price/symbol \"aapl\" :price/time #inst \"2026-11-02T14:30:00.000-00:00\"\n"
	"  :price/open 225.5, :price/high 226.0, :price/low 225.125, :price/close 225.75\n"
	"  :price/volume 830000 :price/minute-of-day 570}]\n"
	";; and a query over them\n"
	"[:find ?t (max ?h) :in $ [?t ...] :where [?s :symbol/ticker ?t]\n"
	" [?b :price/symbol ?s] [?b :price/high ?h]]\n"
	"#{\"tab\\tand unicode \\u00e9\\u4e2d\" \\c #uuid \"6f1c2b6e-0d4a-4c53-9d2e-3c1f7a8b9e01\"}\n";

int cli_cmd_demo(const cli_command *self, int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return cli_usage_error(self, "demo takes no arguments");
	printf("datalite %s demo: EDN round trip (storage and queries arrive with "
	       "the next milestones)\n\n--- input ---\n%s\n--- read and printed back ---\n",
	       dl_version(), k_demo_edn);
	int rc = print_forms(stdout, k_demo_edn, sizeof k_demo_edn - 1, "<demo>");
	return rc ? cli_report_error(rc) : CLI_EXIT_OK;
}
