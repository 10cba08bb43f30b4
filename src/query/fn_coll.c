/*
 * Logic, collections, the database functions and instants.
 */
#include "fn_int.h"

#include <string.h>

/* ---- logic ---------------------------------------------------------------- */

int dl_fn_identity(DL_FN_ARGS)
{
	*out = args[0];
	return 0;
}

int dl_fn_nil_p(DL_FN_ARGS)
{
	*out = dl_bool(args[0].type == DL_NIL);
	return 0;
}

int dl_fn_some_p(DL_FN_ARGS)
{
	*out = dl_bool(args[0].type != DL_NIL);
	return 0;
}

int dl_fn_true_p(DL_FN_ARGS)
{
	*out = dl_bool(args[0].type == DL_BOOL && args[0].u.b);
	return 0;
}

int dl_fn_false_p(DL_FN_ARGS)
{
	*out = dl_bool(args[0].type == DL_BOOL && !args[0].u.b);
	return 0;
}

int dl_fn_not(DL_FN_ARGS)
{
	*out = dl_bool(!dl_truthy(&args[0]));
	return 0;
}

/* (and ...): the first falsy argument, else the last (true for none);
 * (or ...): the first truthy argument, else the last (nil for none).  As
 * functions, both see every argument already evaluated. */
int dl_fn_and(DL_FN_ARGS)
{
	*out = dl_bool(true);
	for (size_t i = 0; i < nargs; i++) {
		*out = args[i];
		if (!dl_truthy(&args[i]))
			break;
	}
	return 0;
}

int dl_fn_or(DL_FN_ARGS)
{
	*out = dl_nil();
	for (size_t i = 0; i < nargs; i++) {
		*out = args[i];
		if (dl_truthy(&args[i]))
			break;
	}
	return 0;
}

/* ---- collections ---------------------------------------------------------- */

static int make_seq(dl_value *out, dl_arena *a, dl_type t, const dl_value *args,
		    size_t nargs)
{
	if (nargs > UINT32_MAX)
		return dl_error(DL_ELIMIT, "too many items");
	dl_value *items = NULL;
	if (nargs) {
		items = DL_ARENA_NEW(a, nargs, dl_value);
		if (!items)
			return DL_ENOMEM;
		memcpy(items, args, nargs * sizeof *items);
	}
	*out = (dl_value){.type = (uint8_t)t, .len = (uint32_t)nargs, .u.items = items};
	return 0;
}

/* vector and tuple: a vector of the arguments (items shallow-copied, so
 * strings inside still borrow from the arguments). */
int dl_fn_vector(DL_FN_ARGS) { return make_seq(out, a, DL_VECTOR, args, nargs); }
int dl_fn_list(DL_FN_ARGS) { return make_seq(out, a, DL_LIST, args, nargs); }

/* untuple: its tuple argument, for the executor to bind [[?a ?b]]. */
int dl_fn_untuple(DL_FN_ARGS)
{
	if (args[0].type != DL_VECTOR && args[0].type != DL_LIST)
		return dl_fn_type_error("untuple", "a tuple", &args[0]);
	*out = args[0];
	return 0;
}

/* The code point at index k of a string, if there is one. */
static bool char_at(const dl_value *s, int64_t k, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s->u.s;
	size_t i = 0, n = s->len;
	if (k < 0)
		return false;
	for (; k > 0 && i < n; k--) {
		do
			i++;
		while (i < n && (p[i] & 0xC0) == 0x80);
	}
	if (i >= n)
		return false;
	uint32_t c = p[i];
	size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
	if (len > n - i)
		len = 1;
	if (len > 1) {
		c &= 0x3F >> (len - 1);
		for (size_t j = 1; j < len; j++)
			c = (c << 6) | (p[i + j] & 0x3F);
	}
	*cp = c;
	return true;
}

/* Where `key` sits in coll (map entry index, set item, vector index); a
 * pointer to the found value, or NULL. */
static const dl_value *lookup(const dl_value *coll, const dl_value *key)
{
	switch (coll->type) {
	case DL_MAP:
		for (uint32_t i = 0; i < coll->len; i++)
			if (dl_value_equal(&coll->u.items[2 * i], key))
				return &coll->u.items[2 * i + 1];
		return NULL;
	case DL_SET:
		for (uint32_t i = 0; i < coll->len; i++)
			if (dl_value_equal(&coll->u.items[i], key))
				return &coll->u.items[i];
		return NULL;
	case DL_VECTOR:
		if (key->type == DL_INT && key->u.i >= 0 && key->u.i < coll->len)
			return &coll->u.items[key->u.i];
		return NULL;
	default:
		return NULL;
	}
}

/* (get coll key [default]): maps by key, sets by item, vectors and strings
 * by index; anything else has nothing to get, so the default (as in
 * Clojure). */
int dl_fn_get(DL_FN_ARGS)
{
	const dl_value *coll = &args[0], *key = &args[1];
	const dl_value *v = lookup(coll, key);
	uint32_t cp;
	if (v)
		*out = *v;
	else if (coll->type == DL_STRING && key->type == DL_INT && char_at(coll, key->u.i, &cp))
		*out = dl_char(cp);
	else
		*out = nargs == 3 ? args[2] : dl_nil();
	return 0;
}

int dl_fn_contains_p(DL_FN_ARGS)
{
	const dl_value *coll = &args[0], *key = &args[1];
	uint32_t cp;
	switch (coll->type) {
	case DL_NIL:
		*out = dl_bool(false);
		return 0;
	case DL_MAP:
	case DL_SET:
	case DL_VECTOR:
		*out = dl_bool(lookup(coll, key) != NULL);
		return 0;
	case DL_STRING:
		*out = dl_bool(key->type == DL_INT && char_at(coll, key->u.i, &cp));
		return 0;
	default:
		return dl_error(DL_ETYPE, "contains?: not supported on %s",
				dl_fn_type_name(coll));
	}
}

int dl_fn_empty_p(DL_FN_ARGS)
{
	const dl_value *v = &args[0];
	switch (v->type) {
	case DL_NIL:
		*out = dl_bool(true);
		return 0;
	case DL_STRING:
	case DL_BYTES:
	case DL_VECTOR:
	case DL_LIST:
	case DL_SET:
	case DL_MAP:
		*out = dl_bool(v->len == 0);
		return 0;
	default:
		return dl_error(DL_ETYPE, "empty?: not supported on %s", dl_fn_type_name(v));
	}
}

/* ---- database functions ------------------------------------------------------ */

static int need_db(const char *fn, const dl_fn_ctx *ctx)
{
	if (!ctx || !ctx->attr_value)
		return dl_error(DL_EINVAL, "%s: no database to read", fn);
	return 0;
}

/* (get-else $ ?e :attr default): the attribute's value, or the default.
 * A nil default is refused, as in Datomic and DataScript: it could never
 * bind. */
int dl_fn_get_else(DL_FN_ARGS)
{
	if (args[2].type == DL_NIL)
		return dl_error(DL_EINVAL, "get-else: nil default value is not supported");
	DL_TRY(need_db("get-else", ctx));
	bool found = false;
	dl_value v;
	DL_TRY(ctx->attr_value(ctx->db, &args[0], &args[1], false, &v, &found, a));
	*out = found ? v : args[2];
	return 0;
}

/* (get-some $ ?e :a1 :a2 ...): [attr value] for the first attribute the
 * entity has, else nil (so the clause binds nothing).  The attribute comes
 * back as written in the query. */
int dl_fn_get_some(DL_FN_ARGS)
{
	DL_TRY(need_db("get-some", ctx));
	for (size_t i = 1; i < nargs; i++) {
		bool found = false;
		dl_value v;
		DL_TRY(ctx->attr_value(ctx->db, &args[0], &args[i], false, &v, &found, a));
		if (!found)
			continue;
		dl_value *items = DL_ARENA_NEW(a, 2, dl_value);
		if (!items)
			return DL_ENOMEM;
		items[0] = args[i];
		items[1] = v;
		*out = (dl_value){.type = DL_VECTOR, .len = 2, .u.items = items};
		return 0;
	}
	*out = dl_nil();
	return 0;
}

int dl_fn_missing_p(DL_FN_ARGS)
{
	DL_TRY(need_db("missing?", ctx));
	bool found = false;
	dl_value v;
	DL_TRY(ctx->attr_value(ctx->db, &args[0], &args[1], true, &v, &found, a));
	*out = dl_bool(!found);
	return 0;
}

/* ---- instants (UTC) ------------------------------------------------------------ */

/* An instant's day since the epoch and millisecond of that day (floor
 * division, so 1969-12-31T23:59:59.999Z, -1 ms, is day -1 at 86399999). */
static int inst_split(const char *fn, const dl_value *v, int64_t *days, int64_t *ms)
{
	if (v->type != DL_INST)
		return dl_fn_type_error(fn, "an instant", v);
	*days = v->u.i / 86400000;
	*ms = v->u.i % 86400000;
	if (*ms < 0) {
		*ms += 86400000;
		(*days)--;
	}
	return 0;
}

typedef struct civil {
	int64_t year;
	unsigned month, day;
} civil;

/* The date of an instant.  Rows come in time order, many to a day: the
 * last day's date is kept (per thread) so most calls skip the calendar
 * arithmetic. */
static int inst_date(const char *fn, const dl_value *v, civil *c)
{
	int64_t days = 0, ms = 0;
	DL_TRY(inst_split(fn, v, &days, &ms));
	static _Thread_local int64_t last_days = INT64_MIN;
	static _Thread_local civil last;
	if (days != last_days) {
		dl_fn_civil_from_days(days, &last.year, &last.month, &last.day);
		last_days = days;
	}
	*c = last;
	return 0;
}

#define INST_DATE_FIELD(fname, sym, field)                                     \
	int fname(DL_FN_ARGS)                                                  \
	{                                                                      \
		civil c;                                                       \
		DL_TRY(inst_date(sym, &args[0], &c));                          \
		*out = dl_int((int64_t)c.field);                               \
		return 0;                                                      \
	}

/* hour, minute and second read the time of day only */
#define INST_TIME_FIELD(fname, sym, expr)                                      \
	int fname(DL_FN_ARGS)                                                  \
	{                                                                      \
		int64_t days = 0, ms = 0;                                      \
		DL_TRY(inst_split(sym, &args[0], &days, &ms));                 \
		*out = dl_int(expr);                                           \
		return 0;                                                      \
	}

INST_DATE_FIELD(dl_fn_year, "year", year)
INST_DATE_FIELD(dl_fn_month, "month", month)
INST_DATE_FIELD(dl_fn_day, "day", day)
INST_TIME_FIELD(dl_fn_hour, "hour", ms / 3600000)
INST_TIME_FIELD(dl_fn_minute, "minute", ms / 60000 % 60)
INST_TIME_FIELD(dl_fn_second, "second", ms / 1000 % 60)

int dl_fn_inst_ms(DL_FN_ARGS)
{
	if (args[0].type != DL_INST)
		return dl_fn_type_error("inst-ms", "an instant", &args[0]);
	*out = dl_int(args[0].u.i);
	return 0;
}
