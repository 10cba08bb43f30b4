/*
 * The EDN printer: canonical text for any dl_value.  Reading the text back
 * gives an equal value, and printing that gives the same text again, so the
 * printed form doubles as a canonical form (tests and fuzzers check both).
 *
 * Like the reader it is iterative, so a deeply nested value cannot exhaust
 * the C stack.  On error nothing is left appended to the buffer.
 */
#include "edn_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOCAL_FRAMES 32

/* Append n bytes without the NUL dl_buf_append keeps: callers reserve
 * first and the terminator is written once at the end. */
static inline void put(dl_buf *b, const void *p, size_t n)
{
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static inline int putc_(dl_buf *b, char c)
{
	DL_TRY(dl_buf_reserve(b, 1));
	b->data[b->len++] = c;
	return 0;
}

static inline int puts_(dl_buf *b, const char *s, size_t n)
{
	DL_TRY(dl_buf_reserve(b, n));
	put(b, s, n);
	return 0;
}

/* Decimal digits of x (with a '-' when negative), written to the end of
 * buf[24]; returns the start. */
static char *fmt_i64(char *end, int64_t x)
{
	uint64_t u = x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
	char *p = end;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (x < 0)
		*--p = '-';
	return p;
}

static int print_int(dl_buf *b, int64_t x, bool big)
{
	char buf[24], *end = buf + sizeof buf, *p = fmt_i64(end, x);
	DL_TRY(dl_buf_reserve(b, (size_t)(end - p) + 1));
	put(b, p, (size_t)(end - p));
	if (big)
		b->data[b->len++] = 'N';
	return 0;
}

/* ---- doubles ----------------------------------------------------------- */

/* The shortest of %.15g, %.16g and %.17g that reads back as d, rewritten as
 * 1.5, 1.0E20 or 1.5E-7: a mantissa with a '.', so it reads as a double. */
static int print_double(dl_buf *b, double d, bool big)
{
	if (isnan(d))
		return puts_(b, "##NaN", 5);
	if (isinf(d))
		return d > 0 ? puts_(b, "##Inf", 5) : puts_(b, "##-Inf", 6);
	char tmp[40], out[48];
	locale_t loc = dl_edn_c_locale(), old = (locale_t)0;
	if (loc)
		old = uselocale(loc);
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*g", prec, d);
		if (prec == 17 || strtod(tmp, NULL) == d)
			break;
	}
	if (loc)
		uselocale(old);
	char *e = strchr(tmp, 'e');
	size_t mlen = e ? (size_t)(e - tmp) : strlen(tmp), o = 0;
	memcpy(out, tmp, mlen);
	o = mlen;
	if (!memchr(tmp, '.', mlen)) {
		memcpy(out + o, ".0", 2);
		o += 2;
	}
	if (e) {
		/* e+20 -> E20, e-07 -> E-7 */
		out[o++] = 'E';
		e++;
		if (*e == '-')
			out[o++] = *e;
		if (*e == '+' || *e == '-')
			e++;
		while (*e == '0' && e[1])
			e++;
		while (*e)
			out[o++] = *e++;
	}
	if (big)
		out[o++] = 'M';
	return puts_(b, out, o);
}

/* ---- strings and characters -------------------------------------------- */

static const char k_hex[] = "0123456789abcdef";

static void put_u4(dl_buf *b, uint32_t cp)
{
	char u[6] = {'\\', 'u', k_hex[(cp >> 12) & 15], k_hex[(cp >> 8) & 15],
		     k_hex[(cp >> 4) & 15], k_hex[cp & 15]};
	put(b, u, 6);
}

/* Control characters (C0, DEL and C1) are escaped; everything else that is
 * valid UTF-8 is copied through in runs. */
static int print_string(dl_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	DL_TRY(dl_buf_reserve(b, n + 2)); /* enough unless there are escapes */
	b->data[b->len++] = '"';
	size_t i = 0, run = 0;
	while (i < n) {
		unsigned c = p[i];
		if (DL_LIKELY(c >= 0x20 && c < 0x7F && c != '"' && c != '\\')) {
			i++;
			continue;
		}
		uint32_t cp = c;
		size_t k = 1;
		if (c >= 0x80) {
			k = dl_utf8_decode(p + i, n - i, &cp);
			if (!k)
				return dl_error(DL_EINVAL,
						"cannot print a string that is not valid UTF-8");
			if (cp >= 0xA0) {
				i += k;
				continue;
			}
		}
		/* flush the run before the character that needs an escape */
		DL_TRY(dl_buf_reserve(b, (i - run) + 6));
		put(b, s + run, i - run);
		switch (cp) {
		case '"': put(b, "\\\"", 2); break;
		case '\\': put(b, "\\\\", 2); break;
		case '\n': put(b, "\\n", 2); break;
		case '\t': put(b, "\\t", 2); break;
		case '\r': put(b, "\\r", 2); break;
		default: put_u4(b, cp); break;
		}
		i += k;
		run = i;
	}
	DL_TRY(dl_buf_reserve(b, (n - run) + 1));
	put(b, s + run, n - run);
	b->data[b->len++] = '"';
	return 0;
}

static int print_char(dl_buf *b, uint32_t cp)
{
	const char *name = NULL;
	switch (cp) {
	case '\n': name = "\\newline"; break;
	case ' ': name = "\\space"; break;
	case '\t': name = "\\tab"; break;
	case '\r': name = "\\return"; break;
	case '\b': name = "\\backspace"; break;
	case '\f': name = "\\formfeed"; break;
	default: break;
	}
	if (name)
		return puts_(b, name, strlen(name));
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return dl_error(DL_EINVAL, "cannot print character U+%04X: not a Unicode scalar value",
				(unsigned)cp);
	DL_TRY(dl_buf_reserve(b, 6));
	/* the reader takes "\," as a backslash before whitespace */
	if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || cp == ',') {
		put_u4(b, cp);
		return 0;
	}
	b->data[b->len++] = '\\';
	b->len += dl_utf8_encode(b->data + b->len, cp);
	return 0;
}

/* ---- tagged scalars ---------------------------------------------------- */

/* #inst "YYYY-MM-DDTHH:MM:SS.mmmZ"; years outside 0000-9999 get a sign
 * and as many digits as they need, which the reader accepts. */
static int print_inst(dl_buf *b, int64_t ms)
{
	int64_t days = ms / DL_MS_PER_DAY, rem = ms % DL_MS_PER_DAY;
	if (rem < 0) {
		rem += DL_MS_PER_DAY;
		days--;
	}
	int64_t y;
	unsigned mo, d;
	dl_civil_from_days(days, &y, &mo, &d);
	unsigned msec = (unsigned)(rem % 1000), s = (unsigned)(rem / 1000 % 60),
		 mi = (unsigned)(rem / 60000 % 60), h = (unsigned)(rem / 3600000);
	char year[24];
	if (y >= 0 && y <= 9999)
		snprintf(year, sizeof year, "%04u", (unsigned)y);
	else if (y < 0)
		snprintf(year, sizeof year, "-%04lld", -(long long)y);
	else
		snprintf(year, sizeof year, "+%lld", (long long)y);
	return dl_buf_printf(b, "#inst \"%s-%02u-%02uT%02u:%02u:%02u.%03uZ\"", year, mo, d, h, mi,
			     s, msec);
}

static int print_uuid(dl_buf *b, const uint8_t *u)
{
	DL_TRY(dl_buf_reserve(b, 44));
	put(b, "#uuid \"", 7);
	char *p = b->data + b->len;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = k_hex[u[i] >> 4];
		*p++ = k_hex[u[i] & 15];
	}
	*p++ = '"';
	b->len = (size_t)(p - b->data);
	return 0;
}

static int print_bytes(dl_buf *b, const uint8_t *p, size_t n)
{
	size_t out = (n + 2) / 3 * 4;
	DL_TRY(dl_buf_reserve(b, out + 9));
	put(b, "#bytes \"", 8);
	char *o = b->data + b->len;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t x = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = dl_base64_chars[x >> 18];
		*o++ = dl_base64_chars[(x >> 12) & 63];
		*o++ = dl_base64_chars[(x >> 6) & 63];
		*o++ = dl_base64_chars[x & 63];
	}
	if (n - i == 1) {
		uint32_t x = (uint32_t)p[i] << 16;
		*o++ = dl_base64_chars[x >> 18];
		*o++ = dl_base64_chars[(x >> 12) & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (n - i == 2) {
		uint32_t x = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = dl_base64_chars[x >> 18];
		*o++ = dl_base64_chars[(x >> 12) & 63];
		*o++ = dl_base64_chars[(x >> 6) & 63];
		*o++ = '=';
	}
	*o++ = '"';
	b->len = (size_t)(o - b->data);
	return 0;
}

static int print_named(dl_buf *b, const dl_value *v)
{
	size_t n;
	const char *name = dl_intern_name(v->u.id, &n, NULL);
	if (!name)
		return dl_error(DL_EINVAL, "cannot print %s with unknown id %u",
				v->type == DL_KEYWORD ? "keyword" : "symbol", (unsigned)v->u.id);
	DL_TRY(dl_buf_reserve(b, n + 1));
	if (v->type == DL_KEYWORD)
		b->data[b->len++] = ':';
	put(b, name, n);
	return 0;
}

static int print_scalar(dl_buf *b, const dl_value *v)
{
	switch ((dl_type)v->type) {
	case DL_NIL: return puts_(b, "nil", 3);
	case DL_BOOL: return v->u.b ? puts_(b, "true", 4) : puts_(b, "false", 5);
	case DL_INT: return print_int(b, v->u.i, v->flags & DL_VF_BIGINT);
	case DL_REF: return print_int(b, v->u.i, false);
	case DL_DOUBLE: return print_double(b, v->u.d, v->flags & DL_VF_BIGDEC);
	case DL_INST: return print_inst(b, v->u.i);
	case DL_STRING: return print_string(b, v->u.s, v->len);
	case DL_KEYWORD:
	case DL_SYMBOL: return print_named(b, v);
	case DL_UUID: return print_uuid(b, v->u.uuid);
	case DL_BYTES: return print_bytes(b, (const uint8_t *)v->u.s, v->len);
	case DL_CHAR: return print_char(b, v->u.cp);
	default: return dl_error(DL_EINVAL, "cannot print a value of type %d", v->type);
	}
}

/* ---- collections ------------------------------------------------------- */

typedef struct pframe {
	const dl_value *v;
	size_t i, n; /* next item, item count (two per map entry) */
} pframe;

static int print_value(dl_buf *b, const dl_value *root, pframe *local, pframe **heap)
{
	pframe *st = local;
	size_t nst = 0, cap = LOCAL_FRAMES;
	const dl_value *v = root;
	for (;;) {
		if (v->type >= DL_VECTOR && v->type <= DL_MAP) {
			static const char *const open[] = {"[", "(", "#{", "{"};
			const char *o = open[v->type - DL_VECTOR];
			DL_TRY(puts_(b, o, strlen(o)));
			if (nst == cap) {
				size_t ncap = cap * 2;
				pframe *ns = st == local ? dl_malloc(ncap * sizeof *ns)
							 : dl_realloc(st, ncap * sizeof *ns);
				if (!ns)
					return DL_ENOMEM;
				if (st == local)
					memcpy(ns, local, cap * sizeof *ns);
				st = *heap = ns;
				cap = ncap;
			}
			st[nst++] = (pframe){v, 0, (size_t)v->len * (v->type == DL_MAP ? 2 : 1)};
		} else {
			DL_TRY(print_scalar(b, v));
		}
		/* next item: close finished collections on the way */
		for (;;) {
			if (!nst)
				return 0;
			pframe *f = &st[nst - 1];
			if (f->i < f->n) {
				if (f->i) {
					if (f->v->type == DL_MAP && f->i % 2 == 0)
						DL_TRY(puts_(b, ", ", 2));
					else
						DL_TRY(putc_(b, ' '));
				}
				v = &f->v->u.items[f->i++];
				break;
			}
			static const char close[] = {']', ')', '}', '}'};
			DL_TRY(putc_(b, close[f->v->type - DL_VECTOR]));
			nst--;
		}
	}
}

int dl_edn_print(dl_buf *out, const dl_value *v)
{
	assert(out && v);
	size_t mark = out->len;
	pframe local[LOCAL_FRAMES], *heap = NULL;
	int rc = print_value(out, v, local, &heap);
	dl_free(heap);
	if (rc < 0) {
		out->len = mark;
	} else {
		/* the terminator dl_buf promises; reserve() always leaves room */
		rc = dl_buf_reserve(out, 0);
		if (rc < 0)
			out->len = mark;
	}
	if (out->data)
		out->data[out->len] = 0;
	return rc;
}
