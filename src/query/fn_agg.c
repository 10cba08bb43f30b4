/*
 * Aggregates: streaming accumulators whose state lives in an arena.
 *
 * Semantics follow Datomic and DataScript:
 *  - count counts every value; count-distinct and distinct use value
 *    equality (dl_value_equal: 1 and 1.0 are two values, as in a Clojure
 *    set); distinct gives a set.
 *  - sum keeps ints exact (a 128-bit accumulator, so intermediate overflow
 *    that comes back into range is harmless) and is an error if the total
 *    leaves int64; any double makes the result a double (compensated
 *    summation).  avg is always a double.
 *  - variance and stddev are population figures (divide by n), doubles,
 *    computed in one pass (Welford).
 *  - median sorts the numbers; an even count averages the two middle ones
 *    by the `/` rule (ints that halve exactly stay ints, else a double).
 *  - min and max use the total order of dl_value_compare, so they work on
 *    strings, instants, keywords...; (min n ?x) and (max n ?x) give up to n
 *    values as a vector sorted ascending (as DataScript does).
 *  - (rand n ?x) picks n values with replacement, (sample n ?x) up to n
 *    values without (both by reservoir, memory O(n)); plain (rand ?x) one
 *    value.  The choice is deterministic given the ctx seed.
 *  - With no values: count/count-distinct 0, distinct #{}, the n-forms [],
 *    the rest nil.
 */
#include "fn_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena-backed growable array and hash set ---------------------------- */

typedef struct vec {
	dl_value *items;
	size_t n, cap;
} vec;

/* Append a deep copy of x (the caller's row memory may be reused).  Old
 * arrays stay in the arena: growth is geometric, so the waste is bounded
 * by the live size. */
static int vec_push(dl_arena *a, vec *v, const dl_value *x)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		if (cap > UINT32_MAX)
			return dl_error(DL_ELIMIT, "aggregate: too many values");
		dl_value *items = DL_ARENA_NEW(a, cap, dl_value);
		if (!items)
			return DL_ENOMEM;
		if (v->n)
			memcpy(items, v->items, v->n * sizeof *items);
		v->items = items;
		v->cap = cap;
	}
	DL_TRY(dl_value_copy(&v->items[v->n], a, x));
	v->n++;
	return 0;
}

static dl_value vec_value(dl_type t, const vec *v)
{
	return (dl_value){.type = (uint8_t)t, .len = (uint32_t)v->n, .u.items = v->items};
}

typedef struct hset {
	vec items;
	uint32_t *slots; /* index + 1 into items, 0 empty */
	size_t mask;
} hset;

static int hset_grow(dl_arena *a, hset *h)
{
	size_t size = h->slots ? (h->mask + 1) * 2 : 16;
	uint32_t *slots = DL_ARENA_NEW(a, size, uint32_t);
	if (!slots)
		return DL_ENOMEM;
	memset(slots, 0, size * sizeof *slots);
	for (size_t k = 0; k < h->items.n; k++) {
		size_t i = dl_value_hash(&h->items.items[k]) & (size - 1);
		while (slots[i])
			i = (i + 1) & (size - 1);
		slots[i] = (uint32_t)(k + 1);
	}
	h->slots = slots;
	h->mask = size - 1;
	return 0;
}

static int hset_add(dl_arena *a, hset *h, const dl_value *x)
{
	if (!h->slots || (h->items.n + 1) * 4 > (h->mask + 1) * 3)
		DL_TRY(hset_grow(a, h));
	size_t i = dl_value_hash(x) & h->mask;
	for (; h->slots[i]; i = (i + 1) & h->mask)
		if (dl_value_equal(&h->items.items[h->slots[i] - 1], x))
			return 0;
	DL_TRY(vec_push(a, &h->items, x));
	h->slots[i] = (uint32_t)h->items.n;
	return 0;
}

static int need_num(const char *fn, const dl_value *v)
{
	if (DL_LIKELY(dl_fn_is_num(v)))
		return 0;
	return dl_fn_type_error(fn, "a number", v);
}

/* (max n ?x), (sample n ?x)...: n must be a non-negative int. */
static int param_n(const char *fn, const dl_value *params, size_t nparams, size_t *n)
{
	if (nparams != 1)
		return dl_error(DL_EINVAL, "%s: expected (%s n ?x)", fn, fn);
	if (params[0].type != DL_INT || params[0].u.i < 0)
		return dl_error(DL_ETYPE, "%s: n must be a non-negative int, got %s", fn,
				dl_fn_type_name(&params[0]));
	if ((uint64_t)params[0].u.i > UINT32_MAX)
		return dl_error(DL_ELIMIT, "%s: n is too large", fn);
	*n = (size_t)params[0].u.i;
	return 0;
}

static int no_params(const char *fn, size_t nparams)
{
	if (nparams)
		return dl_error(DL_EINVAL, "%s: takes no parameters before the variable", fn);
	return 0;
}

/* ---- count, count-distinct, distinct --------------------------------------- */

typedef struct count_st {
	int64_t n;
} count_st;

static int count_init(void *st, dl_arena *a, const dl_value *p, size_t np, dl_fn_ctx *ctx)
{
	memset(st, 0, sizeof(count_st));
	return no_params("count", np);
}

static int count_step(void *st, const dl_value *v)
{
	((count_st *)st)->n++;
	return 0;
}

static int count_finish(dl_value *out, dl_arena *a, void *st)
{
	*out = dl_int(((count_st *)st)->n);
	return 0;
}

typedef struct distinct_st {
	dl_arena *a;
	hset h;
} distinct_st;

static int distinct_init(void *st, dl_arena *a, const dl_value *p, size_t np,
			 dl_fn_ctx *ctx)
{
	distinct_st *s = st;
	memset(s, 0, sizeof *s);
	s->a = a;
	return no_params("distinct", np);
}

static int distinct_step(void *st, const dl_value *v)
{
	distinct_st *s = st;
	return hset_add(s->a, &s->h, v);
}

static int count_distinct_finish(dl_value *out, dl_arena *a, void *st)
{
	*out = dl_int((int64_t)((distinct_st *)st)->h.items.n);
	return 0;
}

static int distinct_finish(dl_value *out, dl_arena *a, void *st)
{
	*out = vec_value(DL_SET, &((distinct_st *)st)->h.items);
	return 0;
}

/* ---- sum, avg ---------------------------------------------------------------- */

typedef struct sum_st {
	const char *name;
	__int128 isum;
	double dsum, dcomp; /* Neumaier: the running sum and its lost low part */
	bool any_double;
	int64_t n;
} sum_st;

static int sum_init_named(void *st, const char *name, size_t np)
{
	sum_st *s = st;
	memset(s, 0, sizeof *s);
	s->name = name;
	return no_params(name, np);
}

static int sum_init(void *st, dl_arena *a, const dl_value *p, size_t np, dl_fn_ctx *ctx)
{
	return sum_init_named(st, "sum", np);
}

static int avg_init(void *st, dl_arena *a, const dl_value *p, size_t np, dl_fn_ctx *ctx)
{
	return sum_init_named(st, "avg", np);
}

static int sum_step(void *st, const dl_value *v)
{
	sum_st *s = st;
	DL_TRY(need_num(s->name, v));
	s->n++;
	if (v->type == DL_INT) {
		s->isum += v->u.i;
		return 0;
	}
	s->any_double = true;
	double x = v->u.d, t = s->dsum + x;
	if (isfinite(t))
		s->dcomp += fabs(s->dsum) >= fabs(x) ? (s->dsum - t) + x : (x - t) + s->dsum;
	s->dsum = t;
	return 0;
}

static long double sum_total(const sum_st *s)
{
	return (long double)s->isum + (long double)s->dsum + (long double)s->dcomp;
}

static int sum_finish(dl_value *out, dl_arena *a, void *st)
{
	sum_st *s = st;
	if (!s->n) {
		*out = dl_nil();
	} else if (s->any_double) {
		*out = dl_double((double)sum_total(s));
	} else {
		if (s->isum > INT64_MAX || s->isum < INT64_MIN)
			return dl_error(DL_EINVAL, "sum: integer overflow");
		*out = dl_int((int64_t)s->isum);
	}
	return 0;
}

static int avg_finish(dl_value *out, dl_arena *a, void *st)
{
	sum_st *s = st;
	*out = s->n ? dl_double((double)(sum_total(s) / s->n)) : dl_nil();
	return 0;
}

/* ---- variance, stddev ---------------------------------------------------------- */

typedef struct var_st {
	const char *name;
	int64_t n;
	double mean, m2;
} var_st;

static int var_init(void *st, dl_arena *a, const dl_value *p, size_t np, dl_fn_ctx *ctx)
{
	var_st *s = st;
	memset(s, 0, sizeof *s);
	s->name = "variance";
	return no_params(s->name, np);
}

static int stddev_init(void *st, dl_arena *a, const dl_value *p, size_t np,
		       dl_fn_ctx *ctx)
{
	var_st *s = st;
	memset(s, 0, sizeof *s);
	s->name = "stddev";
	return no_params(s->name, np);
}

static int var_step(void *st, const dl_value *v)
{
	var_st *s = st;
	DL_TRY(need_num(s->name, v));
	double x = dl_fn_to_double(v), d = x - s->mean;
	s->n++;
	s->mean += d / (double)s->n;
	s->m2 += d * (x - s->mean);
	return 0;
}

static int var_finish(dl_value *out, dl_arena *a, void *st)
{
	var_st *s = st;
	*out = s->n ? dl_double(s->m2 / (double)s->n) : dl_nil();
	return 0;
}

static int stddev_finish(dl_value *out, dl_arena *a, void *st)
{
	var_st *s = st;
	*out = s->n ? dl_double(sqrt(s->m2 / (double)s->n)) : dl_nil();
	return 0;
}

/* ---- median -------------------------------------------------------------------- */

typedef struct median_st {
	dl_arena *a;
	vec v;
} median_st;

static int median_init(void *st, dl_arena *a, const dl_value *p, size_t np,
		       dl_fn_ctx *ctx)
{
	median_st *s = st;
	memset(s, 0, sizeof *s);
	s->a = a;
	return no_params("median", np);
}

static int median_step(void *st, const dl_value *v)
{
	median_st *s = st;
	DL_TRY(need_num("median", v));
	return vec_push(s->a, &s->v, v);
}

static int cmp_values(const void *x, const void *y)
{
	return dl_value_compare(x, y);
}

static int median_finish(dl_value *out, dl_arena *a, void *st)
{
	median_st *s = st;
	size_t n = s->v.n;
	if (!n) {
		*out = dl_nil();
		return 0;
	}
	qsort(s->v.items, n, sizeof(dl_value), cmp_values);
	const dl_value *hi = &s->v.items[n / 2];
	if (n % 2) {
		*out = *hi;
		return 0;
	}
	const dl_value *lo = &s->v.items[n / 2 - 1];
	if (lo->type == DL_INT && hi->type == DL_INT) {
		__int128 sum = (__int128)lo->u.i + hi->u.i;
		*out = sum % 2 == 0 ? dl_int((int64_t)(sum / 2)) : dl_double((double)sum / 2);
		return 0;
	}
	double x = dl_fn_to_double(lo), y = dl_fn_to_double(hi), m = (x + y) / 2;
	if (isinf(m) && isfinite(x) && isfinite(y))
		m = x / 2 + y / 2;
	*out = dl_double(m);
	return 0;
}

/* ---- min, max ------------------------------------------------------------------ */

typedef struct extreme_st {
	dl_arena *a;
	const char *name;
	int sign; /* 1 for max, -1 for min */
	bool nform, have;
	dl_value best;
	size_t k; /* n-form: keep this many */
	vec heap; /* n-form: the kept values, the worst at the root */
} extreme_st;

static int extreme_init(void *st, dl_arena *a, const dl_value *p, size_t np,
			const char *name, int sign)
{
	extreme_st *s = st;
	memset(s, 0, sizeof *s);
	s->a = a;
	s->name = name;
	s->sign = sign;
	if (np) {
		s->nform = true;
		DL_TRY(param_n(name, p, np, &s->k));
	}
	return 0;
}

static int max_init(void *st, dl_arena *a, const dl_value *p, size_t np, dl_fn_ctx *ctx)
{
	return extreme_init(st, a, p, np, "max", 1);
}

static int min_init(void *st, dl_arena *a, const dl_value *p, size_t np, dl_fn_ctx *ctx)
{
	return extreme_init(st, a, p, np, "min", -1);
}

/* x is worse than y: smaller for max, larger for min. */
static bool worse(const extreme_st *s, const dl_value *x, const dl_value *y)
{
	return s->sign * dl_value_compare(x, y) < 0;
}

static void sift_down(extreme_st *s, size_t i)
{
	dl_value *h = s->heap.items;
	size_t n = s->heap.n;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, w = i;
		if (l < n && worse(s, &h[l], &h[w]))
			w = l;
		if (r < n && worse(s, &h[r], &h[w]))
			w = r;
		if (w == i)
			return;
		dl_value t = h[i];
		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

static int extreme_step(void *st, const dl_value *v)
{
	extreme_st *s = st;
	if (!s->nform) {
		/* copy only on improvement: scalars cost nothing */
		if (!s->have || worse(s, &s->best, v)) {
			DL_TRY(dl_value_copy(&s->best, s->a, v));
			s->have = true;
		}
		return 0;
	}
	if (s->k == 0)
		return 0;
	if (s->heap.n < s->k) {
		DL_TRY(vec_push(s->a, &s->heap, v));
		/* sift up */
		dl_value *h = s->heap.items;
		for (size_t i = s->heap.n - 1; i > 0;) {
			size_t parent = (i - 1) / 2;
			if (!worse(s, &h[i], &h[parent]))
				break;
			dl_value t = h[i];
			h[i] = h[parent];
			h[parent] = t;
			i = parent;
		}
		return 0;
	}
	if (worse(s, &s->heap.items[0], v)) {
		DL_TRY(dl_value_copy(&s->heap.items[0], s->a, v));
		sift_down(s, 0);
	}
	return 0;
}

static int extreme_finish(dl_value *out, dl_arena *a, void *st)
{
	extreme_st *s = st;
	if (!s->nform) {
		*out = s->have ? s->best : dl_nil();
		return 0;
	}
	if (s->heap.n)
		qsort(s->heap.items, s->heap.n, sizeof(dl_value), cmp_values);
	*out = vec_value(DL_VECTOR, &s->heap);
	return 0;
}

/* ---- rand, sample ---------------------------------------------------------------- */

typedef struct pick_st {
	dl_arena *a;
	uint64_t rng;
	uint64_t seen;
	bool nform, replace; /* rand: with replacement */
	size_t k;
	vec picks;
} pick_st;

static int pick_init(void *st, dl_arena *a, const dl_value *p, size_t np,
		     dl_fn_ctx *ctx, const char *name, bool replace)
{
	pick_st *s = st;
	memset(s, 0, sizeof *s);
	s->a = a;
	s->replace = replace;
	s->rng = dl_fn_ctx_rand(ctx);
	s->k = 1;
	if (np || !replace) {
		s->nform = true;
		DL_TRY(param_n(name, p, np, &s->k));
	}
	if (replace && s->k) {
		/* every slot is its own one-item reservoir; fill them now */
		s->picks.items = DL_ARENA_NEW(a, s->k, dl_value);
		if (!s->picks.items)
			return DL_ENOMEM;
		s->picks.cap = s->k;
	}
	return 0;
}

static int rand_init(void *st, dl_arena *a, const dl_value *p, size_t np, dl_fn_ctx *ctx)
{
	return pick_init(st, a, p, np, ctx, "rand", true);
}

static int sample_init(void *st, dl_arena *a, const dl_value *p, size_t np,
		       dl_fn_ctx *ctx)
{
	return pick_init(st, a, p, np, ctx, "sample", false);
}

static int pick_step(void *st, const dl_value *v)
{
	pick_st *s = st;
	s->seen++;
	if (s->replace) {
		/* slot j keeps v with probability 1/seen: uniform per slot */
		for (size_t j = 0; j < s->k; j++)
			if (s->seen == 1 || dl_fn_below(&s->rng, s->seen) == 0)
				DL_TRY(dl_value_copy(&s->picks.items[j], s->a, v));
		s->picks.n = s->k;
		return 0;
	}
	/* Algorithm R: the first k fill the reservoir, then item number
	 * `seen` replaces a random one with probability k/seen. */
	if (s->picks.n < s->k)
		return vec_push(s->a, &s->picks, v);
	uint64_t j = dl_fn_below(&s->rng, s->seen);
	if (j < s->k)
		DL_TRY(dl_value_copy(&s->picks.items[j], s->a, v));
	return 0;
}

static int pick_finish(dl_value *out, dl_arena *a, void *st)
{
	pick_st *s = st;
	if (!s->nform) {
		*out = s->seen ? s->picks.items[0] : dl_nil();
		return 0;
	}
	vec v = s->picks;
	if (!s->seen)
		v.n = 0;
	*out = vec_value(DL_VECTOR, &v);
	return 0;
}

/* ---- the registry ------------------------------------------------------------------ */

#define AGG(name, lo, hi, st, init, step, finish, dup_free)                                      \
	{name, lo, hi, sizeof(st), init, step, finish, dup_free}

/* Sorted by name in byte order (the tests check). */
static const dl_aggregate k_aggregates[] = {
	AGG("avg", 0, 0, sum_st, avg_init, sum_step, avg_finish, false),
	AGG("count", 0, 0, count_st, count_init, count_step, count_finish, false),
	AGG("count-distinct", 0, 0, distinct_st, distinct_init, distinct_step,
	    count_distinct_finish, true),
	AGG("distinct", 0, 0, distinct_st, distinct_init, distinct_step, distinct_finish, true),
	AGG("max", 0, 1, extreme_st, max_init, extreme_step, extreme_finish, true),
	AGG("median", 0, 0, median_st, median_init, median_step, median_finish, false),
	AGG("min", 0, 1, extreme_st, min_init, extreme_step, extreme_finish, true),
	AGG("rand", 0, 1, pick_st, rand_init, pick_step, pick_finish, false),
	AGG("sample", 1, 1, pick_st, sample_init, pick_step, pick_finish, false),
	AGG("stddev", 0, 0, var_st, stddev_init, var_step, stddev_finish, false),
	AGG("sum", 0, 0, sum_st, sum_init, sum_step, sum_finish, false),
	AGG("variance", 0, 0, var_st, var_init, var_step, var_finish, false),
};

#define COUNT(t) (sizeof(t) / sizeof((t)[0]))

const dl_aggregate *dl_aggregate_find(const char *name, size_t n)
{
	size_t lo = 0, hi = COUNT(k_aggregates);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *e = k_aggregates[mid].name;
		size_t m = strlen(e);
		int c = memcmp(e, name, m < n ? m : n);
		if (!c)
			c = (m > n) - (m < n);
		if (c == 0)
			return &k_aggregates[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const dl_aggregate *dl_aggregate_table(size_t *n)
{
	*n = COUNT(k_aggregates);
	return k_aggregates;
}
