/*
 * query/batch: joins on equalities, and the pending input relation of a
 * batched nested q.
 *
 * A nested q that runs once per distinct input tuple can instead run once
 * over all of them (exec.c, subq_batch): the tuples become a relation I of
 * the body's input variables.  Joining I into the body's first pattern
 * would multiply every row by the tuples sharing its value (one ticker, 260
 * hours: 260 x all the ticker's bars), so I waits, "pending": each input
 * variable starts bound to its distinct values in a one-column relation of
 * its own, which patterns read like any bound variable.  I is joined in
 * when a clause brings together two relations that both hold input
 * variables (the correlation between them is now what restricts), and at
 * the end; then it is joined on every variable it shares and on the
 * clause's equalities ([(= ?d ?day)]), so it acts as the join condition it
 * is.  Every row so keeps the input tuple it belongs to, and the answer is
 * grouped by it.
 *
 * Equalities as join keys: [(= ?x ?y)] with ?x and ?y in different
 * relations is a hash join, not a product and a filter.  Query `=` compares
 * numbers by value (1 = 1.0) and refs with ints, so those keys hash
 * numbers by value and compare with dl_fn_query_equal; the predicate still
 * runs on the joined rows.
 */
#include "exec_int.h"
#include "fn_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- hashing under query `=` ---------------------------------------------- */

static uint64_t eq_hash(const dl_value *v)
{
	dl_value k = *v;
	if (v->type == DL_REF) {
		k.type = DL_INT;
	} else if (v->type == DL_DOUBLE) {
		double d = v->u.d;
		/* an integral double equals the int of that value */
		if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 &&
		    d == (double)(int64_t)d)
			k = dl_int((int64_t)d);
	}
	return dl_value_hash(&k);
}

/* ---- one join -------------------------------------------------------------- */

typedef struct jkeys {
	uint32_t n;
	uint32_t sc[64], bc[64]; /* columns in the small and the big side */
	bool loose[64];          /* compared with query `=` (an equality) */
	uint32_t pair[64];       /* loose: which equality */
} jkeys;

/* Keys between relations x and y: shared variables, then equalities. */
static void find_keys(jkeys *k, const dl_rel *x, const dl_rel *y, const uint32_t *eq,
		      uint32_t neq)
{
	k->n = 0;
	for (uint32_t i = 0; i < x->ncols && k->n < 64; i++) {
		int c = dl_rel_col(y, x->vars[i]);
		if (c >= 0) {
			k->sc[k->n] = i;
			k->bc[k->n] = (uint32_t)c;
			k->loose[k->n++] = false;
		}
	}
	for (uint32_t e = 0; e < neq && k->n < 64; e++) {
		for (int side = 0; side < 2; side++) {
			int cx = dl_rel_col(x, eq[2 * e + side]), cy = dl_rel_col(y, eq[2 * e + 1 - side]);
			if (cx < 0 || cy < 0 || dl_rel_col(y, eq[2 * e + side]) >= 0 ||
			    dl_rel_col(x, eq[2 * e + 1 - side]) >= 0)
				continue; /* a shared variable already, or not across */
			k->sc[k->n] = (uint32_t)cx;
			k->bc[k->n] = (uint32_t)cy;
			k->pair[k->n] = e;
			k->loose[k->n++] = true;
			break;
		}
	}
}

static uint64_t key_hash(const dl_value *row, const uint32_t *cols, const bool *loose, uint32_t n)
{
	uint64_t h = 0x243F6A8885A308D3ull;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t x = loose[i] ? eq_hash(&row[cols[i]]) : dl_value_hash(&row[cols[i]]);
		h ^= x + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
		h *= 0xFF51AFD7ED558CCDull;
	}
	return h;
}

static bool key_eq(const jkeys *k, const dl_value *srow, const dl_value *brow)
{
	for (uint32_t i = 0; i < k->n; i++) {
		const dl_value *x = &srow[k->sc[i]], *y = &brow[k->bc[i]];
		if (k->loose[i] ? !dl_fn_query_equal(x, y) : !dl_value_equal(x, y))
			return false;
	}
	return true;
}

/* One join's output, and what each candidate pair goes through. */
typedef struct joiner {
	dl_qenv *env;
	dl_rel *r;
	const jkeys *k;
	uint32_t bcols, nextra;
	const uint32_t *extra; /* the small side's columns after the big side's */
	dl_rowfilter *rf;      /* the filters after the equality, or NULL */
} joiner;

/* The pair (brow, srow) with equal hashes: its row unless the keys differ
 * or the filters drop it.  *o is the row being made for brow, NULL until a
 * pair needs one: brow's columns are copied once per probe, and a pair the
 * filters drop leaves the slot to the next, which writes only the small
 * side's columns. */
static int join_pair(joiner *j, const dl_value *brow, const dl_value *srow, dl_value **o)
{
	if (!key_eq(j->k, srow, brow))
		return 0;
	if (!*o) {
		if (!(*o = dl_rel_push(j->env, j->r)))
			return dl_errcode_last();
		memcpy(*o, brow, j->bcols * sizeof **o);
	}
	for (uint32_t x = 0; x < j->nextra; x++)
		(*o)[j->bcols + x] = srow[j->extra[x]];
	DL_TRY(dl_qenv_tick(j->env));
	if (j->rf) {
		int keep = j->rf->keep(j->rf, *o);
		if (keep <= 0)
			return keep;
	}
	*o = NULL; /* kept */
	return 0;
}

/* A band join: the filters bound a probe-side int x by two hashed-side
 * columns, lo <= x < hi (strict or not).  The hashed rows are sorted by
 * (hash, lo), with the running maximum of hi along each run of one hash:
 * a probe visits only rows whose lo x passes, from the largest lo down,
 * while some hi at or before them can still pass x.  The filters still
 * run on every pair visited; the band only skips pairs they would drop. */
typedef struct band {
	dl_band b;     /* output columns */
	uint32_t n;    /* hashed rows */
	uint32_t *ord; /* hashed rows in (hash, lo) order */
	uint64_t *h;   /* per position: hash */
	int64_t *lo, *mhi;
} band;

typedef struct band_ent {
	uint64_t h;
	int64_t lo, hi;
	uint32_t row;
} band_ent;

static int band_ent_cmp(const void *x, const void *y)
{
	const band_ent *a = x, *b = y;
	if (a->h != b->h)
		return a->h < b->h ? -1 : 1;
	return (a->lo > b->lo) - (a->lo < b->lo);
}

static void band_free(band *bd)
{
	dl_block_free(bd->ord);
	dl_block_free(bd->h);
	dl_block_free(bd->lo);
	dl_block_free(bd->mhi);
	memset(bd, 0, sizeof *bd);
}

/* 1 with *bd built, 0 when the filters make no band or the hashed side's
 * bounds are not all ints, or an error. */
static int band_build(band *bd, const dl_rel *small, const uint64_t *hs, const joiner *j)
{
	memset(bd, 0, sizeof *bd);
	if (!j->rf || !j->rf->band || !j->rf->band(j->rf, j->bcols, &bd->b))
		return 0;
	uint32_t slo = j->extra[bd->b.lo - (int)j->bcols], shi = j->extra[bd->b.hi - (int)j->bcols];
	size_t n = small->n;
	for (size_t i = 0; i < n; i++) {
		const dl_value *row = &small->rows[i * small->ncols];
		if (row[slo].type != DL_INT || row[shi].type != DL_INT)
			return 0;
	}
	band_ent *e = dl_block_alloc((n ? n : 1) * sizeof *e);
	bd->ord = dl_block_alloc((n ? n : 1) * sizeof *bd->ord);
	bd->h = dl_block_alloc((n ? n : 1) * sizeof *bd->h);
	bd->lo = dl_block_alloc((n ? n : 1) * sizeof *bd->lo);
	bd->mhi = dl_block_alloc((n ? n : 1) * sizeof *bd->mhi);
	if (!e || !bd->ord || !bd->h || !bd->lo || !bd->mhi) {
		dl_block_free(e);
		band_free(bd);
		return DL_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const dl_value *row = &small->rows[i * small->ncols];
		e[i] = (band_ent){hs[i], row[slo].u.i, row[shi].u.i, (uint32_t)i};
	}
	qsort(e, n, sizeof *e, band_ent_cmp);
	for (size_t i = 0; i < n; i++) {
		bd->ord[i] = e[i].row;
		bd->h[i] = e[i].h;
		bd->lo[i] = e[i].lo;
		bd->mhi[i] = i && e[i - 1].h == e[i].h && bd->mhi[i - 1] > e[i].hi ? bd->mhi[i - 1]
										    : e[i].hi;
	}
	bd->n = (uint32_t)n;
	dl_block_free(e);
	return 1;
}

/* The pairs of brow (hash h) the band lets through, to join_pair. */
static int band_probe(joiner *j, const band *bd, const dl_rel *small, const dl_value *brow,
		      uint64_t h, dl_value **o)
{
	/* the run of hash h: [s, e) */
	size_t s = 0, e = bd->n;
	while (s < e) {
		size_t m = s + (e - s) / 2;
		if (bd->h[m] < h)
			s = m + 1;
		else
			e = m;
	}
	for (e = s; e < bd->n && bd->h[e] == h; e++)
		;
	const dl_value *x = &brow[bd->b.x];
	size_t p = e;
	if (x->type == DL_INT) {
		/* past the last lo that x passes */
		size_t a = s, z = e;
		while (a < z) {
			size_t m = a + (z - a) / 2;
			bool pass = bd->b.lo_incl ? bd->lo[m] <= x->u.i : bd->lo[m] < x->u.i;
			if (pass)
				a = m + 1;
			else
				z = m;
		}
		p = a;
	}
	for (size_t q = p; q-- > s;) {
		if (x->type == DL_INT &&
		    (bd->b.hi_incl ? bd->mhi[q] < x->u.i : bd->mhi[q] <= x->u.i))
			break; /* no hi at or before q passes x */
		DL_TRY(join_pair(j, brow, &small->rows[(size_t)bd->ord[q] * small->ncols], o));
	}
	return 0;
}

/* a joined with b on their shared variables and the equalities across
 * them (a product when there are none); a hash on the smaller side. */
static int eq_join(dl_rel **out, dl_qenv *env, const dl_rel *a, const dl_rel *b,
		   const uint32_t *eq, uint32_t neq, uint8_t *used, dl_rowfilter *rf)
{
	const dl_rel *small = a->n <= b->n ? a : b, *big = small == a ? b : a;
	if (small->n >= UINT32_MAX)
		return dl_error(DL_ELIMIT, "relation too large to hash (%zu rows)", small->n);
	jkeys k;
	find_keys(&k, small, big, eq, neq);
	for (uint32_t i = 0; used && i < k.n; i++)
		if (k.loose[i])
			used[k.pair[i]] = 1;
	uint32_t vars[128], nc = big->ncols, extra[64], nextra = 0;
	if (big->ncols > 64 || small->ncols > 64)
		return dl_error(DL_ELIMIT, "relation wider than 64 columns");
	memcpy(vars, big->vars, big->ncols * sizeof *vars);
	for (uint32_t i = 0; i < small->ncols; i++)
		if (dl_rel_col(big, small->vars[i]) < 0) {
			extra[nextra++] = i;
			vars[nc++] = small->vars[i];
		}
	/* the filters after the equality see only rows that satisfy it */
	bool on_eq = false;
	for (uint32_t i = 0; i < k.n; i++)
		on_eq |= k.loose[i] && k.pair[i] == 0;
	bool filter = rf && on_eq && rf->init(rf, vars, nc);
	dl_rel *r = dl_rel_new(env, nc, vars);
	if (!r)
		return DL_ENOMEM;
	joiner j = {env, r, &k, big->ncols, nextra, extra, filter ? rf : NULL};
	band bd = {0};
	int use_band = 0;
	size_t nb = 16;
	while (nb < small->n * 2)
		nb <<= 1;
	uint32_t *head = dl_block_calloc(nb, sizeof *head);
	uint32_t *next = dl_block_alloc((small->n ? small->n : 1) * sizeof *next);
	uint64_t *hs = dl_block_alloc((small->n ? small->n : 1) * sizeof *hs);
	int rc = 0;
	if (!head || !next || !hs) {
		rc = DL_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < small->n; i++)
		hs[i] = key_hash(&small->rows[i * small->ncols], k.sc, k.loose, k.n);
	if ((use_band = band_build(&bd, small, hs, &j)) < 0) {
		rc = use_band;
		goto done;
	}
	/* chains (without a band), in reverse so they list rows in order */
	for (size_t i = small->n; !use_band && i-- > 0;) {
		next[i] = head[hs[i] & (nb - 1)];
		head[hs[i] & (nb - 1)] = (uint32_t)(i + 1);
	}
	for (size_t i = 0; i < big->n && !rc; i++) {
		const dl_value *brow = &big->rows[i * big->ncols];
		uint64_t h = key_hash(brow, k.bc, k.loose, k.n);
		dl_value *o = NULL;
		if (use_band) {
			rc = band_probe(&j, &bd, small, brow, h, &o);
		} else {
			for (uint32_t at = head[h & (nb - 1)]; at && !rc; at = next[at - 1])
				if (hs[at - 1] == h)
					rc = join_pair(&j, brow, &small->rows[(size_t)(at - 1) * small->ncols],
						       &o);
		}
		if (o)
			r->n--; /* the last pair was dropped */
	}
done:
	band_free(&bd);
	dl_block_free(head);
	dl_block_free(next);
	dl_block_free(hs);
	if (rc) {
		dl_rel_free(r);
		return rc < 0 ? rc : DL_ELIMIT;
	}
	*out = r;
	return 0;
}

/* ---- several joins ---------------------------------------------------------- */

/* Keep J's rows that have a match in r, whose columns J all holds (a
 * semi-join: r only filters, so J is filtered in place). */
static int semi_join(dl_qenv *env, dl_rel *J, const dl_rel *r)
{
	uint32_t rk[64], jk[64];
	if (r->ncols > 64)
		return dl_error(DL_ELIMIT, "relation wider than 64 columns");
	for (uint32_t i = 0; i < r->ncols; i++) {
		rk[i] = i;
		jk[i] = (uint32_t)dl_rel_col(J, r->vars[i]);
	}
	dl_rhash h;
	DL_TRY(dl_rhash_build(&h, r, rk, r->ncols));
	size_t w = 0;
	int rc = 0;
	for (size_t i = 0; i < J->n && !rc; i++) {
		dl_value *row = &J->rows[i * J->ncols];
		if (!dl_rhash_find(&h, r, row, jk, dl_row_hash(row, jk, r->ncols)))
			continue;
		if (w != i)
			memcpy(&J->rows[w * J->ncols], row, J->ncols * sizeof *row);
		w++;
		rc = dl_qenv_tick(env);
	}
	J->n = w;
	dl_rhash_free(&h);
	return rc;
}

static bool covers(const dl_rel *J, const dl_rel *r)
{
	for (uint32_t i = 0; i < r->ncols; i++)
		if (dl_rel_col(J, r->vars[i]) < 0)
			return false;
	return true;
}

int dl_batch_join(dl_rel **out, dl_qenv *env, dl_rel **rs, uint32_t n, const uint32_t *eq,
		  uint32_t neq, uint8_t *used, dl_rowfilter *rf)
{
	dl_rel *J = rs[0];
	rs[0] = NULL;
	int rc = 0;
	for (uint32_t left = n - 1; left > 0 && !rc; left--) {
		/* first what only filters (while J is small), then the most
		 * keys against J, then the fewest rows */
		int best = -1;
		uint32_t bestk = 0;
		bool bestsemi = false;
		for (uint32_t i = 1; i < n; i++) {
			if (!rs[i])
				continue;
			jkeys k;
			find_keys(&k, J, rs[i], eq, neq);
			bool semi = covers(J, rs[i]);
			if (best < 0 || semi > bestsemi ||
			    (semi == bestsemi &&
			     (k.n > bestk || (k.n == bestk && rs[i]->n < rs[best]->n)))) {
				best = (int)i;
				bestk = k.n;
				bestsemi = semi;
			}
		}
		if (bestsemi) {
			rc = semi_join(env, J, rs[best]);
		} else {
			dl_rel *j = NULL;
			rc = eq_join(&j, env, J, rs[best], eq, neq, used, rf);
			if (!rc) {
				dl_rel_free(J);
				J = j;
			}
		}
		dl_rel_free(rs[best]);
		rs[best] = NULL;
	}
	for (uint32_t i = 1; i < n; i++)
		dl_rel_free(rs[i]);
	if (rc) {
		dl_rel_free(J);
		return rc;
	}
	*out = J;
	return 0;
}

/* Remove relation i from env without freeing it. */
static dl_rel *take_rel(dl_qenv *env, uint32_t i)
{
	dl_rel *r = env->rels[i];
	env->rels[i] = env->rels[--env->nrels];
	return r;
}

static bool holds_input(const dl_qenv *env, const dl_rel *r)
{
	for (uint32_t i = 0; i < env->pending->ncols; i++)
		if (dl_rel_col(r, env->pending->vars[i]) >= 0)
			return true;
	return false;
}

bool dl_batch_meets(const dl_qenv *env, const uint32_t *vars, uint32_t n)
{
	if (!env->pending)
		return false;
	int first = -1;
	for (uint32_t k = 0; k < n; k++) {
		if (env->vstate[vars[k]] != VS_REL)
			continue;
		int ri = dl_qenv_rel_of(env, vars[k]);
		if (ri < 0 || ri == first || !holds_input(env, env->rels[ri]))
			continue;
		if (first >= 0)
			return true;
		first = ri;
	}
	return false;
}

int dl_batch_absorb(dl_qenv *env, const uint32_t *eq, uint32_t neq, uint8_t *used,
		    dl_rowfilter *rf)
{
	dl_rel **rs = dl_malloc((env->nrels + 1) * sizeof *rs);
	if (!rs)
		return DL_ENOMEM;
	uint32_t n = 0;
	rs[n++] = env->pending;
	for (uint32_t i = 0; i < env->nrels;) {
		if (holds_input(env, env->rels[i]))
			rs[n++] = take_rel(env, i);
		else
			i++;
	}
	env->pending = NULL;
	dl_rel *J = NULL;
	int rc = dl_batch_join(&J, env, rs, n, eq, neq, used, rf);
	dl_free(rs);
	if (rc)
		return rc;
	return dl_exec_push(env, J);
}

int dl_exec_unify_eq(dl_qenv *env, const uint32_t *vars, uint32_t n, const uint32_t *eq,
		     uint32_t neq, uint8_t *used, dl_rowfilter *rf, int *out)
{
	if (dl_batch_meets(env, vars, n))
		DL_TRY(dl_batch_absorb(env, eq, neq, used, rf));
	/* the distinct relations holding vars, largest first (it probes) */
	dl_rel *rs[64];
	uint32_t m = 0;
	for (uint32_t k = 0; k < n; k++) {
		if (env->vstate[vars[k]] != VS_REL)
			continue;
		int ri = dl_qenv_rel_of(env, vars[k]);
		if (ri < 0)
			continue;
		bool seen = false;
		for (uint32_t i = 0; i < m && !seen; i++)
			seen = rs[i] == env->rels[ri];
		if (!seen && m < 64)
			rs[m++] = env->rels[ri];
	}
	if (m <= 1) {
		*out = -1;
		for (uint32_t j = 0; m && j < env->nrels; j++)
			if (env->rels[j] == rs[0])
				*out = (int)j;
		return 0;
	}
	for (uint32_t i = 0; i < m; i++) {
		for (uint32_t j = 0; j < env->nrels; j++)
			if (env->rels[j] == rs[i]) {
				take_rel(env, j);
				break;
			}
		if (rs[i]->n > rs[0]->n) {
			dl_rel *t = rs[0];
			rs[0] = rs[i];
			rs[i] = t;
		}
	}
	dl_rel *J = NULL;
	DL_TRY(dl_batch_join(&J, env, rs, m, eq, neq, used, rf));
	DL_TRY(dl_exec_push(env, J));
	*out = (int)env->nrels - 1;
	return 0;
}
