/*
 * query/exec_int.h: what the planner (plan.c), the relation operators
 * (rel.c) and the executor (exec.c) share.  Not an interface for anyone
 * else: the rest of the library uses exec.h.
 *
 * Model.  While a query runs, every variable is in one of three states:
 * unbound, bound to a constant (scalar inputs are inlined this way), or a
 * column of one relation.  Relations are sets of rows of dl_value words
 * (24 bytes each: scalars inline, strings pointing into the query arena).
 * Variables that never met in a clause live in different relations, so a
 * Cartesian product is only built when a clause or the find spec needs it.
 */
#ifndef DL_QUERY_EXEC_INT_H
#define DL_QUERY_EXEC_INT_H

#include "query/builtins.h"
#include "query/exec.h"
#include "tx/tx.h"

#include <stdatomic.h>
#include <time.h>

/* ---- relations (rel.c) --------------------------------------------------- */

typedef struct dl_rel {
	uint32_t ncols;
	uint32_t *vars;  /* variable of each column */
	size_t n, cap;   /* rows */
	dl_value *rows;  /* n * ncols (dl_malloc'd) */
	bool distinct;   /* known to hold no repeated row (false: may, or unknown);
			  * a push clears it */
	uint32_t key1;   /* 1 + a column known to hold no value twice (a key:
			  * the rows are a set on it alone), or 0; a push
			  * clears it, like distinct */
	struct dl_qbudget *budget; /* what its rows are charged to, or NULL */
	size_t charged;  /* bytes charged there (given back when freed) */
} dl_rel;

/* The memory one query's relations hold right now, shared by its nested
 * queries, bodies and worker threads (hence atomic). */
typedef struct dl_qbudget {
	_Atomic uint64_t bytes;
} dl_qbudget;

/* A hash index over some columns of a relation: a chained multimap from
 * the key to row numbers, sized from the row count. */
typedef struct dl_rhash {
	uint32_t nkeys;
	const uint32_t *keys; /* columns */
	size_t mask;
	uint32_t *head;       /* bucket -> row+1 */
	uint32_t *next;       /* row -> next row+1 in its chain */
	uint64_t *hash;       /* row -> hash */
} dl_rhash;

struct dl_qenv;

dl_rel *dl_rel_new(struct dl_qenv *env, uint32_t ncols, const uint32_t *vars);
void dl_rel_free(dl_rel *r);
/* Make room for n more rows (an expected size: saves regrowing); 0 or an
 * error (budget, memory). */
int dl_rel_reserve(struct dl_qenv *env, dl_rel *r, size_t n);
dl_value *dl_rel_grow(struct dl_qenv *env, dl_rel *r);
/* Append a row slot (uninitialized) and return it; NULL on a budget or
 * allocation failure (error set). */
static inline dl_value *dl_rel_push(struct dl_qenv *env, dl_rel *r)
{
	r->distinct = false; /* whoever knows better says so after its pushes */
	r->key1 = 0;
	if (DL_LIKELY(r->n < r->cap))
		return &r->rows[r->n++ * r->ncols];
	return dl_rel_grow(env, r);
}
int dl_rel_col(const dl_rel *r, uint32_t var); /* column of var or -1 */
uint64_t dl_row_hash(const dl_value *row, const uint32_t *cols, uint32_t n);
bool dl_row_eq(const dl_value *a, const uint32_t *ca, const dl_value *b, const uint32_t *cb,
	       uint32_t n);
int dl_rhash_build(dl_rhash *h, const dl_rel *r, const uint32_t *keys, uint32_t nkeys);
void dl_rhash_free(dl_rhash *h);
/* First row (+1) whose key equals key[] (columns kc of `row`); 0 if none.
 * dl_rhash_next continues the chain. */
uint32_t dl_rhash_find(const dl_rhash *h, const dl_rel *r, const dl_value *row,
		       const uint32_t *kc, uint64_t hash);
uint32_t dl_rhash_next(const dl_rhash *h, const dl_rel *r, uint32_t at, const dl_value *row,
		       const uint32_t *kc, uint64_t hash);
/* The group of each row of r by its values in columns keys[0..nkeys):
 * gid[i] (r->n of them, the caller's) numbers groups in order of their
 * first row; *ngroups receives how many.  A row with the key of the row
 * before it (input sorted by the key, the usual case) costs one compare;
 * others one lookup in a table as large as the groups, not the rows. */
int dl_rel_group_ids(uint32_t *gid, size_t *ngroups, const dl_rel *r, const uint32_t *keys,
		     uint32_t nkeys);
/* Join a and b on their common variables (a product when none); a hash
 * table is built on the smaller side.  Frees neither. */
int dl_rel_join(dl_rel **out, struct dl_qenv *env, const dl_rel *a, const dl_rel *b);
/* Remove duplicate rows in place. */
int dl_rel_distinct(struct dl_qenv *env, dl_rel *r);
/* Sort rows by the given columns (stable order not promised). */
void dl_rel_sort(dl_rel *r, const uint32_t *cols, uint32_t n);

/* ---- the running query --------------------------------------------------- */

enum { VS_FREE = 0, VS_CONST, VS_REL };

typedef enum dl_strategy {
	ST_SCAN = 1, /* read the index range the constants select: a new relation */
	ST_INL,      /* index nested loop: sorted distinct keys, one seek each */
	ST_HASH,     /* one scan of the constant range, probing a hash of the bindings */
	ST_MERGE,    /* bindings sorted like the index: walk both, seek over gaps */
	ST_FILTER,   /* a predicate */
	ST_FN,       /* a function binding new variables */
	ST_SUBQ,     /* a nested q, per distinct binding of its inputs */
	ST_SOURCE,   /* a pattern over a collection bound to $name */
	ST_EXISTS,   /* a pattern with no variables: does any datom match? */
	ST_ANTI,     /* not / not-join: remove the rows the body matches */
	ST_UNION,    /* or / or-join: the union of the branches, joined in */
	ST_RULE,     /* a rule call: demand-driven semi-naive evaluation */
	ST_EQJOIN,   /* [(= ?x ?y)] joining two relations on the equality (batch.c) */
	ST_LOOSE     /* min/max per group: a walk of the value index (loose.c) */
} dl_strategy;

/* A data pattern with its constants resolved against the schema. */
typedef struct dl_rpat {
	const dl_clause *cl;
	uint8_t kind[5];    /* DL_T_CONST, DL_T_VAR or DL_T_BLANK per e a v tx added */
	uint32_t var[5];
	dl_value c[5];      /* constants: e, tx as DL_INT ids; a as DL_INT attribute id;
			       v in storage form (DL_REF for a ref attribute) */
	bool never;         /* a constant names nothing: the pattern matches nothing */
	const dl_attr *attr;/* a constant attribute's schema, if known */
	bool vref;          /* V is a ref (VAET usable, ints become refs) */
	/* a value range pushed down from comparisons on V */
	bool range, lo_set, hi_set, lo_incl, hi_incl;
	dl_value lo, hi;
} dl_rpat;

/* One planned step. */
typedef struct dl_step {
	uint32_t clause;     /* index in the conjunction */
	uint8_t strategy;    /* dl_strategy */
	uint8_t index;       /* dl_index for pattern steps */
	bool ranged;         /* reads a value range (a pushed-down comparison) */
	double est_rows;     /* rows after the step */
	double est_cost;     /* datoms expected to be read */
	double score;        /* what the planner minimized (cost, rows, lookahead) */
	/* EXPLAIN ANALYZE */
	uint64_t rows, scanned;
	uint64_t derived;    /* rule calls: tuples derived */
	uint32_t rounds;     /* rule calls: fixpoint rounds */
	uint64_t reached;    /* rule calls: nodes a right-linear closure reached */
	bool closure;        /* rule calls: some table ran as a right-linear closure */
	double ms;
	bool ran, replanned, parallel;
	bool fused;          /* a filter run inside the step before it */
	bool implied;        /* ... and answered there by the value range */
	uint8_t sorted_keys; /* planning input: bit i, the bound rows are in order
			      * of the pattern's component i (no sort before a merge) */
	bool batched;        /* nested q: one run over all input tuples */
	bool alongside;      /* nested q: ran at the same time as its neighbours */
	const char *detail;  /* EXPLAIN ANALYZE: lines under the step (the
				batched body's plan), in the query arena */
	const char *note;    /* EXPLAIN: said after the clause (how a loose
				index scan ended), in the query arena */
} dl_step;

/* Filters a function step may apply to its rows as it makes them (the
 * steps right after it, when their variables are all in its output). */
#define DL_MAX_FUSE 8
typedef struct dl_fuse {
	uint32_t n;                          /* offered */
	const dl_clause *cl[DL_MAX_FUSE];
	uint32_t taken;                      /* applied by the step */
	bool implied[DL_MAX_FUSE];           /* answered by its value range */
	uint64_t rows[DL_MAX_FUSE];          /* rows each let through */
} dl_fuse;

typedef struct dl_rctx dl_rctx; /* a rule evaluation (rules.c) */

/* The worker pool of one query: how many threads, and the arenas of
 * finished workers, whose values the answer may hold. */
typedef struct dl_qpool {
	int threads;
	dl_arena **arenas;
	uint32_t narenas;
} dl_qpool;

typedef struct dl_qenv {
	dl_snap *snap;
	dl_view view;
	const dl_schema *schema;
	const dl_query *q;
	dl_arena *a;          /* values copied out of the snapshot, results */
	dl_fn_ctx *fn;
	const dl_value *dollar; /* $ itself is a collection (a nested q was given one) */
	/* sources other than the default: name -> collection of tuples */
	uint32_t nsrc;
	uint32_t *src_sym;
	const dl_value **src_val;
	/* variable states */
	uint32_t nvars;
	uint8_t *vstate;
	dl_value *vconst;
	dl_rel **rels;        /* live relations; a var in VS_REL is in exactly one */
	uint32_t nrels;
	bool empty;           /* some clause matched nothing: the answer is empty */
	/* budgets */
	uint64_t max_rows, max_bytes;
	dl_qbudget *budget;   /* the root query's (on its caller's stack) */
	struct timespec deadline;
	bool has_deadline;
	atomic_bool *cancel;
	uint32_t tick;
	int depth;            /* nesting of q subqueries */
	uint64_t nested_scanned; /* datoms read by nested queries and bodies */
	dl_qpool *pool;       /* NULL: no parallel work (nested queries, workers) */
	const dl_ruleset *rules; /* the % input, or NULL */
	dl_rctx *rctx;        /* the rule evaluation this env runs a body of, or NULL */
	dl_rctx *rstack;      /* the innermost evaluation under way (kept inside not) */
	int rdelta;           /* in a body run: the rule call reading deltas (-1: none) */
	int rnaive;           /* in a body run: read whole tables everywhere */
	dl_fuse *fuse;        /* filters offered to the step being run, or NULL */
	/* the plan of the top conjunction */
	dl_step *steps;
	uint32_t nsteps;
	bool analyze;
	uint64_t seed;
	const dl_qopts *opts;
	/* A batched nested q's body (exec.c, batch.c): its input tuples, not
	 * joined yet.  Until they are, each input variable is bound to its
	 * distinct values in a one-column relation of its own; the tuples are
	 * joined in when two relations holding input variables meet (their
	 * correlation then matters) or at the end.  Child environments (not,
	 * or, rule bodies) start with NULL here. */
	dl_rel *pending;
} dl_qenv;

/* Check time, cancellation and memory every so often; nonzero to stop. */
int dl_qenv_tick_slow(dl_qenv *env);
static inline int dl_qenv_tick(dl_qenv *env)
{
	if (DL_LIKELY((++env->tick & 1023) != 0))
		return 0;
	return dl_qenv_tick_slow(env);
}
int dl_qenv_charge(dl_qenv *env, size_t bytes);

/* Resolve an entity reference (id, ident, lookup ref) in env's snapshot:
 * 1 and *out, or 0 when it names nothing. */
int dl_qenv_entity_resolve(dl_qenv *env, const dl_value *v, int64_t *out);
static inline int dl_qenv_entity(dl_qenv *env, const dl_value *v, int64_t *out)
{
	/* ids (the row form of entities) on the hot path; idents and lookup
	 * refs need the schema or an index */
	if (v->type == DL_INT || v->type == DL_REF) {
		if (v->u.i < 0)
			return 0;
		*out = v->u.i;
		return 1;
	}
	return dl_qenv_entity_resolve(env, v, out);
}

/* The relation holding var, or -1. */
int dl_qenv_rel_of(const dl_qenv *env, uint32_t var);

/* ---- executor pieces shared with rules.c (exec.c) ----------------------- */

/* Does a message already start with "source:line:col: "? */
bool dl_exec_positioned(const char *msg);
/* Position a clause's error message ("source:line:col: ..."). */
int dl_exec_at_clause(dl_qenv *env, const dl_clause *cl, int rc);
/* Add a relation (takes it); dl_exec_absorb joins it with every relation
 * sharing a variable first. */
int dl_exec_push(dl_qenv *env, dl_rel *r);
int dl_exec_absorb(dl_qenv *env, dl_rel *r);
/* Join the relations holding vars into one; *out its index or -1. */
int dl_exec_unify(dl_qenv *env, const uint32_t *vars, uint32_t n, int *out);
/* R (NULL: one empty row) projected onto vars, distinct. */
int dl_exec_project(dl_qenv *env, dl_rel **out, const dl_rel *R, const uint32_t *vars,
		    uint32_t n);
/* The same keeping repeated rows (for callers that de-duplicate anyway). */
int dl_exec_project_bag(dl_qenv *env, dl_rel **out, const dl_rel *R, const uint32_t *vars,
			uint32_t n);
/* Filters a join applies to each row as it makes it (the predicates
 * planned right after an equi-join), so rows they drop are never kept:
 * init is offered a join's output variables by a join keyed on equality
 * pair 0, and says whether the filter now applies (once); keep says
 * whether a row stays (1) or goes (0), or fails (< 0). */
typedef struct dl_rowfilter dl_rowfilter;
/* A band the filters put on output column x (a probe-side column, below
 * the split) by columns lo and hi of the hashed side: lo <= x (or <) and
 * x < hi (or <=), compared as ints. */
typedef struct dl_band {
	int x, lo, hi;
	bool lo_incl, hi_incl;
} dl_band;
struct dl_rowfilter {
	bool (*init)(dl_rowfilter *f, const uint32_t *vars, uint32_t n);
	int (*keep)(dl_rowfilter *f, dl_value *row);
	/* after init: 1 and *out when the filters hold such a band for the
	 * join whose output columns before `split` come from the probe side
	 * (may be NULL) */
	bool (*band)(dl_rowfilter *f, uint32_t split, dl_band *out);
};

/* The same, also joining on equalities: eq[2k] = eq[2k+1] for pairs of
 * variables held by different relations (query `=`: numbers by value);
 * used[k] (may be NULL) is set when pair k was a join key, so every
 * joined row satisfies it.  rf (may be NULL): see dl_rowfilter. */
int dl_exec_unify_eq(dl_qenv *env, const uint32_t *vars, uint32_t n, const uint32_t *eq,
		     uint32_t neq, uint8_t *used, dl_rowfilter *rf, int *out);
/* Run the clauses in a child environment seeded with seed (taken) and
 * return its bindings of vars[0..n) (distinct); an empty answer is an
 * empty relation.  With explain and EXPLAIN ANALYZE, the body's plan
 * becomes explain->detail. */
int dl_exec_body(dl_qenv *env, dl_rel *seed, const dl_clause *cls, uint32_t ncl,
		 const uint32_t *vars, uint32_t n, dl_rel **out, dl_step *explain);
/* A plan's step lines (steps of the clauses cls), indented to sit under a
 * step (env's arena). */
int dl_exec_plan_text(const char **out, dl_qenv *env, const dl_clause *cls, const dl_step *steps,
		      uint32_t ns, bool analyze);
/* A datom value in row form (refs become ints), its memory the query's. */
int dl_exec_row_form(dl_qenv *env, dl_value *v);
/* A monotonic clock, in milliseconds (EXPLAIN ANALYZE). */
double dl_exec_now_ms(void);
/* Is the source symbol the default $? */
bool dl_exec_default_src(uint32_t sym);
/* Plan and run a conjunction in env. */
int dl_exec_conj(dl_qenv *env, const dl_clause *cls, uint32_t n);
/* Release a child environment, handing its counters back to env. */
void dl_exec_child_fini(dl_qenv *c, dl_qenv *env);

/* ---- batched nested q (batch.c) ------------------------------------------- */

/* Do two of the relations holding vars[0..n) hold variables of
 * env->pending?  Then their correlation through it matters. */
bool dl_batch_meets(const dl_qenv *env, const uint32_t *vars, uint32_t n);
/* Join env->pending with every relation holding one of its variables
 * (using the equalities eq[], as dl_exec_unify_eq), leaving one relation. */
int dl_batch_absorb(dl_qenv *env, const uint32_t *eq, uint32_t neq, uint8_t *used,
		    dl_rowfilter *rf);
/* Join the relations rs[0..n) (taken) into *out: each step joins the
 * relation with the most keys (shared variables and equalities eq[])
 * against what is joined so far; a product only where nothing connects. */
int dl_batch_join(dl_rel **out, dl_qenv *env, dl_rel **rs, uint32_t n, const uint32_t *eq,
		  uint32_t neq, uint8_t *used, dl_rowfilter *rf);

/* ---- loose index scan: min/max per group (loose.c) ----------------------- */

/* Answer the top conjunction of env's query by the loose index scan when it
 * applies: 0 when the where clauses have run (by the walk, or by the
 * normal plan after the walk gave up; env->steps shows which), 1 when the
 * strategy does not apply (the caller runs dl_exec_conj), or an error. */
int dl_loose_run(dl_qenv *env);
/* For plain EXPLAIN: 0 and *out the walk's step (its fallback plan, the
 * steps given, as its detail) when the strategy would run, 1 when not. */
int dl_loose_plan(dl_step *out, dl_qenv *env, const dl_step *steps, uint32_t ns);

/* ---- rules (rules.c) ------------------------------------------------------ */

/* Run a rule call clause: demand from the current bindings, evaluation to
 * a fixpoint (or, inside one, the tables as they stand), join. */
int dl_rule_call(dl_qenv *env, const dl_clause *cl, dl_step *s);
void dl_rctx_free(dl_rctx *c);

/* ---- planner (plan.c) ---------------------------------------------------- */

/* Resolve a pattern's constants (idents, lookup refs) against the schema. */
int dl_rpat_resolve(dl_rpat *rp, dl_qenv *env, const dl_clause *cl);
/* Choose the next step among clauses not yet done, from the current
 * bindings (sizes: actual relation sizes, or estimates in simulation). */
typedef struct dl_plan_state {
	uint32_t nvars;
	uint8_t *bound;      /* per var: 0 free, 1 bound */
	double card;         /* estimated rows of the bindings so far */
	bool *done;          /* per clause */
	/* Which relation each bound variable is in (0: none, or a constant):
	 * a clause spanning two joins them, a product unless they share an
	 * equality.  NULL: not tracked. */
	uint32_t *group;
	const uint8_t *vstate;  /* the env's variable states */
	const dl_rel *pending;  /* the env's pending input tuples (batch.c) */
} dl_plan_state;
int dl_plan_next(dl_step *out, dl_qenv *env, const dl_clause *cls, uint32_t n,
		 const dl_plan_state *st);
/* Plan the whole conjunction from `st` (updated as steps are taken). */
int dl_plan_all(dl_step *steps, uint32_t *nsteps, dl_qenv *env, const dl_clause *cls,
		uint32_t n, dl_plan_state *st);
/* Mark the variables a clause binds in st and update the estimate. */
void dl_plan_apply(dl_plan_state *st, const dl_clause *cl, const dl_step *s);
/* Choose the join strategy and index for a pattern given `nkeys` distinct
 * binding rows (0: no bound variable); fills s. */
int dl_plan_pattern(dl_step *s, dl_qenv *env, const dl_rpat *rp, const uint8_t *bound,
		    double nkeys);
/* Find comparisons [(< ?v c)] in cls that bound rp's V and record the range. */
void dl_plan_range(dl_rpat *rp, dl_qenv *env, const dl_clause *cls, uint32_t n);
/* Whether every datom within rp's range satisfies the comparison cl (one
 * of those the range came from): the attribute's values and the constant
 * are one type, ordered in the index as the comparison orders them. */
bool dl_plan_range_implies(const dl_rpat *rp, dl_qenv *env, const dl_clause *cl);

/* Mark every variable a clause mentions (recursively). */
void dl_clause_vars(const dl_clause *cl, uint8_t *mark);
/* Mark the variables a clause surely binds for the clauses after it
 * (patterns, function bindings, rule calls, what every branch of an or
 * binds); nvars: the size of mark. */
int dl_clause_binds(const dl_clause *cl, uint8_t *mark, uint32_t nvars);
/* The variables an or / or-join needs bound before it runs (nvars entries
 * of need, overwritten): its variables (or-join: declared ones) that not
 * every branch binds. */
int dl_plan_or_needs(const dl_clause *cl, uint8_t *need, uint32_t nvars);

const char *dl_strategy_name(int s);
const char *dl_index_name(int idx);

#endif
