/* The value model: the total order, equality, hashing, and the property that
 * memcmp on encodings agrees with dl_value_compare for every type. */
#include "testutil.h"
#include "value/value.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sgn(int x) { return (x > 0) - (x < 0); }

static int enc_cmp(const dl_value *a, const dl_value *b)
{
	dl_buf x = DL_BUF_INIT, y = DL_BUF_INIT;
	assert_int_equal(dl_value_encode(&x, a), 0);
	assert_int_equal(dl_value_encode(&y, b), 0);
	size_t n = x.len < y.len ? x.len : y.len;
	int c = memcmp(x.data, y.data, n);
	if (!c)
		c = (x.len > y.len) - (x.len < y.len);
	dl_buf_free(&x);
	dl_buf_free(&y);
	return sgn(c);
}

static dl_value kw(const char *s)
{
	dl_value v;
	assert_int_equal(dl_keyword(&v, s, strlen(s)), 0);
	return v;
}

static dl_value sym(const char *s)
{
	dl_value v;
	assert_int_equal(dl_symbol(&v, s, strlen(s)), 0);
	return v;
}

/* ---- random values of every type -------------------------------------- */

static const int64_t k_edge_ints[] = {
	0, 1, -1, 2, 42, -42, INT32_MAX, INT32_MIN, (1ll << 53) - 1, 1ll << 53,
	(1ll << 53) + 1, -(1ll << 53) - 1, INT64_MAX, INT64_MAX - 1, INT64_MIN,
	INT64_MIN + 1, (1ll << 62) + 511, (1ll << 62) + 513, 1000000007,
};
static const double k_edge_doubles[] = {
	0.0, -0.0, 1.0, -1.0, 0.5, 1e300, -1e300, 5e-324, -5e-324, INFINITY,
	-INFINITY, NAN, 9007199254740992.0, 9007199254740994.0, 9223372036854775808.0,
	-9223372036854775808.0, 1.5, 42.0, 1e-10,
};
/* UTF-8 pieces whose UTF-8 byte order differs from UTF-16 order */
static const char *k_pieces[] = {"a", "b", "", "\xef\xbf\xbd", "\xf0\x9f\x98\x80",
				 "\xee\x80\x80", "\xed\x9f\xbf", "z", "\xc3\xa9", "/"};

static char g_text[8][64];
static int g_text_next;

static size_t rand_text(char *buf, bool nul)
{
	size_t n = 0;
	int parts = (int)(tu_rand() % 5);
	for (int i = 0; i < parts; i++) {
		if (nul && tu_rand() % 6 == 0) {
			buf[n++] = 0;
			continue;
		}
		const char *p = k_pieces[tu_rand() % (sizeof k_pieces / sizeof *k_pieces)];
		size_t l = strlen(p);
		memcpy(buf + n, p, l);
		n += l;
	}
	return n;
}

static dl_value rand_value(dl_arena *a, int depth);

static dl_value rand_scalar(dl_arena *a)
{
	switch (tu_rand() % 12) {
	case 0:
		return dl_bool(tu_rand() & 1);
	case 1:
		if (tu_rand() % 2)
			return dl_int(k_edge_ints[tu_rand() % (sizeof k_edge_ints / sizeof *k_edge_ints)]);
		return dl_int((int64_t)(tu_rand() % 2000) - 1000);
	case 2:
		if (tu_rand() % 2)
			return dl_double(k_edge_doubles[tu_rand() % (sizeof k_edge_doubles / sizeof *k_edge_doubles)]);
		return dl_double(((double)(int64_t)(tu_rand() % 2000) - 1000) / 4);
	case 3:
		return dl_inst((int64_t)(tu_rand() % 4000000000000ull) - 1000000000000ll);
	case 4: {
		char *buf = dl_arena_alloc(a, 64);
		size_t n = rand_text(buf, true);
		return dl_string(buf, n);
	}
	case 5:
	case 6: {
		char *buf = g_text[g_text_next++ % 8];
		size_t n = 0;
		if (tu_rand() % 2) {
			n = rand_text(buf, false);
			buf[n++] = '/';
		}
		size_t m = rand_text(buf + n, false);
		if (m == 0)
			buf[n + m++] = 'k';
		n += m;
		dl_value v;
		if (tu_rand() % 2)
			assert_int_equal(dl_keyword(&v, buf, n), 0);
		else
			assert_int_equal(dl_symbol(&v, buf, n), 0);
		return v;
	}
	case 7: {
		uint8_t u[16] = {0};
		for (int i = 0; i < 16; i++)
			u[i] = (uint8_t)(tu_rand() % 3 == 0 ? tu_rand() : (i == 0 ? tu_rand() % 3 : 0));
		return dl_uuid(u);
	}
	case 8: {
		char *buf = dl_arena_alloc(a, 8);
		size_t n = tu_rand() % 5;
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)(tu_rand() % 3 == 0 ? 0 : (tu_rand() % 2 ? 0xff : 0x01));
		return dl_bytes(buf, n);
	}
	case 9:
		return dl_ref((int64_t)(tu_rand() % 100));
	case 10:
		return dl_char((uint32_t)(tu_rand() % 3 == 0 ? 0x1F600 : tu_rand() % 200));
	default:
		return dl_nil();
	}
}

static dl_value rand_value(dl_arena *a, int depth)
{
	if (depth > 2 || tu_rand() % 4)
		return rand_scalar(a);
	static const uint8_t kinds[] = {DL_VECTOR, DL_LIST, DL_SET, DL_MAP};
	dl_value v = {.type = kinds[tu_rand() % 4]};
	uint32_t n = (uint32_t)(tu_rand() % 4);
	size_t w = v.type == DL_MAP ? 2 : 1;
	dl_value *items = dl_arena_alloc(a, (n * w + 1) * sizeof *items);
	for (size_t i = 0; i < n * w; i++)
		items[i] = rand_value(a, depth + 1);
	v.len = n;
	v.u.items = items;
	return v;
}

/* ---- properties --------------------------------------------------------- */

static void test_encoding_order_matches_compare(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	uint64_t seed = tu_seed_from_env(12345);
	for (long i = 0, n = tu_scale(100000); i < n; i++) {
		dl_value x = rand_value(&a, 0), y = rand_value(&a, 0);
		int c = sgn(dl_value_compare(&x, &y));
		int e = enc_cmp(&x, &y);
		if (c != e) {
			char *sx = tu_print(&x), *sy = tu_print(&y);
			fail_msg("seed %llu case %ld: compare(%s, %s) = %d but memcmp of encodings = %d",
				 (unsigned long long)seed, i, sx, sy, c, e);
		}
		assert_int_equal(sgn(dl_value_compare(&y, &x)), -c);
		assert_int_equal(dl_value_equal(&x, &y), c == 0);
		if (c == 0)
			assert_true(dl_value_hash(&x) == dl_value_hash(&y));
		if (i % 1000 == 0)
			dl_arena_reset(&a);
	}
	dl_arena_free(&a);
}

static void test_encoding_round_trip(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	tu_seed_from_env(777);
	for (long i = 0, n = tu_scale(50000); i < n; i++) {
		dl_value x = rand_value(&a, 0), y;
		dl_buf b = DL_BUF_INIT;
		assert_int_equal(dl_value_encode(&b, &x), 0);
		size_t used = 0;
		assert_int_equal(dl_value_decode(&y, &used, &a, b.data, b.len), 0);
		assert_int_equal(used, b.len);
		assert_true(dl_value_equal(&x, &y));
		assert_int_equal(dl_value_compare(&x, &y), 0);
		/* every truncation is reported, never crashes */
		for (size_t cut = 0; cut < b.len; cut++) {
			dl_value z;
			int rc = dl_value_decode(&z, &used, &a, b.data, cut);
			assert_true(rc == DL_ECORRUPT || (rc == 0 && used <= cut));
		}
		dl_buf_free(&b);
		if (i % 1000 == 0)
			dl_arena_reset(&a);
	}
	dl_arena_free(&a);
}

/* The iterator's fast decoder of ints, doubles, instants and refs agrees
 * with the full decoder bit for bit, or declines: ints near 2^53, 2^62 and
 * 2^63 (where the double key rounds), -0.0, NaN and the infinities. */
static void test_decode_scalar_matches_decode(void **state)
{
	(void)state;
	const int64_t ints[] = {0, 1, -1, 42, -42, (1LL << 53) - 1, 1LL << 53, (1LL << 53) + 1,
				-(1LL << 53) - 1, (1LL << 62) - 1, 1LL << 62, (1LL << 62) + 1,
				(1LL << 62) + 1023, -(1LL << 62) - 1, -(1LL << 62), -(1LL << 62) + 1,
				INT64_MAX, INT64_MAX - 1, INT64_MAX - 1024, INT64_MIN, INT64_MIN + 1,
				INT64_MIN + 1025};
	const double dbls[] = {0.0, -0.0, 1.5, -1.5, 1e300, -1e-300, 4.9e-324, -4.9e-324,
			       INFINITY, -INFINITY, NAN, 9007199254740993.0, 0x1p62, -0x1p63};
	dl_value vals[80];
	size_t n = 0;
	for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
		vals[n++] = dl_int(ints[i]);
		vals[n++] = dl_ref(ints[i]);
		vals[n++] = dl_inst(ints[i]);
	}
	for (size_t i = 0; i < sizeof dbls / sizeof *dbls; i++)
		vals[n++] = dl_double(dbls[i]);
	dl_arena a = DL_ARENA_INIT;
	for (size_t i = 0; i < n; i++) {
		dl_buf b = DL_BUF_INIT;
		assert_int_equal(dl_value_encode(&b, &vals[i]), 0);
		dl_value full, fast;
		assert_int_equal(dl_value_decode(&full, NULL, &a, b.data, b.len), 0);
		memset(&fast, 0xAB, sizeof fast);
		if (dl_value_decode_scalar(&fast, (const uint8_t *)b.data, b.len)) {
			assert_int_equal(fast.type, full.type);
			if (fast.type == DL_DOUBLE)
				assert_memory_equal(&fast.u.d, &full.u.d, sizeof fast.u.d);
			else
				assert_true(fast.u.i == full.u.i);
			assert_true(dl_value_equal(&fast, &vals[i]) || isnan(vals[i].u.d));
		} else {
			/* only ints past 2^62 may decline */
			assert_int_equal(vals[i].type, DL_INT);
			assert_true(vals[i].u.i > (1LL << 62) - 2048 || vals[i].u.i < -(1LL << 62) + 2048);
		}
		/* a shorter or longer buffer is not a scalar */
		assert_int_equal(dl_value_decode_scalar(&fast, (const uint8_t *)b.data, b.len - 1), 0);
		dl_buf_free(&b);
	}
	dl_arena_free(&a);
}

/* Sorting random values by compare gives a sequence whose encodings are
 * sorted too: compare is a consistent total order (transitive). */
static int cmp_values(const void *x, const void *y) { return dl_value_compare(x, y); }

static void test_sort_is_total_order(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	tu_seed_from_env(99);
	const long N = tu_scale(3000);
	dl_value *vs = dl_arena_alloc(&a, (size_t)N * sizeof *vs);
	for (long i = 0; i < N; i++)
		vs[i] = rand_value(&a, 0);
	qsort(vs, (size_t)N, sizeof *vs, cmp_values);
	for (long i = 0; i + 1 < N; i++) {
		assert_true(dl_value_compare(&vs[i], &vs[i + 1]) <= 0);
		assert_true(enc_cmp(&vs[i], &vs[i + 1]) <= 0);
	}
	dl_arena_free(&a);
}

/* ---- specific order facts ------------------------------------------------ */

static void expect_lt(dl_value a, dl_value b)
{
	assert_true(dl_value_compare(&a, &b) < 0);
	assert_true(dl_value_compare(&b, &a) > 0);
	assert_int_equal(enc_cmp(&a, &b), -1);
	assert_false(dl_value_equal(&a, &b));
}

static void test_number_order(void **state)
{
	(void)state;
	expect_lt(dl_int(-2), dl_int(-1));
	expect_lt(dl_int(-1), dl_double(-0.5));
	expect_lt(dl_double(-0.0), dl_int(0));
	expect_lt(dl_int(0), dl_double(0.0));
	expect_lt(dl_double(-0.0), dl_double(0.0));
	expect_lt(dl_int(1), dl_double(1.0)); /* equal numbers: the int first */
	expect_lt(dl_double(1.0), dl_int(2));
	expect_lt(dl_double(INFINITY), dl_double(NAN));
	expect_lt(dl_int(INT64_MAX), dl_double(INFINITY));
	expect_lt(dl_double(-INFINITY), dl_int(INT64_MIN));
	/* past 2^53 ints stay exact and interleave correctly with doubles */
	expect_lt(dl_int((1ll << 53) + 1), dl_double(9007199254740994.0));
	expect_lt(dl_double(9007199254740992.0), dl_int((1ll << 53) + 1));
	expect_lt(dl_int(INT64_MAX - 1), dl_int(INT64_MAX));
	expect_lt(dl_int(INT64_MAX), dl_double(9223372036854775808.0));
	expect_lt(dl_double(-9223372036854775808.0), dl_int(INT64_MIN + 1));
	/* all NaNs are one value */
	dl_value n1 = dl_double(NAN), n2 = dl_double(-NAN);
	assert_true(dl_value_equal(&n1, &n2));
	assert_true(dl_value_hash(&n1) == dl_value_hash(&n2));
}

static void test_type_rank_order(void **state)
{
	(void)state;
	uint8_t u[16] = {0};
	dl_value seq[] = {
		dl_nil(), dl_bool(false), dl_bool(true), dl_int(5), dl_inst(0),
		dl_string("a", 1), kw("a"), sym("a"), dl_uuid(u), dl_bytes("", 0),
		dl_ref(1), dl_char('a'),
	};
	for (size_t i = 0; i + 1 < sizeof seq / sizeof *seq; i++)
		expect_lt(seq[i], seq[i + 1]);
}

static void test_text_order(void **state)
{
	(void)state;
	expect_lt(dl_string("", 0), dl_string("a", 1));
	expect_lt(dl_string("a", 1), dl_string("a\0", 2));
	expect_lt(dl_string("a\0", 2), dl_string("a\0\0", 3));
	expect_lt(dl_string("a\0\0", 3), dl_string("a\1", 2));
	expect_lt(dl_string("ab", 2), dl_string("b", 1));
	/* UTF-16 order: U+1F600 (surrogates D83D..) < U+FFFD, but > U+D7FF */
	expect_lt(dl_string("\xed\x9f\xbf", 3), dl_string("\xf0\x9f\x98\x80", 4));
	expect_lt(dl_string("\xf0\x9f\x98\x80", 4), dl_string("\xee\x80\x80", 3));
	expect_lt(dl_string("\xee\x80\x80", 3), dl_string("\xef\xbf\xbd", 3));
	/* keywords: no namespace first, then namespace, then name */
	expect_lt(kw("zz"), kw("a/b"));
	expect_lt(kw("a/z"), kw("b/a"));
	expect_lt(kw("a/b"), kw("ab/a"));
	expect_lt(kw("a/c"), kw("a.b/c"));
	expect_lt(sym("b"), sym("c"));
	/* bytes: unsigned */
	expect_lt(dl_bytes("\x01", 1), dl_bytes("\xff", 1));
}

static void test_collections(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	dl_value i1 = dl_int(1), i2 = dl_int(2);
	dl_value v12[] = {i1, i2}, v21[] = {i2, i1}, v1[] = {i1};
	dl_value t12 = {.type = DL_VECTOR, .len = 2, .u.items = v12};
	dl_value t1 = {.type = DL_VECTOR, .len = 1, .u.items = v1};
	dl_value t21 = {.type = DL_VECTOR, .len = 2, .u.items = v21};
	expect_lt(t1, t12); /* a prefix first */
	expect_lt(t12, t21);
	dl_value s12 = {.type = DL_SET, .len = 2, .u.items = v12};
	dl_value s21 = {.type = DL_SET, .len = 2, .u.items = v21};
	assert_true(dl_value_equal(&s12, &s21)); /* sets ignore written order */
	assert_true(dl_value_hash(&s12) == dl_value_hash(&s21));
	assert_int_equal(enc_cmp(&s12, &s21), 0);
	dl_value copy;
	assert_int_equal(dl_value_copy(&copy, &a, &t12), 0);
	assert_true(copy.u.items != t12.u.items);
	assert_true(dl_value_equal(&copy, &t12));
	dl_arena_free(&a);
}

static void test_decode_rejects_garbage(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	dl_value v;
	size_t used;
	const uint8_t bad1[] = {0x01};
	assert_int_equal(dl_value_decode(&v, &used, &a, bad1, 1), DL_ECORRUPT);
	assert_non_null(strstr(dl_errmsg(), "malformed value encoding"));
	const uint8_t bad2[] = {0x14, 'a', 0x00, 0x07};
	assert_int_equal(dl_value_decode(&v, &used, &a, bad2, 4), DL_ECORRUPT);
	tu_seed_from_env(4242);
	for (long i = 0, iters = tu_scale(20000); i < iters; i++) {
		uint8_t buf[24];
		size_t n = tu_rand() % sizeof buf;
		for (size_t j = 0; j < n; j++)
			buf[j] = (uint8_t)(tu_rand() % 4 == 0 ? 0x10 + tu_rand() % 16 : tu_rand());
		int rc = dl_value_decode(&v, &used, &a, buf, n);
		assert_true(rc == 0 || rc == DL_ECORRUPT);
		if (i % 1000 == 0)
			dl_arena_reset(&a);
	}
	dl_arena_free(&a);
}

/* ---- memory -------------------------------------------------------------- */

static void test_arena_and_buf(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	for (int i = 0; i < 10000; i++) {
		char *p = dl_arena_alloc(&a, (size_t)(i % 100) + 1);
		assert_non_null(p);
		assert_true(((uintptr_t)p & 15) == 0);
		memset(p, 0xAB, (size_t)(i % 100) + 1);
	}
	char *big = dl_arena_alloc(&a, 1 << 20);
	assert_non_null(big);
	memset(big, 1, 1 << 20);
	dl_arena_reset(&a);
	assert_non_null(dl_arena_strndup(&a, "hello", 5));
	dl_arena_free(&a);

	dl_buf b = DL_BUF_INIT;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(dl_buf_printf(&b, "%d,", i), 0);
	assert_int_equal(strncmp(b.data, "0,1,2,", 6), 0);
	dl_buf_free(&b);
}

static void test_allocation_failures(void **state)
{
	(void)state;
	long base = tu_failalloc_live();
	for (long n = 1; n < 200; n++) {
		dl_arena a = DL_ARENA_INIT;
		dl_buf b = DL_BUF_INIT;
		tu_failalloc_arm(n);
		int rc = 0;
		for (int i = 0; i < 64 && rc == 0; i++) {
			if (!dl_arena_alloc(&a, 3000))
				rc = dl_errcode_last();
			else
				rc = dl_buf_printf(&b, "%0200d", i);
		}
		tu_failalloc_disarm();
		if (rc) {
			assert_int_equal(rc, DL_ENOMEM);
			assert_non_null(strstr(dl_errmsg(), "out of memory"));
		}
		dl_arena_free(&a);
		dl_buf_free(&b);
		assert_int_equal(tu_failalloc_live(), base);
		if (!tu_failalloc_fired())
			break;
	}
}

int main(void)
{
	tu_failalloc_install();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_number_order),
		cmocka_unit_test(test_type_rank_order),
		cmocka_unit_test(test_text_order),
		cmocka_unit_test(test_collections),
		cmocka_unit_test(test_encoding_order_matches_compare),
		cmocka_unit_test(test_encoding_round_trip),
		cmocka_unit_test(test_decode_scalar_matches_decode),
		cmocka_unit_test(test_sort_is_total_order),
		cmocka_unit_test(test_decode_rejects_garbage),
		cmocka_unit_test(test_arena_and_buf),
		cmocka_unit_test(test_allocation_failures),
	};
	return cmocka_run_group_tests_name("value", tests, NULL, NULL);
}
