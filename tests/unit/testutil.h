/* Shared helpers for the cmocka unit tests. */
#ifndef DL_TESTUTIL_H
#define DL_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "datalite.h"

/* A deterministic PRNG (splitmix64) so property tests are reproducible.
 * DL_TEST_SEED in the environment overrides the seed. */
uint64_t tu_rand(void);
void tu_seed(uint64_t seed);
uint64_t tu_seed_from_env(uint64_t dflt);

/* Iteration counts of property and stress loops, divided by DL_TEST_SCALE
 * (an integer >= 1 from the environment, read once; default 1, so normal
 * runs are unchanged).  `make test-valgrind` sets it to 10.  Never returns
 * less than 1.  Call it from the main thread (before starting threads). */
long tu_scale(long n);

/* Fail-the-Nth-allocation allocator: after tu_failalloc_arm(n), the n-th
 * allocation from now fails (n >= 1); tu_failalloc_disarm() stops it.
 * tu_failalloc_live() counts blocks still allocated through the hook. */
void tu_failalloc_install(void);
void tu_failalloc_arm(long n);
void tu_failalloc_disarm(void);
long tu_failalloc_live(void);
int tu_failalloc_fired(void);

/* Every named database of stores x and y (struct dl_store, storage's)
 * holds the same entries, byte for byte: indexes, history, log, blobs,
 * statistics, counters.  Fails naming `what` and the first difference. */
struct dl_store;
void tu_same_store(struct dl_store *x, struct dl_store *y, const char *what);

/* Parse one EDN form (asserting success) into arena a. */
dl_value tu_edn(dl_arena *a, const char *text);
/* Print v into a static-lifetime string owned by the caller (free()). */
char *tu_print(const dl_value *v);

#endif
