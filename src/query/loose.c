/*
 * query/loose: min or max per group by a loose index scan.
 *
 *   [:find ?s (max ?t) :where [?b :price/symbol ?s] [?b :price/time ?t]]
 *
 * walks the AVET entries of :price/time from the largest value down, a
 * batch of datoms at a time, and runs the other clauses on each batch's
 * (?b ?t) rows (dl_exec_body: any clauses, planned per batch).  Every
 * later batch holds smaller values, so the first batch in which a group
 * shows up holds its max: the best ?t among that batch's rows of the
 * group; groups seen before are done.  The walk stops when as many groups
 * have been seen as there can be, or at the end of the index.  The bound:
 * per group variable, the distinct values (or entities) of the attribute
 * of a pattern holding it in V (or E), the fewest; their product.
 *
 * Exact: the where clauses' rows are the walked pattern's datoms joined
 * with the other clauses, per datom; the walk reads that pattern's datoms
 * through the same iterator and view as any scan (as-of, since and history
 * apply there), in index order, which is the total order min and max use
 * (dl_value_compare).  Only values whose key is out of line (an encoding
 * of 400 bytes or more) order by hash after their first 384 bytes: the
 * walk gives up when it meets one.
 *
 * Adaptive: in AUTO mode the walk may read (itself and through the
 * batches' clauses) an eighth of the normal plan's estimated cost in
 * datoms; it does not start when the bound alone makes that look short,
 * and when it runs out (a group with no ?t at all keeps the bound out of
 * reach) it gives up and the normal plan runs.  EXPLAIN ANALYZE says how
 * the walk ended.
 */
#include "exec_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define LOOSE_MIN_BUDGET 256.0  /* datoms; below it the walk cannot pay */
#define LOOSE_BUDGET_SHARE 0.125 /* of the normal plan's estimated cost */
#define LOOSE_FIRST_BATCH 16
#define LOOSE_MAX_BATCH 65536
#define LOOSE_MAX_VARS 128

enum { END_EARLY = 1, END_ALL, END_BUDGET, END_LONG };

typedef struct loose {
	uint32_t walk;                  /* the clause walked */
	dl_rpat rp;                     /* its resolved pattern */
	int sign;                       /* 1: max, walk down; -1: min, walk up */
	uint32_t tvar;                  /* the aggregated variable */
	uint32_t seedv[2], nseed;       /* (E) and ?t: a batch's rows */
	uint32_t vars[LOOSE_MAX_VARS];  /* the answer: groups, :with, ?t last */
	uint32_t nv, ng;                /* ... the first ng are the groups */
	double bound;                   /* the most groups there can be */
	double est;                     /* datoms the walk is expected to read */
	double budget;                  /* datoms it may read (0: no limit) */
	dl_clause *rest;                /* the other clauses (dl_malloc'd) */
	uint32_t nrest;
} loose;

/* Function names the walk does not take: rand and rand-int answer by how
 * often and in which order they run; a nested q is left to its own
 * strategies. */
static void odd_fns(void *ud, const dl_term *t, uint32_t n)
{
	bool *found = ud;
	for (uint32_t i = 0; i < n; i++) {
		if (t[i].kind != DL_T_SYM)
			continue;
		size_t len;
		const char *name = dl_intern_name(t[i].sym, &len, NULL);
		if ((len == 1 && name[0] == 'q') || (len == 4 && !memcmp(name, "rand", 4)) ||
		    (len == 8 && !memcmp(name, "rand-int", 8)))
			*found = true;
	}
}

static bool calls_odd_fns(const dl_clause *cls, uint32_t n, const dl_ruleset *rs)
{
	bool found = false;
	for (uint32_t i = 0; i < n; i++)
		dl_clause_terms(&cls[i], true, odd_fns, &found);
	for (uint32_t r = 0; rs && r < rs->n; r++)
		for (uint32_t b = 0; b < rs->rules[r].nbodies; b++)
			found |= calls_odd_fns(rs->rules[r].bodies[b].clauses,
					       rs->rules[r].bodies[b].n, NULL);
	return found;
}

/* A pattern on the default source with a constant, known attribute:
 * 1 and *rp resolved, or 0. */
static int plain_pattern(dl_rpat *rp, dl_qenv *env, const dl_clause *cl)
{
	if (cl->kind != DL_C_PATTERN || (cl->src_given && !dl_exec_default_src(cl->src)))
		return 0;
	DL_TRY(dl_rpat_resolve(rp, env, cl));
	return rp->kind[1] == DL_T_CONST && rp->attr && !rp->never;
}

/* Distinct values (or entities) of attribute a in env's view. */
static int distinct_count(double *out, dl_qenv *env, int64_t a, bool values, double cap)
{
	if (env->view.kind == DL_VIEW_CURRENT || env->view.kind == DL_VIEW_SINCE) {
		/* exact for the current datoms, which a since view only narrows */
		dl_attr_stats st;
		DL_TRY(dl_snap_attr_stats(env->snap, a, &st));
		*out = (double)(values ? st.values : st.entities);
		return 0;
	}
	/* as-of and history show datoms the statistics do not count: seek
	 * from each value (entity) past its datoms, at most cap times */
	dl_iter *it;
	dl_datom pre = {.a = a};
	DL_TRY(dl_iter_open(&it, env->snap, values ? DL_AVET : DL_AEVT, &env->view, &pre, 1));
	double n = 0;
	dl_datom d;
	int rc;
	while ((rc = dl_iter_next(it, &d)) > 0) {
		if (++n > cap) {
			n = HUGE_VAL;
			break;
		}
		dl_datom past = d;
		if (values)
			past.e = INT64_MAX; /* after every entity of the value */
		else
			past.e++, past.v = dl_nil();
		if ((rc = dl_iter_seek(it, &past)) < 0)
			break;
	}
	dl_iter_close(it);
	*out = n;
	return rc < 0 ? rc : 0;
}

/* The most distinct values variable v takes in the where clauses' rows:
 * the fewest values or entities of a pattern holding it (HUGE_VAL: none). */
static int var_bound(double *out, dl_qenv *env, uint32_t v, double cap)
{
	const dl_query *q = env->q;
	*out = HUGE_VAL;
	for (uint32_t i = 0; i < q->nwhere; i++) {
		dl_rpat rp;
		int ok = plain_pattern(&rp, env, &q->where[i]);
		if (ok < 0)
			return ok;
		for (int pos = 0; ok && pos <= 2; pos += 2) {
			if (rp.kind[pos] != DL_T_VAR || rp.var[pos] != v)
				continue;
			double n = HUGE_VAL;
			DL_TRY(distinct_count(&n, env, rp.c[1].u.i, pos == 2, fmin(cap, *out)));
			*out = fmin(*out, n);
		}
	}
	return 0;
}

static bool add_var(loose *L, uint32_t v, const dl_qenv *env)
{
	if (env->vstate[v] == VS_CONST)
		return true; /* an input: one value, answered from env->vconst */
	for (uint32_t k = 0; k < L->nv; k++)
		if (L->vars[k] == v)
			return true;
	if (L->nv + 1 >= LOOSE_MAX_VARS)
		return false;
	L->vars[L->nv++] = v;
	return true;
}

/* The walked pattern: [?b :attr ?t] or [_ :attr ?t] with ?t free. */
static int walkable(dl_rpat *rp, dl_qenv *env, const dl_clause *cl, uint32_t tvar)
{
	if (cl->kind != DL_C_PATTERN || cl->u.pat.n < 3 || cl->u.pat.t[2].kind != DL_T_VAR ||
	    cl->u.pat.t[2].var != tvar)
		return 0;
	int ok = plain_pattern(rp, env, cl);
	if (ok <= 0)
		return ok;
	return rp->kind[2] == DL_T_VAR && rp->kind[3] == DL_T_BLANK &&
	       rp->kind[4] == DL_T_BLANK &&
	       (rp->kind[0] == DL_T_BLANK || (rp->kind[0] == DL_T_VAR && rp->var[0] != tvar));
}

/* Does the strategy apply to env's query?  0 and *L filled, 1 if not. */
static int loose_setup(loose *L, dl_qenv *env)
{
	const dl_query *q = env->q;
	memset(L, 0, sizeof *L);
	if (!env->opts || env->opts->loose == DL_LOOSE_OFF || env->dollar || env->nrels ||
	    env->pending || env->empty || q->nwhere == 0)
		return 1;
	/* every aggregate: (min ?t), or every one (max ?t) */
	for (uint32_t i = 0; i < q->nfind; i++) {
		const dl_find_elem *fe = &q->find[i];
		if (fe->kind != DL_FE_AGG)
			continue;
		int d = fe->agg == DL_AGG_MAX ? 1 : fe->agg == DL_AGG_MIN ? -1 : 0;
		if (!d || fe->nargs != 1 || (L->sign && (d != L->sign || fe->var != L->tvar)))
			return 1;
		L->sign = d;
		L->tvar = fe->var;
	}
	if (!L->sign || env->vstate[L->tvar] == VS_CONST)
		return 1;
	for (uint32_t i = 0; i < q->nfind; i++)
		if (q->find[i].kind != DL_FE_AGG && !add_var(L, q->find[i].var, env))
			return 1;
	L->ng = L->nv;
	for (uint32_t i = 0; i < q->nwith; i++)
		if (!add_var(L, q->with[i].var, env))
			return 1;
	for (uint32_t k = 0; k < L->nv; k++)
		if (L->vars[k] == L->tvar)
			return 1; /* ?t grouped or :with: every value its own group */
	L->vars[L->nv++] = L->tvar;
	if (calls_odd_fns(q->where, q->nwhere, env->rules))
		return 1;
	int ok = 0;
	for (uint32_t i = 0; i < q->nwhere && !ok; i++)
		if ((ok = walkable(&L->rp, env, &q->where[i], L->tvar)) > 0)
			L->walk = i;
	if (ok <= 0)
		return ok < 0 ? ok : 1;
	L->nseed = 0;
	if (L->rp.kind[0] == DL_T_VAR)
		L->seedv[L->nseed++] = L->rp.var[0];
	L->seedv[L->nseed++] = L->tvar;
	/* groups and :with variables the clauses leave unbound are the
	 * normal plan's error to report */
	uint8_t *mark = dl_calloc(env->nvars ? env->nvars : 1, 1);
	if (!mark)
		return DL_ENOMEM;
	int rc = 0;
	for (uint32_t i = 0; i < q->nwhere && !rc; i++)
		rc = dl_clause_binds(&q->where[i], mark, env->nvars);
	for (uint32_t k = 0; k < L->nseed; k++)
		mark[L->seedv[k]] = 1;
	for (uint32_t k = 0; k + 1 < L->nv && !rc; k++)
		if (!mark[L->vars[k]])
			rc = 1;
	dl_free(mark);
	if (rc)
		return rc;
	L->bound = 1;
	for (uint32_t k = 0; k < L->ng && L->bound < HUGE_VAL; k++) {
		double b;
		DL_TRY(var_bound(&b, env, L->vars[k], 4096));
		L->bound *= b;
	}
	if (L->bound == HUGE_VAL) /* some group variable has no bound */
		return 1;
	L->nrest = q->nwhere - 1;
	L->rest = dl_malloc((L->nrest ? L->nrest : 1) * sizeof *L->rest);
	if (!L->rest)
		return DL_ENOMEM;
	for (uint32_t i = 0, k = 0; i < q->nwhere; i++)
		if (i != L->walk)
			L->rest[k++] = q->where[i];
	return 0;
}

/* The budget from the normal plan's estimated cost: 0 when the walk is
 * worth starting, 1 when not. */
static int loose_budget(loose *L, const dl_qenv *env, const dl_step *steps, uint32_t ns)
{
	double cost = 0;
	for (uint32_t i = 0; i < ns; i++)
		cost += steps[i].est_cost;
	/* each group is found after about ln(groups) rounds of all of them
	 * (the coupon collector), each candidate a datom per clause */
	L->est = L->bound * (1 + log1p(L->bound)) * (1 + L->nrest);
	if (env->opts->loose == DL_LOOSE_ALWAYS) {
		L->budget = 0;
		return 0;
	}
	L->budget = fmax(LOOSE_MIN_BUDGET, cost * LOOSE_BUDGET_SHARE);
	return L->est <= L->budget ? 0 : 1;
}

/* Plan the normal way from scratch (env holds no relations): its cost. */
static int normal_plan(dl_step **out, uint32_t *ns, dl_qenv *env)
{
	const dl_query *q = env->q;
	uint32_t n = q->nwhere;
	bool *done = dl_calloc(n, sizeof *done);
	uint8_t *bound = dl_calloc(env->nvars ? env->nvars : 1, 1);
	uint32_t *group = dl_calloc(env->nvars ? env->nvars : 1, sizeof *group);
	dl_step *steps = dl_calloc(n, sizeof *steps);
	int rc = DL_ENOMEM;
	*ns = 0;
	if (done && bound && group && steps) {
		dl_plan_state st = {.nvars = env->nvars, .bound = bound, .card = 1, .done = done,
				    .group = group, .vstate = env->vstate};
		rc = dl_plan_all(steps, ns, env, q->where, n, &st);
	}
	dl_free(done);
	dl_free(bound);
	dl_free(group);
	if (rc == 0 && *ns == n) {
		*out = steps;
		return 0;
	}
	dl_free(steps);
	return rc ? rc : 1; /* a clause cannot run: the normal plan says why */
}

static const char *dir_text(const loose *L)
{
	return L->sign > 0 ? "max per group, from the top" : "min per group, from the bottom";
}

static void loose_step(dl_step *s, const loose *L)
{
	memset(s, 0, sizeof *s);
	s->clause = L->walk;
	s->strategy = ST_LOOSE;
	s->index = DL_AVET;
	s->est_rows = L->bound;
	s->est_cost = L->est;
}

/* ---- groups seen: an open-addressing set of the answer's rows ---------- */

typedef struct gset {
	uint32_t *slot;       /* row + 1, or 0 */
	size_t mask, n;
	const uint32_t *cols; /* the group columns: 0..ng-1 */
	uint32_t ng;
} gset;

static uint32_t gset_find(const gset *g, const dl_rel *A, const dl_value *row, uint64_t h)
{
	if (!g->slot)
		return 0;
	for (size_t i = h & g->mask;; i = (i + 1) & g->mask) {
		uint32_t at = g->slot[i];
		if (!at ||
		    dl_row_eq(&A->rows[(size_t)(at - 1) * A->ncols], g->cols, row, g->cols, g->ng))
			return at;
	}
}

static void gset_put(gset *g, const dl_rel *A, uint32_t row1)
{
	uint64_t h = dl_row_hash(&A->rows[(size_t)(row1 - 1) * A->ncols], g->cols, g->ng);
	size_t i = h & g->mask;
	while (g->slot[i])
		i = (i + 1) & g->mask;
	g->slot[i] = row1;
	g->n++;
}

/* Add A's row row1 - 1, a group not in the set; grows at half full. */
static int gset_add(gset *g, const dl_rel *A, uint32_t row1)
{
	if (!g->slot || (g->n + 1) * 2 > g->mask + 1) {
		size_t cap = g->slot ? (g->mask + 1) * 2 : 64;
		uint32_t *s = dl_calloc(cap, sizeof *s);
		if (!s)
			return DL_ENOMEM;
		dl_free(g->slot);
		g->slot = s;
		g->mask = cap - 1;
		g->n = 0;
		for (uint32_t r = 1; r < row1; r++)
			gset_put(g, A, r);
	}
	gset_put(g, A, row1);
	return 0;
}

/* ---- the walk ------------------------------------------------------------ */

/* Is v's key out of line (ordered by hash past its first 384 bytes)? */
static int key_out_of_line(const dl_value *v, dl_buf *scratch)
{
	switch (v->type) {
	case DL_NIL: case DL_BOOL: case DL_INT: case DL_DOUBLE: case DL_INST: case DL_REF:
	case DL_UUID:
		return 0;
	default:
		scratch->len = 0;
		DL_TRY(dl_value_encode(scratch, v));
		return scratch->len >= DL_KEY_VALUE_INLINE_MAX;
	}
}

/* Read up to `want` datoms of the walk into seed: 0, or 1 at the end of the
 * index, END_LONG (as a positive) on a value the index does not order. */
static int fill_batch(dl_qenv *env, const loose *L, dl_iter *it, dl_rel *seed, size_t want,
		      dl_buf *scratch)
{
	dl_datom d;
	int rc;
	while (seed->n < want) {
		if ((rc = dl_iter_next(it, &d)) <= 0)
			return rc < 0 ? rc : 1;
		if ((rc = key_out_of_line(&d.v, scratch)))
			return rc < 0 ? rc : END_LONG;
		dl_value t = d.v;
		DL_TRY(dl_exec_row_form(env, &t));
		dl_value *o = dl_rel_push(env, seed);
		if (!o)
			return dl_errcode_last() ? dl_errcode_last() : DL_ENOMEM;
		if (L->nseed == 2)
			*o++ = dl_int(d.e);
		*o = t;
		DL_TRY(dl_qenv_tick(env));
	}
	return 0;
}

/* Fold a batch's rows R (columns as A's) into A: a group new in this
 * batch (at or after row `fresh`) keeps its best ?t; older ones are done. */
static int fold_batch(dl_qenv *env, const loose *L, dl_rel *A, gset *g, size_t fresh,
		      const dl_rel *R)
{
	uint32_t nc = A->ncols, tc = nc - 1;
	for (size_t i = 0; i < R->n; i++) {
		const dl_value *row = &R->rows[i * nc];
		uint32_t at = gset_find(g, A, row, dl_row_hash(row, g->cols, g->ng));
		if (at) {
			dl_value *best = &A->rows[(size_t)(at - 1) * nc];
			if (at - 1 >= fresh && L->sign * dl_value_compare(&row[tc], &best[tc]) > 0)
				memcpy(best, row, nc * sizeof *row);
			continue;
		}
		dl_value *o = dl_rel_push(env, A);
		if (!o)
			return dl_errcode_last() ? dl_errcode_last() : DL_ENOMEM;
		memcpy(o, row, nc * sizeof *row);
		if (A->n >= UINT32_MAX)
			return dl_error(DL_ELIMIT, "too many groups");
		DL_TRY(gset_add(g, A, (uint32_t)A->n));
	}
	return 0;
}

/* Walk; *out the answer (one row per group) unless *end is END_BUDGET or
 * END_LONG. */
static int loose_walk(dl_rel **out, int *end, dl_step *s, dl_qenv *env, const loose *L)
{
	*out = NULL;
	dl_iter *it = NULL;
	dl_rel *A = dl_rel_new(env, L->nv, L->vars);
	uint32_t gc[LOOSE_MAX_VARS];
	for (uint32_t k = 0; k < L->ng; k++)
		gc[k] = k;
	gset g = {.cols = gc, .ng = L->ng};
	dl_buf scratch = DL_BUF_INIT;
	uint64_t body = 0;
	int rc = A ? 0 : DL_ENOMEM;
	dl_datom pre = {.a = L->rp.c[1].u.i};
	if (!rc)
		rc = dl_iter_open(&it, env->snap, DL_AVET, &env->view, &pre, 1);
	if (!rc && L->sign > 0)
		rc = dl_iter_reverse(it);
	size_t batch = (size_t)fmin(LOOSE_MAX_BATCH, fmax(LOOSE_FIRST_BATCH, 2 * L->bound));
	*end = END_ALL;
	for (bool more = true; !rc && more;) {
		if ((double)A->n >= L->bound) {
			*end = END_EARLY;
			break;
		}
		double spent = (double)(dl_iter_scanned(it) + body);
		if (L->budget && spent >= L->budget) {
			*end = END_BUDGET;
			break;
		}
		if (L->budget) /* not past the budget in one batch: a row reads a
				* datom of the walk and at least one of the clauses */
			batch = (size_t)fmin((double)batch,
					     fmax(LOOSE_FIRST_BATCH, (L->budget - spent) / 2));
		dl_rel *seed = dl_rel_new(env, L->nseed, L->seedv);
		if (!seed) {
			rc = DL_ENOMEM;
			break;
		}
		rc = fill_batch(env, L, it, seed, batch, &scratch);
		if (rc == END_LONG) {
			dl_rel_free(seed);
			*end = END_LONG;
			rc = 0;
			break;
		}
		more = rc == 0;
		if (rc < 0 || seed->n == 0) {
			dl_rel_free(seed);
			rc = rc < 0 ? rc : 0;
			break;
		}
		dl_rel *R = NULL;
		env->nested_scanned = 0;
		rc = dl_exec_body(env, seed, L->rest, L->nrest, L->vars, L->nv, &R, s);
		body += env->nested_scanned;
		env->nested_scanned = 0;
		if (!rc)
			rc = fold_batch(env, L, A, &g, A->n, R);
		dl_rel_free(R);
		batch = batch * 2 > LOOSE_MAX_BATCH ? LOOSE_MAX_BATCH : batch * 2;
	}
	s->scanned = (it ? dl_iter_scanned(it) : 0) + body;
	s->rows = A ? A->n : 0;
	dl_iter_close(it);
	dl_free(g.slot);
	dl_buf_free(&scratch);
	if (rc || *end == END_BUDGET || *end == END_LONG) {
		dl_rel_free(A);
		return rc;
	}
	*out = A;
	return 0;
}

static int loose_note(dl_step *s, dl_qenv *env, const loose *L, int end)
{
	char b[256];
	switch (end) {
	case END_EARLY:
		snprintf(b, sizeof b, "%s: all %llu groups found, stopped early", dir_text(L),
			 (unsigned long long)s->rows);
		break;
	case END_ALL:
		snprintf(b, sizeof b, "%s: %llu of at most %.0f groups, walked to the end",
			 dir_text(L), (unsigned long long)s->rows, L->bound);
		break;
	case END_BUDGET:
		snprintf(b, sizeof b,
			 "%s: %llu of at most %.0f groups within its budget of %.0f datoms; "
			 "gave up, ran the plan below",
			 dir_text(L), (unsigned long long)s->rows, L->bound, L->budget);
		break;
	case END_LONG:
		snprintf(b, sizeof b,
			 "%s: met a value too long to be ordered by its key; gave up, ran the "
			 "plan below",
			 dir_text(L));
		break;
	default:
		if (L->budget)
			snprintf(b, sizeof b,
				 "%s: at most %.0f groups; gives up after %.0f datoms for the "
				 "plan below",
				 dir_text(L), L->bound, L->budget);
		else
			snprintf(b, sizeof b, "%s: at most %.0f groups; no budget", dir_text(L),
				 L->bound);
		break;
	}
	s->note = dl_arena_strndup(env->a, b, strlen(b));
	return s->note ? 0 : DL_ENOMEM;
}

int dl_loose_plan(dl_step *out, dl_qenv *env, const dl_step *steps, uint32_t ns)
{
	loose L;
	int rc = loose_setup(&L, env);
	if (!rc)
		rc = loose_budget(&L, env, steps, ns);
	if (!rc) {
		loose_step(out, &L);
		rc = loose_note(out, env, &L, 0);
	}
	if (!rc) {
		rc = dl_exec_plan_text(&out->detail, env, env->q->where, steps, ns, false);
		if (!rc && out->detail) {
			/* say what the lines are */
			dl_buf b = DL_BUF_INIT;
			rc = dl_buf_printf(&b, "       | if it gives up:\n%s", out->detail);
			if (!rc && !(out->detail = dl_arena_strndup(env->a, b.data, b.len)))
				rc = DL_ENOMEM;
			dl_buf_free(&b);
		}
	}
	dl_free(L.rest);
	return rc;
}

int dl_loose_run(dl_qenv *env)
{
	loose L;
	dl_step *plan = NULL;
	uint32_t np = 0;
	int rc = loose_setup(&L, env);
	if (!rc && env->opts->loose != DL_LOOSE_ALWAYS)
		rc = normal_plan(&plan, &np, env);
	if (!rc)
		rc = loose_budget(&L, env, plan, np);
	dl_free(plan);
	if (rc) {
		dl_free(L.rest);
		return rc;
	}
	dl_step w;
	loose_step(&w, &L);
	double t0 = dl_exec_now_ms();
	dl_rel *A = NULL;
	int end = 0;
	rc = loose_walk(&A, &end, &w, env, &L);
	dl_free(L.rest);
	w.ran = true;
	w.ms = dl_exec_now_ms() - t0;
	if (!rc)
		rc = loose_note(&w, env, &L, end);
	if (rc) {
		dl_rel_free(A);
		return rc;
	}
	if (A) {
		DL_TRY(dl_exec_push(env, A));
		dl_free(env->steps);
		if (!(env->steps = dl_malloc(sizeof *env->steps)))
			return DL_ENOMEM;
		env->steps[0] = w;
		env->nsteps = 1;
		return 0;
	}
	/* gave up: the normal plan, after the walk's step */
	DL_TRY(dl_exec_conj(env, env->q->where, env->q->nwhere));
	dl_step *all = dl_malloc((env->nsteps + 1) * sizeof *all);
	if (!all)
		return DL_ENOMEM;
	all[0] = w;
	if (env->nsteps)
		memcpy(all + 1, env->steps, env->nsteps * sizeof *all);
	dl_free(env->steps);
	env->steps = all;
	env->nsteps++;
	return 0;
}
