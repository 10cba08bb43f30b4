/*
 * String functions: str, subs, count, clojure.string/..., name, namespace,
 * keyword.
 *
 * Text is UTF-8.  Where Clojure counts UTF-16 code units (count, subs
 * indices), datalite counts code points: the two agree except for
 * characters outside the Basic Multilingual Plane (emoji...), which count
 * as one here and two on the JVM.
 */
#include "fn_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 ----------------------------------------------------------------- */

/* Decode the code point at s[i..n); returns its length in bytes.  A
 * malformed byte decodes as itself, one byte long, so every input has a
 * defined result. */
static size_t utf8_decode(const unsigned char *s, size_t n, size_t i, uint32_t *cp)
{
	unsigned char b = s[i];
	size_t len;
	uint32_t c;
	if (b < 0x80) {
		*cp = b;
		return 1;
	} else if (b >= 0xC2 && b < 0xE0) {
		len = 2;
		c = b & 0x1F;
	} else if (b >= 0xE0 && b < 0xF0) {
		len = 3;
		c = b & 0x0F;
	} else if (b >= 0xF0 && b < 0xF5) {
		len = 4;
		c = b & 0x07;
	} else {
		*cp = b;
		return 1;
	}
	if (n - i < len)
		goto bad;
	for (size_t k = 1; k < len; k++) {
		if ((s[i + k] & 0xC0) != 0x80)
			goto bad;
		c = (c << 6) | (s[i + k] & 0x3F);
	}
	*cp = c;
	return len;
bad:
	*cp = b;
	return 1;
}

static size_t utf8_encode(char *out, uint32_t c)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xC0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xE0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		out[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	out[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

/* Code points in s: the bytes that do not continue a sequence. */
static size_t utf8_count(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += ((unsigned char)s[i] & 0xC0) != 0x80;
	return k;
}

/* Java's Character.isWhitespace (which clojure.string uses): ASCII
 * controls \t..\r and FS..US, space, and the Unicode space separators
 * except the no-break ones. */
static bool is_space(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x2006) || (c >= 0x2008 && c <= 0x200A) ||
	       c == 0x2028 || c == 0x2029 || c == 0x205F || c == 0x3000;
}

/* ---- str ------------------------------------------------------------------- */

/* Java's Double.toString: the shortest digits that read back as d, in plain
 * notation for 1e-3 <= |d| < 1e7 and as d.dddE±x otherwise; always at
 * least one digit after the point ("1.0", "1.0E10"). */
static int put_double(dl_buf *b, double d, bool bigdec)
{
	if (isnan(d))
		return dl_buf_puts(b, "NaN");
	if (isinf(d))
		return dl_buf_puts(b, d < 0 ? "-Infinity" : "Infinity");
	if (d == 0)
		return dl_buf_puts(b, signbit(d) ? "-0.0" : "0.0");
	char tmp[40], digits[24];
	int exp10 = 0;
	for (int p = 1; p <= 17; p++) {
		snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
		if (strtod(tmp, NULL) == d || p == 17)
			break;
	}
	/* tmp is "-d.ddde+XX": gather the digits and the exponent */
	size_t nd = 0;
	const char *q = tmp;
	if (*q == '-')
		q++;
	for (; *q && *q != 'e'; q++)
		if (*q >= '0' && *q <= '9')
			digits[nd++] = *q;
	if (*q == 'e')
		exp10 = atoi(q + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = 0;
	if (d < 0)
		DL_TRY(dl_buf_puts(b, "-"));
	double ad = fabs(d);
	if (ad >= 1e-3 && ad < 1e7) {
		if (exp10 >= 0) {
			for (int i = 0; i <= exp10; i++)
				DL_TRY(dl_buf_append(b, i < (int)nd ? &digits[i] : "0", 1));
			DL_TRY(dl_buf_puts(b, "."));
			if ((int)nd > exp10 + 1)
				DL_TRY(dl_buf_append(b, digits + exp10 + 1, nd - (size_t)exp10 - 1));
			else
				DL_TRY(dl_buf_puts(b, "0"));
		} else {
			DL_TRY(dl_buf_puts(b, "0."));
			for (int i = 0; i < -exp10 - 1; i++)
				DL_TRY(dl_buf_puts(b, "0"));
			DL_TRY(dl_buf_append(b, digits, nd));
		}
		/* BigDecimal prints no ".0" for whole numbers: (str 2M) is "2" */
		if (bigdec && b->len >= 2 && memcmp(b->data + b->len - 2, ".0", 2) == 0)
			b->len -= 2;
		return 0;
	}
	DL_TRY(dl_buf_append(b, digits, 1));
	DL_TRY(dl_buf_puts(b, "."));
	DL_TRY(dl_buf_append(b, nd > 1 ? digits + 1 : "0", nd > 1 ? nd - 1 : 1));
	return dl_buf_printf(b, "E%d", exp10);
}

static int put_inst(dl_buf *b, int64_t ms)
{
	int64_t days = ms / 86400000, rest = ms % 86400000;
	if (rest < 0) {
		rest += 86400000;
		days--;
	}
	int64_t y;
	unsigned mo, d;
	dl_fn_civil_from_days(days, &y, &mo, &d);
	return dl_buf_printf(b, "%s%04" PRId64 "-%02u-%02uT%02u:%02u:%02u.%03uZ",
			     y < 0 ? "-" : "", y < 0 ? -y : y, mo, d,
			     (unsigned)(rest / 3600000), (unsigned)(rest / 60000 % 60),
			     (unsigned)(rest / 1000 % 60), (unsigned)(rest % 1000));
}

/* Clojure's str of one value: strings raw, nil as nothing, keywords with
 * their colon, numbers as Java prints them, characters as themselves;
 * instants in ISO 8601 UTC (the JVM would print Date.toString in the local
 * zone), uuids bare; collections and bytes as their EDN text. */
int dl_fn_str_append(dl_buf *b, const dl_value *v)
{
	switch ((dl_type)v->type) {
	case DL_NIL:
		return 0;
	case DL_STRING:
		return dl_buf_append(b, v->u.s, v->len);
	case DL_BOOL:
		return dl_buf_puts(b, v->u.b ? "true" : "false");
	case DL_INT:
	case DL_REF:
		return dl_buf_printf(b, "%" PRId64, v->u.i);
	case DL_DOUBLE:
		return put_double(b, v->u.d, v->flags & DL_VF_BIGDEC);
	case DL_INST:
		return put_inst(b, v->u.i);
	case DL_KEYWORD:
	case DL_SYMBOL: {
		size_t n, ns;
		const char *s = dl_intern_name(v->u.id, &n, &ns);
		if (v->type == DL_KEYWORD)
			DL_TRY(dl_buf_puts(b, ":"));
		return dl_buf_append(b, s ? s : "", s ? n : 0);
	}
	case DL_CHAR: {
		char tmp[4];
		return dl_buf_append(b, tmp, utf8_encode(tmp, v->u.cp));
	}
	case DL_UUID: {
		const uint8_t *u = v->u.uuid;
		return dl_buf_printf(b,
				     "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
				     "%02x%02x%02x%02x%02x%02x",
				     u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8],
				     u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	}
	default:
		return dl_edn_print(b, v);
	}
}

/* Copy the buffer's bytes into the arena as a string value. */
static int buf_to_string(dl_value *out, dl_arena *a, const dl_buf *b)
{
	char *s = dl_arena_alloc(a, b->len ? b->len : 1);
	if (!s)
		return DL_ENOMEM;
	if (b->len)
		memcpy(s, b->data, b->len);
	*out = dl_string(s, b->len);
	return 0;
}

int dl_fn_str(DL_FN_ARGS)
{
	/* Common cases first: one string is itself, only strings and nils
	 * concatenate straight into the arena. */
	size_t total = 0;
	bool plain = true;
	for (size_t i = 0; i < nargs && plain; i++) {
		if (args[i].type == DL_STRING)
			total += args[i].len;
		else if (args[i].type != DL_NIL)
			plain = false;
	}
	if (plain) {
		if (nargs == 1 && args[0].type == DL_STRING) {
			*out = args[0];
			return 0;
		}
		if (total == 0) {
			*out = dl_string("", 0);
			return 0;
		}
		if (total > UINT32_MAX)
			return dl_error(DL_ELIMIT, "str: result too long");
		char *s = dl_arena_alloc(a, total);
		if (!s)
			return DL_ENOMEM;
		size_t at = 0;
		for (size_t i = 0; i < nargs; i++)
			if (args[i].type == DL_STRING && args[i].len) {
				memcpy(s + at, args[i].u.s, args[i].len);
				at += args[i].len;
			}
		*out = dl_string(s, total);
		return 0;
	}
	dl_buf local = DL_BUF_INIT, *b = ctx ? &ctx->scratch : &local;
	b->len = 0;
	int rc = 0;
	for (size_t i = 0; i < nargs && rc == 0; i++)
		rc = dl_fn_str_append(b, &args[i]);
	if (rc == 0 && b->len > UINT32_MAX)
		rc = dl_error(DL_ELIMIT, "str: result too long");
	if (rc == 0)
		rc = buf_to_string(out, a, b);
	dl_buf_free(&local);
	return rc;
}

/* ---- subs, count ------------------------------------------------------------ */

/* Byte offset of code point number k, or SIZE_MAX past the end. */
static size_t cp_offset(const char *s, size_t n, int64_t k)
{
	size_t i = 0;
	for (; k > 0; k--) {
		if (i >= n)
			return SIZE_MAX;
		do
			i++;
		while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80);
	}
	return i;
}

/* (subs s start) and (subs s start end), code point indices; the result
 * borrows s's bytes. */
int dl_fn_subs(DL_FN_ARGS)
{
	const dl_value *s = &args[0];
	if (s->type != DL_STRING)
		return dl_fn_type_error("subs", "a string", s);
	for (size_t i = 1; i < nargs; i++)
		if (args[i].type != DL_INT)
			return dl_fn_type_error("subs", "an int index", &args[i]);
	int64_t start = args[1].u.i;
	size_t from = start >= 0 ? cp_offset(s->u.s, s->len, start) : SIZE_MAX;
	size_t to = s->len;
	if (nargs == 3) {
		int64_t end = args[2].u.i;
		to = end >= start ? cp_offset(s->u.s, s->len, end) : SIZE_MAX;
	}
	if (from == SIZE_MAX || to == SIZE_MAX)
		return dl_error(DL_EINVAL, "subs: index out of range (string of %zu characters)",
				utf8_count(s->u.s, s->len));
	*out = dl_string(s->u.s + from, to - from);
	return 0;
}

/* count: characters of a string, items of a collection, entries of a
 * map, bytes of a byte array; nil has 0. */
int dl_fn_count(DL_FN_ARGS)
{
	const dl_value *v = &args[0];
	switch (v->type) {
	case DL_NIL:
		*out = dl_int(0);
		return 0;
	case DL_STRING:
		*out = dl_int((int64_t)utf8_count(v->u.s, v->len));
		return 0;
	case DL_BYTES:
	case DL_VECTOR:
	case DL_LIST:
	case DL_SET:
	case DL_MAP:
		*out = dl_int(v->len);
		return 0;
	default:
		return dl_error(DL_ETYPE, "count: not supported on %s", dl_fn_type_name(v));
	}
}

/* ---- clojure.string ---------------------------------------------------------- */

static int two_strings(const char *fn, const dl_value *args)
{
	if (args[0].type != DL_STRING)
		return dl_fn_type_error(fn, "a string", &args[0]);
	if (args[1].type != DL_STRING)
		return dl_fn_type_error(fn, "a string", &args[1]);
	return 0;
}

int dl_fn_starts_with(DL_FN_ARGS)
{
	DL_TRY(two_strings("clojure.string/starts-with?", args));
	const dl_value *s = &args[0], *p = &args[1];
	*out = dl_bool(p->len <= s->len && (!p->len || memcmp(s->u.s, p->u.s, p->len) == 0));
	return 0;
}

int dl_fn_ends_with(DL_FN_ARGS)
{
	DL_TRY(two_strings("clojure.string/ends-with?", args));
	const dl_value *s = &args[0], *p = &args[1];
	*out = dl_bool(p->len <= s->len &&
		       (!p->len || memcmp(s->u.s + s->len - p->len, p->u.s, p->len) == 0));
	return 0;
}

int dl_fn_includes(DL_FN_ARGS)
{
	DL_TRY(two_strings("clojure.string/includes?", args));
	const dl_value *s = &args[0], *p = &args[1];
	*out = dl_bool(!p->len || (s->len && memmem(s->u.s, s->len, p->u.s, p->len)));
	return 0;
}

int dl_fn_blank_p(DL_FN_ARGS)
{
	const dl_value *s = &args[0];
	if (s->type == DL_NIL) {
		*out = dl_bool(true);
		return 0;
	}
	if (s->type != DL_STRING)
		return dl_fn_type_error("clojure.string/blank?", "a string", s);
	const unsigned char *p = (const unsigned char *)s->u.s;
	bool blank = true;
	for (size_t i = 0; i < s->len && blank;) {
		uint32_t c;
		i += utf8_decode(p, s->len, i, &c);
		blank = is_space(c);
	}
	*out = dl_bool(blank);
	return 0;
}

int dl_fn_trim(DL_FN_ARGS)
{
	const dl_value *s = &args[0];
	if (s->type != DL_STRING)
		return dl_fn_type_error("clojure.string/trim", "a string", s);
	const unsigned char *p = (const unsigned char *)s->u.s;
	size_t from = 0, to = 0;
	bool seen = false;
	for (size_t i = 0; i < s->len;) {
		uint32_t c;
		size_t len = utf8_decode(p, s->len, i, &c);
		if (!is_space(c)) {
			if (!seen)
				from = i;
			seen = true;
			to = i + len;
		}
		i += len;
	}
	*out = dl_string(s->u.s + from, to - from);
	return 0;
}

/*
 * Case mapping, as Java's root-locale toLowerCase/toUpperCase for: ASCII,
 * Latin-1, Latin Extended-A, basic Greek and Cyrillic.  Other scripts pass
 * through unchanged, and there are no context-sensitive rules (a final
 * sigma lower-cases to σ, not ς).  Returns how many code points went to
 * out[] (ß upper-cases to "SS", İ lower-cases to "i̇").
 */
static int case_map(uint32_t c, bool upper, uint32_t out[2])
{
	out[0] = c;
	if (c < 0x80) {
		if (upper && c >= 'a' && c <= 'z')
			out[0] = c - 32;
		else if (!upper && c >= 'A' && c <= 'Z')
			out[0] = c + 32;
		return 1;
	}
	if (c >= 0xC0 && c <= 0xFE && c != 0xD7 && c != 0xF7) {
		if (upper && c == 0xDF) {
			out[0] = out[1] = 'S';
			return 2;
		}
		if (upper && c >= 0xE0)
			out[0] = c - 0x20;
		else if (!upper && c <= 0xDE)
			out[0] = c + 0x20;
		return 1;
	}
	if (c == 0xFF || c == 0x178) {
		out[0] = upper ? 0x178 : 0xFF;
		return 1;
	}
	if (c == 0xB5) {
		if (upper)
			out[0] = 0x39C;
		return 1;
	}
	if (c >= 0x100 && c <= 0x17F) {
		if (c == 0x130) { /* İ */
			if (!upper) {
				out[0] = 'i';
				out[1] = 0x307;
				return 2;
			}
			return 1;
		}
		if (c == 0x131) { /* ı */
			if (upper)
				out[0] = 'I';
			return 1;
		}
		if (c == 0x17F) { /* long s */
			if (upper)
				out[0] = 'S';
			return 1;
		}
		if (c == 0x138 || c == 0x149)
			return 1; /* no simple case partner */
		/* pairs: upper even in 0100-0137 and 014A-0177, upper odd in
		 * 0139-0148 and 0179-017E */
		bool even_upper = c < 0x138 || (c >= 0x14A && c <= 0x177);
		bool is_upper = ((c & 1) == 0) == even_upper;
		if (upper && !is_upper)
			out[0] = c - 1;
		else if (!upper && is_upper)
			out[0] = c + 1;
		return 1;
	}
	if (c >= 0x391 && c <= 0x3C9 && c != 0x3A2) { /* Greek */
		if (upper && c >= 0x3B1)
			out[0] = c == 0x3C2 ? 0x3A3 : c - 0x20;
		else if (!upper && c <= 0x3A9)
			out[0] = c + 0x20;
		return 1;
	}
	if (c >= 0x400 && c <= 0x45F) { /* Cyrillic */
		if (upper && c >= 0x450)
			out[0] = c - 0x50;
		else if (upper && c >= 0x430)
			out[0] = c - 0x20;
		else if (!upper && c < 0x410)
			out[0] = c + 0x50;
		else if (!upper && c < 0x430)
			out[0] = c + 0x20;
		return 1;
	}
	return 1;
}

static int change_case(const char *fn, dl_value *out, dl_arena *a, const dl_value *s,
		       bool upper)
{
	if (s->type != DL_STRING)
		return dl_fn_type_error(fn, "a string", s);
	const unsigned char *p = (const unsigned char *)s->u.s;
	/* First pass: the output's length, and whether anything changes. */
	size_t need = 0;
	bool changed = false;
	for (size_t i = 0; i < s->len;) {
		uint32_t c, m[2];
		char tmp[4];
		size_t len = utf8_decode(p, s->len, i, &c);
		int k = case_map(c, upper, m);
		if (k == 1 && m[0] == c) {
			need += len;
		} else {
			changed = true;
			for (int j = 0; j < k; j++)
				need += utf8_encode(tmp, m[j]);
		}
		i += len;
	}
	if (!changed) { /* nothing to do: share the input */
		*out = *s;
		return 0;
	}
	if (need > UINT32_MAX)
		return dl_error(DL_ELIMIT, "%s: result too long", fn);
	char *r = dl_arena_alloc(a, need);
	if (!r)
		return DL_ENOMEM;
	size_t at = 0;
	for (size_t i = 0; i < s->len;) {
		uint32_t c, m[2];
		size_t len = utf8_decode(p, s->len, i, &c);
		int k = case_map(c, upper, m);
		if (k == 1 && m[0] == c) {
			memcpy(r + at, p + i, len); /* keeps malformed bytes as they were */
			at += len;
		} else {
			for (int j = 0; j < k; j++)
				at += utf8_encode(r + at, m[j]);
		}
		i += len;
	}
	*out = dl_string(r, at);
	return 0;
}

int dl_fn_lower_case(DL_FN_ARGS)
{
	return change_case("clojure.string/lower-case", out, a, &args[0], false);
}

int dl_fn_upper_case(DL_FN_ARGS)
{
	return change_case("clojure.string/upper-case", out, a, &args[0], true);
}

/* ---- names ----------------------------------------------------------------- */

int dl_fn_name(DL_FN_ARGS)
{
	const dl_value *v = &args[0];
	if (v->type == DL_STRING) {
		*out = *v;
		return 0;
	}
	if (v->type != DL_KEYWORD && v->type != DL_SYMBOL)
		return dl_fn_type_error("name", "a keyword, symbol or string", v);
	size_t n, ns;
	const char *s = dl_intern_name(v->u.id, &n, &ns);
	if (!s)
		return dl_error(DL_EINVAL, "name: unknown keyword id %u", v->u.id);
	/* interned names live as long as the process: borrowing is safe */
	*out = ns ? dl_string(s + ns + 1, n - ns - 1) : dl_string(s, n);
	return 0;
}

int dl_fn_namespace(DL_FN_ARGS)
{
	const dl_value *v = &args[0];
	if (v->type != DL_KEYWORD && v->type != DL_SYMBOL)
		return dl_fn_type_error("namespace", "a keyword or symbol", v);
	size_t n, ns;
	const char *s = dl_intern_name(v->u.id, &n, &ns);
	if (!s)
		return dl_error(DL_EINVAL, "namespace: unknown keyword id %u", v->u.id);
	*out = ns ? dl_string(s, ns) : dl_nil();
	return 0;
}

/* (keyword "a"), (keyword "ns" "a"), (keyword nil "a"), (keyword :a). */
int dl_fn_keyword(DL_FN_ARGS)
{
	const dl_value *v = &args[nargs - 1];
	if (nargs == 1) {
		if (v->type == DL_KEYWORD) {
			*out = *v;
			return 0;
		}
		if (v->type == DL_SYMBOL) {
			size_t n, ns;
			const char *s = dl_intern_name(v->u.id, &n, &ns);
			return dl_keyword(out, s ? s : "", s ? n : 0);
		}
		if (v->type != DL_STRING)
			return dl_fn_type_error("keyword", "a string", v);
		if (!v->len)
			return dl_error(DL_EINVAL, "keyword: empty name");
		return dl_keyword(out, v->u.s, v->len);
	}
	const dl_value *ns = &args[0];
	if (ns->type != DL_STRING && ns->type != DL_NIL)
		return dl_fn_type_error("keyword", "a string namespace", ns);
	if (v->type != DL_STRING)
		return dl_fn_type_error("keyword", "a string name", v);
	if (!v->len)
		return dl_error(DL_EINVAL, "keyword: empty name");
	if (ns->type == DL_NIL || !ns->len)
		return dl_keyword(out, v->u.s, v->len);
	size_t n = (size_t)ns->len + 1 + v->len;
	char *s = dl_arena_alloc(a, n);
	if (!s)
		return DL_ENOMEM;
	memcpy(s, ns->u.s, ns->len);
	s[ns->len] = '/';
	memcpy(s + ns->len + 1, v->u.s, v->len);
	return dl_keyword(out, s, n);
}
