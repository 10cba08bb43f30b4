/*
 * The registries of query functions and aggregates: sorted static tables
 * searched by binary search, so a lookup takes no lock and allocates
 * nothing.  Also the function context and the helpers fn_*.c share.
 */
#include "fn_int.h"

#include <string.h>

#define P DL_BI_PREDICATE
#define DB DL_BI_NEEDS_DB
#define PU DL_BI_PURE
#define V (-1) /* variadic */

/* Sorted by name in byte order (tests/unit/test_builtins.c checks). */
static const dl_builtin k_builtins[] = {
	{"!=", dl_fn_neq, 1, V, P | PU},
	{"*", dl_fn_mul, 0, V, PU},
	{"+", dl_fn_add, 0, V, PU},
	{"-", dl_fn_sub, 1, V, PU},
	{"/", dl_fn_div, 1, V, PU},
	{"<", dl_fn_lt, 1, V, P | PU},
	{"<=", dl_fn_le, 1, V, P | PU},
	{"=", dl_fn_eq, 1, V, P | PU},
	{"==", dl_fn_numeq, 1, V, P | PU},
	{">", dl_fn_gt, 1, V, P | PU},
	{">=", dl_fn_ge, 1, V, P | PU},
	{"abs", dl_fn_abs, 1, 1, PU},
	{"and", dl_fn_and, 0, V, PU},
	{"clojure.string/blank?", dl_fn_blank_p, 1, 1, P | PU},
	{"clojure.string/ends-with?", dl_fn_ends_with, 2, 2, P | PU},
	{"clojure.string/includes?", dl_fn_includes, 2, 2, P | PU},
	{"clojure.string/lower-case", dl_fn_lower_case, 1, 1, PU},
	{"clojure.string/starts-with?", dl_fn_starts_with, 2, 2, P | PU},
	{"clojure.string/trim", dl_fn_trim, 1, 1, PU},
	{"clojure.string/upper-case", dl_fn_upper_case, 1, 1, PU},
	{"compare", dl_fn_compare, 2, 2, PU},
	{"contains?", dl_fn_contains_p, 2, 2, P | PU},
	{"count", dl_fn_count, 1, 1, PU},
	{"day", dl_fn_day, 1, 1, PU},
	{"dec", dl_fn_dec, 1, 1, PU},
	{"empty?", dl_fn_empty_p, 1, 1, P | PU},
	{"even?", dl_fn_even_p, 1, 1, P | PU},
	{"false?", dl_fn_false_p, 1, 1, P | PU},
	{"get", dl_fn_get, 2, 3, PU},
	{"get-else", dl_fn_get_else, 3, 3, DB},
	{"get-some", dl_fn_get_some, 2, V, DB},
	{"ground", dl_fn_identity, 1, 1, PU},
	{"hour", dl_fn_hour, 1, 1, PU},
	{"identity", dl_fn_identity, 1, 1, PU},
	{"inc", dl_fn_inc, 1, 1, PU},
	{"inst-ms", dl_fn_inst_ms, 1, 1, PU},
	{"keyword", dl_fn_keyword, 1, 2, PU},
	{"list", dl_fn_list, 0, V, PU},
	{"max", dl_fn_max, 1, V, PU},
	{"min", dl_fn_min, 1, V, PU},
	{"minute", dl_fn_minute, 1, 1, PU},
	{"missing?", dl_fn_missing_p, 2, 2, P | DB},
	{"mod", dl_fn_mod, 2, 2, PU},
	{"month", dl_fn_month, 1, 1, PU},
	{"name", dl_fn_name, 1, 1, PU},
	{"namespace", dl_fn_namespace, 1, 1, PU},
	{"neg?", dl_fn_neg_p, 1, 1, P | PU},
	{"nil?", dl_fn_nil_p, 1, 1, P | PU},
	{"not", dl_fn_not, 1, 1, P | PU},
	{"not=", dl_fn_neq, 1, V, P | PU},
	{"odd?", dl_fn_odd_p, 1, 1, P | PU},
	{"or", dl_fn_or, 0, V, PU},
	{"pos?", dl_fn_pos_p, 1, 1, P | PU},
	{"quot", dl_fn_quot, 2, 2, PU},
	{"rand", dl_fn_rand, 0, 1, 0},
	{"rand-int", dl_fn_rand_int, 1, 1, 0},
	{"re-find", dl_fn_re_find, 2, 2, PU},
	{"re-matches", dl_fn_re_matches, 2, 2, PU},
	{"re-pattern", dl_fn_re_pattern, 1, 1, PU},
	{"re-seq", dl_fn_re_seq, 2, 2, PU},
	{"rem", dl_fn_rem, 2, 2, PU},
	{"second", dl_fn_second, 1, 1, PU},
	{"some?", dl_fn_some_p, 1, 1, P | PU},
	{"str", dl_fn_str, 0, V, PU},
	{"subs", dl_fn_subs, 2, 3, PU},
	{"true?", dl_fn_true_p, 1, 1, P | PU},
	{"tuple", dl_fn_vector, 1, V, PU},
	{"untuple", dl_fn_untuple, 1, 1, PU},
	{"vector", dl_fn_vector, 0, V, PU},
	{"year", dl_fn_year, 1, 1, PU},
	{"zero?", dl_fn_zero_p, 1, 1, P | PU},
};

#undef P
#undef DB
#undef PU
#undef V

#define COUNT(t) (sizeof(t) / sizeof((t)[0]))

/* Byte order with a proper prefix first: strcmp's order for names. */
static int name_cmp(const char *entry, const char *name, size_t n)
{
	size_t m = strlen(entry);
	int c = memcmp(entry, name, m < n ? m : n);
	if (c)
		return c;
	return (m > n) - (m < n);
}

const dl_builtin *dl_builtin_find(const char *name, size_t n)
{
	size_t lo = 0, hi = COUNT(k_builtins);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(k_builtins[mid].name, name, n);
		if (c == 0)
			return &k_builtins[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const dl_builtin *dl_builtin_table(size_t *n)
{
	*n = COUNT(k_builtins);
	return k_builtins;
}

char dl_builtin_int_cmp(const dl_builtin *b)
{
	static const struct {
		dl_fn fn;
		char op;
	} k[] = {{dl_fn_eq, '='}, {dl_fn_numeq, '='}, {dl_fn_neq, '!'}, {dl_fn_lt, '<'},
		 {dl_fn_le, 'l'},  {dl_fn_gt, '>'},    {dl_fn_ge, 'g'}};
	for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
		if (b->fn == k[i].fn)
			return k[i].op;
	return 0;
}

int dl_builtin_check_arity(const dl_builtin *b, size_t nargs)
{
	if (nargs >= (size_t)b->min_args &&
	    (b->max_args < 0 || nargs <= (size_t)b->max_args))
		return 0;
	if (b->max_args < 0)
		return dl_error(DL_EINVAL,
				"%s: wrong number of arguments (%zu), expected at least %d",
				b->name, nargs, b->min_args);
	if (b->min_args == b->max_args)
		return dl_error(DL_EINVAL,
				"%s: wrong number of arguments (%zu), expected %d",
				b->name, nargs, b->min_args);
	return dl_error(DL_EINVAL,
			"%s: wrong number of arguments (%zu), expected %d to %d",
			b->name, nargs, b->min_args, b->max_args);
}

int dl_builtin_call(const dl_builtin *b, dl_value *out, dl_arena *a,
		    const dl_value *args, size_t nargs, dl_fn_ctx *ctx)
{
	DL_TRY(dl_builtin_check_arity(b, nargs));
	return b->fn(out, a, args, nargs, ctx);
}

/* ---- the context ------------------------------------------------------- */

void dl_fn_ctx_init(dl_fn_ctx *ctx)
{
	memset(ctx, 0, sizeof *ctx);
}

void dl_fn_ctx_fini(dl_fn_ctx *ctx)
{
	for (size_t i = 0; i < DL_FN_RE_CACHE; i++) {
		dl_fn_re_slot *s = &ctx->re[i];
		if (s->pattern) {
			regfree(&s->re);
			dl_free(s->pattern);
			s->pattern = NULL;
		}
	}
	dl_buf_free(&ctx->scratch);
}

uint64_t dl_fn_ctx_rand(dl_fn_ctx *ctx)
{
	static _Thread_local uint64_t t_state = 0x5DEECE66Dull;
	if (!ctx)
		return dl_fn_splitmix(&t_state);
	if (!ctx->rng_started) {
		ctx->rng = ctx->seed;
		ctx->rng_started = true;
	}
	return dl_fn_splitmix(&ctx->rng);
}

/* ---- shared helpers ---------------------------------------------------- */

static const char *const k_type_names[DL_TYPE_COUNT] = {
	[DL_NIL] = "nil",         [DL_BOOL] = "boolean",  [DL_INT] = "int",
	[DL_DOUBLE] = "double",   [DL_INST] = "instant",  [DL_STRING] = "string",
	[DL_KEYWORD] = "keyword", [DL_SYMBOL] = "symbol", [DL_UUID] = "uuid",
	[DL_BYTES] = "bytes",     [DL_REF] = "ref",       [DL_CHAR] = "char",
	[DL_VECTOR] = "vector",   [DL_LIST] = "list",     [DL_SET] = "set",
	[DL_MAP] = "map",
};

const char *dl_fn_type_name(const dl_value *v)
{
	return v->type < DL_TYPE_COUNT ? k_type_names[v->type] : "?";
}

int dl_fn_type_error(const char *fn, const char *what, const dl_value *v)
{
	return dl_error(DL_ETYPE, "%s: expected %s, got %s", fn, what,
			dl_fn_type_name(v));
}

/* Howard Hinnant's days-from-civil algorithms: exact for the whole int64
 * range of days a millisecond instant can reach, pre-1970 included, and
 * independent of the C library's time zone handling. */
void dl_fn_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	uint64_t doe = (uint64_t)(z - era * 146097);
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	uint64_t mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int64_t dl_fn_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	uint64_t yoe = (uint64_t)(y - era * 400);
	uint64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	uint64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}
