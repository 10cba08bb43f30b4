/*
 * DataScript's write benchmarks on datalite, through the public API, in the
 * peers' line format:
 *
 *   name median_ms min_ms max_ms datoms peak_rss_mb runs
 *
 *   bench_write [--runs N] [--warmup-ms MS] [--budget-ms MS] [--sync]
 *               [--writemap] PEOPLE.csv DB [add-1|add-5|add-all|retract-5|init ...]
 *
 * PEOPLE.csv is `datalite gen social --format csv`'s people.csv (DataScript's
 * people20k).  Each run starts from a fresh database file DB (removed and
 * created with the five attributes' schema, untimed) opened with sync off
 * unless --sync (fsync per commit: durability is a different cost, which
 * DataScript, in memory, does not pay), with pages written by pwrite at
 * commit (the default) or, with --writemap, straight into LMDB's map
 * (dl_db_opts.writemap = 1), then times:
 *
 *   add-1      5 transactions per person, [[:db/add e :name n]] then
 *              :last-name, :sex, :age, :salary (the first names the person
 *              by a tempid, the next ones by the id it got)
 *   add-5      one transaction per person: a map of the 5 attributes
 *   add-all    one transaction of every person's map
 *   retract-5  on the database with every person (added untimed), one
 *              transaction per person of 5 [:db/retract e attr v]
 *   init       the bulk importer (dl_db_import) on the text of add-all's
 *              transaction, DataScript's d/init-db from datoms
 *
 * Transactions go through dl_db_transact_value with tx-data built before
 * the clock starts (DataScript is handed data too); init reads EDN text,
 * which is what the importer takes.  The datoms column counts the datoms
 * the timed transactions asserted or retracted, the transactions' own
 * :db/txInstant left out; a run with any other count fails (exit 1).
 */
#include "datalite.h"

#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NATTR 5
static const char *const k_attrs[NATTR] = {"name", "last-name", "sex", "age", "salary"};

typedef struct person {
	const bench_person *row; /* the CSV's, which the values point into */
	dl_value v[NATTR];       /* the attribute values */
	int64_t e;               /* the entity id of the last add */
} person;

static dl_value g_kw[NATTR], g_add, g_retract, g_male, g_female;

/* The people of people.csv (*rows, which the values point into). */
static person *read_people(const char *path, bench_person **rows, size_t *n)
{
	*rows = bench_read_people("bench_write", path, n);
	person *ps = *rows ? calloc(*n ? *n : 1, sizeof *ps) : NULL;
	for (size_t i = 0; ps && i < *n; i++) {
		const bench_person *r = &(*rows)[i];
		person *p = &ps[i];
		p->row = r;
		p->v[0] = dl_string(r->name, strlen(r->name));
		p->v[1] = dl_string(r->last, strlen(r->last));
		p->v[2] = strcmp(r->sex, "male") ? g_female : g_male;
		p->v[3] = dl_int(r->age);
		p->v[4] = dl_int(r->salary);
	}
	return ps;
}

static int open_fresh(dl_db **db, const char *path, bool sync, bool writemap)
{
	char lock[4096];
	snprintf(lock, sizeof lock, "%s-lock", path);
	unlink(path);
	unlink(lock);
	dl_db_opts o = DL_DB_OPTS_INIT;
	o.sync = sync;
	o.writemap = writemap;
	static const char schema[] =
		"[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}"
		" {:db/ident :last-name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}"
		" {:db/ident :sex :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one}"
		" {:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}"
		" {:db/ident :salary :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]";
	int rc = dl_db_open(db, path, &o);
	if (!rc && (rc = dl_db_transact(NULL, *db, schema, sizeof schema - 1, "schema"))) {
		dl_db_close(*db);
		*db = NULL;
	}
	return rc;
}

/* Run tx-data v; add its datoms but the tx entity's to *datoms; with
 * tempid, the entity it named goes to *e. */
static int transact(dl_db *db, const dl_value *v, size_t *datoms, const char *tempid, int64_t *e)
{
	dl_tx_result *r;
	int rc = dl_db_transact_value(&r, db, v, "bench");
	if (rc)
		return rc;
	int64_t tx = dl_tx_result_tx(r);
	for (size_t i = 0, n = dl_tx_result_ndatoms(r); i < n; i++)
		*datoms += dl_tx_result_datom(r, i).e != tx;
	if (tempid)
		*e = dl_tx_result_entid(r, tempid);
	dl_tx_result_free(r);
	return 0;
}

static dl_value vec(dl_value *items, uint32_t n)
{
	dl_value v = {.type = DL_VECTOR, .len = n};
	v.u.items = items;
	return v;
}

/* A person's map of the 5 attributes, in items[0..10). */
static dl_value person_map(dl_value *items, const person *p)
{
	for (int k = 0; k < NATTR; k++) {
		items[2 * k] = g_kw[k];
		items[2 * k + 1] = p->v[k];
	}
	dl_value m = {.type = DL_MAP, .len = NATTR};
	m.u.items = items;
	return m;
}

/* Add every person in one transaction (add-all, and retract-5's setup). */
static int add_all(dl_db *db, person *ps, size_t n, size_t *datoms)
{
	dl_value *items = malloc(n * (2 * NATTR + 1) * sizeof *items);
	if (!items)
		return DL_ENOMEM;
	dl_value *maps = items + n * 2 * NATTR;
	for (size_t i = 0; i < n; i++)
		maps[i] = person_map(items + i * 2 * NATTR, &ps[i]);
	dl_value tx = vec(maps, (uint32_t)n);
	int rc = transact(db, &tx, datoms, NULL, NULL);
	free(items);
	return rc;
}

/* One run of bench `name`; *datoms gets the count, *ms the time. */
static int run(const char *name, const char *dbpath, bool sync, bool writemap, person *ps,
	       size_t n, const char *init_text, size_t init_len, size_t *datoms, double *ms)
{
	dl_db *db;
	int rc = open_fresh(&db, dbpath, sync, writemap);
	if (rc)
		return rc;
	*datoms = 0;
	dl_value ops[NATTR][4], items[2 * NATTR], forms[NATTR], tx;
	size_t setup = 0;
	if (!strcmp(name, "retract-5")) {
		/* The people as add-5 adds them (untimed): their ids. */
		for (size_t i = 0; i < n && !rc; i++) {
			dl_value m = person_map(items, &ps[i]);
			dl_value kv[2 * NATTR + 2];
			memcpy(kv, items, sizeof items);
			if ((rc = dl_keyword(&kv[2 * NATTR], "db/id", 5)))
				break;
			kv[2 * NATTR + 1] = dl_string("p", 1);
			m.u.items = kv;
			m.len = NATTR + 1;
			tx = vec(&m, 1);
			rc = transact(db, &tx, &setup, "p", &ps[i].e);
		}
	}
	double t0 = bench_now_ms();
	if (rc) {
		/* setup failed */
	} else if (!strcmp(name, "add-1")) {
		for (size_t i = 0; i < n && !rc; i++) {
			for (int k = 0; k < NATTR && !rc; k++) {
				ops[0][0] = g_add;
				ops[0][1] = k ? dl_int(ps[i].e) : dl_string("p", 1);
				ops[0][2] = g_kw[k];
				ops[0][3] = ps[i].v[k];
				forms[0] = vec(ops[0], 4);
				tx = vec(forms, 1);
				rc = transact(db, &tx, datoms, k ? NULL : "p", &ps[i].e);
			}
		}
	} else if (!strcmp(name, "add-5")) {
		for (size_t i = 0; i < n && !rc; i++) {
			forms[0] = person_map(items, &ps[i]);
			tx = vec(forms, 1);
			rc = transact(db, &tx, datoms, NULL, NULL);
		}
	} else if (!strcmp(name, "add-all")) {
		rc = add_all(db, ps, n, datoms);
	} else if (!strcmp(name, "retract-5")) {
		for (size_t i = 0; i < n && !rc; i++) {
			for (int k = 0; k < NATTR; k++) {
				ops[k][0] = g_retract;
				ops[k][1] = dl_int(ps[i].e);
				ops[k][2] = g_kw[k];
				ops[k][3] = ps[i].v[k];
				forms[k] = vec(ops[k], 4);
			}
			tx = vec(forms, NATTR);
			rc = transact(db, &tx, datoms, NULL, NULL);
		}
	} else { /* init */
		dl_import_stat st;
		dl_import_opts io = DL_IMPORT_OPTS_INIT;
		io.source = "init";
		if (!(rc = dl_db_import(&st, db, init_text, init_len, &io)))
			*datoms = (size_t)(st.datoms - st.transactions);
	}
	*ms = bench_now_ms() - t0;
	dl_db_close(db);
	return rc;
}

/* add-all's transaction as EDN text, for the importer. */
static char *init_text(const person *ps, size_t n, size_t *len)
{
	size_t cap = n * 160 + 16;
	char *t = malloc(cap);
	if (!t)
		return NULL;
	size_t k = 0;
	t[k++] = '[';
	for (size_t i = 0; i < n; i++)
		k += (size_t)snprintf(t + k, cap - k,
				      "{:name \"%s\" :last-name \"%s\" :sex :%s :age %lld :salary %lld}\n",
				      ps[i].row->name, ps[i].row->last, ps[i].row->sex, ps[i].row->age,
				      ps[i].row->salary);
	t[k++] = ']';
	t[k] = 0;
	*len = k;
	return t;
}

int main(int argc, char **argv)
{
	int runs = 10;
	double warmup_ms = 1000, budget_ms = 120000;
	bool sync = false, writemap = false;
	const char *csv = NULL, *dbpath = NULL, *names[16];
	int nnames = 0;
	for (int i = 1; i < argc; i++) {
		if (bench_timing_opt(argc, argv, &i, &runs, &warmup_ms, &budget_ms))
			continue;
		if (!strcmp(argv[i], "--sync"))
			sync = true;
		else if (!strcmp(argv[i], "--writemap"))
			writemap = true;
		else if (!csv)
			csv = argv[i];
		else if (!dbpath)
			dbpath = argv[i];
		else if (nnames < 16)
			names[nnames++] = argv[i];
	}
	if (!csv || !dbpath || runs < 1) {
		fprintf(stderr, "usage: bench_write [--runs N] [--warmup-ms MS] [--budget-ms MS] "
				"[--sync] [--writemap] PEOPLE.csv DB [add-1|add-5|add-all|retract-5|init ...]\n");
		return 2;
	}
	if (bench_write_names("bench_write", names, &nnames))
		return 2;
	for (int k = 0; k < NATTR; k++)
		if (dl_keyword(&g_kw[k], k_attrs[k], strlen(k_attrs[k])))
			return 1;
	if (dl_keyword(&g_add, "db/add", 6) || dl_keyword(&g_retract, "db/retract", 10) ||
	    dl_keyword(&g_male, "male", 4) || dl_keyword(&g_female, "female", 6))
		return 1;
	size_t n = 0, tlen = 0;
	bench_person *rows = NULL;
	person *ps = read_people(csv, &rows, &n);
	char *text = ps ? init_text(ps, n, &tlen) : NULL;
	double *times = malloc((size_t)runs * sizeof *times);
	int status = ps && text && times ? 0 : 1;
	for (int k = 0; k < nnames && !status; k++) {
		size_t datoms = 0;
		double ms = 0, start = bench_now_ms();
		int rc;
		do /* warm up: once, and again until --warmup-ms have passed */
			rc = run(names[k], dbpath, sync, writemap, ps, n, text, tlen, &datoms, &ms);
		while (!rc && bench_now_ms() - start < warmup_ms);
		int nr = rc ? 0 : bench_budget_runs(runs, ms, budget_ms);
		for (int r = 0; r < nr && !rc; r++) {
			rc = run(names[k], dbpath, sync, writemap, ps, n, text, tlen, &datoms, &times[r]);
			if (!rc && datoms != n * NATTR) {
				fprintf(stderr, "bench_write: %s wrote %zu datoms, not %zu\n", names[k],
					datoms, n * NATTR);
				rc = DL_EINVAL;
			}
		}
		if (rc) {
			fprintf(stderr, "bench_write: %s: %s\n", names[k], dl_errmsg());
			printf("%s ERROR - - - - 0\n", names[k]);
			status = 1;
			continue;
		}
		double med = bench_median(times, nr);
		printf("%s %.3f %.3f %.3f %zu %.1f %d\n", names[k], med, times[0], times[nr - 1], datoms,
		       bench_peak_rss_mb(), nr);
		fflush(stdout);
	}
	free(times);
	free(text);
	free(ps);
	free(rows);
	return status;
}
