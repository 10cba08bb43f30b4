/* The keyword/symbol intern table: basics, growth, concurrency and
 * allocation failure.  Each test starts from an empty table. */
#include "testutil.h"

#include "intern/intern_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reset(void **state)
{
	(void)state;
	tu_failalloc_disarm();
	dl_intern_shutdown();
	return 0;
}

static uint32_t intern_ok(const char *s, size_t n)
{
	uint32_t id = 0;
	int rc = dl_intern(&id, s, n);
	if (rc != 0)
		fail_msg("dl_intern(%.*s) failed: %s", (int)n, s, dl_errmsg());
	assert_int_not_equal(id, 0);
	return id;
}

static uint32_t intern_str(const char *s) { return intern_ok(s, strlen(s)); }

static void check_name(uint32_t id, const char *want, size_t want_n, size_t want_ns)
{
	size_t n = 99, ns = 99;
	const char *s = dl_intern_name(id, &n, &ns);
	assert_non_null(s);
	assert_int_equal(n, want_n);
	assert_memory_equal(s, want, want_n);
	assert_int_equal(s[n], 0);
	assert_int_equal(ns, want_ns);
}

static void test_basic(void **state)
{
	(void)state;
	assert_int_equal(dl_intern_count(), 0);
	assert_int_equal(dl_intern_find("a", 1), 0);
	assert_null(dl_intern_name(1, NULL, NULL));

	uint32_t a = intern_str("a");
	uint32_t ab = intern_str("ns/name");
	assert_int_equal(a, 1);
	assert_int_equal(ab, 2);
	assert_int_equal(intern_str("a"), 1);
	assert_int_equal(intern_str("ns/name"), 2);
	assert_int_equal(dl_intern_count(), 2);
	assert_int_equal(dl_intern_find("ns/name", 7), 2);
	assert_int_equal(dl_intern_find("ns/nam", 6), 0);
	assert_int_equal(dl_intern_find("ns/namex", 8), 0);
	/* Only the first n bytes count. */
	assert_int_equal(dl_intern_find("ab", 1), 1);

	check_name(a, "a", 1, 0);
	check_name(ab, "ns/name", 7, 2);
	check_name(intern_str("/"), "/", 1, 0);
	check_name(intern_str("a/b/c"), "a/b/c", 5, 1);
	check_name(intern_str("/x"), "/x", 2, 0);
	check_name(intern_str("a/"), "a/", 2, 1);
	check_name(intern_str("db.type/keyword"), "db.type/keyword", 15, 7);

	/* Any bytes, including NUL: "x\0y" is not "x". */
	uint32_t x = intern_str("x");
	uint32_t xy = intern_ok("x\0y", 3);
	assert_int_not_equal(x, xy);
	check_name(xy, "x\0y", 3, 0);
	assert_int_equal(dl_intern_find("x\0y", 3), xy);

	/* The stored string is stable: same pointer every time. */
	const char *p1 = dl_intern_name(a, NULL, NULL);
	const char *p2 = dl_intern_name(a, NULL, NULL);
	assert_ptr_equal(p1, p2);

	/* Unknown ids. */
	size_t n = 7, ns = 7;
	assert_null(dl_intern_name(0, &n, &ns));
	assert_int_equal(n, 0);
	assert_int_equal(ns, 0);
	assert_null(dl_intern_name(dl_intern_count() + 1, NULL, NULL));
	assert_null(dl_intern_name(UINT32_MAX, NULL, NULL));
	assert_null(dl_intern_name(DL_INTERN_MAX_ID, NULL, NULL));
}

static void test_errors(void **state)
{
	(void)state;
	uint32_t id = 42;
	dl_error_clear();
	assert_int_equal(dl_intern(&id, "", 0), DL_EINVAL);
	assert_int_equal(dl_errcode_last(), DL_EINVAL);
	assert_non_null(strstr(dl_errmsg(), "empty"));
	assert_int_equal(dl_intern_find("", 0), 0);

	char *big = malloc(DL_INTERN_MAX_LEN + 1);
	assert_non_null(big);
	memset(big, 'k', DL_INTERN_MAX_LEN + 1);
	assert_int_equal(dl_intern(&id, big, DL_INTERN_MAX_LEN + 1), DL_ELIMIT);
	assert_int_equal(dl_errcode_last(), DL_ELIMIT);
	assert_int_equal(dl_intern_find(big, DL_INTERN_MAX_LEN + 1), 0);
	assert_int_equal(dl_intern_count(), 0);
	/* Exactly at the limit is fine. */
	uint32_t b = intern_ok(big, DL_INTERN_MAX_LEN);
	check_name(b, big, DL_INTERN_MAX_LEN, 0);
	free(big);
}

#define MANY 100000

static void test_many(void **state)
{
	(void)state;
	const uint32_t many = (uint32_t)tu_scale(MANY);
	char buf[64];
	const char **ptrs = calloc(many + 1, sizeof *ptrs);
	assert_non_null(ptrs);
	for (uint32_t i = 1; i <= many; i++) {
		int len = snprintf(buf, sizeof buf, "ns%u/name-%u", i % 97, i);
		/* Dense: the i-th new name gets id i. */
		assert_int_equal(intern_ok(buf, (size_t)len), i);
		ptrs[i] = dl_intern_name(i, NULL, NULL);
		assert_non_null(ptrs[i]);
	}
	assert_int_equal(dl_intern_count(), many);

	/* After all the growth, every name maps to the same id and the same
	 * stored string as when it was added. */
	tu_seed_from_env(0x1234);
	for (uint32_t j = 0; j < 2 * many; j++) {
		uint32_t i = 1 + (uint32_t)(tu_rand() % many);
		int len = snprintf(buf, sizeof buf, "ns%u/name-%u", i % 97, i);
		assert_int_equal(dl_intern_find(buf, (size_t)len), i);
		assert_int_equal(intern_ok(buf, (size_t)len), i);
		size_t n, ns;
		assert_ptr_equal(dl_intern_name(i, &n, &ns), ptrs[i]);
		assert_int_equal(n, (size_t)len);
		assert_memory_equal(ptrs[i], buf, n);
		assert_int_equal(ns, (size_t)(strchr(buf, '/') - buf));
	}
	assert_int_equal(dl_intern_count(), many);
	assert_null(dl_intern_name(many + 1, NULL, NULL));
	free(ptrs);
}

/* Concurrency: writers intern overlapping random subsets of a universe of
 * names while readers look names and ids up.  Threads never call cmocka
 * (it is not thread-safe); they count problems and main asserts. */
#define UNIVERSE 30000 /* both divided by DL_TEST_SCALE at run time */
#define WRITERS 4
#define READERS 2
#define PER_WRITER 20000

static char *g_names[UNIVERSE];
static size_t g_lens[UNIVERSE];
static uint32_t g_ids[WRITERS][UNIVERSE];
static size_t g_universe; /* names in use: tu_scale(UNIVERSE) */
static int g_per_writer;  /* interns per writer: tu_scale(PER_WRITER) */
static atomic_int g_go, g_writers_done;
static atomic_long g_errors, g_reader_hits;

typedef struct {
	int idx;
	uint64_t seed;
} thread_arg;

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static int name_is(uint32_t id, size_t k)
{
	size_t n, ns;
	const char *s = dl_intern_name(id, &n, &ns);
	return s && n == g_lens[k] && memcmp(s, g_names[k], n) == 0 && s[n] == 0;
}

static void *writer(void *p)
{
	thread_arg *a = p;
	uint64_t s = a->seed;
	while (!atomic_load(&g_go))
		;
	for (int j = 0; j < g_per_writer; j++) {
		size_t k = (size_t)(xorshift(&s) % g_universe);
		uint32_t id;
		if (dl_intern(&id, g_names[k], g_lens[k]) != 0 || id == 0) {
			atomic_fetch_add(&g_errors, 1);
			continue;
		}
		if (g_ids[a->idx][k] && g_ids[a->idx][k] != id)
			atomic_fetch_add(&g_errors, 1);
		g_ids[a->idx][k] = id;
		if (!name_is(id, k) || dl_intern_find(g_names[k], g_lens[k]) != id)
			atomic_fetch_add(&g_errors, 1);
	}
	atomic_fetch_add(&g_writers_done, 1);
	return NULL;
}

static void *reader(void *p)
{
	thread_arg *a = p;
	uint64_t s = a->seed;
	while (!atomic_load(&g_go))
		;
	do {
		/* By name: a hit must map back to the same name. */
		size_t k = (size_t)(xorshift(&s) % g_universe);
		uint32_t id = dl_intern_find(g_names[k], g_lens[k]);
		if (id) {
			atomic_fetch_add_explicit(&g_reader_hits, 1, memory_order_relaxed);
			if (!name_is(id, k))
				atomic_fetch_add(&g_errors, 1);
		}
		/* By id: every id up to the count is resolvable and its name
		 * finds it again. */
		uint32_t count = dl_intern_count();
		if (count) {
			uint32_t i = 1 + (uint32_t)(xorshift(&s) % count);
			size_t n, ns;
			const char *nm = dl_intern_name(i, &n, &ns);
			if (!nm || dl_intern_find(nm, n) != i)
				atomic_fetch_add(&g_errors, 1);
		}
	} while (atomic_load(&g_writers_done) < WRITERS);
	return NULL;
}

static void test_concurrent(void **state)
{
	(void)state;
	char buf[64];
	g_universe = (size_t)tu_scale(UNIVERSE);
	g_per_writer = (int)tu_scale(PER_WRITER);
	for (size_t k = 0; k < g_universe; k++) {
		int len = snprintf(buf, sizeof buf, k % 3 ? "user%zu/attr-%zu" : "sym%zu-%zu",
				   k % 50, k);
		g_names[k] = strdup(buf);
		assert_non_null(g_names[k]);
		g_lens[k] = (size_t)len;
	}
	memset(g_ids, 0, sizeof g_ids);
	atomic_store(&g_go, 0);
	atomic_store(&g_writers_done, 0);
	atomic_store(&g_errors, 0);
	atomic_store(&g_reader_hits, 0);

	pthread_t th[WRITERS + READERS];
	thread_arg args[WRITERS + READERS];
	uint64_t seed = tu_seed_from_env(0xC0FFEE);
	for (int t = 0; t < WRITERS + READERS; t++) {
		args[t] = (thread_arg){t, seed * 2654435761u + (uint64_t)t * 0x9E3779B97F4A7C15ull + 1};
		assert_int_equal(pthread_create(&th[t], NULL, t < WRITERS ? writer : reader,
						&args[t]), 0);
	}
	atomic_store(&g_go, 1);
	for (int t = 0; t < WRITERS + READERS; t++)
		pthread_join(th[t], NULL);
	assert_int_equal(atomic_load(&g_errors), 0);

	/* Same name, same id in every thread; ids are exactly 1..count. */
	uint32_t count = dl_intern_count();
	char *seen = calloc((size_t)count + 1, 1);
	assert_non_null(seen);
	uint32_t distinct = 0;
	for (size_t k = 0; k < g_universe; k++) {
		uint32_t id = 0;
		for (int t = 0; t < WRITERS; t++) {
			if (!g_ids[t][k])
				continue;
			if (id)
				assert_int_equal(g_ids[t][k], id);
			id = g_ids[t][k];
		}
		assert_int_equal(dl_intern_find(g_names[k], g_lens[k]), id);
		if (id) {
			assert_true(id <= count);
			assert_false(seen[id]);
			seen[id] = 1;
			distinct++;
			assert_true(name_is(id, k));
		}
	}
	assert_int_equal(distinct, count);
	free(seen);
	print_message("concurrent: %u names, %ld reader hits\n", count,
		      atomic_load(&g_reader_hits));
	for (size_t k = 0; k < g_universe; k++)
		free(g_names[k]);
}

/* Allocation failure: for each new name, fail the 1st, 2nd, ... allocation
 * until the intern succeeds.  A failure must report DL_ENOMEM and leave the
 * table exactly as it was (same count, no new name, nothing leaked).  300
 * names cover new id segments (ids 65, 193) and table growth (ids 129, 257). */
static void test_enomem(void **state)
{
	(void)state;
	char buf[32];
	int failures = 0;
	for (uint32_t i = 1; i <= 300; i++) {
		int len = snprintf(buf, sizeof buf, "oom/k%u", i);
		for (long nth = 1;; nth++) {
			long live = tu_failalloc_live();
			uint32_t id = 0;
			dl_error_clear();
			tu_failalloc_arm(nth);
			int rc = dl_intern(&id, buf, (size_t)len);
			int fired = tu_failalloc_fired();
			tu_failalloc_disarm();
			if (!fired) {
				assert_int_equal(rc, 0);
				assert_int_equal(id, i);
				break;
			}
			failures++;
			assert_int_equal(rc, DL_ENOMEM);
			assert_int_equal(dl_errcode_last(), DL_ENOMEM);
			assert_int_equal(dl_intern_count(), i - 1);
			assert_int_equal(dl_intern_find(buf, (size_t)len), 0);
			assert_null(dl_intern_name(i, NULL, NULL));
			assert_int_equal(tu_failalloc_live(), live);
			assert_true(nth < 10);
		}
		/* Everything added before is still intact. */
		for (uint32_t j = 1; j <= i; j++) {
			len = snprintf(buf, sizeof buf, "oom/k%u", j);
			assert_int_equal(dl_intern_find(buf, (size_t)len), j);
			check_name(j, buf, (size_t)len, 3);
		}
	}
	/* One failure per entry, plus one per new segment and per growth. */
	assert_true(failures > 300);

	/* Shutdown returns every block to the allocator. */
	dl_intern_shutdown();
	assert_int_equal(tu_failalloc_live(), 0);
	assert_int_equal(dl_intern_count(), 0);
	assert_int_equal(dl_intern_find("oom/k1", 6), 0);
}

int main(void)
{
	/* Everything the table allocates goes through the counting hook.  The
	 * hook's counters are not atomic, but the intern code only allocates
	 * under its writers' mutex, so even the concurrent test is race-free. */
	tu_failalloc_install();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_basic, reset),
		cmocka_unit_test_setup(test_errors, reset),
		cmocka_unit_test_setup(test_many, reset),
		cmocka_unit_test_setup(test_concurrent, reset),
		cmocka_unit_test_setup(test_enomem, reset),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	dl_intern_shutdown();
	if (rc == 0 && tu_failalloc_live() != 0) {
		fprintf(stderr, "intern: %ld blocks still allocated\n", tu_failalloc_live());
		rc = 1;
	}
	return rc;
}
