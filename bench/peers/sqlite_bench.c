/*
 * SQLite peer for datalite's benchmarks: times prepared statements in one
 * process (the sqlite3 CLI's .timer is too coarse and adds its printing).
 *
 *   sqlite_bench [--runs N] [--dump] DB [QUERY ...]
 *
 * DB comes from bench/peers/sqlite_load.sh; its layout (normalized or eav)
 * and kind (ohlc or social) are detected from its tables.  Each query runs
 * once to warm up and N more times (all rows stepped through), and prints
 *
 *   name median_ms min_ms max_ms rows peak_rss_mb
 *
 * like datascript_bench.js.  Without QUERY names it runs all of the kind's.
 * --dump prints each query's rows to stderr.
 *
 * The SQL is equivalent to the Datalog of bench/README.md: set semantics
 * where the Datalog :find has them (DISTINCT in ohlc1), day and month of the
 * UTC instant, ties for the latest bar kept (ohlc5).
 */
#include <sqlite3.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct query {
	const char *name, *kind;
	const char *normalized, *eav;
	int bind; /* > 0: bound to ?1 */
} query;

#define EAV_BAR(alias, attr) " JOIN datoms " alias " ON " alias ".e = b.e AND " alias ".a = '" attr "'"

static const query k_queries[] = {
	/* DataScript's suite. */
	{"q1", "social", "SELECT id FROM people WHERE name = 'Ivan'",
	 "SELECT e FROM datoms WHERE a = ':name' AND v = 'Ivan'", 0},
	{"q2", "social", "SELECT id, age FROM people WHERE name = 'Ivan'",
	 "SELECT n.e, g.v FROM datoms n JOIN datoms g ON g.e = n.e AND g.a = ':age'"
	 " WHERE n.a = ':name' AND n.v = 'Ivan'",
	 0},
	{"q2-switch", "social", "SELECT id, age FROM people WHERE name = 'Ivan'",
	 "SELECT g.e, g.v FROM datoms g JOIN datoms n ON n.e = g.e AND n.a = ':name'"
	 " AND n.v = 'Ivan' WHERE g.a = ':age'",
	 0},
	{"q3", "social", "SELECT id, age FROM people WHERE name = 'Ivan' AND sex = 'male'",
	 "SELECT n.e, g.v FROM datoms n JOIN datoms g ON g.e = n.e AND g.a = ':age'"
	 " JOIN datoms x ON x.e = n.e AND x.a = ':sex' AND x.v = ':male'"
	 " WHERE n.a = ':name' AND n.v = 'Ivan'",
	 0},
	{"q4", "social",
	 "SELECT id, last_name, age FROM people WHERE name = 'Ivan' AND sex = 'male'",
	 "SELECT n.e, l.v, g.v FROM datoms n"
	 " JOIN datoms l ON l.e = n.e AND l.a = ':last-name'"
	 " JOIN datoms g ON g.e = n.e AND g.a = ':age'"
	 " JOIN datoms x ON x.e = n.e AND x.a = ':sex' AND x.v = ':male'"
	 " WHERE n.a = ':name' AND n.v = 'Ivan'",
	 0},
	{"qpred1", "social", "SELECT id, salary FROM people WHERE salary > 50000",
	 "SELECT e, v FROM datoms WHERE a = ':salary' AND v > 50000", 0},
	{"qpred2", "social", "SELECT id, salary FROM people WHERE salary > ?1",
	 "SELECT e, v FROM datoms WHERE a = ':salary' AND v > ?1", 50000},

	/* The OHLC queries of the benchmark issue. */
	{"ohlc1", "ohlc",
	 "SELECT DISTINCT p.open FROM symbols s JOIN prices p ON p.symbol_id = s.id"
	 " WHERE s.ticker = 'NVDA'",
	 "SELECT DISTINCT o.v FROM datoms s"
	 " JOIN datoms b ON b.a = ':price/symbol' AND b.v = s.e" EAV_BAR("t", ":price/time")
		 EAV_BAR("o", ":price/open") " WHERE s.a = ':symbol/ticker' AND s.v = 'NVDA'",
	 0},
	{"ohlc2", "ohlc",
	 "SELECT p.id, p.time_ms, p.high, p.low, p.close, p.volume"
	 " FROM symbols s JOIN prices p ON p.symbol_id = s.id WHERE s.ticker = 'NVDA'"
	 " AND CAST(strftime('%d', p.time_ms / 1000, 'unixepoch') AS INTEGER) = 5",
	 "SELECT b.e, t.v, h.v, l.v, c.v, vo.v FROM datoms s"
	 " JOIN datoms b ON b.a = ':price/symbol' AND b.v = s.e" EAV_BAR("t", ":price/time")
		 EAV_BAR("h", ":price/high") EAV_BAR("l", ":price/low") EAV_BAR("c", ":price/close")
			 EAV_BAR("vo", ":price/volume")
	 " WHERE s.a = ':symbol/ticker' AND s.v = 'NVDA'"
	 " AND CAST(strftime('%d', t.v / 1000, 'unixepoch') AS INTEGER) = 5",
	 0},
	{"ohlc4", "ohlc",
	 "SELECT s.ticker, date(p.time_ms / 1000, 'unixepoch') AS d, max(p.high), min(p.low),"
	 " sum(p.volume) FROM symbols s JOIN prices p ON p.symbol_id = s.id GROUP BY s.id, d",
	 "SELECT s.v, date(t.v / 1000, 'unixepoch') AS d, max(h.v), min(l.v), sum(vo.v)"
	 " FROM datoms s JOIN datoms b ON b.a = ':price/symbol' AND b.v = s.e"
		 EAV_BAR("t", ":price/time") EAV_BAR("h", ":price/high") EAV_BAR("l", ":price/low")
			 EAV_BAR("vo", ":price/volume") " WHERE s.a = ':symbol/ticker' GROUP BY s.e, d",
	 0},
	{"ohlc5", "ohlc",
	 "SELECT s.ticker, p.time_ms, p.close FROM symbols s JOIN prices p ON p.symbol_id = s.id"
	 " WHERE p.time_ms = (SELECT max(time_ms) FROM prices q WHERE q.symbol_id = s.id)",
	 "SELECT s.v, t.v, c.v FROM datoms s"
	 " JOIN datoms b ON b.a = ':price/symbol' AND b.v = s.e" EAV_BAR("t", ":price/time")
		 EAV_BAR("c", ":price/close") " WHERE s.a = ':symbol/ticker' AND t.v = ("
	 "SELECT max(t2.v) FROM datoms b2 JOIN datoms t2 ON t2.e = b2.e AND t2.a = ':price/time'"
	 " WHERE b2.a = ':price/symbol' AND b2.v = s.e)",
	 0},
};

#define N_QUERIES (sizeof k_queries / sizeof *k_queries)

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double peak_rss_mb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
}

static bool has_table(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st;
	bool found = false;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		found = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	return found;
}

/* One run: step every row; returns the row count or -1. */
static long run_once(sqlite3 *db, sqlite3_stmt *st, bool dump)
{
	long rows = 0;
	int rc;
	sqlite3_reset(st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rows++;
		if (!dump)
			continue;
		for (int i = 0; i < sqlite3_column_count(st); i++)
			fprintf(stderr, "%s%s", i ? " " : "",
				(const char *)sqlite3_column_text(st, i));
		fputc('\n', stderr);
	}
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "sqlite_bench: %s\n", sqlite3_errmsg(db));
		return -1;
	}
	return rows;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int usage(const char *msg)
{
	if (msg)
		fprintf(stderr, "sqlite_bench: %s\n", msg);
	fprintf(stderr, "usage: sqlite_bench [--runs N] [--dump] DB [QUERY ...]\nqueries:");
	for (size_t i = 0; i < N_QUERIES; i++)
		fprintf(stderr, " %s", k_queries[i].name);
	fputc('\n', stderr);
	return msg ? 2 : 0;
}

static const query *find_query(const char *name)
{
	for (size_t i = 0; i < N_QUERIES; i++)
		if (strcmp(k_queries[i].name, name) == 0)
			return &k_queries[i];
	return NULL;
}

int main(int argc, char **argv)
{
	int runs = 10;
	bool dump = false;
	const char *path = NULL;
	const query *todo[N_QUERIES * 4];
	size_t ntodo = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return usage(NULL);
		if (strcmp(a, "--runs") == 0) {
			char *end;
			runs = i + 1 < argc ? (int)strtol(argv[++i], &end, 10) : 0;
			if (runs < 1 || *end)
				return usage("--runs wants a positive number");
		} else if (strcmp(a, "--dump") == 0) {
			dump = true;
		} else if (a[0] == '-') {
			return usage("unknown option");
		} else if (!path) {
			path = a;
		} else {
			const query *q = find_query(a);
			if (!q)
				return usage("unknown query");
			if (ntodo == sizeof todo / sizeof *todo)
				return usage("too many queries");
			todo[ntodo++] = q;
		}
	}
	if (!path)
		return usage("which database?");

	sqlite3 *db;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "sqlite_bench: %s: %s\n", path, sqlite3_errmsg(db));
		return 1;
	}
	/* Room for the whole database in the page cache, as the in-memory
	 * peers have it in RAM. */
	sqlite3_exec(db, "PRAGMA cache_size = -1048576; PRAGMA temp_store = MEMORY", NULL, NULL,
		     NULL);
	bool eav = has_table(db, "datoms");
	const char *kind = NULL;
	if (eav) {
		/* Tell the kinds apart by an attribute. */
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(db, "SELECT a FROM datoms WHERE a IN (':price/time', ':salary')"
					   " LIMIT 1",
				       -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			kind = strcmp((const char *)sqlite3_column_text(st, 0), ":salary") ? "ohlc"
											 : "social";
		sqlite3_finalize(st);
	} else if (has_table(db, "prices")) {
		kind = "ohlc";
	} else if (has_table(db, "aliases")) {
		kind = "social";
	}
	if (ntodo == 0) {
		for (size_t i = 0; kind && i < N_QUERIES; i++)
			if (strcmp(k_queries[i].kind, kind) == 0)
				todo[ntodo++] = &k_queries[i];
	}
	fprintf(stderr, "sqlite_bench: %s: %s layout, %s data, SQLite %s\n", path,
		eav ? "eav" : "normalized", kind ? kind : "unknown", sqlite3_libversion());

	double *times = malloc(sizeof *times * (size_t)runs);
	int status = 0;
	for (size_t k = 0; k < ntodo && times; k++) {
		const query *q = todo[k];
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(db, eav ? q->eav : q->normalized, -1, &st, NULL) != SQLITE_OK) {
			fprintf(stderr, "sqlite_bench: %s: %s\n", q->name, sqlite3_errmsg(db));
			status = 1;
			continue;
		}
		if (q->bind)
			sqlite3_bind_int(st, 1, q->bind);
		long rows = run_once(db, st, false); /* warm-up */
		for (int r = 0; r < runs && rows >= 0; r++) {
			double t0 = now_ms();
			rows = run_once(db, st, false);
			times[r] = now_ms() - t0;
		}
		if (rows >= 0 && dump) {
			fprintf(stderr, "--- %s\n", q->name);
			run_once(db, st, true);
		}
		sqlite3_finalize(st);
		if (rows < 0) {
			status = 1;
			continue;
		}
		qsort(times, (size_t)runs, sizeof *times, cmp_double);
		double median = runs % 2 ? times[runs / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2;
		printf("%s %.3f %.3f %.3f %ld %.1f\n", q->name, median, times[0], times[runs - 1], rows,
		       peak_rss_mb());
		fflush(stdout);
	}
	free(times);
	sqlite3_close(db);
	return status;
}
