/*
 * datalite demo: build a small example database (three tickers with
 * five-minute price bars over two days) in a temporary folder, then run
 * showcase queries through the public API and print them with their
 * answers: joins, aggregates, EXPLAIN ANALYZE, rules, not/or, pull, time
 * travel.  The README's first command.
 */
#include "cli.h"
#include "output.h"
#include "query/exec.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const dl_qresult *dl_stmt_qresult(const dl_stmt *st);

static const char k_schema[] =
	"[{:db/ident :symbol/ticker :db/valueType :db.type/string :db/unique :db.unique/identity}\n"
	" {:db/ident :symbol/name :db/valueType :db.type/string}\n"
	" {:db/ident :symbol/sector :db/valueType :db.type/keyword}\n"
	" {:db/ident :symbol/peer :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}\n"
	" {:db/ident :price/symbol :db/valueType :db.type/ref}\n"
	" {:db/ident :price/time :db/valueType :db.type/instant :db/index true}\n"
	" {:db/ident :price/minute-of-day :db/valueType :db.type/long}\n"
	" {:db/ident :price/open :db/valueType :db.type/double}\n"
	" {:db/ident :price/high :db/valueType :db.type/double}\n"
	" {:db/ident :price/low :db/valueType :db.type/double}\n"
	" {:db/ident :price/close :db/valueType :db.type/double}\n"
	" {:db/ident :price/volume :db/valueType :db.type/long}]";

static const char k_symbols[] =
	"[{:db/id \"nvda\" :symbol/ticker \"NVDA\" :symbol/name \"NVIDIA\" :symbol/sector :tech}\n"
	" {:db/id \"amd\" :symbol/ticker \"AMD\" :symbol/name \"Advanced Micro Devices\""
	"  :symbol/sector :tech :symbol/peer \"nvda\"}\n"
	" {:db/id \"intc\" :symbol/ticker \"INTC\" :symbol/name \"Intel\" :symbol/sector :tech"
	"  :symbol/peer \"amd\"}\n"
	" {:db/id \"xom\" :symbol/ticker \"XOM\" :symbol/name \"Exxon Mobil\" :symbol/sector :energy}]";

typedef struct demo_q {
	const char *title;
	const char *q;
	const char *args[2];
	bool explain;
} demo_q;

static const demo_q k_queries[] = {
	{"Bars per ticker (an aggregate grouped by ticker)",
	 "[:find ?tk (count ?b) :where [?s :symbol/ticker ?tk] [?b :price/symbol ?s]]", {0}, false},
	{"Daily high, low and volume for NVDA (time functions, :with, :order-by)",
	 "[:find ?d (max ?h) (min ?l) (sum ?v) :with ?b :in $ ?tk\n"
	 " :where [?s :symbol/ticker ?tk] [?b :price/symbol ?s] [?b :price/time ?t]\n"
	 "        [(day ?t) ?d] [?b :price/high ?h] [?b :price/low ?l] [?b :price/volume ?v]\n"
	 " :order-by [?d]]",
	 {"\"NVDA\""}, false},
	{"The seed system's 30-second query (first rows), with the plan and what each step read",
	 "[:find ?t ?o :where [?s :symbol/ticker \"NVDA\"] [?b :price/symbol ?s]\n"
	 "                    [?b :price/time ?t] [?b :price/open ?o]\n"
	 " :order-by [?t] :limit 3]",
	 {0}, true},
	{"Bars that opened above 150 (a comparison read as an index range)",
	 "[:find ?tk (count ?b) :where [?b :price/open ?o] [(> ?o 150.0)]\n"
	 "                        [?b :price/symbol ?s] [?s :symbol/ticker ?tk]]",
	 {0}, true},
	{"Peers, transitively (a recursive rule)",
	 "[:find ?tk ?ptk :in $ % :where [?s :symbol/ticker ?tk] (peers ?s ?p) [?p :symbol/ticker ?ptk]]",
	 {"[[(peers ?a ?b) [?a :symbol/peer ?b]]\n"
	  "  [(peers ?a ?b) [?a :symbol/peer ?x] (peers ?x ?b)]]"},
	 false},
	{"Tech tickers that have no peer (not)",
	 "[:find ?tk :where [?s :symbol/ticker ?tk] [?s :symbol/sector :tech]\n"
	 "                  (not [?s :symbol/peer _])]",
	 {0}, false},
	{"Tickers in energy, or with NVDA as a peer (or)",
	 "[:find ?tk :where [?s :symbol/ticker ?tk]\n"
	 "                  (or [?s :symbol/sector :energy]\n"
	 "                      [?s :symbol/peer [:symbol/ticker \"NVDA\"]])]",
	 {0}, false},
	{"A ticker with its peers, pulled",
	 "[:find (pull ?s [:symbol/ticker :symbol/name {:symbol/peer [:symbol/ticker]}]) .\n"
	 " :where [?s :symbol/ticker \"INTC\"]]",
	 {0}, false},
};

/* Deterministic bars: a random walk per ticker. */
static int load_bars(dl_db *db, const char *ticker, double start, uint64_t seed)
{
	dl_buf b = DL_BUF_INIT;
	double px = start;
	int rc = 0;
	for (int day = 0; day < 2 && !rc; day++) {
		b.len = 0;
		dl_buf_puts(&b, "[");
		for (int i = 0; i < 78; i++) {
			int mod = 570 + 5 * i;
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			double step = ((double)(seed >> 40) / (double)(1 << 24) - 0.5) * start * 0.01;
			double open = px, close = px + step;
			double hi = (open > close ? open : close) + start * 0.002;
			double lo = (open < close ? open : close) - start * 0.002;
			/* Monday 2026-01-05 and Tuesday, 14:30Z (9:30 New York) on */
			int hh = 14 + (30 + 5 * i) / 60, mm = (30 + 5 * i) % 60;
			dl_buf_printf(&b,
				      "{:price/symbol [:symbol/ticker \"%s\"]"
				      " :price/time #inst \"2026-01-%02dT%02d:%02d:00Z\""
				      " :price/minute-of-day %d :price/open %.2f :price/high %.2f"
				      " :price/low %.2f :price/close %.2f :price/volume %llu}\n",
				      ticker, 5 + day, hh, mm, mod, open, hi, lo, close,
				      (unsigned long long)(1000 + (seed >> 50)));
			px = close;
		}
		dl_buf_puts(&b, "]");
		rc = dl_db_transact(NULL, db, b.data, b.len, "<demo bars>");
	}
	dl_buf_free(&b);
	return rc;
}

int cli_cmd_demo(const cli_command *self, int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return cli_usage_error(self, "demo takes no arguments");
	char dir[] = "/tmp/datalite-demo-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("error: mkdtemp");
		return CLI_EXIT_DB;
	}
	char path[sizeof dir + 16], lock[sizeof dir + 32];
	snprintf(path, sizeof path, "%s/demo.db", dir);
	snprintf(lock, sizeof lock, "%s-lock", path);
	int ex = 0, rc;
	dl_db *db = NULL;
	dl_db_opts o = DL_DB_OPTS_INIT;
	o.sync = 0;
	o.map_size = (size_t)1 << 28;
	printf("datalite %s demo: an example database in %s\n\n", dl_version(), path);
	if ((rc = dl_db_open(&db, path, &o)))
		goto fail;
	if ((rc = dl_db_transact(NULL, db, k_schema, sizeof k_schema - 1, "<demo schema>")) ||
	    (rc = dl_db_transact(NULL, db, k_symbols, sizeof k_symbols - 1, "<demo symbols>")) ||
	    (rc = load_bars(db, "NVDA", 120.0, 1)) || (rc = load_bars(db, "AMD", 150.0, 2)) ||
	    (rc = load_bars(db, "INTC", 30.0, 3)) || (rc = load_bars(db, "XOM", 110.0, 4)))
		goto fail;
	/* later, a rename: the past stays queryable */
	dl_tx_result *tr = NULL;
	static const char rename[] =
		"[[:db/add [:symbol/ticker \"INTC\"] :symbol/name \"Intel Corp\"]]";
	if ((rc = dl_db_transact(&tr, db, rename, sizeof rename - 1, "<demo rename>")))
		goto fail;
	int64_t rename_tx = dl_tx_result_tx(tr);
	dl_tx_result_free(tr);
	dl_db_stat st;
	if ((rc = dl_db_stats(&st, db)))
		goto fail;
	printf("loaded %llu datoms in %llu transactions: 4 tickers, 2 days of five-minute bars\n",
	       (unsigned long long)st.datoms, (unsigned long long)st.transactions);

	for (size_t i = 0; i < sizeof k_queries / sizeof *k_queries; i++) {
		const demo_q *d = &k_queries[i];
		printf("\n== %s\n%s\n", d->title, d->q);
		for (int k = 0; k < 2 && d->args[k]; k++)
			printf("  input: %s\n", d->args[k]);
		dl_stmt *stmt = NULL;
		dl_snapshot *snap = NULL;
		dl_buf ex_text = DL_BUF_INIT;
		rc = dl_stmt_prepare(&stmt, d->q, strlen(d->q), "<demo>");
		for (unsigned k = 0; !rc && k < 2 && d->args[k]; k++)
			rc = dl_stmt_bind_edn(stmt, k, d->args[k], strlen(d->args[k]));
		if (!rc)
			rc = dl_db_snapshot(&snap, db, NULL);
		if (!rc && d->explain)
			rc = dl_stmt_explain(stmt, snap, true, &ex_text);
		if (!rc)
			rc = dl_stmt_step(stmt, snap);
		if (rc >= 0) {
			dl_qresult r = *dl_stmt_qresult(stmt);
			dl_qresult_sort(&r);
			rc = cli_print_result(stdout, &r, CLI_FMT_TABLE, 100);
			if (!rc && d->explain)
				printf("EXPLAIN ANALYZE:\n%.*s", (int)ex_text.len, ex_text.data);
		}
		dl_buf_free(&ex_text);
		dl_snapshot_end(snap);
		dl_stmt_finalize(stmt);
		if (rc < 0)
			goto fail;
	}

	/* time travel */
	const char *nq = "[:find ?n . :where [?s :symbol/ticker \"INTC\"] [?s :symbol/name ?n]]";
	printf("\n== Time travel: INTC's name now, and as of the transaction before the rename\n%s\n",
	       nq);
	for (int k = 0; k < 2; k++) {
		dl_db_view v = DL_DB_VIEW_INIT;
		if (k) {
			v.kind = DL_DB_AS_OF;
			v.t = rename_tx - 1;
		}
		dl_snapshot *snap = NULL;
		dl_stmt *stmt = NULL;
		rc = dl_stmt_prepare(&stmt, nq, strlen(nq), "<demo>");
		if (!rc)
			rc = dl_db_snapshot(&snap, db, &v);
		if (!rc)
			rc = dl_stmt_step(stmt, snap);
		if (rc == DL_ROW) {
			size_t n;
			const char *s = dl_stmt_column_text(stmt, 0, &n);
			printf("  %s: %.*s\n", k ? "as of before the rename" : "now", (int)n, s);
			rc = 0;
		}
		dl_snapshot_end(snap);
		dl_stmt_finalize(stmt);
		if (rc < 0)
			goto fail;
	}
	printf("\nTry it: datalite %s   (the REPL), or datalite query %s '[:find ...]'\n", path,
	       path);
	printf("The demo database stays in %s.\n", dir);
	goto done;
fail:
	ex = cli_report_error(rc);
done:
	if (db)
		dl_db_close(db);
	return ex;
}
