/*
 * SQLite peer for datalite's benchmarks: times prepared statements in one
 * process (the sqlite3 CLI's .timer is too coarse and adds its printing).
 *
 *   sqlite_bench [--runs N] [--warmup-ms MS] [--budget-ms MS] [--timeout MS]
 *                [--dump] DB [QUERY ...]
 *
 * DB comes from bench/peers/sqlite_load.sh; its layout (normalized or eav)
 * and kind (ohlc, social, follows, graph, genealogy) are detected from its
 * tables.  Each query runs to warm up (once, and again until --warmup-ms,
 * default 1000, have passed) and N more times (all rows stepped through),
 * and prints
 *
 *   name median_ms min_ms max_ms rows peak_rss_mb runs
 *
 * like datascript_bench.js: fewer runs than N (at least 3) when N would take
 * more than --budget-ms (default 120000).  --timeout interrupts a statement
 * after MS (then `name TIMEOUT - - - - 0`).  Without QUERY names it runs all
 * of the kind's.  --dump prints each query's rows to stderr.  The pull
 * queries run by name, on `datalite gen follows --people-attrs`'s CSVs
 * loaded as social (sqlite_load.sh social ...).
 *
 * In the EAV layout `v` has no type affinity and `e` is INTEGER, so a join
 * `x.v = y.e` would apply numeric affinity to x.v and forgo the AVET index
 * (a, v, e); the unary plus in `x.v = +y.e` drops y.e's affinity and lets
 * SQLite seek AVET, as an EAV store would (where that is the faster plan:
 * not in ohlc4, which reads every bar anyway).
 *
 * The SQL is equivalent to the Datalog of bench/README.md: set semantics
 * where the Datalog :find has them (DISTINCT in ohlc1, UNION in the
 * recursive CTEs that stand for rules), day and month of the UTC instant,
 * ties for the latest bar kept (ohlc5).  A recursive CTE has one way to say
 * "ancestors of x", so anc-right runs the same SQL as anc.
 */
#include "../bench_common.h"

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

#define REACH_N                                                                               \
	"WITH RECURSIVE reach(b) AS (SELECT e.to_id FROM nodes n JOIN edges e ON e.from_id = n.id" \
	" WHERE n.id = 1 UNION SELECT e.to_id FROM reach JOIN edges e ON e.from_id = reach.b)"
#define REACH_E                                                                               \
	"WITH RECURSIVE reach(b) AS (SELECT t.v FROM datoms n"                                    \
	" JOIN datoms f ON f.a = ':edge/from' AND f.v = +n.e"                                      \
	" JOIN datoms t ON t.e = f.e AND t.a = ':edge/to' WHERE n.a = ':node/id' AND n.v = 1"    \
	" UNION SELECT t.v FROM reach JOIN datoms f ON f.a = ':edge/from' AND f.v = +reach.b"     \
	" JOIN datoms t ON t.e = f.e AND t.a = ':edge/to')"
#define ANC_N                                                                                 \
	"WITH RECURSIVE anc(b) AS (SELECT p.parent_id FROM people x"                              \
	" JOIN parents p ON p.person_id = x.id WHERE x.id = ?1"                                   \
	" UNION SELECT p.parent_id FROM anc JOIN parents p ON p.person_id = anc.b)"               \
	" SELECT b FROM anc"
#define ANC_E                                                                                 \
	"WITH RECURSIVE anc(b) AS (SELECT p.v FROM datoms x"                                      \
	" JOIN datoms p ON p.e = x.e AND p.a = ':person/parent'"                                  \
	" WHERE x.a = ':person/id' AND x.v = ?1"                                                  \
	" UNION SELECT p.v FROM anc JOIN datoms p ON p.e = anc.b AND p.a = ':person/parent')"     \
	" SELECT b FROM anc"

/* The pull benchmarks: a recursive CTE collects the tree below the root
 * (UNION: a cycle would end, as a pull's recursion does on an entity it has
 * seen), then the attribute rows of its entities, one row per value: a
 * map entry of cardinality one, an item of :alias, a :follows child (the
 * nested map, whose own values are rows of the child).  That is the count
 * datalite and DataScript report.  Normalized, the people columns are
 * unpivoted with UNION ALL; :db/id and :id are both the id column. */
#define PULL_TREE_N                                                                           \
	"WITH RECURSIVE t(id) AS (SELECT id FROM people WHERE id = 1"                            \
	" UNION SELECT f.follows_id FROM t JOIN follows f ON f.person_id = t.id)"
#define PULL_COL_N(attr, col) " UNION ALL SELECT p.id, '" attr "', p." col " FROM t JOIN people p ON p.id = t.id"
#define PULL_N(cols)                                                                          \
	PULL_TREE_N " SELECT f.person_id, ':follows', f.follows_id FROM t"                         \
		    " JOIN follows f ON f.person_id = t.id" cols
#define PULL_ALIAS_N " UNION ALL SELECT a.person_id, ':alias', a.alias FROM t JOIN aliases a ON a.person_id = t.id"
#define PULL_ONE_N PULL_COL_N(":name", "name")
#define PULL_MANY_N                                                                           \
	PULL_COL_N(":db/id", "id") PULL_COL_N(":last-name", "last_name") PULL_ALIAS_N               \
		PULL_COL_N(":sex", "sex") PULL_COL_N(":age", "age") PULL_COL_N(":salary", "salary")
#define PULL_WILDCARD_N PULL_MANY_N PULL_COL_N(":id", "id") PULL_COL_N(":name", "name")
#define PULL_TREE_E                                                                           \
	"WITH RECURSIVE t(e) AS (SELECT e FROM datoms WHERE a = ':id' AND v = 1"                 \
	" UNION SELECT f.v FROM t JOIN datoms f ON f.e = t.e AND f.a = ':follows')"
/* the tree's datoms of the attributes named in `where` (all without) */
#define PULL_E(where) PULL_TREE_E " SELECT d.e, d.a, d.v FROM t JOIN datoms d ON d.e = t.e" where
#define PULL_E_DBID " UNION ALL SELECT e, ':db/id', e FROM t"

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
	 " JOIN datoms b ON b.a = ':price/symbol' AND b.v = +s.e" EAV_BAR("t", ":price/time")
		 EAV_BAR("o", ":price/open") " WHERE s.a = ':symbol/ticker' AND s.v = 'NVDA'",
	 0},
	{"ohlc2", "ohlc",
	 "SELECT p.id, p.time_ms, p.high, p.low, p.close, p.volume"
	 " FROM symbols s JOIN prices p ON p.symbol_id = s.id WHERE s.ticker = 'NVDA'"
	 " AND CAST(strftime('%d', p.time_ms / 1000, 'unixepoch') AS INTEGER) = 5",
	 "SELECT b.e, t.v, h.v, l.v, c.v, vo.v FROM datoms s"
	 " JOIN datoms b ON b.a = ':price/symbol' AND b.v = +s.e" EAV_BAR("t", ":price/time")
		 EAV_BAR("h", ":price/high") EAV_BAR("l", ":price/low") EAV_BAR("c", ":price/close")
			 EAV_BAR("vo", ":price/volume")
	 " WHERE s.a = ':symbol/ticker' AND s.v = 'NVDA'"
	 " AND CAST(strftime('%d', t.v / 1000, 'unixepoch') AS INTEGER) = 5",
	 0},
	/* ohlc3: hourly bars of NVDA from five-minute bars: anchors where
	 * (minute - 570) mod 60 = 0, the hour [m, min(m + 60, 960)), open =
	 * min open of [m, m + 5), close = max close of [m1 - 5, m1), as the
	 * Datalog's four correlated subqueries.  Minutes of one day map to
	 * times linearly, so the windows are time ranges on the bar's day. */
	{"ohlc3", "ohlc",
	 "WITH a AS (SELECT p.symbol_id AS s, p.time_ms AS t, p.minute_of_day AS m,"
	 "  min(p.minute_of_day + 60, 960) AS m1 FROM symbols y JOIN prices p ON p.symbol_id = y.id"
	 "  WHERE y.ticker = 'NVDA' AND (p.minute_of_day - 570) % 60 = 0)"
	 " SELECT a.t,"
	 "  (SELECT min(b.open) FROM prices b WHERE b.symbol_id = a.s AND b.time_ms >= a.t"
	 "   AND b.time_ms < a.t + 5 * 60000),"
	 "  max(w.high), min(w.low),"
	 "  (SELECT max(b.close) FROM prices b WHERE b.symbol_id = a.s"
	 "   AND b.time_ms >= a.t + (a.m1 - a.m - 5) * 60000 AND b.time_ms < a.t + (a.m1 - a.m) * 60000),"
	 "  sum(w.volume)"
	 " FROM a JOIN prices w ON w.symbol_id = a.s AND w.time_ms >= a.t"
	 "  AND w.time_ms < a.t + (a.m1 - a.m) * 60000 GROUP BY a.t",
	 "WITH a AS (SELECT b.e AS bar, b.v AS s, t.v AS t, m.v AS m, min(m.v + 60, 960) AS m1"
	 "  FROM datoms y JOIN datoms b ON b.a = ':price/symbol' AND b.v = +y.e"
	 "  JOIN datoms m ON m.e = b.e AND m.a = ':price/minute-of-day'"
	 "  JOIN datoms t ON t.e = b.e AND t.a = ':price/time'"
	 "  WHERE y.a = ':symbol/ticker' AND y.v = 'NVDA' AND (m.v - 570) % 60 = 0),"
	 " w AS (SELECT a.t AS t, bt.v AS bt, bt.e AS e FROM a"
	 "  JOIN datoms bs ON bs.a = ':price/symbol' AND bs.v = +a.s"
	 "  JOIN datoms bt ON bt.e = bs.e AND bt.a = ':price/time'"
	 "   AND bt.v >= a.t AND bt.v < a.t + (a.m1 - a.m) * 60000)"
	 " SELECT a.t,"
	 "  (SELECT min(o.v) FROM w JOIN datoms o ON o.e = w.e AND o.a = ':price/open'"
	 "   WHERE w.t = a.t AND w.bt < a.t + 5 * 60000),"
	 "  (SELECT max(h.v) FROM w JOIN datoms h ON h.e = w.e AND h.a = ':price/high' WHERE w.t = a.t),"
	 "  (SELECT min(l.v) FROM w JOIN datoms l ON l.e = w.e AND l.a = ':price/low' WHERE w.t = a.t),"
	 "  (SELECT max(c.v) FROM w JOIN datoms c ON c.e = w.e AND c.a = ':price/close'"
	 "   WHERE w.t = a.t AND w.bt >= a.t + (a.m1 - a.m - 5) * 60000),"
	 "  (SELECT sum(v.v) FROM w JOIN datoms v ON v.e = w.e AND v.a = ':price/volume' WHERE w.t = a.t)"
	 " FROM a",
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
	 /* the latest time per symbol first: as a correlated subquery SQLite
	  * would evaluate it once per bar */
	 "WITH m AS (SELECT b2.v AS s, max(t2.v) AS t FROM datoms b2"
	 " JOIN datoms t2 ON t2.e = b2.e AND t2.a = ':price/time' WHERE b2.a = ':price/symbol'"
	 " GROUP BY b2.v)"
	 " SELECT s.v, t.v, c.v FROM m JOIN datoms s ON s.e = m.s AND s.a = ':symbol/ticker'"
	 " JOIN datoms t ON t.a = ':price/time' AND t.v = m.t"
	 " JOIN datoms b ON b.e = t.e AND b.a = ':price/symbol' AND b.v = +m.s"
	 " JOIN datoms c ON c.e = b.e AND c.a = ':price/close'",
	 0},

	/* DataScript's rules benchmarks: (follows ?x ?y) <- [?x :follows ?y];
	 * <- [?x :follows ?t] (follows ?t ?y): every (ancestor, descendant). */
	{"rules", "follows",
	 "WITH RECURSIVE r(x, y) AS (SELECT person_id, follows_id FROM follows"
	 " UNION SELECT f.person_id, r.y FROM r JOIN follows f ON f.follows_id = r.x)"
	 " SELECT x, y FROM r",
	 "WITH RECURSIVE r(x, y) AS (SELECT e, v FROM datoms WHERE a = ':follows'"
	 " UNION SELECT f.e, r.y FROM r JOIN datoms f ON f.a = ':follows' AND f.v = +r.x)"
	 " SELECT x, y FROM r",
	 0},

	/* DataScript's pull benchmarks on its wide-db 4 5 (follows
	 * --people-attrs, loaded as social): the root [:id 1], its attributes,
	 * and recursively its :follows children's.  One row per value of
	 * the pulled map, as datalite and DataScript count them (see PULL_N). */
	{"pull-one", "pull", PULL_N(PULL_ONE_N), PULL_E(" WHERE d.a IN (':name', ':follows')"), 0},
	{"pull-many", "pull", PULL_N(PULL_MANY_N),
	 PULL_E(" WHERE d.a IN (':last-name', ':alias', ':sex', ':age', ':salary', ':follows')") PULL_E_DBID, 0},
	{"pull-wildcard", "pull", PULL_N(PULL_WILDCARD_N), PULL_E("") PULL_E_DBID, 0},

	/* Nodes reachable from node 1 (left-recursive reach in the Datalog). */
	{"reach", "graph", REACH_N " SELECT b FROM reach", REACH_E " SELECT b FROM reach", 0},
	{"reach-count", "graph", REACH_N " SELECT count(*) FROM reach",
	 REACH_E " SELECT count(*) FROM reach", 0},

	/* Ancestors of one person; the whole closure, counted. */
	{"anc", "genealogy", ANC_N, ANC_E, 250000},
	{"anc-right", "genealogy", ANC_N, ANC_E, 250000},
	{"anc-all", "genealogy",
	 "WITH RECURSIVE anc(a, b) AS (SELECT person_id, parent_id FROM parents"
	 " UNION SELECT anc.a, p.parent_id FROM anc JOIN parents p ON p.person_id = anc.b)"
	 " SELECT count(*) FROM anc",
	 "WITH RECURSIVE anc(a, b) AS (SELECT e, v FROM datoms WHERE a = ':person/parent'"
	 " UNION SELECT anc.a, p.v FROM anc JOIN datoms p ON p.a = ':person/parent' AND p.e = anc.b)"
	 " SELECT count(*) FROM anc",
	 0},
	{"anc-g20", "genealogy", ANC_N, ANC_E, 2050},
	{"anc-g20-right", "genealogy", ANC_N, ANC_E, 2050},
};

#define N_QUERIES (sizeof k_queries / sizeof *k_queries)

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

/* SQLite's internal bit for its Bloom-filter optimization (SQLITE_BloomFilter
 * in sqliteInt.h), for SQLITE_TESTCTRL_OPTIMIZATIONS, which takes a mask of
 * optimizations to turn off. */
#define SQLITE_OPT_BLOOM_FILTER 0x00080000

/* The deadline of the running statement (0: none), for the progress
 * handler. */
static double g_deadline;

static int past_deadline(void *unused)
{
	(void)unused;
	return g_deadline > 0 && bench_now_ms() > g_deadline;
}

/* One run: step every row; returns the row count, -1 on error, -2 when
 * interrupted by the deadline. */
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
	if (rc == SQLITE_INTERRUPT)
		return -2;
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "sqlite_bench: %s\n", sqlite3_errmsg(db));
		return -1;
	}
	return rows;
}

static int usage(const char *msg)
{
	if (msg)
		fprintf(stderr, "sqlite_bench: %s\n", msg);
	fprintf(stderr, "usage: sqlite_bench [--runs N] [--warmup-ms MS] [--budget-ms MS] [--timeout MS]\n"
			"                    [--dump] DB [QUERY ...]\nqueries:");
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
	double warmup_ms = 1000, budget_ms = 120000, timeout_ms = 0;
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
		} else if (strcmp(a, "--warmup-ms") == 0 || strcmp(a, "--budget-ms") == 0 ||
			   strcmp(a, "--timeout") == 0) {
			char *end;
			double v = i + 1 < argc ? strtod(argv[++i], &end) : -1;
			if (v < 0 || *end)
				return usage("--warmup-ms, --budget-ms and --timeout want a number");
			*(a[2] == 'w' ? &warmup_ms : a[2] == 'b' ? &budget_ms : &timeout_ms) = v;
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
		/* Tell the kinds apart by an attribute (the AVET index finds it). */
		static const char *const attrs[][2] = {
			{":price/time", "ohlc"},    {":salary", "social"},
			{":follows", "follows"},    {":edge/from", "graph"},
			{":person/parent", "genealogy"},
		};
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(db, "SELECT 1 FROM datoms WHERE a = ?1 LIMIT 1", -1, &st,
				       NULL) == SQLITE_OK) {
			for (size_t i = 0; !kind && i < sizeof attrs / sizeof *attrs; i++) {
				sqlite3_reset(st);
				sqlite3_bind_text(st, 1, attrs[i][0], -1, SQLITE_STATIC);
				if (sqlite3_step(st) == SQLITE_ROW)
					kind = attrs[i][1];
			}
		}
		sqlite3_finalize(st);
	} else if (has_table(db, "prices")) {
		kind = "ohlc";
	} else if (has_table(db, "aliases")) {
		kind = "social";
	} else if (has_table(db, "follows")) {
		kind = "follows";
	} else if (has_table(db, "edges")) {
		kind = "graph";
	} else if (has_table(db, "parents")) {
		kind = "genealogy";
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
		const char *sql = eav ? q->eav : q->normalized;
		/* SQLite 3.40 rebuilds a Bloom filter for every step of a
		 * recursive CTE (20x the time of the CTE itself on anc-g20 in
		 * the EAV layout): plan recursive queries without it, as a user
		 * who measured would. */
		sqlite3_test_control(SQLITE_TESTCTRL_OPTIMIZATIONS, db,
				     strstr(sql, "WITH RECURSIVE") ? SQLITE_OPT_BLOOM_FILTER : 0);
		sqlite3_stmt *st;
		int prc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
		sqlite3_test_control(SQLITE_TESTCTRL_OPTIMIZATIONS, db, 0);
		if (prc != SQLITE_OK) {
			fprintf(stderr, "sqlite_bench: %s: %s\n", q->name, sqlite3_errmsg(db));
			status = 1;
			continue;
		}
		if (q->bind)
			sqlite3_bind_int(st, 1, q->bind);
		if (timeout_ms > 0)
			sqlite3_progress_handler(db, 10000, past_deadline, NULL);
		/* Warm up: once, and again until --warmup-ms have passed. */
		double start = bench_now_ms(), warm;
		long rows;
		do {
			double t0 = bench_now_ms();
			g_deadline = timeout_ms > 0 ? t0 + timeout_ms : 0;
			rows = run_once(db, st, false);
			warm = bench_now_ms() - t0;
		} while (rows >= 0 && bench_now_ms() - start < warmup_ms);
		/* Fewer runs when N would blow the time budget (at least 3). */
		int n = bench_budget_runs(runs, warm, budget_ms);
		for (int r = 0; r < n && rows >= 0; r++) {
			double t0 = bench_now_ms();
			g_deadline = timeout_ms > 0 ? t0 + timeout_ms : 0;
			rows = run_once(db, st, false);
			times[r] = bench_now_ms() - t0;
		}
		g_deadline = 0;
		if (rows >= 0 && dump) {
			fprintf(stderr, "--- %s\n", q->name);
			run_once(db, st, true);
		}
		sqlite3_finalize(st);
		if (rows < 0) {
			printf("%s %s - - - - 0\n", q->name, rows == -2 ? "TIMEOUT" : "ERROR");
			fflush(stdout);
			if (rows == -1)
				status = 1;
			continue;
		}
		double median = bench_median(times, n);
		printf("%s %.3f %.3f %.3f %ld %.1f %d\n", q->name, median, times[0], times[n - 1], rows,
		       bench_peak_rss_mb(), n);
		fflush(stdout);
	}
	free(times);
	sqlite3_close(db);
	return status;
}
