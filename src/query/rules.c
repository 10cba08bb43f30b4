/*
 * query/rules: Datalog rules, evaluated bottom-up, semi-naive, on demand.
 *
 * A rule call (r ?x "c" ?y) with some arguments bound (constants, or
 * variables bound when the call runs) only needs r's answers for those
 * bindings.  Each (rule, adornment) pair -- the adornment says which
 * argument positions are bound -- gets a table of *demand* (the bound
 * argument tuples asked for) and of *answers* (whole tuples).  A body of r
 * runs seeded with the demand, so bound arguments restrict it from its
 * first clause; rule calls inside the body add demand to their own tables
 * and read those tables' answers.  This is the magic-sets idea applied at
 * run time: (ancestor "x" ?y) only ever derives x's ancestors.
 *
 * Evaluation goes in rounds until a round adds nothing (a fixpoint, which
 * exists because tables only grow and values come from a finite database;
 * cyclic data terminates).  Semi-naive: in a round, each body runs once on
 * the demand new in the last round, and once per rule call in it with that
 * call reading only the answers new in the last round (everything else in
 * full), so every derivation uses at least one new fact and nothing is
 * recomputed from old facts alone.  Bodies whose rule calls sit inside an
 * or / not are run naively (all demand, whole tables) each round, which
 * is slower but equally correct.  A rule called inside a `not` is solved
 * completely first, in its own evaluation (stratified negation).
 */
#include "exec_int.h"

#include <string.h>

#define MAX_RULE_ARITY 32
#define MAX_ROUNDS 100000000

/* ---- a growable set of rows ------------------------------------------------- */

typedef struct rowset {
	dl_rel *r;
	uint32_t *slot; /* row + 1, 0 empty */
	size_t mask;
} rowset;

static int rowset_grow(rowset *s)
{
	size_t nb = s->slot ? (s->mask + 1) * 2 : 64;
	uint32_t *slot = dl_block_calloc(nb, sizeof *slot);
	if (!slot)
		return DL_ENOMEM;
	uint32_t cols[MAX_RULE_ARITY];
	for (uint32_t i = 0; i < s->r->ncols; i++)
		cols[i] = i;
	for (size_t i = 0; i < s->r->n; i++) {
		size_t b = dl_row_hash(&s->r->rows[i * s->r->ncols], cols, s->r->ncols) & (nb - 1);
		while (slot[b])
			b = (b + 1) & (nb - 1);
		slot[b] = (uint32_t)(i + 1);
	}
	dl_block_free(s->slot);
	s->slot = slot;
	s->mask = nb - 1;
	return 0;
}

/* Add row (ncols values) unless present: 1 added, 0 present, <0 error. */
static int rowset_add(dl_qenv *env, rowset *s, const dl_value *row)
{
	dl_rel *r = s->r;
	if (!s->slot || (r->n + 1) * 2 > s->mask + 1)
		DL_TRY(rowset_grow(s));
	uint32_t cols[MAX_RULE_ARITY];
	for (uint32_t i = 0; i < r->ncols; i++)
		cols[i] = i;
	size_t b = dl_row_hash(row, cols, r->ncols) & s->mask;
	while (s->slot[b]) {
		if (dl_row_eq(&r->rows[(size_t)(s->slot[b] - 1) * r->ncols], cols, row, cols, r->ncols))
			return 0;
		b = (b + 1) & s->mask;
	}
	if (r->n >= UINT32_MAX - 1)
		return dl_error(DL_ELIMIT, "rule table too large");
	dl_value *o = dl_rel_push(env, r);
	if (!o)
		return dl_errcode_last();
	memcpy(o, row, r->ncols * sizeof *o);
	s->slot[b] = (uint32_t)r->n;
	return 1;
}

static void rowset_free(rowset *s)
{
	dl_rel_free(s->r);
	dl_block_free(s->slot);
}

/* ---- tables and the evaluation -------------------------------------------- */

typedef struct rtable {
	const dl_rule *rule;
	uint32_t adorn;      /* bit i: argument i bound */
	uint32_t nbound;
	rowset demand;       /* bound argument values, in position order */
	rowset answers;      /* whole tuples */
	size_t d_old, d_end; /* this round's window: [d_old, d_end) is new */
	size_t a_old, a_end;
} rtable;

struct dl_rctx {
	const dl_rctx *parent; /* the evaluation this one runs inside (through a not) */
	const dl_ruleset *rules;
	rtable **t;
	uint32_t n;
	dl_query **bodyq;    /* a query shell per body (by rule index, body index) */
	uint64_t derived;
	uint32_t rounds;
	bool in_round;
};

void dl_rctx_free(dl_rctx *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; i < c->n; i++) {
		rowset_free(&c->t[i]->demand);
		rowset_free(&c->t[i]->answers);
		dl_free(c->t[i]);
	}
	dl_free(c->t);
	dl_free(c->bodyq);
	dl_free(c);
}

static int table_get(rtable **out, dl_qenv *env, dl_rctx *c, const dl_rule *rule, uint32_t adorn)
{
	for (uint32_t i = 0; i < c->n; i++)
		if (c->t[i]->rule == rule && c->t[i]->adorn == adorn) {
			*out = c->t[i];
			return 0;
		}
	rtable *t = dl_calloc(1, sizeof *t);
	if (!t)
		return DL_ENOMEM;
	t->rule = rule;
	t->adorn = adorn;
	uint32_t cols[MAX_RULE_ARITY];
	for (uint32_t i = 0; i < rule->arity; i++) {
		cols[i] = i;
		t->nbound += adorn >> i & 1;
	}
	t->demand.r = dl_rel_new(env, t->nbound, cols);
	t->answers.r = dl_rel_new(env, rule->arity, cols);
	rtable **p = dl_realloc(c->t, (c->n + 1) * sizeof *p);
	if (!t->demand.r || !t->answers.r || !p) {
		rowset_free(&t->demand);
		rowset_free(&t->answers);
		dl_free(t);
		return DL_ENOMEM;
	}
	c->t = p;
	c->t[c->n++] = t;
	*out = t;
	return 0;
}

/* The query shell a body runs as (its own variable table). */
static int body_query(dl_query **out, dl_qenv *env, dl_rctx *c, const dl_rule *rule, uint32_t b)
{
	const dl_ruleset *rs = c->rules;
	if (!c->bodyq) {
		size_t n = 0;
		for (uint32_t i = 0; i < rs->n; i++)
			n += rs->rules[i].nbodies;
		c->bodyq = dl_calloc(n ? n : 1, sizeof *c->bodyq);
		if (!c->bodyq)
			return DL_ENOMEM;
	}
	size_t k = 0;
	for (uint32_t i = 0; i < rs->n && &rs->rules[i] != rule; i++)
		k += rs->rules[i].nbodies;
	k += b;
	if (!c->bodyq[k]) {
		const dl_rule_body *body = &rule->bodies[b];
		dl_query *q = DL_ARENA_NEW(env->a, 1, dl_query);
		if (!q)
			return DL_ENOMEM;
		memset(q, 0, sizeof *q);
		q->source = rs->source ? rs->source : env->q->source;
		q->pos = body->pos;
		q->nwhere = body->n;
		q->where = body->clauses;
		q->nvars = body->nvars;
		q->vars = body->vars;
		q->limit = q->offset = q->timeout_ms = -1;
		c->bodyq[k] = q;
	}
	*out = c->bodyq[k];
	return 0;
}

static bool has_call(const dl_clause *cl, bool nested)
{
	switch (cl->kind) {
	case DL_C_RULE:
		return !nested;
	case DL_C_NOT:
	case DL_C_NOT_JOIN:
	case DL_C_OR:
	case DL_C_OR_JOIN:
	case DL_C_AND:
		for (uint32_t i = 0; i < cl->u.sub.n; i++)
			if (has_call(&cl->u.sub.items[i], false))
				return true;
		return false;
	default:
		return false;
	}
}

/* Run one body of t's rule seeded with demand rows [d0, d1), reading rule
 * calls as `rdelta`/`naive` say, and add what it derives to t's answers. */
static int run_body(dl_qenv *env, dl_rctx *c, rtable *t, uint32_t b, size_t d0, size_t d1,
		    int rdelta, bool naive, bool *changed)
{
	const dl_rule *rule = t->rule;
	const dl_rule_body *body = &rule->bodies[b];
	dl_query *bq;
	DL_TRY(body_query(&bq, env, c, rule, b));
	dl_qenv ch = *env;
	ch.q = bq;
	ch.nvars = bq->nvars;
	ch.rels = NULL;
	ch.nrels = 0;
	ch.empty = false;
	ch.steps = NULL;
	ch.nsteps = 0;
	ch.analyze = false;
	ch.rctx = c;
	ch.rstack = c;
	ch.rdelta = rdelta;
	ch.rnaive = naive;
	ch.nested_scanned = 0;
	ch.pending = NULL;
	ch.vstate = dl_calloc(bq->nvars ? bq->nvars : 1, 1);
	ch.vconst = dl_calloc(bq->nvars ? bq->nvars : 1, sizeof *ch.vconst);
	int rc = 0;
	dl_rel *seed = NULL, *got = NULL;
	if (!ch.vstate || !ch.vconst) {
		rc = DL_ENOMEM;
		goto out;
	}
	/* the seed: demand rows as the head variables at bound positions */
	uint32_t svars[MAX_RULE_ARITY], ns = 0;
	int scol[MAX_RULE_ARITY], pos2col[MAX_RULE_ARITY];
	for (uint32_t i = 0, k = 0; i < rule->arity; i++) {
		pos2col[i] = -1;
		if (!(t->adorn >> i & 1))
			continue;
		uint32_t v = body->head[i].var, j = 0;
		while (j < ns && svars[j] != v)
			j++;
		if (j == ns) {
			svars[ns] = v;
			scol[ns++] = (int)k;
		}
		pos2col[i] = (int)k++;
	}
	if (t->nbound) {
		seed = dl_rel_new(env, ns, svars);
		if (!seed) {
			rc = DL_ENOMEM;
			goto out;
		}
		const dl_rel *D = t->demand.r;
		for (size_t i = d0; i < d1; i++) {
			const dl_value *drow = &D->rows[i * D->ncols];
			/* a head repeating a variable at bound positions: equal values */
			bool ok = true;
			for (uint32_t p = 0; p < rule->arity && ok; p++)
				for (uint32_t q = p + 1; q < rule->arity && ok; q++)
					if (pos2col[p] >= 0 && pos2col[q] >= 0 &&
					    body->head[p].var == body->head[q].var)
						ok = dl_value_equal(&drow[pos2col[p]], &drow[pos2col[q]]);
			if (!ok)
				continue;
			dl_value *o = dl_rel_push(env, seed);
			if (!o) {
				rc = dl_errcode_last();
				goto out;
			}
			for (uint32_t j = 0; j < ns; j++)
				o[j] = drow[scol[j]];
		}
		if (seed->n == 0)
			goto out;
		rc = dl_exec_push(&ch, seed);
		seed = NULL;
		if (rc)
			goto out;
	} else if (d1 <= d0) {
		goto out;
	}
	if ((rc = dl_exec_conj(&ch, body->clauses, body->n)))
		goto out;
	if (ch.empty)
		goto out;
	/* the answers: head variables by position */
	uint32_t hv[MAX_RULE_ARITY], nh = 0;
	for (uint32_t i = 0; i < rule->arity; i++) {
		uint32_t v = body->head[i].var, j = 0;
		while (j < nh && hv[j] != v)
			j++;
		if (j == nh)
			hv[nh++] = v;
		if (ch.vstate[v] == VS_FREE) {
			if (body->pos.line)
				rc = dl_error(DL_EINVAL, "%s:%u:%u: rule %s: head variable %s is not bound by its body",
					      bq->source, body->pos.line, body->pos.col,
					      dl_intern_name(rule->name, NULL, NULL), body->vars[v].name);
			else
				rc = dl_error(DL_EINVAL, "rule %s: head variable %s is not bound by its body",
					      dl_intern_name(rule->name, NULL, NULL), body->vars[v].name);
			goto out;
		}
	}
	int ri;
	if ((rc = dl_exec_unify(&ch, hv, nh, &ri)))
		goto out;
	for (uint32_t i = 0; i < ch.nrels; i++)
		if (ch.rels[i]->n == 0)
			goto out;
	if ((rc = dl_exec_project(&ch, &got, ri >= 0 ? ch.rels[ri] : NULL, hv, nh)))
		goto out;
	dl_value tup[MAX_RULE_ARITY];
	for (size_t i = 0; i < got->n; i++) {
		for (uint32_t p = 0; p < rule->arity; p++) {
			uint32_t j = 0;
			while (hv[j] != body->head[p].var)
				j++;
			tup[p] = got->rows[i * nh + j];
		}
		int added = rowset_add(env, &t->answers, tup);
		if (added < 0) {
			rc = added;
			goto out;
		}
		if (added) {
			*changed = true;
			c->derived++;
		}
	}
out:
	if (!rc)
		env->nested_scanned += ch.nested_scanned;
	for (uint32_t i = 0; i < ch.nsteps; i++)
		env->nested_scanned += ch.steps[i].scanned;
	env->tick = ch.tick;
	for (uint32_t i = 0; i < ch.nrels; i++)
		dl_rel_free(ch.rels[i]);
	dl_free(ch.rels);
	dl_free(ch.steps);
	dl_free(ch.vstate);
	dl_free(ch.vconst);
	dl_rel_free(seed);
	dl_rel_free(got);
	return rc;
}

/* Rounds until nothing new: every table's bodies run on what is new. */
static int solve(dl_qenv *env, dl_rctx *c)
{
	for (;;) {
		/* this round's windows: what the last round added is new */
		size_t before_d = 0, before_a = 0;
		bool any_delta_answers = false;
		for (uint32_t i = 0; i < c->n; i++) {
			rtable *t = c->t[i];
			t->d_old = t->d_end;
			t->d_end = t->demand.r->n;
			t->a_old = t->a_end;
			t->a_end = t->answers.r->n;
			any_delta_answers |= t->a_end > t->a_old;
			before_d += t->d_end;
			before_a += t->a_end;
		}
		if (++c->rounds > MAX_ROUNDS)
			return dl_error(DL_ELIMIT, "rule evaluation did not finish");
		DL_TRY(dl_qenv_tick_slow(env));
		bool changed = false;
		uint32_t ntables = c->n; /* tables made this round start next round */
		for (uint32_t i = 0; i < ntables; i++) {
			rtable *t = c->t[i];
			for (uint32_t b = 0; b < t->rule->nbodies; b++) {
				const dl_rule_body *body = &t->rule->bodies[b];
				bool calls = false, nested = false;
				for (uint32_t k = 0; k < body->n; k++) {
					calls |= body->clauses[k].kind == DL_C_RULE;
					nested |= has_call(&body->clauses[k], true);
				}
				if (nested) {
					DL_TRY(run_body(env, c, t, b, 0, t->d_end, -1, true, &changed));
					continue;
				}
				/* the new demand, everything else in full */
				if (t->d_end > t->d_old || (!t->nbound && c->rounds == 1))
					DL_TRY(run_body(env, c, t, b, t->nbound ? t->d_old : 0,
							t->nbound ? t->d_end : 1, -1, false, &changed));
				if (!calls || !any_delta_answers)
					continue;
				/* all demand, one call reading what is new */
				for (uint32_t k = 0; k < body->n; k++)
					if (body->clauses[k].kind == DL_C_RULE)
						DL_TRY(run_body(env, c, t, b, 0, t->nbound ? t->d_end : 1,
								(int)k, false, &changed));
			}
		}
		/* new demand also means another round */
		size_t after_d = 0;
		for (uint32_t i = 0; i < c->n; i++)
			after_d += c->t[i]->demand.r->n;
		if (after_d != before_d || c->n != ntables)
			changed = true;
		DL_UNUSED(before_a);
		if (!changed)
			return 0;
	}
}

/* ---- the call ---------------------------------------------------------------- */

/* A rule argument that is a lookup ref ([unique-attr value]) stands for
 * its entity: rule answers hold entity ids, so resolve it (a lookup ref
 * that finds nothing cannot match). */
static bool lookup_shaped(const dl_qenv *env, const dl_value *v)
{
	if ((v->type != DL_VECTOR && v->type != DL_LIST) || v->len != 2 ||
	    v->u.items[0].type != DL_KEYWORD)
		return false;
	int64_t a = dl_schema_entid(env->schema, v->u.items[0].u.id);
	const dl_attr *at = a ? dl_schema_attr(env->schema, a) : NULL;
	return at && at->unique != DL_UNIQUE_NONE;
}

static int resolve_arg(dl_qenv *env, dl_value *v, bool *none)
{
	*none = false;
	if (!lookup_shaped(env, v))
		return 0;
	int64_t e;
	int rc = dl_qenv_entity(env, v, &e);
	if (rc < 0)
		return rc;
	if (rc == 0)
		*none = true;
	else
		*v = dl_int(e);
	return 0;
}

int dl_rule_call(dl_qenv *env, const dl_clause *cl, dl_step *s)
{
	if (!env->rules)
		return dl_error(DL_EINVAL, "rule call %s needs rules: pass them as the %% input",
				dl_intern_name(cl->u.rule.name, NULL, NULL));
	const dl_rule *rule = dl_ruleset_find(env->rules, cl->u.rule.name);
	if (!rule)
		return dl_error(DL_ENOTFOUND, "unknown rule %s",
				dl_intern_name(cl->u.rule.name, NULL, NULL));
	uint32_t n = cl->u.rule.nargs;
	if (n != rule->arity)
		return dl_error(DL_EINVAL, "rule %s takes %u arguments, got %u",
				dl_intern_name(rule->name, NULL, NULL), rule->arity, n);
	if (n > MAX_RULE_ARITY)
		return dl_error(DL_ELIMIT, "rule with more than %d arguments", MAX_RULE_ARITY);
	/* which arguments are bound, and how */
	uint32_t adorn = 0, bvars[MAX_RULE_ARITY], nbv = 0;
	dl_value cval[MAX_RULE_ARITY];
	for (uint32_t i = 0; i < n; i++) {
		const dl_term *t = &cl->u.rule.args[i];
		if (t->kind == DL_T_CONST) {
			adorn |= 1u << i;
			cval[i] = t->val;
		} else if (t->kind == DL_T_VAR && env->vstate[t->var] == VS_CONST) {
			adorn |= 1u << i;
			cval[i] = env->vconst[t->var];
		} else if (t->kind == DL_T_VAR && env->vstate[t->var] == VS_REL) {
			adorn |= 1u << i;
			uint32_t j = 0;
			while (j < nbv && bvars[j] != t->var)
				j++;
			if (j == nbv)
				bvars[nbv++] = t->var;
		} else if (i < rule->nreq) {
			return dl_error(DL_EINVAL, "rule %s requires its argument %u to be bound",
					dl_intern_name(rule->name, NULL, NULL), i + 1);
		}
	}
	int ri = -1;
	DL_TRY(dl_exec_unify(env, bvars, nbv, &ri));
	dl_rel *R = ri >= 0 ? env->rels[ri] : NULL;
	/* lookup refs among the bound arguments become entity ids */
	bool nomatch = false;
	for (uint32_t i = 0; i < n; i++) {
		bool none;
		if ((adorn >> i & 1) && cl->u.rule.args[i].kind != DL_T_VAR) {
			DL_TRY(resolve_arg(env, &cval[i], &none));
			nomatch |= none;
		} else if ((adorn >> i & 1) && env->vstate[cl->u.rule.args[i].var] == VS_CONST) {
			DL_TRY(resolve_arg(env, &cval[i], &none));
			nomatch |= none;
		}
	}
	for (uint32_t j = 0; R && j < nbv; j++) {
		int c = dl_rel_col(R, bvars[j]);
		size_t w = 0;
		for (size_t r = 0; r < R->n; r++) {
			dl_value *row = &R->rows[r * R->ncols];
			bool none;
			uint8_t was = row[c].type;
			DL_TRY(resolve_arg(env, &row[c], &none));
			if (none)
				continue;
			if (row[c].type != was) {
				/* two lookup refs may name one entity */
				R->distinct = false;
				R->key1 = 0;
			}
			if (w != r)
				memcpy(&R->rows[w * R->ncols], row, R->ncols * sizeof *row);
			w++;
		}
		R->n = w;
	}
	if (nomatch || (R && R->n == 0)) {
		env->empty = true;
		s->rows = 0;
		return 0;
	}
	/* the evaluation: the one this body belongs to, or a new one */
	dl_rctx *c = env->rctx;
	bool own = c == NULL;
	if (own) {
		/* (a call inside a not gets an evaluation of its own; the rule
		 * set was checked to be stratified when it was parsed, so the
		 * rule does not depend on the one whose body holds the not,
		 * though an evaluation further out may hold its table too) */
		if (env->depth >= 16)
			return dl_error(DL_ELIMIT, "rules nested more than 16 deep");
		c = dl_calloc(1, sizeof *c);
		if (!c)
			return DL_ENOMEM;
		c->rules = env->rules;
		c->parent = env->rstack;
	}
	rtable *t;
	int rc = table_get(&t, env, c, rule, adorn);
	if (rc)
		goto out;
	/* demand: the bound values of every binding row */
	dl_value drow[MAX_RULE_ARITY];
	int col[MAX_RULE_ARITY];
	for (uint32_t i = 0; i < n; i++) {
		const dl_term *tm = &cl->u.rule.args[i];
		col[i] = (adorn >> i & 1) && tm->kind == DL_T_VAR && R ? dl_rel_col(R, tm->var) : -1;
	}
	size_t rows = R ? R->n : 1;
	for (size_t r = 0; r < rows; r++) {
		uint32_t k = 0;
		for (uint32_t i = 0; i < n; i++) {
			if (!(adorn >> i & 1))
				continue;
			drow[k++] = col[i] >= 0 ? R->rows[r * R->ncols + col[i]] : cval[i];
		}
		if ((rc = rowset_add(env, &t->demand, drow)) < 0)
			goto out;
	}
	rc = 0;
	if (own) {
		dl_qenv inner = *env;
		inner.depth = env->depth + 1;
		inner.rstack = c;
		inner.pending = NULL;
		if ((rc = solve(&inner, c)))
			goto out;
		env->tick = inner.tick;
		env->nested_scanned += inner.nested_scanned;
	}
	/* the answers to read: all, or (one call of a semi-naive round) the new */
	size_t a0 = 0, a1 = t->answers.r->n;
	if (!own && !env->rnaive && env->rdelta >= 0 && cl == &env->q->where[env->rdelta]) {
		a0 = t->a_old;
		a1 = t->a_end;
	}
	/* answers -> rows of the call's variables */
	uint32_t vars[MAX_RULE_ARITY], nv = 0;
	int vpos[MAX_RULE_ARITY];
	for (uint32_t i = 0; i < n; i++) {
		const dl_term *tm = &cl->u.rule.args[i];
		if (tm->kind != DL_T_VAR || env->vstate[tm->var] == VS_CONST)
			continue;
		uint32_t j = 0;
		while (j < nv && vars[j] != tm->var)
			j++;
		if (j == nv) {
			vars[nv] = tm->var;
			vpos[nv++] = (int)i;
		}
	}
	dl_rel *out = dl_rel_new(env, nv, vars);
	if (!out) {
		rc = DL_ENOMEM;
		goto out;
	}
	const dl_rel *A = t->answers.r;
	for (size_t r = a0; r < a1; r++) {
		const dl_value *arow = &A->rows[r * A->ncols];
		bool ok = true;
		for (uint32_t i = 0; i < n && ok; i++) {
			const dl_term *tm = &cl->u.rule.args[i];
			if (tm->kind == DL_T_CONST ||
			    (tm->kind == DL_T_VAR && env->vstate[tm->var] == VS_CONST))
				ok = dl_value_equal(&arow[i], &cval[i]);
			else if (tm->kind == DL_T_VAR)
				for (uint32_t j = 0; j < i && ok; j++)
					if (cl->u.rule.args[j].kind == DL_T_VAR &&
					    cl->u.rule.args[j].var == tm->var)
						ok = dl_value_equal(&arow[i], &arow[j]);
		}
		if (!ok)
			continue;
		dl_value *o = dl_rel_push(env, out);
		if (!o) {
			rc = dl_errcode_last();
			dl_rel_free(out);
			goto out;
		}
		for (uint32_t j = 0; j < nv; j++)
			o[j] = arow[vpos[j]];
	}
	if (own) {
		s->derived += c->derived;
		s->rounds += c->rounds;
	}
	if (nv == 0) {
		/* a call with no variables: true or false */
		if (out->n == 0)
			env->empty = true;
		s->rows = out->n ? 1 : 0;
		dl_rel_free(out);
		goto out;
	}
	if ((rc = dl_rel_distinct(env, out))) {
		dl_rel_free(out);
		goto out;
	}
	s->rows = out->n;
	rc = dl_exec_absorb(env, out);
out:
	if (own)
		dl_rctx_free(c);
	return rc;
}
