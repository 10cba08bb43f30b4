/*
 * Data-driven end-to-end tests: every *.case file under the given folder is
 * one case, an EDN map.  Adding a case means adding a file.
 *
 * Keys understood today:
 *   :doc     a sentence saying what the case checks (required)
 *   :edn     EDN text to read; every top-level form is read in turn
 *   :print   with :edn, the expected canonical printing of the forms, one
 *            per line; reading that text back must print the same again
 *   :error   instead of :print, a substring of the expected error message
 *            (which must start with "<input>:line:col: ")
 *
 * Keys reserved for the storage and query issues (a case using them fails
 * until they land, loudly, so no case is silently skipped):
 *   :tx [tx-data ...]   transactions applied in order to a fresh database
 *   :query, :args       a query and its inputs after $
 *   :expect             the expected result as an EDN value
 *
 * Prints one line per failure and a closing "N passed, N failed" line.
 */
#include "datalite.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)len + 1);
	if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf) {
		buf[len] = 0;
		*n = (size_t)len;
	}
	return buf;
}

static const dl_value *map_get(const dl_value *m, const char *key)
{
	uint32_t id = dl_intern_find(key, strlen(key));
	for (uint32_t i = 0; id && i < m->len; i++) {
		const dl_value *k = &m->u.items[2 * i];
		if (k->type == DL_KEYWORD && k->u.id == id)
			return &m->u.items[2 * i + 1];
	}
	return NULL;
}

static bool is_string(const dl_value *v) { return v && v->type == DL_STRING; }

/* Read all forms of `text`, printing each on its own line into out.
 * Returns 0 or the reader's error code. */
static int read_print_all(dl_buf *out, dl_arena *a, const char *text, size_t len)
{
	dl_edn_reader r;
	dl_edn_opts o = DL_EDN_OPTS_INIT;
	dl_edn_reader_init(&r, text, len, &o);
	for (int first = 1;; first = 0) {
		dl_value v;
		int rc = dl_edn_reader_next(&r, &v, a);
		if (rc == DL_ENOTFOUND)
			return 0;
		if (rc)
			return rc;
		if (!first && dl_buf_puts(out, "\n"))
			return DL_ENOMEM;
		if ((rc = dl_edn_print(out, &v)))
			return rc;
	}
}

static int run_edn_case(const dl_value *c, dl_arena *a, char *why, size_t whylen)
{
	const dl_value *edn = map_get(c, "edn");
	const dl_value *print = map_get(c, "print");
	const dl_value *error = map_get(c, "error");
	if (!is_string(edn) || (!is_string(print) == !is_string(error))) {
		snprintf(why, whylen, ":edn needs a string and exactly one of :print or :error");
		return 1;
	}
	dl_buf out = DL_BUF_INIT, again = DL_BUF_INIT;
	int failed = 0;
	int rc = read_print_all(&out, a, edn->u.s, edn->len);
	if (is_string(error)) {
		char want[512];
		snprintf(want, sizeof want, "%.*s", (int)error->len, error->u.s);
		if (rc == 0) {
			snprintf(why, whylen, "expected error containing \"%s\", got success: %s",
				 want, out.data ? out.data : "");
			failed = 1;
		} else if (!strstr(dl_errmsg(), want) || strncmp(dl_errmsg(), "<input>:", 8) != 0) {
			snprintf(why, whylen, "expected positioned error containing \"%s\", got \"%s\"",
				 want, dl_errmsg());
			failed = 1;
		}
	} else if (rc != 0) {
		snprintf(why, whylen, "unexpected error: %s", dl_errmsg());
		failed = 1;
	} else {
		const char *got = out.data ? out.data : "";
		if (strlen(got) != print->len || memcmp(got, print->u.s, print->len) != 0) {
			snprintf(why, whylen, "printed\n    %s\n  expected\n    %.*s", got,
				 (int)print->len, print->u.s);
			failed = 1;
		} else if ((rc = read_print_all(&again, a, got, strlen(got))) != 0 ||
			   strcmp(again.data ? again.data : "", got) != 0) {
			snprintf(why, whylen, "printing is not stable: %s -> %s", got,
				 rc ? dl_errmsg() : again.data);
			failed = 1;
		}
	}
	dl_buf_free(&out);
	dl_buf_free(&again);
	return failed;
}

static int run_case(const char *path, char *why, size_t whylen)
{
	size_t n;
	char *text = slurp(path, &n);
	if (!text) {
		snprintf(why, whylen, "cannot read the file");
		return 1;
	}
	dl_arena a = DL_ARENA_INIT;
	dl_value c;
	size_t used;
	dl_edn_opts o = DL_EDN_OPTS_INIT;
	o.source = path;
	int failed = 1;
	if (dl_edn_read(&c, &used, &a, text, n, &o) != 0) {
		snprintf(why, whylen, "the case file is not EDN: %s", dl_errmsg());
	} else if (c.type != DL_MAP || !is_string(map_get(&c, "doc"))) {
		snprintf(why, whylen, "a case is an EDN map with a :doc string");
	} else if (map_get(&c, "edn")) {
		failed = run_edn_case(&c, &a, why, whylen);
	} else {
		snprintf(why, whylen, "no runner for this case's keys yet");
	}
	dl_arena_free(&a);
	free(text);
	return failed;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: run_cases DIR\n");
		return 2;
	}
	DIR *d = opendir(argv[1]);
	if (!d) {
		perror(argv[1]);
		return 2;
	}
	char **names = NULL;
	size_t count = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l > 5 && strcmp(e->d_name + l - 5, ".case") == 0) {
			names = realloc(names, (count + 1) * sizeof *names);
			names[count++] = strdup(e->d_name);
		}
	}
	closedir(d);
	qsort(names, count, sizeof *names, cmp_names);
	int passed = 0, failed = 0;
	for (size_t i = 0; i < count; i++) {
		char path[4096], why[4096];
		snprintf(path, sizeof path, "%s/%s", argv[1], names[i]);
		if (run_case(path, why, sizeof why)) {
			printf("FAIL %s: %s\n", names[i], why);
			failed++;
		} else {
			passed++;
		}
		free(names[i]);
	}
	free(names);
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0 || passed == 0;
}
