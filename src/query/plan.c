/*
 * query/plan: the cost-based planner.
 *
 * Planning is greedy over the clauses of one conjunction: at each point the
 * cheapest runnable clause goes next.  Predicates and functions run as soon
 * as their inputs are bound (they only shrink or extend rows), unless their
 * variables are in different relations: then a `=` is a join on the
 * equality and waits for the connected patterns, anything else would build
 * a product and waits like an unconnected pattern.  Nested q subqueries
 * wait until no connected pattern remains, so they run once per surviving
 * binding.  Among data patterns the one with the fewest estimated
 * output rows wins, its cost breaking ties.
 *
 * Estimates come from the storage statistics (per-attribute datoms,
 * distinct values and entities, and value histograms for ranges).  For a
 * pattern joined to K bound rows the join algorithm is chosen by cost, in
 * datoms read:
 *   index nested loop  K * (SEEK + m)          (m: matches per key)
 *   merge              min(S, K * (SEEK + m))  (S: datoms the constants select)
 *   hash               S
 * The index nested loop wins for a few keys; merge when the bindings can be
 * sorted like the index (it walks the index and seeks over gaps, so it
 * reads no more than either of the others); hash when the join variable is
 * not the index's next key component.
 *
 * The executor calls the planner again after every step whose actual size
 * is far from its estimate, so the rest of the plan adapts.
 */
#include "exec_int.h"

#include <math.h>
#include <string.h>

#define SEEK_COST 6.0  /* one B-tree descent, in sequential datom reads */
#define INL_MAX_KEYS 64.0
#define HASH_ROW_COST 1.5 /* per bound row, in sequential datom reads */

const char *dl_strategy_name(int s)
{
	switch (s) {
	case ST_SCAN: return "scan";
	case ST_INL: return "index-nested-loop";
	case ST_HASH: return "scan+hash-probe";
	case ST_MERGE: return "merge";
	case ST_FILTER: return "filter";
	case ST_FN: return "function";
	case ST_SUBQ: return "subquery";
	case ST_SOURCE: return "collection";
	case ST_EXISTS: return "exists";
	case ST_ANTI: return "anti-join";
	case ST_UNION: return "union";
	case ST_RULE: return "rule";
	case ST_EQJOIN: return "equi-join";
	case ST_LOOSE: return "loose-index-scan";
	default: return "?";
	}
}

const char *dl_index_name(int idx)
{
	static const char *const n[] = {"EAVT", "AEVT", "AVET", "VAET"};
	return idx >= 0 && idx < DL_INDEX_COUNT ? n[idx] : "-";
}

/* ---- resolving constants ----------------------------------------------- */

/* Resolve an entity reference (id, ident keyword, lookup ref) to an id:
 * 1 found, 0 names nothing. */

static int lookup_ref(dl_qenv *env, const dl_value *v, int64_t *out)
{
	const dl_value *av = &v->u.items[0], *vv = &v->u.items[1];
	int64_t a = 0;
	if (av->type == DL_KEYWORD)
		a = dl_schema_entid(env->schema, av->u.id);
	else if (av->type == DL_INT)
		a = av->u.i;
	const dl_attr *at = a ? dl_schema_attr(env->schema, a) : NULL;
	if (!at)
		return 0;
	dl_value key = *vv;
	if (at->vtype == DL_VT_REF) {
		int64_t e;
		int rc = dl_qenv_entity(env, vv, &e);
		if (rc <= 0)
			return rc;
		key = dl_ref(e);
	}
	dl_iter *it;
	dl_datom pre = {.a = a, .v = key}, d;
	DL_TRY(dl_iter_open(&it, env->snap, DL_AVET, &env->view, &pre, 2));
	int rc = dl_iter_next(it, &d);
	if (rc > 0)
		*out = d.e;
	dl_iter_close(it);
	return rc;
}

/* An entity named by an ident or a lookup ref (dl_qenv_entity takes ids
 * inline and comes here for the rest). */
int dl_qenv_entity_resolve(dl_qenv *env, const dl_value *v, int64_t *out)
{
	switch (v->type) {
	case DL_KEYWORD:
		*out = dl_schema_entid(env->schema, v->u.id);
		return *out != 0;
	case DL_VECTOR:
	case DL_LIST:
		if (v->len == 2)
			return lookup_ref(env, v, out);
		return 0;
	default:
		return 0;
	}
}

int dl_rpat_resolve(dl_rpat *rp, dl_qenv *env, const dl_clause *cl)
{
	memset(rp, 0, sizeof *rp);
	rp->cl = cl;
	for (int i = 0; i < 5; i++) {
		const dl_term *t = &cl->u.pat.t[i];
		if (i >= (int)cl->u.pat.n || t->kind == DL_T_BLANK ||
		    (t->kind == DL_T_VAR && env->q->single && env->q->single[t->var])) {
			rp->kind[i] = DL_T_BLANK; /* (a variable nothing else reads) */
		} else if (t->kind == DL_T_VAR && env->vstate[t->var] != VS_CONST) {
			rp->kind[i] = DL_T_VAR;
			rp->var[i] = t->var;
		} else {
			rp->kind[i] = DL_T_CONST;
			rp->c[i] = t->kind == DL_T_VAR ? env->vconst[t->var] : t->val;
		}
	}
	/* attribute first: it decides how V is stored */
	if (rp->kind[1] == DL_T_CONST) {
		const dl_value *av = &rp->c[1];
		int64_t a = 0;
		if (av->type == DL_KEYWORD)
			a = dl_schema_entid(env->schema, av->u.id);
		else if (av->type == DL_INT || av->type == DL_REF)
			a = av->u.i;
		rp->attr = a > 0 ? dl_schema_attr(env->schema, a) : NULL;
		if (!rp->attr)
			rp->never = true;
		rp->c[1] = dl_int(a);
		rp->vref = rp->attr && rp->attr->vtype == DL_VT_REF;
	}
	if (rp->kind[0] == DL_T_CONST) {
		int64_t e = 0;
		int rc = dl_qenv_entity(env, &rp->c[0], &e);
		if (rc < 0)
			return rc;
		if (rc == 0)
			rp->never = true;
		rp->c[0] = dl_int(e);
	}
	if (rp->kind[2] == DL_T_CONST) {
		if (rp->vref) {
			int64_t e = 0;
			int rc = dl_qenv_entity(env, &rp->c[2], &e);
			if (rc < 0)
				return rc;
			if (rc == 0)
				rp->never = true;
			rp->c[2] = dl_ref(e);
		} else if (rp->kind[1] != DL_T_CONST && rp->c[2].type == DL_REF) {
			rp->vref = true;
		}
	}
	if (rp->kind[3] == DL_T_CONST) {
		int64_t t = 0;
		int rc = dl_qenv_entity(env, &rp->c[3], &t);
		if (rc < 0)
			return rc;
		if (rc == 0)
			rp->never = true;
		rp->c[3] = dl_int(t);
	}
	if (rp->kind[4] == DL_T_CONST && rp->c[4].type != DL_BOOL)
		rp->never = true;
	return 0;
}

/* ---- ranges from comparisons -------------------------------------------- */

static bool numeric(const dl_value *v) { return v->type == DL_INT || v->type == DL_DOUBLE; }

/* A constant argument of a comparison: a literal, or a variable bound to
 * a constant (an inlined input). */
static bool const_arg(dl_qenv *env, const dl_term *t, dl_value *out)
{
	if (t->kind == DL_T_CONST) {
		*out = t->val;
		return true;
	}
	if (t->kind == DL_T_VAR && env->vstate[t->var] == VS_CONST) {
		*out = env->vconst[t->var];
		return true;
	}
	return false;
}

static void range_lo(dl_rpat *rp, const dl_value *v, bool incl)
{
	int c = rp->lo_set ? dl_value_compare(v, &rp->lo) : 1;
	if (c > 0 || (c == 0 && !incl)) {
		rp->lo = *v;
		rp->lo_incl = incl;
		rp->lo_set = true;
	}
}

static void range_hi(dl_rpat *rp, const dl_value *v, bool incl)
{
	int c = rp->hi_set ? dl_value_compare(v, &rp->hi) : -1;
	if (c < 0 || (c == 0 && !incl)) {
		rp->hi = *v;
		rp->hi_incl = incl;
		rp->hi_set = true;
	}
}

/* A comparison of variable v with a constant, [(op ?v c)] or [(op c ?v)]:
 * its op as if ?v were on the left (0 <, 1 <=, 2 >, 3 >=, 4 =) and the
 * constant; -1 for any other clause.  Only numbers, strings, instants and
 * tuples: comparisons across types are not ranges of one type in the index. */
static int range_op(dl_qenv *env, uint32_t v, const dl_clause *cl, dl_value *c)
{
	if (cl->kind != DL_C_PRED || cl->u.fn.f.kind != DL_T_SYM || cl->u.fn.nargs != 2 ||
	    cl->src_given)
		return -1;
	const char *name = dl_intern_name(cl->u.fn.f.sym, NULL, NULL);
	const dl_term *x = &cl->u.fn.args[0], *y = &cl->u.fn.args[1];
	bool var_left;
	if (x->kind == DL_T_VAR && x->var == v && const_arg(env, y, c))
		var_left = true;
	else if (y->kind == DL_T_VAR && y->var == v && const_arg(env, x, c))
		var_left = false;
	else
		return -1;
	if (!numeric(c) && c->type != DL_STRING && c->type != DL_INST && c->type != DL_VECTOR)
		return -1;
	int op;
	if (!strcmp(name, "<"))
		op = 0;
	else if (!strcmp(name, "<="))
		op = 1;
	else if (!strcmp(name, ">"))
		op = 2;
	else if (!strcmp(name, ">="))
		op = 3;
	else if (!strcmp(name, "="))
		op = 4;
	else
		return -1;
	if (!var_left && op < 4)
		op ^= 2; /* (< c ?v) is (> ?v c) */
	return op;
}

/* The numbers equal to c (5 and 5.0; -0.0, 0 and 0.0) sit together in
 * index order, an int just before the double equal to it: the first and
 * the last of them.  Comparisons are numeric, so a range bound must take
 * in (>=, <=, =) or pass over (>, <) all of them. */
static dl_value num_first(const dl_value *c)
{
	if (c->type == DL_INT)
		return c->u.i == 0 ? dl_double(-0.0) : *c;
	double d = c->u.d;
	if (d == 0)
		return dl_double(-0.0);
	if (d == floor(d) && d >= -0x1p63 && d < 0x1p63)
		return dl_int((int64_t)d);
	return *c;
}

static dl_value num_last(const dl_value *c)
{
	if (c->type == DL_DOUBLE)
		return c->u.d == 0 ? dl_double(0.0) : *c;
	if (c->u.i == 0)
		return dl_double(0.0);
	double d = (double)c->u.i;
	if (d < 0x1p63 && (int64_t)d == c->u.i)
		return dl_double(d);
	return *c;
}

void dl_plan_range(dl_rpat *rp, dl_qenv *env, const dl_clause *cls, uint32_t n)
{
	if (rp->kind[1] != DL_T_CONST || rp->kind[2] != DL_T_VAR || rp->vref || rp->never)
		return;
	for (uint32_t i = 0; i < n; i++) {
		dl_value c;
		int op = range_op(env, rp->var[2], &cls[i], &c);
		if (op < 0)
			continue;
		dl_value first = c, last = c;
		if (numeric(&c) && !(c.type == DL_DOUBLE && isnan(c.u.d))) {
			first = num_first(&c);
			last = num_last(&c);
		}
		if (op == 0) /* < */
			range_hi(rp, &first, false);
		if (op == 1 || op == 4) /* <=, = */
			range_hi(rp, &last, true);
		if (op == 2) /* > */
			range_lo(rp, &last, false);
		if (op == 3 || op == 4) /* >=, = */
			range_lo(rp, &first, true);
		rp->range = true;
	}
	if (!rp->range)
		return;
	/* Close the open side within the constant's type family, so the range
	 * does not run into values of other types. */
	const dl_value *k = rp->lo_set ? &rp->lo : &rp->hi;
	if (numeric(k)) {
		if (!rp->lo_set)
			rp->lo = dl_double(-INFINITY), rp->lo_incl = rp->lo_set = true;
		if (!rp->hi_set)
			rp->hi = dl_double(INFINITY), rp->hi_incl = rp->hi_set = true;
	} else if (k->type == DL_INST) {
		if (!rp->lo_set)
			rp->lo = dl_inst(INT64_MIN), rp->lo_incl = rp->lo_set = true;
		if (!rp->hi_set)
			rp->hi = dl_inst(INT64_MAX), rp->hi_incl = rp->hi_set = true;
	} else if (!rp->lo_set && k->type == DL_VECTOR) {
		dl_value empty = dl_nil();
		empty.type = DL_VECTOR; /* [] sorts before every other tuple */
		rp->lo = empty, rp->lo_incl = rp->lo_set = true;
	} else if (!rp->lo_set) {
		rp->lo = dl_string("", 0), rp->lo_incl = rp->lo_set = true;
	}
	/* (strings and tuples with no upper bound stay open above; the
	 * predicate still filters, so the range only has to contain the
	 * answers) */
}

bool dl_plan_range_implies(const dl_rpat *rp, dl_qenv *env, const dl_clause *cl)
{
	if (!rp->range || rp->kind[2] != DL_T_VAR || !rp->attr)
		return false;
	dl_value c;
	if (range_op(env, rp->var[2], cl, &c) < 0)
		return false;
	/* Numbers: the range takes in or passes over whole runs of equal
	 * numbers (num_first), so it is the numeric comparison, except with
	 * NaN (unordered: every comparison with it is false; in the index it
	 * sorts above +Inf, outside every range a number closes).  Strings
	 * and instants: the index order is the comparison's order. */
	switch (rp->attr->vtype) {
	case DL_VT_LONG:
	case DL_VT_DOUBLE:
		return numeric(&c) && !(c.type == DL_DOUBLE && isnan(c.u.d));
	case DL_VT_INSTANT:
		return c.type == DL_INST;
	case DL_VT_STRING:
		return c.type == DL_STRING;
	default:
		return false;
	}
}

/* ---- estimates ------------------------------------------------------------ */

typedef struct pstats {
	double D, V, E; /* datoms, distinct values, entities of the attribute */
} pstats;

static int pattern_stats(pstats *ps, dl_qenv *env, const dl_rpat *rp)
{
	if (rp->kind[1] == DL_T_CONST && !rp->never) {
		dl_attr_stats st;
		DL_TRY(dl_snap_attr_stats(env->snap, rp->c[1].u.i, &st));
		ps->D = (double)st.datoms;
		ps->V = st.values ? (double)st.values : 1;
		ps->E = st.entities ? (double)st.entities : 1;
	} else {
		dl_store_stats st;
		DL_TRY(dl_snap_stats(env->snap, &st));
		ps->D = (double)st.datoms;
		ps->E = ps->D / 8 + 1;
		ps->V = ps->D / 2 + 1;
	}
	return 0;
}

/* Position states: C constant, J bound variable, F free. */
enum { P_F = 0, P_C, P_J };

static void positions(uint8_t pos[5], const dl_rpat *rp, const uint8_t *bound)
{
	for (int i = 0; i < 5; i++)
		pos[i] = rp->kind[i] == DL_T_CONST ? P_C
			 : rp->kind[i] == DL_T_VAR && bound && bound[rp->var[i]] ? P_J
										 : P_F;
}

static const char k_order[DL_INDEX_COUNT][3] = {
	{0, 1, 2}, /* EAVT */
	{1, 0, 2}, /* AEVT */
	{1, 2, 0}, /* AVET */
	{2, 1, 0}  /* VAET */
};

/* The index whose leading components are all constants, longest first. */
static int scan_index(const dl_rpat *rp, const uint8_t pos[5], int *plen)
{
	int best = DL_EAVT, bestp = -1;
	for (int idx = 0; idx < DL_INDEX_COUNT; idx++) {
		if (idx == DL_VAET && !rp->vref)
			continue;
		int p = 0;
		while (p < 3 && pos[(int)k_order[idx][p]] == P_C)
			p++;
		/* a value range needs V next after the prefix */
		int score = p * 4;
		if (rp->range && p < 3 && k_order[idx][p] == 2)
			score += 2;
		if (idx == DL_AEVT && p == 1)
			score += 1; /* entity order: a later merge join can use it */
		if (score > bestp) {
			bestp = score;
			best = idx;
			*plen = p;
		}
	}
	return best;
}

/* The index whose constant prefix is followed by a bound variable: the
 * join key component for nested-loop and merge joins; -1 if none. */
static int key_index(const dl_rpat *rp, const uint8_t pos[5], int *plen, int *kpos)
{
	int best = -1, bests = -1;
	for (int idx = 0; idx < DL_INDEX_COUNT; idx++) {
		if (idx == DL_VAET)
			continue; /* AVET serves keyed reads by value for refs too */
		int p = 0;
		while (p < 3 && pos[(int)k_order[idx][p]] == P_C)
			p++;
		if (p == 3 || pos[(int)k_order[idx][p]] != P_J)
			continue;
		int s = p * 4;
		for (int q = p + 1; q < 3 && pos[(int)k_order[idx][q]] != P_F; q++)
			s += 2;
		if (s > bests) {
			bests = s;
			best = idx;
			*plen = p;
			*kpos = k_order[idx][p];
		}
	}
	return best;
}

int dl_plan_pattern(dl_step *s, dl_qenv *env, const dl_rpat *rp, const uint8_t *bound,
		    double nkeys)
{
	uint8_t pos[5];
	positions(pos, rp, bound);
	s->ranged = false;
	if (rp->never) {
		s->strategy = ST_SCAN;
		s->index = DL_EAVT;
		s->est_rows = 0;
		s->est_cost = 1;
		return 0;
	}
	pstats ps;
	DL_TRY(pattern_stats(&ps, env, rp));
	double D = ps.D, perE = D / ps.E, perV = D / ps.V;
	/* S: datoms the constants alone select */
	double S;
	bool eC = pos[0] == P_C, aC = pos[1] == P_C, vC = pos[2] == P_C;
	if (aC && eC && vC)
		S = 1;
	else if (aC && eC)
		S = perE;
	else if (aC && vC) {
		uint64_t n = 0;
		DL_TRY(dl_snap_estimate_range(env->snap, rp->c[1].u.i, &rp->c[2], &rp->c[2], &n));
		/* a histogram resolves ranges, not single values: for one value
		 * take the uniform figure unless the histogram knows better */
		S = fmax((double)n, perV);
	} else if (aC && rp->range) {
		uint64_t n = 0;
		DL_TRY(dl_snap_estimate_range(env->snap, rp->c[1].u.i, rp->lo_set ? &rp->lo : NULL,
					      rp->hi_set ? &rp->hi : NULL, &n));
		S = (double)n;
	} else if (aC)
		S = D;
	else if (eC)
		S = 8;
	else if (vC && rp->vref)
		S = 4;
	else
		S = D;
	int plen = 0;
	int sidx = scan_index(rp, pos, &plen);
	bool anyJ = pos[0] == P_J || pos[1] == P_J || pos[2] == P_J || pos[3] == P_J ||
		    pos[4] == P_J;
	if (!anyJ) {
		s->strategy = ST_SCAN;
		s->index = (uint8_t)sidx;
		s->est_cost = S + SEEK_COST;
		s->est_rows = S;
		s->ranged = rp->range && aC && plen < 3 && k_order[sidx][plen] == 2;
		bool anyvar = false;
		for (int i = 0; i < 5; i++)
			anyvar |= rp->kind[i] == DL_T_VAR;
		if (!anyvar) {
			s->strategy = ST_EXISTS;
			s->est_cost = SEEK_COST;
			s->est_rows = nkeys > 0 ? nkeys : 1;
		}
		return 0;
	}
	/* matches per bound row */
	double m;
	if (pos[0] != P_F && pos[2] == P_C && aC)
		m = fmin(perE, S / ps.E); /* the share of entities with that value */
	else if (pos[0] != P_F && pos[2] != P_F)
		m = fmin(1, fmin(perE, perV));
	else if (pos[0] != P_F)
		m = aC ? perE : 8;
	else if (pos[2] != P_F)
		m = aC ? perV : 4;
	else
		m = S;
	if (rp->range && pos[2] == P_F && D > 0)
		m *= fmin(1, S / D);
	double K = nkeys < 1 ? 1 : nkeys;
	s->est_rows = K * m;
	if (s->est_rows > K * S && S >= 1)
		s->est_rows = K * S;
	double inl = K * (SEEK_COST + m);
	/* building the hash of the bound rows and probing it costs about two
	 * sequential datom reads per row (measured: ohlc4's 78,000-row probes) */
	double hash = S + K * HASH_ROW_COST;
	int kplen = 0, kpos = 0;
	int kidx = key_index(rp, pos, &kplen, &kpos);
	if (kidx >= 0) {
		/* ids sort by radix (a few passes), other keys by comparison */
		double sort = (s->sorted_keys >> kpos) & 1 ? 0
			      : kpos < 2           ? K * 0.1
						   : K * 0.05 * log2(K + 1);
		double merge = fmin(S, inl) + sort;
		if (K <= INL_MAX_KEYS && inl <= hash) {
			s->strategy = ST_INL;
			s->est_cost = inl;
		} else if (merge <= hash) {
			s->strategy = ST_MERGE;
			s->est_cost = merge;
		} else {
			s->strategy = ST_HASH;
			s->est_cost = hash;
			s->index = (uint8_t)sidx;
			s->ranged = rp->range && aC && plen < 3 && k_order[sidx][plen] == 2;
			return 0;
		}
		s->index = (uint8_t)kidx;
		return 0;
	}
	s->strategy = ST_HASH;
	s->index = (uint8_t)sidx;
	s->est_cost = hash;
	s->ranged = rp->range && aC && plen < 3 && k_order[sidx][plen] == 2;
	return 0;
}

/* ---- choosing the next clause ------------------------------------------- */

static bool term_bound(const dl_qenv *env, const dl_plan_state *st, const dl_term *t)
{
	if (t->kind != DL_T_VAR)
		return true;
	return env->vstate[t->var] == VS_CONST || st->bound[t->var];
}

static bool is_subquery(const dl_clause *cl)
{
	if (cl->u.fn.f.kind != DL_T_SYM)
		return false;
	size_t n;
	const char *name = dl_intern_name(cl->u.fn.f.sym, &n, NULL);
	return n == 1 && name[0] == 'q';
}

static bool fn_ready(const dl_qenv *env, const dl_plan_state *st, const dl_clause *cl)
{
	if (!term_bound(env, st, &cl->u.fn.f))
		return false;
	for (uint32_t i = 0; i < cl->u.fn.nargs; i++)
		if (!term_bound(env, st, &cl->u.fn.args[i]))
			return false;
	return true;
}

static void mark_terms(void *ud, const dl_term *t, uint32_t n)
{
	uint8_t *mark = ud;
	for (uint32_t i = 0; i < n; i++)
		if (t[i].kind == DL_T_VAR)
			mark[t[i].var] = 1;
}

void dl_clause_vars(const dl_clause *cl, uint8_t *mark)
{
	dl_clause_terms(cl, false, mark_terms, mark);
}


/* What an or / or-join binds for the other clauses: the variables every
 * branch binds (of or-join's, its declared ones).  A branch that only
 * filters on ?x binds nothing: ?x must be bound before the or runs. */
static int or_binds(const dl_clause *cl, uint8_t *mark, uint32_t nvars)
{
	uint8_t *all = dl_malloc(2 * (size_t)nvars + 1), *one = all + nvars;
	if (!all)
		return DL_ENOMEM;
	memset(all, cl->u.sub.n > 0, nvars);
	int rc = 0;
	for (uint32_t b = 0; b < cl->u.sub.n; b++) {
		const dl_clause *br = &cl->u.sub.items[b];
		memset(one, 0, nvars);
		if (br->kind == DL_C_AND) {
			for (uint32_t k = 0; k < br->u.sub.n && !rc; k++)
				rc = dl_clause_binds(&br->u.sub.items[k], one, nvars);
		} else {
			rc = dl_clause_binds(br, one, nvars);
		}
		if (rc)
			goto out;
		for (uint32_t v = 0; v < nvars; v++)
			all[v] &= one[v];
	}
	if (cl->kind == DL_C_OR_JOIN) {
		memset(one, 0, nvars);
		mark_terms(one, cl->u.sub.vars, cl->u.sub.nvars);
		for (uint32_t v = 0; v < nvars; v++)
			all[v] &= one[v];
	}
	for (uint32_t v = 0; v < nvars; v++)
		mark[v] |= all[v];
out:
	dl_free(all);
	return rc;
}

/* Variables clause cl can bind (what it makes available to others). */
int dl_clause_binds(const dl_clause *cl, uint8_t *mark, uint32_t nvars)
{
	switch (cl->kind) {
	case DL_C_PATTERN:
		mark_terms(mark, cl->u.pat.t, cl->u.pat.n);
		return 0;
	case DL_C_FN:
		mark_terms(mark, cl->u.fn.bind.terms, cl->u.fn.bind.n);
		return 0;
	case DL_C_RULE:
		mark_terms(mark, cl->u.rule.args, cl->u.rule.nargs);
		return 0;
	case DL_C_OR:
	case DL_C_OR_JOIN:
		return or_binds(cl, mark, nvars);
	default:
		return 0;
	}
}

int dl_plan_or_needs(const dl_clause *cl, uint8_t *need, uint32_t nvars)
{
	uint8_t *binds = dl_calloc(nvars ? nvars : 1, 1);
	if (!binds)
		return DL_ENOMEM;
	int rc = or_binds(cl, binds, nvars);
	if (!rc) {
		memset(need, 0, nvars);
		dl_clause_vars(cl, need);
		for (uint32_t v = 0; v < nvars; v++)
			need[v] &= !binds[v];
	}
	dl_free(binds);
	return rc;
}

static bool var_bound(const dl_qenv *env, const dl_plan_state *st, uint32_t v)
{
	return st->bound[v] || env->vstate[v] == VS_CONST;
}

/* 1 when every variable marked in `vars` that a pending clause other than
 * `self` can bind is bound, 0 when not, or an error. */
static int bound_if_bindable(const dl_qenv *env, const dl_plan_state *st, const dl_clause *cls,
			     uint32_t n, uint32_t self, const uint8_t *vars)
{
	uint8_t *other = dl_calloc(st->nvars ? st->nvars : 1, 1);
	if (!other)
		return DL_ENOMEM;
	int rc = 0;
	for (uint32_t i = 0; i < n && !rc; i++)
		if (i != self && !st->done[i])
			rc = dl_clause_binds(&cls[i], other, st->nvars);
	bool ok = true;
	for (uint32_t v = 0; v < st->nvars && ok; v++)
		if (vars[v] && other[v] && !var_bound(env, st, v))
			ok = false;
	dl_free(other);
	return rc < 0 ? rc : ok;
}

/* Is every variable clause `self` shares with the other pending clauses
 * (that they can bind) bound?  1 yes, 0 no, or an error. */
static int shared_bound(const dl_qenv *env, const dl_plan_state *st, const dl_clause *cls,
			uint32_t n, uint32_t self)
{
	uint8_t *mine = dl_calloc(st->nvars ? st->nvars : 1, 1);
	if (!mine)
		return DL_ENOMEM;
	dl_clause_vars(&cls[self], mine);
	int rc = bound_if_bindable(env, st, cls, n, self, mine);
	dl_free(mine);
	return rc;
}

/* A not / not-join is ready when every variable it shares with the rest
 * of the conjunction is bound.  1 ready, 0 not yet, or an error. */
static int not_ready(const dl_qenv *env, const dl_plan_state *st, const dl_clause *cls,
		     uint32_t n, uint32_t self)
{
	const dl_clause *cl = &cls[self];
	if (cl->kind == DL_C_NOT_JOIN) {
		for (uint32_t i = 0; i < cl->u.sub.nvars; i++)
			if (!term_bound(env, st, &cl->u.sub.vars[i]))
				return 0;
		return 1;
	}
	return shared_bound(env, st, cls, n, self);
}

/* An or / or-join is ready when its required variables are bound, and so
 * are the variables it needs (those some branch does not bind) that
 * another pending clause can bind.  A needed variable nothing else binds
 * stays free: a not in a branch may use it as its own, and a predicate on
 * it reports it.  1 ready, 0 not yet, or an error. */
static int or_ready(const dl_qenv *env, const dl_plan_state *st, const dl_clause *cls,
		    uint32_t n, uint32_t self)
{
	const dl_clause *cl = &cls[self];
	for (uint32_t k = 0; k < cl->u.sub.nreq; k++)
		if (!term_bound(env, st, &cl->u.sub.vars[k]))
			return 0;
	uint8_t *need = dl_malloc(st->nvars ? st->nvars : 1);
	if (!need)
		return DL_ENOMEM;
	int rc = dl_plan_or_needs(cl, need, st->nvars);
	if (!rc)
		rc = bound_if_bindable(env, st, cls, n, self, need);
	dl_free(need);
	return rc;
}

/* Does the clause touch a bound variable (or have no variables at all)? */
static bool connected(const dl_qenv *env, const dl_plan_state *st, const dl_rpat *rp)
{
	bool anyvar = false;
	for (int i = 0; i < 5; i++)
		if (rp->kind[i] == DL_T_VAR) {
			anyvar = true;
			if (st->bound[rp->var[i]])
				return true;
		}
	DL_UNUSED(env);
	return !anyvar;
}

static void mark_bound(dl_plan_state *st, const dl_term *t, uint32_t n);

/* The cheapest pattern step (cost + rows) after clause `self` ran as s. */
static int lookahead(double *out, dl_qenv *env, const dl_clause *cls, uint32_t n,
		     const dl_plan_state *st, uint32_t self, const dl_step *s)
{
	*out = 0;
	uint8_t *bound = dl_malloc(st->nvars ? st->nvars : 1);
	if (!bound)
		return DL_ENOMEM;
	memcpy(bound, st->bound, st->nvars);
	dl_plan_state next = *st;
	next.bound = bound;
	mark_bound(&next, cls[self].u.pat.t, cls[self].u.pat.n);
	next.card = s->strategy == ST_SCAN && st->card > 1 ? st->card * s->est_rows : s->est_rows;
	if (next.card < 1)
		next.card = 1;
	double best = -1;
	int rc = 0;
	for (uint32_t i = 0; i < n && !rc; i++) {
		if (i == self || st->done[i] || cls[i].kind != DL_C_PATTERN)
			continue;
		dl_rpat rp;
		if ((rc = dl_rpat_resolve(&rp, env, &cls[i])))
			break;
		bool conn = false;
		for (int k = 0; k < 5; k++)
			conn |= rp.kind[k] == DL_T_VAR && bound[rp.var[k]];
		if (!conn)
			continue;
		dl_plan_range(&rp, env, cls, n);
		dl_step t = {.clause = i};
		if ((rc = dl_plan_pattern(&t, env, &rp, bound, next.card)))
			break;
		double w = t.est_cost + t.est_rows;
		if (best < 0 || w < best)
			best = w;
	}
	dl_free(bound);
	*out = best < 0 ? 0 : best;
	return rc;
}

/* ---- relations: which clause would join which ------------------------- */

/* How many different relations (0, 1, or 2 for "several") hold the bound
 * variables of terms t[0..n): a clause spanning several joins them. */
static uint32_t span(const dl_plan_state *st, const dl_term *t, uint32_t n)
{
	uint32_t k = 0, g0 = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (t[i].kind != DL_T_VAR || !st->bound[t[i].var] || st->vstate[t[i].var] == VS_CONST)
			continue;
		uint32_t g = st->group[t[i].var];
		if (!g || g == g0)
			continue;
		if (!g0) {
			g0 = g;
			k = 1;
		} else {
			k = 2;
		}
	}
	return k;
}

static bool is_eq_pred(const dl_clause *cl)
{
	size_t n;
	if (cl->u.fn.f.kind != DL_T_SYM)
		return false;
	const char *name = dl_intern_name(cl->u.fn.f.sym, &n, NULL);
	return n == 1 && name[0] == '=';
}

/* The rank of a predicate or function whose variables are in several
 * relations: an equality joins them (after the connected patterns), any
 * other clause would make a product and waits like an unconnected
 * pattern.  -1 when it spans one relation or none. */
static int span_rank(const dl_plan_state *st, const dl_clause *cl)
{
	if (!st->group)
		return -1;
	uint32_t nb = cl->kind == DL_C_FN ? cl->u.fn.bind.n : 0;
	dl_term t[80];
	uint32_t n = 0;
	for (uint32_t i = 0; i < cl->u.fn.nargs && n < 64; i++)
		t[n++] = cl->u.fn.args[i];
	for (uint32_t i = 0; i < nb && n < 80; i++)
		t[n++] = cl->u.fn.bind.terms[i];
	if (span(st, t, n) < 2)
		return -1;
	return cl->kind == DL_C_PRED && is_eq_pred(cl) ? 3 : 4;
}

/* Whether a comparison is already in the estimate of a pattern planned
 * before it: it bounded that pattern's value range (dl_plan_range), which
 * the pattern's estimate counted. */
static bool pred_in_range(dl_qenv *env, const dl_plan_state *st, const dl_clause *cls,
			  uint32_t n, const dl_clause *cl)
{
	for (uint32_t j = 0; j < n; j++) {
		if (!st->done[j] || cls[j].kind != DL_C_PATTERN || cls[j].u.pat.n < 3 ||
		    cls[j].u.pat.t[2].kind != DL_T_VAR)
			continue;
		/* resolve (idents, lookup refs) only a pattern whose V the
		 * comparison reads */
		uint32_t v = cls[j].u.pat.t[2].var;
		bool reads = false;
		for (uint32_t k = 0; k < cl->u.fn.nargs; k++)
			reads |= cl->u.fn.args[k].kind == DL_T_VAR && cl->u.fn.args[k].var == v;
		if (!reads)
			continue;
		dl_rpat rp;
		if (dl_rpat_resolve(&rp, env, &cls[j]) != 0) {
			dl_error_clear(); /* the pattern's own step reports it */
			continue;
		}
		dl_value c;
		if (rp.kind[1] == DL_T_CONST && rp.kind[2] == DL_T_VAR && !rp.vref && !rp.never &&
		    range_op(env, rp.var[2], cl, &c) >= 0)
			return true;
	}
	return false;
}

int dl_plan_next(dl_step *out, dl_qenv *env, const dl_clause *cls, uint32_t n,
		 const dl_plan_state *st)
{
	int best = -1;
	dl_step bs = {0};
	int best_rank = 99;
	bool any_bound = false;
	for (uint32_t v = 0; v < st->nvars && !any_bound; v++)
		any_bound = st->bound[v] != 0;
	for (uint32_t i = 0; i < n; i++) {
		if (st->done[i])
			continue;
		const dl_clause *cl = &cls[i];
		dl_step s = {.clause = i};
		int rank;
		switch (cl->kind) {
		case DL_C_PRED:
			if (!fn_ready(env, st, cl))
				continue;
			s.strategy = ST_FILTER;
			s.est_rows = pred_in_range(env, st, cls, n, cl) ? st->card : st->card / 2;
			s.est_cost = 0;
			rank = span_rank(st, cl);
			if (rank == 3) {
				s.strategy = ST_EQJOIN;
				s.est_rows = st->card;
			} else if (rank < 0) {
				rank = 0;
			}
			break;
		case DL_C_FN:
			if (!fn_ready(env, st, cl))
				continue;
			if (is_subquery(cl)) {
				s.strategy = ST_SUBQ;
				s.est_rows = st->card;
				s.est_cost = st->card * 100;
				rank = 3;
			} else {
				s.strategy = ST_FN;
				s.est_rows = st->card;
				s.est_cost = st->card;
				rank = span_rank(st, cl) < 0 ? 1 : 4;
			}
			break;
		case DL_C_PATTERN: {
			dl_rpat rp;
			DL_TRY(dl_rpat_resolve(&rp, env, cl));
			bool named = cl->src_given && dl_intern_name(cl->src, NULL, NULL)[1] != 0;
			if (named) {
				s.strategy = ST_SOURCE;
				s.est_rows = st->card;
				s.est_cost = st->card;
				rank = 2;
				break;
			}
			dl_plan_range(&rp, env, cls, n);
			bool conn = connected(env, st, &rp);
			DL_TRY(dl_plan_pattern(&s, env, &rp, st->bound, conn ? st->card : 0));
			/* a pattern sharing nothing with the bindings so far waits
			 * (it would be a product) unless nothing is bound yet */
			rank = conn || !any_bound ? 2 : 4;
			break;
		}
		case DL_C_NOT:
		case DL_C_NOT_JOIN: {
			int ready = not_ready(env, st, cls, n, i);
			if (ready < 0)
				return ready;
			if (!ready)
				continue;
			s.strategy = ST_ANTI;
			s.est_rows = st->card / 2;
			s.est_cost = st->card;
			rank = 1;
			break;
		}
		case DL_C_OR:
		case DL_C_OR_JOIN: {
			int ready = or_ready(env, st, cls, n, i);
			if (ready < 0)
				return ready;
			if (!ready)
				continue;
			s.strategy = ST_UNION;
			s.est_rows = st->card;
			s.est_cost = st->card * cl->u.sub.n;
			/* run once what it shares with the other clauses is bound
			 * (its branches may filter on those variables); if that
			 * never happens, run it last anyway */
			int shared = shared_bound(env, st, cls, n, i);
			if (shared < 0)
				return shared;
			rank = shared ? 3 : 5;
			break;
		}
		case DL_C_RULE: {
			/* bound arguments restrict the evaluation: run once the
			 * connected patterns have bound what they can */
			bool ready = true;
			const dl_rule *r = env->rules ? dl_ruleset_find(env->rules, cl->u.rule.name) : NULL;
			for (uint32_t k = 0; r && k < r->nreq && k < cl->u.rule.nargs && ready; k++)
				ready = term_bound(env, st, &cl->u.rule.args[k]);
			if (!ready)
				continue;
			bool any = false;
			for (uint32_t k = 0; k < cl->u.rule.nargs; k++)
				any |= cl->u.rule.args[k].kind == DL_T_CONST ||
				       (cl->u.rule.args[k].kind == DL_T_VAR &&
					term_bound(env, st, &cl->u.rule.args[k]));
			s.strategy = ST_RULE;
			s.est_rows = st->card * 4;
			s.est_cost = st->card * 16;
			rank = any ? 3 : 4;
			break;
		}
		default:
			continue;
		}
		/* patterns: the work of this step and of the cheapest step it
		 * enables, so a small result that makes the next join explode
		 * loses to a slightly larger one that keeps it small */
		if (rank == 2 && cl->kind == DL_C_PATTERN && s.strategy != ST_SOURCE) {
			double next;
			DL_TRY(lookahead(&next, env, cls, n, st, i, &s));
			s.score = s.est_cost + s.est_rows + next;
		} else {
			s.score = s.est_cost + s.est_rows;
		}
		bool better = best < 0 || rank < best_rank ||
			      (rank == best_rank && (s.score < bs.score ||
						     (s.score == bs.score && s.est_rows < bs.est_rows)));
		if (better) {
			best = (int)i;
			bs = s;
			best_rank = rank;
		}
	}
	if (best < 0)
		return 0;
	*out = bs;
	return 1;
}

static void mark_bound(dl_plan_state *st, const dl_term *t, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (t[i].kind == DL_T_VAR)
			st->bound[t[i].var] = 1;
}

/* Does group g hold a pending input variable? */
static bool input_group(const dl_plan_state *st, uint32_t g)
{
	for (uint32_t c = 0; st->pending && c < st->pending->ncols; c++)
		if (st->group[st->pending->vars[c]] == g)
			return true;
	return false;
}

/* After cl ran, its variables are in one relation; when it joined two
 * relations holding pending input variables, the input tuples joined
 * every relation holding one (batch.c). */
static void apply_groups(dl_plan_state *st, const dl_clause *cl, const dl_step *s)
{
	uint8_t *mark = dl_calloc(st->nvars ? st->nvars : 1, 1);
	uint32_t *merge = dl_malloc((st->nvars + 1) * sizeof *merge), nm = 0, nin = 0;
	if (!mark || !merge)
		goto out; /* only an estimate is lost */
	dl_clause_vars(cl, mark);
	for (uint32_t v = 0; v < st->nvars; v++) {
		uint32_t g = st->group[v];
		bool seen = !mark[v] || !g || st->vstate[v] == VS_CONST;
		for (uint32_t k = 0; k < nm && !seen; k++)
			seen = merge[k] == g;
		if (!seen) {
			merge[nm++] = g;
			nin += input_group(st, g);
		}
	}
	if (nin >= 2)
		for (uint32_t c = 0; c < st->pending->ncols; c++) {
			uint32_t g = st->group[st->pending->vars[c]];
			bool seen = !g;
			for (uint32_t k = 0; k < nm && !seen; k++)
				seen = merge[k] == g;
			if (!seen)
				merge[nm++] = g;
		}
	uint32_t g = st->nvars + 1 + s->clause; /* a fresh group */
	for (uint32_t v = 0; v < st->nvars; v++) {
		if (st->vstate[v] == VS_CONST)
			continue;
		bool in = mark[v] && st->bound[v];
		for (uint32_t k = 0; k < nm && !in; k++)
			in = st->group[v] == merge[k];
		if (in)
			st->group[v] = g;
	}
out:
	dl_free(merge);
	dl_free(mark);
}

void dl_plan_apply(dl_plan_state *st, const dl_clause *cl, const dl_step *s)
{
	st->done[s->clause] = true;
	if (cl->kind == DL_C_PATTERN)
		mark_bound(st, cl->u.pat.t, cl->u.pat.n);
	else if (cl->kind == DL_C_FN)
		mark_bound(st, cl->u.fn.bind.terms, cl->u.fn.bind.n);
	else if (cl->kind == DL_C_OR || cl->kind == DL_C_OR_JOIN)
		dl_clause_vars(cl, st->bound);
	else if (cl->kind == DL_C_RULE)
		mark_bound(st, cl->u.rule.args, cl->u.rule.nargs);
	if (st->group)
		apply_groups(st, cl, s);
	if (s->strategy == ST_SCAN && st->card > 1)
		st->card *= s->est_rows; /* a separate relation: joined later */
	else
		st->card = s->est_rows;
	if (st->card < 1)
		st->card = 1;
}

int dl_plan_all(dl_step *steps, uint32_t *nsteps, dl_qenv *env, const dl_clause *cls,
		uint32_t n, dl_plan_state *st)
{
	uint32_t k = *nsteps;
	for (;;) {
		dl_step s;
		int rc = dl_plan_next(&s, env, cls, n, st);
		if (rc < 0)
			return rc;
		if (rc == 0)
			break;
		steps[k++] = s;
		dl_plan_apply(st, &cls[s.clause], &s);
	}
	*nsteps = k;
	return 0;
}
