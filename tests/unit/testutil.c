#include "testutil.h"
#include "storage/store_int.h"

#include <stdatomic.h>

#include <stdlib.h>
#include <string.h>

static uint64_t g_state = 0x9E3779B97F4A7C15ull;

void tu_seed(uint64_t seed) { g_state = seed; }

uint64_t tu_rand(void)
{
	uint64_t z = (g_state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

uint64_t tu_seed_from_env(uint64_t dflt)
{
	const char *s = getenv("DL_TEST_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : dflt;
	tu_seed(seed);
	return seed;
}

long tu_scale(long n)
{
	static long scale = 0;
	if (scale == 0) {
		const char *s = getenv("DL_TEST_SCALE");
		long v = s ? strtol(s, NULL, 10) : 1;
		scale = v >= 1 ? v : 1;
	}
	long r = n / scale;
	return r >= 1 ? r : 1;
}

/* The live count is exact.  Atomic: the library's worker threads allocate
 * too (arming it is for one thread at a time). */
static _Atomic long g_fail_at = 0, g_count = 0, g_live = 0;
static _Atomic int g_fired = 0;

static int should_fail(void)
{
	long at = atomic_load(&g_fail_at);
	if (at <= 0)
		return 0;
	if (atomic_fetch_add(&g_count, 1) + 1 == at) {
		atomic_store(&g_fired, 1);
		return 1;
	}
	return 0;
}

static void *fa_malloc(void *ud, size_t n)
{
	(void)ud;
	if (should_fail())
		return NULL;
	void *p = malloc(n);
	if (p)
		g_live++;
	return p;
}

static void *fa_realloc(void *ud, void *p, size_t n)
{
	(void)ud;
	if (should_fail())
		return NULL;
	void *q = realloc(p, n);
	if (q && !p)
		g_live++;
	return q;
}

static void fa_free(void *ud, void *p)
{
	(void)ud;
	if (p) {
		g_live--;
		free(p);
	}
}

void tu_failalloc_install(void)
{
	static const dl_allocator a = {fa_malloc, fa_realloc, fa_free, NULL};
	dl_set_allocator(&a);
}

void tu_failalloc_arm(long n)
{
	g_fail_at = n;
	g_count = 0;
	g_fired = 0;
}

void tu_failalloc_disarm(void) { g_fail_at = 0; }
long tu_failalloc_live(void) { return g_live; }
int tu_failalloc_fired(void) { return g_fired; }

dl_value tu_edn(dl_arena *a, const char *text)
{
	dl_value v;
	size_t used;
	dl_edn_opts o = DL_EDN_OPTS_INIT;
	int rc = dl_edn_read(&v, &used, a, text, strlen(text), &o);
	if (rc != 0)
		fail_msg("EDN read of '%s' failed: %s", text, dl_errmsg());
	return v;
}

char *tu_print(const dl_value *v)
{
	dl_buf b = DL_BUF_INIT;
	if (dl_edn_print(&b, v) != 0)
		fail_msg("print failed: %s", dl_errmsg());
	char *s = strdup(b.data ? b.data : "");
	dl_buf_free(&b);
	return s;
}

void tu_same_store(dl_store *x, dl_store *y, const char *what)
{
	dl_snap *sx, *sy;
	assert_int_equal(dl_snap_begin(&sx, x), 0);
	assert_int_equal(dl_snap_begin(&sy, y), 0);
	for (int db = 0; db < DB_COUNT; db++) {
		MDB_cursor *cx, *cy;
		assert_int_equal(mdb_cursor_open(sx->txn, x->dbi[db], &cx), 0);
		assert_int_equal(mdb_cursor_open(sy->txn, y->dbi[db], &cy), 0);
		for (size_t i = 0;; i++) {
			MDB_val kx, dx, ky, dy;
			int rx = mdb_cursor_get(cx, &kx, &dx, MDB_NEXT);
			int ry = mdb_cursor_get(cy, &ky, &dy, MDB_NEXT);
			if (rx != ry)
				fail_msg("%s: %s: entry %zu is in one database only", what,
					 dl_store_db_names[db], i);
			if (rx)
				break;
			if (kx.mv_size != ky.mv_size || memcmp(kx.mv_data, ky.mv_data, kx.mv_size) ||
			    dx.mv_size != dy.mv_size || memcmp(dx.mv_data, dy.mv_data, dx.mv_size))
				fail_msg("%s: %s: entry %zu differs", what, dl_store_db_names[db], i);
		}
		mdb_cursor_close(cx);
		mdb_cursor_close(cy);
	}
	dl_snap_end(sx);
	dl_snap_end(sy);
}
