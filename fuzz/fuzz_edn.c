/* Fuzz the EDN reader and printer: arbitrary text must read or fail with a
 * positioned message, never crash or leak; every form read must print to
 * text that reads back as an equal value and prints identically again. */
#include "datalite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SRC "<fuzz>"

static void check_positioned(int rc)
{
	unsigned line, col;
	if (rc == DL_ENOMEM)
		return;
	if (rc != DL_ESYNTAX && rc != DL_ELIMIT) {
		fprintf(stderr, "unexpected error %d: %s\n", rc, dl_errmsg());
		abort();
	}
	if (sscanf(dl_errmsg(), SRC ":%u:%u: ", &line, &col) != 2 || !line || !col) {
		fprintf(stderr, "unpositioned error: %s\n", dl_errmsg());
		abort();
	}
}

static void check_round_trip(const dl_value *v)
{
	dl_buf b1 = DL_BUF_INIT, b2 = DL_BUF_INIT;
	dl_arena a = DL_ARENA_INIT;
	dl_edn_opts o = {SRC, 0};
	dl_value w;
	size_t used;
	if (dl_edn_print(&b1, v) != 0) {
		fprintf(stderr, "a value read cannot be printed: %s\n", dl_errmsg());
		abort();
	}
	/* no depth limit on the re-read: the first read already bounded it */
	o.max_depth = ~0u;
	int rc = dl_edn_read(&w, &used, &a, b1.data, b1.len, &o);
	if (rc != 0 || used != b1.len) {
		fprintf(stderr, "printed text does not read back: %s\n%s\n", b1.data, dl_errmsg());
		abort();
	}
	if (!dl_value_equal(v, &w)) {
		fprintf(stderr, "printed text reads back as another value: %s\n", b1.data);
		abort();
	}
	if (dl_edn_print(&b2, &w) != 0 || b1.len != b2.len ||
	    memcmp(b1.data, b2.data, b1.len) != 0) {
		fprintf(stderr, "print is not stable:\n%s\n%s\n", b1.data, b2.data);
		abort();
	}
	dl_buf_free(&b1);
	dl_buf_free(&b2);
	dl_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a heap copy of exactly `size` bytes, so overreads are caught */
	char *text = malloc(size ? size : 1);
	if (!text)
		return 0;
	if (size)
		memcpy(text, data, size);
	dl_edn_opts o = {SRC, 64};
	dl_edn_reader r;
	dl_edn_reader_init(&r, text, size, &o);
	dl_arena a = DL_ARENA_INIT;
	for (;;) {
		dl_value v;
		size_t before = r.pos;
		int rc = dl_edn_reader_next(&r, &v, &a);
		if (rc == DL_ENOTFOUND)
			break;
		if (rc) {
			check_positioned(rc);
			break;
		}
		if (r.pos <= before) {
			fprintf(stderr, "reader made no progress at %zu\n", before);
			abort();
		}
		check_round_trip(&v);
		dl_arena_reset(&a);
	}
	dl_arena_free(&a);
	free(text);
	return 0;
}
