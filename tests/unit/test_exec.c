/*
 * The executor's guarantees that answers alone do not show: which join
 * algorithm and index the planner picks, how many datoms a step reads,
 * adaptive re-planning, and the row, time and cancellation budgets.
 * (Answers are checked by the data-driven cases and the differential
 * harness against DataScript.)
 */
#include "testutil.h"

#include "query/exec.h"
#include "tx/tx.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_path[600];

static dl_store *open_fresh(const char *name)
{
	const char *tmp = getenv("DL_TEST_TMP");
	char dir[512];
	snprintf(dir, sizeof dir, "%s", tmp ? tmp : "/tmp");
	mkdir(dir, 0755);
	snprintf(g_path, sizeof g_path, "%s/exec_%d_%s.db", dir, (int)getpid(), name);
	char lock[640];
	snprintf(lock, sizeof lock, "%s-lock", g_path);
	unlink(g_path);
	unlink(lock);
	dl_store_opts o = DL_STORE_OPTS_INIT;
	o.sync = 0;
	o.map_size = (size_t)1 << 30;
	dl_store *s = NULL;
	if (dl_store_open(&s, g_path, &o))
		fail_msg("open: %s", dl_errmsg());
	return s;
}

static void close_rm(dl_store *s)
{
	dl_store_close(s);
	char lock[640];
	snprintf(lock, sizeof lock, "%s-lock", g_path);
	unlink(g_path);
	unlink(lock);
}

/* Transact text; its tx id. */
static int64_t tx(dl_store *s, const char *text)
{
	dl_arena a = DL_ARENA_INIT;
	dl_value v = tu_edn(&a, text);
	dl_tx_report r;
	dl_tx_opts o = DL_TX_OPTS_INIT;
	if (dl_tx_run(&r, &a, s, &v, &o))
		fail_msg("tx: %s", dl_errmsg());
	dl_arena_free(&a);
	return r.tx;
}

/* n entities with :n 0..n-1, in one transaction. */
static void load_ns(dl_store *s, int n)
{
	dl_buf b = DL_BUF_INIT;
	dl_buf_puts(&b, "[");
	for (int i = 0; i < n; i++)
		dl_buf_printf(&b, "{:n %d}", i);
	dl_buf_puts(&b, "]");
	tx(s, b.data);
	dl_buf_free(&b);
}

/* OHLC-like data: `nsym` symbols, `nbars` bars each, bars of all symbols
 * interleaved in time as a feed would deliver them. */
static void load_bars(dl_store *s, int nsym, int nbars)
{
	tx(s, "[{:db/ident :symbol/ticker :db/valueType :db.type/string :db/unique :db.unique/identity}"
	      " {:db/ident :price/symbol :db/valueType :db.type/ref}"
	      " {:db/ident :price/time :db/valueType :db.type/long}"
	      " {:db/ident :price/open :db/valueType :db.type/double}]");
	dl_buf b = DL_BUF_INIT;
	dl_buf_puts(&b, "[");
	for (int k = 0; k < nsym; k++)
		dl_buf_printf(&b, "{:symbol/ticker \"T%d\"}", k);
	dl_buf_puts(&b, "]");
	tx(s, b.data);
	for (int i = 0; i < nbars; i += 100) {
		b.len = 0;
		dl_buf_puts(&b, "[");
		for (int j = i; j < i + 100 && j < nbars; j++)
			for (int k = 0; k < nsym; k++)
				dl_buf_printf(&b,
					      "{:price/symbol [:symbol/ticker \"T%d\"] :price/time %lld"
					      " :price/open %d.5}",
					      k, 1700000000000LL + j * 60000LL, j % 1000);
		dl_buf_puts(&b, "]");
		tx(s, b.data);
	}
	dl_buf_free(&b);
}

typedef struct ran {
	dl_qresult res;
	char *explain;
} ran;

static int run_q(ran *out, dl_arena *a, dl_store *s, const char *qtext, const dl_value *in,
		 size_t nin, const dl_qopts *opts)
{
	dl_query *q;
	if (dl_query_parse(&q, a, qtext, strlen(qtext), "<test>"))
		fail_msg("parse: %s", dl_errmsg());
	dl_snap *snap;
	assert_int_equal(dl_snap_begin(&snap, s), 0);
	dl_qopts o = DL_QOPTS_INIT;
	if (opts)
		o = *opts;
	o.analyze = true;
	dl_buf ex = DL_BUF_INIT;
	int rc = dl_query_run(&out->res, a, snap, q, in, nin, &o, &ex);
	out->explain = ex.data ? dl_arena_strndup(a, ex.data, ex.len) : NULL;
	dl_buf_free(&ex);
	dl_snap_end(snap);
	return rc;
}

/* The EXPLAIN ANALYZE line of the step whose clause contains `clause`. */
static const char *step_line(const char *explain, const char *clause, char *buf, size_t cap)
{
	const char *p = strstr(explain, clause);
	assert_non_null(p);
	const char *b = p;
	while (b > explain && b[-1] != '\n')
		b--;
	size_t n = (size_t)(p - b);
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, b, n);
	buf[n] = 0;
	return buf;
}

/* columns: step strategy... index est.rows est.cost rows scanned ms */
static void step_figures(const char *line, char *strategy, unsigned long long *rows,
			 unsigned long long *scanned)
{
	char idx[16], s2[32];
	double est, cost, ms;
	unsigned step;
	/* a strategy may be two words ("scan range") */
	if (sscanf(line, "%u %31s %15s %lf %lf %llu %llu %lf", &step, strategy, idx, &est, &cost,
		   rows, scanned, &ms) == 8)
		return;
	assert_int_equal(sscanf(line, "%u %31s %31s %15s %lf %lf %llu %llu %lf", &step, strategy, s2,
				idx, &est, &cost, rows, scanned, &ms),
			 9);
}

/* The seed system's failure: a pattern joined to thousands of bound ?b.
 * The scan must grow with NVDA's bars, not with the database. */
static void test_large_binding_scans_only_its_bars(void **state)
{
	dl_store *s = open_fresh("bars");
	const int nsym = 20, nbars = tu_scale(2000) < 200 ? 200 : (int)tu_scale(2000);
	load_bars(s, nsym, nbars);
	dl_arena a = DL_ARENA_INIT;
	ran r;
	assert_int_equal(run_q(&r, &a, s,
			       "[:find ?b ?o :where [?s :symbol/ticker \"T7\"] [?b :price/symbol ?s]"
			       " [?b :price/time ?t] [?b :price/open ?o]]",
			       NULL, 0, NULL),
			 0);
	assert_int_equal(r.res.nrows, (size_t)nbars);
	char line[512], strat[32];
	unsigned long long rows, scanned;
	step_figures(step_line(r.explain, "[?b :price/time ?t]", line, sizeof line), strat, &rows,
		     &scanned);
	assert_true(!strcmp(strat, "merge") || !strcmp(strat, "index-nested-loop") ||
		    !strcmp(strat, "scan+hash-probe"));
	assert_int_equal(rows, (unsigned long long)nbars);
	/* this symbol's bars plus a little, never every bar of every symbol */
	if (scanned > (unsigned long long)nbars * 4)
		fail_msg("scanned %llu datoms for %d bars:\n%s", scanned, nbars, r.explain);
	assert_true(scanned < (unsigned long long)nbars * nsym / 4);
	dl_arena_free(&a);
	close_rm(s);
}

/* Grouping for aggregates (dl_rel_group_ids): rows in runs of one key,
 * shuffled, one group, thousands of groups (the table regrows); each
 * group's max and count against a count made here. */
static void test_group_ids_random(void **state)
{
	(void)state;
	tu_seed(tu_seed_from_env(31));
	dl_store *s = open_fresh("groups");
	static const int ks[] = {1, 3, 63, 64, 65, 300, 2500};
	for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) {
		for (int sorted = 0; sorted < 2; sorted++) {
			const int k = ks[t], n = 4000;
			int64_t *mx = calloc((size_t)k, sizeof *mx);
			int64_t *cnt = calloc((size_t)k, sizeof *cnt);
			dl_arena a = DL_ARENA_INIT;
			dl_value *tuples = dl_arena_alloc(&a, n * sizeof *tuples);
			dl_value *items = dl_arena_alloc(&a, 3 * (size_t)n * sizeof *items);
			for (int i = 0; i < n; i++) {
				int g = sorted ? (int)((int64_t)i * k / n) : (int)(tu_rand() % (uint64_t)k);
				int64_t x = (int64_t)(tu_rand() % 100000) - 50000;
				if (!cnt[g] || x > mx[g])
					mx[g] = x;
				cnt[g]++;
				items[3 * i] = dl_int(g);
				items[3 * i + 1] = dl_int(x);
				items[3 * i + 2] = dl_int(i);
				tuples[i] = (dl_value){.type = DL_VECTOR, .len = 3, .u.items = &items[3 * i]};
			}
			dl_value in = {.type = DL_VECTOR, .len = (uint32_t)n, .u.items = tuples};
			ran r;
			assert_int_equal(run_q(&r, &a, s,
					       "[:find ?g (max ?x) (count ?x) :with ?i :in [[?g ?x ?i]]"
					       " :where [(some? ?g)]]",
					       &in, 1, NULL),
					 0);
			size_t groups = 0;
			for (int g = 0; g < k; g++)
				groups += cnt[g] > 0;
			assert_int_equal(r.res.nrows, groups);
			for (size_t i = 0; i < r.res.nrows; i++) {
				const dl_value *row = &r.res.rows[i * r.res.ncols];
				int64_t g = row[0].u.i;
				assert_true(g >= 0 && g < k);
				assert_int_equal(row[1].u.i, mx[g]);
				assert_int_equal(row[2].u.i, cnt[g]);
			}
			free(mx);
			free(cnt);
			dl_arena_free(&a);
		}
	}
	close_rm(s);
}

/* Band joins: [(= ?d ?day)] then bounds on ?m by ?lo and ?hi, written
 * every way (strict or not, either argument order), over overlapping and
 * nested windows, some ints some doubles (no band then), against a count
 * made here.  The filters must run in the equi-join (EXPLAIN ANALYZE). */
static void test_band_join_random(void **state)
{
	(void)state;
	tu_seed(tu_seed_from_env(37));
	dl_store *s = open_fresh("band");
	static const char *const lower[] = {"[(>= ?m ?lo)]", "[(<= ?lo ?m)]", "[(> ?m ?lo)]",
					    "[(< ?lo ?m)]"};
	static const char *const upper[] = {"[(< ?m ?hi)]", "[(> ?hi ?m)]", "[(<= ?m ?hi)]",
					    "[(>= ?hi ?m)]"};
	for (int round = 0; round < tu_scale(24); round++) {
		const int nb = 300 + (int)(tu_rand() % 300), nw = 20 + (int)(tu_rand() % 40);
		const int li = round % 4, ui = (round / 4) % 4;
		const bool lo_incl = li < 2, hi_incl = ui >= 2, doubles = round % 6 == 5;
		dl_arena a = DL_ARENA_INIT;
		dl_value *bt = dl_arena_alloc(&a, (size_t)nb * sizeof *bt);
		dl_value *bi = dl_arena_alloc(&a, 3 * (size_t)nb * sizeof *bi);
		dl_value *wt = dl_arena_alloc(&a, (size_t)nw * sizeof *wt);
		dl_value *wi = dl_arena_alloc(&a, 3 * (size_t)nw * sizeof *wi);
		int64_t *bd = malloc((size_t)nb * sizeof *bd), *bm = malloc((size_t)nb * sizeof *bm);
		int64_t *wd = malloc((size_t)nw * sizeof *wd), *wl = malloc((size_t)nw * sizeof *wl);
		int64_t *wh = malloc((size_t)nw * sizeof *wh);
		for (int i = 0; i < nb; i++) {
			bd[i] = (int64_t)(tu_rand() % 4);
			bm[i] = (int64_t)(tu_rand() % 100);
			bi[3 * i] = dl_int(bd[i]);
			bi[3 * i + 1] = dl_int(bm[i]);
			bi[3 * i + 2] = dl_int(i);
			bt[i] = (dl_value){.type = DL_VECTOR, .len = 3, .u.items = &bi[3 * i]};
		}
		for (int w = 0; w < nw; w++) {
			wd[w] = (int64_t)(tu_rand() % 5);
			wl[w] = (int64_t)(tu_rand() % 100);
			wh[w] = wl[w] + (int64_t)(tu_rand() % 40) - 5; /* some empty */
			wi[3 * w] = dl_int(wd[w]);
			wi[3 * w + 1] = doubles && w % 3 == 0 ? dl_double((double)wl[w]) : dl_int(wl[w]);
			wi[3 * w + 2] = dl_int(wh[w]);
			wt[w] = (dl_value){.type = DL_VECTOR, .len = 3, .u.items = &wi[3 * w]};
		}
		dl_value in[2] = {{.type = DL_VECTOR, .len = (uint32_t)nb, .u.items = bt},
				  {.type = DL_VECTOR, .len = (uint32_t)nw, .u.items = wt}};
		char q[512];
		snprintf(q, sizeof q,
			 "[:find ?i ?lo ?hi :in [[?d ?m ?i]] [[?day ?lo ?hi]]"
			 " :where [(= ?d ?day)] %s %s]",
			 lower[li], upper[ui]);
		ran r;
		assert_int_equal(run_q(&r, &a, s, q, in, 2, NULL), 0);
		size_t want = 0;
		/* distinct (i, lo, hi): windows may repeat */
		for (int i = 0; i < nb; i++)
			for (int w = 0; w < nw; w++) {
				bool dup = false;
				for (int v = 0; v < w && !dup; v++)
					dup = wd[v] == wd[w] && wl[v] == wl[w] && wh[v] == wh[w];
				if (dup || bd[i] != wd[w])
					continue;
				bool lok = lo_incl ? wl[w] <= bm[i] : wl[w] < bm[i];
				bool hok = hi_incl ? bm[i] <= wh[w] : bm[i] < wh[w];
				want += lok && hok;
			}
		if (r.res.nrows != want)
			fail_msg("%s: %zu rows, want %zu\n%s", q, r.res.nrows, want, r.explain);
		for (size_t k = 0; k < r.res.nrows; k++) {
			const dl_value *row = &r.res.rows[k * r.res.ncols];
			int64_t i = row[0].u.i, hi = row[2].u.i;
			double lo = row[1].type == DL_DOUBLE ? row[1].u.d : (double)row[1].u.i;
			assert_true(lo_incl ? lo <= (double)bm[i] : lo < (double)bm[i]);
			assert_true(hi_incl ? bm[i] <= hi : bm[i] < hi);
		}
		assert_non_null(strstr(r.explain, "(in the step before)"));
		free(bd);
		free(bm);
		free(wd);
		free(wl);
		free(wh);
		dl_arena_free(&a);
	}
	close_rm(s);
}

/* A merge whose bound rows are out of entity order (bars grouped by symbol,
 * ids interleaved) sorts its keys (by radix for more than 256) and still
 * joins every row to its own datoms. */
static void test_merge_sorts_unordered_keys(void **state)
{
	dl_store *s = open_fresh("radix");
	const int nsym = 5, nbars = 400;
	load_bars(s, nsym, nbars);
	dl_arena a = DL_ARENA_INIT;
	ran r;
	assert_int_equal(run_q(&r, &a, s,
			       "[:find ?b ?t ?o :where [?s :symbol/ticker _] [?b :price/symbol ?s]"
			       " [?b :price/time ?t] [?b :price/open ?o]]",
			       NULL, 0, NULL),
			 0);
	assert_int_equal(r.res.nrows, (size_t)(nsym * nbars));
	char line[512], strat[32];
	unsigned long long rows, scanned;
	step_figures(step_line(r.explain, "[?b :price/time ?t]", line, sizeof line), strat, &rows,
		     &scanned);
	if (strcmp(strat, "merge") != 0)
		fail_msg("expected a merge:\n%s", r.explain);
	/* each bar's open is (minute index % 1000) + 0.5, its time the minute */
	for (size_t i = 0; i < r.res.nrows; i++) {
		const dl_value *row = &r.res.rows[i * 3];
		long long j = (row[1].u.i - 1700000000000LL) / 60000;
		assert_true(row[2].type == DL_DOUBLE);
		if (row[2].u.d != (double)(j % 1000) + 0.5)
			fail_msg("bar %lld: open %g, time says minute %lld", (long long)row[0].u.i,
				 row[2].u.d, j);
	}
	dl_arena_free(&a);
	close_rm(s);
	(void)state;
}

/* The memory budget counts what relations hold now, not everything they
 * ever held: a query whose steps each build and drop a relation fits a
 * budget a little above its largest step, and a budget below that stops
 * it. */
static void test_memory_budget_counts_live_rows(void **state)
{
	dl_store *s = open_fresh("budget");
	load_bars(s, 5, 400);
	const char *q = "[:find ?b ?t ?o :where [?s :symbol/ticker _] [?b :price/symbol ?s]"
			" [?b :price/time ?t] [?b :price/open ?o]]";
	/* 2,000 rows of at most 4 columns of 24 bytes: about 200 KB a
	 * relation (capacity 2,048 rows); the steps together allocate several
	 * times that */
	dl_qopts o = DL_QOPTS_INIT;
	o.max_bytes = 700 * 1024;
	dl_arena a = DL_ARENA_INIT;
	ran r;
	int rc = run_q(&r, &a, s, q, NULL, 0, &o);
	if (rc)
		fail_msg("a 700 KB budget stopped a query holding ~400 KB at a time: %s", dl_errmsg());
	assert_int_equal(r.res.nrows, 2000);
	dl_arena_free(&a);
	o.max_bytes = 64 * 1024;
	rc = run_q(&r, &a, s, q, NULL, 0, &o);
	assert_int_equal(rc, DL_ELIMIT);
	assert_non_null(strstr(dl_errmsg(), "memory budget"));
	dl_arena_free(&a);
	close_rm(s);
	(void)state;
}

/* A large scan split between worker threads by entity ranges gives the
 * rows a single thread gives, in the same (entity) order, with pipelined
 * functions whose values live in the workers' arenas. */
static void test_parallel_scan(void **state)
{
	dl_store *s = open_fresh("pscan");
	load_bars(s, 7, 300);
	const char *q = "[:find ?b ?o ?x :where [?b :price/open ?o] [(!= ?o 7.5)] [(str ?o \"!\") ?x]]";
	dl_arena a1 = DL_ARENA_INIT, a2 = DL_ARENA_INIT;
	dl_qopts one = DL_QOPTS_INIT, two = DL_QOPTS_INIT;
	one.threads = 1;
	two.threads = 2;
	two.par_scan_min = 100;
	ran r1, r2;
	assert_int_equal(run_q(&r1, &a1, s, q, NULL, 0, &one), 0);
	assert_int_equal(run_q(&r2, &a2, s, q, NULL, 0, &two), 0);
	char line[512], strat[32], s2[32];
	const char *l = step_line(r2.explain, "[?b :price/open ?o]", line, sizeof line);
	if (sscanf(l, "%*u %31s %31s", strat, s2) != 2 || strcmp(strat, "scan") || strcmp(s2, "parallel"))
		fail_msg("expected a parallel scan:\n%s", r2.explain);
	l = step_line(r1.explain, "[?b :price/open ?o]", line, sizeof line);
	assert_null(strstr(l, "parallel"));
	assert_int_equal(r1.res.nrows, r2.res.nrows);
	assert_true(r1.res.nrows > 1000);
	for (size_t i = 0; i < r1.res.nrows * 3; i++)
		if (dl_value_compare(&r1.res.rows[i], &r2.res.rows[i]) != 0)
			fail_msg("row %zu differs", i / 3);
	dl_arena_free(&a1);
	dl_arena_free(&a2);
	close_rm(s);
	(void)state;
}

/* [?e :salary ?s] [(> ?s 50000)] reads an AVET range, not the attribute. */
/* A merge whose bound rows repeat each entity many times, out of order
 * (the later bar of every pair of bars of a symbol): the radix sort keeps
 * equal keys together and every row meets its own datoms. */
static void test_merge_radix_repeated_keys(void **state)
{
	dl_store *s = open_fresh("radixdup");
	const int nsym = 6, nbars = 60;
	load_bars(s, nsym, nbars);
	dl_arena a = DL_ARENA_INIT;
	ran r;
	assert_int_equal(run_q(&r, &a, s,
			       "[:find ?b ?c ?t ?o :where [?s :symbol/ticker _] [?b :price/symbol ?s]"
			       " [?c :price/symbol ?s] [(max ?b ?c) ?m] [?m :price/time ?t]"
			       " [?m :price/open ?o]]",
			       NULL, 0, NULL),
			 0);
	assert_int_equal(r.res.nrows, (size_t)(nsym * nbars * nbars));
	char line[512], strat[32];
	unsigned long long rows, scanned;
	step_figures(step_line(r.explain, "[?m :price/time ?t]", line, sizeof line), strat, &rows,
		     &scanned);
	if (strcmp(strat, "merge") != 0)
		fail_msg("expected a merge:\n%s", r.explain);
	if (rows != (unsigned long long)(nsym * nbars * nbars))
		fail_msg("expected the merge after the pairs:\n%s", r.explain);
	for (size_t i = 0; i < r.res.nrows; i++) {
		const dl_value *row = &r.res.rows[i * 4];
		long long j = (row[2].u.i - 1700000000000LL) / 60000;
		if (row[3].type != DL_DOUBLE || row[3].u.d != (double)(j % 1000) + 0.5)
			fail_msg("bars %lld %lld: open %g, time says minute %lld",
				 (long long)row[0].u.i, (long long)row[1].u.i, row[3].u.d, j);
	}
	dl_arena_free(&a);
	close_rm(s);
	(void)state;
}

static void test_comparison_reads_avet_range(void **state)
{
	dl_store *s = open_fresh("salary");
	tx(s, "[{:db/ident :salary :db/valueType :db.type/long}]");
	dl_buf b = DL_BUF_INIT;
	dl_buf_puts(&b, "[");
	for (int i = 0; i < 1000; i++)
		dl_buf_printf(&b, "{:salary %d}", i * 100);
	dl_buf_puts(&b, "]");
	tx(s, b.data);
	dl_buf_free(&b);
	dl_arena a = DL_ARENA_INIT;
	ran r;
	assert_int_equal(run_q(&r, &a, s, "[:find ?e ?s :where [?e :salary ?s] [(> ?s 90000)]]",
			       NULL, 0, NULL),
			 0);
	assert_int_equal(r.res.nrows, 99);
	char line[512], strat[32];
	unsigned long long rows, scanned;
	step_line(r.explain, "[?e :salary ?s]", line, sizeof line);
	assert_non_null(strstr(line, "range"));
	assert_non_null(strstr(line, "AVET"));
	step_figures(line, strat, &rows, &scanned);
	assert_true(scanned <= 101);
	/* the same with the bound given as an input */
	dl_value in = dl_int(90000);
	assert_int_equal(run_q(&r, &a, s, "[:find ?e ?s :in $ ?min :where [?e :salary ?s] [(< ?min ?s)]]",
			       &in, 1, NULL),
			 0);
	assert_int_equal(r.res.nrows, 99);
	assert_non_null(strstr(step_line(r.explain, "[?e :salary ?s]", line, sizeof line), "range"));
	dl_arena_free(&a);
	close_rm(s);
}

/* A big product hits the row budget with a clear error. */
static void test_row_budget(void **state)
{
	dl_store *s = open_fresh("budget");
	load_ns(s, 300);
	dl_arena a = DL_ARENA_INIT;
	ran r;
	dl_qopts o = DL_QOPTS_INIT;
	o.max_rows = 10000;
	int rc = run_q(&r, &a, s, "[:find ?a ?b :where [?x :n ?a] [?y :n ?b]]", NULL, 0, &o);
	assert_int_equal(rc, DL_ELIMIT);
	assert_non_null(strstr(dl_errmsg(), "row budget"));
	/* without the budget the product is Datomic's answer */
	assert_int_equal(run_q(&r, &a, s, "[:find ?a ?b :where [?x :n ?a] [?y :n ?b]]", NULL, 0, NULL),
			 0);
	assert_int_equal(r.res.nrows, 300 * 300);
	dl_arena_free(&a);
	close_rm(s);
}

typedef struct canceller {
	atomic_bool *flag;
} canceller;

static void *cancel_soon(void *p)
{
	canceller *c = p;
	usleep(20000);
	atomic_store(c->flag, true);
	return NULL;
}

/* A long query ends with DL_ETIMEOUT, or DL_ECANCELED from another thread. */
static void test_timeout_and_cancel(void **state)
{
	dl_store *s = open_fresh("cancel");
	load_ns(s, 2000);
	const char *slow = "[:find (count ?c) . :where [?x :n ?a] [?y :n ?b] [(+ ?a ?b) ?c]]";
	dl_arena a = DL_ARENA_INIT;
	ran r;
	dl_qopts o = DL_QOPTS_INIT;
	o.timeout_ms = 10;
	assert_int_equal(run_q(&r, &a, s, slow, NULL, 0, &o), DL_ETIMEOUT);
	assert_non_null(strstr(dl_errmsg(), "timed out"));
	atomic_bool flag = false;
	canceller c = {&flag};
	o = (dl_qopts)DL_QOPTS_INIT;
	o.cancel = &flag;
	pthread_t t;
	pthread_create(&t, NULL, cancel_soon, &c);
	assert_int_equal(run_q(&r, &a, s, slow, NULL, 0, &o), DL_ECANCELED);
	pthread_join(t, NULL);
	dl_arena_free(&a);
	close_rm(s);
}

/* An estimate far from the truth makes the executor plan the rest again. */
static void test_adaptive_replanning(void **state)
{
	dl_store *s = open_fresh("adapt");
	/* :tag has 2 distinct values but one of them covers almost everything,
	 * so the uniform estimate for "common" is half of the actual rows */
	dl_buf b = DL_BUF_INIT;
	dl_buf_puts(&b, "[");
	for (int i = 0; i < 3000; i++)
		dl_buf_printf(&b, "{:tag \"%s\" :k %d :j %d}", i < 2990 ? "common" : "rare", i, i % 7);
	dl_buf_puts(&b, "]");
	tx(s, b.data);
	dl_buf_free(&b);
	dl_arena a = DL_ARENA_INIT;
	ran r;
	/* a function's output size cannot be estimated: one row is assumed,
	 * 2000 arrive, and the steps after it are planned again */
	dl_buf g = DL_BUF_INIT;
	dl_buf_puts(&g, "[:find ?k ?j :where [(ground [");
	for (int i = 0; i < 2000; i++)
		dl_buf_printf(&g, " %d", i);
	dl_buf_puts(&g, "]) [?k ...]] [?e :tag \"common\"] [?e :k ?k] [?e :j ?j]]");
	assert_int_equal(run_q(&r, &a, s, g.data, NULL, 0, NULL), 0);
	dl_buf_free(&g);
	assert_int_equal(r.res.nrows, 2000);
	assert_non_null(strstr(r.explain, "re-planned"));
	dl_arena_free(&a);
	close_rm(s);
}
/* Correlated subqueries split between worker threads give the same answer
 * as one thread (run under TSan by `make test-tsan`), and as one batched
 * run over all input tuples. */
static void test_parallel_subqueries(void **state)
{
	dl_store *s = open_fresh("par");
	load_bars(s, 8, 300);
	dl_arena a = DL_ARENA_INIT;
	const char *q = "[:find ?tk ?n ?hi :where [?s :symbol/ticker ?tk] [?b :price/symbol ?s]"
			" [?b :price/time ?t] [(quot ?t 3600000) ?h]"
			" [(q [:find (count ?x) (max ?o) :in $ ?s ?h :where [?x :price/symbol ?s]"
			" [?x :price/time ?u] [(quot ?u 3600000) ?h2] [(= ?h2 ?h)] [?x :price/open ?o]]"
			" $ ?s ?h) [[?n ?hi]]]]";
	ran r1, r2, r3;
	dl_qopts o = DL_QOPTS_INIT;
	o.subq = DL_SUBQ_PER_CALL;
	o.threads = 1;
	assert_int_equal(run_q(&r1, &a, s, q, NULL, 0, &o), 0);
	o.threads = 4;
	assert_int_equal(run_q(&r2, &a, s, q, NULL, 0, &o), 0);
	assert_non_null(strstr(r2.explain, "subquery parallel"));
	assert_null(strstr(r1.explain, "subquery parallel"));
	/* left to choose, the many input tuples run as one batch */
	o.subq = DL_SUBQ_AUTO;
	assert_int_equal(run_q(&r3, &a, s, q, NULL, 0, &o), 0);
	assert_non_null(strstr(r3.explain, "subquery batched"));
	assert_int_equal(r1.res.nrows, r2.res.nrows);
	assert_int_equal(r1.res.nrows, r3.res.nrows);
	assert_true(r1.res.nrows >= 8 * 5);
	for (size_t i = 0; i < r1.res.nrows * r1.res.ncols; i++) {
		assert_true(dl_value_equal(&r1.res.rows[i], &r2.res.rows[i]));
		assert_true(dl_value_equal(&r1.res.rows[i], &r3.res.rows[i]));
	}
	/* independent batched subqueries run side by side on the pool */
	const char *q2 = "[:find ?tk ?h ?n ?lo :where [?s :symbol/ticker ?tk] [?b :price/symbol ?s]"
			 " [?b :price/time ?t] [(quot ?t 3600000) ?h]"
			 " [(q [:find (count ?x) . :in $ ?s ?h :where [?x :price/symbol ?s]"
			 " [?x :price/time ?u] [(quot ?u 3600000) ?h2] [(= ?h2 ?h)]] $ ?s ?h) ?n]"
			 " [(q [:find (min ?o) . :in $ ?s ?h :where [?x :price/symbol ?s]"
			 " [?x :price/time ?u] [(quot ?u 3600000) ?h2] [(= ?h2 ?h)] [?x :price/open ?o]]"
			 " $ ?s ?h) ?lo]]";
	ran g1, g2;
	o.threads = 1;
	assert_int_equal(run_q(&g1, &a, s, q2, NULL, 0, &o), 0);
	assert_null(strstr(g1.explain, "side by side"));
	o.threads = 4;
	assert_int_equal(run_q(&g2, &a, s, q2, NULL, 0, &o), 0);
	assert_non_null(strstr(g2.explain, "side by side"));
	assert_int_equal(g1.res.nrows, r1.res.nrows);
	assert_int_equal(g1.res.nrows, g2.res.nrows);
	dl_qresult_sort(&g1.res);
	dl_qresult_sort(&g2.res);
	for (size_t i = 0; i < g1.res.nrows * g1.res.ncols; i++)
		assert_true(dl_value_equal(&g1.res.rows[i], &g2.res.rows[i]));
	dl_arena_free(&a);
	close_rm(s);
}

/* A batched subquery keeps the query's budgets: deadline, cancellation
 * and row budget end it with their errors. */
static void test_batched_subquery_budgets(void **state)
{
	dl_store *s = open_fresh("subqbudget");
	load_ns(s, 2000);
	const char *slow = "[:find ?k ?r :where [(ground [1 2 3 4 5 6 7 8 9 10]) [?k ...]]"
			   " [(q [:find (count ?c) . :in $ ?k :where [?x :n ?a] [?y :n ?b]"
			   " [(+ ?a ?b ?k) ?c]] $ ?k) ?r]]";
	dl_arena a = DL_ARENA_INIT;
	ran r;
	dl_qopts o = DL_QOPTS_INIT;
	o.subq = DL_SUBQ_BATCHED;
	o.timeout_ms = 10;
	assert_int_equal(run_q(&r, &a, s, slow, NULL, 0, &o), DL_ETIMEOUT);
	o.timeout_ms = 0;
	o.max_rows = 1000;
	assert_int_equal(run_q(&r, &a, s, slow, NULL, 0, &o), DL_ELIMIT);
	assert_non_null(strstr(dl_errmsg(), "row budget"));
	o.max_rows = 0;
	atomic_bool flag = false;
	canceller c = {&flag};
	o.cancel = &flag;
	pthread_t t;
	pthread_create(&t, NULL, cancel_soon, &c);
	assert_int_equal(run_q(&r, &a, s, slow, NULL, 0, &o), DL_ECANCELED);
	pthread_join(t, NULL);
	dl_arena_free(&a);
	close_rm(s);
}

/* ---- right-linear rules ------------------------------------------------------ */

/* Random graphs: n nodes (:id 0..n-1) with :to and :via edges (cycles
 * allowed), a :g group 0-2 and :tag strings. */
static void load_graph(dl_store *s, int n, int nto, int nvia)
{
	tx(s, "[{:db/ident :id :db/valueType :db.type/long :db/unique :db.unique/identity}"
	      " {:db/ident :to :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}"
	      " {:db/ident :via :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}"
	      " {:db/ident :tag :db/valueType :db.type/string :db/cardinality :db.cardinality/many}"
	      " {:db/ident :g :db/valueType :db.type/long}]");
	dl_buf b = DL_BUF_INIT;
	dl_buf_puts(&b, "[");
	for (int i = 0; i < n; i++) {
		dl_buf_printf(&b, "{:db/id \"n%d\" :id %d :g %d", i, i, (int)(tu_rand() % 3));
		if (tu_rand() % 4 == 0)
			dl_buf_printf(&b, " :tag \"t%d\"", (int)(tu_rand() % 5));
		dl_buf_puts(&b, "}");
	}
	for (int i = 0; i < nto + nvia; i++)
		dl_buf_printf(&b, " [:db/add \"n%d\" %s \"n%d\"]", (int)(tu_rand() % (uint64_t)n),
			      i < nto ? ":to" : ":via", (int)(tu_rand() % (uint64_t)n));
	dl_buf_puts(&b, "]");
	tx(s, b.data);
	dl_buf_free(&b);
}

static bool rows_equal(const dl_qresult *x, const dl_qresult *y)
{
	if (x->nrows != y->nrows || x->ncols != y->ncols)
		return false;
	for (size_t i = 0; i < x->nrows * x->ncols; i++)
		if (!dl_value_equal(&x->rows[i], &y->rows[i]))
			return false;
	return true;
}

/* Right-linear rule tables run as closures give exactly the general
 * evaluation's answers, on random graphs, for shapes where the closure
 * applies (several exits and recursive bodies, extra bound arguments,
 * constants, lower rules in the bodies, many demanded nodes) and for
 * look-alikes where it must not (a free argument filtered, swapped or
 * replaced; mutual recursion; the call under an or). */
static void test_right_linear_matches_general(void **state)
{
	static const struct {
		int closure; /* EXPLAIN ANALYZE shows the closure (1) or not (0); -1: not visible */
		const char *rules, *query;
	} shapes[] = {
		{1, "[[(r ?a ?b) [?a :to ?b]] [(r ?a ?b) [?a :to ?x] (r ?x ?b)]]",
		 "[:find ?b :in $ % [?s ...] :where [?a :id ?s] (r ?a ?b)]"},
		{1, "[[(r ?a ?b) [?a :to ?b]] [(r ?a ?b) [?a :tag ?b]]"
		       " [(r ?a ?b) [?a :to ?x] (r ?x ?b)] [(r ?a ?b) [?a :via ?x] [?x :g 1] (r ?x ?b)]]",
		 "[:find ?s ?b :in $ % [?s ...] :where [?a :id ?s] (r ?a ?b)]"},
		{1, "[[(r ?g ?a ?b) [?a :to ?b] [?a :g ?g]] [(r ?g ?a ?b) [?a :via ?x] (r ?g ?x ?b)]"
		       " [(r ?g ?a ?b) [?a :to ?x] [?x :g ?g] (r 1 ?x ?b)]]",
		 "[:find ?g ?b :in $ % [?s ...] :where [?a :id ?s] [(ground [0 1 2]) [?g ...]] (r ?g ?a ?b)]"},
		{1, "[[(r ?a ?b ?c) [?a :to ?b] [?b :g ?c]] [(r ?a ?b ?c) [?a :via ?x] (r ?x ?b ?c)]"
		       " [(r ?a ?b ?c) [?a :to ?x] (r ?x ?b ?c)]]",
		 "[:find ?b ?c :in $ % [?s ...] :where [?a :id ?s] (r ?a ?b ?c)]"},
		{1, "[[(e ?a ?b) [?a :to ?b]] [(e ?a ?b) [?a :via ?b]]"
		       " [(r ?a ?b) (e ?a ?b) [?b :g 2]] [(r ?a ?b) (e ?a ?x) (not [?x :g 0]) (r ?x ?b)]]",
		 "[:find ?s ?b :in $ % [?s ...] :where [?a :id ?s] (r ?a ?b)]"},
		{-1, "[[(r ?a ?b) [?a :to ?b]] [(r ?a ?b) [?a :via ?x] (r ?x ?b)]]",
		 "[:find ?s ?n :in $ % [?s ...] :where [?a :id ?s] (not-join [?a] (r ?a ?b) [?b :g 0])"
		 " [?a :g ?n]]"},
		{0, "[[(r ?a ?b) [?a :to ?b]] [(r ?a ?b) [?a :to ?x] (r ?x ?b) [(< ?x ?b)]]]",
		 "[:find ?s ?b :in $ % [?s ...] :where [?a :id ?s] (r ?a ?b)]"},
		{0, "[[(r ?a ?b ?c) [?a :to ?b] [?a :via ?c]] [(r ?a ?b ?c) [?a :to ?x] (r ?x ?c ?b)]]",
		 "[:find ?b ?c :in $ % [?s ...] :where [?a :id ?s] (r ?a ?b ?c)]"},
		{0, "[[(r ?a ?b) [?a :to ?b]] [(r ?a ?b) [?a :to ?x] (r ?x ?y) [?y :via ?b]]]",
		 "[:find ?b :in $ % [?s ...] :where [?a :id ?s] (r ?a ?b)]"},
		{0, "[[(odd ?a ?b) [?a :to ?b]] [(odd ?a ?b) [?a :to ?x] (even ?x ?b)]"
			" [(even ?a ?b) [?a :via ?x] (odd ?x ?b)]]",
		 "[:find ?b :in $ % [?s ...] :where [?a :id ?s] (even ?a ?b)]"},
		{0, "[[(r ?a ?b) [?a :to ?b]] [(r ?a ?b) [?a :to ?x] (or (r ?x ?b) [?x :via ?b])]]",
		 "[:find ?b :in $ % [?s ...] :where [?a :id ?s] (r ?a ?b)]"},
	};
	tu_seed(tu_seed_from_env(7));
	const int graphs = (int)tu_scale(12);
	for (int gi = 0; gi < graphs; gi++) {
		dl_store *s = open_fresh("rlin");
		int n = 8 + (int)(tu_rand() % 30);
		load_graph(s, n, n + (int)(tu_rand() % (uint64_t)(2 * n)), (int)(tu_rand() % (uint64_t)n));
		for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
			dl_arena a = DL_ARENA_INIT;
			char starts[256];
			size_t len = (size_t)snprintf(starts, sizeof starts, "[");
			for (int j = 0, m = 1 + (int)(tu_rand() % 4); j < m; j++)
				len += (size_t)snprintf(starts + len, sizeof starts - len, " %d",
							(int)(tu_rand() % (uint64_t)n));
			snprintf(starts + len, sizeof starts - len, "]");
			dl_value in[2] = {tu_edn(&a, shapes[k].rules), tu_edn(&a, starts)};
			ran x, y;
			dl_qopts o = DL_QOPTS_INIT;
			if (run_q(&x, &a, s, shapes[k].query, in, 2, &o))
				fail_msg("shape %zu: %s", k, dl_errmsg());
			o.rules = DL_RULES_GENERAL;
			if (run_q(&y, &a, s, shapes[k].query, in, 2, &o))
				fail_msg("shape %zu, general: %s", k, dl_errmsg());
			dl_qresult_sort(&x.res);
			dl_qresult_sort(&y.res);
			if (!rows_equal(&x.res, &y.res))
				fail_msg("graph %d, shape %zu, starts %s: %zu rows, general %zu\n%s", gi, k,
					 starts, x.res.nrows, y.res.nrows, x.explain);
			if (shapes[k].closure >= 0 &&
			    shapes[k].closure != (strstr(x.explain, "right-linear closure") != NULL))
				fail_msg("shape %zu: closure %s expected\n%s", k,
					 shapes[k].closure ? "" : "not", x.explain);
			assert_null(strstr(y.explain, "right-linear closure"));
			dl_arena_free(&a);
		}
		close_rm(s);
	}
	(void)state;
}

/* A chain of n nodes asked right-recursively from its start: the closure
 * reaches n nodes and derives n - 1 tuples, within a budget the general
 * evaluation (n^2 / 2 tuples) exceeds; the budgets, deadline and
 * cancellation still stop it. */
static void test_right_linear_budgets(void **state)
{
	dl_store *s = open_fresh("rlchain");
	const int n = 3000;
	dl_buf b = DL_BUF_INIT;
	dl_buf_puts(&b, "[{:db/ident :id :db/valueType :db.type/long :db/unique :db.unique/identity}"
			" {:db/ident :to :db/valueType :db.type/ref}]");
	tx(s, b.data);
	b.len = 0;
	dl_buf_puts(&b, "[");
	for (int i = 0; i < n; i++) {
		dl_buf_printf(&b, "{:db/id \"n%d\" :id %d", i, i);
		if (i + 1 < n)
			dl_buf_printf(&b, " :to \"n%d\"", i + 1);
		dl_buf_puts(&b, "}");
	}
	dl_buf_puts(&b, "]");
	tx(s, b.data);
	dl_buf_free(&b);
	const char *q = "[:find (count ?b) . :in $ % :where [?a :id 0] (r ?a ?b)]";
	dl_arena a = DL_ARENA_INIT;
	dl_value rules = tu_edn(&a, "[[(r ?a ?b) [?a :to ?b]] [(r ?a ?b) [?a :to ?x] (r ?x ?b)]]");
	ran r;
	dl_qopts o = DL_QOPTS_INIT;
	o.max_bytes = 32 << 20;
	assert_int_equal(run_q(&r, &a, s, q, &rules, 1, &o), 0);
	assert_int_equal(r.res.rows[0].u.i, n - 1);
	char want[128];
	snprintf(want, sizeof want, "(%d tuples derived in 2 rounds)   (right-linear closure: %d nodes",
		 n - 1, n);
	if (!strstr(r.explain, want))
		fail_msg("expected \"%s\":\n%s", want, r.explain);
	o.rules = DL_RULES_GENERAL;
	assert_int_equal(run_q(&r, &a, s, q, &rules, 1, &o), DL_ELIMIT);
	o.rules = DL_RULES_AUTO;
	o.max_bytes = 64 << 10;
	assert_int_equal(run_q(&r, &a, s, q, &rules, 1, &o), DL_ELIMIT);
	assert_non_null(strstr(dl_errmsg(), "memory budget"));
	o = (dl_qopts)DL_QOPTS_INIT;
	atomic_bool flag = true;
	o.cancel = &flag;
	assert_int_equal(run_q(&r, &a, s, q, &rules, 1, &o), DL_ECANCELED);
	dl_arena_free(&a);
	close_rm(s);
	(void)state;
}

/* ---- min/max per group by a loose index scan (loose.c) ---- */

/* A random value for ?t: numbers that interleave (5 and 5.0, -0.0 and
 * 0.0), and values of other types, which rank by type first. */
static void rand_value(dl_buf *b)
{
	static const char *const vs[] = {"-2", "0", "1", "3", "5", "5.0", "-0.0", "0.0", "2.5",
					  "1e300", "\"a\"", "\"b\"", "\"zz\"", ":x", ":y/z",
					  "#inst \"2020-01-01\"", "true"};
	dl_buf_puts(b, vs[tu_rand() % (sizeof vs / sizeof *vs)]);
}

static void rand_group(dl_buf *b)
{
	static const char *const gs[] = {"0", "1", "2", "1.0", "\"s\"", ":k"};
	dl_buf_puts(b, gs[tu_rand() % (sizeof gs / sizeof *gs)]);
}

/* n entities :id 0..n-1, most with a group :g (card one) and some :gm
 * (card many), most with a :t and some :tm (card many), refs :r, a :k
 * 0-2; then a transaction retracting and replacing some of them, and one
 * adding more.  *t1: the first data transaction (as-of and since). */
static void load_loose(dl_store *s, int n, int64_t *t1)
{
	tx(s, "[{:db/ident :id :db/valueType :db.type/long :db/unique :db.unique/identity}"
	      " {:db/ident :gm :db/cardinality :db.cardinality/many}"
	      " {:db/ident :tm :db/cardinality :db.cardinality/many}"
	      " {:db/ident :r :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}"
	      " {:db/ident :k :db/valueType :db.type/long}]");
	dl_buf b = DL_BUF_INIT;
	dl_buf_puts(&b, "[");
	for (int i = 0; i < n; i++) {
		dl_buf_printf(&b, "{:db/id \"e%d\" :id %d :k %d", i, i, (int)(tu_rand() % 3));
		if (tu_rand() % 5) {
			dl_buf_puts(&b, " :g ");
			rand_group(&b);
		}
		dl_buf_puts(&b, " :gm [");
		for (int j = 0, m = (int)(tu_rand() % 3); j < m; j++) {
			rand_group(&b);
			dl_buf_puts(&b, " ");
		}
		dl_buf_puts(&b, "]");
		if (tu_rand() % 10 < 7) {
			dl_buf_puts(&b, " :t ");
			rand_value(&b);
		}
		dl_buf_puts(&b, " :tm [");
		for (int j = 0, m = (int)(tu_rand() % 4); j < m; j++) {
			rand_value(&b);
			dl_buf_puts(&b, " ");
		}
		if (tu_rand() % 40 == 0) /* a value whose key is out of line */
			dl_buf_printf(&b, "\"%0600d\"", i);
		dl_buf_puts(&b, "]");
		if (tu_rand() % 2)
			dl_buf_printf(&b, " :r [\"e%d\"]", (int)(tu_rand() % (uint64_t)n));
		dl_buf_puts(&b, "}");
	}
	dl_buf_puts(&b, "]");
	*t1 = tx(s, b.data);
	for (int round = 0; round < 2; round++) {
		b.len = 0;
		dl_buf_puts(&b, "[");
		for (int e = 0; e < n; e++) {
			if (tu_rand() % 3)
				continue; /* one change per entity and transaction */
			switch (tu_rand() % 4) {
			case 0:
				dl_buf_printf(&b, "[:db/retract [:id %d] :t] ", e);
				break;
			case 1:
				dl_buf_printf(&b, "[:db/retract [:id %d] :g] ", e);
				break;
			case 2:
				dl_buf_printf(&b, "[:db/add [:id %d] :t ", e);
				rand_value(&b);
				dl_buf_puts(&b, "] ");
				break;
			default:
				dl_buf_printf(&b, "[:db/add [:id %d] :gm ", e);
				rand_group(&b);
				dl_buf_puts(&b, "] ");
				break;
			}
		}
		dl_buf_puts(&b, "[:db/add \"new\" :k 1]]");
		tx(s, b.data);
	}
	dl_buf_free(&b);
}

/* The loose index scan gives exactly the normal plan's answers, forced
 * wherever it applies (no budget) and in its automatic mode, on random
 * databases with mixed-type values, card-many groups and values, groups
 * without values, retractions, and in as-of, since and history views;
 * over shapes it takes (several group variables, :with, predicates, not,
 * or, rules, refs, pull, inputs, groups per entity) and some it must
 * refuse. */
static void test_loose_scan_matches_normal(void **state)
{
	static const struct {
		int walks; /* ALWAYS shows the walk (1), never (0), or not known (-1) */
		const char *query;
	} shapes[] = {
		{1, "[:find ?g (max ?t) :where [?b :g ?g] [?b :t ?t]]"},
		{1, "[:find ?g (min ?t) :where [?b :g ?g] [?b :t ?t]]"},
		{1, "[:find ?h (max ?t) (max ?t) :where [?b :gm ?h] [?b :tm ?t]]"},
		{1, "[:find (max ?t) . :where [_ :t ?t]]"},
		{1, "[:find (min ?t) :where [?b :tm ?t] [?b :k 1]]"},
		{1, "[:find ?g ?h (min ?t) :where [?b :g ?g] [?b :gm ?h] [?b :tm ?t]]"},
		{1, "[:find ?g (max ?t) :with ?b :where [?b :g ?g] [?b :tm ?t]]"},
		{1, "[:find ?g (max ?t) :where [?b :g ?g] [?b :t ?t] [(not= ?t 2.5)]]"},
		{1, "[:find ?g (max ?t) :where [?b :g ?g] [?b :tm ?t] (not [?b :k 0])]"},
		{1, "[:find ?g (max ?t) :where [?b :g ?g] [?b :tm ?t] (or [?b :k 1] [?b :gm 2])]"},
		{1, "[:find ?g (max ?x) :where [?b :g ?g] [?b :r ?x]]"},
		{1, "[:find ?b (min ?t) :where [?b :tm ?t]]"},
		{1, "[:find ?g (min ?t) :where [?b :r ?c] [?c :g ?g] [?b :t ?t]]"},
		{1, "[:find (pull ?c [:id]) (max ?t) :where [?b :r ?c] [?b :tm ?t]]"},
		{1, "[:find ?g (max ?t) :in $ ?k :where [?b :k ?k] [?b :g ?g] [?b :tm ?t]]"},
		{1, "[:find ?g (max ?t) :in $ % :where [?b :g ?g] (kin ?b) [?b :tm ?t]]"},
		{1, "[:find ?g (max ?t) :where [?b :g ?g] [?b :tm ?t] [?c :t ?t]]"},
		{0, "[:find ?g (min ?t) (max ?t) :where [?b :g ?g] [?b :t ?t]]"},
		{0, "[:find ?g (max 2 ?t) :where [?b :g ?g] [?b :t ?t]]"},
		{0, "[:find ?g (count ?t) :where [?b :g ?g] [?b :t ?t]]"},
		{0, "[:find ?s (max ?t) :where [?b :g ?g] [?b :t ?t] [(str ?g) ?s]]"},
		{0, "[:find ?g (max ?t) :in $ % :where (grp ?b ?g) [?b :t ?t]]"},
	};
	const char *rules = "[[(kin ?b) [?b :r ?c] [?c :k 1]] [(kin ?b) [?b :k 2]]"
			    " [(grp ?b ?g) [?b :g ?g]] [(grp ?b ?g) [?b :gm ?g]]]";
	tu_seed(tu_seed_from_env(11));
	const int dbs = (int)tu_scale(10);
	int walked = 0;
	for (int di = 0; di < dbs; di++) {
		dl_store *s = open_fresh("loose");
		int64_t t1;
		load_loose(s, 5 + (int)(tu_rand() % 60), &t1);
		for (int view = 0; view < 4; view++) {
			dl_view vw = {(dl_view_kind)view, t1};
			for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
				dl_arena a = DL_ARENA_INIT;
				const char *q = shapes[k].query;
				dl_value in[1];
				size_t nin = 0;
				if (strstr(q, "?k :where"))
					in[nin++] = dl_int((int64_t)(tu_rand() % 3));
				else if (strstr(q, ":in $ %"))
					in[nin++] = tu_edn(&a, rules);
				ran x, y;
				dl_qopts o = DL_QOPTS_INIT;
				o.view = vw;
				o.loose = DL_LOOSE_OFF;
				if (run_q(&x, &a, s, q, in, nin, &o))
					fail_msg("db %d, view %d, shape %zu: %s", di, view, k, dl_errmsg());
				assert_null(strstr(x.explain, "loose-index-scan"));
				dl_qresult_sort(&x.res);
				for (uint8_t m = DL_LOOSE_AUTO; m <= DL_LOOSE_ALWAYS; m += 2) {
					o.loose = m;
					if (run_q(&y, &a, s, q, in, nin, &o))
						fail_msg("db %d, view %d, shape %zu, mode %d: %s", di, view, k,
							 m, dl_errmsg());
					dl_qresult_sort(&y.res);
					if (!rows_equal(&x.res, &y.res))
						fail_msg("db %d, view %d, shape %zu, mode %d: %zu rows, "
							 "normal %zu\n%s\nnormal:\n%s",
							 di, view, k, m, y.res.nrows, x.res.nrows, y.explain,
							 x.explain);
					bool walks = strstr(y.explain, "loose-index-scan") != NULL;
					if (m == DL_LOOSE_ALWAYS && shapes[k].walks >= 0 &&
					    walks != (shapes[k].walks == 1))
						fail_msg("shape %zu: the walk %sexpected\n%s", k,
							 shapes[k].walks ? "" : "not ", y.explain);
					walked += walks;
				}
				dl_arena_free(&a);
			}
		}
		close_rm(s);
	}
	assert_true(walked > 0);
	(void)state;
}

/* On OHLC-like bars the walk reads a few datoms per symbol and stops
 * early; a symbol with no bar at all keeps its bound out of reach, and the
 * walk gives up within its budget and runs the normal plan (the same
 * answer); min walks from the bottom. */
static void test_loose_scan_budget(void **state)
{
	dl_store *s = open_fresh("loosebars");
	load_bars(s, 10, 2000);
	const char *q = "[:find ?s (max ?t) :where [?b :price/symbol ?s] [?b :price/time ?t]]";
	dl_arena a = DL_ARENA_INIT;
	ran r, n;
	dl_qopts o = DL_QOPTS_INIT;
	assert_int_equal(run_q(&r, &a, s, q, NULL, 0, &o), 0);
	assert_int_equal(r.res.nrows, 10);
	char line[1024], strat[64];
	unsigned long long rows, scanned;
	const char *l = step_line(r.explain, "[?b :price/time ?t]", line, sizeof line);
	assert_non_null(l);
	step_figures(l, strat, &rows, &scanned);
	assert_string_equal(strat, "loose-index-scan");
	assert_int_equal(rows, 10);
	assert_true(scanned < 200); /* not the 40,000 datoms of the normal plan */
	if (!strstr(r.explain, "all 10 groups found, stopped early"))
		fail_msg("expected an early stop:\n%s", r.explain);
	o.loose = DL_LOOSE_OFF;
	assert_int_equal(run_q(&n, &a, s, q, NULL, 0, &o), 0);
	dl_qresult_sort(&r.res);
	dl_qresult_sort(&n.res);
	assert_true(rows_equal(&r.res, &n.res));
	/* min: from the bottom */
	o.loose = DL_LOOSE_AUTO;
	const char *qmin = "[:find ?s (min ?t) :where [?b :price/symbol ?s] [?b :price/time ?t]]";
	assert_int_equal(run_q(&r, &a, s, qmin, NULL, 0, &o), 0);
	if (!strstr(r.explain, "min per group, from the bottom: all 10 groups found"))
		fail_msg("expected a walk from the bottom:\n%s", r.explain);
	assert_int_equal(r.res.nrows, 10);
	for (size_t i = 0; i < r.res.nrows; i++)
		assert_int_equal(r.res.rows[i * 2 + 1].u.i, 1700000000000LL);
	/* a bar with no time: its symbol is a group the walk never finds */
	tx(s, "[{:db/id \"late\" :symbol/ticker \"LATE\"} {:price/symbol \"late\" :price/open 1.5}]");
	assert_int_equal(run_q(&r, &a, s, q, NULL, 0, &o), 0);
	assert_int_equal(r.res.nrows, 10);
	if (!strstr(r.explain, "gave up, ran the plan below") || !strstr(r.explain, "merge"))
		fail_msg("expected the walk to give up:\n%s", r.explain);
	l = step_line(r.explain, "[?b :price/time ?t]", line, sizeof line);
	step_figures(l, strat, &rows, &scanned);
	assert_true(scanned < 8000); /* an eighth of the normal plan's estimate (40,000), about */
	o.loose = DL_LOOSE_OFF;
	assert_int_equal(run_q(&n, &a, s, q, NULL, 0, &o), 0);
	dl_qresult_sort(&r.res);
	dl_qresult_sort(&n.res);
	assert_true(rows_equal(&r.res, &n.res));
	dl_arena_free(&a);
	close_rm(s);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_large_binding_scans_only_its_bars),
		cmocka_unit_test(test_group_ids_random),
		cmocka_unit_test(test_band_join_random),
		cmocka_unit_test(test_merge_sorts_unordered_keys),
		cmocka_unit_test(test_memory_budget_counts_live_rows),
		cmocka_unit_test(test_parallel_scan),
		cmocka_unit_test(test_merge_radix_repeated_keys),
		cmocka_unit_test(test_comparison_reads_avet_range),
		cmocka_unit_test(test_row_budget),
		cmocka_unit_test(test_timeout_and_cancel),
		cmocka_unit_test(test_batched_subquery_budgets),
		cmocka_unit_test(test_adaptive_replanning),
		cmocka_unit_test(test_parallel_subqueries),
		cmocka_unit_test(test_right_linear_matches_general),
		cmocka_unit_test(test_right_linear_budgets),
		cmocka_unit_test(test_loose_scan_matches_normal),
		cmocka_unit_test(test_loose_scan_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
