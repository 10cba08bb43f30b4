/*
 * query/exec: run a parsed query (ast.h) against a read snapshot.
 *
 * The planner (plan.c) orders the :where clauses by cost from the storage
 * statistics and chooses, per step, the index and the join algorithm; the
 * executor (exec.c) runs the steps over in-memory relations (columns of
 * dl_value, one per bound variable), re-planning the remaining steps when
 * a step's actual size is far from its estimate.  The result is a
 * materialized, de-duplicated (or ordered) table of find values.
 *
 * Entity ids are plain DL_INT values inside the executor and in results
 * (as in DataScript and Datomic, where they are longs).
 *
 * Ownership: everything in a dl_qresult (rows, strings, column names)
 * lives in the arena passed to dl_query_run and is independent of the
 * snapshot, so the snapshot may end before the result is read.
 */
#ifndef DL_QUERY_EXEC_H
#define DL_QUERY_EXEC_H

#include "query/ast.h"
#include "storage/store.h"

#include <stdatomic.h>

/* The most threads one query uses (dl_qopts.threads is capped to it). */
#define DL_MAX_THREADS 16

typedef struct dl_qopts {
	dl_view view;            /* current, as-of, since or history */
	int64_t timeout_ms;      /* 0: none (the query's :timeout also applies; the smaller wins) */
	uint64_t max_rows;       /* budget on any intermediate relation; 0: default (50M) */
	uint64_t max_bytes;      /* budget on query memory; 0: default (4 GiB) */
	atomic_bool *cancel;     /* set from another thread to cancel; may be NULL */
	uint64_t seed;           /* for rand/sample */
	bool analyze;            /* collect per-step figures for EXPLAIN ANALYZE */
	int threads;             /* worker threads for parallel work: 0 = one per
				    processor (at most 16), 1 = none */
	double par_scan_min;     /* scans estimated at this many datoms or more are
				    split between the threads; 0: 65,536 (tests
				    lower it) */
	uint8_t subq;            /* nested q: dl_subq_mode (tests force one) */
	uint8_t rules;           /* rule tables: dl_rules_mode (tests force one) */
	uint8_t loose;           /* min/max per group: dl_loose_mode (tests force one) */
} dl_qopts;

/* How a nested q runs over its distinct input tuples: chosen by size
 * (AUTO), once per tuple (split over the worker pool), or once over all of
 * them where the subquery allows it (BATCHED; see exec.c, subq_batch). */
typedef enum dl_subq_mode { DL_SUBQ_AUTO = 0, DL_SUBQ_PER_CALL, DL_SUBQ_BATCHED } dl_subq_mode;

/* How rule tables are evaluated: right-linear ones as a closure where it
 * applies (AUTO; rules.c), or every table by the general semi-naive
 * evaluation (GENERAL: tests compare the two). */
typedef enum dl_rules_mode { DL_RULES_AUTO = 0, DL_RULES_GENERAL } dl_rules_mode;

/* Whether min/max per group may walk the aggregated attribute's value
 * index from its best end (loose.c): where it applies and within a budget
 * from the normal plan's cost (AUTO), never (OFF), or wherever it applies,
 * with no budget (ALWAYS: tests compare it with OFF). */
typedef enum dl_loose_mode { DL_LOOSE_AUTO = 0, DL_LOOSE_OFF, DL_LOOSE_ALWAYS } dl_loose_mode;

#define DL_QOPTS_INIT {{DL_VIEW_CURRENT, 0}, 0, 0, 0, NULL, 0, false, 0, 0, 0, 0, 0}

typedef struct dl_qresult {
	uint8_t find_spec;       /* dl_find_spec: REL, SCALAR, COLL or TUPLE */
	bool ordered;            /* :order-by, :limit or :offset given: keep row order
				    (print a relation as a vector, not a set) */
	bool bag;                /* :with without aggregates: rows may repeat (print
				    as a vector, compare as a multiset) */
	uint8_t keys_kind;       /* dl_keys_kind: rows print as maps when != NONE */
	uint32_t ncols;
	const char **colnames;   /* "?a", "(sum ?x)", ... (NUL-terminated) */
	const char **keys;       /* the :keys/:strs/:syms names (without ':'), or NULL */
	size_t nrows;            /* SCALAR / TUPLE: 0 or 1 */
	dl_value *rows;          /* nrows * ncols, row-major */
} dl_qresult;

/* Inputs for the :in entries after the default `$`: one value per :in
 * entry in order, skipping only a leading `$` (so `:in $ ?x [?y ...] %`
 * takes three values: ?x's, the collection, and the rules vector).  A
 * source other than the first `$` takes a collection of tuples. */

/** Run q on snap.  On success *out is filled (memory in `a`).  When
 *  `explain` is not NULL the plan is appended to it as text: with
 *  opts->analyze, after running, with actual figures per step. Errors:
 *  DL_EINVAL for a query that cannot run (unbound variable, bad input...),
 *  DL_ETIMEOUT, DL_ECANCELED, DL_ELIMIT for budgets, with a message naming
 *  the clause and its line:col. */
int dl_query_run(dl_qresult *out, dl_arena *a, dl_snap *snap, const dl_query *q,
		 const dl_value *inputs, size_t ninputs, const dl_qopts *opts,
		 dl_buf *explain);

/** Sort an unordered answer's rows by value (a relation is a set: the
 *  engine returns it in no particular order; printing wants a stable one). */
void dl_qresult_sort(dl_qresult *r);

/** Plan q without running it: the EXPLAIN text (estimates only). */
int dl_query_explain(dl_buf *out, dl_snap *snap, const dl_query *q,
		     const dl_value *inputs, size_t ninputs, const dl_qopts *opts);

#endif
