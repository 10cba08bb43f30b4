/*
 * Comparison, arithmetic and numeric predicates.
 *
 * Numbers are int64 and double.  Mixing the two gives a double; int
 * arithmetic that overflows is an error (Clojure throws rather than
 * wrapping, and silently promoting to double would lose exactness).
 * `/` of two ints is an int when it divides exactly, else a double
 * (Clojure would make a ratio, which datalite has no type for).  Any
 * division by zero, int or double, is an error.
 *
 * None of these allocate.
 */
#include "fn_int.h"

#include <math.h>

static bool is_num(const dl_value *v) { return dl_fn_is_num(v); }

static int need_num(const char *fn, const dl_value *v)
{
	if (DL_LIKELY(is_num(v)))
		return 0;
	return dl_fn_type_error(fn, "a number", v);
}

static int overflow(const char *fn)
{
	return dl_error(DL_EINVAL, "%s: integer overflow", fn);
}

static int div_zero(const char *fn)
{
	return dl_error(DL_EINVAL, "%s: divide by zero", fn);
}

/* ---- comparison --------------------------------------------------------- */

static int cmp_int_double(int64_t i, double d)
{
	if (isnan(d))
		return DL_FN_UNORDERED;
	if (d >= 9223372036854775808.0)
		return -1;
	if (d < -9223372036854775808.0)
		return 1;
	/* d is in [-2^63, 2^63): its integer part fits, and d - trunc(d) is
	 * exact, so this compares without rounding i. */
	double t = trunc(d);
	int64_t ti = (int64_t)t;
	if (i != ti)
		return i < ti ? -1 : 1;
	double frac = d - t;
	return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

int dl_fn_numcmp(const dl_value *x, const dl_value *y)
{
	if (x->type == DL_INT) {
		if (y->type == DL_INT)
			return (x->u.i > y->u.i) - (x->u.i < y->u.i);
		return cmp_int_double(x->u.i, y->u.d);
	}
	if (y->type == DL_INT) {
		int c = cmp_int_double(y->u.i, x->u.d);
		return c == DL_FN_UNORDERED ? c : -c;
	}
	double a = x->u.d, b = y->u.d;
	if (isnan(a) || isnan(b))
		return DL_FN_UNORDERED;
	return (a > b) - (a < b);
}

/* An entity id met as a ref on one side and a plain int on the other
 * ([(= ?e 17)], [(< ?e ?limit)]): in Datomic both are longs, so they
 * compare as integers. */
static bool ref_vs_int(const dl_value *x, const dl_value *y)
{
	return (x->type == DL_REF && y->type == DL_INT) ||
	       (x->type == DL_INT && y->type == DL_REF);
}

/* Query `=`: value equality, except that numbers compare by numeric value
 * (1 = 1.0, 0.0 = -0.0, NaN unequal to itself), as DataScript does on JS
 * numbers and Clojure's == does, and refs equal ints with the same id.
 * Only the top level: [1] and [1.0] are different vectors. */
bool dl_fn_query_equal(const dl_value *x, const dl_value *y)
{
	if (is_num(x) && is_num(y))
		return dl_fn_numcmp(x, y) == 0;
	if (ref_vs_int(x, y))
		return x->u.i == y->u.i;
	return dl_value_equal(x, y);
}

int dl_fn_eq(DL_FN_ARGS)
{
	bool r = true;
	for (size_t i = 1; i < nargs && r; i++)
		r = dl_fn_query_equal(&args[0], &args[i]);
	*out = dl_bool(r);
	return 0;
}

int dl_fn_neq(DL_FN_ARGS)
{
	DL_TRY(dl_fn_eq(out, a, args, nargs, ctx));
	out->u.b = !out->u.b;
	return 0;
}

int dl_fn_numeq(DL_FN_ARGS)
{
	bool r = true;
	for (size_t i = 0; i < nargs; i++) {
		DL_TRY(need_num("==", &args[i]));
		if (i && r)
			r = dl_fn_numcmp(&args[0], &args[i]) == 0;
	}
	*out = dl_bool(r);
	return 0;
}

/* Which values `<` and friends accept: numbers with numbers; otherwise two
 * values of one type with a meaningful order (strings, keywords, instants,
 * uuids, tuples...).  nil, sets and maps have none. */
static int ordered_cmp(const char *fn, const dl_value *x, const dl_value *y, int *res)
{
	if (DL_LIKELY(is_num(x) && is_num(y))) {
		*res = dl_fn_numcmp(x, y);
		return 0;
	}
	if (ref_vs_int(x, y)) {
		*res = (x->u.i > y->u.i) - (x->u.i < y->u.i);
		return 0;
	}
	if (x->type == y->type && x->type != DL_NIL && x->type != DL_SET &&
	    x->type != DL_MAP) {
		/* only the sign: any other value could be DL_FN_UNORDERED */
		int c = dl_value_compare(x, y);
		*res = (c > 0) - (c < 0);
		return 0;
	}
	return dl_error(DL_ETYPE, "%s: cannot compare %s with %s", fn,
			dl_fn_type_name(x), dl_fn_type_name(y));
}

/* Chain x0 op x1 op x2...; every pair is checked for comparability even
 * once the answer is known, so an ill-typed call fails on every row rather
 * than depending on the data. */
static int chain(const char *fn, dl_value *out, const dl_value *args,
		 size_t nargs, bool (*ok)(int))
{
	bool r = true; /* one argument: true, as in Clojure */
	for (size_t i = 1; i < nargs; i++) {
		int c = 0;
		DL_TRY(ordered_cmp(fn, &args[i - 1], &args[i], &c));
		if (c == DL_FN_UNORDERED || !ok(c))
			r = false;
	}
	*out = dl_bool(r);
	return 0;
}

static bool ok_lt(int c) { return c < 0; }
static bool ok_le(int c) { return c <= 0; }
static bool ok_gt(int c) { return c > 0; }
static bool ok_ge(int c) { return c >= 0; }

int dl_fn_lt(DL_FN_ARGS) { return chain("<", out, args, nargs, ok_lt); }
int dl_fn_le(DL_FN_ARGS) { return chain("<=", out, args, nargs, ok_le); }
int dl_fn_gt(DL_FN_ARGS) { return chain(">", out, args, nargs, ok_gt); }
int dl_fn_ge(DL_FN_ARGS) { return chain(">=", out, args, nargs, ok_ge); }

/* compare: numbers numerically (so (compare 1 1.0) is 0, like Clojure);
 * everything else in the total order of dl_value_compare, which, unlike
 * Clojure's, is defined across types too. */
int dl_fn_compare(DL_FN_ARGS)
{
	int c;
	if (is_num(&args[0]) && is_num(&args[1]) &&
	    (c = dl_fn_numcmp(&args[0], &args[1])) != DL_FN_UNORDERED) {
		*out = dl_int(c);
		return 0;
	}
	c = dl_value_compare(&args[0], &args[1]);
	*out = dl_int((c > 0) - (c < 0));
	return 0;
}

/* ---- arithmetic --------------------------------------------------------- */

int dl_fn_add(DL_FN_ARGS)
{
	dl_value acc = dl_int(0);
	for (size_t i = 0; i < nargs; i++) {
		const dl_value *x = &args[i];
		DL_TRY(need_num("+", x));
		if (acc.type == DL_INT && x->type == DL_INT) {
			if (__builtin_add_overflow(acc.u.i, x->u.i, &acc.u.i))
				return overflow("+");
		} else {
			acc = dl_double(dl_fn_to_double(&acc) + dl_fn_to_double(x));
		}
	}
	*out = acc;
	return 0;
}

int dl_fn_mul(DL_FN_ARGS)
{
	dl_value acc = dl_int(1);
	for (size_t i = 0; i < nargs; i++) {
		const dl_value *x = &args[i];
		DL_TRY(need_num("*", x));
		if (acc.type == DL_INT && x->type == DL_INT) {
			if (__builtin_mul_overflow(acc.u.i, x->u.i, &acc.u.i))
				return overflow("*");
		} else {
			acc = dl_double(dl_fn_to_double(&acc) * dl_fn_to_double(x));
		}
	}
	*out = acc;
	return 0;
}

static int sub2(dl_value *acc, const dl_value *x)
{
	if (acc->type == DL_INT && x->type == DL_INT) {
		if (__builtin_sub_overflow(acc->u.i, x->u.i, &acc->u.i))
			return overflow("-");
	} else {
		*acc = dl_double(dl_fn_to_double(acc) - dl_fn_to_double(x));
	}
	return 0;
}

int dl_fn_sub(DL_FN_ARGS)
{
	for (size_t i = 0; i < nargs; i++)
		DL_TRY(need_num("-", &args[i]));
	dl_value acc = args[0];
	if (nargs == 1) { /* negation */
		acc = dl_int(0);
		DL_TRY(sub2(&acc, &args[0]));
	}
	for (size_t i = 1; i < nargs; i++)
		DL_TRY(sub2(&acc, &args[i]));
	*out = acc;
	return 0;
}

int dl_fn_divide(const char *fn, dl_value *out, const dl_value *x, const dl_value *y)
{
	if (x->type == DL_INT && y->type == DL_INT) {
		int64_t n = x->u.i, d = y->u.i;
		if (d == 0)
			return div_zero(fn);
		if (d == -1) {
			if (n == INT64_MIN)
				return overflow(fn);
			*out = dl_int(-n);
		} else if (n % d == 0) {
			*out = dl_int(n / d);
		} else {
			*out = dl_double((double)n / (double)d);
		}
		return 0;
	}
	double d = dl_fn_to_double(y);
	if (d == 0)
		return div_zero(fn);
	*out = dl_double(dl_fn_to_double(x) / d);
	return 0;
}

int dl_fn_div(DL_FN_ARGS)
{
	for (size_t i = 0; i < nargs; i++)
		DL_TRY(need_num("/", &args[i]));
	dl_value acc = args[0];
	if (nargs == 1) { /* reciprocal */
		dl_value one = dl_int(1);
		return dl_fn_divide("/", out, &one, &args[0]);
	}
	for (size_t i = 1; i < nargs; i++)
		DL_TRY(dl_fn_divide("/", &acc, &acc, &args[i]));
	*out = acc;
	return 0;
}

/* quot, rem and mod share the checks.  Ints: quot truncates, rem has the
 * sign of the dividend, mod the sign of the divisor.  Doubles: the same
 * definitions on trunc() and fmod(), giving doubles, as Clojure does. */
typedef enum { OP_QUOT, OP_REM, OP_MOD } intdiv_op;

static int intdiv(const char *fn, intdiv_op op, dl_value *out, const dl_value *args)
{
	const dl_value *x = &args[0], *y = &args[1];
	DL_TRY(need_num(fn, x));
	DL_TRY(need_num(fn, y));
	if (x->type == DL_INT && y->type == DL_INT) {
		int64_t n = x->u.i, d = y->u.i, r;
		if (d == 0)
			return div_zero(fn);
		if (d == -1) { /* INT64_MIN / -1 traps in C */
			if (op == OP_QUOT) {
				if (n == INT64_MIN)
					return overflow(fn);
				*out = dl_int(-n);
			} else {
				*out = dl_int(0);
			}
			return 0;
		}
		if (op == OP_QUOT) {
			*out = dl_int(n / d);
			return 0;
		}
		r = n % d;
		if (op == OP_MOD && r != 0 && ((r < 0) != (d < 0)))
			r += d;
		*out = dl_int(r);
		return 0;
	}
	double n = dl_fn_to_double(x), d = dl_fn_to_double(y), r;
	if (d == 0)
		return div_zero(fn);
	if (op == OP_QUOT) {
		*out = dl_double(trunc(n / d));
		return 0;
	}
	r = fmod(n, d);
	if (op == OP_MOD && r != 0 && ((r < 0) != (d < 0)))
		r += d;
	*out = dl_double(r);
	return 0;
}

int dl_fn_quot(DL_FN_ARGS) { return intdiv("quot", OP_QUOT, out, args); }
int dl_fn_rem(DL_FN_ARGS) { return intdiv("rem", OP_REM, out, args); }
int dl_fn_mod(DL_FN_ARGS) { return intdiv("mod", OP_MOD, out, args); }

static int step1(const char *fn, dl_value *out, const dl_value *x, int64_t by)
{
	DL_TRY(need_num(fn, x));
	if (x->type == DL_DOUBLE) {
		*out = dl_double(x->u.d + (double)by);
		return 0;
	}
	int64_t r;
	if (__builtin_add_overflow(x->u.i, by, &r))
		return overflow(fn);
	*out = dl_int(r);
	return 0;
}

int dl_fn_inc(DL_FN_ARGS) { return step1("inc", out, &args[0], 1); }
int dl_fn_dec(DL_FN_ARGS) { return step1("dec", out, &args[0], -1); }

/* max/min return one of their arguments unchanged (so (max 1 2.0) is 2.0
 * and (max 3 2.0) is 3); ties keep the later one, and NaN wins, as in
 * Clojure. */
static int extreme(const char *fn, dl_value *out, const dl_value *args,
		   size_t nargs, int want)
{
	const dl_value *best = &args[0];
	DL_TRY(need_num(fn, best));
	bool nan = best->type == DL_DOUBLE && isnan(best->u.d);
	for (size_t i = 1; i < nargs; i++) {
		DL_TRY(need_num(fn, &args[i]));
		int c = dl_fn_numcmp(best, &args[i]);
		if (c == DL_FN_UNORDERED) {
			if (!nan)
				best = &args[i];
			nan = true;
		} else if (!nan && c != want) {
			best = &args[i];
		}
	}
	*out = *best;
	return 0;
}

int dl_fn_max(DL_FN_ARGS) { return extreme("max", out, args, nargs, 1); }
int dl_fn_min(DL_FN_ARGS) { return extreme("min", out, args, nargs, -1); }

int dl_fn_abs(DL_FN_ARGS)
{
	const dl_value *x = &args[0];
	DL_TRY(need_num("abs", x));
	if (x->type == DL_DOUBLE) {
		*out = dl_double(fabs(x->u.d));
		return 0;
	}
	if (x->u.i == INT64_MIN)
		return overflow("abs");
	*out = dl_int(x->u.i < 0 ? -x->u.i : x->u.i);
	return 0;
}

/* ---- numeric predicates -------------------------------------------------- */

static int sign_pred(const char *fn, dl_value *out, const dl_value *x, int want)
{
	DL_TRY(need_num(fn, x));
	if (x->type == DL_DOUBLE && isnan(x->u.d)) {
		*out = dl_bool(false); /* NaN is neither zero, positive nor negative */
		return 0;
	}
	int s = x->type == DL_INT ? (x->u.i > 0) - (x->u.i < 0)
				  : (x->u.d > 0) - (x->u.d < 0);
	*out = dl_bool(s == want);
	return 0;
}

int dl_fn_zero_p(DL_FN_ARGS) { return sign_pred("zero?", out, &args[0], 0); }
int dl_fn_pos_p(DL_FN_ARGS) { return sign_pred("pos?", out, &args[0], 1); }
int dl_fn_neg_p(DL_FN_ARGS) { return sign_pred("neg?", out, &args[0], -1); }

static int parity(const char *fn, dl_value *out, const dl_value *x, int want)
{
	if (x->type != DL_INT)
		return dl_fn_type_error(fn, "an integer", x);
	*out = dl_bool((int)(x->u.i & 1) == want);
	return 0;
}

int dl_fn_even_p(DL_FN_ARGS) { return parity("even?", out, &args[0], 0); }
int dl_fn_odd_p(DL_FN_ARGS) { return parity("odd?", out, &args[0], 1); }

/* ---- random numbers (deterministic given ctx->seed) ----------------------- */

static double unit_double(dl_fn_ctx *ctx)
{
	return (double)(dl_fn_ctx_rand(ctx) >> 11) * 0x1.0p-53;
}

int dl_fn_rand(DL_FN_ARGS)
{
	double scale = 1.0;
	if (nargs == 1) {
		DL_TRY(need_num("rand", &args[0]));
		scale = dl_fn_to_double(&args[0]);
	}
	*out = dl_double(unit_double(ctx) * scale);
	return 0;
}

/* (rand-int n): an int in [0, n), like Clojure; n <= 0 gives 0 there too
 * only by accident, so it is an error here. */
int dl_fn_rand_int(DL_FN_ARGS)
{
	const dl_value *n = &args[0];
	DL_TRY(need_num("rand-int", n));
	int64_t lim = n->type == DL_INT ? n->u.i : (int64_t)n->u.d;
	if (n->type == DL_DOUBLE && !(n->u.d >= 1 && n->u.d < 9.2e18))
		lim = 0;
	if (lim <= 0)
		return dl_error(DL_EINVAL, "rand-int: the bound must be positive");
	uint64_t st = dl_fn_ctx_rand(ctx);
	*out = dl_int((int64_t)dl_fn_below(&st, (uint64_t)lim));
	return 0;
}
