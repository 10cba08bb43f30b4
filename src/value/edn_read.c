/*
 * The EDN reader: text to dl_value trees in an arena.
 *
 * Design notes:
 *  - The reader is iterative.  Open collections, pending #_ discards and
 *    pending tags live on an explicit frame stack, so nesting depth costs
 *    heap, not C stack, and is bounded by opts->max_depth with an error.
 *  - The items of open collections are collected on one shared scratch
 *    stack; when a collection closes, its items are copied once into an
 *    exactly-sized arena block.  Both stacks start in the reader's own
 *    struct (on the C stack) and move to the heap only for big inputs, so
 *    reading small forms allocates nothing but the values themselves.
 *  - Line and column are not tracked per character: only byte offsets are.
 *    An error converts its offset to line:col by rescanning from the start
 *    of the form, which keeps the hot loops free of bookkeeping.
 */
#include "edn_int.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_DEPTH 512
#define LOCAL_FRAMES 32
#define LOCAL_ITEMS 64
#define MAX_SHOWN 48 /* bytes of a token quoted in an error message */

/* ---- the C locale ------------------------------------------------------ */

static locale_t g_c_locale;
static pthread_once_t g_c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void) { g_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

locale_t dl_edn_c_locale(void)
{
	pthread_once(&g_c_locale_once, c_locale_init);
	return g_c_locale;
}

/* ---- reader state ------------------------------------------------------ */

enum {
	F_LIST,
	F_VECTOR,
	F_MAP,
	F_SET,
	F_DISCARD, /* #_: drop the next form */
	F_INST,    /* tags: transform the next form */
	F_UUID,
	F_BYTES,
	F_IGNORED_TAG, /* an unknown tag inside #_: the form is dropped anyway */
};

typedef struct frame {
	uint8_t kind;
	size_t off;  /* where the construct starts, for messages */
	size_t base; /* collections: index of the first item on the scratch stack */
} frame;

typedef struct item {
	dl_value v;
	size_t off; /* where the item's text starts, for duplicate messages */
	uint64_t h; /* collections inside a set or map: their dup_hash() */
} item;

typedef struct rd {
	const char *t;
	size_t n, p;
	size_t base;            /* offset at which line and col hold */
	unsigned line, col;
	const char *src;
	unsigned max_depth;
	unsigned depth;         /* open collections */
	unsigned discards;      /* open #_ frames */
	unsigned hashers;       /* open sets and maps */
	dl_arena *a;
	frame *fr;
	size_t nfr, capfr;
	item *it;
	size_t nit, capit;
	frame fr_local[LOCAL_FRAMES];
	item it_local[LOCAL_ITEMS];
} rd;

static void rd_init(rd *r, const char *text, size_t len, size_t pos, unsigned line,
		    unsigned col, const dl_edn_opts *o, dl_arena *a)
{
	r->t = text;
	r->n = len;
	r->p = pos;
	r->base = pos;
	r->line = line;
	r->col = col;
	r->src = o && o->source ? o->source : "<input>";
	r->max_depth = o && o->max_depth ? o->max_depth : DEFAULT_MAX_DEPTH;
	r->depth = 0;
	r->discards = 0;
	r->hashers = 0;
	r->a = a;
	r->fr = r->fr_local;
	r->nfr = 0;
	r->capfr = LOCAL_FRAMES;
	r->it = r->it_local;
	r->nit = 0;
	r->capit = LOCAL_ITEMS;
}

static void rd_done(rd *r)
{
	if (r->fr != r->fr_local)
		dl_free(r->fr);
	if (r->it != r->it_local)
		dl_free(r->it);
}

/* Advance (line, col) over t[from, to): columns count code points, so
 * UTF-8 continuation bytes do not move them. */
static void advance_pos(const char *t, size_t from, size_t to, unsigned *line, unsigned *col)
{
	unsigned l = *line, c = *col;
	for (size_t i = from; i < to; i++) {
		unsigned char ch = (unsigned char)t[i];
		if (ch == '\n') {
			l++;
			c = 1;
		} else if ((ch & 0xC0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

static int rd_err(rd *r, int code, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int rd_err(rd *r, int code, size_t off, const char *fmt, ...)
{
	unsigned line = r->line, col = r->col;
	advance_pos(r->t, r->base, off, &line, &col);
	char msg[640];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return dl_error(code, "%s:%u:%u: %s", r->src, line, col, msg);
}

/* Quote a token for a message: at most MAX_SHOWN bytes, "..." if cut. */
typedef struct shown {
	char s[MAX_SHOWN * 4 + 8];
} shown;

static const char *show(shown *sh, const char *p, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && i < MAX_SHOWN; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7F) {
			o += (size_t)snprintf(sh->s + o, 5, "\\x%02X", c);
		} else {
			sh->s[o++] = (char)c;
		}
	}
	if (n > MAX_SHOWN) {
		memcpy(sh->s + o, "...", 3);
		o += 3;
	}
	sh->s[o] = 0;
	return sh->s;
}

/* Describe the character at p for "unexpected ..." messages. */
static const char *show_char(shown *sh, const char *p, size_t n)
{
	uint32_t cp;
	size_t k = dl_utf8_decode((const unsigned char *)p, n, &cp);
	if (k == 0)
		snprintf(sh->s, sizeof sh->s, "byte 0x%02X", (unsigned char)p[0]);
	else if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || cp == 0xFEFF)
		snprintf(sh->s, sizeof sh->s, "character U+%04X", (unsigned)cp);
	else
		snprintf(sh->s, sizeof sh->s, "'%.*s'", (int)k, p);
	return sh->s;
}

/* ---- character classes ------------------------------------------------- */

static inline bool is_ws(unsigned char c)
{
	return c == ' ' || c == ',' || c == '\n' || c == '\t' || c == '\r' || c == '\f' ||
	       c == '\v';
}

/* Characters that end a token (symbol, number, character, tag). */
static inline bool is_delim(unsigned char c)
{
	switch (c) {
	case ' ': case ',': case '\n': case '\t': case '\r': case '\f': case '\v':
	case '(': case ')': case '[': case ']': case '{': case '}':
	case '"': case ';': case '\\':
		return true;
	default:
		return false;
	}
}

static inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static inline bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ASCII characters a symbol may contain (EDN: alphanumerics and
 * . * + ! - _ ? $ % & = < > / plus # and : after the first). */
static inline bool is_sym_char(unsigned char c)
{
	if (is_alpha(c) || is_digit(c))
		return true;
	switch (c) {
	case '.': case '*': case '+': case '!': case '-': case '_': case '?':
	case '$': case '%': case '&': case '=': case '<': case '>': case '/':
	case '#': case ':':
		return true;
	default:
		return false;
	}
}

static inline int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits at p (bounds checked by the caller); -1 if malformed. */
static inline long hex4(const char *p)
{
	long v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval((unsigned char)p[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static inline size_t token_end(const rd *r, size_t p)
{
	while (p < r->n && !is_delim((unsigned char)r->t[p]))
		p++;
	return p;
}

/* Skip whitespace, commas and ; comments. */
static inline void skip_ws(rd *r)
{
	const char *t = r->t;
	size_t p = r->p, n = r->n;
	while (p < n) {
		unsigned char c = (unsigned char)t[p];
		if (is_ws(c)) {
			p++;
		} else if (c == ';') {
			const char *nl = memchr(t + p, '\n', n - p);
			p = nl ? (size_t)(nl - t) + 1 : n;
		} else {
			break;
		}
	}
	r->p = p;
}

/* ---- scratch stacks ---------------------------------------------------- */

/* Double a scratch stack, moving it off the C stack the first time.
 * Returns the new array, or NULL (with DL_ENOMEM set). */
static void *grow(void *arr, size_t *cap, const void *local, size_t size)
{
	size_t ncap = *cap * 2;
	if (ncap > SIZE_MAX / size) {
		dl_error(DL_ENOMEM, "out of memory (reader stack)");
		return NULL;
	}
	void *n;
	if (arr == local) {
		n = dl_malloc(ncap * size);
		if (n)
			memcpy(n, local, *cap * size);
	} else {
		n = dl_realloc(arr, ncap * size);
	}
	if (n)
		*cap = ncap;
	return n;
}

static int push_frame(rd *r, uint8_t kind, size_t off)
{
	if (kind <= F_SET) {
		if (r->depth >= r->max_depth)
			return rd_err(r, DL_ELIMIT, off, "nesting deeper than %u levels",
				      r->max_depth);
		r->depth++;
		if (kind == F_MAP || kind == F_SET)
			r->hashers++;
	} else if (kind == F_DISCARD) {
		r->discards++;
	}
	if (DL_UNLIKELY(r->nfr == r->capfr)) {
		frame *f = grow(r->fr, &r->capfr, r->fr_local, sizeof(frame));
		if (!f)
			return DL_ENOMEM;
		r->fr = f;
	}
	r->fr[r->nfr++] = (frame){kind, off, r->nit};
	return 0;
}

/* Make room for one more item on the scratch stack. */
static inline int reserve_item(rd *r)
{
	if (DL_UNLIKELY(r->nit == r->capit)) {
		item *it = grow(r->it, &r->capit, r->it_local, sizeof(item));
		if (!it)
			return DL_ENOMEM;
		r->it = it;
	}
	return 0;
}

static inline int push_item(rd *r, const dl_value *v, size_t off, uint64_t h)
{
	DL_TRY(reserve_item(r));
	r->it[r->nit].v = *v;
	r->it[r->nit].off = off;
	r->it[r->nit].h = h;
	r->nit++;
	return 0;
}

static const char *frame_name(uint8_t kind)
{
	switch (kind) {
	case F_LIST: return "list";
	case F_VECTOR: return "vector";
	case F_MAP: return "map";
	case F_SET: return "set";
	case F_DISCARD: return "#_";
	case F_INST: return "#inst";
	case F_UUID: return "#uuid";
	case F_BYTES: return "#bytes";
	default: return "tag";
	}
}

static char closer(uint8_t kind)
{
	return kind == F_LIST ? ')' : kind == F_VECTOR ? ']' : '}';
}

/* ---- strings ----------------------------------------------------------- */

static int read_string(rd *r, dl_value *out)
{
	const char *t = r->t;
	size_t start = r->p, q = start + 1, n = r->n;
	/* Pass 1: find the closing quote, to size the arena block. */
	for (;;) {
		const char *e = memchr(t + q, '"', n - q);
		if (!e)
			return rd_err(r, DL_ESYNTAX, start, "unterminated string");
		size_t qe = (size_t)(e - t), bs = 0;
		while (qe - bs > start + 1 && t[qe - bs - 1] == '\\')
			bs++;
		q = qe;
		if (bs % 2 == 0)
			break;
		q++; /* an escaped quote */
	}
	size_t raw = q - start - 1;
	if (raw > UINT32_MAX)
		return rd_err(r, DL_ELIMIT, start, "string longer than 4 GiB");
	char *buf = dl_arena_alloc(r->a, raw + 1);
	if (!buf)
		return DL_ENOMEM;
	/* Pass 2: decode escapes and validate UTF-8. */
	size_t s = start + 1, o = 0;
	while (s < q) {
		unsigned char c = (unsigned char)t[s];
		if (c < 0x80 && c != '\\') {
			buf[o++] = (char)c;
			s++;
			continue;
		}
		if (c >= 0x80) {
			uint32_t cp;
			size_t k = dl_utf8_decode((const unsigned char *)t + s, q - s, &cp);
			if (!k)
				return rd_err(r, DL_ESYNTAX, s, "invalid UTF-8 in string");
			memcpy(buf + o, t + s, k);
			o += k;
			s += k;
			continue;
		}
		/* an escape: s + 1 < q holds, as pass 1 paired every backslash */
		char e = t[s + 1], ch;
		switch (e) {
		case 't': ch = '\t'; break;
		case 'r': ch = '\r'; break;
		case 'n': ch = '\n'; break;
		case '\\': ch = '\\'; break;
		case '"': ch = '"'; break;
		case 'b': ch = '\b'; break;
		case 'f': ch = '\f'; break;
		case 'u': {
			long u = s + 6 <= q ? hex4(t + s + 2) : -1;
			if (u < 0)
				return rd_err(r, DL_ESYNTAX, s,
					      "\\u must be followed by four hex digits");
			uint32_t cp = (uint32_t)u;
			size_t len = 6;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				long lo = s + 12 <= q && t[s + 6] == '\\' && t[s + 7] == 'u'
						  ? hex4(t + s + 8)
						  : -1;
				if (lo < 0xDC00 || lo > 0xDFFF)
					return rd_err(r, DL_ESYNTAX, s,
						      "lone surrogate \\u%04lX in string", u);
				cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
				len = 12;
			} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
				return rd_err(r, DL_ESYNTAX, s,
					      "lone surrogate \\u%04lX in string", u);
			}
			o += dl_utf8_encode(buf + o, cp);
			s += len;
			continue;
		}
		default: {
			shown sh;
			return rd_err(r, DL_ESYNTAX, s, "unsupported escape \\%s in string",
				      show_char(&sh, t + s + 1, q - s - 1));
		}
		}
		buf[o++] = ch;
		s += 2;
	}
	buf[o] = 0;
	r->p = q + 1;
	*out = (dl_value){.type = DL_STRING, .len = (uint32_t)o, .u.s = buf};
	return 0;
}

/* ---- characters -------------------------------------------------------- */

static int read_char(rd *r, dl_value *out)
{
	const char *t = r->t;
	size_t start = r->p, s = start + 1;
	if (s >= r->n)
		return rd_err(r, DL_ESYNTAX, start, "backslash at end of input");
	if (is_ws((unsigned char)t[s]))
		return rd_err(r, DL_ESYNTAX, start, "backslash followed by whitespace");
	uint32_t cp;
	size_t k = dl_utf8_decode((const unsigned char *)t + s, r->n - s, &cp);
	if (!k)
		return rd_err(r, DL_ESYNTAX, s, "invalid UTF-8 in character");
	/* The first character is taken whatever it is (\( is a character);
	 * the token then runs to the next delimiter. */
	size_t e = token_end(r, s + k), len = e - s;
	const char *tok = t + s;
	if (len == k) {
		/* a single character */
	} else if (len == 7 && memcmp(tok, "newline", 7) == 0) {
		cp = '\n';
	} else if (len == 5 && memcmp(tok, "space", 5) == 0) {
		cp = ' ';
	} else if (len == 3 && memcmp(tok, "tab", 3) == 0) {
		cp = '\t';
	} else if (len == 6 && memcmp(tok, "return", 6) == 0) {
		cp = '\r';
	} else if (len == 9 && memcmp(tok, "backspace", 9) == 0) {
		cp = '\b';
	} else if (len == 8 && memcmp(tok, "formfeed", 8) == 0) {
		cp = '\f';
	} else if (len == 5 && tok[0] == 'u' && hex4(tok + 1) >= 0) {
		cp = (uint32_t)hex4(tok + 1);
		if (cp >= 0xD800 && cp <= 0xDFFF)
			return rd_err(r, DL_ESYNTAX, start,
				      "character \\u%04X is a lone surrogate", (unsigned)cp);
	} else if (len >= 2 && len <= 4 && tok[0] == 'o') {
		cp = 0;
		for (size_t i = 1; i < len; i++) {
			if (tok[i] < '0' || tok[i] > '7')
				goto bad;
			cp = cp * 8 + (uint32_t)(tok[i] - '0');
		}
		if (cp > 0377)
			return rd_err(r, DL_ESYNTAX, start, "octal character \\%.*s above \\o377",
				      (int)len, tok);
	} else {
		goto bad;
	}
	r->p = e;
	*out = dl_char(cp);
	return 0;
bad:;
	shown sh;
	return rd_err(r, DL_ESYNTAX, start, "unsupported character \\%s", show(&sh, tok, len));
}

/* ---- numbers ----------------------------------------------------------- */

static int bad_number(rd *r, size_t start, size_t len)
{
	shown sh;
	return rd_err(r, DL_ESYNTAX, start, "invalid number '%s'", show(&sh, r->t + start, len));
}

static int read_number(rd *r, size_t start, size_t end, dl_value *out)
{
	const char *tok = r->t + start;
	size_t len = end - start, i = 0;
	bool neg = false, isfloat = false;
	if (tok[0] == '+' || tok[0] == '-') {
		neg = tok[0] == '-';
		i++;
	}
	size_t ds = i;
	while (i < len && is_digit((unsigned char)tok[i]))
		i++;
	size_t de = i;
	/* EDN: no integer part but 0 itself starts with 0 (012 is not octal) */
	if (de - ds > 1 && tok[ds] == '0')
		return bad_number(r, start, len);
	size_t fs = i, fe = i; /* the fraction's digits */
	bool expo = false;
	if (i < len && tok[i] == '.') {
		isfloat = true;
		i++;
		fs = i;
		while (i < len && is_digit((unsigned char)tok[i]))
			i++;
		fe = i;
	}
	if (i < len && (tok[i] == 'e' || tok[i] == 'E')) {
		isfloat = true;
		expo = true;
		i++;
		if (i < len && (tok[i] == '+' || tok[i] == '-'))
			i++;
		size_t es = i;
		while (i < len && is_digit((unsigned char)tok[i]))
			i++;
		if (i == es)
			return bad_number(r, start, len);
	}
	size_t numlen = i;
	uint8_t flags = 0;
	if (i < len && tok[i] == 'N' && !isfloat) {
		flags = DL_VF_BIGINT;
		i++;
	} else if (i < len && tok[i] == 'M') {
		flags = DL_VF_BIGDEC;
		isfloat = true;
		i++;
	}
	if (i != len)
		return bad_number(r, start, len);
	if (!isfloat) {
		uint64_t u = 0;
		for (size_t k = ds; k < de; k++) {
			unsigned d = (unsigned)(tok[k] - '0');
			if (u > (UINT64_MAX - d) / 10)
				goto range;
			u = u * 10 + d;
		}
		int64_t v;
		if (neg) {
			if (u > (uint64_t)INT64_MAX + 1)
				goto range;
			v = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
		} else {
			if (u > (uint64_t)INT64_MAX)
				goto range;
			v = (int64_t)u;
		}
		*out = dl_int(v);
		out->flags = flags;
		return 0;
	range:;
		shown sh;
		return rd_err(r, DL_ESYNTAX, start, "integer out of range: %s",
			      show(&sh, tok, len));
	}
	if (!expo && (de - ds) + (fe - fs) <= 15) {
		/* the common short decimal: its digits as an integer below 2^53
		 * and a power of ten up to 10^15 are exact doubles, so one
		 * division rounds correctly, as strtod would (Clinger's fast
		 * path) */
		static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
					     1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
		uint64_t w = 0;
		for (size_t k = ds; k < de; k++)
			w = w * 10 + (unsigned)(tok[k] - '0');
		for (size_t k = fs; k < fe; k++)
			w = w * 10 + (unsigned)(tok[k] - '0');
		double d = (double)w / p10[fe - fs];
		*out = dl_double(neg ? -d : d);
		out->flags = flags;
		return 0;
	}
	/* strtod needs a NUL-terminated copy: the text need not be, and the
	 * bytes after the token must not be read. */
	char small[128], *copy = small;
	if (numlen >= sizeof small) {
		copy = dl_arena_alloc(r->a, numlen + 1);
		if (!copy)
			return DL_ENOMEM;
	}
	memcpy(copy, tok, numlen);
	copy[numlen] = 0;
	locale_t loc = dl_edn_c_locale();
	double d = loc ? strtod_l(copy, NULL, loc) : strtod(copy, NULL);
	*out = dl_double(d);
	out->flags = flags;
	return 0;
}

/* ---- symbols and keywords ---------------------------------------------- */

/* Whether s[0, n) may begin a symbol (or the namespace or name part of
 * one): not a digit, and +, - and . not followed by a digit. */
static bool sym_start_ok(const char *s, size_t n)
{
	unsigned char c = (unsigned char)s[0];
	if (is_digit(c) || c == ':' || c == '#')
		return false;
	if ((c == '+' || c == '-' || c == '.') && n > 1 && is_digit((unsigned char)s[1]))
		return false;
	return true;
}

/* Check the characters of a symbol or keyword name; returns the offset of
 * a bad byte, or n if all are good. */
static size_t bad_sym_char(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80) {
			if (!is_sym_char(c))
				return i;
			i++;
		} else {
			uint32_t cp;
			size_t k = dl_utf8_decode((const unsigned char *)s + i, n - i, &cp);
			/* C1 controls and the byte order mark are not name
			 * characters (a BOM first in a text is skipped) */
			if (!k || cp < 0xA0 || cp == 0xFEFF)
				return i;
			i += k;
		}
	}
	return n;
}

/* Whether name[0, n) is a well-formed symbol: "/" alone, or one optional
 * '/' separating a non-empty namespace and name, each well started. */
static bool sym_ok(const char *s, size_t n)
{
	if (n == 1 && s[0] == '/')
		return true;
	const char *slash = memchr(s, '/', n);
	if (!slash)
		return sym_start_ok(s, n);
	size_t nsl = (size_t)(slash - s);
	const char *name = slash + 1;
	size_t namel = n - nsl - 1;
	if (nsl == 0 || namel == 0 || memchr(name, '/', namel))
		return false;
	return sym_start_ok(s, nsl) && sym_start_ok(name, namel);
}

static int read_symbolic(rd *r, size_t start, size_t end, dl_value *out)
{
	const char *tok = r->t + start;
	size_t len = end - start;
	shown sh;
	bool kw = tok[0] == ':';
	const char *name = tok + kw;
	size_t namel = len - kw;
	size_t bad = bad_sym_char(name, namel);
	if (bad < namel) {
		size_t at = start + kw + bad;
		if (at == start)
			return rd_err(r, DL_ESYNTAX, at, "unexpected %s",
				      show_char(&sh, r->t + at, r->n - at));
		return rd_err(r, DL_ESYNTAX, at, "invalid %s in %s",
			      show_char(&sh, r->t + at, r->n - at), kw ? "keyword" : "symbol");
	}
	if (kw) {
		/* :/ and ::ns/name (auto-resolved) are not EDN */
		if (namel == 0 || name[0] == '/' || !sym_ok(name, namel))
			return rd_err(r, DL_ESYNTAX, start, "invalid keyword '%s'",
				      show(&sh, tok, len));
		uint32_t id;
		DL_TRY(dl_intern(&id, name, namel));
		*out = (dl_value){.type = DL_KEYWORD, .u.id = id};
		return 0;
	}
	if (!sym_ok(tok, len))
		return rd_err(r, DL_ESYNTAX, start, "invalid symbol '%s'", show(&sh, tok, len));
	if (len == 3 && memcmp(tok, "nil", 3) == 0) {
		*out = dl_nil();
		return 0;
	}
	if (len == 4 && memcmp(tok, "true", 4) == 0) {
		*out = dl_bool(true);
		return 0;
	}
	if (len == 5 && memcmp(tok, "false", 5) == 0) {
		*out = dl_bool(false);
		return 0;
	}
	uint32_t id;
	DL_TRY(dl_intern(&id, tok, len));
	*out = (dl_value){.type = DL_SYMBOL, .u.id = id};
	return 0;
}

/* A token: a number, keyword, symbol, nil, true or false. */
static int read_token(rd *r, dl_value *out)
{
	size_t start = r->p, end = token_end(r, start);
	const char *tok = r->t + start;
	size_t len = end - start;
	int rc;
	if (is_digit((unsigned char)tok[0]) ||
	    ((tok[0] == '+' || tok[0] == '-') && len > 1 && is_digit((unsigned char)tok[1])))
		rc = read_number(r, start, end, out);
	else
		rc = read_symbolic(r, start, end, out);
	r->p = end;
	return rc;
}

/* ---- tags -------------------------------------------------------------- */

/* Parse n digits at s[*i]; -1 if they are not all there. */
static int64_t digits(const char *s, size_t len, size_t *i, size_t n)
{
	int64_t v = 0;
	if (*i + n > len)
		return -1;
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)s[*i + k];
		if (!is_digit(c))
			return -1;
		v = v * 10 + (c - '0');
	}
	*i += n;
	return v;
}

static bool is_leap(int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

/* RFC 3339 (as Clojure reads it): YYYY[-MM[-DD[THH[:MM[:SS[.fff...]]]]]]
 * with an offset (Z or +hh:mm) after the time.  Years outside 0000-9999
 * are written with a sign and at least four digits, as the printer does.
 * Returns NULL or the reason the text is not an instant. */
static const char *parse_inst(const char *s, size_t len, int64_t *out)
{
	size_t i = 0;
	int64_t year;
	bool yneg = false;
	if (len && (s[0] == '+' || s[0] == '-')) {
		yneg = s[0] == '-';
		i = 1;
		size_t e = i;
		while (e < len && is_digit((unsigned char)s[e]))
			e++;
		if (e - i < 4 || e - i > 9)
			return "expected a year of 4 to 9 digits";
		year = digits(s, len, &i, e - i);
		if (yneg)
			year = -year;
	} else {
		year = digits(s, len, &i, 4);
		if (year < 0)
			return "expected a four-digit year";
	}
	int64_t mon = 1, day = 1, h = 0, mi = 0, sec = 0, ms = 0, off = 0;
	bool time = false;
	if (i < len && s[i] == '-') {
		i++;
		if ((mon = digits(s, len, &i, 2)) < 0)
			return "expected a two-digit month";
		if (i < len && s[i] == '-') {
			i++;
			if ((day = digits(s, len, &i, 2)) < 0)
				return "expected a two-digit day";
			if (i < len && (s[i] == 'T' || s[i] == 't')) {
				i++;
				time = true;
				if ((h = digits(s, len, &i, 2)) < 0)
					return "expected a two-digit hour";
				if (i < len && s[i] == ':') {
					i++;
					if ((mi = digits(s, len, &i, 2)) < 0)
						return "expected two-digit minutes";
					if (i < len && s[i] == ':') {
						i++;
						if ((sec = digits(s, len, &i, 2)) < 0)
							return "expected two-digit seconds";
						if (i < len && s[i] == '.') {
							i++;
							size_t f = i;
							while (i < len && is_digit((unsigned char)s[i])) {
								if (i - f < 3)
									ms = ms * 10 + (s[i] - '0');
								i++;
							}
							if (i == f)
								return "expected digits after '.'";
							for (size_t k = i - f; k < 3; k++)
								ms *= 10;
						}
					}
				}
			}
		}
	}
	if (time && i < len) {
		if (s[i] == 'Z' || s[i] == 'z') {
			i++;
		} else if (s[i] == '+' || s[i] == '-') {
			int sign = s[i] == '-' ? -1 : 1;
			i++;
			int64_t oh = digits(s, len, &i, 2), om = -1;
			if (oh >= 0 && i < len && s[i] == ':') {
				i++;
				om = digits(s, len, &i, 2);
			}
			if (oh < 0 || om < 0)
				return "expected an offset like +hh:mm";
			if (oh > 23 || om > 59)
				return "offset out of range";
			off = sign * (oh * 60 + om) * 60000;
		}
	}
	if (i != len)
		return "unexpected text after the date";
	static const unsigned char mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (mon < 1 || mon > 12)
		return "month out of range";
	if (day < 1 || day > mdays[mon - 1] + (mon == 2 && is_leap(year)))
		return "day out of range";
	if (h > 23)
		return "hour out of range";
	if (mi > 59)
		return "minutes out of range";
	if (sec > 59)
		return "seconds out of range";
	int64_t days = dl_days_from_civil(year, (unsigned)mon, (unsigned)day);
	int64_t x = ((h * 60 + mi) * 60 + sec) * 1000 + ms - off, r;
	/* days * ms-per-day may overflow on its own for the earliest day whose
	 * total still fits: borrow one day for negative days. */
	if (days < 0) {
		days++;
		x -= DL_MS_PER_DAY;
	}
	if (__builtin_mul_overflow(days, DL_MS_PER_DAY, &r) || __builtin_add_overflow(r, x, &r))
		return "instant out of range";
	*out = r;
	return NULL;
}

static int parse_uuid(const char *s, size_t len, uint8_t out[16])
{
	if (len != 36)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < 36;) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			i++;
			continue;
		}
		int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0 || i + 1 == 8 || i + 1 == 13 || i + 1 == 18 || i + 1 == 23)
			return -1;
		out[o++] = (uint8_t)(hi * 16 + lo);
		i += 2;
	}
	return 0;
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == dl_base64_chars[62])
		return 62;
	if (c == dl_base64_chars[63])
		return 63;
	return -1;
}

/* Standard base64; the padding may be left out. Returns the decoded length
 * or -1.  out has room for len / 4 * 3 + 3 bytes. */
static long parse_base64(const char *s, size_t len, uint8_t *out)
{
	size_t pad = 0;
	while (pad < 2 && len > pad && s[len - 1 - pad] == '=')
		pad++;
	if (pad && len % 4)
		return -1;
	size_t n = len - pad, o = 0;
	if (n % 4 == 1)
		return -1;
	uint32_t acc = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64val((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			out[o++] = (uint8_t)(acc >> 16);
			out[o++] = (uint8_t)(acc >> 8);
			out[o++] = (uint8_t)acc;
			acc = 0;
		}
	}
	if (n % 4 == 2) {
		out[o++] = (uint8_t)(acc >> 4);
	} else if (n % 4 == 3) {
		out[o++] = (uint8_t)(acc >> 10);
		out[o++] = (uint8_t)(acc >> 2);
	}
	return (long)o;
}

/* Apply the tag of frame f to the form v that followed it (starting at off). */
static int apply_tag(rd *r, const frame *f, dl_value *v, size_t off)
{
	if (f->kind == F_IGNORED_TAG)
		return 0;
	const char *tag = frame_name(f->kind);
	if (v->type != DL_STRING)
		return rd_err(r, DL_ESYNTAX, off, "%s must be followed by a string", tag);
	shown sh;
	switch (f->kind) {
	case F_INST: {
		int64_t ms;
		const char *why = parse_inst(v->u.s, v->len, &ms);
		if (why)
			return rd_err(r, DL_ESYNTAX, off, "invalid #inst \"%s\": %s",
				      show(&sh, v->u.s, v->len), why);
		*v = dl_inst(ms);
		return 0;
	}
	case F_UUID: {
		uint8_t u[16];
		if (parse_uuid(v->u.s, v->len, u) < 0)
			return rd_err(r, DL_ESYNTAX, off,
				      "invalid #uuid \"%s\": expected 8-4-4-4-12 hex digits",
				      show(&sh, v->u.s, v->len));
		*v = dl_uuid(u);
		return 0;
	}
	default: {
		/* a fresh block: the string stays intact for the message */
		uint8_t *d = dl_arena_alloc(r->a, v->len / 4 * 3 + 3);
		if (!d)
			return DL_ENOMEM;
		long n = parse_base64(v->u.s, v->len, d);
		if (n < 0)
			return rd_err(r, DL_ESYNTAX, off, "invalid #bytes \"%s\": bad base64",
				      show(&sh, v->u.s, v->len));
		*v = dl_bytes(d, (size_t)n);
		return 0;
	}
	}
}

/* ---- collections ------------------------------------------------------- */

static int dup_error(rd *r, const item *it, bool map)
{
	dl_buf b = DL_BUF_INIT;
	shown sh;
	const char *what = "";
	if (dl_edn_print(&b, &it->v) == 0 && b.data)
		what = show(&sh, b.data, b.len);
	dl_buf_free(&b);
	return rd_err(r, DL_ESYNTAX, it->off, "duplicate %s: %s",
		      map ? "key in map" : "element in set", what);
}

/*
 * Duplicate detection must stay linear: hashing every set element or map
 * key with dl_value_hash would rehash a nested collection once per
 * enclosing level, and comparing with dl_value_equal sorts nested sets on
 * every call.  So the hash of a collection that sits inside a set or map is
 * computed once, when it closes, from its items' hashes (kept beside them
 * on the scratch stack), and dl_value_equal only confirms a hash match.
 * Equal values get equal hashes: scalars through dl_value_hash, sets and
 * maps through an order-independent sum.
 */
static inline uint64_t hmix(uint64_t h, uint64_t x)
{
	h ^= x + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
	return h * 0xFF51AFD7ED558CCDull;
}

static inline uint64_t item_hash(const item *it)
{
	return it->v.type >= DL_VECTOR ? it->h : dl_value_hash(&it->v);
}

static uint64_t dup_hash(uint8_t type, const item *its, size_t cnt)
{
	uint64_t h = hmix(type, cnt), sum = 0;
	switch (type) {
	case DL_VECTOR:
	case DL_LIST:
		for (size_t i = 0; i < cnt; i++)
			h = hmix(h, item_hash(&its[i]));
		return h;
	case DL_SET:
		for (size_t i = 0; i < cnt; i++)
			sum += item_hash(&its[i]);
		return hmix(h, sum);
	default:
		for (size_t i = 0; i + 1 < cnt; i += 2)
			sum += hmix(item_hash(&its[i]), item_hash(&its[i + 1]));
		return hmix(h, sum);
	}
}

/* Find a repeated key among n entries of width w (1 for sets, 2 for maps)
 * starting at its: pairwise on hashes for a few, else a hash table. */
static int check_dups(rd *r, const item *its, size_t n, size_t w)
{
	if (n < 2)
		return 0;
	if (n <= 8) {
		uint64_t hs[8];
		for (size_t i = 0; i < n; i++) {
			hs[i] = item_hash(&its[i * w]);
			for (size_t j = 0; j < i; j++)
				if (hs[j] == hs[i] && dl_value_equal(&its[i * w].v, &its[j * w].v))
					return dup_error(r, &its[i * w], w == 2);
		}
		return 0;
	}
	typedef struct slot {
		uint64_t h;
		size_t i; /* entry index + 1; 0 if empty */
	} slot;
	slot local[128], *slots = local;
	size_t cap = 16;
	while (cap < n * 2)
		cap *= 2;
	if (cap > sizeof local / sizeof *local) {
		slots = dl_calloc(cap, sizeof *slots);
		if (!slots)
			return DL_ENOMEM;
	} else {
		memset(local, 0, cap * sizeof *slots);
	}
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		const item *k = &its[i * w];
		uint64_t hk = item_hash(k);
		size_t at = (size_t)(hk ^ hk >> 29) & (cap - 1);
		for (; slots[at].i; at = (at + 1) & (cap - 1)) {
			if (slots[at].h == hk && dl_value_equal(&k->v, &its[(slots[at].i - 1) * w].v)) {
				rc = dup_error(r, k, w == 2);
				break;
			}
		}
		slots[at] = (slot){hk, i + 1};
	}
	if (slots != local)
		dl_free(slots);
	return rc;
}

/* Close the innermost collection: copy its items to the arena.  *h gets
 * its dup_hash() when a set or map around it will need it. */
static int close_coll(rd *r, dl_value *out, uint64_t *h)
{
	frame f = r->fr[--r->nfr];
	r->depth--;
	if (f.kind == F_MAP || f.kind == F_SET)
		r->hashers--;
	size_t cnt = r->nit - f.base;
	const item *its = r->it + f.base;
	size_t len = cnt;
	if (f.kind == F_MAP) {
		if (cnt % 2)
			return rd_err(r, DL_ESYNTAX, f.off,
				      "map literal must contain an even number of forms");
		len = cnt / 2;
	}
	if (len > UINT32_MAX)
		return rd_err(r, DL_ELIMIT, f.off, "%s of more than 2^32 items",
			      frame_name(f.kind));
	if (f.kind == F_MAP || f.kind == F_SET)
		DL_TRY(check_dups(r, its, len, f.kind == F_MAP ? 2 : 1));
	dl_value *items = NULL;
	if (cnt) {
		items = DL_ARENA_NEW(r->a, cnt, dl_value);
		if (!items)
			return DL_ENOMEM;
		for (size_t i = 0; i < cnt; i++)
			items[i] = its[i].v;
	}
	static const uint8_t types[] = {DL_LIST, DL_VECTOR, DL_MAP, DL_SET};
	*out = (dl_value){.type = types[f.kind], .len = (uint32_t)len, .u.items = items};
	*h = r->hashers ? dup_hash(types[f.kind], its, cnt) : 0;
	r->nit = f.base;
	return 0;
}

/* ---- dispatch (#) ------------------------------------------------------ */

/* At '#': a set, a discard, a symbolic value (##NaN) or a tag.  Returns 1
 * when *out holds a value, 0 when a frame was pushed, or an error. */
static int read_dispatch(rd *r, dl_value *out)
{
	const char *t = r->t;
	size_t start = r->p;
	shown sh;
	if (start + 1 >= r->n)
		return rd_err(r, DL_ESYNTAX, start, "unexpected end of input after '#'");
	unsigned char c = (unsigned char)t[start + 1];
	if (c == '{') {
		DL_TRY(push_frame(r, F_SET, start));
		r->p = start + 2;
		return 0;
	}
	if (c == '_') {
		DL_TRY(push_frame(r, F_DISCARD, start));
		r->p = start + 2;
		return 0;
	}
	if (c == '#') {
		size_t e = token_end(r, start + 2), len = e - start - 2;
		const char *tok = t + start + 2;
		double d;
		if (len == 3 && memcmp(tok, "NaN", 3) == 0)
			d = NAN;
		else if (len == 3 && memcmp(tok, "Inf", 3) == 0)
			d = INFINITY;
		else if (len == 4 && memcmp(tok, "-Inf", 4) == 0)
			d = -INFINITY;
		else
			return rd_err(r, DL_ESYNTAX, start, "unknown symbolic value ##%s",
				      show(&sh, tok, len));
		*out = dl_double(d);
		r->p = e;
		return 1;
	}
	if (is_alpha(c)) {
		size_t e = token_end(r, start + 1), len = e - start - 1;
		const char *tok = t + start + 1;
		uint8_t kind;
		if (len == 4 && memcmp(tok, "inst", 4) == 0)
			kind = F_INST;
		else if (len == 4 && memcmp(tok, "uuid", 4) == 0)
			kind = F_UUID;
		else if (len == 5 && memcmp(tok, "bytes", 5) == 0)
			kind = F_BYTES;
		else if (r->discards)
			kind = F_IGNORED_TAG; /* well-formed EDN, and dropped anyway */
		else
			return rd_err(r, DL_ESYNTAX, start, "unknown tag #%s", show(&sh, tok, len));
		DL_TRY(push_frame(r, kind, start));
		r->p = e;
		return 0;
	}
	return rd_err(r, DL_ESYNTAX, start, "unsupported dispatch #%s",
		      show_char(&sh, t + start + 1, r->n - start - 1));
}

/* ---- the form loop ----------------------------------------------------- */

static int read_form(rd *r, dl_value *out)
{
	for (;;) {
		skip_ws(r);
		if (r->p >= r->n) {
			if (!r->nfr)
				return DL_ENOTFOUND;
			const frame *f = &r->fr[r->nfr - 1];
			if (f->kind <= F_SET)
				return rd_err(r, DL_ESYNTAX, f->off, "unterminated %s",
					      frame_name(f->kind));
			if (f->kind == F_DISCARD || f->kind == F_IGNORED_TAG)
				return rd_err(r, DL_ESYNTAX, f->off, "%s must be followed by a form",
					      f->kind == F_DISCARD ? "#_" : "a tag");
			return rd_err(r, DL_ESYNTAX, f->off, "%s must be followed by a string",
				      frame_name(f->kind));
		}
		size_t start = r->p;
		unsigned char c = (unsigned char)r->t[start];
		dl_value v;
		uint64_t vh = 0;
		int rc;
		switch (c) {
		case '(':
		case '[':
		case '{':
			DL_TRY(push_frame(r, c == '(' ? F_LIST : c == '[' ? F_VECTOR : F_MAP,
					  start));
			r->p++;
			continue;
		case ')':
		case ']':
		case '}': {
			const frame *f = r->nfr ? &r->fr[r->nfr - 1] : NULL;
			if (!f || f->kind > F_SET)
				return rd_err(r, DL_ESYNTAX, start, "unexpected '%c'", c);
			if (closer(f->kind) != c) {
				unsigned line = r->line, col = r->col;
				advance_pos(r->t, r->base, f->off, &line, &col);
				return rd_err(r, DL_ESYNTAX, start,
					      "unexpected '%c' (the %s opened at %u:%u needs '%c')",
					      c, frame_name(f->kind), line, col, closer(f->kind));
			}
			start = f->off;
			r->p++;
			DL_TRY(close_coll(r, &v, &vh));
			break;
		}
		case '#':
			rc = read_dispatch(r, &v);
			if (rc < 0)
				return rc;
			if (rc == 0)
				continue;
			break;
		default: {
			/* A scalar in a collection is read straight into its scratch
			 * slot: building it in a local and copying it costs a
			 * store-forwarding stall per value (the constructors write
			 * fields piecemeal, the copy reads them 16 bytes at a time). */
			dl_value *dst = &v;
			bool direct = r->nfr && r->fr[r->nfr - 1].kind <= F_SET;
			if (direct) {
				DL_TRY(reserve_item(r));
				dst = &r->it[r->nit].v;
			}
			if (c == '"')
				rc = read_string(r, dst);
			else if (c == '\\')
				rc = read_char(r, dst);
			else
				rc = read_token(r, dst);
			if (rc < 0)
				return rc;
			if (direct) {
				r->it[r->nit++].off = start;
				continue;
			}
			break;
		}
		}
		/* A form is complete: hand it to whatever is waiting for it. */
		for (;;) {
			if (!r->nfr) {
				*out = v;
				return 0;
			}
			frame *f = &r->fr[r->nfr - 1];
			if (f->kind <= F_SET) {
				DL_TRY(push_item(r, &v, start, vh));
				break;
			}
			r->nfr--;
			if (f->kind == F_DISCARD) {
				r->discards--;
				break;
			}
			DL_TRY(apply_tag(r, f, &v, start));
			start = f->off;
		}
	}
}

/* ---- public API -------------------------------------------------------- */

/* A byte order mark some editors put first in a file: not part of the text
 * (it would otherwise read as a symbol). */
static size_t skip_bom(const char *text, size_t len)
{
	return len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

int dl_edn_read(dl_value *out, size_t *used, dl_arena *a, const char *text, size_t len,
		const dl_edn_opts *opts)
{
	assert(out && used && a && (text || !len));
	rd r;
	rd_init(&r, text, len, skip_bom(text, len), 1, 1, opts, a);
	int rc = read_form(&r, out);
	if (rc == 0)
		skip_ws(&r);
	*used = rc == 0 || rc == DL_ENOTFOUND ? r.p : 0;
	rd_done(&r);
	return rc;
}

void dl_edn_reader_init(dl_edn_reader *r, const char *text, size_t len, const dl_edn_opts *opts)
{
	assert(r && (text || !len));
	r->text = text;
	r->len = len;
	r->pos = skip_bom(text, len);
	r->line = 1;
	r->col = 1;
	if (opts) {
		r->opts = *opts;
	} else {
		r->opts = (dl_edn_opts)DL_EDN_OPTS_INIT;
	}
}

int dl_edn_reader_next(dl_edn_reader *r, dl_value *out, dl_arena *a)
{
	assert(r && out && a);
	rd x;
	rd_init(&x, r->text, r->len, r->pos, r->line, r->col, &r->opts, a);
	int rc = read_form(&x, out);
	if (rc == 0 || rc == DL_ENOTFOUND) {
		skip_ws(&x);
		advance_pos(r->text, r->pos, x.p, &r->line, &r->col);
		r->pos = x.p;
	}
	rd_done(&x);
	return rc;
}
