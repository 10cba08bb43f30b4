/*
 * Regular expressions: re-find, re-matches, re-seq, re-pattern.
 *
 * EDN has no regex literal, so a pattern is a string (re-pattern checks
 * one and returns it unchanged).  Patterns are written in the common
 * subset of Java's syntax and compiled with POSIX <regex.h> (REG_EXTENDED),
 * after a small translation:
 *   - (?i) at the very start: case-insensitive; (?:...) non-capturing
 *     groups (dropped from the results, so group numbers match Java's);
 *   - \d \D \t \n \r \f, \A and \z; \s \S \w \W \b \B via glibc; \Q...\E;
 *     inside [...]: \d \s \w \t \n \r \f \\ and escaped punctuation.
 * Constructs whose meaning would silently change are rejected with an
 * error instead: lazy and possessive quantifiers, lookaround, other (?...)
 * groups, \p{...}, \x, \u, and backreferences past a (?:...) group.
 * Matching is POSIX leftmost-longest where Java's is leftmost-first: an
 * alternation like "a|ab" finds "ab" here and "a" on the JVM.
 *
 * Patterns and subjects are UTF-8 whatever the process locale: compiling
 * and matching run under a C.UTF-8 locale (uselocale, per thread), so `.`
 * and [^a] take a whole character and (?i) folds non-ASCII letters.
 *
 * Compiled patterns are cached in the dl_fn_ctx (DL_FN_RE_CACHE slots,
 * least recently used replaced), so a pattern constant in a query is
 * compiled once, not once per row.  Matching never copies the subject:
 * REG_STARTEND bounds it, and results borrow its bytes.
 */
#include "fn_int.h"

#include <locale.h>
#include <pthread.h>
#include <string.h>

#define MAX_GROUPS 63

static locale_t g_utf8;
static pthread_once_t g_utf8_once = PTHREAD_ONCE_INIT;

static void utf8_init(void)
{
	g_utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	if (!g_utf8)
		g_utf8 = newlocale(LC_CTYPE_MASK, "en_US.UTF-8", (locale_t)0);
}

/* Switch this thread to UTF-8 character handling; returns what to restore
 * (0 when no UTF-8 locale exists: then the process locale applies). */
static locale_t utf8_enter(void)
{
	pthread_once(&g_utf8_once, utf8_init);
	return g_utf8 ? uselocale(g_utf8) : (locale_t)0;
}

static void utf8_leave(locale_t old)
{
	if (old)
		uselocale(old);
}

typedef struct xlate {
	dl_buf out;
	int cflags;
	uint64_t noncap;
	unsigned groups;
	bool saw_noncap;
} xlate;

static int bad(const char *fn, const char *pat, size_t n, const char *why)
{
	return dl_error(DL_EINVAL, "%s: unsupported regex \"%.*s\": %s", fn,
			n > 60 ? 60 : (int)n, pat, why);
}

static int put(xlate *x, const char *s) { return dl_buf_puts(&x->out, s); }
static int putc1(xlate *x, char c) { return dl_buf_append(&x->out, &c, 1); }

static bool is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A character that must be escaped to stand for itself outside [...]. */
static bool is_meta(char c) { return c && strchr(".[]()*+?{}|^$\\", c) != NULL; }

static int put_literal(xlate *x, char c)
{
	if (is_meta(c))
		DL_TRY(putc1(x, '\\'));
	return putc1(x, c);
}

static char control_escape(char e)
{
	switch (e) {
	case 't': return '\t';
	case 'n': return '\n';
	case 'r': return '\r';
	case 'f': return '\f';
	case 'a': return '\a';
	case 'e': return 0x1B;
	}
	return 0;
}

static int translate(xlate *x, const char *fn, const char *p, size_t n)
{
	size_t i = 0;
	if (n >= 4 && memcmp(p, "(?i)", 4) == 0) {
		x->cflags |= REG_ICASE;
		i = 4;
	}
	bool in_br = false;
	size_t br_start = 0;
	while (i < n) {
		char c = p[i];
		if (c == 0)
			return bad(fn, p, n, "NUL in pattern");
		if (in_br) {
			if (c == ']' && i > br_start) {
				in_br = false;
				DL_TRY(putc1(x, c));
				i++;
				continue;
			}
			if (c == '[' && i + 1 < n && p[i + 1] == ':') {
				/* a POSIX class [:alpha:]: copy whole */
				const char *end = memmem(p + i, n - i, ":]", 2);
				if (!end)
					return bad(fn, p, n, "unterminated [: :]");
				DL_TRY(dl_buf_append(&x->out, p + i, (size_t)(end + 2 - (p + i))));
				i = (size_t)(end + 2 - p);
				continue;
			}
			if (c != '\\') {
				DL_TRY(putc1(x, c));
				i++;
				continue;
			}
			if (i + 1 >= n)
				return bad(fn, p, n, "trailing backslash");
			char e = p[i + 1], cc;
			i += 2;
			if (e == 'd')
				DL_TRY(put(x, "0-9"));
			else if (e == 's')
				DL_TRY(put(x, "[:space:]"));
			else if (e == 'w')
				DL_TRY(put(x, "[:alnum:]_"));
			else if ((cc = control_escape(e)))
				DL_TRY(putc1(x, cc));
			else if (e == ']' || e == '[' || e == '^' || e == '-')
				return bad(fn, p, n, "escaped ] [ ^ or - inside [...]");
			else if (is_alnum(e))
				return bad(fn, p, n, "this escape inside [...]");
			else
				DL_TRY(putc1(x, e)); /* \\ \. ...: literal inside [] */
			continue;
		}
		switch (c) {
		case '\\': {
			if (i + 1 >= n)
				return bad(fn, p, n, "trailing backslash");
			char e = p[i + 1], cc;
			i += 2;
			if (e == 'd') {
				DL_TRY(put(x, "[0-9]"));
			} else if (e == 'D') {
				DL_TRY(put(x, "[^0-9]"));
			} else if (strchr("sSwWbB", e)) {
				DL_TRY(putc1(x, '\\'));
				DL_TRY(putc1(x, e));
			} else if (e == 'A') {
				DL_TRY(putc1(x, '^'));
			} else if (e == 'z') {
				DL_TRY(putc1(x, '$'));
			} else if ((cc = control_escape(e))) {
				DL_TRY(putc1(x, cc));
			} else if (e == 'Q') {
				const char *end = memmem(p + i, n - i, "\\E", 2);
				size_t stop = end ? (size_t)(end - p) : n;
				for (; i < stop; i++)
					DL_TRY(put_literal(x, p[i]));
				if (end)
					i += 2;
			} else if (e >= '1' && e <= '9') {
				if (x->saw_noncap)
					return bad(fn, p, n, "backreference after a (?:...) group");
				DL_TRY(putc1(x, '\\'));
				DL_TRY(putc1(x, e));
			} else if (is_alnum(e)) {
				return bad(fn, p, n, "this escape sequence");
			} else {
				DL_TRY(put_literal(x, e));
			}
			continue;
		}
		case '[':
			in_br = true;
			DL_TRY(putc1(x, c));
			i++;
			if (i < n && p[i] == '^')
				DL_TRY(putc1(x, p[i++]));
			br_start = i; /* a ] right here is literal */
			continue;
		case '(':
			if (x->groups >= MAX_GROUPS)
				return bad(fn, p, n, "too many groups");
			x->groups++;
			if (i + 1 < n && p[i + 1] == '?') {
				if (i + 2 < n && p[i + 2] == ':') {
					x->noncap |= 1ull << x->groups;
					x->saw_noncap = true;
					DL_TRY(putc1(x, '('));
					i += 3;
					continue;
				}
				return bad(fn, p, n, "(?...) groups other than (?:...)");
			}
			DL_TRY(putc1(x, c));
			i++;
			continue;
		case '*':
		case '+':
		case '?':
		case '}':
			DL_TRY(putc1(x, c));
			i++;
			if (i < n && (p[i] == '?' || p[i] == '+'))
				return bad(fn, p, n, "lazy or possessive quantifier");
			continue;
		default:
			DL_TRY(putc1(x, c));
			i++;
		}
	}
	if (in_br)
		return bad(fn, p, n, "unterminated [...]");
	return 0;
}

/* Compile pattern `pat` into slot s (empty on entry). */
static int compile(dl_fn_re_slot *s, const char *fn, const dl_value *pat)
{
	xlate x = {DL_BUF_INIT, REG_EXTENDED, 0, 0, false};
	int rc = translate(&x, fn, pat->len ? pat->u.s : "", pat->len);
	if (rc == 0)
		rc = putc1(&x, 0);
	char *copy = NULL;
	if (rc == 0 && !(copy = dl_malloc(pat->len ? pat->len : 1)))
		rc = DL_ENOMEM;
	if (rc == 0) {
		locale_t old = utf8_enter();
		int e = regcomp(&s->re, x.out.data, x.cflags);
		utf8_leave(old);
		if (e == 0 && s->re.re_nsub > MAX_GROUPS) {
			regfree(&s->re);
			rc = bad(fn, pat->u.s, pat->len, "too many groups");
		} else if (e) {
			char why[128];
			regerror(e, &s->re, why, sizeof why);
			if (e == REG_ESPACE)
				rc = dl_error(DL_ENOMEM, "%s: out of memory compiling a regex", fn);
			else
				rc = dl_error(DL_EINVAL, "%s: bad regex \"%.*s\": %s", fn,
					      pat->len > 60 ? 60 : (int)pat->len,
					      pat->len ? pat->u.s : "", why);
		}
	}
	dl_buf_free(&x.out);
	if (rc) {
		dl_free(copy);
		return rc;
	}
	if (pat->len)
		memcpy(copy, pat->u.s, pat->len);
	s->pattern = copy;
	s->len = pat->len;
	s->noncap = x.noncap;
	return 0;
}

/* The compiled form of `pat`: from the context's cache, or compiled into
 * *tmp (which the caller releases with release()) when there is no ctx. */
static int lookup(dl_fn_re_slot **out, dl_fn_re_slot *tmp, dl_fn_ctx *ctx,
		  const char *fn, const dl_value *pat)
{
	if (pat->type != DL_STRING)
		return dl_fn_type_error(fn, "a regex pattern string", pat);
	if (!ctx) {
		tmp->pattern = NULL;
		DL_TRY(compile(tmp, fn, pat));
		*out = tmp;
		return 0;
	}
	dl_fn_re_slot *victim = NULL;
	for (size_t i = 0; i < DL_FN_RE_CACHE; i++) {
		dl_fn_re_slot *s = &ctx->re[i];
		if (s->pattern && s->len == pat->len &&
		    (!pat->len || memcmp(s->pattern, pat->u.s, pat->len) == 0)) {
			s->used = ++ctx->re_clock;
			*out = s;
			return 0;
		}
		if (!victim || (victim->pattern && (!s->pattern || s->used < victim->used)))
			victim = s;
	}
	if (victim->pattern) {
		regfree(&victim->re);
		dl_free(victim->pattern);
		victim->pattern = NULL;
	}
	DL_TRY(compile(victim, fn, pat));
	victim->used = ++ctx->re_clock;
	*out = victim;
	return 0;
}

static void release(dl_fn_re_slot *s, dl_fn_re_slot *tmp)
{
	if (s == tmp && tmp->pattern) {
		regfree(&tmp->re);
		dl_free(tmp->pattern);
		tmp->pattern = NULL;
	}
}

/* Search s[from..len); true with m[] filled on a match. */
static bool search(const dl_fn_re_slot *re, const dl_value *s, size_t from,
		   regmatch_t *m, size_t nm)
{
	m[0].rm_so = (regoff_t)from;
	m[0].rm_eo = (regoff_t)s->len;
	locale_t old = utf8_enter();
	bool hit = regexec(&re->re, s->len ? s->u.s : "", nm, m, REG_STARTEND) == 0;
	utf8_leave(old);
	return hit;
}

/* Clojure's result for a match: the matched text when the pattern has no
 * groups, else [whole g1 g2 ...] with nil for groups that did not take
 * part. */
static int match_value(dl_value *out, dl_arena *a, const dl_fn_re_slot *re,
		       const dl_value *s, const regmatch_t *m)
{
	size_t nsub = re->re.re_nsub, ncap = 0;
	for (size_t k = 1; k <= nsub; k++)
		ncap += !(re->noncap >> k & 1);
	dl_value whole = dl_string(s->u.s + m[0].rm_so, (size_t)(m[0].rm_eo - m[0].rm_so));
	if (ncap == 0) {
		*out = whole;
		return 0;
	}
	dl_value *items = DL_ARENA_NEW(a, ncap + 1, dl_value);
	if (!items)
		return DL_ENOMEM;
	items[0] = whole;
	size_t at = 1;
	for (size_t k = 1; k <= nsub; k++) {
		if (re->noncap >> k & 1)
			continue;
		if (m[k].rm_so < 0)
			items[at++] = dl_nil();
		else
			items[at++] = dl_string(s->u.s + m[k].rm_so,
						(size_t)(m[k].rm_eo - m[k].rm_so));
	}
	*out = (dl_value){.type = DL_VECTOR, .len = (uint32_t)(ncap + 1), .u.items = items};
	return 0;
}

static int need_subject(const char *fn, const dl_value *s)
{
	if (s->type != DL_STRING)
		return dl_fn_type_error(fn, "a string to match", s);
	return 0;
}

int dl_fn_re_pattern(DL_FN_ARGS)
{
	dl_fn_re_slot tmp, *re;
	DL_TRY(lookup(&re, &tmp, ctx, "re-pattern", &args[0]));
	release(re, &tmp);
	*out = args[0];
	return 0;
}

int dl_fn_re_find(DL_FN_ARGS)
{
	dl_fn_re_slot tmp, *re;
	regmatch_t m[MAX_GROUPS + 1];
	DL_TRY(need_subject("re-find", &args[1]));
	DL_TRY(lookup(&re, &tmp, ctx, "re-find", &args[0]));
	int rc = 0;
	if (search(re, &args[1], 0, m, re->re.re_nsub + 1))
		rc = match_value(out, a, re, &args[1], m);
	else
		*out = dl_nil();
	release(re, &tmp);
	return rc;
}

/* The whole string must match.  POSIX takes the longest match at the
 * leftmost position, so if any match covers all of s, this one does. */
int dl_fn_re_matches(DL_FN_ARGS)
{
	dl_fn_re_slot tmp, *re;
	regmatch_t m[MAX_GROUPS + 1];
	const dl_value *s = &args[1];
	DL_TRY(need_subject("re-matches", s));
	DL_TRY(lookup(&re, &tmp, ctx, "re-matches", &args[0]));
	int rc = 0;
	if (search(re, s, 0, m, re->re.re_nsub + 1) && m[0].rm_so == 0 &&
	    (size_t)m[0].rm_eo == s->len)
		rc = match_value(out, a, re, s, m);
	else
		*out = dl_nil();
	release(re, &tmp);
	return rc;
}

/* Every match, left to right, as a list (nil when there is none, as
 * Clojure's re-seq gives); an empty match moves on one character. */
int dl_fn_re_seq(DL_FN_ARGS)
{
	dl_fn_re_slot tmp, *re;
	regmatch_t m[MAX_GROUPS + 1];
	const dl_value *s = &args[1];
	DL_TRY(need_subject("re-seq", s));
	DL_TRY(lookup(&re, &tmp, ctx, "re-seq", &args[0]));
	dl_value *items = NULL;
	size_t n = 0, cap = 0, from = 0;
	int rc = 0;
	while (from <= s->len && search(re, s, from, m, re->re.re_nsub + 1)) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			dl_value *bigger = DL_ARENA_NEW(a, ncap, dl_value);
			if (!bigger) {
				rc = DL_ENOMEM;
				break;
			}
			if (n)
				memcpy(bigger, items, n * sizeof *items);
			items = bigger;
			cap = ncap;
		}
		rc = match_value(&items[n++], a, re, s, m);
		if (rc)
			break;
		size_t next = (size_t)m[0].rm_eo;
		if (next == (size_t)m[0].rm_so) { /* empty: step one code point */
			next++;
			while (next < s->len && ((unsigned char)s->u.s[next] & 0xC0) == 0x80)
				next++;
		}
		from = next;
	}
	release(re, &tmp);
	if (rc)
		return rc;
	if (n > UINT32_MAX)
		return dl_error(DL_ELIMIT, "re-seq: too many matches");
	*out = n ? (dl_value){.type = DL_LIST, .len = (uint32_t)n, .u.items = items} : dl_nil();
	return 0;
}
