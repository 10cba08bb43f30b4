/* The EDN reader and printer: every syntax feature with exact expectations,
 * positioned error messages, and properties (random values round-trip,
 * truncated and garbled text fails cleanly, allocation failures leak
 * nothing). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------- */

/* Read every form of text (len bytes) into a; print them one per line. */
static int read_all(dl_buf *out, dl_arena *a, const char *text, size_t len,
		    const dl_edn_opts *o)
{
	dl_edn_reader r;
	dl_edn_reader_init(&r, text, len, o);
	bool first = true;
	for (;;) {
		dl_value v;
		int rc = dl_edn_reader_next(&r, &v, a);
		if (rc == DL_ENOTFOUND)
			return 0;
		if (rc)
			return rc;
		if (!first)
			dl_buf_append(out, "\n", 1);
		first = false;
		rc = dl_edn_print(out, &v);
		if (rc)
			return rc;
	}
}

/* Read v's printed text back: equal value, identical second printing. */
static void check_round_trip(const dl_value *v)
{
	dl_buf b1 = DL_BUF_INIT, b2 = DL_BUF_INIT;
	dl_arena a = DL_ARENA_INIT;
	assert_int_equal(dl_edn_print(&b1, v), 0);
	dl_value w;
	size_t used;
	dl_edn_opts o = DL_EDN_OPTS_INIT;
	int rc = dl_edn_read(&w, &used, &a, b1.data, b1.len, &o);
	if (rc)
		fail_msg("printed text '%s' does not read: %s", b1.data, dl_errmsg());
	if (used != b1.len)
		fail_msg("printed text '%s' read only %zu bytes", b1.data, used);
	if (!dl_value_equal(v, &w))
		fail_msg("'%s' reads back as a different value", b1.data);
	assert_int_equal(dl_edn_print(&b2, &w), 0);
	if (strcmp(b1.data, b2.data) != 0)
		fail_msg("print is not stable: '%s' then '%s'", b1.data, b2.data);
	dl_buf_free(&b1);
	dl_buf_free(&b2);
	dl_arena_free(&a);
}

/* text reads, printing its forms (one per line) gives `want`, and that text
 * reads and prints the same again. */
static void rt(const char *text, const char *want)
{
	dl_buf b = DL_BUF_INIT, b2 = DL_BUF_INIT;
	dl_arena a = DL_ARENA_INIT;
	int rc = read_all(&b, &a, text, strlen(text), NULL);
	if (rc)
		fail_msg("reading '%s' failed: %s", text, dl_errmsg());
	const char *got = b.data ? b.data : "";
	if (strcmp(got, want) != 0)
		fail_msg("'%s' printed as '%s', want '%s'", text, got, want);
	rc = read_all(&b2, &a, got, b.len, NULL);
	if (rc)
		fail_msg("re-reading '%s' failed: %s", got, dl_errmsg());
	if (strcmp(b2.data ? b2.data : "", got) != 0)
		fail_msg("'%s' re-printed as '%s'", got, b2.data);
	dl_buf_free(&b);
	dl_buf_free(&b2);
	dl_arena_free(&a);
}

/* Same with binary-safe input. */
static void rtn(const char *text, size_t len, const char *want)
{
	dl_buf b = DL_BUF_INIT;
	dl_arena a = DL_ARENA_INIT;
	int rc = read_all(&b, &a, text, len, NULL);
	if (rc)
		fail_msg("reading failed: %s", dl_errmsg());
	assert_string_equal(b.data ? b.data : "", want);
	dl_buf_free(&b);
	dl_arena_free(&a);
}

/* Reading text fails with `code` and a message starting with `prefix`
 * (typically "<input>:line:col: problem"). */
static void err_code(const char *text, size_t len, int code, const char *prefix)
{
	dl_buf b = DL_BUF_INIT;
	dl_arena a = DL_ARENA_INIT;
	dl_error_clear();
	int rc = read_all(&b, &a, text, len, NULL);
	if (rc != code)
		fail_msg("reading '%s': got %d (%s), want %d", text, rc, dl_errmsg(), code);
	if (strncmp(dl_errmsg(), prefix, strlen(prefix)) != 0)
		fail_msg("reading '%s': message '%s' does not start with '%s'", text, dl_errmsg(),
			 prefix);
	dl_buf_free(&b);
	dl_arena_free(&a);
}

static void err(const char *text, const char *prefix)
{
	err_code(text, strlen(text), DL_ESYNTAX, prefix);
}

static dl_value rd1(dl_arena *a, const char *text) { return tu_edn(a, text); }

/* Whether msg starts with "src:line:col: ". */
static bool positioned(const char *msg, const char *src)
{
	size_t n = strlen(src);
	if (strncmp(msg, src, n) != 0 || msg[n] != ':')
		return false;
	unsigned line, col;
	int used = 0;
	if (sscanf(msg + n, ":%u:%u: %n", &line, &col, &used) != 2 || used == 0)
		return false;
	return line >= 1 && col >= 1;
}

/* ---- scalars ----------------------------------------------------------- */

static void test_nil_bool_int(void **state)
{
	(void)state;
	rt("nil true false", "nil\ntrue\nfalse");
	rt("42 -7 +3 0 -0 +0", "42\n-7\n3\n0\n0\n0");
	rt("9223372036854775807 -9223372036854775808",
	   "9223372036854775807\n-9223372036854775808");
	rt("12N -12N 0N 9223372036854775807N", "12N\n-12N\n0N\n9223372036854775807N");
	dl_arena a = DL_ARENA_INIT;
	dl_value v = rd1(&a, "12N");
	assert_int_equal(v.type, DL_INT);
	assert_int_equal(v.u.i, 12);
	assert_int_equal(v.flags, DL_VF_BIGINT);
	v = rd1(&a, "-9223372036854775808");
	assert_true(v.u.i == INT64_MIN);
	v = rd1(&a, "nil");
	assert_int_equal(v.type, DL_NIL);
	v = rd1(&a, "false");
	assert_int_equal(v.type, DL_BOOL);
	assert_false(v.u.b);
	dl_arena_free(&a);

	err("9223372036854775808", "<input>:1:1: integer out of range");
	err("9223372036854775808N", "<input>:1:1: integer out of range");
	err("-9223372036854775809", "<input>:1:1: integer out of range");
	err("[1 99999999999999999999999999999]", "<input>:1:4: integer out of range");
	err("012", "<input>:1:1: invalid number '012'");
	err("1a", "<input>:1:1: invalid number '1a'");
	err("0x10", "<input>:1:1: invalid number");
	err("1/2", "<input>:1:1: invalid number '1/2'");
	err("1.5N", "<input>:1:1: invalid number '1.5N'");
	err("1e", "<input>:1:1: invalid number '1e'");
	err("1e+", "<input>:1:1: invalid number");
	err("-1-", "<input>:1:1: invalid number");
	err("1NN", "<input>:1:1: invalid number");
}

/* Short decimals take a fast path in the reader: it must give strtod's
 * double, bit for bit, for every digit count and point position. */
static void test_float_fast_path(void **state)
{
	(void)state;
	srand(7);
	dl_arena a = DL_ARENA_INIT;
	dl_edn_opts o = DL_EDN_OPTS_INIT;
	for (int n = 0; n < 200000; n++) {
		char t[40];
		int digits = 1 + rand() % 17, point = rand() % (digits + 1), k = 0;
		if (rand() % 2)
			t[k++] = '-';
		for (int d = 0; d < digits; d++) {
			if (d == point)
				t[k++] = '.';
			/* no leading zeros before the point (EDN) */
			t[k++] = (char)('0' + (d == 0 && point > 1 ? 1 + rand() % 9 : rand() % 10));
		}
		if (point == digits)
			t[k++] = '.';
		t[k] = 0;
		if (t[0] == '.' || (t[0] == '-' && t[1] == '.'))
			continue; /* EDN needs a digit before the point */
		dl_value v;
		size_t used;
		if (dl_edn_read(&v, &used, &a, t, (size_t)k, &o) != 0)
			fail_msg("%s: %s", t, dl_errmsg());
		double want = strtod(t, NULL);
		if (v.type != DL_DOUBLE || memcmp(&v.u.d, &want, sizeof want) != 0)
			fail_msg("%s: read %.17g, strtod %.17g", t, v.u.d, want);
		dl_arena_reset(&a);
	}
	dl_arena_free(&a);
}

static void test_floats(void **state)
{
	(void)state;
	rt("1.5 -0.0 0.0 1e3 2.5M ##NaN ##-Inf ##Inf",
	   "1.5\n-0.0\n0.0\n1000.0\n2.5M\n##NaN\n##-Inf\n##Inf");
	rt("0.1 1E-7 1.5e+20 -2.25E2 1. 1M 3e0M", "0.1\n1.0E-7\n1.5E20\n-225.0\n1.0\n1.0M\n3.0M");
	rt("1e400 -1e400 1e-400", "##Inf\n##-Inf\n0.0");
	rt("1.7976931348623157e308 4.9e-324 2.2250738585072014E-308",
	   "1.7976931348623157E308\n4.94065645841247E-324\n2.2250738585072014E-308");
	rt("123456789012345678 0.30000000000000004 100000000000000000000.0",
	   "123456789012345678\n0.30000000000000004\n1.0E20");
	rt("1e15 1e14 1e16", "1.0E15\n100000000000000.0\n1.0E16");
	/* a long mantissa goes through the bounded copy */
	rt("1.00000000000000000000000000000000000000000000000000000000000000000000000000000000"
	   "00000000000000000000000000000000000000000000000000000000000000000000000000001",
	   "1.0");
	dl_arena a = DL_ARENA_INIT;
	dl_value v = rd1(&a, "-0.0");
	assert_int_equal(v.type, DL_DOUBLE);
	assert_true(signbit(v.u.d));
	v = rd1(&a, "2.5M");
	assert_int_equal(v.flags, DL_VF_BIGDEC);
	assert_true(v.u.d == 2.5);
	v = rd1(&a, "##NaN");
	assert_true(isnan(v.u.d));
	v = rd1(&a, "1");
	assert_int_equal(v.type, DL_INT);
	v = rd1(&a, "1.0");
	assert_int_equal(v.type, DL_DOUBLE);
	dl_arena_free(&a);

	err("##nan", "<input>:1:1: unknown symbolic value ##nan");
	err("##", "<input>:1:1: unknown symbolic value ##");
	err("01.5", "<input>:1:1: invalid number");
	err("1.5.5", "<input>:1:1: invalid number");
	err("1.5e3.0", "<input>:1:1: invalid number");
	err("1.5MM", "<input>:1:1: invalid number");

	/* every double prints so that it reads back exactly */
	tu_seed(7);
	for (long i = 0, iters = tu_scale(5000); i < iters; i++) {
		uint64_t u = tu_rand();
		double d;
		memcpy(&d, &u, sizeof d);
		dl_value x = dl_double(d);
		check_round_trip(&x);
		char *s = tu_print(&x);
		if (!isnan(d) && !isinf(d))
			assert_true(strchr(s, '.') != NULL);
		free(s);
	}
}

static void test_strings(void **state)
{
	(void)state;
	rt("\"\" \"abc\" \"tab\\there\"", "\"\"\n\"abc\"\n\"tab\\there\"");
	rt("\"\\t\\r\\n\\\\\\\"\\b\\f\"", "\"\\t\\r\\n\\\\\\\"\\u0008\\u000c\"");
	rt("\"\\u00e9\\u20AC\" \"\\ud83d\\ude00\" \"a\\u0000b\"",
	   "\"é€\"\n\"😀\"\n\"a\\u0000b\"");
	rt("\"\\u0001\\u001f\\u007f\\u0080\\u009f\\u00a0\"",
	   "\"\\u0001\\u001f\\u007f\\u0080\\u009f\u00a0\"");
	rt("\"multi\nline\"", "\"multi\\nline\"");
	rt("\"é😀 raw\"", "\"é😀 raw\"");
	rt("\"a;b\" \"#_x\" \"[\"", "\"a;b\"\n\"#_x\"\n\"[\"");
	rt("\"\\\\\" \"\\\\\\\"\"", "\"\\\\\"\n\"\\\\\\\"\"");
	dl_arena a = DL_ARENA_INIT;
	dl_value v = rd1(&a, "\"a\\u0000b\"");
	assert_int_equal(v.type, DL_STRING);
	assert_int_equal(v.len, 3);
	assert_memory_equal(v.u.s, "a\0b", 3);
	v = rd1(&a, "\"\\ud83d\\ude00\"");
	assert_int_equal(v.len, 4);
	assert_memory_equal(v.u.s, "\xF0\x9F\x98\x80", 4);
	v = rd1(&a, "\"\"");
	assert_int_equal(v.len, 0);
	dl_arena_free(&a);
	/* a raw NUL byte inside a string is kept */
	rtn("\"a\0b\"", 5, "\"a\\u0000b\"");

	err("\"abc", "<input>:1:1: unterminated string");
	err("  \"abc\\\"", "<input>:1:3: unterminated string");
	err("[\"a\" \"b]", "<input>:1:6: unterminated string");
	err("\"\\x\"", "<input>:1:2: unsupported escape \\'x' in string");
	err("\"ab\\u12\"", "<input>:1:4: \\u must be followed by four hex digits");
	err("\"\\u12G4\"", "<input>:1:2: \\u must be followed by four hex digits");
	err("\"\\ud83d\"", "<input>:1:2: lone surrogate \\uD83D in string");
	err("\"\\ud83dx\"", "<input>:1:2: lone surrogate");
	err("\"\\ud83d\\u0041\"", "<input>:1:2: lone surrogate");
	err("\"\\ude00\"", "<input>:1:2: lone surrogate \\uDE00 in string");
	err("\"ab\xff\"", "<input>:1:4: invalid UTF-8 in string");
	err("\"\xc3\"", "<input>:1:2: invalid UTF-8 in string");
	err("\"\xc0\xaf\"", "<input>:1:2: invalid UTF-8 in string");   /* overlong */
	err("\"\xed\xa0\x80\"", "<input>:1:2: invalid UTF-8 in string"); /* surrogate */
	err("\"\xf4\x90\x80\x80\"", "<input>:1:2: invalid UTF-8 in string");
}

static void test_chars(void **state)
{
	(void)state;
	rt("\\a \\Z \\newline \\space \\tab \\return \\backspace \\formfeed",
	   "\\a\n\\Z\n\\newline\n\\space\n\\tab\n\\return\n\\backspace\n\\formfeed");
	rt("\\u00e9 \\u0041 \\u0000 \\u001b \\é \\😀", "\\é\n\\A\n\\u0000\n\\u001b\n\\é\n\\😀");
	rt("\\o101 \\o0 \\o377 \\u \\o \\n \\t", "\\A\n\\u0000\n\\ÿ\n\\u\n\\o\n\\n\n\\t");
	rt("[\\( \\) \\[ \\] \\{ \\} \\\" \\; \\\\ \\#]",
	   "[\\( \\) \\[ \\] \\{ \\} \\\" \\; \\\\ \\#]");
	rt("[\\a\\b] (\\a)", "[\\a \\b]\n(\\a)");
	rt("\\u002c \\u00a0", "\\u002c\n\\\u00a0");
	dl_arena a = DL_ARENA_INIT;
	dl_value v = rd1(&a, "\\newline");
	assert_int_equal(v.type, DL_CHAR);
	assert_int_equal(v.u.cp, '\n');
	v = rd1(&a, "\\😀");
	assert_int_equal(v.u.cp, 0x1F600);
	dl_arena_free(&a);

	err("\\", "<input>:1:1: backslash at end of input");
	err("[\\ ]", "<input>:1:2: backslash followed by whitespace");
	err("\\,", "<input>:1:1: backslash followed by whitespace");
	err("\\abc", "<input>:1:1: unsupported character \\abc");
	err("\\newlines", "<input>:1:1: unsupported character");
	err("\\u12", "<input>:1:1: unsupported character \\u12");
	err("\\ud800", "<input>:1:1: character \\uD800 is a lone surrogate");
	err("\\o400", "<input>:1:1: octal character \\o400 above \\o377");
	err("\\o8", "<input>:1:1: unsupported character");
	err("\\\xff", "<input>:1:2: invalid UTF-8 in character");

	/* the printer: characters it cannot write are errors, nothing appended */
	dl_buf b = DL_BUF_INIT;
	dl_buf_puts(&b, "x");
	dl_value c = dl_char(0xD800);
	assert_int_equal(dl_edn_print(&b, &c), DL_EINVAL);
	c = dl_char(0x110000);
	assert_int_equal(dl_edn_print(&b, &c), DL_EINVAL);
	assert_string_equal(b.data, "x");
	dl_buf_free(&b);
	for (uint32_t cp = 0; cp < 0x3000; cp++) {
		if (cp >= 0xD800 && cp <= 0xDFFF)
			continue;
		dl_value x = dl_char(cp);
		check_round_trip(&x);
	}
}

static void test_symbols_keywords(void **state)
{
	(void)state;
	rt("a foo-bar ns/name / + - . <= ?x ... _ $ % * ! & = < > a.b.c/d-e",
	   "a\nfoo-bar\nns/name\n/\n+\n-\n.\n<=\n?x\n...\n_\n$\n%\n*\n!\n&\n=\n<\n>\na.b.c/d-e");
	rt("a# a:b -a +a .a -> a1 ?e1 ns/+ é ns/ñ nil/x true? false.", "a#\na:b\n-a\n+a\n.a\n->\na1\n?e1\nns/+\né\nns/ñ\nnil/x\ntrue?\nfalse.");
	rt(":a :ns/name :a.b/c-d :+ :- :? :a# :a:b :nil :true :...",
	   ":a\n:ns/name\n:a.b/c-d\n:+\n:-\n:?\n:a#\n:a:b\n:nil\n:true\n:...");
	dl_arena a = DL_ARENA_INIT;
	dl_value v = rd1(&a, ":ns/name");
	assert_int_equal(v.type, DL_KEYWORD);
	size_t n, nsl;
	const char *s = dl_intern_name(v.u.id, &n, &nsl);
	assert_int_equal(n, 7);
	assert_memory_equal(s, "ns/name", 7);
	assert_int_equal(nsl, 2);
	dl_value w = rd1(&a, "ns/name");
	assert_int_equal(w.type, DL_SYMBOL);
	assert_int_equal(w.u.id, v.u.id); /* one intern table for both */
	dl_arena_free(&a);

	err(":", "<input>:1:1: invalid keyword ':'");
	err("::a", "<input>:1:1: invalid keyword '::a'");
	err(":/", "<input>:1:1: invalid keyword ':/'");
	err(":/a", "<input>:1:1: invalid keyword");
	err(":a/", "<input>:1:1: invalid keyword");
	err(":1", "<input>:1:1: invalid keyword");
	err("a/", "<input>:1:1: invalid symbol 'a/'");
	err("/a", "<input>:1:1: invalid symbol '/a'");
	err("a/b/c", "<input>:1:1: invalid symbol 'a/b/c'");
	err("//", "<input>:1:1: invalid symbol");
	err("a/1", "<input>:1:1: invalid symbol");
	err(".5", "<input>:1:1: invalid symbol '.5'");
	rt("-.5x +.5", "-.5x\n+.5"); /* only a digit second makes a number */
	err("-5x", "<input>:1:1: invalid number");
	err("a@b", "<input>:1:2: invalid '@' in symbol");
	err(":a^b", "<input>:1:3: invalid '^' in keyword");
	err("@a", "<input>:1:1: unexpected '@'");
	err("'a", "<input>:1:1: unexpected '''");
	err("`a", "<input>:1:1: unexpected '`'");
	err("~a", "<input>:1:1: unexpected '~'");
	err("ab\x01", "<input>:1:3: invalid character U+0001 in symbol");
	err("a\xff", "<input>:1:2: invalid byte 0xFF in symbol");
	err("\xc2\x85", "<input>:1:1: unexpected character U+0085");
}

/* ---- collections ------------------------------------------------------- */

static void test_collections(void **state)
{
	(void)state;
	rt("[1, 2 ,3] (a b) #{:x} {:a 1, :b [2 3]} ; a comment\n #_ #_ 9 8 [#_ 1]",
	   "[1 2 3]\n(a b)\n#{:x}\n{:a 1, :b [2 3]}\n[]");
	rt("[] () {} #{}", "[]\n()\n{}\n#{}");
	rt("[[[]]] ([{#{()} 1}]) {[1] {2 3}}", "[[[]]]\n([{#{()} 1}])\n{[1] {2 3}}");
	rt("{:a 1 :b 2 :c 3}", "{:a 1, :b 2, :c 3}");
	rt("[1[2]3(4)#{5}{6 7}\"s\"\\c]", "[1 [2] 3 (4) #{5} {6 7} \"s\" \\c]");
	rt("{1 :a 1.0 :b} #{1 1.0}", "{1 :a, 1.0 :b}\n#{1 1.0}");
	err("#{1 1N}", "<input>:1:5: duplicate element in set: 1N"); /* flags do not count */
	rt("#{[1 2] [2 1] #{1 2} (1 2)}", "#{[1 2] [2 1] #{1 2} (1 2)}");
	dl_arena a = DL_ARENA_INIT;
	dl_value v = rd1(&a, "{:a 1, :b [2 3]}");
	assert_int_equal(v.type, DL_MAP);
	assert_int_equal(v.len, 2);
	assert_int_equal(v.u.items[1].u.i, 1);
	assert_int_equal(v.u.items[3].type, DL_VECTOR);
	assert_int_equal(v.u.items[3].len, 2);
	v = rd1(&a, "(1 2 3)");
	assert_int_equal(v.type, DL_LIST);
	assert_int_equal(v.len, 3);
	v = rd1(&a, "#{1 2}");
	assert_int_equal(v.type, DL_SET);
	assert_int_equal(v.len, 2);
	dl_arena_free(&a);

	/* big collections: scratch growth and the hashed duplicate check */
	dl_buf t = DL_BUF_INIT, want = DL_BUF_INIT;
	dl_buf_puts(&t, "#{");
	dl_buf_puts(&want, "#{");
	for (int i = 0; i < 3000; i++) {
		dl_buf_printf(&t, "%s[%d \"s%d\"]", i ? " " : "", i, i);
		dl_buf_printf(&want, "%s[%d \"s%d\"]", i ? " " : "", i, i);
	}
	dl_buf_puts(&want, "}");
	dl_buf_puts(&t, "}");
	rt(t.data, want.data);
	t.len -= 1;
	dl_buf_puts(&t, " [7 \"s7\"]}");
	err(t.data, "<input>:1:");
	assert_non_null(strstr(dl_errmsg(), "duplicate element in set: [7 \"s7\"]"));
	t.len = 0;
	dl_buf_puts(&t, "{");
	for (int i = 0; i < 500; i++)
		dl_buf_printf(&t, ":k%d %d ", i, i);
	dl_buf_puts(&t, "\n:k123 0}");
	err(t.data, "<input>:2:1: duplicate key in map: :k123");
	dl_buf_free(&t);
	dl_buf_free(&want);

	err("{:a 1 :a 2}", "<input>:1:7: duplicate key in map: :a");
	err("{:a 1 :b}", "<input>:1:1: map literal must contain an even number of forms");
	err("[{1 2 3}]", "<input>:1:2: map literal must contain an even number of forms");
	err("#{1 2 1}", "<input>:1:7: duplicate element in set: 1");
	err("#{##NaN ##NaN}", "<input>:1:9: duplicate element in set: ##NaN");
	err("#{{:a 1 :b 2} {:b 2 :a 1}}", "<input>:1:15: duplicate element in set");
	err("{[1 2] 0 [1 2] 1}", "<input>:1:10: duplicate key in map: [1 2]");
	err("  [1 2", "<input>:1:3: unterminated vector");
	err("(1 (2)", "<input>:1:1: unterminated list");
	err("{:a 1", "<input>:1:1: unterminated map");
	err("#{1", "<input>:1:1: unterminated set");
	err(")", "<input>:1:1: unexpected ')'");
	err("[1 2))", "<input>:1:5: unexpected ')' (the vector opened at 1:1 needs ']')");
	err("(]", "<input>:1:2: unexpected ']'");
	err("#{1}}", "<input>:1:5: unexpected '}'");
	err("[#_]", "<input>:1:4: unexpected ']'");
}

/* ---- tags, discard, comments ------------------------------------------- */

static void test_inst(void **state)
{
	(void)state;
	rt("#inst \"2026-11-02T09:30:00.1234-05:00\"", "#inst \"2026-11-02T14:30:00.123Z\"");
	rt("#inst \"2020-01-02\" #inst \"2020-01-02T03:04:05Z\" #inst \"2020\" #inst \"2020-02\"",
	   "#inst \"2020-01-02T00:00:00.000Z\"\n#inst \"2020-01-02T03:04:05.000Z\"\n"
	   "#inst \"2020-01-01T00:00:00.000Z\"\n#inst \"2020-02-01T00:00:00.000Z\"");
	rt("#inst \"2020-01-02T03:04\" #inst \"2020-01-02T03\" #inst \"2020-01-02t03:04:05.5z\"",
	   "#inst \"2020-01-02T03:04:00.000Z\"\n#inst \"2020-01-02T03:00:00.000Z\"\n"
	   "#inst \"2020-01-02T03:04:05.500Z\"");
	rt("#inst \"1970-01-01T00:00:00.000+01:30\" #inst\"1969-12-31T23:59:59.999Z\"",
	   "#inst \"1969-12-31T22:30:00.000Z\"\n#inst \"1969-12-31T23:59:59.999Z\"");
	rt("#inst \"2000-02-29T12:00:00.999999999Z\" #inst \"1600-02-29\" #inst \"0000-01-01\"",
	   "#inst \"2000-02-29T12:00:00.999Z\"\n#inst \"1600-02-29T00:00:00.000Z\"\n"
	   "#inst \"0000-01-01T00:00:00.000Z\"");
	rt("#inst \"9999-12-31T23:59:59.999Z\" #inst \"-0001-12-31\" #inst \"+10000-01-01\"",
	   "#inst \"9999-12-31T23:59:59.999Z\"\n#inst \"-0001-12-31T00:00:00.000Z\"\n"
	   "#inst \"+10000-01-01T00:00:00.000Z\"");
	dl_arena a = DL_ARENA_INIT;
	dl_value v = rd1(&a, "#inst \"1970-01-01T00:00:01.5Z\"");
	assert_int_equal(v.type, DL_INST);
	assert_int_equal(v.u.i, 1500);
	v = rd1(&a, "#inst \"1969-12-31T23:59:59.999Z\"");
	assert_int_equal(v.u.i, -1);
	v = rd1(&a, "#inst \"2020-01-02T03:04:05Z\"");
	assert_int_equal(v.u.i, 1577934245000LL);
	dl_arena_free(&a);
	/* the whole int64 range prints and reads back */
	int64_t edge[] = {INT64_MIN, INT64_MIN + 1, INT64_MAX, INT64_MAX - 1, 0, -1, 1,
			  -62135596800000LL, -62167219200000LL, -62167219200001LL,
			  253402300799999LL, 253402300800000LL};
	for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) {
		dl_value x = dl_inst(edge[i]);
		check_round_trip(&x);
	}
	dl_value x = dl_inst(INT64_MIN);
	char *s = tu_print(&x);
	assert_string_equal(s, "#inst \"-292275055-05-16T16:47:04.192Z\"");
	free(s);
	x = dl_inst(INT64_MAX);
	s = tu_print(&x);
	assert_string_equal(s, "#inst \"+292278994-08-17T07:12:55.807Z\"");
	free(s);
	tu_seed(11);
	for (long i = 0, iters = tu_scale(3000); i < iters; i++) {
		x = dl_inst((int64_t)tu_rand() >> (tu_rand() % 40));
		check_round_trip(&x);
	}

	err("#inst \"2020-13-01\"", "<input>:1:7: invalid #inst \"2020-13-01\": month out of range");
	err("#inst \"2020-00-01\"", "<input>:1:7: invalid #inst");
	err("#inst \"2020-01-32\"", "<input>:1:7: invalid #inst \"2020-01-32\": day out of range");
	err("#inst \"2021-02-29\"", "<input>:1:7: invalid #inst \"2021-02-29\": day out of range");
	err("#inst \"2020-02-30\"", "<input>:1:7: invalid #inst");
	err("#inst \"1900-02-29\"", "<input>:1:7: invalid #inst");
	err("#inst \"2020-04-31\"", "<input>:1:7: invalid #inst");
	err("#inst \"2020-01-01T24:00\"", "<input>:1:7: invalid #inst");
	err("#inst \"2020-01-01T23:60\"", "<input>:1:7: invalid #inst");
	err("#inst \"2020-01-01T23:59:60\"", "<input>:1:7: invalid #inst");
	err("#inst \"2020-01-01T00:00:00+24:00\"", "<input>:1:7: invalid #inst");
	err("#inst \"2020-01-01T00:00:00+0100\"", "<input>:1:7: invalid #inst");
	err("#inst \"2020-01-01T00:00:00.Z\"", "<input>:1:7: invalid #inst");
	err("#inst \"2020-01-01 00:00\"", "<input>:1:7: invalid #inst");
	err("#inst \"20-01-01\"", "<input>:1:7: invalid #inst");
	err("#inst \"\"", "<input>:1:7: invalid #inst");
	err("#inst \"+999999999-01-01\"", "<input>:1:7: invalid #inst \"+999999999-01-01\": instant out of range");
	err("#inst 2020", "<input>:1:7: #inst must be followed by a string");
	err("#inst", "<input>:1:1: #inst must be followed by a string");
	err("#_ #foo", "<input>:1:4: a tag must be followed by a form");
	err("[#inst]", "<input>:1:7: unexpected ']'");
}

static void test_uuid_bytes(void **state)
{
	(void)state;
	rt("#uuid \"6F1C2B6E-0D4A-4C53-9D2E-3C1F7A8B9E01\"",
	   "#uuid \"6f1c2b6e-0d4a-4c53-9d2e-3c1f7a8b9e01\"");
	dl_arena a = DL_ARENA_INIT;
	dl_value v = rd1(&a, "#uuid \"00112233-4455-6677-8899-aabbccddeeff\"");
	assert_int_equal(v.type, DL_UUID);
	for (int i = 0; i < 16; i++)
		assert_int_equal(v.u.uuid[i], i * 0x11);
	v = rd1(&a, "#bytes \"AAEC/w==\"");
	assert_int_equal(v.type, DL_BYTES);
	assert_int_equal(v.len, 4);
	assert_memory_equal(v.u.s, "\x00\x01\x02\xff", 4);
	dl_arena_free(&a);
	rt("#bytes \"\" #bytes \"AA==\" #bytes \"AAE=\" #bytes \"AAEC\" #bytes \"AAECAw\" #bytes\"+/+/\"",
	   "#bytes \"\"\n#bytes \"AA==\"\n#bytes \"AAE=\"\n#bytes \"AAEC\"\n#bytes \"AAECAw==\"\n"
	   "#bytes \"+/+/\"");
	tu_seed(5);
	for (long i = 0, iters = tu_scale(500); i < iters; i++) {
		uint8_t buf[40];
		size_t n = tu_rand() % sizeof buf;
		for (size_t k = 0; k < n; k++)
			buf[k] = (uint8_t)tu_rand();
		dl_value x = dl_bytes(buf, n);
		check_round_trip(&x);
	}
	err("#uuid \"6f1c2b6e-0d4a-4c53-9d2e-3c1f7a8b9e0\"", "<input>:1:7: invalid #uuid");
	err("#uuid \"6f1c2b6e0-d4a-4c53-9d2e-3c1f7a8b9e01\"", "<input>:1:7: invalid #uuid");
	err("#uuid \"6f1c2b6e-0d4a-4c53-9d2e-3c1f7a8b9e0g\"", "<input>:1:7: invalid #uuid");
	err("#uuid \"6f1c2b6e-0d4a-4c53-9d2e+3c1f7a8b9e01\"", "<input>:1:7: invalid #uuid");
	err("#uuid 1", "<input>:1:7: #uuid must be followed by a string");
	err("#bytes \"A\"", "<input>:1:8: invalid #bytes \"A\": bad base64");
	err("#bytes \"AA=\"", "<input>:1:8: invalid #bytes");
	err("#bytes \"A===\"", "<input>:1:8: invalid #bytes");
	err("#bytes \"AA AA\"", "<input>:1:8: invalid #bytes");
	err("#bytes \"AA==AA==\"", "<input>:1:8: invalid #bytes");
}

static void test_tags_discard_comments(void **state)
{
	(void)state;
	err("[1\n  #foo 2]", "<input>:2:3: unknown tag #foo");
	err("#foo/bar 1", "<input>:1:1: unknown tag #foo/bar");
	err("#Inst \"2020\"", "<input>:1:1: unknown tag #Inst");
	err("#:a{:b 1}", "<input>:1:1: unsupported dispatch #':'");
	err("#(1)", "<input>:1:1: unsupported dispatch #'('");
	err("#", "<input>:1:1: unexpected end of input after '#'");
	err("#_", "<input>:1:1: #_ must be followed by a form");
	err("[1 #_]", "<input>:1:6: unexpected ']'");
	err("#_ #_ 1", "<input>:1:1: #_ must be followed by a form");
	/* discards: nested, adjacent, inside collections, of unknown tags */
	rt("#_ #_ 1 2 3", "3");
	rt("[1 #_ 2 3] [#_ #_ [a] b c] #_1 4", "[1 3]\n[c]\n4");
	rt("{:a #_ :x 1} #{#_ 1}", "{:a 1}\n#{}");
	rt("#_ #foo [1 2] 5 #_ #foo #bar x 6", "5\n6");
	rt("#_ #inst \"2020\" 7", "7");
	rt("#_#_1 2 3", "3");
	rt("#inst #_ 1 \"2020\"", "#inst \"2020-01-01T00:00:00.000Z\"");
	/* comments and whitespace */
	rt("; only a comment\n1 ; trailing\n;; more\n2;x\n3", "1\n2\n3");
	rt(",,, 1 ,\t\r\n\f\v 2", "1\n2");
	rt("[1;c\n2]", "[1 2]");
	rt("a;b", "a");
	rt("\"a\";b", "\"a\"");
	rt("", "");
	rt("\xEF\xBB\xBF[1]", "[1]"); /* a byte order mark first is skipped */
	err("\xEF\xBB\xBF\n )", "<input>:2:2: unexpected ')'");
	err("  \xEF\xBB\xBFnf", "<input>:1:3: unexpected character U+FEFF");
	err("a\xEF\xBB\xBF", "<input>:1:2: invalid character U+FEFF in symbol");
	rt("   ; nothing\n#_ 1 ,,", "");
}

/* ---- positions and the read APIs ---------------------------------------- */

static void test_positions(void **state)
{
	(void)state;
	err("[1 2\n  3 )", "<input>:2:5: unexpected ')'");
	err("\"é\" )", "<input>:1:5: unexpected ')'");
	err("[\"😀😀\" \"\\q\"]", "<input>:1:8: unsupported escape");
	err("\n\n   \t@", "<input>:3:5: unexpected '@'");
	err("{:a 1\n :b 2\n :c}", "<input>:1:1: map literal must contain an even number of forms");
	err("; comment ]\n]", "<input>:2:1: unexpected ']'");
	err("\r\n)", "<input>:2:1: unexpected ')'");
	/* opts->source names the input */
	dl_arena a = DL_ARENA_INIT;
	dl_value v;
	size_t used;
	dl_edn_opts o = {"tx.edn", 0};
	assert_int_equal(dl_edn_read(&v, &used, &a, "\n  )", 4, &o), DL_ESYNTAX);
	assert_string_equal(dl_errmsg(), "tx.edn:2:3: unexpected ')'");
	/* NULL source and NULL opts mean "<input>" */
	o.source = NULL;
	assert_int_equal(dl_edn_read(&v, &used, &a, ")", 1, &o), DL_ESYNTAX);
	assert_string_equal(dl_errmsg(), "<input>:1:1: unexpected ')'");
	assert_int_equal(dl_edn_read(&v, &used, &a, ")", 1, NULL), DL_ESYNTAX);
	assert_string_equal(dl_errmsg(), "<input>:1:1: unexpected ')'");
	dl_arena_free(&a);
}

static void test_read_api(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	dl_value v;
	size_t used = 99;
	dl_edn_opts o = DL_EDN_OPTS_INIT;
	const char *t = " 12 ; c\n :a";
	assert_int_equal(dl_edn_read(&v, &used, &a, t, strlen(t), &o), 0);
	assert_int_equal(v.u.i, 12);
	assert_int_equal(used, 9); /* past the trailing whitespace and comment */
	assert_int_equal(dl_edn_read(&v, &used, &a, t + used, strlen(t) - used, &o), 0);
	assert_int_equal(v.type, DL_KEYWORD);
	assert_int_equal(used, 2);
	/* only whitespace, comments and discards: ENOTFOUND */
	dl_error_clear();
	assert_int_equal(dl_edn_read(&v, &used, &a, " ; x\n ,", 7, &o), DL_ENOTFOUND);
	assert_int_equal(dl_edn_read(&v, &used, &a, "", 0, &o), DL_ENOTFOUND);
	assert_int_equal(dl_edn_read(&v, &used, &a, "#_ 1", 4, &o), DL_ENOTFOUND);
	/* the text need not be NUL-terminated: reading stops at len */
	assert_int_equal(dl_edn_read(&v, &used, &a, "123456", 3, &o), 0);
	assert_int_equal(v.u.i, 123);
	assert_int_equal(dl_edn_read(&v, &used, &a, "1.59", 3, &o), 0);
	assert_true(v.u.d == 1.5);
	assert_int_equal(dl_edn_read(&v, &used, &a, "\"ab\"", 3, &o), DL_ESYNTAX);
	assert_int_equal(dl_edn_read(&v, &used, &a, "abc", 2, &o), 0);
	size_t n;
	const char *s = dl_intern_name(v.u.id, &n, NULL);
	assert_int_equal(n, 2);
	assert_memory_equal(s, "ab", 2);
	/* a form ends at a delimiter; what follows is the next read's problem */
	assert_int_equal(dl_edn_read(&v, &used, &a, "1)", 2, &o), 0);
	assert_int_equal(used, 1);
	assert_int_equal(dl_edn_read(&v, &used, &a, "[1](2)", 6, &o), 0);
	assert_int_equal(used, 3);

	/* the reader keeps line and column across forms */
	dl_edn_reader r;
	const char *text = "1 é\n  [2\n 3] ; c\n\n  ]";
	dl_edn_reader_init(&r, text, strlen(text), &o);
	assert_int_equal(dl_edn_reader_next(&r, &v, &a), 0);
	assert_int_equal(r.line, 1);
	assert_int_equal(r.col, 3);
	assert_int_equal(dl_edn_reader_next(&r, &v, &a), 0);
	assert_int_equal(v.type, DL_SYMBOL);
	assert_int_equal(r.line, 2);
	assert_int_equal(r.col, 3);
	assert_int_equal(dl_edn_reader_next(&r, &v, &a), 0);
	assert_int_equal(v.type, DL_VECTOR);
	assert_int_equal(r.line, 5);
	assert_int_equal(r.col, 3);
	assert_int_equal(dl_edn_reader_next(&r, &v, &a), DL_ESYNTAX);
	assert_string_equal(dl_errmsg(), "<input>:5:3: unexpected ']'");
	/* an error leaves the reader where it was */
	assert_int_equal(dl_edn_reader_next(&r, &v, &a), DL_ESYNTAX);
	assert_string_equal(dl_errmsg(), "<input>:5:3: unexpected ']'");

	dl_edn_reader_init(&r, "1 2", 3, NULL);
	assert_int_equal(dl_edn_reader_next(&r, &v, &a), 0);
	assert_int_equal(dl_edn_reader_next(&r, &v, &a), 0);
	assert_int_equal(v.u.i, 2);
	assert_int_equal(dl_edn_reader_next(&r, &v, &a), DL_ENOTFOUND);
	assert_int_equal(dl_edn_reader_next(&r, &v, &a), DL_ENOTFOUND);
	assert_int_equal(r.pos, 3);
	dl_arena_free(&a);
}

static void test_depth_limit(void **state)
{
	(void)state;
	dl_buf t = DL_BUF_INIT;
	dl_arena a = DL_ARENA_INIT;
	dl_value v;
	size_t used;
	dl_edn_opts o = DL_EDN_OPTS_INIT;
	for (int i = 0; i < 512; i++)
		dl_buf_puts(&t, i % 3 == 0 ? "[" : i % 3 == 1 ? "(" : "#{");
	dl_buf_puts(&t, "1");
	for (int i = 511; i >= 0; i--)
		dl_buf_puts(&t, i % 3 == 0 ? "]" : i % 3 == 1 ? ")" : "}");
	assert_int_equal(dl_edn_read(&v, &used, &a, t.data, t.len, &o), 0);
	check_round_trip(&v);
	/* one more level is refused */
	dl_buf u = DL_BUF_INIT;
	dl_buf_printf(&u, "[%s]", t.data);
	assert_int_equal(dl_edn_read(&v, &used, &a, u.data, u.len, &o), DL_ELIMIT);
	assert_string_equal(dl_errmsg(), "<input>:1:683: nesting deeper than 512 levels");
	o.max_depth = 3;
	assert_int_equal(dl_edn_read(&v, &used, &a, "[[[1]]]", 7, &o), 0);
	assert_int_equal(dl_edn_read(&v, &used, &a, "[[[{}]]]", 8, &o), DL_ELIMIT);
	assert_string_equal(dl_errmsg(), "<input>:1:4: nesting deeper than 3 levels");
	/* the reader and printer are iterative: a million levels are fine when
	 * allowed, and an unterminated million never overflows the stack */
	size_t deep = 1000000;
	char *big = malloc(2 * deep + 1);
	memset(big, '[', deep);
	memset(big + deep, ']', deep);
	o.max_depth = (unsigned)deep;
	assert_int_equal(dl_edn_read(&v, &used, &a, big, 2 * deep, &o), 0);
	dl_buf p = DL_BUF_INIT;
	assert_int_equal(dl_edn_print(&p, &v), 0);
	assert_int_equal(p.len, 2 * deep);
	assert_memory_equal(p.data, big, 2 * deep);
	dl_buf_free(&p);
	assert_int_equal(dl_edn_read(&v, &used, &a, big, deep, &o), DL_ESYNTAX);
	assert_string_equal(dl_errmsg(), "<input>:1:1000000: unterminated vector");
	o.max_depth = 0;
	assert_int_equal(dl_edn_read(&v, &used, &a, big, deep, &o), DL_ELIMIT);
	memset(big, '#', deep);
	for (size_t i = 1; i < deep; i += 2)
		big[i] = '_';
	assert_int_equal(dl_edn_read(&v, &used, &a, big, deep, &o), DL_ESYNTAX);
	free(big);
	dl_buf_free(&t);
	dl_buf_free(&u);
	dl_arena_free(&a);
}

/* ---- the printer on values built by hand -------------------------------- */

static void expect_print(const dl_value *v, const char *want)
{
	char *s = tu_print(v);
	assert_string_equal(s, want);
	free(s);
}

static void test_printer(void **state)
{
	(void)state;
	dl_value v = dl_ref(12345);
	expect_print(&v, "12345");
	v = dl_int(INT64_MIN);
	expect_print(&v, "-9223372036854775808");
	v.flags = DL_VF_BIGINT;
	expect_print(&v, "-9223372036854775808N");
	v = dl_double(NAN);
	v.flags = DL_VF_BIGDEC;
	expect_print(&v, "##NaN"); /* no M on symbolic values */
	v = dl_double(-0.0);
	expect_print(&v, "-0.0");
	v = dl_double(1e100);
	expect_print(&v, "1.0E100");
	v = dl_double(-1.25e-300);
	expect_print(&v, "-1.25E-300");
	const char s[] = "q\"\\\n\t\r\x01\x7f\0\xc2\x80z";
	v = dl_string(s, sizeof s - 1);
	expect_print(&v, "\"q\\\"\\\\\\n\\t\\r\\u0001\\u007f\\u0000\\u0080z\"");
	v = dl_inst(0);
	expect_print(&v, "#inst \"1970-01-01T00:00:00.000Z\"");
	v = dl_inst(-1);
	expect_print(&v, "#inst \"1969-12-31T23:59:59.999Z\"");
	v = dl_inst(-62167219200001LL);
	expect_print(&v, "#inst \"-0001-12-31T23:59:59.999Z\"");
	uint8_t u[16] = {0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xa, 0xb};
	v = dl_uuid(u);
	expect_print(&v, "#uuid \"deadbeef-0001-0203-0405-060708090a0b\"");
	v = dl_bytes("hello", 5);
	expect_print(&v, "#bytes \"aGVsbG8=\"");
	dl_value items[6];
	items[0] = dl_int(1);
	items[1] = dl_string("a", 1);
	assert_int_equal(dl_keyword(&items[2], "k", 1), 0);
	assert_int_equal(dl_symbol(&items[3], "ns/s", 4), 0);
	items[4] = dl_char('x');
	items[5] = dl_nil();
	dl_value coll = {.type = DL_VECTOR, .len = 6, .u.items = items};
	expect_print(&coll, "[1 \"a\" :k ns/s \\x nil]");
	coll.type = DL_LIST;
	expect_print(&coll, "(1 \"a\" :k ns/s \\x nil)");
	coll.type = DL_SET;
	expect_print(&coll, "#{1 \"a\" :k ns/s \\x nil}");
	coll.type = DL_MAP;
	coll.len = 3;
	expect_print(&coll, "{1 \"a\", :k ns/s, \\x nil}");
	/* errors leave the buffer as it was */
	dl_buf b = DL_BUF_INIT;
	dl_buf_puts(&b, "keep");
	v = dl_string("\xff", 1);
	items[1] = v;
	coll.type = DL_VECTOR;
	assert_int_equal(dl_edn_print(&b, &coll), DL_EINVAL);
	assert_string_equal(b.data, "keep");
	v = (dl_value){.type = DL_KEYWORD, .u.id = 0xFFFFFFF0u};
	assert_int_equal(dl_edn_print(&b, &v), DL_EINVAL);
	assert_string_equal(b.data, "keep");
	v = dl_int(5);
	assert_int_equal(dl_edn_print(&b, &v), 0);
	assert_string_equal(b.data, "keep5");
	dl_buf_free(&b);
}

/* ---- property: random values round-trip --------------------------------- */

static uint64_t rnd(uint64_t n) { return tu_rand() % n; }

static void rand_name(char *out, size_t *n)
{
	static const char *const special[] = {"+", "-", ".", "...", "<=", "?x", "_", "$", "%",
					      "-a", "+b", ".c", "a.b", "*", "!", "&", "=", ">"};
	static const char first[] = "abcdefghijklmnopqrstuvwxyzABCXYZ*!_?$%&=<>";
	static const char rest[] = "abcxyz0123456789.*+!-_?$%&=<>:#";
	if (rnd(6) == 0) {
		const char *s = special[rnd(sizeof special / sizeof *special)];
		*n = strlen(s);
		memcpy(out, s, *n);
		return;
	}
	size_t len = 1 + rnd(6), i = 0;
	out[i++] = first[rnd(sizeof first - 1)];
	while (i < len)
		out[i++] = rest[rnd(sizeof rest - 1)];
	if (rnd(4) == 0) {
		out[i++] = '\xc3';
		out[i++] = '\xa9';
	}
	*n = i;
}

static dl_value rand_value(dl_arena *a, int depth)
{
	int kinds = depth > 0 ? 16 : 12;
	switch (rnd((uint64_t)kinds)) {
	case 0:
		return dl_nil();
	case 1:
		return dl_bool(rnd(2));
	case 2: {
		int64_t i = (int64_t)tu_rand() >> rnd(64);
		dl_value v = dl_int(rnd(3) ? i : (int64_t)rnd(100) - 50);
		if (rnd(5) == 0)
			v.flags = DL_VF_BIGINT;
		return v;
	}
	case 3: {
		double d;
		if (rnd(2)) {
			uint64_t u = tu_rand();
			memcpy(&d, &u, sizeof d);
		} else {
			static const double nice[] = {0.0, -0.0, 1.0, 0.1, 1e20, 1e-7, 2.5,
						      -3.75, 1e300, 123456.789};
			d = nice[rnd(sizeof nice / sizeof *nice)];
		}
		dl_value v = dl_double(d);
		if (rnd(5) == 0)
			v.flags = DL_VF_BIGDEC;
		return v;
	}
	case 4:
		return dl_inst((int64_t)tu_rand() >> rnd(64));
	case 5: {
		size_t len = rnd(12), o = 0;
		char *s = dl_arena_alloc(a, len * 4 + 1);
		for (size_t i = 0; i < len; i++) {
			uint32_t cp;
			switch (rnd(5)) {
			case 0: cp = (uint32_t)rnd(0x20); break;
			case 1: cp = 0x20 + (uint32_t)rnd(0x60); break;
			case 2: cp = (uint32_t)rnd(0x800); break;
			case 3: cp = (uint32_t)rnd(0x10000); break;
			default: cp = 0x10000 + (uint32_t)rnd(0x100000); break;
			}
			if (cp >= 0xD800 && cp <= 0xDFFF)
				cp = 'x';
			/* UTF-8 by hand, independent of the library's encoder */
			if (cp < 0x80) {
				s[o++] = (char)cp;
			} else if (cp < 0x800) {
				s[o++] = (char)(0xC0 | cp >> 6);
				s[o++] = (char)(0x80 | (cp & 63));
			} else if (cp < 0x10000) {
				s[o++] = (char)(0xE0 | cp >> 12);
				s[o++] = (char)(0x80 | ((cp >> 6) & 63));
				s[o++] = (char)(0x80 | (cp & 63));
			} else {
				s[o++] = (char)(0xF0 | cp >> 18);
				s[o++] = (char)(0x80 | ((cp >> 12) & 63));
				s[o++] = (char)(0x80 | ((cp >> 6) & 63));
				s[o++] = (char)(0x80 | (cp & 63));
			}
		}
		return dl_string(s, o);
	}
	case 6:
	case 7: {
		char name[40];
		size_t n, m;
		rand_name(name, &n);
		if (rnd(3) == 0) {
			name[n++] = '/';
			rand_name(name + n, &m);
			n += m;
		}
		if ((n == 3 && !memcmp(name, "nil", 3)) || (n == 4 && !memcmp(name, "true", 4)) ||
		    (n == 5 && !memcmp(name, "false", 5)))
			name[0] = 'q';
		dl_value v;
		int rc = rnd(2) ? dl_keyword(&v, name, n) : dl_symbol(&v, name, n);
		assert_int_equal(rc, 0);
		return v;
	}
	case 8: {
		uint8_t u[16];
		for (int i = 0; i < 16; i++)
			u[i] = (uint8_t)tu_rand();
		return dl_uuid(u);
	}
	case 9: {
		size_t n = rnd(10);
		uint8_t *p = dl_arena_alloc(a, n + 1);
		for (size_t i = 0; i < n; i++)
			p[i] = (uint8_t)tu_rand();
		return dl_bytes(p, n);
	}
	case 10:
	case 11: {
		uint32_t cp = (uint32_t)rnd(3) == 0 ? (uint32_t)rnd(0x110000) : (uint32_t)rnd(0x100);
		if (cp >= 0xD800 && cp <= 0xDFFF)
			cp = 'c';
		return dl_char(cp);
	}
	default: {
		static const uint8_t types[] = {DL_VECTOR, DL_LIST, DL_SET, DL_MAP};
		uint8_t t = types[rnd(4)];
		size_t n = rnd(6), w = t == DL_MAP ? 2 : 1, k = 0;
		dl_value *items = dl_arena_alloc(a, (n * w + 1) * sizeof *items);
		for (size_t i = 0; i < n; i++) {
			dl_value key = rand_value(a, depth - 1);
			bool dup = false;
			if (t == DL_SET || t == DL_MAP)
				for (size_t j = 0; j < k && !dup; j++)
					dup = dl_value_equal(&items[j * w], &key);
			if (dup)
				continue;
			items[k * w] = key;
			if (w == 2)
				items[k * w + 1] = rand_value(a, depth - 1);
			k++;
		}
		return (dl_value){.type = t, .len = (uint32_t)k, .u.items = items};
	}
	}
}

static void test_random_round_trip(void **state)
{
	(void)state;
	uint64_t seed = tu_seed_from_env(20240601);
	dl_arena a = DL_ARENA_INIT;
	for (long i = 0, iters = tu_scale(4000); i < iters; i++) {
		dl_value v = rand_value(&a, (int)rnd(5));
		check_round_trip(&v);
		if (i % 64 == 63)
			dl_arena_reset(&a);
	}
	dl_arena_free(&a);
	(void)seed;
}

/* ---- property: truncated and garbled text ------------------------------- */

static const char *const k_texts[] = {
	"[1 2 3]",
	"{:a 1, :b [2 3]}",
	"#{:x \"y\" \\z}",
	"(f ?x ns/y)",
	"\"tab\\there \\u00e9 \\ud83d\\ude00\"",
	"\"é😀\"",
	"#inst \"2026-11-02T09:30:00.1234-05:00\"",
	"#uuid \"6f1c2b6e-0d4a-4c53-9d2e-3c1f7a8b9e01\"",
	"#bytes \"aGVsbG8=\"",
	"[-1.5e-10M 12N ##NaN ##-Inf -0.0 9223372036854775807]",
	"[\\newline \\u00e9 \\o101 \\a \\😀]",
	"; c\n[1 #_ #_ 2 3 4] ; tail",
	"{:db/id -1 :person/name \"Ann\" :person/friends #{[:a 1] [:b 2]}}",
	"[:find ?e ?n :where [?e :name ?n] [(> ?n 2)] (not [?e :x _])]",
	"{nil true, false nil}",
	":ns.sub/kw",
	"...",
};

static void check_failure(int rc, const char *text, size_t len)
{
	if (rc == DL_ESYNTAX || rc == DL_ELIMIT) {
		if (!positioned(dl_errmsg(), "<input>"))
			fail_msg("unpositioned message '%s' for '%.*s'", dl_errmsg(), (int)len, text);
		return;
	}
	fail_msg("'%.*s': unexpected result %d (%s)", (int)len, text, rc, dl_errmsg());
}

static void test_truncation(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	dl_edn_opts o = DL_EDN_OPTS_INIT;
	for (size_t t = 0; t < sizeof k_texts / sizeof *k_texts; t++) {
		const char *text = k_texts[t];
		size_t len = strlen(text);
		dl_value v;
		size_t used;
		assert_int_equal(dl_edn_read(&v, &used, &a, text, len, &o), 0);
		for (size_t k = 0; k < len; k++) {
			/* a heap copy of exactly k bytes, so ASan sees any overread */
			char *p = malloc(k ? k : 1);
			memcpy(p, text, k);
			int rc = dl_edn_read(&v, &used, &a, p, k, &o);
			if (rc == 0) {
				assert_true(used <= k);
				check_round_trip(&v);
			} else if (rc != DL_ENOTFOUND) {
				check_failure(rc, p, k);
			}
			free(p);
			dl_arena_reset(&a);
		}
	}
	/* the prefixes of a collection are never complete */
	const char *text = "[1 {:a \"b\"} #{2} (3) #inst \"2020\" \\c]";
	for (size_t k = 1; k < strlen(text); k++) {
		dl_value v;
		size_t used;
		assert_int_equal(dl_edn_read(&v, &used, &a, text, k, &o), DL_ESYNTAX);
		assert_true(positioned(dl_errmsg(), "<input>"));
	}
	dl_arena_free(&a);
}

static void test_garbling(void **state)
{
	(void)state;
	tu_seed_from_env(99);
	dl_arena a = DL_ARENA_INIT;
	static const char junk[] = "()[]{}#_\\\";:,/ \n0123456789eEMN.+-uo\"\xff\xc3\xa9\x80";
	for (long iter = 0, iters = tu_scale(20000); iter < iters; iter++) {
		const char *text = k_texts[rnd(sizeof k_texts / sizeof *k_texts)];
		size_t len = strlen(text);
		char *p = malloc(len + 1);
		memcpy(p, text, len);
		int flips = 1 + (int)rnd(3);
		for (int f = 0; f < flips; f++) {
			size_t at = rnd(len);
			p[at] = rnd(2) ? (char)tu_rand() : junk[rnd(sizeof junk - 1)];
		}
		if (rnd(4) == 0)
			len = rnd(len + 1);
		dl_edn_reader r;
		dl_edn_reader_init(&r, p, len, NULL);
		for (;;) {
			dl_value v;
			int rc = dl_edn_reader_next(&r, &v, &a);
			if (rc == DL_ENOTFOUND)
				break;
			if (rc) {
				check_failure(rc, p, len);
				break;
			}
			check_round_trip(&v);
		}
		free(p);
		dl_arena_reset(&a);
	}
	dl_arena_free(&a);
}

/* ---- allocation failures ------------------------------------------------ */

static dl_buf complex_text(void)
{
	dl_buf t = DL_BUF_INIT;
	dl_buf_puts(&t, "{:db/id -1 :s \"str\\u00e9\" :i #inst \"2020-01-02\" :u #uuid "
			"\"6f1c2b6e-0d4a-4c53-9d2e-3c1f7a8b9e01\" :b #bytes \"aGVsbG8=\" :f ");
	for (int i = 0; i < 140; i++)
		dl_buf_puts(&t, "1");
	dl_buf_puts(&t, ".5 :v [");
	for (int i = 0; i < 200; i++) /* past the scratch stack's first size */
		dl_buf_printf(&t, "%d ", i);
	dl_buf_puts(&t, "] :set #{");
	for (int i = 0; i < 300; i++) /* past the duplicate check's stack table */
		dl_buf_printf(&t, "\"e%d\" ", i);
	dl_buf_puts(&t, "} :deep ");
	for (int i = 0; i < 100; i++) /* past the frame stack's first size */
		dl_buf_puts(&t, "[");
	for (int i = 0; i < 100; i++)
		dl_buf_puts(&t, "]");
	dl_buf_puts(&t, "} [:x ?y] \"tail\"");
	return t;
}

static void test_allocation_failures(void **state)
{
	(void)state;
	dl_buf t = complex_text();
	dl_buf want = DL_BUF_INIT;
	dl_arena a = DL_ARENA_INIT;
	/* once first, so the names are interned (the table keeps them) */
	assert_int_equal(read_all(&want, &a, t.data, t.len, NULL), 0);
	dl_arena_free(&a);
	long base = tu_failalloc_live();
	int fired = 0;
	for (long n = 1; n < 100000; n++) {
		dl_buf got = DL_BUF_INIT;
		tu_failalloc_arm(n);
		int rc = read_all(&got, &a, t.data, t.len, NULL);
		tu_failalloc_disarm();
		if (rc != 0 && rc != DL_ENOMEM)
			fail_msg("allocation %ld failed: got %d (%s)", n, rc, dl_errmsg());
		if (rc == 0)
			assert_string_equal(got.data, want.data);
		dl_buf_free(&got);
		dl_arena_free(&a);
		assert_int_equal(tu_failalloc_live(), base);
		if (!tu_failalloc_fired())
			break;
		fired++;
	}
	assert_true(fired > 3);
	/* the printer alone */
	assert_int_equal(read_all(&want, &a, "", 0, NULL), 0);
	dl_value v;
	size_t used;
	dl_edn_opts o = DL_EDN_OPTS_INIT;
	assert_int_equal(dl_edn_read(&v, &used, &a, t.data, t.len, &o), 0);
	base = tu_failalloc_live();
	for (long n = 1; n < 1000; n++) {
		dl_buf got = DL_BUF_INIT;
		tu_failalloc_arm(n);
		int rc = dl_edn_print(&got, &v);
		tu_failalloc_disarm();
		assert_true(rc == 0 || rc == DL_ENOMEM);
		dl_buf_free(&got);
		assert_int_equal(tu_failalloc_live(), base);
		if (!tu_failalloc_fired())
			break;
	}
	dl_arena_free(&a);
	dl_buf_free(&t);
	dl_buf_free(&want);
}

int main(void)
{
	tu_failalloc_install();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nil_bool_int),
		cmocka_unit_test(test_floats),
		cmocka_unit_test(test_float_fast_path),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_chars),
		cmocka_unit_test(test_symbols_keywords),
		cmocka_unit_test(test_collections),
		cmocka_unit_test(test_inst),
		cmocka_unit_test(test_uuid_bytes),
		cmocka_unit_test(test_tags_discard_comments),
		cmocka_unit_test(test_positions),
		cmocka_unit_test(test_read_api),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_printer),
		cmocka_unit_test(test_random_round_trip),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_garbling),
		cmocka_unit_test(test_allocation_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
