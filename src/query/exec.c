/*
 * query/exec: the executor.  Runs the planner's steps over relations
 * (rel.c), then projects, aggregates and orders the find values.
 *
 * A data pattern joined to bound rows runs one of four operators:
 *   scan    the constants' index range becomes a new relation
 *   inl     index nested loop: the bound rows sorted by key, one seek per
 *           distinct key on a single cursor
 *   merge   the same sorted keys, but the cursor walks forward and only
 *           seeks over gaps, so it reads min(range, keys * seek) datoms
 *   hash    one scan of the constants' range probing a hash of the rows
 * Every datom read is counted (dl_iter_scanned) for EXPLAIN ANALYZE.
 *
 * Memory: relation rows are dl_malloc'd arrays charged to the query's
 * memory budget; values copied out of the snapshot (strings, bytes,
 * tuples) and function results live in a scratch arena freed at the end;
 * the result is deep-copied into the caller's arena.
 */
#include "exec_int.h"
#include "pull.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_MAX_ROWS UINT64_C(50000000)
#define DEFAULT_MAX_BYTES (UINT64_C(4) << 30)
#define MAX_DEPTH 16
#define MAX_ARGS 64

int dl_query_run_nested(dl_qresult *out, dl_arena *a, dl_qenv *outer, const dl_query *q,
			const dl_value *inputs, size_t ninputs, const dl_value *dollar,
			const dl_qopts *opts);

/* ---- budgets --------------------------------------------------------------- */

double dl_exec_now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int dl_qenv_tick_slow(dl_qenv *env)
{
	if (env->cancel && atomic_load_explicit(env->cancel, memory_order_relaxed))
		return dl_error(DL_ECANCELED, "query canceled");
	if (env->has_deadline) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec > env->deadline.tv_sec ||
		    (t.tv_sec == env->deadline.tv_sec && t.tv_nsec >= env->deadline.tv_nsec))
			return dl_error(DL_ETIMEOUT, "query timed out");
	}
	return 0;
}

int dl_qenv_charge(dl_qenv *env, size_t bytes)
{
	assert(env->budget); /* every query root sets one */
	uint64_t now = atomic_fetch_add(&env->budget->bytes, bytes) + bytes;
	if (now > env->max_bytes)
		return dl_error(DL_ELIMIT, "query exceeded its memory budget of %llu bytes",
				(unsigned long long)env->max_bytes);
	return 0;
}

/* Keep a worker's arena until the query ends (its values are in the
 * answer). */
static int pool_keep(dl_qpool *pool, dl_arena *a)
{
	dl_arena **p = dl_realloc(pool->arenas, (pool->narenas + 1) * sizeof *p);
	if (!p)
		return DL_ENOMEM;
	pool->arenas = p;
	pool->arenas[pool->narenas++] = a;
	return 0;
}

static void pool_fini(dl_qpool *pool)
{
	for (uint32_t i = 0; i < pool->narenas; i++) {
		dl_arena_free(pool->arenas[i]);
		dl_free(pool->arenas[i]);
	}
	dl_free(pool->arenas);
}

int dl_qenv_rel_of(const dl_qenv *env, uint32_t var)
{
	for (uint32_t i = 0; i < env->nrels; i++)
		if (dl_rel_col(env->rels[i], var) >= 0)
			return (int)i;
	return -1;
}

/* Does a message already start with "source:line:col: "? */
bool dl_exec_positioned(const char *m)
{
	const char *p = strstr(m, ": ");
	if (!p)
		return false;
	/* walk back over ":digits:digits" before the ": " */
	const char *q = p;
	int groups = 0;
	while (groups < 2) {
		const char *d = q;
		while (d > m && d[-1] >= '0' && d[-1] <= '9')
			d--;
		if (d == q || d == m || d[-1] != ':')
			return false;
		q = d - 1;
		groups++;
	}
	return q > m;
}

/* Prefix the thread's message with the clause position. */
int dl_exec_at_clause(dl_qenv *env, const dl_clause *cl, int rc)
{
	if (rc < 0 && cl->pos.line && rc != DL_ETIMEOUT && rc != DL_ECANCELED && rc != DL_ELIMIT &&
	    rc != DL_ENOMEM && !dl_exec_positioned(dl_errmsg()))
		dl_error_prefix("%s:%u:%u", env->q->source, cl->pos.line, cl->pos.col);
	return rc;
}

/* ---- relations in the environment ------------------------------------------ */

int dl_exec_push(dl_qenv *env, dl_rel *r)
{
	dl_rel **p = dl_realloc(env->rels, (env->nrels + 1) * sizeof *p);
	if (!p) {
		dl_rel_free(r);
		return DL_ENOMEM;
	}
	env->rels = p;
	env->rels[env->nrels++] = r;
	for (uint32_t i = 0; i < r->ncols; i++)
		env->vstate[r->vars[i]] = VS_REL;
	if (r->n == 0)
		env->empty = true;
	return 0;
}

static void drop_rel(dl_qenv *env, uint32_t i)
{
	dl_rel_free(env->rels[i]);
	env->rels[i] = env->rels[--env->nrels];
}

/* Replace relation i by r. */
static void set_rel(dl_qenv *env, uint32_t i, dl_rel *r)
{
	dl_rel_free(env->rels[i]);
	env->rels[i] = r;
	for (uint32_t k = 0; k < r->ncols; k++)
		env->vstate[r->vars[k]] = VS_REL;
	if (r->n == 0)
		env->empty = true;
}

/* Join r into the environment: with every relation sharing a variable (or
 * pushed as a new one).  Takes r. */
int dl_exec_absorb(dl_qenv *env, dl_rel *r)
{
	for (uint32_t i = 0; i < env->nrels;) {
		bool share = false;
		for (uint32_t k = 0; k < r->ncols && !share; k++)
			share = dl_rel_col(env->rels[i], r->vars[k]) >= 0;
		if (!share) {
			i++;
			continue;
		}
		dl_rel *j;
		int rc = dl_rel_join(&j, env, env->rels[i], r);
		dl_rel_free(r);
		if (rc)
			return rc;
		r = j;
		drop_rel(env, i);
		i = 0;
	}
	return dl_exec_push(env, r);
}

/* Make the variables vars[0..n) (those in relations) live in one relation,
 * joining relations as needed (a product when they share nothing).  *out
 * is its index, or -1 if none of them is in a relation. */
int dl_exec_unify(dl_qenv *env, const uint32_t *vars, uint32_t n, int *out)
{
	if (DL_UNLIKELY(env->pending) && dl_batch_meets(env, vars, n))
		DL_TRY(dl_batch_absorb(env, NULL, 0, NULL, NULL));
	for (;;) {
		int first = -1, second = -1;
		for (uint32_t k = 0; k < n && second < 0; k++) {
			if (env->vstate[vars[k]] != VS_REL)
				continue;
			int ri = dl_qenv_rel_of(env, vars[k]);
			if (ri < 0)
				continue;
			if (first < 0)
				first = ri;
			else if (ri != first)
				second = ri;
		}
		if (second < 0) {
			*out = first;
			return 0;
		}
		dl_rel *j;
		DL_TRY(dl_rel_join(&j, env, env->rels[first], env->rels[second]));
		set_rel(env, (uint32_t)first, j);
		drop_rel(env, (uint32_t)second);
	}
}

/* ---- values ------------------------------------------------------------------ */

/* The row form of an attribute id: its ident keyword, or the id. */
static dl_value attr_out(const dl_qenv *env, int64_t a)
{
	uint32_t kw = dl_schema_ident(env->schema, a);
	if (kw) {
		dl_value v = {.type = DL_KEYWORD};
		v.u.id = kw;
		return v;
	}
	return dl_int(a);
}

/* A datom value in row form: refs become ints; memory the snapshot lends
 * is copied into the scratch arena. */
static int stable_slow(dl_qenv *env, dl_value *v);

static inline int stable(dl_qenv *env, dl_value *v)
{
	if (v->type < DL_STRING) /* nil, booleans, numbers, instants: nothing to do */
		return 0;
	return stable_slow(env, v);
}

static int stable_slow(dl_qenv *env, dl_value *v)
{
	switch (v->type) {
	case DL_REF:
		v->type = DL_INT;
		return 0;
	case DL_STRING:
	case DL_BYTES:
		if (v->flags & DL_VF_PINNED) {
			/* in the snapshot's pages, which outlive the query */
			v->flags &= (uint8_t)~DL_VF_PINNED;
			return 0;
		}
		/* fall through */
	case DL_VECTOR:
	case DL_LIST:
	case DL_SET:
	case DL_MAP: {
		dl_value c;
		DL_TRY(dl_value_copy(&c, env->a, v));
		*v = c;
		return 0;
	}
	default:
		return 0;
	}
}

int dl_exec_row_form(dl_qenv *env, dl_value *v) { return stable(env, v); }

/* ---- calling functions ------------------------------------------------------------ */

/* The database hook of get-else, get-some and missing?. */
static int fn_attr_value(void *db, const dl_value *e, const dl_value *attr, bool card_many_ok,
			 dl_value *out, bool *found, dl_arena *a)
{
	dl_qenv *env = db;
	*found = false;
	int64_t eid, aid = 0;
	if (attr->type == DL_KEYWORD)
		aid = dl_schema_entid(env->schema, attr->u.id);
	else if (attr->type == DL_INT)
		aid = attr->u.i;
	const dl_attr *at = aid ? dl_schema_attr(env->schema, aid) : NULL;
	if (!at) {
		dl_buf b = DL_BUF_INIT;
		dl_edn_print(&b, attr);
		int rc = dl_error(DL_ENOTFOUND, "unknown attribute %s", b.data ? b.data : "?");
		dl_buf_free(&b);
		return rc;
	}
	if (at->many && !card_many_ok) {
		size_t n;
		const char *name = dl_intern_name(at->ident, &n, NULL);
		return dl_error(DL_EINVAL, "attribute :%.*s is cardinality many", (int)n, name);
	}
	int rc = dl_qenv_entity(env, e, &eid);
	if (rc <= 0)
		return rc;
	dl_iter *it;
	dl_datom pre = {.e = eid, .a = aid}, d;
	DL_TRY(dl_iter_open(&it, env->snap, DL_EAVT, &env->view, &pre, 2));
	rc = dl_iter_next(it, &d);
	if (rc > 0) {
		dl_value v = d.v;
		if (v.type == DL_REF)
			v.type = DL_INT;
		rc = dl_value_copy(out, a, &v);
		*found = rc == 0;
	}
	dl_iter_close(it);
	return rc < 0 ? rc : 0;
}

typedef struct fnprog {
	const dl_clause *cl;
	const dl_builtin *b;
	uint32_t nargs;
	int col[MAX_ARGS];       /* column of a variable argument, or -1 */
	dl_value cval[MAX_ARGS]; /* constant arguments */
	char icmp;               /* dl_builtin_int_cmp, for two arguments */
} fnprog;

static int fnprog_init(fnprog *fp, dl_qenv *env, const dl_clause *cl, const dl_rel *R)
{
	fp->cl = cl;
	if (cl->u.fn.f.kind != DL_T_SYM)
		return dl_error(DL_EINVAL, "function position must name a function");
	size_t nlen;
	const char *name = dl_intern_name(cl->u.fn.f.sym, &nlen, NULL);
	fp->b = dl_builtin_find(name, nlen);
	if (!fp->b)
		return dl_error(DL_ENOTFOUND, "unknown function '%.*s'", (int)nlen, name);
	uint32_t first = 0;
	if ((fp->b->flags & DL_BI_NEEDS_DB) && cl->u.fn.nargs > 0 &&
	    cl->u.fn.args[0].kind == DL_T_SRC) {
		if (dl_intern_name(cl->u.fn.args[0].sym, NULL, NULL)[1] != 0)
			return dl_error(DL_EINVAL, "%.*s: only the default source $ is a database",
					(int)nlen, name);
		first = 1;
	}
	fp->nargs = cl->u.fn.nargs - first;
	if (fp->nargs > MAX_ARGS)
		return dl_error(DL_ELIMIT, "%.*s: more than %d arguments", (int)nlen, name, MAX_ARGS);
	DL_TRY(dl_builtin_check_arity(fp->b, fp->nargs));
	fp->icmp = fp->nargs == 2 ? dl_builtin_int_cmp(fp->b) : 0;
	for (uint32_t i = 0; i < fp->nargs; i++) {
		const dl_term *t = &cl->u.fn.args[first + i];
		fp->col[i] = -1;
		switch (t->kind) {
		case DL_T_CONST:
			fp->cval[i] = t->val;
			break;
		case DL_T_VAR:
			if (env->vstate[t->var] == VS_CONST)
				fp->cval[i] = env->vconst[t->var];
			else if (R && dl_rel_col(R, t->var) >= 0)
				fp->col[i] = dl_rel_col(R, t->var);
			else
				return dl_error(DL_EINVAL, "insufficient binding: %s is not bound",
						env->q->vars[t->var].name);
			break;
		case DL_T_SYM: {
			/* a symbol argument is passed as a symbol value */
			dl_value v = {.type = DL_SYMBOL};
			v.u.id = t->sym;
			fp->cval[i] = v;
			break;
		}
		default:
			return dl_error(DL_EINVAL, "%.*s: a source or rules argument is not a value",
					(int)nlen, name);
		}
	}
	return 0;
}

static int fn_call(dl_qenv *env, const fnprog *fp, const dl_value *row, dl_value *out)
{
	if (fp->icmp) {
		const dl_value *x = fp->col[0] >= 0 ? &row[fp->col[0]] : &fp->cval[0];
		const dl_value *y = fp->col[1] >= 0 ? &row[fp->col[1]] : &fp->cval[1];
		if (x->type == DL_INT && y->type == DL_INT) {
			int64_t a = x->u.i, b = y->u.i;
			bool r;
			switch (fp->icmp) {
			case '=': r = a == b; break;
			case '!': r = a != b; break;
			case '<': r = a < b; break;
			case 'l': r = a <= b; break;
			case '>': r = a > b; break;
			default: r = a >= b; break;
			}
			*out = dl_bool(r);
			return 0;
		}
	}
	dl_value args[MAX_ARGS];
	for (uint32_t i = 0; i < fp->nargs; i++)
		args[i] = fp->col[i] >= 0 ? row[fp->col[i]] : fp->cval[i];
	return fp->b->fn(out, env->a, args, fp->nargs, env->fn);
}

/* Functions (with a scalar binding) and filters that run on each row a
 * pattern step makes, in the order the plan had them after the step:
 * rows that fail are dropped before they are kept, and the functions'
 * values become columns of the step's output. */
typedef struct rowpipe {
	uint32_t n;
	fnprog fp[DL_MAX_FUSE];
	int outcol[DL_MAX_FUSE];  /* a function's column in the row; -1: a filter */
	bool implied[DL_MAX_FUSE]; /* a filter the step's value range already applies */
	uint32_t nvars, vars[DL_MAX_FUSE]; /* the functions' variables, in order */
	uint64_t *rows;           /* per clause: rows it let through */
} rowpipe;

static uint32_t pipe_vars(const rowpipe *pi, uint32_t *vars)
{
	memcpy(vars, pi->vars, pi->nvars * sizeof *vars);
	return pi->nvars;
}

/* 1 keep the row (the functions' columns filled in), 0 drop it. */
static int pipe_run(dl_qenv *env, rowpipe *pi, dl_value *row)
{
	for (uint32_t j = 0; j < pi->n; j++) {
		if (pi->implied[j]) {
			pi->rows[j]++;
			continue;
		}
		dl_value v;
		int rc = fn_call(env, &pi->fp[j], row, &v);
		if (rc)
			return dl_exec_at_clause(env, pi->fp[j].cl, rc); /* its own position */
		if (pi->outcol[j] >= 0) {
			if (v.type == DL_NIL)
				return 0; /* nil binds nothing, as in run_fn */
			row[pi->outcol[j]] = v;
		} else if (!dl_truthy(&v)) {
			return 0;
		}
		pi->rows[j]++;
	}
	return 1;
}

/* Take what can run on the rows of a step whose output has vars[0..nv):
 * a prefix of the offered clauses whose inputs are there (each function
 * adding its variable).  0 when nothing is taken. */
static int pipe_init(rowpipe *pi, dl_qenv *env, dl_fuse *fz, const uint32_t *vars, uint32_t nv)
{
	uint32_t all[72 + DL_MAX_FUSE];
	if (nv > 72)
		return 0;
	memcpy(all, vars, nv * sizeof *all);
	pi->n = pi->nvars = 0;
	pi->rows = fz->rows;
	for (uint32_t j = 0; j < fz->n; j++) {
		const dl_clause *c = fz->cl[j];
		dl_rel cols = {.ncols = nv, .vars = all};
		bool ok = true;
		for (uint32_t k = 0; k < c->u.fn.nargs && ok; k++) {
			const dl_term *t = &c->u.fn.args[k];
			ok = t->kind != DL_T_VAR || env->vstate[t->var] == VS_CONST ||
			     dl_rel_col(&cols, t->var) >= 0;
		}
		uint32_t bv = 0;
		if (ok && c->kind == DL_C_FN) {
			const dl_binding *bd = &c->u.fn.bind;
			ok = bd->kind == DL_B_SCALAR && bd->n == 1 && bd->terms[0].kind == DL_T_VAR;
			if (ok) {
				bv = bd->terms[0].var;
				/* free only: bound here or in another relation, it
				 * compares (run_fn joins that relation first) */
				ok = env->vstate[bv] == VS_FREE && dl_rel_col(&cols, bv) < 0;
			}
		}
		if (!ok)
			break;
		if (fnprog_init(&pi->fp[j], env, c, &cols) != 0) {
			dl_error_clear(); /* its own step will report it */
			break;
		}
		pi->outcol[j] = -1;
		pi->implied[j] = false;
		if (c->kind == DL_C_FN) {
			pi->outcol[j] = (int)nv;
			all[nv++] = bv;
			pi->vars[pi->nvars++] = bv;
		}
		fz->rows[j] = 0;
		pi->n++;
	}
	fz->taken = pi->n;
	return pi->n > 0;
}

/* ---- data patterns --------------------------------------------------------------- */

enum { P_F = 0, P_C, P_J };

typedef struct pprog {
	dl_rpat rp;
	uint8_t pos[5];
	int jcol[5];          /* J positions: column in the bound relation */
	int dup[5];           /* F positions repeating an earlier F var: that position */
	uint32_t nnew;
	int newpos[5];        /* first position of each new variable */
	uint32_t newvar[5];
	const dl_rel *R;      /* the bound relation (NULL for a scan) */
	/* set by pprog_index once the iterator is open: the constants the
	 * index prefix does not already guarantee, and the variable positions
	 * whose values are needed */
	uint8_t nchk, chk[5];
	uint8_t nval, val[5];
	bool range_done;      /* the iterator applies the value range */
	rowpipe *pipe;        /* functions and filters run on each row made, or NULL */
} pprog;


static void pprog_init(pprog *pp, dl_qenv *env, const dl_rel *R)
{
	const dl_rpat *rp = &pp->rp;
	pp->R = R;
	pp->nnew = 0;
	for (int i = 0; i < 5; i++) {
		pp->dup[i] = -1;
		pp->jcol[i] = -1;
		if (rp->kind[i] == DL_T_CONST) {
			pp->pos[i] = P_C;
		} else if (rp->kind[i] == DL_T_VAR && R && dl_rel_col(R, rp->var[i]) >= 0) {
			pp->pos[i] = P_J;
			pp->jcol[i] = dl_rel_col(R, rp->var[i]);
		} else {
			pp->pos[i] = P_F;
			if (rp->kind[i] != DL_T_VAR)
				continue;
			for (int k = 0; k < i; k++)
				if (rp->kind[k] == DL_T_VAR && rp->var[k] == rp->var[i] &&
				    pp->pos[k] == P_F) {
					pp->dup[i] = k;
					break;
				}
			if (pp->dup[i] < 0) {
				pp->newpos[pp->nnew] = i;
				pp->newvar[pp->nnew++] = rp->var[i];
			}
		}
	}
	DL_UNUSED(env);
}

static inline dl_value int_value(int64_t i) { return (dl_value){.type = DL_INT, .u.i = i}; }

/* Component i of a datom in storage form (for comparing with constants and
 * keys) and in row form. */
static inline dl_value comp_store(const dl_datom *d, int i)
{
	switch (i) {
	case 0: return int_value(d->e);
	case 1: return int_value(d->a);
	case 2: return d->v;
	case 3: return int_value(d->tx);
	default: return (dl_value){.type = DL_BOOL, .u.b = d->added};
	}
}

static inline dl_value comp_row(const dl_qenv *env, const dl_datom *d, int i)
{
	switch (i) {
	case 0: return int_value(d->e);
	case 1: return attr_out(env, d->a);
	case 2: {
		dl_value v = d->v;
		if (v.type == DL_REF)
			v.type = DL_INT;
		return v;
	}
	case 3: return int_value(d->tx);
	default: return (dl_value){.type = DL_BOOL, .u.b = d->added};
	}
}

/* What datom_ok checks, once the iterator on idx is open with plen leading
 * constants in its prefix. */
static const char k_order[DL_INDEX_COUNT][3] = {{0, 1, 2}, {1, 0, 2}, {1, 2, 0}, {2, 1, 0}};

static void pprog_index(pprog *pp, int idx, int plen)
{
	bool in_prefix[5] = {false};
	for (int p = 0; p < plen && p < 3; p++)
		in_prefix[(int)k_order[idx][p]] = true;
	pp->nchk = pp->nval = 0;
	for (int i = 0; i < 5; i++) {
		if (pp->pos[i] == P_C) {
			if (!in_prefix[i])
				pp->chk[pp->nchk++] = (uint8_t)i;
		} else if (pp->rp.kind[i] == DL_T_VAR) {
			pp->val[pp->nval++] = (uint8_t)i;
		}
	}
}

/* Are the rows a pattern makes from distinct datoms distinct?  Yes when
 * E, A and V are each a constant or a variable (a blank drops what tells
 * two datoms apart) and the view has one datom per [e a v]. */
static bool pattern_distinct(const dl_qenv *env, const pprog *pp)
{
	if (env->view.kind == DL_VIEW_HISTORY)
		return false;
	for (int i = 0; i < 3; i++)
		if (pp->pos[i] == P_F && pp->rp.kind[i] != DL_T_VAR)
			return false;
	return true;
}

/* Does the pattern match at most one datom per entity (per binding row,
 * when E comes from one)?  With a constant attribute of cardinality one, or
 * V fixed by a constant or the row (one datom per [e a v]), in any view but
 * the history.  Then the rows it makes keep a key: E's column when it scans,
 * the bound rows' key when it joins. */
static bool one_per_entity(const dl_qenv *env, const pprog *pp)
{
	if (env->view.kind == DL_VIEW_HISTORY || pp->pos[1] != P_C)
		return false;
	if (pp->pos[2] != P_F)
		return true;
	return pp->rp.attr && !pp->rp.attr->many;
}

/* The key of the rows a pattern joined to R makes (out: R's columns, then
 * the new ones), or 0.  One datom or none per bound row keeps R's key.  A
 * new E column is a key when the attribute has one value per entity and
 * the value comes from R's key column: each entity's one datom meets one
 * row. */
static uint32_t join_key(const dl_qenv *env, const pprog *pp, const dl_rel *R, const dl_rel *out)
{
	if (!R->key1 || !one_per_entity(env, pp))
		return 0;
	if (pp->pos[0] != P_F)
		return R->key1;
	if (pp->pos[2] == P_J && pp->rp.kind[0] == DL_T_VAR && pp->rp.attr &&
	    !pp->rp.attr->many && pp->jcol[2] == (int)R->key1 - 1) {
		int c = dl_rel_col(out, pp->rp.var[0]);
		return c >= 0 ? (uint32_t)c + 1 : 0;
	}
	return 0;
}

/* Does the datom satisfy the constants and repeated variables?  Fills
 * vals[] with the row form of every variable position. */
static bool datom_ok(const dl_qenv *env, const pprog *pp, const dl_datom *d, dl_value vals[5])
{
	const dl_rpat *rp = &pp->rp;
	for (int k = 0; k < pp->nchk; k++) {
		int i = pp->chk[k];
		dl_value s = comp_store(d, i);
		if (!dl_value_equal(&s, &rp->c[i]))
			return false;
	}
	for (int k = 0; k < pp->nval; k++) {
		int i = pp->val[k];
		vals[i] = comp_row(env, d, i);
		if (pp->dup[i] >= 0 && !dl_value_equal(&vals[i], &vals[pp->dup[i]]))
			return false;
	}
	if (rp->range && rp->kind[2] == DL_T_VAR && !pp->range_done) {
		/* the iterator applies the range when V follows the prefix; check
		 * here for the other orders */
		if (rp->lo_set) {
			int c = dl_value_compare(&d->v, &rp->lo);
			if (c < 0 || (c == 0 && !rp->lo_incl))
				return false;
		}
		if (rp->hi_set) {
			int c = dl_value_compare(&d->v, &rp->hi);
			if (c > 0 || (c == 0 && !rp->hi_incl))
				return false;
		}
	}
	return true;
}

static bool row_ok(const pprog *pp, const dl_value *row, const dl_value vals[5])
{
	for (int i = 0; i < 5; i++)
		if (pp->pos[i] == P_J && !dl_value_equal(&row[pp->jcol[i]], &vals[i]))
			return false;
	return true;
}

/* Emit row ++ new values into out; the new values are made stable once per
 * datom (*stabilized). */
static int emit(dl_qenv *env, dl_rel *out, const pprog *pp, const dl_value *row, dl_value vals[5],
		bool *stabilized)
{
	if (!*stabilized) {
		for (uint32_t k = 0; k < pp->nnew; k++)
			DL_TRY(stable(env, &vals[pp->newpos[k]]));
		*stabilized = true;
	}
	dl_value *o = dl_rel_push(env, out);
	if (!o)
		return dl_errcode_last() ? dl_errcode_last() : DL_ENOMEM;
	uint32_t w = 0;
	if (row) {
		memcpy(o, row, pp->R->ncols * sizeof *o);
		w = pp->R->ncols;
	}
	for (uint32_t k = 0; k < pp->nnew; k++)
		o[w + k] = vals[pp->newpos[k]];
	if (pp->pipe) {
		int keep = pipe_run(env, pp->pipe, o);
		if (keep < 0)
			return keep;
		if (!keep)
			out->n--;
	}
	return dl_qenv_tick(env);
}

/* Open an iterator on idx with as many leading constants as the index
 * order allows; *plen receives their number. */
static int open_iter(dl_iter **it, dl_qenv *env, pprog *pp, int idx, int *plen)
{
	const dl_rpat *rp = &pp->rp;
	dl_datom pre = {0};
	int p = 0;
	while (p < 3 && pp->pos[(int)k_order[idx][p]] == P_C) {
		int c = k_order[idx][p];
		if (c == 0)
			pre.e = rp->c[0].u.i;
		else if (c == 1)
			pre.a = rp->c[1].u.i;
		else
			pre.v = rp->c[2];
		p++;
	}
	if (idx == DL_VAET && p == 0 && !rp->vref)
		return dl_error(DL_EINVAL, "internal: VAET without a ref value");
	DL_TRY(dl_iter_open(it, env->snap, (dl_index)idx, &env->view, &pre, p));
	pp->range_done = false;
	if (rp->range && p < 3 && k_order[idx][p] == 2 && (p == 1 || p == 2)) {
		int rc = dl_iter_value_range(*it, rp->lo_set ? &rp->lo : NULL, rp->lo_incl,
					     rp->hi_set ? &rp->hi : NULL, rp->hi_incl);
		if (rc) {
			dl_iter_close(*it);
			return rc;
		}
		pp->range_done = true;
	}
	*plen = p;
	pprog_index(pp, idx, p);
	return 0;
}

static uint32_t new_cols(const dl_rel *R, const pprog *pp, uint32_t *vars)
{
	uint32_t n = 0;
	if (R) {
		memcpy(vars, R->vars, R->ncols * sizeof *vars);
		n = R->ncols;
	}
	for (uint32_t k = 0; k < pp->nnew; k++)
		vars[n++] = pp->newvar[k];
	if (pp->pipe)
		n += pipe_vars(pp->pipe, vars + n);
	return n;
}

/* scan: the constants' range becomes a relation of the pattern's variables
 * (or, with no variables, a yes/no). */
/* The rows of the iterator's datoms, until one whose E is stop or more
 * (stop < 0: to the end).  The scan reads E in order: the components
 * before it are constants in the prefix. */
static int scan_loop(dl_qenv *env, pprog *pp, dl_step *s, dl_iter *it, dl_rel *r, int64_t stop)
{
	uint32_t nc = r->ncols;
	dl_datom d;
	dl_value vals[5];
	int rc;
	bool dedup = !pattern_distinct(env, pp); /* distinct datoms, distinct rows */
	while ((rc = dl_iter_next(it, &d)) > 0) {
		if (stop >= 0 && d.e >= stop)
			break;
		if ((rc = dl_qenv_tick(env)))
			break;
		if (!datom_ok(env, pp, &d, vals))
			continue;
		if (s->strategy == ST_EXISTS) {
			dl_rel_push(env, r);
			break;
		}
		/* skip a repeat of the previous row (blanks project datoms onto
		 * fewer columns; neighbours are the usual duplicates) */
		if (dedup && r->n && nc) {
			const dl_value *prev = &r->rows[(r->n - 1) * nc];
			bool same = true;
			for (uint32_t k = 0; k < pp->nnew && same; k++)
				same = dl_value_equal(&prev[k], &vals[pp->newpos[k]]);
			if (same)
				continue;
		}
		bool st = false;
		if ((rc = emit(env, r, pp, NULL, vals, &st)))
			break;
	}
	return rc < 0 ? rc : 0;
}

/* ---- the worker pool ---- */

/* A worker thread's environment: env's query and bindings on the
 * worker's own snapshot, arena and function context, holding none of
 * env's relations (and no pool of its own). */
static void worker_env(dl_qenv *we, dl_fn_ctx *fn, dl_qenv *env, dl_snap *snap, dl_arena *a)
{
	dl_fn_ctx_init(fn);
	fn->seed = env->fn->seed;
	fn->attr_value = env->fn->attr_value;
	*we = *env;
	we->snap = snap;
	we->a = a;
	we->fn = fn;
	fn->db = we;
	we->rels = NULL;
	we->nrels = 0;
	we->steps = NULL;
	we->nsteps = 0;
	we->nested_scanned = 0;
	we->pool = NULL;
	we->pending = NULL;
}

/* Run fn(arg, we) on this (worker) thread in its own snapshot of env's
 * committed state, arena a and function context.  0 when it ran (fn's
 * result in *out), 1 when the snapshot shows another state than env's (the
 * database moved on: the caller does the work itself), or an error from
 * opening the snapshot. */
static int worker_run(dl_qenv *env, dl_arena *a, int (*fn)(void *arg, dl_qenv *we), void *arg,
		      int *out)
{
	dl_snap *snap = NULL;
	int rc = dl_snap_begin(&snap, dl_snap_store(env->snap));
	if (rc == 0 && dl_snap_id(snap) != dl_snap_id(env->snap))
		rc = 1;
	if (rc == 0) {
		dl_fn_ctx fn_ctx;
		dl_qenv we;
		worker_env(&we, &fn_ctx, env, snap, a);
		*out = fn(arg, &we);
		dl_fn_ctx_fini(&fn_ctx);
	}
	if (snap)
		dl_snap_end(snap);
	return rc;
}

/* One part of a step split between the pool's threads (a range of a scan,
 * a range of a nested q's input tuples): the part's own kind embeds this
 * first and says in `run` how to do its work in an environment. */
typedef struct pool_part pool_part;
struct pool_part {
	pthread_t thread;
	dl_qenv *env;       /* the caller's (read only in the worker) */
	int (*run)(pool_part *p, dl_qenv *in);
	dl_rel *res;        /* the rows the part makes */
	dl_arena *arena;    /* the values they hold; kept until the query ends */
	uint64_t scanned;
	int rc;
	bool stale;         /* the database moved on: the caller runs this part */
	char msg[512];
};

static int pool_part_run(void *arg, dl_qenv *we)
{
	pool_part *p = arg;
	return p->run(p, we);
}

static void *pool_part_main(void *arg)
{
	pool_part *p = arg;
	int rc = worker_run(p->env, p->arena, pool_part_run, p, &p->rc);
	if (rc == 1)
		p->stale = true;
	else if (rc < 0)
		p->rc = rc;
	if (p->rc < 0)
		snprintf(p->msg, sizeof p->msg, "%s", dl_errmsg());
	return NULL;
}

/* Start parts[0..n) (each stride bytes apart, a pool_part first) on
 * threads, with relations shaped like `shape`; *started of them run. */
static int pool_parts_start(void *parts, size_t stride, int n, const dl_rel *shape, int *started)
{
	*started = 0;
	for (int k = 0; k < n; k++) {
		pool_part *p = (pool_part *)((char *)parts + (size_t)k * stride);
		p->res = dl_rel_new(NULL, shape->ncols, shape->vars);
		p->arena = dl_calloc(1, sizeof *p->arena);
		if (!p->res || !p->arena)
			return DL_ENOMEM;
		*p->arena = (dl_arena)DL_ARENA_INIT;
		if (pthread_create(&p->thread, NULL, pool_part_main, p))
			return dl_error(DL_EIO, "cannot start a worker thread");
		(*started)++;
	}
	return 0;
}

/* After the join: run a stale part here, report a failed one, and keep
 * the part's arena for the query's answer; rc is the error so far. */
static int pool_part_finish(dl_qenv *env, pool_part *p, bool started, int rc)
{
	if (!rc && started && p->stale)
		rc = p->run(p, env);
	else if (!rc && started && p->rc < 0)
		rc = dl_error(p->rc, "%s", p->msg);
	if (p->arena && pool_keep(env->pool, p->arena) < 0) {
		dl_arena_free(p->arena);
		dl_free(p->arena);
		if (!rc)
			rc = DL_ENOMEM;
	}
	p->arena = NULL;
	return rc;
}

/* ---- scans split over the worker pool ---- */

/* Scans of at least this many datoms are split between the pool's
 * threads, by ranges of entity ids. */
#define PAR_SCAN_MIN 65536.0

typedef struct scan_worker {
	pool_part base;      /* first: the pool's view of it */
	const pprog *pp;
	dl_step *s;          /* read only: strategy, index */
	int64_t from, to;    /* entity ids [from, to); to < 0: to the end */
	uint64_t fused[DL_MAX_FUSE]; /* the pipe's row counts, added up after */
} scan_worker;

/* Open an iterator for pp on s's index positioned at entity `from`. */
static int scan_open_at(dl_iter **it, dl_qenv *env, pprog *pp, dl_step *s, int64_t from)
{
	int plen;
	DL_TRY(open_iter(it, env, pp, s->index, &plen));
	dl_datom sk = {.e = from, .v = dl_nil()};
	int rc = dl_iter_seek(*it, &sk);
	if (rc) {
		dl_iter_close(*it);
		*it = NULL;
	}
	return rc;
}

/* One part of the scan, in env (the caller's or a worker's). */
static int scan_part(dl_qenv *env, const pprog *shared, dl_step *s, int64_t from, int64_t to,
		     dl_rel *res, uint64_t *fused, uint64_t *scanned)
{
	pprog pp = *shared;
	rowpipe pi;
	if (shared->pipe) { /* its own row counts */
		pi = *shared->pipe;
		pi.rows = fused;
		pp.pipe = &pi;
	}
	dl_iter *it;
	DL_TRY(scan_open_at(&it, env, &pp, s, from));
	int rc = scan_loop(env, &pp, s, it, res, to);
	*scanned += dl_iter_scanned(it);
	dl_iter_close(it);
	return rc;
}

static int scan_worker_run(pool_part *p, dl_qenv *in)
{
	scan_worker *w = (scan_worker *)p;
	return scan_part(in, w->pp, w->s, w->from, w->to, p->res, w->fused, &p->scanned);
}

/* The highest entity id of the scan's range (it holds at least `lo`). */
static int scan_last_e(dl_iter *it, int64_t lo, int64_t *out)
{
	int64_t hi = INT64_MAX;
	while (lo < hi) {
		int64_t mid = lo + (int64_t)(((uint64_t)hi - (uint64_t)lo + 1) / 2);
		dl_datom sk = {.e = mid, .v = dl_nil()}, d;
		DL_TRY(dl_iter_seek(it, &sk));
		int rc = dl_iter_next(it, &d);
		if (rc < 0)
			return rc;
		if (rc > 0)
			lo = d.e;
		else
			hi = mid - 1;
	}
	*out = lo;
	return 0;
}

/* Split the scan between the pool's threads by entity id ranges; 1 when
 * it is not worth it or not possible (the caller scans alone). */
static int scan_parallel(dl_qenv *env, pprog *pp, dl_step *s, dl_rel *r)
{
	int nw = env->pool ? env->pool->threads : 1;
	int idx = s->index, p = 0;
	while (p < 3 && pp->pos[(int)k_order[idx][p]] == P_C)
		p++;
	double min = env->opts && env->opts->par_scan_min > 0 ? env->opts->par_scan_min
							     : PAR_SCAN_MIN;
	if (nw < 2 || s->strategy != ST_SCAN || s->est_cost < min ||
	    dl_snap_id(env->snap) == 0 || p >= 3 || k_order[idx][p] != 0)
		return 1; /* E must come right after the constants */
	/* the range of entity ids */
	dl_iter *it;
	int plen;
	DL_TRY(open_iter(&it, env, pp, idx, &plen));
	dl_datom d;
	int rc = dl_iter_next(it, &d);
	bool any = rc > 0;
	int64_t lo = 0, hi = 0;
	if (any) {
		lo = d.e;
		rc = scan_last_e(it, lo, &hi);
	}
	s->scanned += dl_iter_scanned(it);
	dl_iter_close(it);
	if (rc < 0 || !any)
		return rc < 0 ? rc : 0; /* an error, or nothing to scan */
	if ((uint64_t)hi - (uint64_t)lo < (uint64_t)nw * 64)
		return 1;
	scan_worker w[DL_MAX_THREADS];
	memset(w, 0, sizeof w);
	unsigned __int128 span = (unsigned __int128)((uint64_t)hi - (uint64_t)lo) + 1;
	for (int k = 0; k < nw; k++)
		w[k] = (scan_worker){.base = {.env = env, .run = scan_worker_run}, .pp = pp, .s = s,
				     .from = lo + (int64_t)(span * (unsigned)k / (unsigned)nw),
				     .to = k + 1 < nw ? lo + (int64_t)(span * (unsigned)(k + 1) / (unsigned)nw)
						      : -1};
	int started;
	rc = pool_parts_start(w, sizeof *w, nw, r, &started);
	for (int k = 0; k < started; k++)
		pthread_join(w[k].base.thread, NULL);
	/* the parts in order: the rows stay in entity order */
	for (int k = 0; k < nw; k++) {
		pool_part *pt = &w[k].base;
		rc = pool_part_finish(env, pt, k < started, rc);
		s->scanned += pt->scanned;
		for (uint32_t j = 0; pp->pipe && j < pp->pipe->n; j++)
			pp->pipe->rows[j] += w[k].fused[j];
		if (!rc && pt->res && (rc = dl_rel_reserve(env, r, pt->res->n)) == 0 && pt->res->n) {
			memcpy(&r->rows[r->n * r->ncols], pt->res->rows,
			       pt->res->n * r->ncols * sizeof *r->rows);
			r->n += pt->res->n;
		}
		dl_rel_free(pt->res);
	}
	if (!rc)
		s->parallel = true;
	return rc;
}

static int op_scan(dl_qenv *env, pprog *pp, dl_step *s, dl_rel **out)
{
	uint32_t vars[8 + DL_MAX_FUSE];
	uint32_t nc = new_cols(NULL, pp, vars);
	dl_rel *r = dl_rel_new(env, nc, vars);
	if (!r)
		return DL_ENOMEM;
	if (pp->rp.never) {
		*out = r;
		return 0;
	}
	int rc = scan_parallel(env, pp, s, r);
	if (rc == 1) {
		dl_iter *it;
		int plen;
		rc = open_iter(&it, env, pp, s->index, &plen);
		if (!rc) {
			rc = scan_loop(env, pp, s, it, r, -1);
			s->scanned += dl_iter_scanned(it);
			dl_iter_close(it);
		}
	}
	if (rc < 0) {
		dl_rel_free(r);
		return rc;
	}
	r->distinct = pattern_distinct(env, pp);
	if (pp->pos[0] == P_F && pp->rp.kind[0] == DL_T_VAR && one_per_entity(env, pp)) {
		int c = dl_rel_col(r, pp->rp.var[0]);
		r->key1 = c >= 0 ? (uint32_t)c + 1 : 0;
	}
	*out = r;
	return 0;
}

/* hash: scan the constants' range once, probing a hash of R on the
 * pattern's bound variables. */
static int op_hash(dl_qenv *env, pprog *pp, dl_step *s, dl_rel **out)
{
	const dl_rel *R = pp->R;
	uint32_t keys[5], jpos[5], nk = 0, idx[5];
	for (int i = 0; i < 5; i++)
		if (pp->pos[i] == P_J) {
			keys[nk] = (uint32_t)pp->jcol[i];
			jpos[nk++] = (uint32_t)i;
		}
	for (uint32_t k = 0; k < nk; k++)
		idx[k] = k;
	uint32_t vars[72 + DL_MAX_FUSE];
	uint32_t nc = new_cols(R, pp, vars);
	dl_rel *r = dl_rel_new(env, nc, vars);
	if (!r)
		return DL_ENOMEM;
	dl_rhash h;
	int rc = dl_rhash_build(&h, R, keys, nk);
	if (rc) {
		dl_rel_free(r);
		return rc;
	}
	dl_iter *it = NULL;
	int plen;
	if (pp->rp.never || (rc = open_iter(&it, env, pp, s->index, &plen)))
		goto done;
	dl_datom d;
	dl_value vals[5], kv[5];
	while ((rc = dl_iter_next(it, &d)) > 0) {
		if ((rc = dl_qenv_tick(env)))
			break;
		if (!datom_ok(env, pp, &d, vals))
			continue;
		for (uint32_t k = 0; k < nk; k++)
			kv[k] = vals[jpos[k]];
		uint64_t hv = dl_row_hash(kv, idx, nk);
		bool st = false;
		for (uint32_t at = dl_rhash_find(&h, R, kv, idx, hv); at;
		     at = dl_rhash_next(&h, R, at, kv, idx, hv)) {
			const dl_value *row = &R->rows[(size_t)(at - 1) * R->ncols];
			if (!row_ok(pp, row, vals))
				continue;
			if ((rc = emit(env, r, pp, row, vals, &st)))
				goto done;
		}
	}
done:
	if (it) {
		s->scanned += dl_iter_scanned(it);
		dl_iter_close(it);
	}
	dl_rhash_free(&h);
	if (rc < 0) {
		dl_rel_free(r);
		return rc;
	}
	r->distinct = R->distinct && pattern_distinct(env, pp);
	r->key1 = join_key(env, pp, R, r);
	*out = r;
	return 0;
}

typedef struct keyed {
	dl_value k;  /* the key in storage form */
	uint32_t row;
} keyed;

static int cmp_keyed(const void *x, const void *y)
{
	const keyed *a = x, *b = y;
	int c = dl_value_compare(&a->k, &b->k);
	return c ? c : (a->row > b->row) - (a->row < b->row);
}

/* Keys that are all entity or attribute ids (kpos 0 or 1) compare as
 * integers. */
static int cmp_keyed_id(const void *x, const void *y)
{
	const keyed *a = x, *b = y;
	if (a->k.u.i != b->k.u.i)
		return a->k.u.i < b->k.u.i ? -1 : 1;
	return (a->row > b->row) - (a->row < b->row);
}

/* Ids by LSD radix sort on 16-bit digits (stable, so equal keys keep row
 * order, as cmp_keyed_id has it); digits every key shares are skipped,
 * which for ids of one partition leaves one or two passes. */
static int radix_ids(keyed *ks, size_t n)
{
	keyed *tmp = dl_block_alloc(n * sizeof *tmp);
	uint32_t *cnt = dl_block_alloc(65536 * sizeof *cnt);
	if (!tmp || !cnt) {
		dl_block_free(tmp);
		dl_block_free(cnt);
		return DL_ENOMEM;
	}
	keyed *src = ks, *dst = tmp;
	for (int shift = 0; shift < 64; shift += 16) {
		memset(cnt, 0, 65536 * sizeof *cnt);
		for (size_t i = 0; i < n; i++)
			cnt[((uint64_t)src[i].k.u.i ^ 0x8000000000000000ull) >> shift & 0xFFFF]++;
		uint32_t d0 = ((uint64_t)src[0].k.u.i ^ 0x8000000000000000ull) >> shift & 0xFFFF;
		if (cnt[d0] == n)
			continue; /* every key has this digit */
		uint32_t sum = 0;
		for (uint32_t d = 0; d < 65536; d++) {
			uint32_t c = cnt[d];
			cnt[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[cnt[((uint64_t)src[i].k.u.i ^ 0x8000000000000000ull) >> shift & 0xFFFF]++] =
				src[i];
		keyed *t = src;
		src = dst;
		dst = t;
	}
	if (src != ks)
		memcpy(ks, src, n * sizeof *ks);
	dl_block_free(tmp);
	dl_block_free(cnt);
	return 0;
}

/* Sort the keys, unless they already are (the usual case: R came out of
 * an index in this key's order). */
static int sort_keys(keyed *ks, size_t n, bool ids)
{
	int (*cmp)(const void *, const void *) = ids ? cmp_keyed_id : cmp_keyed;
	for (size_t i = 1; i < n; i++)
		if (cmp(&ks[i - 1], &ks[i]) > 0) {
			if (ids && n > 256)
				return radix_ids(ks, n);
			qsort(ks, n, sizeof *ks, cmp);
			return 0;
		}
	return 0;
}

static inline int key_cmp(const dl_value *a, const dl_value *b, bool ids)
{
	/* ids, and refs or ints on both sides (a ref-valued pattern's key),
	 * compare as integers: the total order does the same */
	if (ids || (a->type == b->type && (a->type == DL_REF || a->type == DL_INT)))
		return (a->u.i > b->u.i) - (a->u.i < b->u.i);
	return dl_value_compare(a, b);
}

/* A datom's component kpos (storage form) against a key. */
static inline int key_cmp_datom(const dl_datom *d, int kpos, const dl_value *key, bool ids)
{
	if (kpos == 0) /* entity keys are ids: no value to build */
		return (d->e > key->u.i) - (d->e < key->u.i);
	dl_value c = comp_store(d, kpos);
	return key_cmp(&c, key, ids);
}

/* Can v's encoding be longer than DL_KEY_VALUE_PREFIX bytes?  (An upper
 * bound: NUL escapes take two bytes.)  Past that prefix the index orders
 * two such values by the hash of a long one, not as dl_value_compare does;
 * a value with a shorter encoding orders the same both ways against any. */
static bool maybe_long(const dl_value *v, size_t *budget)
{
	size_t need;
	switch (v->type) {
	case DL_STRING:
	case DL_BYTES:
		need = 3 + 2 * (size_t)v->len;
		break;
	case DL_KEYWORD:
	case DL_SYMBOL: {
		size_t n = 0;
		dl_intern_name(v->u.id, &n, NULL);
		need = 6 + 2 * n;
		break;
	}
	case DL_VECTOR:
	case DL_LIST:
	case DL_SET:
	case DL_MAP: {
		if (*budget < 9)
			return true;
		*budget -= 9;
		size_t n = (size_t)v->len * (v->type == DL_MAP ? 2 : 1);
		for (size_t i = 0; i < n; i++)
			if (maybe_long(&v->u.items[i], budget))
				return true;
		return false;
	}
	default:
		need = 17;
		break;
	}
	if (need > *budget)
		return true;
	*budget -= need;
	return false;
}

/* The storage form of a row value at component kpos (for seeks): 1 ok,
 * 0 the value cannot match (e.g. a string where an entity is expected). */
static int key_store(dl_qenv *env, const pprog *pp, int kpos, const dl_value *v, dl_value *out)
{
	int64_t id;
	int rc;
	switch (kpos) {
	case 0:
		rc = dl_qenv_entity(env, v, &id);
		if (rc > 0)
			*out = int_value(id);
		return rc;
	case 1:
		if (v->type == DL_KEYWORD) {
			id = dl_schema_entid(env->schema, v->u.id);
			if (!id)
				return 0;
		} else if (v->type == DL_INT) {
			id = v->u.i;
		} else {
			return 0;
		}
		*out = dl_int(id);
		return 1;
	default:
		if (pp->rp.vref) {
			rc = dl_qenv_entity(env, v, &id);
			if (rc > 0)
				*out = dl_ref(id);
			return rc;
		}
		*out = *v;
		return 1;
	}
}

/* inl / merge: R's rows sorted by the key component, one cursor. */
/* How many index entries a merge steps over, at most, before it seeks:
 * a step costs about a sixth of a seek from the root. */
#define MERGE_WALK 8

static int op_keyed(dl_qenv *env, pprog *pp, dl_step *s, dl_rel **out)
{
	const dl_rel *R = pp->R;
	int idx = s->index, plen = 0;
	int p = 0;
	while (p < 3 && pp->pos[(int)k_order[idx][p]] == P_C)
		p++;
	int kpos = k_order[idx][p];
	assert(pp->pos[kpos] == P_J);
	uint32_t vars[72 + DL_MAX_FUSE];
	uint32_t nc = new_cols(R, pp, vars);
	dl_rel *r = dl_rel_new(env, nc, vars);
	if (!r)
		return DL_ENOMEM;
	keyed *ks = dl_block_alloc((R->n ? R->n : 1) * sizeof *ks);
	if (!ks) {
		dl_rel_free(r);
		return DL_ENOMEM;
	}
	size_t nks = 0;
	int rc = 0;
	dl_iter *it = NULL;
	for (size_t i = 0; i < R->n; i++) {
		rc = key_store(env, pp, kpos, &R->rows[i * R->ncols + pp->jcol[kpos]], &ks[nks].k);
		if (rc < 0)
			goto done;
		if (rc > 0)
			ks[nks++].row = (uint32_t)i;
	}
	rc = 0;
	bool ids = kpos < 2; /* key_store gives ints for E and A */
	if ((rc = sort_keys(ks, nks, ids)))
		goto done;
	/* about one datom per key is the usual answer (a cardinality-one
	 * attribute), or the estimate when it says more (a few keys with
	 * many datoms each: [?b :price/symbol ?s] for one ticker), up to 64k
	 * rows; more regrows */
	size_t want = nks;
	if (s->est_rows > (double)want)
		want = s->est_rows < 65536 ? (size_t)s->est_rows : 65536;
	if ((rc = dl_rel_reserve(env, r, want)))
		goto done;
	if (pp->rp.never || nks == 0 || (rc = open_iter(&it, env, pp, idx, &plen)))
		goto done;
	assert(plen == p);
	dl_datom d;
	bool have = false, end = false;
	dl_value vals[5];
	/* the usual shape, [?e :attr ?v] with ?e bound: the prefix and the key
	 * guarantee everything datom_ok and row_ok would check, and the values
	 * come straight from the datom */
	bool plain = pp->nchk == 0 && !(pp->rp.range && pp->rp.kind[2] == DL_T_VAR && !pp->range_done);
	for (int i = 0; i < 5; i++)
		if (pp->pos[i] == P_J && i != kpos)
			plain = false;
	for (int k = 0; k < pp->nval; k++)
		if ((pp->val[k] != 0 && pp->val[k] != 2) || pp->dup[pp->val[k]] >= 0)
			plain = false;
	/* merge steps over a few entries before it seeks from the root
	 * (dl_iter_seek_near: a step compares key bytes, a seek descends the
	 * tree); an index nested loop's keys are far apart: it seeks */
	int walk = s->strategy == ST_MERGE ? 2 : 0, probe = 0;
	for (size_t g = 0; g < nks;) {
		size_t ge = g + 1;
		while (ge < nks && key_cmp(&ks[ge].k, &ks[g].k, ids) == 0)
			ge++;
		const dl_value *key = &ks[g].k;
		/* position the cursor on the first datom with component >= key;
		 * a long value may sort before the cursor (or the end) in the
		 * index though after the last key by value: it seeks */
		size_t budget = DL_KEY_VALUE_PREFIX;
		bool exact = kpos == 2 && maybe_long(key, &budget);
		if (end && !exact) {
			if (kpos != 2)
				break;
			g = ge;
			continue;
		}
		if (!have || exact || key_cmp_datom(&d, kpos, key, ids) < 0) {
			dl_datom sk = {.v = dl_nil()};
			if (kpos == 0)
				sk.e = key->u.i;
			else if (kpos == 1)
				sk.a = key->u.i;
			else
				sk.v = *key;
			if (!have || exact) {
				rc = dl_iter_seek(it, &sk);
			} else if ((rc = dl_iter_seek_near(it, &sk, walk)) >= 0 && s->strategy == ST_MERGE) {
				/* how far to step adapts to the gaps between keys:
				 * further after a walk that got there, half as far
				 * after one that did not (now and then trying again) */
				if (rc > 0)
					walk = walk < MERGE_WALK ? walk + 1 : walk;
				else if ((walk /= 2) == 0 && ++probe % 16 == 0)
					walk = 1;
			}
			if (rc < 0 || (rc = dl_iter_next(it, &d)) < 0)
				goto done;
			have = rc > 0;
			if (!have)
				end = true;
		}
		/* the datoms of this key */
		while (have) {
			if (key_cmp_datom(&d, kpos, key, ids) != 0)
				break;
			bool ok;
			if (plain) {
				for (int k = 0; k < pp->nval; k++) {
					int i = pp->val[k];
					vals[i] = i == 0 ? int_value(d.e) : d.v;
					if (i == 2 && vals[i].type == DL_REF)
						vals[i].type = DL_INT;
				}
				ok = true;
			} else {
				ok = datom_ok(env, pp, &d, vals);
			}
			if (ok) {
				bool st = false;
				for (size_t k = g; k < ge; k++) {
					const dl_value *row = &R->rows[(size_t)ks[k].row * R->ncols];
					if (!plain && !row_ok(pp, row, vals))
						continue;
					if ((rc = emit(env, r, pp, row, vals, &st)))
						goto done;
				}
			}
			if ((rc = dl_iter_next(it, &d)) < 0)
				goto done;
			have = rc > 0;
			if ((rc = dl_qenv_tick(env)) < 0)
				goto done;
			if (!have)
				end = true;
		}
		g = ge;
	}
	rc = 0;
done:
	if (it) {
		s->scanned += dl_iter_scanned(it);
		dl_iter_close(it);
	}
	dl_block_free(ks);
	if (rc < 0) {
		dl_rel_free(r);
		return rc;
	}
	r->distinct = R->distinct && pattern_distinct(env, pp);
	r->key1 = join_key(env, pp, R, r);
	*out = r;
	return 0;
}

/* A pattern over a collection bound to a named source: each item is a
 * tuple matched position by position. */
bool dl_exec_default_src(uint32_t sym)
{
	return dl_intern_name(sym, NULL, NULL)[1] == 0;
}

static int source_of(dl_qenv *env, uint32_t sym, const dl_value **out)
{
	if (env->dollar && dl_exec_default_src(sym)) {
		*out = env->dollar;
		return 0;
	}
	for (uint32_t i = 0; i < env->nsrc; i++)
		if (env->src_sym[i] == sym) {
			*out = env->src_val[i];
			return 0;
		}
	return dl_error(DL_EINVAL, "source %s is not bound to a collection",
			dl_intern_name(sym, NULL, NULL));
}

static int op_source(dl_qenv *env, const dl_clause *cl, dl_step *s)
{
	const dl_value *coll;
	DL_TRY(source_of(env, cl->src, &coll));
	uint32_t vars[5], nv = 0;
	int vpos[5];
	for (uint32_t i = 0; i < cl->u.pat.n; i++) {
		const dl_term *t = &cl->u.pat.t[i];
		if (t->kind != DL_T_VAR || env->vstate[t->var] == VS_CONST)
			continue;
		bool seen = false;
		for (uint32_t k = 0; k < nv; k++)
			seen |= vars[k] == t->var;
		if (!seen) {
			vpos[nv] = (int)i;
			vars[nv++] = t->var;
		}
	}
	dl_rel *r = dl_rel_new(env, nv, vars);
	if (!r)
		return DL_ENOMEM;
	for (uint32_t j = 0; j < coll->len; j++) {
		const dl_value *tup = coll->type == DL_MAP ? NULL : &coll->u.items[j];
		if (!tup || (tup->type != DL_VECTOR && tup->type != DL_LIST) ||
		    tup->len < cl->u.pat.n)
			continue;
		bool ok = true;
		for (uint32_t i = 0; i < cl->u.pat.n && ok; i++) {
			const dl_term *t = &cl->u.pat.t[i];
			const dl_value *x = &tup->u.items[i];
			if (t->kind == DL_T_CONST)
				ok = dl_value_equal(x, &t->val);
			else if (t->kind == DL_T_VAR && env->vstate[t->var] == VS_CONST)
				ok = dl_value_equal(x, &env->vconst[t->var]);
			else if (t->kind == DL_T_VAR)
				for (uint32_t k = 0; k < i; k++)
					if (cl->u.pat.t[k].kind == DL_T_VAR &&
					    cl->u.pat.t[k].var == t->var)
						ok &= dl_value_equal(x, &tup->u.items[k]);
		}
		if (!ok)
			continue;
		dl_value *o = dl_rel_push(env, r);
		if (!o) {
			dl_rel_free(r);
			return dl_errcode_last();
		}
		for (uint32_t k = 0; k < nv; k++)
			o[k] = tup->u.items[vpos[k]];
	}
	s->scanned += coll->len;
	int rc = dl_rel_distinct(env, r);
	if (rc) {
		dl_rel_free(r);
		return rc;
	}
	return dl_exec_absorb(env, r);
}

/* Bound values used where the pattern needs an entity (E, tx, V of a ref
 * attribute) or an attribute become what the index holds: lookup refs and
 * idents resolve to entity ids, attribute ids to their idents.  Rows whose
 * value names nothing cannot match and go. */
static int normalize_cols(dl_qenv *env, int ri, const dl_rpat *rp)
{
	dl_rel *R = env->rels[ri];
	for (int i = 0; i < 4; i++) {
		if (rp->kind[i] != DL_T_VAR || (i == 2 && !rp->vref))
			continue;
		int c = dl_rel_col(R, rp->var[i]);
		if (c < 0)
			continue;
		bool need = false;
		for (size_t r = 0; r < R->n && !need; r++) {
			const dl_value *v = &R->rows[r * R->ncols + c];
			need = i == 1 ? v->type == DL_INT : v->type != DL_INT;
		}
		if (!need)
			continue;
		R->distinct = false; /* an ident and its id become one value */
		R->key1 = 0;
		size_t w = 0;
		for (size_t r = 0; r < R->n; r++) {
			dl_value *row = &R->rows[r * R->ncols];
			dl_value *v = &row[c];
			if (i == 1) {
				if (v->type == DL_INT)
					*v = attr_out(env, v->u.i);
			} else if (v->type != DL_INT) {
				int64_t e;
				int rc = dl_qenv_entity(env, v, &e);
				if (rc < 0)
					return rc;
				if (rc == 0)
					continue;
				*v = dl_int(e);
			}
			if (w != r)
				memcpy(&R->rows[w * R->ncols], row, R->ncols * sizeof *row);
			w++;
		}
		R->n = w;
		if (!w)
			env->empty = true;
	}
	return 0;
}

/* Bit i set: R's rows are already in order of the entity (i = 0) or value
 * (i = 2) a bound variable gives the pattern, so a merge needs no sort. */
static uint8_t sorted_keys(const dl_qenv *env, const dl_rpat *rp, const dl_rel *R)
{
	uint8_t bits = 0;
	for (int i = 0; i <= 2; i += 2) {
		if (rp->kind[i] != DL_T_VAR || env->vstate[rp->var[i]] != VS_REL)
			continue;
		int c = dl_rel_col(R, rp->var[i]);
		if (c < 0)
			continue;
		bool ok = true;
		for (size_t r = 1; r < R->n && ok; r++) {
			const dl_value *a = &R->rows[(r - 1) * R->ncols + c];
			const dl_value *b = &R->rows[r * R->ncols + c];
			ok = a->type == DL_INT && b->type == DL_INT ? a->u.i <= b->u.i
								  : dl_value_compare(a, b) <= 0;
		}
		if (ok)
			bits |= (uint8_t)(1u << i);
	}
	return bits;
}

static int run_pattern(dl_qenv *env, const dl_clause *cls, uint32_t n, const dl_clause *cl,
		       dl_step *s)
{
	if ((cl->src_given && !dl_exec_default_src(cl->src)) || env->dollar) {
		s->strategy = ST_SOURCE;
		return op_source(env, cl, s);
	}
	pprog pp;
	DL_TRY(dl_rpat_resolve(&pp.rp, env, cl));
	dl_plan_range(&pp.rp, env, cls, n);
	/* the relations holding the pattern's bound variables become one */
	uint32_t jv[5], nj = 0;
	for (int i = 0; i < 5; i++)
		if (pp.rp.kind[i] == DL_T_VAR && env->vstate[pp.rp.var[i]] == VS_REL)
			jv[nj++] = pp.rp.var[i];
	int ri = -1;
	if (nj)
		DL_TRY(dl_exec_unify(env, jv, nj, &ri));
	const dl_rel *R = ri >= 0 ? env->rels[ri] : NULL;
	/* choose the algorithm again from the actual number of rows */
	uint8_t *bound = dl_calloc(env->nvars ? env->nvars : 1, 1);
	if (!bound)
		return DL_ENOMEM;
	for (uint32_t k = 0; k < nj; k++)
		bound[jv[k]] = 1;
	dl_step plan = *s;
	plan.sorted_keys = R ? sorted_keys(env, &pp.rp, R) : 0;
	int rc = dl_plan_pattern(&plan, env, &pp.rp, bound, R ? (double)R->n : 0);
	dl_free(bound);
	DL_TRY(rc);
	s->strategy = plan.strategy;
	s->index = plan.index;
	s->ranged = plan.ranged;
	if (R) {
		DL_TRY(normalize_cols(env, ri, &pp.rp));
		R = env->rels[ri];
	}
	pprog_init(&pp, env, R);
	rowpipe pi;
	pp.pipe = NULL;
	uint32_t implied_all = 0; /* filters taken, all implied: rows as made */
	if (env->fuse && s->strategy != ST_EXISTS) {
		uint32_t vars[72 + DL_MAX_FUSE];
		uint32_t nv = new_cols(R, &pp, vars);
		if (pipe_init(&pi, env, env->fuse, vars, nv)) {
			pp.pipe = &pi;
			/* comparisons the scan's value range answers for every row it
			 * makes are counted, not called; with nothing else to do
			 * the pipe goes */
			bool all = true;
			for (uint32_t j = 0; j < pi.n; j++) {
				pi.implied[j] = env->fuse->implied[j] =
					pi.outcol[j] < 0 &&
					dl_plan_range_implies(&pp.rp, env, env->fuse->cl[j]);
				all &= pi.implied[j];
			}
			if (all) {
				pp.pipe = NULL;
				implied_all = pi.n;
			}
		}
	}
	dl_rel *out = NULL;
	switch (s->strategy) {
	case ST_SCAN:
	case ST_EXISTS:
		DL_TRY(op_scan(env, &pp, s, &out));
		if (s->strategy == ST_EXISTS) {
			s->rows = out->n;
			if (out->n == 0)
				env->empty = true;
			dl_rel_free(out);
			return 0;
		}
		s->rows = out->n;
		for (uint32_t j = 0; j < implied_all; j++)
			env->fuse->rows[j] = out->n;
		return dl_exec_absorb(env, out);
	case ST_HASH:
		DL_TRY(op_hash(env, &pp, s, &out));
		break;
	default:
		DL_TRY(op_keyed(env, &pp, s, &out));
		break;
	}
	s->rows = out->n;
	for (uint32_t j = 0; j < implied_all; j++)
		env->fuse->rows[j] = out->n;
	set_rel(env, (uint32_t)ri, out);
	return 0;
}

/* ---- predicates and functions ----------------------------------------------------- */

/* Variables a clause reads (function args) and binds. */
static uint32_t clause_vars(const dl_qenv *env, const dl_clause *cl, uint32_t *vars, uint32_t cap,
			    bool with_bind)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < cl->u.fn.nargs && n < cap; i++)
		if (cl->u.fn.args[i].kind == DL_T_VAR && env->vstate[cl->u.fn.args[i].var] == VS_REL)
			vars[n++] = cl->u.fn.args[i].var;
	if (with_bind)
		for (uint32_t i = 0; i < cl->u.fn.bind.n && n < cap; i++)
			if (cl->u.fn.bind.terms[i].kind == DL_T_VAR &&
			    env->vstate[cl->u.fn.bind.terms[i].var] == VS_REL)
				vars[n++] = cl->u.fn.bind.terms[i].var;
	return n;
}

/* [(= ?x ?y ...)]: the pairs of its variables held by different
 * relations, which can join on them instead of making a product. */
static uint32_t eq_pairs(const dl_qenv *env, const dl_clause *cl, uint32_t *eq)
{
	size_t n;
	const char *name = cl->u.fn.f.kind == DL_T_SYM ? dl_intern_name(cl->u.fn.f.sym, &n, NULL)
							: NULL;
	if (!name || n != 1 || name[0] != '=' || cl->u.fn.nargs > MAX_ARGS)
		return 0;
	const dl_term *a = cl->u.fn.args;
	uint32_t ne = 0;
	for (uint32_t i = 0; i < cl->u.fn.nargs; i++)
		for (uint32_t j = i + 1; j < cl->u.fn.nargs && ne < MAX_ARGS; j++)
			if (a[i].kind == DL_T_VAR && a[j].kind == DL_T_VAR &&
			    env->vstate[a[i].var] == VS_REL && env->vstate[a[j].var] == VS_REL &&
			    dl_qenv_rel_of(env, a[i].var) != dl_qenv_rel_of(env, a[j].var)) {
				eq[2 * ne] = a[i].var;
				eq[2 * ne++ + 1] = a[j].var;
			}
	return ne;
}

/* The filters offered after an equi-join, run by the join on each row
 * it makes (dl_rowfilter). */
typedef struct predfilter {
	dl_rowfilter base;
	dl_qenv *env;
	dl_fuse *fz;
	rowpipe pi;
	bool on;
	uint64_t made; /* rows the join made before the filters */
} predfilter;

static bool predfilter_init(dl_rowfilter *f, const uint32_t *vars, uint32_t n)
{
	predfilter *p = (predfilter *)f;
	if (!p->on)
		return p->on = pipe_init(&p->pi, p->env, p->fz, vars, n);
	return false; /* an earlier join of the same step applied them */
}

static int predfilter_keep(dl_rowfilter *f, dl_value *row)
{
	predfilter *p = (predfilter *)f;
	p->made++;
	return pipe_run(p->env, &p->pi, row);
}

/* A comparison of two columns as `a < b` or `a <= b`: 0 when it is not. */
static int as_less(const fnprog *fp, int *a, int *b, bool *incl)
{
	if (!fp->icmp || fp->col[0] < 0 || fp->col[1] < 0)
		return 0;
	bool swap = fp->icmp == '>' || fp->icmp == 'g';
	if (!swap && fp->icmp != '<' && fp->icmp != 'l')
		return 0;
	*incl = fp->icmp == 'l' || fp->icmp == 'g';
	*a = fp->col[swap];
	*b = fp->col[!swap];
	return 1;
}

static bool predfilter_band(dl_rowfilter *f, uint32_t split, dl_band *out)
{
	predfilter *p = (predfilter *)f;
	const int sp = (int)split;
	for (uint32_t i = 0; i < p->pi.n; i++) {
		int a, b;
		bool incl;
		/* a lower bound: lo (hashed side) < x (probe side) */
		if (!as_less(&p->pi.fp[i], &a, &b, &incl) || a < sp || b >= sp)
			continue;
		for (uint32_t j = 0; j < p->pi.n; j++) {
			int c, d;
			bool incl2;
			/* an upper bound on the same x: x < hi */
			if (as_less(&p->pi.fp[j], &c, &d, &incl2) && c == b && d >= sp) {
				*out = (dl_band){.x = b, .lo = a, .hi = d, .lo_incl = incl,
						 .hi_incl = incl2};
				return true;
			}
		}
	}
	return false;
}

static int run_pred(dl_qenv *env, const dl_clause *cl, dl_step *s)
{
	uint32_t vars[MAX_ARGS];
	uint32_t nv = clause_vars(env, cl, vars, MAX_ARGS, false);
	int ri = -1;
	uint32_t eq[2 * MAX_ARGS];
	uint8_t used[MAX_ARGS] = {0};
	uint32_t neq = eq_pairs(env, cl, eq);
	s->strategy = neq ? ST_EQJOIN : ST_FILTER;
	/* [(= ?x ?y)] alone: the filters after it can run as the join makes
	 * its rows (they see only rows the equality keeps, as they would) */
	predfilter pf = {.base = {predfilter_init, predfilter_keep, predfilter_band},
			 .env = env,
			 .fz = env->fuse};
	bool offer = env->fuse && neq == 1 && cl->u.fn.nargs == 2;
	if (neq)
		DL_TRY(dl_exec_unify_eq(env, vars, nv, eq, neq, used, offer ? &pf.base : NULL, &ri));
	else
		DL_TRY(dl_exec_unify(env, vars, nv, &ri));
	dl_rel *R = ri >= 0 ? env->rels[ri] : NULL;
	if (R && neq == 1 && cl->u.fn.nargs == 2 && used[0]) {
		/* [(= ?x ?y)] was the join's key: every row holds */
		s->rows = pf.on ? pf.made : R->n;
		if (pf.on && R->n == 0)
			env->empty = true; /* as the filter step would have said */
		return 0;
	}
	assert(!pf.on);
	fnprog fp;
	DL_TRY(fnprog_init(&fp, env, cl, R));
	if (!R) {
		/* constants only: true or false for the whole query */
		dl_value v;
		DL_TRY(fn_call(env, &fp, NULL, &v));
		if (!dl_truthy(&v))
			env->empty = true;
		s->rows = dl_truthy(&v);
		return 0;
	}
	size_t w = 0;
	for (size_t i = 0; i < R->n; i++) {
		dl_value *row = &R->rows[i * R->ncols], v;
		DL_TRY(fn_call(env, &fp, row, &v));
		DL_TRY(dl_qenv_tick(env));
		if (!dl_truthy(&v))
			continue;
		if (w != i)
			memcpy(&R->rows[w * R->ncols], row, R->ncols * sizeof *row);
		w++;
	}
	R->n = w;
	s->rows = w;
	if (w == 0)
		env->empty = true;
	return 0;
}

/* Bind one function result to the binding form, appending rows to out
 * (row ++ new vars) or filtering on already-bound output vars. */
typedef struct bindprog {
	const dl_binding *bd;
	uint32_t nnew;
	int newterm[16];   /* binding term index of each new column */
	int boundcol[16];  /* per binding term: the row column if already bound, else -1 */
	int dupof[16];     /* per term: an earlier term with the same new var */
} bindprog;

static int bindprog_init(bindprog *bp, dl_qenv *env, const dl_binding *bd, const dl_rel *R,
			 uint32_t *vars, uint32_t *nc)
{
	bp->bd = bd;
	bp->nnew = 0;
	if (bd->n > 16)
		return dl_error(DL_ELIMIT, "binding form with more than 16 variables");
	for (uint32_t i = 0; i < bd->n; i++) {
		const dl_term *t = &bd->terms[i];
		bp->boundcol[i] = -1;
		bp->dupof[i] = -1;
		if (t->kind != DL_T_VAR)
			continue;
		if (env->vstate[t->var] == VS_CONST)
			return dl_error(DL_EINVAL, "%s is an input: it cannot be bound by a function",
					env->q->vars[t->var].name);
		if (R && dl_rel_col(R, t->var) >= 0) {
			bp->boundcol[i] = dl_rel_col(R, t->var);
			continue;
		}
		for (uint32_t k = 0; k < i; k++)
			if (bd->terms[k].kind == DL_T_VAR && bd->terms[k].var == t->var)
				bp->dupof[i] = (int)k;
		if (bp->dupof[i] >= 0)
			continue;
		bp->newterm[bp->nnew++] = (int)i;
		vars[(*nc)++] = t->var;
	}
	return 0;
}

static bool seq_value(const dl_value *v)
{
	return v->type == DL_VECTOR || v->type == DL_LIST || v->type == DL_SET;
}

/* One tuple of values for the binding's terms: check bound/dup terms and
 * push a row. */
static int bind_tuple(dl_qenv *env, const bindprog *bp, dl_rel *out, const dl_value *row,
		      uint32_t rcols, const dl_value *vals)
{
	for (uint32_t i = 0; i < bp->bd->n; i++) {
		if (bp->boundcol[i] >= 0 && !dl_value_equal(&row[bp->boundcol[i]], &vals[i]))
			return 0;
		if (bp->dupof[i] >= 0 && !dl_value_equal(&vals[bp->dupof[i]], &vals[i]))
			return 0;
	}
	dl_value *o = dl_rel_push(env, out);
	if (!o)
		return dl_errcode_last();
	if (rcols)
		memcpy(o, row, rcols * sizeof *o);
	for (uint32_t k = 0; k < bp->nnew; k++)
		o[rcols + k] = vals[bp->newterm[k]];
	return dl_qenv_tick(env);
}

static int bind_result(dl_qenv *env, const bindprog *bp, dl_rel *out, const dl_value *row,
		       uint32_t rcols, const dl_value *res)
{
	const dl_binding *bd = bp->bd;
	if (res->type == DL_NIL)
		return 0; /* nil binds nothing: the row is dropped */
	switch (bd->kind) {
	case DL_B_SCALAR:
		return bind_tuple(env, bp, out, row, rcols, res);
	case DL_B_TUPLE:
		if (!seq_value(res))
			return dl_error(DL_ETYPE, "tuple binding needs a collection result");
		if (res->len < bd->n)
			return dl_error(DL_EINVAL,
					"tuple binding of %u variables got a collection of %u",
					bd->n, res->len);
		return bind_tuple(env, bp, out, row, rcols, res->u.items);
	case DL_B_COLL:
		if (!seq_value(res))
			return dl_error(DL_ETYPE, "collection binding needs a collection result");
		for (uint32_t j = 0; j < res->len; j++)
			DL_TRY(bind_tuple(env, bp, out, row, rcols, &res->u.items[j]));
		return 0;
	default:
		if (!seq_value(res))
			return dl_error(DL_ETYPE, "relation binding needs a collection of tuples");
		for (uint32_t j = 0; j < res->len; j++) {
			const dl_value *t = &res->u.items[j];
			if (!seq_value(t) || t->len < bd->n)
				return dl_error(DL_EINVAL,
						"relation binding of %u variables got an item that is not such a tuple",
						bd->n);
			DL_TRY(bind_tuple(env, bp, out, row, rcols, t->u.items));
		}
		return 0;
	}
}

static int run_fn(dl_qenv *env, const dl_clause *cl, dl_step *s)
{
	uint32_t vars[MAX_ARGS + 16];
	uint32_t nv = clause_vars(env, cl, vars, MAX_ARGS + 16, true);
	int ri = -1;
	DL_TRY(dl_exec_unify(env, vars, nv, &ri));
	dl_rel *R = ri >= 0 ? env->rels[ri] : NULL;
	fnprog fp;
	DL_TRY(fnprog_init(&fp, env, cl, R));
	uint32_t ovars[MAX_ARGS + 80], nc = 0;
	if (R) {
		memcpy(ovars, R->vars, R->ncols * sizeof *ovars);
		nc = R->ncols;
	}
	bindprog bp;
	DL_TRY(bindprog_init(&bp, env, &cl->u.fn.bind, R, ovars, &nc));
	dl_rel *out = dl_rel_new(env, nc, ovars);
	if (!out)
		return DL_ENOMEM;
	/* the filters after this step that read only its output run on each
	 * row as it is made: rows that fail them are never kept */
	fnprog fuse[DL_MAX_FUSE];
	uint32_t nfuse = 0;
	dl_fuse *fz = env->fuse;
	int rc = 0;
	for (; fz && nfuse < fz->n; nfuse++) {
		const dl_clause *pc = fz->cl[nfuse];
		bool ok = pc->kind == DL_C_PRED;
		for (uint32_t k = 0; k < pc->u.fn.nargs && ok; k++) {
			const dl_term *t = &pc->u.fn.args[k];
			ok = t->kind != DL_T_VAR || env->vstate[t->var] == VS_CONST ||
			     dl_rel_col(out, t->var) >= 0;
		}
		if (!ok)
			break;
		if (fnprog_init(&fuse[nfuse], env, pc, out) != 0) {
			dl_error_clear(); /* its own step will report it */
			break;
		}
		fz->rows[nfuse] = 0;
	}
	uint64_t made = 0;
	size_t nrows = R ? R->n : 1;
	for (size_t i = 0; i < nrows && !rc; i++) {
		const dl_value *row = R ? &R->rows[i * R->ncols] : NULL;
		dl_value v;
		if ((rc = fn_call(env, &fp, row, &v)))
			break;
		size_t before = out->n;
		if ((rc = bind_result(env, &bp, out, row, R ? R->ncols : 0, &v)) || !nfuse)
			continue;
		made += out->n - before;
		size_t w = before;
		for (size_t r = before; r < out->n && !rc; r++) {
			dl_value *o = &out->rows[r * nc];
			bool keep = true;
			for (uint32_t j = 0; j < nfuse && keep && !rc; j++) {
				dl_value t;
				if ((rc = fn_call(env, &fuse[j], o, &t))) {
					rc = dl_exec_at_clause(env, fuse[j].cl, rc);
					break;
				}
				if ((keep = dl_truthy(&t)))
					fz->rows[j]++;
			}
			if (keep && !rc) {
				if (w != r)
					memcpy(&out->rows[w * nc], o, nc * sizeof *o);
				w++;
			}
		}
		out->n = w;
	}
	if (rc) {
		dl_rel_free(out);
		return rc;
	}
	/* one row or none per input row */
	out->distinct = (!R || R->distinct) &&
			(cl->u.fn.bind.kind == DL_B_SCALAR || cl->u.fn.bind.kind == DL_B_TUPLE);
	if (R && (cl->u.fn.bind.kind == DL_B_SCALAR || cl->u.fn.bind.kind == DL_B_TUPLE))
		out->key1 = R->key1;
	if (fz)
		fz->taken = nfuse;
	s->rows = nfuse ? made : out->n;
	if (nfuse && out->n == 0)
		env->empty = true; /* as the filter step would have said */
	if (R) {
		set_rel(env, (uint32_t)ri, out);
		return 0;
	}
	return dl_exec_push(env, out);
}

/* ---- nested q ------------------------------------------------------------------------ */

static int result_value(dl_value *out, dl_arena *a, const dl_qresult *r);

/* The inputs of one nested-query call: the arguments after the query,
 * skipping the database itself. */
static int subq_inputs(dl_qenv *env, const dl_clause *cl, const dl_query *sub,
		       const uint32_t *ivars, uint32_t ni, const dl_value *krow, dl_value *in,
		       uint32_t *nin, const dl_value **dollar)
{
	*nin = 0;
	*dollar = NULL;
	for (uint32_t j = 1; j < cl->u.fn.nargs; j++) {
		const dl_term *t = &cl->u.fn.args[j];
		uint32_t qi = j - 1;
		if (qi == 0 && qi < sub->nin && sub->in[0].kind == DL_IN_SRC &&
		    dl_exec_default_src(sub->in[0].sym)) {
			/* the nested query's $: this database, or a collection */
			if (t->kind == DL_T_SRC && dl_exec_default_src(t->sym) && !env->dollar)
				continue;
			const dl_value *coll = NULL;
			if (t->kind == DL_T_SRC)
				DL_TRY(source_of(env, t->sym, &coll));
			else if (t->kind == DL_T_CONST)
				coll = &t->val;
			else if (t->kind == DL_T_VAR && env->vstate[t->var] == VS_CONST)
				coll = &env->vconst[t->var];
			else
				return dl_error(DL_EINVAL, "q: $ must be a database or a collection");
			*dollar = coll;
			continue;
		}
		if (t->kind == DL_T_CONST) {
			in[(*nin)++] = t->val;
		} else if (t->kind == DL_T_VAR && env->vstate[t->var] == VS_CONST) {
			in[(*nin)++] = env->vconst[t->var];
		} else if (t->kind == DL_T_VAR) {
			for (uint32_t k = 0; k < ni; k++)
				if (ivars[k] == t->var)
					in[(*nin)++] = krow[k];
		} else if (t->kind == DL_T_SRC) {
			const dl_value *coll;
			DL_TRY(source_of(env, t->sym, &coll));
			in[(*nin)++] = *coll;
		} else {
			return dl_error(DL_EINVAL, "q: unsupported argument");
		}
	}
	return 0;
}

/* Run the nested query for keys [from, to), binding results into res. */
static int subq_range(dl_qenv *env, const dl_clause *cl, const dl_rel *keys,
		      const uint32_t *ivars, uint32_t ni, const bindprog *bp, dl_rel *res,
		      size_t from, size_t to)
{
	const dl_query *sub = cl->u.fn.sub;
	dl_qopts o = *env->opts;
	o.analyze = false;
	for (size_t i = from; i < to; i++) {
		const dl_value *krow = &keys->rows[i * ni];
		dl_value in[MAX_ARGS];
		uint32_t nin;
		const dl_value *dollar;
		DL_TRY(subq_inputs(env, cl, sub, ivars, ni, krow, in, &nin, &dollar));
		dl_qresult qr;
		DL_TRY(dl_query_run_nested(&qr, env->a, env, sub, in, nin, dollar, &o));
		dl_value v;
		DL_TRY(result_value(&v, env->a, &qr));
		DL_TRY(bind_result(env, bp, res, krow, ni, &v));
	}
	return 0;
}

/* A worker of the pool: its own snapshot of the same committed state, its
 * own arena and function context; the result rows it binds outlive it in
 * the arena, which the query keeps until it ends. */
typedef struct subq_worker {
	pool_part base;     /* first: the pool's view of it */
	const dl_clause *cl;
	const dl_rel *keys;
	const uint32_t *ivars;
	uint32_t ni;
	const bindprog *bp;
	size_t from, to;
} subq_worker;

static int subq_worker_run(pool_part *p, dl_qenv *in)
{
	subq_worker *w = (subq_worker *)p;
	uint64_t before = in->nested_scanned;
	int rc = subq_range(in, w->cl, w->keys, w->ivars, w->ni, w->bp, p->res, w->from, w->to);
	p->scanned += in->nested_scanned - before;
	return rc;
}

/* Split keys between worker threads; 0 when done, 1 when the pool could
 * not be used (the caller runs serially). */
static int subq_parallel(dl_qenv *env, const dl_clause *cl, const dl_rel *keys,
			 const uint32_t *ivars, uint32_t ni, const bindprog *bp, dl_rel *res)
{
	int nw = env->pool ? env->pool->threads : 1;
	if (nw > (int)(keys->n / 8))
		nw = (int)(keys->n / 8);
	if (nw < 2 || dl_snap_id(env->snap) == 0)
		return 1;
	subq_worker w[DL_MAX_THREADS];
	memset(w, 0, sizeof w);
	for (int k = 0; k < nw; k++)
		w[k] = (subq_worker){.base = {.env = env, .run = subq_worker_run}, .cl = cl,
				     .keys = keys, .ivars = ivars, .ni = ni, .bp = bp,
				     .from = keys->n * (size_t)k / (size_t)nw,
				     .to = keys->n * (size_t)(k + 1) / (size_t)nw};
	int started;
	int rc = pool_parts_start(w, sizeof *w, nw, res, &started);
	for (int k = 0; k < started; k++)
		pthread_join(w[k].base.thread, NULL);
	for (int k = 0; k < nw; k++) {
		pool_part *p = &w[k].base;
		uint64_t before = env->nested_scanned;
		rc = pool_part_finish(env, p, k < started, rc);
		env->nested_scanned = before + p->scanned;
		for (size_t i = 0; !rc && p->res && i < p->res->n; i++) {
			dl_value *o = dl_rel_push(env, res);
			if (!o)
				rc = dl_errcode_last();
			else
				memcpy(o, &p->res->rows[i * res->ncols], res->ncols * sizeof *o);
		}
		dl_rel_free(p->res);
	}
	return rc;
}

/* ---- batched nested q ------------------------------------------------------------- */

/*
 * Instead of one run per distinct input tuple, one run over all of them:
 * the tuples become a relation of the body's input variables, left pending
 * (batch.c) while each variable is bound to its distinct values; the body
 * runs once, and its rows, grouped by input tuple, are finished one group
 * at a time exactly as one call's answer would be (find spec, aggregates,
 * :with, order, limit, pull).  Taken where many tuples share the body's
 * work: OHLC's hourly bars read the ticker's bars once instead of once per
 * hour.
 */

#define SUBQ_BATCH_MIN 8               /* fewer distinct tuples: one run each */
#define SUBQ_BATCH_ROWS (UINT64_C(1) << 20) /* batched rows beyond which the
					       per-call way is taken instead */

static int env_init(dl_qenv *env, dl_snap *snap, const dl_query *q, const dl_qopts *opts,
		    dl_arena *scratch, dl_fn_ctx *fn);
static void env_fini(dl_qenv *env);
static int bind_inputs(dl_qenv *env, const dl_value *inputs, size_t ninputs);
static int check_fns(const char *source, const dl_clause *cls, uint32_t n);
static int finish(dl_qenv *env, dl_qresult *out, dl_arena *a);
static int explain_text(dl_buf *b, dl_qenv *env, const dl_clause *cls, const dl_step *steps,
			uint32_t ns, bool analyze, double total_ms, size_t nresult);

/* Does the attribute term name a ref attribute (or is it unknown)? */
static bool ref_or_unknown_attr(const dl_qenv *env, const dl_term *t)
{
	if (t->kind != DL_T_CONST || t->val.type != DL_KEYWORD)
		return true;
	int64_t a = dl_schema_entid(env->schema, t->val.u.id);
	const dl_attr *at = a ? dl_schema_attr(env->schema, a) : NULL;
	return !at || at->vtype == DL_VT_REF;
}

/* Mark the input variables whose per-call constant would not behave like
 * a bound column: 2 = a function binds it (an error per call) or it is an
 * attribute (ids become idents in columns); 1 = it names an entity
 * (idents and lookup refs become ids in columns), so its values must be
 * plain ids. */
static void input_uses(const dl_qenv *env, const dl_clause *cls, uint32_t n, const uint8_t *in,
		       uint8_t *use)
{
	for (uint32_t i = 0; i < n; i++) {
		const dl_clause *cl = &cls[i];
		switch (cl->kind) {
		case DL_C_PATTERN:
			for (uint32_t k = 0; k < cl->u.pat.n; k++) {
				const dl_term *t = &cl->u.pat.t[k];
				if (t->kind != DL_T_VAR || !in[t->var])
					continue;
				if (k == 1)
					use[t->var] = 2;
				else if ((k != 2 || ref_or_unknown_attr(env, &cl->u.pat.t[1])) &&
					 use[t->var] < 1)
					use[t->var] = 1;
			}
			break;
		case DL_C_FN:
			for (uint32_t k = 0; k < cl->u.fn.bind.n; k++)
				if (cl->u.fn.bind.terms[k].kind == DL_T_VAR &&
				    in[cl->u.fn.bind.terms[k].var])
					use[cl->u.fn.bind.terms[k].var] = 2;
			if (cl->u.fn.sub) /* passed on to a nested q: used anyhow */
				for (uint32_t k = 0; k < cl->u.fn.nargs; k++)
					if (cl->u.fn.args[k].kind == DL_T_VAR &&
					    in[cl->u.fn.args[k].var] && use[cl->u.fn.args[k].var] < 1)
						use[cl->u.fn.args[k].var] = 1;
			break;
		case DL_C_RULE:
			for (uint32_t k = 0; k < cl->u.rule.nargs; k++)
				if (cl->u.rule.args[k].kind == DL_T_VAR && in[cl->u.rule.args[k].var] &&
				    use[cl->u.rule.args[k].var] < 1)
					use[cl->u.rule.args[k].var] = 1;
			break;
		case DL_C_NOT:
		case DL_C_NOT_JOIN:
		case DL_C_OR:
		case DL_C_OR_JOIN:
		case DL_C_AND:
			input_uses(env, cl->u.sub.items, cl->u.sub.n, in, use);
			break;
		default:
			break;
		}
	}
}

static bool designator(const dl_value *v)
{
	return v->type == DL_KEYWORD || v->type == DL_VECTOR || v->type == DL_LIST ||
	       v->type == DL_REF;
}

/* Per input tuple (key row), the answer one call would give: the body's
 * rows grouped by the input variables sv[], each group finished alone. */
static int batch_results(dl_qenv *se, const dl_rel *keys, const uint32_t *sv,
			 const uint32_t *scol, uint32_t ns, dl_value *results)
{
	const dl_query *q = se->q;
	uint32_t vars[256], nv = 0;
	if (q->nfind + q->nwith + ns > 256)
		return dl_error(DL_ELIMIT, "more than 256 find and input variables");
	for (uint32_t c = 0; c < ns; c++)
		vars[nv++] = sv[c];
	for (uint32_t i = 0; i < q->nfind; i++)
		vars[nv++] = q->find[i].var;
	for (uint32_t i = 0; i < q->nwith; i++)
		vars[nv++] = q->with[i].var;
	/* a relation none of these variables is in only has to be non-empty */
	for (uint32_t i = 0; i < se->nrels;) {
		bool needed = false;
		for (uint32_t k = 0; k < nv && !needed; k++)
			needed = dl_rel_col(se->rels[i], vars[k]) >= 0;
		if (needed) {
			i++;
			continue;
		}
		if (se->rels[i]->n == 0)
			se->empty = true;
		drop_rel(se, i);
	}
	int ri = -1;
	if (!se->empty) {
		if (se->pending)
			DL_TRY(dl_batch_absorb(se, NULL, 0, NULL, NULL));
		DL_TRY(dl_exec_unify(se, vars, nv, &ri));
	}
	const dl_rel *U = ri >= 0 && !se->empty ? se->rels[ri] : NULL;
	uint32_t ucol[MAX_ARGS];
	for (uint32_t c = 0; U && c < ns; c++)
		ucol[c] = (uint32_t)dl_rel_col(U, sv[c]);
	dl_rhash h = {0};
	if (U)
		DL_TRY(dl_rhash_build(&h, U, ucol, ns));
	int rc = 0;
	for (size_t i = 0; i < keys->n && !rc; i++) {
		const dl_value *krow = &keys->rows[i * keys->ncols];
		dl_rel *G = U ? dl_rel_new(se, U->ncols, U->vars) : NULL;
		dl_rel **rels = dl_malloc(sizeof *rels);
		if ((U && !G) || !rels) {
			dl_rel_free(G);
			dl_free(rels);
			rc = DL_ENOMEM;
			break;
		}
		uint64_t hv = U ? dl_row_hash(krow, scol, ns) : 0;
		for (uint32_t at = U ? dl_rhash_find(&h, U, krow, scol, hv) : 0; at && !rc;
		     at = dl_rhash_next(&h, U, at, krow, scol, hv)) {
			dl_value *o = dl_rel_push(se, G);
			if (!o)
				rc = dl_errcode_last();
			else
				memcpy(o, &U->rows[(size_t)(at - 1) * U->ncols], U->ncols * sizeof *o);
		}
		/* the group alone, as one call's environment */
		dl_qenv ge = *se;
		ge.rels = rels;
		ge.nrels = 0;
		if (G)
			rels[ge.nrels++] = G;
		ge.empty = se->empty || !G || G->n == 0;
		ge.pending = NULL;
		dl_qresult qr;
		if (!rc)
			rc = finish(&ge, &qr, se->a);
		for (uint32_t k = 0; k < ge.nrels; k++)
			dl_rel_free(ge.rels[k]);
		dl_free(ge.rels);
		se->tick = ge.tick;
		if (!rc)
			rc = result_value(&results[i], se->a, &qr);
	}
	dl_rhash_free(&h);
	return rc;
}

/* A plan's step lines (not the header, nor the closing result line),
 * indented to sit under a step as its detail (in env's arena). */
int dl_exec_plan_text(const char **out_text, dl_qenv *env, const dl_clause *cls,
		      const dl_step *steps, uint32_t ns, bool analyze)
{
	dl_buf b = DL_BUF_INIT, out = DL_BUF_INIT;
	int rc = explain_text(&b, env, cls, steps, ns, analyze, 0, 0);
	/* the step lines only: not the header, nor the closing result line */
	const char *p = b.data ? strchr(b.data, '\n') : NULL;
	while (!rc && p && p[1] && strncmp(p + 1, "result:", 7)) {
		const char *e = strchr(p + 1, '\n');
		if (!e)
			break;
		rc = dl_buf_printf(&out, "       | %.*s", (int)(e - p), p + 1);
		p = e;
	}
	*out_text = NULL;
	if (!rc && out.len && !(*out_text = dl_arena_strndup(env->a, out.data, out.len)))
		rc = DL_ENOMEM;
	dl_buf_free(&b);
	dl_buf_free(&out);
	return rc;
}

/* Run the nested q once for all key rows, results[i] for row i.  1 when
 * the subquery cannot be batched (the caller runs it per call). */
static int subq_batch(dl_qenv *env, const dl_clause *cl, dl_step *s, const dl_rel *keys,
		      const uint32_t *ivars, uint32_t ni, dl_value *results)
{
	const dl_query *sub = cl->u.fn.sub;
	dl_value in[MAX_ARGS];
	uint32_t nin;
	const dl_value *dollar;
	if (keys->n == 0)
		return 1;
	DL_TRY(subq_inputs(env, cl, sub, ivars, ni, keys->rows, in, &nin, &dollar));
	if (dollar || sub->nvars == 0)
		return 1; /* $ is a collection: patterns read it row by row */
	/* the body's variable fed by each varying argument */
	uint32_t sv[MAX_ARGS], scol[MAX_ARGS], ns = 0;
	uint8_t *isin = dl_calloc(sub->nvars, 2);
	if (!isin)
		return DL_ENOMEM;
	uint8_t *use = isin + sub->nvars;
	int rc = 1;
	for (uint32_t j = 1; j < cl->u.fn.nargs; j++) {
		const dl_term *t = &cl->u.fn.args[j];
		if (t->kind != DL_T_VAR || env->vstate[t->var] != VS_REL)
			continue;
		const dl_input *inp = j - 1 < sub->nin ? &sub->in[j - 1] : NULL;
		if (!inp || inp->kind != DL_IN_BIND || inp->bind.kind != DL_B_SCALAR)
			goto out; /* a collection, relation or source: per call */
		const dl_term *bt = &inp->bind.terms[0];
		if (bt->kind != DL_T_VAR)
			continue; /* _ */
		uint32_t k = 0;
		while (k < ni && ivars[k] != t->var)
			k++;
		if (k == ni || isin[bt->var] || ns == MAX_ARGS)
			goto out;
		isin[bt->var] = 1;
		sv[ns] = bt->var;
		scol[ns++] = k;
	}
	/* an input variable written twice in :in takes its last value */
	for (uint32_t i = 0; i < sub->nin; i++) {
		const dl_binding *bd = &sub->in[i].bind;
		for (uint32_t k = 0; sub->in[i].kind == DL_IN_BIND && k < bd->n; k++) {
			uint32_t v = bd->terms[k].var;
			if (bd->terms[k].kind != DL_T_VAR || !isin[v])
				continue;
			if (isin[v] == 2)
				goto out;
			isin[v] = 2;
		}
	}
	for (uint32_t c = 0; c < ns; c++)
		isin[sv[c]] = 1;
	if (ns == 0)
		goto out;
	input_uses(env, sub->where, sub->nwhere, isin, use);
	for (uint32_t i = 0; i < sub->nfind; i++) {
		const dl_find_elem *fe = &sub->find[i];
		for (uint32_t k = 0; fe->kind == DL_FE_AGG && k + 1 < fe->nargs; k++)
			if (fe->args[k].kind == DL_T_VAR && isin[fe->args[k].var])
				goto out; /* an aggregate's parameter */
		if (fe->kind == DL_FE_PULL && fe->pattern.kind == DL_T_VAR &&
		    isin[fe->pattern.var])
			goto out;
	}
	for (uint32_t c = 0; c < ns; c++) {
		if (use[sv[c]] == 2)
			goto out;
		for (size_t i = 0; use[sv[c]] && i < keys->n; i++)
			if (designator(&keys->rows[i * ni + scol[c]]))
				goto out;
	}

	/* the input relation: one row per distinct tuple of the body's
	 * variables */
	dl_rel *I = dl_rel_new(env, ns, sv);
	if (!I) {
		rc = DL_ENOMEM;
		goto out;
	}
	rc = 0;
	for (size_t i = 0; i < keys->n && !rc; i++) {
		dl_value *o = dl_rel_push(env, I);
		if (!o)
			rc = dl_errcode_last();
		for (uint32_t c = 0; o && c < ns; c++)
			o[c] = keys->rows[i * ni + scol[c]];
	}
	if (!rc)
		rc = dl_rel_distinct(env, I);
	if (rc) {
		dl_rel_free(I);
		goto out;
	}
	/* the body's environment: the inputs bound as for the first call, then
	 * the varying ones bound to their distinct values, the tuples pending */
	dl_qopts o = *env->opts;
	o.analyze = env->analyze; /* EXPLAIN ANALYZE shows the body's plan */
	dl_qenv se;
	rc = env_init(&se, env->snap, sub, &o, env->a, env->fn);
	if (!rc) {
		se.depth = env->depth + 1;
		se.deadline = env->deadline;
		se.has_deadline = env->has_deadline;
		se.budget = env->budget;
		/* too many rows at once: the per-call way holds fewer */
		uint64_t cap = SUBQ_BATCH_ROWS > keys->n * 1024 ? SUBQ_BATCH_ROWS : keys->n * 1024;
		bool capped = env->opts->subq != DL_SUBQ_BATCHED && cap < se.max_rows;
		if (capped)
			se.max_rows = cap;
		rc = check_fns(sub->source, sub->where, sub->nwhere);
		if (!rc)
			rc = bind_inputs(&se, in, nin);
		for (uint32_t c = 0; c < ns && !rc; c++) {
			se.vstate[sv[c]] = VS_FREE;
			dl_rel *D;
			rc = dl_exec_project(&se, &D, I, &sv[c], 1);
			if (!rc)
				rc = dl_exec_push(&se, D);
		}
		if (!rc) {
			se.pending = I;
			I = NULL;
			rc = dl_exec_conj(&se, sub->where, sub->nwhere);
		}
		if (!rc && env->analyze)
			rc = dl_exec_plan_text(&s->detail, &se, sub->where, se.steps, se.nsteps, true);
		if (!rc)
			rc = batch_results(&se, keys, sv, scol, ns, results);
		uint64_t n = se.nested_scanned;
		for (uint32_t i = 0; i < se.nsteps; i++)
			n += se.steps[i].scanned;
		env->nested_scanned += n;
		env->tick = se.tick;
		if (rc == DL_ELIMIT && capped && strstr(dl_errmsg(), "row budget"))
			rc = 1;
	}
	env_fini(&se);
	dl_rel_free(I);
out:
	dl_free(isin);
	return rc;
}

/* The distinct tuples of the outer variables a nested q takes (its
 * varying inputs): ivars[0..*ni) and *keys. */
static int subq_keys(dl_qenv *env, const dl_clause *cl, uint32_t *ivars, uint32_t *ni,
		     dl_rel **keys)
{
	if (!cl->u.fn.sub)
		return dl_error(DL_EINVAL, "q needs a literal query as its first argument");
	if (env->depth >= MAX_DEPTH)
		return dl_error(DL_ELIMIT, "nested q deeper than %d", MAX_DEPTH);
	*ni = 0;
	for (uint32_t i = 1; i < cl->u.fn.nargs; i++) {
		const dl_term *t = &cl->u.fn.args[i];
		if (t->kind == DL_T_VAR && env->vstate[t->var] == VS_REL) {
			bool seen = false;
			for (uint32_t k = 0; k < *ni; k++)
				seen |= ivars[k] == t->var;
			if (!seen && *ni < MAX_ARGS)
				ivars[(*ni)++] = t->var;
		}
	}
	int ri = -1;
	DL_TRY(dl_exec_unify(env, ivars, *ni, &ri));
	dl_rel *R = ri >= 0 ? env->rels[ri] : NULL;
	dl_rel *k = dl_rel_new(env, *ni, ivars);
	if (!k)
		return DL_ENOMEM;
	int rc = 0;
	size_t nrows = R ? R->n : 1;
	int icol[MAX_ARGS];
	for (uint32_t c = 0; c < *ni; c++)
		icol[c] = dl_rel_col(R, ivars[c]);
	for (size_t i = 0; i < nrows && !rc; i++) {
		dl_value *o = dl_rel_push(env, k);
		if (!o)
			rc = dl_errcode_last();
		for (uint32_t c = 0; o && c < *ni; c++)
			o[c] = R->rows[i * R->ncols + icol[c]];
	}
	if (!rc)
		rc = dl_rel_distinct(env, k);
	if (rc) {
		dl_rel_free(k);
		return rc;
	}
	*keys = k;
	return 0;
}

/* Batch (chosen by size, or forced)? */
static bool subq_wants_batch(const dl_qenv *env, const dl_rel *keys)
{
	uint8_t mode = env->opts->subq;
	return mode == DL_SUBQ_BATCHED || (mode == DL_SUBQ_AUTO && keys->n >= SUBQ_BATCH_MIN);
}

/* Bind the results into key ++ outputs and join them in: vals[] from a
 * batched run, or (vals NULL) one run per key, on the pool if it helps. */
static int subq_bind(dl_qenv *env, const dl_clause *cl, dl_step *s, const dl_rel *keys,
		     const uint32_t *ivars, uint32_t ni, const dl_value *vals)
{
	uint32_t ovars[MAX_ARGS + 16], nc = ni;
	memcpy(ovars, ivars, ni * sizeof *ovars);
	bindprog bp;
	DL_TRY(bindprog_init(&bp, env, &cl->u.fn.bind, keys, ovars, &nc));
	dl_rel *res = dl_rel_new(env, nc, ovars);
	if (!res)
		return DL_ENOMEM;
	int rc = 1;
	if (vals) {
		rc = 0;
		for (size_t i = 0; rc == 0 && i < keys->n; i++)
			rc = bind_result(env, &bp, res, &keys->rows[i * ni], ni, &vals[i]);
		s->batched = true;
	} else if (env->opts->subq != DL_SUBQ_BATCHED) {
		rc = subq_parallel(env, cl, keys, ivars, ni, &bp, res);
		s->parallel = rc != 1;
	}
	if (rc == 1)
		rc = subq_range(env, cl, keys, ivars, ni, &bp, res, 0, keys->n);
	if (rc) {
		dl_rel_free(res);
		return rc;
	}
	s->rows = res->n;
	return dl_exec_absorb(env, res);
}

/* (q query inputs...) bound per distinct binding of its input variables:
 * the distinct inputs are collected and the subquery runs once over all of
 * them (batched) or once per tuple (split between the worker threads when
 * there are enough); the results are joined back, so repeated inputs cost
 * nothing. */
static int run_subq(dl_qenv *env, const dl_clause *cl, dl_step *s)
{
	uint32_t ivars[MAX_ARGS], ni;
	dl_rel *keys;
	DL_TRY(subq_keys(env, cl, ivars, &ni, &keys));
	dl_value *vals = NULL;
	int rc = 1;
	if (subq_wants_batch(env, keys)) {
		vals = dl_malloc((keys->n ? keys->n : 1) * sizeof *vals);
		rc = vals ? subq_batch(env, cl, s, keys, ivars, ni, vals) : DL_ENOMEM;
	}
	if (rc == 0)
		rc = subq_bind(env, cl, s, keys, ivars, ni, vals);
	else if (rc == 1)
		rc = subq_bind(env, cl, s, keys, ivars, ni, NULL);
	dl_free(vals);
	dl_rel_free(keys);
	return rc;
}

/* ---- independent nested q steps side by side ---------------------------------------- */

/* Consecutive batched subquery steps that read only what is bound before
 * them (ohlc3's four per-hour aggregates) run at the same time, one per
 * thread of the pool; each worker has its own snapshot of the same
 * committed state, arena and function context.  Their results are then
 * joined in one after another, as the steps would have. */
typedef struct subq_job {
	const dl_clause *cl;
	dl_step *s;
	uint32_t ivars[MAX_ARGS], ni;
	dl_rel *keys;
	dl_value *vals;
	int rc;             /* 0 batched, 1 not batchable (run per call), < 0 error */
	char msg[512];
	uint64_t scanned;
	double ms;
} subq_job;

typedef struct subq_crew {
	dl_qenv *env;
	subq_job *jobs;
	uint32_t n;
	atomic_uint next;
} subq_crew;

static void subq_jobs_run(subq_crew *c, dl_qenv *we)
{
	for (;;) {
		uint32_t j = atomic_fetch_add(&c->next, 1);
		if (j >= c->n)
			return;
		subq_job *jb = &c->jobs[j];
		double t0 = dl_exec_now_ms();
		uint64_t before = we->nested_scanned;
		jb->rc = subq_batch(we, jb->cl, jb->s, jb->keys, jb->ivars, jb->ni, jb->vals);
		if (jb->rc < 0)
			snprintf(jb->msg, sizeof jb->msg, "%s", dl_errmsg());
		jb->scanned = we->nested_scanned - before;
		jb->ms = dl_exec_now_ms() - t0;
	}
}

typedef struct subq_thread {
	pthread_t thread;
	subq_crew *crew;
	dl_arena *arena;
	int rc;             /* snapshot could not begin, or saw another state */
} subq_thread;

static int subq_crew_run(void *arg, dl_qenv *we)
{
	subq_jobs_run(arg, we);
	return 0;
}

static void *subq_thread_main(void *p)
{
	subq_thread *t = p;
	int ran;
	t->rc = worker_run(t->crew->env, t->arena, subq_crew_run, t->crew, &ran);
	return NULL;
}

/* Steps k.. of the plan that can run side by side: *m of them (0 or 1:
 * run steps one by one). */
static int subq_group_size(dl_qenv *env, const dl_clause *cls, const dl_step *steps,
			   uint32_t k, uint32_t ns, uint32_t *m)
{
	*m = 0;
	if (!env->pool || env->pool->threads < 2 || env->opts->subq == DL_SUBQ_PER_CALL ||
	    dl_snap_id(env->snap) == 0 || env->pending)
		return 0;
	uint8_t *out = dl_calloc(env->nvars ? env->nvars : 1, 1);
	if (!out)
		return DL_ENOMEM;
	while (k + *m < ns && *m < DL_MAX_THREADS && steps[k + *m].strategy == ST_SUBQ) {
		const dl_clause *cl = &cls[steps[k + *m].clause];
		bool ok = cl->kind == DL_C_FN && cl->u.fn.sub;
		for (uint32_t i = 1; ok && i < cl->u.fn.nargs; i++) {
			const dl_term *t = &cl->u.fn.args[i];
			ok = t->kind != DL_T_VAR || (env->vstate[t->var] != VS_FREE && !out[t->var]);
		}
		for (uint32_t i = 0; ok && i < cl->u.fn.bind.n; i++) {
			const dl_term *t = &cl->u.fn.bind.terms[i];
			ok = t->kind != DL_T_VAR || (env->vstate[t->var] == VS_FREE && !out[t->var]);
		}
		if (!ok)
			break;
		for (uint32_t i = 0; i < cl->u.fn.bind.n; i++)
			if (cl->u.fn.bind.terms[i].kind == DL_T_VAR)
				out[cl->u.fn.bind.terms[i].var] = 1;
		(*m)++;
	}
	dl_free(out);
	return 0;
}

/* Run steps[k..k+m) side by side (see above). */
static int subq_group(dl_qenv *env, const dl_clause *cls, dl_step *steps, uint32_t k,
		      uint32_t m)
{
	subq_job *jobs = dl_calloc(m, sizeof *jobs);
	subq_thread th[DL_MAX_THREADS];
	if (!jobs)
		return DL_ENOMEM;
	memset(th, 0, sizeof th);
	int rc = 0;
	uint32_t nb = 0; /* jobs to batch, first in jobs[] */
	for (uint32_t j = 0; j < m && !rc; j++) {
		subq_job *jb = &jobs[j];
		jb->cl = &cls[steps[k + j].clause];
		jb->s = &steps[k + j];
		jb->rc = 1;
		rc = dl_exec_at_clause(env, jb->cl,
				       subq_keys(env, jb->cl, jb->ivars, &jb->ni, &jb->keys));
		if (!rc && subq_wants_batch(env, jb->keys)) {
			jb->vals = dl_malloc((jb->keys->n ? jb->keys->n : 1) * sizeof *jb->vals);
			if (!jb->vals)
				rc = DL_ENOMEM;
			nb++;
		}
	}
	/* the batched runs: this thread and the pool's others take them in turn */
	subq_job *bj = dl_calloc(nb ? nb : 1, sizeof *bj);
	if (!rc && !bj)
		rc = DL_ENOMEM;
	uint32_t started = 0;
	subq_crew crew = {.env = env, .jobs = bj, .n = 0};
	if (!rc && nb) {
		for (uint32_t j = 0; j < m; j++)
			if (jobs[j].vals)
				bj[crew.n++] = jobs[j];
		atomic_init(&crew.next, 0);
		int nt = env->pool->threads - 1;
		if (nt > (int)nb - 1)
			nt = (int)nb - 1;
		for (int t = 0; t < nt && !rc; t++) {
			th[t].crew = &crew;
			th[t].arena = dl_calloc(1, sizeof *th[t].arena);
			if (!th[t].arena) {
				rc = DL_ENOMEM;
				break;
			}
			*th[t].arena = (dl_arena)DL_ARENA_INIT;
			if (pthread_create(&th[t].thread, NULL, subq_thread_main, &th[t])) {
				dl_free(th[t].arena);
				th[t].arena = NULL;
				break; /* fewer helpers */
			}
			started++;
		}
		uint64_t before = env->nested_scanned;
		subq_jobs_run(&crew, env);
		env->nested_scanned = before;
		for (uint32_t t = 0; t < started; t++)
			pthread_join(th[t].thread, NULL);
		for (uint32_t t = 0; t < started; t++)
			if (th[t].arena && pool_keep(env->pool, th[t].arena) < 0) {
				dl_arena_free(th[t].arena);
				dl_free(th[t].arena);
				if (!rc)
					rc = DL_ENOMEM;
			}
		/* a job a helper could not take (its snapshot failed) is still
		 * unclaimed: this thread took everything then */
		for (uint32_t j = 0, b = 0; j < m; j++)
			if (jobs[j].vals) {
				subq_job *x = &bj[b++];
				jobs[j].rc = x->rc;
				jobs[j].scanned = x->scanned;
				jobs[j].ms = x->ms;
				memcpy(jobs[j].msg, x->msg, sizeof x->msg);
			}
	}
	/* join the results in, step by step */
	for (uint32_t j = 0; j < m && !rc; j++) {
		subq_job *jb = &jobs[j];
		dl_step *s = jb->s;
		double t0 = env->analyze ? dl_exec_now_ms() : 0;
		env->nested_scanned = jb->scanned;
		if (jb->rc < 0)
			rc = dl_error(jb->rc, "%s", jb->msg);
		else
			rc = subq_bind(env, jb->cl, s, jb->keys, jb->ivars, jb->ni,
				       jb->rc == 0 ? jb->vals : NULL);
		s->ran = true;
		s->scanned += env->nested_scanned;
		env->nested_scanned = 0;
		if (env->analyze)
			s->ms = jb->ms + dl_exec_now_ms() - t0;
		s->alongside = nb > 1 && jb->rc == 0;
		rc = dl_exec_at_clause(env, jb->cl, rc);
		if (!rc && env->empty)
			break; /* the rest binds nothing any more */
	}
	for (uint32_t j = 0; j < m; j++) {
		dl_free(jobs[j].vals);
		dl_rel_free(jobs[j].keys);
		jobs[j].s->ran = true;
	}
	dl_free(bj);
	dl_free(jobs);
	return rc;
}

/* ---- not / or ---------------------------------------------------------------------- */

/* A child environment for a not / or body: same query, snapshot and
 * budgets; constants inherited; `seed` (may be NULL) as its one relation. */
static int child_env(dl_qenv *c, dl_qenv *env, dl_rel *seed)
{
	*c = *env;
	c->rels = NULL;
	c->nrels = 0;
	c->empty = false;
	c->steps = NULL;
	c->nsteps = 0;
	c->analyze = false;
	c->pending = NULL;
	c->vstate = dl_malloc(env->nvars ? env->nvars : 1);
	if (!c->vstate) {
		dl_rel_free(seed);
		return DL_ENOMEM;
	}
	for (uint32_t v = 0; v < env->nvars; v++)
		c->vstate[v] = env->vstate[v] == VS_CONST ? VS_CONST : VS_FREE;
	if (seed)
		return dl_exec_push(c, seed);
	return 0;
}

void dl_exec_child_fini(dl_qenv *c, dl_qenv *env)
{
	for (uint32_t i = 0; i < c->nrels; i++)
		dl_rel_free(c->rels[i]);
	dl_free(c->rels);
	dl_free(c->vstate);
	env->tick = c->tick;
	uint64_t n = c->nested_scanned;
	for (uint32_t i = 0; i < c->nsteps; i++)
		n += c->steps[i].scanned;
	env->nested_scanned += n;
	dl_free(c->steps);
}

/* R projected onto vars (distinct); R may be NULL (one empty row). */
/* R projected onto vars; distinct unless bag (then rows may repeat). */
static int project(dl_qenv *env, dl_rel **out, const dl_rel *R, const uint32_t *vars, uint32_t n,
		   bool bag)
{
	int col[128];
	if (n > 128)
		return dl_error(DL_ELIMIT, "more than 128 variables");
	dl_rel *p = dl_rel_new(env, n, vars);
	if (!p)
		return DL_ENOMEM;
	uint32_t kept = 0;
	bool seen[128] = {false};
	for (uint32_t k = 0; k < n; k++) {
		col[k] = R ? dl_rel_col(R, vars[k]) : -1;
		if (col[k] >= 0 && col[k] < 128 && !seen[col[k]]) {
			seen[col[k]] = true;
			kept++;
		}
	}
	size_t rows = R ? R->n : 1;
	/* every column of a set kept, or a key: still a set */
	bool set = !R || (R->distinct && kept == R->ncols) ||
		   (R->key1 && R->key1 <= 128 && seen[R->key1 - 1]);
	int rc = dl_rel_reserve(env, p, rows);
	if (rc) {
		dl_rel_free(p);
		return rc;
	}
	for (size_t i = 0; i < rows; i++) {
		dl_value *o = dl_rel_push(env, p);
		if (!o) {
			dl_rel_free(p);
			return dl_errcode_last();
		}
		for (uint32_t k = 0; k < n; k++)
			o[k] = col[k] >= 0 ? R->rows[i * R->ncols + col[k]] : env->vconst[vars[k]];
	}
	p->distinct = set;
	rc = bag ? 0 : dl_rel_distinct(env, p);
	if (rc) {
		dl_rel_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int dl_exec_project(dl_qenv *env, dl_rel **out, const dl_rel *R, const uint32_t *vars, uint32_t n)
{
	return project(env, out, R, vars, n, false);
}

int dl_exec_project_bag(dl_qenv *env, dl_rel **out, const dl_rel *R, const uint32_t *vars,
			uint32_t n)
{
	return project(env, out, R, vars, n, true);
}

int dl_exec_body(dl_qenv *env, dl_rel *seed, const dl_clause *cls, uint32_t ncl,
		 const uint32_t *vars, uint32_t n, dl_rel **out, dl_step *explain)
{
	dl_qenv c;
	int rc = child_env(&c, env, seed);
	if (!rc && explain)
		c.analyze = env->analyze;
	if (!rc)
		rc = dl_exec_conj(&c, cls, ncl);
	if (!rc && explain && env->analyze)
		rc = dl_exec_plan_text(&explain->detail, &c, cls, c.steps, c.nsteps, true);
	if (!rc) {
		int ri = -1;
		rc = dl_exec_unify(&c, vars, n, &ri);
		if (!rc) {
			/* a body relation not holding any of vars only has to be non-empty */
			for (uint32_t i = 0; i < c.nrels; i++)
				if (c.rels[i]->n == 0)
					c.empty = true;
			for (uint32_t k = 0; k < n && !rc && !c.empty; k++)
				if (c.vstate[vars[k]] == VS_FREE)
					rc = dl_error(DL_EINVAL, "variable %s is not bound in this branch",
						      env->q->vars[vars[k]].name);
		}
		if (!rc) {
			rc = dl_exec_project(&c, out, ri >= 0 ? c.rels[ri] : NULL, vars, n);
			if (!rc && c.empty)
				(*out)->n = 0;
		}
	}
	dl_exec_child_fini(&c, env);
	return rc;
}

/* The clause's variables that are bound now (in relations). */
static uint32_t bound_vars_of(dl_qenv *env, const dl_clause *cl, uint32_t *vars, uint32_t cap,
			      bool declared_only)
{
	uint8_t *mark = dl_calloc(env->nvars ? env->nvars : 1, 1);
	uint32_t n = 0;
	if (!mark)
		return 0;
	if (declared_only) {
		for (uint32_t i = 0; i < cl->u.sub.nvars; i++)
			if (cl->u.sub.vars[i].kind == DL_T_VAR)
				mark[cl->u.sub.vars[i].var] = 1;
	} else {
		dl_clause_vars(cl, mark);
	}
	for (uint32_t v = 0; v < env->nvars && n < cap; v++)
		if (mark[v] && env->vstate[v] == VS_REL)
			vars[n++] = v;
	dl_free(mark);
	return n;
}

static int run_not(dl_qenv *env, const dl_clause *cl, dl_step *s)
{
	uint32_t jv[64];
	uint32_t nj = bound_vars_of(env, cl, jv, 64, cl->kind == DL_C_NOT_JOIN);
	int ri = -1;
	DL_TRY(dl_exec_unify(env, jv, nj, &ri));
	dl_rel *R = ri >= 0 ? env->rels[ri] : NULL;
	dl_rel *seed = NULL, *match = NULL;
	DL_TRY(dl_exec_project(env, &seed, R, jv, nj));
	/* rule calls under a not see complete answers: their own evaluation */
	dl_rctx *rc_save = env->rctx;
	env->rctx = NULL;
	int brc = dl_exec_body(env, seed, cl->u.sub.items, cl->u.sub.n, jv, nj, &match, NULL);
	env->rctx = rc_save;
	DL_TRY(brc);
	int rc = 0;
	if (!R) {
		/* nothing bound: the not holds iff its body has no answer */
		if (match->n)
			env->empty = true;
		s->rows = match->n ? 0 : 1;
		dl_rel_free(match);
		return 0;
	}
	/* anti-join: keep R's rows whose bindings the body did not match */
	uint32_t mk[64], rk[64];
	for (uint32_t k = 0; k < nj; k++) {
		mk[k] = k;
		rk[k] = (uint32_t)dl_rel_col(R, jv[k]);
	}
	dl_rhash h;
	if ((rc = dl_rhash_build(&h, match, mk, nj))) {
		dl_rel_free(match);
		return rc;
	}
	size_t w = 0;
	for (size_t i = 0; i < R->n; i++) {
		dl_value *row = &R->rows[i * R->ncols];
		if (dl_rhash_find(&h, match, row, rk, dl_row_hash(row, rk, nj)))
			continue;
		if (w != i)
			memcpy(&R->rows[w * R->ncols], row, R->ncols * sizeof *row);
		w++;
	}
	R->n = w;
	if (!w)
		env->empty = true;
	s->rows = w;
	dl_rhash_free(&h);
	dl_rel_free(match);
	return 0;
}

static int run_or(dl_qenv *env, const dl_clause *cl, dl_step *s)
{
	/* output variables: or-join's declared ones, or every branch variable */
	uint8_t *mark = dl_calloc(env->nvars ? env->nvars : 1, 1);
	if (!mark)
		return DL_ENOMEM;
	if (cl->kind == DL_C_OR_JOIN) {
		for (uint32_t i = 0; i < cl->u.sub.nvars; i++)
			if (cl->u.sub.vars[i].kind == DL_T_VAR)
				mark[cl->u.sub.vars[i].var] = 1;
	} else {
		dl_clause_vars(cl, mark);
	}
	uint32_t ov[64], no = 0, jv[64], nj = 0;
	for (uint32_t v = 0; v < env->nvars; v++) {
		if (!mark[v] || env->vstate[v] == VS_CONST)
			continue;
		if (no < 64)
			ov[no++] = v;
		if (env->vstate[v] == VS_REL && nj < 64)
			jv[nj++] = v;
	}
	dl_free(mark);
	int ri = -1;
	DL_TRY(dl_exec_unify(env, jv, nj, &ri));
	dl_rel *R = ri >= 0 ? env->rels[ri] : NULL;
	dl_rel *U = NULL;
	int rc = 0;
	for (uint32_t b = 0; b < cl->u.sub.n && !rc; b++) {
		const dl_clause *br = &cl->u.sub.items[b];
		const dl_clause *body = br->kind == DL_C_AND ? br->u.sub.items : br;
		uint32_t nbody = br->kind == DL_C_AND ? br->u.sub.n : 1;
		dl_rel *seed = NULL, *got = NULL;
		if (nj && (rc = dl_exec_project(env, &seed, R, jv, nj)))
			break;
		int naive = env->rnaive;
		env->rnaive = 1; /* rule calls in a branch read whole tables */
		rc = dl_exec_body(env, seed, body, nbody, ov, no, &got, NULL);
		env->rnaive = naive;
		if (rc)
			break;
		if (!U) {
			U = got;
			continue;
		}
		for (size_t i = 0; i < got->n && !rc; i++) {
			dl_value *o = dl_rel_push(env, U);
			if (!o)
				rc = dl_errcode_last();
			else
				memcpy(o, &got->rows[i * got->ncols], got->ncols * sizeof *o);
		}
		dl_rel_free(got);
	}
	if (!rc && U)
		rc = dl_rel_distinct(env, U);
	if (rc) {
		dl_rel_free(U);
		return rc;
	}
	s->rows = U->n;
	return dl_exec_absorb(env, U);
}

/* ---- the conjunction ---------------------------------------------------------------- */

static int run_step(dl_qenv *env, const dl_clause *cls, uint32_t n, dl_step *s)
{
	const dl_clause *cl = &cls[s->clause];
	env->nested_scanned = 0;
	double t0 = env->analyze ? dl_exec_now_ms() : 0;
	int rc;
	switch (cl->kind) {
	case DL_C_PATTERN:
		rc = run_pattern(env, cls, n, cl, s);
		break;
	case DL_C_PRED:
		rc = run_pred(env, cl, s);
		break;
	case DL_C_FN:
		rc = s->strategy == ST_SUBQ ? run_subq(env, cl, s) : run_fn(env, cl, s);
		break;
	case DL_C_NOT:
	case DL_C_NOT_JOIN:
		rc = run_not(env, cl, s);
		break;
	case DL_C_OR:
	case DL_C_OR_JOIN:
		rc = run_or(env, cl, s);
		break;
	case DL_C_RULE:
		rc = dl_rule_call(env, cl, s);
		break;
	default:
		rc = dl_error(DL_EINVAL, "internal: unexpected clause");
	}
	s->ran = true;
	s->scanned += env->nested_scanned;
	env->nested_scanned = 0;
	if (env->analyze)
		s->ms = dl_exec_now_ms() - t0;
	return dl_exec_at_clause(env, cl, rc);
}

/* Current bindings as a planner state. */
static int state_from_env(dl_plan_state *st, dl_qenv *env, bool *done, uint8_t *bound,
			  uint32_t *group)
{
	st->nvars = env->nvars;
	st->bound = bound;
	st->done = done;
	st->group = group;
	st->vstate = env->vstate;
	st->pending = env->pending;
	double card = 1;
	for (uint32_t v = 0; v < env->nvars; v++) {
		bound[v] = env->vstate[v] == VS_REL;
		group[v] = 0;
	}
	for (uint32_t i = 0; i < env->nrels; i++) {
		card = fmax(card, (double)env->rels[i]->n);
		for (uint32_t k = 0; k < env->rels[i]->ncols; k++)
			group[env->rels[i]->vars[k]] = i + 1;
	}
	st->card = card;
	return 0;
}

/* Why a clause could never run: the first of its inputs nothing binds. */
static int unbound_error(dl_qenv *env, const dl_clause *cl, const uint8_t *bound)
{
	const dl_term *args = NULL;
	uint32_t nargs = 0;
	const char *what = "clause";
	if (cl->kind == DL_C_PRED || cl->kind == DL_C_FN) {
		args = cl->u.fn.args;
		nargs = cl->u.fn.nargs;
		what = dl_intern_name(cl->u.fn.f.sym, NULL, NULL);
	} else if (cl->kind == DL_C_RULE) {
		args = cl->u.rule.args;
		nargs = cl->u.rule.nargs;
		what = dl_intern_name(cl->u.rule.name, NULL, NULL);
		const dl_rule *r = env->rules ? dl_ruleset_find(env->rules, cl->u.rule.name) : NULL;
		for (uint32_t k = 0; r && k < r->nreq && k < nargs; k++)
			if (args[k].kind == DL_T_VAR && env->vstate[args[k].var] != VS_CONST &&
			    !bound[args[k].var])
				return dl_error(DL_EINVAL,
						"insufficient binding: rule %s requires %s (argument %u) to be bound",
						what, env->q->vars[args[k].var].name, k + 1);
	} else if (cl->kind == DL_C_OR_JOIN || cl->kind == DL_C_NOT_JOIN) {
		args = cl->u.sub.vars;
		nargs = cl->kind == DL_C_OR_JOIN ? cl->u.sub.nreq : cl->u.sub.nvars;
		what = cl->kind == DL_C_OR_JOIN ? "or-join" : "not-join";
	}
	for (uint32_t k = 0; k < nargs; k++)
		if (args[k].kind == DL_T_VAR && env->vstate[args[k].var] != VS_CONST &&
		    !bound[args[k].var])
			return dl_error(DL_EINVAL, "insufficient binding: %s, used by %s, is never bound",
					env->q->vars[args[k].var].name, what);
	if (cl->kind == DL_C_OR || cl->kind == DL_C_OR_JOIN) {
		/* a variable some branch only reads, which the clauses that
		 * could bind it never do before this or (they wait for it) */
		uint8_t *need = dl_malloc(env->nvars ? env->nvars : 1);
		if (!need)
			return DL_ENOMEM;
		int rc = dl_plan_or_needs(cl, need, env->nvars);
		for (uint32_t v = 0; v < env->nvars && !rc; v++)
			if (need[v] && env->vstate[v] != VS_CONST && !bound[v])
				rc = dl_error(DL_EINVAL,
					      "insufficient binding: %s, used by a branch of this %s that "
					      "does not bind it, is never bound before the %s",
					      env->q->vars[v].name, cl->kind == DL_C_OR ? "or" : "or-join",
					      cl->kind == DL_C_OR ? "or" : "or-join");
		dl_free(need);
		if (rc)
			return rc;
		what = cl->kind == DL_C_OR ? "or" : "or-join";
	}
	return dl_error(DL_EINVAL, "insufficient binding: this %s's variables are never bound", what);
}

int dl_exec_conj(dl_qenv *env, const dl_clause *cls, uint32_t n)
{
	bool *done = dl_calloc(n ? n : 1, sizeof *done);
	uint8_t *bound = dl_calloc(env->nvars ? env->nvars : 1, 1);
	uint32_t *group = dl_calloc(env->nvars ? env->nvars : 1, sizeof *group);
	dl_step *steps = dl_calloc(n ? n : 1, sizeof *steps);
	uint32_t ns = 0;
	int rc = DL_ENOMEM;
	if (!done || !bound || !group || !steps)
		goto out;
	dl_plan_state st;
	state_from_env(&st, env, done, bound, group);
	if ((rc = dl_plan_all(steps, &ns, env, cls, n, &st)))
		goto out;
	for (uint32_t i = 0; i < n; i++)
		if (!done[i]) {
			rc = dl_exec_at_clause(env, &cls[i], unbound_error(env, &cls[i], bound));
			goto out;
		}
	memset(done, 0, n * sizeof *done);
	for (uint32_t k = 0; k < ns; k++) {
		if (env->empty)
			break; /* nothing can match any more */
		dl_step *s = &steps[k];
		/* offer a function or pattern step the filters (and, after a
		 * pattern, functions) right after it */
		dl_fuse fz = {0};
		bool pat = cls[s->clause].kind == DL_C_PATTERN;
		if ((cls[s->clause].kind == DL_C_FN && s->strategy == ST_FN) || pat ||
		    (cls[s->clause].kind == DL_C_PRED && s->strategy == ST_EQJOIN))
			while (fz.n < DL_MAX_FUSE && k + 1 + fz.n < ns) {
				const dl_step *f = &steps[k + 1 + fz.n];
				const dl_clause *c = &cls[f->clause];
				if (c->kind != DL_C_PRED &&
				    !(pat && c->kind == DL_C_FN && f->strategy == ST_FN))
					break;
				fz.cl[fz.n++] = c;
			}
		uint32_t m = 0;
		if (s->strategy == ST_SUBQ && (rc = subq_group_size(env, cls, steps, k, ns, &m)))
			goto out;
		if (m > 1) {
			/* independent subqueries side by side */
			if ((rc = subq_group(env, cls, steps, k, m)))
				goto out;
			for (uint32_t j = k; j + 1 < k + m; j++)
				done[steps[j].clause] = true;
			k += m - 1;
			s = &steps[k];
		} else {
			env->fuse = fz.n ? &fz : NULL;
			rc = run_step(env, cls, n, s);
			env->fuse = NULL;
			if (rc)
				goto out;
		}
		done[s->clause] = true;
		for (uint32_t j = 0; j < fz.taken; j++) {
			dl_step *f = &steps[++k];
			f->ran = f->fused = true;
			f->implied = fz.implied[j];
			f->rows = fz.rows[j];
			done[f->clause] = true;
		}
		s = &steps[k]; /* the last step run, for the estimate check */
		/* adaptive: re-plan the rest when the estimate was far off */
		double est = fmax(s->est_rows, 1), act = fmax((double)s->rows, 1);
		if (k + 1 < ns && (act > est * 8 || est > act * 8) && fmax(est, act) > 256) {
			state_from_env(&st, env, done, bound, group);
			uint32_t nk = k + 1;
			if ((rc = dl_plan_all(steps, &nk, env, cls, n, &st)))
				goto out;
			memset(done, 0, n * sizeof *done);
			for (uint32_t j = 0; j <= k; j++)
				done[steps[j].clause] = true;
			if (nk != ns) {
				rc = dl_error(DL_EINVAL, "internal: re-planning lost a clause");
				goto out;
			}
			steps[k + 1].replanned = true;
		}
	}
	rc = 0;
out:
	if (env->steps == NULL && rc == 0) {
		env->steps = steps;
		env->nsteps = ns;
		steps = NULL;
	}
	dl_free(steps);
	dl_free(done);
	dl_free(bound);
	dl_free(group);
	return rc;
}

/* ---- inputs ------------------------------------------------------------------------ */

static int bind_input(dl_qenv *env, const dl_input *in, const dl_value *v)
{
	const dl_binding *bd = &in->bind;
	switch (bd->kind) {
	case DL_B_SCALAR:
		if (bd->terms[0].kind == DL_T_VAR) {
			env->vstate[bd->terms[0].var] = VS_CONST;
			env->vconst[bd->terms[0].var] = *v;
		}
		return 0;
	case DL_B_TUPLE:
		if (!seq_value(v) || v->len != bd->n)
			return dl_error(DL_EINVAL, "input for tuple binding must have %u items", bd->n);
		for (uint32_t i = 0; i < bd->n; i++)
			if (bd->terms[i].kind == DL_T_VAR) {
				env->vstate[bd->terms[i].var] = VS_CONST;
				env->vconst[bd->terms[i].var] = v->u.items[i];
			}
		return 0;
	default: {
		if (!seq_value(v))
			return dl_error(DL_EINVAL, "input for %s binding must be a collection",
					bd->kind == DL_B_COLL ? "collection" : "relation");
		bindprog bp;
		uint32_t vars[16], nc = 0;
		DL_TRY(bindprog_init(&bp, env, bd, NULL, vars, &nc));
		dl_rel *r = dl_rel_new(env, nc, vars);
		if (!r)
			return DL_ENOMEM;
		int rc = bind_result(env, &bp, r, NULL, 0, v);
		if (!rc)
			rc = dl_rel_distinct(env, r);
		if (rc) {
			dl_rel_free(r);
			return rc;
		}
		return dl_exec_absorb(env, r);
	}
	}
}

static int bind_inputs(dl_qenv *env, const dl_value *inputs, size_t ninputs)
{
	const dl_query *q = env->q;
	uint32_t first = q->nin && q->in[0].kind == DL_IN_SRC &&
				 dl_intern_name(q->in[0].sym, NULL, NULL)[1] == 0
			 ? 1
			 : 0;
	size_t want = q->nin - first;
	if (ninputs != want)
		return dl_error(DL_EINVAL, "%s: query takes %zu input%s after $ (:in), got %zu",
				q->source, want, want == 1 ? "" : "s", ninputs);
	for (uint32_t i = first; i < q->nin; i++) {
		const dl_input *in = &q->in[i];
		const dl_value *v = &inputs[i - first];
		int rc = 0;
		if (in->kind == DL_IN_SRC) {
			if (!seq_value(v)) {
				rc = dl_error(DL_EINVAL, "source %s must be a collection of tuples",
					      dl_intern_name(in->sym, NULL, NULL));
			} else {
				uint32_t *s = dl_realloc(env->src_sym, (env->nsrc + 1) * sizeof *s);
				const dl_value **p =
					s ? dl_realloc(env->src_val, (env->nsrc + 1) * sizeof *p) : NULL;
				if (s)
					env->src_sym = s;
				if (!p)
					return DL_ENOMEM;
				env->src_val = p;
				env->src_sym[env->nsrc] = in->sym;
				env->src_val[env->nsrc++] = v;
			}
		} else if (in->kind == DL_IN_RULES) {
			dl_ruleset *rs;
			rc = dl_rules_parse(&rs, env->a, v, "<rules>");
			if (!rc)
				rc = dl_query_check_rules(q, rs);
			if (!rc)
				env->rules = rs;
		} else {
			rc = bind_input(env, in, v);
		}
		if (rc < 0) {
			if (in->pos.line && !dl_exec_positioned(dl_errmsg()))
				dl_error_prefix("%s:%u:%u", q->source, in->pos.line, in->pos.col);
			return rc;
		}
	}
	return 0;
}

/* ---- find ------------------------------------------------------------------------ */

typedef struct aggcol {
	dl_pull_pattern *pull; /* a (pull ?e pattern) element */
	const dl_aggregate *agg;
	dl_value params[4];
	size_t nparams;
} aggcol;

static int find_setup(dl_qenv *env, aggcol *aggs, bool *has_agg)
{
	const dl_query *q = env->q;
	*has_agg = false;
	for (uint32_t i = 0; i < q->nfind; i++) {
		const dl_find_elem *fe = &q->find[i];
		if (fe->kind == DL_FE_PULL) {
			if (fe->src_given && !dl_exec_default_src(fe->src))
				return dl_error(DL_EINVAL, "%s:%u:%u: pull reads the database $ only",
						q->source, fe->pos.line, fe->pos.col);
			const dl_value *pat = &fe->pattern.val;
			if (fe->pattern.kind == DL_T_VAR) {
				if (env->vstate[fe->pattern.var] != VS_CONST)
					return dl_error(DL_EINVAL, "%s:%u:%u: the pull pattern %s is not an input",
							q->source, fe->pos.line, fe->pos.col,
							q->vars[fe->pattern.var].name);
				pat = &env->vconst[fe->pattern.var];
			}
			int rc = dl_pull_compile(&aggs[i].pull, env->a, pat, env->snap, q->source);
			if (rc < 0) {
				/* "source: problem": give it the element's position */
				size_t n = strlen(q->source);
				const char *m = dl_errmsg();
				if (fe->pos.line && !strncmp(m, q->source, n) && !strncmp(m + n, ": ", 2)) {
					char msg[1024];
					snprintf(msg, sizeof msg, "%s", m + n + 2);
					dl_error(rc, "%s:%u:%u: %s", q->source, fe->pos.line, fe->pos.col, msg);
				}
				return rc;
			}
			dl_pull_set_max_maps(aggs[i].pull, env->max_rows);
			continue;
		}
		if (fe->kind != DL_FE_AGG)
			continue;
		*has_agg = true;
		size_t n;
		const char *name = dl_intern_name(fe->fn, &n, NULL);
		aggs[i].agg = dl_aggregate_find(name, n);
		if (!aggs[i].agg)
			return dl_error(DL_ENOTFOUND, "%s:%u:%u: unknown aggregate '%.*s'", q->source,
					fe->pos.line, fe->pos.col, (int)n, name);
		aggs[i].nparams = fe->nargs ? fe->nargs - 1 : 0;
		if (aggs[i].nparams > 4)
			return dl_error(DL_EINVAL, "%s:%u:%u: too many arguments to %.*s", q->source,
					fe->pos.line, fe->pos.col, (int)n, name);
		for (size_t k = 0; k < aggs[i].nparams; k++) {
			const dl_term *t = &fe->args[k];
			if (t->kind == DL_T_CONST)
				aggs[i].params[k] = t->val;
			else if (t->kind == DL_T_VAR && env->vstate[t->var] == VS_CONST)
				aggs[i].params[k] = env->vconst[t->var];
			else
				return dl_error(DL_EINVAL,
						"%s:%u:%u: %.*s: a parameter must be a constant or an input",
						q->source, t->pos.line, t->pos.col, (int)n, name);
		}
		if ((int)aggs[i].nparams < aggs[i].agg->min_params ||
		    (int)aggs[i].nparams > aggs[i].agg->max_params)
			return dl_error(DL_EINVAL, "%s:%u:%u: wrong number of arguments to %.*s",
					q->source, fe->pos.line, fe->pos.col, (int)n, name);
	}
	return 0;
}

/* The relation of find and with variables: one relation, distinct unless
 * bag (every aggregate's answer the same over repeats). */
static int find_relation(dl_qenv *env, dl_rel **out, uint32_t *cols_of_find, bool bag)
{
	const dl_query *q = env->q;
	uint32_t vars[128], nv = 0;
	for (uint32_t i = 0; i < q->nfind + q->nwith; i++) {
		uint32_t v = i < q->nfind ? q->find[i].var : q->with[i - q->nfind].var;
		uint32_t k = 0;
		while (k < nv && vars[k] != v)
			k++;
		if (k == nv) {
			if (nv == 128)
				return dl_error(DL_ELIMIT, "more than 128 find variables");
			vars[nv++] = v;
		}
		if (i < q->nfind)
			cols_of_find[i] = k;
	}
	/* a relation none of whose variables is needed only has to be non-empty */
	for (uint32_t i = 0; i < env->nrels;) {
		bool needed = false;
		for (uint32_t k = 0; k < nv && !needed; k++)
			needed = dl_rel_col(env->rels[i], vars[k]) >= 0;
		if (!needed) {
			if (env->rels[i]->n == 0)
				env->empty = true;
			drop_rel(env, i);
		} else {
			i++;
		}
	}
	for (uint32_t k = 0; k < nv && !env->empty; k++)
		if (env->vstate[vars[k]] == VS_FREE)
			return dl_error(DL_EINVAL, "%s: find variable %s is not bound", q->source,
					q->vars[vars[k]].name);
	int ri = -1;
	DL_TRY(dl_exec_unify(env, vars, nv, &ri));
	DL_TRY(project(env, out, ri >= 0 ? env->rels[ri] : NULL, vars, nv, bag));
	if (env->empty)
		(*out)->n = 0;
	return 0;
}

/* Group by the non-aggregate find elements and run the aggregates. */
static int aggregate(dl_qenv *env, const dl_rel *P, const uint32_t *fcol, const aggcol *aggs,
		     dl_rel **out)
{
	const dl_query *q = env->q;
	uint32_t gk[128], ng = 0;
	uint32_t ovars[128];
	for (uint32_t i = 0; i < q->nfind; i++) {
		ovars[i] = i; /* result columns are find positions */
		if (q->find[i].kind != DL_FE_AGG)
			gk[ng++] = fcol[i];
	}
	dl_rel *r = dl_rel_new(env, q->nfind, ovars);
	if (!r)
		return DL_ENOMEM;
	/* group number of each row */
	int rc = 0;
	uint32_t *gid = dl_block_alloc((P->n ? P->n : 1) * sizeof *gid);
	void **states = NULL;
	size_t ngroups = 0;
	if (!gid) {
		rc = DL_ENOMEM;
		goto out;
	}
	if ((rc = dl_rel_group_ids(gid, &ngroups, P, gk, ng)))
		goto out;
	states = dl_block_calloc((ngroups ? ngroups : 1) * q->nfind, sizeof *states);
	if (!states) {
		rc = DL_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < P->n && !rc; i++) {
		const dl_value *row = &P->rows[i * P->ncols];
		size_t g = gid[i];
		if (g == r->n) {
			/* a new group: its key values from its first row */
			dl_value *o = dl_rel_push(env, r);
			if (!o) {
				rc = dl_errcode_last();
				break;
			}
			for (uint32_t f = 0; f < q->nfind; f++)
				o[f] = aggs[f].agg ? dl_nil() : row[fcol[f]];
		}
		for (uint32_t f = 0; f < q->nfind && !rc; f++) {
			if (!aggs[f].agg)
				continue;
			void **sp = &states[g * q->nfind + f];
			if (!*sp) {
				size_t sz = aggs[f].agg->state_size;
				*sp = dl_arena_alloc(env->a, sz ? sz : 1);
				if (!*sp) {
					rc = DL_ENOMEM;
					break;
				}
				if ((rc = aggs[f].agg->init(*sp, env->a, aggs[f].params, aggs[f].nparams,
							   env->fn)))
					break;
			}
			rc = aggs[f].agg->step(*sp, &row[fcol[f]]);
		}
		if (!rc)
			rc = dl_qenv_tick(env);
	}
	/* groups were pushed in first-row order, which is group-number order */
	for (size_t g = 0; g < ngroups && !rc; g++)
		for (uint32_t f = 0; f < q->nfind && !rc; f++)
			if (aggs[f].agg) {
				void *sp = states[g * q->nfind + f];
				rc = aggs[f].agg->finish(&r->rows[g * q->nfind + f], env->a, sp);
			}
out:
	dl_block_free(states);
	dl_block_free(gid);
	if (rc) {
		dl_rel_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

static int result_value(dl_value *out, dl_arena *a, const dl_qresult *r)
{
	switch (r->find_spec) {
	case DL_FIND_SCALAR:
		*out = r->nrows ? r->rows[0] : dl_nil();
		return 0;
	case DL_FIND_TUPLE:
		if (!r->nrows) {
			*out = dl_nil();
			return 0;
		}
		*out = (dl_value){.type = DL_VECTOR, .len = r->ncols};
		out->u.items = r->rows;
		return 0;
	case DL_FIND_COLL:
		*out = (dl_value){.type = DL_VECTOR, .len = (uint32_t)r->nrows};
		out->u.items = r->rows;
		return 0;
	default: {
		dl_value *items = DL_ARENA_NEW(a, r->nrows ? r->nrows : 1, dl_value);
		if (!items)
			return DL_ENOMEM;
		for (size_t i = 0; i < r->nrows; i++) {
			items[i] = (dl_value){.type = DL_VECTOR, .len = r->ncols};
			items[i].u.items = &r->rows[i * r->ncols];
		}
		*out = (dl_value){.type = DL_VECTOR, .len = (uint32_t)r->nrows};
		out->u.items = items;
		return 0;
	}
	}
}

static _Thread_local const dl_query *t_order_q;

static int cmp_order(const void *x, const void *y)
{
	const dl_value *a = x, *b = y;
	const dl_query *q = t_order_q;
	for (uint32_t i = 0; i < q->norder; i++) {
		int c = dl_value_compare(&a[q->order[i].col], &b[q->order[i].col]);
		if (c)
			return q->order[i].desc ? -c : c;
	}
	return 0;
}

static int col_name(dl_buf *b, const dl_query *q, const dl_find_elem *fe)
{
	switch (fe->kind) {
	case DL_FE_VAR:
		return dl_buf_puts(b, q->vars[fe->var].name);
	case DL_FE_AGG:
		DL_TRY(dl_buf_printf(b, "(%s", dl_intern_name(fe->fn, NULL, NULL)));
		for (uint32_t i = 0; i < fe->nargs; i++) {
			DL_TRY(dl_buf_puts(b, " "));
			if (fe->args[i].kind == DL_T_CONST)
				DL_TRY(dl_edn_print(b, &fe->args[i].val));
			else
				DL_TRY(dl_buf_puts(b, dl_intern_name(fe->args[i].sym, NULL, NULL)));
		}
		return dl_buf_puts(b, ")");
	default:
		return dl_buf_printf(b, "(pull %s)", q->vars[fe->var].name);
	}
}

/* 0, 1, 2, ...: columns in their own order */
static const uint32_t k_ident_cols[128] = {
#define C8(n) n, n + 1, n + 2, n + 3, n + 4, n + 5, n + 6, n + 7
	C8(0),  C8(8),  C8(16), C8(24), C8(32), C8(40),  C8(48),  C8(56),
	C8(64), C8(72), C8(80), C8(88), C8(96), C8(104), C8(112), C8(120),
#undef C8
};

static int finish(dl_qenv *env, dl_qresult *out, dl_arena *a)
{
	const dl_query *q = env->q;
	aggcol aggs[128];
	if (q->nfind > 128)
		return dl_error(DL_ELIMIT, "more than 128 find elements");
	memset(aggs, 0, q->nfind * sizeof *aggs);
	bool has_agg;
	DL_TRY(find_setup(env, aggs, &has_agg));
	uint32_t fcol[128];
	dl_rel *P = NULL;
	/* groups come out the same from repeated rows; min, max and
	 * distinct too: then the rows need no distinct pass */
	bool bag = has_agg;
	for (uint32_t i = 0; i < q->nfind && bag; i++)
		if (aggs[i].agg)
			bag = aggs[i].agg->dup_free && aggs[i].nparams == 0;
	DL_TRY(find_relation(env, &P, fcol, bag));
	dl_rel *F = NULL;
	int rc = 0;
	if (has_agg) {
		rc = aggregate(env, P, fcol, aggs, &F);
	} else if (P->ncols == q->nfind && !memcmp(fcol, k_ident_cols, q->nfind * sizeof *fcol)) {
		F = P; /* the find order already: no copy */
		P = NULL;
	} else {
		uint32_t ov[128];
		for (uint32_t i = 0; i < q->nfind; i++)
			ov[i] = i;
		F = dl_rel_new(env, q->nfind, ov);
		if (!F)
			rc = DL_ENOMEM;
		for (size_t i = 0; !rc && i < P->n; i++) {
			dl_value *o = dl_rel_push(env, F);
			if (!o) {
				rc = dl_errcode_last();
				break;
			}
			for (uint32_t f = 0; f < q->nfind; f++)
				o[f] = P->rows[i * P->ncols + fcol[f]];
		}
		/* with :with the projection keeps its repeats: a bag, as in
		 * Datomic ([:find ?age :with ?p] gives one age per person) */
	}
	dl_rel_free(P);
	if (rc) {
		dl_rel_free(F);
		return rc;
	}
	if (q->find_spec == DL_FIND_COLL && q->nwith)
		rc = dl_rel_distinct(env, F);
	/* :order-by; otherwise the answer is a set, in no particular order
	 * (dl_qresult_sort gives a canonical one for printing) */
	if (q->norder) {
		t_order_q = q;
		qsort(F->rows, F->n, F->ncols * sizeof(dl_value), cmp_order);
	} else if (q->limit >= 0 || q->offset >= 0 || q->find_spec == DL_FIND_SCALAR ||
		   q->find_spec == DL_FIND_TUPLE) {
		/* which rows a limit keeps must not depend on hashing */
		uint32_t all[128];
		for (uint32_t i = 0; i < F->ncols; i++)
			all[i] = i;
		dl_rel_sort(F, all, F->ncols);
	}
	size_t from = 0, to = F->n;
	if (q->offset > 0)
		from = (size_t)q->offset < to ? (size_t)q->offset : to;
	if (q->limit >= 0 && (size_t)q->limit < to - from)
		to = from + (size_t)q->limit;
	if ((q->find_spec == DL_FIND_SCALAR || q->find_spec == DL_FIND_TUPLE) && to > from + 1)
		to = from + 1;
	/* pull the entities of pull elements (only the rows kept) */
	for (uint32_t f = 0; f < q->nfind && !rc; f++) {
		if (!aggs[f].pull)
			continue;
		for (size_t i = from; i < to && !rc; i++) {
			dl_value *v = &F->rows[i * F->ncols + f];
			int64_t e = 0;
			rc = dl_qenv_entity(env, v, &e);
			if (rc > 0)
				rc = dl_pull_run(v, env->a, env->snap, &env->view, aggs[f].pull, e);
			else if (rc == 0)
				*v = dl_nil();
		}
	}
	if (rc) {
		dl_rel_free(F);
		return rc;
	}
	/* copy out */
	memset(out, 0, sizeof *out);
	out->find_spec = q->find_spec;
	out->ordered = q->norder || q->limit >= 0 || q->offset >= 0;
	out->bag = !has_agg && q->nwith > 0 && q->find_spec == DL_FIND_REL;
	out->keys_kind = q->keys_kind;
	out->ncols = q->nfind;
	out->nrows = to - from;
	out->rows = DL_ARENA_NEW(a, out->nrows * out->ncols + 1, dl_value);
	out->colnames = DL_ARENA_NEW(a, out->ncols + 1, const char *);
	if (!out->rows || !out->colnames) {
		dl_rel_free(F);
		return DL_ENOMEM;
	}
	for (size_t i = 0; i < out->nrows * out->ncols && !rc; i++) {
		const dl_value *v = &F->rows[from * F->ncols + i];
		if (v->type < DL_STRING) /* no memory: a plain copy */
			out->rows[i] = *v;
		else
			rc = dl_value_copy(&out->rows[i], a, v);
	}
	dl_rel_free(F);
	dl_buf b = DL_BUF_INIT;
	for (uint32_t i = 0; i < q->nfind && !rc; i++) {
		b.len = 0;
		if ((rc = col_name(&b, q, &q->find[i])))
			break;
		out->colnames[i] = dl_arena_strndup(a, b.data, b.len);
		if (!out->colnames[i])
			rc = DL_ENOMEM;
	}
	dl_buf_free(&b);
	if (!rc && q->keys_kind) {
		out->keys = DL_ARENA_NEW(a, q->nkeys + 1, const char *);
		if (!out->keys)
			return DL_ENOMEM;
		for (uint32_t i = 0; i < q->nkeys; i++) {
			size_t n;
			const char *k = dl_intern_name(q->keys[i], &n, NULL);
			out->keys[i] = dl_arena_strndup(a, k, n);
			if (!out->keys[i])
				return DL_ENOMEM;
		}
	}
	return rc;
}

void dl_qresult_sort(dl_qresult *r)
{
	if (r->ordered || r->nrows < 2 || r->ncols == 0 || r->ncols > 128)
		return;
	dl_rel tmp = {.ncols = r->ncols, .n = r->nrows, .rows = r->rows};
	uint32_t all[128];
	for (uint32_t i = 0; i < r->ncols; i++)
		all[i] = i;
	dl_rel_sort(&tmp, all, r->ncols);
}

/* ---- EXPLAIN ------------------------------------------------------------------------ */

static int explain_text(dl_buf *b, dl_qenv *env, const dl_clause *cls, const dl_step *steps,
			uint32_t ns, bool analyze, double total_ms, size_t nresult)
{
	DL_TRY(dl_buf_printf(b, "%-4s %-18s %-5s %10s %10s", "step", "strategy", "index", "est.rows",
			     "est.cost"));
	if (analyze)
		DL_TRY(dl_buf_printf(b, " %10s %10s %9s", "rows", "scanned", "ms"));
	DL_TRY(dl_buf_puts(b, "  clause\n"));
	dl_buf cb = DL_BUF_INIT;
	for (uint32_t i = 0; i < ns; i++) {
		const dl_step *s = &steps[i];
		const dl_clause *cl = &cls[s->clause];
		bool pat = cl->kind == DL_C_PATTERN && s->strategy != ST_SOURCE;
		char strat[40];
		snprintf(strat, sizeof strat, "%s%s", dl_strategy_name(s->strategy),
			 s->ranged     ? " range"
			 : s->batched  ? " batched"
			 : s->parallel ? " parallel"
				       : "");
		DL_TRY(dl_buf_printf(b, "%-4u %-18s %-5s %10.0f %10.0f", i + 1, strat,
				     pat ? dl_index_name(s->index) : "-", s->est_rows, s->est_cost));
		if (analyze) {
			if (s->ran)
				DL_TRY(dl_buf_printf(b, " %10llu %10llu %9.3f",
						     (unsigned long long)s->rows,
						     (unsigned long long)s->scanned, s->ms));
			else
				DL_TRY(dl_buf_printf(b, " %10s %10s %9s", "-", "-", "-"));
		}
		cb.len = 0;
		int rc = dl_clause_print(&cb, cl);
		if (rc) {
			dl_buf_free(&cb);
			return rc;
		}
		DL_TRY(dl_buf_printf(b, "  %.*s%s", (int)cb.len, cb.data,
				     s->replanned ? "   (re-planned)"
				     : s->implied ? "   (in the step before: its value range)"
				     : s->fused   ? "   (in the step before)"
						  : ""));
		if (analyze && s->ran && cl->kind == DL_C_RULE)
			DL_TRY(dl_buf_printf(b, "   (%llu tuples derived in %u rounds)",
					     (unsigned long long)s->derived, s->rounds));
		if (analyze && s->ran && s->closure)
			DL_TRY(dl_buf_printf(b, "   (right-linear closure: %llu nodes reached)",
					     (unsigned long long)s->reached));
		if (analyze && s->ran && s->alongside)
			DL_TRY(dl_buf_puts(b, "   (side by side with its neighbours)"));
		if (s->note)
			DL_TRY(dl_buf_printf(b, "   (%s)", s->note));
		DL_TRY(dl_buf_puts(b, "\n"));
		if ((analyze ? s->ran : s->strategy == ST_LOOSE) && s->detail)
			DL_TRY(dl_buf_puts(b, s->detail)); /* plain EXPLAIN: a walk's fallback plan */
	}
	dl_buf_free(&cb);
	if (analyze) {
		uint64_t scanned = 0;
		for (uint32_t i = 0; i < ns; i++)
			scanned += steps[i].scanned;
		DL_TRY(dl_buf_printf(b, "result: %zu rows, %llu datoms scanned, %.3f ms\n", nresult,
				     (unsigned long long)scanned, total_ms));
	}
	return 0;
}

/* ---- entry points ------------------------------------------------------------------ */

static int env_init(dl_qenv *env, dl_snap *snap, const dl_query *q, const dl_qopts *opts,
		    dl_arena *scratch, dl_fn_ctx *fn)
{
	memset(env, 0, sizeof *env);
	env->snap = snap;
	env->view = opts->view;
	env->q = q;
	env->a = scratch;
	env->fn = fn;
	env->opts = opts;
	env->rdelta = -1;
	env->analyze = opts->analyze;
	env->cancel = opts->cancel;
	env->max_rows = opts->max_rows ? opts->max_rows : DEFAULT_MAX_ROWS;
	env->max_bytes = opts->max_bytes ? opts->max_bytes : DEFAULT_MAX_BYTES;
	int64_t t = opts->timeout_ms;
	if (q->timeout_ms > 0 && (t <= 0 || q->timeout_ms < t))
		t = q->timeout_ms;
	if (t > 0) {
		clock_gettime(CLOCK_MONOTONIC, &env->deadline);
		env->deadline.tv_sec += t / 1000;
		env->deadline.tv_nsec += (t % 1000) * 1000000;
		if (env->deadline.tv_nsec >= 1000000000) {
			env->deadline.tv_sec++;
			env->deadline.tv_nsec -= 1000000000;
		}
		env->has_deadline = true;
	}
	DL_TRY(dl_schema_get(&env->schema, snap));
	env->nvars = q->nvars;
	env->vstate = dl_calloc(q->nvars ? q->nvars : 1, 1);
	env->vconst = dl_calloc(q->nvars ? q->nvars : 1, sizeof *env->vconst);
	if (!env->vstate || !env->vconst)
		return DL_ENOMEM;
	return 0;
}

static void env_fini(dl_qenv *env)
{
	dl_rel_free(env->pending);
	for (uint32_t i = 0; i < env->nrels; i++)
		dl_rel_free(env->rels[i]);
	dl_free(env->rels);
	dl_free(env->vstate);
	dl_free(env->vconst);
	dl_free(env->src_sym);
	dl_free(env->src_val);
	dl_free(env->steps);
}

/* Every function a clause calls must exist, whether or not a row ever
 * reaches it (the answer must not depend on the data). */
static int check_fns(const char *source, const dl_clause *cls, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		const dl_clause *cl = &cls[i];
		switch (cl->kind) {
		case DL_C_PRED:
		case DL_C_FN: {
			if (cl->u.fn.f.kind != DL_T_SYM)
				break;
			size_t len;
			const char *name = dl_intern_name(cl->u.fn.f.sym, &len, NULL);
			if (cl->u.fn.sub)
				break; /* q: its own clauses are checked when it runs */
			if (!dl_builtin_find(name, len))
				return dl_error(DL_ENOTFOUND, "%s:%u:%u: unknown function '%.*s'", source,
						cl->pos.line, cl->pos.col, (int)len, name);
			break;
		}
		case DL_C_NOT:
		case DL_C_NOT_JOIN:
		case DL_C_OR:
		case DL_C_OR_JOIN:
		case DL_C_AND:
			DL_TRY(check_fns(source, cl->u.sub.items, cl->u.sub.n));
			break;
		default:
			break;
		}
	}
	return 0;
}

static int run(dl_qresult *out, dl_arena *a, dl_qenv *env, const dl_value *inputs,
	       size_t ninputs, dl_buf *explain, bool execute)
{
	const dl_query *q = env->q;
	double t0 = dl_exec_now_ms();
	DL_TRY(check_fns(q->source, q->where, q->nwhere));
	DL_TRY(bind_inputs(env, inputs, ninputs));
	if (env->rules)
		for (uint32_t r = 0; r < env->rules->n; r++)
			for (uint32_t b = 0; b < env->rules->rules[r].nbodies; b++) {
				const dl_rule_body *body = &env->rules->rules[r].bodies[b];
				DL_TRY(check_fns(env->rules->source ? env->rules->source : "<rules>",
						 body->clauses, body->n));
			}
	if (!execute) {
		/* plan only */
		uint32_t n = q->nwhere;
		bool *done = dl_calloc(n ? n : 1, sizeof *done);
		uint8_t *bound = dl_calloc(env->nvars ? env->nvars : 1, 1);
		uint32_t *group = dl_calloc(env->nvars ? env->nvars : 1, sizeof *group);
		dl_step *steps = dl_calloc(n ? n : 1, sizeof *steps);
		int rc = DL_ENOMEM;
		if (done && bound && group && steps) {
			dl_plan_state st;
			state_from_env(&st, env, done, bound, group);
			uint32_t ns = 0;
			rc = dl_plan_all(steps, &ns, env, q->where, n, &st);
			/* a loose index scan shows the plan it falls back to under it */
			dl_step walk;
			int w = rc ? rc : dl_loose_plan(&walk, env, steps, ns);
			if (w == 0)
				rc = explain_text(explain, env, q->where, &walk, 1, false, 0, 0);
			else if (w == 1)
				rc = explain_text(explain, env, q->where, steps, ns, false, 0, 0);
			else
				rc = w;
		}
		dl_free(done);
		dl_free(bound);
		dl_free(group);
		dl_free(steps);
		return rc;
	}
	int w = dl_loose_run(env);
	if (w == 1)
		w = dl_exec_conj(env, q->where, q->nwhere);
	DL_TRY(w);
	DL_TRY(finish(env, out, a));
	if (explain)
		DL_TRY(explain_text(explain, env, q->where, env->steps, env->nsteps, env->analyze,
				    dl_exec_now_ms() - t0, out->nrows));
	return 0;
}

int dl_query_run_nested(dl_qresult *out, dl_arena *a, dl_qenv *outer, const dl_query *q,
			const dl_value *inputs, size_t ninputs, const dl_value *dollar,
			const dl_qopts *opts)
{
	dl_qenv env;
	int rc = env_init(&env, outer->snap, q, opts, outer->a, outer->fn);
	if (!rc && dollar && dollar->type != DL_VECTOR && dollar->type != DL_LIST &&
	    dollar->type != DL_SET)
		rc = dl_error(DL_EINVAL, "q: $ must be a database or a collection of tuples");
	if (!rc) {
		env.dollar = dollar;
		env.depth = outer->depth + 1;
		env.deadline = outer->deadline;
		env.has_deadline = outer->has_deadline;
		env.budget = outer->budget;
		rc = run(out, a, &env, inputs, ninputs, NULL, true);
		uint64_t n = env.nested_scanned;
		for (uint32_t i = 0; i < env.nsteps; i++)
			n += env.steps[i].scanned;
		outer->nested_scanned += n;
		outer->tick = env.tick;
	}
	env_fini(&env);
	return rc;
}

int dl_query_run(dl_qresult *out, dl_arena *a, dl_snap *snap, const dl_query *q,
		 const dl_value *inputs, size_t ninputs, const dl_qopts *opts, dl_buf *explain)
{
	assert(out && a && snap && q);
	dl_qopts def = DL_QOPTS_INIT;
	if (!opts)
		opts = &def;
	dl_arena scratch = DL_ARENA_INIT;
	dl_fn_ctx fn;
	dl_fn_ctx_init(&fn);
	fn.seed = opts->seed;
	fn.attr_value = fn_attr_value;
	dl_qenv env;
	dl_qpool pool = {.threads = opts->threads};
	if (pool.threads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		pool.threads = n < 1 ? 1 : n > DL_MAX_THREADS ? DL_MAX_THREADS : (int)n;
	}
	if (pool.threads > DL_MAX_THREADS)
		pool.threads = DL_MAX_THREADS;
	dl_qbudget budget = {0}; /* nested queries and workers share it */
	int rc = env_init(&env, snap, q, opts, &scratch, &fn);
	env.budget = &budget;
	fn.db = &env;
	env.pool = &pool;
	if (!rc)
		rc = run(out, a, &env, inputs, ninputs, explain, true);
	env_fini(&env);
	pool_fini(&pool);
	dl_fn_ctx_fini(&fn);
	dl_arena_free(&scratch);
	return rc;
}

int dl_query_explain(dl_buf *out, dl_snap *snap, const dl_query *q, const dl_value *inputs,
		     size_t ninputs, const dl_qopts *opts)
{
	dl_qopts def = DL_QOPTS_INIT;
	if (!opts)
		opts = &def;
	dl_arena scratch = DL_ARENA_INIT;
	dl_fn_ctx fn;
	dl_fn_ctx_init(&fn);
	dl_qenv env;
	dl_qbudget budget = {0}; /* nested queries and workers share it */
	int rc = env_init(&env, snap, q, opts, &scratch, &fn);
	env.budget = &budget;
	fn.db = &env;
	fn.attr_value = fn_attr_value;
	if (!rc)
		rc = run(NULL, NULL, &env, inputs, ninputs, out, false);
	env_fini(&env);
	dl_fn_ctx_fini(&fn);
	dl_arena_free(&scratch);
	return rc;
}
