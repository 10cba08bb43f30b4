/*
 * quickstart: embed datalite in a C program.
 *
 *   cc quickstart.c $(pkg-config --cflags --libs datalite) -o quickstart
 *   ./quickstart /tmp/prices.db
 *
 * It creates (or reopens) a database, declares a schema, adds a few price
 * bars in one transaction, reads them back through the AVET index, looks at
 * the database as it was before a correction, and prints what it finds.
 * Every call's error is reported with dl_errmsg(); the program exits 1 on
 * any failure, so the test suite can run it (also under ASan).
 */
#include <datalite.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CHECK(call)                                                            \
	do {                                                                   \
		if ((call) < 0) {                                              \
			fprintf(stderr, "quickstart: %s: %s\n", #call,          \
				dl_errmsg());                                  \
			goto fail;                                             \
		}                                                              \
	} while (0)

static const char k_schema[] =
	"[{:db/ident :symbol/ticker :db/valueType :db.type/string\n"
	"  :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}\n"
	" {:db/ident :price/symbol :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}\n"
	" {:db/ident :price/time :db/valueType :db.type/instant :db/cardinality :db.cardinality/one}\n"
	" {:db/ident :price/close :db/valueType :db.type/double :db/cardinality :db.cardinality/one}]";

static const char k_bars[] =
	"[{:db/id \"nvda\" :symbol/ticker \"NVDA\"}\n"
	" {:db/id \"bar1\" :price/symbol \"nvda\" :price/time #inst \"2026-01-05T14:30:00Z\" :price/close 131.0}\n"
	" {:price/symbol \"nvda\" :price/time #inst \"2026-01-05T14:31:00Z\" :price/close 130.5}\n"
	" {:price/symbol \"nvda\" :price/time #inst \"2026-01-05T14:32:00Z\" :price/close 130.75}]";

/* Print every price bar of a snapshot: AVET over :price/close gives them
 * in price order; the values are borrowed until the next dl_datoms_next. */
static int print_closes(dl_snapshot *s, const char *title)
{
	dl_value attr;
	dl_datoms *it = NULL;
	const dl_db_datom *d;
	dl_buf b = DL_BUF_INIT;
	int rc, n = 0;
	CHECK(dl_keyword(&attr, "price/close", 11));
	CHECK(dl_db_datoms(&it, s, DL_DB_AVET, &attr, 1));
	printf("%s:\n", title);
	while ((rc = dl_datoms_next(it, &d)) > 0) {
		b.len = 0;
		CHECK(dl_edn_print(&b, &d->v));
		printf("  entity %" PRId64 " closed at %s\n", d->e, b.data);
		n++;
	}
	CHECK(rc);
	dl_datoms_close(it);
	dl_buf_free(&b);
	return n;
fail:
	dl_datoms_close(it);
	dl_buf_free(&b);
	return -1;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "quickstart.db";
	char lock[4096];
	snprintf(lock, sizeof lock, "%s-lock", path);
	unlink(path); /* start afresh each run */
	unlink(lock);

	dl_db *db = NULL;
	dl_tx_result *r = NULL;
	dl_snapshot *now = NULL, *before = NULL;
	dl_db_opts opts = DL_DB_OPTS_INIT; /* read-write, create, fsync at commit */
	opts.map_size = (size_t)1 << 30;   /* the file may grow to 1 GiB */
	CHECK(dl_db_open(&db, path, &opts));

	/* 1. schema and data, each one atomic transaction */
	CHECK(dl_db_transact(NULL, db, k_schema, strlen(k_schema), "schema"));
	CHECK(dl_db_transact(&r, db, k_bars, strlen(k_bars), "bars"));
	int64_t bar1 = dl_tx_result_entid(r, "bar1");
	int64_t t_bars = dl_tx_result_tx(r);
	printf("transaction %" PRId64 " wrote %zu datoms; tempid \"bar1\" is entity %" PRId64 "\n",
	       t_bars, dl_tx_result_ndatoms(r), bar1);
	dl_tx_result_free(r);
	r = NULL;

	/* 2. a correction: a cardinality-one value replaces the old one */
	char fix[128];
	snprintf(fix, sizeof fix, "[[:db/add %" PRId64 " :price/close 131.25]]", bar1);
	CHECK(dl_db_transact(NULL, db, fix, strlen(fix), "fix"));

	/* 3. the database now, and as of the transaction before the fix */
	dl_db_view as_of = {DL_DB_AS_OF, t_bars, false};
	CHECK(dl_db_snapshot(&now, db, NULL));
	CHECK(dl_db_snapshot(&before, db, &as_of));
	int n1 = print_closes(now, "now");
	int n2 = print_closes(before, "as of the first load");
	if (n1 != 3 || n2 != 3) {
		fprintf(stderr, "quickstart: expected 3 bars in each view, got %d and %d\n", n1, n2);
		goto fail;
	}

	/* 4. statistics and an integrity check */
	dl_db_stat st;
	CHECK(dl_snapshot_stat(&st, now));
	printf("%" PRIu64 " datoms, %" PRIu64 " in history, %" PRIu64 " transactions\n",
	       st.datoms, st.history, st.transactions);
	dl_snapshot_end(before);
	dl_snapshot_end(now);
	before = now = NULL;
	CHECK(dl_db_check(db, NULL, NULL));
	dl_db_close(db);
	printf("ok\n");
	return 0;
fail:
	dl_tx_result_free(r);
	dl_snapshot_end(before);
	dl_snapshot_end(now);
	dl_db_close(db);
	return 1;
}
