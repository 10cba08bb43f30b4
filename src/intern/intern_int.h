/*
 * intern: the process-wide keyword/symbol table (public part in datalite.h).
 * This header adds what the library and its tests use internally.
 */
#ifndef DL_INTERN_INT_H
#define DL_INTERN_INT_H

#include "base.h"

/* The longest name dl_intern() accepts, in bytes. */
#define DL_INTERN_MAX_LEN 65536u

/* The largest id handed out (0 means "none"). */
#define DL_INTERN_MAX_ID (UINT32_MAX - 1u)

/*
 * Free every name, table and segment and return the table to its empty
 * initial state (ids restart at 1).  Only for tests and leak checkers: the
 * caller guarantees no other thread is inside the intern functions and that
 * nobody still holds an id or a name from before.  Memory is released
 * through the allocator hook in force now, so call it before changing the
 * hook.  Without it the table simply stays reachable until exit (valgrind
 * calls that "still reachable", not a leak).
 */
void dl_intern_shutdown(void);

#endif
