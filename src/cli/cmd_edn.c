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

