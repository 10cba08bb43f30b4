/*
 * base: the pieces every subsystem uses: the allocator hook, per-thread
 * errors, arenas and byte buffers.  Public parts are declared in datalite.h;
 * this header adds what the library uses internally.
 */
#ifndef DL_BASE_H
#define DL_BASE_H

#include "datalite.h"

#include <assert.h>
#include <stdarg.h>

/* Allocation through the hook.  All return NULL on failure *and* set
 * DL_ENOMEM as the thread's error, so callers only propagate. */
void *dl_malloc(size_t size);
void *dl_calloc(size_t n, size_t size);
void *dl_realloc(void *p, size_t size);
void dl_free(void *p);
char *dl_strndup(const char *s, size_t n);

/* Large blocks for memory that every query takes and gives back (relation
 * rows, hash tables, big arena chunks).  Blocks of 16 KiB and more come in
 * power-of-two sizes, and a freed one is kept in a small process-wide cache
 * (at most DL_BLOCK_CACHE_MAX bytes, lock-free) for the next query: glibc
 * serves such sizes with fresh mmaps or trims them off the heap on free, so
 * every query otherwise paid to fault its memory in again, a third of a
 * 10,000-row query's time.  Only with the default allocator: a hook set
 * with dl_set_allocator() sees every allocation and free.  Smaller blocks
 * pass through.  dl_block_realloc keeps p when its block is big enough.
 * Free with dl_block_free only. */
#define DL_BLOCK_CACHE_MAX ((size_t)64 << 20)
void *dl_block_alloc(size_t size);
void *dl_block_realloc(void *p, size_t size);
void *dl_block_calloc(size_t n, size_t size); /* zeroed */
void dl_block_free(void *p);
/* The bytes p's block holds (>= what was asked). */
size_t dl_block_cap(const void *p);
/* Frees the cached blocks (the cache refills as queries run). */
void dl_block_cache_trim(void);

/* Set the thread's error and return `code` (so `return dl_error(...)`). */
int dl_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int dl_verror(int code, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Prefix the current message with "prefix: ". */
void dl_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define DL_UNUSED(x) ((void)(x))
#define DL_LIKELY(x) __builtin_expect(!!(x), 1)
#define DL_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Propagate an error: `DL_TRY(f(x));` returns f's error code if negative. */
#define DL_TRY(expr)                                                           \
	do {                                                                   \
		int dl_try_rc_ = (expr);                                       \
		if (DL_UNLIKELY(dl_try_rc_ < 0))                               \
			return dl_try_rc_;                                     \
	} while (0)

/* Allocate an array of n items of *p in arena a. */
#define DL_ARENA_NEW(a, n, type) ((type *)dl_arena_alloc((a), (n) * sizeof(type)))

#endif
