/*
 * The builtins' private half: helpers shared by fn_*.c and the function
 * implementations the registry in builtins.c points at.
 */
#ifndef DL_QUERY_FN_INT_H
#define DL_QUERY_FN_INT_H

#include "builtins.h"

#define DL_FN_ARGS                                                             \
	dl_value *out, dl_arena *a, const dl_value *args, size_t nargs,        \
		dl_fn_ctx *ctx

/* "int", "string"... for messages. */
const char *dl_fn_type_name(const dl_value *v);
/* DL_ETYPE "<fn>: expected <what>, got <type of v>". */
int dl_fn_type_error(const char *fn, const char *what, const dl_value *v);

static inline bool dl_fn_is_num(const dl_value *v)
{
	return v->type == DL_INT || v->type == DL_DOUBLE;
}

static inline double dl_fn_to_double(const dl_value *v)
{
	return v->type == DL_INT ? (double)v->u.i : v->u.d;
}

/* Numeric comparison of two numbers, exact across int and double:
 * -1, 0, 1, or DL_FN_UNORDERED when either is NaN.  -0.0 == 0.0. */
#define DL_FN_UNORDERED 2
int dl_fn_numcmp(const dl_value *x, const dl_value *y);
/* Query `=` on two values (fn_num.c): numbers by numeric value, refs equal
 * ints with the same id, otherwise dl_value_equal. */
bool dl_fn_query_equal(const dl_value *x, const dl_value *y);

/* The `/` rule on two numbers: ints that divide exactly give an int,
 * otherwise a double; dividing by zero is an error. */
int dl_fn_divide(const char *fn, dl_value *out, const dl_value *x, const dl_value *y);

/* Append what Clojure's `str` makes of v. */
int dl_fn_str_append(dl_buf *b, const dl_value *v);

/* Days since 1970-01-01 to a proleptic Gregorian date, and back. */
void dl_fn_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
int64_t dl_fn_days_from_civil(int64_t y, unsigned m, unsigned d);

/* splitmix64: the deterministic generator behind rand and sample. */
static inline uint64_t dl_fn_splitmix(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* A uniform integer in [0, n), n > 0 (Lemire's multiply-shift; the bias is
 * below 2^-40 for any n a query sees). */
static inline uint64_t dl_fn_below(uint64_t *state, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)dl_fn_splitmix(state) * n) >> 64);
}

/* The next random 64-bit number from the context's stream (seeded from
 * ctx->seed on first use); a fixed stream when ctx is NULL. */
uint64_t dl_fn_ctx_rand(dl_fn_ctx *ctx);

/* ---- implementations (one per registry entry) ---- */

/* fn_num.c */
int dl_fn_eq(DL_FN_ARGS);
int dl_fn_neq(DL_FN_ARGS);
int dl_fn_numeq(DL_FN_ARGS);
int dl_fn_lt(DL_FN_ARGS);
int dl_fn_le(DL_FN_ARGS);
int dl_fn_gt(DL_FN_ARGS);
int dl_fn_ge(DL_FN_ARGS);
int dl_fn_compare(DL_FN_ARGS);
int dl_fn_add(DL_FN_ARGS);
int dl_fn_sub(DL_FN_ARGS);
int dl_fn_mul(DL_FN_ARGS);
int dl_fn_div(DL_FN_ARGS);
int dl_fn_quot(DL_FN_ARGS);
int dl_fn_rem(DL_FN_ARGS);
int dl_fn_mod(DL_FN_ARGS);
int dl_fn_inc(DL_FN_ARGS);
int dl_fn_dec(DL_FN_ARGS);
int dl_fn_max(DL_FN_ARGS);
int dl_fn_min(DL_FN_ARGS);
int dl_fn_abs(DL_FN_ARGS);
int dl_fn_zero_p(DL_FN_ARGS);
int dl_fn_pos_p(DL_FN_ARGS);
int dl_fn_neg_p(DL_FN_ARGS);
int dl_fn_even_p(DL_FN_ARGS);
int dl_fn_odd_p(DL_FN_ARGS);
int dl_fn_rand(DL_FN_ARGS);
int dl_fn_rand_int(DL_FN_ARGS);

/* fn_str.c */
int dl_fn_str(DL_FN_ARGS);
int dl_fn_subs(DL_FN_ARGS);
int dl_fn_count(DL_FN_ARGS);
int dl_fn_starts_with(DL_FN_ARGS);
int dl_fn_ends_with(DL_FN_ARGS);
int dl_fn_includes(DL_FN_ARGS);
int dl_fn_blank_p(DL_FN_ARGS);
int dl_fn_lower_case(DL_FN_ARGS);
int dl_fn_upper_case(DL_FN_ARGS);
int dl_fn_trim(DL_FN_ARGS);
int dl_fn_name(DL_FN_ARGS);
int dl_fn_namespace(DL_FN_ARGS);
int dl_fn_keyword(DL_FN_ARGS);

/* fn_re.c */
int dl_fn_re_find(DL_FN_ARGS);
int dl_fn_re_matches(DL_FN_ARGS);
int dl_fn_re_seq(DL_FN_ARGS);
int dl_fn_re_pattern(DL_FN_ARGS);

/* fn_coll.c */
int dl_fn_identity(DL_FN_ARGS);
int dl_fn_nil_p(DL_FN_ARGS);
int dl_fn_some_p(DL_FN_ARGS);
int dl_fn_true_p(DL_FN_ARGS);
int dl_fn_false_p(DL_FN_ARGS);
int dl_fn_not(DL_FN_ARGS);
int dl_fn_and(DL_FN_ARGS);
int dl_fn_or(DL_FN_ARGS);
int dl_fn_vector(DL_FN_ARGS);
int dl_fn_list(DL_FN_ARGS);
int dl_fn_untuple(DL_FN_ARGS);
int dl_fn_get(DL_FN_ARGS);
int dl_fn_contains_p(DL_FN_ARGS);
int dl_fn_empty_p(DL_FN_ARGS);
int dl_fn_get_else(DL_FN_ARGS);
int dl_fn_get_some(DL_FN_ARGS);
int dl_fn_missing_p(DL_FN_ARGS);
int dl_fn_year(DL_FN_ARGS);
int dl_fn_month(DL_FN_ARGS);
int dl_fn_day(DL_FN_ARGS);
int dl_fn_hour(DL_FN_ARGS);
int dl_fn_minute(DL_FN_ARGS);
int dl_fn_second(DL_FN_ARGS);
int dl_fn_inst_ms(DL_FN_ARGS);

#endif
