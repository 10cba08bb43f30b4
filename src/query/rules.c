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

/* Add row (ncols values) unless present: 1 added, 0 present, <0 error;
 * *at (may be NULL) its row number either way. */
static int rowset_put(dl_qenv *env, rowset *s, const dl_value *row, uint32_t *at)
{
	dl_rel *r = s->r;
	if (!s->slot || (r->n + 1) * 2 > s->mask + 1)
		DL_TRY(rowset_grow(s));
	uint32_t cols[MAX_RULE_ARITY];
	for (uint32_t i = 0; i < r->ncols; i++)
		cols[i] = i;
	size_t b = dl_row_hash(row, cols, r->ncols) & s->mask;
	while (s->slot[b]) {
		if (dl_row_eq(&r->rows[(size_t)(s->slot[b] - 1) * r->ncols], cols, row, cols, r->ncols)) {
			if (at)
				*at = s->slot[b] - 1;
			return 0;
		}
		b = (b + 1) & s->mask;
	}
	if (r->n >= UINT32_MAX - 1)
		return dl_error(DL_ELIMIT, "rule table too large");
	dl_value *o = dl_rel_push(env, r);
	if (!o)
		return dl_errcode_last();
	memcpy(o, row, r->ncols * sizeof *o);
	s->slot[b] = (uint32_t)r->n;
	if (at)
		*at = (uint32_t)(r->n - 1);
	return 1;
}

static int rowset_add(dl_qenv *env, rowset *s, const dl_value *row)
{
	return rowset_put(env, s, row, NULL);
}

static void rowset_free(rowset *s)
{
	dl_rel_free(s->r);
	dl_block_free(s->slot);
}

/* ---- tables and the evaluation -------------------------------------------- */

typedef struct rlin rlin;

typedef struct rtable {
	const dl_rule *rule;
	rlin *lin;           /* evaluated as a right-linear closure, or NULL */
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

static void lin_free(rlin *L);

void dl_rctx_free(dl_rctx *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; i < c->n; i++) {
		lin_free(c->t[i]->lin);
		rowset_free(&c->t[i]->demand);
		rowset_free(&c->t[i]->answers);
		dl_free(c->t[i]);
	}
	dl_free(c->t);
	dl_free(c->bodyq);
	dl_free(c);
}

static int lin_plan(rlin **out, dl_qenv *env, dl_rctx *c, const dl_rule *rule, uint32_t adorn);

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
	return lin_plan(&t->lin, env, c, rule, adorn);
}

/* A query shell running clauses cls[0..n) of body (its variable table). */
static int shell_new(dl_query **out, dl_qenv *env, const dl_ruleset *rs, const dl_rule_body *body,
		     dl_clause *cls, uint32_t n)
{
	dl_query *q = DL_ARENA_NEW(env->a, 1, dl_query);
	if (!q)
		return DL_ENOMEM;
	memset(q, 0, sizeof *q);
	q->source = rs->source ? rs->source : env->q->source;
	q->pos = body->pos;
	q->nwhere = n;
	q->where = cls;
	q->nvars = body->nvars;
	q->vars = body->vars;
	q->limit = q->offset = q->timeout_ms = -1;
	*out = q;
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
		DL_TRY(shell_new(&c->bodyq[k], env, rs, body, body->clauses, body->n));
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

/* Run the clauses cls[0..ncl) of body b of `rule` (bq: its query shell)
 * seeded with rows [d0, d1) of D (bound argument values in position
 * order, adorn saying which; without bound arguments the body runs once,
 * if d1 > d0), and project them onto out[0..nout): *got, distinct (or,
 * with bag, maybe repeating), or NULL when nothing matched.  With ids,
 * the seed also binds bq's last variable (one the body does not have) to
 * ids[i - d0] for row i.  Rule calls inside read evaluation `in` as
 * rdelta / naive say, or (in NULL) each get an evaluation of their own. */
static int body_rows(dl_rel **got, dl_qenv *env, dl_rctx *c, dl_rctx *in, const dl_rule *rule,
		     uint32_t b, dl_query *bq, const dl_clause *cls, uint32_t ncl, uint32_t adorn,
		     const dl_rel *D, size_t d0, size_t d1, const uint32_t *ids, const uint32_t *out,
		     uint32_t nout, int rdelta, bool naive, bool bag)
{
	const dl_rule_body *body = &rule->bodies[b];
	*got = NULL;
	dl_qenv ch = *env;
	ch.q = bq;
	ch.nvars = bq->nvars;
	ch.rels = NULL;
	ch.nrels = 0;
	ch.empty = false;
	ch.steps = NULL;
	ch.nsteps = 0;
	ch.analyze = false;
	ch.rctx = in;
	ch.rstack = c;
	ch.rdelta = rdelta;
	ch.rnaive = naive;
	ch.nested_scanned = 0;
	ch.pending = NULL;
	ch.vstate = dl_calloc(bq->nvars ? bq->nvars : 1, 1);
	ch.vconst = dl_calloc(bq->nvars ? bq->nvars : 1, sizeof *ch.vconst);
	int rc = 0;
	dl_rel *seed = NULL;
	if (!ch.vstate || !ch.vconst) {
		rc = DL_ENOMEM;
		goto out;
	}
	/* the seed: demand rows as the head variables at bound positions */
	uint32_t svars[MAX_RULE_ARITY + 1], ns = 0;
	int scol[MAX_RULE_ARITY], pos2col[MAX_RULE_ARITY];
	for (uint32_t i = 0, k = 0; i < rule->arity; i++) {
		pos2col[i] = -1;
		if (!(adorn >> i & 1))
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
	if (ids)
		svars[ns] = bq->nvars - 1;
	if (adorn) {
		seed = dl_rel_new(env, ns + (ids != NULL), svars);
		if (!seed) {
			rc = DL_ENOMEM;
			goto out;
		}
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
			if (ids)
				o[ns] = dl_int(ids[i - d0]);
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
	if ((rc = dl_exec_conj(&ch, cls, ncl)))
		goto out;
	if (ch.empty)
		goto out;
	for (uint32_t i = 0; i < nout; i++) {
		if (ch.vstate[out[i]] != VS_FREE)
			continue;
		if (body->pos.line)
			rc = dl_error(DL_EINVAL, "%s:%u:%u: rule %s: head variable %s is not bound by its body",
				      bq->source, body->pos.line, body->pos.col,
				      dl_intern_name(rule->name, NULL, NULL), body->vars[out[i]].name);
		else
			rc = dl_error(DL_EINVAL, "rule %s: head variable %s is not bound by its body",
				      dl_intern_name(rule->name, NULL, NULL), body->vars[out[i]].name);
		goto out;
	}
	int ri;
	if ((rc = dl_exec_unify(&ch, out, nout, &ri)))
		goto out;
	for (uint32_t i = 0; i < ch.nrels; i++)
		if (ch.rels[i]->n == 0)
			goto out;
	rc = (bag ? dl_exec_project_bag : dl_exec_project)(&ch, got, ri >= 0 ? ch.rels[ri] : NULL,
							   out, nout);
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
	return rc;
}

/* The distinct head variables of a body, and each position's column among
 * them. */
static uint32_t head_vars(const dl_rule *rule, const dl_rule_body *body, uint32_t *hv, int *col)
{
	uint32_t nh = 0;
	for (uint32_t i = 0; i < rule->arity; i++) {
		uint32_t v = body->head[i].var, j = 0;
		while (j < nh && hv[j] != v)
			j++;
		if (j == nh)
			hv[nh++] = v;
		col[i] = (int)j;
	}
	return nh;
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
	uint32_t hv[MAX_RULE_ARITY];
	int hcol[MAX_RULE_ARITY];
	uint32_t nh = head_vars(rule, body, hv, hcol);
	dl_rel *got;
	DL_TRY(body_rows(&got, env, c, c, rule, b, bq, body->clauses, body->n, t->adorn,
			 t->demand.r, d0, d1, NULL, hv, nh, rdelta, naive, false));
	int rc = 0;
	dl_value tup[MAX_RULE_ARITY];
	for (size_t i = 0; got && i < got->n; i++) {
		for (uint32_t p = 0; p < rule->arity; p++)
			tup[p] = got->rows[i * nh + (size_t)hcol[p]];
		int added = rowset_add(env, &t->answers, tup);
		if (added < 0) {
			rc = added;
			break;
		}
		if (added) {
			*changed = true;
			c->derived++;
		}
	}
	dl_rel_free(got);
	return rc;
}

/* ---- right-linear closures ------------------------------------------------ */
/*
 * A table (r, adornment) whose every body is either an exit (it calls
 * nothing that leads back to r) or right-linear in the free arguments:
 *
 *     (r B F) :- rest(B, Y), (r Y F)
 *
 * one call, of r itself, written at the top of the body, holding the
 * head's free variables F unchanged (each in its own position, appearing
 * nowhere else in the body), its bound positions constants or variables
 * the rest binds (so the call has the table's own adornment).  Then r's
 * answers for a demanded B are { (B, f) : (z, f) an exit answer, z
 * reachable from B along the rest's edges B -> Y }: only the reachable
 * nodes (bound tuples) are needed, not each node's own answer set, which
 * the general evaluation derives (quadratic on long chains: the ancestors
 * of the last person of a genealogy).  The bodies run once per
 * breadth-first layer, over its nodes: a node's edges are computed once
 * and kept; its exit answers are computed in each layer that reaches it
 * (with one demand, once per round; cheaper in memory than keeping them,
 * and about the work of joining kept ones), shared by every demand
 * reaching it in that layer.  The rest and the exits only call
 * rules that do not lead back to r: those calls get evaluations of their
 * own (as under a not), so a demand's answers are complete in the round
 * it arrives in.  Anything else (mutual recursion, two calls, a call in an
 * or / not, a free argument changed or reused, no bound or no free
 * argument) keeps the general evaluation.
 */

/* A growable array of uint32, charged to the query's memory budget. */
typedef struct u32vec {
	uint32_t *v;
	size_t n, cap;
	dl_qbudget *budget;
	size_t charged;
} u32vec;

static int u32vec_push(dl_qenv *env, u32vec *x, uint32_t a)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 64, more = (cap - x->cap) * sizeof *x->v;
		if (!x->budget)
			x->budget = env->budget;
		int rc = x->budget == env->budget ? dl_qenv_charge(env, more) : 0;
		if (x->budget == env->budget)
			x->charged += more; /* given back when freed, even on failure */
		if (rc)
			return rc;
		uint32_t *p = dl_block_realloc(x->v, cap * sizeof *p);
		if (!p)
			return DL_ENOMEM;
		x->v = p;
		x->cap = cap;
	}
	x->v[x->n++] = a;
	return 0;
}

static void u32vec_free(u32vec *x)
{
	if (x->budget)
		atomic_fetch_sub(&x->budget->bytes, x->charged);
	dl_block_free(x->v);
	memset(x, 0, sizeof *x);
}

/* per node, in rlin.info */
enum { NI_EDGE, NI_EXIT, NI_EXPANDED, NI_RUN, NI_LAYER, NI_N };

struct rlin {
	uint8_t *rec;      /* per body: 1 right-linear (rest and call), 0 an exit */
	uint32_t *call;    /* per right-linear body: the call's clause index */
	dl_query **shell;  /* per body: the shell running it (a right-linear one
			      without its call), with one more variable: the node */
	rowset nodes;      /* every node reached: bound argument values */
	u32vec info;       /* per node: first edge + 1, first exit + 1 (this
			      layer's), expanded, the last single-demand run and
			      the last layer that reached it */
	u32vec edges;      /* (to node, next edge + 1) pairs: a list per node */
	dl_rel *exits;     /* this layer's exit answers: free argument values
			      (recomputed when a later run reaches a node again,
			      rather than kept for every node) */
	u32vec xnext;      /* per exit row: the node's next exit + 1 */
	rowset pairs;      /* (demand row, node) reached, when a run has several */
	uint32_t run, layer; /* runs and layers so far */
};

static void lin_free(rlin *L)
{
	if (!L)
		return;
	dl_free(L->rec);
	dl_free(L->call);
	dl_free(L->shell);
	rowset_free(&L->nodes);
	rowset_free(&L->pairs);
	u32vec_free(&L->info);
	u32vec_free(&L->edges);
	u32vec_free(&L->xnext);
	dl_rel_free(L->exits);
	dl_free(L);
}

static size_t lin_nodes(const rlin *L)
{
	return L->nodes.r->n;
}

/* Does clause cl call a rule that leads to `to` (itself included)? */
static bool clause_reaches(const dl_ruleset *rs, const dl_clause *cl, const dl_rule *to)
{
	if (cl->kind == DL_C_RULE) {
		const dl_rule *r = dl_ruleset_find(rs, cl->u.rule.name);
		return r && (r == to || rs->dep[(size_t)(r - rs->rules) * rs->n +
						(size_t)(to - rs->rules)]);
	}
	for (uint32_t i = 0; cl->kind >= DL_C_NOT && i < cl->u.sub.n; i++)
		if (clause_reaches(rs, &cl->u.sub.items[i], to))
			return true;
	return false;
}

static bool term_is(const dl_term *t, uint32_t v)
{
	return t->kind == DL_T_VAR && t->var == v;
}

/* Does body's call (clause k, of the rule itself) pass the free arguments
 * through and keep the adornment?  *ok the answer. */
static int lin_body_ok(bool *ok, const dl_rule *rule, const dl_rule_body *body, uint32_t k,
		       uint32_t adorn)
{
	const dl_clause *call = &body->clauses[k];
	/* what the rest of the body mentions, and what it binds */
	uint8_t *seen = dl_calloc(2 * (size_t)body->nvars + 1, 1), *bound = seen + body->nvars;
	if (!seen)
		return DL_ENOMEM;
	int rc = 0;
	for (uint32_t j = 0; j < body->n && !rc; j++)
		if (j != k) {
			dl_clause_vars(&body->clauses[j], seen);
			rc = dl_clause_binds(&body->clauses[j], bound, body->nvars);
		}
	*ok = !rc;
	for (uint32_t i = 0; i < rule->arity && *ok; i++) {
		const dl_term *a = &call->u.rule.args[i];
		uint32_t hv = body->head[i].var;
		if (adorn >> i & 1) {
			if (a->kind == DL_T_CONST)
				continue;
			bool b = a->kind == DL_T_VAR && bound[a->var];
			for (uint32_t p = 0; p < rule->arity && !b; p++)
				b = (adorn >> p & 1) && term_is(a, body->head[p].var);
			*ok = b;
			continue;
		}
		*ok = term_is(a, hv) && !seen[hv];
		for (uint32_t p = 0; p < rule->arity && *ok; p++)
			*ok = p == i || (body->head[p].var != hv && !term_is(&call->u.rule.args[p], hv));
	}
	dl_free(seen);
	return rc;
}

/* Decide whether table (rule, adorn) runs as a right-linear closure: *out
 * its state, or NULL for the general evaluation. */
static int lin_plan(rlin **out, dl_qenv *env, dl_rctx *c, const dl_rule *rule, uint32_t adorn)
{
	*out = NULL;
	const dl_ruleset *rs = c->rules;
	uint32_t nb = 0;
	for (uint32_t i = 0; i < rule->arity; i++)
		nb += adorn >> i & 1;
	if ((env->opts && env->opts->rules == DL_RULES_GENERAL) || nb == 0 || nb == rule->arity)
		return 0;
	rlin *L = dl_calloc(1, sizeof *L);
	if (!L || !(L->rec = dl_calloc(rule->nbodies, 1)) ||
	    !(L->call = dl_calloc(rule->nbodies, sizeof *L->call)) ||
	    !(L->shell = dl_calloc(rule->nbodies, sizeof *L->shell))) {
		lin_free(L);
		return DL_ENOMEM;
	}
	bool ok = true;
	uint32_t nrec = 0;
	int rc = 0;
	for (uint32_t b = 0; b < rule->nbodies && ok; b++) {
		const dl_rule_body *body = &rule->bodies[b];
		uint32_t ncalls = 0, k = 0;
		for (uint32_t j = 0; j < body->n; j++) {
			if (!clause_reaches(rs, &body->clauses[j], rule))
				continue;
			/* at the top, and of the rule itself (names are unique) */
			const dl_clause *cl = &body->clauses[j];
			ok &= cl->kind == DL_C_RULE && cl->u.rule.name == rule->name &&
			      !cl->src_given;
			ncalls++;
			k = j;
		}
		if (!ok || ncalls == 0)
			continue;
		ok = ncalls == 1;
		if (ok && (rc = lin_body_ok(&ok, rule, body, k, adorn)))
			break;
		L->rec[b] = 1;
		L->call[b] = k;
		nrec++;
	}
	if (rc || !ok || nrec == 0) {
		lin_free(L);
		return rc;
	}
	uint32_t cols[MAX_RULE_ARITY];
	for (uint32_t i = 0; i < rule->arity; i++)
		cols[i] = i;
	L->nodes.r = dl_rel_new(env, nb, cols);
	L->pairs.r = dl_rel_new(env, 2, cols);
	L->exits = dl_rel_new(env, rule->arity - nb, cols);
	if (!L->nodes.r || !L->pairs.r || !L->exits) {
		rc = DL_ENOMEM;
		goto fail;
	}
	/* the shells (right-linear bodies without their call), and the node
	 * variable that carries a seed row's node through to the answers */
	for (uint32_t b = 0; b < rule->nbodies; b++) {
		const dl_rule_body *body = &rule->bodies[b];
		dl_clause *cls = DL_ARENA_NEW(env->a, body->n, dl_clause);
		dl_var *vars = DL_ARENA_NEW(env->a, body->nvars + 1, dl_var);
		if (!cls || !vars) {
			rc = DL_ENOMEM;
			goto fail;
		}
		uint32_t n = 0;
		for (uint32_t j = 0; j < body->n; j++)
			if (!L->rec[b] || j != L->call[b])
				cls[n++] = body->clauses[j];
		if ((rc = shell_new(&L->shell[b], env, rs, body, cls, n)))
			goto fail;
		memcpy(vars, body->vars, body->nvars * sizeof *vars);
		vars[body->nvars] = (dl_var){0, "?node", body->pos};
		L->shell[b]->vars = vars;
		L->shell[b]->nvars = body->nvars + 1;
	}
	*out = L;
	return 0;
fail:
	lin_free(L);
	return rc;
}

/* The node of bound values `vals` (nb of them): *at, added if new. */
static int lin_node(dl_qenv *env, rlin *L, const dl_value *vals, uint32_t *at)
{
	int added = rowset_put(env, &L->nodes, vals, at);
	if (added <= 0)
		return added;
	for (int i = 0; i < NI_N; i++)
		DL_TRY(u32vec_push(env, &L->info, 0));
	return 0;
}

static int resolve_arg(dl_qenv *env, dl_value *v, bool *none);

/* One body run per body: the edges of the nodes U[0..nu) (not expanded
 * yet) and the exit answers of V[0..nv) (this layer's nodes). */
static int lin_expand(dl_qenv *env, rtable *t, dl_rctx *c, const uint32_t *U, size_t nu,
		      const uint32_t *V, size_t nv)
{
	rlin *L = t->lin;
	const dl_rule *rule = t->rule;
	uint32_t nb = t->nbound;
	dl_rel *seed[2] = {dl_rel_new(env, nb, L->nodes.r->vars), dl_rel_new(env, nb, L->nodes.r->vars)};
	dl_rel *got = NULL;
	int rc = 0;
	for (int k = 0; k < 2; k++) {
		const uint32_t *ids = k ? V : U;
		size_t n = k ? nv : nu;
		if (!seed[k]) {
			rc = DL_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			dl_value *o = dl_rel_push(env, seed[k]);
			if (!o) {
				rc = dl_errcode_last();
				goto out;
			}
			memcpy(o, &L->nodes.r->rows[(size_t)ids[i] * nb], nb * sizeof *o);
		}
	}
	L->exits->n = 0;
	L->xnext.n = 0;
	for (size_t i = 0; i < nv; i++)
		L->info.v[NI_N * V[i] + NI_EXIT] = 0;
	for (uint32_t b = 0; b < rule->nbodies; b++) {
		const dl_rule_body *body = &rule->bodies[b];
		dl_query *sq = L->shell[b];
		uint32_t vars[2 * MAX_RULE_ARITY + 1], nc;
		int hcol[MAX_RULE_ARITY], ccol[MAX_RULE_ARITY];
		dl_value to[MAX_RULE_ARITY];
		uint32_t m;
		dl_rel_free(got);
		got = NULL;
		if (!L->rec[b]) {
			/* an exit: its answers' free values, listed by node */
			if (!nv)
				continue;
			nc = head_vars(rule, body, vars, hcol);
			vars[nc++] = sq->nvars - 1;
			if ((rc = body_rows(&got, env, c, NULL, rule, b, sq, sq->where, sq->nwhere,
					    t->adorn, seed[1], 0, nv, V, vars, nc, -1, false, true)))
				goto out;
			for (size_t r = 0; got && r < got->n; r++) {
				const dl_value *row = &got->rows[r * nc];
				uint32_t n = (uint32_t)row[nc - 1].u.i;
				dl_value *o = dl_rel_push(env, L->exits);
				if (!o) {
					rc = dl_errcode_last();
					goto out;
				}
				for (uint32_t p = 0, kf = 0; p < rule->arity; p++)
					if (!(t->adorn >> p & 1))
						o[kf++] = row[hcol[p]];
				if ((rc = u32vec_push(env, &L->xnext, L->info.v[NI_N * n + NI_EXIT])))
					goto out;
				L->info.v[NI_N * n + NI_EXIT] = (uint32_t)L->exits->n;
			}
			continue;
		}
		if (!nu)
			continue;
		/* right-linear: edges to the call's bound values */
		const dl_clause *call = &body->clauses[L->call[b]];
		bool none = false;
		nc = 0;
		for (uint32_t p = 0; p < rule->arity; p++) {
			if (!(t->adorn >> p & 1))
				continue;
			const dl_term *tm = &call->u.rule.args[p];
			if (tm->kind == DL_T_CONST) {
				/* resolved as the general evaluation's call would */
				to[p] = tm->val;
				if ((rc = resolve_arg(env, &to[p], &none)))
					goto out;
				ccol[p] = -1;
				if (none)
					break;
				continue;
			}
			uint32_t j = 0;
			while (j < nc && vars[j] != tm->var)
				j++;
			if (j == nc)
				vars[nc++] = tm->var;
			ccol[p] = (int)j;
		}
		if (none)
			continue; /* a lookup ref naming nothing: no edge */
		vars[nc++] = sq->nvars - 1;
		if ((rc = body_rows(&got, env, c, NULL, rule, b, sq, sq->where, sq->nwhere, t->adorn,
				    seed[0], 0, nu, U, vars, nc, -1, false, true)))
			goto out;
		for (size_t r = 0; got && r < got->n; r++) {
			const dl_value *row = &got->rows[r * nc];
			uint32_t n = (uint32_t)row[nc - 1].u.i, kb = 0;
			dl_value cv[MAX_RULE_ARITY];
			for (uint32_t p = 0; p < rule->arity && !none; p++) {
				if (!(t->adorn >> p & 1))
					continue;
				cv[kb] = ccol[p] >= 0 ? row[ccol[p]] : to[p];
				if (ccol[p] >= 0 && (rc = resolve_arg(env, &cv[kb], &none)))
					goto out;
				kb++;
			}
			if (none) {
				none = false;
				continue;
			}
			if ((rc = lin_node(env, L, cv, &m)) || (rc = u32vec_push(env, &L->edges, m)) ||
			    (rc = u32vec_push(env, &L->edges, L->info.v[NI_N * n + NI_EDGE])))
				goto out;
			L->info.v[NI_N * n + NI_EDGE] = (uint32_t)(L->edges.n / 2);
		}
	}
out:
	dl_rel_free(seed[0]);
	dl_rel_free(seed[1]);
	dl_rel_free(got);
	return rc;
}

/* Demand row d reaches node n: new (d, n) pairs go to `front`.  A run
 * with one demand row marks the nodes; one with several keeps the pairs. */
static int lin_reach(dl_qenv *env, rlin *L, bool single, size_t d, uint32_t n, u32vec *front)
{
	if (single) {
		if (L->info.v[NI_N * n + NI_RUN] == L->run)
			return 0;
		L->info.v[NI_N * n + NI_RUN] = L->run;
	} else {
		dl_value pr[2] = {dl_int((int64_t)d), dl_int(n)};
		int added = rowset_add(env, &L->pairs, pr);
		if (added <= 0)
			return added;
	}
	DL_TRY(u32vec_push(env, front, (uint32_t)d));
	return u32vec_push(env, front, n);
}

/* Complete answers for t's demand rows [d0, d1): breadth-first over the
 * nodes each reaches, joining every node's exit answers in. */
static int lin_run(dl_qenv *env, dl_rctx *c, rtable *t, size_t d0, size_t d1, bool *changed)
{
	rlin *L = t->lin;
	const dl_rule *rule = t->rule;
	const dl_rel *D = t->demand.r;
	uint32_t nb = t->nbound;
	bool single = d1 - d0 == 1;
	u32vec F = {0}, N = {0}, U = {0}, V = {0};
	int rc = 0;
	L->run++;
	for (size_t d = d0; d < d1; d++) {
		uint32_t n;
		if ((rc = lin_node(env, L, &D->rows[d * nb], &n)) ||
		    (rc = lin_reach(env, L, single, d, n, &F)))
			goto out;
	}
	while (F.n) {
		if ((rc = dl_qenv_tick_slow(env)))
			goto out;
		/* this layer's nodes (V), those not expanded yet (U) */
		U.n = V.n = 0;
		L->layer++;
		for (size_t i = 0; i < F.n; i += 2) {
			uint32_t n = F.v[i + 1];
			if (L->info.v[NI_N * n + NI_LAYER] == L->layer)
				continue;
			L->info.v[NI_N * n + NI_LAYER] = L->layer;
			if ((rc = u32vec_push(env, &V, n)))
				goto out;
			if (L->info.v[NI_N * n + NI_EXPANDED])
				continue;
			L->info.v[NI_N * n + NI_EXPANDED] = 1;
			if ((rc = u32vec_push(env, &U, n)))
				goto out;
		}
		if ((rc = lin_expand(env, t, c, U.v, U.n, V.v, V.n)))
			goto out;
		N.n = 0;
		for (size_t i = 0; i < F.n; i += 2) {
			uint32_t d = F.v[i], n = F.v[i + 1];
			dl_value tup[MAX_RULE_ARITY];
			for (uint32_t p = 0, kb = 0; p < rule->arity; p++)
				if (t->adorn >> p & 1)
					tup[p] = D->rows[(size_t)d * nb + kb++];
			for (uint32_t x = L->info.v[NI_N * n + NI_EXIT]; x; x = L->xnext.v[x - 1]) {
				const dl_value *f = &L->exits->rows[(size_t)(x - 1) * L->exits->ncols];
				for (uint32_t p = 0, kf = 0; p < rule->arity; p++)
					if (!(t->adorn >> p & 1))
						tup[p] = f[kf++];
				int added = rowset_add(env, &t->answers, tup);
				if (added < 0 || (rc = dl_qenv_tick(env))) {
					rc = added < 0 ? added : rc;
					goto out;
				}
				if (added) {
					*changed = true;
					c->derived++;
				}
			}
			for (uint32_t e = L->info.v[NI_N * n + NI_EDGE]; e; e = L->edges.v[2 * (e - 1) + 1])
				if ((rc = lin_reach(env, L, single, d, L->edges.v[2 * (e - 1)], &N)))
					goto out;
		}
		u32vec tmp = F;
		F = N;
		N = tmp;
	}
out:
	u32vec_free(&F);
	u32vec_free(&N);
	u32vec_free(&U);
	u32vec_free(&V);
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
			if (t->lin) {
				/* complete answers for the new demand, this round */
				if (t->d_end > t->d_old)
					DL_TRY(lin_run(env, c, t, t->d_old, t->d_end, &changed));
				continue;
			}
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
		for (uint32_t i = 0; i < c->n; i++)
			if (c->t[i]->lin) {
				s->closure = true;
				s->reached += lin_nodes(c->t[i]->lin);
			}
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
