/* The large-block cache (dl_block_*): reuse across queries, its bound, its
 * absence under a custom allocator, and threads taking and returning blocks
 * at once (run under TSan by `make test-tsan`: the name has "alloc"). */
#include "testutil.h"

#include "base/base.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KB ((size_t)1024)

static void test_small_blocks(void **state)
{
	(void)state;
	unsigned char *p = dl_block_alloc(100);
	assert_non_null(p);
	assert_int_equal(dl_block_cap(p), 100);
	memset(p, 7, 100);
	p = dl_block_realloc(p, 1000);
	assert_non_null(p);
	assert_true(dl_block_cap(p) >= 1000);
	for (int i = 0; i < 100; i++)
		assert_int_equal(p[i], 7);
	/* growing past 64 KiB moves to a power-of-two block and keeps the data */
	p = dl_block_realloc(p, 70 * KB);
	assert_non_null(p);
	assert_int_equal(dl_block_cap(p), 128 * KB);
	for (int i = 0; i < 100; i++)
		assert_int_equal(p[i], 7);
	/* a block big enough already is kept */
	assert_ptr_equal(dl_block_realloc(p, 100 * KB), p);
	dl_block_free(p);
	dl_block_free(NULL);
	unsigned char *z = dl_block_calloc(200 * KB, 1);
	assert_non_null(z);
	for (size_t i = 0; i < 200 * KB; i += 4093)
		assert_int_equal(z[i], 0);
	dl_block_free(z);
	dl_block_cache_trim();
}

static void test_reuse(void **state)
{
	(void)state;
	dl_block_cache_trim();
	void *a = dl_block_alloc(300 * KB);
	assert_non_null(a);
	assert_int_equal(dl_block_cap(a), 512 * KB);
	memset(a, 0xAB, 300 * KB);
	dl_block_free(a);
	/* the next request of the same class gets the same block back */
	void *b = dl_block_alloc(400 * KB);
	assert_ptr_equal(b, a);
	/* calloc zeroes a reused block */
	dl_block_free(b);
	unsigned char *c = dl_block_calloc(1, 500 * KB);
	assert_ptr_equal(c, a);
	for (size_t i = 0; i < 500 * KB; i += 997)
		assert_int_equal(c[i], 0);
	dl_block_free(c);
	/* from 16 KiB: an answer's medium arena chunk is kept too */
	void *m = dl_block_alloc(20 * KB);
	assert_non_null(m);
	assert_int_equal(dl_block_cap(m), 32 * KB);
	dl_block_free(m);
	assert_ptr_equal(dl_block_alloc(30 * KB), m);
	dl_block_free(m);
	/* trim empties the cache: the next block is a fresh one, which the
	 * allocator may well place at the same address, so only check that the
	 * cache gave nothing (a cached block would still hold its old bytes) */
	dl_block_cache_trim();
	unsigned char *d = dl_block_alloc(300 * KB);
	assert_non_null(d);
	dl_block_free(d);
	dl_block_cache_trim();
}

/* The cache never holds more than DL_BLOCK_CACHE_MAX (64 MiB) bytes: of two
 * 64 MiB blocks given back, only the first is kept. */
static void test_bound(void **state)
{
	(void)state;
	dl_block_cache_trim();
	void *p[2], *q[2];
	for (int i = 0; i < 2; i++) {
		p[i] = dl_block_alloc(40u << 20);
		assert_non_null(p[i]);
		assert_int_equal(dl_block_cap(p[i]), DL_BLOCK_CACHE_MAX);
	}
	dl_block_free(p[0]);
	dl_block_free(p[1]);
	q[0] = dl_block_alloc(40u << 20);
	q[1] = dl_block_alloc(40u << 20);
	assert_ptr_equal(q[0], p[0]);
	assert_ptr_not_equal(q[1], p[0]);
	dl_block_free(q[0]);
	dl_block_free(q[1]);
	dl_block_cache_trim();
	/* a big block given back makes room by freeing smaller cached ones
	 * (not the other way round): a 32 MiB block cached, then a 64 MiB one
	 * freed, the next 64 MiB request gets that one */
	void *small = dl_block_alloc(20u << 20), *big = dl_block_alloc(40u << 20);
	assert_int_equal(dl_block_cap(small), 32u << 20);
	dl_block_free(small);
	dl_block_free(big);
	assert_ptr_equal(dl_block_alloc(40u << 20), big);
	void *small2 = dl_block_alloc(20u << 20); /* evicted: a fresh one */
	assert_non_null(small2);
	dl_block_free(small2); /* no room next to... */
	dl_block_free(big);    /* ...the big one, which evicts it again */
	assert_ptr_equal(dl_block_alloc(40u << 20), big);
	dl_block_free(big);
	/* a smaller block does not push a bigger one out */
	small2 = dl_block_alloc(20u << 20);
	dl_block_free(small2);
	assert_ptr_equal(dl_block_alloc(40u << 20), big);
	dl_block_free(big);
	dl_block_cache_trim();
}

/* A custom allocator sees every block come and go: nothing is cached, and
 * installing it hands the default allocator's cached blocks back first. */
static void test_custom_allocator(void **state)
{
	(void)state;
	void *a = dl_block_alloc(100 * KB);
	dl_block_free(a); /* cached by the default allocator */
	tu_failalloc_install();
	long base = tu_failalloc_live();
	for (int i = 0; i < 10; i++) {
		void *p = dl_block_alloc(100 * KB);
		assert_non_null(p);
		assert_int_equal(tu_failalloc_live(), base + 1);
		dl_block_free(p);
		assert_int_equal(tu_failalloc_live(), base);
	}
	tu_failalloc_arm(1);
	assert_null(dl_block_alloc(100 * KB));
	assert_int_equal(dl_errcode_last(), DL_ENOMEM);
	tu_failalloc_disarm();
	dl_set_allocator(NULL);
}

/* Threads take and return blocks of mixed classes at once; each checks that
 * no other thread wrote into a block it holds. */
#define THREADS 4
static atomic_int g_bad;
static void *worker(void *arg)
{
	uint64_t x = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
	long iters = (long)(uintptr_t)arg >> 8;
	for (long i = 0; i < iters; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t size = (64 * KB) << (x % 4);
		unsigned char tag = (unsigned char)(x >> 32);
		unsigned char *p = dl_block_alloc(size);
		if (!p) {
			atomic_fetch_add(&g_bad, 1);
			continue;
		}
		p[0] = tag;
		p[size - 1] = tag;
		p = dl_block_realloc(p, size + 1); /* moves to the next class */
		if (!p || p[0] != tag || p[size - 1] != tag)
			atomic_fetch_add(&g_bad, 1);
		dl_block_free(p);
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	(void)state;
	long iters = tu_scale(20000);
	pthread_t th[THREADS];
	for (uintptr_t t = 0; t < THREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, worker,
						(void *)(((uintptr_t)iters << 8) | t)),
				 0);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	assert_int_equal(atomic_load(&g_bad), 0);
	dl_block_cache_trim();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_blocks), cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_bound),        cmocka_unit_test(test_custom_allocator),
		cmocka_unit_test(test_concurrent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
