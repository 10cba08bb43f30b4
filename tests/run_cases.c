/*
 * Data-driven end-to-end tests: every *.case file under the given folder is
 * one case, an EDN map.  Adding a case means adding a file.
 *
 * Every case has
 *   :doc     a sentence saying what the case checks (required)
 * and is one of two kinds.
 *
 * EDN cases (reader and printer):
 *   :edn     EDN text to read; every top-level form is read in turn
 *   :print   with :edn, the expected canonical printing of the forms, one
 *            per line; reading that text back must print the same again
 *   :error   instead of :print, a substring of the expected error message
 *            (which must start with "<input>:line:col: ")
 *
 * Query cases (each gets a fresh, empty database in a temporary folder):
 *   :tx      [tx-data ...]: transactions applied in order (optional)
 *   :query   the query: EDN data (a vector or a map), or a string holding
 *            the query text.  From a string, every error must be positioned:
 *            its message starts with "<query>:line:col: ".
 *   :args    [input ...]: the inputs after a leading `$`, in :in order (a
 *            named source such as $2 takes a collection of tuples)
 *   :view    :history, [:as-of k] or [:since k] (k counts the :tx
 *            transactions, from 1): the database view the query reads
 *   :expect  the expected result as EDN:
 *              relation (:find ?a ?b)  a set of vectors; with :order-by,
 *                                      :limit or :offset a vector, compared
 *                                      in order (a set is compared as a set)
 *              collection [?a ...]     a set of values (or an ordered vector)
 *              scalar ?a .             the value, or nil when nothing matched
 *              tuple [?a ?b]           a vector, or nil when nothing matched
 *              :keys/:strs/:syms       rows are maps keyed as declared
 *            A vector expected for an unordered result is compared as a
 *            multiset (for :with, whose result may repeat rows).  Sets and
 *            maps compare regardless of order, lists equal vectors.
 *   :error   instead of :expect: a substring of the message of the first
 *            failure (a transaction, the parse, or the run)
 *   :explain-contains  [text ...]: substrings of the EXPLAIN text
 *            (dl_query_explain, estimates only)
 *   :analyze-contains  [text ...]: substrings of the EXPLAIN ANALYZE text
 *            (the plan with actual figures, after running)
 *   A query with :expect is also run with nested q subqueries forced to
 *   run once per input tuple and batched (exec.h, dl_subq_mode): both must
 *   give the expected answer; one taking rules (%) also with every rule
 *   table evaluated the general way (dl_rules_mode: no right-linear
 *   closure); and every one also with the loose index scan for min/max
 *   per group off and forced wherever it applies (dl_loose_mode).
 *   A query case has :query with at least one of :expect, :error,
 *   :explain-contains or :analyze-contains; or :tx and :error alone, for
 *   transactions that must fail.  Unknown keys are an error (typos).
 *
 * Prints one line per failure and a closing "N passed, N failed" line.
 */
#include "datalite.h"
#include "query/ast.h"
#include "query/exec.h"
#include "tx/tx.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QUERY_SOURCE "<query>"
#define CASE_TIMEOUT_MS 20000 /* a runaway query fails its case, not the suite */

static char g_tmpdir[4096]; /* one temporary folder for the whole run */
static int g_dbn;

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

static const dl_value *map_get(const dl_value *m, const char *key)
{
	uint32_t id = dl_intern_find(key, strlen(key));
	for (uint32_t i = 0; id && i < m->len; i++) {
		const dl_value *k = &m->u.items[2 * i];
		if (k->type == DL_KEYWORD && k->u.id == id)
			return &m->u.items[2 * i + 1];
	}
	return NULL;
}

static bool is_string(const dl_value *v) { return v && v->type == DL_STRING; }
static bool is_seq(const dl_value *v)
{
	return v && (v->type == DL_VECTOR || v->type == DL_LIST);
}

static bool is_keyword(const dl_value *v, const char *name)
{
	size_t n;
	return v && v->type == DL_KEYWORD &&
	       strcmp(dl_intern_name(v->u.id, &n, NULL), name) == 0;
}

/* Print v into a static buffer slot (two slots, for "got X, expected Y"). */
static const char *show(const dl_value *v)
{
	static char slots[2][1800];
	static int next;
	char *s = slots[next++ & 1];
	dl_buf b = DL_BUF_INIT;
	if (dl_edn_print(&b, v) != 0)
		snprintf(s, sizeof slots[0], "<unprintable: %s>", dl_errmsg());
	else
		snprintf(s, sizeof slots[0], "%s", b.data ? b.data : "");
	if (b.len >= sizeof slots[0])
		memcpy(s + sizeof slots[0] - 4, "...", 4);
	dl_buf_free(&b);
	return s;
}

/* ---- EDN cases ------------------------------------------------------------ */

/* Read all forms of `text`, printing each on its own line into out.
 * Returns 0 or the reader's error code. */
static int read_print_all(dl_buf *out, dl_arena *a, const char *text, size_t len)
{
	dl_edn_reader r;
	dl_edn_opts o = DL_EDN_OPTS_INIT;
	dl_edn_reader_init(&r, text, len, &o);
	for (int first = 1;; first = 0) {
		dl_value v;
		int rc = dl_edn_reader_next(&r, &v, a);
		if (rc == DL_ENOTFOUND)
			return 0;
		if (rc)
			return rc;
		if (!first && dl_buf_puts(out, "\n"))
			return DL_ENOMEM;
		if ((rc = dl_edn_print(out, &v)))
			return rc;
	}
}

static int run_edn_case(const dl_value *c, dl_arena *a, char *why, size_t whylen)
{
	const dl_value *edn = map_get(c, "edn");
	const dl_value *print = map_get(c, "print");
	const dl_value *error = map_get(c, "error");
	if (!is_string(edn) || (!is_string(print) == !is_string(error))) {
		snprintf(why, whylen, ":edn needs a string and exactly one of :print or :error");
		return 1;
	}
	dl_buf out = DL_BUF_INIT, again = DL_BUF_INIT;
	int failed = 0;
	int rc = read_print_all(&out, a, edn->u.s, edn->len);
	if (is_string(error)) {
		char want[512];
		snprintf(want, sizeof want, "%.*s", (int)error->len, error->u.s);
		if (rc == 0) {
			snprintf(why, whylen, "expected error containing \"%s\", got success: %s",
				 want, out.data ? out.data : "");
			failed = 1;
		} else if (!strstr(dl_errmsg(), want) || strncmp(dl_errmsg(), "<input>:", 8) != 0) {
			snprintf(why, whylen, "expected positioned error containing \"%s\", got \"%s\"",
				 want, dl_errmsg());
			failed = 1;
		}
	} else if (rc != 0) {
		snprintf(why, whylen, "unexpected error: %s", dl_errmsg());
		failed = 1;
	} else {
		const char *got = out.data ? out.data : "";
		if (strlen(got) != print->len || memcmp(got, print->u.s, print->len) != 0) {
			snprintf(why, whylen, "printed\n    %s\n  expected\n    %.*s", got,
				 (int)print->len, print->u.s);
			failed = 1;
		} else if ((rc = read_print_all(&again, a, got, strlen(got))) != 0 ||
			   strcmp(again.data ? again.data : "", got) != 0) {
			snprintf(why, whylen, "printing is not stable: %s -> %s", got,
				 rc ? dl_errmsg() : again.data);
			failed = 1;
		}
	}
	dl_buf_free(&out);
	dl_buf_free(&again);
	return failed;
}

/* ---- comparing values regardless of set and map order --------------------- */

static int cmp_values(const void *x, const void *y) { return dl_value_compare(x, y); }

static int cmp_pairs(const void *x, const void *y)
{
	return dl_value_compare((const dl_value *)x, (const dl_value *)y);
}

/* A copy of v in which lists are vectors, set items are sorted and map
 * pairs are sorted by key, recursively, so dl_value_compare decides
 * Clojure-style equality. */
static int canon(dl_value *out, dl_arena *a, const dl_value *v)
{
	if (v->type != DL_VECTOR && v->type != DL_LIST && v->type != DL_SET && v->type != DL_MAP) {
		*out = *v;
		return 0;
	}
	size_t n = v->type == DL_MAP ? 2 * (size_t)v->len : v->len;
	dl_value *items = dl_arena_alloc(a, (n ? n : 1) * sizeof *items);
	if (!items)
		return DL_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (canon(&items[i], a, &v->u.items[i]))
			return DL_ENOMEM;
	if (v->type == DL_SET)
		qsort(items, n, sizeof *items, cmp_values);
	else if (v->type == DL_MAP)
		qsort(items, v->len, 2 * sizeof *items, cmp_pairs);
	*out = *v;
	if (out->type == DL_LIST)
		out->type = DL_VECTOR;
	out->u.items = items;
	return 0;
}

/* ---- query cases ------------------------------------------------------------ */

/* The value of one result row: a vector, or a map for :keys/:strs/:syms. */
static int row_value(dl_value *out, dl_arena *a, const dl_qresult *r, size_t row)
{
	const dl_value *cells = &r->rows[row * r->ncols];
	if (r->keys_kind == DL_KEYS_NONE) {
		dl_value *items = dl_arena_alloc(a, (r->ncols ? r->ncols : 1) * sizeof *items);
		if (!items)
			return DL_ENOMEM;
		memcpy(items, cells, r->ncols * sizeof *items);
		*out = (dl_value){.type = DL_VECTOR, .len = r->ncols, .u.items = items};
		return 0;
	}
	dl_value *items = dl_arena_alloc(a, (r->ncols ? 2 * (size_t)r->ncols : 1) * sizeof *items);
	if (!items)
		return DL_ENOMEM;
	for (uint32_t i = 0; i < r->ncols; i++) {
		const char *k = r->keys ? r->keys[i] : "?";
		int rc = 0;
		if (r->keys_kind == DL_KEYS_KEYS)
			rc = dl_keyword(&items[2 * i], k, strlen(k));
		else if (r->keys_kind == DL_KEYS_SYMS)
			rc = dl_symbol(&items[2 * i], k, strlen(k));
		else
			items[2 * i] = dl_string(k, strlen(k));
		if (rc)
			return rc;
		items[2 * i + 1] = cells[i];
	}
	*out = (dl_value){.type = DL_MAP, .len = r->ncols, .u.items = items};
	return 0;
}

/* The whole result as one EDN value: scalar, tuple (or nil), or a vector
 * of rows/values in result order. */
static int result_value(dl_value *out, dl_arena *a, const dl_qresult *r)
{
	if (r->find_spec == DL_FIND_SCALAR) {
		*out = r->nrows && r->ncols ? r->rows[0] : dl_nil();
		return 0;
	}
	if (r->find_spec == DL_FIND_TUPLE) {
		if (!r->nrows) {
			*out = dl_nil();
			return 0;
		}
		return row_value(out, a, r, 0);
	}
	dl_value *items = dl_arena_alloc(a, (r->nrows ? r->nrows : 1) * sizeof *items);
	if (!items)
		return DL_ENOMEM;
	for (size_t i = 0; i < r->nrows; i++) {
		if (r->find_spec == DL_FIND_COLL && r->keys_kind == DL_KEYS_NONE)
			items[i] = r->rows[i * r->ncols];
		else
			DL_TRY(row_value(&items[i], a, r, i));
	}
	*out = (dl_value){.type = DL_VECTOR, .len = (uint32_t)r->nrows, .u.items = items};
	return 0;
}

static bool collection_result(const dl_qresult *r)
{
	return r->find_spec == DL_FIND_REL || r->find_spec == DL_FIND_COLL;
}

/* Compare the result with :expect; 0 if they agree. */
static int check_expect(const dl_qresult *r, const dl_value *expect, dl_arena *a, char *why,
			size_t whylen)
{
	dl_value got, want;
	if (result_value(&got, a, r) || canon(&want, a, expect)) {
		snprintf(why, whylen, "out of memory comparing results");
		return 1;
	}
	if (r->find_spec == DL_FIND_COLL && r->ncols != 1) {
		snprintf(why, whylen, "a collection result has %u columns", r->ncols);
		return 1;
	}
	if (collection_result(r)) {
		/* got: a vector of rows in result order */
		dl_value cgot;
		if (canon(&cgot, a, &got))
			return 1;
		bool in_order = r->ordered && want.type == DL_VECTOR;
		if (!in_order) {
			/* a multiset comparison: sort both (duplicates kept) */
			dl_value *gi = (dl_value *)cgot.u.items;
			qsort(gi, cgot.len, sizeof *gi, cmp_values);
			if (want.type == DL_VECTOR) {
				dl_value *wi = (dl_value *)want.u.items;
				qsort(wi, want.len, sizeof *wi, cmp_values);
			}
			if (want.type == DL_SET) {
				want.type = DL_VECTOR; /* items already sorted by canon */
			}
		}
		if (want.type != DL_VECTOR || dl_value_compare(&cgot, &want) != 0) {
			dl_value shown = cgot;
			shown.type = in_order ? DL_VECTOR : DL_SET;
			snprintf(why, whylen, "got %s%s\n    expected %s", show(&shown),
				 in_order ? " (in this order)" : "", show(expect));
			return 1;
		}
		return 0;
	}
	dl_value cgot;
	if (canon(&cgot, a, &got))
		return 1;
	if (dl_value_compare(&cgot, &want) != 0) {
		snprintf(why, whylen, "got %s\n    expected %s", show(&got), show(expect));
		return 1;
	}
	return 0;
}

/* Every string of `list` must occur in text; 0 if so. */
static int check_contains(const char *what, const dl_value *list, const char *text, char *why,
			  size_t whylen)
{
	if (!is_seq(list)) {
		snprintf(why, whylen, ":%s needs a vector of strings", what);
		return 1;
	}
	for (uint32_t i = 0; i < list->len; i++) {
		const dl_value *s = &list->u.items[i];
		if (!is_string(s)) {
			snprintf(why, whylen, ":%s needs a vector of strings", what);
			return 1;
		}
		char want[512];
		snprintf(want, sizeof want, "%.*s", (int)s->len, s->u.s);
		if (!strstr(text, want)) {
			snprintf(why, whylen, "%s text lacks \"%s\":\n%s", what, want, text);
			return 1;
		}
	}
	return 0;
}

/* "<query>:L:C: " at the start of msg. */
static bool positioned(const char *msg)
{
	size_t n = strlen(QUERY_SOURCE);
	if (strncmp(msg, QUERY_SOURCE ":", n + 1) != 0)
		return false;
	const char *p = msg + n + 1;
	for (int part = 0; part < 2; part++) {
		if (*p < '1' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p++ != ':')
			return false;
	}
	return *p == ' ';
}

/* The expected failure happened (rc != 0): check its message. */
static int check_error(const dl_value *error, bool need_pos, char *why, size_t whylen)
{
	char want[512];
	snprintf(want, sizeof want, "%.*s", (int)error->len, error->u.s);
	if (!strstr(dl_errmsg(), want)) {
		snprintf(why, whylen, "expected an error containing \"%s\", got \"%s\"", want,
			 dl_errmsg());
		return 1;
	}
	if (need_pos && !positioned(dl_errmsg())) {
		snprintf(why, whylen,
			 "the error should start with \"" QUERY_SOURCE ":line:col: \": \"%s\"",
			 dl_errmsg());
		return 1;
	}
	return 0;
}

static const char *const k_query_keys[] = {
	"doc",	  "tx",	   "query",	       "args",		   "view",
	"expect", "error", "explain-contains", "analyze-contains",
};

static int check_keys(const dl_value *c, char *why, size_t whylen)
{
	for (uint32_t i = 0; i < c->len; i++) {
		const dl_value *k = &c->u.items[2 * i];
		bool known = false;
		for (size_t j = 0; !known && j < sizeof k_query_keys / sizeof *k_query_keys; j++)
			known = is_keyword(k, k_query_keys[j]);
		if (!known) {
			snprintf(why, whylen, "unknown key %s in a query case", show(k));
			return 1;
		}
	}
	return 0;
}

/* The view named by :view, given the tx ids of the :tx transactions. */
static int parse_view(dl_view *out, const dl_value *v, const int64_t *txs, size_t ntx, char *why,
		      size_t whylen)
{
	*out = (dl_view){DL_VIEW_CURRENT, 0};
	if (!v)
		return 0;
	if (is_keyword(v, "history")) {
		out->kind = DL_VIEW_HISTORY;
		return 0;
	}
	if (v->type == DL_VECTOR && v->len == 2 && v->u.items[1].type == DL_INT &&
	    (is_keyword(&v->u.items[0], "as-of") || is_keyword(&v->u.items[0], "since"))) {
		int64_t k = v->u.items[1].u.i;
		if (k < 1 || (size_t)k > ntx) {
			snprintf(why, whylen, ":view counts the :tx transactions from 1 to %zu", ntx);
			return 1;
		}
		out->kind = is_keyword(&v->u.items[0], "as-of") ? DL_VIEW_AS_OF : DL_VIEW_SINCE;
		out->t = txs[k - 1];
		return 0;
	}
	snprintf(why, whylen, ":view is :history, [:as-of k] or [:since k]");
	return 1;
}

typedef struct qcase {
	const dl_value *tx, *query, *args, *view, *expect, *error, *explain, *analyze;
} qcase;

/* Does the query (or a rule set among its inputs) hold a nested q? */
static bool nested_q(const dl_query *q, const dl_value *args)
{
	dl_buf b = DL_BUF_INIT;
	bool has = dl_query_print(&b, q) == 0 && b.data && strstr(b.data, "(q ");
	for (uint32_t i = 0; !has && args && i < args->len; i++) {
		b.len = 0;
		has = dl_edn_print(&b, &args->u.items[i]) == 0 && b.data && strstr(b.data, "(q ");
	}
	dl_buf_free(&b);
	return has;
}

static bool has_rules(const dl_query *q)
{
	for (uint32_t i = 0; i < q->nin; i++)
		if (q->in[i].kind == DL_IN_RULES)
			return true;
	return false;
}

static int run_query_on(const qcase *k, dl_store *s, dl_arena *a, char *why, size_t whylen)
{
	/* the transactions */
	int64_t txs[256];
	size_t ntx = 0;
	if (k->tx) {
		if (!is_seq(k->tx) || k->tx->len > 256) {
			snprintf(why, whylen, ":tx needs a vector of (at most 256) tx-data vectors");
			return 1;
		}
		for (uint32_t i = 0; i < k->tx->len; i++) {
			dl_tx_report rep;
			dl_tx_opts to = DL_TX_OPTS_INIT;
			int rc = dl_tx_run(&rep, a, s, &k->tx->u.items[i], &to);
			if (rc) {
				if (k->error)
					return check_error(k->error, false, why, whylen);
				snprintf(why, whylen, "transaction %u failed: %s", i + 1, dl_errmsg());
				return 1;
			}
			txs[ntx++] = rep.tx;
		}
	}
	if (!k->query) {
		snprintf(why, whylen, "expected an error containing \"%.*s\", but the transactions succeeded",
			 (int)k->error->len, k->error->u.s);
		return 1;
	}

	/* the query */
	bool from_text = is_string(k->query);
	dl_query *q = NULL;
	int rc = from_text ? dl_query_parse(&q, a, k->query->u.s, k->query->len, QUERY_SOURCE)
			   : dl_query_parse_value(&q, a, k->query, QUERY_SOURCE);
	if (rc) {
		if (k->error)
			return check_error(k->error, from_text, why, whylen);
		snprintf(why, whylen, "the query does not parse: %s", dl_errmsg());
		return 1;
	}
	const dl_value *inputs = NULL;
	size_t ninputs = 0;
	if (k->args) {
		if (!is_seq(k->args)) {
			snprintf(why, whylen, ":args needs a vector of inputs");
			return 1;
		}
		inputs = k->args->u.items;
		ninputs = k->args->len;
	}
	dl_qopts opts = DL_QOPTS_INIT;
	if (parse_view(&opts.view, k->view, txs, ntx, why, whylen))
		return 1;
	opts.timeout_ms = CASE_TIMEOUT_MS;
	opts.seed = 42;

	dl_snap *snap;
	if (dl_snap_begin(&snap, s)) {
		snprintf(why, whylen, "cannot begin a snapshot: %s", dl_errmsg());
		return 1;
	}
	int failed = 0;
	dl_buf explain = DL_BUF_INIT;
	if (k->expect || k->error || k->analyze) {
		dl_qresult res;
		opts.analyze = k->analyze != NULL;
		rc = dl_query_run(&res, a, snap, q, inputs, ninputs, &opts,
				  k->analyze ? &explain : NULL);
		opts.analyze = false;
		if (rc && k->error) {
			failed = check_error(k->error, from_text, why, whylen);
			goto done;
		}
		if (rc) {
			snprintf(why, whylen, "the query failed: %s", dl_errmsg());
			failed = 1;
			goto done;
		}
		if (k->error) {
			dl_value got;
			if (result_value(&got, a, &res) == 0)
				snprintf(why, whylen,
					 "expected an error containing \"%.*s\", got the result %s",
					 (int)k->error->len, k->error->u.s, show(&got));
			failed = 1;
			goto done;
		}
		if (k->expect && (failed = check_expect(&res, k->expect, a, why, whylen)))
			goto done;
		/* nested q: the same answer run once per input tuple and batched */
		for (uint8_t m = DL_SUBQ_PER_CALL; k->expect && nested_q(q, k->args) &&
						   m <= DL_SUBQ_BATCHED;
		     m++) {
			dl_qopts mo = opts;
			mo.subq = m;
			if (dl_query_run(&res, a, snap, q, inputs, ninputs, &mo, NULL)) {
				snprintf(why, whylen, "the query failed with nested q %s: %s",
					 m == DL_SUBQ_BATCHED ? "batched" : "per call", dl_errmsg());
				failed = 1;
				goto done;
			}
			if ((failed = check_expect(&res, k->expect, a, why, whylen))) {
				size_t l = strlen(why);
				snprintf(why + l, whylen - l, " (nested q %s)",
					 m == DL_SUBQ_BATCHED ? "batched" : "per call");
				goto done;
			}
		}
		/* rules: the same answer with every table evaluated the general way */
		if (k->expect && has_rules(q)) {
			dl_qopts mo = opts;
			mo.rules = DL_RULES_GENERAL;
			if (dl_query_run(&res, a, snap, q, inputs, ninputs, &mo, NULL)) {
				snprintf(why, whylen, "the query failed with general rule evaluation: %s",
					 dl_errmsg());
				failed = 1;
				goto done;
			}
			if ((failed = check_expect(&res, k->expect, a, why, whylen))) {
				size_t l = strlen(why);
				snprintf(why + l, whylen - l, " (general rule evaluation)");
				goto done;
			}
		}
		/* min/max per group: the same answer without the loose index
		 * scan and with it wherever it applies, budget or not */
		for (uint8_t m = DL_LOOSE_OFF; k->expect && m <= DL_LOOSE_ALWAYS; m++) {
			dl_qopts mo = opts;
			mo.loose = m;
			const char *how = m == DL_LOOSE_OFF ? "off" : "always";
			if (dl_query_run(&res, a, snap, q, inputs, ninputs, &mo, NULL)) {
				snprintf(why, whylen, "the query failed with the loose index scan %s: %s",
					 how, dl_errmsg());
				failed = 1;
				goto done;
			}
			if ((failed = check_expect(&res, k->expect, a, why, whylen))) {
				size_t l = strlen(why);
				snprintf(why + l, whylen - l, " (loose index scan %s)", how);
				goto done;
			}
		}
		if (k->analyze &&
		    (failed = check_contains("analyze-contains", k->analyze,
					     explain.data ? explain.data : "", why, whylen)))
			goto done;
	}
	if (k->explain) {
		dl_buf plan = DL_BUF_INIT;
		rc = dl_query_explain(&plan, snap, q, inputs, ninputs, &opts);
		if (rc) {
			snprintf(why, whylen, "EXPLAIN failed: %s", dl_errmsg());
			failed = 1;
		} else {
			failed = check_contains("explain-contains", k->explain,
						plan.data ? plan.data : "", why, whylen);
		}
		dl_buf_free(&plan);
	}
done:
	dl_buf_free(&explain);
	dl_snap_end(snap);
	return failed;
}

static int run_query_case(const dl_value *c, dl_arena *a, char *why, size_t whylen)
{
	if (check_keys(c, why, whylen))
		return 1;
	qcase k = {
		map_get(c, "tx"),     map_get(c, "query"),  map_get(c, "args"),
		map_get(c, "view"),   map_get(c, "expect"), map_get(c, "error"),
		map_get(c, "explain-contains"), map_get(c, "analyze-contains"),
	};
	if (k.error && !is_string(k.error)) {
		snprintf(why, whylen, ":error needs a string");
		return 1;
	}
	if (k.error && k.expect) {
		snprintf(why, whylen, "a case has :expect or :error, not both");
		return 1;
	}
	if (k.query ? !(k.expect || k.error || k.explain || k.analyze) : !(k.tx && k.error)) {
		snprintf(why, whylen,
			 "a query case needs :query with :expect, :error, :explain-contains or "
			 ":analyze-contains (or :tx with :error)");
		return 1;
	}
	if (k.query && !is_string(k.query) && k.query->type != DL_VECTOR &&
	    k.query->type != DL_MAP && k.query->type != DL_LIST) {
		snprintf(why, whylen, ":query needs a vector, a map or a string");
		return 1;
	}

	char path[4200], lock[4300];
	snprintf(path, sizeof path, "%s/case%d.db", g_tmpdir, g_dbn++);
	snprintf(lock, sizeof lock, "%s-lock", path);
	dl_store_opts so = DL_STORE_OPTS_INIT;
	so.sync = 0;
	so.map_size = (size_t)1 << 28; /* small: valgrind cannot map the default */
	dl_store *s = NULL;
	if (dl_store_open(&s, path, &so)) {
		snprintf(why, whylen, "cannot create a database at %s: %s", path, dl_errmsg());
		return 1;
	}
	int failed = run_query_on(&k, s, a, why, whylen);
	dl_store_close(s);
	unlink(path);
	unlink(lock);
	return failed;
}

/* ---- driver ----------------------------------------------------------------- */

static int run_case(const char *path, char *why, size_t whylen)
{
	size_t n;
	char *text = slurp(path, &n);
	if (!text) {
		snprintf(why, whylen, "cannot read the file");
		return 1;
	}
	dl_arena a = DL_ARENA_INIT;
	dl_value c;
	size_t used;
	dl_edn_opts o = DL_EDN_OPTS_INIT;
	o.source = path;
	int failed = 1;
	if (dl_edn_read(&c, &used, &a, text, n, &o) != 0) {
		snprintf(why, whylen, "the case file is not EDN: %s", dl_errmsg());
	} else if (c.type != DL_MAP || !is_string(map_get(&c, "doc"))) {
		snprintf(why, whylen, "a case is an EDN map with a :doc string");
	} else if (map_get(&c, "edn")) {
		failed = run_edn_case(&c, &a, why, whylen);
	} else if (map_get(&c, "query") || map_get(&c, "tx")) {
		failed = run_query_case(&c, &a, why, whylen);
	} else {
		snprintf(why, whylen, "no runner for this case's keys");
	}
	dl_arena_free(&a);
	free(text);
	return failed;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: run_cases DIR\n");
		return 2;
	}
	DIR *d = opendir(argv[1]);
	if (!d) {
		perror(argv[1]);
		return 2;
	}
	const char *tmp = getenv("DL_TEST_TMP");
	if (!tmp || !*tmp)
		tmp = getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = "/tmp";
	snprintf(g_tmpdir, sizeof g_tmpdir, "%s/dl_cases.XXXXXX", tmp);
	if (!mkdtemp(g_tmpdir)) {
		perror(g_tmpdir);
		closedir(d);
		return 2;
	}
	char **names = NULL;
	size_t count = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l > 5 && strcmp(e->d_name + l - 5, ".case") == 0) {
			names = realloc(names, (count + 1) * sizeof *names);
			names[count++] = strdup(e->d_name);
		}
	}
	closedir(d);
	qsort(names, count, sizeof *names, cmp_names);
	int passed = 0, failed = 0;
	for (size_t i = 0; i < count; i++) {
		char path[4096], why[8192];
		snprintf(path, sizeof path, "%s/%s", argv[1], names[i]);
		if (run_case(path, why, sizeof why)) {
			printf("FAIL %s: %s\n", names[i], why);
			failed++;
		} else {
			passed++;
		}
		fflush(stdout);
		free(names[i]);
	}
	free(names);
	rmdir(g_tmpdir);
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0 || passed == 0;
}
