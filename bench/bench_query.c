/*
 * datalite's side of the peer benchmarks: the same named queries as
 * bench/peers/datascript_bench.js and sqlite_bench.c, on a database loaded
 * from `datalite gen` output, printing the peers' line format:
 *
 *   name median_ms min_ms max_ms rows peak_rss_mb runs
 *
 *   bench_query [--runs N] [--warmup-ms MS] [--budget-ms MS] [--timeout MS]
 *               [--threads N] [--map-mb MB] [--load FILE.edn [--load-only]]
 *               [--explain] [--dump] [--subq auto|per-call|batched] DB [QUERY ...]
 *   bench_query --text QUERY
 *
 * --load (re)creates DB from EDN tx-data first (one transaction per
 * top-level vector, through dl_tx_run, the transaction path) and reports
 * the load rate on stderr; --load-only stops there (so that the peak RSS of
 * a later run is the queries', not the load's).  --list prints the names
 * of the queries that fit DB's data, one a line, and runs none.  --text
 * prints a query's Datalog on one line and its inputs after $, one EDN form
 * a line, for `datalite query DB --bench N "$(sed 1q)" ...` (exit 2 for
 * ohlc5, which is two queries here).  --threads sets the engine's worker
 * threads (dl_qopts.threads; default: one per processor).  --explain prints
 * each query's EXPLAIN ANALYZE on stderr after timing it; --dump prints its
 * rows (sorted, EDN) on stderr.  --subq forces how nested q subqueries run
 * (once per input tuple, or batched over all of them; default: chosen).
 * Each query is parsed once (as SQLite's statements are prepared once and
 * DataScript caches parsed queries), runs to warm up (once, and
 * again until --warmup-ms, default 1000, have passed), then N times, each
 * in a fresh read snapshot (as a new query from an application
 * would); when N runs would take more than --budget-ms (default 120000,
 * judged from the warm-up) fewer are made, at least 3, and the last column
 * says how many.  --timeout gives each run a deadline (the engine's own);
 * a query that runs out of it or of a budget prints
 *
 *   name TIMEOUT|LIMIT|ERROR - - - - runs
 *
 * Without QUERY names, the queries of the data kind found in DB run (the
 * kind is told by its attributes: ohlc, social, follows, graph, genealogy).
 */
#include "query/exec.h"
#include "query/pull.h"
#include "tx/tx.h"

#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct bq {
	const char *name;
	const char *data;  /* the data kind: social, ohlc, follows, graph, genealogy */
	const char *q;
	const char *args;  /* EDN inputs after $, space-separated forms, or NULL */
	const char *q2;    /* a second query fed the first one's relation (ohlc5) */
} bq;

/* A pull benchmark (data "pull"): q is the pull pattern, args the entity. */
#define BQ_IS_PULL(b) (!strcmp((b)->data, "pull"))

#define FOLLOWS_RULES                                                                         \
	"[[(follows ?x ?y) [?x :follows ?y]] "                                                  \
	"[(follows ?x ?y) [?x :follows ?t] (follows ?t ?y)]]"
#define REACH_RULES                                                                           \
	"[[(reach ?a ?b) [?e :edge/from ?a] [?e :edge/to ?b]] "                                 \
	"[(reach ?a ?b) (reach ?a ?x) [?e :edge/from ?x] [?e :edge/to ?b]]]"
#define ANC_LEFT_RULES                                                                        \
	"[[(anc ?a ?b) [?a :person/parent ?b]] [(anc ?a ?b) (anc ?a ?x) [?x :person/parent ?b]]]"
#define ANC_RIGHT_RULES                                                                       \
	"[[(anc ?a ?b) [?a :person/parent ?b]] [(anc ?a ?b) [?a :person/parent ?x] (anc ?x ?b)]]"

static const bq k_queries[] = {
	/* DataScript's suite, with its texts */
	{"q1", "social", "[:find ?e :where [?e :name \"Ivan\"]]", NULL, NULL},
	{"q2", "social", "[:find ?e ?a :where [?e :name \"Ivan\"] [?e :age ?a]]", NULL, NULL},
	{"q2-switch", "social", "[:find ?e ?a :where [?e :age ?a] [?e :name \"Ivan\"]]", NULL, NULL},
	{"q3", "social", "[:find ?e ?a :where [?e :name \"Ivan\"] [?e :age ?a] [?e :sex :male]]",
	 NULL, NULL},
	{"q4", "social",
	 "[:find ?e ?l ?a :where [?e :name \"Ivan\"] [?e :last-name ?l] [?e :age ?a] [?e :sex :male]]",
	 NULL, NULL},
	{"qpred1", "social", "[:find ?e ?s :where [?e :salary ?s] [(> ?s 50000)]]", NULL, NULL},
	{"qpred2", "social", "[:find ?e ?s :in $ ?min_s :where [?e :salary ?s] [(> ?s ?min_s)]]",
	 "50000", NULL},
	/* the OHLC workload of the benchmark issue */
	{"ohlc1", "ohlc",
	 "[:find ?o :where [?s :symbol/ticker \"NVDA\"] [?b :price/symbol ?s] [?b :price/time ?t] "
	 "[?b :price/open ?o]]",
	 NULL, NULL},
	{"ohlc2", "ohlc",
	 "[:find ?b ?t ?h ?l ?c ?v :where [?s :symbol/ticker \"NVDA\"] [?b :price/symbol ?s] "
	 "[?b :price/time ?t] [?b :price/high ?h] [?b :price/low ?l] [?b :price/close ?c] "
	 "[?b :price/volume ?v] [(day ?t) ?d] [(= ?d 5)]]",
	 NULL, NULL},
	/* hourly bars from five-minute bars, as the seed system writes it:
	 * anchor bars by minute-of-day, four correlated subqueries per hour */
	{"ohlc3", "ohlc",
	 "[:find ?hour ?open ?high ?low ?close ?vol :in $ ?tk :where "
	 "[?s :symbol/ticker ?tk] [?a :price/symbol ?s] [?a :price/minute-of-day ?m] "
	 "[(- ?m 570) ?off] [(mod ?off 60) ?r] [(= ?r 0)] [?a :price/time ?hour] "
	 "[(inst-ms ?hour) ?day-ms] [(quot ?day-ms 86400000) ?day] [(+ ?m 60) ?m1x] [(min ?m1x 960) ?m1] "
	 "[(+ ?m 5) ?m0e] [(- ?m1 5) ?m1s] "
	 "[(q [:find (max ?h) (min ?l) :in $ ?s ?day ?lo ?hi :where [?b :price/symbol ?s] "
	 "[?b :price/minute-of-day ?bm] [(>= ?bm ?lo)] [(< ?bm ?hi)] [?b :price/time ?t] "
	 "[(inst-ms ?t) ?ms] [(quot ?ms 86400000) ?d] [(= ?d ?day)] [?b :price/high ?h] "
	 "[?b :price/low ?l]] $ ?s ?day ?m ?m1) [[?high ?low]]] "
	 "[(q [:find (min ?o) . :in $ ?s ?day ?lo ?hi :where [?b :price/symbol ?s] "
	 "[?b :price/minute-of-day ?bm] [(>= ?bm ?lo)] [(< ?bm ?hi)] [?b :price/time ?t] "
	 "[(inst-ms ?t) ?ms] [(quot ?ms 86400000) ?d] [(= ?d ?day)] [?b :price/open ?o]] "
	 "$ ?s ?day ?m ?m0e) ?open] "
	 "[(q [:find (max ?c) . :in $ ?s ?day ?lo ?hi :where [?b :price/symbol ?s] "
	 "[?b :price/minute-of-day ?bm] [(>= ?bm ?lo)] [(< ?bm ?hi)] [?b :price/time ?t] "
	 "[(inst-ms ?t) ?ms] [(quot ?ms 86400000) ?d] [(= ?d ?day)] [?b :price/close ?c]] "
	 "$ ?s ?day ?m1s ?m1) ?close] "
	 "[(q [:find (sum ?v) . :with ?b :in $ ?s ?day ?lo ?hi :where [?b :price/symbol ?s] "
	 "[?b :price/minute-of-day ?bm] [(>= ?bm ?lo)] [(< ?bm ?hi)] [?b :price/time ?t] "
	 "[(inst-ms ?t) ?ms] [(quot ?ms 86400000) ?d] [(= ?d ?day)] [?b :price/volume ?v]] "
	 "$ ?s ?day ?m ?m1) ?vol]]",
	 "\"NVDA\"", NULL},
	{"ohlc4", "ohlc",
	 "[:find ?tk ?m ?d (max ?h) (min ?l) (sum ?v) :with ?b :where [?s :symbol/ticker ?tk] "
	 "[?b :price/symbol ?s] [?b :price/time ?t] [(month ?t) ?m] [(day ?t) ?d] "
	 "[?b :price/high ?h] [?b :price/low ?l] [?b :price/volume ?v]]",
	 NULL, NULL},
	{"ohlc5", "ohlc",
	 "[:find ?s (max ?t) :where [?b :price/symbol ?s] [?b :price/time ?t]]", NULL,
	 "[:find ?tk ?t ?c :in $ [[?s ?t]] :where [?s :symbol/ticker ?tk] [?b :price/symbol ?s] "
	 "[?b :price/time ?t] [?b :price/close ?c]]"},

	/* DataScript's rules benchmarks (rules-wide-DxW, rules-long-DxW): the
	 * data decides the name (bench/peers/run_peers.sh rules) */
	{"rules", "follows", "[:find ?e ?e2 :in $ % :where (follows ?e ?e2)]", FOLLOWS_RULES, NULL},

	/* Transitive closure from one node of a random graph, left-recursive:
	 * the set of nodes reached, and (the same) as a count */
	{"reach", "graph", "[:find ?b :in $ % :where [?a :node/id 1] (reach ?a ?b)]", REACH_RULES,
	 NULL},
	{"reach-count", "graph", "[:find (count ?b) . :in $ % :where [?a :node/id 1] (reach ?a ?b)]",
	 REACH_RULES, NULL},

	/* Ancestors of one person (the last one of --people 250000), with the
	 * first argument bound: left-recursive (demand keeps ?a bound all the
	 * way down), right-recursive (demand spreads to every ancestor), and
	 * the same from a person of the 21st generation, where the right-
	 * recursive form is still affordable */
	{"anc", "genealogy", "[:find ?b :in $ % ?id :where [?a :person/id ?id] (anc ?a ?b)]",
	 ANC_LEFT_RULES " 250000", NULL},
	{"anc-right", "genealogy", "[:find ?b :in $ % ?id :where [?a :person/id ?id] (anc ?a ?b)]",
	 ANC_RIGHT_RULES " 250000", NULL},
	{"anc-all", "genealogy",
	 "[:find (count ?b) . :with ?a :in $ % :where (anc ?a ?b)]", ANC_LEFT_RULES, NULL},
	{"anc-g20", "genealogy", "[:find ?b :in $ % ?id :where [?a :person/id ?id] (anc ?a ?b)]",
	 ANC_LEFT_RULES " 2050", NULL},
	{"anc-g20-right", "genealogy",
	 "[:find ?b :in $ % ?id :where [?a :person/id ?id] (anc ?a ?b)]", ANC_RIGHT_RULES " 2050",
	 NULL},

	/* DataScript's pull benchmarks, on its wide-db 4 5 (`datalite gen
	 * follows --depth 4 --width 5 --people-attrs`), pulling the root; the
	 * row count is the values in the answer (see count_values) */
	{"pull-one", "pull", "[:name {:follows ...}]", "[:id 1]", NULL},
	{"pull-many", "pull", "[:db/id :last-name :alias :sex :age :salary {:follows ...}]",
	 "[:id 1]", NULL},
	{"pull-wildcard", "pull", "[* {:follows ...}]", "[:id 1]", NULL},
};

#define NQ (sizeof k_queries / sizeof *k_queries)

/* The budget on the total time of one query's timed runs. */
static double g_budget_ms = 120000;

/* The file-backed part of the resident set now (LMDB's map: page-cache
 * pages the process has touched, shared and clean), in MB; -1 if unknown. */
static double rss_file_mb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	double mb = -1;
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "RssFile:", 8))
			mb = atof(line + 8) / 1024.0;
	if (f)
		fclose(f);
	return mb;
}

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

static int load(dl_store *s, const char *path)
{
	size_t n;
	char *text = slurp(path, &n);
	if (!text) {
		fprintf(stderr, "bench_query: cannot read %s\n", path);
		return -1;
	}
	dl_edn_reader r;
	dl_edn_opts o = DL_EDN_OPTS_INIT;
	o.source = path;
	dl_edn_reader_init(&r, text, n, &o);
	size_t datoms = 0;
	double t0 = bench_now_ms();
	int rc;
	for (;;) {
		dl_arena a = DL_ARENA_INIT;
		dl_value v;
		rc = dl_edn_reader_next(&r, &v, &a);
		if (rc == 0) {
			dl_tx_report rep;
			dl_tx_opts to = DL_TX_OPTS_INIT;
			to.source = path;
			rc = dl_tx_run(&rep, &a, s, &v, &to);
			datoms += rep.ndatoms;
		}
		dl_arena_free(&a);
		if (rc)
			break;
	}
	free(text);
	if (rc != DL_ENOTFOUND) {
		fprintf(stderr, "bench_query: %s\n", dl_errmsg());
		return -1;
	}
	double ms = bench_now_ms() - t0;
	fprintf(stderr,
		"# loaded %zu datoms in %.0f ms (%.2f M datoms/s through dl_tx_run), peak RSS %.1f MB "
		"(with the %.1f MB EDN text read whole)\n",
		datoms, ms, (double)datoms / ms / 1000, bench_peak_rss_mb(), (double)n / 1048576.0);
	return 0;
}

static bool has_attr(const dl_schema *sc, const char *name)
{
	uint32_t k = dl_intern_find(name, strlen(name));
	if (!k && name[0] == ':')
		k = dl_intern_find(name + 1, strlen(name) - 1);
	return k && dl_schema_entid(sc, k);
}

/* Which data a database holds: look for a known attribute. */
static const char *data_kind(dl_store *s)
{
	dl_snap *snap;
	const dl_schema *sc;
	const char *kind = "other";
	if (dl_snap_begin(&snap, s))
		return kind;
	if (dl_schema_get(&sc, snap) == 0) {
		if (has_attr(sc, ":price/time"))
			kind = "ohlc";
		else if (has_attr(sc, ":salary"))
			kind = "social";
		else if (has_attr(sc, ":follows"))
			kind = "follows";
		else if (has_attr(sc, ":edge/from"))
			kind = "graph";
		else if (has_attr(sc, ":person/parent"))
			kind = "genealogy";
	}
	dl_snap_end(snap);
	return kind;
}

static int read_args(dl_value *in, size_t *nin, dl_arena *a, const char *text)
{
	*nin = 0;
	if (!text)
		return 0;
	dl_edn_reader r;
	dl_edn_opts o = DL_EDN_OPTS_INIT;
	dl_edn_reader_init(&r, text, strlen(text), &o);
	int rc;
	while ((rc = dl_edn_reader_next(&r, &in[*nin], a)) == 0)
		(*nin)++;
	return rc == DL_ENOTFOUND ? 0 : rc;
}

/* The values of a pull answer: one per map entry with a single value (a
 * nested map, a ref pulled on, counts too, then its own), one per item of
 * a many-valued entry: the datoms a pull reads, plus one :db/id per map
 * that asks for it.  The peers count theirs the same way. */
static size_t count_values(const dl_value *v)
{
	size_t n = 0;
	if (v->type != DL_MAP)
		return 0;
	for (uint32_t i = 0; i < v->len; i++) {
		const dl_value *x = &v->u.items[2 * i + 1];
		if (x->type == DL_VECTOR || x->type == DL_SET || x->type == DL_LIST) {
			for (uint32_t k = 0; k < x->len; k++)
				n += 1 + count_values(&x->u.items[k]);
		} else {
			n += 1 + count_values(x);
		}
	}
	return n;
}

/* A pull benchmark once: a fresh snapshot, the pattern read and compiled,
 * the entity resolved and pulled, as dl_snapshot_pull does. */
/* pat and ref: the pattern and the entity, read once (prepare) */
static int pull_once(dl_store *s, const bq *b, const dl_value *pat, const dl_value *ref,
		     size_t *rows, bool dump)
{
	dl_arena a = DL_ARENA_INIT;
	dl_snap *snap = NULL;
	dl_value out;
	dl_pull_pattern *p;
	int64_t e = 0;
	int rc;
	if ((rc = dl_snap_begin(&snap, s)) ||
	    (rc = dl_pull_compile(&p, &a, pat, snap, b->name)))
		goto out;
	if ((rc = dl_pull_entid(&e, snap, NULL, ref)) < 0)
		goto out;
	if (rc == 0) {
		rc = dl_error(DL_ENOTFOUND, "%s: no entity %s", b->name, b->args);
		goto out;
	}
	if ((rc = dl_pull_run(&out, &a, snap, NULL, p, e)))
		goto out;
	*rows = count_values(&out);
	if (dump) {
		dl_buf line = DL_BUF_INIT;
		dl_edn_print(&line, &out);
		fprintf(stderr, "--- %s\n%.*s\n", b->name, (int)line.len, line.data ? line.data : "");
		dl_buf_free(&line);
	}
out:
	if (snap)
		dl_snap_end(snap);
	dl_arena_free(&a);
	return rc;
}

/* Run a query once; *rows gets the answer's size.  With explain, print
 * EXPLAIN ANALYZE to stderr. */
static uint8_t g_subq = DL_SUBQ_AUTO; /* --subq */

/* A benchmark's queries parsed and inputs read, once: SQLite's statements
 * are prepared once and DataScript keeps parsed queries in a cache, so
 * the runs time what a prepared query costs. */
typedef struct prepared {
	dl_arena a;
	dl_query *q, *q2;
	dl_value in[8];
	size_t nin;
} prepared;

static int prepare(prepared *p, const bq *b)
{
	memset(p, 0, sizeof *p);
	if (BQ_IS_PULL(b)) {
		/* in[0] the pattern, in[1] the entity */
		size_t n;
		DL_TRY(read_args(&p->in[0], &n, &p->a, b->q));
		return read_args(&p->in[1], &n, &p->a, b->args);
	}
	DL_TRY(dl_query_parse(&p->q, &p->a, b->q, strlen(b->q), b->name));
	if (b->q2)
		DL_TRY(dl_query_parse(&p->q2, &p->a, b->q2, strlen(b->q2), b->name));
	return read_args(p->in, &p->nin, &p->a, b->args);
}

static int run_once(dl_store *s, const bq *b, const prepared *p, size_t *rows, bool explain,
		    bool dump, int64_t timeout_ms, int threads)
{
	dl_arena a = DL_ARENA_INIT;
	dl_snap *snap = NULL;
	dl_buf ex = DL_BUF_INIT;
	int rc;
	const dl_query *q = p->q, *q2 = p->q2;
	const dl_value *in = p->in;
	size_t nin = p->nin;
	if (BQ_IS_PULL(b))
		return pull_once(s, b, &p->in[0], &p->in[1], rows, dump);
	if ((rc = dl_snap_begin(&snap, s)))
		goto out;
	dl_qopts o = DL_QOPTS_INIT;
	o.analyze = explain;
	o.timeout_ms = timeout_ms;
	o.subq = g_subq;
	o.threads = threads;
	dl_qresult res;
	if ((rc = dl_query_run(&res, &a, snap, q, in, nin, &o, explain ? &ex : NULL)))
		goto out;
	if (q2) {
		/* feed the relation to the second query */
		dl_value rel = {.type = DL_VECTOR, .len = (uint32_t)res.nrows};
		dl_value *items = DL_ARENA_NEW(&a, res.nrows + 1, dl_value);
		if (!items) {
			rc = DL_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < res.nrows; i++) {
			items[i] = (dl_value){.type = DL_VECTOR, .len = res.ncols};
			items[i].u.items = &res.rows[i * res.ncols];
		}
		rel.u.items = items;
		if ((rc = dl_query_run(&res, &a, snap, q2, &rel, 1, &o, explain ? &ex : NULL)))
			goto out;
	}
	*rows = res.nrows;
	if (dump) {
		dl_qresult_sort(&res);
		dl_buf line = DL_BUF_INIT;
		fprintf(stderr, "--- %s\n", b->name);
		for (size_t i = 0; i < res.nrows; i++) {
			line.len = 0;
			for (uint32_t c = 0; c < res.ncols; c++) {
				if (c)
					dl_buf_printf(&line, " ");
				dl_edn_print(&line, &res.rows[i * res.ncols + c]);
			}
			fprintf(stderr, "%.*s\n", (int)line.len, line.data ? line.data : "");
		}
		dl_buf_free(&line);
	}
	if (explain)
		fprintf(stderr, "--- %s\n%.*s", b->name, (int)ex.len, ex.data ? ex.data : "");
out:
	if (snap)
		dl_snap_end(snap);
	dl_buf_free(&ex);
	dl_arena_free(&a);
	return rc;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_query [--runs N] [--warmup-ms MS] [--budget-ms MS] [--timeout MS]\n"
			"                   [--threads N] [--map-mb MB] [--load FILE.edn [--load-only]]\n"
			"                   [--list] [--explain] [--dump] [--subq auto|per-call|batched]\n"
			"                   DB [QUERY ...]\n"
			"       bench_query --text QUERY\n"
			"queries:");
	for (size_t i = 0; i < NQ; i++)
		fprintf(stderr, " %s", k_queries[i].name);
	fprintf(stderr, "\n");
}

/* --text: the query on one line, then each input as EDN on a line. */
static int print_text(const char *name)
{
	for (size_t i = 0; i < NQ; i++) {
		const bq *b = &k_queries[i];
		if (strcmp(b->name, name))
			continue;
		if (b->q2 || BQ_IS_PULL(b)) {
			fprintf(stderr, "bench_query: %s is %s: no single query text\n", name,
				b->q2 ? "two queries (the second fed the first's answer)" : "a pull");
			return 2;
		}
		dl_arena a = DL_ARENA_INIT;
		dl_value in[8];
		size_t nin;
		dl_buf line = DL_BUF_INIT;
		int rc = read_args(in, &nin, &a, b->args);
		printf("%s\n", b->q);
		for (size_t k = 0; !rc && k < nin; k++) {
			line.len = 0;
			dl_edn_print(&line, &in[k]);
			printf("%.*s\n", (int)line.len, line.data ? line.data : "");
		}
		dl_buf_free(&line);
		dl_arena_free(&a);
		return rc ? 1 : 0;
	}
	fprintf(stderr, "bench_query: unknown query %s\n", name);
	usage();
	return 2;
}

static const char *failure(int rc)
{
	return rc == DL_ETIMEOUT ? "TIMEOUT" : rc == DL_ELIMIT || rc == DL_ENOMEM ? "LIMIT" : "ERROR";
}

int main(int argc, char **argv)
{
	int runs = 10, threads = 0;
	int64_t timeout_ms = 0;
	double warmup_ms = 1000;
	size_t map_mb = 0; /* valgrind cannot reserve the default 64 GiB map */
	const char *loadf = NULL, *path = NULL;
	bool explain = false, dump = false, load_only = false, list = false;
	const char *names[64];
	int nnames = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
			runs = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--budget-ms") && i + 1 < argc) {
			g_budget_ms = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--warmup-ms") && i + 1 < argc) {
			warmup_ms = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			timeout_ms = atoll(argv[++i]);
		} else if (!strcmp(argv[i], "--map-mb") && i + 1 < argc) {
			map_mb = (size_t)atoll(argv[++i]);
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			threads = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--text") && i + 1 < argc) {
			return print_text(argv[i + 1]);
		} else if (!strcmp(argv[i], "--load") && i + 1 < argc) {
			loadf = argv[++i];
		} else if (!strcmp(argv[i], "--list")) {
			list = true;
		} else if (!strcmp(argv[i], "--load-only")) {
			load_only = true;
		} else if (!strcmp(argv[i], "--explain")) {
			explain = true;
		} else if (!strcmp(argv[i], "--dump")) {
			dump = true;
		} else if (!strcmp(argv[i], "--subq") && i + 1 < argc) {
			i++;
			g_subq = !strcmp(argv[i], "per-call")  ? DL_SUBQ_PER_CALL
				 : !strcmp(argv[i], "batched") ? DL_SUBQ_BATCHED
							       : DL_SUBQ_AUTO;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage();
			return 0;
		} else if (!path) {
			path = argv[i];
		} else if (nnames < 64) {
			names[nnames++] = argv[i];
		}
	}
	if (!path || runs < 1) {
		usage();
		return 2;
	}
	for (int k = 0; k < nnames; k++) {
		bool known = false;
		for (size_t i = 0; i < NQ; i++)
			known |= !strcmp(names[k], k_queries[i].name);
		if (!known) {
			fprintf(stderr, "bench_query: unknown query %s\n", names[k]);
			usage();
			return 2;
		}
	}
	if (loadf) {
		char lock[4096];
		snprintf(lock, sizeof lock, "%s-lock", path);
		unlink(path);
		unlink(lock);
	}
	dl_store *s;
	dl_store_opts so = DL_STORE_OPTS_INIT;
	so.sync = 0;
	so.map_size = map_mb << 20;
	if (dl_store_open(&s, path, &so)) {
		fprintf(stderr, "bench_query: %s\n", dl_errmsg());
		return 1;
	}
	if (loadf && load(s, loadf)) {
		dl_store_close(s);
		return 1;
	}
	if (load_only) {
		dl_store_close(s);
		return 0;
	}
	const char *kind = data_kind(s);
	if (list) { /* the names of the kind's queries */
		for (size_t i = 0; i < NQ; i++)
			if (!strcmp(k_queries[i].data, kind))
				printf("%s\n", k_queries[i].name);
		dl_store_close(s);
		return 0;
	}
	fprintf(stderr, "# bench_query: %s: %s data\n", path, kind);
	double *times = malloc((size_t)runs * sizeof *times);
	int status = 0;
	for (size_t i = 0; i < NQ && times; i++) {
		const bq *b = &k_queries[i];
		bool want = nnames == 0 && !strcmp(b->data, kind);
		for (int k = 0; k < nnames; k++)
			want |= !strcmp(names[k], b->name);
		if (!want)
			continue;
		prepared pq;
		int rc = prepare(&pq, b);
		if (rc) {
			fprintf(stderr, "bench_query: %s: %s\n", b->name, dl_errmsg());
			printf("%s ERROR - - - - 0\n", b->name);
			fflush(stdout);
			dl_arena_free(&pq.a);
			status = 1;
			continue;
		}
		/* Warm up: once, and again until --warmup-ms have passed. */
		size_t rows = 0;
		double t0 = bench_now_ms(), warm, start = t0;
		do {
			t0 = bench_now_ms();
			rc = run_once(s, b, &pq, &rows, false, false, timeout_ms, threads);
			warm = bench_now_ms() - t0;
		} while (!rc && bench_now_ms() - start < warmup_ms);
		if (rc) {
			fprintf(stderr, "bench_query: %s: %s (after %.0f ms)\n", b->name, dl_errmsg(),
				warm);
			printf("%s %s - - - - 0\n", b->name, failure(rc));
			fflush(stdout);
			if (rc != DL_ETIMEOUT && rc != DL_ELIMIT && rc != DL_ENOMEM)
				status = 1;
			dl_arena_free(&pq.a);
			continue;
		}
		/* Fewer runs when N would blow the time budget (at least 3). */
		int n = bench_budget_runs(runs, warm, g_budget_ms);
		for (int r = 0; r < n; r++) {
			t0 = bench_now_ms();
			rc = run_once(s, b, &pq, &rows, false, false, timeout_ms, threads);
			times[r] = bench_now_ms() - t0;
			if (rc)
				break;
		}
		if (rc) {
			fprintf(stderr, "bench_query: %s: %s\n", b->name, dl_errmsg());
			printf("%s %s - - - - 0\n", b->name, failure(rc));
			fflush(stdout);
			dl_arena_free(&pq.a);
			continue;
		}
		double median = bench_median(times, n);
		printf("%s %.3f %.3f %.3f %zu %.1f %d\n", b->name, median, times[0], times[n - 1], rows,
		       bench_peak_rss_mb(), n);
		fflush(stdout);
		fprintf(stderr, "# %s: peak RSS %.1f MB, of which LMDB's map (file pages) %.1f MB now\n",
			b->name, bench_peak_rss_mb(), rss_file_mb());
		if (explain || dump)
			run_once(s, b, &pq, &rows, explain, dump, timeout_ms, threads);
		dl_arena_free(&pq.a);
	}
	free(times);
	dl_store_close(s);
	return status;
}
