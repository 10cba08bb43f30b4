/* The public database API (datalite.h, "Databases"): open/close, transact
 * from text and from values, tx results, snapshots and views (as-of, since,
 * history, by tx and by instant), raw datoms, attributes and statistics,
 * check, bulk import (fast path and fallback), failed calls leaving the
 * database unchanged, allocation failure; concurrent readers and a writer
 * (`test_api --concurrent`, run under TSan); and the CLI's result
 * formatter (src/cli/output.c, linked in) on results built by hand. */
#include "testutil.h"

#include "output.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- fixtures ---------------------------------------------------------------- */

static char g_dir[512];
static int g_dbn;

static void mkdirs(const char *path)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = 0;
			mkdir(buf, 0755);
			*p = '/';
		}
	}
	mkdir(buf, 0755);
}

static void db_path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/api_%d_%s.db", g_dir, g_dbn++, name);
	char lock[600];
	snprintf(lock, sizeof lock, "%s-lock", out);
	unlink(out);
	unlink(lock);
}

static dl_db *open_new(const char *name)
{
	char path[560];
	db_path(path, sizeof path, name);
	dl_db_opts o = DL_DB_OPTS_INIT;
	o.sync = 0;
	o.map_size = (size_t)1 << 30; /* valgrind cannot map the default 64 GiB */
	dl_db *db = NULL;
	if (dl_db_open(&db, path, &o))
		fail_msg("open %s: %s", path, dl_errmsg());
	return db;
}

static dl_tx_result *tx(dl_db *db, const char *edn)
{
	dl_tx_result *r = NULL;
	if (dl_db_transact(&r, db, edn, strlen(edn), "t.edn"))
		fail_msg("transact %s: %s", edn, dl_errmsg());
	return r;
}

static void tx0(dl_db *db, const char *edn) { dl_tx_result_free(tx(db, edn)); }

static const char k_schema[] =
	"[{:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one"
	"  :db/unique :db.unique/identity :db/doc \"a name\"}"
	" {:db/ident :p/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}"
	" {:db/ident :p/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}"
	" {:db/ident :p/tag :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}]";

static uint64_t datom_count(dl_db *db)
{
	dl_db_stat st;
	assert_int_equal(dl_db_stats(&st, db), 0);
	return st.datoms;
}

/* Every current datom as text, "e a v" lines in EAVT order. */
static char *dump(dl_db *db)
{
	dl_snapshot *s;
	assert_int_equal(dl_db_snapshot(&s, db, NULL), 0);
	dl_datoms *it;
	assert_int_equal(dl_db_datoms(&it, s, DL_DB_EAVT, NULL, 0), 0);
	dl_buf b = DL_BUF_INIT;
	const dl_db_datom *d;
	int rc;
	while ((rc = dl_datoms_next(it, &d)) > 0) {
		if (d->aid == 18) /* :db/txInstant: the clock's */
			continue;
		dl_buf_printf(&b, "%lld ", (long long)d->e);
		dl_edn_print(&b, &d->a);
		dl_buf_puts(&b, " ");
		dl_edn_print(&b, &d->v);
		dl_buf_puts(&b, "\n");
	}
	assert_int_equal(rc, 0);
	dl_datoms_close(it);
	dl_snapshot_end(s);
	char *out = strdup(b.data ? b.data : "");
	dl_buf_free(&b);
	return out;
}

/* ---- open / close ----------------------------------------------------------------- */

static void test_open(void **state)
{
	(void)state;
	char path[560];
	db_path(path, sizeof path, "open");
	dl_db *db = NULL;
	dl_db_opts o = DL_DB_OPTS_INIT, rw = DL_DB_OPTS_INIT;
	rw.map_size = (size_t)1 << 30;
	o.map_size = rw.map_size;
	o.create = false;
	assert_int_equal(dl_db_open(&db, path, &o), DL_ENOTFOUND);
	assert_null(db);
	assert_non_null(strstr(dl_errmsg(), path));
	o.create = true;
	o.read_only = true;
	assert_int_equal(dl_db_open(&db, path, &o), DL_ENOTFOUND);
	assert_int_equal(dl_db_open(&db, path, &rw), 0);
	assert_string_equal(dl_db_path(db), path);
	tx0(db, k_schema);
	dl_db_close(db);
	assert_int_equal(dl_db_open(&db, path, &o), 0);
	dl_tx_result *r = NULL;
	assert_int_equal(dl_db_transact(&r, db, "[{:p/name \"x\"}]", 15, NULL), DL_EINVAL);
	assert_null(r);
	assert_non_null(strstr(dl_errmsg(), "read-only"));
	dl_db_stat st;
	assert_int_equal(dl_db_stats(&st, db), 0);
	assert_int_equal(st.transactions, 1);
	dl_db_close(db);
	dl_db_close(NULL);

	/* not a database */
	char junk[600];
	snprintf(junk, sizeof junk, "%s.junk", path);
	FILE *f = fopen(junk, "w");
	assert_non_null(f);
	for (int i = 0; i < 1000; i++)
		fputs("not a database at all ", f);
	fclose(f);
	assert_true(dl_db_open(&db, junk, &rw) < 0);
	unlink(junk);
}

/* ---- transactions -------------------------------------------------------------- */

static void test_transact(void **state)
{
	(void)state;
	dl_db *db = open_new("tx");
	dl_tx_result *r = tx(db, k_schema);
	int64_t t1 = dl_tx_result_tx(r);
	assert_int_equal(dl_tx_result_basis(r), 0);
	dl_tx_result_free(r);

	r = tx(db, "[{:db/id \"ann\" :p/name \"Ann\" :p/age 30 :p/friend \"bob\"}"
		   " {:db/id \"bob\" :p/name \"Bob\"} [:db/add -1 :p/name \"Cy\"]]");
	assert_int_equal(dl_tx_result_basis(r), t1);
	assert_true(dl_tx_result_tx(r) > t1);
	assert_int_equal(dl_tx_result_ntempids(r), 3);
	int64_t ann = dl_tx_result_entid(r, "ann"), bob = dl_tx_result_entid(r, "bob");
	assert_true(ann > 0 && bob > 0 && ann != bob);
	assert_int_equal(dl_tx_result_entid(r, "nobody"), 0);
	bool saw_neg = false;
	for (size_t i = 0; i < dl_tx_result_ntempids(r); i++) {
		int64_t e;
		dl_value t = dl_tx_result_tempid(r, i, &e);
		assert_true(e > 0);
		if (t.type == DL_INT) {
			assert_int_equal(t.u.i, -1);
			saw_neg = true;
		}
	}
	assert_true(saw_neg);
	/* 5 datoms and the txInstant, with attribute names */
	assert_int_equal(dl_tx_result_ndatoms(r), 6);
	bool saw_friend = false;
	for (size_t i = 0; i < dl_tx_result_ndatoms(r); i++) {
		dl_db_datom dd = dl_tx_result_datom(r, i);
		const dl_db_datom *d = &dd;
		assert_true(d->added);
		assert_int_equal(d->tx, dl_tx_result_tx(r));
		assert_int_equal(d->a.type, DL_KEYWORD);
		char *a = tu_print(&d->a);
		if (strcmp(a, ":p/friend") == 0) {
			saw_friend = true;
			assert_int_equal(d->e, ann);
			assert_int_equal(d->v.type, DL_REF);
			assert_int_equal(d->v.u.i, bob);
		}
		free(a);
	}
	assert_true(saw_friend);
	dl_tx_result_free(r);

	/* a cardinality-one change reports the retraction */
	r = tx(db, "[[:db/add [:p/name \"Ann\"] :p/age 31]]");
	size_t retracted = 0;
	for (size_t i = 0; i < dl_tx_result_ndatoms(r); i++)
		retracted += !dl_tx_result_datom(r, i).added;
	assert_int_equal(retracted, 1);
	dl_tx_result_free(r);

	/* out may be NULL */
	assert_int_equal(dl_db_transact(NULL, db, "[[:db/add -1 :p/name \"Di\"]]", 27, NULL), 0);

	/* from a value built in C */
	dl_arena a = DL_ARENA_INIT;
	dl_value items[4], form, data;
	assert_int_equal(dl_keyword(&items[0], "db/add", 6), 0);
	items[1] = dl_string("eve", 3);
	assert_int_equal(dl_keyword(&items[2], "p/name", 6), 0);
	items[3] = dl_string("Eve", 3);
	form = dl_nil();
	form.type = DL_VECTOR;
	form.len = 4;
	form.u.items = items;
	data = dl_nil();
	data.type = DL_VECTOR;
	data.len = 1;
	data.u.items = &form;
	assert_int_equal(dl_db_transact_value(&r, db, &data, "c"), 0);
	assert_true(dl_tx_result_entid(r, "eve") > 0);
	dl_tx_result_free(r);
	dl_arena_free(&a);
	dl_db_close(db);
}

static void test_transact_errors(void **state)
{
	(void)state;
	dl_db *db = open_new("txerr");
	tx0(db, k_schema);
	tx0(db, "[{:p/name \"Ann\" :p/age 30}]");
	char *before = dump(db);
	uint64_t n = datom_count(db);
	static const struct {
		const char *edn;
		int rc;
		const char *msg;
	} cases[] = {
		{"[{:p/name \"Bob\" :p/age \"old\"}]", DL_ETYPE, "t.edn:1:1: :p/age expects a long"},
		{"\n  [{:p/name \"Bob\"}\n   {:p/name 12 ", DL_ESYNTAX, "t.edn:3:4: unterminated map"},
		{"[[:db/add [:p/name \"Nobody\"] :p/age 1]]", DL_ENOTFOUND, "t.edn:1:1: lookup ref"},
		{"[[:db/cas [:p/name \"Ann\"] :p/age 29 40]]", DL_ECONFLICT, "t.edn:1:1:"},
		{"[{:p/name \"X\"}] [{:p/name \"Y\"}]", DL_EINVAL, "t.edn:1:17: more than one form"},
		{"  ; nothing\n", DL_EINVAL, "t.edn:2:1: no tx-data"},
		{"{:p/name \"X\"}", DL_EINVAL, "t.edn:1:1:"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		dl_tx_result *r = (dl_tx_result *)1;
		int rc = dl_db_transact(&r, db, cases[i].edn, strlen(cases[i].edn), "t.edn");
		if (rc != cases[i].rc || strncmp(dl_errmsg(), cases[i].msg, strlen(cases[i].msg)))
			fail_msg("case %zu: rc %d (%s), wanted %d and '%s...'", i, rc, dl_errmsg(),
				 cases[i].rc, cases[i].msg);
		assert_null(r);
	}
	/* nothing changed */
	assert_int_equal(datom_count(db), n);
	char *after = dump(db);
	assert_string_equal(before, after);
	free(before);
	free(after);
	dl_db_close(db);
}

/* ---- several transactions, all or none ------------------------------------------- */

/* Everything: every datom of the history view (txInstants included), the
 * totals and the basis. */
static char *dump_full(dl_db *db)
{
	dl_db_view v = DL_DB_VIEW_INIT;
	v.kind = DL_DB_HISTORY;
	dl_snapshot *s;
	assert_int_equal(dl_db_snapshot(&s, db, &v), 0);
	dl_datoms *it;
	assert_int_equal(dl_db_datoms(&it, s, DL_DB_EAVT, NULL, 0), 0);
	dl_buf b = DL_BUF_INIT;
	dl_db_stat st;
	assert_int_equal(dl_snapshot_stat(&st, s), 0);
	dl_buf_printf(&b, "basis %lld datoms %llu history %llu transactions %llu\n",
		      (long long)dl_snapshot_basis(s), (unsigned long long)st.datoms,
		      (unsigned long long)st.history, (unsigned long long)st.transactions);
	const dl_db_datom *d;
	int rc;
	while ((rc = dl_datoms_next(it, &d)) > 0) {
		dl_buf_printf(&b, "%lld ", (long long)d->e);
		dl_edn_print(&b, &d->a);
		dl_buf_puts(&b, " ");
		dl_edn_print(&b, &d->v);
		dl_buf_printf(&b, " %lld %d\n", (long long)d->tx, d->added);
	}
	assert_int_equal(rc, 0);
	dl_datoms_close(it);
	dl_snapshot_end(s);
	char *out = strdup(b.data);
	dl_buf_free(&b);
	return out;
}

/* The attribute name of the datoms of `r` whose value is v (NULL if none). */
static char *attr_of_value(const dl_tx_result *r, int64_t v)
{
	for (size_t i = 0; i < dl_tx_result_ndatoms(r); i++) {
		dl_db_datom d = dl_tx_result_datom(r, i);
		if (d.v.type == DL_INT && d.v.u.i == v)
			return tu_print(&d.a);
	}
	return NULL;
}

static void expect_attr_of_value(const dl_tx_result *r, int64_t v, const char *want)
{
	char *got = attr_of_value(r, v);
	if (!got || strcmp(got, want))
		fail_msg("the datom with value %lld: attribute %s, expected %s", (long long)v,
			 got ? got : "(none)", want);
	free(got);
}

static void test_transact_many(void **state)
{
	(void)state;
	dl_db *db = open_new("many");
	static const char text[] =
		"[{:db/ident :q/x :db/valueType :db.type/long}]\n"
		"[{:db/id \"a\" :p/name \"A\" :q/x 101}]\n"
		"[{:db/id :q/x :db/ident :q/y} {:db/id \"a\" :p/name \"B\" :p/age 102}]\n"
		"[{:db/id \"a\" :p/name \"A\" :q/y 103}]\n";
	dl_tx_results *rs = NULL;
	/* :p/name is declared by the first vector of the same text */
	char *t = NULL;
	size_t tl = strlen(k_schema) + sizeof text;
	assert_non_null(t = malloc(tl + 2));
	snprintf(t, tl + 2, "%s\n%s", k_schema, text);
	if (dl_db_transact_many(&rs, db, t, strlen(t), "m.edn"))
		fail_msg("transact_many: %s", dl_errmsg());
	free(t);
	assert_int_equal(dl_tx_results_count(rs), 5);
	const dl_tx_result *r[5];
	for (size_t i = 0; i < 5; i++)
		r[i] = dl_tx_results_get(rs, i);
	assert_int_equal(dl_tx_result_basis(r[0]), 0);
	for (size_t i = 1; i < 5; i++) {
		assert_int_equal(dl_tx_result_tx(r[i]), dl_tx_result_tx(r[i - 1]) + 1);
		assert_int_equal(dl_tx_result_basis(r[i]), dl_tx_result_tx(r[i - 1]));
	}
	/* tempids per transaction: "a" is three different entities, the last
	 * one found again through :p/name */
	int64_t a2 = dl_tx_result_entid(r[2], "a"), a3 = dl_tx_result_entid(r[3], "a");
	assert_true(a2 > 0 && a3 > 0 && a2 != a3);
	assert_int_equal(dl_tx_result_entid(r[4], "a"), a2);
	/* attribute names as each transaction saw them: defined by an earlier
	 * transaction of the batch, then renamed by one */
	expect_attr_of_value(r[2], 101, ":q/x");
	expect_attr_of_value(r[3], 102, ":p/age");
	expect_attr_of_value(r[4], 103, ":q/y");
	bool replaced = false;
	for (size_t i = 0; i < dl_tx_result_ndatoms(r[4]); i++) {
		dl_db_datom d = dl_tx_result_datom(r[4], i);
		if (d.v.type == DL_INT && d.v.u.i == 101) {
			assert_false(d.added); /* the replaced value */
			char *an = tu_print(&d.a);
			assert_string_equal(an, ":q/y");
			free(an);
			replaced = true;
		}
	}
	assert_true(replaced);
	expect_attr_of_value(r[3], 102, ":p/age");
	assert_int_equal(dl_db_check(db, NULL, NULL), 0);
	dl_db_stat st;
	assert_int_equal(dl_db_stats(&st, db), 0);
	assert_int_equal(st.transactions, 5);
	assert_int_equal(st.basis, dl_tx_result_tx(r[4]));
	dl_tx_results_free(rs);

	/* out may be NULL; no vector at all writes nothing */
	char *before = dump_full(db);
	assert_int_equal(dl_db_transact_many(&rs, db, " ; nothing\n", 11, NULL), 0);
	assert_non_null(rs);
	assert_int_equal(dl_tx_results_count(rs), 0);
	dl_tx_results_free(rs);
	char *after = dump_full(db);
	assert_string_equal(before, after);
	free(after);
	free(before);
	static const char two[] = "[{:p/name \"N1\"}] [{:p/name \"N2\"}]";
	assert_int_equal(dl_db_transact_many(NULL, db, two, sizeof two - 1, NULL), 0);
	assert_int_equal(dl_db_stats(&st, db), 0);
	assert_int_equal(st.transactions, 7);

	/* values built in C, with and without names */
	dl_arena a = DL_ARENA_INIT;
	dl_value v[2];
	v[0] = tu_edn(&a, "[[:db/add \"n\" :p/name \"V1\"]]");
	v[1] = tu_edn(&a, "[[:db/add \"n\" :p/age \"not a long\"]]");
	const char *srcs[2] = {"first", "second"};
	rs = (dl_tx_results *)1;
	assert_int_equal(dl_db_transact_many_values(&rs, db, v, 2, srcs), DL_ETYPE);
	assert_null(rs);
	assert_string_equal(dl_errmsg(), "second: transaction 2 of 2: :p/age expects a long, "
					 "got \"not a long\" in [:db/add \"n\" :p/age \"not a long\"]");
	assert_int_equal(dl_db_transact_many_values(&rs, db, v, 2, NULL), DL_ETYPE);
	assert_non_null(strstr(dl_errmsg(), "<tx-data>: transaction 2 of 2: "));
	assert_int_equal(dl_db_transact_many_values(&rs, db, v, 1, NULL), 0);
	assert_int_equal(dl_tx_results_count(rs), 1);
	assert_true(dl_tx_result_entid(dl_tx_results_get(rs, 0), "n") > 0);
	dl_tx_results_free(rs);
	dl_arena_free(&a);
	dl_db_close(db);
}

static void test_transact_many_errors(void **state)
{
	(void)state;
	dl_db *db = open_new("manyerr");
	tx0(db, k_schema);
	tx0(db, "[{:p/name \"Ann\" :p/age 30}]");
	char *before = dump_full(db);
	static const struct {
		const char *edn;
		int rc;
		const char *msg;
	} cases[] = {
		/* the third of four fails; the first two wrote what it uses */
		{"[{:db/id \"b\" :p/name \"Bob\"}]\n"
		 "[[:db/add [:p/name \"Bob\"] :p/age 7] {:db/ident :q/new :db/valueType :db.type/long}]\n"
		 "  [{:p/name \"Bob\" :q/new 1}\n"
		 "   [:db/cas [:p/name \"Bob\"] :p/age 8 9]]\n"
		 "[{:p/name \"Cy\"}]",
		 DL_ECONFLICT, "t.edn:3:3: transaction 3 of 4: cas failed: :p/age of entity"},
		/* a single vector: as dl_db_transact says it */
		{"[{:p/name \"Bob\" :p/age \"old\"}]", DL_ETYPE, "t.edn:1:1: :p/age expects a long"},
		/* bad EDN after good vectors: nothing runs */
		{"[{:p/name \"Bob\"}]\n[{:p/name 12 ", DL_ESYNTAX, "t.edn:2:2: unterminated map"},
		/* a form that is not a vector */
		{"[{:p/name \"Bob\"}]\n{:p/name \"X\"}", DL_EINVAL,
		 "t.edn:2:1: tx-data must be a vector of tx forms"},
		/* an upsert of an earlier transaction's entity, then a failure */
		{"[{:db/id \"x\" :p/name \"Z\"}] [[:db/add \"y\" :p/name \"Z\"] [:db/add \"y\" :p/age 1]]"
		 " [[:db/add \"w\" :p/friend [:p/name \"nobody\"]]]",
		 DL_ENOTFOUND, "t.edn:1:79: transaction 3 of 3: lookup ref"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		dl_tx_results *rs = (dl_tx_results *)1;
		int rc = dl_db_transact_many(&rs, db, cases[i].edn, strlen(cases[i].edn), "t.edn");
		if (rc != cases[i].rc || strncmp(dl_errmsg(), cases[i].msg, strlen(cases[i].msg)))
			fail_msg("case %zu: rc %d (%s), wanted %d and '%s...'", i, rc, dl_errmsg(),
				 cases[i].rc, cases[i].msg);
		assert_null(rs);
		char *after = dump_full(db);
		if (strcmp(before, after))
			fail_msg("case %zu: the database changed", i);
		free(after);
	}
	assert_int_equal(dl_db_check(db, NULL, NULL), 0);
	free(before);
	dl_db_close(db);
}

static void test_transact_many_failalloc(void **state)
{
	(void)state;
	dl_db *db = open_new("manyfail");
	tx0(db, k_schema);
	static const char t[] = "[{:db/id \"x\" :p/name \"X\" :p/age 1}]\n"
				"[{:db/ident :q/z :db/valueType :db.type/long} {:p/name \"X\" :p/age 2}]\n"
				"[{:db/id \"y\" :p/name \"Y\" :p/friend [:p/name \"X\"] :q/z 3}]\n";
	/* intern the text's keywords (for good) before counting */
	dl_db *warm = open_new("manyfail_warm");
	assert_int_equal(dl_db_transact_many(NULL, warm, k_schema, strlen(k_schema), NULL), 0);
	assert_int_equal(dl_db_transact_many(NULL, warm, t, sizeof t - 1, NULL), 0);
	dl_db_close(warm);
	char *before = dump_full(db);
	long base = tu_failalloc_live();
	for (long n = 1; n < 20000; n++) {
		tu_failalloc_arm(n);
		dl_tx_results *rs = NULL;
		int rc = dl_db_transact_many(&rs, db, t, sizeof t - 1, "f");
		int fired = tu_failalloc_fired();
		tu_failalloc_disarm();
		if (rc == 0) {
			assert_int_equal(dl_tx_results_count(rs), 3);
			dl_tx_results_free(rs);
			/* the schema cache may keep the new version */
			if (!fired)
				break;
			fail_msg("allocation %ld failed but the batch succeeded", n);
		}
		if (rc != DL_ENOMEM)
			fail_msg("allocation %ld: rc %d (%s)", n, rc, dl_errmsg());
		assert_null(rs);
		if (tu_failalloc_live() != base)
			fail_msg("allocation %ld: %ld blocks leaked", n, tu_failalloc_live() - base);
		char *after = dump_full(db);
		if (strcmp(before, after))
			fail_msg("allocation %ld: the database changed", n);
		free(after);
	}
	assert_int_equal(dl_db_check(db, NULL, NULL), 0);
	free(before);
	dl_db_close(db);
}

/* ---- snapshots, views, datoms ----------------------------------------------------------- */

static int count_datoms(dl_snapshot *s, dl_db_index idx, const dl_value *c, size_t n)
{
	dl_datoms *it;
	int rc = dl_db_datoms(&it, s, idx, c, n);
	if (rc < 0)
		return rc;
	int k = 0;
	const dl_db_datom *d;
	while ((rc = dl_datoms_next(it, &d)) > 0)
		k++;
	dl_datoms_close(it);
	return rc < 0 ? rc : k;
}

static void test_views(void **state)
{
	(void)state;
	dl_db *db = open_new("views");
	/* explicit instants so views by time are exact */
	dl_tx_result *r;
	char schema[1024];
	snprintf(schema, sizeof schema, "%.*s {:db/id \"datomic.tx\" :db/txInstant #inst \"2020-01-01\"}]",
		 (int)(sizeof k_schema - 2), k_schema);
	tx0(db, schema);
	r = tx(db, "[{:db/id \"a\" :p/name \"Ann\" :p/age 30 :p/tag [:x :y]}"
		   " {:db/id \"datomic.tx\" :db/txInstant #inst \"2020-02-01\"}]");
	int64_t t2 = dl_tx_result_tx(r), ann = dl_tx_result_entid(r, "a");
	dl_tx_result_free(r);
	r = tx(db, "[[:db/add [:p/name \"Ann\"] :p/age 31] [:db/retract [:p/name \"Ann\"] :p/tag :x]"
		   " {:db/id \"datomic.tx\" :db/txInstant #inst \"2020-03-01\"}]");
	int64_t t3 = dl_tx_result_tx(r);
	dl_tx_result_free(r);

	dl_value e = dl_int(ann), age, tag;
	assert_int_equal(dl_keyword(&age, "p/age", 5), 0);
	assert_int_equal(dl_keyword(&tag, "p/tag", 5), 0);
	dl_value ea[2] = {e, age};

	dl_snapshot *s;
	/* current */
	assert_int_equal(dl_db_snapshot(&s, db, NULL), 0);
	assert_int_equal(dl_snapshot_basis(s), t3);
	dl_datoms *it;
	assert_int_equal(dl_db_datoms(&it, s, DL_DB_EAVT, ea, 2), 0);
	const dl_db_datom *d;
	assert_int_equal(dl_datoms_next(it, &d), 1);
	assert_int_equal(d->v.u.i, 31);
	assert_int_equal(d->tx, t3);
	assert_int_equal(d->e, ann);
	assert_int_equal(dl_datoms_next(it, &d), 0);
	dl_datoms_close(it);
	dl_value et[2] = {e, tag};
	assert_int_equal(count_datoms(s, DL_DB_EAVT, et, 2), 1);
	dl_snapshot_end(s);

	/* as-of t2, by tx id, by number and by instant */
	dl_db_view v = {DL_DB_AS_OF, t2, false};
	for (int k = 0; k < 3; k++) {
		if (k == 1)
			v.t = 2; /* the second transaction */
		if (k == 2) {
			v.t = 1581811200000; /* 2020-02-16 */
			v.t_is_inst = true;
		}
		assert_int_equal(dl_db_snapshot(&s, db, &v), 0);
		assert_int_equal(dl_snapshot_view(s).t, t2);
		assert_int_equal(dl_db_datoms(&it, s, DL_DB_EAVT, ea, 2), 0);
		assert_int_equal(dl_datoms_next(it, &d), 1);
		assert_int_equal(d->v.u.i, 30);
		dl_datoms_close(it);
		assert_int_equal(count_datoms(s, DL_DB_EAVT, et, 2), 2);
		dl_snapshot_end(s);
	}
	/* an instant before everything */
	v = (dl_db_view){DL_DB_AS_OF, 0, true};
	assert_int_equal(dl_db_snapshot(&s, db, &v), 0);
	assert_int_equal(dl_snapshot_view(s).t, 0);
	assert_int_equal(count_datoms(s, DL_DB_EAVT, &e, 1), 0);
	dl_snapshot_end(s);
	/* since t2: only the new age */
	v = (dl_db_view){DL_DB_SINCE, t2, false};
	assert_int_equal(dl_db_snapshot(&s, db, &v), 0);
	assert_int_equal(count_datoms(s, DL_DB_EAVT, &e, 1), 1);
	dl_snapshot_end(s);
	/* history: 30 asserted and retracted, 31 asserted */
	v = (dl_db_view){DL_DB_HISTORY, 0, false};
	assert_int_equal(dl_db_snapshot(&s, db, &v), 0);
	assert_int_equal(dl_db_datoms(&it, s, DL_DB_EAVT, ea, 2), 0);
	int added = 0, retracted = 0;
	while (dl_datoms_next(it, &d) > 0)
		d->added ? added++ : retracted++;
	dl_datoms_close(it);
	assert_int_equal(added, 2);
	assert_int_equal(retracted, 1);
	dl_snapshot_end(s);
	/* a bad view */
	v = (dl_db_view){DL_DB_AS_OF, -5, false};
	assert_int_equal(dl_db_snapshot(&s, db, &v), DL_EINVAL);
	dl_db_close(db);
}

static void test_datoms(void **state)
{
	(void)state;
	dl_db *db = open_new("datoms");
	tx0(db, k_schema);
	dl_tx_result *r = tx(db, "[{:db/id \"a\" :p/name \"Ann\" :p/friend [\"b\" \"c\"]}"
				 " {:db/id \"b\" :p/name \"Bob\" :p/age 7}"
				 " {:db/id \"c\" :p/name \"Cy\" :p/age 7}]");
	int64_t a = dl_tx_result_entid(r, "a"), b = dl_tx_result_entid(r, "b");
	dl_tx_result_free(r);
	dl_snapshot *s;
	assert_int_equal(dl_db_snapshot(&s, db, NULL), 0);
	dl_arena ar = DL_ARENA_INIT;

	/* AEVT by attribute */
	dl_value c1 = tu_edn(&ar, ":p/age");
	assert_int_equal(count_datoms(s, DL_DB_AEVT, &c1, 1), 2);
	/* AVET by attribute and value */
	dl_value c2[2] = {tu_edn(&ar, ":p/age"), dl_int(7)};
	assert_int_equal(count_datoms(s, DL_DB_AVET, c2, 2), 2);
	/* EAVT through a lookup ref, and an ident for the attribute */
	dl_value c3[2] = {tu_edn(&ar, "[:p/name \"Ann\"]"), tu_edn(&ar, ":p/friend")};
	assert_int_equal(count_datoms(s, DL_DB_EAVT, c3, 2), 2);
	/* a ref value given as an id, a lookup ref or a plain int */
	dl_value c4[3] = {dl_int(a), tu_edn(&ar, ":p/friend"), tu_edn(&ar, "[:p/name \"Bob\"]")};
	assert_int_equal(count_datoms(s, DL_DB_EAVT, c4, 3), 1);
	c4[2] = dl_int(b);
	assert_int_equal(count_datoms(s, DL_DB_EAVT, c4, 3), 1);
	/* VAET: who refers to Bob */
	dl_value c5[2] = {dl_int(b), tu_edn(&ar, ":p/friend")};
	dl_datoms *it;
	assert_int_equal(dl_db_datoms(&it, s, DL_DB_VAET, c5, 2), 0);
	const dl_db_datom *d;
	assert_int_equal(dl_datoms_next(it, &d), 1);
	assert_int_equal(d->e, a);
	assert_int_equal(d->v.type, DL_REF);
	char *an = tu_print(&d->a);
	assert_string_equal(an, ":p/friend");
	free(an);
	assert_int_equal(dl_datoms_next(it, &d), 0);
	dl_datoms_close(it);
	/* names that match nothing: empty; an unknown attribute: an error */
	dl_value c6 = tu_edn(&ar, "[:p/name \"Nobody\"]");
	assert_int_equal(count_datoms(s, DL_DB_EAVT, &c6, 1), 0);
	dl_value c7 = tu_edn(&ar, ":p/nope");
	assert_int_equal(count_datoms(s, DL_DB_AEVT, &c7, 1), DL_ENOTFOUND);
	assert_non_null(strstr(dl_errmsg(), ":p/nope"));
	/* entid */
	int64_t e;
	assert_int_equal(dl_snapshot_entid(&e, s, &c3[0]), 0);
	assert_int_equal(e, a);
	assert_int_equal(dl_snapshot_entid(&e, s, &c6), 0);
	assert_int_equal(e, 0);
	dl_value kw = tu_edn(&ar, ":p/name");
	assert_int_equal(dl_snapshot_entid(&e, s, &kw), 0);
	assert_true(e > 0);
	dl_value bad = dl_string("x", 1);
	assert_int_equal(dl_snapshot_entid(&e, s, &bad), DL_EINVAL);
	/* whole index */
	assert_true(count_datoms(s, DL_DB_EAVT, NULL, 0) > 9);
	dl_snapshot_end(s);
	dl_arena_free(&ar);
	dl_db_close(db);
}

static void test_attrs_stats_check(void **state)
{
	(void)state;
	dl_db *db = open_new("attrs");
	tx0(db, k_schema);
	tx0(db, "[{:p/name \"Ann\" :p/tag [:a :b]} {:p/name \"Bob\" :p/tag [:a]} {:q/undeclared 1}]");
	dl_snapshot *s;
	assert_int_equal(dl_db_snapshot(&s, db, NULL), 0);
	const dl_db_attr *at;
	size_t n;
	assert_int_equal(dl_snapshot_attrs(&at, &n, s), 0);
	const dl_db_attr *name = NULL, *tag = NULL, *und = NULL;
	size_t builtins = 0;
	for (size_t i = 0; i < n; i++) {
		char *id = tu_print(&at[i].ident);
		if (!strcmp(id, ":p/name"))
			name = &at[i];
		if (!strcmp(id, ":p/tag"))
			tag = &at[i];
		if (!strcmp(id, ":q/undeclared"))
			und = &at[i];
		builtins += at[i].builtin;
		if (at[i].builtin) /* the built-ins come first */
			assert_int_equal(i, builtins - 1);
		free(id);
	}
	assert_true(builtins >= 10);
	assert_non_null(name);
	assert_non_null(tag);
	assert_non_null(und);
	assert_int_equal(name->unique, DL_DB_UNIQUE_IDENTITY);
	assert_int_equal(name->datoms, 2);
	assert_int_equal(name->doc.type, DL_STRING);
	char *vt = tu_print(&name->value_type);
	assert_string_equal(vt, ":db.type/string");
	free(vt);
	assert_true(tag->many);
	assert_int_equal(tag->datoms, 3);
	assert_int_equal(tag->values, 2);
	assert_int_equal(tag->entities, 2);
	assert_false(und->declared);
	assert_int_equal(und->value_type.type, DL_NIL);
	dl_db_stat st;
	assert_int_equal(dl_snapshot_stat(&st, s), 0);
	assert_int_equal(st.transactions, 2);
	assert_int_equal(st.basis, dl_snapshot_basis(s));
	assert_true(st.file_bytes > 0);
	/* the same array again */
	const dl_db_attr *at2;
	size_t n2;
	assert_int_equal(dl_snapshot_attrs(&at2, &n2, s), 0);
	assert_ptr_equal(at, at2);
	dl_snapshot_end(s);
	assert_int_equal(dl_db_check(db, NULL, NULL), 0);
	dl_db_close(db);
}

/* ---- import ------------------------------------------------------------------------- */

static int g_progress_calls;
static dl_import_stat g_last;

static void on_progress(void *ud, const dl_import_stat *st)
{
	(void)ud;
	g_progress_calls++;
	g_last = *st;
}

/* Transact the vectors of text one by one, as `transact` of a file would
 * (minus the all-or-nothing). */
static void transact_each(dl_db *db, const char *text, size_t len)
{
	dl_edn_reader r;
	dl_edn_opts eo = DL_EDN_OPTS_INIT;
	dl_edn_reader_init(&r, text, len, &eo);
	dl_arena a = DL_ARENA_INIT;
	dl_value v;
	while (dl_edn_reader_next(&r, &v, &a) == 0)
		assert_int_equal(dl_db_transact_value(NULL, db, &v, NULL), 0);
	dl_arena_free(&a);
}

static void test_import(void **state)
{
	(void)state;
	/* the same text through transact (one vector at a time) and import:
	 * the same datoms, entity ids included */
	static const char text[] =
		"[{:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one"
		"  :db/unique :db.unique/identity}\n"
		" {:db/ident :p/ref :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}\n"
		" {:db/ident :p/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]\n"
		"[{:db/id \"a\" :p/name \"A\" :p/ref \"b\"} {:db/id \"b\" :p/name \"B\" :p/n 2}]\n"
		"[{:p/name \"C\" :p/ref [[:p/name \"A\"] [:p/name \"B\"]]} {:p/n 4}]\n"
		"[{:p/name \"A\" :p/n 1}]\n" /* an upsert: the transaction processor */
		"[{:p/name \"D\" :p/ref -1} {:db/id -1 :p/n 5}]\n";
	dl_db *t = open_new("imp_tx");
	transact_each(t, text, sizeof text - 1);
	char *want = dump(t);
	dl_db_close(t);

	for (size_t batch = 1; batch <= 64; batch *= 4) {
		dl_db *db = open_new("imp");
		dl_import_opts o = DL_IMPORT_OPTS_INIT;
		o.batch = batch;
		o.progress = on_progress;
		g_progress_calls = 0;
		dl_import_stat st;
		assert_int_equal(dl_db_import(&st, db, text, sizeof text - 1, &o), 0);
		assert_true(g_progress_calls >= 1);
		assert_int_equal(g_last.bytes_done, sizeof text - 1);
		assert_int_equal(st.bytes_total, sizeof text - 1);
		assert_true(st.bulk_datoms >= 6);
		assert_true(st.transactions >= 3);
		char *got = dump(db);
		if (batch == 64)
			assert_string_equal(got, want); /* no batch boundary inside a vector */
		else
			assert_int_equal(strlen(got), strlen(want));
		free(got);
		assert_int_equal(dl_db_check(db, NULL, NULL), 0);
		dl_db_close(db);
	}
	free(want);
}

/* n vectors of new entities (three maps each), one per line, then `tail`. */
static char *import_text(int n, const char *tail)
{
	dl_buf b = DL_BUF_INIT;
	for (int i = 0; i < n; i++)
		dl_buf_printf(&b, "[{:p/name \"n%d-a\" :p/age %d} {:p/name \"n%d-b\" :p/email \"m%d\"}"
			      " {:p/age %d :p/tag :t%d}]\n", i, i, i, i, i, i % 5);
	dl_buf_puts(&b, tail);
	char *t = strdup(b.data);
	dl_buf_free(&b);
	return t;
}

static const char k_email[] =
	"[{:db/ident :p/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one"
	"  :db/unique :db.unique/value}]";

/* A database with the test schema, :p/email and Ann. */
static dl_db *undo_db(const char *name)
{
	dl_db *db = open_new(name);
	tx0(db, k_schema);
	tx0(db, k_email);
	tx0(db, "[{:p/name \"Ann\"}]");
	return db;
}

/* A failed import applies nothing: content, totals, basis (so the next
 * transaction gets the same tx id) are as before, whatever batch the
 * failure comes in. */
static void test_import_errors(void **state)
{
	(void)state;
	dl_db *db = undo_db("imperr");
	char *before = dump_full(db);
	dl_import_stat st;
	/* bad EDN anywhere: nothing written */
	static const char bad[] = "[{:p/name \"B\"}]\n[{:p/name \"C\"}\n {:p/name ]";
	assert_int_equal(dl_db_import(&st, db, bad, sizeof bad - 1, NULL), DL_ESYNTAX);
	assert_true(strncmp(dl_errmsg(), "<import>:3:", 11) == 0);
	assert_int_equal(st.transactions, 0);
	char *after = dump_full(db);
	assert_string_equal(before, after);
	free(after);

	/* failures after many batches' worth of data (batch: 8 datoms) */
	static const struct {
		const char *tail, *msg;
		int rc;
	} late[] = {
		/* a type error in the last vector (the processor words it) */
		{"[{:p/name \"x\"}\n {:p/age \"x\"}]\n", "in.edn:41:1: ", DL_ETYPE},
		/* a :db.unique/value conflict with a value of this same import */
		{"[{:p/name \"y\" :p/email \"m3\"}]\n", "in.edn:41:1: ", DL_ECONFLICT},
		/* a long vector (several batches) written in part, then an
		 * item that needs the processor, which refuses the vector */
		{"[{:p/name \"z1\" :p/age 1} {:p/name \"z2\" :p/age 2} {:p/name \"z3\" :p/age 3}"
		 " {:p/name \"z4\" :p/age 4} {:p/name \"z5\" :p/age 5}\n"
		 " {:p/name \"Ann\" :p/age \"old\"}]\n", "in.edn:41:1: ", DL_ETYPE},
	};
	for (size_t i = 0; i < sizeof late / sizeof late[0]; i++) {
		char *text = import_text(40, late[i].tail);
		dl_import_opts o = DL_IMPORT_OPTS_INIT;
		o.source = "in.edn";
		o.batch = 8;
		int rc = dl_db_import(&st, db, text, strlen(text), &o);
		if (rc != late[i].rc || strncmp(dl_errmsg(), late[i].msg, strlen(late[i].msg)) != 0)
			fail_msg("case %zu: %d %s", i, rc, dl_errmsg());
		assert_true(st.transactions > 5); /* written, then dropped */
		after = dump_full(db);
		assert_string_equal(before, after);
		free(after);
		free(text);
	}
	/* the next transaction gets the tx id it would have got */
	dl_tx_result *r = tx(db, "[{:p/name \"next\"}]");
	dl_snapshot *s;
	assert_int_equal(dl_db_snapshot(&s, db, NULL), 0);
	assert_int_equal(dl_tx_result_tx(r), dl_snapshot_basis(s));
	dl_snapshot_end(s);
	dl_tx_result_free(r);
	assert_int_equal(dl_db_check(db, NULL, NULL), 0);
	free(before);
	dl_db_close(db);
}

/* A long vector that turns out to need the transaction processor after
 * part of it was written is undone and transacted whole: the database is
 * the one `transact` gives, entity ids included. */
static void test_import_undo(void **state)
{
	(void)state;
	char *text = import_text(6, "[{:p/name \"z1\" :p/age 1} {:p/name \"z2\" :p/friend \"f\"}"
				    " {:db/id \"f\" :p/name \"z3\" :p/tag [:a :b]} {:p/name \"z4\"}"
				    " {:p/name \"Ann\" :p/age 7}]\n"
				    "[{:p/name \"after\" :p/email \"last\"}]\n");
	dl_db *t = undo_db("undo_tx");
	transact_each(t, text, strlen(text));
	char *want = dump(t);
	dl_db_close(t);

	dl_db *db = undo_db("undo");
	dl_import_opts o = DL_IMPORT_OPTS_INIT;
	o.batch = 1000; /* one group for the small vectors ... */
	dl_import_stat st;
	assert_int_equal(dl_db_import(&st, db, text, strlen(text), &o), 0);
	char *got = dump(db);
	assert_string_equal(got, want);
	free(got);
	assert_int_equal(dl_db_check(db, NULL, NULL), 0);
	dl_db_close(db);

	db = undo_db("undo4");
	o.batch = 4; /* ... and every vector alone fills a batch */
	assert_int_equal(dl_db_import(&st, db, text, strlen(text), &o), 0);
	got = dump(db);
	assert_int_equal(strlen(got), strlen(want)); /* the same but for ids */
	free(got);
	assert_int_equal(dl_db_check(db, NULL, NULL), 0);
	dl_db_close(db);
	free(want);
	free(text);
}

/* ---- allocation failure ------------------------------------------------------------ */

static void test_failalloc(void **state)
{
	(void)state;
	dl_db *db = open_new("fail");
	tx0(db, k_schema);
	long base = tu_failalloc_live();
	for (long n = 1; n < 2000; n++) {
		tu_failalloc_arm(n);
		dl_tx_result *r = NULL;
		static const char t[] = "[{:db/id \"x\" :p/name \"X\" :p/age 1}]";
		int rc = dl_db_transact(&r, db, t, sizeof t - 1, "f");
		int fired = tu_failalloc_fired();
		tu_failalloc_disarm();
		if (rc == 0) {
			dl_tx_result_free(r);
			if (!fired)
				break;
			/* committed: undo for the next round */
			tx0(db, "[[:db/retractEntity [:p/name \"X\"]]]");
		} else {
			assert_int_equal(rc, DL_ENOMEM);
			assert_null(r);
		}
		assert_int_equal(tu_failalloc_live(), base);
	}
	for (long n = 1; n < 2000; n++) {
		tu_failalloc_arm(n);
		dl_snapshot *s = NULL;
		dl_datoms *it = NULL;
		const dl_db_attr *at;
		size_t na;
		int rc = dl_db_snapshot(&s, db, NULL);
		if (rc == 0)
			rc = dl_snapshot_attrs(&at, &na, s);
		if (rc == 0)
			rc = dl_db_datoms(&it, s, DL_DB_EAVT, NULL, 0);
		int fired = tu_failalloc_fired();
		tu_failalloc_disarm();
		dl_datoms_close(it);
		dl_snapshot_end(s);
		assert_int_equal(tu_failalloc_live(), base);
		if (rc == 0 && !fired)
			break;
	}
	dl_db_close(db);
}

/* ---- concurrency (run with --concurrent; under TSan in make test-tsan) ----- */

static dl_db *g_cdb;
static atomic_int g_cdone, g_cfail;

static void *c_reader(void *arg)
{
	(void)arg;
	int64_t last_basis = 0;
	uint64_t last_n = 0;
	int rounds = 0;
	while (!atomic_load(&g_cdone) || rounds < 5) {
		dl_snapshot *s;
		if (dl_db_snapshot(&s, g_cdb, NULL)) {
			atomic_store(&g_cfail, 1);
			break;
		}
		dl_value a;
		dl_keyword(&a, "p/name", 6);
		int n = count_datoms(s, DL_DB_AEVT, &a, 1);
		int64_t basis = dl_snapshot_basis(s);
		/* snapshots only move forward, and each is consistent: one
		 * name per committed transaction after the schema */
		if (n < 0 || basis < last_basis || (uint64_t)n < last_n)
			atomic_store(&g_cfail, 1);
		last_basis = basis;
		last_n = (uint64_t)n;
		dl_snapshot_end(s);
		rounds++;
	}
	return NULL;
}

static void *c_writer(void *arg)
{
	(void)arg;
	int txs = (int)tu_scale(200);
	if (txs < 20)
		txs = 20;
	for (int i = 0; i < txs; i++) {
		char buf[128];
		snprintf(buf, sizeof buf, "[{:p/name \"n%d\" :p/age %d}]", i, i);
		if (dl_db_transact(NULL, g_cdb, buf, strlen(buf), "w")) {
			atomic_store(&g_cfail, 1);
			break;
		}
	}
	atomic_store(&g_cdone, 1);
	return NULL;
}

static void *c_importer(void *arg)
{
	(void)arg;
	dl_buf b = DL_BUF_INIT;
	for (int i = 0; i < 3; i++) {
		b.len = 0;
		for (int v = 0; v < 20; v++) {
			dl_buf_puts(&b, "[");
			for (int k = 0; k < 50; k++)
				dl_buf_printf(&b, "{:p/name \"imp%d-%d-%d\" :p/age %d}\n", i, v, k, k);
			dl_buf_puts(&b, "]\n");
		}
		dl_import_opts o = DL_IMPORT_OPTS_INIT;
		o.batch = 300;
		if (dl_db_import(NULL, g_cdb, b.data, b.len, &o))
			atomic_store(&g_cfail, 1);
	}
	dl_buf_free(&b);
	return NULL;
}

static void test_concurrent(void **state)
{
	(void)state;
	g_cdb = open_new("concurrent");
	tx0(g_cdb, k_schema);
	atomic_store(&g_cdone, 0);
	atomic_store(&g_cfail, 0);
	pthread_t r1, r2, w, im;
	assert_int_equal(pthread_create(&r1, NULL, c_reader, NULL), 0);
	assert_int_equal(pthread_create(&r2, NULL, c_reader, NULL), 0);
	assert_int_equal(pthread_create(&w, NULL, c_writer, NULL), 0);
	assert_int_equal(pthread_create(&im, NULL, c_importer, NULL), 0);
	pthread_join(w, NULL);
	pthread_join(im, NULL);
	pthread_join(r1, NULL);
	pthread_join(r2, NULL);
	assert_int_equal(atomic_load(&g_cfail), 0);
	assert_int_equal(dl_db_check(g_cdb, NULL, NULL), 0);
	dl_snapshot *s;
	assert_int_equal(dl_db_snapshot(&s, g_cdb, NULL), 0);
	dl_value a;
	dl_keyword(&a, "p/name", 6);
	int txs = (int)tu_scale(200);
	assert_int_equal(count_datoms(s, DL_DB_AEVT, &a, 1), (txs < 20 ? 20 : txs) + 3000);
	dl_snapshot_end(s);
	dl_db_close(g_cdb);
}

/* ---- the result formatter (src/cli/output.c) ------------------------------------------- */

static char *render(const dl_qresult *r, cli_format fmt, int width)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	assert_non_null(f);
	assert_int_equal(cli_print_result(f, r, fmt, width), 0);
	fclose(f);
	return buf;
}

static void expect(const dl_qresult *r, cli_format fmt, int width, const char *want)
{
	char *got = render(r, fmt, width);
	if (strcmp(got, want) != 0)
		fail_msg("format %d:\n--- got ---\n%s--- wanted ---\n%s", (int)fmt, got, want);
	free(got);
}

static void test_output(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	const char *cols[] = {"?name", "?age"};
	dl_value rows[6] = {dl_string("Ann", 3), dl_int(30), dl_string("B, \"the\" 2nd", 12),
			    dl_double(2.5), dl_string("", 0), dl_nil()};
	dl_qresult r;
	memset(&r, 0, sizeof r);
	r.find_spec = DL_FIND_REL;
	r.ncols = 2;
	r.colnames = cols;
	r.nrows = 3;
	r.rows = rows;

	expect(&r, CLI_FMT_EDN, 0,
	       "#{[\"Ann\" 30]\n [\"B, \\\"the\\\" 2nd\" 2.5]\n [\"\" nil]}\n");
	r.ordered = true;
	expect(&r, CLI_FMT_EDN, 0, "[[\"Ann\" 30]\n [\"B, \\\"the\\\" 2nd\" 2.5]\n [\"\" nil]]\n");
	expect(&r, CLI_FMT_JSON, 0,
	       "[[\"Ann\",30],\n [\"B, \\\"the\\\" 2nd\",2.5],\n [\"\",null]]\n");
	expect(&r, CLI_FMT_CSV, 0,
	       "?name,?age\nAnn,30\n\"B, \"\"the\"\" 2nd\",2.5\n\"\",\n");
	expect(&r, CLI_FMT_TABLE, 0,
	       " ?name        | ?age\n"
	       "--------------+------\n"
	       " Ann          |   30\n"
	       " B, \"the\" 2nd |  2.5\n"
	       "              |\n"
	       "(3 rows)\n");
	/* fitted: the wide column narrows and its cut cell ends in … */
	expect(&r, CLI_FMT_TABLE, 16,
	       " ?name   | ?age\n"
	       "---------+------\n"
	       " Ann     |   30\n"
	       " B, \"th… |  2.5\n"
	       "         |\n"
	       "(3 rows)\n");

	/* :keys rows are maps */
	const char *keys[] = {"name", "age"};
	r.keys = keys;
	r.keys_kind = DL_KEYS_KEYS;
	r.nrows = 1;
	expect(&r, CLI_FMT_EDN, 0, "[{:name \"Ann\" :age 30}]\n");
	expect(&r, CLI_FMT_JSON, 0, "[{\":name\":\"Ann\",\":age\":30}]\n");
	expect(&r, CLI_FMT_CSV, 0, "name,age\nAnn,30\n");
	r.keys_kind = DL_KEYS_STRS;
	expect(&r, CLI_FMT_EDN, 0, "[{\"name\" \"Ann\" \"age\" 30}]\n");
	expect(&r, CLI_FMT_JSON, 0, "[{\"name\":\"Ann\",\"age\":30}]\n");
	r.keys_kind = DL_KEYS_SYMS;
	expect(&r, CLI_FMT_EDN, 0, "[{name \"Ann\" age 30}]\n");
	r.keys = NULL;
	r.keys_kind = DL_KEYS_NONE;

	/* scalar: the value, or nil */
	const char *one[] = {"?x"};
	dl_value kw = tu_edn(&a, ":person/name"), inst = tu_edn(&a, "#inst \"2026-01-05T14:30:00Z\"");
	dl_qresult s;
	memset(&s, 0, sizeof s);
	s.find_spec = DL_FIND_SCALAR;
	s.ncols = 1;
	s.colnames = one;
	s.rows = &kw;
	s.nrows = 1;
	expect(&s, CLI_FMT_EDN, 0, ":person/name\n");
	expect(&s, CLI_FMT_JSON, 0, "\":person/name\"\n");
	expect(&s, CLI_FMT_CSV, 0, "?x\n:person/name\n");
	s.rows = &inst;
	expect(&s, CLI_FMT_EDN, 0, "#inst \"2026-01-05T14:30:00.000Z\"\n");
	expect(&s, CLI_FMT_JSON, 0, "\"2026-01-05T14:30:00.000Z\"\n");
	s.nrows = 0;
	expect(&s, CLI_FMT_EDN, 0, "nil\n");
	expect(&s, CLI_FMT_JSON, 0, "null\n");
	expect(&s, CLI_FMT_CSV, 0, "?x\n");
	expect(&s, CLI_FMT_TABLE, 0, " ?x\n----\n(0 rows)\n");

	/* collection: a vector of values; entity ids are plain ints */
	dl_value coll[3] = {dl_int(17592186045418), dl_ref(17592186045419), dl_int(-1)};
	s.find_spec = DL_FIND_COLL;
	s.rows = coll;
	s.nrows = 3;
	expect(&s, CLI_FMT_EDN, 0, "[17592186045418 17592186045419 -1]\n");
	expect(&s, CLI_FMT_JSON, 0, "[17592186045418, 17592186045419, -1]\n");
	expect(&s, CLI_FMT_CSV, 0, "?x\n17592186045418\n17592186045419\n-1\n");
	s.nrows = 0;
	expect(&s, CLI_FMT_EDN, 0, "[]\n");

	/* tuple: a vector, or nil */
	dl_value tup[2] = {dl_bool(true), tu_edn(&a, "#{1 [2 \"x\"]}")};
	dl_qresult t;
	memset(&t, 0, sizeof t);
	t.find_spec = DL_FIND_TUPLE;
	t.ncols = 2;
	t.colnames = cols;
	t.rows = tup;
	t.nrows = 1;
	expect(&t, CLI_FMT_EDN, 0, "[true #{1 [2 \"x\"]}]\n");
	expect(&t, CLI_FMT_JSON, 0, "[true,[1,[2,\"x\"]]]\n");
	expect(&t, CLI_FMT_CSV, 0, "?name,?age\ntrue,\"#{1 [2 \"\"x\"\"]}\"\n");
	t.nrows = 0;
	expect(&t, CLI_FMT_EDN, 0, "nil\n");

	/* JSON specials: maps, control characters, NaN, uuids */
	dl_value m = tu_edn(&a, "{:a \"line\\nbreak\" \"k\" ##NaN 3 #uuid \"6f1c2b6e-0d4a-4c53-9d2e-3c1f7a8b9e01\"}");
	s.find_spec = DL_FIND_SCALAR;
	s.rows = &m;
	s.nrows = 1;
	expect(&s, CLI_FMT_JSON, 0,
	       "{\":a\":\"line\\nbreak\",\"k\":null,\"3\":\"6f1c2b6e-0d4a-4c53-9d2e-3c1f7a8b9e01\"}\n");
	/* a table shows control characters as escapes, wide text by its width */
	dl_value wide[2] = {dl_string("a\tb", 3), dl_string("\xe4\xb8\xad\xe6\x96\x87", 6)};
	s.find_spec = DL_FIND_COLL;
	s.rows = wide;
	s.nrows = 2;
	expect(&s, CLI_FMT_TABLE, 0, " ?x\n------\n a\\tb\n 中文\n(2 rows)\n");

	cli_format f;
	assert_int_equal(cli_format_parse(&f, "json"), 0);
	assert_int_equal(f, CLI_FMT_JSON);
	assert_int_equal(cli_format_parse(&f, "xml"), -1);
	dl_arena_free(&a);
}

int main(int argc, char **argv)
{
	const char *tmp = getenv("DL_TEST_TMP");
	snprintf(g_dir, sizeof g_dir, "%s/api", tmp && *tmp ? tmp : "/tmp/datalite-test");
	mkdirs(g_dir);
	if (argc > 1 && strcmp(argv[1], "--concurrent") == 0) {
		/* the counting allocator is not for threads: plain malloc here */
		const struct CMUnitTest tests[] = {cmocka_unit_test(test_concurrent)};
		return cmocka_run_group_tests(tests, NULL, NULL);
	}
	tu_failalloc_install();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_transact),
		cmocka_unit_test(test_transact_errors),
		cmocka_unit_test(test_transact_many),
		cmocka_unit_test(test_transact_many_errors),
		cmocka_unit_test(test_transact_many_failalloc),
		cmocka_unit_test(test_views),
		cmocka_unit_test(test_datoms),
		cmocka_unit_test(test_attrs_stats_check),
		cmocka_unit_test(test_import),
		cmocka_unit_test(test_import_errors),
		cmocka_unit_test(test_import_undo),
		cmocka_unit_test(test_failalloc),
		cmocka_unit_test(test_output),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
