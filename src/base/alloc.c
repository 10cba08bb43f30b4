/* The one allocator hook.  Everything in the library allocates through here,
 * so tests can make the Nth allocation fail and check the failure path. */
#include "base.h"

#include <stdlib.h>
#include <string.h>

static void *std_malloc(void *ud, size_t n) { (void)ud; return malloc(n); }
static void *std_realloc(void *ud, void *p, size_t n) { (void)ud; return realloc(p, n); }
static void std_free(void *ud, void *p) { (void)ud; free(p); }

static dl_allocator g_alloc = {std_malloc, std_realloc, std_free, NULL};

void dl_set_allocator(const dl_allocator *a)
{
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

void *dl_calloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size) {
		dl_error(DL_ENOMEM, "out of memory (allocation size overflows)");
		return NULL;
	}
	void *p = dl_malloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

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
