/* The one allocator hook.  Everything in the library allocates through here,
 * so tests can make the Nth allocation fail and check the failure path. */
#include "base.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static void *std_malloc(void *ud, size_t n) { (void)ud; return malloc(n); }
static void *std_realloc(void *ud, void *p, size_t n) { (void)ud; return realloc(p, n); }
static void std_free(void *ud, void *p) { (void)ud; free(p); }

static dl_allocator g_alloc = {std_malloc, std_realloc, std_free, NULL};

void dl_set_allocator(const dl_allocator *a)
{
	dl_block_cache_trim(); /* its blocks belong to the allocator leaving */
	if (a) {
		assert(a->malloc && a->realloc && a->free);
		g_alloc = *a;
	} else {
		g_alloc = (dl_allocator){std_malloc, std_realloc, std_free, NULL};
	}
}

void *dl_malloc(size_t size)
{
	void *p = g_alloc.malloc(g_alloc.ud, size ? size : 1);
	if (DL_UNLIKELY(!p))
		dl_error(DL_ENOMEM, "out of memory (allocating %zu bytes)", size);
	return p;
}

/* n * size zeroed bytes from alloc, or NULL (DL_ENOMEM set). */
static void *zeroed(void *(*alloc)(size_t), size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size) {
		dl_error(DL_ENOMEM, "out of memory (allocation size overflows)");
		return NULL;
	}
	void *p = alloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void *dl_calloc(size_t n, size_t size) { return zeroed(dl_malloc, n, size); }

void *dl_realloc(void *p, size_t size)
{
	void *q = g_alloc.realloc(g_alloc.ud, p, size ? size : 1);
	if (DL_UNLIKELY(!q))
		dl_error(DL_ENOMEM, "out of memory (allocating %zu bytes)", size);
	return q;
}

void dl_free(void *p)
{
	if (p)
		g_alloc.free(g_alloc.ud, p);
}

char *dl_strndup(const char *s, size_t n)
{
	char *d = dl_malloc(n + 1);
	if (d) {
		if (n)
			memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

/* ---- large blocks --------------------------------------------------------- */

/* Each block starts with a header holding its capacity; the data follows at
 * 16-byte alignment.  Blocks of BLOCK_MIN and more have a power-of-two
 * capacity (class k: 2^k bytes) and may be cached: BLOCK_SLOTS per class,
 * taken and returned with atomic exchanges, so no caller ever waits. */
typedef struct block_hdr {
	size_t cap;
	size_t pad_;
} block_hdr;

#define BLOCK_MIN_LOG 14 /* 16 KiB */
#define BLOCK_MAX_LOG 26 /* 64 MiB: larger blocks are never cached */
#define BLOCK_SLOTS 2
static _Atomic(block_hdr *) g_blocks[BLOCK_MAX_LOG + 1][BLOCK_SLOTS];
static atomic_size_t g_cached; /* bytes held by the cache */

static bool cache_on(void) { return g_alloc.malloc == std_malloc; }

static int block_class(size_t size)
{
	int k = BLOCK_MIN_LOG;
	while (k < 63 && ((size_t)1 << k) < size)
		k++;
	return k;
}

static block_hdr *cache_take(int k)
{
	if (k > BLOCK_MAX_LOG || !cache_on())
		return NULL;
	for (int i = 0; i < BLOCK_SLOTS; i++) {
		if (!atomic_load_explicit(&g_blocks[k][i], memory_order_relaxed))
			continue;
		block_hdr *h = atomic_exchange_explicit(&g_blocks[k][i], NULL, memory_order_acquire);
		if (h) {
			atomic_fetch_sub_explicit(&g_cached, h->cap, memory_order_relaxed);
			return h;
		}
	}
	return NULL;
}

/* Frees cached blocks of classes below k, the smallest first, until the
 * cache holds at most `target` bytes (or none of them is left). */
static void cache_evict_below(int k, size_t target)
{
	for (int c = BLOCK_MIN_LOG; c < k; c++)
		for (int i = 0; i < BLOCK_SLOTS; i++) {
			if (atomic_load_explicit(&g_cached, memory_order_relaxed) <= target)
				return;
			block_hdr *b = atomic_exchange_explicit(&g_blocks[c][i], NULL,
								memory_order_acquire);
			if (b) {
				atomic_fetch_sub_explicit(&g_cached, b->cap, memory_order_relaxed);
				dl_free(b);
			}
		}
}

/* Keeps h for later if there is room, making room by freeing smaller
 * cached blocks (a query that freed a big block likely wants its size
 * again: ohlc4's 234,000-row steps each take a 64 MiB block, and a 32 MiB
 * one left in the cache made every step fault its pages in afresh); else
 * frees it. */
static void cache_put(block_hdr *h)
{
	int k = block_class(h->cap);
	if (h->cap >= ((size_t)1 << BLOCK_MIN_LOG) && k <= BLOCK_MAX_LOG && cache_on()) {
		if (h->cap <= DL_BLOCK_CACHE_MAX)
			cache_evict_below(k, DL_BLOCK_CACHE_MAX - h->cap);
		size_t held = atomic_fetch_add_explicit(&g_cached, h->cap, memory_order_relaxed);
		if (held + h->cap <= DL_BLOCK_CACHE_MAX)
			for (int i = 0; i < BLOCK_SLOTS; i++) {
				block_hdr *none = NULL;
				if (atomic_compare_exchange_strong_explicit(
					    &g_blocks[k][i], &none, h, memory_order_release,
					    memory_order_relaxed))
					return;
			}
		atomic_fetch_sub_explicit(&g_cached, h->cap, memory_order_relaxed);
	}
	dl_free(h);
}

/* The capacity a request of size gets (a power of two from 16 KiB), and a
 * cached block of it if there is one; 0, or DL_ENOMEM when too big. */
static int block_fit(size_t size, size_t *cap, block_hdr **cached)
{
	*cap = size;
	*cached = NULL;
	if (size >= ((size_t)1 << BLOCK_MIN_LOG)) {
		int k = block_class(size);
		if (k >= 63)
			return dl_error(DL_ENOMEM, "out of memory (allocating %zu bytes)", size);
		*cap = (size_t)1 << k;
		*cached = cache_take(k);
	}
	if (*cap > SIZE_MAX - sizeof(block_hdr))
		return dl_error(DL_ENOMEM, "out of memory (allocating %zu bytes)", size);
	return 0;
}

void *dl_block_alloc(size_t size)
{
	size_t cap;
	block_hdr *h;
	if (block_fit(size, &cap, &h))
		return NULL;
	if (!h) {
		if (!(h = dl_malloc(sizeof *h + cap)))
			return NULL;
		h->cap = cap;
	}
	return h + 1;
}

void *dl_block_realloc(void *p, size_t size)
{
	if (!p)
		return dl_block_alloc(size);
	block_hdr *h = (block_hdr *)p - 1;
	if (size <= h->cap)
		return p;
	size_t cap;
	block_hdr *n;
	if (block_fit(size, &cap, &n))
		return NULL;
	if (n) { /* a cached block: copy into it */
		memcpy(n + 1, p, h->cap);
		cache_put(h);
		return n + 1;
	}
	/* else realloc, which may grow in place (glibc moves big blocks by
	 * remapping their pages, not copying them) */
	if (!(n = dl_realloc(h, sizeof *h + cap)))
		return NULL;
	n->cap = cap;
	return n + 1;
}

void *dl_block_calloc(size_t n, size_t size) { return zeroed(dl_block_alloc, n, size); }

size_t dl_block_cap(const void *p) { return ((const block_hdr *)p - 1)->cap; }

void dl_block_free(void *p)
{
	if (p)
		cache_put((block_hdr *)p - 1);
}

void dl_block_cache_trim(void)
{
	for (int k = 0; k <= BLOCK_MAX_LOG; k++)
		for (int i = 0; i < BLOCK_SLOTS; i++) {
			block_hdr *h = atomic_exchange_explicit(&g_blocks[k][i], NULL,
								memory_order_acquire);
			if (h) {
				atomic_fetch_sub_explicit(&g_cached, h->cap, memory_order_relaxed);
				dl_free(h);
			}
		}
}
