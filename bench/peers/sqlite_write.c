/*
 * SQLite peer for DataScript's write benchmarks (bench_write is datalite's,
 * datascript_bench.js DataScript's), in the peers' line format:
 *
 *   name median_ms min_ms max_ms values peak_rss_mb runs
 *
 *   sqlite_write [--runs N] [--warmup-ms MS] [--budget-ms MS]
 *                --layout normalized|eav PEOPLE.csv DB
 *                [add-1|add-5|add-all|retract-5|init ...]
 *
 * PEOPLE.csv is `datalite gen social --format csv`'s people.csv.  Each run
 * starts from a fresh database file DB (removed, created with the layout's
 * tables and indexes, untimed) in WAL mode with `PRAGMA synchronous = OFF`:
 * a commit is atomic and survives the process, but nothing is fsynced, as
 * datalite's sync-off LMDB commits (bench_write's default).  The layouts
 * are sqlite_load.sh's for social:
 *
 *   normalized  people(id INTEGER PRIMARY KEY, name, last_name, sex, age,
 *               salary) with indexes on name and salary (sql/social*.sql)
 *   eav         datoms(e, a, v, tx) WITHOUT ROWID, primary key (e, a, v),
 *               index (a, v, e) (sql/eav*.sql)
 *
 * Every transaction is BEGIN ... COMMIT of prepared statements (prepared
 * before the clock starts, as the other systems get their tx-data built),
 * one per DataScript transaction:
 *
 *   add-1      5 per person: normalized, INSERT of (id, name), then an
 *              UPDATE per attribute; eav, an INSERT per datom
 *   add-5      one per person: one INSERT (normalized) or 5 (eav)
 *   add-all    one of every person's INSERTs
 *   retract-5  on the database with every person (added untimed), one per
 *              person: normalized, DELETE of the row (its 5 values);
 *              eav, a DELETE per datom (e, a, v)
 *   init       a bulk load: one transaction of INSERTs into tables with no
 *              secondary index, the indexes created (and committed) after
 *
 * People keep their CSV ids, as DataScript's bench gives explicit ids.  The
 * values column counts the attribute values written or deleted (changed
 * rows times the values each statement sets: 5 for a normalized INSERT or
 * DELETE, 1 for an UPDATE or a datom; the id column is the entity, not a
 * value), 100,000 for people20k; a run with any other count fails (exit 1).
 */
#include "../bench_common.h"

#include <sqlite3.h>

#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#define NATTR 5

/* The attributes as the EAV layout names them, and the normalized columns
 * add-1 updates after the first. */
static const char *const k_attrs[NATTR] = {":name", ":last-name", ":sex", ":age", ":salary"};
static const char *const k_updates[NATTR] = {
	NULL,
	"UPDATE people SET last_name = ?2 WHERE id = ?1",
	"UPDATE people SET sex = ?2 WHERE id = ?1",
	"UPDATE people SET age = ?2 WHERE id = ?1",
	"UPDATE people SET salary = ?2 WHERE id = ?1",
};

static const char k_normalized_tables[] =
	"CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, last_name TEXT, sex TEXT,"
	" age INTEGER, salary INTEGER);";
static const char k_normalized_index[] = "CREATE INDEX people_name ON people (name);"
					 "CREATE INDEX people_salary ON people (salary);";
static const char k_eav_tables[] = "CREATE TABLE datoms (e INTEGER NOT NULL, a TEXT NOT NULL,"
				   " v NOT NULL, tx INTEGER NOT NULL, PRIMARY KEY (e, a, v))"
				   " WITHOUT ROWID;";
static const char k_eav_index[] = "CREATE INDEX datoms_avet ON datoms (a, v, e);";

/* Bind attribute k of p to parameter i (sex: a keyword's text in EAV). */
static void bind_attr(sqlite3_stmt *st, int i, const bench_person *p, int k, bool eav)
{
	switch (k) {
	case 0: sqlite3_bind_text(st, i, p->name, -1, SQLITE_STATIC); break;
	case 1: sqlite3_bind_text(st, i, p->last, -1, SQLITE_STATIC); break;
	case 2:
		if (eav)
			sqlite3_bind_text(st, i, strcmp(p->sex, "male") ? ":female" : ":male", -1,
					  SQLITE_STATIC);
		else
			sqlite3_bind_text(st, i, p->sex, -1, SQLITE_STATIC);
		break;
	case 3: sqlite3_bind_int64(st, i, p->age); break;
	default: sqlite3_bind_int64(st, i, p->salary); break;
	}
}

typedef struct bench {
	sqlite3 *db;
	bool eav;
	sqlite3_stmt *begin, *commit;
	sqlite3_stmt *insert;          /* a person's row (normalized), a datom (eav) */
	sqlite3_stmt *update[NATTR];   /* add-1's (normalized, 1..4) */
	sqlite3_stmt *del;             /* a person's row (normalized), a datom (eav) */
	size_t values;                 /* values written or deleted */
} bench;

static int fail(bench *b, const char *what)
{
	fprintf(stderr, "sqlite_write: %s: %s\n", what, sqlite3_errmsg(b->db));
	return -1;
}

/* Step st once (a statement without rows), counting `per` values per
 * changed row. */
static int step(bench *b, sqlite3_stmt *st, int per)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return fail(b, sqlite3_sql(st));
	b->values += (size_t)sqlite3_changes(b->db) * (size_t)per;
	return 0;
}

/* Person p's attribute k as a datom; INSERT or DELETE by st. */
static int datom(bench *b, sqlite3_stmt *st, const bench_person *p, int k)
{
	sqlite3_bind_int64(st, 1, p->id);
	sqlite3_bind_text(st, 2, k_attrs[k], -1, SQLITE_STATIC);
	bind_attr(st, 3, p, k, true);
	return step(b, st, 1);
}

/* Person p, whole: one row (normalized) or 5 datoms (eav). */
static int add_person(bench *b, const bench_person *p)
{
	if (b->eav) {
		for (int k = 0; k < NATTR; k++)
			if (datom(b, b->insert, p, k))
				return -1;
		return 0;
	}
	sqlite3_bind_int64(b->insert, 1, p->id);
	for (int k = 0; k < NATTR; k++)
		bind_attr(b->insert, k + 2, p, k, false);
	return step(b, b->insert, NATTR);
}

static int tx_begin(bench *b)
{
	return step(b, b->begin, 0);
}

static int tx_commit(bench *b)
{
	return step(b, b->commit, 0);
}

static void close_bench(bench *b)
{
	sqlite3_finalize(b->begin);
	sqlite3_finalize(b->commit);
	sqlite3_finalize(b->insert);
	sqlite3_finalize(b->del);
	for (int k = 0; k < NATTR; k++)
		sqlite3_finalize(b->update[k]);
	sqlite3_close(b->db);
	memset(b, 0, sizeof *b);
}

static int prepare(bench *b, sqlite3_stmt **st, const char *sql)
{
	return sqlite3_prepare_v2(b->db, sql, -1, st, NULL) == SQLITE_OK ? 0 : fail(b, sql);
}

/* A fresh database at path with the layout's tables (and indexes unless
 * `bulk`), and the statements prepared. */
static int open_fresh(bench *b, const char *path, bool eav, bool bulk)
{
	char side[4096];
	memset(b, 0, sizeof *b);
	b->eav = eav;
	unlink(path);
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-journal", path);
	unlink(side);
	if (sqlite3_open(path, &b->db) != SQLITE_OK)
		return fail(b, path);
	if (sqlite3_exec(b->db,
			 "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;"
			 " PRAGMA cache_size = -1048576;",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(b->db, eav ? k_eav_tables : k_normalized_tables, NULL, NULL, NULL) ||
	    (!bulk && sqlite3_exec(b->db, eav ? k_eav_index : k_normalized_index, NULL, NULL, NULL)))
		return fail(b, "schema");
	if (prepare(b, &b->begin, "BEGIN") || prepare(b, &b->commit, "COMMIT"))
		return -1;
	if (eav)
		return prepare(b, &b->insert, "INSERT INTO datoms (e, a, v, tx) VALUES (?1, ?2, ?3, 1)") ||
		       prepare(b, &b->del, "DELETE FROM datoms WHERE e = ?1 AND a = ?2 AND v = ?3");
	if (prepare(b, &b->insert,
		    "INSERT INTO people (id, name, last_name, sex, age, salary)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)") ||
	    prepare(b, &b->update[0], "INSERT INTO people (id, name) VALUES (?1, ?2)") ||
	    prepare(b, &b->del, "DELETE FROM people WHERE id = ?1"))
		return -1;
	for (int k = 1; k < NATTR; k++)
		if (prepare(b, &b->update[k], k_updates[k]))
			return -1;
	return 0;
}

/* One run of bench `name`: *values gets the count, *ms the time. */
static int run(const char *name, const char *path, bool eav, const bench_person *ps, size_t n,
	       size_t *values, double *ms)
{
	bench b;
	bool init = !strcmp(name, "init");
	int rc = open_fresh(&b, path, eav, init);
	if (!rc && !strcmp(name, "retract-5")) { /* the people, untimed */
		rc = tx_begin(&b);
		for (size_t i = 0; i < n && !rc; i++)
			rc = add_person(&b, &ps[i]);
		rc = rc ? rc : tx_commit(&b);
	}
	b.values = 0;
	double t0 = bench_now_ms();
	if (rc) {
		/* setup failed */
	} else if (!strcmp(name, "add-1")) {
		for (size_t i = 0; i < n && !rc; i++)
			for (int k = 0; k < NATTR && !rc; k++) {
				if ((rc = tx_begin(&b)))
					break;
				if (eav) {
					rc = datom(&b, b.insert, &ps[i], k);
				} else {
					sqlite3_bind_int64(b.update[k], 1, ps[i].id);
					bind_attr(b.update[k], 2, &ps[i], k, false);
					rc = step(&b, b.update[k], 1);
				}
				rc = rc ? rc : tx_commit(&b);
			}
	} else if (!strcmp(name, "add-5")) {
		for (size_t i = 0; i < n && !rc; i++)
			if (!(rc = tx_begin(&b)) && !(rc = add_person(&b, &ps[i])))
				rc = tx_commit(&b);
	} else if (!strcmp(name, "add-all") || init) {
		rc = tx_begin(&b);
		for (size_t i = 0; i < n && !rc; i++)
			rc = add_person(&b, &ps[i]);
		if (!rc && init && sqlite3_exec(b.db, eav ? k_eav_index : k_normalized_index, NULL, NULL,
						NULL) != SQLITE_OK)
			rc = fail(&b, "index");
		rc = rc ? rc : tx_commit(&b);
	} else { /* retract-5 */
		for (size_t i = 0; i < n && !rc; i++) {
			if ((rc = tx_begin(&b)))
				break;
			if (eav) {
				for (int k = 0; k < NATTR && !rc; k++)
					rc = datom(&b, b.del, &ps[i], k);
			} else {
				sqlite3_bind_int64(b.del, 1, ps[i].id);
				rc = step(&b, b.del, NATTR);
			}
			rc = rc ? rc : tx_commit(&b);
		}
	}
	*ms = bench_now_ms() - t0;
	*values = b.values;
	close_bench(&b);
	return rc;
}

int main(int argc, char **argv)
{
	int runs = 10, layout = -1;
	double warmup_ms = 1000, budget_ms = 120000;
	const char *csv = NULL, *path = NULL, *names[16];
	int nnames = 0;
	for (int i = 1; i < argc; i++) {
		if (bench_timing_opt(argc, argv, &i, &runs, &warmup_ms, &budget_ms))
			continue;
		if (!strcmp(argv[i], "--layout") && i + 1 < argc) {
			i++;
			layout = !strcmp(argv[i], "eav") ? 1 : !strcmp(argv[i], "normalized") ? 0 : -2;
		} else if (!csv)
			csv = argv[i];
		else if (!path)
			path = argv[i];
		else if (nnames < 16)
			names[nnames++] = argv[i];
	}
	if (layout == -2) {
		fprintf(stderr, "sqlite_write: --layout is normalized or eav\n");
		return 2;
	}
	if (!csv || !path || runs < 1 || layout < 0) {
		fprintf(stderr, "usage: sqlite_write [--runs N] [--warmup-ms MS] [--budget-ms MS]"
				" --layout normalized|eav PEOPLE.csv DB\n"
				"                    [add-1|add-5|add-all|retract-5|init ...]\n");
		return 2;
	}
	if (bench_write_names("sqlite_write", names, &nnames))
		return 2;
	size_t n = 0;
	bench_person *ps = bench_read_people("sqlite_write", csv, &n);
	double *times = malloc((size_t)runs * sizeof *times);
	int status = ps && times ? 0 : 1;
	if (ps)
		fprintf(stderr, "sqlite_write: %s layout, %zu people, SQLite %s, WAL, synchronous OFF\n",
			layout ? "eav" : "normalized", n, sqlite3_libversion());
	for (int k = 0; k < nnames && !status; k++) {
		size_t values = 0;
		double ms = 0, start = bench_now_ms();
		int rc;
		do /* warm up: once, and again until --warmup-ms have passed */
			rc = run(names[k], path, layout, ps, n, &values, &ms);
		while (!rc && bench_now_ms() - start < warmup_ms);
		int nr = rc ? 0 : bench_budget_runs(runs, ms, budget_ms);
		for (int r = 0; r < nr && !rc; r++) {
			rc = run(names[k], path, layout, ps, n, &values, &times[r]);
			if (!rc && values != n * NATTR) {
				fprintf(stderr, "sqlite_write: %s wrote %zu values, not %zu\n", names[k],
					values, n * NATTR);
				rc = -1;
			}
		}
		if (rc) {
			printf("%s ERROR - - - - 0\n", names[k]);
			status = 1;
			continue;
		}
		double med = bench_median(times, nr);
		printf("%s %.3f %.3f %.3f %zu %.1f %d\n", names[k], med, times[0], times[nr - 1], values,
		       bench_peak_rss_mb(), nr);
		fflush(stdout);
	}
	free(times);
	free(ps);
	return status;
}
