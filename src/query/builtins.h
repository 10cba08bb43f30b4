/*
 * builtins: the functions callable from query predicate and function
 * clauses ([(< ?a 10)], [(str ?a "x") ?s]) and the find-spec aggregates
 * ((sum ?x), (max 3 ?x)).
 *
 * Both registries are sorted static tables searched by binary search on the
 * symbol's name, so lookups are lock-free and allocation-free.  The planner
 * looks a name up once per clause; the executor then calls `fn` per row.
 *
 * Conventions for functions:
 *  - `fn(out, a, args, nargs, ctx)` returns 0 with *out set, or a negative
 *    dl_errcode with a message "<name>: <problem>".  Arity must have been
 *    checked (dl_builtin_check_arity, once per clause, or dl_builtin_call
 *    which checks on every call); functions index args[] within it.
 *  - Predicates return a boolean; a predicate clause passes iff the result
 *    is truthy (dl_truthy: neither nil nor false).  Any function may be
 *    used as a predicate, as in Datomic.
 *  - Results that need memory (strings, vectors) are placed in arena `a`;
 *    numeric and boolean results allocate nothing.  Results may borrow
 *    from the arguments (identity, get, re-find's match of the whole
 *    input...), so they live as long as both the arguments and `a`.
 *  - Functions that need the database (DL_BI_NEEDS_DB: get-else, get-some,
 *    missing?) do NOT receive the source var: the executor strips a leading
 *    `$`/`$src` argument, binds ctx->db to that source, and passes the
 *    rest: (get-else $ ?e :a 0) calls get-else with args [?e :a 0].
 */
#ifndef DL_QUERY_BUILTINS_H
#define DL_QUERY_BUILTINS_H

#include "base.h"

#include <regex.h>

/* ---- the function context ---------------------------------------------- */

/* Compiled regexes kept per context, so a pattern used on every row is
 * compiled once (see fn_str.c). */
#define DL_FN_RE_CACHE 8

typedef struct dl_fn_re_slot {
	char *pattern; /* the source text as given (dl_malloc'd), NULL if empty */
	size_t len;
	regex_t re;
	uint64_t noncap; /* bit k: POSIX group k came from (?:...) */
	uint64_t used; /* for least-recently-used replacement */
} dl_fn_re_slot;

typedef struct dl_fn_ctx dl_fn_ctx;
struct dl_fn_ctx {
	/* The database snapshot the db functions read (ctx->db is passed to the
	 * hook below untouched).  NULL with no database. */
	void *db;
	/*
	 * The storage hook behind get-else, get-some and missing?.  Look up the
	 * value(s) of attribute `attr` (a keyword, or whatever the query wrote)
	 * on entity `e` (a ref or int entity id, or an ident/lookup ref the
	 * hook may resolve).  On success return 0 and set *found; if found,
	 * *out receives the first value in index order (memory from `a` or the
	 * snapshot).  Errors (unknown attribute, cardinality-many attribute
	 * where the caller forbids it...) are returned as negative codes with
	 * the thread's message set.  `card_many_ok` is false for get-else and
	 * get-some, which Datomic restricts to cardinality-one attributes.
	 */
	int (*attr_value)(void *db, const dl_value *e, const dl_value *attr,
			  bool card_many_ok, dl_value *out, bool *found, dl_arena *a);
	/* Seed for rand, rand-int and the rand/sample aggregates: the same
	 * seed gives the same results. */
	uint64_t seed;
	uint64_t rng;      /* running state of rand/rand-int (from seed) */
	bool rng_started;
	dl_buf scratch;    /* reused by str, so it allocates once per query */
	uint64_t re_clock;
	dl_fn_re_slot re[DL_FN_RE_CACHE];
};

/** Prepare a context (no database, seed 0). */
void dl_fn_ctx_init(dl_fn_ctx *ctx);
/** Release what the context holds (the compiled regexes). */
void dl_fn_ctx_fini(dl_fn_ctx *ctx);

/* ---- functions ------------------------------------------------------------ */

typedef int (*dl_fn)(dl_value *out, dl_arena *a, const dl_value *args,
		     size_t nargs, dl_fn_ctx *ctx);

enum {
	DL_BI_PREDICATE = 1 << 0, /* returns a boolean */
	DL_BI_NEEDS_DB = 1 << 1,  /* reads ctx->db through ctx->attr_value */
	DL_BI_PURE = 1 << 2,      /* same args, same result: may be folded */
};

typedef struct dl_builtin {
	const char *name;
	dl_fn fn;
	int min_args, max_args; /* max_args -1: variadic */
	unsigned flags;         /* DL_BI_* */
} dl_builtin;

/** The builtin named name[0..n) ("<", "clojure.string/includes?"...), or
 *  NULL.  Lock-free, allocation-free. */
const dl_builtin *dl_builtin_find(const char *name, size_t n);
/** What b is on two ints when it is a comparison: '=', '!' (not equal),
 *  '<', 'l' (<=), '>', 'g' (>=); 0 when it is not one.  The executor
 *  compares two ints itself instead of calling b->fn. */
char dl_builtin_int_cmp(const dl_builtin *b);
/** Check `nargs` against b's arity; DL_EINVAL with a message if wrong. */
int dl_builtin_check_arity(const dl_builtin *b, size_t nargs);
/** Check the arity, then call. */
int dl_builtin_call(const dl_builtin *b, dl_value *out, dl_arena *a,
		    const dl_value *args, size_t nargs, dl_fn_ctx *ctx);
/** The whole table (sorted by name), for listings and tests. */
const dl_builtin *dl_builtin_table(size_t *n);

/** Clojure truthiness: everything but nil and false. */
static inline bool dl_truthy(const dl_value *v)
{
	return !(v->type == DL_NIL || (v->type == DL_BOOL && !v->u.b));
}

/* ---- aggregates ----------------------------------------------------------- */

/*
 * A streaming accumulator.  The executor, per group:
 *
 *     void *st = dl_arena_alloc(a, agg->state_size);
 *     agg->init(st, a, params, nparams, ctx);   // (max 3 ?x): params [3]
 *     for each value: agg->step(st, &v);
 *     agg->finish(&out, a, st);
 *
 * The state lives in arena `a` and keeps using it: values the state must
 * retain (min, max, distinct, median...) are deep-copied into it, so the
 * caller may reuse its row buffers between steps.  Nothing is freed
 * individually; resetting the arena drops every state at once.  `params`
 * are the constant arguments before the variable, checked by init (n must
 * be a non-negative int).  finish may be called once.
 *
 * With no values: count and count-distinct give 0, distinct #{}, the
 * n-forms [], everything else nil.
 */
typedef struct dl_aggregate {
	const char *name;
	int min_params, max_params; /* constant arguments before the variable */
	size_t state_size;
	int (*init)(void *state, dl_arena *a, const dl_value *params,
		    size_t nparams, dl_fn_ctx *ctx);
	int (*step)(void *state, const dl_value *v);
	int (*finish)(dl_value *out, dl_arena *a, void *state);
	/* Without parameters, the answer over a bag of values is the answer
	 * over its set (min, max, distinct): the rows it reads need not be
	 * made distinct first. */
	bool dup_free;
} dl_aggregate;

/** The aggregate named name[0..n), or NULL. */
const dl_aggregate *dl_aggregate_find(const char *name, size_t n);
/** The whole table (sorted by name). */
const dl_aggregate *dl_aggregate_table(size_t *n);

#endif
