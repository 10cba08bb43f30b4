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
